//! Bad input gives a typed error naming the problem, from every kernel, never a panic.

use ndarray::{Array2, array};
use softmax::loss::sparse::SparseRows;
use softmax::synthetic::random_problem;
use softmax::{
    Error, Kernel, Layout, Loss, LossOptions, loss_and_grad, loss_and_grad_picked,
    loss_and_grad_sparse,
};

const KERNELS: [Kernel; 5] =
    [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse];

fn every_option() -> impl Iterator<Item = LossOptions> {
    KERNELS.into_iter().flat_map(|kernel| {
        Loss::ALL.iter().map(move |&loss| LossOptions { kernel, loss, ..Default::default() })
    })
}

#[test]
fn shape_mismatch_names_both_shapes() {
    let err = loss_and_grad(
        Array2::<f64>::zeros((3, 4)).view(),
        Array2::zeros((2, 5)).view(),
        &[0, 1],
        &LossOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::FeatureMismatch { weights: [3, 4], inputs: [2, 5], .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("[3, 4]") && err.to_string().contains("[2, 5]"), "{err}");
    // In the seed layout X is D×N: a 5×2 X has D = 5.
    let options = LossOptions { layout: Layout::Seed, ..Default::default() };
    let err = loss_and_grad(
        Array2::<f64>::zeros((3, 4)).view(),
        Array2::zeros((5, 2)).view(),
        &[0, 1],
        &options,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::FeatureMismatch { weights_features: 4, inputs_features: 5, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("seed"), "{err}");
}

#[test]
fn label_errors() {
    let (w, x) = (Array2::<f64>::zeros((3, 2)), Array2::<f64>::zeros((2, 2)));
    let err = loss_and_grad(w.view(), x.view(), &[0], &LossOptions::default()).unwrap_err();
    assert!(matches!(err, Error::LabelCount { labels: 1, samples: 2 }), "{err:?}");
    let err = loss_and_grad(w.view(), x.view(), &[0, 3], &LossOptions::default()).unwrap_err();
    assert!(matches!(err, Error::LabelOutOfRange { index: 1, label: 3, n_classes: 3 }), "{err:?}");
    assert!(err.to_string().contains("0..=2"), "{err}");
}

#[test]
fn empty_problems() {
    let cases: [(Array2<f64>, Array2<f64>, &str); 3] = [
        (Array2::zeros((3, 2)), Array2::zeros((0, 2)), "N = 0"),
        (Array2::zeros((0, 2)), Array2::zeros((1, 2)), "C = 0"),
        (Array2::zeros((3, 0)), Array2::zeros((1, 0)), "D = 0"),
    ];
    for (w, x, what) in cases {
        let labels = vec![0; x.nrows()];
        let err = loss_and_grad(w.view(), x.view(), &labels, &LossOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Empty(_)) && err.to_string().contains(what), "{err}");
    }
}

/// What the kernels would index out of bounds, divide by zero or half-read is refused up front
/// by every checked entry point that reaches the fused, gemm and sparse kernels: a D that W
/// and X disagree on, D = 0, a label ≥ C and fewer labels than rows.
#[test]
fn checked_entry_points_refuse_what_the_kernels_cannot_take() {
    let w = array![[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]; // C = 3, D = 2
    let x = array![[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]; // N = 3
    /// W, X, the labels and the error expected.
    type Case = (Array2<f64>, Array2<f64>, &'static [usize], fn(&Error) -> bool);
    let cases: [Case; 4] = [
        (w.clone(), Array2::ones((3, 5)), &[0, 1, 2], |e| {
            matches!(e, Error::FeatureMismatch { weights_features: 2, inputs_features: 5, .. })
        }),
        (
            Array2::zeros((3, 0)),
            Array2::zeros((3, 0)),
            &[0, 1, 2],
            |e| matches!(e, Error::Empty(what) if what.contains("D = 0")),
        ),
        (w.clone(), x.clone(), &[0, 3, 1], |e| {
            matches!(e, Error::LabelOutOfRange { index: 1, label: 3, n_classes: 3 })
        }),
        (w, x, &[0, 1], |e| matches!(e, Error::LabelCount { labels: 2, samples: 3 })),
    ];
    for (case, (weights, inputs, labels, expected)) in cases.iter().enumerate() {
        let (weights, inputs) = (weights.view(), inputs.view());
        for loss in Loss::ALL.iter().copied() {
            for kernel in [Kernel::Fused, Kernel::Gemm, Kernel::Sparse] {
                let options = LossOptions { loss, kernel, ..Default::default() };
                let err = loss_and_grad(weights, inputs, labels, &options).unwrap_err();
                assert!(expected(&err), "case {case}, {kernel} {loss}: {err:?}");
                let picked = loss_and_grad_picked(weights, inputs, &[0, 1, 2], labels, &options);
                let err = picked.unwrap_err();
                assert!(expected(&err), "case {case}, {kernel} {loss} on picked rows: {err:?}");
            }
            let rows = SparseRows::from_dense(inputs).unwrap();
            let options = LossOptions { loss, ..Default::default() };
            let err = loss_and_grad_sparse(weights, &rows, labels, &options).unwrap_err();
            assert!(expected(&err), "case {case}, loss_and_grad_sparse {loss}: {err:?}");
        }
    }
}

#[test]
fn nan_or_infinity_in_inputs_is_located() {
    let p = random_problem::<f64>(200, 6, 3, 0.1, 1);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut inputs = p.inputs.clone();
        inputs[[150, 4]] = bad;
        for options in every_option() {
            let err =
                loss_and_grad(p.weights.view(), inputs.view(), &p.labels, &options).unwrap_err();
            assert!(
                matches!(&err, Error::NonFinite { what: "inputs", location, .. } if location == "sample 150, feature 4"),
                "{options:?}: {err:?}"
            );
        }
    }
    // Even where a weight column is zero (inf · 0 = NaN) and for the SVM (max(0, NaN) = 0 in Rust).
    let weights = array![[1.0, 0.0], [2.0, 0.0]];
    for options in every_option() {
        let err =
            loss_and_grad(weights.view(), array![[1.0, f64::INFINITY]].view(), &[0], &options)
                .unwrap_err();
        assert!(matches!(err, Error::NonFinite { what: "inputs", .. }), "{options:?}: {err:?}");
    }
}

#[test]
fn nan_in_weights_is_located() {
    let mut weights = Array2::<f32>::zeros((3, 2));
    weights[[2, 1]] = f32::NAN;
    let err =
        loss_and_grad(weights.view(), Array2::zeros((1, 2)).view(), &[0], &LossOptions::default())
            .unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { what: "weights", location, .. } if location == "class 2, feature 1"),
        "{err:?}"
    );
}

#[test]
fn overflowing_scores_are_reported() {
    // 1e20 · 1e20 = 1e40 overflows f32 (max ≈ 3.4e38) though every input is finite.
    for options in every_option() {
        let err = loss_and_grad(
            array![[1e20f32], [0.0]].view(),
            array![[1.0f32], [1e20]].view(),
            &[0, 0],
            &options,
        )
        .unwrap_err();
        assert!(matches!(err, Error::ScoreOverflow { sample: 1, dtype: "float32" }), "{err:?}");
    }
}

/// Finite scores whose loss overflows: the data loss (scores of ±1e308 for the true class and
/// another, f_j − f_y + 1 = 2e308 in the hinge, f_y − max f = −2e308 in the softmax), the
/// penalty 0.5·reg·ΣW² = 0.5·1e308·(1 + 4) in float64 (not 0.5·5e307·5), and 1e20·1e20 in
/// float32. Each loss used to
/// come back as infinity.
#[test]
fn overflowing_losses_are_reported() {
    use softmax::LossPart;
    let (weights, inputs) =
        (array![[1.0f64, 0.0], [0.0, 1.0]], array![[1e308, -1e308], [1.0, 2.0]]);
    for options in every_option() {
        let err = loss_and_grad(weights.view(), inputs.view(), &[1, 0], &options).unwrap_err();
        let data_loss = Error::LossOverflow { part: LossPart::DataLoss, dtype: "float64" };
        assert_eq!(err.to_string(), data_loss.to_string(), "{options:?}");
        let big = array![[1.0f64, 2.0], [0.0, 0.0]];
        let reg = LossOptions { reg: 1e308, ..options.clone() };
        let err = loss_and_grad(big.view(), array![[1.0, 2.0]].view(), &[0], &reg).unwrap_err();
        assert!(matches!(err, Error::LossOverflow { part: LossPart::Penalty, .. }), "{err:?}");
        let below = LossOptions { reg: 5e307, ..options.clone() };
        let out = loss_and_grad(big.view(), array![[1.0, 2.0]].view(), &[0], &below).unwrap();
        assert!(out.loss.is_finite() && out.grad.iter().all(|g| g.is_finite()), "{options:?}");
        let reg = LossOptions { reg: 1.0, ..options };
        let weights = array![[1e20f32, 0.0], [0.0, 0.0]];
        let err = loss_and_grad(weights.view(), array![[0.0f32, 1.0]].view(), &[0], &reg);
        let err = err.unwrap_err();
        let penalty = Error::LossOverflow { part: LossPart::Penalty, dtype: "float32" };
        assert_eq!(err.to_string(), penalty.to_string(), "{options:?}");
    }
}

#[test]
fn negative_or_non_finite_reg_is_refused() {
    for reg in [-1.0, f64::NAN, f64::INFINITY] {
        let options = LossOptions { reg, ..Default::default() };
        let err = loss_and_grad(
            Array2::<f64>::zeros((2, 1)).view(),
            Array2::zeros((1, 1)).view(),
            &[0],
            &options,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidOption(_)), "{err:?}");
    }
}

