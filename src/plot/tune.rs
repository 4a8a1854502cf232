//! The tuning map: the accuracy of every (learning rate, regularization) pair of a grid
//! search, over log10 lr × log10 reg, as CS231n draws it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{DrawResult, HEADER_HEIGHT, Header, MARGIN, Picture, format_number, text};
use super::chart::{self, Axis, extent, padded};
use super::colormap::{ColorBar, VIRIDIS, text_color_on};
use crate::tune::{TuningResult, TuningResults};
use crate::{Error, Result};

/// The size of each of the two charts, colour bar excluded.
const PANEL: (u32, u32) = (540, 440);
/// The width of the colour bar under each chart.
const COLOR_BAR_WIDTH: u32 = 300;
/// Discs at least this large have their accuracy written in them.
const MIN_LABELLED_RADIUS: i32 = 15;
/// The outline of a pair without an accuracy.
const MISSING: RGBColor = RGBColor(200, 200, 200);

/// Refuses results that cannot be drawn on log axes or have no validation accuracy.
fn check(results: &TuningResults) -> std::result::Result<(), String> {
    if results.results.is_empty() {
        return Err("the results hold no (lr, reg) pair".to_string());
    }
    for (index, result) in results.results.iter().enumerate() {
        for (name, value) in [("lr", result.lr), ("reg", result.reg)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "result {index} has {name} = {value}: the map's axes are log10 {name}, \
                     so every {name} must be > 0"
                ));
            }
        }
    }
    match results.results.iter().any(|r| r.val_accuracy.is_some_and(|a| !a.is_nan())) {
        true => Ok(()),
        false => Err("no result has a validation accuracy to map".to_string()),
    }
}

/// Two scatter plots side by side over log10 learning rate (x) × log10 regularization (y), one
/// disc per pair: on the left coloured by validation accuracy, on the right by training
/// accuracy (each with its own colour scale, viridis: dark is low, yellow high). The pair with
/// the best validation accuracy is ringed in black in both.
pub struct TuningMap {
    results: TuningResults,
    best: usize,
    header: Header,
}

impl TuningMap {
    /// The map of a grid search's results.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when there is no pair, an lr or reg is not > 0 (a log axis
    /// cannot show it), or no pair has a validation accuracy.
    pub fn new(results: &TuningResults) -> Result<TuningMap> {
        check(results).map_err(Error::InvalidOption)?;
        let best = results.best().expect("checked: there are pairs");
        let winner = &results.results[best];
        let convention = results.reg_convention;
        let header = Header {
            title: format!("Tuning map: {} (lr, reg) pairs", results.results.len()),
            subtitle: format!(
                "ringed: the best, lr {} and reg {} ({convention} convention), validation accuracy {:.4}",
                format_number(winner.lr),
                format_number(winner.reg),
                winner.val_accuracy.unwrap_or(f64::NAN)
            ),
        };
        Ok(TuningMap { results: results.clone(), best, header })
    }

    /// The index of the ringed pair in the results.
    pub fn best(&self) -> usize {
        self.best
    }

    /// The disc radius: smaller when many distinct values share an axis.
    fn radius(&self) -> i32 {
        let distinct = |values: Vec<f64>| {
            let mut values = values;
            values.sort_by(f64::total_cmp);
            values.dedup();
            values.len()
        };
        let n_lr = distinct(self.results.results.iter().map(|r| r.lr).collect());
        let n_reg = distinct(self.results.results.iter().map(|r| r.reg).collect());
        (380 / (2 * (n_lr.max(n_reg) as i32 + 1))).clamp(5, 24)
    }

    /// Draws one scatter plot: the pairs coloured by `accuracy`, the best ringed, a colour bar
    /// under it.
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        accuracy: impl Fn(&TuningResult) -> Option<f64>,
    ) -> DrawResult<DB> {
        let results = &self.results.results;
        let (plot, below) = area.split_vertically(PANEL.1);
        let x = padded(extent(results.iter().map(|r| r.lr.log10())), 0.15);
        let y = padded(extent(results.iter().map(|r| r.reg.log10())), 0.15);
        let mut chart = chart::build(&plot, title, x, y)?;
        let format = |v: &f64| format!("{v:.1}");
        let x = Axis { title: "log10 learning rate", format: &format };
        let y = Axis { title: "log10 regularization strength", format: &format };
        chart::draw_axes(&mut chart, x, y)?;
        let range = extent(results.iter().filter_map(&accuracy));
        let radius = self.radius();
        let position = |r: &TuningResult| (r.lr.log10(), r.reg.log10());
        chart.draw_series(results.iter().map(|r| {
            let style = match accuracy(r) {
                Some(value) => VIRIDIS.scaled(value, range).filled(),
                None => MISSING.stroke_width(1),
            };
            Circle::new(position(r), radius, style)
        }))?;
        if radius >= MIN_LABELLED_RADIUS {
            chart.draw_series(results.iter().filter_map(|r| {
                let value = accuracy(r)?;
                let color = text_color_on(VIRIDIS.scaled(value, range));
                let style = text(12).color(color).pos(Pos::new(HPos::Center, VPos::Center));
                Some(Text::new(format!("{value:.2}"), position(r), style))
            }))?;
        }
        let best = &results[self.best];
        chart.draw_series([Circle::new(position(best), radius + 5, BLACK.stroke_width(3))])?;
        let color_bar = ColorBar { colormap: VIRIDIS, range, label: "accuracy" };
        color_bar.draw(&below, (MARGIN as i32 + 60, 0), COLOR_BAR_WIDTH)
    }
}

impl Picture for TuningMap {
    fn size(&self) -> (u32, u32) {
        (2 * PANEL.0, HEADER_HEIGHT + PANEL.1 + ColorBar::HEIGHT + MARGIN)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.header.draw(area)?;
        let (_, panels) = area.split_vertically(HEADER_HEIGHT);
        let (left, right) = panels.split_horizontally(PANEL.0);
        self.draw_panel(&left, "validation accuracy", |r| r.val_accuracy)?;
        self.draw_panel(&right, "training accuracy", |r| Some(r.train_accuracy))
    }
}
