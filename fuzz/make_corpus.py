#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into fuzz/corpus/TARGET/ from the committed fixtures.

Run from anywhere (Python standard library only):

    python3 fuzz/make_corpus.py

Each seed is one fuzz input in the form its target reads (see fuzz/fuzz_targets/*.rs): choice
bytes, then the target's files separated by SEPARATOR. The data files are cut to a few records
so that the seeds stay small (the fuzzer mutates every byte). The model seeds are trained on
the embedded digits by the release binary (built with `cargo build --release` if missing);
pass --no-model to skip them.
"""

import gzip
import io
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DATA = os.path.join(FIXTURES, "data")
CORPUS = os.path.join(HERE, "corpus")
SEPARATOR = b"--8<--"


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        return f.read()


def gunzip(data):
    return gzip.decompress(data)


def seed(target, name, *pieces, choices=b""):
    """Writes choices + pieces joined by SEPARATOR as corpus/target/name."""
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(choices + SEPARATOR.join(pieces))


def idx_cut(data, count):
    """An IDX file cut to its first `count` items (header count rewritten)."""
    magic, _ = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    sizes = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    item = 1
    for size in sizes[1:]:
        item *= size
    header = struct.pack(">II", magic, count) + data[8 : 4 + 4 * dims]
    start = 4 + 4 * dims
    return header + data[start : start + count * item]


def npy_bytes(descr, shape, payload, fortran=False):
    """A version-1 .npy file."""
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr,
        fortran,
        "(%s,)" % shape[0] if len(shape) == 1 else str(tuple(shape)),
    )
    padded = header.encode() + b" " * ((64 - (len(header) + 11) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(padded)) + padded + payload


def npy_seeds():
    pairs = [
        ("W_f64.npy", "y_i64.npy"),
        ("X_f64.npy", "y_i64.npy"),
        ("X_f32.npy", "y_i32.npy"),
        ("X_f64_fortran.npy", "y_u8.npy"),
        ("X_bigendian_f64.npy", "y_2d_i64.npy"),
        ("X_f16.npy", "y_float.npy"),
        ("X_i32.npy", "y_negative.npy"),
        ("X_nan_f64.npy", "y_i64.npy"),
        ("X_truncated_f64.npy", "y_i64.npy"),
        ("X_1d_f64.npy", "not_npy.npy"),
        ("X_empty_f64.npy", "y_i64.npy"),
    ]
    for index, (inputs, labels) in enumerate(pairs):
        seed("npy", f"fixture_{index}", fixture(inputs), fixture(labels), choices=b"\x05")
    digits_x = npy_bytes("<f8", (4, 64), fixture("data", "digits_X.npy")[128 : 128 + 4 * 64 * 8])
    digits_y = npy_bytes("<i8", (4,), fixture("data", "digits_y.npy")[128 : 128 + 4 * 8])
    seed("npy", "digits_4", digits_x, digits_y, choices=b"\x03")


def npz_seeds():
    seed("npz", "digits_keras", fixture("data", "digits_keras.npz"), choices=b"\x01")
    inputs = npy_bytes("|u1", (6, 2, 2), bytes(range(24)))
    labels = npy_bytes("<i4", (6,), struct.pack("<6i", 0, 1, 2, 0, 1, 2))
    for name, method in [("stored_xy", zipfile.ZIP_STORED), ("deflated_xy", zipfile.ZIP_DEFLATED)]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for member, data in [("x.npy", inputs), ("y.npy", labels)]:
                info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
                archive.writestr(info, data, compress_type=method)
        seed("npz", name, buffer.getvalue(), choices=b"\x03")


def mnist_seeds():
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    names += ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    plain = [gunzip(fixture("data", "mnist", name + ".gz")) for name in names]
    cut = [idx_cut(plain[0], 6), idx_cut(plain[1], 6), idx_cut(plain[2], 3), idx_cut(plain[3], 3)]
    seed("mnist", "plain_cut", *cut, choices=b"\x30")
    seed("mnist", "gzip_cut", *cut, choices=b"\x3f")  # the target compresses each file
    small = [idx_cut(plain[0], 2), idx_cut(plain[1], 2), idx_cut(plain[2], 1), idx_cut(plain[3], 1)]
    small = [gzip.compress(data, mtime=0) for data in small]  # gzip bytes as the files hold them
    seed("mnist", "gzip_files", *small, choices=b"\x00")


def cifar_seeds():
    record = 1 + 3 * 32 * 32
    meta = fixture("data", "cifar10", "batches.meta.txt")
    batches = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    cut = [fixture("data", "cifar10", name)[: record * (2 if i == 0 else 1)]
           for i, name in enumerate(batches)]
    seed("cifar10", "meta_cut", meta, *cut, choices=b"\x00\x02")
    seed("cifar10", "no_meta_gzip", b"", *cut, choices=b"\x3f\x09")


def csv_seeds():
    named = fixture("data", "digits_named.csv").decode().splitlines(keepends=True)
    named = "".join(named[:6]).encode()
    seed("csv", "named_last", b"", named, choices=b"\x50\x00\x00")
    seed("csv", "named_digit", b"digit", named, choices=b"\x30\x00\x00")
    seed("csv", "named_features", b"", named, choices=b"\x02\x40\x00")
    seed("csv", "named_gzip_index", b"64", named, choices=b"\x51\x00\x00")
    mnist = gunzip(fixture("data", "mnist_200.csv.gz")).splitlines(keepends=True)
    seed("csv", "mnist_rows", b"", b"".join(mnist[:4]), choices=b"\x50\x00\x00")
    seed("csv", "mnist_features", b"", b"".join(mnist[:2]), choices=b"\x02\x10\x03")


def libsvm_seeds():
    lines = fixture("data", "digits_200.svm").splitlines(keepends=True)
    text = b"".join(lines[:8])
    seed("libsvm", "digits", text, choices=b"\x50\x00\x00")
    seed("libsvm", "digits_gzip", text, choices=b"\x31\x00\x00")
    seed("libsvm", "digits_features", text, choices=b"\x02\x40\x00")
    seed("libsvm", "digits_sniffed", text, choices=b"\x06\x40\x00")
    seed("libsvm", "zero_based", b"# comment\n-1 0:1.5 3:2 qid:4\n+1 1:-1e3\n", choices=b"\x50\x00\x00")


def model_seeds():
    binary = os.path.join(ROOT, "target", "release", "softmax")
    if not os.path.exists(binary):
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, extra in [("f64", ["--dtype", "f64"]), ("f32_trick", ["--dtype", "f32", "--bias", "trick"])]:
            path = os.path.join(folder, name + ".safetensors")
            command = [binary, "train", "--data", "digits", "--iters", "3", "--quiet", "--model", path]
            subprocess.run(command + extra, check=True, stdout=subprocess.DEVNULL)
            with open(path, "rb") as f:
                seed("model", name, f.read())


def data_spec_seeds():
    forms = ["digits", "mnist:data/mnist", "cifar10:/tmp/cifar-10-batches-bin", "csv:train.csv.gz",
             "libsvm:a9a.txt", "npy:X.npy,y.npy", "npz:mnist.npz", "npy:a,b,c", "csv::"]
    for index, form in enumerate(forms):
        seed("data_spec", f"form_{index}", form.encode())


def main():
    npy_seeds()
    npz_seeds()
    mnist_seeds()
    cifar_seeds()
    csv_seeds()
    libsvm_seeds()
    if "--no-model" not in sys.argv:
        model_seeds()
    data_spec_seeds()
    for target in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, target))
        size = sum(os.path.getsize(os.path.join(CORPUS, target, f)) for f in files)
        print(f"corpus/{target}: {len(files)} seeds, {size:,} bytes")


if __name__ == "__main__":
    main()
