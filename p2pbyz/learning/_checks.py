"""Validators shared by the learning modules: arrays in, clear :class:`InvalidArgument` out.

Every message names the owner (model, dataset, worker ...), the argument, its value or shape and
what is allowed, in the house style of :mod:`p2pbyz._validation`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._random import Seed, spawn
from ..errors import InvalidArgument

__all__ = [
    "prefix",
    "as_vector",
    "as_features",
    "as_labels",
    "as_targets",
    "check_bool",
    "streams",
]


def prefix(owner: str) -> str:
    return f"{owner}: " if owner else ""


def _as_real_array(value: Any, name: str, owner: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(
            f"{prefix(owner)}{name} must be an array of real numbers; got an object of type "
            f"{type(value).__name__} that numpy cannot convert ({exc})"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise InvalidArgument(
            f"{prefix(owner)}{name} must be an array of real numbers; got dtype={arr.dtype}"
        )
    return arr


def as_vector(w: Any, dim: int, *, name: str = "w", owner: str = "") -> np.ndarray:
    """Return ``w`` as a float64 ``(dim,)`` array (no copy when it already is one)."""
    arr = _as_real_array(w, name, owner)
    if arr.shape != (dim,):
        raise InvalidArgument(
            f"{prefix(owner)}{name} must be a flat parameter vector of shape ({dim},); "
            f"got shape={arr.shape}"
        )
    return np.asarray(arr, dtype=np.float64)


def as_features(X: Any, n_features: int, *, name: str = "X", owner: str = "") -> np.ndarray:
    """Return ``X`` as a float64 ``(m, n_features)`` array with ``m >= 1``."""
    arr = _as_real_array(X, name, owner)
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise InvalidArgument(
            f"{prefix(owner)}{name} must have shape (m, {n_features}) (one sample per row); "
            f"got shape={arr.shape}"
        )
    if arr.shape[0] == 0:
        raise InvalidArgument(
            f"{prefix(owner)}{name} must hold at least one sample; got shape={arr.shape}"
        )
    return np.asarray(arr, dtype=np.float64)


def as_labels(y: Any, m: int, n_classes: int, *, name: str = "y", owner: str = "") -> np.ndarray:
    """Return ``y`` as an int64 ``(m,)`` array of class labels in ``[0, n_classes)``."""
    arr = _as_real_array(y, name, owner)
    if arr.shape != (m,):
        raise InvalidArgument(
            f"{prefix(owner)}{name} must have shape ({m},) (one label per row of X); got shape={arr.shape}"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.floor(arr)):
            raise InvalidArgument(
                f"{prefix(owner)}{name} must hold integer class labels; got non-integer values "
                f"(dtype={arr.dtype})"
            )
    elif arr.dtype.kind == "b":
        raise InvalidArgument(
            f"{prefix(owner)}{name} must hold integer class labels; got dtype=bool"
        )
    lo, hi = (int(arr.min()), int(arr.max())) if m else (0, 0)
    if lo < 0 or hi >= n_classes:
        bad = lo if lo < 0 else hi
        raise InvalidArgument(
            f"{prefix(owner)}{name} must hold labels in [0, {n_classes - 1}] (n_classes={n_classes}); "
            f"got label {bad}"
        )
    return np.asarray(arr, dtype=np.int64)


def as_targets(y: Any, m: int, *, name: str = "y", owner: str = "") -> np.ndarray:
    """Return ``y`` as a float64 ``(m,)`` array of regression targets."""
    arr = _as_real_array(y, name, owner)
    if arr.shape != (m,):
        raise InvalidArgument(
            f"{prefix(owner)}{name} must have shape ({m},) (one target per row of X); got shape={arr.shape}"
        )
    return np.asarray(arr, dtype=np.float64)


def check_bool(value: Any, name: str, *, owner: str = "") -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgument(
            f"{prefix(owner)}{name} must be True or False; got {name}={value!r} "
            f"(type={type(value).__name__})"
        )
    return bool(value)


def streams(seed: Seed, k: int, *, name: str = "seed") -> list[np.random.Generator]:
    """Return ``k`` independent generators derived from ``seed``.

    ``seed`` may be None, a non-negative int, a SeedSequence (children are spawned from it) or a
    Generator (children are spawned with :meth:`numpy.random.Generator.spawn`, which advances it).
    """
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(k))
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in spawn(seed, k)]
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and int(seed) >= 0:
        return [np.random.default_rng(s) for s in spawn(int(seed), k)]
    raise InvalidArgument(
        f"{name} must be None, a non-negative int, a numpy SeedSequence or Generator; "
        f"got {name}={seed!r} (type={type(seed).__name__})"
    )
