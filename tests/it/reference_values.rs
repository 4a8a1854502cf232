//! Values checked against independent references: NumPy's (tests/fixtures/make_fixtures.py),
//! numbers worked by hand, and a numerical gradient.

use crate::common::{matrix, reference, relative_difference, relative_scalar_difference};
use approx::assert_abs_diff_eq;
use ndarray::{Array2, array};
use softmax::gradcheck::{GradCheckOptions, gradient_check};
use softmax::synthetic::random_problem;
use softmax::{Isa, Kernel, Loss, LossOptions, RegConvention, loss_and_grad};

const KERNELS: [Kernel; 5] =
    [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse];

/// Every kernel, on every instruction set this CPU has.
#[test]
fn every_kernel_matches_numpy() {
    let reference = reference();
    let (w, x) = (matrix(&reference.weights), matrix(&reference.inputs));
    assert_eq!(reference.cases.len(), 4);
    for case in &reference.cases {
        for (kernel, isa) in
            KERNELS.into_iter().flat_map(|k| Isa::available().into_iter().map(move |i| (k, i)))
        {
            let options = LossOptions {
                loss: case.loss.parse().unwrap(),
                reg: reference.reg,
                reg_convention: case.reg_convention.parse().unwrap(),
                kernel,
                isa: Some(isa),
                ..Default::default()
            };
            let out = loss_and_grad(w.view(), x.view(), &reference.labels, &options).unwrap();
            let what = format!("{} {} {kernel} on {isa}", case.loss, case.reg_convention);
            assert!(
                relative_scalar_difference(out.loss, case.loss_value) < 1e-12,
                "{what}: loss {} vs {}",
                out.loss,
                case.loss_value
            );
            assert!(
                relative_difference(out.grad.view(), matrix(&case.grad).view()) < 1e-12,
                "{what}: gradient"
            );
        }
    }
}

#[test]
fn zero_weights_give_ln_c_and_a_gradient_written_by_hand() {
    // W = 0: every score is 0, p_j = 1/C, L = ln C; row j of dW = mean_i (1/C − 1{j = y_i}) x_i.
    let weights = Array2::<f64>::zeros((3, 2));
    let inputs = array![[1.0, 2.0], [3.0, -1.0]];
    let labels = [0, 2];
    let expected = array![
        [
            ((1.0 / 3.0 - 1.0) * 1.0 + (1.0 / 3.0) * 3.0) / 2.0,
            ((1.0 / 3.0 - 1.0) * 2.0 + -(1.0 / 3.0)) / 2.0
        ],
        [((1.0 / 3.0) * 1.0 + (1.0 / 3.0) * 3.0) / 2.0, ((1.0 / 3.0) * 2.0 + -(1.0 / 3.0)) / 2.0],
        [
            ((1.0 / 3.0) * 1.0 + (1.0 / 3.0 - 1.0) * 3.0) / 2.0,
            ((1.0 / 3.0) * 2.0 + -(1.0 / 3.0 - 1.0)) / 2.0
        ],
    ];
    for kernel in KERNELS {
        let options = LossOptions { kernel, ..Default::default() };
        let out = loss_and_grad(weights.view(), inputs.view(), &labels, &options).unwrap();
        assert_abs_diff_eq!(out.loss, 3f64.ln(), epsilon = 1e-15);
        assert_abs_diff_eq!(out.grad, expected, epsilon = 1e-15);
    }
    // And NumPy's zero-weight case (C = 4): ln 4.
    let reference = reference();
    let zeros = Array2::<f64>::zeros((4, 5));
    let out = loss_and_grad(
        zeros.view(),
        matrix(&reference.inputs).view(),
        &reference.labels,
        &LossOptions::default(),
    )
    .unwrap();
    assert_abs_diff_eq!(out.loss, 4f64.ln(), epsilon = 1e-15);
    assert_abs_diff_eq!(reference.zero_weights.loss_softmax, 4f64.ln(), epsilon = 1e-15);
    assert!(
        relative_difference(out.grad.view(), matrix(&reference.zero_weights.grad_softmax).view())
            < 1e-14
    );
}

#[test]
fn svm_with_zero_weights_by_hand() {
    // W = 0: every margin is 0 − 0 + 1 = 1, so L_i = C − 1; row j ≠ y_i gains x_i, row y_i
    // loses (C − 1)·x_i.
    let weights = Array2::<f64>::zeros((3, 2));
    let inputs = array![[1.0, 2.0]];
    let expected = array![[1.0, 2.0], [-2.0, -4.0], [1.0, 2.0]];
    for kernel in KERNELS {
        let options = LossOptions { loss: Loss::Svm, kernel, ..Default::default() };
        let out = loss_and_grad(weights.view(), inputs.view(), &[1], &options).unwrap();
        assert_eq!(out.loss, 2.0);
        assert_eq!(out.grad, expected);
    }
}

#[test]
fn both_regularization_conventions_by_hand() {
    // ΣW² = 1 + 4 + 9 + 16 = 30. With W = [[1, 2], [3, 4]] and x = 0, scores are 0: data loss
    // ln 2, data gradient 0. half: 0.5·0.1·30 = 1.5, gradient 0.1·W; full: 3.0, gradient 0.2·W.
    let weights = array![[1.0, 2.0], [3.0, 4.0]];
    let inputs = array![[0.0, 0.0]];
    for kernel in KERNELS {
        for (convention, penalty, grad_factor) in
            [(RegConvention::Half, 1.5, 0.1), (RegConvention::Full, 3.0, 0.2)]
        {
            let options =
                LossOptions { reg: 0.1, reg_convention: convention, kernel, ..Default::default() };
            let out = loss_and_grad(weights.view(), inputs.view(), &[0], &options).unwrap();
            assert_abs_diff_eq!(out.loss, 2f64.ln() + penalty, epsilon = 1e-14);
            assert_abs_diff_eq!(out.grad, &weights * grad_factor, epsilon = 1e-15);
        }
    }
}

