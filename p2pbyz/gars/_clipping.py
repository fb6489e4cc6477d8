"""Clipping and nearest-neighbour rules: centered clipping (CC) and MoNNA.

The kernels reduce row norms per fixed chunk of coordinates (``config.CPU_BLOCK``-aligned,
independent of the thread count) and combine the chunks in order; weighted sums are formed per
chunk of coordinates, row by row. Results are therefore bit-identical whatever the number of
Numba threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _api, _reference
from ._common import chunk_bounds
from ._geomed import check_start, start_vector
from ._registry import GarSpec, register
from ._subset import mean_rows
from .. import config
from .._validation import check_int, check_real
from ..errors import InvalidArgument

__all__ = ["centered_clipping", "monna", "sq_dist_to"]


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _sq_dist_to_cpu(X, z, bounds):  # pragma: no cover - compiled
    """|X_i - z|^2 for every row, in float64, reduced per chunk then in chunk order."""
    n = X.shape[0]
    nchunks = bounds.shape[0] - 1
    part = np.empty((nchunks, n), dtype=np.float64)
    for c in prange(nchunks):
        lo = bounds[c]
        hi = bounds[c + 1]
        zc = z[lo:hi]
        for i in range(n):
            x = X[i, lo:hi]  # 1-d views: ``X[i, k]`` in the loop compiles to scalar code
            s = 0.0
            for k in range(hi - lo):
                t = np.float64(x[k]) - np.float64(zc[k])
                s += t * t
            part[c, i] = s
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        for c in range(nchunks):
            out[i] += part[c, i]
    return out


def sq_dist_to(X: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Squared distances from every row of ``X`` to the vector ``z`` (float64, deterministic)."""
    return _sq_dist_to_cpu(X, z, chunk_bounds(X.shape[1], config.CPU_BLOCK, 64))


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _centered_clipping_cpu(X, v, acc, bounds, tau, L):  # pragma: no cover - compiled
    """L steps of v <- v + (1/n) sum_i (X_i - v) min(1, tau/|X_i - v|), in float64, in place
    in ``v`` (the start); ``acc`` is a float64 work vector of length d."""
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    part = np.empty((nchunks, n), dtype=np.float64)
    scale = np.empty(n, dtype=np.float64)
    for _ in range(L):
        for c in prange(nchunks):
            lo = bounds[c]
            hi = bounds[c + 1]
            vc = v[lo:hi]
            for i in range(n):
                x = X[i, lo:hi]  # 1-d views: ``X[i, k]`` in the loop compiles to scalar code
                s = 0.0
                for k in range(hi - lo):
                    t = np.float64(x[k]) - vc[k]
                    s += t * t
                part[c, i] = s
        for i in range(n):
            s = 0.0
            for c in range(nchunks):
                s += part[c, i]
            nrm = math.sqrt(s)
            scale[i] = min(1.0, tau / nrm) if nrm > 0.0 else 1.0
        for c in prange(nchunks):
            lo = bounds[c]
            hi = bounds[c + 1]
            ac = acc[lo:hi]
            vc = v[lo:hi]
            for k in range(hi - lo):
                ac[k] = 0.0
            for i in range(n):
                si = scale[i]
                x = X[i, lo:hi]
                for k in range(hi - lo):
                    ac[k] += (np.float64(x[k]) - vc[k]) * si
            for k in range(hi - lo):
                vc[k] = vc[k] + ac[k] / n
    return v


# ----------------------------------------------------------------------------------------------
# Centered clipping


def _check_centered_clipping(n, f, *, tau=10.0, L=1, v0=None):
    check_real(tau, "tau", minimum=0.0, strict_min=True, owner="centered_clipping")
    check_int(L, "L", minimum=1, owner="centered_clipping")
    check_start(v0, "v0", "centered_clipping")


def _centered_clipping_impl(X, f, *, tau=10.0, L=1, v0=None):
    n, d = X.shape
    start = start_vector(v0, d, "v0", "centered_clipping")
    bounds = chunk_bounds(d, config.CPU_BLOCK, 64)
    # the d-vectors are allocated by numpy (huge pages), not in the kernel: see group_means
    v = np.array(start, dtype=np.float64)
    _centered_clipping_cpu(X, v, np.empty(d, dtype=np.float64), bounds, float(tau), int(L))
    return v.astype(X.dtype)


