//! Class weights, and the effective weight of each training sample.
//!
//! Training minimizes the weighted mean loss Σ_i w_i L_i / Σ_i w_i (see [`crate::loss`]), where
//! the effective weight of sample i is w_i = c_{y_i} · s_i: its class's weight c (a
//! [`ClassWeight`]) times its own sample weight s_i (1 without any,
//! [`Dataset::sample_weights`](crate::data::Dataset::sample_weights)).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// How training weighs the classes. In the model file's training options (JSON) it is `null`,
/// `"balanced"` or the list of per-class weights.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ClassWeight {
    /// Every class weighs 1.
    #[default]
    None,
    /// scikit-learn's `"balanced"`: c_k = N / (C · n_k), with n_k the training samples of
    /// class k, N = Σ_k n_k and C the number of classes, so that every class weighs as much in
    /// the loss. With sample weights the counts are their sums (n_k = Σ_{y_i = k} s_i), as
    /// scikit-learn (≥ 1.6) counts them and as k copies of a sample would count. A class of
    /// no (or zero) weight gets 1 (no sample uses it).
    Balanced,
    /// One weight per class, in class (label) order: finite and ≥ 0.
    PerClass(Vec<f64>),
}

impl ClassWeight {
    /// Refuses per-class weights that are NaN, infinite or negative (what does not depend on
    /// the data; [`ClassWeight::resolve`] checks their count).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] naming the first such weight.
    pub fn check(&self) -> Result<()> {
        let ClassWeight::PerClass(weights) = self else {
            return Ok(());
        };
        match weights.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w >= 0.0)) {
            Some((class, weight)) => Err(Error::InvalidOption(format!(
                "class weight {weight} for class {class}: class weights must be finite and >= 0"
            ))),
            None => Ok(()),
        }
    }

    /// The weight of each of `n_classes` classes for the training `labels` (in `0..n_classes`)
    /// and their `sample_weights` (one per label, checked by the caller), or `None` for
    /// [`ClassWeight::None`].
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for per-class weights that [`ClassWeight::check`] refuses or
    /// whose count is not `n_classes`; [`Error::LabelOutOfRange`] for a label beyond them.
    pub fn resolve(
        &self,
        labels: &[usize],
        n_classes: usize,
        sample_weights: Option<&[f64]>,
    ) -> Result<Option<Vec<f64>>> {
        self.check()?;
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= n_classes) {
            return Err(Error::LabelOutOfRange { index, label: label as i128, n_classes });
        }
        match self {
            ClassWeight::None => Ok(None),
            ClassWeight::PerClass(weights) if weights.len() != n_classes => {
                Err(Error::InvalidOption(format!(
                    "{} class weights for {n_classes} classes: give one weight per class",
                    weights.len()
                )))
            }
            ClassWeight::PerClass(weights) => Ok(Some(weights.clone())),
            ClassWeight::Balanced => {
                let mut counts = vec![0.0f64; n_classes];
                for (i, &label) in labels.iter().enumerate() {
                    counts[label] += sample_weights.map_or(1.0, |weights| weights[i]);
                }
                let (n, c) = (counts.iter().sum::<f64>(), n_classes as f64);
                let weight = |count: f64| if count > 0.0 { n / (c * count) } else { 1.0 };
                Ok(Some(counts.into_iter().map(weight).collect()))
            }
        }
    }

    /// The effective weights c_{y_i} · s_i of the training samples (`labels`, in
    /// `0..n_classes`, with their `sample_weights` if any), or `None` when there are neither
    /// class nor sample weights: every sample counts once.
    ///
    /// # Errors
    /// Those of [`ClassWeight::resolve`], and [`Error::SampleWeights`] for a sample weight
    /// count other than the labels'.
    pub fn effective_weights(
        &self,
        labels: &[usize],
        n_classes: usize,
        sample_weights: Option<&[f64]>,
    ) -> Result<Option<Vec<f64>>> {
        if let Some(weights) = sample_weights {
            crate::loss::check_weight_count(weights.len(), labels.len())?;
        }
        let class_weights = self.resolve(labels, n_classes, sample_weights)?;
        let sample_weight = |i: usize| sample_weights.map_or(1.0, |weights| weights[i]);
        Ok(match (&class_weights, sample_weights) {
            (None, None) => None,
            (None, Some(weights)) => Some(weights.to_vec()),
            (Some(by_class), _) => Some(
                labels.iter().enumerate().map(|(i, &y)| by_class[y] * sample_weight(i)).collect(),
            ),
        })
    }
}

