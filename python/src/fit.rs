//! `softmax._softmax.fit`: the library's [`softmax::fit::fit`] on NumPy arrays,
//! [`softmax::fit::fit_sparse`] on a SciPy CSR matrix's arrays (never made dense), or
//! [`softmax::fit::fit_mapped`] on a `.npy` file that NumPy maps whole (never copied), for the
//! estimator (`softmax.SoftmaxClassifier`, which checks and encodes the labels first).
//!
//! Training runs on a thread of its own, in a rayon pool of `n_threads` workers, while the
//! calling thread waits without the GIL and, every 50 ms, lets Python handle its signals: on
//! Ctrl-C (a `KeyboardInterrupt`) it tells training to stop, which it does at the end of its
//! current iteration, and raises the `KeyboardInterrupt`. Progress lines (`verbose`) are printed
//! by the calling thread, with Python's `print`, so that notebooks show them.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration as WallTime;

use numpy::{PyReadonlyArray1, PyUntypedArray};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use softmax::class_weight::ClassWeight;
use softmax::data::{Dataset, MappedDataset};
use softmax::fit::{self as library, FitOptions, Fitted, SparseDataset};
use softmax::loss::sparse::SparseRows;
use softmax::mapped::MappedMatrix;
use softmax::train::{Duration, Progress, TrainOptions};

