"""Geometric median: Weiszfeld's iteration to a tolerance, and RFA's smoothed Weiszfeld (T steps).

Both run the same Numba kernel, which reads the inputs once from memory per iteration. Given the
weights ``w_i = 1 / max(floor, |X_i - z_t|)`` (and so their total ``W``) at the start of an
iteration, each coordinate of ``z_{t+1} = sum_i w_i X_i / W`` depends only on that coordinate's
column. So one pass does, per sweep of a few thousand coordinates (all n rows, small enough to stay
in the L2 cache): the weighted sum giving ``z_{t+1}`` on those coordinates, then, on the rows still
in cache, the partial squared distances ``|X_i - z_{t+1}|^2`` that give the next weights. The
distances are the exact differences (no ``|x|^2 - 2<x, z> + |z|^2`` expansion, hence no
cancellation). The default start (the mean) is made the same way: a first pass with unit weights
forms the mean and the distances to it.

Determinism: the coordinates are split into fixed chunks (``config.CPU_BLOCK``-aligned, at most 64,
independent of the thread count); each parallel iteration owns one chunk and writes only its own
partial sums (one per row, plus the step and the norm), which are combined in chunk order. The
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

# Bytes of X (n rows x one sweep of coordinates, in X's dtype) that one pass of the fused kernel
# reads from memory and then sweeps again from cache (the L2 is 512 KiB per core on the reference
# machine). Measured on 2 cores (float32; n=32, d=1e6; n=10, d=1e5; n=128, d=1e5): 64 KiB to
# 512 KiB all within about 15% of one another, the pass being bound by memory bandwidth.
_SWEEP_BYTES = 256 * 1024


def _sweep_length(n: int, itemsize: int) -> int:
    """Coordinates per sweep: the largest power of two in [64, 8192] whose n rows fit in
    _SWEEP_BYTES. Depends on n and the dtype only (never on the threads)."""
    sweep = 64
    while sweep * 2 <= 8192 and n * sweep * 2 * itemsize <= _SWEEP_BYTES:
        sweep *= 2
    return sweep


# The row loops below take 1-D slices of the sweep (X[i, a:b], v[a:b]) rather than indexing the
# full rows: LLVM then vectorizes them (AVX2, float32 -> float64 conversions included); indexing
# X[i][k] over range(a, b) stayed scalar, 3x slower.


@njit(cache=True, fastmath={"reassoc", "contract"})
def _sq_dist_rows(X, v, a, b, out):  # pragma: no cover - compiled
    """out[i] += sum_{a <= k < b} (X[i, k] - v[k])^2 for every row, four rows at a time."""
    n = X.shape[0]
    m = b - a
    vv = v[a:b]
    i = 0
    while i + 4 <= n:
        x0 = X[i, a:b]
        x1 = X[i + 1, a:b]
        x2 = X[i + 2, a:b]
        x3 = X[i + 3, a:b]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for k in range(m):
            vk = vv[k]
            t0 = np.float64(x0[k]) - vk
            t1 = np.float64(x1[k]) - vk
            t2 = np.float64(x2[k]) - vk
            t3 = np.float64(x3[k]) - vk
            s0 += t0 * t0
            s1 += t1 * t1
            s2 += t2 * t2
            s3 += t3 * t3
        out[i] += s0
        out[i + 1] += s1
        out[i + 2] += s2
        out[i + 3] += s3
        i += 4
    while i < n:
        x0 = X[i, a:b]
        s0 = 0.0
        for k in range(m):
            t0 = np.float64(x0[k]) - vv[k]
            s0 += t0 * t0
        out[i] += s0
        i += 1


@njit(cache=True, fastmath={"reassoc", "contract"})
def _weighted_sum(X, w, a, b, acc):  # pragma: no cover - compiled
    """acc[k] = sum_i w[i] X[i, k] on a <= k < b (float64), blocks of four rows in row order."""
    n = X.shape[0]
    m = b - a
    out = acc[a:b]
    out[:] = 0.0
    i = 0
    while i + 4 <= n:
        x0 = X[i, a:b]
        x1 = X[i + 1, a:b]
        x2 = X[i + 2, a:b]
        x3 = X[i + 3, a:b]
        w0 = w[i]
        w1 = w[i + 1]
        w2 = w[i + 2]
        w3 = w[i + 3]
        for k in range(m):
            out[k] += (
                w0 * np.float64(x0[k]) + w1 * np.float64(x1[k])
            ) + (w2 * np.float64(x2[k]) + w3 * np.float64(x3[k]))
        i += 4
    while i < n:
        x0 = X[i, a:b]
        w0 = w[i]
        for k in range(m):
            out[k] += w0 * np.float64(x0[k])
        i += 1


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _weiszfeld_cpu(
    X, z0, start_mean, bounds, sweep, floor, tol, max_iter, use_tol, z, znew
):  # pragma: no cover - compiled
    """Iterate z <- sum_i w_i X_i / sum_i w_i with w_i = 1 / max(floor, |X_i - z|).

    Starts at the mean of the rows when ``start_mean``, else at ``z0``. Runs ``max_iter``
    iterations, or stops earlier when ``use_tol`` and the step is at most
    ``tol * (1 + |z_new|)``. Returns (z, iterations run): z is one of the two float64 work
    vectors ``z`` and ``znew`` (length d), which the iterations swap. Accumulates in float64;
    one pass over X per iteration (see the module docstring).
    """
    n = X.shape[0]
    nchunks = bounds.shape[0] - 1
    part = np.zeros((nchunks, n), dtype=np.float64)
    w = np.empty(n, dtype=np.float64)
    step_part = np.empty(nchunks, dtype=np.float64)
    norm_part = np.empty(nchunks, dtype=np.float64)
    # the start and its squared distances, one partial sum per (chunk, row)
    if start_mean:
        w[:] = 1.0
    for c in prange(nchunks):
        for a in range(bounds[c], bounds[c + 1], sweep):
            b = min(a + sweep, bounds[c + 1])
            if start_mean:
                _weighted_sum(X, w, a, b, z)
                for k in range(a, b):
                    z[k] = z[k] / n
            else:
                for k in range(a, b):
                    z[k] = z0[k]
            _sq_dist_rows(X, z, a, b, part[c])
    done = 0
    for _ in range(max_iter):
        wsum = 0.0
        for i in range(n):
            s = 0.0
            for c in range(nchunks):
                s += part[c, i]
            w[i] = 1.0 / max(math.sqrt(s), floor)
            wsum += w[i]
        # per sweep of a chunk: the weighted mean (rows in order), its step and norm, then the
        # squared distances to it while the rows are in cache
        for c in prange(nchunks):
            st = 0.0
            nm = 0.0
            pc = part[c]
            pc[:] = 0.0
            for a in range(bounds[c], bounds[c + 1], sweep):
                b = min(a + sweep, bounds[c + 1])
                _weighted_sum(X, w, a, b, znew)
                for k in range(a, b):
                    v = znew[k] / wsum
                    znew[k] = v
                    t = v - z[k]
                    st += t * t
                    nm += v * v
                _sq_dist_rows(X, znew, a, b, pc)
            step_part[c] = st
            norm_part[c] = nm
        step = 0.0
        nrm = 0.0
        for c in range(nchunks):
            step += step_part[c]
            nrm += norm_part[c]
        z, znew = znew, z
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


def weiszfeld(
    X: np.ndarray, start: np.ndarray | None, floor: float, tol: float, max_iter: int,
    use_tol: bool,
) -> tuple[np.ndarray, int]:
    """Run the kernel on C-contiguous float32/float64 X from ``start`` (None: the mean of the
    rows, formed in the kernel's first pass). Returns (float64 iterate, iterations run)."""
    n, d = X.shape
    mean = start is None
    z0 = np.empty(0, dtype=np.float64) if mean else start
    # the iterates are allocated by numpy (huge pages), not in the kernel: see group_means
    return _weiszfeld_cpu(
        X, z0, mean, _bounds(d), _sweep_length(n, X.itemsize), float(floor), float(tol),
        int(max_iter), bool(use_tol), np.empty(d, dtype=np.float64), np.empty(d, dtype=np.float64),
    )


# ----------------------------------------------------------------------------------------------
# Geometric median (Weiszfeld to a tolerance)


def _check_geometric_median(n, f, *, tol=1e-10, max_iter=10_000, eps=1e-12, z0=None):
    check_real(tol, "tol", minimum=0.0, strict_min=True, owner="geometric_median")
    check_int(max_iter, "max_iter", minimum=1, owner="geometric_median")
    check_real(eps, "eps", minimum=0.0, strict_min=True, owner="geometric_median")
    check_start(z0, "z0", "geometric_median")


def _geometric_median_impl(X, f, *, tol=1e-10, max_iter=10_000, eps=1e-12, z0=None):
    n, d = X.shape
    start = None if z0 is None else start_vector(z0, d, "z0", "geometric_median")
    z, _ = weiszfeld(X, start, eps, tol, max_iter, True)
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
    z, _ = weiszfeld(X, start, nu, 0.0, T, False)
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
