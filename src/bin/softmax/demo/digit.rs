//! The draw-a-digit page's model and endpoints: `/api/model` (the classes, the templates) and
//! `/api/predict` (a drawing's probabilities and the map of w_j ⊙ x′ for its top class).
//!
//! A drawing reaches the model as its training images did:
//! - **8×8** (scikit-learn's digits, from UCI's *optdigits*): the digit scaled to fit a 32×32
//!   bitmap, each pixel on or off, then the number of on pixels in each 4×4 block (0–16).
//! - **28×28** (MNIST, Fashion-MNIST): the digit scaled to fit a 20×20 box with its grey
//!   levels kept, then placed in the 28×28 image so that its centre of mass is at the centre
//!   (pixels 0–255).
//! - **any other single-channel H×W**: the digit scaled to fit the image (pixels 0–255).
//!
//! Then the model's own preprocessing and scores: [`Model::predict_probabilities`].

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use ndarray::{Array2, Axis};
use serde::Deserialize;
use serde_json::{Value, json};
use softmax::data::{DataSpec, LoadOptions};
use softmax::fit::{FitOptions, fit};
use softmax::model::Model;

use super::classifier::rows;
use super::request::{self, ApiError};

/// The most pixels a drawing may have (256×256).
pub const MAX_PIXELS: usize = 65_536;

/// The model behind the page, and how a drawing becomes its input.
pub struct DigitModel {
    model: Model,
    /// Where the model came from, for the page.
    description: String,
    /// `None`: the model's inputs are not single-channel images, and nothing can be drawn.
    geometry: Option<Geometry>,
}

/// The shape and pixel range of the model's images, and the convention that made them.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Geometry {
    height: usize,
    width: usize,
    convention: Convention,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Convention {
    /// UCI optdigits: on/off pixels of a 32×32 bitmap counted in 4×4 blocks.
    Optdigits,
    /// MNIST: a 20×20 box centred by its centre of mass in 28×28.
    Mnist,
    /// Scaled to fit the image.
    Fit,
}

impl Convention {
    fn name(self) -> &'static str {
        match self {
            Convention::Optdigits => "optdigits",
            Convention::Mnist => "mnist",
            Convention::Fit => "fit",
        }
    }

    /// The largest pixel value of the training images.
    fn pixel_max(self) -> f64 {
        match self {
            Convention::Optdigits => 16.0,
            Convention::Mnist | Convention::Fit => 255.0,
        }
    }
}

impl Geometry {
    /// The geometry of a model's images, if they have one channel.
    fn of(model: &Model) -> Option<Geometry> {
        let shape = model.image_shape().filter(|shape| shape.channels == 1)?;
        let convention = match (shape.height, shape.width) {
            (8, 8) => Convention::Optdigits,
            (28, 28) => Convention::Mnist,
            _ => Convention::Fit,
        };
        Some(Geometry { height: shape.height, width: shape.width, convention })
    }
}

impl DigitModel {
    /// The model saved at `path`, or else one trained now on the embedded digits (default
    /// options: L-BFGS, `scale` preprocessing).
    pub fn load_or_train(path: Option<&Path>) -> Result<DigitModel> {
        let (model, description) = match path {
            Some(path) => (Model::load(path)?, format!("loaded from {}", path.display())),
            None => train_on_digits()?,
        };
        let geometry = Geometry::of(&model);
        Ok(DigitModel { model, description, geometry })
    }

    /// Where the model came from.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// `GET /api/model`: the classes, the image geometry and the templates (W's rows).
    pub fn info(&self) -> Value {
        let image = self.geometry.map(|g| {
            json!({
                "height": g.height,
                "width": g.width,
                "pixel_max": g.convention.pixel_max(),
                "convention": g.convention.name(),
            })
        });
        json!({
            "description": self.description,
            "class_names": self.model.class_names(),
            "image": image,
            "preprocess": self.model.preprocessor().kind.name(),
            "templates": rows(self.model.weight().view()),
            "bias": self.model.bias().to_vec(),
        })
    }

