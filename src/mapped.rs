//! Memory-mapped `.npy` matrices: the inputs of a linear probe (N×D float16, float32 or float64
//! embeddings, often larger than memory) read where they lie in the file, never copied whole.
//!
//! [`MappedMatrix::open`] checks the header (two dimensions, C order, a little-endian float
//! dtype) and that the file holds exactly the data it declares, before mapping it: reading a
//! mapped page beyond the end of a file is a SIGBUS, not an error, so the length is checked
//! first, and again before every pass ([`MappedMatrix::check_unchanged`]), so that a file cut
//! short while training is reported instead of crashing the process.
//!
//! Rows are handed out as `&[F]` in the type training computes in: where they are stored as
//! `F` (and aligned), straight from the mapping; otherwise converted into a caller's buffer a
//! few hundred rows at a time (float16 with the CPU's conversion instructions, see
//! [`Float::from_f16s`]).
//!
//! float64 values are rounded to float32 first, as every other way in holds its inputs (a
//! [`crate::data::Dataset`], `--no-mmap`, `eval` and `predict` on the same file, the Python
//! package): a model trained on the mapped file then scores its inputs the way it was trained.
//! (Kept in float64, features such as Unix times, 1.7e9 apart by seconds, trained to an
//! accuracy of 1.0 that `eval` on the same file measured at 0.97.)

use std::fs::File;
use std::io::BufReader;
use std::ops::Range;
use std::path::{Path, PathBuf};

use half::f16;
use memmap2::Mmap;
use ndarray::Array2;
use npyz::{Order, TypeChar};

use crate::data::grouped;
use crate::npy::{data_bytes, plain_type, read_header};
use crate::{Error, Float, Result};

/// How a mapped matrix stores its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    F16,
    F32,
    F64,
}

impl Element {
    /// The NumPy name: `float16`, `float32` or `float64`.
    pub fn name(self) -> &'static str {
        match self {
            Element::F16 => "float16",
            Element::F32 => "float32",
            Element::F64 => "float64",
        }
    }

    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            Element::F16 => 2,
            Element::F32 => 4,
            Element::F64 => 8,
        }
    }
}

/// An N×D float matrix in a `.npy` file, mapped read-only into memory.
#[derive(Debug)]
pub struct MappedMatrix {
    path: PathBuf,
    /// The open file, whose length [`Self::check_unchanged`] reads again before each pass.
    file: File,
    map: Mmap,
    /// Where the data start: the header's size.
    data_start: usize,
    shape: (usize, usize),
    element: Element,
}

