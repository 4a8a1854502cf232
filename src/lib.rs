//! # softmax
//!
//! Linear softmax classifiers (multinomial logistic regression) and their multiclass-SVM
//! sibling, built around the question CS231n's first assignment asks: *how do you compute the
//! gradient of the softmax loss?*
//!
//! For weights W (C×D), a sample x_i (D) with label y_i and scores f = W x_i:
//! p_j = e^{f_j} / Σ_k e^{f_k}, L_i = −log p_{y_i}, and row j of ∂L_i/∂W is
//! (p_j − 1{j = y_i}) x_i. The [`loss`] module states the math and holds five kernels that
//! compute it (a naive loop version that mirrors the course's code, a vectorized one, a fused
//! parallel one, its matrix-product variant for many classes and its sparse-input twin);
//! [`gradcheck`] checks any of them against centered differences, and [`explain`] prints a
//! worked example with every intermediate number.
//!
//! Training on real data flows one way: [`data`] loads a source into a [`data::Dataset`],
//! [`preprocess`] fits the feature scaling on the training split, [`train`] minimizes the
//! regularized loss (SGD, momentum, Nesterov, Adam or L-BFGS), and [`fit`] packages the result as
//! a [`model::Model`] that predicts, saves to a safetensors file Python can read, and is judged by
//! [`metrics`]; [`tune`] grid-searches the learning rate and regularization on data preprocessed
//! once; [`plot`] and [`report`] draw it.
//!
//! ```
//! use std::ops::ControlFlow;
//!
//! use softmax::data::{DataSpec, LoadOptions, load};
//! use softmax::fit::{FitOptions, fit};
//!
//! let splits = load(&DataSpec::Digits, &LoadOptions::default())?; // the embedded 8×8 digits
//! let options = FitOptions::default().check()?; // every option checked once, here
//! // The progress callback sees every iteration; `ControlFlow::Break(())` stops training.
//! let fitted = fit(splits.train, splits.validation, &options, &mut |_| ControlFlow::Continue(()))?;
//! let test = splits.test.as_ref().expect("digits has a test split");
//! let predicted = fitted.model.predict(test.inputs.view())?;
//! assert!(softmax::metrics::accuracy(&predicted, &test.labels) > 0.95);
//! # Ok::<(), softmax::Error>(())
//! ```
//!
//! ```
//! use ndarray::array;
//! use softmax::{loss_and_grad, Kernel, LossOptions, RegConvention};
//!
//! let weights = array![[0.2f64, -0.5], [1.5, 1.3], [0.0, 0.25]]; // C = 3 classes, D = 2 features
//! let inputs = array![[1.0, 2.0], [-1.0, 0.5]]; // N = 2 samples
//! let labels = [2, 0];
//! let options = LossOptions { reg: 0.1, reg_convention: RegConvention::Half, ..Default::default() };
//! let fast = loss_and_grad(weights.view(), inputs.view(), &labels, &options)?;
//! let naive = loss_and_grad(
//!     weights.view(), inputs.view(), &labels,
//!     &LossOptions { kernel: Kernel::Naive, ..options },
//! )?;
//! assert!((fast.loss - naive.loss).abs() < 1e-12);
//! # Ok::<(), softmax::Error>(())
//! ```
//!
//! Conventions: W is C×D (class-major), X is N×D (samples as rows), labels are `0..C`. Other
//! layouts are accepted through [`Layout`]. The L2 penalty comes in two named conventions,
//! [`RegConvention::Half`] (½·reg·ΣW², the default) and [`RegConvention::Full`] (reg·ΣW²).

pub mod atomic;
pub mod bench;
pub mod class_weight;
pub mod data;
pub mod distributed;
pub mod error;
pub mod explain;
pub mod fit;
pub mod float;
pub mod gradcheck;
pub mod loss;
pub mod mapped;
mod memory;
pub mod metrics;
pub mod model;
mod names;
pub mod npy;
#[cfg(feature = "plot")]
pub mod plot;
pub mod preprocess;
#[cfg(feature = "plot")]
pub mod report;
pub mod synthetic;
pub mod train;
pub mod tune;

pub use error::{Error, LossPart, Result};
pub use float::Float;
pub use loss::{
    Isa, Kernel, Layout, Loss, LossAndGrad, LossOptions, RegConvention, SampleWeights,
    loss_and_grad, loss_and_grad_picked, loss_and_grad_sparse, loss_and_grad_weighted,
};

/// The most worker threads a pool may be given (the command line's `--threads`, the Python
/// package's `n_threads`). Results are the same on any number of threads, so workers beyond the
/// cores only wait their turn, and each costs a stack and a share of every parallel loop's
/// scheduling: thousands of them slow a pass by orders of magnitude (on 2 cores, a small CSV fit
/// took 0.04 s on 256 threads and more than 15 s on 2,000). 1024 is more than the hardware threads of the largest
/// machines.
pub const MAX_THREADS: usize = 1024;

/// The README's Rust example, compiled and run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
