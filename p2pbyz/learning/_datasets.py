r"""Datasets that need no download: seeded synthetic ones and those shipped inside scikit-learn.

==================== ============== ======== ========== ========= ===========================
name                 task           samples  features   classes   source
==================== ============== ======== ========== ========= ===========================
``gaussian_mixture`` classification 2000 (*) 10 (*)     4 (*)     synthetic, seeded
``linear_teacher``   regression     2000 (*) 10 (*)     --        synthetic, seeded
``digits``           classification 1797     64         10        ``sklearn.datasets``
``breast_cancer``    classification 569      30         2         ``sklearn.datasets``
``wine``             classification 178      13         3         ``sklearn.datasets``
==================== ============== ======== ========== ========= ===========================

(*) default, a parameter. The scikit-learn sets load from files inside the installed package (no
network). Every loader splits train/test with a seeded generator (stratified by class for
classification) and, for the scikit-learn sets, standardises the features with a scaler fitted on
the **train split only** (so no test statistics leak into training).
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .._random import Seed
from .._validation import check_int, check_real
from ..errors import InvalidArgument
from ._checks import as_features, as_labels, as_targets, check_bool, streams

__all__ = [
    "Dataset",
    "datasets",
    "dataset_info",
    "load_dataset",
    "train_test_split",
    "standardize",
]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True, order="C")
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split, frozen (its arrays are read-only copies).

    Attributes
    ----------
    X_train, X_test : numpy.ndarray, shape (m, n_features), float64
    y_train, y_test : numpy.ndarray, shape (m,)
        int64 labels in ``[0, n_classes)`` (classification) or float64 targets (regression).
    n_classes : int
        Number of classes; 0 for regression.
    task : {"classification", "regression"}
    name : str
        Where the data came from (the registry name, or ``"custom"``).
    info : mapping
        Extra facts, e.g. the teacher's parameters ``w_star`` of ``linear_teacher`` or the scaler's
        ``mean`` and ``scale``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> X = np.arange(8.0).reshape(4, 2); y = np.array([0, 1, 0, 1])
    >>> data = learning.Dataset(X[:3], y[:3], X[3:], y[3:], n_classes=2, task="classification")
    >>> data.n_features, data.n_train, data.n_test
    (2, 3, 1)
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    task: str
    name: str = "custom"
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        own = "Dataset"
        if self.task not in ("classification", "regression"):
            raise InvalidArgument(
                f"{own}: task must be one of 'classification', 'regression'; got task={self.task!r}"
            )
        if self.task == "regression":
            if self.n_classes != 0:
                raise InvalidArgument(
                    f"{own}: n_classes must be 0 for regression; got n_classes={self.n_classes!r}"
                )
        else:
            object.__setattr__(
                self, "n_classes", check_int(self.n_classes, "n_classes", minimum=2, owner=own)
            )
        Xtr = np.asarray(self.X_train)
        p = Xtr.shape[1] if Xtr.ndim == 2 else -1
        if p < 1:
            raise InvalidArgument(
                f"{own}: X_train must have shape (m, n_features) with n_features >= 1; got shape={Xtr.shape}"
            )
        for split in ("train", "test"):
            X = as_features(getattr(self, f"X_{split}"), p, name=f"X_{split}", owner=own)
            y = getattr(self, f"y_{split}")
            if self.task == "classification":
                y = as_labels(y, X.shape[0], self.n_classes, name=f"y_{split}", owner=own)
            else:
                y = as_targets(y, X.shape[0], name=f"y_{split}", owner=own)
            object.__setattr__(self, f"X_{split}", _frozen(X))
            object.__setattr__(self, f"y_{split}", _frozen(y))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def n_features(self) -> int:
        """Number of features."""
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        """Number of training samples."""
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of held-out samples."""
        return int(self.X_test.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, n_train={self.n_train}, "
            f"n_test={self.n_test}, n_features={self.n_features}, n_classes={self.n_classes})"
        )


