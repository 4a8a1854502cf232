//! Label smoothing (`LossOptions::label_smoothing`, `FitOptions::label_smoothing`): targets
//! q = (1 − ε)·onehot(y) + ε/C, loss −Σ_j q_j log p_j, gradient p − q. Checked by hand on two
//! and three classes, against centered differences in every kernel, against its own definition
//! (the loss is linear in q), across kernels, layouts, weights and minibatches, through training,
//! and refused where it has no meaning.

use std::ops::ControlFlow;

use ndarray::{Array2, ArrayView2, array};
use softmax::data::Dataset;
use softmax::fit::{Dtype, FitOptions, fit};
use softmax::gradcheck::{GradCheckOptions, gradient_check};
use softmax::preprocess::Preprocess;
use softmax::synthetic::random_problem;
use softmax::{
    Error, Float, Kernel, Layout, Loss, LossAndGrad, LossOptions, RegConvention, loss_and_grad,
    loss_and_grad_picked, loss_and_grad_weighted,
};

use crate::common::{failure, json, relative_difference, relative_scalar_difference};

const KERNELS: [Kernel; 6] =
    [Kernel::Naive, Kernel::Vectorized, Kernel::Fused, Kernel::Gemm, Kernel::Sparse, Kernel::Auto];

fn smoothed(kernel: Kernel, epsilon: f64) -> LossOptions {
    LossOptions { kernel, label_smoothing: epsilon, ..Default::default() }
}

/// Loss and gradient close to `expected`, relative to their size.
fn assert_close<F: Float>(
    out: &LossAndGrad<F>,
    expected: (f64, ArrayView2<f64>),
    tol: f64,
    what: &str,
) {
    let loss_error = relative_scalar_difference(out.loss.as_f64(), expected.0);
    assert!(loss_error <= tol, "{what}: loss {} vs {}", out.loss.as_f64(), expected.0);
    let grad = out.grad.mapv(|g| g.as_f64());
    let grad_error = relative_difference(grad.view(), expected.1);
    assert!(grad_error <= tol, "{what}: gradient {grad} vs {}", expected.1);
}

/// Worked by hand. Three classes, one sample x = [1] with label 2, W = [[1], [2], [0]]: the
/// scores are f = (1, 2, 0), S = e + e² + 1 = 11.107337927389695, p = (e, e², 1)/S
/// = (0.2447284710547976, 0.6652409557748219, 0.09003057317038046). With ε = 0.3 the targets are
/// q = (0.1, 0.1, 0.8), so L = log S − Σ q_j f_j = 2.40760596444438 − 0.3 and ∂L/∂W = (p − q)x.
/// Two classes, x = [2, −1] with label 0, W = 0: p = (½, ½), ε = 0.2 → q = (0.9, 0.1):
/// L = −0.9 log ½ − 0.1 log ½ = log 2, and ∂L/∂W = (p − q) xᵀ = [[−0.8, 0.4], [0.8, −0.4]].
/// Two classes, f = (log 3, 0) with label 1, ε = 0.5: p = (¾, ¼), q = (¼, ¾):
/// L = −¼ log ¾ − ¾ log ¼ = 1.111641288952863, gradient (½, −½).
#[test]
fn worked_examples_by_hand() {
    let cases = [
        Worked {
            weights: array![[1.0], [2.0], [0.0]],
            inputs: array![[1.0]],
            label: 2,
            epsilon: 0.3,
            loss: 2.40760596444438 - 0.3,
            grad: array![
                [0.2447284710547976 - 0.1],
                [0.6652409557748219 - 0.1],
                [0.09003057317038046 - 0.8]
            ],
        },
        Worked {
            weights: Array2::zeros((2, 2)),
            inputs: array![[2.0, -1.0]],
            label: 0,
            epsilon: 0.2,
            loss: 2f64.ln(),
            grad: array![[-0.8, 0.4], [0.8, -0.4]],
        },
        Worked {
            weights: array![[3f64.ln()], [0.0]],
            inputs: array![[1.0]],
            label: 1,
            epsilon: 0.5,
            loss: 1.111641288952863,
            grad: array![[0.5], [-0.5]],
        },
    ];
    for case in &cases {
        let expected = (case.loss, case.grad.view());
        for kernel in KERNELS {
            let options = smoothed(kernel, case.epsilon);
            let (w, x, labels) = (case.weights.view(), case.inputs.view(), &[case.label]);
            let what = format!("{kernel}, C = {}, ε = {}", w.nrows(), case.epsilon);
            assert_close(&loss_and_grad(w, x, labels, &options).unwrap(), expected, 1e-12, &what);
            let (w32, x32) = (w.mapv(|v| v as f32), x.mapv(|v| v as f32));
            let out32 = loss_and_grad(w32.view(), x32.view(), labels, &options).unwrap();
            assert_close(&out32, expected, 1e-5, &format!("{what}, f32"));
        }
    }
}

