"""Payload validation hooks: reject malformed messages before they reach an inbox."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ..errors import InvalidArgument

__all__ = ["array_validator"]

_MISSING = object()


def array_validator(
    shape: tuple[int, ...] | None = None,
    dtype: Any = None,
    *,
    finite: bool = True,
    key: Hashable | None = None,
) -> Callable[[Any], bool]:
    """A validator accepting numpy arrays of a given shape and dtype, all finite.

    A validator is any callable ``validator(payload) -> bool`` given to :class:`Network` or
    :meth:`Network.add_node`; a false return (or an exception it raises) marks the message
    malformed: it is dropped and counted, never delivered.

    Parameters
    ----------
    shape : tuple of int, optional
        Required shape (``None``: any).
    dtype : dtype-like, optional
        Required dtype (``None``: any floating dtype).
    finite : bool
        Reject arrays holding NaN or infinities.
    key : hashable, optional
        Validate ``payload[key]`` (for dict or tuple payloads) instead of the payload.

    Returns
    -------
    callable

    Examples
    --------
    >>> import numpy as np
    >>> ok = array_validator((3,), np.float64)
    >>> ok(np.zeros(3)), ok(np.zeros(4)), ok(np.full(3, np.nan)), ok("x")
    (True, False, False, False)
    """
    want_shape = None if shape is None else tuple(int(s) for s in shape)
    try:
        want_dtype = None if dtype is None else np.dtype(dtype)
    except TypeError:
        raise InvalidArgument(f"array_validator: dtype must be a numpy dtype; got dtype={dtype!r}") from None

    def validate(payload: Any) -> bool:
        x = payload
        if key is not None:
            try:
                x = payload[key]
            except (KeyError, IndexError, TypeError):
                return False
        if not isinstance(x, np.ndarray):
            return False
        if want_shape is not None and x.shape != want_shape:
            return False
        if want_dtype is not None:
            if x.dtype != want_dtype:
                return False
        elif x.dtype.kind != "f":
            return False
        if finite and x.dtype.kind in "fc" and not bool(np.isfinite(x).all()):
            return False
        return True

    return validate
