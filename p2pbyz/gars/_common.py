"""Numba kernels shared by several rules: the non-finite row scan and the pairwise distance matrix.

Both are deterministic whatever the number of threads: work is split into a fixed number of chunks
of coordinates (``config.CPU_BLOCK``-aligned), each chunk is reduced in a fixed order, and the chunk
results are combined in chunk order after the parallel loop.
"""

from __future__ import annotations

import functools
from typing import Any

import llvmlite.ir as llvmir
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import config

__all__ = ["nonfinite_rows", "sq_distances", "chunk_bounds", "NonFiniteInput"]


class NonFiniteInput(Exception):
    """Raised by a rule's CPU implementation that checks its own input (``GarSpec.detects_nonfinite``)
    when it met a NaN or an infinity: the wrapper then applies the non-finite policy and runs the
    rule again on the rows kept. Internal; never reaches users."""

# Exponent masks: a float is non-finite (inf or NaN) iff all its exponent bits are set.
_EXP32 = np.uint32(0x7F800000)
_EXP64 = np.uint64(0x7FF0000000000000)


@njit(parallel=True, cache=True)
def _nonfinite_rows_u32(bits, block):  # pragma: no cover - compiled
    n, d = bits.shape
    nb = (d + block - 1) // block
    flags = np.zeros((n, nb), dtype=np.uint8)
    for t in prange(n * nb):
        i = t // nb
        b = t % nb
        lo = b * block
        hi = min(d, lo + block)
        acc = np.uint32(0)
        row = bits[i, lo:hi]  # a 1-d view: ``bits[i, k]`` in the loop compiles to scalar code
        for k in range(hi - lo):
            # integer OR-reduction of "exponent all ones": vectorises without fastmath
            acc |= np.uint32((row[k] & _EXP32) == _EXP32)
        flags[i, b] = acc != 0
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        for b in range(nb):
            if flags[i, b]:
                out[i] = True
                break
    return out


@njit(parallel=True, cache=True)
def _nonfinite_rows_u64(bits, block):  # pragma: no cover - compiled
    n, d = bits.shape
    nb = (d + block - 1) // block
    flags = np.zeros((n, nb), dtype=np.uint8)
    for t in prange(n * nb):
        i = t // nb
        b = t % nb
        lo = b * block
        hi = min(d, lo + block)
        acc = np.uint64(0)
        row = bits[i, lo:hi]  # a 1-d view: ``bits[i, k]`` in the loop compiles to scalar code
        for k in range(hi - lo):
            acc |= np.uint64((row[k] & _EXP64) == _EXP64)
        flags[i, b] = acc != 0
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        for b in range(nb):
            if flags[i, b]:
                out[i] = True
                break
    return out


