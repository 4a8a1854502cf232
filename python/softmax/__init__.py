"""Linear softmax classifiers and the multiclass SVM, from the Rust library ``softmax``.

For learners, on NumPy arrays:

- ``loss_and_grad(W, X, y, reg, ...)``: the loss and its gradient, in three layouts (ours, the
  seed's and CS231n's) and both regularization conventions;
- ``grad_check(W, X, y, reg, ...)``: CS231n's ``grad_check_sparse`` on that loss;
- ``explain(...)``: the worked example of ``softmax explain``, every number of a tiny problem.

For practitioners (these need scikit-learn):

- ``SoftmaxClassifier``: a scikit-learn estimator that trains in the Rust library;
- ``load(path)``: a fitted ``SoftmaxClassifier`` from a model file of the command line.

The math runs in the Rust library, without the GIL; ``help(softmax.loss_and_grad)`` and
``help(softmax.SoftmaxClassifier)`` list the options.
"""

from softmax._softmax import Check, GradCheckReport, __version__, explain, grad_check, loss_and_grad

__all__ = [
    "Check",
    "GradCheckReport",
    "SoftmaxClassifier",
    "__version__",
    "explain",
    "grad_check",
    "load",
    "loss_and_grad",
]


def __getattr__(name):
    # The estimator imports scikit-learn: only when it is asked for, so that the learners'
    # functions need NumPy alone.
    if name in ("SoftmaxClassifier", "load"):
        from softmax import _classifier

        return getattr(_classifier, name)
    raise AttributeError(f"module 'softmax' has no attribute {name!r}")
