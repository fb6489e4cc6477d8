"""Coordinate-wise rules: median, trimmed mean, Phocas, MeaMed (THEORY.md §4).

All four sort each coordinate's n values, then read the answer off the sorted values. The kernels
process a block of ``_LANES`` coordinates at a time: the (n, _LANES) block is copied into a local
buffer and sorted *across rows* by a Batcher odd-even merge sorting network whose compare-exchange
steps are lane-wise ``min``/``max`` over the block, which the compiler turns into SIMD instructions
(for n above ``_NETWORK_MAX_N`` = 4096 each coordinate is sorted on its own instead). Then:

* the median is the middle value (or the two middle values' midpoint, lower or upper one);
* the trimmed mean sums the sorted positions ``f .. n-f-1``;
* "the k values closest to a centre c", with ties between ``c - a`` and ``c + a`` going to the
  smaller value (the ``(|x - c|, x)`` order of :mod:`._reference`), always form a window
  ``s[a .. a+k-1]`` of the sorted values. Its start ``a`` is the number of windows that the
  comparison ``s[a+k] - c < c - s[a]`` says to slide past; that comparison is monotone in ``a``,
  so ``a`` is a lane-wise count, and the window sum is a lane-wise masked sum, both branch-free.

Sums are accumulated in float64 in ascending sorted order, centres (midpoints, trimmed means) are
computed in float64 exactly as the reference computes them, and every coordinate is handled by
exactly one loop iteration, so results do not depend on the number of threads.

Aksel's kernels (distances to the median, mean of selected rows) live here too: numba's on-disk
cache only watches a function's own file, so kernels that inline these helpers must sit beside them.
"""

from __future__ import annotations

from functools import lru_cache

import llvmlite.ir as llvmir

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import _api, _reference
from ._common import chunk_bounds
from ._registry import GarSpec, register
from .._validation import check_choice
from ..errors import InvalidArgument

__all__ = ["median", "trimmed_mean", "phocas", "meamed", "closest_mean_to_median"]

#: Coordinates sorted together by one pass of the sorting network (a compile-time constant, so the
#: lane loops have a fixed trip count and vectorise without remainder; results do not depend on it).
_LANES = 64
#: Above this many rows the kernels sort each coordinate separately. The network's O(n log^2 n)
#: SIMD comparators measured about 10x faster than numba's per-coordinate sort up to n = 2048; the
#: cutoff only bounds the comparator table and the (n, _LANES) buffers.
_NETWORK_MAX_N = 4096
#: The coordinate range is split into at most this many chunks (fixed for a given d), each handled
#: by one parallel iteration that owns its buffers.
_MAX_CHUNKS = 256

KINDS = ("midpoint", "lower", "upper")
_KIND_CODE = {"midpoint": 0, "lower": 1, "upper": 2}

#: "every row" for :func:`_prefetch_rows`
_ALL_ROWS = np.zeros(0, dtype=np.int64)

# rule codes of the shared kernel
_MEDIAN, _TRIMMED, _PHOCAS, _CLOSEST = 0, 1, 2, 3


# ----------------------------------------------------------------------------------------------
# The sorting network


