//! NumPy files: an `.npy` pair (`npy:X.npy,y.npy`) and `.npz` archives (`npz:PATH`).
//!
//! An `.npy` pair is a float32 or float64 N×D matrix and a vector of N integer labels, read by
//! [`crate::npy`]. An `.npz` (a zip of `.npy` files, as `np.savez` writes) holds either arrays
//! `x` (or `X`, `inputs`) and `y` (or `labels`), or Keras' `x_train`, `y_train` and optionally
//! `x_test`, `y_test`. Its inputs may have any integer or float dtype and be N×D, N×H×W images
//! (one channel) or N×H×W×C images (channels last, as Keras stores them; converted to
//! channel-major C×H×W per sample; an N×C×H×W array, recognized by C ∈ {1, 3, 4} in second and
//! not last place, is kept as it is). Labels are integers (or whole floats), shape N or N×1.
//!
//! Values are converted to `f32` and must be finite after the conversion: a float64 beyond
//! float32's range is an error, not an infinity. Classes are named `"0"` to the largest label.

use std::io::Read;
use std::path::Path;

use ndarray::{Array2, ArrayD, ArrayViewD, Axis, IxDyn, ShapeBuilder};
use npyz::npz::NpzArchive;
use npyz::{NpyFile, NpyHeader, Order, TypeChar};
use num_traits::AsPrimitive;

use super::files::grouped;
use super::rows::{ReadInputs, Rows};
use super::{Dataset, ImageShape, LoadOptions, Splits, labels, weights};
use crate::mapped::{Element, MappedMatrix};
use crate::npy::{self, Matrix};
use crate::{Error, Result};

/// Array names for the inputs and labels of an `.npz`, in order of preference.
const INPUT_NAMES: [&str; 3] = ["x", "X", "inputs"];
const LABEL_NAMES: [&str; 2] = ["y", "labels"];
/// Keras' names (`keras.datasets.*.load_data` archives).
const KERAS_TRAIN: (&str, &str) = ("x_train", "y_train");
const KERAS_TEST: (&str, &str) = ("x_test", "y_test");
/// The most a member of an archive may expand: deflate's limit (a 258-byte match coded in 2
/// bits, about 1,032:1). NumPy writes members stored (1:1) or deflated.
const MAX_EXPANSION: u64 = 1032;
/// Channel counts that mark the channel axis of a 4-D image array.
const CHANNEL_COUNTS: [usize; 3] = [1, 3, 4];

/// Evaluates `$then` with `$array` bound to an [`Entry`]'s elements decoded as their own type
/// (an `ArrayD` of u8, …, f64), for every integer and float dtype.
macro_rules! with_elements {
    ($entry:expr, $path:expr, |$array:ident| $then:expr) => {
        with_elements!(@types $entry, $path, $array, $then;
            Uint 1 u8, Uint 2 u16, Uint 4 u32, Uint 8 u64,
            Int 1 i8, Int 2 i16, Int 4 i32, Int 8 i64, Float 4 f32, Float 8 f64)
    };
    (@types $entry:expr, $path:expr, $array:ident, $then:expr;
        $($kind:ident $size:literal $type:ty),+) => {{
        let entry: &Entry = &$entry;
        match (entry.type_char, entry.item_size) {
            $((TypeChar::$kind, $size) => {
                let $array = entry.decode::<$type>($path)?;
                $then
            })+
            _ => Err(entry.error($path, format!(
                "unsupported dtype {}: expected an integer or float type",
                entry.header.dtype().descr()
            ))),
        }
    }};
}

