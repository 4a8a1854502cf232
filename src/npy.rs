//! NumPy `.npy` files (the format of `np.save`): float matrices, integer labels, and atomic
//! writing of gradients. `npyz` parses headers and decodes elements; this module adds the
//! checks a user needs named: dimensionality, dtype, truncation, negative labels.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, TypeStr, WriterBuilder};

use crate::atomic::write_atomically;
use crate::{Error, Float, Result};

/// A 2-D float array as read from a `.npy` file, in its stored dtype.
#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    F32(Array2<f32>),
    F64(Array2<f64>),
}

impl Matrix {
    /// The NumPy name of the element type: `float32` or `float64`.
    pub fn dtype_name(&self) -> &'static str {
        match self {
            Matrix::F32(_) => f32::DTYPE_NAME,
            Matrix::F64(_) => f64::DTYPE_NAME,
        }
    }

    /// `(rows, columns)`.
    pub fn dim(&self) -> (usize, usize) {
        match self {
            Matrix::F32(a) => a.dim(),
            Matrix::F64(a) => a.dim(),
        }
    }

    /// The values as `f64` (a copy; exact for both dtypes).
    pub fn to_f64(&self) -> Array2<f64> {
        match self {
            Matrix::F32(a) => a.mapv(f64::from),
            Matrix::F64(a) => a.clone(),
        }
    }
}

/// Reads a 2-D `float32` or `float64` array (C or Fortran order, either byte order).
///
/// # Errors
/// A missing or unreadable file, a file that is not `.npy`, another dtype, another number of
/// dimensions, or fewer (or more) data bytes than the header declares.
pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let file = open(path)?;
    let (rows, columns) = match file.shape[..] {
        [rows, columns] => (rows, columns),
        _ => {
            let message =
                format!("expected a 2-D array (a matrix), got shape {}", shape_text(&file.shape));
            return Err(Error::file(path, message));
        }
    };
    let shape = (rows, columns).set_f(file.fortran_order);
    match (file.type_char, file.item_size) {
        (TypeChar::Float, 4) => Ok(Matrix::F32(file.into_matrix(path, shape)?)),
        (TypeChar::Float, 8) => Ok(Matrix::F64(file.into_matrix(path, shape)?)),
        _ => Err(Error::file(
            path,
            format!("unsupported dtype {} for a matrix: expected float32 or float64", file.descr),
        )),
    }
}

/// Reads a 1-D array of class labels in any integer dtype, as `usize`.
///
/// # Errors
/// As [`read_matrix`], plus a non-integer dtype, another number of dimensions, and negative
/// labels (the error gives the first one and its index).
pub fn read_labels(path: &Path) -> Result<Vec<usize>> {
    let file = open(path)?;
    if file.shape.len() != 1 {
        let message = format!("labels must be a 1-D array, got shape {}", shape_text(&file.shape));
        return Err(Error::file(path, message));
    }
    let descr = file.descr.clone();
    let Some(values) = file.into_integers(path) else {
        let message = format!("unsupported dtype {descr} for labels: expected an integer type");
        return Err(Error::file(path, message));
    };
    values?
        .iter()
        .enumerate()
        .map(|(index, &label)| {
            usize::try_from(label).map_err(|_| {
                let message =
                    format!("label {label} at index {index} is negative: labels are 0..C-1");
                Error::file(path, message)
            })
        })
        .collect()
}

/// Reads a 1-D array of numbers (float32, float64 or any integer dtype) as `f64`: sample
/// weights, for instance.
///
/// # Errors
/// As [`read_matrix`], plus another number of dimensions and a dtype that is not a number.
pub fn read_vector(path: &Path) -> Result<Vec<f64>> {
    let file = open(path)?;
    if file.shape.len() != 1 {
        let message = format!("expected a 1-D array, got shape {}", shape_text(&file.shape));
        return Err(Error::file(path, message));
    }
    let descr = file.descr.clone();
    match (file.type_char, file.item_size) {
        (TypeChar::Float, 4) => {
            let values: Vec<f32> = file.npy.into_vec().map_err(|e| Error::io(path, e))?;
            Ok(values.into_iter().map(f64::from).collect())
        }
        (TypeChar::Float, 8) => file.npy.into_vec().map_err(|e| Error::io(path, e)),
        _ => match file.into_integers(path) {
            Some(values) => Ok(values?.into_iter().map(|v| v as f64).collect()),
            None => Err(Error::file(
                path,
                format!("unsupported dtype {descr}: expected float32, float64 or an integer type"),
            )),
        },
    }
}

/// Writes a 2-D array as `.npy` in its dtype, atomically: to a temporary file in the same
/// folder, renamed over `path` only once complete, so a failure never leaves a partial file.
pub fn write_matrix<F: Float + npyz::AutoSerialize>(
    path: &Path,
    array: ArrayView2<F>,
) -> Result<()> {
    let (rows, columns) = array.dim();
    write_atomically(path, |out| {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[rows as u64, columns as u64])
            .writer(out)
            .begin_nd()?;
        writer.extend(array.iter().copied())?; // logical (row-major) order, whatever the strides
        writer.finish()
    })
}

