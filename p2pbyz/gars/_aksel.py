"""Aksel (Boussetta, El-Mhamdi, Guerraoui, Maurer, Rouault, OPODIS 2020; THEORY.md §5).

The mean of the c input vectors closest, in squared Euclidean distance, to the coordinate-wise
median. One pass over X computes, block by block of coordinates, the median (the sorting-network
kernel of :mod:`._coordinatewise`) and each row's partial squared distance to it while the block is
still in cache; a second pass averages the c selected rows. Both kernels live in
:mod:`._coordinatewise`, next to the helpers they inline, so that numba's on-disk cache (which only
watches a function's own file) never keeps a stale copy.
"""

from __future__ import annotations

import numpy as np

from . import _api, _reference
from ._common import NonFiniteInput, chunk_bounds
from ._coordinatewise import (
    _KIND_CODE,
    _LANES,
    _MAX_CHUNKS,
    KINDS,
    _median_sq_distances_cpu,
    _sort_rows,
    _rows_mean_cpu,
)
from ._registry import GarSpec, register
from .._validation import check_choice

__all__ = ["aksel"]

MODES = ("mid", "n-f")


def _selection_size(n: int, f: int, mode: str) -> int:
    """c = ceil(n/2) for mode "mid", n - f for mode "n-f"."""
    return (n + 1) // 2 if mode == "mid" else n - f


def _aksel_impl(X: np.ndarray, f: int, *, mode: str = "mid", kind: str = "midpoint") -> np.ndarray:
    n, d = X.shape
    bounds = chunk_bounds(d, _LANES, _MAX_CHUNKS)
    dist, bad = _median_sq_distances_cpu(X, _KIND_CODE[kind], _sort_rows(n), bounds)
    if bad:
        raise NonFiniteInput
    # the c smallest distances, exact ties to the smallest index (stable sort)
    rows = np.argsort(dist, kind="stable")[: _selection_size(n, f, mode)].astype(np.int64)
    out = np.empty(d, dtype=X.dtype)
    _rows_mean_cpu(X, rows, bounds, out)
    return out


def _aksel_check(n: int, f: int, *, mode: str = "mid", kind: str = "midpoint") -> None:
    check_choice(mode, "mode", MODES, owner="aksel")
    check_choice(kind, "kind", KINDS, owner="aksel")


def aksel(X, f, *, mode="mid", kind="midpoint", pre=(), nonfinite="drop", target="cpu"):
    r"""Aksel: the mean of the c inputs closest to the coordinate-wise median.

    .. math::

        \mathrm{Aksel}(X) = \frac{1}{c} \sum_{i \in S} X_i,\qquad
        S = \text{the } c \text{ indices with the smallest } \lVert X_i - \mathrm{Med}(X) \rVert^2

    with :math:`\mathrm{Med}` the coordinate-wise median (:func:`p2pbyz.gars.median`) and
    :math:`c = \lceil n/2 \rceil` (mode ``"mid"``, the default of S. Rouault's reference code) or
    :math:`c = n - f` (mode ``"n-f"``). Exact distance ties go to the smallest index.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    mode : {"mid", "n-f"}, default "mid"
        How many of the closest inputs are averaged: ceil(n/2) or n-f.
    kind : {"midpoint", "lower", "upper"}, default "midpoint"
        Median of an even count (the reference code uses ``torch.median``, i.e. ``"lower"``).
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The average of the selected inputs, in the dtype of ``X`` (median, distances and sums in
        float64).

    Notes
    -----
    Requirement: n >= 2f+1 (the reference code's check; the paper's breakdown point n > 2f).
    Complexity: O(d n log^2 n) for the median (sorting network; the paper's O(nd) with linear-time
    selection), plus O(nd) for the distances and O(cd) for the mean. Reference: Boussetta,
    El-Mhamdi, Guerraoui, Maurer, Rouault, "AKSEL: Fast Byzantine SGD", OPODIS 2020.

    With n = 2 both rows are exactly as far from the (midpoint) median, so the tie goes to row 0
    and the result depends on the order of the rows; from n = 3 on, exact ties need coincident
    distances, and the rule is permutation invariant and translation equivariant on generic input.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import aksel
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [100.0, -100.0], [1.0, 2.0]])
    >>> aksel(X, f=1)
    array([0.66666667, 1.        ])
    >>> aksel(X, f=1, mode="n-f")
    array([1.  , 1.25])
    """
    return _api.run(
        "aksel", X, f, pre=pre, nonfinite=nonfinite, target=target, mode=mode, kind=kind
    )


register(
    GarSpec(
        name="aksel",
        public=aksel,
        impl=_aksel_impl,
        reference=_reference.aksel,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(d n log^2 n)",
        paper="Boussetta, El-Mhamdi, Guerraoui, Maurer, Rouault, OPODIS 2020 (AKSEL)",
        check=_aksel_check,
        properties=frozenset(
            {
                "permutation_invariant",
                "translation_equivariant",
                "honest_value_exact",
                "bounded_under_attack",
            }
        ),
        theory={
            "breakdown": "f < n/2",
            "angular_error": "O(sqrt(d)) in general, O(sqrt(d log n)) for Gaussian gradients "
            "[paper, abstract; constants not retrieved]",
        },
        detects_nonfinite=True,
    )
)
