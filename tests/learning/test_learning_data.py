"""Datasets (registry, seeding, split, scaling) and partitioning among workers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import learning
from p2pbyz.errors import InvalidArgument

SHAPES = {
    "gaussian_mixture": (2000, 10, 4, "classification"),
    "linear_teacher": (2000, 10, 0, "regression"),
    "digits": (1797, 64, 10, "classification"),
    "breast_cancer": (569, 30, 2, "classification"),
    "wine": (178, 13, 3, "classification"),
}


# ===================================================================================== datasets
@pytest.mark.parametrize("name", learning.datasets())
def test_dataset_shapes_and_split(name: str) -> None:
    """Every dataset: right sizes, float64 features, labels in range, ~20% held out, read-only arrays."""
    m, p, k, task = SHAPES[name]
    d = learning.load_dataset(name, seed=3)
    assert (d.name, d.task, d.n_features, d.n_classes) == (name, task, p, k)
    assert d.n_train + d.n_test == m
    assert abs(d.n_test - 0.2 * m) <= k + 1  # per-class rounding
    assert d.X_train.dtype == np.float64 and d.X_test.dtype == np.float64
    if task == "classification":
        assert d.y_train.dtype == np.int64
        assert set(np.unique(d.y_train)) == set(range(k)) == set(np.unique(d.y_test))
        # stratified: class proportions agree between the splits
        ptr = np.bincount(d.y_train, minlength=k) / d.n_train
        pte = np.bincount(d.y_test, minlength=k) / d.n_test
        assert np.abs(ptr - pte).max() < 0.03
    for a in (d.X_train, d.y_train, d.X_test, d.y_test):
        assert not a.flags.writeable
    with pytest.raises(ValueError):
        d.X_train[0, 0] = 1.0


@pytest.mark.parametrize("name", learning.datasets())
def test_dataset_seeding(name: str) -> None:
    """Same seed, same data; another seed, another split (and other synthetic data)."""
    a = learning.load_dataset(name, seed=11)
    b = learning.load_dataset(name, seed=11)
    c = learning.load_dataset(name, seed=12)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.shape != c.X_train.shape or not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine"])
def test_sklearn_sets_standardised_on_train_only(name: str) -> None:
    """The scaler is fitted on the train split: train mean 0 and std 1 (or 0 for constant pixels)."""
    d = learning.load_dataset(name, seed=0)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0.0, atol=1e-12)
    std = d.X_train.std(axis=0)
    assert np.all((np.abs(std - 1.0) < 1e-12) | (std == 0.0))
    raw = learning.load_dataset(name, seed=0, standardize=False)
    np.testing.assert_allclose(
        d.X_test, (raw.X_test - d.info["mean"]) / d.info["scale"], rtol=1e-12
    )
    np.testing.assert_allclose(d.info["mean"], raw.X_train.mean(axis=0), rtol=1e-12)
    assert not np.allclose(d.X_test.mean(axis=0), 0.0, atol=1e-3)  # test statistics did not leak in


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine"])
def test_sklearn_files_read_directly_equal_the_loaders(name: str, monkeypatch) -> None:
    """The bundled files read without importing sklearn.datasets give the loaders' very arrays;
    where the file is not found, the loader itself is used."""
    from p2pbyz.learning import _datasets

    direct = _datasets._sklearn_file(name)
    assert direct is not None  # this scikit-learn has the layout the fast path expects
    X, y = _datasets._sklearn_loaded(name)
    assert direct[0].dtype == X.dtype == np.float64 and direct[1].dtype == y.dtype == np.int64
    np.testing.assert_array_equal(direct[0], X)
    np.testing.assert_array_equal(direct[1], y)
    monkeypatch.setattr(_datasets, "_SKLEARN_FILES", {name: ("no_such_file.csv", 1, 1)})
    assert _datasets._sklearn_file(name) is None
    _datasets._sklearn_raw.cache_clear()
    try:
        Xf, yf = _datasets._sklearn_raw(name)  # falls back to the loader
        np.testing.assert_array_equal(Xf, X)
        np.testing.assert_array_equal(yf, y)
    finally:
        _datasets._sklearn_raw.cache_clear()


def test_synthetic_parameters_and_teacher() -> None:
    """Synthetic generators honour their parameters; the teacher reproduces the noiseless targets."""
    g = learning.load_dataset(
        "gaussian_mixture", seed=0, n_samples=300, n_features=3, n_classes=5, test_fraction=0.5
    )
    assert (g.n_train + g.n_test, g.n_features, g.n_classes, g.n_test) == (300, 3, 5, 150)
    assert g.info["means"].shape == (5, 3)
    t = learning.load_dataset("linear_teacher", seed=0, n_samples=100, n_features=4, noise=0.0)
    w = t.info["w_star"]
    np.testing.assert_allclose(t.X_train @ w[:-1] + w[-1], t.y_train, rtol=1e-12)
    assert learning.dataset_info("gaussian_mixture")["params"] == {
        "n_samples": 2000,
        "n_features": 10,
        "n_classes": 4,
        "separation": 3.0,
        "noise": 1.0,
    }


def test_custom_dataset_validation() -> None:
    """A hand-built Dataset is checked and frozen (copies: the caller's arrays stay writable)."""
    X = np.zeros((4, 2))
    y = np.array([0, 1, 0, 1])
    d = learning.Dataset(X[:3], y[:3], X[3:], y[3:], n_classes=2, task="classification")
    assert X.flags.writeable and not d.X_train.flags.writeable
    with pytest.raises(
        InvalidArgument,
        match=r"^Dataset: y_train must hold labels in \[0, 1\] \(n_classes=2\); got label 2$",
    ):
        learning.Dataset(
            X[:3], np.array([0, 1, 2]), X[3:], y[3:], n_classes=2, task="classification"
        )
    with pytest.raises(InvalidArgument, match=r"^Dataset: X_test must have shape \(m, 2\)"):
        learning.Dataset(X[:3], y[:3], np.zeros((1, 3)), y[3:], n_classes=2, task="classification")
    with pytest.raises(
        InvalidArgument,
        match=r"^Dataset: task must be one of 'classification', 'regression'; got task='ranking'$",
    ):
        learning.Dataset(X[:3], y[:3], X[3:], y[3:], n_classes=2, task="ranking")


DATA_BAD = [
    (
        lambda: learning.load_dataset("mnist"),
        r"^unknown dataset 'mnist'; known datasets: gaussian_mixture, linear_teacher, digits, breast_cancer, wine$",
    ),
    (
        lambda: learning.load_dataset("digits", n_samples=10),
        r"^digits: unknown parameter 'n_samples'; allowed parameters: standardize, seed, test_fraction$",
    ),
    (
        lambda: learning.load_dataset("digits", seed=0, test_fraction=1.0),
        r"^test_fraction must be < 1; got test_fraction=1.0$",
    ),
    (
        lambda: learning.load_dataset("wine", seed=0, test_fraction=0.0),
        r"^test_fraction must be > 0.0; got test_fraction=0.0$",
    ),
    (lambda: learning.load_dataset("wine", seed=-1), r"^seed must be None, a non-negative int"),
    (
        lambda: learning.load_dataset("wine", seed=0, standardize="yes"),
        r"^wine: standardize must be True or False; got standardize='yes'",
    ),
    (
        lambda: learning.load_dataset("gaussian_mixture", seed=0, n_classes=1),
        r"^gaussian_mixture: n_classes must be >= 2; got n_classes=1$",
    ),
    (
        lambda: learning.load_dataset("linear_teacher", seed=0, noise=-0.1),
        r"^linear_teacher: noise must be >= 0.0; got noise=-0.1$",
    ),
    (
        lambda: learning.load_dataset("gaussian_mixture", seed=0, n_samples=4, test_fraction=0.01),
        r"^test_fraction=0.01 leaves an empty test split with 4 samples",
    ),
]


@pytest.mark.parametrize(("call", "match"), DATA_BAD)
def test_dataset_errors(call, match: str) -> None:
    """Bad names, parameters and values raise InvalidArgument naming them."""
    with pytest.raises(InvalidArgument, match=match):
        call()


# ================================================================================= partitioning
@given(
    m=st.integers(1, 300),
    n=st.integers(1, 40),
    C=st.integers(1, 12),
    scheme=st.sampled_from(["iid", "dirichlet", "extreme"]),
    alpha=st.sampled_from([0.01, 0.1, 1.0, 100.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_partition_covers_every_sample_once(
    m: int, n: int, C: int, scheme: str, alpha: float, seed: int
) -> None:
    """Any labels, any scheme: disjoint sorted parts covering range(m), none empty (or a clear error)."""
    n = min(n, m)
    y = np.random.default_rng(seed).integers(0, C, size=m)
    params = {"alpha": alpha} if scheme == "dirichlet" else {}
    try:
        parts = learning.partition(y, n, scheme, seed=seed, **params)
    except InvalidArgument as exc:  # only 'extreme' may refuse: a class smaller than its holders
        assert scheme == "extreme" and "without samples" in str(exc)
        return
    assert len(parts) == n
    allidx = np.concatenate(parts)
    assert np.array_equal(np.sort(allidx), np.arange(m))
    assert all(len(q) >= 1 and q.dtype == np.int64 and np.all(np.diff(q) > 0) for q in parts)
    if scheme == "iid":
        sizes = [len(q) for q in parts]
        assert max(sizes) - min(sizes) <= 1


def test_partition_changes_what_workers_see() -> None:
    """Label histograms: near the global one under iid, far from it under Dirichlet(0.1) and extreme."""
    d = learning.load_dataset("digits", seed=0)
    y, C, n = d.y_train, d.n_classes, 10
    skews = {}
    for scheme, params in [
        ("iid", {}),
        ("dirichlet", {"alpha": 0.1}),
        ("dirichlet", {"alpha": 100.0}),
        ("extreme", {}),
    ]:
        parts = learning.partition(y, n, scheme, seed=1, **params)
        skews[(scheme, params.get("alpha"))] = learning.label_skew(y, parts, C)
        h = learning.label_histogram(y, parts, C)
        assert h.shape == (n, C) and h.sum() == len(y)
    assert skews[("iid", None)] < 0.12
    assert skews[("dirichlet", 100.0)] < 0.12
    assert skews[("dirichlet", 0.1)] > 0.6
    assert skews[("extreme", None)] > 0.85  # 1 - 1/C = 0.9 with balanced classes
    # extreme with n = C: each worker sees exactly one class, and all classes are seen
    parts = learning.partition(y, C, "extreme", seed=1)
    classes = [np.unique(y[q]) for q in parts]
    assert all(len(c) == 1 for c in classes) and sorted(int(c[0]) for c in classes) == list(
        range(C)
    )


def test_extreme_variants() -> None:
    """classes_per_worker=k gives at most k classes per worker; n*k < C deals the rest round-robin."""
    y = np.repeat(np.arange(10), 20)
    parts = learning.partition(y, 5, "extreme", classes_per_worker=2, seed=0)
    assert [len(np.unique(y[q])) for q in parts] == [2] * 5
    parts = learning.partition(y, 3, "extreme", seed=0)  # 3 slots, 7 leftover classes
    assert sorted(len(np.unique(y[q])) for q in parts) == [3, 3, 4]
    parts = learning.partition(y, 20, "extreme", seed=0)  # two workers per class
    assert [len(q) for q in parts] == [10] * 20


def test_partition_seeded() -> None:
    """Same seed, same split; a different seed, a different split."""
    y = np.repeat(np.arange(5), 40)
    for scheme in ("iid", "dirichlet", "extreme"):
        a = learning.partition(y, 5, scheme, seed=7)
        b = learning.partition(y, 5, scheme, seed=7)
        c = learning.partition(y, 5, scheme, seed=8)
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
        assert not all(np.array_equal(p, q) for p, q in zip(a, c))


PART_BAD = [
    (
        lambda y: learning.partition(y, 3, "pathological"),
        r"^partition: unknown scheme 'pathological'; known schemes: iid, dirichlet, extreme$",
    ),
    (
        lambda y: learning.partition(y, 3, "iid", alpha=0.1),
        r"^partition: scheme 'iid' takes no parameter 'alpha'; allowed parameters: \(none\)$",
    ),
    (
        lambda y: learning.partition(y, 3, "dirichlet", alpha=0.0),
        r"^partition: alpha must be > 0.0; got alpha=0.0$",
    ),
    (lambda y: learning.partition(y, 0), r"^partition: n_workers must be >= 1; got n_workers=0$"),
    (
        lambda y: learning.partition(y, 13),
        r"^partition: n_workers must be <= the number of samples \(12\); got n_workers=13$",
    ),
    (
        lambda y: learning.partition(y, 3, "extreme", classes_per_worker=4),
        r"^partition: classes_per_worker must be <= 3; got classes_per_worker=4$",
    ),
    (
        lambda y: learning.partition(y, 12, "extreme", classes_per_worker=2),
        r"^partition: scheme 'extreme' leaves worker \d+ without samples",
    ),
    (
        lambda y: learning.partition(y + 0.5, 3, "dirichlet"),
        r"^partition: scheme='dirichlet' needs integer class labels; got dtype=float64",
    ),
]


@pytest.mark.parametrize(("call", "match"), PART_BAD)
def test_partition_errors(call, match: str) -> None:
    """Invalid partition requests raise InvalidArgument naming the parameter and value."""
    with pytest.raises(InvalidArgument, match=match):
        call(np.repeat(np.arange(3), 4))


def test_regression_targets_split_iid() -> None:
    """Real-valued targets can be split iid."""
    parts = learning.partition(np.linspace(0, 1, 10), 3, seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
