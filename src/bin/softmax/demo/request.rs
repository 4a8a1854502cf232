//! Reading the JSON API's requests: parsing, shapes, limits, and the errors that become a
//! `400 {"error": "..."}` answer.

use axum::http::StatusCode;
use ndarray::{Array1, Array2};
use serde::de::DeserializeOwned;
use softmax::{Loss, RegConvention};

/// A request the server refuses: its status and a message naming the problem.
#[derive(Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    /// A 400 Bad Request with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

impl From<softmax::Error> for ApiError {
    /// The library refuses only what the request holds (shapes, labels, values, options).
    fn from(err: softmax::Error) -> Self {
        ApiError::bad_request(err.to_string())
    }
}

/// The request body parsed as `T`: malformed JSON, a missing or unknown field, a wrong type and
/// a number out of f64's range are all 400s. (JSON has no NaN or infinity.)
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("malformed request: {err}")))
}

/// Refuses `count` above `max` for the thing `what` counts.
pub fn at_most(what: &str, count: usize, max: usize) -> Result<(), ApiError> {
    match count > max {
        true => {
            Err(ApiError::bad_request(format!("{what}: {count} is more than the limit, {max}")))
        }
        false => Ok(()),
    }
}

/// Refuses a count outside `1..=max`.
pub fn between_one_and(what: &str, count: usize, max: usize) -> Result<(), ApiError> {
    match count {
        0 => Err(ApiError::bad_request(format!("{what} must be at least 1"))),
        _ => at_most(what, count, max),
    }
}

/// A matrix from its rows: rectangular, at most `max_values` entries, every one finite.
pub fn matrix(name: &str, rows: &[Vec<f64>], max_values: usize) -> Result<Array2<f64>, ApiError> {
    let n_columns = rows.first().map_or(0, Vec::len);
    at_most(
        &format!("{name}: the number of values"),
        rows.len().saturating_mul(n_columns),
        max_values,
    )?;
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != n_columns) {
        return Err(ApiError::bad_request(format!(
            "{name}: row {i} has {} values, row 0 has {n_columns}: rows must be equally long",
            row.len()
        )));
    }
    let values: Vec<f64> = rows.iter().flatten().copied().collect();
    finite(name, &values)?;
    Ok(Array2::from_shape_vec((rows.len(), n_columns), values).expect("rows × columns values"))
}

/// A vector of `len` finite values.
pub fn vector(name: &str, values: &[f64], len: usize) -> Result<Array1<f64>, ApiError> {
    if values.len() != len {
        return Err(ApiError::bad_request(format!(
            "{name}: {} values, expected {len}",
            values.len()
        )));
    }
    finite(name, values)?;
    Ok(Array1::from(values.to_vec()))
}

/// Refuses a value that is not finite (serde_json turns none into NaN, but a computation might).
fn finite(name: &str, values: &[f64]) -> Result<(), ApiError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(ApiError::bad_request(format!("{name}: value {i} is not finite"))),
        None => Ok(()),
    }
}

/// The default loss name of a request.
pub fn softmax_name() -> String {
    Loss::Softmax.name().to_string()
}

/// The default regularization convention name of a request.
pub fn half_name() -> String {
    RegConvention::Half.name().to_string()
}

/// The loss and its penalty, checked: a known loss and convention, `reg` finite and ≥ 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Terms {
    pub loss: Loss,
    pub reg: f64,
    pub reg_convention: RegConvention,
}

/// The loss and penalty named in a request (`loss`, `reg`, `reg_convention`), checked.
pub fn terms(loss: &str, reg: f64, reg_convention: &str) -> Result<Terms, ApiError> {
    softmax::loss::check_reg(reg)?;
    Ok(Terms { loss: loss.parse()?, reg, reg_convention: reg_convention.parse()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_must_be_rectangular_small_and_finite() {
        let rows = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        assert_eq!(matrix("W", &rows, 4).unwrap(), ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        let err = matrix("W", &rows, 3).unwrap_err();
        assert_eq!(err.message, "W: the number of values: 4 is more than the limit, 3");
        let ragged = vec![vec![1.0, 2.0], vec![3.0]];
        let err = matrix("X", &ragged, 10).unwrap_err();
        assert!(err.message.contains("row 1 has 1 values, row 0 has 2"), "{}", err.message);
        let err = matrix("X", &[vec![1.0, f64::INFINITY]], 10).unwrap_err();
        assert_eq!(err.message, "X: value 1 is not finite");
        assert_eq!(matrix("X", &[], 10).unwrap().dim(), (0, 0));
    }

    #[test]
    fn vectors_have_their_length() {
        assert_eq!(vector("b", &[1.0, 2.0], 2).unwrap(), ndarray::array![1.0, 2.0]);
        assert_eq!(vector("b", &[1.0], 2).unwrap_err().message, "b: 1 values, expected 2");
    }

    #[test]
    fn bad_json_and_numbers_out_of_range_are_400s() {
        for body in ["{", "[1, 2]", r#"{"reg": NaN}"#, r#"{"reg": 1e999}"#, r#"{"reg": "0.1"}"#] {
            let err =
                parse::<std::collections::BTreeMap<String, f64>>(body.as_bytes()).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(err.message.starts_with("malformed request: "), "{body}: {}", err.message);
        }
    }

    #[test]
    fn loss_terms_are_checked() {
        assert_eq!(
            terms("hinge", 0.0, "half").unwrap_err().message,
            "invalid option: unknown loss 'hinge': expected one of softmax, svm"
        );
        assert!(terms("softmax", 0.0, "third").unwrap_err().message.contains("third"));
        assert!(terms("softmax", -1.0, "half").unwrap_err().message.contains("reg"));
        let full = Terms { loss: Loss::Svm, reg: 0.5, reg_convention: RegConvention::Full };
        assert_eq!(terms("svm", 0.5, "full").unwrap(), full);
        assert_eq!(terms(&softmax_name(), 0.0, &half_name()).unwrap().loss, Loss::Softmax);
    }
}
