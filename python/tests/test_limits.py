"""Counts beyond their limits are a ValueError naming them, raised before anything is allocated
or started: a huge num_checks used to abort the interpreter (or panic), a huge n_threads to
start threads for minutes."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import softmax
from reference import problem


def run_python(code):
    """Runs `code` in a fresh interpreter (an abort there cannot take pytest with it)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_a_huge_num_checks_is_a_value_error_not_an_abort():
    done = run_python(
        """
        import numpy as np, softmax
        try:
            softmax.grad_check(np.zeros((4, 5)), np.ones((6, 5)), np.array([0, 1, 2, 3, 0, 1]),
                               0.1, num_checks=10**12)
        except ValueError as error:
            print(error)
        """
    )
    assert done.returncode == 0, done.stderr
    expected = "invalid option: checks must be at most 1000000 (each costs two loss passes), got"
    assert done.stdout.startswith(f"{expected} 1000000000000"), done.stdout + done.stderr


@pytest.mark.parametrize("num_checks", [1_000_001, 2**64 - 1])  # 2**64 - 1 panicked
def test_num_checks_beyond_the_limit_is_refused(num_checks):
    W, X, y = problem(n=6, d=5, c=4, seed=1)
    with pytest.raises(ValueError, match=f"checks must be at most 1000000 .*got {num_checks}$"):
        softmax.grad_check(W, X, y, 0.1, num_checks=num_checks)


def test_more_checks_than_weights_are_drawn_with_replacement():
    W, X, y = problem(n=6, d=3, c=2, seed=2)
    report = softmax.grad_check(W, X, y, 0.1, num_checks=40)  # W has 6 weights
    assert len(report.checks) == 40
    assert len({check.index for check in report.checks}) <= W.size


def test_a_huge_n_threads_is_a_value_error_raised_at_once():
    done = run_python(
        """
        import numpy as np, softmax
        X = np.random.default_rng(0).standard_normal((30, 4))
        try:
            softmax.SoftmaxClassifier(n_threads=10**6).fit(X, np.arange(30) % 3)
        except ValueError as error:
            print(error)
        """
    )
    assert done.returncode == 0, done.stderr
    assert "n_threads must be at most 1024" in done.stdout, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("got 1000000"), done.stdout


@pytest.mark.parametrize("n_threads", [1025, 2**64, 10**30])
def test_n_threads_beyond_the_limit_is_refused(n_threads):
    X = np.random.default_rng(1).standard_normal((30, 4))
    with pytest.raises(ValueError, match=f"n_threads must be at most 1024 .*got {n_threads}$"):
        softmax.SoftmaxClassifier(n_threads=n_threads).fit(X, np.arange(30) % 3)


def test_scores_larger_than_memory_are_a_memory_error_not_an_abort():
    # The vectorized kernel holds N x C scores: here 2e6 x 2e5 float32, three times, 4,470 GiB,
    # from an X of 8 MB and a W of 0.8 MB. It used to abort the interpreter.
    done = run_python(
        """
        import numpy as np, softmax
        n, c = 2_000_000, 200_000
        X, W, y = np.ones((n, 1), np.float32), np.zeros((c, 1), np.float32), np.zeros(n, np.int64)
        try:
            softmax.loss_and_grad(W, X, y, 0.0, kernel="vectorized")
        except MemoryError as error:
            print(error)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "the vectorized kernel's N×C score matrices (the fused and gemm kernels hold a block of "
        "rows' scores instead) would take 4470.3 GiB, more memory than this system grants"
    ), done.stdout + done.stderr
