#!/usr/bin/env python3
"""Does `softmax train --optimizer lbfgs` find the true optimum? Compare with scikit-learn.

Both minimize the same objective on the same preprocessed data:
    mean softmax cross-entropy + penalty on W (the intercept unregularized),
with scikit-learn's `LogisticRegression` (multinomial, lbfgs, fit_intercept) at the matching C:
    C = 1 / (reg * N)      for the `half` convention (penalty 0.5 * reg * sum(W**2)),
    C = 1 / (2 * reg * N)  for the `full` convention (penalty reg * sum(W**2)),
since scikit-learn minimizes 0.5 * ||W||^2 + C * sum_i L_i, which is that objective times C * N.

The script preprocesses the data in Python (so both programs see identical numbers), writes it as
.npy, runs our binary with `--preprocess none --val-fraction 0`, fits scikit-learn with a tight
tolerance, evaluates scikit-learn's objective at its solution, and prints both with their relative
difference (it exits 1 if that exceeds --max-relative-difference).

    pip install numpy scikit-learn
    cargo build --release
    python3 scripts/compare_sklearn.py                       # the embedded digits, standardized
    python3 scripts/compare_sklearn.py --data mnist:../shared/data/mnist --preprocess scale
    python3 scripts/compare_sklearn.py --data digits --reg 1e-3 --convention full
    python3 scripts/compare_sklearn.py --write-fixture tests/fixtures/sklearn_optimum.json \
        --data npy:tests/fixtures/data/digits_X.npy,tests/fixtures/data/digits_y.npy --preprocess none
"""

import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(spec):
    """(X float64 N x D, y int64 N) for digits, mnist:DIR (the training images) or npy:X,y."""
    if spec == "digits":
        with gzip.open(os.path.join(ROOT, "data/digits/digits.csv.gz"), "rt") as f:
            table = np.loadtxt(f, delimiter=",")
        return table[:, :-1], table[:, -1].astype(np.int64)
    kind, _, where = spec.partition(":")
    if kind == "mnist":
        def idx(name):
            path = os.path.join(where, name)
            with open(path, "rb") if os.path.exists(path) else gzip.open(path + ".gz", "rb") as f:
                data = f.read()
            dims = data[3]
            shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
            return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)
        images = idx("train-images-idx3-ubyte")
        return images.reshape(len(images), -1).astype(np.float64), idx("train-labels-idx1-ubyte").astype(np.int64)
    if kind == "npy":
        x_path, y_path = where.split(",")
        return np.load(x_path).astype(np.float64), np.load(y_path).astype(np.int64)
    sys.exit(f"unknown --data {spec}: digits, mnist:DIR or npy:X.npy,y.npy")


def preprocess(x, kind):
    if kind == "none":
        return x
    if kind == "scale":
        return x / np.abs(x).max()
    if kind == "standardize":
        std = x.std(axis=0)
        return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    sys.exit(f"unknown --preprocess {kind}")


def objective(x, y, coef, intercept, reg, convention):
    """Mean cross-entropy + penalty, computed with a stable log-sum-exp."""
    scores = x @ coef.T + intercept
    scores -= scores.max(axis=1, keepdims=True)
    log_probabilities = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    data_loss = -log_probabilities[np.arange(len(y)), y].mean()
    factor = 0.5 * reg if convention == "half" else reg
    return data_loss + factor * np.sum(coef * coef)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--preprocess", default="standardize", choices=["none", "scale", "standardize"])
    parser.add_argument("--reg", type=float, default=1e-4)
    parser.add_argument("--convention", default="half", choices=["half", "full"])
    parser.add_argument("--tolerance", type=float, default=1e-6, help="our L-BFGS gradient-norm tolerance")
    parser.add_argument("--ftol", type=float,
                        help="our L-BFGS relative-decrease tolerance (default: the binary's; 0 turns it off)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/softmax"))
    parser.add_argument("--max-relative-difference", type=float, default=1e-6)
    parser.add_argument("--write-fixture", help="also write the inputs' scikit-learn optimum as JSON here")
    args = parser.parse_args()

    x, y = load(args.data)
    x = preprocess(x, args.preprocess)
    n = len(y)
    with tempfile.TemporaryDirectory() as folder:
        x_path, y_path = os.path.join(folder, "X.npy"), os.path.join(folder, "y.npy")
        np.save(x_path, x)
        np.save(y_path, y)
        command = [args.binary, "train", "--data", f"npy:{x_path},{y_path}", "--val-fraction", "0",
                   "--preprocess", "none", "--optimizer", "lbfgs", "--dtype", "f64", "--reg", str(args.reg),
                   "--reg-convention", args.convention, "--tolerance", str(args.tolerance), "--quiet"]
        if args.ftol is not None:
            command += ["--ftol", str(args.ftol)]
        started = time.perf_counter()
        ours = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        ours_seconds = time.perf_counter() - started

    c = 1.0 / (args.reg * n) if args.convention == "half" else 1.0 / (2.0 * args.reg * n)
    started = time.perf_counter()
    model = LogisticRegression(C=c, tol=1e-12, max_iter=20000).fit(x, y)
    sklearn_seconds = time.perf_counter() - started
    theirs = objective(x, y, model.coef_, model.intercept_, args.reg, args.convention)
    difference = abs(ours["objective"] - theirs) / abs(theirs)

    print(f"data {args.data} ({n} x {x.shape[1]}, {args.preprocess}), reg {args.reg} ({args.convention}), C = {c:.6g}")
    print(f"softmax  objective {ours['objective']:.12f}  ({ours['iterations']} iterations, {ours['passes']:.0f} passes, {ours_seconds:.2f} s wall)")
    print(f"sklearn  objective {theirs:.12f}  ({int(model.n_iter_[0])} iterations, {sklearn_seconds:.2f} s)")
    print(f"relative difference {difference:.2e} (limit {args.max_relative_difference:.0e})")
    if args.write_fixture:
        fixture = {"data": args.data, "preprocess": args.preprocess, "reg": args.reg, "reg_convention": args.convention,
                   "n_samples": n, "sklearn_objective": theirs, "made_by": "scripts/compare_sklearn.py"}
        with open(args.write_fixture, "w") as f:
            json.dump(fixture, f, indent=2)
            f.write("\n")
    sys.exit(0 if difference <= args.max_relative_difference else 1)


if __name__ == "__main__":
    main()
