"""softmax.SoftmaxClassifier: scikit-learn's conventions and checks, parity with
LogisticRegression, weights, model files, and Ctrl-C."""

import json
import os
import pickle
import signal
import subprocess
import threading
import time
import tracemalloc

import numpy as np
import pytest
from scipy.special import log_softmax
from scipy.special import softmax as softmax_rows
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import softmax
from softmax import SoftmaxClassifier
from softmax._classifier import _npy_file


def standardized(X):
    return StandardScaler().fit_transform(X)


def datasets():
    """(name, X, y): binary and multinomial, small and well-conditioned once standardized."""
    cancer = load_breast_cancer()
    wine = load_wine()
    iris = load_iris()
    X_blobs, y_blobs = make_classification(
        n_samples=600, n_features=12, n_informative=6, n_classes=4, random_state=3
    )
    digits = load_digits()
    return [
        ("breast_cancer (binary)", standardized(cancer.data), cancer.target),
        ("wine (3 classes)", standardized(wine.data), wine.target),
        ("iris (3 classes, string labels)", iris.data, iris.target_names[iris.target]),
        ("make_classification (4 classes)", X_blobs, y_blobs),
        ("digits (10 classes)", digits.data / 16, digits.target),
    ]


def relative_difference(ours, theirs):
    return np.abs(ours - theirs).max() / np.abs(theirs).max()


@pytest.mark.parametrize("name, X, y", datasets(), ids=[d[0] for d in datasets()])
@pytest.mark.parametrize("bias", ["intercept", "none"])
def test_equals_logistic_regression_at_the_same_C(name, X, y, bias):
    """At C = 1/(reg*N), coef_ and intercept_ equal LogisticRegression's (lbfgs, tol=1e-10) to
    1e-4 relative, and the predictions are identical."""
    reg = 1e-2
    C = 1 / (reg * len(y))
    fit_intercept = bias == "intercept"
    theirs = LogisticRegression(C=C, tol=1e-10, max_iter=10_000, fit_intercept=fit_intercept)
    theirs.fit(X, y)
    ours = SoftmaxClassifier(reg=reg, bias=bias, tol=1e-9, ftol=0).fit(X, y)
    assert ours.coef_.shape == theirs.coef_.shape
    assert ours.intercept_.shape == theirs.intercept_.shape
    assert relative_difference(ours.coef_, theirs.coef_) < 1e-4
    if fit_intercept:
        assert relative_difference(ours.intercept_, theirs.intercept_) < 1e-4
    else:
        assert np.all(ours.intercept_ == 0)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X), atol=1e-4)


@pytest.mark.parametrize("precondition", ["auto", "none", "inputs"])
def test_every_preconditioning_reaches_logistic_regression(precondition):
    """Preconditioning changes L-BFGS's path, not its optimum: on the digits' raw pixels (not
    centered, so "auto" preconditions) every setting ends at LogisticRegression's coefficients,
    the preconditioned ones in fewer iterations."""
    digits = load_digits()
    X, y = digits.data / 16, digits.target
    reg = 1e-2
    theirs = LogisticRegression(C=1 / (reg * len(y)), tol=1e-10, max_iter=10_000).fit(X, y)
    ours = SoftmaxClassifier(reg=reg, tol=1e-9, ftol=0, precondition=precondition).fit(X, y)
    assert relative_difference(ours.coef_, theirs.coef_) < 1e-4
    assert relative_difference(ours.intercept_, theirs.intercept_) < 1e-4
    plain = SoftmaxClassifier(reg=reg, tol=1e-9, ftol=0, precondition="none").fit(X, y)
    if precondition != "none":
        assert ours.n_iter_[0] < 0.8 * plain.n_iter_[0], (ours.n_iter_, plain.n_iter_)


