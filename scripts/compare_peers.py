#!/usr/bin/env python3
"""Time one softmax loss+gradient pass: ours (`softmax bench`) beside NumPy and PyTorch.

For each shape, in one run: our fused and auto kernels, NumPy's CS231n-style vectorized pass
(scores = X @ W, row-max shift, softmax, dW = X.T @ (P - Y) / N + reg * W), and, when torch is
installed, PyTorch's `F.cross_entropy` + `backward()` and the same pass written by hand. Each peer
runs in its own process with the same thread count (idle worker pools of two libraries in one
process fight over the cores). It prints the median milliseconds and how many times faster our
`auto` kernel (fused or gemm, picked by shape) is; absolute times drift between runs and
machines, the ratios are what carry. Our `auto` kernel runs once per instruction set of this
CPU that has FMA (`--isa avx512`, `avx2`), and each of our rows shows its share of the machine's
float32 FMA peak for that instruction set and thread count, from `physlimits`
(`../shared/bench/physlimits`: pass its output with `--physlimits FILE`, or its binary with
`--physlimits-bin`); the header names the CPU, its instruction sets and the peaks.

    pip install numpy torch        # torch is optional
    cargo build --release
    python3 scripts/compare_peers.py                         # every shape, float32, 2 threads
    python3 scripts/compare_peers.py --shapes cifar,mnist --threads 1 --dtype float64
    python3 scripts/compare_peers.py --physlimits physlimits.txt   # `physlimits all > physlimits.txt`
"""

import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPES = {  # N, D, C — as `softmax bench --shape`
    "cifar": (49000, 3073, 10),
    "mnist": (60000, 785, 10),
    "dev": (500, 3073, 10),
    "minibatch": (200, 3073, 10),
    "manyclass": (10000, 512, 1000),
    "probe": (16000, 768, 1000),  # a linear probe on embeddings (issue 16)
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


def ours(kernel, shape, dtype, threads, reps, binary, isa="auto"):
    args = [binary, "bench", "--shape", shape, "--kernel", kernel, "--dtype", "f32" if dtype == "float32" else "f64",
            "--threads", str(threads), "--reps", str(reps), "--isa", isa, "--json"]
    timing = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return timing["median_ms"], timing["kernel"]


def cpu_model_and_flags():
    """The CPU's model name and the SIMD flags that matter here, from /proc/cpuinfo."""
    model, flags = "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                if key.strip() in ("flags", "Features") and not flags:
                    flags = value.split()
    except OSError:
        pass
    wanted = ("sse2", "avx", "avx2", "fma", "avx512f", "avx512vl", "asimd")
    return model, [f for f in wanted if f in flags]


def fma_peaks(text):
    """{(isa, threads): GFLOP/s} of float32 FMA from physlimits' output (its median lines)."""
    peaks = {}
    for match in re.finditer(r"fma f32_(avx2|avx512)_\d+ threads=(\d+) GFLOPs_median=([\d.]+)", text):
        peaks[(match.group(1), int(match.group(2)))] = float(match.group(3))
    return peaks


def physlimits_text(args):
    if args.physlimits:
        with open(args.physlimits) as f:
            return f.read()
    if args.physlimits_bin:
        run = subprocess.run([args.physlimits_bin, "fma", "1.0", f"1,{args.threads}"], capture_output=True, text=True)
        return run.stdout
    return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/softmax"))
    parser.add_argument("--isas", default=None,
                        help="instruction sets of our rows, comma-separated (default: avx512 and avx2 where the CPU has them)")
    parser.add_argument("--physlimits", metavar="FILE", help="physlimits' output, for the FMA peaks")
    parser.add_argument("--physlimits-bin", metavar="BIN", help="the physlimits binary, run here for the FMA peaks")
    args = parser.parse_args()
    model, flags = cpu_model_and_flags()
    isas = args.isas.split(",") if args.isas else [i for i, f in (("avx512", "avx512f"), ("avx2", "avx2")) if f in flags]
    isas = isas or ["auto"]
    peaks = fma_peaks(physlimits_text(args))
    print(f"CPU: {model}; SIMD: {' '.join(flags) or 'none found'}; load average: {os.getloadavg()[0]:.2f}")
    for isa in isas:
        peak = peaks.get((isa, args.threads))
        if peak:
            print(f"physlimits float32 FMA peak, {isa}, {args.threads} threads: {peak:.1f} GFLOP/s")
    try:
        import torch  # noqa: F401
        peers = ["numpy", "torch_ce", "torch_manual"]
    except ImportError:
        peers = ["numpy"]
        print("(torch is not installed: timing NumPy only)")
    print(f"{args.dtype}, {args.threads} threads, median ms of {args.reps} passes; ×: peer time / our time on that "
          "instruction set; % peak: our GFLOP/s (4·N·D·C flops) over physlimits' FMA peak")
    header = f"{'shape':<10} {'isa':<7} {'fused':>9} {'auto (kernel)':>18} {'% peak':>7}" + "".join(f" {p:>18}" for p in peers)
    print(header)
    for shape in args.shapes.split(","):
        n, d, c = SHAPES[shape]
        peer_ms = {name: peer(name, shape, args.dtype, args.threads, args.reps) for name in peers}
        for isa in isas:
            fused, _ = ours("fused", shape, args.dtype, args.threads, args.reps, args.binary, isa)
            auto, kernel = ours("auto", shape, args.dtype, args.threads, args.reps, args.binary, isa)
            peak = peaks.get((isa, args.threads))
            share = f"{400 * n * d * c / (auto * 1e6) / peak:>6.0f}%" if peak and args.dtype == "float32" else f"{'':>7}"
            cells = "".join(f" {'n/a':>18}" if ms is None else f" {ms:>9.3f} ({ms / auto:>4.1f}×)" for ms in peer_ms.values())
            print(f"{shape:<10} {isa:<7} {fused:>9.3f} {auto:>9.3f} ({kernel:>5}) {share}" + cells)


if __name__ == "__main__":
    main()
