//! The words every kernel shares: which [`Loss`], what a kernel returns ([`KernelResult`]).

use ndarray::Array2;

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

/// The loss and its gradient with respect to the weights, in the weights' layout.
#[derive(Clone, Debug, PartialEq)]
pub struct LossAndGrad<F> {
    pub loss: F,
    pub grad: Array2<F>,
}

/// What a kernel returns: the mean data loss and its gradient (C×D), or the first sample whose
/// scores are not finite.
pub type KernelResult<F> = std::result::Result<LossAndGrad<F>, NonFiniteScores>;

/// A sample whose scores came out NaN or infinite. [`loss_and_grad`](super::loss_and_grad)
/// turns it into an error that names the cause (a NaN or infinity in that input row, or an
/// overflow).
#[derive(Debug)]
pub struct NonFiniteScores {
    pub sample: usize,
}
