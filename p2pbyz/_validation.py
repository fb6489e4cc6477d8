"""One module of validators, one message style: name the argument, its value and the requirement."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .errors import InvalidArgument

__all__ = [
    "check_int",
    "check_real",
    "check_choice",
    "as_gradients",
]


def _typename(value: Any) -> str:
    return type(value).__name__


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None, owner: str = ""
) -> int:
    """Return ``value`` as an int, or raise InvalidArgument naming ``name`` and the bounds."""
    prefix = f"{owner}: " if owner else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            pass
        else:
            raise InvalidArgument(
                f"{prefix}{name} must be an integer; got {name}={value!r} (type={_typename(value)})"
            )
    v = int(value)
    if minimum is not None and v < minimum:
        raise InvalidArgument(f"{prefix}{name} must be >= {minimum}; got {name}={value!r}")
    if maximum is not None and v > maximum:
        raise InvalidArgument(f"{prefix}{name} must be <= {maximum}; got {name}={value!r}")
    return v


def check_real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    owner: str = "",
) -> float:
    """Return ``value`` as a finite float, or raise InvalidArgument naming ``name`` and the bounds."""
    prefix = f"{owner}: " if owner else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgument(
            f"{prefix}{name} must be a real number; got {name}={value!r} (type={_typename(value)})"
        )
    v = float(value)
    if not np.isfinite(v):
        raise InvalidArgument(f"{prefix}{name} must be finite; got {name}={value!r}")
    if minimum is not None:
        if strict_min and not v > minimum:
            raise InvalidArgument(f"{prefix}{name} must be > {minimum}; got {name}={value!r}")
        if not strict_min and v < minimum:
            raise InvalidArgument(f"{prefix}{name} must be >= {minimum}; got {name}={value!r}")
    if maximum is not None and v > maximum:
        raise InvalidArgument(f"{prefix}{name} must be <= {maximum}; got {name}={value!r}")
    return v


def check_choice(value: Any, name: str, choices: tuple[Any, ...], *, owner: str = "") -> Any:
    """Return ``value`` if it is one of ``choices``, else raise InvalidArgument listing them."""
    prefix = f"{owner}: " if owner else ""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InvalidArgument(f"{prefix}{name} must be one of {allowed}; got {name}={value!r}")
    return value


def as_gradients(X: Any, *, owner: str = "", name: str = "X") -> np.ndarray:
    """Convert ``X`` to a C-contiguous float32/float64 ``(n, d)`` numpy array without copying if possible.

    Accepts numpy arrays, nested sequences, and objects implementing ``__array__`` or DLPack
    (CPU torch tensors, ...). Integer, boolean, complex and float16 inputs are refused rather than
    silently converted: the caller decides the precision.
    """
    prefix = f"{owner}: " if owner else ""
    if hasattr(X, "__cuda_array_interface__"):
        raise InvalidArgument(
            f"{prefix}{name} lives on a CUDA device; pass target='cuda' or copy it to the host"
        )
    if isinstance(X, np.ndarray):
        arr = X
    else:
        arr = None
        if hasattr(X, "__dlpack__") and not hasattr(X, "__array__"):
            try:
                arr = np.from_dlpack(X)
            except (TypeError, RuntimeError, BufferError):
                arr = None
        if arr is None:
            try:
                arr = np.asarray(X)
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(
                    f"{prefix}{name} must be a 2-D array of floats; got an object of type "
                    f"{_typename(X)} that numpy cannot convert ({exc})"
                ) from None
    if arr.dtype == object:
        raise InvalidArgument(
            f"{prefix}{name} must be a 2-D array of floats; got a ragged or object array "
            f"(rows of different lengths?)"
        )
    if arr.ndim != 2:
        raise InvalidArgument(
            f"{prefix}{name} must be 2-dimensional (n vectors of dimension d); got ndim={arr.ndim}, "
            f"shape={arr.shape}"
        )
    n, d = arr.shape
    if n == 0:
        raise InvalidArgument(f"{prefix}{name} must hold at least one vector; got shape={arr.shape}")
    if d == 0:
        raise InvalidArgument(f"{prefix}{name} must have dimension d >= 1; got shape={arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        raise InvalidArgument(
            f"{prefix}{name} must have dtype float32 or float64; got dtype={arr.dtype} "
            f"(convert with X.astype(np.float64) or np.float32)"
        )
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return arr
