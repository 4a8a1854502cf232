"""Where the command-line binary is, for the tests that compare the package with it."""

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def softmax_binary():
    """The `softmax` command built by `cargo test --release` (the README's test command builds it
    before pytest runs); the test is skipped where it has not been built."""
    binary = REPO / "target" / "release" / "softmax"
    if not binary.exists():
        pytest.skip(f"{binary} is not built (run cargo test --release or cargo build --release)")
    return binary