/// Train and validation from an `.npy` matrix and its labels. The matrix is read through its
/// mapping ([`MappedMatrix`]) where it can be mapped, so that only the rows kept are read (in a
/// group of processes, this process's: see [`super::load`]); otherwise it is read whole.
pub(super) fn load_npy(
    inputs_path: &Path,
    labels_path: &Path,
    options: &LoadOptions,
) -> Result<Splits> {
    let (inputs, n_rows): (ReadInputs, usize) = match MappedMatrix::open(inputs_path) {
        Ok(mapped) if mapped.dim().0 > 0 && mapped.dim().1 > 0 => {
            let n_rows = mapped.dim().0;
            (Box::new(move |rows: &[usize]| read_rows(&mapped, rows)), n_rows)
        }
        // Not mappable (Fortran order, big-endian), empty or not readable: read whole, or say why.
        _ => {
            let inputs = read_features(inputs_path)?;
            let n_rows = inputs.nrows();
            (Box::new(move |rows: &[usize]| Ok(inputs.select(Axis(0), rows))), n_rows)
        }
    };
    let labels = npy::read_labels(labels_path)?;
    check_label_count((labels_path, labels.len()), (inputs_path, n_rows))?;
    let class_names = labels::numbered_classes(labels_path, &labels, 0)?;
    let meta = Dataset::new(Array2::zeros((labels.len(), 0)), labels, class_names);
    let source = format!("NumPy {} and {}", inputs_path.display(), labels_path.display());
    let rows = Rows::new(meta, inputs).weighted(options, &source)?;
    Splits::holding_out_rows(&source, rows, None, "", options)
}

/// The rows `rows` of a mapped matrix (in that order) as `f32`, every value finite: float32
/// and float16 exactly, float64 rounded (an error beyond float32's range).
fn read_rows(mapped: &MappedMatrix, rows: &[usize]) -> Result<Array2<f32>> {
    /// Rows converted at a time.
    const CHUNK_ROWS: usize = 1024;
    let n_features = mapped.dim().1;
    let mut values = Vec::with_capacity(rows.len() * n_features);
    let mut buffer = Vec::new();
    for chunk in rows.chunks(CHUNK_ROWS) {
        let read: &[f64] = mapped.gather(chunk, &mut buffer); // exact for every float dtype
        for (&row, read) in chunk.iter().zip(read.chunks_exact(n_features.max(1))) {
            for (feature, &value) in read.iter().enumerate() {
                let converted = value as f32;
                if !converted.is_finite() {
                    let why = not_finite(value);
                    let message = format!("sample {row}, feature {feature}: {why}");
                    return Err(Error::file(mapped.path(), message));
                }
                values.push(converted);
            }
        }
    }
    Ok(Array2::from_shape_vec((rows.len(), n_features), values).expect("whole rows"))
}

/// Why a value read as `original` is not a finite float32.
fn not_finite(original: f64) -> String {
    match original.is_finite() {
        true => format!("{original:e} overflows float32"),
        false => format!("{original} is not finite"),
    }
}

/// Refuses a labels file (`labels_path`, `n_labels` labels) whose count is not the inputs'
/// (`inputs_path`, `n_samples` rows), naming the labels file.
pub(super) fn check_label_count(
    (labels_path, n_labels): (&Path, usize),
    (inputs_path, n_samples): (&Path, usize),
) -> Result<()> {
    if n_labels == n_samples {
        return Ok(());
    }
    let message = format!(
        "{} labels for the {} samples of {}",
        grouped(n_labels),
        grouped(n_samples),
        inputs_path.display()
    );
    Err(Error::file(labels_path, message))
}

/// A float16, float32 or float64 `.npy` matrix as `f32`, every value finite (float16 in C
/// order and little-endian, as [`MappedMatrix`] reads it).
pub(super) fn read_features(path: &Path) -> Result<Array2<f32>> {
    if let Ok(mapped) = MappedMatrix::open(path)
        && mapped.element() == Element::F16
    {
        let mut buffer = Vec::new();
        let (rows, columns) = mapped.dim();
        let values = mapped.rows::<f32>(0..rows, &mut buffer);
        let view = ndarray::ArrayView2::from_shape((rows, columns), values).expect("whole rows");
        return matrix(path, "", &[rows, columns], to_f32(path, "", view.into_dyn())?);
    }
    let (shape, values) = match npy::read_matrix(path)? {
        Matrix::F32(array) => (array.shape().to_vec(), to_f32(path, "", array.view().into_dyn())?),
        Matrix::F64(array) => (array.shape().to_vec(), to_f32(path, "", array.view().into_dyn())?),
    };
    matrix(path, "", &shape, values)
}