impl MappedMatrix {
    /// Opens and maps a 2-D, C-order, little-endian float16, float32 or float64 `.npy` file.
    ///
    /// # Errors
    /// [`Error::Io`] for a file that cannot be opened or mapped; [`Error::File`] for one that is
    /// not `.npy`, declares another shape or dtype, Fortran order, or more (or fewer) bytes of
    /// data than it holds.
    pub fn open(path: &Path) -> Result<MappedMatrix> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_size = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let (header, header_size) = read_header(&mut BufReader::new(&file), file_size)
            .map_err(|message| Error::file(path, message))?;
        let (type_str, descr) =
            plain_type(&header).map_err(|message| Error::file(path, message))?;
        let refuse = |message: String| Err(Error::file(path, message));
        let shape = match header.shape() {
            &[rows, columns] => (rows, columns),
            other => {
                return refuse(format!(
                    "expected a 2-D array (N samples × D features), got {} dimensions",
                    other.len()
                ));
            }
        };
        if header.order() == Order::Fortran {
            return refuse(
                "Fortran order (columns stored one after another): training reads samples as \
                 rows; save it in C order (np.save(path, np.ascontiguousarray(X)))"
                    .into(),
            );
        }
        let little_endian = descr.contains('<') || descr.contains('|');
        let element = match (type_str.type_char(), type_str.size_field(), little_endian) {
            (TypeChar::Float, 2, true) => Element::F16,
            (TypeChar::Float, 4, true) => Element::F32,
            (TypeChar::Float, 8, true) => Element::F64,
            _ => {
                return refuse(format!(
                    "dtype {descr}: a mapped matrix is little-endian float16, float32 or float64 \
                     (X.astype('<f4'))"
                ));
            }
        };
        let declared = data_bytes(&header, &type_str);
        let available = file_size.saturating_sub(header_size);
        if declared != Some(available) {
            return refuse(format!(
                "the header declares {} × {} {} values ({} bytes) but the file holds {} bytes of \
                 data{}",
                grouped(shape.0 as usize),
                grouped(shape.1 as usize),
                element.name(),
                declared.map_or("more than 2^64".to_string(), grouped_u64),
                grouped_u64(available),
                if declared.is_some_and(|d| d > available) { ": it is truncated" } else { "" }
            ));
        }
        let (Ok(rows), Ok(columns), Ok(data_start)) =
            (usize::try_from(shape.0), usize::try_from(shape.1), usize::try_from(header_size))
        else {
            return refuse("too large to map on this machine".into());
        };
        // SAFETY: a mapping is only sound while nothing else truncates or rewrites the file;
        // no API can make another process keep to that. What can be done is done: every value
        // is read as plain bytes of a float type (any bit pattern is a valid f16, f32 or f64,
        // so a concurrent rewrite yields other numbers, never an invalid value), and the
        // file's length is checked before the mapping is made and before every pass over it
        // (`check_unchanged`), so that a file cut short is an error instead of a SIGBUS.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let mapped = MappedMatrix {
            path: path.to_path_buf(),
            file,
            map,
            data_start,
            shape: (rows, columns),
            element,
        };
        mapped.advise_sequential();
        Ok(mapped)
    }

    /// The file mapped.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// (N, D).
    pub fn dim(&self) -> (usize, usize) {
        self.shape
    }

    /// How the values are stored.
    pub fn element(&self) -> Element {
        self.element
    }

    /// Bytes of data (N·D values), the mapping's size less the header.
    pub fn data_bytes(&self) -> usize {
        self.shape.0 * self.shape.1 * self.element.size()
    }

    /// Refuses a file that no longer holds all its rows (cut short since it was mapped): the
    /// check that keeps the next pass from reading beyond its end.
    ///
    /// # Errors
    /// [`Error::File`] naming the file and its lengths, or [`Error::Io`] if its length cannot
    /// be read.
    pub fn check_unchanged(&self) -> Result<()> {
        let length = self.file.metadata().map_err(|e| Error::io(&self.path, e))?.len();
        let needed = (self.data_start + self.data_bytes()) as u64;
        match length >= needed {
            true => Ok(()),
            false => Err(Error::file(
                &self.path,
                format!(
                    "changed while training: it is now {} bytes long, {} bytes shorter than \
                     when it was opened",
                    grouped_u64(length),
                    grouped_u64(needed - length)
                ),
            )),
        }
    }

    /// The rows `rows` (row-major, D values each) as `F`: read where they lie when they are
    /// stored as `F` (and aligned for it), otherwise converted into `buffer`.
    ///
    /// # Panics
    /// If `rows` goes beyond N.
    pub fn rows<'a, F: Float>(&'a self, rows: Range<usize>, buffer: &'a mut Vec<F>) -> &'a [F] {
        let bytes = self.row_bytes(rows);
        if self.element.name() == F::DTYPE_NAME
            && self.element != Element::F64
            && cfg!(target_endian = "little")
            && let Ok(values) = bytemuck::try_cast_slice::<u8, F>(bytes)
        {
            return values;
        }
        buffer.clear();
        buffer.resize(bytes.len() / self.element.size(), F::zero());
        self.convert(bytes, buffer);
        buffer
    }

    /// The rows `indices` (in that order) as `F`, row-major: read where they lie when they are
    /// consecutive rows (see [`Self::rows`]), otherwise converted (or copied) into `buffer`.
    ///
    /// # Panics
    /// If an index is not below N.
    pub fn gather<'a, F: Float>(&'a self, indices: &[usize], buffer: &'a mut Vec<F>) -> &'a [F] {
        let Some(&first) = indices.first() else {
            buffer.clear();
            return buffer;
        };
        if indices.iter().enumerate().all(|(k, &row)| row == first + k) {
            return self.rows(first..first + indices.len(), buffer);
        }
        let n_features = self.shape.1;
        buffer.clear();
        buffer.resize(indices.len() * n_features, F::zero());
        for (&row, out) in indices.iter().zip(buffer.chunks_exact_mut(n_features.max(1))) {
            self.convert(self.row_bytes(row..row + 1), out);
        }
        buffer
    }

    /// Rows `positions` of the rows `picked` (of all rows, in order, with `None`) as a float32
    /// array, positions.len() × D: a chunk of rows to score
    /// ([`crate::model::Model::map_score_chunks_read`]), converted where the file holds another
    /// type.
    ///
    /// # Panics
    /// If a position is not one of `picked`, or a row is not below N.
    pub fn read_rows(&self, picked: Option<&[usize]>, positions: Range<usize>) -> Array2<f32> {
        let n_rows = positions.len();
        let mut buffer = Vec::new();
        let values = match picked {
            Some(picked) => self.gather::<f32>(&picked[positions], &mut buffer),
            None => self.rows::<f32>(positions, &mut buffer),
        };
        Array2::from_shape_vec((n_rows, self.shape.1), values.to_vec()).expect("whole rows")
    }

    /// The bytes of the rows `rows`.
    fn row_bytes(&self, rows: Range<usize>) -> &[u8] {
        assert!(rows.end <= self.shape.0, "rows {rows:?} of a matrix of {}", self.shape.0);
        let row_bytes = self.shape.1 * self.element.size();
        &self.map[self.data_start + rows.start * row_bytes..self.data_start + rows.end * row_bytes]
    }

    /// Converts little-endian stored values (`bytes`) into `out`, one value per element.
    fn convert<F: Float>(&self, bytes: &[u8], out: &mut [F]) {
        match self.element {
            Element::F16 => match bytemuck::try_cast_slice::<u8, f16>(bytes) {
                Ok(values) if cfg!(target_endian = "little") => F::from_f16s(values, out),
                _ => convert_each(bytes, out, |b: [u8; 2]| f16::from_le_bytes(b).to_f64()),
            },
            Element::F32 => convert_each(bytes, out, |b: [u8; 4]| f64::from(f32::from_le_bytes(b))),
            // Rounded to float32 (see the module doc).
            Element::F64 => convert_each(bytes, out, |b| f64::from(f64::from_le_bytes(b) as f32)),
        }
    }

    /// The value stored at `row`, `column`, as the file holds it (before any rounding).
    fn stored(&self, row: usize, column: usize) -> f64 {
        let bytes = &self.row_bytes(row..row + 1)[column * self.element.size()..];
        match self.element {
            Element::F16 => f16::from_le_bytes([bytes[0], bytes[1]]).to_f64(),
            Element::F32 => f64::from(f32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))),
            Element::F64 => f64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")),
        }
    }

    /// Tells the kernel that passes read the file from start to end (read-ahead).
    fn advise_sequential(&self) {
        #[cfg(unix)]
        let _ = self.map.advise(memmap2::Advice::Sequential);
    }
}

