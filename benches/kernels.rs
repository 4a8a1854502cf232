//! One loss+gradient pass per kernel, float32, on all cores, at the shapes of `softmax bench`:
//! CS231n's dev set and minibatch (all three kernels) and the full CIFAR-10 and MNIST training
//! sets and a many-class problem (vectorized and fused; the naive loops take seconds there).
//! Run with `cargo bench --bench kernels` (add a filter such as `minibatch` to run fewer).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use softmax::bench::Shape;
use softmax::synthetic::random_problem;
use softmax::{Kernel, Loss, LossOptions, loss_and_grad};

fn kernels(c: &mut Criterion) {
    for shape in Shape::ALL.iter().copied() {
        let (n, d, classes) = shape.dims();
        let problem = random_problem::<f32>(n, d, classes, 0.01, 0);
        let mut group = c.benchmark_group(format!("{shape} ({n}x{d}, C={classes})"));
        group.throughput(Throughput::Bytes((n * d * 4) as u64)); // X read once
        if n * d * classes > 50_000_000 {
            group.sample_size(10);
        }
        let kernels: &[Kernel] = match shape {
            Shape::Dev | Shape::Minibatch => &[Kernel::Naive, Kernel::Vectorized, Kernel::Fused],
            _ => &[Kernel::Vectorized, Kernel::Fused],
        };
        for loss in [Loss::Softmax, Loss::Svm] {
            for &kernel in kernels {
                let options = LossOptions { loss, kernel, reg: 1e-3, ..Default::default() };
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
