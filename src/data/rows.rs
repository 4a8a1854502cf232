//! A split's rows before their inputs are read: every label (and weight), and a reader of the
//! inputs of chosen rows. A process of a group ([`crate::distributed`]) then reads only the
//! rows it keeps where the format allows it (`npy:` through its mapping, MNIST IDX and CIFAR-10
//! records by offset); any other source reads everything and keeps its rows of it.

use ndarray::{Array2, Axis};

use super::{Dataset, LoadOptions, weights};
use crate::Result;

/// Reads the inputs of the rows given (indices into the split's rows, in that order): one row
/// of raw values each.
pub(super) type ReadInputs<'a> = Box<dyn FnMut(&[usize]) -> Result<Array2<f32>> + 'a>;

/// A split's rows, their inputs not read yet.
pub(super) struct Rows<'a> {
    /// Every row's label and weight, classes and names, with no inputs (N×0).
    meta: Dataset,
    read: ReadInputs<'a>,
}

impl<'a> Rows<'a> {
    /// The rows labelled `labels` (N of them; the weights, names and image shape as in `meta`,
    /// whose inputs are ignored) whose inputs `read` reads.
    pub(super) fn new(meta: Dataset, read: ReadInputs<'a>) -> Rows<'a> {
        let n_rows = meta.labels.len();
        Rows { meta: Dataset { inputs: Array2::zeros((n_rows, 0)), ..meta }, read }
    }

    /// The rows of `data`, read already.
    pub(super) fn in_memory(mut data: Dataset) -> Rows<'static> {
        let inputs = std::mem::take(&mut data.inputs);
        Rows::new(data, Box::new(move |indices| Ok(inputs.select(Axis(0), indices))))
    }

    /// These rows with the weights of [`super::LoadOptions::sample_weights`], if any
    /// (`source` describes the data, for messages).
    ///
    /// # Errors
    /// Those of the weights ([`super::weights::attach`]).
    pub(super) fn weighted(mut self, options: &LoadOptions, source: &str) -> Result<Rows<'a>> {
        self.meta = weights::attach(self.meta, options, source)?;
        Ok(self)
    }

    /// N.
    pub(super) fn len(&self) -> usize {
        self.meta.labels.len()
    }

    /// The labels of every row.
    pub(super) fn labels(&self) -> &[usize] {
        &self.meta.labels
    }

    /// The rows `indices` (in that order), read, with their labels and weights.
    ///
    /// # Errors
    /// The reader's: a file that cannot be read there, or values that are not finite.
    pub(super) fn read(&mut self, indices: &[usize]) -> Result<Dataset> {
        Ok(Dataset { inputs: (self.read)(indices)?, ..self.meta.select(indices) })
    }
}
