//! Charts with axes (the training curves, the tuning map), all with the same fonts, margins and
//! axis styles.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::canvas::{DrawError, DrawResult, text};

/// A chart whose axes are the value ranges X and Y.
pub(crate) type Chart<'a, DB, X, Y> = ChartContext<'a, DB, Cartesian2d<X, Y>>;

/// A chart of value ranges `x` × `y` filling `area`, with `title` above it.
pub(crate) fn build<'a, DB, X, Y>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: X,
    y: Y,
) -> Result<Chart<'a, DB, X::CoordDescType, Y::CoordDescType>, DrawError<DB>>
where
    DB: DrawingBackend,
    X: AsRangedCoord,
    Y: AsRangedCoord,
{
    ChartBuilder::on(area)
        .caption(title, text(16))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)
}

/// How an axis is described: its title and how its tick labels are written.
pub(crate) struct Axis<'a, T> {
    pub title: &'a str,
    pub format: &'a dyn Fn(&T) -> String,
}

/// Draws the axes of `chart` with their ticks, a light grid at the ticks, and their titles.
pub(crate) fn draw_axes<DB, X, Y>(
    chart: &mut Chart<DB, X, Y>,
    x: Axis<X::ValueType>,
    y: Axis<Y::ValueType>,
) -> DrawResult<DB>
where
    DB: DrawingBackend,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    chart
        .configure_mesh()
        .x_desc(x.title)
        .y_desc(y.title)
        .x_label_formatter(x.format)
        .y_label_formatter(y.format)
        .label_style(text(13))
        .axis_desc_style(text(14))
        .light_line_style(TRANSPARENT)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
}

/// Draws the legend of the series that have a label, at `position` in the chart.
pub(crate) fn draw_legend<'a, DB, X, Y>(
    chart: &mut Chart<'a, DB, X, Y>,
    position: SeriesLabelPosition,
) -> DrawResult<DB>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font(text(13))
        .draw()
}

/// The range [low, high] padded by `fraction` of its span on both sides (by 0.5 when it is a
/// single value).
pub(crate) fn padded((low, high): (f64, f64), fraction: f64) -> std::ops::Range<f64> {
    let pad = if high > low { (high - low) * fraction } else { 0.5 };
    (low - pad)..(high + pad)
}

/// The smallest and largest of `values` (∞, −∞ for none).
pub(crate) fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}