/// Train, validation and, with Keras' names, test from an `.npz` archive.
pub(super) fn load_npz(path: &Path, options: &LoadOptions) -> Result<Splits> {
    let mut archive = NpzArchive::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => {
            Error::file(path, format!("not a NumPy .npz archive (zip): {e}"))
        }
        _ => Error::io(path, e),
    })?;
    let mut names: Vec<String> = archive.array_names().map(String::from).collect();
    names.sort();
    let has = |name: &str| names.iter().any(|known| known == name);
    let (train_names, test_names) = if has(KERAS_TRAIN.0) && has(KERAS_TRAIN.1) {
        match (has(KERAS_TEST.0), has(KERAS_TEST.1)) {
            (true, true) => (KERAS_TRAIN, Some(KERAS_TEST)),
            (false, false) => (KERAS_TRAIN, None),
            _ => {
                let message = format!("{} and {} must come together", KERAS_TEST.0, KERAS_TEST.1);
                return Err(Error::file(path, message));
            }
        }
    } else {
        match (INPUT_NAMES.into_iter().find(|&n| has(n)), LABEL_NAMES.into_iter().find(|&n| has(n)))
        {
            (Some(inputs), Some(labels)) => ((inputs, labels), None),
            _ => {
                let message = format!(
                    "no inputs and labels: expected arrays x (or X, inputs) and y (or labels), \
                     or x_train and y_train; the archive holds {}",
                    if names.is_empty() { "no arrays".to_string() } else { names.join(", ") }
                );
                return Err(Error::file(path, message));
            }
        }
    };
    let archive_size = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    let train = read_pair(path, &mut archive, archive_size, train_names)?;
    let test =
        test_names.map(|names| read_pair(path, &mut archive, archive_size, names)).transpose()?;
    if let Some(test) = &test
        && test.sample_shape != train.sample_shape
    {
        let message = format!(
            "{} holds samples of shape {:?} but {} holds {:?}",
            test_names.map_or("", |names| names.0),
            test.sample_shape,
            train_names.0,
            train.sample_shape
        );
        return Err(Error::file(path, message));
    }
    let all_labels: Vec<usize> =
        train.labels.iter().chain(test.iter().flat_map(|test| &test.labels)).copied().collect();
    let class_names = labels::numbered_classes(path, &all_labels, 0)?;
    let image_shape = image_shape(&train.sample_shape);
    let dataset = |pair: Pair| Dataset {
        inputs: pair.inputs,
        labels: pair.labels,
        sample_weights: None,
        class_names: class_names.clone(),
        feature_names: None,
        image_shape,
    };
    let source = format!("NumPy archive {} ({}, {})", path.display(), train_names.0, train_names.1);
    let test_origin = test_names.map_or(String::new(), |names| format!("{}, {}", names.0, names.1));
    let train = weights::attach(dataset(train), options, &source)?;
    Ok(Splits::holding_out(&source, train, test.map(dataset), &test_origin, options))
}

/// One inputs array and its labels, read from an archive.
struct Pair {
    inputs: Array2<f32>,
    labels: Vec<usize>,
    /// The shape of one sample as stored: `[D]`, `[H, W]`, `[H, W, C]` or `[C, H, W]`.
    sample_shape: Vec<usize>,
}

