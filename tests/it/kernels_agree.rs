//! Every kernel gives the naive kernel's numbers: f64 to 1e-10 and f32 to 1e-4 (relative), on
//! seeded random shapes, for both losses, both regularization conventions, all three layouts
//! and every instruction set this CPU has.

use crate::common::{relative_difference, relative_scalar_difference};
use ndarray::Array2;
use softmax::synthetic::random_problem;
use softmax::{
    Error, Float, Isa, Kernel, Layout, Loss, LossAndGrad, LossOptions, RegConvention,
    loss_and_grad, loss_and_grad_picked,
};

const KERNELS: [Kernel; 5] =
    [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse];

/// The kernels checked against the naive one (the specification): all the others, and `auto`.
const FAST_KERNELS: [Kernel; 5] =
    [Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse, Kernel::Auto];

/// Runs every kernel on a problem arranged in `layout` and checks each against the naive one.
fn check_agreement<F: Float>(
    (n, d, c): (usize, usize, usize),
    options: LossOptions,
    tolerance: f64,
    seed: u64,
) {
    // Scores of order 1 whatever D: W = randn / sqrt(D).
    let problem = random_problem::<F>(n, d, c, 1.0 / (d as f64).sqrt(), seed);
    let (weights, inputs): (Array2<F>, Array2<F>) = match options.layout {
        Layout::Canonical => (problem.weights, problem.inputs),
        Layout::Seed => (problem.weights, problem.inputs.t().as_standard_layout().into_owned()),
        Layout::Cs231n => (problem.weights.t().as_standard_layout().into_owned(), problem.inputs),
    };
    let run = |kernel| {
        let options = LossOptions { kernel, ..options.clone() };
        loss_and_grad(weights.view(), inputs.view(), &problem.labels, &options)
            .unwrap_or_else(|e| panic!("{kernel} on {n}×{d}, C={c}: {e}"))
    };
    let reference: LossAndGrad<F> = run(Kernel::Naive);
    assert_eq!(reference.grad.dim(), weights.dim(), "gradient comes back in W's layout");
    assert!(reference.loss.is_finite());
    for kernel in FAST_KERNELS {
        let out = run(kernel);
        let label = format!("{kernel} vs naive, N={n} D={d} C={c}, {options:?}, {}", F::DTYPE_NAME);
        let loss_error = relative_scalar_difference(out.loss.as_f64(), reference.loss.as_f64());
        assert!(loss_error <= tolerance, "{label}: loss differs by {loss_error:e}");
        let grad_error = relative_difference(out.grad.view(), reference.grad.view());
        assert!(grad_error <= tolerance, "{label}: gradient differs by {grad_error:e}");
    }
}

/// N ∈ {1, 7, 500} × D ∈ {1, 17, 3073} × C ∈ {2, 10, 100}, both losses and dtypes; the
/// convention and layout cycle with the case number so that every pair appears.
#[test]
fn kernels_agree_on_every_shape() {
    let mut case = 0u64;
    for n in [1, 7, 500] {
        for d in [1, 17, 3073] {
            for c in [2, 10, 100] {
                for loss in Loss::ALL.iter().copied() {
                    case += 1;
                    let options = LossOptions {
                        loss,
                        reg: 0.1,
                        reg_convention: RegConvention::ALL[case as usize % 2],
                        layout: Layout::ALL[case as usize % 3],
                        kernel: Kernel::Auto,
                        isa: None,
                        label_smoothing: 0.0,
                    };
                    check_agreement::<f64>((n, d, c), options.clone(), 1e-10, case);
                    check_agreement::<f32>((n, d, c), options, 1e-4, case);
                }
            }
        }
    }
}

/// Every combination of loss, convention, layout and dtype on one moderate shape.
#[test]
fn kernels_agree_in_every_layout_and_convention() {
    for loss in Loss::ALL.iter().copied() {
        for reg_convention in RegConvention::ALL.iter().copied() {
            for layout in Layout::ALL.iter().copied() {
                let options =
                    LossOptions { loss, reg: 0.5, reg_convention, layout, ..Default::default() };
                check_agreement::<f64>((130, 33, 7), options.clone(), 1e-10, 7);
                check_agreement::<f32>((130, 33, 7), options, 1e-4, 7);
            }
        }
    }
}

