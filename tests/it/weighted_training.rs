//! Training with sample and class weights: integer weights train the model of duplicated rows,
//! every trainer (L-BFGS on dense and sparse passes, minibatch SGD) uses the weights, balanced
//! class weights are the formula's, and weights training cannot use are refused.

use std::ops::ControlFlow;

use ndarray::Axis;
use softmax::class_weight::ClassWeight;
use softmax::data::{DataSpec, Dataset, LoadOptions, load};
use softmax::fit::{Dtype, FitOptions, Fitted, fit};
use softmax::preprocess::Preprocess;
use softmax::train::{Duration, Optimizer, TrainOptions};
use softmax::{Error, Kernel};

use crate::common::{relative_difference, relative_scalar_difference};

/// The digits' training split (1,437 rows) and, with `val_fraction` > 0, a validation split.
fn digits(val_fraction: f64) -> (Dataset, Option<Dataset>) {
    let splits =
        load(&DataSpec::Digits, &LoadOptions { val_fraction, ..Default::default() }).unwrap();
    (splits.train, splits.validation)
}

fn fit_quietly(train: Dataset, validation: Option<Dataset>, options: &FitOptions) -> Fitted {
    let options = options.clone().check().unwrap();
    fit(train, validation, &options, &mut |_| ControlFlow::Continue(())).unwrap()
}

