//! Seeded random problems, for the command line's `--random`, benchmarks and tests.

use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::{Error, Float, Result};

/// A classification problem in the canonical layout: W (C×D), X (N×D) and N labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem<F> {
    pub weights: Array2<F>,
    pub inputs: Array2<F>,
    pub labels: Vec<usize>,
}

/// Checks, before any of it is made, that a seeded synthetic problem of shape (n, d, c) in `F`
/// ([`crate::bench::Workload`], `softmax gradcheck --random`) fits in memory: X (N·D values), W (C·D) and
/// the N×C scores a pass holds must not overflow, must together fit the most one allocation
/// can hold (`isize::MAX` bytes, Rust's limit), and the system must grant that much memory.
/// That last test asks for the bytes and gives them back at once (they are never touched), so
/// that a shape too large for this machine is an error naming it, not an abort when the
/// arrays are filled.
///
/// # Errors
/// [`Error::InvalidOption`] naming N, D and C when the problem is too large.
pub fn check_problem_size<F: Float>((n, d, c): (usize, usize, usize)) -> Result<()> {
    let too_large = |why: String| {
        Error::InvalidOption(format!(
            "a problem of N = {n} samples, D = {d} features and C = {c} classes is too large: \
             {why}"
        ))
    };
    let values = [n.checked_mul(d), c.checked_mul(d), n.checked_mul(c)]
        .into_iter()
        .try_fold(0usize, |total, values| total.checked_add(values?));
    let bytes = values.and_then(|values| values.checked_mul(size_of::<F>()));
    let Some(bytes) = bytes.filter(|&bytes| bytes <= isize::MAX as usize) else {
        return Err(too_large(
            "X (N·D values), W (C·D) and the scores (N·C) would take 8 EiB or more, more than one \
             allocation can hold (2^63 − 1 bytes)"
                .into(),
        ));
    };
    if !crate::memory::grants(bytes) {
        let gib = bytes as f64 / f64::from(1u32 << 30);
        return Err(too_large(format!(
            "X, W and the scores would take {gib:.1} GiB, more memory than this system grants"
        )));
    }
    Ok(())
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