#[test]
fn scores_in_the_thousands_stay_finite() {
    // Scores [1000, 0] (and [−3000, 5000] in f32): without the max shift e^1000 overflows.
    // L = 1000 + ln(1 + e^−1000) = 1000 for label 1; p = [1, 0] so dW = [[1], [−1]].
    for kernel in KERNELS {
        let options = LossOptions { kernel, ..Default::default() };
        let out =
            loss_and_grad(array![[1000.0], [0.0]].view(), array![[1.0]].view(), &[1], &options)
                .unwrap();
        assert_eq!(out.loss, 1000.0);
        assert_eq!(out.grad, array![[1.0], [-1.0]]);
        let out = loss_and_grad(
            array![[-3000.0f32], [5000.0]].view(),
            array![[1.0f32]].view(),
            &[0],
            &options,
        )
        .unwrap();
        assert_eq!(out.loss, 8000.0);
        assert_eq!(out.grad, array![[-1.0f32], [1.0]]);
    }
}

#[test]
fn smallest_problem_works() {
    // N = 1, C = 2, D = 1, reg = 0: scores [0.5, −0.5], label 0 → L = ln(1 + e^−1).
    for kernel in KERNELS {
        let options = LossOptions { kernel, ..Default::default() };
        let out = loss_and_grad(array![[0.5], [-0.5]].view(), array![[1.0]].view(), &[0], &options)
            .unwrap();
        let p1 = 1.0 / (1.0 + 1f64.exp()); // probability of the wrong class
        assert_abs_diff_eq!(out.loss, (1.0 + (-1f64).exp()).ln(), epsilon = 1e-15);
        assert_abs_diff_eq!(out.grad, array![[-p1], [p1]], epsilon = 1e-15);
    }
}

#[test]
fn cifar_shaped_data_with_tiny_weights_gives_ln_10() {
    // CS231n's sanity check: W ~ 1e-4·randn on CIFAR-10 shapes (D = 3073 with the bias trick,
    // C = 10) gives loss ≈ −ln(0.1), as every class is about equally likely. X imitates centered
    // pixels (σ ≈ 64) with a constant-1 bias column.
    let mut p = random_problem::<f32>(500, 3073, 10, 1e-4, 2017);
    p.inputs.mapv_inplace(|v| 64.0 * v);
    p.inputs.column_mut(3072).fill(1.0);
    for kernel in KERNELS {
        let options = LossOptions {
            kernel,
            reg: 2.5e4,
            reg_convention: RegConvention::Full,
            ..Default::default()
        };
        let data_only = LossOptions { reg: 0.0, ..options.clone() };
        let out = loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &data_only).unwrap();
        assert!((out.loss - 10f32.ln()).abs() < 0.1, "{kernel}: loss {} vs ln 10", out.loss);
        // The reg term of CS231n's smoke test: 2.5e4 · ΣW² ≈ 2.5e4 · 30730 · 1e-8 ≈ 7.7.
        let regularized =
            loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &options).unwrap();
        let penalty = regularized.loss - out.loss;
        assert!((penalty - 7.68).abs() < 0.3, "{kernel}: penalty {penalty}");
    }
}

#[test]
fn softmax_gradient_checks_below_1e7_in_f64() {
    let p = random_problem::<f64>(50, 20, 5, 0.1, 3);
    for kernel in KERNELS {
        for (reg, reg_convention) in
            [(0.0, RegConvention::Half), (1.0, RegConvention::Half), (1.0, RegConvention::Full)]
        {
            let options = LossOptions { kernel, reg, reg_convention, ..Default::default() };
            let checks = GradCheckOptions { checks: 20, ..Default::default() };
            let report =
                gradient_check(p.weights.view(), p.inputs.view(), &p.labels, &options, &checks)
                    .unwrap();
            assert_eq!(report.checks.len(), 20);
            assert!(
                report.max_relative_error < 1e-7,
                "{kernel} reg {reg} {reg_convention}: {}",
                report.max_relative_error
            );
            assert!(report.checks.iter().all(|c| c.analytic != 0.0));
        }
    }
}

#[test]
fn svm_gradient_checks_away_from_kinks() {
    let p = random_problem::<f64>(50, 20, 5, 0.1, 4);
    let options = LossOptions { loss: Loss::Svm, reg: 0.5, ..Default::default() };
    let report = gradient_check(
        p.weights.view(),
        p.inputs.view(),
        &p.labels,
        &options,
        &GradCheckOptions::default(),
    )
    .unwrap();
    assert!(report.max_relative_error < 1e-7, "{}", report.max_relative_error);
}

#[test]
fn gradient_check_catches_a_wrong_gradient() {
    // A check that cannot fail is no check: the numerical gradient of the full convention's
    // loss disagrees with the analytic gradient of the half convention's.
    let p = random_problem::<f64>(30, 8, 4, 0.5, 9);
    let full = LossOptions { reg: 1.0, reg_convention: RegConvention::Full, ..Default::default() };
    let half = LossOptions { reg_convention: RegConvention::Half, ..full.clone() };
    let analytic = loss_and_grad(p.weights.view(), p.inputs.view(), &p.labels, &half).unwrap().grad;
    let numeric = gradient_check(
        p.weights.view(),
        p.inputs.view(),
        &p.labels,
        &full,
        &GradCheckOptions::default(),
    )
    .unwrap();
    let worst = numeric
        .checks
        .iter()
        .map(|c| softmax::gradcheck::relative_error(analytic[c.index], c.numerical))
        .fold(0.0, f64::max);
    assert!(worst > 1e-3, "{worst}");
}