    /// `POST /api/predict`: a drawing's input, probabilities and the top class's map.
    pub fn predict(&self, body: &[u8]) -> Result<Value, ApiError> {
        let geometry = self.geometry.ok_or_else(|| {
            ApiError::bad_request(
                "this model's inputs are not single-channel images: nothing to draw",
            )
        })?;
        let drawing: Drawing = request::parse(body)?;
        let ink = drawing.check()?;
        let raw = model_input(&ink, drawing.width, drawing.height, geometry);
        let raw = Array2::from_shape_vec((1, raw.len()), raw).expect("one row of D pixels");
        let scores = self.model.scores(raw.view())?;
        let probabilities = self.model.predict_probabilities(raw.view())?;
        let top = softmax::model::argmax_rows(scores.view())[0];
        let transformed = self.model.preprocessor().transform_with_bias::<f64>(raw.view());
        let features = transformed.index_axis(Axis(0), 0);
        let contributions: Vec<f64> =
            self.model.weight().row(top).iter().zip(features).map(|(w, x)| w * x).collect();
        Ok(json!({
            "input": raw.row(0).to_vec(),
            "scores": scores.row(0).to_vec(),
            "probabilities": probabilities.row(0).to_vec(),
            "predicted": top,
            "contributions": contributions,
            "bias": self.model.bias()[top],
        }))
    }
}

/// Trains the default model on the embedded digits; says how long it took and how it scores.
fn train_on_digits() -> Result<(Model, String)> {
    let started = Instant::now();
    let splits = softmax::data::load(&DataSpec::Digits, &LoadOptions::default())?;
    let options = FitOptions::default().check()?;
    let fitted = fit(splits.train, splits.validation, &options, &mut |_| ControlFlow::Continue(()))
        .context("training on the embedded digits")?;
    let test = splits.test.as_ref().context("the digits have a test split")?;
    let predicted = fitted.model.predict(test.inputs.view())?;
    let accuracy = softmax::metrics::accuracy(&predicted, &test.labels);
    let description = format!(
        "trained at start-up on the embedded 8×8 digits in {:.2} s ({} L-BFGS iterations), test accuracy {accuracy:.4}",
        started.elapsed().as_secs_f64(),
        fitted.iterations
    );
    Ok((fitted.model, description))
}

/// A drawing: `width`×`height` ink values (0 = none, 255 = full), row by row.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Drawing {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Drawing {
    /// The ink as fractions 0–1, once the size is within limits and matches the pixels.
    fn check(&self) -> Result<Vec<f64>, ApiError> {
        request::between_one_and("width", self.width, MAX_PIXELS)?;
        request::between_one_and("height", self.height, MAX_PIXELS)?;
        request::at_most("width × height", self.width.saturating_mul(self.height), MAX_PIXELS)?;
        if self.pixels.len() != self.width * self.height {
            return Err(ApiError::bad_request(format!(
                "pixels: {} values for {}×{}",
                self.pixels.len(),
                self.width,
                self.height
            )));
        }
        Ok(self.pixels.iter().map(|&p| f64::from(p) / 255.0).collect())
    }
}

/// A rectangle of the drawing, in pixels (it may reach outside the drawing, which is blank).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