fn read_pair<R: std::io::Read + std::io::Seek>(
    path: &Path,
    archive: &mut NpzArchive<R>,
    archive_size: u64,
    (inputs_name, labels_name): (&str, &str),
) -> Result<Pair> {
    let inputs = Entry::read(path, archive, archive_size, inputs_name)?;
    let sample_shape = inputs.shape.get(1..).unwrap_or_default().to_vec();
    if !(1..=3).contains(&sample_shape.len()) {
        let message = format!(
            "array '{inputs_name}' has shape {:?}: expected N×D, N×H×W or N×H×W×C",
            inputs.shape
        );
        return Err(Error::file(path, message));
    }
    let what = format!("array '{inputs_name}', ");
    let channels_last = sample_shape.len() == 3 && is_channels_last(&sample_shape);
    let values = with_elements!(inputs, path, |array| {
        let array = if channels_last { array.permuted_axes(&[0, 3, 1, 2][..]) } else { array };
        to_f32(path, &what, array.view())
    })?;
    let inputs = matrix(path, &what, &inputs.shape, values)?;
    let labels_entry = Entry::read(path, archive, archive_size, labels_name)?;
    let labels = match labels_entry.shape[..] {
        [_] | [_, 1] => with_elements!(labels_entry, path, |array| {
            to_labels(path, labels_name, array.view())
        })?,
        _ => {
            let message = format!(
                "array '{labels_name}' has shape {:?}: labels must be N or N×1",
                labels_entry.shape
            );
            return Err(Error::file(path, message));
        }
    };
    if labels.len() != inputs.nrows() {
        let message = format!(
            "array '{labels_name}' holds {} labels for the {} samples of '{inputs_name}'",
            grouped(labels.len()),
            grouped(inputs.nrows())
        );
        return Err(Error::file(path, message));
    }
    Ok(Pair { inputs, labels, sample_shape })
}

/// Whether an H×W×C (or C×H×W) sample shape has its channels last.
fn is_channels_last(sample_shape: &[usize]) -> bool {
    CHANNEL_COUNTS.contains(&sample_shape[2]) || !CHANNEL_COUNTS.contains(&sample_shape[0])
}

/// The image shape of a stored sample shape (none for plain feature vectors).
fn image_shape(sample_shape: &[usize]) -> Option<ImageShape> {
    match *sample_shape {
        [height, width] => Some(ImageShape { channels: 1, height, width }),
        [height, width, channels] if is_channels_last(sample_shape) => {
            Some(ImageShape { channels, height, width })
        }
        [channels, height, width] => Some(ImageShape { channels, height, width }),
        _ => None,
    }
}

/// The values of `array` as `f32`, in logical (row-major) order, all finite. The first axis
/// is the samples; `what` starts error messages (`array 'x', `).
fn to_f32<T>(path: &Path, what: &str, array: ArrayViewD<T>) -> Result<Vec<f32>>
where
    T: AsPrimitive<f32> + AsPrimitive<f64>,
{
    let sample_size = array.shape().iter().skip(1).product::<usize>().max(1);
    let mut values = Vec::with_capacity(array.len());
    for &value in &array {
        let converted: f32 = value.as_();
        if !converted.is_finite() {
            let why = not_finite(value.as_());
            let (sample, feature) = (values.len() / sample_size, values.len() % sample_size);
            return Err(Error::file(
                path,
                format!("{what}sample {sample}, feature {feature}: {why}"),
            ));
        }
        values.push(converted);
    }
    Ok(values)
}

/// Labels from an integer (or whole float) array: whole numbers ≥ 0.
fn to_labels<T: AsPrimitive<f64>>(
    path: &Path,
    name: &str,
    array: ArrayViewD<T>,
) -> Result<Vec<usize>> {
    array
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            let label: f64 = value.as_();
            if label >= 0.0 && label.fract() == 0.0 {
                Ok(label as usize) // saturates; too large a label is refused with the classes
            } else {
                let message = format!(
                    "array '{name}': label {label} at index {index} is not a class index \
                     (a whole number from 0)"
                );
                Err(Error::file(path, message))
            }
        })
        .collect()
}