/// One sample's problem and its loss and gradient worked by hand.
struct Worked {
    weights: Array2<f64>,
    inputs: Array2<f64>,
    label: usize,
    epsilon: f64,
    loss: f64,
    grad: Array2<f64>,
}

/// The loss is linear in the targets: L_ε(y) = (1 − ε)·L(y) + ε·(1/C) Σ_c L(every label = c),
/// and so is the gradient, with L the plain (one-hot) loss. Every kernel, weighted or not,
/// f64 to 1e-12.
#[test]
fn smoothing_is_the_mixture_of_one_hot_losses() {
    let p = random_problem::<f64>(57, 9, 6, 0.7, 4);
    let sample_weights: Vec<f64> = (0..57).map(|i| 0.25 + (i % 4) as f64).collect();
    let epsilon = 0.15;
    for kernel in KERNELS {
        for weighted in [false, true] {
            let run = |labels: &[usize], epsilon: f64| {
                let options = LossOptions { reg: 0.0, ..smoothed(kernel, epsilon) };
                let (w, x) = (p.weights.view(), p.inputs.view());
                match weighted {
                    true => loss_and_grad_weighted(w, x, labels, &sample_weights, &options),
                    false => loss_and_grad(w, x, labels, &options),
                }
                .unwrap()
            };
            let one_hot = run(&p.labels, 0.0);
            let mut expected_loss = (1.0 - epsilon) * one_hot.loss;
            let mut expected_grad = one_hot.grad * (1.0 - epsilon);
            for class in 0..6 {
                let uniform = run(&[class; 57], 0.0);
                expected_loss += epsilon / 6.0 * uniform.loss;
                expected_grad.scaled_add(epsilon / 6.0, &uniform.grad);
            }
            let out = run(&p.labels, epsilon);
            let what = format!("{kernel}, weighted: {weighted}");
            assert_close(&out, (expected_loss, expected_grad.view()), 1e-12, &what);
        }
    }
}

/// Centered differences agree with the analytic gradient of every kernel, with and without
/// regularization, in both conventions (float64, as the gradient check runs).
#[test]
fn gradient_check_passes_in_every_kernel() {
    let p = random_problem::<f64>(40, 7, 5, 0.5, 9);
    for kernel in KERNELS {
        for (epsilon, reg, reg_convention) in
            [(0.1, 0.0, RegConvention::Half), (0.45, 0.3, RegConvention::Full)]
        {
            let options = LossOptions { reg, reg_convention, ..smoothed(kernel, epsilon) };
            let checks = GradCheckOptions { checks: 25, step: 1e-5, seed: 3 };
            let report =
                gradient_check(p.weights.view(), p.inputs.view(), &p.labels, &options, &checks)
                    .unwrap();
            assert!(
                report.max_relative_error < 1e-7,
                "{kernel}, ε = {epsilon}: {:?}",
                report.checks
            );
        }
    }
}

/// Every kernel gives the naive kernel's numbers with smoothing, in every layout, both dtypes,
/// weighted and on minibatches read in place: f64 to 1e-10, f32 to 1e-4.
#[test]
fn kernels_agree_with_smoothing() {
    for (case, &(n, d, c)) in
        [(1, 1, 2), (7, 17, 3), (500, 40, 10), (300, 64, 120)].iter().enumerate()
    {
        check_agreement::<f64>((n, d, c), 0.1, 1e-10, case as u64);
        check_agreement::<f32>((n, d, c), 0.25, 1e-4, case as u64);
    }
}