/// A layout only rearranges the data: the same problem gives the same loss in all three, and
/// the gradient in the cs231n layout is the transpose of the canonical one.
#[test]
fn layouts_are_the_same_problem() {
    let p = random_problem::<f64>(40, 9, 4, 0.3, 11);
    let options = |layout| LossOptions { reg: 0.2, layout, ..Default::default() };
    let canonical =
        loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &options(Layout::Canonical))
            .unwrap();
    let seed =
        loss_and_grad(p.weights.view(), p.inputs.t(), &p.labels, &options(Layout::Seed)).unwrap();
    let cs231n =
        loss_and_grad(p.weights.t(), p.inputs.view(), &p.labels, &options(Layout::Cs231n)).unwrap();
    assert_eq!(canonical, seed);
    assert_eq!(canonical.loss, cs231n.loss);
    assert_eq!(canonical.grad.t(), cs231n.grad);
    assert!(cs231n.grad.is_standard_layout());
}

/// The fused kernel's result does not depend on the number of threads, bit for bit.
#[test]
fn fused_and_gemm_are_identical_across_thread_counts() {
    let p = random_problem::<f32>(3000, 65, 10, 0.1, 5);
    for kernel in [Kernel::Fused, Kernel::Gemm] {
        let options = LossOptions { kernel, reg: 0.01, ..Default::default() };
        let results: Vec<_> = [1, 2, 3, 4]
            .into_iter()
            .map(|threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| {
                    loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &options).unwrap()
                })
            })
            .collect();
        for other in &results[1..] {
            assert_eq!(&results[0], other, "{kernel}");
        }
    }
}

#[test]
fn auto_picks_gemm_for_many_classes_and_fused_otherwise() {
    assert_eq!(Kernel::Auto.resolve_for(10, 3073), Kernel::Fused);
    assert_eq!(Kernel::Auto.resolve_for(10, 100_000), Kernel::Fused);
    assert_eq!(Kernel::Auto.resolve_for(64, 512), Kernel::Fused);
    assert_eq!(Kernel::Auto.resolve_for(1000, 512), Kernel::Gemm);
    assert_eq!(Kernel::Auto.resolve_for(20, 3073), Kernel::Gemm);
    assert_eq!(Kernel::Naive.resolve_for(1000, 512), Kernel::Naive);
}

/// Every instruction set this CPU has (AVX-512, AVX2 + FMA, baseline) gives the naive kernel's
/// loss and gradient, in float64 and float32, on shapes that exercise full row groups, leftover
/// rows, every class count left over by a register tile (C mod 5 and C mod 2) and feature counts
/// that are not a multiple of the SIMD width.
#[test]
fn fused_agrees_with_naive_on_every_instruction_set() {
    let shapes = [
        (1, 1, 2),
        (7, 17, 3),
        (24, 40, 4),
        (17, 70, 6),
        (130, 33, 7),
        (203, 100, 10),
        (9, 1030, 65),
        // Rows 4,100 (f32) and 8,200 (f64) bytes apart: blocks take them in runs of rows spaced
        // 32 and 16 apart (`RowOrder`), with rows left over after the runs.
        (4200, 1025, 3),
    ];
    for &(n, d, c) in &shapes {
        let p = random_problem::<f64>(n, d, c, 1.0 / (d as f64).sqrt(), 3);
        let p32 = random_problem::<f32>(n, d, c, 1.0 / (d as f64).sqrt(), 3);
        for isa in Isa::available() {
            for loss in Loss::ALL.iter().copied() {
                let what = format!("{isa} {loss} N={n} D={d} C={c}");
                check_isa(&p, isa, loss, 1e-10, &what);
                check_isa(&p32, isa, loss, 1e-4, &format!("{what} f32"));
            }
        }
    }
}

