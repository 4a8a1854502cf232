//! Large allocations asked of the system first, so that a problem too large for this machine is
//! an error naming it ([`Error::OutOfMemory`]) instead of an abort of the process, or of the
//! Python interpreter that called the library.

use ndarray::Array2;

use crate::{Error, Result};

/// Whether the system grants `bytes` of memory now: the allocation is made and freed. (With
/// Linux's overcommit it can still succeed for memory that is not there; it fails for what no
/// process could have, which is what would otherwise abort.)
pub(crate) fn grants(bytes: usize) -> bool {
    bytes <= isize::MAX as usize && Vec::<u8>::new().try_reserve_exact(bytes).is_ok()
}

/// A `rows × cols` matrix of zeros, or [`Error::OutOfMemory`] naming `what` when its memory is
/// more than the system grants (or than an allocation can hold).
pub(crate) fn zeros<F: Clone + num_traits::Zero>(
    (rows, cols): (usize, usize),
    what: &str,
) -> Result<Array2<F>> {
    let refused = || Error::OutOfMemory(refusal::<F>(what, rows as f64 * cols as f64));
    let count = rows.checked_mul(cols).ok_or_else(refused)?;
    let mut values = Vec::new();
    values.try_reserve_exact(count).map_err(|_| refused())?;
    values.resize(count, F::zero());
    Ok(Array2::from_shape_vec((rows, cols), values).expect("rows × cols values"))
}

/// Fails with [`Error::OutOfMemory`] naming `what` unless the system grants `values` values of
/// type `F` ([`grants`]).
pub(crate) fn check_grants<F>(values: f64, what: &str) -> Result<()> {
    let bytes = values * size_of::<F>() as f64;
    match bytes < isize::MAX as f64 && grants(bytes as usize) {
        true => Ok(()),
        false => Err(Error::OutOfMemory(refusal::<F>(what, values))),
    }
}

/// "{what} would take X GiB, more memory than this system grants".
fn refusal<F>(what: &str, values: f64) -> String {
    let gib = values * size_of::<F>() as f64 / f64::from(1u32 << 30);
    format!("{what} would take {gib:.1} GiB, more memory than this system grants")
}

#[cfg(test)]
mod tests {
    use super::{check_grants, zeros};
    use crate::Error;

    #[test]
    fn a_matrix_larger_than_memory_is_an_error_naming_it() {
        let err = zeros::<f64>((1 << 30, 1 << 10), "the scores").unwrap_err();
        assert!(matches!(err, Error::OutOfMemory(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the scores would take 8192.0 GiB, more memory than this system grants"
        );
        // More values than an allocation can count.
        assert!(zeros::<f32>((usize::MAX, 2), "x").is_err());
        assert!(check_grants::<f32>(1e20, "y").is_err());
    }

    #[test]
    fn a_small_matrix_is_zeros_and_a_small_request_is_granted() {
        assert_eq!(zeros::<f32>((2, 3), "z").unwrap(), ndarray::Array2::<f32>::zeros((2, 3)));
        check_grants::<f64>(1e6, "w").unwrap();
    }
}
