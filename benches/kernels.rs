//! One loss+gradient pass per kernel, float32, on all cores, at the shapes of `softmax bench`:
//! CS231n's dev set and minibatch (all three kernels) and the full CIFAR-10 and MNIST training
//! sets and a many-class problem (vectorized and fused; the naive loops take seconds there).
//! The `sparse` group times the sparse kernel against the fused one on MNIST-like data.
//! Run with `cargo bench --bench kernels` (add a filter such as `minibatch` to run fewer).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use softmax::bench::Shape;
use softmax::loss::sparse::SparseRows;
use softmax::synthetic::{random_problem, random_sparse_problem};
use softmax::{Float, Kernel, Loss, LossOptions, loss_and_grad, loss_and_grad_sparse};

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
            _ => &[Kernel::Vectorized, Kernel::Fused, Kernel::Gemm],
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

/// One softmax pass on MNIST-like data on all cores, float64 and float32: 60,000 × 785, C = 10,
/// 19% of the 784 pixels nonzero (uniform in (0, 1], as after `--preprocess scale`) and a
/// constant-1 bias column. `fused` runs on the dense matrix, `sparse` on its CSR rows (built
/// once, as a trainer would), and `to_csr` times that conversion.
fn sparse_vs_fused(c: &mut Criterion) {
    sparse_vs_fused_in::<f64>(c);
    sparse_vs_fused_in::<f32>(c);
}

fn sparse_vs_fused_in<F: Float>(c: &mut Criterion) {
    let (n, d, classes) = Shape::Mnist.dims();
    let mut p = random_sparse_problem::<F>(n, d, classes, 0.19, 0.01, 0);
    p.inputs.column_mut(d - 1).fill(F::one());
    let rows = SparseRows::from_dense(p.inputs.view()).expect("785 columns");
    let mut group = c.benchmark_group(format!(
        "sparse MNIST-like ({n}x{d}, C={classes}, density {:.3}, {})",
        rows.density(),
        F::DTYPE_NAME
    ));
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    let fused = LossOptions { kernel: Kernel::Fused, ..Default::default() };
    group.bench_function("fused", |b| {
        b.iter(|| {
            loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &fused).expect("valid")
        })
    });
    let sparse = LossOptions::default(); // loss_and_grad_sparse always runs the sparse kernel
    group.bench_function("sparse", |b| {
        b.iter(|| loss_and_grad_sparse(p.weights.view(), &rows, &p.labels, &sparse).expect("valid"))
    });
    group.bench_function("to_csr", |b| b.iter(|| SparseRows::from_dense(p.inputs.view())));
    group.finish();
}

criterion_group!(benches, kernels, sparse_vs_fused);
criterion_main!(benches);
