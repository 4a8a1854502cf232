//! The training curves: the loss at every step, and the accuracies at every checkpoint.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{DrawResult, HEADER_HEIGHT, Header, Picture, format_number, text};
use super::chart::{self, Axis, extent, padded};
use super::colormap::SERIES;
use crate::train::History;
use crate::{Error, Result};

/// The size of each of the two charts.
const PANEL: (u32, u32) = (560, 420);
/// The loss axis turns logarithmic when the largest loss is this many times the smallest.
const LOG_SCALE_RATIO: f64 = 50.0;
/// The smoothed loss averages about this fraction of all steps.
const SMOOTHING_FRACTION: usize = 50;
/// The smoothed loss is drawn when it averages at least this many steps.
const MIN_WINDOW: usize = 5;
/// The x axis of both charts.
const ITERATION: Axis<'static, f64> =
    Axis { title: "iteration", format: &|v: &f64| format!("{v:.0}") };

/// Two charts side by side, over the iterations: on the left the loss of every step (the
/// minibatch loss for SGD and its kin, the full objective for L-BFGS) in a light line with,
/// over it, its mean over the last w steps; on the right the training and validation accuracy
/// at every checkpoint (each epoch, and the end). The loss axis is logarithmic when the loss
/// spans more than a factor of 50, as CS231n's runs with a large regularization do (from ~780
/// down to ~2).
pub struct TrainingCurves {
    history: History,
    /// w: the smoothed loss is the mean of the last w steps (1: no smoothed line, for short
    /// runs and L-BFGS, whose loss is the full objective).
    window: usize,
    header: Header,
}

impl TrainingCurves {
    /// The curves of a run.
    ///
    /// # Errors
    /// [`Error::Empty`] for a history without any step with a finite loss.
    pub fn new(history: &History) -> Result<TrainingCurves> {
        let finite = history.steps.iter().filter(|s| s.loss.is_finite()).count();
        if finite == 0 {
            return Err(Error::Empty("the history has no step with a finite loss to plot".into()));
        }
        let window = match history.steps.len() / SMOOTHING_FRACTION {
            window if window >= MIN_WINDOW => window,
            _ => 1,
        };
        let last_loss = history.steps.last().map_or(f64::NAN, |s| s.loss);
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let mut subtitle = format!(
            "{}, {}; last loss {}",
            count(history.steps.len(), "step"),
            count(history.checkpoints.len(), "checkpoint"),
            format_number(last_loss)
        );
        if let Some(checkpoint) = history.checkpoints.last() {
            subtitle
                .push_str(&format!(", last training accuracy {:.4}", checkpoint.train_accuracy));
            if let Some(val) = checkpoint.val_accuracy {
                subtitle.push_str(&format!(", validation {val:.4}"));
            }
        }
        let header = Header { title: "Training curves".to_string(), subtitle };
        Ok(TrainingCurves { history: history.clone(), window, header })
    }

    /// The iterations the charts span, with a little room on both sides for the markers.
    fn iterations(&self) -> std::ops::Range<f64> {
        let first = self.history.steps.iter().map(|s| s.iteration).min().unwrap_or(0);
        let last_step = self.history.steps.iter().map(|s| s.iteration).max().unwrap_or(0);
        let last_checkpoint = self.history.checkpoints.iter().map(|c| c.iteration).max();
        let last = last_step.max(last_checkpoint.unwrap_or(0));
        padded((first as f64, last as f64), 0.02)
    }

    /// The finite losses as (iteration, loss) points.
    fn losses(&self) -> Vec<(f64, f64)> {
        let steps = self.history.steps.iter().filter(|s| s.loss.is_finite());
        steps.map(|s| (s.iteration as f64, s.loss)).collect()
    }