/// An opened `.npy` file whose header has been checked against the file's size.
struct OpenNpy {
    npy: NpyFile<BufReader<File>>,
    shape: Vec<usize>,
    fortran_order: bool,
    type_char: TypeChar,
    item_size: u64,
    descr: String,
}

impl OpenNpy {
    /// Decodes every element of an integer dtype as `i128` (lossless for all of them); `None`
    /// for another dtype.
    fn into_integers(self, path: &Path) -> Option<Result<Vec<i128>>> {
        Some(match (self.type_char, self.item_size) {
            (TypeChar::Int, 1) => self.into_values::<i8>(path),
            (TypeChar::Int, 2) => self.into_values::<i16>(path),
            (TypeChar::Int, 4) => self.into_values::<i32>(path),
            (TypeChar::Int, 8) => self.into_values::<i64>(path),
            (TypeChar::Uint, 1) => self.into_values::<u8>(path),
            (TypeChar::Uint, 2) => self.into_values::<u16>(path),
            (TypeChar::Uint, 4) => self.into_values::<u32>(path),
            (TypeChar::Uint, 8) => self.into_values::<u64>(path),
            _ => return None,
        })
    }

    /// Decodes every element, converting to `i128` (lossless for every integer dtype).
    fn into_values<T: npyz::Deserialize + Into<i128>>(self, path: &Path) -> Result<Vec<i128>> {
        let values: Vec<T> = self.npy.into_vec().map_err(|e| Error::io(path, e))?;
        Ok(values.into_iter().map(Into::into).collect())
    }

    /// Decodes every element into a matrix of the given shape (and memory order), returned in
    /// standard (row-major) order.
    fn into_matrix<F: Float + npyz::Deserialize>(
        self,
        path: &Path,
        shape: ndarray::Shape<ndarray::Ix2>,
    ) -> Result<Array2<F>> {
        let values: Vec<F> = self.npy.into_vec().map_err(|e| Error::io(path, e))?;
        let array = Array2::from_shape_vec(shape, values)
            .map_err(|e| Error::file(path, format!("data does not fit its shape: {e}")))?;
        Ok(array.as_standard_layout().into_owned())
    }
}

/// Opens `path`, parses its header and checks that the file holds exactly the data it declares.
fn open(path: &Path) -> Result<OpenNpy> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let file_size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut reader = BufReader::new(file);
    let (header, header_size) =
        read_header(&mut reader, file_size).map_err(|message| Error::file(path, message))?;
    let (type_str, descr) = plain_type(&header).map_err(|message| Error::file(path, message))?;
    let item_size = type_str.size_field();
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    let declared = data_bytes(&header, &type_str);
    let available = file_size.saturating_sub(header_size);
    match declared {
        Some(declared) if declared == available => {}
        Some(declared) if declared > available => {
            let message = format!(
                "truncated: the header declares shape {} of {descr} ({declared} bytes of data) \
                 but the file holds only {available}",
                shape_text(&shape)
            );
            return Err(Error::file(path, message));
        }
        Some(declared) => {
            let message = format!(
                "{} bytes after the data that the header declares (shape {} of {descr}): \
                 not a single .npy array",
                available - declared,
                shape_text(&shape)
            );
            return Err(Error::file(path, message));
        }
        None => return Err(Error::file(path, IMPOSSIBLE_SHAPE)),
    }
    Ok(OpenNpy {
        fortran_order: header.order() == Order::Fortran,
        type_char: type_str.type_char(),
        npy: NpyFile::with_header(header, reader),
        item_size,
        descr,
        shape,
    })
}

