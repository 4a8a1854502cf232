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
use super::records::{self, Records};
use super::rows::Rows;
use super::{Dataset, ImageShape, LoadOptions, Splits};
use crate::{Error, Result};

/// The magic number of an IDX file of unsigned-byte images (type 0x08, 3 dimensions).
const IMAGE_MAGIC: u32 = 2051;
/// The magic number of an IDX file of unsigned-byte labels (type 0x08, 1 dimension).
const LABEL_MAGIC: u32 = 2049;
/// MNIST's and Fashion-MNIST's classes: labels 0..9, named by their digit.
const N_CLASSES: usize = 10;
/// The header of an IDX image file: the magic number and three sizes, u32 each.
const IMAGE_HEADER_BYTES: usize = 16;

/// The training and test files, under their released names.
const TRAIN: (&str, &str) = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
const TEST: (&str, &str) = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

/// Train (less the validation set) and validation from the training files, test = t10k; in a
/// group of processes, only this process's rows of each are read (see [`super::load`]).
pub(super) fn load(dir: &Path, options: &LoadOptions) -> Result<Splits> {
    files::require_dir(dir)?;
    let (train, image_shape) = open_pair(dir, TRAIN, None)?;
    let (test, _) = open_pair(dir, TEST, Some(image_shape))?;
    let source = format!("MNIST-format images from {}", dir.display());
    let train = train.weighted(options, &source)?;
    Splits::holding_out_rows(&source, train, Some(test), "t10k", options)
}

/// One images file and its labels file, the labels read and the images opened; the images
/// must be `expected_shape` when given.
fn open_pair(
    dir: &Path,
    (images_name, labels_name): (&str, &str),
    expected_shape: Option<ImageShape>,
) -> Result<(Rows<'static>, ImageShape)> {
    let images_path = files::find(dir, images_name)?;
    let labels_path = files::find(dir, labels_name)?;
    let (images, image_shape) = open_images(&images_path)?;
    if let Some(expected) = expected_shape.filter(|&expected| expected != image_shape) {
        let message = format!(
            "images are {}×{} but the training images are {}×{}",
            image_shape.height, image_shape.width, expected.height, expected.width
        );
        return Err(Error::file(images_path, message));
    }
    let labels = read_labels(&labels_path)?;
    if labels.len() != images.count() {
        let message = format!(
            "{} labels for the {} images of {}",
            grouped(labels.len()),
            grouped(images.count()),
            images_path.display()
        );
        return Err(Error::file(labels_path, message));
    }
    let meta = Dataset {
        image_shape: Some(image_shape),
        ..Dataset::new(Array2::zeros((labels.len(), 0)), labels, class_names())
    };
    let image_bytes = image_shape.height * image_shape.width;
    let read = move |indices: &[usize]| read_images(&images, image_bytes, indices);
    Ok((Rows::new(meta, Box::new(read)), image_shape))
}

/// MNIST's class names: the digits.
fn class_names() -> Vec<String> {
    (0..N_CLASSES).map(|digit| digit.to_string()).collect()
}

/// The images of an IDX image file as records: by offset when the file is plain and of the
/// length its header declares, else read whole (which names what is wrong with it).
fn open_images(path: &Path) -> Result<(Records, ImageShape)> {
    if let Some((file, head, length)) = records::plain_head(path, IMAGE_HEADER_BYTES)
        && let Ok(([count, height, width], _)) = header(path, &head, IMAGE_MAGIC, "image")
        && let Ok(image_bytes) = image_size(path, height, width)
        && let Some(images) =
            Records::in_file(path, (file, length), IMAGE_HEADER_BYTES, (image_bytes, count))
    {
        return Ok((images, ImageShape { channels: 1, height, width }));
    }
    let bytes = files::read(path)?;
    let ([count, height, width], pixels) = header(path, &bytes, IMAGE_MAGIC, "image")?;
    let image_bytes = image_size(path, height, width)?;
    count_records(path, pixels, image_bytes, Some(count), "image")?;
    let images = Records::in_memory(path, bytes, IMAGE_HEADER_BYTES, (image_bytes, count));
    Ok((images, ImageShape { channels: 1, height, width }))
}

/// The bytes of a `height`×`width` image.
fn image_size(path: &Path, height: usize, width: usize) -> Result<usize> {
    height
        .checked_mul(width)
        .filter(|&size| size > 0)
        .ok_or_else(|| Error::file(path, format!("impossible image size {height}×{width}")))
}

/// The images `indices` (in that order), one row of `image_bytes` pixels (0–255) each.
fn read_images(images: &Records, image_bytes: usize, indices: &[usize]) -> Result<Array2<f32>> {
    let mut inputs = Vec::with_capacity(indices.len() * image_bytes);
    let mut pixels = Vec::new();
    for run in records::runs(indices) {
        pixels.clear();
        images.read_run(run, &mut pixels)?;
        inputs.extend(pixels.iter().map(|&pixel| f32::from(pixel)));
    }
    Array2::from_shape_vec((indices.len(), image_bytes), inputs)
        .map_err(|e| Error::file(images.path(), format!("images do not fit their shape: {e}")))
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
