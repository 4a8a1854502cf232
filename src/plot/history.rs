//! The training curves: the loss at every step, and the accuracies at every checkpoint.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{DrawResult, HEADER_HEIGHT, Header, Picture, format_number, text};
use super::chart::{self, AXIS_LIMIT, Axis, extent, padded};
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
        if let Some(y) = log_range((low, high)) {
            self.draw_loss_on(area, &losses, y.log_scale(), 1.0, "loss (log scale)")
        } else {
            // Losses beyond the axis limit are drawn in eighths (a power of two: exactly),
            // their labels multiplied back.
            let unit = if low.abs().max(high.abs()) > AXIS_LIMIT { 8.0 } else { 1.0 };
            let y = padded((low / unit, high / unit), 0.05);
            self.draw_loss_on(area, &losses, y, unit, "loss")
        }
    }

    /// Draws the loss chart on the y axis `y`, whose values are the losses divided by `unit`.
    fn draw_loss_on<DB, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        losses: &[(f64, f64)],
        y: Y,
        unit: f64,
        y_description: &str,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = chart::build(area, "Loss per step", self.iterations(), y)?;
        let y = Axis { title: y_description, format: &|v: &f64| format_number(*v * unit) };
        chart::draw_axes(&mut chart, ITERATION, y)?;
        let in_units = |&(x, y): &(f64, f64)| (x, y / unit);
        let raw = SERIES[0].mix(if self.window > 1 { 0.35 } else { 1.0 });
        chart
            .draw_series(LineSeries::new(losses.iter().map(in_units), raw.stroke_width(1)))?
            .label("loss of each step")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], raw.stroke_width(2)));
        if self.window > 1 {
            let smooth = SERIES[0].stroke_width(2);
            let means = trailing_mean(losses, self.window);
            chart
                .draw_series(LineSeries::new(means.iter().map(in_units), smooth))?
                .label(format!("mean of the last {} steps", self.window))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], smooth));
        }
        chart::draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }

    fn draw_accuracy<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let checkpoints = &self.history.checkpoints;
        // A history read from CSV may hold NaN or infinite accuracies: they are not drawn.
        let train: Vec<(f64, f64)> = checkpoints
            .iter()
            .filter(|c| c.train_accuracy.is_finite())
            .map(|c| (c.iteration as f64, c.train_accuracy))
            .collect();
        let validation: Vec<(f64, f64)> = checkpoints
            .iter()
            .filter_map(|c| {
                c.val_accuracy.filter(|v| v.is_finite()).map(|v| (c.iteration as f64, v))
            })
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

/// The range of a logarithmic loss axis over losses in [low, high], if it is one: when every
/// loss is > 0 and the largest is more than [`LOG_SCALE_RATIO`] times the smallest, low / 1.2 to
/// high · 1.2 (at most `f64::MAX`). Plotters' log ticks never end when the range's ratio is not
/// finite (1e-308 to 1e308, or a subnormal bottom): the axis is then linear.
fn log_range((low, high): (f64, f64)) -> Option<std::ops::Range<f64>> {
    if !(low > 0.0 && high / low > LOG_SCALE_RATIO) {
        return None;
    }
    let range = low / 1.2..(high * 1.2).min(f64::MAX);
    (range.end / range.start).is_finite().then_some(range)
}

/// The mean of each point's value and the `window` − 1 before it (fewer at the start).
///
/// There is no running sum, which a huge loss would overflow or, once it left the window,
/// leave cancelled to nothing: each window is a suffix of one block of `window` points plus a
/// prefix of the next, both summed afresh, over values divided by a power of two ≥ 2·`window`
/// (exactly, but for subnormal ones) so that no window's sum overflows.
fn trailing_mean(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    let unit = (2 * window).next_power_of_two() as f64;
    let values: Vec<f64> = points.iter().map(|p| p.1 / unit).collect();
    // prefix[i]: the sum from the start of i's block to i; suffix[i]: from i to its block's end.
    let mut prefix = values.clone();
    for i in 1..values.len() {
        if i % window != 0 {
            prefix[i] += prefix[i - 1];
        }
    }
    let mut suffix = values;
    for i in (0..suffix.len().saturating_sub(1)).rev() {
        if (i + 1) % window != 0 {
            suffix[i] += suffix[i + 1];
        }
    }
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, _))| {
            let start = (i + 1).saturating_sub(window);
            let sum = match start % window {
                0 => prefix[i],
                _ => suffix[start] + prefix[i],
            };
            (x, sum / (i + 1 - start) as f64 * unit)
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
    fn a_huge_loss_neither_overflows_the_mean_nor_cancels_the_ones_after_it() {
        let means = |losses: &[f64], window: usize| -> Vec<f64> {
            let points: Vec<(f64, f64)> =
                losses.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
            trailing_mean(&points, window).iter().map(|p| p.1).collect()
        };
        // A running sum gave inf (1.7e308 + 1.7e308) and then 0 or NaN for the ones.
        let huge = [1.7e308, 1.7e308, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(means(&huge, 2), vec![1.7e308, 1.7e308, 8.5e307, 1.0, 1.0, 1.0]);
        // A running sum gave 0 once 1e20 left the window: 1e20 + 1 + 1 − 1e20.
        let spike = [1e20, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(means(&spike, 3)[3..], [1.0, 1.0, 1.0, 1.0]);
        let plain: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(means(&plain, 3), vec![0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    }

    #[test]
    fn log_axes_are_only_drawn_over_a_finite_ratio() {
        assert_eq!(log_range((2.0, 1000.0)).map(|r| r.end), Some(1200.0));
        assert_eq!(log_range((2.0, 50.0)), None, "a ratio of 25 stays linear");
        assert_eq!(log_range((-1.0, 1000.0)), None, "a loss ≤ 0 stays linear");
        // The top is at most f64::MAX ...
        assert_eq!(log_range((1e300, 1.7e308)).map(|r| r.end), Some(f64::MAX));
        // ... and a ratio that overflows (plotters' log ticks never ended) keeps it linear.
        assert_eq!(log_range((1.0, 1.7e308)), None);
        assert_eq!(log_range((5e-324, 1.0)), None);
        assert_eq!(log_range((1e-308, 1e308)), None);
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