def _batcher_pairs(n: int) -> list[tuple[int, int]]:
    """Compare-exchange pairs ``(i, j)``, i < j, of Batcher's odd-even merge sort for n items.

    Built for the next power of two N >= n; comparators touching an index >= n are dropped, which
    is exact: padding with +inf at the end, such a comparator never moves anything.
    """
    N = 1
    while N < n:
        N *= 2
    pairs = []
    p = 1
    while p < N:
        k = p
        while k >= 1:
            for j in range(k % p, N - k, 2 * k):
                for i in range(min(k, N - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < n:
                        pairs.append((a, b))
            k //= 2
        p *= 2
    return pairs


def _prune(pairs: list[tuple[int, int]], outputs: set[int]) -> list[tuple[int, int]]:
    """The comparators of ``pairs`` that can change the values ending at positions ``outputs``."""
    need = set(outputs)
    keep = []
    for a, b in reversed(pairs):
        if a in need or b in need:
            keep.append((a, b))
            need.update((a, b))
    return keep[::-1]


@lru_cache(maxsize=None)
def _network(n: int, median_only: bool = False) -> np.ndarray:
    """The comparators of :func:`_batcher_pairs` as a read-only (m, 2) int64 array.

    ``median_only`` keeps only those that place the middle order statistics (positions
    ``(n-1)//2`` and ``n//2``), about 18% fewer at n = 32. Empty beyond ``_NETWORK_MAX_N``.
    """
    if n > _NETWORK_MAX_N:
        pairs = []
    else:
        pairs = _batcher_pairs(n)
        if median_only:
            pairs = _prune(pairs, {(n - 1) // 2, n // 2})
    out = np.array(pairs, dtype=np.int64).reshape(len(pairs), 2)
    out.setflags(write=False)
    return out


@intrinsic
def _minmax(typingctx, x, y):
    """``(min(x, y), max(x, y))`` of two finite floats of one type, as LLVM ``minnum``/``maxnum``.

    Written as an intrinsic because the plain ``y if y < x else x`` stored back over ``x`` is
    compiled into a masked store (``vmaskmovps``), which is microcoded and about ten times slower
    on AMD Zen; the intrinsics become plain ``vminps``/``vmaxps``. ``nnan`` is exact here: the
    kernels only ever see finite input.
    """
    if not isinstance(x, types.Float) or x != y:
        return None
    sig = types.UniTuple(x, 2)(x, y)

    def codegen(context, builder, signature, args):
        a, b = args
        fnty = llvmir.FunctionType(a.type, [a.type, a.type])
        suffix = "f32" if a.type == llvmir.FloatType() else "f64"
        fmin = cgutils.get_or_insert_function(builder.module, fnty, "llvm.minnum." + suffix)
        fmax = cgutils.get_or_insert_function(builder.module, fnty, "llvm.maxnum." + suffix)
        lo = builder.call(fmin, [a, b], fastmath=("nnan", "nsz"))
        hi = builder.call(fmax, [a, b], fastmath=("nnan", "nsz"))
        return context.make_tuple(builder, signature.return_type, [lo, hi])

    return sig, codegen


@intrinsic
def _prefetch(typingctx, arr, i, j):
    """Ask the CPU to start fetching the cache line that holds ``arr[i, j]`` (``llvm.prefetch``).

    A hint only, with no effect on results. The kernels read X as short runs of ``_LANES`` values
    from each of the n rows, too many streams for the hardware prefetcher; prefetching the next
    block while the current one is sorted measured about twice as fast for the copy-in.
    """
    if not isinstance(arr, types.Array) or arr.ndim != 2:
        return None
    sig = types.void(arr, i, j)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [
            context.cast(builder, v, t, types.intp)
            for v, t in zip(args[1:], signature.args[1:], strict=True)
        ]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p = llvmir.IntType(8).as_pointer()
        i32 = llvmir.IntType(32)
        fnty = llvmir.FunctionType(llvmir.VoidType(), [i8p, i32, i32, i32])
        # the typed-pointer name; LLVM builds with opaque pointers remangle it to llvm.prefetch.p0
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _prefetch_rows(X, rows, lo, hi):  # pragma: no cover - compiled
    """Prefetch ``X[r, lo:hi]`` for r in ``rows`` (all rows when ``rows`` is empty)."""
    if hi <= lo:
        return
    m = rows.shape[0]
    for j in range(m if m > 0 else X.shape[0]):
        r = rows[j] if m > 0 else j
        for k in range(lo, hi, 8):
            _prefetch(X, r, k)
        _prefetch(X, r, hi - 1)


@njit(cache=True)
def _load_sort_block(X, rows, lo, hi, net, buf, col):  # pragma: no cover - compiled
    """Copy columns ``lo:hi`` of the rows ``rows`` of X (all rows when ``rows`` is empty) into
    ``buf`` (lanes past ``hi - lo`` get 0) and sort every lane.

    ``net`` holds the comparators; when it is empty (n > ``_NETWORK_MAX_N``) each lane is sorted
    on its own, through ``col``.
    """
    n = buf.shape[0]
    m = rows.shape[0]
    w = hi - lo
    for i in range(n):
        r = rows[i] if m > 0 else i
        for t in range(w):
            buf[i, t] = X[r, lo + t]
        for t in range(w, _LANES):
            buf[i, t] = 0
    if net.shape[0] > 0:
        for p in range(net.shape[0]):
            a = net[p, 0]
            b = net[p, 1]
            for t in range(_LANES):
                lo_, hi_ = _minmax(buf[a, t], buf[b, t])
                buf[a, t] = lo_
                buf[b, t] = hi_
    elif n > 1:
        for t in range(w):
            for i in range(n):
                col[i] = buf[i, t]
            col.sort()
            for i in range(n):
                buf[i, t] = col[i]


@njit(cache=True)
def _median_lanes(buf, kind, med):  # pragma: no cover - compiled
    """med[t] = median of the sorted lane t, in float64 (midpoint computed as in the reference)."""
    n = buf.shape[0]
    h = n // 2
    if n % 2 == 1 or kind == 2:
        for t in range(_LANES):
            med[t] = buf[h, t]
    elif kind == 1:
        for t in range(_LANES):
            med[t] = buf[h - 1, t]
    else:
        for t in range(_LANES):
            med[t] = 0.5 * (np.float64(buf[h - 1, t]) + np.float64(buf[h, t]))


@njit(cache=True)
def _trimmed_lanes(buf, f, acc):  # pragma: no cover - compiled
    """acc[t] = mean of the sorted positions f .. n-f-1 of lane t (float64, ascending order)."""
    n = buf.shape[0]
    for t in range(_LANES):
        acc[t] = 0.0
    for j in range(f, n - f):
        for t in range(_LANES):
            acc[t] += buf[j, t]
    cnt = n - 2 * f
    for t in range(_LANES):
        acc[t] = acc[t] / cnt


@njit(cache=True)
def _closest_lanes(buf, k, centre, start, acc):  # pragma: no cover - compiled
    """acc[t] = mean of the k values of sorted lane t closest to centre[t].

    Ties between ``c - a`` and ``c + a`` go to the smaller value, as in the reference's
    ``(|x - c|, x)`` order: the window ``s[a .. a+k-1]`` starts at the number of positions
    a < n-k for which ``s[a+k] - c < c - s[a]`` (strictly closer on the right), a predicate
    monotone in a. The window is then summed in ascending order, rows outside it adding 0.
    """
    n = buf.shape[0]
    for t in range(_LANES):
        start[t] = 0.0
    for a in range(n - k):
        for t in range(_LANES):
            c = centre[t]
            right = np.float64(buf[a + k, t]) - c
            left = c - np.float64(buf[a, t])
            start[t] += 1.0 if right < left else 0.0
    for t in range(_LANES):
        acc[t] = 0.0
    for j in range(n):
        # row j is in the window iff start <= j < start + k, i.e. j-k < start <= j (start <= n-k)
        jf = np.float64(j)
        jk = np.float64(j - k)
        if j < k and j >= n - k:
            for t in range(_LANES):
                acc[t] += buf[j, t]
        else:
            for t in range(_LANES):
                s = start[t]
                v = np.float64(buf[j, t])
                acc[t] += v if (s <= jf) & (jk < s) else 0.0
    for t in range(_LANES):
        acc[t] = acc[t] / k


@njit(parallel=True, cache=True)
def _coordinatewise_cpu(X, rows, rule, f, k, kind, net, bounds, out):  # pragma: no cover - compiled
    """One coordinate-wise rule over all coordinates of the rows ``rows`` of X (all rows when
    ``rows`` is empty, which saves Bulyan a copy of its selection); ``out`` has X's dtype.

    rule 0: median (``kind``); 1: f-trimmed mean; 2: Phocas (k closest to the f-trimmed mean);
    3: k closest to the median (MeaMed with k = n-f, Bulyan's coordinate phase with k = beta).
    """
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        buf = np.empty((n, _LANES), dtype=X.dtype)
        col = np.empty(n, dtype=X.dtype)
        cen = np.empty(_LANES, dtype=np.float64)
        acc = np.empty(_LANES, dtype=np.float64)
        start = np.empty(_LANES, dtype=np.float64)
        for lo in range(bounds[c], bounds[c + 1], _LANES):
            hi = min(bounds[c + 1], lo + _LANES)
            _prefetch_rows(X, rows, hi, min(bounds[c + 1], hi + _LANES))
            _load_sort_block(X, rows, lo, hi, net, buf, col)
            if rule == 0:
                _median_lanes(buf, kind, acc)
            elif rule == 1:
                _trimmed_lanes(buf, f, acc)
            elif rule == 2:
                _trimmed_lanes(buf, f, cen)
                _closest_lanes(buf, k, cen, start, acc)
            else:
                _median_lanes(buf, kind, cen)
                _closest_lanes(buf, k, cen, start, acc)
            for t in range(hi - lo):
                out[lo + t] = acc[t]


@njit(parallel=True, cache=True)
def _median_sq_distances_cpu(X, kind, net, bounds):  # pragma: no cover - compiled
    """Squared distance (float64) of every row of X to the coordinate-wise median.

    Each chunk of coordinates accumulates per row and per lane (a fixed order), then sums its
    lanes in order; chunks are added in chunk order after the parallel loop.
    """
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    partial = np.zeros((nchunks, n), dtype=np.float64)
    for c in prange(nchunks):
        buf = np.empty((n, _LANES), dtype=X.dtype)
        col = np.empty(n, dtype=X.dtype)
        med = np.empty(_LANES, dtype=np.float64)
        lane = np.zeros((n, _LANES), dtype=np.float64)
        for lo in range(bounds[c], bounds[c + 1], _LANES):
            hi = min(bounds[c + 1], lo + _LANES)
            _prefetch_rows(X, _ALL_ROWS, hi, min(bounds[c + 1], hi + _LANES))
            _load_sort_block(X, _ALL_ROWS, lo, hi, net, buf, col)
            _median_lanes(buf, kind, med)
            w = hi - lo
            for i in range(n):
                for t in range(w):
                    diff = np.float64(X[i, lo + t]) - med[t]
                    lane[i, t] += diff * diff
        for i in range(n):
            s = 0.0
            for t in range(_LANES):
                s += lane[i, t]
            partial[c, i] = s
    dist = np.zeros(n, dtype=np.float64)
    for c in range(nchunks):
        for i in range(n):
            dist[i] += partial[c, i]
    return dist


@njit(parallel=True, cache=True)
def _rows_mean_cpu(X, rows, bounds, out):  # pragma: no cover - compiled
    """out[k] = mean of X[rows[j], k] over j, accumulated in float64 in the order of ``rows``."""
    m = rows.shape[0]
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        acc = np.empty(_LANES, dtype=np.float64)
        for lo in range(bounds[c], bounds[c + 1], _LANES):
            hi = min(bounds[c + 1], lo + _LANES)
            _prefetch_rows(X, rows, hi, min(bounds[c + 1], hi + _LANES))
            w = hi - lo
            for t in range(w):
                acc[t] = 0.0
            for j in range(m):
                r = rows[j]
                for t in range(w):
                    acc[t] += X[r, lo + t]
            for t in range(w):
                out[lo + t] = acc[t] / m


def _run_kernel(
    X: np.ndarray, rule: int, f: int, k: int, kind: str, rows: np.ndarray = _ALL_ROWS
) -> np.ndarray:
    d = X.shape[1]
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    out = np.empty(d, dtype=X.dtype)
    if d == 0:
        return out
    bounds = chunk_bounds(d, _LANES, _MAX_CHUNKS)
    net = _network(n, median_only=rule == _MEDIAN)
    _coordinatewise_cpu(X, rows, rule, f, k, _KIND_CODE[kind], net, bounds, out)
    return out


# ----------------------------------------------------------------------------------------------
# Implementations called by the wrapper (validated, finite, C-contiguous float32/float64 input)


def _median_impl(X: np.ndarray, f: int, *, kind: str = "midpoint") -> np.ndarray:
    return _run_kernel(X, _MEDIAN, 0, 1, kind)


def _trimmed_mean_impl(X: np.ndarray, f: int) -> np.ndarray:
    return _run_kernel(X, _TRIMMED, f, 1, "midpoint")


def _phocas_impl(X: np.ndarray, f: int) -> np.ndarray:
    return _run_kernel(X, _PHOCAS, f, X.shape[0] - f, "midpoint")


def _meamed_impl(X: np.ndarray, f: int, *, kind: str = "midpoint") -> np.ndarray:
    return _run_kernel(X, _CLOSEST, 0, X.shape[0] - f, kind)


def closest_mean_to_median(
    S: np.ndarray, beta: int, kind: str = "midpoint", rows: np.ndarray | None = None
) -> np.ndarray:
    """Per coordinate, the mean of the ``beta`` values of ``S`` closest to their median.

    Bulyan's coordinate phase (and MeaMed with ``beta = n - f``). Ties between ``med - a`` and
    ``med + a`` go to the smaller value, as in :func:`._reference._closest_mean`.

    Parameters
    ----------
    S : ndarray, shape (m, d)
        Finite, C-contiguous float32 or float64 values (not checked for finiteness).
    beta : int
        Number of values averaged per coordinate, ``1 <= beta <= m`` (m = ``len(rows)`` when
        ``rows`` is given).
    kind : {"midpoint", "lower", "upper"}
        Median of an even count.
    rows : array of int, optional
        Use only these rows of ``S``, read in place (Bulyan's selection, without copying it).

    Returns
    -------
    ndarray, shape (d,)
        In the dtype of ``S`` (sums accumulated in float64).

    Examples
    --------
    >>> import numpy as np
    >>> closest_mean_to_median(np.array([[0.0], [1.0], [2.0], [9.0]]), 2)
    array([1.5])
    """
    if not isinstance(S, np.ndarray) or S.ndim != 2 or S.dtype not in (np.float32, np.float64):
        raise InvalidArgument(
            "closest_mean_to_median: S must be a 2-d float32 or float64 ndarray; "
            f"got {type(S).__name__} {getattr(S, 'dtype', '')} {getattr(S, 'shape', '')}"
        )
    if rows is None:
        idx = _ALL_ROWS
        m = S.shape[0]
    else:
        idx = np.ascontiguousarray(rows, dtype=np.int64)
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= S.shape[0]:
            raise InvalidArgument(
                f"closest_mean_to_median: rows must be a non-empty 1-d array of row indices in "
                f"[0, {S.shape[0]}); got rows={rows!r}"
            )
        m = idx.size
    if isinstance(beta, bool) or not isinstance(beta, int | np.integer) or not 1 <= beta <= m:
        raise InvalidArgument(
            f"closest_mean_to_median: beta must be an integer in [1, {m}]; got beta={beta!r}"
        )
    check_choice(kind, "kind", KINDS, owner="closest_mean_to_median")
    return _run_kernel(np.ascontiguousarray(S), _CLOSEST, 0, int(beta), kind, idx)


def _check_kind(owner: str):
    def check(n: int, f: int, *, kind: str = "midpoint") -> None:
        check_choice(kind, "kind", KINDS, owner=owner)

    return check


# ----------------------------------------------------------------------------------------------
# Public functions


def median(X, f, *, kind="midpoint", pre=(), nonfinite="drop", target="cpu"):
    r"""Coordinate-wise median (Yin et al., ICML 2018).

    .. math:: \mathrm{Med}(X_1, \dots, X_n)_k = \mathrm{median}\{X_{1k}, \dots, X_{nk}\}

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    kind : {"midpoint", "lower", "upper"}, default "midpoint"
        Median of an even count: the midpoint of the two middle values (numpy), the lower one
        (``torch.median``, LPD-EPFL) or the upper one (AggregaThor's C++ op). Odd n ignores it.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The median, in the dtype of ``X`` (a midpoint is computed in float64).

    Notes
    -----
    Requirement: n >= 2f+1 (then the median of every coordinate lies within the range of the
    honest values). Complexity: O(d n log^2 n) by a sorting network over blocks of coordinates
    (O(d n log n) for n > 4096).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import median
    >>> X = np.array([[0.0, 5.0], [1.0, 1.0], [2.0, 2.0], [100.0, -100.0]])
    >>> median(X, f=1)
    array([1.5, 1.5])
    >>> median(X, f=1, kind="lower")
    array([1., 1.])
    """
    return _api.run("median", X, f, pre=pre, nonfinite=nonfinite, target=target, kind=kind)


def trimmed_mean(X, f, *, pre=(), nonfinite="drop", target="cpu"):
    r"""Coordinate-wise trimmed mean (Yin et al., ICML 2018).

    Per coordinate, with :math:`x_{(1)} \le \dots \le x_{(n)}` the sorted values:

    .. math:: \mathrm{TM}_f(X)_k = \frac{1}{n - 2f} \sum_{j=f+1}^{n-f} x_{(j)}

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs: the f smallest and the f largest values are dropped.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The trimmed mean, in the dtype of ``X`` (accumulated in float64 in sorted order).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(d n log^2 n) (sorting network; O(d n log n) for n > 4096).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import trimmed_mean
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    >>> trimmed_mean(X, f=1)
    array([2.])
    """
    return _api.run("trimmed_mean", X, f, pre=pre, nonfinite=nonfinite, target=target)


def phocas(X, f, *, pre=(), nonfinite="drop", target="cpu"):
    r"""Phocas (Xie, Koyejo, Gupta, arXiv 1805.09682): per coordinate, the mean of the n-f values
    closest to the f-trimmed mean.

    .. math::

        \mathrm{Phocas}_f(X)_k = \frac{1}{n - f} \sum_{i \in N_k} X_{ik},\qquad
        N_k = \text{the } n-f \text{ indices } i
              \text{ with the smallest } |X_{ik} - \mathrm{TM}_f(X)_k|

    Ties between values at the same distance on both sides of the centre go to the smaller value
    (the result is then permutation invariant).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        In the dtype of ``X`` (centre and sums in float64).

    Notes
    -----
    Requirement: n >= 2f+1 (LPD-EPFL's check; the paper's own condition is unconfirmed, THEORY.md
    §4). Complexity: O(d n log^2 n) (sorting network; O(d n log n) for n > 4096).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import phocas
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    >>> phocas(X, f=1)
    array([1.5])
    """
    return _api.run("phocas", X, f, pre=pre, nonfinite=nonfinite, target=target)


def meamed(X, f, *, kind="midpoint", pre=(), nonfinite="drop", target="cpu"):
    r"""MeaMed (Xie, Koyejo, Gupta, arXiv 1802.10116): per coordinate, the mean of the n-f values
    closest to the median.

    .. math::

        \mathrm{MeaMed}_f(X)_k = \frac{1}{n - f} \sum_{i \in N_k} X_{ik},\qquad
        N_k = \text{the } n-f \text{ indices } i
              \text{ with the smallest } |X_{ik} - \mathrm{Med}(X)_k|

    Ties between values at the same distance on both sides of the median go to the smaller value.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    kind : {"midpoint", "lower", "upper"}, default "midpoint"
        Median of an even count (see :func:`median`).
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        In the dtype of ``X`` (centre and sums in float64).

    Notes
    -----
    Requirement: n >= 2f+1 (LPD-EPFL's check, THEORY.md §4). Complexity: O(d n log^2 n) (sorting
    network; O(d n log n) for n > 4096).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import meamed
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    >>> meamed(X, f=1)
    array([1.5])
    """
    return _api.run("meamed", X, f, pre=pre, nonfinite=nonfinite, target=target, kind=kind)


_HONEST = frozenset(
    {
        "permutation_invariant",
        "translation_equivariant",
        "honest_value_exact",
        "bounded_under_attack",
        "coordinatewise",
    }
)

register(
    GarSpec(
        name="median",
        public=median,
        impl=_median_impl,
        reference=_reference.median,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(d n log^2 n)",
        paper="Yin, Chen, Ramchandran, Bartlett, ICML 2018 (coordinate-wise median)",
        check=_check_kind("median"),
        properties=_HONEST | {"coordinatewise_honest_range"},
        theory={
            "breakdown": "f < n/2",
            "variance_norm_ratio": "1/sqrt(n-f) [code] LPD upper_bound",
        },
    )
)

register(
    GarSpec(
        name="trimmed_mean",
        public=trimmed_mean,
        impl=_trimmed_mean_impl,
        reference=_reference.trimmed_mean,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(d n log^2 n)",
        paper="Yin, Chen, Ramchandran, Bartlett, ICML 2018 (coordinate-wise trimmed mean)",
        properties=_HONEST | {"coordinatewise_honest_range"},
        theory={"breakdown": "f < n/2"},
    )
)

register(
    GarSpec(
        name="phocas",
        public=phocas,
        impl=_phocas_impl,
        reference=_reference.phocas,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(d n log^2 n)",
        paper="Xie, Koyejo, Gupta, arXiv 1805.09682 (Phocas)",
        properties=_HONEST,
        theory={"breakdown": "f < n/2"},
    )
)

register(
    GarSpec(
        name="meamed",
        public=meamed,
        impl=_meamed_impl,
        reference=_reference.meamed,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(d n log^2 n)",
        paper="Xie, Koyejo, Gupta, arXiv 1802.10116 (MeaMed)",
        check=_check_kind("meamed"),
        properties=_HONEST,
        theory={"breakdown": "f < n/2"},
    )
)