def test_a_memory_mapped_npy_file_is_trained_on_where_it_lies(tmp_path):
    """X = np.load(path, mmap_mode="r") of a whole .npy file is read by the library from the
    file (float16 too, never converted or copied in Python) and gives the model of the same
    values read into memory; slices, views and other memmaps take the in-memory path."""
    digits = load_digits()
    y = digits.target
    path = tmp_path / "x16.npy"
    np.save(path, (digits.data / 16).astype(np.float16))
    X = np.load(path, mmap_mode="r")
    assert _npy_file(X) == str(path)
    for view in [X[1:], X.T, X[:, :10], np.asarray(X), np.array(X, dtype=np.float32)]:
        assert _npy_file(view) is None
    assert _npy_file(np.load(path, mmap_mode="c")) is None  # its changes are not the file's
    raw = np.memmap(tmp_path / "raw.bin", dtype=np.float32, mode="w+", shape=(4, 3))
    assert _npy_file(raw) is None
    mapped = SoftmaxClassifier(reg=1e-2, tol=1e-9, ftol=0).fit(X, y)
    read = SoftmaxClassifier(reg=1e-2, tol=1e-9, ftol=0).fit(np.asarray(X, dtype=np.float32), y)
    assert mapped.n_features_in_ == 64
    assert abs(mapped.objective_ - read.objective_) <= 1e-9 * read.objective_
    assert relative_difference(mapped.coef_, read.coef_) < 1e-5
    np.testing.assert_array_equal(mapped.predict(X), read.predict(X))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SoftmaxClassifier().fit(X, y[:-1])
    bad = np.array(X)
    bad[3, 5] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="bad.npy"):
        SoftmaxClassifier().fit(np.load(tmp_path / "bad.npy", mmap_mode="r"), y)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_large_arrays_are_scored_a_chunk_of_rows_at_a_time(tmp_path, n_classes):
    """predict and its siblings score a large array (here a float16 memmap of 12 chunks of
    rows and a part) a chunk at a time: the numbers of the array converted whole, while neither
    its float64 copy nor, for predict, all its scores are ever held."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12 * 8192 + 100, 32)).astype(np.float16)
    y = (X[:, 0] > 0).astype(int) + (2 * (X[:, 1] > 0) if n_classes == 4 else 0)
    clf = SoftmaxClassifier(reg=1e-2).fit(X[:2000].astype(np.float32), y[:2000])
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    scores = X.astype(np.float64) @ clf.coef_.T + clf.intercept_
    if n_classes == 2:
        scores = scores.ravel()
        both = np.column_stack([np.zeros_like(scores), scores])
    else:
        both = scores
    close = {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(clf.decision_function(mapped), scores, **close)
    np.testing.assert_allclose(clf.predict_proba(mapped), softmax_rows(both, axis=1), **close)
    np.testing.assert_allclose(clf.predict_log_proba(mapped), log_softmax(both, axis=1), **close)
    np.testing.assert_array_equal(clf.predict(mapped), clf.classes_[both.argmax(axis=1)])
    tracemalloc.start()
    clf.predict(mapped)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < X.size * 8 / 4, f"{peak} bytes at the peak, X in float64: {X.size * 8}"


def test_sample_weights_equal_repeated_samples():
    """A weight of k is k copies of the sample: the same coefficients as fitting on the
    repeated rows, at the same reg (the mean is Σ s_i L_i / Σ s_i)."""
    X, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=0)
    weights = np.random.default_rng(0).integers(0, 4, size=len(y))
    weighted = SoftmaxClassifier(reg=1e-2, tol=1e-10).fit(X, y, sample_weight=weights)
    repeated = SoftmaxClassifier(reg=1e-2, tol=1e-10).fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-6, atol=1e-8)


def test_sample_weights_equal_logistic_regression():
    """With weights, scikit-learn's C is 1/(reg * sum(sample_weight))."""
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=1)
    weights = np.random.default_rng(1).uniform(0.2, 3.0, size=len(y))
    reg = 1e-2
    theirs = LogisticRegression(C=1 / (reg * weights.sum()), tol=1e-10, max_iter=10_000)
    theirs.fit(X, y, sample_weight=weights)
    ours = SoftmaxClassifier(reg=reg, tol=1e-9, ftol=0).fit(X, y, sample_weight=weights)
    assert relative_difference(ours.coef_, theirs.coef_) < 1e-4
    assert relative_difference(ours.intercept_, theirs.intercept_) < 1e-4


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 2: 0.5}])
def test_class_weights_equal_logistic_regression(class_weight):
    X, y = make_classification(
        n_samples=400, n_features=6, n_informative=4, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=2
    )
    reg = 1e-2
    ours = SoftmaxClassifier(reg=reg, tol=1e-9, ftol=0, class_weight=class_weight).fit(X, y)
    # scikit-learn's C is 1/(reg * the sum of the effective weights).
    if class_weight == "balanced":
        per_class = len(y) / (3 * np.bincount(y))
    else:
        per_class = np.array([class_weight.get(c, 1.0) for c in range(3)])
    total = per_class[y].sum()
    theirs = LogisticRegression(C=1 / (reg * total), tol=1e-10, max_iter=10_000, class_weight=class_weight)
    theirs.fit(X, y)
    assert relative_difference(ours.coef_, theirs.coef_) < 1e-4
    unweighted = SoftmaxClassifier(reg=reg, tol=1e-9, ftol=0).fit(X, y)
    assert relative_difference(ours.coef_, unweighted.coef_) > 1e-2


