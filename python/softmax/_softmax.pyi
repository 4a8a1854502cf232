# Types of the compiled module; the docstrings are in the module itself (help(softmax.loss_and_grad)).
from typing import Any, Literal, final

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str

RegConvention = Literal["half", "full"]
LossName = Literal["softmax", "svm"]
LayoutName = Literal["canonical", "seed", "cs231n"]
KernelName = Literal["auto", "naive", "vectorized", "fused", "gemm", "sparse"]

def loss_and_grad(
    W: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    reg: float,
    *,
    reg_convention: RegConvention = "half",
    loss: LossName = "softmax",
    layout: LayoutName = "canonical",
    kernel: KernelName = "auto",
) -> tuple[float, NDArray[np.floating[Any]]]: ...
@final
class Check:
    @property
    def index(self) -> tuple[int, int]: ...
    @property
    def analytic(self) -> float: ...
    @property
    def numerical(self) -> float: ...
    @property
    def relative_error(self) -> float: ...

@final
class GradCheckReport:
    @property
    def kernel(self) -> str: ...
    @property
    def loss(self) -> float: ...
    @property
    def max_relative_error(self) -> float: ...
    @property
    def checks(self) -> list[Check]: ...

def grad_check(
    W: ArrayLike,
    X: ArrayLike,
    y: ArrayLike,
    reg: float,
    *,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int = 0,
    reg_convention: RegConvention = "half",
    loss: LossName = "softmax",
    layout: LayoutName = "canonical",
    kernel: KernelName = "auto",
) -> GradCheckReport: ...
def explain(
    *,
    seed: int = 0,
    loss: LossName = "softmax",
    reg: float = 0.1,
    reg_convention: RegConvention = "half",
) -> str: ...
