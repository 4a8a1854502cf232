//! Seeded random problems, for the command line's `--random`, benchmarks and tests.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::Float;

/// A classification problem in the canonical layout: W (C×D), X (N×D) and N labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem<F> {
    pub weights: Array2<F>,
    pub inputs: Array2<F>,
    pub labels: Vec<usize>,
}

/// A seeded random problem: W = `weight_scale`·randn (C×D), X = randn (N×D), labels uniform in
/// `0..C`. The same arguments give the same problem on every machine.
pub fn random_problem<F: Float>(
    n_samples: usize,
    n_features: usize,
    n_classes: usize,
    weight_scale: f64,
    seed: u64,
) -> Problem<F> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = |scale: f64| {
        let z: f64 = StandardNormal.sample(&mut rng);
        F::of(scale * z)
    };
    let weights = Array2::from_shape_simple_fn((n_classes, n_features), || normal(weight_scale));
    let inputs = Array2::from_shape_simple_fn((n_samples, n_features), || normal(1.0));
    let labels = (0..n_samples).map(|_| rng.random_range(0..n_classes.max(1))).collect();
    Problem { weights, inputs, labels }
}

/// A seeded random problem with sparse inputs, like scaled image pixels: each entry of X (N×D)
/// is nonzero with probability `density`, and then uniform in (0, 1]. W = `weight_scale`·randn
/// (C×D) and labels uniform in `0..C`, as in [`random_problem`].
pub fn random_sparse_problem<F: Float>(
    n_samples: usize,
    n_features: usize,
    n_classes: usize,
    density: f64,
    weight_scale: f64,
    seed: u64,
) -> Problem<F> {
    let mut problem = random_problem(0, n_features, n_classes, weight_scale, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(1));
    problem.inputs =
        Array2::from_shape_simple_fn((n_samples, n_features), || match rng.random_bool(density) {
            true => F::of(1.0 - rng.random::<f64>()),
            false => F::zero(),
        });
    problem.labels = (0..n_samples).map(|_| rng.random_range(0..n_classes.max(1))).collect();
    problem
}
