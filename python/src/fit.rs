//! `softmax._softmax.fit`: the library's [`softmax::fit::fit`] on NumPy arrays, for the
//! estimator (`softmax.SoftmaxClassifier`, which checks and encodes the labels first).
//!
//! Training runs on a thread of its own, in a rayon pool of `n_threads` workers, while the
//! calling thread waits without the GIL and, every 50 ms, lets Python handle its signals: on
//! Ctrl-C (a `KeyboardInterrupt`) it tells training to stop, which it does at the end of its
//! current iteration, and raises the `KeyboardInterrupt`. Progress lines (`verbose`) are printed
//! by the calling thread, with Python's `print`, so that notebooks show them.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration as WallTime;

use ndarray::Array2;
use numpy::{PyReadonlyArray2, PyUntypedArray};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use softmax::data::Dataset;
use softmax::fit::{FitOptions, Fitted};
use softmax::train::{Duration, Progress, TrainOptions};

use crate::arrays::{labels, read_as};
use crate::errors::{catch_panic, to_py};
use crate::model::Model;
use crate::options::{non_negative, parse};

/// The estimator's parameters, by the names of its constructor (a dict from `get_params`).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Params {
    reg: f64,
    reg_convention: String,
    loss: String,
    optimizer: String,
    learning_rate: Option<f64>,
    lr_decay: f64,
    batch_size: i128,
    epochs: Option<i128>,
    max_iter: Option<i128>,
    tol: f64,
    ftol: f64,
    preprocess: String,
    bias: String,
    kernel: String,
    dtype: String,
    init_scale: f64,
}

impl Params {
    /// The library's options, with `seed`; the library checks their ranges when it fits.
    fn fit_options(&self, seed: u64) -> PyResult<FitOptions> {
        let duration = match (self.max_iter, self.epochs) {
            (Some(_), Some(_)) => {
                return Err(to_py(softmax::Error::InvalidOption(
                    "give max_iter or epochs, not both".into(),
                )));
            }
            (Some(iterations), None) => {
                Some(Duration::Iterations(non_negative(iterations, "max_iter")?))
            }
            (None, Some(epochs)) => Some(Duration::Epochs(non_negative(epochs, "epochs")?)),
            (None, None) => None,
        };
        Ok(FitOptions {
            loss: parse(&self.loss)?,
            reg: self.reg,
            reg_convention: parse(&self.reg_convention)?,
            preprocess: parse(&self.preprocess)?,
            bias: parse(&self.bias)?,
            kernel: parse(&self.kernel)?,
            dtype: parse(&self.dtype)?,
            train: TrainOptions {
                optimizer: parse(&self.optimizer)?,
                learning_rate: self.learning_rate,
                lr_decay: self.lr_decay,
                duration,
                batch_size: non_negative(self.batch_size, "batch_size")?,
                patience: None,
                tolerance: self.tol,
                ftol: self.ftol,
                init_scale: self.init_scale,
                seed,
            },
        })
    }
}

/// How a fit went, besides the model.
#[pyclass(module = "softmax._softmax", frozen, get_all)]
pub struct FitResult {
    /// The trained model.
    model: Py<Model>,
    /// Iterations (L-BFGS) or minibatch steps.
    n_iter: usize,
    /// Full passes over the training set (loss and gradient evaluations).
    passes: f64,
    /// The objective at the end: weighted mean data loss + penalty.
    objective: f64,
    /// The fraction of the training set classified right.
    train_accuracy: f64,
    /// Why training stopped, in words.
    stop_reason: String,
    /// Seconds of preprocessing and training.
    seconds: f64,
}

/// What the training thread tells the waiting one.
enum Message {
    Line(String),
    Done(Box<PyResult<Fitted>>),
}

/// Trains a model on `X` (N x D) and `y` (N indices into `class_names`), the library's `fit`
/// with `params`. Internal: `SoftmaxClassifier.fit` checks its input and calls this.
#[pyfunction]
#[pyo3(signature = (X, y, class_names, params, *, feature_names = None, seed = 0, n_threads = None, verbose = 0))]
#[allow(non_snake_case, clippy::too_many_arguments)] // Python's names and keyword arguments
pub fn fit(
    py: Python<'_>,
    X: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    class_names: Vec<String>,
    params: Params,
    feature_names: Option<Vec<String>>,
    seed: i128,
    n_threads: Option<i128>,
    verbose: i128,
) -> PyResult<FitResult> {
    let options =
        params.fit_options(non_negative(seed, "random_state")?)?.check().map_err(to_py)?;
    let n_threads: usize = match n_threads {
        Some(n) if n >= 1 => non_negative(n, "n_threads")?,
        Some(n) => {
            return Err(to_py(softmax::Error::InvalidOption(format!(
                "n_threads must be at least 1, got {n}"
            ))));
        }
        None => 0, // rayon: one per core
    };
    let inputs = inputs_f32(X)?;
    let labels = labels(y, class_names.len())?;
    let dataset = Dataset { inputs, labels, class_names, feature_names, image_shape: None };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start {n_threads} threads: {e}")))?;

    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel();
    // In a mutex only so that the GIL-free wait can borrow it (a receiver is not `Sync`).
    let receiver = Mutex::new(receiver);
    let mut interrupt: Option<PyErr> = None;
    let fitted = std::thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || {
            let mut progress = |p: &Progress| {
                if verbose > 0 {
                    let line = format!(
                        "iteration {}/{}: loss {:.6}",
                        p.iteration, p.total_iterations, p.loss
                    );
                    let _ = sender.send(Message::Line(line));
                }
                match stop.load(Ordering::Relaxed) {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                }
            };
            let result = catch_panic(|| {
                pool.install(|| softmax::fit::fit(dataset, None, &options, &mut progress))
            });
            let _ = sender.send(Message::Done(Box::new(result)));
        });
        loop {
            let wait = WallTime::from_millis(50);
            match py.detach(|| receiver.lock().expect("not poisoned").recv_timeout(wait)) {
                Ok(Message::Done(result)) => break *result,
                Ok(Message::Line(line)) => {
                    py.import("builtins")?.getattr("print")?.call1((line,))?;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(PyRuntimeError::new_err(
                        "the training thread ended without a result",
                    ));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(err) = py.check_signals() {
                        stop.store(true, Ordering::Relaxed);
                        interrupt.get_or_insert(err);
                    }
                }
            }
        }
    });
    if let Some(err) = interrupt {
        return Err(err);
    }
    let fitted = fitted?;
    Ok(FitResult {
        model: Py::new(py, Model { inner: fitted.model })?,
        n_iter: fitted.iterations,
        passes: fitted.passes,
        objective: fitted.objective,
        train_accuracy: fitted.train_accuracy,
        stop_reason: fitted.stop_reason,
        seconds: fitted.seconds,
    })
}

/// X as the library's data sets hold it: float32, N x D, in a new array.
fn inputs_f32(x: &Bound<'_, PyAny>) -> PyResult<Array2<f32>> {
    let array = x.cast::<PyUntypedArray>()?;
    let inputs: PyReadonlyArray2<f32> = read_as(array)?;
    Ok(inputs.as_array().to_owned())
}