/// Per-feature moments of rows of a mapped matrix, from one pass: what every preprocessing
/// needs ([`crate::preprocess::Preprocessor::from_moments`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    pub mean: Vec<f64>,
    /// The population variance (divided by N).
    pub variance: Vec<f64>,
    /// The largest |x| over all rows and features.
    pub max_abs: f64,
}

/// Sums over rows of x − s and (x − s)² per feature (s a fixed shift), and the largest |x|.
struct ShiftedSums {
    sum: Vec<f64>,
    squares: Vec<f64>,
    max_abs: f64,
}

impl ShiftedSums {
    fn zero(n_features: usize) -> ShiftedSums {
        ShiftedSums { sum: vec![0.0; n_features], squares: vec![0.0; n_features], max_abs: 0.0 }
    }

    fn add_row(&mut self, values: &[f64], shift: &[f64]) {
        for ((&x, &s), (sum, squares)) in
            values.iter().zip(shift).zip(self.sum.iter_mut().zip(&mut self.squares))
        {
            let d = x - s;
            *sum += d;
            *squares += d * d;
            self.max_abs = self.max_abs.max(x.abs());
        }
    }

    fn merge(&mut self, other: &ShiftedSums) {
        for (total, &part) in self.sum.iter_mut().zip(&other.sum) {
            *total += part;
        }
        for (total, &part) in self.squares.iter_mut().zip(&other.squares) {
            *total += part;
        }
        self.max_abs = self.max_abs.max(other.max_abs);
    }
}