# =============================================================================== split, scale
def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator, *, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(len(y))`` into sorted train and test index arrays.

    With ``stratify``, each class contributes ``round(test_fraction * count)`` samples to the test
    split, so both splits keep the class proportions; otherwise ``round(test_fraction * m)``
    samples are drawn uniformly. Both splits are non-empty.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.learning import train_test_split
    >>> y = np.array([0] * 8 + [1] * 2)
    >>> tr, te = train_test_split(np.zeros((10, 1)), y, 0.5, np.random.default_rng(0), stratify=True)
    >>> np.bincount(y[te]).tolist(), len(tr)
    ([4, 1], 5)
    """
    m = len(y)
    test_fraction = check_real(
        test_fraction, "test_fraction", minimum=0.0, strict_min=True, maximum=1.0
    )
    if test_fraction >= 1.0:
        raise InvalidArgument(f"test_fraction must be < 1; got test_fraction={test_fraction!r}")
    if stratify:
        test_parts = []
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            test_parts.append(idx[: int(round(test_fraction * len(idx)))])
        test = np.concatenate(test_parts)
    else:
        test = rng.permutation(m)[: int(round(test_fraction * m))]
    mask = np.zeros(m, dtype=bool)
    mask[test] = True
    if mask.all() or not mask.any():
        raise InvalidArgument(
            f"test_fraction={test_fraction!r} leaves an empty {'train' if mask.all() else 'test'} split "
            f"with {m} samples; choose test_fraction so that both splits are non-empty"
        )
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def standardize(
    X_train: np.ndarray, X_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Scale features to zero mean and unit variance with statistics of the **train** split only.

    Constant features (zero variance on the train split) are centred and left unscaled.

    Returns
    -------
    X_train, X_test : numpy.ndarray
    scaler : dict with ``mean`` and ``scale``

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.learning import standardize
    >>> tr, te, s = standardize(np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 6.0]]))
    >>> tr.tolist(), te.tolist()
    ([[-1.0, 0.0], [1.0, 0.0]], [[3.0, 1.0]])
    """
    mean = X_train.mean(axis=0)
    scale = X_train.std(axis=0)
    scale[scale == 0.0] = 1.0
    return (X_train - mean) / scale, (X_test - mean) / scale, {"mean": mean, "scale": scale}


def _finish(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    task: str,
    rng: np.random.Generator,
    test_fraction: float,
    scale: bool,
    info: dict[str, Any],
) -> Dataset:
    tr, te = train_test_split(X, y, test_fraction, rng, stratify=task == "classification")
    X_tr, X_te = X[tr], X[te]
    if scale:
        X_tr, X_te, scaler = standardize(X_tr, X_te)
        info = {**info, **scaler}
    return Dataset(X_tr, y[tr], X_te, y[te], n_classes=n_classes, task=task, name=name, info=info)


# =================================================================================== synthetic
def _gaussian_mixture(
    gen: np.random.Generator,
    split: np.random.Generator,
    test_fraction: float,
    *,
    n_samples: int = 2000,
    n_features: int = 10,
    n_classes: int = 4,
    separation: float = 3.0,
    noise: float = 1.0,
) -> Dataset:
    r"""Gaussian mixture: class means :math:`\mu_c = s\,u_c` with :math:`u_c` uniform on the unit
    sphere, samples :math:`x = \mu_y + \sigma \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, I)`,
    balanced classes (``info["means"]`` holds the :math:`\mu_c`)."""
    own = "gaussian_mixture"
    n_samples = check_int(n_samples, "n_samples", minimum=2, owner=own)
    n_features = check_int(n_features, "n_features", minimum=1, owner=own)
    n_classes = check_int(n_classes, "n_classes", minimum=2, maximum=n_samples, owner=own)
    separation = check_real(separation, "separation", minimum=0.0, owner=own)
    noise = check_real(noise, "noise", minimum=0.0, owner=own)
    u = gen.normal(size=(n_classes, n_features))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    means = separation * u
    y = gen.permutation(np.arange(n_samples) % n_classes)
    X = means[y] + noise * gen.normal(size=(n_samples, n_features))
    return _finish(
        own, X, y, n_classes, "classification", split, test_fraction, False, {"means": means}
    )


