"""softmax.grad_check: CS231n's grad_check_sparse on the library's loss."""

import re

import numpy as np
import pytest
import softmax
from reference import LAYOUTS, LOSSES, centered_difference, in_layout, problem


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_checks_are_the_gradient_and_centered_differences(loss, layout):
    W, X, y = problem(n=12, d=6, c=4, seed=7)
    Wl, Xl = in_layout(W, X, layout)
    options = dict(loss=loss, layout=layout, reg_convention="full")
    report = softmax.grad_check(Wl, Xl, y, 0.1, num_checks=7, h=1e-5, seed=3, **options)
    loss_value, grad = softmax.loss_and_grad(Wl, Xl, y, 0.1, **options)
    assert report.loss == loss_value
    assert report.kernel == "fused"
    assert len(report.checks) == 7
    for check in report.checks:
        assert all(0 <= i < n for i, n in zip(check.index, Wl.shape))
        assert check.analytic == grad[check.index]
        expected = centered_difference(Wl, Xl, y, 0.1, check.index, 1e-5, **options)
        np.testing.assert_allclose(check.numerical, expected, rtol=1e-12, atol=1e-15)
        a, n = check.analytic, check.numerical
        assert check.relative_error == pytest.approx(abs(a - n) / (abs(a) + abs(n)))
    assert report.max_relative_error == max(c.relative_error for c in report.checks)
    if loss == "softmax":
        assert report.max_relative_error < 1e-7


def test_seed_picks_the_coordinates():
    W, X, y = problem(n=10, d=8, c=6, seed=8)
    indices = lambda seed: [c.index for c in softmax.grad_check(W, X, y, 0.0, seed=seed).checks]
    assert indices(1) == indices(1)
    assert indices(1) != indices(2)
    assert len(indices(0)) == 10  # CS231n's default num_checks


def test_float32_inputs_are_checked_in_float64():
    W, X, y = problem(seed=9)
    W32 = W.astype(np.float32)
    report = softmax.grad_check(W32, X.astype(np.float32), y, 0.1, kernel="naive")
    _, grad = softmax.loss_and_grad(W32.astype(np.float64), X.astype(np.float32).astype(np.float64),
                                    y, 0.1, kernel="naive")
    assert report.kernel == "naive"
    assert [c.analytic for c in report.checks] == [grad[c.index] for c in report.checks]
    assert report.max_relative_error < 1e-7


def test_a_check_prints_as_grad_check_sparse():
    W, X, y = problem(seed=10)
    check = softmax.grad_check(W, X, y, 0.1, num_checks=1).checks[0]
    printed = re.fullmatch(r"numerical: (\S+) analytic: (\S+), relative error: (\S+)", str(check))
    numerical, analytic, relative_error = map(float, printed.groups())
    assert numerical == pytest.approx(check.numerical, abs=1e-6)
    assert analytic == pytest.approx(check.analytic, abs=1e-6)
    assert relative_error == pytest.approx(check.relative_error, rel=1e-6)
    assert repr(check).startswith(f"Check(index={check.index!r}, analytic=")
