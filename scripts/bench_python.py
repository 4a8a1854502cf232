#!/usr/bin/env python3
"""The Python package's two speed claims, measured in one run on this machine.

1. `SoftmaxClassifier().fit` on the real MNIST training set (60,000 x 784, pixels / 255, NumPy
   arrays in memory) against scikit-learn's `LogisticRegression(solver="lbfgs")` at the same C
   (C = 1 / (reg * N)), both at their default tolerances: wall time, and the objective each
   reaches (mean cross-entropy + 0.5 * reg * |coef|^2, computed here by the same NumPy code for
   both). scikit-learn is run with its default max_iter (100, it may warn that it stopped early)
   and with max_iter=1000 (converged).
2. `softmax.loss_and_grad` on a 200 x 3073 x 10 float32 minibatch against the command line's
   `softmax bench --shape minibatch --kernel auto` pass of the same shape: the cost of the Python
   boundary (argument checks, no copies, the GIL released and taken back).

    pip install ./python[sklearn]; cargo build --release
    python3 scripts/bench_python.py --mnist ../shared/data/mnist
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_sklearn import ROOT, load, objective  # noqa: E402


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def fit_mnist(directory, reg, threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    import softmax

    X, y = load(f"mnist:{directory}")
    X = X / 255.0
    C = 1 / (reg * len(y))
    rows = []
    ours, seconds = timed(lambda: softmax.SoftmaxClassifier(reg=reg, n_threads=threads).fit(X, y))
    rows.append(("softmax SoftmaxClassifier (defaults)", seconds, ours, int(ours.n_iter_[0])))
    for max_iter in (100, 1000):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            theirs, seconds = timed(lambda: LogisticRegression(C=C, max_iter=max_iter).fit(X, y))
        rows.append((f"scikit-learn LogisticRegression(max_iter={max_iter})", seconds, theirs, int(theirs.n_iter_[0])))
    print(f"\nMNIST fit: N={len(y)}, D={X.shape[1]}, reg={reg} (C={C:.6g}), {threads or 'all'} threads")
    print(f"{'estimator':<50} {'seconds':>8} {'iters':>6} {'objective':>14} {'ours faster':>11}")
    base = rows[0][1]
    results = []
    for name, seconds, model, n_iter in rows:
        value = objective(X, y, model.coef_, model.intercept_, reg, "half")
        print(f"{name:<50} {seconds:8.2f} {n_iter:6d} {value:14.10f} {seconds / base:10.1f}x")
        results.append({"estimator": name, "seconds": seconds, "n_iter": n_iter, "objective": value})
    return results


def boundary(reps, threads):
    import softmax

    rng = np.random.default_rng(0)
    W = (0.001 * rng.standard_normal((10, 3073))).astype(np.float32)
    X = rng.standard_normal((200, 3073)).astype(np.float32)
    y = rng.integers(0, 10, size=200)
    times = []
    for _ in range(reps + 1):
        _, seconds = timed(lambda: softmax.loss_and_grad(W, X, y, 0.0))
        times.append(seconds * 1e3)
    python_ms = float(np.median(times[1:]))
    binary = os.path.join(ROOT, "target", "release", "softmax")
    command = [binary, "bench", "--shape", "minibatch", "--kernel", "auto", "--json", "--reps", str(reps)]
    if threads:
        command += ["--threads", str(threads)]
    cli = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    print(f"\nloss_and_grad 200x3073x10 float32: Python {python_ms:.3f} ms, command line {cli['median_ms']:.3f} ms "
          f"(medians of {reps}): ratio {python_ms / cli['median_ms']:.2f}")
    return {"python_ms": python_ms, "cli_ms": cli["median_ms"], "ratio": python_ms / cli["median_ms"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", help="folder of MNIST's IDX files (train-images-idx3-ubyte[.gz], ...)")
    parser.add_argument("--reg", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, help="threads for ours; scikit-learn uses its own default")
    parser.add_argument("--reps", type=int, default=200, help="timed loss_and_grad calls")
    args = parser.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d')}")
    report = {"boundary": boundary(args.reps, args.threads)}
    if args.mnist:
        report["mnist"] = fit_mnist(args.mnist, args.reg, args.threads)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
