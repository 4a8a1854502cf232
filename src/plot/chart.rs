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

/// The largest magnitude of a linear axis's ends. Plotters computes an axis's ticks from its
/// width, and its tick loop never ends when that width is not finite (an axis over −1e308..1e308,
/// or one whose padding overflows); ends within ±`f64::MAX` / 8 keep the width finite.
pub(crate) const AXIS_LIMIT: f64 = f64::MAX / 8.0;

/// The range [low, high] padded by `fraction` of its span on both sides (by 0.5 when it is a
/// single value), for a linear axis: its ends are clamped within ±[`AXIS_LIMIT`], so its width is
/// finite (values beyond that limit must be scaled down to fit). No values (low > high, as
/// [`extent`] gives for none) or a NaN give 0..1.
pub(crate) fn padded((low, high): (f64, f64), fraction: f64) -> std::ops::Range<f64> {
    if low.is_nan() || high.is_nan() || low > high {
        return 0.0..1.0;
    }
    let clamp = |value: f64| value.clamp(-AXIS_LIMIT, AXIS_LIMIT);
    let (low, high) = (clamp(low), clamp(high));
    let pad = if high > low { (high - low) * fraction } else { 0.5 };
    clamp(low - pad)..clamp(high + pad)
}

/// The smallest and largest of `values` (∞, −∞ for none).
pub(crate) fn extent(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_ranges_are_finite_with_a_finite_width() {
        assert_eq!(padded((0.0, 10.0), 0.05), -0.5..10.5);
        assert_eq!(padded((3.0, 3.0), 0.05), 2.5..3.5);
        assert_eq!(padded((f64::INFINITY, f64::NEG_INFINITY), 0.05), 0.0..1.0);
        assert_eq!(padded((f64::NAN, 1.0), 0.05), 0.0..1.0);
        let extremes = [
            (-f64::MAX, f64::MAX),
            (-1e308, 1e308),
            (1.0, 1.7e308),
            (-f64::MAX, -f64::MAX),
            (f64::NEG_INFINITY, f64::INFINITY),
            (0.0, AXIS_LIMIT),
        ];
        for (low, high) in extremes {
            let range = padded((low, high), 0.15);
            assert!(range.start <= range.end, "{low}, {high}: {range:?}");
            assert!((range.end - range.start).is_finite(), "{low}, {high}: {range:?}");
        }
        // Within the limit, the range holds the values.
        let range = padded((-AXIS_LIMIT, AXIS_LIMIT), 0.05);
        assert_eq!(range, -AXIS_LIMIT..AXIS_LIMIT);
    }
}
