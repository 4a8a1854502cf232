//! One loss+gradient pass of each kernel at CS231n's shapes, float32, on all cores:
//! the dev set (N = 500, D = 3073, C = 10) and a minibatch (N = 200).
//! Run with `cargo bench --bench kernels`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use softmax::synthetic::random_problem;
use softmax::{Kernel, Loss, LossOptions, loss_and_grad};

fn kernels(c: &mut Criterion) {
    for (name, n_samples) in [("dev", 500), ("minibatch", 200)] {
        let (n_features, n_classes) = (3073, 10);
        let problem = random_problem::<f32>(n_samples, n_features, n_classes, 1e-4, 0);
        let mut group =
            c.benchmark_group(format!("{name} ({n_samples}x{n_features}, C={n_classes})"));
        group.throughput(Throughput::Bytes((n_samples * n_features * 4) as u64)); // X read once
        for loss in [Loss::Softmax, Loss::Svm] {
            for kernel in [Kernel::Naive, Kernel::Vectorized, Kernel::Fused] {
                let options = LossOptions { loss, kernel, reg: 2.5e4, ..Default::default() };
                group.bench_function(BenchmarkId::new(loss.name(), kernel.name()), |b| {
                    b.iter(|| {
                        loss_and_grad(
                            problem.weights.view(),
                            problem.inputs.view(),
                            &problem.labels,
                            &options,
                        )
                        .expect("valid problem")
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
