//! Sample weights in the loss: the weighted mean Σ s_i L_i / Σ s_i of every kernel equals the
//! loss of duplicated rows, its gradient equals the numerical gradient, small cases match
//! numbers worked by hand, and weights the loss cannot use are refused with a message.

use crate::common::{relative_difference, relative_scalar_difference};
use approx::assert_abs_diff_eq;
use ndarray::{Array2, Axis, array};
use softmax::synthetic::random_problem;
use softmax::{
    Error, Float, Kernel, Layout, Loss, LossOptions, RegConvention, loss_and_grad,
    loss_and_grad_weighted,
};

const KERNELS: [Kernel; 6] =
    [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse, Kernel::Auto];

/// Seeded weights in [0, 3), one of them 0.
fn real_weights(n: usize) -> Vec<f64> {
    (0..n).map(|i| if i == 1 { 0.0 } else { ((i * 7919) % 300) as f64 / 100.0 }).collect()
}

/// `weights` and `inputs` in `layout`, from canonical ones.
fn in_layout<F: Float>(
    layout: Layout,
    weights: &Array2<F>,
    inputs: &Array2<F>,
) -> (Array2<F>, Array2<F>) {
    let transposed = |m: &Array2<F>| m.t().as_standard_layout().into_owned();
    match layout {
        Layout::Canonical => (weights.clone(), inputs.clone()),
        Layout::Seed => (weights.clone(), transposed(inputs)),
        Layout::Cs231n => (transposed(weights), inputs.clone()),
    }
}

/// A weight of k is k copies of the sample: integer weights (0 included) give the loss and
/// gradient of the rows repeated, to 1e-12 in f64, for every kernel, both losses, every layout.
#[test]
fn integer_weights_equal_duplicated_rows() {
    for &(n, d, c) in &[(1, 3, 2), (9, 17, 3), (400, 20, 5), (150, 12, 120)] {
        let p = random_problem::<f64>(n, d, c, 0.3, (n + d + c) as u64);
        let counts: Vec<usize> =
            (0..n).map(|i| if n == 1 { 2 } else { (i * 31 + 3) % 4 }).collect();
        let rows: Vec<usize> = (0..n).flat_map(|i| std::iter::repeat_n(i, counts[i])).collect();
        let copies = p.inputs.select(Axis(0), &rows);
        let copy_labels: Vec<usize> = rows.iter().map(|&i| p.labels[i]).collect();
        let sample_weights: Vec<f64> = counts.iter().map(|&k| k as f64).collect();
        for (case, (kernel, loss)) in
            KERNELS.into_iter().flat_map(|k| Loss::ALL.iter().map(move |l| (k, *l))).enumerate()
        {
            let layout = Layout::ALL[case % 3];
            let options = LossOptions { loss, kernel, layout, reg: 0.05, ..Default::default() };
            let (w, x) = in_layout(layout, &p.weights, &p.inputs);
            let weighted =
                loss_and_grad_weighted(w.view(), x.view(), &p.labels, &sample_weights, &options)
                    .unwrap();
            let (w, x) = in_layout(layout, &p.weights, &copies);
            let copied = loss_and_grad(w.view(), x.view(), &copy_labels, &options).unwrap();
            let what = format!("{kernel} {loss} {layout}, N={n} D={d} C={c}");
            let loss_error = relative_scalar_difference(weighted.loss, copied.loss);
            assert!(loss_error < 1e-12, "{what}: loss {} vs {}", weighted.loss, copied.loss);
            let grad_error = relative_difference(weighted.grad.view(), copied.grad.view());
            assert!(grad_error < 1e-12, "{what}: gradient differs by {grad_error:e}");
        }
    }
}

