//! `npy:X.npy,y.npy` with X memory-mapped instead of read ([`crate::mapped`]): the splits are
//! sets of rows of one mapping, so that neither training nor the validation split copies X.

use std::sync::Arc;

use super::files::grouped;
use super::numpy::check_label_count;
use super::split::split_indices;
use super::{DataSpec, Dataset, LoadOptions, labels, weights};
use crate::mapped::MappedMatrix;
use crate::{Error, Result, npy};

/// Rows of a mapped matrix with their labels: a training or validation split.
#[derive(Clone, Debug)]
pub struct MappedDataset {
    pub inputs: Arc<MappedMatrix>,
    /// The matrix rows of this split, in order; `None`: all of them.
    pub rows: Option<Vec<usize>>,
    /// One label per row of the split.
    pub labels: Vec<usize>,
    /// One weight per row of the split, or `None`.
    pub sample_weights: Option<Vec<f64>>,
    pub class_names: Vec<String>,
}

/// The training split and the validation split held out of it, of one mapped matrix.
#[derive(Clone, Debug)]
pub struct MappedSplits {
    pub train: MappedDataset,
    pub validation: Option<MappedDataset>,
    /// Where the data came from and how they were split, as [`super::Splits::description`].
    pub description: String,
}

impl MappedDataset {
    /// N, the rows of this split.
    pub fn n_samples(&self) -> usize {
        self.labels.len()
    }

    /// These rows labelled by `class_names` instead of their own classes, matched by name, as
    /// [`Dataset::align_classes`] does (the inputs are not touched).
    ///
    /// # Errors
    /// Those of [`Dataset::align_classes`]: a class of the data that `class_names` lacks.
    pub fn align_classes(self, class_names: &[String]) -> Result<MappedDataset> {
        let MappedDataset { inputs, rows, labels, sample_weights, class_names: own } = self;
        let labels_only = Dataset::new(ndarray::Array2::zeros((labels.len(), 0)), labels, own);
        let aligned = labels_only.align_classes(class_names)?;
        Ok(MappedDataset {
            inputs,
            rows,
            labels: aligned.labels,
            sample_weights,
            class_names: aligned.class_names,
        })
    }

    /// The samples at `positions` of this split, read into memory as float32
    /// (positions.len() × D), once the file is checked to be as long as when it was mapped
    /// ([`MappedMatrix::check_unchanged`]: reading a page cut off would be a SIGBUS).
    ///
    /// # Errors
    /// A file cut short since it was mapped.
    ///
    /// # Panics
    /// If `positions` reaches past the split's last sample.
    pub fn read_rows(&self, positions: std::ops::Range<usize>) -> Result<ndarray::Array2<f32>> {
        self.inputs.check_unchanged()?;
        Ok(self.inputs.read_rows(self.rows.as_deref(), positions))
    }
}

/// Whether `load_mapped` can read `spec`: `.npy` pairs.
pub fn can_map(spec: &DataSpec) -> bool {
    matches!(spec, DataSpec::Npy { .. })
}

/// Maps the inputs of an `npy:` source and reads its labels (and sample weights), holding out
/// a stratified validation split as [`super::load`] does, as rows of the same mapping.
///
/// # Errors
/// [`Error::InvalidOption`] for a source that is not an `.npy` pair, or options it would
/// ignore (see [`super::load`]: a `val_fraction` outside [0, 1), a CSV column, a count of
/// CIFAR-10 test records); those of [`MappedMatrix::open`]; a labels file that is not a vector of N
/// non-negative integers; those of the sample weights.
pub fn load_mapped(spec: &DataSpec, options: &LoadOptions) -> Result<MappedSplits> {
    let DataSpec::Npy { inputs: inputs_path, labels: labels_path } = spec else {
        return Err(Error::InvalidOption(format!("only npy: sources are mapped, not {spec}")));
    };
    options.check_for(spec)?;
    let inputs = Arc::new(MappedMatrix::open(inputs_path)?);
    let labels = npy::read_labels(labels_path)?;
    let n_rows = inputs.dim().0;
    check_label_count((labels_path, labels.len()), (inputs_path, n_rows))?;
    let class_names = labels::numbered_classes(labels_path, &labels, 0)?;
    let source = format!(
        "NumPy {} (mapped, {}) and {}",
        inputs_path.display(),
        inputs.element().name(),
        labels_path.display()
    );
    let sample_weights = weights::for_rows(options, n_rows, &source)?;
    let (train_rows, validation_rows) = split_indices(&labels, options.val_fraction, options.seed);
    let split = |rows: Vec<usize>| {
        let pick = |values: &[usize]| rows.iter().map(|&row| values[row]).collect();
        MappedDataset {
            inputs: Arc::clone(&inputs),
            labels: pick(&labels),
            sample_weights: sample_weights
                .as_ref()
                .map(|weights| rows.iter().map(|&row| weights[row]).collect()),
            class_names: class_names.clone(),
            rows: Some(rows),
        }
    };
    let mut description = format!("{source}: {} train", grouped(train_rows.len()));
    let validation = (!validation_rows.is_empty()).then(|| {
        description.push_str(&format!(
            ", {} validation (stratified {} of the training samples, seed {})",
            grouped(validation_rows.len()),
            options.val_fraction,
            options.seed
        ));
        split(validation_rows)
    });
    let train = match validation {
        Some(_) => split(train_rows),
        None => MappedDataset {
            inputs: Arc::clone(&inputs),
            rows: None,
            labels,
            sample_weights,
            class_names,
        },
    };
    Ok(MappedSplits { train, validation, description })
}