/// Rows per chunk of the moments' pass: the unit of its parallelism and of its fixed-order sum.
const MOMENT_ROWS: usize = 1024;

impl MappedMatrix {
    /// The moments of the rows `rows` (all with `None`) in one streaming pass, in f64: sums
    /// of x − s and (x − s)² with s the first row (a shift that keeps the variance
    /// Σ(x − s)²/N − (Σ(x − s)/N)² from cancelling when features sit far from 0), in chunks of
    /// [`MOMENT_ROWS`] rows summed in parallel and added in chunk order, so the result does not
    /// depend on the thread count.
    ///
    /// # Errors
    /// [`Error::Empty`] for no rows, [`Error::NonFinite`] naming the first NaN or infinity (row
    /// and feature of the file), and a file cut short since it was mapped.
    pub fn moments(&self, rows: Option<&[usize]>) -> Result<Moments> {
        use rayon::prelude::*;
        self.check_unchanged()?;
        let n_features = self.shape.1;
        let n = rows.map_or(self.shape.0, <[usize]>::len);
        let row_of = |k: usize| rows.map_or(k, |rows| rows[k]);
        if n == 0 {
            return Err(Error::Empty(format!("no rows to train on in {}", self.path.display())));
        }
        let mut buffer = Vec::new();
        let shift: Vec<f64> = self.gather(&[row_of(0)], &mut buffer).to_vec();
        let chunk = |start: usize| {
            let end = (start + MOMENT_ROWS).min(n);
            let mut sums = ShiftedSums::zero(n_features);
            let (mut indices, mut buffer) = (Vec::with_capacity(end - start), Vec::new());
            indices.extend((start..end).map(row_of));
            let values: &[f64] = self.gather(&indices, &mut buffer);
            for (&row, values) in indices.iter().zip(values.chunks_exact(n_features.max(1))) {
                if let Some(column) = values.iter().position(|v| !v.is_finite()) {
                    let stored = self.stored(row, column);
                    if stored.is_finite() {
                        let why = format!(
                            "sample {row}, feature {column}: {stored:e} overflows float32, the \
                             type inputs are held in"
                        );
                        return Err(Error::file(&self.path, why));
                    }
                    return Err(Error::NonFinite {
                        what: "inputs",
                        location: format!(
                            "sample {row}, feature {column} of {}",
                            self.path.display()
                        ),
                        value: values[column],
                    });
                }
                sums.add_row(values, &shift);
            }
            Ok(sums)
        };
        let chunks: Vec<usize> = (0..n).step_by(MOMENT_ROWS).collect();
        let partials: Vec<Result<ShiftedSums>> = chunks.into_par_iter().map(chunk).collect();
        let mut total = ShiftedSums::zero(n_features);
        for partial in partials {
            total.merge(&partial?);
        }
        let ShiftedSums { sum, squares, max_abs } = total;
        let n = n as f64;
        let mean = (0..n_features).map(|j| shift[j] + sum[j] / n).collect();
        let variance =
            (0..n_features).map(|j| (squares[j] / n - (sum[j] / n).powi(2)).max(0.0)).collect();
        Ok(Moments { mean, variance, max_abs })
    }
}