def centered_clipping(X, f, *, tau=10.0, L=1, v0=None, pre=(), nonfinite="drop", target="cpu"):
    r"""Centered clipping (CC): L steps of clipped averaging around the previous estimate.

    .. math::

        v_{l+1} = v_l + \frac{1}{n} \sum_{i=1}^{n} (X_i - v_l)
        \min\Big(1, \frac{\tau}{\lVert X_i - v_l \rVert}\Big), \qquad l = 0, \dots, L-1

    Each input moves the estimate by at most tau/n per step, whatever its norm. In training,
    ``v0`` is the previous round's aggregate (Karimireddy et al.); the default is the zero
    vector, byzfl's first-round convention. CC is translation-equivariant only if ``v0`` is
    shifted too (THEORY.md §12, item 16). The paper's guarantee is stated for a Byzantine fraction
    delta = f/n <= 0.1 (THEORY.md §9, unverified); the requirement below only asks for an honest
    majority, so outside delta <= 0.1 no published bound applies.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    tau : float, default 10.0
        Clipping radius (> 0). byzfl defaults to 100, the epfml bucketing runs use 10.
    L : int, default 1
        Number of clipping iterations (>= 1); the epfml runs use 3.
    v0 : array_like, shape (d,), optional
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
        v_L, in the dtype of ``X`` (computed in float64).

    Notes
    -----
    Requirement: n >= 2f+1 (theory: f/n <= 0.1). Complexity: O(ndL).
    Reference: Karimireddy, He, Jaggi, "Learning from History for Byzantine Robust Optimization",
    ICML 2021, arXiv 2012.10333; epfml ``clipping.py``; byzfl ``CenteredClipping``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import centered_clipping
    >>> X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [300.0, 400.0]])
    >>> centered_clipping(X, f=1, tau=10.0)  # the outlier moves v by (tau/n) (0.6, 0.8)
    array([1.5, 2. ])
    """
    return _api.run(
        "centered_clipping", X, f, pre=pre, nonfinite=nonfinite, target=target, tau=tau, L=L, v0=v0
    )


register(
    GarSpec(
        name="centered_clipping",
        public=centered_clipping,
        impl=_centered_clipping_impl,
        reference=_reference.centered_clipping,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        check=_check_centered_clipping,
        complexity="O(ndL)",
        paper="Karimireddy, He, Jaggi, ICML 2021, arXiv 2012.10333 (guarantee for f/n <= 0.1)",
        properties=frozenset({"permutation_invariant", "bounded_under_attack"}),
        theory={"delta_max": 0.1, "source": "THEORY.md §9 [unverified]: guarantee for f/n <= 0.1"},
    )
)


# ----------------------------------------------------------------------------------------------
# MoNNA


def _check_monna(n, f, *, pivot=0):
    check_int(pivot, "pivot", minimum=0, owner="monna")
    if int(pivot) >= n:
        raise InvalidArgument(
            f"monna: pivot must index one of the n={n} inputs (0 <= pivot < n); got pivot={pivot!r}"
        )


def _monna_impl(X, f, *, pivot=0):
    n = X.shape[0]
    dist = sq_dist_to(X, X[int(pivot)])
    order = np.argsort(dist, kind="stable")[: n - f]
    return mean_rows(X, np.sort(order)).astype(X.dtype)


def monna(X, f, *, pivot=0, pre=(), nonfinite="drop", target="cpu"):
    r"""MoNNA: the mean of the n-f inputs nearest to the aggregating node's own vector.

    .. math::

        \mathrm{MoNNA}(X_1, \dots, X_n) = \frac{1}{n-f} \sum_{i \in N_p} X_i,
        \qquad N_p = \text{the } n-f \text{ rows nearest to } X_p \text{ (itself included)}

    Distances are squared Euclidean; on exact ties the smaller index wins (stable sort), so the
    pivot itself is always kept unless other rows coincide with it. ``pivot`` is the index of the
    aggregating node's own (trusted) vector. If non-finite rows are dropped first, ``pivot``
    indexes the remaining rows.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    pivot : int, default 0
        Index of the aggregating node's own vector, 0 <= pivot < n.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The mean of the selected rows, in the dtype of ``X`` (accumulated in float64).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(nd + n log n).
    Reference: Farhadkhani, Guerraoui, Gupta, Hoang, Pinot, Stephan, "Robust Collaborative
    Learning with Linear Gradient Overhead", ICML 2023 (MoNNA).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import monna
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [50.0, 50.0]])
    >>> monna(X, f=1, pivot=0)
    array([0.33333333, 0.66666667])
    """
    return _api.run("monna", X, f, pre=pre, nonfinite=nonfinite, target=target, pivot=pivot)


register(
    GarSpec(
        name="monna",
        public=monna,
        impl=_monna_impl,
        reference=_reference.monna,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        check=_check_monna,
        complexity="O(nd + n log n)",
        paper="Farhadkhani et al., ICML 2023 (MoNNA)",
        properties=frozenset(),
    )
)
