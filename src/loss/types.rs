//! The words every kernel shares: which [`Loss`], what a kernel returns ([`KernelResult`]).

use ndarray::Array2;

use crate::Float;

use crate::names::named_enum;

named_enum! {
    "loss",
    /// Which loss to compute.
    pub enum Loss {
        /// Cross-entropy of the softmax probabilities (multinomial logistic regression).
        #[default]
        Softmax = "softmax",
        /// Multiclass hinge loss with margin 1 (Weston–Watkins, as in CS231n).
        Svm = "svm",
    }
}

/// The loss and its gradient with respect to the weights, in the weights' layout. The loss is
/// in the weights' type `F` (the public functions' results) or, inside the crate, `L` = f64:
/// the kernels sum their losses in f64, and L-BFGS in float32 needs that precision (a float32
/// loss moves in steps of 1.2e-7 relative, coarser than the last iterations' decrease).
#[derive(Clone, Debug, PartialEq)]
pub struct LossAndGrad<F, L = F> {
    pub loss: L,
    pub grad: Array2<F>,
}

impl<F: Float> LossAndGrad<F, f64> {
    /// The loss rounded to `F`: what the public functions return.
    pub fn rounded(self) -> LossAndGrad<F> {
        LossAndGrad { loss: F::of(self.loss), grad: self.grad }
    }
}

/// A loss (f64) and gradient as the kernels compute them (see [`LossAndGrad`]).
pub(crate) type Precise<F> = LossAndGrad<F, f64>;

/// What a kernel returns: the mean data loss and its gradient (C×D), or the first sample whose
/// scores are not finite.
pub type KernelResult<F> = std::result::Result<Precise<F>, NonFiniteScores>;

/// A sample whose scores came out NaN or infinite. [`loss_and_grad`](super::loss_and_grad)
/// turns it into an error that names the cause (a NaN or infinity in that input row, or an
/// overflow).
#[derive(Debug)]
pub struct NonFiniteScores {
    pub sample: usize,
}