def _linear_teacher(
    gen: np.random.Generator,
    split: np.random.Generator,
    test_fraction: float,
    *,
    n_samples: int = 2000,
    n_features: int = 10,
    noise: float = 0.1,
) -> Dataset:
    r"""Linear teacher: :math:`x \sim \mathcal N(0, I)`, :math:`y = x^\top w^\star + b^\star +
    \sigma \varepsilon` with :math:`w^\star, b^\star \sim \mathcal N(0, 1)`. ``info["w_star"]`` is
    :math:`(w^\star, b^\star)` in the flat layout of the ``linear`` model."""
    own = "linear_teacher"
    n_samples = check_int(n_samples, "n_samples", minimum=2, owner=own)
    n_features = check_int(n_features, "n_features", minimum=1, owner=own)
    noise = check_real(noise, "noise", minimum=0.0, owner=own)
    w_star = gen.normal(size=n_features + 1)
    X = gen.normal(size=(n_samples, n_features))
    y = X @ w_star[:-1] + w_star[-1] + noise * gen.normal(size=n_samples)
    return _finish(
        own, X, y, 0, "regression", split, test_fraction, False, {"w_star": w_star, "noise": noise}
    )


# ================================================================================ scikit-learn
#: scikit-learn's bundled files (sklearn/datasets/data/): name, rows, features. Each line holds
#: the features then the class; the two plain CSVs start with a "rows,features,names..." header.
_SKLEARN_FILES = {
    "digits": ("digits.csv.gz", 1797, 64),
    "breast_cancer": ("breast_cancer.csv", 569, 30),
    "wine": ("wine_data.csv", 178, 13),
}


