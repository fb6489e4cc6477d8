"""Geometric median: Weiszfeld's iteration to a tolerance, and RFA's smoothed Weiszfeld (T steps).

Both run the same Numba kernel. One iteration costs O(nd): the n distances are reduced per
fixed chunk of coordinates (``config.CPU_BLOCK``-aligned, independent of the thread count) and
combined in chunk order, then each chunk of coordinates forms its weighted sum row by row, so the
result is bit-identical whatever the number of Numba threads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from . import _api, _reference
from ._common import chunk_bounds
from ._registry import GarSpec, register
from .. import config
from .._validation import check_int, check_real
from ..errors import InvalidArgument

__all__ = ["geometric_median", "rfa"]


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _weiszfeld_cpu(X, z0, bounds, floor, tol, max_iter, use_tol):  # pragma: no cover - compiled
    """Iterate z <- sum_i w_i X_i / sum_i w_i with w_i = 1 / max(floor, |X_i - z|).

    Runs ``max_iter`` iterations, or stops earlier when ``use_tol`` and the step is at most
    ``tol * (1 + |z_new|)``. Returns (z, iterations run). Accumulates in float64.
    """
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    z = z0.copy()
    znew = np.empty(d, dtype=np.float64)
    part = np.empty((nchunks, n), dtype=np.float64)
    w = np.empty(n, dtype=np.float64)
    step_part = np.empty(nchunks, dtype=np.float64)
    norm_part = np.empty(nchunks, dtype=np.float64)
    done = 0
    for _ in range(max_iter):
        # squared distances |X_i - z|^2, one partial sum per (chunk, row)
        for c in prange(nchunks):
            lo = bounds[c]
            hi = bounds[c + 1]
            for i in range(n):
                s = 0.0
                for k in range(lo, hi):
                    t = np.float64(X[i, k]) - z[k]
                    s += t * t
                part[c, i] = s
        wsum = 0.0
        for i in range(n):
            s = 0.0
            for c in range(nchunks):
                s += part[c, i]
            w[i] = 1.0 / max(math.sqrt(s), floor)
            wsum += w[i]
        # weighted mean, coordinate chunk by chunk, rows in order
        for c in prange(nchunks):
            lo = bounds[c]
            hi = bounds[c + 1]
            for k in range(lo, hi):
                znew[k] = 0.0
            for i in range(n):
                wi = w[i]
                for k in range(lo, hi):
                    znew[k] += wi * np.float64(X[i, k])
            st = 0.0
            nm = 0.0
            for k in range(lo, hi):
                v = znew[k] / wsum
                znew[k] = v
                t = v - z[k]
                st += t * t
                nm += v * v
            step_part[c] = st
            norm_part[c] = nm
        step = 0.0
        nrm = 0.0
        for c in range(nchunks):
            step += step_part[c]
            nrm += norm_part[c]
        for k in range(d):
            z[k] = znew[k]
        done += 1
        if use_tol and math.sqrt(step) <= tol * (1.0 + math.sqrt(nrm)):
            break
    return z, done


def check_start(value: Any, name: str, owner: str) -> None:
    """Validate an optional starting vector (``z0``, ``v0``) without d: 1-D, real, finite."""
    if value is None:
        return
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object or arr.dtype.kind not in "iuf":
        raise InvalidArgument(
            f"{owner}: {name} must be None or a 1-D array of real numbers of shape (d,); "
            f"got {name} of type {type(value).__name__}"
        )
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidArgument(
            f"{owner}: {name} must have shape (d,); got {name} with shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidArgument(
            f"{owner}: {name} must be finite; got a {name} holding NaN or infinity"
        )


def start_vector(value: Any, d: int, name: str, owner: str) -> np.ndarray:
    """The starting vector as float64 (zeros when None); its length must be d."""
    if value is None:
        return np.zeros(d, dtype=np.float64)
    check_start(value, name, owner)
    arr = np.ascontiguousarray(value, dtype=np.float64)
    if arr.shape != (d,):
        raise InvalidArgument(
            f"{owner}: {name} must have shape (d,) = ({d},), the dimension of the inputs; "
            f"got {name} with shape {arr.shape}"
        )
    return arr


def _bounds(d: int) -> np.ndarray:
    return chunk_bounds(d, config.CPU_BLOCK, 64)


# ----------------------------------------------------------------------------------------------
# Geometric median (Weiszfeld to a tolerance)


def _check_geometric_median(n, f, *, tol=1e-10, max_iter=10_000, eps=1e-12, z0=None):
    check_real(tol, "tol", minimum=0.0, strict_min=True, owner="geometric_median")
    check_int(max_iter, "max_iter", minimum=1, owner="geometric_median")
    check_real(eps, "eps", minimum=0.0, strict_min=True, owner="geometric_median")
    check_start(z0, "z0", "geometric_median")


def _geometric_median_impl(X, f, *, tol=1e-10, max_iter=10_000, eps=1e-12, z0=None):
    n, d = X.shape
    if z0 is None:
        start = X.mean(axis=0, dtype=np.float64)
    else:
        start = start_vector(z0, d, "z0", "geometric_median")
    z, _ = _weiszfeld_cpu(X, start, _bounds(d), float(eps), float(tol), int(max_iter), True)
    return z.astype(X.dtype)


def geometric_median(
    X, f, *, tol=1e-10, max_iter=10_000, eps=1e-12, z0=None, pre=(), nonfinite="drop", target="cpu"
):
    r"""Geometric median, approximated by Weiszfeld's iteration run to a tolerance.

    .. math::

        \mathrm{GM}(X_1, \dots, X_n)
        = \operatorname*{arg\,min}_{z} \sum_{i=1}^{n} \lVert z - X_i \rVert,
        \qquad
        z_{t+1} = \frac{\sum_i w_i X_i}{\sum_i w_i}, \quad
        w_i = \frac{1}{\max(\varepsilon, \lVert z_t - X_i \rVert)}

    No algorithm computes the geometric median exactly; this returns Weiszfeld's iterate. It
    starts at the mean (or ``z0``) and stops at the first step with
    ``|z_{t+1} - z_t| <= tol * (1 + |z_{t+1}|)``, or after ``max_iter`` iterations, whichever
    comes first; reaching ``max_iter`` is not an error (the iterate is returned as is). The floor
    ``eps`` keeps the weights finite when an iterate lands on an input. For an accurate
    solution (e.g. to check the GM inequality of THEORY.md §8.3) keep ``tol`` small; for the cheap
    smoothed variant of Pillutla et al. use :func:`rfa`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    tol : float, default 1e-10
        Relative stopping tolerance on the step length (> 0).
    max_iter : int, default 10000
        Maximum number of iterations (>= 1).
    eps : float, default 1e-12
        Floor on the distances in the weights (> 0).
    z0 : array_like, shape (d,), optional
        Starting point (finite); default the mean of the rows.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The approximate geometric median, in the dtype of ``X`` (computed in float64).

    Notes
    -----
    Requirement: n >= 2f+1 (the GM stays within a bounded distance of the honest rows when
    n > 2f, THEORY.md §7). Complexity: O(nd) per iteration, O(nd * iterations) in all.
    Reference: Weiszfeld, Tohoku Math. J. 43 (1937); Krum supplement (Blanchard et al. 2017) on
    approximating the GM.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import geometric_median
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [100.0, 100.0], [0.2, 0.2]])
    >>> np.round(geometric_median(X, f=1), 4)
    array([0.2113, 0.2113])
    """
    return _api.run(
        "geometric_median", X, f, pre=pre, nonfinite=nonfinite, target=target,
        tol=tol, max_iter=max_iter, eps=eps, z0=z0,
    )


register(
    GarSpec(
        name="geometric_median",
        public=geometric_median,
        impl=_geometric_median_impl,
        reference=_reference.geometric_median,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        check=_check_geometric_median,
        complexity="O(nd) per Weiszfeld iteration",
        paper="Weiszfeld 1937; Blanchard et al., NIPS 2017 supplementary (approximate GM)",
        properties=frozenset(
            {"permutation_invariant", "translation_equivariant", "bounded_under_attack"}
        ),
        theory={
            "lambda": lambda n, f: 2.0 * (n - f) / (n - 2 * f),
            "kappa": lambda n, f: 4.0 * (1.0 + f / (n - 2 * f)) ** 2,
            "source": "THEORY.md §8.3 [derived]: (n-2f)|GM - c| <= 2 sum_{i in S} |X_i - c|",
        },
    )
)


# ----------------------------------------------------------------------------------------------
# RFA (smoothed Weiszfeld, fixed number of steps)


def _check_rfa(n, f, *, nu=0.1, T=3, z0=None):
    check_real(nu, "nu", minimum=0.0, strict_min=True, owner="rfa")
    check_int(T, "T", minimum=1, owner="rfa")
    check_start(z0, "z0", "rfa")


def _rfa_impl(X, f, *, nu=0.1, T=3, z0=None):
    n, d = X.shape
    start = start_vector(z0, d, "z0", "rfa")
    z, _ = _weiszfeld_cpu(X, start, _bounds(d), float(nu), 0.0, int(T), False)
    return z.astype(X.dtype)


def rfa(X, f, *, nu=0.1, T=3, z0=None, pre=(), nonfinite="drop", target="cpu"):
    r"""RFA: the smoothed Weiszfeld iteration of Pillutla et al., run for a fixed T steps.

    .. math::

        z_{t+1} = \frac{\sum_i \beta_i X_i}{\sum_i \beta_i}, \qquad
        \beta_i = \frac{1/n}{\max(\nu, \lVert z_t - X_i \rVert)}, \qquad z_0 = 0

    The byzfl convention (``GeometricMedian(nu=0.1, T=3)``): start at the zero vector (or
    ``z0``) and stop after exactly ``T`` steps, without a tolerance. With ``z0 = 0`` and finite T
    the result is not exactly translation-equivariant (THEORY.md §7); use
    :func:`geometric_median` for an accurate solution.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    nu : float, default 0.1
        Smoothing floor on the distances (> 0).
    T : int, default 3
        Number of iterations (>= 1); the epfml bucketing runs use 8.
    z0 : array_like, shape (d,), optional
        Starting point (finite); default the zero vector.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The T-th iterate, in the dtype of ``X`` (computed in float64).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(ndT).
    Reference: Pillutla, Kakade, Harchaoui, "Robust Aggregation for Federated Learning",
    arXiv 1912.13445 (IEEE TSP 2022); byzfl ``GeometricMedian``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import rfa
    >>> rfa(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]), f=1)
    array([3.78788764, 4.78788764, 5.78788764])
    """
    return _api.run("rfa", X, f, pre=pre, nonfinite=nonfinite, target=target, nu=nu, T=T, z0=z0)


register(
    GarSpec(
        name="rfa",
        public=rfa,
        impl=_rfa_impl,
        reference=_reference.rfa,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        check=_check_rfa,
        complexity="O(ndT)",
        paper="Pillutla, Kakade, Harchaoui, arXiv 1912.13445; byzfl GeometricMedian (nu=0.1, T=3)",
        properties=frozenset({"permutation_invariant", "bounded_under_attack"}),
        theory={
            "known_answer": "[[1,2,3],[4,5,6],[7,8,9]] -> [3.78788764, 4.78788764, 5.78788764]"
        },
    )
)