/// The magic string that starts every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Reads the header of the `.npy` data that `reader` holds (`available` bytes in all), leaving
/// `reader` at the data; returns the header and its size in bytes.
///
/// The header is the magic, a version (major, minor), the length of the header's text (a
/// little-endian u16 in version 1, u32 in versions 2 and 3) and the text. That length is
/// checked against `available` before npyz parses the header, since npyz allocates the length
/// it reads (up to 4 GiB) before reading the text; then the text's nesting (see
/// [`MAX_HEADER_DEPTH`]) and its numbers (see [`numbers_fit`]) are checked.
///
/// # Errors
/// A message (without the file's name): data that is not `.npy`, a header longer than the
/// data, one that nests brackets too deep, or a shape too large for 64 bits.
pub(crate) fn read_header(
    reader: &mut impl Read,
    available: u64,
) -> std::result::Result<(NpyHeader, u64), String> {
    let not_npy = |why: &dyn std::fmt::Display| format!("not a NumPy .npy file ({why})");
    let mut prefix = Vec::with_capacity(12);
    reader.by_ref().take(10).read_to_end(&mut prefix).map_err(|e| not_npy(&e))?;
    if prefix.starts_with(MAGIC) && matches!(prefix.get(6), Some(2 | 3)) {
        reader.by_ref().take(2).read_to_end(&mut prefix).map_err(|e| not_npy(&e))?;
    }
    let length = match prefix.get(6..).filter(|_| prefix.starts_with(MAGIC)) {
        Some(&[1, _, a, b]) => Some(u64::from(u16::from_le_bytes([a, b]))),
        Some(&[2 | 3, _, a, b, c, d]) => Some(u64::from(u32::from_le_bytes([a, b, c, d]))),
        _ => None,
    };
    let Some(length) = length else {
        // Not the magic, not a known version, or too short: npyz names the problem.
        let error = NpyHeader::from_reader(prefix.as_slice()).err();
        return Err(not_npy(&error.map_or("an unreadable header".into(), |e| e.to_string())));
    };
    let header_size = prefix.len() as u64 + length;
    if header_size > available {
        let why = format!(
            "the header declares {length} bytes of text, but the file holds only {}",
            available.saturating_sub(prefix.len() as u64)
        );
        return Err(not_npy(&why));
    }
    let mut text = Vec::new(); // at most `available` bytes: checked above
    reader.take(length).read_to_end(&mut text).map_err(|e| not_npy(&e))?;
    let depth = nesting_depth(&text);
    if depth > MAX_HEADER_DEPTH {
        let why = format!(
            "the header nests brackets {depth} deep: a NumPy header nests at most \
             {MAX_HEADER_DEPTH}"
        );
        return Err(not_npy(&why));
    }
    if !numbers_fit(&text) {
        return Err(IMPOSSIBLE_SHAPE.to_string());
    }
    let header = NpyHeader::from_reader(prefix.chain(text.as_slice())).map_err(|e| not_npy(&e))?;
    Ok((header, header_size))
}

/// The message for a shape whose size in bytes does not fit in 64 bits.
const IMPOSSIBLE_SHAPE: &str = "the header declares an impossibly large shape";

/// Whether the product of the nonzero whole numbers written in a header's text fits in 64
/// bits. The shape's dimensions and the dtype's item size (`8` in `'<f8'`) are among them, so
/// when it does, npyz's unchecked product of the dimensions cannot overflow (a panic in debug
/// builds), and a plain dtype's data size fits too: nothing a loader accepts is refused.
fn numbers_fit(text: &[u8]) -> bool {
    text.split(|byte| !byte.is_ascii_digit())
        .filter(|digits| !digits.is_empty())
        .try_fold(1_u64, |product, digits| {
            let number: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
            if number == 0 { Some(product) } else { product.checked_mul(number) }
        })
        .is_some()
}

/// The deepest nesting of brackets (`{}`, `[]`, `()`) a header's text may have. NumPy writes
/// a flat dict with the shape as a tuple (depth 2); a structured dtype with sub-array fields
/// nests 4 deep, one nested structure 6. npyz's parser (`py_literal`, a PEG grammar) tries
/// every alternative again at each level of an unclosed bracket, so its time grows about
/// 3-fold per level (in the fuzzer's build: 5 s at depth 9, 5 minutes at depth 13; found by
/// the `npy` fuzz target).
const MAX_HEADER_DEPTH: usize = 6;

/// The deepest nesting of brackets in `text`, counting every bracket, in strings too (a
/// structured dtype's field names, which no loader accepts anyway, could hold some).
fn nesting_depth(text: &[u8]) -> usize {
    let mut depth = 0_usize;
    let mut deepest = 0;
    for &byte in text {
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The element type of a header with a plain (non-structured) dtype, and the dtype as the
/// header writes it, quoted (`'<f8'`).
///
/// # Errors
/// A message naming a structured dtype, or a text one: no reader here takes text, and a
/// Unicode dtype's size field counts characters of 4 bytes (`'<U21'`: 84 bytes an element), so
/// its data would look the wrong length instead.
pub(crate) fn plain_type(header: &NpyHeader) -> std::result::Result<(TypeStr, String), String> {
    match header.dtype() {
        DType::Plain(type_str)
            if matches!(type_str.type_char(), TypeChar::UnicodeStr | TypeChar::ByteStr) =>
        {
            Err(format!(
                "unsupported dtype {}: text, where numbers are expected",
                header.dtype().descr()
            ))
        }
        DType::Plain(type_str) => Ok((type_str, header.dtype().descr())),
        other => Err(format!(
            "unsupported structured dtype {}: expected a plain numeric type",
            other.descr()
        )),
    }
}

/// The bytes of data a header declares (elements × item size), `None` beyond `u64`.
pub(crate) fn data_bytes(header: &NpyHeader, type_str: &TypeStr) -> Option<u64> {
    header.shape().iter().try_fold(type_str.size_field(), |bytes, &d| bytes.checked_mul(d))
}

/// A shape as NumPy prints it: `(6, 5)`, `(6,)`.
fn shape_text(shape: &[usize]) -> String {
    match shape {
        [single] => format!("({single},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}
