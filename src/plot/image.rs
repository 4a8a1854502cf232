//! Small RGB images made from numbers, drawn as blocks of pixels: the class templates, the
//! samples of the report, and the cells of heat maps.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::canvas::{DrawResult, encode_png};
use super::colormap::Colormap;
use crate::data::ImageShape;

/// An RGB image held in memory, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `width`·`height` pixels, row by row from the top left.
    pub pixels: Vec<RGBColor>,
}

impl RgbImage {
    /// An image of `rows`×`columns` cells coloured by `color(row, column)`.
    pub fn from_fn(rows: usize, columns: usize, color: impl Fn(usize, usize) -> RGBColor) -> Self {
        let pixels = (0..rows * columns).map(|i| color(i / columns, i % columns)).collect();
        RgbImage { width: columns, height: rows, pixels }
    }

    /// The image of a sample whose features are channel-major (C×H×W), each value mapped
    /// linearly from [`low`, `high`] to 0–255 (and clamped): an RGB image for 3 channels, a
    /// grey one for 1, the mean of the channels in grey for other counts. This is CS231n's
    /// `255 · (w − min) / (max − min)` when [low, high] is the values' range.
    ///
    /// `values` must hold C·H·W numbers. The arithmetic is on halves, so that values spanning
    /// more than `f64::MAX` (weights of −1e308 and 1e308) are not all mapped to 0 through an
    /// infinite span.
    pub fn rescaled(values: &[f64], shape: ImageShape, (low, high): (f64, f64)) -> Self {
        let half_span = if high > low { high / 2.0 - low / 2.0 } else { 0.5 };
        let level = |value: f64| {
            let t = (value / 2.0 - low / 2.0) / half_span;
            (255.0 * t).round().clamp(0.0, 255.0) as u8
        };
        let plane = shape.height * shape.width;
        Self::from_fn(shape.height, shape.width, |row, column| {
            let pixel = row * shape.width + column;
            let channel = |c: usize| values[c * plane + pixel];
            if shape.channels == 3 {
                RGBColor(level(channel(0)), level(channel(1)), level(channel(2)))
            } else {
                let grey = level(channel_mean(values, shape, pixel));
                RGBColor(grey, grey, grey)
            }
        })
    }

    /// The image of channel-major values through a diverging `colormap` centred on zero: each
    /// pixel is the mean of its channels on [−`max_abs`, `max_abs`].
    pub fn signed(values: &[f64], shape: ImageShape, colormap: Colormap, max_abs: f64) -> Self {
        Self::from_fn(shape.height, shape.width, |row, column| {
            colormap.signed(channel_mean(values, shape, row * shape.width + column), max_abs)
        })
    }

    /// The colour at (`row`, `column`).
    pub fn pixel(&self, row: usize, column: usize) -> RGBColor {
        self.pixels[row * self.width + column]
    }

    /// The image as a PNG file, each pixel a `scale`×`scale` block (nearest-neighbour).
    pub fn to_png(&self, scale: usize) -> Result<Vec<u8>, String> {
        let (width, height) = (self.width * scale, self.height * scale);
        let mut rgb = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                let RGBColor(r, g, b) = self.pixel(y / scale, x / scale);
                rgb.extend([r, g, b]);
            }
        }
        let side = |n: usize| u32::try_from(n).map_err(|_| format!("an image {n} pixels wide"));
        encode_png(side(width)?, side(height)?, &rgb)
    }

    /// Draws the image with its top-left corner at `origin`, each pixel a `cell` (width,
    /// height) block.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        (x, y): (i32, i32),
        (cell_width, cell_height): (u32, u32),
    ) -> DrawResult<DB> {
        let (cell_width, cell_height) = (cell_width as i32, cell_height as i32);
        for row in 0..self.height {
            for column in 0..self.width {
                let left = x + column as i32 * cell_width;
                let top = y + row as i32 * cell_height;
                area.draw(&Rectangle::new(
                    [(left, top), (left + cell_width, top + cell_height)],
                    self.pixel(row, column).filled(),
                ))?;
            }
        }
        Ok(())
    }
}

/// The mean over the channels of one pixel of channel-major values.
fn channel_mean(values: &[f64], shape: ImageShape, pixel: usize) -> f64 {
    let plane = shape.height * shape.width;
    // Each value is divided before the sum, which then cannot overflow (1.7e308 twice).
    let n = shape.channels as f64;
    (0..shape.channels).map(|c| values[c * plane + pixel] / n).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_major_values_become_rgb_pixels() {
        // 3 channels of 1×2: red plane [0, 10], green [5, 5], blue [10, 0], over [0, 10].
        let shape = ImageShape { channels: 3, height: 1, width: 2 };
        let image = RgbImage::rescaled(&[0.0, 10.0, 5.0, 5.0, 10.0, 0.0], shape, (0.0, 10.0));
        assert_eq!(image.pixels, vec![RGBColor(0, 128, 255), RGBColor(255, 128, 0)]);
    }

    #[test]
    fn grey_images_and_other_channel_counts_are_grey() {
        let grey = ImageShape { channels: 1, height: 2, width: 1 };
        let image = RgbImage::rescaled(&[-1.0, 3.0], grey, (-1.0, 3.0));
        assert_eq!(image.pixels, vec![RGBColor(0, 0, 0), RGBColor(255, 255, 255)]);
        let two = ImageShape { channels: 2, height: 1, width: 1 };
        let image = RgbImage::rescaled(&[0.0, 2.0], two, (0.0, 2.0));
        assert_eq!(image.pixels, vec![RGBColor(128, 128, 128)]);
    }

    #[test]
    fn values_spanning_more_than_the_largest_float_keep_their_levels() {
        let grey = ImageShape { channels: 1, height: 3, width: 1 };
        let values = [-f64::MAX, 0.0, f64::MAX];
        let image = RgbImage::rescaled(&values, grey, (-f64::MAX, f64::MAX));
        let levels: Vec<u8> = image.pixels.iter().map(|p| p.0).collect();
        assert_eq!(levels, vec![0, 128, 255]);
        // The mean of two channels at the largest float is that float, not an overflow.
        let two = ImageShape { channels: 2, height: 1, width: 1 };
        let mean = channel_mean(&[1.7e308, 1.7e308], two, 0);
        assert_eq!(mean, 1.7e308);
    }

    #[test]
    fn upscaled_png_repeats_each_pixel() {
        let image = RgbImage::from_fn(1, 2, |_, column| RGBColor(column as u8 * 200, 0, 0));
        let png = image.to_png(3).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (6, 3));
        let reds: Vec<u8> = pixels[..6 * 3].chunks(3).map(|p| p[0]).collect();
        assert_eq!(reds, vec![0, 0, 0, 200, 200, 200]);
    }
}
