"""Bad input raises TypeError or ValueError with the library's message, never a crash."""

import subprocess

import numpy as np
import pytest
import softmax
from reference import problem

W, X, y = problem(n=5, d=4, c=3, seed=11)


def with_value(array, index, value):
    array = array.copy()
    array[index] = value
    return array


VALUE_ERRORS = [
    # (arguments, keyword arguments, the library's message)
    ((W, X[:, :3], y, 0.1), {},
     "weights and inputs disagree on the number of features: weights are [3, 4] (D = 4), "
     "inputs are [5, 3] (D = 3) in the canonical layout (W: C×D, X: N×D)"),
    ((W, X, y, 0.1), {"layout": "cs231n"},
     "weights and inputs disagree on the number of features: weights are [3, 4] (D = 3), "
     "inputs are [5, 4] (D = 4) in the cs231n layout (W: D×C, X: N×D)"),
    ((W, X, y[:4], 0.1), {}, "4 labels for 5 samples: every sample needs exactly one label"),
    ((W, X, with_value(y, 2, 3), 0.1), {},
     "label 3 at index 2 is out of range: with 3 classes labels must be 0..=2"),
    ((W, X, with_value(y, 1, -1), 0.1), {},
     "label -1 at index 1 is out of range: with 3 classes labels must be 0..=2"),
    ((W, with_value(X, (3, 2), np.nan), y, 0.1), {},
     "inputs contain NaN at sample 3, feature 2: every value must be finite"),
    ((with_value(W, (0, 1), -np.inf), X, y, 0.1), {},
     "weights contain -inf at class 0, feature 1: every value must be finite"),
    ((W, X, y, -1.0), {}, "invalid option: reg must be finite and >= 0, got -1"),
    ((W, X, y, float("nan")), {}, "invalid option: reg must be finite and >= 0, got NaN"),
    ((W, X[:0], y[:0], 0.1), {}, "inputs have no samples (N = 0)"),
    ((W, X, y, 0.1), {"loss": "logistic"},
     "invalid option: unknown loss 'logistic': expected one of softmax, svm"),
    ((W, X, y, 0.1), {"reg_convention": "double"},
     "invalid option: unknown regularization convention 'double': expected one of half, full"),
    ((W, X, y, 0.1), {"layout": "rows"},
     "invalid option: unknown layout 'rows': expected one of canonical, seed, cs231n"),
    ((W, X, y, 0.1), {"kernel": "blas"},
     "invalid option: unknown kernel 'blas': expected one of naive, vectorized, fused, gemm, "
     "sparse, auto"),
    ((W[0], X, y, 0.1), {}, "W must be a 2-D array, got shape (4,)"),
    ((W, X[None], y, 0.1), {}, "X must be a 2-D array, got shape (1, 5, 4)"),
    ((W, X, y[:, None], 0.1), {}, "y must be a 1-D array, got shape (5, 1)"),
    ((W, 3.0, y, 0.1), {}, "X must be a 2-D array, got shape ()"),
]


@pytest.mark.parametrize("args, kwargs, message", VALUE_ERRORS)
def test_bad_values_raise_value_error_with_the_library_message(args, kwargs, message):
    with pytest.raises(ValueError) as raised:
        softmax.loss_and_grad(*args, **kwargs)
    assert str(raised.value) == message
    with pytest.raises(ValueError) as raised:  # grad_check checks the same way
        softmax.grad_check(*args, **kwargs)
    assert str(raised.value) == message


def test_overflowing_scores():
    huge = np.full((3, 4), 1e20, np.float32)
    with pytest.raises(ValueError) as raised:
        softmax.loss_and_grad(huge, huge[:1].repeat(5, axis=0), y, 0.0)
    assert str(raised.value) == (
        "the scores of sample 0 overflow float32: the weights or inputs are too large "
        "(try float64 or scaled inputs)"
    )
    # In float64 (and so in grad_check) the same numbers are fine.
    assert np.isfinite(softmax.loss_and_grad(huge.astype(np.float64), huge[:1].repeat(5, 0), y, 0)[0])


TYPE_ERRORS = [
    ((np.array([["a", "b"]]), X, y, 0.1), "W must be an array of real numbers, got dtype <U1"),
    ((W, X.astype(np.complex128), y, 0.1),
     "X must be an array of real numbers, got dtype complex128"),
    ((None, X, y, 0.1), "W must be an array of real numbers, got dtype object"),
    ((W, X, y.astype(np.float64), 0.1), "y must be an array of integer labels, got dtype float64"),
    ((W, X, y > 0, 0.1), "y must be an array of integer labels, got dtype bool"),
]


@pytest.mark.parametrize("args, message", TYPE_ERRORS)
def test_wrong_types_raise_type_error(args, message):
    for function in (softmax.loss_and_grad, softmax.grad_check):
        with pytest.raises(TypeError) as raised:
            function(*args)
        assert str(raised.value) == message


def test_wrong_argument_types_raise_type_error():
    with pytest.raises(TypeError):
        softmax.loss_and_grad(W, X, y, "0.1")
    with pytest.raises(TypeError):
        softmax.loss_and_grad(W, X, y, 0.1, loss=1)
    with pytest.raises(TypeError):
        softmax.loss_and_grad(W, X, y, 0.1, "half")  # options are keyword-only
    with pytest.raises(TypeError):
        softmax.explain(seed="zero")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_checks": 0}, "invalid option: checks must be at least 1"),
        ({"h": 0.0}, "invalid option: step must be finite and > 0, got 0"),
        ({"h": float("inf")}, "invalid option: step must be finite and > 0, got inf"),
        ({"num_checks": -1}, "num_checks must be a non-negative integer that fits 64 bits, got -1"),
        ({"seed": -5}, "seed must be a non-negative integer that fits 64 bits, got -5"),
    ],
)
def test_grad_check_options(kwargs, message):
    with pytest.raises(ValueError) as raised:
        softmax.grad_check(W, X, y, 0.1, **kwargs)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reg": -0.5}, "invalid option: reg must be finite and >= 0, got -0.5"),
        ({"loss": "hinge"}, "invalid option: unknown loss 'hinge': expected one of softmax, svm"),
        ({"seed": -1}, "seed must be a non-negative integer that fits 64 bits, got -1"),
    ],
)
def test_explain_options(kwargs, message):
    with pytest.raises(ValueError) as raised:
        softmax.explain(**kwargs)
    assert str(raised.value) == message


@pytest.mark.parametrize("case", [0, 2, 3, 5, 7])
def test_messages_are_the_command_lines(softmax_binary, tmp_path, case):
    (weights, inputs, labels, reg), _, message = VALUE_ERRORS[case]
    files = {"weights": weights, "inputs": inputs, "labels": labels}
    for name, array in files.items():
        np.save(tmp_path / f"{name}.npy", array)
    arguments = [f"--{name}={tmp_path / name}.npy" for name in files] + [f"--reg={reg}"]
    run = subprocess.run([softmax_binary, "loss", *arguments], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ")
    assert run.stderr.rstrip("\n").endswith(message)