fn check_agreement<F: Float>((n, d, c): (usize, usize, usize), epsilon: f64, tol: f64, seed: u64) {
    let p = random_problem::<F>(n, d, c, 1.0 / (d as f64).sqrt(), seed);
    let sample_weights: Vec<F> = (0..n).map(|i| F::of(((i * 7) % 5) as f64 * 0.5 + 0.5)).collect();
    let batch: Vec<usize> = (0..2 * n).map(|i| (i * 13 + 1) % n).collect();
    let batch_labels: Vec<usize> = batch.iter().map(|&i| p.labels[i]).collect();
    for layout in Layout::ALL.iter().copied() {
        let (w, x): (Array2<F>, Array2<F>) = match layout {
            Layout::Canonical => (p.weights.clone(), p.inputs.clone()),
            Layout::Seed => (p.weights.clone(), p.inputs.t().as_standard_layout().into_owned()),
            Layout::Cs231n => (p.weights.t().as_standard_layout().into_owned(), p.inputs.clone()),
        };
        let options = |kernel| LossOptions { reg: 0.05, layout, ..smoothed(kernel, epsilon) };
        let runs = |kernel| {
            let options = options(kernel);
            [
                loss_and_grad(w.view(), x.view(), &p.labels, &options).unwrap(),
                loss_and_grad_weighted(w.view(), x.view(), &p.labels, &sample_weights, &options)
                    .unwrap(),
                loss_and_grad_picked(w.view(), x.view(), &batch, &batch_labels, &options).unwrap(),
            ]
        };
        let reference = runs(Kernel::Naive);
        for kernel in KERNELS {
            for (what, (out, expected)) in
                ["plain", "weighted", "minibatch"].iter().zip(runs(kernel).iter().zip(&reference))
            {
                let expected_grad = expected.grad.mapv(|g| g.as_f64());
                let label = format!("{kernel} {what} {layout} N={n} D={d} C={c} {}", F::DTYPE_NAME);
                assert_close(out, (expected.loss.as_f64(), expected_grad.view()), tol, &label);
            }
        }
    }
}

/// ε outside [0, 1), NaN, and any ε > 0 with the hinge loss are refused by every entry point
/// and by `FitOptions::check`, naming the option; ε = 0 with the hinge loss is the hinge loss.
#[test]
fn out_of_range_and_svm_are_refused() {
    let p = random_problem::<f64>(5, 3, 3, 0.1, 1);
    let (w, x) = (p.weights.view(), p.inputs.view());
    for (loss, epsilon, message) in [
        (Loss::Softmax, -0.1, "label smoothing must be in [0, 1), got -0.1"),
        (Loss::Softmax, 1.0, "label smoothing must be in [0, 1), got 1"),
        (Loss::Softmax, f64::NAN, "label smoothing must be in [0, 1), got NaN"),
        (Loss::Svm, 0.1, "label smoothing (0.1) is for the softmax loss only, not svm"),
    ] {
        let options = LossOptions { loss, label_smoothing: epsilon, ..Default::default() };
        for err in [
            loss_and_grad(w, x, &p.labels, &options).unwrap_err(),
            loss_and_grad_picked(w, x, &[0, 1], &p.labels[..2], &options).unwrap_err(),
        ] {
            assert!(matches!(&err, Error::InvalidOption(m) if m.contains(message)), "{err}");
        }
        let fit_options = FitOptions { loss, label_smoothing: epsilon, ..Default::default() };
        let err = fit_options.check().unwrap_err();
        assert!(matches!(&err, Error::InvalidOption(m) if m.contains(message)), "{err}");
    }
    let svm =
        |label_smoothing| LossOptions { loss: Loss::Svm, label_smoothing, ..Default::default() };
    assert_eq!(
        loss_and_grad(w, x, &p.labels, &svm(0.0)).unwrap(),
        loss_and_grad(w, x, &p.labels, &LossOptions { loss: Loss::Svm, ..Default::default() })
            .unwrap()
    );
}