/// The drawing (`ink`, `width`×`height`, 0–1) as the model's raw input (see the module doc).
fn model_input(ink: &[f64], width: usize, height: usize, geometry: Geometry) -> Vec<f32> {
    let (out_h, out_w) = (geometry.height, geometry.width);
    let Some(bounds) = ink_bounds(ink, width, height) else {
        return vec![0.0; out_h * out_w];
    };
    let values: Vec<f64> = match geometry.convention {
        Convention::Optdigits => {
            let bitmap = resample(ink, width, fitted(bounds, 1.0), 32, 32);
            (0..64)
                .map(|cell| {
                    let (row, column) = (cell / 8, cell % 8);
                    let block = (0..16).map(|k| (4 * row + k / 4) * 32 + 4 * column + k % 4);
                    block.filter(|&p| bitmap[p] >= 0.5).count() as f64
                })
                .collect()
        }
        Convention::Mnist => {
            let digit = resample(ink, width, fitted(bounds, 1.0), 20, 20);
            centred_by_mass(&digit, 20, 28).into_iter().map(|v| 255.0 * v).collect()
        }
        Convention::Fit => {
            let aspect = out_h as f64 / out_w as f64;
            let values = resample(ink, width, fitted(bounds, aspect), out_w, out_h);
            values.into_iter().map(|v| 255.0 * v).collect()
        }
    };
    values.into_iter().map(|v| v as f32).collect()
}

/// The smallest rectangle of whole pixels holding every pixel with ink; `None` if blank.
fn ink_bounds(ink: &[f64], width: usize, height: usize) -> Option<Rect> {
    let inked = || (0..width * height).filter(|&p| ink[p] > 0.0);
    let (left, right) = (inked().map(|p| p % width).min()?, inked().map(|p| p % width).max()?);
    let (top, bottom) = (inked().map(|p| p / width).min()?, inked().map(|p| p / width).max()?);
    Some(Rect {
        x: left as f64,
        y: top as f64,
        width: (right - left + 1) as f64,
        height: (bottom - top + 1) as f64,
    })
}

/// The smallest rectangle with `height / width = aspect` that holds `bounds`, centred on it.
fn fitted(bounds: Rect, aspect: f64) -> Rect {
    let width = bounds.width.max(bounds.height / aspect);
    let height = width * aspect;
    Rect {
        x: bounds.x + (bounds.width - width) / 2.0,
        y: bounds.y + (bounds.height - height) / 2.0,
        width,
        height,
    }
}

/// The mean ink over each of `out_w`×`out_h` equal cells of `area` (box filter: each output
/// pixel averages the input pixels it covers, weighted by how much of each it covers).
fn resample(ink: &[f64], width: usize, area: Rect, out_w: usize, out_h: usize) -> Vec<f64> {
    let height = ink.len() / width;
    let columns = cover(area.x, area.width, out_w, width);
    let rows = cover(area.y, area.height, out_h, height);
    let mut out = Vec::with_capacity(out_w * out_h);
    for row in &rows {
        for column in &columns {
            let mut sum = 0.0;
            for &(r, wy) in row {
                for &(c, wx) in column {
                    sum += wy * wx * ink[r * width + c];
                }
            }
            out.push(sum);
        }
    }
    out
}

/// For each of `cells` equal parts of `[start, start + length)`: the input pixels (in
/// `0..limit`) it overlaps, each with the fraction of the part it covers.
fn cover(start: f64, length: f64, cells: usize, limit: usize) -> Vec<Vec<(usize, f64)>> {
    let step = length / cells as f64;
    (0..cells)
        .map(|k| {
            let (low, high) = (start + k as f64 * step, start + (k + 1) as f64 * step);
            let first = low.floor().max(0.0) as usize;
            let last = (high.ceil().max(0.0) as usize).min(limit);
            (first..last)
                .map(|p| (p, ((high.min(p as f64 + 1.0) - low.max(p as f64)) / step).max(0.0)))
                .filter(|&(_, weight)| weight > 0.0)
                .collect()
        })
        .collect()
}

