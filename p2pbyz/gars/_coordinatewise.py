"""Coordinate-wise rules: median, trimmed mean, Phocas, MeaMed (THEORY.md §4).

All four sort each coordinate's n values, then read the answer off the sorted values. The kernels
process a block of ``_LANES`` coordinates at a time: the (n, _LANES) block is copied into a local
buffer and sorted *across rows* by a register-blocked bitonic sorting network (see "The bitonic
sort" below) whose compare-exchange steps are lane-wise ``min``/``max``, which the compiler turns
into SIMD instructions; for n above ``_NETWORK_MAX_N`` = 4096 each coordinate is sorted on its
own instead. Then:

* the median is the middle value (or the two middle values' midpoint, lower or upper one), read
  off the two sorted halves of the lane, so the sort's last merge is skipped (:func:`_kth_lanes`);
* the trimmed mean sums the sorted positions ``f .. n-f-1``; from N = 64 rows on it too stops
  at the two sorted halves, takes the f-th and (n-f-1)-th values off them and sums every value
  clipped to that range (:func:`_trimmed_halves`); with f <= 4 from n = 16 on, f <= 8 from
  n = 64 on and f <= 16 from n = 96 on, it sorts only runs of 8, 16 or 32 rows and merges
  their 4, 8 or 16 smallest and largest values pairwise, adding every other value to the sum as
  soon as it is known to be kept (:func:`_trimmed_tree`);
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

import llvmlite.ir as llvmir

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import _api, _reference
from ._common import (
    _GROUP_BLOCK, _SUM_WIDTH, NonFiniteInput, _group_means_block, _rows_mean16, chunk_bounds,
)
from ._registry import GarSpec, register
from .._validation import check_choice
from ..errors import InvalidArgument

__all__ = ["median", "trimmed_mean", "phocas", "meamed", "closest_mean_to_median"]

#: Coordinates sorted together by one pass of the sorting network (a compile-time constant, so the
#: lane loops have a fixed trip count and vectorise without remainder; results do not depend on it).
#: 256 amortises each register-group call's loop set-up over 32 vectors and reads X in runs of
#: 1 KiB per row (64 lanes measured 1.6x slower, 512 no better on cached data).
_LANES = 256
#: Above this many rows the kernels sort each coordinate separately. The network's O(n log^2 n)
#: SIMD comparators measured about 10x faster than numba's per-coordinate sort up to n = 2048; the
#: cutoff only bounds the (N, _LANES) buffers (8 MiB in float64 at N = 4096).
_NETWORK_MAX_N = 4096
#: From this many sort rows N on, the trimmed mean reads its answer off the two sorted halves.
_TRIM_HALVES_N = 64
#: From n = ``_TREE4_N`` with f <= 4, n = ``_TREE8_N`` with f <= 8, and n = ``_TREE16_N`` with
#: f <= 16, the trimmed mean sorts only runs of 8, 16 or 32 rows and merges their 4, 8 or 16
#: extremes (:func:`_trimmed_tree`).
_TREE4_N = 16
_TREE8_N = 64
_TREE16_N = 96
#: The coordinate range is split into at most this many chunks (fixed for a given d), each handled
#: by one parallel iteration that owns its buffers.
_MAX_CHUNKS = 256
# Blocks per chunk at least (d permitting): a chunk allocates its buffers (~2 us), which at
# one block per chunk was half the time of an 8-row median at d = 1e5.
_MIN_CHUNK_BLOCKS = 8

KINDS = ("midpoint", "lower", "upper")
_KIND_CODE = {"midpoint": 0, "lower": 1, "upper": 2}

#: "every row": the kernels take row indices (Bulyan reads its selection in place), empty = all
_ALL_ROWS = np.zeros(0, dtype=np.int64)

# rule codes of the shared kernel
_MEDIAN, _TRIMMED, _PHOCAS, _CLOSEST = 0, 1, 2, 3


# ----------------------------------------------------------------------------------------------
# Building blocks


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
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    _prefetch_some(X, rows, 0, n, n, lo, hi)


@njit(cache=True)
def _load_sort_columns(X, rows, lo, hi, buf, col, chk):  # pragma: no cover - compiled
    """For n > ``_NETWORK_MAX_N``: load columns ``lo:hi`` as :func:`_load_rows` does and sort
    each lane on its own, through ``col``."""
    n = buf.shape[0]
    w = hi - lo
    _load_rows(X, rows, lo, hi, buf, 0, n, chk)
    for t in range(w):
        for i in range(n):
            col[i] = buf[i, t]
        col.sort()
        for i in range(n):
            buf[i, t] = col[i]


# ----------------------------------------------------------------------------------------------
# The bitonic sort (n padded with +inf rows to a power of two N >= 8)
#
# A plain comparator network (Batcher's odd-even merge sort, which this module used before) does
# one load-min-max-store round trip through the buffer per comparator: store-bound, two 256-bit
# stores per 8-lane comparator, about 5 cycles each on Zen 3. This sort keeps
# groups of rows in registers across several comparators: every aligned group of 16 rows is first
# sorted in registers by Green's 60-comparator network (8 rows, when n leaves only those, by the
# optimal 19-comparator one), then sorted groups are merged by the "flip" form of the bitonic
# merge (merging two ascending blocks of h rows: compare row i with row 2h-1-i, then
# half-cleaners of strides h/2, ..., 1 that all sort ascending, so no direction bookkeeping): the
# flip and the larger strides run two at a time on groups of 4 rows, and strides 4, 2, 1 on
# aligned 8-row groups. At n = 32: 96 stores per 8 lanes instead of 382 (Batcher's network),
# and 2.5x faster on cached data (1.5x to 4.7x over n = 3 .. 2048, float32 and float64) before
# the 16-row groups took another 20% off their part.
#
# Two traps, measured: indexing ``X[r, lo + t]`` in a lane loop compiles to scalar code (about
# 7x slower than taking the row view ``X[r, lo:hi]`` first), and a lane loop that loads from
# many arrays and stores into another is not vectorised (too many runtime alias checks): 8 row
# views are fine, 16 are not (nor a 2-d slice, nor a flat view with computed offsets).
#
# So the rows of a full block go from X through registers into their sorted order 8 at a time
# (:func:`_load_sort8`, with the copy's non-finite check), and two such groups are merged in
# registers (:func:`_merge8x2`): 70 comparators instead of Green's 60 for 16 rows, but no copy
# pass: 0.92x the median's time at (32, 1e6) and (32, 1e7), 0.94-0.96x at (128, 1e5), 2 threads.
# The rows of a partial block or group are copied by one simple loop each and sorted there.


@njit(cache=True, inline="always")
def _get8(buf, g, t):  # pragma: no cover - compiled
    """Lane t of rows g .. g+7, as a tuple (kept in registers by the kernels that use it)."""
    return (
        buf[g, t], buf[g + 1, t], buf[g + 2, t], buf[g + 3, t],
        buf[g + 4, t], buf[g + 5, t], buf[g + 6, t], buf[g + 7, t],
    )


@njit(cache=True, inline="always")
def _put8(buf, g, t, a0, a1, a2, a3, a4, a5, a6, a7):  # pragma: no cover - compiled
    """Store 8 values into lane t of rows g .. g+7."""
    buf[g, t] = a0
    buf[g + 1, t] = a1
    buf[g + 2, t] = a2
    buf[g + 3, t] = a3
    buf[g + 4, t] = a4
    buf[g + 5, t] = a5
    buf[g + 6, t] = a6
    buf[g + 7, t] = a7


@njit(cache=True, inline="always")
def _net8(a0, a1, a2, a3, a4, a5, a6, a7):  # pragma: no cover - compiled
    """The 8 values sorted (Knuth's optimal 19-comparator network), as a tuple."""
    a0, a2 = _minmax(a0, a2)
    a1, a3 = _minmax(a1, a3)
    a4, a6 = _minmax(a4, a6)
    a5, a7 = _minmax(a5, a7)
    a0, a4 = _minmax(a0, a4)
    a1, a5 = _minmax(a1, a5)
    a2, a6 = _minmax(a2, a6)
    a3, a7 = _minmax(a3, a7)
    a0, a1 = _minmax(a0, a1)
    a2, a3 = _minmax(a2, a3)
    a4, a5 = _minmax(a4, a5)
    a6, a7 = _minmax(a6, a7)
    a2, a4 = _minmax(a2, a4)
    a3, a5 = _minmax(a3, a5)
    a1, a4 = _minmax(a1, a4)
    a3, a6 = _minmax(a3, a6)
    a1, a2 = _minmax(a1, a2)
    a3, a4 = _minmax(a3, a4)
    a5, a6 = _minmax(a5, a6)
    return a0, a1, a2, a3, a4, a5, a6, a7


@njit(cache=True, inline="always")
def _clean8_net(a0, a1, a2, a3, a4, a5, a6, a7):  # pragma: no cover - compiled
    """Half-cleaners of strides 4, 2, 1 on 8 values (a bitonic sequence comes out sorted)."""
    a0, a4 = _minmax(a0, a4)
    a1, a5 = _minmax(a1, a5)
    a2, a6 = _minmax(a2, a6)
    a3, a7 = _minmax(a3, a7)
    a0, a2 = _minmax(a0, a2)
    a1, a3 = _minmax(a1, a3)
    a4, a6 = _minmax(a4, a6)
    a5, a7 = _minmax(a5, a7)
    a0, a1 = _minmax(a0, a1)
    a2, a3 = _minmax(a2, a3)
    a4, a5 = _minmax(a4, a5)
    a6, a7 = _minmax(a6, a7)
    return a0, a1, a2, a3, a4, a5, a6, a7


@njit(cache=True)
def _sort8_rows(buf, g):  # pragma: no cover - compiled
    """Sort rows g .. g+7 of every lane (Knuth's optimal 19-comparator network), in registers."""
    for t in range(_LANES):
        a0, a1, a2, a3, a4, a5, a6, a7 = _get8(buf, g, t)
        a0, a1, a2, a3, a4, a5, a6, a7 = _net8(a0, a1, a2, a3, a4, a5, a6, a7)
        _put8(buf, g, t, a0, a1, a2, a3, a4, a5, a6, a7)


@njit(cache=True)
def _load_sort8(X, rows, g, lo, buf, chk):  # pragma: no cover - compiled
    """Rows g .. g+7 of the selected rows of ``X[:, lo:lo+_LANES]`` (all rows when ``rows`` is
    empty) loaded into registers, checked as in :func:`_load_rows` and sorted as by
    :func:`_sort8_rows`, into rows g .. g+7 of ``buf``: one pass instead of a copy and a sort.
    (The same with 16 rows stays scalar: the compiler gives up on the aliasing checks.)"""
    m = rows.shape[0]
    r0 = X[rows[g + 0] if m > 0 else g + 0, lo : lo + _LANES]
    r1 = X[rows[g + 1] if m > 0 else g + 1, lo : lo + _LANES]
    r2 = X[rows[g + 2] if m > 0 else g + 2, lo : lo + _LANES]
    r3 = X[rows[g + 3] if m > 0 else g + 3, lo : lo + _LANES]
    r4 = X[rows[g + 4] if m > 0 else g + 4, lo : lo + _LANES]
    r5 = X[rows[g + 5] if m > 0 else g + 5, lo : lo + _LANES]
    r6 = X[rows[g + 6] if m > 0 else g + 6, lo : lo + _LANES]
    r7 = X[rows[g + 7] if m > 0 else g + 7, lo : lo + _LANES]
    for t in range(_LANES):
        a0 = r0[t]
        a1 = r1[t]
        a2 = r2[t]
        a3 = r3[t]
        a4 = r4[t]
        a5 = r5[t]
        a6 = r6[t]
        a7 = r7[t]
        c = chk[t]
        c += a0 - a0
        c += a1 - a1
        c += a2 - a2
        c += a3 - a3
        c += a4 - a4
        c += a5 - a5
        c += a6 - a6
        c += a7 - a7
        chk[t] = c
        a0, a1, a2, a3, a4, a5, a6, a7 = _net8(a0, a1, a2, a3, a4, a5, a6, a7)
        _put8(buf, g, t, a0, a1, a2, a3, a4, a5, a6, a7)


@njit(cache=True)
def _sort16_rows(buf, g):  # pragma: no cover - compiled
    """Sort rows g .. g+15 of every lane in registers: Green's 60-comparator network (Knuth,
    TAOCP 5.3.4), ten layers. Two 8-row sorts and their bitonic merge in registers, which this
    replaced, took 70 comparators and three passes over the rows (0.8x the time in L1)."""
    for t in range(_LANES):
        a0, a1, a2, a3, a4, a5, a6, a7 = _get8(buf, g, t)
        a8, a9, a10, a11, a12, a13, a14, a15 = _get8(buf, g + 8, t)
        a0, a13 = _minmax(a0, a13)
        a1, a12 = _minmax(a1, a12)
        a2, a15 = _minmax(a2, a15)
        a3, a14 = _minmax(a3, a14)
        a4, a8 = _minmax(a4, a8)
        a5, a6 = _minmax(a5, a6)
        a7, a11 = _minmax(a7, a11)
        a9, a10 = _minmax(a9, a10)
        a0, a5 = _minmax(a0, a5)
        a1, a7 = _minmax(a1, a7)
        a2, a9 = _minmax(a2, a9)
        a3, a4 = _minmax(a3, a4)
        a6, a13 = _minmax(a6, a13)
        a8, a14 = _minmax(a8, a14)
        a10, a15 = _minmax(a10, a15)
        a11, a12 = _minmax(a11, a12)
        a0, a1 = _minmax(a0, a1)
        a2, a3 = _minmax(a2, a3)
        a4, a5 = _minmax(a4, a5)
        a6, a8 = _minmax(a6, a8)
        a7, a9 = _minmax(a7, a9)
        a10, a11 = _minmax(a10, a11)
        a12, a13 = _minmax(a12, a13)
        a14, a15 = _minmax(a14, a15)
        a0, a2 = _minmax(a0, a2)
        a1, a3 = _minmax(a1, a3)
        a4, a10 = _minmax(a4, a10)
        a5, a11 = _minmax(a5, a11)
        a6, a7 = _minmax(a6, a7)
        a8, a9 = _minmax(a8, a9)
        a12, a14 = _minmax(a12, a14)
        a13, a15 = _minmax(a13, a15)
        a1, a2 = _minmax(a1, a2)
        a3, a12 = _minmax(a3, a12)
        a4, a6 = _minmax(a4, a6)
        a5, a7 = _minmax(a5, a7)
        a8, a10 = _minmax(a8, a10)
        a9, a11 = _minmax(a9, a11)
        a13, a14 = _minmax(a13, a14)
        a1, a4 = _minmax(a1, a4)
        a2, a6 = _minmax(a2, a6)
        a5, a8 = _minmax(a5, a8)
        a7, a10 = _minmax(a7, a10)
        a9, a13 = _minmax(a9, a13)
        a11, a14 = _minmax(a11, a14)
        a2, a4 = _minmax(a2, a4)
        a3, a6 = _minmax(a3, a6)
        a9, a12 = _minmax(a9, a12)
        a11, a13 = _minmax(a11, a13)
        a3, a5 = _minmax(a3, a5)
        a6, a8 = _minmax(a6, a8)
        a7, a9 = _minmax(a7, a9)
        a10, a12 = _minmax(a10, a12)
        a3, a4 = _minmax(a3, a4)
        a5, a6 = _minmax(a5, a6)
        a7, a8 = _minmax(a7, a8)
        a9, a10 = _minmax(a9, a10)
        a11, a12 = _minmax(a11, a12)
        a6, a7 = _minmax(a6, a7)
        a8, a9 = _minmax(a8, a9)
        _put8(buf, g, t, a0, a1, a2, a3, a4, a5, a6, a7)
        _put8(buf, g + 8, t, a8, a9, a10, a11, a12, a13, a14, a15)


@njit(cache=True)
def _merge8x2(buf, g):  # pragma: no cover - compiled
    """Merge the sorted rows g .. g+7 and g+8 .. g+15 of every lane in registers: the flip
    ``(i, 15-i)``, then half-cleaners of strides 4, 2, 1 on both halves."""
    for t in range(_LANES):
        a0, a1, a2, a3, a4, a5, a6, a7 = _get8(buf, g, t)
        a8, a9, a10, a11, a12, a13, a14, a15 = _get8(buf, g + 8, t)
        a0, a15 = _minmax(a0, a15)
        a1, a14 = _minmax(a1, a14)
        a2, a13 = _minmax(a2, a13)
        a3, a12 = _minmax(a3, a12)
        a4, a11 = _minmax(a4, a11)
        a5, a10 = _minmax(a5, a10)
        a6, a9 = _minmax(a6, a9)
        a7, a8 = _minmax(a7, a8)
        a0, a1, a2, a3, a4, a5, a6, a7 = _clean8_net(a0, a1, a2, a3, a4, a5, a6, a7)
        a8, a9, a10, a11, a12, a13, a14, a15 = _clean8_net(a8, a9, a10, a11, a12, a13, a14, a15)
        _put8(buf, g, t, a0, a1, a2, a3, a4, a5, a6, a7)
        _put8(buf, g + 8, t, a8, a9, a10, a11, a12, a13, a14, a15)


@njit(cache=True)
def _clean8(buf, g):  # pragma: no cover - compiled
    """Half-cleaners of strides 4, 2, 1 on rows g .. g+7 (a bitonic group becomes sorted)."""
    for t in range(_LANES):
        a0, a1, a2, a3, a4, a5, a6, a7 = _get8(buf, g, t)
        a0, a1, a2, a3, a4, a5, a6, a7 = _clean8_net(a0, a1, a2, a3, a4, a5, a6, a7)
        _put8(buf, g, t, a0, a1, a2, a3, a4, a5, a6, a7)


@njit(cache=True)
def _pair(buf, a, b):  # pragma: no cover - compiled
    for t in range(_LANES):
        x, y = _minmax(buf[a, t], buf[b, t])
        buf[a, t] = x
        buf[b, t] = y


@njit(cache=True)
def _quad(buf, p, q, r, s):  # pragma: no cover - compiled
    """Comparators (p, r), (q, s), then (p, q), (r, s), in registers: two strides at once."""
    for t in range(_LANES):
        a = buf[p, t]
        b = buf[q, t]
        c = buf[r, t]
        e = buf[s, t]
        a, c = _minmax(a, c)
        b, e = _minmax(b, e)
        a, b = _minmax(a, b)
        c, e = _minmax(c, e)
        buf[p, t] = a
        buf[q, t] = b
        buf[r, t] = c
        buf[s, t] = e


@njit(cache=True)
def _quad_flip(buf, p, q, r, s):  # pragma: no cover - compiled
    """Comparators (p, s), (q, r), then (p, q), (r, s), in registers: a flip and a stride."""
    for t in range(_LANES):
        a = buf[p, t]
        b = buf[q, t]
        c = buf[r, t]
        e = buf[s, t]
        a, e = _minmax(a, e)
        b, c = _minmax(b, c)
        a, b = _minmax(a, b)
        c, e = _minmax(c, e)
        buf[p, t] = a
        buf[q, t] = b
        buf[r, t] = c
        buf[s, t] = e


@njit(cache=True)
def _prefetch_some(X, rows, j, count, n, lo, hi):  # pragma: no cover - compiled
    """Prefetch columns ``lo:hi`` of ``count`` rows from row position j on; the next position."""
    if hi <= lo:
        return j
    m = rows.shape[0]
    step = max(1, 64 // X.itemsize)
    end = min(n, j + count)
    for i in range(j, end):
        r = rows[i] if m > 0 else i
        for k in range(lo, hi, step):
            _prefetch(X, r, k)
        _prefetch(X, r, hi - 1)
    return end


@njit(cache=True)
def _load_rows(X, rows, lo, hi, buf, j0, n, chk):  # pragma: no cover - compiled
    """Copy columns ``lo:hi`` of the selected rows j0 .. n-1 of X (all rows when ``rows`` is
    empty) into ``buf[j0:n]`` (lanes past ``hi - lo`` get 0), folding the non-finite check into
    the copy: ``chk[t] += x - x`` is 0 for finite x and NaN (for good) after a NaN or an
    infinity."""
    m = rows.shape[0]
    w = hi - lo
    for i in range(j0, n):
        r = rows[i] if m > 0 else i
        src = X[r, lo:hi]
        dst = buf[i]
        for t in range(w):
            x = src[t]
            dst[t] = x
            chk[t] += x - x
        for t in range(w, _LANES):
            dst[t] = 0


@njit(cache=True)
def _merge_runs(X, rows, n, buf, b, h, pj, plo, phi):  # pragma: no cover - compiled
    """Merge the sorted runs of h rows at b and b + h of every lane (the flip form of the bitonic
    merge, described above), prefetching columns ``plo:phi`` of X two rows at a time from row
    position pj on between the steps; returns the next position. Comparators whose higher row is
    >= n (the +inf padding) are skipped."""
    if b + h >= n:
        return pj  # the upper half is all +inf: merging changes nothing
    # the flip (i, 2h-1-i) fused with the stride-h/2 half-cleaner of both halves
    q = h // 2
    for i in range(q):
        if b + i + q < n:
            _quad_flip(buf, b + i, b + i + q, b + 2 * h - 1 - i - q, b + 2 * h - 1 - i)
            pj = _prefetch_some(X, rows, pj, 2, n, plo, phi)
    s = h // 4
    while s >= 16:
        # strides s and s/2 on groups {i, i+s/2, i+s, i+3s/2}
        q = s // 2
        for blk in range(b, b + 2 * h, 2 * s):
            for i in range(blk, blk + q):
                if i + q < n:
                    _quad(buf, i, i + q, i + s, i + s + q)
                    pj = _prefetch_some(X, rows, pj, 2, n, plo, phi)
        s //= 4
    if s == 8:
        for blk in range(b, b + 2 * h, 16):
            for i in range(blk, blk + 8):
                if i + 8 < n:
                    _pair(buf, i, i + 8)
                    pj = _prefetch_some(X, rows, pj, 2, n, plo, phi)
    for g in range(b, b + 2 * h, 8):
        if g + 1 < n:
            _clean8(buf, g)
            pj = _prefetch_some(X, rows, pj, 2, n, plo, phi)
    return pj


@njit(cache=True)
def _bitonic_load_sort(X, rows, lo, hi, n, buf, plo, phi, chk, top):  # pragma: no cover - compiled
    """Copy columns ``lo:hi`` of the rows ``rows`` of X (all rows when ``rows`` is empty) into
    the first n rows of ``buf`` (lanes past ``hi - lo`` get 0) and sort every lane ascending in
    each aligned block of ``top`` rows (a power of two, 8 <= top <= N): ``top = N`` sorts the
    lane, ``top = N/2`` leaves two sorted halves (the median needs no more, :func:`_kth_lanes`).
    Whole groups of 8 rows (16 with ``top >= 16``) of a full block go from X straight into their
    sorted order (:func:`_load_sort8`, :func:`_merge8x2`); the other rows are copied first.

    ``buf`` has N rows, a power of two >= 8, and rows n .. N-1 must hold +inf (the caller fills
    them once). Every comparator puts its larger value at its higher row, so those rows keep
    +inf throughout, and any comparator whose higher row is >= n changes nothing: the calls made
    only of such comparators (or merging a sorted block with an all-+inf one) are skipped, which
    bounds the cost of padding n up to N.

    Columns ``plo:phi`` (the next block) are prefetched two rows at a time between the merge
    steps, so that the memory traffic of the next block overlaps this block's compute (issued
    all at once, the prefetches only queue up behind the few outstanding misses a core can have).
    ``chk[t]`` accumulates ``x - x`` over the values loaded: NaN iff one of them was NaN or inf.
    """
    N = buf.shape[0]
    pj = 0
    if top >= 16:
        g0 = 16 * (n // 16) if hi - lo == _LANES else 0
        for g in range(0, g0, 16):
            _load_sort8(X, rows, g, lo, buf, chk)
            _load_sort8(X, rows, g + 8, lo, buf, chk)
            _merge8x2(buf, g)
            pj = _prefetch_some(X, rows, pj, 2, n, plo, phi)
        _load_rows(X, rows, lo, hi, buf, g0, n, chk)
        for g in range(g0, N, 16):
            if g + 8 < n:
                _sort16_rows(buf, g)
                pj = _prefetch_some(X, rows, pj, 2, n, plo, phi)
            elif g + 1 < n:
                _sort8_rows(buf, g)
    else:
        # whole groups of 8 rows go from X through registers into their sorted order
        g0 = 8 * (n // 8) if hi - lo == _LANES else 0
        for g in range(0, g0, 8):
            _load_sort8(X, rows, g, lo, buf, chk)
            pj = _prefetch_some(X, rows, pj, 1, n, plo, phi)
        _load_rows(X, rows, lo, hi, buf, g0, n, chk)
        for g in range(g0, N, 8):
            if g + 1 < n:
                _sort8_rows(buf, g)
    h = 16
    while h < top:
        for b in range(0, N, 2 * h):
            pj = _merge_runs(X, rows, n, buf, b, h, pj, plo, phi)
        h *= 2
    _prefetch_some(X, rows, pj, n, n, plo, phi)


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
def _kth_lanes(buf, a, nb, k, out):  # pragma: no cover - compiled
    """out[t] = the k-th smallest (from 0) of lane t's values in rows 0 .. a+nb-1 of ``buf``,
    where rows 0 .. a-1 (A) and rows a .. a+nb-1 (B) are each sorted ascending, k < a + nb.

    Taking i values from A and k+1-i from B gives a set of k+1 values whose largest,
    ``max(A[i-1], B[k-i])``, is at least the k-th smallest, with equality for the right i: the
    minimum over i is the k-th smallest. k+2 max and k+1 min per lane, instead of the last merge
    of the sort (N/2 log2 N comparators), and the value itself, so the result is exact.
    """
    ilo = max(0, k + 1 - nb)
    ihi = min(a, k + 1)
    for t in range(_LANES):
        out[t] = np.inf
    if ilo == 0:  # all k+1 from B
        for t in range(_LANES):
            out[t] = buf[a + k, t]
    if ihi == k + 1:  # all k+1 from A
        for t in range(_LANES):
            out[t] = _minmax(out[t], buf[k, t])[0]
    i = max(ilo, 1)
    end = min(ihi, k)  # the mixed splits 1 <= i <= k, four per pass over the lanes
    while i + 3 <= end:
        for t in range(_LANES):
            m = _minmax(buf[i - 1, t], buf[a + k - i, t])[1]
            m = _minmax(m, _minmax(buf[i, t], buf[a + k - i - 1, t])[1])[0]
            m = _minmax(m, _minmax(buf[i + 1, t], buf[a + k - i - 2, t])[1])[0]
            m = _minmax(m, _minmax(buf[i + 2, t], buf[a + k - i - 3, t])[1])[0]
            out[t] = _minmax(out[t], m)[0]
        i += 4
    while i <= end:
        for t in range(_LANES):
            out[t] = _minmax(out[t], _minmax(buf[i - 1, t], buf[a + k - i, t])[1])[0]
        i += 1


@njit(cache=True)
def _median_halves(buf, a, n, kind, lo, hi, med):  # pragma: no cover - compiled
    """:func:`_median_lanes` of the n values of each lane from two sorted runs (rows 0 .. a-1
    and a .. n-1, :func:`_kth_lanes`): the same values, so the same medians."""
    h = n // 2
    if n % 2 == 1 or kind == 2:
        _kth_lanes(buf, a, n - a, h, hi)
        for t in range(_LANES):
            med[t] = hi[t]
    elif kind == 1:
        _kth_lanes(buf, a, n - a, h - 1, lo)
        for t in range(_LANES):
            med[t] = lo[t]
    else:
        _kth_lanes(buf, a, n - a, h - 1, lo)
        _kth_lanes(buf, a, n - a, h, hi)
        for t in range(_LANES):
            med[t] = 0.5 * (np.float64(lo[t]) + np.float64(hi[t]))


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
def _clip_rel(x, lo, hi, clip, rel):  # pragma: no cover - compiled
    """x in float64, clipped to [lo, hi] first if ``clip``, minus lo if ``rel``."""
    if clip:
        x = _minmax(_minmax(x, lo)[1], hi)[0]
    return np.float64(x) - np.float64(lo) if rel else np.float64(x)


@njit(cache=True)
def _add_rows(buf, j0, j1, lo, hi, clip, rel, acc):  # pragma: no cover - compiled
    """acc[t] += the values v of rows j0 .. j1-1 of lane t in float64, in row order, clipped to
    [lo[t], hi[t]] first if ``clip``, and taken as ``v - lo[t]`` if ``rel``. Four rows per pass
    over the lanes, so that acc is loaded and stored once for them."""
    j = j0
    while j + 4 <= j1:
        for t in range(_LANES):
            l = lo[t]
            h = hi[t]
            s = acc[t]
            s += _clip_rel(buf[j, t], l, h, clip, rel)
            s += _clip_rel(buf[j + 1, t], l, h, clip, rel)
            s += _clip_rel(buf[j + 2, t], l, h, clip, rel)
            s += _clip_rel(buf[j + 3, t], l, h, clip, rel)
            acc[t] = s
        j += 4
    while j < j1:
        for t in range(_LANES):
            acc[t] += _clip_rel(buf[j, t], lo[t], hi[t], clip, rel)
        j += 1


@njit(cache=True)
def _trimmed_halves(buf, a, n, f, lo, hi, acc):  # pragma: no cover - compiled
    """acc[t] = mean of the order statistics f .. n-f-1 of lane t, read off two sorted runs
    (rows 0 .. a-1 and a .. n-1, as :func:`_kth_lanes` takes them) without the last merge.

    With lo = the f-th and hi = the (n-f-1)-th smallest (:func:`_kth_lanes`), clipping every
    value to [lo, hi] turns the f smallest into lo and the f largest into hi and leaves the
    others as they are: the clipped sum is the kept values' sum plus f (lo + hi). Outliers never
    enter the float64 sum, whose terms all lie in [lo, hi]. Only the first and last f rows of
    each run can hold one of the 2f trimmed values; the rows between are added unclipped.

    float32 values are summed as they are: float64 has 29 bits more than float32, so these sums
    are exact unless the values' exponents span a huge range, and an exact sum gives the same
    bits as the sorted sum did. float64 values are summed relative to lo (the mean is
    ((n-2f) lo + sum - f (hi - lo)) / (n-2f), one division as in the reference), so that the
    rounding error scales with the kept values' spread hi - lo, not with their size: summing n
    terms where the sorted sum has n-2f would otherwise lose up to n/(n-2f) times more
    (measured: 4e-13 relative at n = 129, f = 64).
    On small integers every step is exact in both.
    """
    _kth_lanes(buf, a, n - a, f, lo)
    _kth_lanes(buf, a, n - a, n - f - 1, hi)
    rel = buf.itemsize == 8
    for t in range(_LANES):
        acc[t] = 0.0
    for r0, r1 in ((0, a), (a, n)):
        if r1 - r0 <= 2 * f:
            _add_rows(buf, r0, r1, lo, hi, True, rel, acc)
        else:
            _add_rows(buf, r0, r0 + f, lo, hi, True, rel, acc)
            _add_rows(buf, r0 + f, r1 - f, lo, hi, False, rel, acc)
            _add_rows(buf, r1 - f, r1, lo, hi, True, rel, acc)
    cnt = n - 2 * f
    if rel:
        for t in range(_LANES):
            l = np.float64(lo[t])
            acc[t] = (cnt * l + (acc[t] - f * (np.float64(hi[t]) - l))) / cnt
    else:
        for t in range(_LANES):
            acc[t] = (acc[t] - f * (np.float64(lo[t]) + np.float64(hi[t]))) / cnt


@njit(cache=True)
def _flip_extremes(buf, p, q, low, both):  # pragma: no cover - compiled
    """Two blocks of 16 rows, p .. p+15 and q .. q+15, each sorted ascending in every lane: the
    16 smallest (``low``) or the 16 largest of their 32 values replace rows p .. p+15, sorted
    ascending, and the other 16 go to rows q .. q+15 in no order. Without ``both``, only the 8
    most extreme of the kept 16 are sorted (rows p .. p+7 if ``low``, else p+8 .. p+15); the
    other 8 rows then hold the rest in no order.

    The flip ``(p+i, q+15-i)`` splits the 32 values into the 16 smallest and the 16 largest,
    each a bitonic sequence (as in the bitonic merge); the half-cleaner of stride 8 runs in the
    same pass, and :func:`_clean8` sorts the two halves.
    """
    for i in range(8):
        for t in range(_LANES):
            a, x = _minmax(buf[p + i, t], buf[q + 15 - i, t])
            b, y = _minmax(buf[p + 8 + i, t], buf[q + 7 - i, t])
            if not low:
                a, x = x, a
                b, y = y, b
            a, b = _minmax(a, b)
            buf[p + i, t] = a
            buf[p + 8 + i, t] = b
            buf[q + 15 - i, t] = x
            buf[q + 7 - i, t] = y
    if both or low:
        _clean8(buf, p)
    if both or not low:
        _clean8(buf, p + 8)


@njit(cache=True)
def _flip8(buf, p, q, low, clean):  # pragma: no cover - compiled
    """:func:`_flip_extremes` for blocks of 8 rows, in registers in one pass: the flip
    ``(p+i, q+7-i)``, then (if ``clean``) the half-cleaners of strides 4, 2, 1 on the 8 kept
    values, which sort them."""
    for t in range(_LANES):
        a0, x0 = _minmax(buf[p, t], buf[q + 7, t])
        a1, x1 = _minmax(buf[p + 1, t], buf[q + 6, t])
        a2, x2 = _minmax(buf[p + 2, t], buf[q + 5, t])
        a3, x3 = _minmax(buf[p + 3, t], buf[q + 4, t])
        a4, x4 = _minmax(buf[p + 4, t], buf[q + 3, t])
        a5, x5 = _minmax(buf[p + 5, t], buf[q + 2, t])
        a6, x6 = _minmax(buf[p + 6, t], buf[q + 1, t])
        a7, x7 = _minmax(buf[p + 7, t], buf[q, t])
        if not low:
            a0, x0 = x0, a0
            a1, x1 = x1, a1
            a2, x2 = x2, a2
            a3, x3 = x3, a3
            a4, x4 = x4, a4
            a5, x5 = x5, a5
            a6, x6 = x6, a6
            a7, x7 = x7, a7
        buf[q + 7, t] = x0
        buf[q + 6, t] = x1
        buf[q + 5, t] = x2
        buf[q + 4, t] = x3
        buf[q + 3, t] = x4
        buf[q + 2, t] = x5
        buf[q + 1, t] = x6
        buf[q, t] = x7
        if clean:
            a0, a1, a2, a3, a4, a5, a6, a7 = _clean8_net(a0, a1, a2, a3, a4, a5, a6, a7)
        _put8(buf, p, t, a0, a1, a2, a3, a4, a5, a6, a7)


@njit(cache=True)
def _flip4(buf, p, q, low, clean):  # pragma: no cover - compiled
    """:func:`_flip8` for blocks of 4 rows: the flip ``(p+i, q+3-i)``, then (if ``clean``) the
    half-cleaners of strides 2, 1 on the 4 kept values."""
    for t in range(_LANES):
        a0, x0 = _minmax(buf[p, t], buf[q + 3, t])
        a1, x1 = _minmax(buf[p + 1, t], buf[q + 2, t])
        a2, x2 = _minmax(buf[p + 2, t], buf[q + 1, t])
        a3, x3 = _minmax(buf[p + 3, t], buf[q, t])
        if not low:
            a0, x0 = x0, a0
            a1, x1 = x1, a1
            a2, x2 = x2, a2
            a3, x3 = x3, a3
        buf[q + 3, t] = x0
        buf[q + 2, t] = x1
        buf[q + 1, t] = x2
        buf[q, t] = x3
        if clean:
            a0, a2 = _minmax(a0, a2)
            a1, a3 = _minmax(a1, a3)
            a0, a1 = _minmax(a0, a1)
            a2, a3 = _minmax(a2, a3)
        buf[p, t] = a0
        buf[p + 1, t] = a1
        buf[p + 2, t] = a2
        buf[p + 3, t] = a3


@njit(cache=True)
def _trimmed_tree(buf, n, f, K, lo, hi, acc):  # pragma: no cover - compiled
    """acc[t] = the f-trimmed mean of lane t, for f <= K (4, 8 or 16) and n >= 4K, from sorted
    runs of R = 2K rows (rows R i .. R i + R-1; the last run holds the rows from R (m-1) on, R
    to 2R-1 of them, m = n // R): the kept values are summed without sorting the whole lane.

    Each run is a node whose K smallest values (its first K rows, the "lows") and K largest (its
    last K rows, the "highs") may still be trimmed, and whose rows between can not: at least K
    >= f values of the node lie below and above each of them, so they are added to ``acc`` at
    once. Nodes are merged pairwise, as a tree: the lows of the union are the K smallest of both
    lows (:func:`_flip_extremes`, :func:`_flip8`, :func:`_flip4`), and the other K values of
    both lows are kept values (each has at most 2K-1 values of the union below it, and the
    union's 4K or more values leave at least 2K >= f above it), added to ``acc``; the same holds
    for the highs. At the root, the f smallest of the last lows and the f largest of the last
    highs are the trimmed values and everything else is added.

    Every value is added exactly once, in a fixed order, and only kept values are: no outlier
    enters the sum and nothing cancels. float32 values are summed in float64, exact unless the
    values' exponents span a huge range, so the bits are those of the sorted sum.
    Against the two sorted halves (:func:`_trimmed_halves`) at n = 128, f = 16 (K = 16): 1023
    comparators and about 6 passes over the rows instead of 1264 and 8.5.
    """
    R = 2 * K
    m = n // R
    last = R * (m - 1)
    for t in range(_LANES):
        acc[t] = 0.0
    if n - last > R:
        _add_rows(buf, last + K, n - K, lo, hi, False, False, acc)
    s = 1
    while s < m:
        root = 2 * s >= m
        for i in range(0, m - s, 2 * s):
            j = i + s
            li = R * i
            lj = R * j
            hi_i = li + K if i < m - 1 else n - K
            hi_j = lj + K if j < m - 1 else n - K
            # the kept extremes need sorting below the root, and at the root unless f = K (all
            # trimmed) or, for K = 16, f <= 8 (the trimmed ones are then the extreme 8 rows)
            if K == 4:
                _flip4(buf, li, lj, True, not root or f < K)
                _flip4(buf, hi_i, hi_j, False, not root or f < K)
            elif K == 8:
                _flip8(buf, li, lj, True, not root or f < K)
                _flip8(buf, hi_i, hi_j, False, not root or f < K)
            elif root and f == K:
                _flip8(buf, li, lj + 8, True, False)
                _flip8(buf, li + 8, lj, True, False)
                _flip8(buf, hi_i, hi_j + 8, False, False)
                _flip8(buf, hi_i + 8, hi_j, False, False)
            else:
                _flip_extremes(buf, li, lj, True, not root or f > 8)
                _flip_extremes(buf, hi_i, hi_j, False, not root or f > 8)
            # the values the flips moved out are kept
            _add_rows(buf, lj, lj + K, lo, hi, False, False, acc)
            _add_rows(buf, hi_j, hi_j + K, lo, hi, False, False, acc)
            if root:
                _add_rows(buf, li + f, li + K, lo, hi, False, False, acc)
                _add_rows(buf, hi_i, hi_i + K - f, lo, hi, False, False, acc)
        s *= 2
    cnt = n - 2 * f
    for t in range(_LANES):
        acc[t] = acc[t] / cnt


@njit(cache=True)
def _closest_lanes(buf, k, centre, start, acc, alo, ahi):  # pragma: no cover - compiled
    """acc[t] = mean of the k values of sorted lane t closest to centre[t].

    Ties between ``c - a`` and ``c + a`` go to the smaller value, as in the reference's
    ``(|x - c|, x)`` order: the window ``s[a .. a+k-1]`` starts at the number of positions
    a < n-k for which ``s[a+k] - c < c - s[a]`` (strictly closer on the right), a predicate
    monotone in a. The window is then summed in ascending order, rows outside it adding 0.

    The caller may promise that the start lies in ``[alo, ahi]`` (see :func:`_median_window`);
    only those positions are tested and only rows ``alo .. ahi+k-1`` summed. Without a promise,
    ``alo, ahi = 0, n-k``.
    """
    for t in range(_LANES):
        start[t] = np.float64(alo)
    for a in range(alo, ahi):
        for t in range(_LANES):
            c = centre[t]
            right = np.float64(buf[a + k, t]) - c
            left = c - np.float64(buf[a, t])
            start[t] += 1.0 if right < left else 0.0
    for t in range(_LANES):
        acc[t] = 0.0
    for j in range(alo, ahi + k):
        # row j is in the window iff start <= j < start + k, i.e. j-k < start <= j
        jf = np.float64(j)
        jk = np.float64(j - k)
        if j < alo + k and j >= ahi:
            for t in range(_LANES):
                acc[t] += buf[j, t]
        else:
            for t in range(_LANES):
                s = start[t]
                v = np.float64(buf[j, t])
                acc[t] += v if (s <= jf) & (jk < s) else 0.0
    for t in range(_LANES):
        acc[t] = acc[t] / k


@njit(cache=True)
def _median_window(n, k):  # pragma: no cover - compiled
    """The range ``[alo, ahi]`` that holds the start of the window of the k values closest to the
    median (midpoint, lower or upper) of n sorted values, with h = n // 2: ``[max(0, h-k),
    min(h, n-k)]``.

    At a = h the test ``s[a+k] - c < c - s[a]`` is false (c <= s[h], so the left side is >= 0
    and the right one <= 0), so the start is at most h. For a <= h-k-1 both ``s[a]`` and
    ``s[a+k]`` are <= s[h-1] <= c, so the test can only be false when ``s[a] = s[a+k] = c``:
    then every value from the true start to ``s[h-1]`` equals c, and the window starting at
    h-k holds k copies of c, the same values in the same order. Rounding keeps every sign used
    here, and a nonzero difference of floats never rounds to 0.
    """
    h = n // 2
    return max(0, h - k), min(h, n - k)


@njit(cache=True)
def _load_sort(X, rows, lo, hi, N, full, col, nxt, chk, top):  # pragma: no cover - compiled
    """Load columns ``lo:hi`` of the n selected rows into ``full[:n]`` and sort every lane: the
    bitonic sort on N padded rows when N > 0, into sorted runs of ``top`` rows (a power of two,
    8 <= top <= N), else (n > ``_NETWORK_MAX_N``) one sort per lane. Columns ``hi:nxt`` (the
    next block) are prefetched on the way; ``chk`` as in :func:`_load_rows`. Returns
    ``min(top, n)`` (n for per-lane sorts): with ``top = N/2``, rows 0 .. a-1 and a .. n-1 are
    each sorted."""
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    if N > 0:
        _bitonic_load_sort(X, rows, lo, hi, n, full, hi, nxt, chk, top)
        return min(top, n)
    _prefetch_rows(X, rows, hi, nxt)
    _load_sort_columns(X, rows, lo, hi, full[:n], col, chk)
    return n


@njit(cache=True)
def _sort_buffer(n, N, dtype):  # pragma: no cover - compiled
    """The (max(n, N), _LANES) sort buffer, its padding rows n .. N-1 set to +inf."""
    full = np.empty((max(n, N), _LANES), dtype=dtype)
    full[n:] = np.inf
    return full


@njit(cache=True)
def _rule_buffers(n, N, dtype):  # pragma: no cover - compiled
    """The work buffers of :func:`_rule_range` for n rows (one set per parallel chunk): the sort
    buffer, a column, three float64 lanes, two lanes of X's dtype, and the non-finite check."""
    return (
        _sort_buffer(n, N, dtype), np.empty(n, dtype=dtype), np.empty(_LANES, dtype=np.float64),
        np.empty(_LANES, dtype=np.float64), np.empty(_LANES, dtype=np.float64),
        np.empty(_LANES, dtype=dtype), np.empty(_LANES, dtype=dtype), np.zeros(_LANES, dtype=dtype),
    )


@njit(cache=True)
def _rule_range(X, rows, rule, f, k, kind, N, lo0, hi0, out, bufs):  # pragma: no cover - compiled
    """:func:`_coordinatewise_cpu` on the coordinates ``lo0:hi0``, with the buffers ``bufs``
    (:func:`_rule_buffers`); a NaN or infinity read leaves NaN in ``bufs[7]``."""
    full, col, cen, acc, start, klo, khi, chk = bufs
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    buf = full[:n]
    alo, ahi = _median_window(n, k)
    # The trimmed mean skips the last merge from N = 64 on, where it is N/2 log2 N comparators
    # through L2 (0.88-0.92x the time, n = 50 .. 256). Below, the merge is cheap in L1 and the
    # halves measured 1.06-1.08x slower in the kernel (n = 16 .. 32), though the tail alone ran
    # 0.94x in L1; spreading the next block's prefetches over the sort did not explain it.
    halve_trim = rule == 1 and N >= _TRIM_HALVES_N
    # With f <= K it needs only sorted runs of 2K rows and their K extremes (:func:`_trimmed_tree`),
    # where there are four runs or more. Against the two halves, K = 16 measured 0.72-0.91x the
    # time at n = 96 .. 256 (the more runs, the more it saves) and 1.01-1.06x at n = 64 .. 95
    # (two runs). K = 8 measured a further 0.86-0.96x against K = 16 or the halves at n = 64 .. 256,
    # f <= 8, and 1.02x against the full sort at n = 32, f = 4, where the load dominates. K = 4
    # loads its runs of 8 rows straight into the sort (:func:`_load_sort8`), no copy: 0.84x the
    # full sort at (32, 1e6), f = 4; 0.95x at n = 16 .. 20; 0.76-0.78x against K = 8 at n = 64, 128.
    K = 0
    if rule == 1 and N > 0:
        for kk, nmin in ((16, _TREE16_N), (8, _TREE8_N), (4, _TREE4_N)):
            if n >= nmin and f <= kk:
                K = kk  # the smallest K that serves
    top = N
    if N >= 16 and (rule == 0 or halve_trim):
        top = N // 2
    if K > 0:
        top = 2 * K
    m = n // (2 * K) if K > 0 else 0
    for lo in range(lo0, hi0, _LANES):
        hi = min(hi0, lo + _LANES)
        nxt = min(hi0, hi + _LANES)
        a = _load_sort(X, rows, lo, hi, N, full, col, nxt, chk, top)
        if rule == 0:
            _median_halves(buf, a, n, kind, klo, khi, acc)
        elif rule == 1:
            if K > 0:
                if n > 2 * K * m:  # the last, partial run joins the one before
                    _merge_runs(X, rows, n, full, 2 * K * (m - 1), 2 * K, n, hi, hi)
                _trimmed_tree(buf, n, f, K, klo, khi, acc)
            elif a < n:
                _trimmed_halves(buf, a, n, f, klo, khi, acc)
            else:
                _trimmed_lanes(buf, f, acc)
        elif rule == 2:
            _trimmed_lanes(buf, f, cen)
            _closest_lanes(buf, k, cen, start, acc, 0, n - k)
        else:
            _median_lanes(buf, kind, cen)
            _closest_lanes(buf, k, cen, start, acc, alo, ahi)
        for t in range(hi - lo):
            out[lo + t] = acc[t]


@njit(parallel=True, cache=True)
def _coordinatewise_cpu(X, rows, rule, f, k, kind, N, bounds, out):  # pragma: no cover - compiled
    """One coordinate-wise rule over all coordinates of the rows ``rows`` of X (all rows when
    ``rows`` is empty, which saves Bulyan a copy of its selection); ``out`` has X's dtype.

    rule 0: median (``kind``); 1: f-trimmed mean; 2: Phocas (k closest to the f-trimmed mean);
    3: k closest to the median (MeaMed with k = n-f, Bulyan's coordinate phase with k = beta).
    N: rows of the bitonic sort (:func:`_sort_rows`), 0 for per-coordinate sorts.
    Returns True if a value read was NaN or infinite (``out`` is then meaningless).
    """
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    nchunks = bounds.shape[0] - 1
    bad = np.zeros(nchunks, dtype=np.bool_)
    for c in prange(nchunks):
        bufs = _rule_buffers(n, N, X.dtype)
        _rule_range(X, rows, rule, f, k, kind, N, bounds[c], bounds[c + 1], out, bufs)
        bad[c] = _any_nan(bufs[7])
    return bad.any()


@njit(parallel=True, cache=True)
def _group_closest_cpu(X, rows, starts, k, N, bounds, out):  # pragma: no cover - compiled
    """out = :func:`closest_mean_to_median` (midpoint) of the group means
    ``S = group_means(X, rows, starts, centered=True)``, without S: every block of ``_LANES``
    coordinates computes its columns of S (:func:`._common._group_means_block`, the same bits)
    into a block that the coordinate phase then sorts while it is cached. Returns True if a
    group mean is NaN or infinite (float64 differences beyond the largest float). (That helper
    lives in ``_common.py``: after editing it, clear this file's numba cache too, which only
    watches this file.)"""
    n = X.shape[0]
    ng = starts.shape[0] - 1
    nchunks = bounds.shape[0] - 1
    bad = np.zeros(nchunks, dtype=np.bool_)
    for c in prange(nchunks):
        bufs = _rule_buffers(ng, N, X.dtype)
        wide = np.empty((n, _GROUP_BLOCK), dtype=np.float64)
        S = np.empty((ng, _LANES), dtype=X.dtype)
        res = np.empty(_LANES, dtype=X.dtype)
        for lo in range(bounds[c], bounds[c + 1], _LANES):
            hi = min(bounds[c + 1], lo + _LANES)
            for a in range(lo, hi, _GROUP_BLOCK):
                _group_means_block(X, rows, starts, a, min(hi, a + _GROUP_BLOCK), wide, S,
                                   a - lo, True)
            _rule_range(S, _ALL_ROWS, _CLOSEST, 0, k, 0, N, 0, hi - lo, res, bufs)
            for t in range(hi - lo):
                out[lo + t] = res[t]
        bad[c] = _any_nan(bufs[7])
    return bad.any()


def group_closest_mean(X: np.ndarray, rows: np.ndarray, starts: np.ndarray,
                       beta: int) -> np.ndarray | None:
    """``closest_mean_to_median(group_means(X, rows, starts, centered=True), beta)`` bit for
    bit, without the (groups, d) array of means: Multi-Bulyan's last two steps in one pass over
    X (:func:`_group_closest_cpu`). X must be finite; returns None if a group mean is not (the
    caller then takes the two steps apart, which say why)."""
    d = X.shape[1]
    ng = len(starts) - 1
    out = np.empty(d, dtype=X.dtype)
    if d == 0:
        return out
    bounds = chunk_bounds(d, _LANES * _MIN_CHUNK_BLOCKS, _MAX_CHUNKS)
    if _group_closest_cpu(X, np.ascontiguousarray(rows, dtype=np.int64),
                          np.ascontiguousarray(starts, dtype=np.int64), int(beta), _sort_rows(ng),
                          bounds, out):
        return None
    return out


#: Bytes of the n rows of one sub-block of :func:`_exact_rows_cpu` (kept in L2 while every wanted
#: row sweeps it, and while the coordinate phase sorts the same coordinates).
_ROWS_SUB_BYTES = 256 * 1024


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _exact_rows_cpu(X, rows, bounds, sub, picks, k, N, out):  # pragma: no cover - compiled
    """Rows ``rows`` of the exact squared-distance matrix and, when ``picks`` is not empty, the
    mean of the k values closest to the median of the rows ``picks`` per coordinate (Bulyan's
    phase, into ``out``), in one pass over X. Returns ``(D, bad)``, bad as in
    :func:`_coordinatewise_cpu`.

    Every chunk goes over its coordinates in sub-blocks of ``sub``; a sub-block streams every row
    x once and pairs it with 2 of the wanted rows at a time (clamped copies beyond the last are
    dropped), each pair summing ``(x_k - z_k)^2`` in float64 by the same loop, and the
    sub-block sums are added in order: an entry's bits depend only on (n, d, dtype), never on
    the other rows wanted, on ``picks`` or on the threads, so entries (i, j) and (j, i) of two
    calls agree. The phase then sorts the picked rows of the sub-block while they are cached.
    """
    n = X.shape[0]
    m = rows.shape[0]
    npk = picks.shape[0]
    nchunks = bounds.shape[0] - 1
    part = np.zeros((nchunks, m, n), dtype=np.float64)
    bad = np.zeros(nchunks, dtype=np.bool_)
    for c in prange(nchunks):
        bufs = _rule_buffers(max(npk, 1), N, X.dtype)
        for lo in range(bounds[c], bounds[c + 1], sub):
            hi = min(bounds[c + 1], lo + sub)
            for j in range(n):
                x = X[j, lo:hi]
                for qb in range(0, m, 2):
                    z0 = X[rows[qb], lo:hi]
                    z1 = X[rows[min(qb + 1, m - 1)], lo:hi]
                    s0 = 0.0
                    s1 = 0.0
                    for t in range(hi - lo):
                        v = np.float64(x[t])
                        w = v - np.float64(z0[t])
                        s0 += w * w
                        w = v - np.float64(z1[t])
                        s1 += w * w
                    part[c, qb, j] += s0
                    if qb + 1 < m:
                        part[c, qb + 1, j] += s1
            if npk > 0:
                _rule_range(X, picks, _CLOSEST, 0, k, 0, N, lo, hi, out, bufs)
        bad[c] = _any_nan(bufs[7])
    D = np.zeros((m, n), dtype=np.float64)
    for c in range(nchunks):
        for q in range(m):
            for j in range(n):
                D[q, j] += part[c, q, j]
    for q in range(m):
        D[q, rows[q]] = 0.0
    return D, bad.any()


def exact_rows(X: np.ndarray, rows: np.ndarray, picks: np.ndarray | None = None,
               beta: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """Exact squared distances (float64, from differences) from the rows ``rows`` of X to every
    row, shape (len(rows), n), in one parallel pass over X (see :func:`_exact_rows_cpu`); with
    ``picks``, also ``closest_mean_to_median(X, beta, rows=picks)`` (midpoint median) from the
    same pass, else None. X must be finite (the rules check it first)."""
    n, d = X.shape
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    sub = max(_LANES, _ROWS_SUB_BYTES // (n * X.itemsize) // _LANES * _LANES)
    bounds = chunk_bounds(d, sub, 64)
    if picks is None:
        D, _ = _exact_rows_cpu(X, rows, bounds, sub, _ALL_ROWS, 1, 8, np.empty(0, X.dtype))
        return D, None
    picks = np.ascontiguousarray(picks, dtype=np.int64)
    out = np.empty(d, dtype=X.dtype)
    D, bad = _exact_rows_cpu(X, rows, bounds, sub, picks, int(beta), _sort_rows(picks.size), out)
    if bad:
        raise NonFiniteInput
    return D, out


@njit(cache=True)
def _any_nan(v):  # pragma: no cover - compiled
    for t in range(v.shape[0]):
        if v[t] != v[t]:
            return True
    return False


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _median_sq_distances_cpu(X, kind, N, bounds):  # pragma: no cover - compiled
    """Squared distance (float64) of every row of X to the coordinate-wise median, and whether a
    value read was NaN or infinite (the distances are then meaningless).

    Each block adds its squared differences per row into a float64 sum (``reassoc`` lets the
    compiler vectorise it, in a fixed order), each chunk sums its blocks in order, and chunks are
    added in chunk order after the parallel loop: the result does not depend on the threads.
    """
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    partial = np.zeros((nchunks, n), dtype=np.float64)
    bad = np.zeros(nchunks, dtype=np.bool_)
    for c in prange(nchunks):
        chk = np.zeros(_LANES, dtype=X.dtype)
        full = _sort_buffer(n, N, X.dtype)
        buf = full[:n]
        col = np.empty(n, dtype=X.dtype)
        med = np.empty(_LANES, dtype=np.float64)
        klo = np.empty(_LANES, dtype=X.dtype)
        khi = np.empty(_LANES, dtype=X.dtype)
        top = N // 2 if N >= 16 else N  # the two sorted halves
        for lo in range(bounds[c], bounds[c + 1], _LANES):
            hi = min(bounds[c + 1], lo + _LANES)
            nxt = min(bounds[c + 1], hi + _LANES)
            a = _load_sort(X, _ALL_ROWS, lo, hi, N, full, col, nxt, chk, top)
            _median_halves(buf, a, n, kind, klo, khi, med)
            w = hi - lo
            for i in range(n):
                x = X[i, lo:hi]
                s = 0.0
                for t in range(w):
                    diff = np.float64(x[t]) - med[t]
                    s += diff * diff
                partial[c, i] += s
        bad[c] = _any_nan(chk)
    dist = np.zeros(n, dtype=np.float64)
    for c in range(nchunks):
        for i in range(n):
            dist[i] += partial[c, i]
    return dist, bad.any()


@njit(parallel=True, cache=True)
def _rows_mean_cpu(X, rows, bounds, out):  # pragma: no cover - compiled
    """out[k] = mean of X[rows[j], k] over j, accumulated in float64 in the order of ``rows``:
    16 columns at a time in registers (:func:`._common._rows_mean16`; 25% faster than an
    accumulator array at (32, 1e6), same bits). (That intrinsic lives in ``_common.py``: after
    editing it, clear this file's numba cache too, which only watches this file.)"""
    m = rows.shape[0]
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        for lo in range(bounds[c], bounds[c + 1], _LANES):
            hi = min(bounds[c + 1], lo + _LANES)
            _prefetch_rows(X, rows, hi, min(bounds[c + 1], hi + _LANES))
            k = lo
            while k + _SUM_WIDTH <= hi:
                _rows_mean16(X, rows, 0, m, k, out, k)
                k += _SUM_WIDTH
            for kk in range(k, hi):
                acc = 0.0
                for j in range(m):
                    acc += X[rows[j], kk]
                out[kk] = acc / m


def _sort_rows(n: int) -> int:
    """Rows N of the bitonic sort for n rows (the next power of two, at least 8), or 0 above
    ``_NETWORK_MAX_N`` (each coordinate is then sorted on its own)."""
    if n > _NETWORK_MAX_N:
        return 0
    return max(8, 1 << (n - 1).bit_length())


def _run_kernel(
    X: np.ndarray, rule: int, f: int, k: int, kind: str, rows: np.ndarray = _ALL_ROWS
) -> np.ndarray:
    d = X.shape[1]
    n = rows.shape[0] if rows.shape[0] > 0 else X.shape[0]
    out = np.empty(d, dtype=X.dtype)
    if d == 0:
        return out
    bounds = chunk_bounds(d, _LANES * _MIN_CHUNK_BLOCKS, _MAX_CHUNKS)
    if _coordinatewise_cpu(X, rows, rule, f, k, _KIND_CODE[kind], _sort_rows(n), bounds, out):
        raise NonFiniteInput
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
        Finite float32 or float64 values (checked while they are read).
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
    try:
        return _run_kernel(np.ascontiguousarray(S), _CLOSEST, 0, int(beta), kind, idx)
    except NonFiniteInput:
        raise InvalidArgument(
            "closest_mean_to_median: S holds NaN or infinity (in the rows used); drop those rows "
            "first (the rules' wrappers do: nonfinite='drop')"
        ) from None


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
        The trimmed mean, in the dtype of ``X`` (accumulated in float64).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(d n log^2 n) (sorting network; O(d n log n) for n > 4096).
    With f <= 4 from n = 16 on, f <= 8 from n = 64 on and f <= 16 from n = 96 on, only runs of
    8, 16 or 32 rows are sorted and their 4, 8 or 16 smallest and largest values merged pairwise;
    every value is added as soon as it is known to be kept. Otherwise, up to n = 32 the kept
    values are summed in sorted order, and from n = 33 on the sort stops at two sorted halves and
    every value is summed clipped to the kept range, minus f times its two ends (float64 input
    relative to the lower end). float32 results are those of the sorted sum unless the values'
    exponents span a huge range; float64 ones agree with it to a few roundings of the kept
    values' spread (of their size on the first path).

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
        detects_nonfinite=True,
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
        detects_nonfinite=True,
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
        detects_nonfinite=True,
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
        detects_nonfinite=True,
    )
)
