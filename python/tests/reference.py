"""An independent NumPy implementation of the losses (CS231n's vectorized formulas), the layouts
the package accepts, the problems the tests run on, and centered differences of our loss."""

import numpy as np
import softmax

LAYOUTS = ["canonical", "seed", "cs231n"]
CONVENTIONS = ["half", "full"]
LOSSES = ["softmax", "svm"]
KERNELS = ["auto", "naive", "vectorized", "fused", "gemm", "sparse"]


def problem(n=7, d=5, c=4, seed=0):
    """A random problem in the canonical layout: W (C×D), X (N×D), y (N labels in 0..C-1)."""
    rng = np.random.default_rng(seed)
    W = 0.5 * rng.standard_normal((c, d))
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, size=n)
    return W, X, y


def penalty(W, reg, convention):
    """(reg_loss, reg_grad) of the L2 penalty in a convention."""
    factor = {"half": 0.5, "full": 1.0}[convention]
    return factor * reg * np.sum(W * W), 2.0 * factor * reg * W


def softmax_loss(W, X, y, reg, convention):
    """CS231n's softmax_loss_vectorized, in float64, W: C×D, X: N×D."""
    W, X = np.asarray(W, np.float64), np.asarray(X, np.float64)
    n = X.shape[0]
    scores = X @ W.T
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(n), y]).mean()
    dscores = probs
    dscores[np.arange(n), y] -= 1.0
    reg_loss, reg_grad = penalty(W, reg, convention)
    return loss + reg_loss, dscores.T @ X / n + reg_grad


def svm_loss(W, X, y, reg, convention):
    """CS231n's svm_loss_vectorized (margin 1), in float64, W: C×D, X: N×D."""
    W, X = np.asarray(W, np.float64), np.asarray(X, np.float64)
    n = X.shape[0]
    scores = X @ W.T
    correct = scores[np.arange(n), y][:, None]
    margins = np.maximum(0.0, scores - correct + 1.0)
    margins[np.arange(n), y] = 0.0
    positive = (margins > 0).astype(np.float64)
    positive[np.arange(n), y] = -positive.sum(axis=1)
    reg_loss, reg_grad = penalty(W, reg, convention)
    return margins.sum() / n + reg_loss, positive.T @ X / n + reg_grad


REFERENCE = {"softmax": softmax_loss, "svm": svm_loss}


def in_layout(W, X, layout):
    """Canonical W (C×D) and X (N×D) as the layout takes them."""
    return {"canonical": (W, X), "seed": (W, X.T), "cs231n": (W.T, X)}[layout]


def grad_to_canonical(grad, layout):
    """A gradient shaped as W in `layout`, back to C×D."""
    return grad.T if layout == "cs231n" else grad


def centered_difference(W, X, y, reg, index, h=1e-5, **options):
    """(L(W + h·e) − L(W − h·e)) / 2h at the coordinate `index` of W, L = loss_and_grad's loss."""
    plus, minus = W.copy(), W.copy()
    plus[index] += h
    minus[index] -= h
    loss = lambda weights: softmax.loss_and_grad(weights, X, y, reg, **options)[0]
    return (loss(plus) - loss(minus)) / (2 * h)
