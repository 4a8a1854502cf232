"""Label smoothing: softmax.loss_and_grad and grad_check take ``label_smoothing``, checked
against a NumPy reference; SoftmaxClassifier(label_smoothing=...) trains with it and keeps it in
the model file."""

import numpy as np
import pytest
import softmax
from reference import KERNELS, problem
from softmax import SoftmaxClassifier


def smoothed_softmax_loss(W, X, y, eps):
    """Cross-entropy against q = (1 - eps) * onehot(y) + eps / C, and its gradient (p - q)^T X / N,
    in float64 (no regularization)."""
    n, c = X.shape[0], W.shape[0]
    scores = X @ W.T
    scores -= scores.max(axis=1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    q = np.full((n, c), eps / c)
    q[np.arange(n), y] += 1.0 - eps
    return -(q * log_p).sum() / n, (np.exp(log_p) - q).T @ X / n


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy_reference(kernel, dtype):
    W, X, y = problem(n=30, d=6, c=5, seed=2)
    expected_loss, expected_grad = smoothed_softmax_loss(W, X, y, 0.2)
    loss, grad = softmax.loss_and_grad(
        W.astype(dtype), X.astype(dtype), y, 0.0, kernel=kernel, label_smoothing=0.2
    )
    tolerance = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10)
    np.testing.assert_allclose(loss, expected_loss, **tolerance)
    np.testing.assert_allclose(grad, expected_grad, **tolerance)


def test_grad_check_and_refusals():
    W, X, y = problem(n=20, d=5, c=4, seed=3)
    report = softmax.grad_check(W, X, y, 0.1, label_smoothing=0.3, num_checks=20)
    assert report.max_relative_error < 1e-7
    with pytest.raises(ValueError, match=r"label smoothing must be in \[0, 1\)"):
        softmax.loss_and_grad(W, X, y, 0.0, label_smoothing=1.0)
    with pytest.raises(ValueError, match="softmax loss only"):
        softmax.loss_and_grad(W, X, y, 0.0, loss="svm", label_smoothing=0.1)


def test_classifier_trains_with_smoothing_and_keeps_it(tmp_path):
    # Three separable points: with smoothing the optimum's probability of the true class is
    # 1 - eps + eps / C, not 1.
    X = np.array([[4.0, 0.0], [-4.0, 4.0], [-4.0, -4.0]] * 10)
    y = np.array([0, 1, 2] * 10)
    clf = SoftmaxClassifier(reg=0.0, label_smoothing=0.1).fit(X, y)
    assert clf.get_params()["label_smoothing"] == 0.1
    np.testing.assert_allclose(clf.predict_proba(X)[np.arange(30), y], 0.9 + 0.1 / 3, atol=1e-4)
    path = tmp_path / "smoothed.safetensors"
    clf.save(path)
    assert softmax.load(path).get_params()["label_smoothing"] == 0.1
    with pytest.raises(ValueError, match="softmax loss only"):
        SoftmaxClassifier(loss="svm", label_smoothing=0.1).fit(X, y)