/// 20 L-BFGS iterations in f64 (near the optimum: the gradient's norm is below 1e-5) on pixels
/// scaled by their maximum (which rows of weight 0 do not change), with the kernel given. Run
/// to convergence instead, both runs stop where an iteration no longer lowers the objective in
/// f64, which leaves the weights 1e-8 apart along the flattest directions whatever the data.
fn near_the_optimum(kernel: Kernel) -> FitOptions {
    FitOptions {
        reg: 1e-2,
        preprocess: Preprocess::Scale,
        kernel,
        dtype: Dtype::F64,
        train: TrainOptions {
            duration: Some(Duration::Iterations(20)),
            tolerance: 0.0,
            ftol: 0.0,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A weight of k trains the model of k copies of the row: L-BFGS in f64, on the fused and the
/// sparse full passes, follows the same path (weights to 1e-8 after 20 iterations; measured:
/// 1e-15) to the same objective. (Preconditioned, the default, 40 iterations reach the optimum,
/// where the paths part by 1.6e-8 along its flattest directions.)
#[test]
fn integer_sample_weights_train_the_model_of_duplicated_rows() {
    let (train, _) = digits(0.0);
    let counts: Vec<usize> = (0..train.n_samples()).map(|i| (i * 7 + 1) % 4).collect();
    let rows: Vec<usize> =
        counts.iter().enumerate().flat_map(|(i, &k)| std::iter::repeat_n(i, k)).collect();
    let weighted = Dataset {
        sample_weights: Some(counts.iter().map(|&k| k as f64).collect()),
        ..train.clone()
    };
    let copies = Dataset {
        inputs: train.inputs.select(Axis(0), &rows),
        labels: rows.iter().map(|&i| train.labels[i]).collect(),
        ..train
    };
    for kernel in [Kernel::Fused, Kernel::Sparse] {
        let options = near_the_optimum(kernel);
        let with_weights = fit_quietly(weighted.clone(), None, &options);
        let with_copies = fit_quietly(copies.clone(), None, &options);
        let (w, c) = (with_weights.model.weight(), with_copies.model.weight());
        let error = relative_difference(w.view(), c.view());
        assert!(error < 1e-8, "{kernel}: weights differ by {error:e}");
        let error = relative_scalar_difference(with_weights.objective, with_copies.objective);
        assert!(
            error < 1e-12,
            "{kernel}: objective {} vs {}",
            with_weights.objective,
            with_copies.objective
        );
    }
}

/// Every sample weighing 2 is the unweighted problem: the minibatch loss Σ_B 2 L_i / (|B|·2)
/// and the full one Σ 2 L_i / 2N round exactly as the unweighted ones, so SGD (float32,
/// minibatches read in place) and L-BFGS (dense and sparse passes) give the same model bit for
/// bit. A minibatch normalizer other than |B|·s̄ would not.
#[test]
fn weights_all_two_train_the_unweighted_model_bit_for_bit() {
    let (train, validation) = digits(0.1);
    let doubled = Dataset { sample_weights: Some(vec![2.0; train.n_samples()]), ..train.clone() };
    let sgd = FitOptions {
        preprocess: Preprocess::Standardize,
        train: TrainOptions {
            optimizer: Optimizer::Sgd,
            duration: Some(Duration::Epochs(3)),
            ..Default::default()
        },
        ..Default::default()
    };
    let lbfgs = FitOptions {
        train: TrainOptions { duration: Some(Duration::Iterations(30)), ..Default::default() },
        ..Default::default()
    };
    for options in [sgd, lbfgs.clone(), FitOptions { kernel: Kernel::Sparse, ..lbfgs }] {
        let plain = fit_quietly(train.clone(), validation.clone(), &options);
        let weighted = fit_quietly(doubled.clone(), validation.clone(), &options);
        assert_eq!(plain.model, weighted.model, "{:?} {}", options.train.optimizer, options.kernel);
        assert_eq!(plain.history, weighted.history);
    }
}

/// Class weights reach every trainer: with weight 0 on every class but 0 and 1 (a fifth of the
/// samples), nothing pulls the other classes' scores up, and most training samples are
/// predicted as 0 or 1 (unweighted, a fifth are).
#[test]
fn every_trainer_uses_the_class_weights() {
    let (train, _) = digits(0.0);
    let only_two = ClassWeight::PerClass([1.0, 1.0].into_iter().chain([0.0; 8]).collect());
    let sgd = TrainOptions {
        optimizer: Optimizer::Sgd,
        duration: Some(Duration::Epochs(5)),
        ..Default::default()
    };
    let lbfgs = TrainOptions { duration: Some(Duration::Iterations(50)), ..Default::default() };
    for (train_options, kernel) in
        [(sgd, Kernel::Auto), (lbfgs.clone(), Kernel::Fused), (lbfgs, Kernel::Sparse)]
    {
        let options = FitOptions {
            preprocess: Preprocess::Standardize,
            kernel,
            train: train_options,
            ..Default::default()
        };
        let plain = fit_quietly(train.clone(), None, &options);
        assert!(plain.train_accuracy > 0.9, "{kernel}: {}", plain.train_accuracy);
        let options = FitOptions { class_weight: only_two.clone(), ..options };
        let weighted = fit_quietly(train.clone(), None, &options);
        let share_of_two = |fitted: &Fitted| {
            let predicted = fitted.model.predict(train.inputs.view()).unwrap();
            predicted.iter().filter(|&&class| class < 2).count() as f64 / predicted.len() as f64
        };
        let what = format!("{kernel} {:?}", options.train.optimizer);
        let (plain_share, weighted_share) = (share_of_two(&plain), share_of_two(&weighted));
        assert!(plain_share < 0.25, "{what}: {plain_share}");
        assert!(weighted_share > 0.6, "{what}: {weighted_share}");
    }
}

/// `balanced` is the per-class weights N / (C · n_k) of the training split (n_k counted by
/// hand here), bit for bit, and the model records it as "balanced".
#[test]
fn balanced_class_weights_are_the_formula() {
    let (train, validation) = digits(0.1);
    let n = train.n_samples() as f64;
    let by_hand: Vec<f64> = (0..10)
        .map(|k| n / (10.0 * train.labels.iter().filter(|&&y| y == k).count() as f64))
        .collect();
    let options = |class_weight| FitOptions {
        class_weight,
        train: TrainOptions { duration: Some(Duration::Iterations(20)), ..Default::default() },
        ..Default::default()
    };
    let balanced = fit_quietly(train.clone(), validation.clone(), &options(ClassWeight::Balanced));
    let per_class = fit_quietly(
        train.clone(),
        validation.clone(),
        &options(ClassWeight::PerClass(by_hand.clone())),
    );
    let plain = fit_quietly(train, validation, &options(ClassWeight::None));
    assert_eq!(balanced.model.weight(), per_class.model.weight());
    assert_ne!(balanced.model.weight(), plain.model.weight());
    assert_eq!(balanced.model.training()["class_weight"], "balanced");
    assert_eq!(per_class.model.training()["class_weight"], serde_json::json!(by_hand));
    assert_eq!(plain.model.training()["class_weight"], serde_json::Value::Null);
}

/// A change to the training and validation splits.
type Change = dyn Fn(&mut Dataset, &mut Dataset);

/// Weights that training cannot use are refused before any work, naming the problem and the
/// split; a validation split whose weights sum to 0 is fine (its weights are not used).
#[test]
fn unusable_weights_are_refused_naming_the_split() {
    let attempt = |change: &Change, class_weight: ClassWeight| {
        let (mut train, validation) = digits(0.1);
        let mut validation = validation.unwrap();
        train.sample_weights = Some(vec![1.0; train.n_samples()]);
        validation.sample_weights = Some(vec![0.0; validation.n_samples()]);
        change(&mut train, &mut validation);
        let options = FitOptions {
            class_weight,
            train: TrainOptions { duration: Some(Duration::Iterations(2)), ..Default::default() },
            ..Default::default()
        };
        let options = options.check()?;
        fit(train, Some(validation), &options, &mut |_| ControlFlow::Continue(())).map(|_| ())
    };
    assert!(attempt(&|_, _| {}, ClassWeight::None).is_ok());
    let message = |result: softmax::Result<()>| result.unwrap_err().to_string();
    let cases: [(&Change, ClassWeight, &str); 7] = [
        (
            &|t, _| t.sample_weights.as_mut().unwrap().truncate(5),
            ClassWeight::None,
            "5 weights for 1293 samples",
        ),
        (
            &|t, _| t.sample_weights.as_mut().unwrap()[7] = f64::NAN,
            ClassWeight::None,
            "NaN at sample 7: every weight must be finite (the training split)",
        ),
        (
            &|_, v| v.sample_weights.as_mut().unwrap()[2] = -1.0,
            ClassWeight::None,
            "-1 at sample 2: every weight must be >= 0 (the validation split)",
        ),
        (&|t, _| t.sample_weights = Some(vec![0.0; 1293]), ClassWeight::None, "they sum to 0"),
        (&|_, _| {}, ClassWeight::PerClass(vec![1.0; 9]), "9 class weights for 10 classes"),
        (&|_, _| {}, ClassWeight::PerClass(vec![-1.0; 10]), "class weight -1 for class 0"),
        (
            &|_, _| {},
            ClassWeight::PerClass(vec![0.0; 10]),
            "they sum to 0: at least one sample needs a positive weight, and the sum must be finite (the training split's class weight × sample weight, in float64)",
        ),
    ];
    for (change, class_weight, expected) in cases {
        let text = message(attempt(change, class_weight));
        assert!(text.contains(expected), "{text}");
    }
    let fewer: &Change = &|t, _| t.sample_weights.as_mut().unwrap().truncate(5);
    assert!(matches!(attempt(fewer, ClassWeight::None), Err(Error::SampleWeights(_))));
}
