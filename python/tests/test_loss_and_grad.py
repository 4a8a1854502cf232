"""softmax.loss_and_grad against an independent NumPy implementation, in every layout,
convention, dtype and kernel; input conversions; a numerical gradient; the GIL."""

import threading
import time
import tracemalloc

import numpy as np
import pytest
import softmax
from reference import (
    CONVENTIONS,
    KERNELS,
    LAYOUTS,
    LOSSES,
    REFERENCE,
    centered_difference,
    grad_to_canonical,
    in_layout,
    problem,
)

TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("loss", LOSSES)
def test_matches_numpy_reference(loss, layout, convention, dtype, kernel):
    W, X, y = problem()
    W, X = W.astype(dtype), X.astype(dtype)
    reg = 0.3
    expected_loss, expected_grad = REFERENCE[loss](W, X, y, reg, convention)
    Wl, Xl = in_layout(W, X, layout)
    got_loss, grad = softmax.loss_and_grad(
        np.ascontiguousarray(Wl), np.ascontiguousarray(Xl), y, reg,
        reg_convention=convention, loss=loss, layout=layout, kernel=kernel,
    )
    assert isinstance(got_loss, float)
    assert grad.dtype == dtype and grad.shape == Wl.shape and grad.flags.c_contiguous
    np.testing.assert_allclose(got_loss, expected_loss, **TOLERANCE[dtype])
    np.testing.assert_allclose(grad_to_canonical(grad, layout), expected_grad, **TOLERANCE[dtype])


def test_cs231n_student_check_in_one_line():
    # A student's softmax_loss_vectorized(W, X, y, reg) takes W as D×C and reg·ΣW².
    W, X, y = problem(n=20, d=6, c=3, seed=1)
    student_loss, student_grad = REFERENCE["softmax"](W, X, y, 0.05, "full")
    loss, grad = softmax.loss_and_grad(W.T, X, y, 0.05, layout="cs231n", reg_convention="full")
    np.testing.assert_allclose(loss, student_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, student_grad.T, rtol=1e-10, atol=1e-13)


def numerical_gradient(W, X, y, reg, **options):
    """Centered differences of loss_and_grad's loss at every entry of W (float64)."""
    grad = np.zeros_like(W)
    for index in np.ndindex(*W.shape):
        grad[index] = centered_difference(W, X, y, reg, index, **options)
    return grad


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradient_matches_centered_differences(loss, layout):
    W, X, y = problem(n=9, d=4, c=3, seed=2)
    Wl, Xl = in_layout(W, X, layout)
    options = dict(loss=loss, layout=layout, reg_convention="full")
    _, grad = softmax.loss_and_grad(Wl, Xl, y, 0.2, **options)
    np.testing.assert_allclose(grad, numerical_gradient(Wl, Xl, y, 0.2, **options), atol=1e-7)


def same_result(a, b):
    assert a[0] == b[0]
    assert a[1].dtype == b[1].dtype
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fortran_strided_and_readonly_inputs_give_the_same_result(layout):
    W, X, y = problem(n=11, d=6, c=5, seed=3)
    Wl, Xl = (np.ascontiguousarray(a) for a in in_layout(W, X, layout))
    expected = softmax.loss_and_grad(Wl, Xl, y, 0.1, layout=layout)
    wide = np.zeros((Xl.shape[0], 2 * Xl.shape[1]))
    wide[:, ::2] = Xl
    readonly = Xl.copy()
    readonly.flags.writeable = False
    for Xv in [np.asfortranarray(Xl), wide[:, ::2], Xl[::-1][::-1], readonly, Xl.tolist()]:
        same_result(softmax.loss_and_grad(Wl, Xv, y, 0.1, layout=layout), expected)
    same_result(softmax.loss_and_grad(np.asfortranarray(Wl), Xl, y, 0.1, layout=layout), expected)
    same_result(softmax.loss_and_grad(Wl.astype(">f8"), Xl, y, 0.1, layout=layout), expected)


def test_dtypes_are_promoted_to_the_wider_float():
    W, X, y = problem()
    W32, X32 = W.astype(np.float32), X.astype(np.float32)
    as64 = softmax.loss_and_grad(W32.astype(np.float64), X, y, 0.1)
    same_result(softmax.loss_and_grad(W32, X, y, 0.1), as64)  # float32 W, float64 X
    same_result(softmax.loss_and_grad(W32, X32.astype(np.float16), y, 0.1),
                softmax.loss_and_grad(W32, X32.astype(np.float16).astype(np.float32), y, 0.1))
    Xi = np.rint(3 * X).astype(np.int32)
    same_result(softmax.loss_and_grad(W32, Xi, y, 0.1),  # integers compute in float64
                softmax.loss_and_grad(W32.astype(np.float64), Xi.astype(np.float64), y, 0.1))
    Xb = X > 0
    assert softmax.loss_and_grad(W32, Xb, y, 0.1)[1].dtype == np.float64


@pytest.mark.parametrize(
    "dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
)
def test_labels_of_any_integer_dtype(dtype):
    W, X, y = problem()
    same_result(softmax.loss_and_grad(W, X, y.astype(dtype), 0.1),
                softmax.loss_and_grad(W, X, y.tolist(), 0.1))
    same_result(softmax.loss_and_grad(W, X, np.repeat(y, 2).astype(dtype)[::2], 0.1),
                softmax.loss_and_grad(W, X, y, 0.1))


def peak_traced_bytes(call):
    """The peak of the memory NumPy and Python allocate during `call` (the library's own
    allocations are not traced)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_c_contiguous_arrays_are_read_in_place_and_others_copied_once():
    W, X, y = problem(n=4000, d=300, c=3, seed=4)
    X = np.ascontiguousarray(X)
    in_place = peak_traced_bytes(lambda: softmax.loss_and_grad(W, X, y, 0.0))
    assert in_place < X.nbytes / 10
    Xf = np.asfortranarray(X)
    copied = peak_traced_bytes(lambda: softmax.loss_and_grad(W, Xf, y, 0.0))
    assert X.nbytes <= copied < 1.5 * X.nbytes


def test_the_gil_is_released_while_it_computes():
    # A single-threaded kernel on a problem that takes tens of milliseconds: were the GIL held,
    # this thread could not run during the call.
    W, X, y = problem(n=20000, d=400, c=10, seed=5)
    X32, W32 = X.astype(np.float32), W.astype(np.float32)
    call = {}

    def compute():
        call["start"] = time.perf_counter()
        softmax.loss_and_grad(W32, X32, y, 0.0, kernel="naive")
        call["end"] = time.perf_counter()

    worker = threading.Thread(target=compute)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    duration = call["end"] - call["start"]
    assert duration > 0.02, "the problem is too small to tell"
    during = [t for t in ticks if call["start"] < t < call["end"]]
    assert len(during) >= 5
    assert max(np.diff([call["start"], *during, call["end"]])) < duration / 2


def test_concurrent_calls_agree():
    W, X, y = problem(n=500, d=50, c=10, seed=6)
    expected = softmax.loss_and_grad(W, X, y, 0.1)
    results = [None] * 4

    def run(i):
        results[i] = softmax.loss_and_grad(W, X, y, 0.1)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        same_result(result, expected)
