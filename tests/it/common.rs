//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ndarray::{Array2, ArrayView2};
use serde::Deserialize;
use softmax::Float;

/// The folder of committed fixtures (made by `tests/fixtures/make_fixtures.py`).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Normwise relative difference: max |a − b| / max |b| (absolute when b is all zero).
pub fn relative_difference<F: Float>(a: ArrayView2<F>, b: ArrayView2<F>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "shapes differ");
    let diff = a.iter().zip(b).map(|(x, y)| (*x - *y).abs().as_f64()).fold(0.0, f64::max);
    let scale = b.iter().map(|y| y.abs().as_f64()).fold(0.0, f64::max);
    if scale == 0.0 { diff } else { diff / scale }
}

/// |a − b| / |b| for scalars (absolute when b is 0).
pub fn relative_scalar_difference(a: f64, b: f64) -> f64 {
    if b == 0.0 { (a - b).abs() } else { (a - b).abs() / b.abs() }
}

/// `reference.json`: a small problem and NumPy's losses and gradients for it.
#[derive(Deserialize)]
pub struct Reference {
    pub weights: Vec<Vec<f64>>,
    pub inputs: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    pub reg: f64,
    pub cases: Vec<ReferenceCase>,
    pub zero_weights: ZeroWeights,
}

#[derive(Deserialize)]
pub struct ReferenceCase {
    pub loss: String,
    pub reg_convention: String,
    pub loss_value: f64,
    pub grad: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
pub struct ZeroWeights {
    pub loss_softmax: f64,
    pub grad_softmax: Vec<Vec<f64>>,
}

pub fn reference() -> Reference {
    let text = std::fs::read_to_string(fixture("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid reference.json")
}

pub fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let n_columns = rows[0].len();
    Array2::from_shape_fn((rows.len(), n_columns), |(i, j)| rows[i][j])
}

/// Runs the `softmax` binary with `args`.
pub fn softmax(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softmax")).args(args).output().expect("runs")
}

/// Runs a command that must succeed and returns its stdout as JSON.
pub fn json(args: &[&str]) -> serde_json::Value {
    let out = softmax(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Runs a command that must fail cleanly (exit 1, or 2 for a usage error; no panic, nothing on
/// stdout) and returns its stderr.
pub fn failure(args: &[&str]) -> String {
    let out = softmax(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(matches!(out.status.code(), Some(1 | 2)), "{args:?} should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout on failure");
    stderr
}

/// A path as a command-line argument.
pub fn text(path: &Path) -> String {
    path.display().to_string()
}

/// Writes a 1-D `.npy` array as `np.save` does (format 1.0, header padded to 64 bytes): `n`
/// elements of `descr` (e.g. `<i8`, `<f8`) given as their little-endian `data` bytes.
pub fn write_npy_vector(path: &Path, descr: &str, n: usize, data: &[u8]) {
    write_npy(path, descr, &format!("({n},)"), data);
}

/// [`write_npy_vector`] for any shape, written as NumPy writes it (`(3, 2)`, `(3,)`).
pub fn write_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

/// Checks that the page's per-class table holds the precision, recall and support of `eval`'s
/// output `evaluation`.
pub fn assert_per_class_rows(html: &str, evaluation: &serde_json::Value) {
    for class in evaluation["per_class"].as_array().unwrap() {
        let row = format!(
            "<tr><th>{}</th><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            class["class"].as_str().unwrap(),
            class["precision"].as_f64().unwrap(),
            class["recall"].as_f64().unwrap(),
            class["support"]
        );
        assert!(html.contains(&row), "{row}");
    }
}
