//! Stratified, seeded splitting of a data set in two (train/validation, train/test).

use std::collections::BTreeMap;

use ndarray::Axis;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::Dataset;

/// Splits `data` in two, class by class: of the n_c samples of each class, k_c =
/// round(`fraction`·n_c) chosen at random (seeded by `seed`) go to the second set, the rest to
/// the first. When `fraction` > 0 a class of at least 2 samples gives the second set at least
/// one sample and keeps at least one; a class with a single sample stays in the first set.
/// Both sets keep the original order of the samples (with their weights, if any), and the
/// class names, feature names and image shape of `data`.
///
/// The split depends only on the labels, `fraction` and `seed`: the same three give the same
/// split on every machine. A `fraction` of 0 (or NaN) gives an empty second set; 1 or more
/// moves all but one sample of each class.
///
/// ```
/// use ndarray::Array2;
/// use softmax::data::{Dataset, stratified_split};
///
/// let data = Dataset {
///     inputs: Array2::zeros((10, 2)),
///     labels: vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
///     sample_weights: None,
///     class_names: vec!["a".into(), "b".into()],
///     feature_names: None,
///     image_shape: None,
/// };
/// let (train, validation) = stratified_split(data, 0.25, 7);
/// assert_eq!(validation.labels, [0, 0, 1]); // round(0.25·8) = 2 and round(0.25·2) = 1
/// assert_eq!(train.n_samples(), 7);
/// ```
pub fn stratified_split(data: Dataset, fraction: f64, seed: u64) -> (Dataset, Dataset) {
    let (first, second) = split_indices(&data.labels, fraction, seed);
    if second.is_empty() {
        let empty = data.select(&[]);
        return (data, empty);
    }
    (data.select(&first), data.select(&second))
}

/// The samples (indices into `labels`, in order) of the first and second sets of
/// [`stratified_split`].
pub(crate) fn split_indices(
    labels: &[usize],
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (sample, &label) in labels.iter().enumerate() {
        by_class.entry(label).or_default().push(sample);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut in_second = vec![false; labels.len()];
    for mut samples in by_class.into_values() {
        let count = samples.len();
        if fraction.is_nan() || fraction <= 0.0 || count < 2 {
            continue;
        }
        let taken = ((fraction * count as f64).round() as usize).clamp(1, count - 1);
        samples.shuffle(&mut rng);
        for &sample in &samples[..taken] {
            in_second[sample] = true;
        }
    }
    let (second, first) = (0..labels.len()).partition(|&sample| in_second[sample]);
    (first, second)
}

impl Dataset {
    /// The samples at `indices`, in that order (with their weights: NaN, which training
    /// refuses, for a sample beyond the weights), with this data set's classes and names.
    pub(super) fn select(&self, indices: &[usize]) -> Dataset {
        let weight_of =
            |weights: &Vec<f64>, sample: usize| weights.get(sample).copied().unwrap_or(f64::NAN);
        Dataset {
            inputs: self.inputs.select(Axis(0), indices),
            labels: indices.iter().map(|&sample| self.labels[sample]).collect(),
            sample_weights: self
                .sample_weights
                .as_ref()
                .map(|weights| indices.iter().map(|&sample| weight_of(weights, sample)).collect()),
            class_names: self.class_names.clone(),
            feature_names: self.feature_names.clone(),
            image_shape: self.image_shape,
        }
    }
}