use crate::arrays::{inputs_f32, labels, read_as};
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
    precondition: String,
    preprocess: String,
    bias: String,
    kernel: String,
    dtype: String,
    init_scale: f64,
    label_smoothing: f64,
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
            class_weight: ClassWeight::None,
            label_smoothing: self.label_smoothing,
            top_k: None,
            train: TrainOptions {
                optimizer: parse(&self.optimizer)?,
                learning_rate: self.learning_rate,
                lr_decay: self.lr_decay,
                duration,
                batch_size: non_negative(self.batch_size, "batch_size")?,
                patience: None,
                tolerance: self.tol,
                ftol: self.ftol,
                precondition: parse(&self.precondition)?,
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
#[pyo3(signature = (
    X, y, class_names, params, *, sample_weight = None, class_weight = None, feature_names = None,
    seed = 0, n_threads = None, verbose = 0
))]
#[allow(non_snake_case, clippy::too_many_arguments)] // Python's names and keyword arguments
pub fn fit(
    py: Python<'_>,
    X: Features<'_>,
    y: &Bound<'_, PyAny>,
    class_names: Vec<String>,
    params: Params,
    sample_weight: Option<&Bound<'_, PyAny>>,
    class_weight: Option<ClassWeightParam>,
    feature_names: Option<Vec<String>>,
    seed: i128,
    n_threads: Option<i128>,
    verbose: i128,
) -> PyResult<FitResult> {
    let mut options = params.fit_options(non_negative(seed, "random_state")?)?;
    options.class_weight = match class_weight {
        Some(class_weight) => class_weight.into_option()?,
        None => ClassWeight::None,
    };
    let options = options.check().map_err(to_py)?;
    let n_threads: usize = match n_threads {
        None => 0, // rayon: one per core
        Some(n) if n < 1 => {
            return Err(to_py(softmax::Error::InvalidOption(format!(
                "n_threads must be at least 1, got {n}"
            ))));
        }
        Some(n) if n > softmax::MAX_THREADS as i128 => {
            return Err(to_py(softmax::Error::InvalidOption(format!(
                "n_threads must be at most {} (results are the same on any number of threads; \
                 more than the cores only slows them), got {n}",
                softmax::MAX_THREADS
            ))));
        }
        Some(n) => non_negative(n, "n_threads")?,
    };
    let labels = labels(y, class_names.len())?;
    let sample_weights = sample_weight.map(as_vec::<f64>).transpose()?;
    let train_set = match X {
        Features::Csr(csr) => TrainSet::Sparse(SparseDataset {
            inputs: csr.rows()?,
            labels,
            sample_weights,
            class_names,
            feature_names,
        }),
        Features::Npy(file) => {
            TrainSet::Mapped(file.dataset(labels, sample_weights, class_names)?)
        }
        Features::Dense(x) => TrainSet::Dense(Dataset {
            inputs: inputs_f32(&x)?,
            labels,
            sample_weights,
            class_names,
            feature_names,
            image_shape: None,
        }),
    };
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
            // L-BFGS reports every evaluation, line-search ones too: each iteration's line is
            // printed once the next one starts, with its last (accepted) loss.
            let mut pending: Option<String> = None;
            let mut progress = |p: &Progress| {
                if verbose > 0 {
                    let prefix = format!("iteration {}/{}:", p.iteration, p.total_iterations);
                    if let Some(line) = pending.take_if(|line| !line.starts_with(&prefix)) {
                        let _ = sender.send(Message::Line(line));
                    }
                    pending = Some(format!("{prefix} loss {:.6}", p.loss));
                }
                match stop.load(Ordering::Relaxed) {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                }
            };
            let result = catch_panic(|| {
                pool.install(|| match train_set {
                    TrainSet::Dense(data) => library::fit(data, None, &options, &mut progress),
                    TrainSet::Sparse(data) => library::fit_sparse(data, &options, &mut progress),
                    TrainSet::Mapped(data) => {
                        library::fit_mapped(data, None, &options, &mut progress)
                    }
                })
            });
            if let Some(line) = pending {
                let _ = sender.send(Message::Line(line));
            }
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

/// X as the estimator passes it: a `.npy` file that `np.load(path, mmap_mode="r")` mapped whole
/// `(path, n_samples, n_features)`, a CSR matrix's arrays `(indptr, indices, data, n_features)`,
/// or a dense array.
#[derive(FromPyObject)]
pub enum Features<'py> {
    Npy(NpyFile),
    Csr(Csr<'py>),
    Dense(Bound<'py, PyAny>),
}

/// A `.npy` file of X, and the shape NumPy mapped it with.
#[derive(FromPyObject)]
pub struct NpyFile(PathBuf, usize, usize);

impl NpyFile {
    /// The file mapped again by the library, its rows read where they lie as training reads
    /// an `npy:` source's; refused naming the file if it is no longer the shape NumPy mapped.
    fn dataset(
        self,
        labels: Vec<usize>,
        sample_weights: Option<Vec<f64>>,
        class_names: Vec<String>,
    ) -> PyResult<MappedDataset> {
        let NpyFile(path, n_samples, n_features) = self;
        let inputs = MappedMatrix::open(&path).map_err(to_py)?;
        if inputs.dim() != (n_samples, n_features) {
            let (rows, columns) = inputs.dim();
            return Err(to_py(softmax::Error::file(
                &path,
                format!(
                    "{rows} x {columns} now, {n_samples} x {n_features} when NumPy mapped it: \
                     it changed"
                ),
            )));
        }
        Ok(MappedDataset {
            inputs: Arc::new(inputs),
            rows: None,
            labels,
            sample_weights,
            class_names,
        })
    }
}

/// SciPy's CSR arrays, in canonical form (the estimator calls `sum_duplicates`).
#[derive(FromPyObject)]
pub struct Csr<'py>(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, usize);

impl Csr<'_> {
    /// The rows, checked by the library ([`SparseRows::from_csr`]).
    fn rows(&self) -> PyResult<SparseRows<f64>> {
        let Csr(indptr, indices, data, n_features) = self;
        let row_starts = as_vec::<i64>(indptr)?
            .into_iter()
            .map(|offset| non_negative::<usize>(offset.into(), "a CSR row offset"))
            .collect::<PyResult<Vec<_>>>()?;
        let columns = as_vec::<i64>(indices)?
            .into_iter()
            .map(|column| non_negative::<u32>(column.into(), "a CSR column index"))
            .collect::<PyResult<Vec<_>>>()?;
        SparseRows::from_csr(*n_features, row_starts, columns, as_vec::<f64>(data)?).map_err(to_py)
    }
}

/// A 1-D array-like as a vector of `T` (converted by NumPy).
fn as_vec<T: numpy::Element + Copy>(values: &Bound<'_, PyAny>) -> PyResult<Vec<T>> {
    let numpy = values.py().import("numpy")?;
    let array = numpy.call_method1("asarray", (values, numpy::dtype::<T>(values.py())))?;
    let values: PyReadonlyArray1<T> = read_as(array.cast::<PyUntypedArray>()?)?;
    Ok(values.as_array().to_vec())
}

/// The training set in any of its forms.
enum TrainSet {
    Dense(Dataset),
    Sparse(SparseDataset),
    Mapped(MappedDataset),
}

/// `class_weight` as the estimator passes it: "balanced" or one weight per class.
#[derive(FromPyObject)]
pub enum ClassWeightParam {
    #[pyo3(transparent)]
    Named(String),
    #[pyo3(transparent)]
    PerClass(Vec<f64>),
}

impl ClassWeightParam {
    /// The library's option: "balanced" is the only name.
    fn into_option(self) -> PyResult<ClassWeight> {
        match self {
            ClassWeightParam::PerClass(weights) => Ok(ClassWeight::PerClass(weights)),
            ClassWeightParam::Named(name) if name == "balanced" => Ok(ClassWeight::Balanced),
            ClassWeightParam::Named(name) => Err(to_py(softmax::Error::InvalidOption(format!(
                "class_weight must be None, 'balanced' or a dict, got '{name}'"
            )))),
        }
    }
}
