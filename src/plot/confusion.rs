//! The confusion matrix: how often each class is taken for each other.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{DrawResult, Header, Picture};
use super::colormap::{ColorBar, SEQUENTIAL};
use super::image::RgbImage;
use super::matrix::HeatMap;
use crate::metrics::Evaluation;

/// The cells are about this many pixels square in all, within [`MIN_CELL`, `MAX_CELL`] each.
const MATRIX_SIDE: usize = 600;
const MIN_CELL: usize = 12;
const MAX_CELL: usize = 56;

/// A C×C heat map: row t, column p holds the number of samples of true class t predicted as
/// p, written in the cell when it fits; the cell's colour is that count as a fraction of row t
/// (white 0 to dark blue 1), so the diagonal reads as each class's recall whatever its size.
/// Class names label both axes, in class order.
pub struct ConfusionMatrix {
    heat_map: HeatMap,
}

impl ConfusionMatrix {
    /// The matrix of `evaluation`; `what` says what it was evaluated on (e.g. "the test split
    /// of digits"), for the subtitle.
    pub fn new(evaluation: &Evaluation, what: &str) -> ConfusionMatrix {
        let counts = &evaluation.confusion_matrix;
        let n_classes = counts.len();
        let row_totals: Vec<usize> = counts.iter().map(|row| row.iter().sum()).collect();
        let cells = RgbImage::from_fn(n_classes, n_classes, |t, p| {
            let fraction = match row_totals[t] {
                0 => 0.0,
                total => counts[t][p] as f64 / total as f64,
            };
            SEQUENTIAL.color(fraction)
        });
        let names: Vec<String> = evaluation.per_class.iter().map(|c| c.class.clone()).collect();
        let cell = (MATRIX_SIDE / n_classes.max(1)).clamp(MIN_CELL, MAX_CELL) as u32;
        let heat_map = HeatMap {
            header: Header {
                title: format!(
                    "Confusion matrix: accuracy {:.4} on {} samples",
                    evaluation.accuracy, evaluation.n_samples
                ),
                subtitle: format!("{what}; colour: the fraction of the true class's samples"),
            },
            row_title: "true class",
            column_title: "predicted class",
            row_labels: names.clone(),
            column_labels: names,
            cells,
            cell_size: (cell, cell),
            cell_text: Some(counts.iter().flatten().map(|count| count.to_string()).collect()),
            color_bar: ColorBar {
                colormap: SEQUENTIAL,
                range: (0.0, 1.0),
                label: "fraction of the true class",
            },
        };
        ConfusionMatrix { heat_map }
    }

    /// The top-left pixel of the cell of `true_class` (row) and `predicted` (column).
    pub fn cell_origin(&self, true_class: usize, predicted: usize) -> (u32, u32) {
        self.heat_map.cell_origin(true_class, predicted)
    }
}

impl Picture for ConfusionMatrix {
    fn size(&self) -> (u32, u32) {
        self.heat_map.size()
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.heat_map.draw(area)
    }
}