/// Three points, each the samples of one class, no regularization: separable. Without smoothing
/// the optimum is at infinity: every probability goes to 1 as training goes on. With ε a
/// sample's loss is smallest at p = q, which an affine model reaches at three points, so at the
/// optimum the probability of the true class is 1 − ε + ε/C (here 0.9 + 0.1/3) for every
/// sample: a bounded optimum, never one-hot, whose objective is the entropy −Σ_j q_j log q_j.
#[test]
fn the_optimum_on_separable_data_is_not_one_hot() {
    let centers = [[4.0f32, 0.0], [-4.0, 4.0], [-4.0, -4.0]];
    let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
    let inputs = Array2::from_shape_fn((30, 2), |(i, k)| centers[i % 3][k]);
    let data =
        Dataset::new(inputs.clone(), labels.clone(), vec!["a".into(), "b".into(), "c".into()]);
    let train = |epsilon| {
        let options = FitOptions {
            reg: 0.0,
            preprocess: Preprocess::None,
            label_smoothing: epsilon,
            dtype: Dtype::F64, // the entropy to 1e-8
            ..Default::default()
        };
        let fitted =
            fit(data.clone(), None, &options.check().unwrap(), &mut |_| ControlFlow::Continue(()))
                .unwrap();
        let probabilities = fitted.model.predict_probabilities(inputs.view()).unwrap();
        let correct: Vec<f64> =
            labels.iter().enumerate().map(|(i, &y)| probabilities[[i, y]]).collect();
        (fitted, correct)
    };
    let (plain, plain_correct) = train(0.0);
    assert!(plain_correct.iter().all(|&p| p > 0.999), "{}: {plain_correct:?}", plain.stop_reason);
    let (fitted, correct) = train(0.1);
    let (target, other) = (0.9 + 0.1 / 3.0, 0.1 / 3.0);
    for (i, p) in correct.iter().enumerate() {
        assert!((p - target).abs() < 1e-4, "sample {i}: p = {p}, target {target}");
    }
    let entropy = -(target * f64::ln(target) + 2.0 * other * f64::ln(other));
    assert!((fitted.objective - entropy).abs() < 1e-8, "{} vs {entropy}", fitted.objective);
    assert_eq!(fitted.model.training()["label_smoothing"], 0.1);
    let largest = fitted.model.weight().fold(0f64, |m, w| m.max(w.abs()));
    assert!(largest < 10.0, "bounded weights: {largest}");
}

/// The command line: `train --label-smoothing` records ε in the model's options and trains a
/// higher objective than without; `--loss svm` with ε and ε = 1 are refused before any work;
/// `gradcheck --label-smoothing` checks the smoothed gradient.
#[test]
fn command_line_label_smoothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let model = model.to_str().unwrap();
    let base = ["train", "--iters", "30", "--json", "--quiet"];
    let plain = json(&base);
    let smooth = json(&[&base[..], &["--label-smoothing", "0.1", "--model", model]].concat());
    assert_eq!(smooth["options"]["label_smoothing"], 0.1);
    assert_eq!(plain["options"]["label_smoothing"], 0.0);
    assert!(smooth["objective"].as_f64().unwrap() > plain["objective"].as_f64().unwrap());
    let loaded = softmax::model::Model::load(std::path::Path::new(model)).unwrap();
    assert_eq!(loaded.training()["label_smoothing"], 0.1);
    let err = failure(&[&base[..], &["--loss", "svm", "--label-smoothing", "0.1"]].concat());
    assert!(err.contains("for the softmax loss only"), "{err}");
    let err = failure(&[&base[..], &["--label-smoothing", "1"]].concat());
    assert!(err.contains("label smoothing must be in [0, 1)"), "{err}");
    let report = json(&[
        "gradcheck",
        "--random",
        "30,6,4",
        "--label-smoothing",
        "0.2",
        "--kernel",
        "fused",
        "--checks",
        "20",
        "--json",
    ]);
    assert!(report["max_relative_error"].as_f64().unwrap() < 1e-7, "{report}");
}
