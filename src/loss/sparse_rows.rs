//! Inputs held as compressed sparse rows, the sparse kernel's input format.

use ndarray::{Array1, Array2, ArrayView2};

use crate::{Error, Float, Result};

/// The rows of an N×D matrix in compressed sparse row (CSR) form: each row's nonzero values
/// with their column indices, in increasing column order.
///
/// Built with [`SparseRows::from_dense`] or, from another library's CSR arrays (SciPy's
/// `csr_matrix`), [`SparseRows::from_csr`]; the fields are private so the indices are always in
/// range and increasing within a row. A NaN counts as nonzero (it is kept, so the kernels report
/// it); −0.0 is a zero. Zeros given explicitly to [`SparseRows::from_csr`] are kept.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseRows<F> {
    n_columns: usize,
    /// N + 1 offsets: row i's entries are `columns[row_starts[i]..row_starts[i + 1]]` and the
    /// same range of `values`.
    row_starts: Vec<usize>,
    /// The column of each stored value. `u32` rather than `usize` halves the index bytes read
    /// per pass; [`SparseRows::from_dense`] refuses more than `u32::MAX + 1` columns.
    columns: Vec<u32>,
    values: Vec<F>,
}

impl<F: Float> SparseRows<F> {
    /// The nonzeros (`value != 0`) of `dense` (N×D, any memory layout), exactly.
    ///
    /// # Errors
    /// [`Error::TooManyFeatures`] if D exceeds `u32::MAX + 1` (column indices are `u32`).
    pub fn from_dense(dense: ArrayView2<F>) -> Result<Self> {
        let (n_rows, n_columns) = dense.dim();
        if n_columns > u32::MAX as usize + 1 {
            return Err(Error::TooManyFeatures {
                kernel: "sparse",
                n_features: n_columns,
                max: u32::MAX as u64 + 1,
            });
        }
        let dense = dense.as_standard_layout(); // a copy only for another layout's transpose
        let entries = dense.as_slice().expect("standard layout");
        let row = |i: usize| &entries[i * n_columns..(i + 1) * n_columns];
        // Two passes: count, then copy without a branch per entry (a random pattern of zeros
        // mispredicts). Every entry is written at `next`, which moves on only past a nonzero, so
        // one spare slot takes the zeros after the last nonzero.
        let nonzero = |value: &F| *value != F::zero();
        let nnz = entries.iter().filter(|v| nonzero(v)).count();
        let mut columns = vec![0; nnz + 1];
        let mut values = vec![F::zero(); nnz + 1];
        let mut row_starts = Vec::with_capacity(n_rows + 1);
        row_starts.push(0);
        let mut next = 0;
        for i in 0..n_rows {
            for (column, value) in row(i).iter().enumerate() {
                columns[next] = column as u32; // < n_columns ≤ u32::MAX + 1: checked above
                values[next] = *value;
                next += usize::from(nonzero(value));
            }
            row_starts.push(next);
        }
        columns.truncate(nnz);
        values.truncate(nnz);
        Ok(SparseRows { n_columns, row_starts, columns, values })
    }

    /// The N×`n_columns` matrix whose row i holds the values `values[row_starts[i]..
    /// row_starts[i + 1]]` in the columns of the same range of `columns`: SciPy's
    /// `csr_matrix((values, columns, row_starts))` in canonical form.
    ///
    /// # Errors
    /// [`Error::InconsistentData`] for offsets that do not start at 0, decrease or do not end
    /// at the number of values, a column count other than the value count, a column index out
    /// of range or not increasing within its row (unsorted or repeated: SciPy's
    /// `sum_duplicates()` fixes both); [`Error::TooManyFeatures`] beyond `u32::MAX + 1` columns.
    pub fn from_csr(
        n_columns: usize,
        row_starts: Vec<usize>,
        columns: Vec<u32>,
        values: Vec<F>,
    ) -> Result<Self> {
        if n_columns > u32::MAX as usize + 1 {
            return Err(Error::TooManyFeatures {
                kernel: "sparse",
                n_features: n_columns,
                max: u32::MAX as u64 + 1,
            });
        }
        let bad = |message: String| Err(Error::InconsistentData(format!("CSR matrix: {message}")));
        if columns.len() != values.len() {
            return bad(format!("{} column indices for {} values", columns.len(), values.len()));
        }
        match (row_starts.first(), row_starts.last()) {
            (Some(0), Some(&last)) if last == values.len() => {}
            (Some(first), Some(last)) => {
                return bad(format!(
                    "row offsets must run from 0 to the number of values ({}), got {first} to \
                     {last}",
                    values.len()
                ));
            }
            _ => return bad("no row offsets: N rows take N + 1 of them".into()),
        }
        if let Some(row) = row_starts.windows(2).position(|pair| pair[0] > pair[1]) {
            return bad(format!("row offsets decrease at row {row}"));
        }
        for row in 0..row_starts.len() - 1 {
            let row_columns = &columns[row_starts[row]..row_starts[row + 1]];
            if let Some(&column) = row_columns.iter().find(|&&k| k as usize >= n_columns) {
                return bad(format!("row {row} has column {column}, out of range for {n_columns}"));
            }
            if row_columns.windows(2).any(|pair| pair[0] >= pair[1]) {
                return bad(format!(
                    "row {row}'s column indices are not increasing (unsorted or repeated)"
                ));
            }
        }
        Ok(SparseRows { n_columns, row_starts, columns, values })
    }