impl Serialize for ClassWeight {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            ClassWeight::None => serializer.serialize_none(),
            ClassWeight::Balanced => serializer.serialize_str("balanced"),
            ClassWeight::PerClass(weights) => weights.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ClassWeight {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Name(String),
            PerClass(Vec<f64>),
        }
        match Option::<Written>::deserialize(deserializer)? {
            None => Ok(ClassWeight::None),
            Some(Written::Name(name)) if name == "balanced" => Ok(ClassWeight::Balanced),
            Some(Written::Name(name)) => Err(serde::de::Error::custom(format!(
                "unknown class weight '{name}': expected null, \"balanced\" or a list of weights"
            ))),
            Some(Written::PerClass(weights)) => Ok(ClassWeight::PerClass(weights)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClassWeight;

    /// Balanced weights are N / (C · n_k): here N = 6, C = 3, counts (3, 2, 1) and a fourth
    /// class without samples.
    #[test]
    fn balanced_weights_follow_the_formula() {
        let labels = [0, 1, 0, 2, 1, 0];
        let weights = ClassWeight::Balanced.resolve(&labels, 3, None).unwrap().unwrap();
        assert_eq!(weights, [6.0 / 9.0, 6.0 / 6.0, 6.0 / 3.0]);
        let with_empty = ClassWeight::Balanced.resolve(&labels, 4, None).unwrap().unwrap();
        assert_eq!(with_empty, [6.0 / 12.0, 6.0 / 8.0, 6.0 / 4.0, 1.0]);
        // Each class's weights then sum to N / C, whatever its count.
        let effective = ClassWeight::Balanced.effective_weights(&labels, 3, None).unwrap().unwrap();
        for class in 0..3 {
            let total: f64 = (0..6).filter(|&i| labels[i] == class).map(|i| effective[i]).sum();
            assert!((total - 2.0).abs() < 1e-15, "class {class}: {total}");
        }
        // With sample weights the counts are their sums: (1+1+3, 1+1, 1) of N = 8. Integer
        // weights give what the repeated samples give.
        let samples = [1.0, 1.0, 1.0, 1.0, 1.0, 3.0];
        let weighted = ClassWeight::Balanced.resolve(&labels, 3, Some(&samples)).unwrap().unwrap();
        assert_eq!(weighted, [8.0 / 15.0, 8.0 / 6.0, 8.0 / 3.0]);
        let repeated = [0, 1, 0, 2, 1, 0, 0, 0];
        assert_eq!(weighted, ClassWeight::Balanced.resolve(&repeated, 3, None).unwrap().unwrap());
    }

    /// The effective weight is the class weight times the sample weight; neither gives `None`.
    #[test]
    fn effective_weights_multiply_class_and_sample_weights() {
        let labels = [1, 0, 1];
        let per_class = ClassWeight::PerClass(vec![2.0, 0.5]);
        let samples = [1.0, 3.0, 4.0];
        let effective = per_class.effective_weights(&labels, 2, Some(&samples)).unwrap();
        assert_eq!(effective, Some(vec![0.5, 6.0, 2.0]));
        assert_eq!(
            per_class.effective_weights(&labels, 2, None).unwrap(),
            Some(vec![0.5, 2.0, 0.5])
        );
        let none = ClassWeight::None;
        assert_eq!(
            none.effective_weights(&labels, 2, Some(&samples)).unwrap(),
            Some(samples.to_vec())
        );
        assert_eq!(none.effective_weights(&labels, 2, None).unwrap(), None);
    }

    #[test]
    fn per_class_weights_of_the_wrong_count_or_value_are_refused() {
        let err = ClassWeight::PerClass(vec![1.0, 2.0]).resolve(&[0, 1, 2], 3, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid option: 2 class weights for 3 classes: give one weight per class"
        );
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            let err = ClassWeight::PerClass(vec![1.0, bad]).check().unwrap_err().to_string();
            assert!(err.contains(&format!("class weight {bad} for class 1")), "{err}");
        }
    }

    #[test]
    fn class_weights_are_written_as_null_balanced_or_a_list() {
        for (weight, json) in [
            (ClassWeight::None, "null"),
            (ClassWeight::Balanced, "\"balanced\""),
            (ClassWeight::PerClass(vec![1.0, 2.5]), "[1.0,2.5]"),
        ] {
            assert_eq!(serde_json::to_string(&weight).unwrap(), json);
            assert_eq!(serde_json::from_str::<ClassWeight>(json).unwrap(), weight);
        }
        assert!(serde_json::from_str::<ClassWeight>("\"even\"").is_err());
    }
}