    fn draw_loss<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let losses = self.losses();
        let (low, high) = extent(losses.iter().map(|p| p.1));
        if low > 0.0 && high / low > LOG_SCALE_RATIO {
            let y = (low / 1.2..high * 1.2).log_scale();
            self.draw_loss_on(area, &losses, y, "loss (log scale)")
        } else {
            self.draw_loss_on(area, &losses, padded((low, high), 0.05), "loss")
        }
    }

    fn draw_loss_on<DB, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        losses: &[(f64, f64)],
        y: Y,
        y_description: &str,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = chart::build(area, "Loss per step", self.iterations(), y)?;
        let y = Axis { title: y_description, format: &|v: &f64| format_number(*v) };
        chart::draw_axes(&mut chart, ITERATION, y)?;
        let raw = SERIES[0].mix(if self.window > 1 { 0.35 } else { 1.0 });
        chart
            .draw_series(LineSeries::new(losses.iter().copied(), raw.stroke_width(1)))?
            .label("loss of each step")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], raw.stroke_width(2)));
        if self.window > 1 {
            let smooth = SERIES[0].stroke_width(2);
            chart
                .draw_series(LineSeries::new(trailing_mean(losses, self.window), smooth))?
                .label(format!("mean of the last {} steps", self.window))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], smooth));
        }
        chart::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }

    fn draw_accuracy<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let checkpoints = &self.history.checkpoints;
        let train: Vec<(f64, f64)> =
            checkpoints.iter().map(|c| (c.iteration as f64, c.train_accuracy)).collect();
        let validation: Vec<(f64, f64)> = checkpoints
            .iter()
            .filter_map(|c| c.val_accuracy.map(|v| (c.iteration as f64, v)))
            .collect();
        let y = accuracy_range(extent(train.iter().chain(&validation).map(|p| p.1)));
        // A narrow range has ticks 0.005 apart, which need a third decimal.
        let decimals = if y.end - y.start < 0.15 { 3 } else { 2 };
        let iterations = self.iterations();
        let middle = ((iterations.start + iterations.end) / 2.0, (y.start + y.end) / 2.0);
        let mut chart = chart::build(area, "Accuracy per checkpoint", iterations, y)?;
        let y = Axis { title: "accuracy", format: &|v: &f64| format!("{v:.decimals$}") };
        chart::draw_axes(&mut chart, ITERATION, y)?;
        if checkpoints.is_empty() {
            let style = text(14).pos(Pos::new(HPos::Center, VPos::Center));
            let note = Text::new("no checkpoint in this history", middle, style);
            return chart.draw_series([note]).map(|_| ());
        }
        for (points, color, name) in
            [(train, SERIES[0], "training"), (validation, SERIES[1], "validation")]
        {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
        // Accuracies rise: the lower right is where the curves are not.
        chart::draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

impl Picture for TrainingCurves {
    fn size(&self) -> (u32, u32) {
        (2 * PANEL.0, HEADER_HEIGHT + PANEL.1)
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        self.header.draw(area)?;
        let (_, charts) = area.split_vertically(HEADER_HEIGHT);
        let (left, right) = charts.split_horizontally(PANEL.0);
        self.draw_loss(&left)?;
        self.draw_accuracy(&right)
    }
}

/// The accuracy axis: [low, high] widened to multiples of 0.05 within [0, 1], at least 0.05
/// tall.
fn accuracy_range((low, high): (f64, f64)) -> std::ops::Range<f64> {
    const STEP: f64 = 0.05;
    if low > high {
        return 0.0..1.0; // no accuracy at all
    }
    let bottom = ((low / STEP).floor() * STEP).clamp(0.0, 1.0 - STEP);
    let top = ((high / STEP).ceil() * STEP).clamp(bottom + STEP, 1.0);
    bottom..top
}

/// The mean of each point's value and the `window` − 1 before it (fewer at the start).
fn trailing_mean(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= points[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_mean_averages_the_last_steps() {
        let points: Vec<(f64, f64)> =
            [4.0, 2.0, 6.0, 0.0].iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
        let smoothed: Vec<f64> = trailing_mean(&points, 2).iter().map(|p| p.1).collect();
        assert_eq!(smoothed, vec![4.0, 3.0, 4.0, 3.0]);
        assert_eq!(trailing_mean(&points, 1), points);
    }

    #[test]
    fn accuracy_axes_end_at_multiples_of_a_twentieth() {
        let close = |r: std::ops::Range<f64>, (a, b): (f64, f64)| {
            assert!((r.start - a).abs() < 1e-12 && (r.end - b).abs() < 1e-12, "{r:?}");
        };
        close(accuracy_range((0.905, 0.928)), (0.9, 0.95));
        close(accuracy_range((0.22, 0.345)), (0.2, 0.35));
        close(accuracy_range((1.0, 1.0)), (0.95, 1.0));
        close(accuracy_range((0.0, 0.0)), (0.0, 0.05));
        close(accuracy_range((f64::INFINITY, f64::NEG_INFINITY)), (0.0, 1.0));
    }

    #[test]
    fn a_history_without_steps_has_no_curves() {
        let err = TrainingCurves::new(&History::default()).err().unwrap();
        assert!(err.to_string().contains("no step"), "{err}");
    }
}