    /// The rows `indices` (in that order, repeats allowed) as a matrix of their own.
    ///
    /// # Panics
    /// On an index that is not a row (callers check them).
    pub fn select_rows(&self, indices: &[usize]) -> SparseRows<F> {
        let mut picked = SparseRows {
            n_columns: self.n_columns,
            row_starts: Vec::with_capacity(indices.len() + 1),
            columns: Vec::new(),
            values: Vec::new(),
        };
        picked.row_starts.push(0);
        for &i in indices {
            let (columns, values) = self.row(i);
            picked.columns.extend_from_slice(columns);
            picked.values.extend_from_slice(values);
            picked.row_starts.push(picked.values.len());
        }
        picked
    }

    /// The trainer's inputs from these rows, in `G`: every value divided by its column's
    /// `scale` (D entries, > 0), then a last column D of ones (the bias column): N×(D+1).
    ///
    /// # Errors
    /// [`Error::TooManyFeatures`] when D + 1 columns are too many for `u32` indices.
    pub fn scaled_with_bias<G: Float>(&self, scale: &[f64]) -> Result<SparseRows<G>> {
        let n_columns = self.n_columns + 1;
        if n_columns > u32::MAX as usize + 1 {
            return Err(Error::TooManyFeatures {
                kernel: "sparse",
                n_features: n_columns,
                max: u32::MAX as u64 + 1,
            });
        }
        let mut out = SparseRows {
            n_columns,
            row_starts: Vec::with_capacity(self.row_starts.len()),
            columns: Vec::with_capacity(self.nnz() + self.nrows()),
            values: Vec::with_capacity(self.nnz() + self.nrows()),
        };
        out.row_starts.push(0);
        for i in 0..self.nrows() {
            let (columns, values) = self.row(i);
            out.columns.extend_from_slice(columns);
            out.columns.push(self.n_columns as u32); // ≤ u32::MAX: checked above
            let scaled =
                columns.iter().zip(values).map(|(&k, &x)| G::of(x.as_f64() / scale[k as usize]));
            out.values.extend(scaled);
            out.values.push(G::one());
            out.row_starts.push(out.values.len());
        }
        Ok(out)
    }

    /// The dense N×D matrix (zeros where nothing is stored).
    pub fn to_dense(&self) -> Array2<F> {
        let mut dense = Array2::zeros((self.nrows(), self.ncols()));
        for (i, mut dense_row) in dense.rows_mut().into_iter().enumerate() {
            let (columns, values) = self.row(i);
            for (&k, &x) in columns.iter().zip(values) {
                dense_row[k as usize] = x;
            }
        }
        dense
    }

    /// N, the number of rows.
    pub fn nrows(&self) -> usize {
        self.row_starts.len() - 1
    }

    /// D, the number of columns.
    pub fn ncols(&self) -> usize {
        self.n_columns
    }

    /// The number of stored (nonzero) values.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The fraction of entries that are stored: nnz / (N·D) (0 for an empty matrix).
    pub fn density(&self) -> f64 {
        let entries = self.nrows() * self.ncols();
        if entries == 0 { 0.0 } else { self.nnz() as f64 / entries as f64 }
    }

    /// The first stored value that is NaN or infinite, as (row, column, value).
    pub fn first_non_finite(&self) -> Option<(usize, usize, f64)> {
        let position = self.values.iter().position(|v| !v.is_finite())?;
        let row = self.row_starts.partition_point(|&start| start <= position) - 1;
        Some((row, self.columns[position] as usize, self.values[position].as_f64()))
    }

    /// The stored values, row after row.
    pub fn values(&self) -> &[F] {
        &self.values
    }

    /// Row `i` as a dense vector (for messages about it).
    pub fn dense_row(&self, i: usize) -> Array1<F> {
        let mut row = Array1::zeros(self.n_columns);
        let (columns, values) = self.row(i);
        for (&column, &value) in columns.iter().zip(values) {
            row[column as usize] = value;
        }
        row
    }

    /// Row `i`'s column indices and values.
    #[inline]
    pub(super) fn row(&self, i: usize) -> (&[u32], &[F]) {
        let entries = self.row_starts[i]..self.row_starts[i + 1];
        (&self.columns[entries.clone()], &self.values[entries])
    }
}