/// The N×D matrix of an array of `shape` (N, then the sample's dimensions).
fn matrix(path: &Path, what: &str, shape: &[usize], values: Vec<f32>) -> Result<Array2<f32>> {
    let n_samples = shape.first().copied().unwrap_or(0);
    if n_samples == 0 {
        return Err(Error::file(path, format!("{what}no samples: the shape is {shape:?}")));
    }
    let n_features = values.len() / n_samples;
    if n_features == 0 {
        return Err(Error::file(path, format!("{what}no features: the shape is {shape:?}")));
    }
    Array2::from_shape_vec((n_samples, n_features), values)
        .map_err(|e| Error::file(path, format!("{what}values do not fit the shape {shape:?}: {e}")))
}

/// An array of an archive: its header, checked against its data, and the data.
struct Entry {
    name: String,
    header: NpyHeader,
    shape: Vec<usize>,
    type_char: TypeChar,
    item_size: u64,
    data: Vec<u8>,
}

impl Entry {
    /// Reads array `name` of the archive, which is `archive_size` bytes long.
    ///
    /// Nothing is allocated beyond what the archive can hold: a member may declare at most
    /// [`MAX_EXPANSION`] times its compressed size, which must lie within the archive; its
    /// header must declare exactly the data that its size leaves after the header; and the
    /// data is read as it arrives, at most one byte past what the header declares.
    fn read<R: std::io::Read + std::io::Seek>(
        path: &Path,
        archive: &mut NpzArchive<R>,
        archive_size: u64,
        name: &str,
    ) -> Result<Entry> {
        let fail = |why: String| Error::file(path, format!("array '{name}': {why}"));
        let member_name = npyz::npz::file_name_from_array_name(name);
        let member =
            archive.zip_archive().by_name(&member_name).map_err(|e| fail(e.to_string()))?;
        let (size, compressed) = (member.size(), member.compressed_size());
        if compressed > archive_size {
            return Err(fail(format!(
                "the archive declares {compressed} compressed bytes for it, but holds only \
                 {archive_size}"
            )));
        }
        if size > compressed.saturating_mul(MAX_EXPANSION) {
            return Err(fail(format!(
                "the archive declares {size} bytes for it, compressed into {compressed}: more \
                 than the {MAX_EXPANSION}:1 that deflate can reach"
            )));
        }
        // One byte more than declared, to notice a longer member (and so that a member of the
        // declared size is read to its end, where its checksum is checked).
        let mut member = member.take(size.saturating_add(1));
        let (header, header_size) = npy::read_header(&mut member, size).map_err(&fail)?;
        let (type_str, descr) = npy::plain_type(&header).map_err(&fail)?;
        let available = size - header_size; // `read_header` checked that the header fits
        let declared = npy::data_bytes(&header, &type_str);
        if declared != Some(available) {
            return Err(fail(format!(
                "the header declares shape {:?} of {descr} but {available} bytes of data follow",
                header.shape()
            )));
        }
        let mut data = Vec::new();
        member.read_to_end(&mut data).map_err(|e| fail(e.to_string()))?;
        if data.len() as u64 > available {
            return Err(fail(format!("it holds more than the {size} bytes the archive declares")));
        }
        if (data.len() as u64) < available {
            return Err(fail(format!(
                "it ends after {} of the {available} bytes of data its header declares",
                data.len()
            )));
        }
        Ok(Entry {
            name: name.to_string(),
            shape: header.shape().iter().map(|&d| d as usize).collect(),
            type_char: type_str.type_char(),
            item_size: type_str.size_field(),
            header,
            data,
        })
    }

    /// The elements as `T` (the entry's own type), in the array's shape.
    fn decode<T: npyz::Deserialize>(&self, path: &Path) -> Result<ArrayD<T>> {
        let values = NpyFile::with_header(self.header.clone(), &self.data[..])
            .into_vec::<T>()
            .map_err(|e| self.error(path, e.to_string()))?;
        let shape = IxDyn(&self.shape).set_f(self.header.order() == Order::Fortran);
        ArrayD::from_shape_vec(shape, values).map_err(|e| self.error(path, e.to_string()))
    }

    /// An error about this array.
    fn error(&self, path: &Path, why: String) -> Error {
        Error::file(path, format!("array '{}': {why}", self.name))
    }
}
