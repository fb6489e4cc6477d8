"""Data-level attacks, applied by the learning workload to a Byzantine node's training labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int
from ..errors import InvalidArgument

__all__ = ["flip_labels"]


def flip_labels(y: Any, num_classes: int) -> np.ndarray:
    r"""Label flipping: map every label to its mirror class.

    .. math:: y \mapsto C - 1 - y, \qquad y \in \{0, \dots, C - 1\}

    A Byzantine node trains honestly on flipped labels, so its gradients look plausible but pull
    towards the wrong classes (used e.g. by Allouah et al., AISTATS 2023, and byzfl's benchmark;
    the NDSS'21 code swaps only the extreme labels). The emulator applies it through the learning
    workload.

    Parameters
    ----------
    y : array_like of int
        Labels in ``[0, num_classes)``, any shape.
    num_classes : int
        Number of classes C, ``C >= 1``.

    Returns
    -------
    ndarray
        The flipped labels, same shape and dtype as ``y`` (a new array).

    Raises
    ------
    InvalidArgument
        Non-integer labels, or a label outside ``[0, num_classes)``.

    Notes
    -----
    Complexity: O(len(y)).

    Examples
    --------
    >>> from p2pbyz.attacks import flip_labels
    >>> flip_labels([0, 1, 9], 10)
    array([9, 8, 0])
    """
    C = check_int(num_classes, "num_classes", minimum=1, owner="flip_labels")
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        raise InvalidArgument(
            f"flip_labels: y must hold integer labels; got dtype={arr.dtype}"
        )
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= C):
        raise InvalidArgument(
            f"flip_labels: labels must lie in [0, {C}); got min={int(arr.min())}, "
            f"max={int(arr.max())}"
        )
    return (C - 1 - arr).astype(arr.dtype)