def test_string_labels_and_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=iris.feature_names)
    labels = iris.target_names[iris.target]
    clf = SoftmaxClassifier(reg=1e-3).fit(frame, labels)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert list(clf.feature_names_in_) == iris.feature_names
    assert clf.n_features_in_ == 4
    assert set(clf.predict(frame)) <= set(labels)
    assert clf.score(frame, labels) > 0.95
    assert clf.n_iter_.shape == (1,) and clf.n_iter_[0] > 0


def test_clone_pickle_grid_search_and_pipeline():
    X, y = load_digits(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), SoftmaxClassifier())
    search = GridSearchCV(pipeline, {"softmaxclassifier__reg": [1e-1, 1e-2]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.9
    assert search.best_params_ == {"softmaxclassifier__reg": 1e-2}
    fitted = search.best_estimator_
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    clf = fitted[-1]
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    assert not hasattr(fresh, "coef_")
    fresh.set_params(reg=0.5, loss="svm")
    assert fresh.get_params()["reg"] == 0.5 and fresh.loss == "svm"


def test_save_and_load_round_trip(tmp_path):
    X, y = load_wine(return_X_y=True)
    clf = SoftmaxClassifier(reg=1e-3, preprocess="standardize").fit(X, y)
    path = tmp_path / "wine.safetensors"
    clf.save(path)
    loaded = softmax.load(path)
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.coef_, clf.coef_)
    np.testing.assert_array_equal(loaded.intercept_, clf.intercept_)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    # random_state=None trains with seed 0, which the file records.
    assert loaded.get_params() == {**clf.get_params(), "random_state": 0}


def test_the_command_line_reads_what_save_writes_and_back(tmp_path, softmax_binary):
    """One format: a model of the command line loads as an estimator that predicts what
    `softmax predict` prints, and a model the estimator saves is read by `softmax predict`."""
    model = tmp_path / "digits.safetensors"
    subprocess.run(
        [softmax_binary, "train", "--model", model, "--quiet"], check=True, capture_output=True
    )
    digits = load_digits()
    inputs = tmp_path / "inputs.npy"
    np.save(inputs, digits.data[:200].astype(np.float32))

    def cli_predictions(path):
        out = tmp_path / "labels.npy"
        subprocess.run(
            [softmax_binary, "predict", "--model", path, "--inputs", inputs, "--out", out],
            check=True,
            capture_output=True,
        )
        return np.load(out)

    loaded = softmax.load(model)
    np.testing.assert_array_equal(loaded.classes_, np.arange(10))
    np.testing.assert_array_equal(loaded.predict(digits.data[:200]), cli_predictions(model))

    X, y = make_classification(n_samples=200, n_features=64, n_informative=10, n_classes=5, random_state=4)
    clf = SoftmaxClassifier(reg=1e-3).fit(X, y)
    saved = tmp_path / "ours.safetensors"
    clf.save(saved)
    np.save(inputs, X.astype(np.float32))
    np.testing.assert_array_equal(clf.classes_[cli_predictions(saved)], clf.predict(X))


def run_with_sigint_after(seconds, call):
    """Call `call()` with a SIGINT sent to this process after `seconds`; return what it raised
    and how long after the signal it returned."""
    sent = {}

    def interrupt():
        sent["at"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        call()
    except KeyboardInterrupt as err:
        return err, time.monotonic() - sent["at"]
    finally:
        timer.cancel()
    return None, None


def test_ctrl_c_stops_fit_within_a_second():
    # Python's own SIGINT handler, even where this process was started with SIGINT ignored (a
    # background job of a shell), as in a terminal where Ctrl-C reaches it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 200))
    y = rng.integers(0, 10, size=20_000)
    clf = SoftmaxClassifier(optimizer="sgd", epochs=5_000)  # about 10 s uninterrupted
    started = time.monotonic()
    try:
        raised, after = run_with_sigint_after(0.5, lambda: clf.fit(X, y))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert isinstance(raised, KeyboardInterrupt), f"fit returned after {time.monotonic() - started:.1f} s"
    assert after < 1.0
    assert not hasattr(clf, "coef_") and not hasattr(clf, "model_")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y),
         "inputs contain NaN at training sample 1, feature 1: every value must be finite"),
        (lambda X, y: (X, np.zeros_like(y)), "only one class"),
        (lambda X, y: (X, y[:-1]), "labels for"),
    ],
    ids=["nan", "one class", "label count"],
)
def test_bad_data_gets_the_command_lines_message(change, message):
    X, y = load_iris(return_X_y=True)
    X, y = change(X, y)
    with pytest.raises(ValueError, match=message):
        SoftmaxClassifier().fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"reg": -1.0}, "invalid option: reg must be finite and >= 0, got -1"),
        ({"loss": "hinge"}, "unknown loss 'hinge'"),
        ({"optimizer": "newton"}, "unknown optimizer 'newton'"),
        ({"precondition": "cholesky"}, "unknown preconditioner 'cholesky'"),
        ({"batch_size": 0}, "the batch size must be at least 1"),
        ({"max_iter": 5, "epochs": 5}, "give max_iter or epochs, not both"),
        ({"n_threads": 0}, "n_threads must be at least 1"),
    ],
)
def test_bad_options_get_the_command_lines_message(params, message):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=message):
        SoftmaxClassifier(**params).fit(X, y)