/// The weighted gradient is the derivative of the weighted loss: centered differences at every
/// coordinate of W agree to 1e-7 (relative), every kernel, both losses, in f64.
#[test]
fn weighted_gradients_equal_numerical_gradients() {
    let p = random_problem::<f64>(40, 6, 4, 0.1, 17);
    let sample_weights = real_weights(40);
    let h = 1e-5;
    for kernel in KERNELS {
        for loss in Loss::ALL.iter().copied() {
            let options = LossOptions { loss, kernel, reg: 0.3, ..Default::default() };
            let at = |w: &Array2<f64>| {
                loss_and_grad_weighted(
                    w.view(),
                    p.inputs.view(),
                    &p.labels,
                    &sample_weights,
                    &options,
                )
                .unwrap()
            };
            let analytic = at(&p.weights).grad;
            let mut worst: f64 = 0.0;
            for index in ndarray::indices(p.weights.dim()) {
                let mut shifted = p.weights.clone();
                shifted[index] += h;
                let plus = at(&shifted).loss;
                shifted[index] -= 2.0 * h;
                let minus = at(&shifted).loss;
                let numerical = (plus - minus) / (2.0 * h);
                let a = analytic[index];
                let error = (a - numerical).abs() / (a.abs() + numerical.abs()).max(1e-12);
                worst = worst.max(error);
            }
            assert!(worst < 1e-7, "{kernel} {loss}: worst relative error {worst:e}");
        }
    }
}

/// Two samples worked by hand. Softmax with C = 2, D = 1, W = [[0], [ln 3]]: x_1 = 1 (label 0)
/// has p = (1/4, 3/4) and L_1 = ln 4; x_2 = 0 has L_2 = ln 2 and no gradient. Weights (3, 1):
/// L = (3 ln 4 + ln 2) / 4 = 7 ln 2 / 4, and dW = 3·(p − e_0)·x_1 / 4 = (−9/16, 9/16).
#[test]
fn two_weighted_samples_by_hand() {
    let weights = array![[0.0], [3f64.ln()]];
    let inputs = array![[1.0], [0.0]];
    for kernel in KERNELS {
        let options = LossOptions { kernel, ..Default::default() };
        let out =
            loss_and_grad_weighted(weights.view(), inputs.view(), &[0, 1], &[3.0, 1.0], &options)
                .unwrap();
        assert_abs_diff_eq!(out.loss, 7.0 * 2f64.ln() / 4.0, epsilon = 1e-15);
        assert_abs_diff_eq!(out.grad, array![[-9.0 / 16.0], [9.0 / 16.0]], epsilon = 1e-15);
    }
}

/// W = 0, C = 3: every softmax p_j = 1/3 and every hinge margin is 1, so the losses are ln 3
/// and 2 whatever the weights, and the gradients are sums written out by hand. Samples
/// x_1 = (1, 2) (label 0, weight 3) and x_2 = (−1, 0.5) (label 2, weight 1), Σ s = 4:
/// softmax row j = Σ_i s_i (1/3 − 1{j = y_i}) x_i / 4; svm row j ≠ y_i gains s_i x_i, row y_i
/// loses 2 s_i x_i, over 4.
#[test]
fn zero_weights_with_sample_weights_by_hand() {
    let weights = Array2::<f64>::zeros((3, 2));
    let inputs = array![[1.0, 2.0], [-1.0, 0.5]];
    let softmax_grad =
        array![[-7.0 / 12.0, -23.0 / 24.0], [1.0 / 6.0, 13.0 / 24.0], [5.0 / 12.0, 5.0 / 12.0]];
    let svm_grad = array![[-1.75, -2.875], [0.5, 1.625], [1.25, 1.25]];
    for kernel in KERNELS {
        for (loss, value, grad) in
            [(Loss::Softmax, 3f64.ln(), &softmax_grad), (Loss::Svm, 2.0, &svm_grad)]
        {
            let options = LossOptions { loss, kernel, ..Default::default() };
            let out = loss_and_grad_weighted(
                weights.view(),
                inputs.view(),
                &[0, 2],
                &[3.0, 1.0],
                &options,
            )
            .unwrap();
            assert_abs_diff_eq!(out.loss, value, epsilon = 1e-15);
            assert_abs_diff_eq!(out.grad, grad, epsilon = 1e-15);
        }
    }
}

