"""``SoftmaxClassifier``: the library's training as a scikit-learn estimator, and model files.

The estimator checks and encodes its input the way scikit-learn's estimators do, then trains in
the Rust library (``softmax._softmax.fit``, the command line's ``train``) and keeps the trained
model. ``coef_`` and ``intercept_`` are that model's weights carried back to the raw features
(the preprocessing folded in), shaped as ``LogisticRegression``'s, so predicting is
``X @ coef_.T + intercept_`` as in every scikit-learn linear classifier.
"""

from __future__ import annotations

import json
import mmap
import numbers
import os
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, log_softmax
from scipy.special import softmax as softmax_rows
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from softmax import _softmax

#: The parameters the Rust library takes, by the estimator's names (the rest are the
#: estimator's own: class_weight, random_state, n_threads, verbose).
_LIBRARY_PARAMS = (
    "reg",
    "reg_convention",
    "loss",
    "optimizer",
    "learning_rate",
    "lr_decay",
    "batch_size",
    "epochs",
    "max_iter",
    "tol",
    "ftol",
    "precondition",
    "preprocess",
    "bias",
    "kernel",
    "dtype",
    "init_scale",
    "label_smoothing",
)


class SoftmaxClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression (softmax) or the multiclass SVM, trained in Rust.

    The objective is the (weighted) mean loss over the samples plus an L2 penalty on the
    weights: ``0.5 * reg * sum(W**2)`` (``reg_convention="half"``) or ``reg * sum(W**2)``
    (``"full"``). The intercept is not penalized (``bias="intercept"``). With
    ``preprocess="none"`` and ``loss="softmax"`` this is ``LogisticRegression`` at
    ``C = 1 / (reg * n_samples)`` (``C = 1 / (reg * sample_weight.sum())`` with weights), the
    two-class case included: there, as in ``LogisticRegression``, ``coef_`` is one row ``v`` and
    the penalty is ``0.5 * reg * |v|**2``.

    Parameters
    ----------
    reg : float, default=1e-4
        L2 regularization strength, >= 0.
    reg_convention : {"half", "full"}, default="half"
        "half": 0.5*reg*sum(W**2); "full": reg*sum(W**2) (CS231n since 2018).
    loss : {"softmax", "svm"}, default="softmax"
        Cross-entropy of the softmax, or the multiclass hinge loss (Weston-Watkins, margin 1).
    optimizer : {"lbfgs", "sgd", "momentum", "nesterov", "adam"}, default="lbfgs"
        Full-batch L-BFGS, or a minibatch optimizer.
    learning_rate : float or None, default=None
        Step size of the minibatch optimizers (None: 0.1 for sgd, 0.01 for momentum and
        nesterov, 1e-3 for adam).
    lr_decay : float, default=1.0
        The learning rate is multiplied by this after every epoch.
    batch_size : int, default=200
        Samples per minibatch, drawn with replacement.
    epochs : int or None, default=None
        Passes over the training set (minibatch optimizers; None: 20). Not with ``max_iter``.
    max_iter : int or None, default=None
        L-BFGS iterations or minibatch steps (None: up to 1000 for L-BFGS).
    tol : float, default=1e-6
        L-BFGS stops when the gradient's 2-norm falls below this.
    ftol : float, default=2.22e-9
        L-BFGS also stops when an iteration lowers the objective by at most ``ftol`` relative
        (scipy's L-BFGS-B rule and default; 0 turns it off).
    precondition : {"auto", "none", "inputs"}, default="auto"
        How L-BFGS is preconditioned. "inputs": it runs on V with ``W = V L^-1``, where
        ``L L^T`` is the inputs' second moment ``E[x x^T]`` (with the intercept's column of
        ones) plus a small ridge: the same objective and optimum, reached in fewer passes when
        the features are not centered (raw pixels, embeddings). "auto": "inputs" when the
        features' means carry at least 10% of their second moment and there are at most 4,096
        features, else "none" (plain L-BFGS, as scikit-learn's).
    preprocess : {"none", "scale", "center", "standardize", "auto"}, default="none"
        Preprocessing fitted on the training set and folded into ``coef_``. scikit-learn's
        convention is a separate step (``make_pipeline(StandardScaler(), ...)``), hence "none";
        with another, ``reg`` penalizes the weights of the preprocessed features.
    bias : {"intercept", "trick", "none"}, default="intercept"
        "intercept": an unpenalized intercept per class (``fit_intercept=True``); "trick":
        CS231n's constant-1 feature, penalized; "none": no intercept.
    kernel : {"auto", "fused", "gemm", "sparse", "vectorized", "naive"}, default="auto"
        Which implementation computes the loss and gradient (all give the same numbers).
    dtype : {"auto", "f32", "f64"}, default="auto"
        What training's passes compute in. "auto": L-BFGS in float64 (from a float64 copy of
        X) when X holds at most 2^24 values, in float32 above (no copy; the loss, penalty and
        optimizer state still in float64, ending within about 1e-7 relative of the float64
        objective); the minibatch optimizers in float32.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, as ``{label: weight}`` (classes not named weigh 1), or
        "balanced": ``n_samples / (n_classes * np.bincount(y))``. They multiply
        ``sample_weight``.
    init_scale : float, default=1e-3
        The weights start as ``init_scale * randn`` (seeded by ``random_state``).
    label_smoothing : float, default=0.0
        Label smoothing eps in [0, 1), softmax only: each sample's target distribution is
        ``(1 - eps) * onehot(y) + eps / n_classes`` instead of ``onehot(y)`` (the loss is the
        cross-entropy against it, its gradient ``p - q``). 0 is ``LogisticRegression``'s loss.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the minibatches. None is seed 0: fits are reproducible.
    n_threads : int or None, default=None
        Worker threads, 1 to 1024 (None: one per core). Results do not depend on it, so more
        threads than cores never help; ``fit`` raises ValueError above 1024.
    verbose : int, default=0
        When > 0, prints the loss after every iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights on the raw features; one row for two classes (the second class's score).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; for more than two classes they sum to 0 (as ``LogisticRegression``'s).
    n_iter_ : ndarray of shape (1,)
        Iterations (L-BFGS) or minibatch steps.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a pandas DataFrame with string column names.
    objective_ : float
        The objective at the end of training.
    model_ : softmax._softmax.Model
        The trained model, as the command line's model file holds it (see ``save``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from softmax import SoftmaxClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = SoftmaxClassifier(reg=1e-3).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """

    def __init__(
        self,
        reg=1e-4,
        *,
        reg_convention="half",
        loss="softmax",
        optimizer="lbfgs",
        learning_rate=None,
        lr_decay=1.0,
        batch_size=200,
        epochs=None,
        max_iter=None,
        tol=1e-6,
        ftol=1e7 * np.finfo(np.float64).eps,
        precondition="auto",
        preprocess="none",
        bias="intercept",
        kernel="auto",
        dtype="auto",
        class_weight=None,
        init_scale=1e-3,
        label_smoothing=0.0,
        random_state=None,
        n_threads=None,
        verbose=0,
    ):
        self.reg = reg
        self.reg_convention = reg_convention
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.max_iter = max_iter
        self.tol = tol
        self.ftol = ftol
        self.precondition = precondition
        self.preprocess = preprocess
        self.bias = bias
        self.kernel = kernel
        self.dtype = dtype
        self.class_weight = class_weight
        self.init_scale = init_scale
        self.label_smoothing = label_smoothing
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Train on X (n_samples, n_features) and labels y (n_samples,).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A sparse matrix (converted to CSR) is trained on as it is, never made dense, with
            the sparse kernel; ``preprocess`` must then be "none" or "scale". A whole ``.npy``
            file opened with ``np.load(path, mmap_mode="r")`` (float16, float32 or float64, C
            order) is trained on where it lies, as the command line's ``npy:`` source: X is
            never copied, so it may be larger than memory.
        y : array-like of shape (n_samples,)
            Labels of any type (ints, strings, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            A weight of k counts the sample k times.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            NaN or infinity in X, shapes that disagree, a single class, an option out of range
            or unknown: with the message the command line prints.
        KeyboardInterrupt
            On Ctrl-C, within a second; the estimator is then left unfitted.
        """
        npy_file = _npy_file(X)
        if npy_file is None:
            X = validate_data(
                self,
                X,
                accept_sparse="csr",
                dtype=[np.float64, np.float32],
                ensure_all_finite=False,  # the library names the sample and feature
                reset=True,
            )
        else:
            # Read by the library from the file, where NaN and infinity are refused naming
            # the row and feature; no copy to validate.
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            check_consistent_length(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        params = {name: getattr(self, name) for name in _LIBRARY_PARAMS}
        if len(classes) == 2:
            params["reg"] = 2 * params["reg"] if _is_number(params["reg"]) else params["reg"]
        feature_names = getattr(self, "feature_names_in_", None)
        result = _softmax.fit(
            (npy_file, *X.shape) if npy_file is not None else _features(X),
            y_index,
            [str(c) for c in classes],
            params,
            sample_weight=sample_weight,
            class_weight=_class_weights(self.class_weight, classes),
            feature_names=None if feature_names is None else [str(n) for n in feature_names],
            seed=_seed(self.random_state),
            n_threads=self.n_threads,
            verbose=self.verbose,
        )
        self.classes_ = classes
        self._set_model(result.model)
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.objective_ = result.objective
        if self.optimizer == "lbfgs" and not result.stop_reason.startswith("converged"):
            warnings.warn(
                f"L-BFGS did not converge: {result.stop_reason}; raise max_iter or scale the "
                "data (preprocess='standardize')",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _set_model(self, model):
        """Keep the trained ``model``; derive ``coef_`` and ``intercept_`` on the raw features."""
        self.model_ = model
        scale, offset = model.scale, model.offset
        coef = model.weight / scale  # W x' with x' = (x - offset) / scale
        intercept = model.bias - coef @ offset
        if coef.shape[0] == 2:
            # Two classes: the scores differ by (w1 - w0) x + (b1 - b0), LogisticRegression's
            # single row and intercept.
            self.coef_ = (coef[1] - coef[0])[np.newaxis, :]
            self.intercept_ = np.array([intercept[1] - intercept[0]])
        else:
            # An unpenalized intercept is determined up to a constant added to every class:
            # choose the one that sums to zero, as scikit-learn does.
            if model.bias_mode == "intercept":
                intercept = intercept - intercept.mean()
            self.coef_, self.intercept_ = coef, intercept

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: shape (n_samples,) for two classes (the second
        class's score minus the first's), (n_samples, n_classes) otherwise."""
        return self._map_scores(X, lambda scores: scores)

    def predict(self, X):
        """The class of each sample: the one with the highest score."""
        best = self._map_scores(X, _best)  # first: it raises NotFittedError before fit
        return self.classes_[best]

    def predict_proba(self, X):
        """Softmax probabilities of the classes, shape (n_samples, n_classes)."""
        return self._map_scores(X, _probabilities)

    def predict_log_proba(self, X):
        """Logarithms of ``predict_proba``, computed without underflow."""
        return self._map_scores(X, _log_probabilities)

    def _map_scores(self, X, function):
        """``function`` of the scores of X (as ``decision_function`` gives them), the results
        in row order. A dense array of more than ``_CHUNK_ROWS`` rows (a probe's embeddings,
        memory-mapped perhaps, in float16) is checked and scored a chunk of rows at a time, so
        that neither a converted copy of X nor, for ``predict``, all its scores are ever held."""
        check_is_fitted(self)
        large = isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[0] > _CHUNK_ROWS
        chunks = (
            (X[start : start + _CHUNK_ROWS] for start in range(0, X.shape[0], _CHUNK_ROWS))
            if large
            else [X]
        )
        results = []
        for rows in chunks:
            rows = validate_data(self, rows, accept_sparse="csr", reset=False)
            scores = safe_sparse_dot(rows, self.coef_.T, dense_output=True) + self.intercept_
            results.append(function(scores.ravel() if scores.shape[1] == 1 else scores))
        return results[0] if len(results) == 1 else np.concatenate(results)

    def save(self, path):
        """Write the trained model to ``path`` as the command line's model file (safetensors),
        atomically: ``softmax predict --model path`` and ``softmax.load(path)`` read it."""
        check_is_fitted(self)
        self.model_.save(os.fspath(path))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


def load(path):
    """A fitted ``SoftmaxClassifier`` from a model file (``softmax train --model`` or ``save``).

    Its parameters are those the model was trained with; ``classes_`` are integers when every
    class name is one (as the command line's digits and MNIST), strings otherwise.

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        It is not a model file, or its parts disagree.
    """
    model = _softmax.Model.load(os.fspath(path))
    estimator = SoftmaxClassifier(**_params_of(model))
    names = model.class_names
    integers = all(_is_integer_name(name) for name in names)
    estimator.classes_ = np.array([int(n) for n in names]) if integers else np.array(names)
    estimator.n_features_in_ = model.weight.shape[1]
    if model.feature_names is not None:
        estimator.feature_names_in_ = np.array(model.feature_names, dtype=object)
    estimator._set_model(model)
    estimator.n_iter_ = np.array([0], dtype=np.int32)
    return estimator


def _params_of(model):
    """The estimator's parameters from a model's recorded training options."""
    training = json.loads(model.training)
    duration = training.get("duration") or {}
    n_classes = len(model.class_names)
    params = {
        "reg": model.reg / 2 if n_classes == 2 else model.reg,
        "reg_convention": model.reg_convention,
        "loss": model.loss,
        "preprocess": training.get("preprocess", model.preprocess),
        "bias": model.bias_mode,
        "dtype": training.get("dtype", "auto"),
        "epochs": duration.get("epochs"),
        "max_iter": duration.get("iterations"),
        "random_state": training.get("seed"),
    }
    for name, key in [
        ("optimizer", "optimizer"),
        ("learning_rate", "learning_rate"),
        ("lr_decay", "lr_decay"),
        ("batch_size", "batch_size"),
        ("tol", "tolerance"),
        ("ftol", "ftol"),
        ("precondition", "precondition"),
        ("kernel", "kernel"),
        ("init_scale", "init_scale"),
        ("label_smoothing", "label_smoothing"),
    ]:
        if key in training:
            params[name] = training[key]
    return params


#: Rows that ``predict`` and its siblings score at a time when X is a large dense array.
_CHUNK_ROWS = 8192


def _best(scores):
    """The index of each row's best class, from ``decision_function``'s scores."""
    return (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)


def _probabilities(scores):
    """The softmax probabilities of ``decision_function``'s scores."""
    if scores.ndim == 1:
        positive = expit(scores)
        return np.column_stack([1 - positive, positive])
    return softmax_rows(scores, axis=1)


def _log_probabilities(scores):
    """The logarithms of ``_probabilities``, without underflow."""
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return log_softmax(scores, axis=1)


def _npy_file(X):
    """The path of the ``.npy`` file that X is the whole of, as ``np.load(path, mmap_mode=...)``
    maps it (not a slice or a view of it: those have another memmap as their base), when its
    header says so: 2-D, C order, float16, float32 or float64. None for any other X, and for
    ``mmap_mode="c"``, whose changes stay in memory and are not the file's."""
    if not isinstance(X, np.memmap) or not isinstance(X.base, mmap.mmap) or X.filename is None:
        return None
    if X.mode == "c":
        return None
    try:
        with open(X.filename, "rb") as file:
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(np.lib.format.read_magic(file))
            if read_header is None:
                return None  # a version 3 header (field names in UTF-8): no floats
            shape, fortran_order, dtype = read_header(file)
            offset = file.tell()
    except (OSError, ValueError):
        return None  # not a .npy file: a raw np.memmap, a joblib dump
    whole = (shape, fortran_order, dtype, offset) == (X.shape, False, X.dtype, X.offset)
    floats = dtype.kind == "f" and dtype.itemsize in (2, 4, 8) and dtype.byteorder in "=<|"
    return os.fspath(X.filename) if whole and len(shape) == 2 and floats else None


def _features(X):
    """X for the library: a dense array as it is, a sparse one as its CSR arrays in canonical
    form (sorted column indices, no duplicates), which the library trains on without making
    it dense."""
    if not sp.issparse(X):
        return X
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return (X.indptr, X.indices, X.data, X.shape[1])


def _class_weights(class_weight, classes):
    """``class_weight`` for the library: None, "balanced", or one weight per class of
    ``classes`` (1 for a class the dict does not name)."""
    if class_weight is None or isinstance(class_weight, str):
        return class_weight
    if not isinstance(class_weight, dict):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")
    known = set(classes.tolist())
    unknown = [label for label in class_weight if label not in known]
    if unknown:
        raise ValueError(f"class_weight names labels that are not in y: {unknown}")
    return [float(class_weight.get(label, 1.0)) for label in classes.tolist()]


def _is_integer_name(name):
    """Whether ``name`` is an integer as ``str(int)`` writes it."""
    try:
        return str(int(name)) == name
    except ValueError:
        return False


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _seed(random_state):
    """A seed for the library: None is 0 (reproducible), an int itself, a RandomState draws."""
    if random_state is None:
        return 0
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