def test_the_thread_count_does_not_change_the_model():
    X, y = load_digits(return_X_y=True)
    one = SoftmaxClassifier(n_threads=1, optimizer="adam", epochs=3, random_state=7).fit(X / 16, y)
    two = SoftmaxClassifier(n_threads=2, optimizer="adam", epochs=3, random_state=7).fit(X / 16, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    other_seed = SoftmaxClassifier(n_threads=2, optimizer="adam", epochs=3, random_state=8).fit(X / 16, y)
    assert not np.array_equal(one.coef_, other_seed.coef_)


def test_verbose_prints_the_loss(capsys):
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="L-BFGS did not converge"):
        SoftmaxClassifier(verbose=1, max_iter=3).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    # One line per iteration, with its accepted objective: below ln 3 (the start, W about 0),
    # and falling.
    assert [line.split()[1] for line in lines] == ["0/3:", "1/3:", "2/3:", "3/3:"][: len(lines)]
    assert len(lines) >= 3
    losses = [float(line.split()[-1]) for line in lines]
    assert losses[0] < np.log(3) and all(b < a for a, b in zip(losses, losses[1:]))


def test_sparse_input_trains_the_dense_model():
    """A SciPy CSR matrix (and other sparse formats, converted to CSR) trains the model the
    same data train dense, and predicts the same."""
    sparse = pytest.importorskip("scipy.sparse")
    X, y = load_digits(return_X_y=True)
    X = X / 16
    dense = SoftmaxClassifier(reg=1e-3, tol=1e-9, ftol=0).fit(X, y)
    for matrix in (sparse.csr_matrix(X), sparse.csc_matrix(X), sparse.coo_matrix(X)):
        ours = SoftmaxClassifier(reg=1e-3, tol=1e-9, ftol=0).fit(matrix, y)
        assert relative_difference(ours.coef_, dense.coef_) < 1e-6
        np.testing.assert_array_equal(ours.predict(matrix), dense.predict(X))
    # A CSR matrix with repeated entries (not in canonical form) is summed, not refused.
    rows, columns = np.nonzero(X)
    values = X[rows, columns]
    doubled = sparse.csr_matrix(
        (np.concatenate([values / 2, values / 2]), (np.concatenate([rows, rows]), np.concatenate([columns, columns]))),
        shape=X.shape,
    )
    ours = SoftmaxClassifier(reg=1e-3, tol=1e-9, ftol=0).fit(doubled, y)
    assert relative_difference(ours.coef_, dense.coef_) < 1e-6
    with pytest.raises(ValueError, match="would make sparse inputs dense"):
        SoftmaxClassifier(preprocess="standardize").fit(sparse.csr_matrix(X), y)


def test_sparse_input_is_never_made_dense():
    """20,000 x 50,000 with 20 nonzeros a row: dense it would take 4 GB in float32 (8 in
    float64); trained sparse, the process's peak memory grows by far less."""
    sparse = pytest.importorskip("scipy.sparse")
    resource = pytest.importorskip("resource")
    rng = np.random.default_rng(0)
    n, d, per_row = 20_000, 50_000, 20
    columns = np.sort(rng.choice(d, size=(n, per_row)), axis=1).ravel()
    rows = np.repeat(np.arange(n), per_row)
    X = sparse.csr_matrix((rng.random(n * per_row), (rows, columns)), shape=(n, d))
    y = rng.integers(0, 5, size=n)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    clf = SoftmaxClassifier(max_iter=5)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    grown_gib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 2**20
    assert grown_gib < 1.0, f"peak memory grew by {grown_gib:.2f} GiB"
    assert clf.coef_.shape == (5, d)
