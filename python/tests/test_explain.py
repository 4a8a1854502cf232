"""softmax.explain: the worked example, as the command prints it."""

import subprocess

import pytest
import softmax

OPTIONS = [
    {},
    {"loss": "svm"},
    {"seed": 3, "reg": 0.5, "reg_convention": "full"},
    {"loss": "svm", "reg": 0.0, "seed": 12},
]


def test_default_example_has_the_known_numbers():
    text = softmax.explain()
    lines = text.splitlines()
    assert lines[0] == "Worked example: the softmax loss and its gradient"
    assert "  reg         0.1 (half convention: penalty 0.5·reg·ΣW², gradient reg·W)" in lines
    assert "  total loss  L = 0.8017 + 0.1922 = 0.9938377476" in lines
    assert "    j=0   0.35  -0.07   0.15  -0.69" in lines  # row 0 of W
    assert not text.endswith("\n")


def test_options_change_the_example():
    svm = softmax.explain(loss="svm", reg_convention="full", seed=1)
    assert svm.splitlines()[0] == "Worked example: the svm loss and its gradient"
    assert "full convention" in svm
    assert softmax.explain(seed=1) != softmax.explain(seed=2)


@pytest.mark.parametrize("options", OPTIONS)
def test_equals_the_command(softmax_binary, options):
    arguments = []
    for name, value in options.items():
        arguments += ["--" + name.replace("_", "-"), str(value)]
    printed = subprocess.run(
        [softmax_binary, "explain", *arguments], check=True, capture_output=True, text=True
    ).stdout
    assert softmax.explain(**options) + "\n" == printed
