#!/usr/bin/env python3
"""Time one softmax loss+gradient pass: ours (`softmax bench`) beside NumPy and PyTorch.

For each shape, in one run: our fused and auto kernels, NumPy's CS231n-style vectorized pass
(scores = X @ W, row-max shift, softmax, dW = X.T @ (P - Y) / N + reg * W), and, when torch is
installed, PyTorch's `F.cross_entropy` + `backward()` and the same pass written by hand. Each peer
runs in its own process with the same thread count (idle worker pools of two libraries in one
process fight over the cores). It prints the median milliseconds and how many times faster our
`auto` kernel (fused or gemm, picked by shape) is; absolute times drift between runs and
machines, the ratios are what carry.

    pip install numpy torch        # torch is optional
    cargo build --release
    python3 scripts/compare_peers.py                         # every shape, float32, 2 threads
    python3 scripts/compare_peers.py --shapes cifar,mnist --threads 1 --dtype float64
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {  # N, D, C — as `softmax bench --shape`
    "cifar": (49000, 3073, 10),
    "mnist": (60000, 785, 10),
    "dev": (500, 3073, 10),
    "minibatch": (200, 3073, 10),
    "manyclass": (10000, 512, 1000),
}
PEER_CODE = r'''
import sys, time, json
n, d, c, dtype, threads, reps, impl = sys.argv[1:]
n, d, c, threads, reps = int(n), int(d), int(c), int(threads), int(reps)
import numpy as np
rng = np.random.default_rng(0)
x = rng.standard_normal((n, d)).astype(dtype)
w = (0.01 * rng.standard_normal((d, c))).astype(dtype)
y = rng.integers(0, c, n)
reg = 1e-3

def numpy_pass():
    scores = x @ w
    scores -= scores.max(axis=1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean() + 0.5 * reg * np.sum(w * w)
    p[np.arange(n), y] -= 1
    return loss, x.T @ p / n + reg * w

run = numpy_pass
if impl.startswith("torch"):
    import torch
    torch.set_num_threads(threads)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    tw = torch.from_numpy(w).clone().requires_grad_(True)
    def torch_ce():
        tw.grad = None
        loss = torch.nn.functional.cross_entropy(tx @ tw, ty) + 0.5 * reg * (tw * tw).sum()
        loss.backward()
        return loss.item(), tw.grad
    def torch_manual():
        with torch.no_grad():
            scores = tx @ tw
            scores -= scores.max(dim=1, keepdim=True).values
            p = torch.softmax(scores, dim=1)
            loss = -torch.log(p[torch.arange(n), ty]).mean() + 0.5 * reg * (tw * tw).sum()
            p[torch.arange(n), ty] -= 1
            return loss.item(), tx.T @ p / n + reg * tw
    run = torch_ce if impl == "torch_ce" else torch_manual
run()
times = []
for _ in range(reps):
    t = time.perf_counter(); run(); times.append((time.perf_counter() - t) * 1e3)
times.sort()
print(json.dumps({"median_ms": times[len(times) // 2], "min_ms": times[0]}))
'''


def peer(impl, shape, dtype, threads, reps):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    for slow in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # they slow a current numpy here
        env.pop(slow, None)
    args = [sys.executable, "-c", PEER_CODE, *map(str, SHAPES[shape]), dtype, str(threads), str(reps), impl]
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)["median_ms"]


def ours(kernel, shape, dtype, threads, reps, binary):
    args = [binary, "bench", "--shape", shape, "--kernel", kernel, "--dtype", "f32" if dtype == "float32" else "f64",
            "--threads", str(threads), "--reps", str(reps), "--json"]
    timing = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return timing["median_ms"], timing["kernel"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/softmax"))
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        peers = ["numpy", "torch_ce", "torch_manual"]
    except ImportError:
        peers = ["numpy"]
        print("(torch is not installed: timing NumPy only)")
    print(f"{args.dtype}, {args.threads} threads, median ms of {args.reps} passes; ×: peer time / our auto time")
    header = f"{'shape':<10} {'fused':>9} {'auto (kernel)':>18}" + "".join(f" {p:>18}" for p in peers)
    print(header)
    for shape in args.shapes.split(","):
        fused, _ = ours("fused", shape, args.dtype, args.threads, args.reps, args.binary)
        auto, kernel = ours("auto", shape, args.dtype, args.threads, args.reps, args.binary)
        cells = []
        for name in peers:
            ms = peer(name, shape, args.dtype, args.threads, args.reps)
            cells.append(f" {'n/a':>18}" if ms is None else f" {ms:>9.3f} ({ms / auto:>4.1f}×)")
        print(f"{shape:<10} {fused:>9.3f} {auto:>9.3f} ({kernel:>5})" + "".join(cells))


if __name__ == "__main__":
    main()