/// Weights all 1 are no weights: the same numbers, bit for bit where the kernel multiplies by
/// each weight (all but vectorized, whose weighted sum is a dot product), and to 1e-14
/// otherwise; in float32 too.
#[test]
fn unit_weights_are_no_weights() {
    fn check<F: Float>() {
        let p = random_problem::<F>(300, 30, 7, 0.3, 5);
        let ones = vec![F::one(); 300];
        for kernel in KERNELS {
            for loss in Loss::ALL.iter().copied() {
                let options = LossOptions { loss, kernel, reg: 0.1, ..Default::default() };
                let (w, x) = (p.weights.view(), p.inputs.view());
                let plain = loss_and_grad(w, x, &p.labels, &options).unwrap();
                let weighted = loss_and_grad_weighted(w, x, &p.labels, &ones, &options).unwrap();
                if kernel == Kernel::Vectorized {
                    let error =
                        relative_scalar_difference(weighted.loss.as_f64(), plain.loss.as_f64());
                    assert!(error < 1e-6, "{kernel} {loss}: {error:e}");
                    assert!(relative_difference(weighted.grad.view(), plain.grad.view()) == 0.0);
                } else {
                    assert_eq!(weighted, plain, "{kernel} {loss} {}", F::DTYPE_NAME);
                }
            }
        }
    }
    check::<f64>();
    check::<f32>();
}

/// Every kernel computes the weighted loss of the naive kernel, in both dtypes and all layouts.
#[test]
fn weighted_kernels_agree_with_naive() {
    fn check<F: Float>(tolerance: f64) {
        for &(n, d, c) in &[(7, 3073, 10), (500, 17, 100), (1100, 64, 4)] {
            let p = random_problem::<F>(n, d, c, 1.0 / (d as f64).sqrt(), n as u64);
            let sample_weights: Vec<F> = real_weights(n).into_iter().map(F::of).collect();
            for (case, loss) in Loss::ALL.iter().copied().enumerate() {
                let layout = Layout::ALL[(n + case) % 3];
                let (w, x) = in_layout(layout, &p.weights, &p.inputs);
                let run = |kernel| {
                    let options = LossOptions {
                        loss,
                        kernel,
                        layout,
                        reg: 0.1,
                        reg_convention: RegConvention::Full,
                        ..Default::default()
                    };
                    loss_and_grad_weighted(w.view(), x.view(), &p.labels, &sample_weights, &options)
                        .unwrap()
                };
                let naive = run(Kernel::Naive);
                for kernel in &KERNELS[1..] {
                    let out = run(*kernel);
                    let what = format!("{kernel} {loss} {layout} N={n} {}", F::DTYPE_NAME);
                    let error = relative_scalar_difference(out.loss.as_f64(), naive.loss.as_f64());
                    assert!(error <= tolerance, "{what}: loss differs by {error:e}");
                    let error = relative_difference(out.grad.view(), naive.grad.view());
                    assert!(error <= tolerance, "{what}: gradient differs by {error:e}");
                }
            }
        }
    }
    check::<f64>(1e-10);
    check::<f32>(1e-4);
}

/// Weights the loss cannot use are refused, never a panic: the wrong count, NaN, infinity, a
/// negative weight, all zero, none at all.
#[test]
fn unusable_weights_are_refused_with_a_message() {
    let p = random_problem::<f64>(4, 3, 2, 0.1, 1);
    let options = LossOptions::default();
    let attempt = |sample_weights: &[f64]| {
        let (w, x) = (p.weights.view(), p.inputs.view());
        match loss_and_grad_weighted(w, x, &p.labels, sample_weights, &options).unwrap_err() {
            err @ Error::SampleWeights(_) => err.to_string(),
            other => panic!("{sample_weights:?}: {other}"),
        }
    };
    let cases: [(&[f64], &str); 7] = [
        (&[1.0, 1.0, 1.0], "3 weights for 4 samples"),
        (&[1.0, 1.0, 1.0, 1.0, 1.0], "5 weights for 4 samples"),
        (&[1.0, f64::NAN, 1.0, 1.0], "NaN at sample 1: every weight must be finite"),
        (&[1.0, 1.0, f64::INFINITY, 1.0], "inf at sample 2"),
        (&[1.0, 1.0, 1.0, -0.5], "-0.5 at sample 3: every weight must be >= 0"),
        (&[0.0, 0.0, 0.0, 0.0], "they sum to 0"),
        (&[], "there are none"),
    ];
    for (sample_weights, expected) in cases {
        let message = attempt(sample_weights);
        assert!(message.starts_with("invalid sample weights: "), "{message}");
        assert!(message.contains(expected), "{sample_weights:?}: {message}");
    }
}