def _sklearn_file(which: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The set read straight from scikit-learn's bundled file, or None if that file is not where
    and what this expects (another scikit-learn layout): importing ``sklearn.datasets`` for its
    loader took 1.4-2.3 s, most of ``p2pbyz run``'s default scenario. The numbers are the same:
    the loaders parse the same text into float64 (tests compare the two)."""
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    name, rows, cols = _SKLEARN_FILES[which]
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    try:
        raw = np.loadtxt(path, delimiter=",", skiprows=0 if which == "digits" else 1)
    except (OSError, ValueError):
        return None
    if raw.shape != (rows, cols + 1) or not np.array_equal(raw[:, -1], np.round(raw[:, -1])):
        return None
    return np.ascontiguousarray(raw[:, :-1]), raw[:, -1].astype(np.int64)


@functools.cache
def _sklearn_raw(which: str) -> tuple[np.ndarray, np.ndarray]:
    X, y = _sklearn_file(which) or _sklearn_loaded(which)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def _sklearn_loaded(which: str) -> tuple[np.ndarray, np.ndarray]:
    """The set through scikit-learn's own loader."""
    from sklearn import datasets as skd  # lazy: importing scikit-learn takes a while

    loader = {
        "digits": skd.load_digits,
        "breast_cancer": skd.load_breast_cancer,
        "wine": skd.load_wine,
    }[which]
    bunch = loader()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def _sklearn(which: str) -> Callable[..., Dataset]:
    def load(
        gen: np.random.Generator,
        split: np.random.Generator,
        test_fraction: float,
        *,
        standardize: bool = True,
    ) -> Dataset:
        scale = check_bool(standardize, "standardize", owner=which)
        X, y = _sklearn_raw(which)
        return _finish(
            which, X, y, int(y.max()) + 1, "classification", split, test_fraction, scale, {}
        )

    load.__name__ = f"_load_{which}"
    return load


@dataclass(frozen=True)
class _DatasetEntry:
    loader: Callable[..., Dataset]
    task: str
    summary: str


_DATASETS: dict[str, _DatasetEntry] = {
    "gaussian_mixture": _DatasetEntry(
        _gaussian_mixture, "classification", "synthetic Gaussian mixture"
    ),
    "linear_teacher": _DatasetEntry(
        _linear_teacher, "regression", "synthetic linear teacher with noise"
    ),
    "digits": _DatasetEntry(
        _sklearn("digits"), "classification", "8x8 handwritten digits (sklearn), 10 classes"
    ),
    "breast_cancer": _DatasetEntry(
        _sklearn("breast_cancer"), "classification", "Wisconsin breast cancer (sklearn), 2 classes"
    ),
    "wine": _DatasetEntry(
        _sklearn("wine"), "classification", "wine recognition (sklearn), 3 classes"
    ),
}


def _params_of(loader: Callable[..., Dataset]) -> dict[str, Any]:
    return {
        p.name: p.default
        for p in inspect.signature(loader).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def datasets() -> tuple[str, ...]:
    """Names of the registered datasets, for :func:`load_dataset`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.datasets()
    ('gaussian_mixture', 'linear_teacher', 'digits', 'breast_cancer', 'wine')
    """
    return tuple(_DATASETS)


def dataset_info(name: str) -> dict[str, Any]:
    """What the registry knows about dataset ``name``: its task, a one-line summary and its
    parameters (besides ``seed`` and ``test_fraction``) with their defaults.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.dataset_info("linear_teacher")
    {'task': 'regression', 'summary': 'synthetic linear teacher with noise', 'params': {'n_samples': 2000, 'n_features': 10, 'noise': 0.1}}
    """
    if not isinstance(name, str) or name not in _DATASETS:
        raise InvalidArgument(f"unknown dataset {name!r}; known datasets: {', '.join(_DATASETS)}")
    entry = _DATASETS[name]
    return {"task": entry.task, "summary": entry.summary, "params": _params_of(entry.loader)}


def load_dataset(
    name: str, seed: Seed = None, test_fraction: float = 0.2, **params: Any
) -> Dataset:
    """Load (or generate) a registered dataset and split it into train and test.

    The seed drives two independent streams (spawned from it): one generates the synthetic data,
    the other draws the train/test split. Same seed, same :class:`Dataset`.

    Parameters
    ----------
    name : str
        One of :func:`datasets`.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, default None
        None draws fresh OS entropy (not reproducible): pass an int for reproducible runs.
    test_fraction : float, default 0.2
        Fraction of the samples held out, in ``(0, 1)``; stratified by class for classification.
    **params
        Dataset parameters; :func:`dataset_info` lists them (e.g. ``n_samples``, ``n_features``,
        ``n_classes``, ``separation``, ``noise`` for ``gaussian_mixture``; ``standardize`` for the
        scikit-learn sets).

    Returns
    -------
    Dataset

    Raises
    ------
    InvalidArgument
        Unknown name or parameter, or an invalid value.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> data = learning.load_dataset("digits", seed=0)
    >>> data
    Dataset(name='digits', task='classification', n_train=1438, n_test=359, n_features=64, n_classes=10)
    >>> bool(abs(data.X_train.mean()) < 1e-12)      # standardised with train statistics
    True
    >>> learning.load_dataset("gaussian_mixture", seed=1, n_classes=3).n_classes
    3
    """
    if not isinstance(name, str) or name not in _DATASETS:
        raise InvalidArgument(f"unknown dataset {name!r}; known datasets: {', '.join(_DATASETS)}")
    entry = _DATASETS[name]
    allowed = _params_of(entry.loader)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidArgument(
            f"{name}: unknown parameter {unknown[0]!r}; allowed parameters: "
            f"{', '.join(allowed) if allowed else '(none)'}, seed, test_fraction"
        )
    gen, split = streams(seed, 2)
    return entry.loader(gen, split, test_fraction, **params)
