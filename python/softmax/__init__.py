"""The softmax and multiclass SVM losses on NumPy arrays, from the Rust library ``softmax``.

- ``loss_and_grad(W, X, y, reg, ...)``: the loss and its gradient, in three layouts (ours, the
  seed's and CS231n's) and both regularization conventions;
- ``grad_check(W, X, y, reg, ...)``: CS231n's ``grad_check_sparse`` on that loss;
- ``explain(...)``: the worked example of ``softmax explain``, every number of a tiny problem.

The math runs in the Rust library, without the GIL; ``help(softmax.loss_and_grad)`` lists the
options.
"""

from softmax._softmax import Check, GradCheckReport, __version__, explain, grad_check, loss_and_grad

__all__ = ["Check", "GradCheckReport", "__version__", "explain", "grad_check", "loss_and_grad"]