/// Each `SIZE`-byte value of `bytes`, decoded by `decode`, into `out`.
fn convert_each<F: Float, const SIZE: usize>(
    bytes: &[u8],
    out: &mut [F],
    decode: impl Fn([u8; SIZE]) -> f64,
) {
    for (value, out) in bytes.chunks_exact(SIZE).zip(out) {
        *out = F::of(decode(value.try_into().expect("SIZE bytes")));
    }
}

/// A byte count with thousands separators.
fn grouped_u64(value: u64) -> String {
    grouped(value as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `dir/name`, an `.npy` file made by hand: `descr`, `shape`, C order unless `fortran`, then `data`.
    fn npy_file(
        (dir, name): (&Path, &str),
        descr: &str,
        shape: (usize, usize),
        fortran: bool,
        data: &[u8],
    ) -> PathBuf {
        let mut text = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({}, {}), }}",
            if fortran { "True" } else { "False" },
            shape.0,
            shape.1
        );
        while (10 + text.len() + 1) % 64 != 0 {
            text.push(' ');
        }
        text.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((text.len() as u16).to_le_bytes());
        bytes.extend(text.as_bytes());
        bytes.extend(data);
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn values_f32(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn float32_rows_are_read_where_they_lie_and_converted_to_float64() {
        let dir = tempfile::tempdir().unwrap();
        let values = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let path = npy_file((dir.path(), "x.npy"), "<f4", (3, 2), false, &values_f32(&values));
        let matrix = MappedMatrix::open(&path).unwrap();
        assert_eq!((matrix.dim(), matrix.element()), ((3, 2), Element::F32));
        let mut buffer = Vec::new();
        let rows: &[f32] = matrix.rows(1..3, &mut buffer);
        assert_eq!(rows, &values[2..]);
        assert!(buffer.is_empty(), "float32 rows are not copied");
        let mut buffer = Vec::new();
        assert_eq!(matrix.gather::<f64>(&[2, 0], &mut buffer), &[5.0, 6.0, 1.0, 2.0]);
    }

    #[test]
    fn float16_values_convert_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let values = [0.5f32, -1.25, 65504.0, 6.1035156e-5];
        let bytes: Vec<u8> = values.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect();
        let path = npy_file((dir.path(), "x.npy"), "<f2", (2, 2), false, &bytes);
        let matrix = MappedMatrix::open(&path).unwrap();
        let mut buffer = Vec::new();
        assert_eq!(matrix.rows::<f32>(0..2, &mut buffer), &values);
        let mut buffer = Vec::new();
        assert_eq!(matrix.gather::<f64>(&[1], &mut buffer), &[65504.0, 6.103515625e-5]);
    }

    #[test]
    fn bad_files_are_refused_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let data = values_f32(&[0.0; 6]);
        let cases = [
            (npy_file((dir.path(), "fortran.npy"), "<f4", (3, 2), true, &data), "Fortran order"),
            (npy_file((dir.path(), "int.npy"), "<i4", (3, 2), false, &data), "dtype '<i4'"),
            (npy_file((dir.path(), "big.npy"), ">f4", (3, 2), false, &data), "dtype '>f4'"),
            (npy_file((dir.path(), "short.npy"), "<f4", (4, 2), false, &data), "it is truncated"),
            (npy_file((dir.path(), "long.npy"), "<f4", (2, 2), false, &data), "holds 24 bytes"),
        ];
        for (path, expected) in cases {
            let err = MappedMatrix::open(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
        }
    }

    #[test]
    fn a_file_cut_short_after_mapping_is_reported_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = npy_file((dir.path(), "x.npy"), "<f4", (3, 2), false, &values_f32(&[1.0; 6]));
        let matrix = MappedMatrix::open(&path).unwrap();
        matrix.check_unchanged().unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(100).unwrap();
        let err = matrix.check_unchanged().unwrap_err().to_string();
        assert!(err.contains("changed while training"), "{err}");
    }
}
