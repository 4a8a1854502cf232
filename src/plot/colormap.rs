//! Colormaps (numbers to colours) and the colour bar that explains one.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{DrawResult, format_number, text, text_width};

/// A map from t ∈ [0, 1] to colours: linear in RGB between evenly spaced stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Colormap {
    stops: &'static [(u8, u8, u8)],
}

/// Blue for negative, white for zero, red for positive (ColorBrewer's RdBu, reversed): for
/// weights, whose sign matters. Use it through [`Colormap::signed`].
pub const DIVERGING: Colormap = Colormap {
    stops: &[
        (33, 102, 172),
        (103, 169, 207),
        (209, 229, 240),
        (255, 255, 255),
        (253, 219, 199),
        (239, 138, 98),
        (178, 24, 43),
    ],
};

/// White to dark blue (ColorBrewer's Blues): for counts and fractions.
pub const SEQUENTIAL: Colormap = Colormap {
    stops: &[(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)],
};

/// Dark purple through blue and green to yellow (matplotlib's viridis, at 9 stops): for
/// accuracies, perceptually even and readable in grey.
pub const VIRIDIS: Colormap = Colormap {
    stops: &[
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (40, 174, 128),
        (94, 201, 98),
        (173, 220, 48),
        (253, 231, 37),
    ],
};

/// The colours of the lines of a chart: first series blue, second orange (matplotlib's).
pub(crate) const SERIES: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14)];

impl Colormap {
    /// The colour at t, clamped to [0, 1]; NaN is mid grey.
    pub fn color(&self, t: f64) -> RGBColor {
        if t.is_nan() {
            return RGBColor(128, 128, 128);
        }
        let position = t.clamp(0.0, 1.0) * (self.stops.len() - 1) as f64;
        let below = (position.floor() as usize).min(self.stops.len() - 2);
        let fraction = position - below as f64;
        let (a, b) = (self.stops[below], self.stops[below + 1]);
        let mix =
            |x: u8, y: u8| (f64::from(x) + fraction * (f64::from(y) - f64::from(x))).round() as u8;
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The colour of `value` on the range [low, high] (the middle colour when low = high). The
    /// position is computed on halves, so that a range wider than `f64::MAX` (−1e308 to 1e308)
    /// does not overflow to an infinite width, which would give every value the first colour.
    pub fn scaled(&self, value: f64, (low, high): (f64, f64)) -> RGBColor {
        let t = if high > low { (value / 2.0 - low / 2.0) / (high / 2.0 - low / 2.0) } else { 0.5 };
        self.color(t)
    }

    /// The colour of `value` on [−`max_abs`, `max_abs`]: zero is the middle colour.
    pub fn signed(&self, value: f64, max_abs: f64) -> RGBColor {
        self.scaled(value, (-max_abs, max_abs))
    }
}

/// Black or white, whichever reads better on `background`.
pub(crate) fn text_color_on(background: RGBColor) -> &'static RGBColor {
    let RGBColor(r, g, b) = background;
    let luminance = 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    if luminance < 128.0 { &WHITE } else { &BLACK }
}

/// The size of a colour bar's label, and its distance from the bar.
const LABEL_SIZE: u32 = 14;
const LABEL_GAP: i32 = 12;

/// A horizontal colour bar: `colormap` over `range`, with the range's ends (and middle) written
/// under it and `label` after it.
pub(crate) struct ColorBar {
    pub colormap: Colormap,
    pub range: (f64, f64),
    pub label: &'static str,
}

impl ColorBar {
    /// The bar's height in pixels, numbers included.
    pub const HEIGHT: u32 = 40;
    /// The height of the gradient itself.
    const BAR: i32 = 14;

    /// The width of a bar `width` pixels wide with its label after it.
    pub fn width_with_label(&self, width: u32) -> u32 {
        width + LABEL_GAP as u32 + text_width(self.label, LABEL_SIZE)
    }

    /// Draws the bar with its top-left corner at (`x`, `y`), `width` pixels wide.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
        width: u32,
    ) -> DrawResult<DB> {
        let width = width as i32;
        for column in 0..width {
            let t = (f64::from(column) + 0.5) / f64::from(width);
            let color = self.colormap.color(t);
            area.draw(&Rectangle::new(
                [(x + column, y), (x + column + 1, y + Self::BAR)],
                color.filled(),
            ))?;
        }
        area.draw(&Rectangle::new([(x, y), (x + width, y + Self::BAR)], BLACK.stroke_width(1)))?;
        let (low, high) = self.range;
        let numbers = [
            (low, 0, HPos::Left),
            (low / 2.0 + high / 2.0, width / 2, HPos::Center),
            (high, width, HPos::Right),
        ];
        for (value, offset, h) in numbers {
            let style = text(13).pos(Pos::new(h, VPos::Top));
            area.draw_text(&format_number(value), &style, (x + offset, y + Self::BAR + 4))?;
        }
        let style = text(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw_text(self.label, &style, (x + width + LABEL_GAP, y + Self::BAR / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle_are_the_stops() {
        assert_eq!(DIVERGING.color(0.0), RGBColor(33, 102, 172));
        assert_eq!(DIVERGING.color(0.5), RGBColor(255, 255, 255));
        assert_eq!(DIVERGING.color(1.0), RGBColor(178, 24, 43));
        assert_eq!(DIVERGING.color(7.0), DIVERGING.color(1.0));
        assert_eq!(SEQUENTIAL.color(0.0), RGBColor(247, 251, 255));
        assert_eq!(VIRIDIS.color(1.0), RGBColor(253, 231, 37));
    }

    #[test]
    fn colors_interpolate_between_stops() {
        // Halfway between the first two stops of SEQUENTIAL.
        assert_eq!(SEQUENTIAL.color(0.125), RGBColor(223, 235, 247));
        assert_eq!(DIVERGING.signed(0.0, 3.0), RGBColor(255, 255, 255));
        assert_eq!(DIVERGING.signed(-3.0, 3.0), DIVERGING.color(0.0));
        assert_eq!(VIRIDIS.scaled(0.4, (0.2, 0.6)), VIRIDIS.color(0.5));
        assert_eq!(VIRIDIS.scaled(1.0, (1.0, 1.0)), VIRIDIS.color(0.5));
        assert_eq!(VIRIDIS.color(f64::NAN), RGBColor(128, 128, 128));
    }

    #[test]
    fn ranges_wider_than_the_largest_float_keep_their_colours() {
        let range = (-f64::MAX, f64::MAX);
        assert_eq!(DIVERGING.scaled(f64::MAX, range), DIVERGING.color(1.0));
        assert_eq!(DIVERGING.scaled(0.0, range), DIVERGING.color(0.5));
        assert_eq!(DIVERGING.signed(-1e308, 1e308), DIVERGING.color(0.0));
    }

    #[test]
    fn text_is_white_on_dark_and_black_on_light() {
        assert_eq!(*text_color_on(SEQUENTIAL.color(1.0)), WHITE);
        assert_eq!(*text_color_on(SEQUENTIAL.color(0.0)), BLACK);
        assert_eq!(*text_color_on(VIRIDIS.color(0.0)), WHITE);
        assert_eq!(*text_color_on(VIRIDIS.color(1.0)), BLACK);
    }
}