#[test]
fn option_names_parse_and_list_the_choices() {
    assert_eq!("svm".parse::<Loss>().unwrap(), Loss::Svm);
    assert_eq!("cs231n".parse::<Layout>().unwrap(), Layout::Cs231n);
    let err = "softmx".parse::<Loss>().unwrap_err().to_string();
    assert!(err.contains("softmx") && err.contains("softmax, svm"), "{err}");
}

#[test]
fn aligning_a_label_beyond_the_class_names_is_out_of_range() {
    let data = softmax::data::Dataset {
        inputs: Array2::zeros((3, 1)),
        labels: vec![0, 1, 2],
        sample_weights: None,
        class_names: vec!["a".into(), "b".into()],
        feature_names: None,
        image_shape: None,
    };
    let err = data.align_classes(&["b".to_string(), "a".to_string()]).unwrap_err();
    assert!(matches!(err, Error::LabelOutOfRange { index: 2, label: 2, n_classes: 2 }), "{err:?}");
}

/// The vectorized kernel, which holds N×C scores, refuses a problem whose scores the system
/// cannot hold (2·10⁶ × 2·10⁵ float32 values, three times: 4,470 GiB) with an error naming
/// them, from an X of 8 MB; it used to abort the process.
#[test]
fn scores_larger_than_memory_are_refused_not_an_abort() {
    let (n, c) = (2_000_000, 200_000);
    let (inputs, weights) = (Array2::<f32>::ones((n, 1)), Array2::<f32>::zeros((c, 1)));
    let options = LossOptions { kernel: Kernel::Vectorized, ..Default::default() };
    let err = loss_and_grad(weights.view(), inputs.view(), &vec![0; n], &options).unwrap_err();
    assert!(matches!(err, Error::OutOfMemory(_)), "{err:?}");
    assert!(
        err.to_string().contains("N×C score matrices") && err.to_string().contains("4470.3 GiB"),
        "{err}"
    );
}

