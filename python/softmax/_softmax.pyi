# Types of the compiled module; the docstrings are in the module itself (help(softmax.loss_and_grad)).
import os
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
    label_smoothing: float = 0.0,
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
    label_smoothing: float = 0.0,
) -> GradCheckReport: ...
def explain(
    *,
    seed: int = 0,
    loss: LossName = "softmax",
    reg: float = 0.1,
    reg_convention: RegConvention = "half",
) -> str: ...

@final
class Model:
    @staticmethod
    def load(path: str | os.PathLike[str]) -> Model: ...
    @staticmethod
    def from_bytes(bytes: bytes) -> Model: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    def to_bytes(self) -> bytes: ...
    @property
    def weight(self) -> NDArray[np.float64]: ...
    @property
    def bias(self) -> NDArray[np.float64]: ...
    @property
    def offset(self) -> NDArray[np.float64]: ...
    @property
    def scale(self) -> NDArray[np.float64]: ...
    @property
    def preprocess(self) -> str: ...
    @property
    def class_names(self) -> list[str]: ...
    @property
    def feature_names(self) -> list[str] | None: ...
    @property
    def loss(self) -> LossName: ...
    @property
    def reg(self) -> float: ...
    @property
    def reg_convention(self) -> RegConvention: ...
    @property
    def bias_mode(self) -> str: ...
    @property
    def dtype(self) -> Literal["float32", "float64"]: ...
    @property
    def training(self) -> str: ...

@final
class FitResult:
    @property
    def model(self) -> Model: ...
    @property
    def n_iter(self) -> int: ...
    @property
    def passes(self) -> float: ...
    @property
    def objective(self) -> float: ...
    @property
    def train_accuracy(self) -> float: ...
    @property
    def stop_reason(self) -> str: ...
    @property
    def seconds(self) -> float: ...

def fit(
    X: ArrayLike | tuple[ArrayLike, ArrayLike, ArrayLike, int],
    y: ArrayLike,
    class_names: list[str],
    params: dict[str, Any],
    *,
    sample_weight: ArrayLike | None = None,
    class_weight: Literal["balanced"] | list[float] | None = None,
    feature_names: list[str] | None = None,
    seed: int = 0,
    n_threads: int | None = None,
    verbose: int = 0,
) -> FitResult: ...
