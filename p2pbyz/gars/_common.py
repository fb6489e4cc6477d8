"""Numba kernels shared by several rules: the non-finite row scan and the pairwise distance matrix.

Both are deterministic whatever the number of threads: work is split into a fixed number of chunks
of coordinates (``config.CPU_BLOCK``-aligned), each chunk is reduced in a fixed order, and the chunk
results are combined in chunk order after the parallel loop.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import config

__all__ = ["nonfinite_rows", "sq_distances", "chunk_bounds"]

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
        for k in range(lo, hi):
            # integer OR-reduction of "exponent all ones": vectorises without fastmath
            acc |= np.uint32((bits[i, k] & _EXP32) == _EXP32)
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
        for k in range(lo, hi):
            acc |= np.uint64((bits[i, k] & _EXP64) == _EXP64)
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


def chunk_bounds(d: int, block: int, max_chunks: int = 64) -> np.ndarray:
    """Split ``range(d)`` into at most ``max_chunks`` chunks aligned on ``block``; fixed for a given d."""
    nblocks = (d + block - 1) // block
    nchunks = max(1, min(max_chunks, nblocks))
    per = (nblocks + nchunks - 1) // nchunks
    bounds = [min(d, c * per * block) for c in range(nchunks + 1)]
    bounds[-1] = d
    out = np.array(sorted(set(bounds)), dtype=np.int64)
    return out


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _sq_distances_kernel(X, bounds, block):  # pragma: no cover - compiled
    n, d = X.shape
    nchunks = bounds.shape[0] - 1
    partial = np.zeros((nchunks, n, n), dtype=np.float64)
    for c in prange(nchunks):
        lo0 = bounds[c]
        hi0 = bounds[c + 1]
        for lo in range(lo0, hi0, block):
            hi = min(hi0, lo + block)
            for i in range(n):
                for j in range(i + 1, n):
                    s = 0.0
                    for k in range(lo, hi):
                        t = np.float64(X[i, k]) - np.float64(X[j, k])
                        s += t * t
                    partial[c, i, j] += s
    D = np.zeros((n, n), dtype=np.float64)
    for c in range(nchunks):
        for i in range(n):
            for j in range(i + 1, n):
                D[i, j] += partial[c, i, j]
    for i in range(n):
        for j in range(i + 1, n):
            D[j, i] = D[i, j]
    return D


def sq_distances(X: np.ndarray) -> np.ndarray:
    """The (n, n) matrix of squared Euclidean distances between rows, accumulated in float64.

    Computed from differences (never from the Gram form ``|x|^2 + |y|^2 - 2<x, y>``, which cancels
    catastrophically for near-duplicate rows in float32), blocked over coordinates for cache reuse.
    """
    block = config.CPU_BLOCK
    bounds = chunk_bounds(X.shape[1], block)
    return _sq_distances_kernel(X, bounds, block)