/// Counts and shapes too large are refused with an error naming them before anything is
/// allocated (they used to abort the process, or panic): more gradient checks than
/// [`MAX_CHECKS`], more timed passes than [`MAX_REPS`], and synthetic problems whose sizes
/// overflow, pass one allocation's limit or exceed what the system grants.
#[test]
fn counts_and_shapes_beyond_their_limits_are_refused_before_allocating() {
    use softmax::bench::{MAX_REPS, Workload};
    use softmax::gradcheck::{GradCheckOptions, MAX_CHECKS, gradient_check};
    use softmax::synthetic::check_problem_size;

    let p = random_problem::<f64>(6, 5, 4, 0.1, 1);
    let check = |checks: usize| {
        let options = GradCheckOptions { checks, ..Default::default() };
        let loss = LossOptions::default();
        gradient_check(p.weights.view(), p.inputs.view(), &p.labels, &loss, &options)
    };
    for checks in [MAX_CHECKS + 1, 1 << 40, usize::MAX] {
        let err = check(checks).unwrap_err();
        let named = format!(
            "checks must be at most {MAX_CHECKS} (each costs two loss passes), got {checks}"
        );
        assert!(matches!(&err, Error::InvalidOption(m) if *m == named), "{err:?}");
    }
    // Drawn with replacement: more checks than W's 20 weights are still checks.
    assert_eq!(check(50).unwrap().checks.len(), 50);

    let too_large = |dims: (usize, usize, usize), why: &str| {
        let (n, d, c) = dims;
        let named = format!("N = {n} samples, D = {d} features and C = {c} classes is too large");
        for err in [
            check_problem_size::<f64>(dims).unwrap_err(),
            Workload::<f64>::new(dims, 0).err().unwrap(),
            Workload::<f32>::sparse(dims, 0.5, 0).err().unwrap(),
        ] {
            let message = err.to_string();
            assert!(message.contains(&named) && message.contains(why), "{dims:?}: {message}");
        }
    };
    let one_allocation = "more than one allocation can hold";
    too_large((usize::MAX, 2, 1), one_allocation); // N·D overflows
    too_large((3, 1, usize::MAX / 2), one_allocation); // N·C overflows
    too_large((4_000_000_000_000, 4_000_000, 3), one_allocation); // N·D > isize::MAX
    // 2^62 bytes of float64: within one allocation's limit, beyond any machine's memory.
    too_large((1 << 30, 1 << 29, 1), "more memory than this system grants");
    check_problem_size::<f64>((300, 40, 5)).unwrap();

    let workload = Workload::<f64>::new((30, 4, 3), 0).unwrap();
    for reps in [MAX_REPS + 1, usize::MAX] {
        let err = workload.time(Kernel::Fused, None, reps).unwrap_err();
        let named = format!("reps must be at most {MAX_REPS}");
        assert!(matches!(&err, Error::InvalidOption(m) if m.contains(&named)), "{err:?}");
    }
    assert_eq!(workload.time(Kernel::Fused, None, 2).unwrap().n, 30);
}