def nonfinite_rows(X: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``X`` that hold at least one NaN or infinity (one read of X)."""
    block = max(4096, config.CPU_BLOCK * 8)
    if X.dtype == np.float32:
        return _nonfinite_rows_u32(X.view(np.uint32), block)
    return _nonfinite_rows_u64(X.view(np.uint64), block)


def raise_if_nonfinite(X: np.ndarray, *derived: np.ndarray) -> None:
    """For rules that check their own input (``GarSpec.detects_nonfinite``) through values derived
    from every row (distances, sums): if one of ``derived`` is not finite, or X has a single row
    (no distance between two rows to reveal it), scan X (one read) and raise
    :class:`NonFiniteInput` if a row holds NaN or inf. A finite result proves finite rows, so
    finite input is never scanned; non-finite results from finite rows (overflow) pass."""
    if X.shape[0] == 1 or not all(np.isfinite(a).all() for a in derived):
        if nonfinite_rows(X).any():
            raise NonFiniteInput


def chunk_bounds(d: int, block: int, max_chunks: int = 64) -> np.ndarray:
    """Split ``range(d)`` into at most ``max_chunks`` chunks aligned on ``block`` (fixed per d).

    Called on every aggregation, so the bounds are computed once per (d, block, max_chunks) and
    a copy handed out: 1.5 us instead of 8 us (numpy's ``append`` of an ``arange``), which was
    a tenth of a small average's time."""
    return _chunk_bounds(int(d), int(block), int(max_chunks)).copy()


@functools.lru_cache(maxsize=256)
def _chunk_bounds(d: int, block: int, max_chunks: int) -> np.ndarray:
    nblocks = (d + block - 1) // block
    nchunks = max(1, min(max_chunks, nblocks))
    per = (nblocks + nchunks - 1) // nchunks
    # starts every per*block coordinates, then d: the same bounds as the clipped list of nchunks
    # + 1 values made unique
    if d == 0:
        return np.zeros(1, dtype=np.int64)
    return np.append(np.arange(0, d, per * block, dtype=np.int64), np.int64(d))


# The distance kernel's register tile is 4 rows x 2 rows: its 8 float64 accumulators and 6 row
# values fit the 16 vector registers of AVX2 (3 x 3, which also fits, measured within 10%).
# Bytes of the float64 copy of one coordinate block (n rows x block coordinates) that a parallel
# iteration keeps in cache (L2, else the nearby L3) while every pair of rows sweeps it. Measured on
# 2 cores (n=128, d=1e5 and n=32, d=1e7): 1 MiB beat 256 KiB by 1.3x-1.5x and 2 MiB.
_BUFFER_BYTES = 1024 * 1024


# Bytes of the per-chunk partial distance matrices (nchunks x n x n float64) at most.
_PARTIAL_BYTES = 64 * 1024 * 1024


def _block_length(n: int) -> int:
    """Coordinates per block: the largest power of two <= config.CPU_BLOCK * 8 whose float64 copy
    of the n rows fits in _BUFFER_BYTES, at least 64. Depends on n only (never on the threads)."""
    cap = max(64, int(config.CPU_BLOCK) * 8)
    block = 64
    while block * 2 <= cap and n * block * 2 * 8 <= _BUFFER_BYTES:
        block *= 2
    return block


@njit(parallel=True, cache=True)
def _sum_partials(partial):  # pragma: no cover - compiled
    """The symmetric matrix whose upper triangle is the sum of the chunks' upper triangles
    ``partial[c]``: each entry adds its chunks in chunk order, whichever thread owns its row, so
    the bits do not depend on the threads."""
    nchunks, n, _ = partial.shape
    D = np.zeros((n, n), dtype=np.float64)
    for i in prange(n):
        for c in range(nchunks):
            P = partial[c]
            for j in range(i + 1, n):
                D[i, j] += P[i, j]
    for i in range(n):
        for j in range(i + 1, n):
            D[j, i] = D[i, j]
    return D


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _sq_distances_kernel(X, bounds, block):  # pragma: no cover - compiled
    """Upper triangle of the squared distances, one float64 partial matrix per coordinate chunk.

    Each parallel iteration owns chunk ``c`` of the coordinates. It copies each block of the chunk
    (all n rows) into a float64 buffer, then sweeps the pairs i < j in register tiles of
    4 x 2 rows: every pair accumulates sum_k (x_ik - x_jk)^2 from the *differences*, in float64,
    with the same instruction sequence whatever its place in the tile (rows past n are clamped and
    their results dropped), so identical rows get bit-identical distances. ``reassoc`` lets the
    compiler vectorise the sums (a fixed lane order, independent of the threads); ``contract``
    allows the fused multiply-add; no other fastmath flag is set (huge finite values stay exact).
    """
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    partial = np.empty((nchunks, n, n), dtype=np.float64)
    for c in prange(nchunks):
        P = partial[c]
        P[:, :] = 0.0  # zeroed by its own iteration, in parallel
        buf = np.empty((n, block), dtype=np.float64)
        for lo in range(bounds[c], bounds[c + 1], block):
            m = min(bounds[c + 1], lo + block) - lo
            for r in range(n):
                src = X[r, lo : lo + m]
                dst = buf[r]
                for k in range(m):
                    dst[k] = src[k]
            for ib in range(0, n, 4):
                i0 = ib
                i1 = min(ib + 1, n - 1)
                i2 = min(ib + 2, n - 1)
                i3 = min(ib + 3, n - 1)
                a0 = buf[i0, :m]
                a1 = buf[i1, :m]
                a2 = buf[i2, :m]
                a3 = buf[i3, :m]
                for jb in range(ib, n, 2):
                    j0 = jb
                    j1 = min(jb + 1, n - 1)
                    b0 = buf[j0, :m]
                    b1 = buf[j1, :m]
                    s00 = 0.0
                    s01 = 0.0
                    s10 = 0.0
                    s11 = 0.0
                    s20 = 0.0
                    s21 = 0.0
                    s30 = 0.0
                    s31 = 0.0
                    for k in range(m):
                        x0 = a0[k]
                        x1 = a1[k]
                        x2 = a2[k]
                        x3 = a3[k]
                        y0 = b0[k]
                        y1 = b1[k]
                        t = x0 - y0
                        s00 += t * t
                        t = x0 - y1
                        s01 += t * t
                        t = x1 - y0
                        s10 += t * t
                        t = x1 - y1
                        s11 += t * t
                        t = x2 - y0
                        s20 += t * t
                        t = x2 - y1
                        s21 += t * t
                        t = x3 - y0
                        s30 += t * t
                        t = x3 - y1
                        s31 += t * t
                    # keep pair (i, j) only if both are real rows (not clamped copies) and i < j
                    jv1 = jb + 1 < n
                    if i0 < j0:
                        P[i0, j0] += s00
                    if jv1 and i0 < j1:
                        P[i0, j1] += s01
                    if ib + 1 < n:
                        if i1 < j0:
                            P[i1, j0] += s10
                        if jv1 and i1 < j1:
                            P[i1, j1] += s11
                    if ib + 2 < n:
                        if i2 < j0:
                            P[i2, j0] += s20
                        if jv1 and i2 < j1:
                            P[i2, j1] += s21
                    if ib + 3 < n:
                        if i3 < j0:
                            P[i3, j0] += s30
                        if jv1 and i3 < j1:
                            P[i3, j1] += s31
    return _sum_partials(partial)


def sq_distances(X: np.ndarray) -> np.ndarray:
    """The (n, n) matrix of squared Euclidean distances between rows, accumulated in float64.

    Computed from differences (never from the Gram form ``|x|^2 + |y|^2 - 2<x, y>``, which cancels
    catastrophically for near-duplicate rows in float32): float32 input is widened to float64
    block by block, so every term ``(x_ik - x_jk)^2`` is exact up to one rounding. The pairs are
    swept in register tiles over coordinate blocks held in cache, which brings the cost near a
    BLAS ``X @ X.T``. Bit-identical whatever the number of numba threads (fixed chunks reduced in
    chunk order), and identical rows get identical distance rows, so exact ties stay exact.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Finite, C-contiguous float32 or float64 rows.

    Returns
    -------
    ndarray, shape (n, n)
        float64, symmetric, zero diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[ 0., 25.],
           [25.,  0.]])
    """
    n, d = X.shape
    block = _block_length(n)
    max_chunks = max(1, min(64, _PARTIAL_BYTES // (8 * n * n)))
    bounds = chunk_bounds(d, block, max_chunks)
    return _sq_distances_kernel(X, bounds, block)


# ----------------------------------------------------------------------------------------------
# Float32 distances with a certified error bound (the Krum family's fast path)

#: The float32 kernel's explicit summation order: every one of the ``_W`` SIMD lanes of a pair sums
#: its squared differences in float32 over runs of ``_L`` coordinates (fused multiply-adds, one
#: rounding each), and each run joins that lane's float64 total. Because the order is written out
#: (:func:`_f32_tile`), not left to the compiler, the error bound is ``gamma_L`` and not that of an
#: arbitrary order of a longer run: relative 2e-6 instead of 1.5e-5, which is what lets Bulyan's
#: theta successive minima be certified from the float32 matrix (measured at (128, 1e5): 2-8 rows
#: made exact instead of the whole matrix). ``_L = 32`` measured 1.4x faster than 16 per tile.
_W = 8
_L = 32
_RUN = _W * _L
_U32 = 2.0**-24
_U64 = 2.0**-53


def _gamma(k: int, u: float) -> float:
    return k * u / (1.0 - k * u)


def _zero_phis(builder: Any, ty: Any, count: int, pred: Any) -> list[Any]:
    """``count`` phi nodes of vector type ``ty`` at the builder's position (a loop header), each
    entering the loop from block ``pred`` with all lanes 0 (the loop adds their other incoming)."""
    phis = []
    for _ in range(count):
        p = builder.phi(ty)
        p.add_incoming(llvmir.Constant(ty, [0.0] * ty.count), pred)
        phis.append(p)
    return phis


@intrinsic
def _f32_tile(typingctx, buf, i0, i1, i2, i3, j0, j1, nruns, acc):
    """Squared distances of rows (i0..i3) x (j0, j1) of the float32 matrix ``buf`` (rows of unit
    column stride: a C-contiguous array or a column slice of one) over its first
    ``nruns * _RUN`` columns, per SIMD lane: ``acc[8 q + l]`` (float64) receives the sum over the
    columns ``c = l (mod _W)`` for tile entry ``q = 2 a + b`` (row ``i_a``, row ``j_b``).

    Written in LLVM IR with explicit ``<8 x float>`` vectors so the summation order is fixed: per
    lane, ``_L`` fused multiply-adds in float32 from 0, then one float64 addition per run. The 8
    float32 accumulators and 6 row vectors fit AVX2's 16 registers.
    """
    if not isinstance(buf, types.Array) or buf.ndim != 2 or buf.dtype != types.float32:
        return None
    sig = types.void(buf, i0, i1, i2, i3, j0, j1, nruns, acc)

    def codegen(context, builder, signature, args):
        bty, aty = signature.args[0], signature.args[-1]
        ary = context.make_array(bty)(context, builder, args[0])
        out = context.make_array(aty)(context, builder, args[-1])
        i64 = llvmir.IntType(64)
        vf = llvmir.VectorType(llvmir.FloatType(), _W)
        vd = llvmir.VectorType(llvmir.DoubleType(), _W)
        zero = context.get_constant(types.intp, 0)
        rows = []
        for v, t in zip(args[1:7], signature.args[1:7], strict=True):
            r = context.cast(builder, v, t, types.intp)
            ptr = cgutils.get_item_pointer(context, builder, bty, ary, [r, zero], wraparound=False)
            rows.append(ptr)
        nr = context.cast(builder, args[7], signature.args[7], types.int64)
        fma = cgutils.get_or_insert_function(
            builder.module, llvmir.FunctionType(vf, [vf, vf, vf]), "llvm.fma.v8f32"
        )
        fn = builder.function
        pre = builder.block
        run_hdr = fn.append_basic_block("f32t.run")
        lane_hdr = fn.append_basic_block("f32t.k")
        lane_body = fn.append_basic_block("f32t.kbody")
        run_end = fn.append_basic_block("f32t.runend")
        done = fn.append_basic_block("f32t.done")
        builder.branch(run_hdr)

        builder.position_at_end(run_hdr)
        run = builder.phi(i64)
        run.add_incoming(llvmir.Constant(i64, 0), pre)
        tot = _zero_phis(builder, vd, 8, pre)
        builder.cbranch(builder.icmp_signed("<", run, nr), lane_hdr, done)

        builder.position_at_end(lane_hdr)
        k = builder.phi(i64)
        k.add_incoming(llvmir.Constant(i64, 0), run_hdr)
        part = _zero_phis(builder, vf, 8, run_hdr)
        builder.cbranch(builder.icmp_signed("<", k, llvmir.Constant(i64, _L)), lane_body, run_end)

        builder.position_at_end(lane_body)
        col = builder.add(builder.mul(run, llvmir.Constant(i64, _RUN)), builder.mul(k, llvmir.Constant(i64, _W)))
        vals = [builder.load(builder.bitcast(builder.gep(p, [col]), vf.as_pointer()), align=4) for p in rows]
        nxt = []
        for a in range(4):
            for b in range(2):
                t = builder.fsub(vals[a], vals[4 + b])
                nxt.append(builder.call(fma, [t, t, part[2 * a + b]]))
        k.add_incoming(builder.add(k, llvmir.Constant(i64, 1)), lane_body)
        for p, v in zip(part, nxt, strict=True):
            p.add_incoming(v, lane_body)
        builder.branch(lane_hdr)

        builder.position_at_end(run_end)
        run.add_incoming(builder.add(run, llvmir.Constant(i64, 1)), run_end)
        for p, v in zip(tot, part, strict=True):
            p.add_incoming(builder.fadd(p, builder.fpext(v, vd)), run_end)
        builder.branch(run_hdr)

        builder.position_at_end(done)
        for q in range(8):
            ptr = builder.gep(out.data, [llvmir.Constant(i64, q * _W)])
            builder.store(tot[q], builder.bitcast(ptr, vd.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def _lane_sum(acc, q):  # pragma: no cover - compiled
    """The float64 sum of the _W lanes of tile entry q, in lane order."""
    s = 0.0
    for lane in range(_W):
        s += acc[q * _W + lane]
    return s


@njit(parallel=True, cache=True)
def _sq_distances_f32_kernel(X, bounds, block):  # pragma: no cover - compiled
    """:func:`_sq_distances_kernel` for float32 rows in float32 arithmetic: differences and squares
    in float32, summed in float32 per SIMD lane over runs of ``_L`` coordinates
    (:func:`_f32_tile`), the runs, lanes, blocks and chunks added in float64.

    Twice the SIMD width of the float64 kernel and no widening copy. Each entry is within a
    relative ``(1 + u32)^2 (1 + gamma_L) (1 + gamma64_adds) - 1`` of the exact value (every term
    is non-negative, so no cancellation), plus an absolute ``d 2^-149`` for float32 underflow.
    Blocks of whole runs are read from X in place (a copy measured 10-20% slower at n = 10 and
    32, 2 threads); a partial last block is copied into a buffer whose columns past its end are
    zero, so they add exact zeros. X must be C-contiguous.
    """
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    partial = np.empty((nchunks, n, n), dtype=np.float64)
    for c in prange(nchunks):
        P = partial[c]
        P[:, :] = 0.0  # zeroed by its own iteration, in parallel
        # only a chunk that ends in a partial run needs the buffer (the copy below fills every
        # column it reads): zeroing an (n, block) buffer per chunk cost 46 us at n = 128
        partial_end = (bounds[c + 1] - bounds[c]) % _RUN != 0
        buf = np.empty((n, block) if partial_end else (1, 1), dtype=np.float32)
        acc = np.empty(8 * _W, dtype=np.float64)
        for lo in range(bounds[c], bounds[c + 1], block):
            m = min(bounds[c + 1], lo + block) - lo
            nruns = (m + _RUN - 1) // _RUN
            # whole runs are read from X itself; a partial last block goes through the buffer
            direct = m == nruns * _RUN
            if not direct:
                for r in range(n):
                    src = X[r, lo : lo + m]
                    dst = buf[r]
                    for k in range(m):
                        dst[k] = src[k]
                    for k in range(m, nruns * _RUN):
                        dst[k] = 0.0
            V = X[:, lo : lo + m]
            for ib in range(0, n, 4):
                i0 = ib
                i1 = min(ib + 1, n - 1)
                i2 = min(ib + 2, n - 1)
                i3 = min(ib + 3, n - 1)
                for jb in range(ib, n, 2):
                    j0 = jb
                    j1 = min(jb + 1, n - 1)
                    if direct:
                        _f32_tile(V, i0, i1, i2, i3, j0, j1, nruns, acc)
                    else:
                        _f32_tile(buf, i0, i1, i2, i3, j0, j1, nruns, acc)
                    # keep pair (i, j) only if both are real rows (not clamped copies) and i < j
                    jv1 = jb + 1 < n
                    if i0 < j0:
                        P[i0, j0] += _lane_sum(acc, 0)
                    if jv1 and i0 < j1:
                        P[i0, j1] += _lane_sum(acc, 1)
                    if ib + 1 < n:
                        if i1 < j0:
                            P[i1, j0] += _lane_sum(acc, 2)
                        if jv1 and i1 < j1:
                            P[i1, j1] += _lane_sum(acc, 3)
                    if ib + 2 < n:
                        if i2 < j0:
                            P[i2, j0] += _lane_sum(acc, 4)
                        if jv1 and i2 < j1:
                            P[i2, j1] += _lane_sum(acc, 5)
                    if ib + 3 < n:
                        if i3 < j0:
                            P[i3, j0] += _lane_sum(acc, 6)
                        if jv1 and i3 < j1:
                            P[i3, j1] += _lane_sum(acc, 7)
    return _sum_partials(partial)


def sq_distances_bounded(X: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """Fast squared distances of float32 rows with a certified error bound, or None.

    Returns ``(D, rho, alpha)``: every exact squared distance (as float64 computes it from the
    differences, :func:`sq_distances`) lies within ``[D (1 - rho) - alpha, D (1 + rho) + alpha]``;
    ``rho`` is about 2e-6. Identical rows get exactly 0. None for float64 input (its float32
    copy would lose the differences) and when a float32 sum overflowed; callers then use
    :func:`sq_distances`. Deterministic whatever the number of threads.
    """
    if X.dtype != np.float32:
        return None
    n, d = X.shape
    # float32 rows in whole runs of the tile: 4096 coordinates while the buffer stays <= 4 MiB
    # (measured at (128, 1e5) and (32, 1e6), 2 threads: 4096 beat 1024-2048 by 5-10%, and
    # 8192-16384; the per-tile lane sums weigh more than the L2 traffic of longer rows)
    block = 4096
    while block > _RUN and n * block * 4 > 4 * 1024 * 1024:
        block //= 2
    max_chunks = max(1, min(64, _PARTIAL_BYTES // (8 * n * n)))
    bounds = chunk_bounds(d, block, max_chunks)
    D = _sq_distances_f32_kernel(np.ascontiguousarray(X), bounds, block)
    if not np.isfinite(D).all():
        return None
    # float64 additions on any path through the sums: one per run of a lane, the lanes, one per
    # block into the chunk's partial matrix, one per chunk into D
    adds = d // _RUN + 1 + _W + d // block + 1 + len(bounds)
    rho = (1.0 + _U32) ** 2 * (1.0 + _gamma(_L, _U32)) * (1.0 + _gamma(adds, _U64)) - 1.0
    # margins: the float64 products D (1 +- rho) and the callers' float64 sums of up to n terms,
    # and the float64 computation of the exact value itself (gamma64 over d terms)
    rho = 1.01 * (rho + _gamma(d + 4 * n, _U64)) + 1e-12
    alpha = d * 2.0**-149 * 4.0
    return D, rho, alpha


# ----------------------------------------------------------------------------------------------
# Means of groups of rows (NNM, bucketing, Multi-Bulyan)

#: Coordinates averaged by one call of :func:`_rows_mean16`: four ``<4 x double>`` accumulators.
_SUM_WIDTH = 16
#: Coordinates per chunk of :func:`group_means`: each chunk's rows are widened into a float64
#: buffer that every group then reads. Measured for NNM at (128, 1e5), one thread: 64 beat 32,
#: 128 and 256 (1.1x, 1.6x, 2.5x), and a width of 16 beat 8 and 32.
_GROUP_BLOCK = 64


def _rows_mean_intrinsic(centered: bool):
    """The intrinsic ``f(X, rows, a, b, col, out, ocol)``: ``out[ocol:ocol+W]`` = the mean of
    ``X[rows[q], col:col+W]`` over q = a .. b-1, with W = ``_SUM_WIDTH``, summed in float64
    ``<4 x double>`` registers in that row order and rounded once to out's dtype. Plain:
    ``sum / m`` from 0.0. ``centered``: ``x0 + (sum over the other rows of (x - x0)) / m`` with
    x0 the first row (:func:`._krum.mean_rows`' arithmetic: equal rows give their value exactly).

    Written in LLVM IR because numba keeps a vectorised accumulator in registers only for a
    reduction over its innermost loop; a sum over rows, vectorised over columns, otherwise loads
    and stores its accumulators at every row.
    """

    def impl(typingctx, X, rows, a, b, col, out, ocol):
        if not (isinstance(X, types.Array) and X.ndim == 2
                and X.dtype in (types.float32, types.float64)):
            return None
        sig = types.void(X, rows, a, b, col, out, ocol)

        def codegen(context, builder, signature, args):
            xty, rty, oty = signature.args[0], signature.args[1], signature.args[5]
            ary = context.make_array(xty)(context, builder, args[0])
            rws = context.make_array(rty)(context, builder, args[1])
            oar = context.make_array(oty)(context, builder, args[5])
            oc = context.cast(builder, args[6], signature.args[6], types.intp)
            dst = context.get_value_type(oty.dtype)
            i64 = llvmir.IntType(64)
            src = context.get_value_type(xty.dtype)
            vs = llvmir.VectorType(src, 4)
            vd = llvmir.VectorType(llvmir.DoubleType(), 4)
            lo = context.cast(builder, args[2], signature.args[2], types.intp)
            hi = context.cast(builder, args[3], signature.args[3], types.intp)
            c = context.cast(builder, args[4], signature.args[4], types.intp)
            nvec = _SUM_WIDTH // 4

            def load_row(q):
                r = builder.load(builder.gep(rws.data, [q]))
                ptr = cgutils.get_item_pointer(context, builder, xty, ary, [r, c], wraparound=False)
                vals = []
                for v in range(nvec):
                    vp = builder.bitcast(builder.gep(ptr, [llvmir.Constant(i64, 4 * v)]),
                                         vs.as_pointer())
                    val = builder.load(vp, align=xty.dtype.bitwidth // 8)
                    vals.append(builder.fpext(val, vd) if src != llvmir.DoubleType() else val)
                return vals

            base = load_row(lo) if centered else None
            first = builder.add(lo, llvmir.Constant(i64, 1)) if centered else lo
            fn = builder.function
            pre = builder.block
            hdr = fn.append_basic_block("rm.hdr")
            body = fn.append_basic_block("rm.body")
            done = fn.append_basic_block("rm.done")
            builder.branch(hdr)
            builder.position_at_end(hdr)
            q = builder.phi(i64)
            q.add_incoming(first, pre)
            acc = _zero_phis(builder, vd, nvec, pre)
            builder.cbranch(builder.icmp_signed("<", q, hi), body, done)
            builder.position_at_end(body)
            vals = load_row(q)
            nxt = []
            for v in range(nvec):
                term = builder.fsub(vals[v], base[v]) if centered else vals[v]
                nxt.append(builder.fadd(acc[v], term))
            q.add_incoming(builder.add(q, llvmir.Constant(i64, 1)), body)
            for p, v in zip(acc, nxt, strict=True):
                p.add_incoming(v, body)
            builder.branch(hdr)
            builder.position_at_end(done)
            m = builder.sitofp(builder.sub(hi, lo), llvmir.DoubleType())
            zero = llvmir.Constant(vd, [0.0] * 4)
            mv = builder.insert_element(zero, m, llvmir.Constant(llvmir.IntType(32), 0))
            mask = llvmir.Constant(llvmir.VectorType(llvmir.IntType(32), 4), [0] * 4)
            mv = builder.shuffle_vector(mv, mv, mask)
            vo = llvmir.VectorType(dst, 4)
            optr = cgutils.get_item_pointer(context, builder, oty, oar, [oc], wraparound=False)
            for v in range(nvec):
                mean = builder.fdiv(acc[v], mv)
                if centered:
                    mean = builder.fadd(base[v], mean)
                if dst != llvmir.DoubleType():
                    mean = builder.fptrunc(mean, vo)
                vp = builder.bitcast(builder.gep(optr, [llvmir.Constant(i64, 4 * v)]),
                                     vo.as_pointer())
                builder.store(mean, vp, align=oty.dtype.bitwidth // 8)
            return context.get_dummy_value()

        return sig, codegen

    impl.__name__ = "_rows_mean16_centered" if centered else "_rows_mean16"
    return intrinsic(impl)


_rows_mean16 = _rows_mean_intrinsic(False)
_rows_mean16_centered = _rows_mean_intrinsic(True)


@njit(cache=True)
def _group_means_block(X, rows, starts, lo, hi, buf, out, col0, centered):  # pragma: no cover
    """``out[g, col0 + k]`` = the mean of ``X[rows[starts[g]:starts[g+1]], lo + k]`` for k in
    ``0 .. hi-lo-1`` (:func:`_group_means_kernel`'s arithmetic), through ``buf`` (n rows of at
    least ``hi - lo`` float64): the columns of every row are widened into it once, not at every
    group's read. A value's bits do not depend on ``lo``, ``hi`` or ``col0``."""
    n = X.shape[0]
    ngroups = starts.shape[0] - 1
    w = hi - lo
    for r in range(n):
        src = X[r, lo:hi]
        dst = buf[r]
        for k in range(w):
            dst[k] = src[k]
    for g in range(ngroups):
        a = starts[g]
        b = starts[g + 1]
        o = out[g]
        k = 0
        while k + _SUM_WIDTH <= w:
            if centered:
                _rows_mean16_centered(buf, rows, a, b, k, o, col0 + k)
            else:
                _rows_mean16(buf, rows, a, b, k, o, col0 + k)
            k += _SUM_WIDTH
        for kk in range(k, w):
            acc = 0.0
            if centered:
                x0 = buf[rows[a], kk]
                for q in range(a + 1, b):
                    acc += buf[rows[q], kk] - x0
                o[col0 + kk] = x0 + acc / (b - a)
            else:
                for q in range(a, b):
                    acc += buf[rows[q], kk]
                o[col0 + kk] = acc / (b - a)


@njit(parallel=True, cache=True)
def _group_means_kernel(X, rows, starts, bounds, centered, out):  # pragma: no cover - compiled
    """out[g] = mean of X[rows[starts[g]:starts[g+1]]] in X's dtype: the rows added in the order
    given in float64, the mean rounded once (``centered``: see :func:`_rows_mean_intrinsic`).

    Each parallel iteration widens its chunk of every row into a contiguous float64 buffer (the
    rows of X lie far apart, and each group would widen its values again) and computes every
    group's mean of that chunk from it (:func:`_group_means_block`): 3x faster than summing
    from X for NNM at (128, 1e5)."""
    n = X.shape[0]
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        lo = bounds[c]
        hi = bounds[c + 1]
        buf = np.empty((n, hi - lo), dtype=np.float64)
        _group_means_block(X, rows, starts, lo, hi, buf, out, lo, centered)


def group_means(
    X: np.ndarray, rows: np.ndarray, starts: np.ndarray, centered: bool = False
) -> np.ndarray:
    """The means of groups of rows of X, in X's dtype: group g is ``rows[starts[g]:starts[g+1]]``
    (non-empty), its rows added in the order given in float64 and the mean rounded once;
    ``centered`` computes ``x0 + sum(x - x0) / m`` from the group's first row x0 instead.
    Deterministic whatever the threads (every output value is one sequential sum)."""
    d = X.shape[1]
    # allocated by numpy, not in the kernel: numpy asks for huge pages on large arrays, and
    # filling a fresh (128, 1e5) float32 array allocated in numba measured 3x slower (page faults)
    out = np.empty((len(starts) - 1, d), dtype=X.dtype)
    _group_means_kernel(
        X, np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(starts, dtype=np.int64),
        chunk_bounds(d, _GROUP_BLOCK, max(1, d // _GROUP_BLOCK)), centered, out,
    )
    return out
