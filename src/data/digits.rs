//! scikit-learn's 8×8 digits, compiled into the library: `data/digits/digits.csv.gz` from the
//! scikit-learn 1.9.1 wheel (BSD-3-Clause; the data is the test set of the UCI *Optical
//! Recognition of Handwritten Digits* set; see `data/digits/README.md`).
//!
//! 1,797 headerless CSV rows: 64 pixel values (0–16, the image row by row) then the label
//! (0–9). The test set is a stratified 20% drawn with a fixed seed, so it is the same whatever
//! [`LoadOptions::seed`] is; the validation set is then held out of the rest as for any source.
//! Sample weights ([`LoadOptions::sample_weights`]) are one per row of the file, all 1,797.

use std::path::Path;

use super::csv::{self, LabelColumn};
use super::{ImageShape, LoadOptions, Splits, files, stratified_split, weights};
use crate::Result;

/// The gzipped CSV, as shipped by scikit-learn.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits/digits.csv.gz");
/// How the embedded file is named in errors (which would mean a corrupt build).
const NAME: &str = "data/digits/digits.csv.gz (embedded)";
/// The image of a sample: one channel of 8×8.
const IMAGE_SHAPE: ImageShape = ImageShape { channels: 1, height: 8, width: 8 };
/// The fraction of each class in the test set.
const TEST_FRACTION: f64 = 0.2;
/// Seeds the test split; fixed, so that the test set never changes.
const TEST_SEED: u64 = 1797;

pub(super) fn load(options: &LoadOptions) -> Result<Splits> {
    let path = Path::new(NAME);
    let text = files::gunzip_if_compressed(path, DIGITS_CSV_GZ.to_vec())?;
    let mut digits = csv::read_dataset(path, &text, LabelColumn::Last, None)?;
    digits.image_shape = Some(IMAGE_SHAPE);
    let source = "scikit-learn digits (embedded)";
    // Weights are given for the 1,797 rows as shipped; the test split carries its rows' weights.
    let digits = weights::attach(digits, options, source)?;
    let (train, test) = stratified_split(digits, TEST_FRACTION, TEST_SEED);
    let test_origin = format!("stratified {TEST_FRACTION}, fixed seed {TEST_SEED}");
    Ok(Splits::holding_out(source, train, Some(test), &test_origin, options))
}