/// A `side`×`side` patch placed in an `out`×`out` image so that its centre of mass falls on
/// the image's centre (to the nearest pixel); what would fall outside is cut off.
fn centred_by_mass(patch: &[f64], side: usize, out: usize) -> Vec<f64> {
    let mut image = vec![0.0; out * out];
    let mass: f64 = patch.iter().sum();
    if mass <= 0.0 {
        return image;
    }
    let (mut row_moment, mut column_moment) = (0.0, 0.0);
    for (p, &v) in patch.iter().enumerate() {
        row_moment += v * ((p / side) as f64 + 0.5);
        column_moment += v * ((p % side) as f64 + 0.5);
    }
    let shift = |moment: f64| (out as f64 / 2.0 - moment / mass).round() as isize;
    let (shift_y, shift_x) = (shift(row_moment), shift(column_moment));
    for (p, &v) in patch.iter().enumerate() {
        let (y, x) = ((p / side) as isize + shift_y, (p % side) as isize + shift_x);
        if (0..out as isize).contains(&y) && (0..out as isize).contains(&x) {
            image[y as usize * out + x as usize] = v;
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTDIGITS: Geometry = Geometry { height: 8, width: 8, convention: Convention::Optdigits };
    const MNIST: Geometry = Geometry { height: 28, width: 28, convention: Convention::Mnist };

    #[test]
    fn resampling_averages_the_pixels_each_cell_covers() {
        let ink = [1.0, 0.0, 0.5, 0.5, 0.0, 0.0, 1.0, 1.0, 0.2, 0.2, 0.0, 0.0, 0.2, 0.2, 0.0, 0.0];
        let whole = Rect { x: 0.0, y: 0.0, width: 4.0, height: 4.0 };
        assert_eq!(resample(&ink, 4, whole, 4, 4), ink.to_vec());
        assert_eq!(resample(&ink, 4, whole, 2, 2), vec![0.25, 0.75, 0.2, 0.0]);
        // Half a pixel outside the drawing counts as blank.
        let shifted = Rect { x: -2.0, y: 0.0, width: 4.0, height: 4.0 };
        assert_eq!(resample(&ink, 4, shifted, 2, 2), vec![0.0, 0.25, 0.0, 0.2]);
    }

    #[test]
    fn the_ink_is_fitted_keeping_its_aspect() {
        let mut ink = vec![0.0; 100];
        ink[2 * 10 + 3] = 1.0; // (row 2, column 3)
        ink[7 * 10 + 4] = 1.0; // (row 7, column 4)
        let bounds = ink_bounds(&ink, 10, 10).unwrap();
        assert_eq!(bounds, Rect { x: 3.0, y: 2.0, width: 2.0, height: 6.0 });
        assert_eq!(fitted(bounds, 1.0), Rect { x: 1.0, y: 2.0, width: 6.0, height: 6.0 });
        assert_eq!(ink_bounds(&[0.0; 4], 2, 2), None);
    }

    #[test]
    fn optdigits_counts_the_on_pixels_of_4x4_blocks() {
        assert_eq!(model_input(&[0.0; 64 * 64], 64, 64, OPTDIGITS), vec![0.0; 64]);
        assert_eq!(model_input(&[1.0; 64 * 64], 64, 64, OPTDIGITS), vec![16.0; 64]);
        // A bar 16 wide in a 64-high drawing: fitted into 32×32 it is 8 wide, centred: on in
        // columns 12..20, so block columns 3 and 4 count 16 each (every block row).
        let ink: Vec<f64> =
            (0..64 * 64).map(|p| if (24..40).contains(&(p % 64)) { 1.0 } else { 0.0 }).collect();
        let input = model_input(&ink, 64, 64, OPTDIGITS);
        for (cell, &value) in input.iter().enumerate() {
            let expected = if [3, 4].contains(&(cell % 8)) { 16.0 } else { 0.0 };
            assert_eq!(value, expected, "cell {cell}");
        }
    }

    #[test]
    fn mnist_fits_20x20_and_centres_the_mass() {
        // A full square: scaled to 20×20 of 255, at rows and columns 4..24.
        let input = model_input(&[1.0; 50 * 50], 50, 50, MNIST);
        for (p, &value) in input.iter().enumerate() {
            let inside = (4..24).contains(&(p / 28)) && (4..24).contains(&(p % 28));
            assert_eq!(value, if inside { 255.0 } else { 0.0 }, "pixel {p}");
        }
        // An L: more mass at the bottom-left; its centre of mass lands on (14, 14).
        let ink: Vec<f64> =
            (0..40 * 40).map(|p| if p % 40 < 8 || p / 40 >= 32 { 1.0 } else { 0.0 }).collect();
        let input = model_input(&ink, 40, 40, MNIST);
        let mass: f64 = input.iter().map(|&v| f64::from(v)).sum();
        let centre = |axis: fn(usize) -> usize| {
            input
                .iter()
                .enumerate()
                .map(|(p, &v)| f64::from(v) * (axis(p) as f64 + 0.5))
                .sum::<f64>()
                / mass
        };
        assert!((centre(|p| p / 28) - 14.0).abs() <= 0.5);
        assert!((centre(|p| p % 28) - 14.0).abs() <= 0.5);
        assert_eq!(input.len(), 784);
    }

    #[test]
    fn drawn_test_digits_are_recognized_and_the_numbers_add_up() {
        let digits = DigitModel::load_or_train(None).unwrap();
        assert_eq!(digits.geometry, Some(OPTDIGITS));
        assert!(digits.description().contains("test accuracy"));
        let info = digits.info();
        assert_eq!(info["templates"].as_array().unwrap().len(), 10);
        assert_eq!(info["image"]["pixel_max"], 16.0);

        // The test images, drawn as 64×64 pictures (ink = pixel / 16), go through the drawing's
        // path: fitted to their ink, thresholded, counted. Most are still recognized.
        let splits = softmax::data::load(&DataSpec::Digits, &LoadOptions::default()).unwrap();
        let test = splits.test.unwrap();
        let mut correct = 0;
        for (image, &label) in test.inputs.rows().into_iter().zip(&test.labels) {
            let pixels: Vec<u8> = (0..64 * 64)
                .map(|p| (image[(p / 64 / 8) * 8 + (p % 64) / 8] / 16.0 * 255.0).round() as u8)
                .collect();
            let body = json!({"width": 64, "height": 64, "pixels": pixels}).to_string();
            let out = digits.predict(body.as_bytes()).unwrap();
            let predicted = out["predicted"].as_u64().unwrap() as usize;
            correct += usize::from(predicted == label);

            let probabilities: Vec<f64> =
                serde_json::from_value(out["probabilities"].clone()).unwrap();
            assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let top = probabilities.iter().cloned().fold(0.0, f64::max);
            assert_eq!(probabilities[predicted], top);
            let contributions: Vec<f64> =
                serde_json::from_value(out["contributions"].clone()).unwrap();
            let score = out["scores"][predicted].as_f64().unwrap();
            let sum = contributions.iter().sum::<f64>() + out["bias"].as_f64().unwrap();
            assert!((sum - score).abs() < 1e-9, "{sum} vs {score}");
        }
        let accuracy = correct as f64 / test.labels.len() as f64;
        assert!(accuracy > 0.85, "accuracy of drawn test digits: {accuracy}");
    }

    #[test]
    fn bad_drawings_are_400s() {
        let digits = DigitModel::load_or_train(None).unwrap();
        for (body, needle) in [
            (json!({"width": 2, "height": 2, "pixels": [0, 0, 0]}), "3 values for 2×2"),
            (json!({"width": 0, "height": 2, "pixels": []}), "width must be at least 1"),
            (json!({"width": 2, "height": 2, "pixels": [0, 0, 0, 256]}), "malformed"),
            (json!({"width": 2, "height": 2, "pixels": [0, 0, 0, -1]}), "malformed"),
            (json!({"width": 300, "height": 300, "pixels": []}), "more than the limit"),
        ] {
            let err = digits.predict(body.to_string().as_bytes()).unwrap_err();
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
    }
}
