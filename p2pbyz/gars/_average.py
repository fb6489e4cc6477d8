"""Averaging: the non-robust baseline every robust rule is compared with."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import _api, _reference
from ._common import chunk_bounds
from ._registry import GarSpec, register
from .. import config

__all__ = ["average"]


@njit(parallel=True, cache=True)
def _average_cpu(X, bounds, out):  # pragma: no cover - compiled
    """out[k] = (1/n) sum_i X[i, k], accumulated in float64 row by row (fixed order)."""
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        lo = bounds[c]
        hi = bounds[c + 1]
        acc = np.zeros(hi - lo, dtype=np.float64)
        for i in range(n):
            x = X[i, lo:hi]  # a 1-d view: ``X[i, k]`` in the loop compiles to scalar code
            for k in range(hi - lo):
                acc[k] += x[k]
        res = out[lo:hi]
        for k in range(hi - lo):
            res[k] = acc[k] / n


def _average_impl(X: np.ndarray, f: int) -> np.ndarray:
    out = np.empty(X.shape[1], dtype=X.dtype)
    _average_cpu(X, chunk_bounds(X.shape[1], config.CPU_BLOCK, 4096), out)
    return out


def average(X, f=0, *, pre=(), nonfinite="drop", target="cpu"):
    r"""Arithmetic mean of the input vectors (not Byzantine-resilient).

    .. math:: \mathrm{Avg}(X_1, \dots, X_n) = \frac{1}{n} \sum_{i=1}^{n} X_i

    One Byzantine input can move the output anywhere (Blanchard et al. 2017, supplementary Lemma 1):
    with ``F = sum_i lambda_i X_i`` the input ``X_n = U/lambda_n - sum_{i<n} (lambda_i/lambda_n) X_i``
    forces ``F = U``. Non-finite rows are still dropped by the ``nonfinite`` policy.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int, default 0
        Number of Byzantine inputs; only used by the non-finite policy (any n >= 1 is accepted).
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The mean, in the dtype of ``X`` (accumulated in float64).

    Notes
    -----
    Requirement: n >= 1. Complexity: O(nd).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import average
    >>> average(np.array([[0.0, 2.0], [2.0, 4.0]]))
    array([1., 3.])
    """
    return _api.run("average", X, f, pre=pre, nonfinite=nonfinite, target=target)


register(
    GarSpec(
        name="average",
        public=average,
        impl=_average_impl,
        reference=_reference.average,
        requirement="n >= 1",
        requires=lambda n, f: n >= 1,
        complexity="O(nd)",
        paper="baseline; Blanchard et al., NIPS 2017, supplementary Lemma 1 (one input breaks it)",
        properties=frozenset({"permutation_invariant", "translation_equivariant", "coordinatewise"}),
        theory={"breakdown": 0},
        nonfinite_propagates=True,
    )
)
