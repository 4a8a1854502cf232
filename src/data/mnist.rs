//! MNIST (LeCun, Cortes & Burges) and Fashion-MNIST (Xiao, Rasul & Vollgraf), in their released
//! IDX files: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte`, each plain or gzipped (`.gz`).
//!
//! IDX is big-endian. An image file is a header of four u32 — the magic number
//! [`IMAGE_MAGIC`] (2051: unsigned bytes, 3 dimensions), the count n, rows, columns — then
//! n·rows·columns pixel bytes (0–255, row by row). A label file is the magic [`LABEL_MAGIC`]
//! (2049: unsigned bytes, 1 dimension) and n, then n label bytes (0–9).

use std::path::Path;

use ndarray::Array2;

use super::files::{self, count_records, grouped};
use super::{Dataset, ImageShape, LoadOptions, Splits, weights};
use crate::{Error, Result};

/// The magic number of an IDX file of unsigned-byte images (type 0x08, 3 dimensions).
const IMAGE_MAGIC: u32 = 2051;
/// The magic number of an IDX file of unsigned-byte labels (type 0x08, 1 dimension).
const LABEL_MAGIC: u32 = 2049;
/// MNIST's and Fashion-MNIST's classes: labels 0..9, named by their digit.
const N_CLASSES: usize = 10;

/// The training and test files, under their released names.
const TRAIN: (&str, &str) = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
const TEST: (&str, &str) = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

/// Train (less the validation set) and validation from the training files, test = t10k.
pub(super) fn load(dir: &Path, options: &LoadOptions) -> Result<Splits> {
    files::require_dir(dir)?;
    let train = read_pair(dir, TRAIN, None)?;
    let test = read_pair(dir, TEST, train.image_shape)?;
    let source = format!("MNIST-format images from {}", dir.display());
    let train = weights::attach(train, options, &source)?;
    Ok(Splits::holding_out(&source, train, Some(test), "t10k", options))
}

/// One images file and its labels file; the images must be `expected_shape` when given.
fn read_pair(
    dir: &Path,
    (images_name, labels_name): (&str, &str),
    expected_shape: Option<ImageShape>,
) -> Result<Dataset> {
    let images_path = files::find(dir, images_name)?;
    let labels_path = files::find(dir, labels_name)?;
    let (inputs, image_shape) = read_images(&images_path)?;
    if let Some(expected) = expected_shape.filter(|&expected| expected != image_shape) {
        let message = format!(
            "images are {}×{} but the training images are {}×{}",
            image_shape.height, image_shape.width, expected.height, expected.width
        );
        return Err(Error::file(images_path, message));
    }
    let labels = read_labels(&labels_path)?;
    if labels.len() != inputs.nrows() {
        let message = format!(
            "{} labels for the {} images of {}",
            grouped(labels.len()),
            grouped(inputs.nrows()),
            images_path.display()
        );
        return Err(Error::file(labels_path, message));
    }
    Ok(Dataset {
        inputs,
        labels,
        sample_weights: None,
        class_names: (0..N_CLASSES).map(|digit| digit.to_string()).collect(),
        feature_names: None,
        image_shape: Some(image_shape),
    })
}

/// The images of an IDX image file, one row of pixels (0–255) per image.
fn read_images(path: &Path) -> Result<(Array2<f32>, ImageShape)> {
    let bytes = files::read(path)?;
    let ([count, height, width], pixels) = header(path, &bytes, IMAGE_MAGIC, "image")?;
    let image_bytes = height
        .checked_mul(width)
        .filter(|&size| size > 0)
        .ok_or_else(|| Error::file(path, format!("impossible image size {height}×{width}")))?;
    count_records(path, pixels, image_bytes, Some(count), "image")?;
    let inputs = pixels.iter().map(|&pixel| f32::from(pixel)).collect();
    let inputs = Array2::from_shape_vec((count, image_bytes), inputs)
        .map_err(|e| Error::file(path, format!("images do not fit their shape: {e}")))?;
    Ok((inputs, ImageShape { channels: 1, height, width }))
}

/// The labels of an IDX label file.
fn read_labels(path: &Path) -> Result<Vec<usize>> {
    let bytes = files::read(path)?;
    let ([count], labels) = header(path, &bytes, LABEL_MAGIC, "label")?;
    count_records(path, labels, 1, Some(count), "label")?;
    if let Some(record) = labels.iter().position(|&label| usize::from(label) >= N_CLASSES) {
        let message = format!(
            "label {} at record {record} is out of range: MNIST labels are 0..{}",
            labels[record],
            N_CLASSES - 1
        );
        return Err(Error::file(path, message));
    }
    Ok(labels.iter().map(|&label| usize::from(label)).collect())
}

/// The `DIMS` sizes that follow the magic number in an IDX header (the first the item count,
/// which must not be 0), once the magic is checked, and the bytes after the header.
fn header<'a, const DIMS: usize>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    item: &str,
) -> Result<([usize; DIMS], &'a [u8])> {
    let header_bytes = (1 + DIMS) * 4;
    let Some((header, data)) = bytes.split_at_checked(header_bytes) else {
        let message = format!(
            "file ends inside the IDX header: {} bytes, an IDX {item} header is {header_bytes}",
            bytes.len()
        );
        return Err(Error::file(path, message));
    };
    let word = |i: usize| u32::from_be_bytes([0, 1, 2, 3].map(|k| header[4 * i + k]));
    if word(0) != magic {
        let found = word(0);
        let message = format!(
            "wrong magic number {found} (0x{found:08x}): expected {magic} (0x{magic:08x}), \
             the magic of an IDX {item} file"
        );
        return Err(Error::file(path, message));
    }
    if word(1) == 0 {
        return Err(Error::file(path, format!("the header declares 0 {item}s")));
    }
    Ok((std::array::from_fn(|i| word(1 + i) as usize), data))
}
