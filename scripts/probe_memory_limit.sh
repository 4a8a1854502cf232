#!/usr/bin/env bash
# Trains on a memory-mapped .npy file larger than the memory the process may use: a memory
# cgroup (v1 or v2; needs root) caps the process, page cache included, below the file's size, so
# every pass streams the file from the disk. Prints each run's JSON line (time, passes and
# anonymous resident memory) with and without the cap.
#
#   scripts/probe_memory_limit.sh [ROWS] [LIMIT_MIB]      # default 400000 rows (1.2 GB), 640 MiB
# ITERS (default 3) L-BFGS iterations. The cap must hold the anonymous memory (about 400 MiB at
# C = 1,000: the weights, up to 256 MiB of L-BFGS correction pairs, the blocks' partials) and
# some page cache; at 448 MiB the kernel's OOM killer ended the run.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-400000}
limit_mib=${2:-640}
dir=${PROBE_DIR:-/tmp/probe_memory_limit}
mkdir -p "$dir"
binary=target/release/softmax
[ -x "$binary" ] || cargo build --release

x="$dir/x_${rows}.npy"
y="$dir/y_${rows}.npy"
if [ ! -f "$x" ]; then
  python3 - "$rows" "$x" "$y" <<'EOF'
import sys, numpy as np
rows, x_path, y_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
d, c = 768, 1000
rng = np.random.default_rng(0)
means = rng.standard_normal((c, d), dtype=np.float32) * 0.08
y = rng.integers(0, c, rows)
x = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, d))
for start in range(0, rows, 65536):
    stop = min(start + 65536, rows)
    x[start:stop] = means[y[start:stop]] + rng.standard_normal((stop - start, d), dtype=np.float32)
x.flush()
np.save(y_path, y)
EOF
fi
size_mib=$(($(stat -c %s "$x") / 1048576))
echo "# $x: $size_mib MiB of float32; cap $limit_mib MiB; $(nproc) CPUs"

train=("$binary" train --data "npy:$x,$y" --val-fraction 0 --preprocess none --dtype f32
  --iters "${ITERS:-3}" --json --quiet)

# The cgroup: v1's memory controller, or a v2 child group.
if [ -d /sys/fs/cgroup/memory ]; then
  group=/sys/fs/cgroup/memory/softmax_probe_$$
  mkdir "$group"
  echo $((limit_mib * 1048576)) >"$group/memory.limit_in_bytes"
else
  group=/sys/fs/cgroup/softmax_probe_$$
  mkdir "$group"
  echo $((limit_mib * 1048576)) >"$group/memory.max"
fi
trap 'rmdir "$group" 2>/dev/null || true' EXIT

echo "capped at $limit_mib MiB:"
bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$group" "${train[@]}"
if [ -f "$group/memory.max_usage_in_bytes" ]; then
  echo "  the group's peak usage: $(($(cat "$group/memory.max_usage_in_bytes") / 1048576)) MiB"
fi
echo "uncapped (the file in the page cache after the first pass):"
"${train[@]}"