/// The fused kernel on `isa` against the naive kernel (no regularization): loss and gradient
/// within `tolerance`.
fn check_isa<F: Float>(
    p: &softmax::synthetic::Problem<F>,
    isa: Isa,
    loss: Loss,
    tolerance: f64,
    what: &str,
) {
    let (w, x) = (p.weights.view(), p.inputs.view());
    let run = |kernel, isa| {
        let options = LossOptions { loss, kernel, isa, ..Default::default() };
        loss_and_grad(w, x, &p.labels, &options).unwrap()
    };
    let reference = run(Kernel::Naive, None);
    let out = run(Kernel::Fused, Some(isa));
    let loss_error = relative_scalar_difference(out.loss.as_f64(), reference.loss.as_f64());
    assert!(loss_error < tolerance, "{what}: loss differs by {loss_error:e}");
    let grad_error = relative_difference(out.grad.view(), reference.grad.view());
    assert!(grad_error < tolerance, "{what}: gradient differs by {grad_error:e}");
}

/// An instruction set is had only from detection: a name the CPU lacks is refused, listing
/// what it has.
#[test]
fn instruction_sets_the_cpu_lacks_are_refused() {
    let names: Vec<&str> = Isa::available().iter().map(|isa| isa.name()).collect();
    for name in ["avx512", "avx2", "baseline", "neon9"] {
        match Isa::named(name) {
            Ok(isa) => assert!(names.contains(&isa.name()), "{name}"),
            Err(Error::UnsupportedIsa { requested, available }) => {
                assert!(!names.contains(&name) && requested == name, "{name}");
                assert_eq!(available, names.join(", "));
            }
            Err(other) => panic!("{name}: {other}"),
        }
    }
    assert!(Isa::named("baseline").is_ok());
}

/// A minibatch read in place (rows picked by index, repeats allowed) gives exactly what the
/// same rows copied out give, with every kernel and in every layout.
#[test]
fn picked_rows_equal_a_copied_minibatch() {
    let problem = random_problem::<f64>(300, 37, 7, 0.3, 11);
    let indices: Vec<usize> = (0..150).map(|i| (i * 97 + 13) % 300).chain([5, 5, 299]).collect();
    let labels: Vec<usize> = indices.iter().map(|&i| problem.labels[i]).collect();
    let batch = problem.inputs.select(ndarray::Axis(0), &indices);
    for kernel in KERNELS {
        for layout in Layout::ALL.iter().copied() {
            let options = LossOptions { kernel, layout, reg: 0.01, ..Default::default() };
            let (weights, inputs, batch) = match layout {
                Layout::Canonical => {
                    (problem.weights.clone(), problem.inputs.clone(), batch.clone())
                }
                Layout::Seed => {
                    (problem.weights.clone(), problem.inputs.t().to_owned(), batch.t().to_owned())
                }
                Layout::Cs231n => {
                    (problem.weights.t().to_owned(), problem.inputs.clone(), batch.clone())
                }
            };
            let picked =
                loss_and_grad_picked(weights.view(), inputs.view(), &indices, &labels, &options)
                    .unwrap();
            let copied = loss_and_grad(weights.view(), batch.view(), &labels, &options).unwrap();
            assert_eq!(picked, copied, "{kernel}, {layout}");
        }
    }
}

#[test]
fn picked_rows_report_bad_indices_and_non_finite_rows_by_their_place_in_the_inputs() {
    let mut problem = random_problem::<f32>(100, 20, 3, 0.3, 12);
    let options = LossOptions::default();
    let labels = [0, 1, 2];
    let err = loss_and_grad_picked(
        problem.weights.view(),
        problem.inputs.view(),
        &[0, 100, 1],
        &labels,
        &options,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::IndexOutOfRange { index: 100, position: 1, n_rows: 100 }),
        "{err}"
    );
    problem.inputs[[42, 7]] = f32::NAN;
    let err = loss_and_grad_picked(
        problem.weights.view(),
        problem.inputs.view(),
        &[3, 42, 9],
        &labels,
        &options,
    )
    .unwrap_err();
    assert!(err.to_string().contains("sample 42, feature 7"), "{err}");
}
