"""CUDA kernels of the GPU target (numba-cuda), and the small host helpers that size their launches.

Imported only by :mod:`p2pbyz.gars.cuda._driver`, itself imported lazily: ``import p2pbyz.gars``
never needs numba-cuda.

Design (see ``p2pbyz/gars/cuda/__init__.py`` for the user-facing summary):

* **Coordinate-wise kernel** (:func:`coordinate_kernel`): one thread per coordinate (grid-stride
  loop), the n values of a coordinate loaded into *scalar registers* and sorted by a Batcher
  odd-even merge sorting network that is generated as straight-line code for the padded size
  ``NMAX`` (next power of two >= n, at most ``_NETWORK_MAX``; the pad is +inf). The sorted values
  then go to a small per-thread local array for the rule's few data-dependent reads: median (three
  kinds), trimmed mean, and "mean of the k values closest to a centre" (the k closest values form a
  contiguous window of the sorted values; the window slides right while the value entering is
  strictly closer than the one leaving, which is exactly the (|x - c|, x) order of ``_reference``).
  Larger n uses the same code with an insertion sort on the local array.
* **Distance matrix** (:func:`distance_kernel`): one tiled kernel. A block owns a pair of row tiles
  (only tiles ``bi <= bj``: the matrix is symmetric) and one contiguous slice of the coordinates;
  it stages ``T*R x T`` tiles of both row sets in shared memory and each thread accumulates an
  ``R x R`` register block of squared *differences* (never the Gram form). float32 input
  accumulates each tile of ``T`` coordinates in float32 and adds it to a float64 accumulator;
  float64 input is float64 throughout. A second, tiny kernel sums the slices in a fixed order,
  so the result is deterministic (no atomics).
* **Row reductions** (squared distances of every row to a centre, norms): a 2-D grid of
  (coordinate chunk, row) blocks, a fixed-order shared-memory tree per block, then a fixed-order
  sum of the chunk partials.
* **Selections** (Krum scores, Bulyan's theta steps, Multi-Krum / Aksel / MoNNA / NNM rankings,
  ARC's ranking): small kernels over the n x n matrix; Bulyan's whole loop runs in one block.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np
from numba import cuda

from ... import config

__all__ = [
    "grid_1d",
    "coordinate_kernel",
    "distance_kernel",
    "OP_MEDIAN",
    "OP_TRIMMED_MEAN",
    "OP_CLOSEST_TO_MEDIAN",
    "OP_CLOSEST_TO_TRIMMED_MEAN",
    "KIND_CODES",
]

#: At most this many blocks in a 1-D grid-stride launch (tests patch it small so the stride runs).
_GRID_CAP = 1 << 15
#: Largest padded n sorted by the register network; above it, an insertion sort on local memory.
_NETWORK_MAX = 128
#: Register block of the distance kernel: each thread accumulates R x R pairs.
_DIST_R = 4
#: The distance kernel aims at about this many blocks (tile pairs x coordinate slices).
_DIST_TARGET_BLOCKS = 1056
#: Row reductions aim at about this many blocks in all.
_ROW_TARGET_BLOCKS = 8192

OP_MEDIAN = 0
OP_TRIMMED_MEAN = 1
OP_CLOSEST_TO_MEDIAN = 2
OP_CLOSEST_TO_TRIMMED_MEAN = 3
KIND_CODES = {"midpoint": 0, "lower": 1, "upper": 2}


def tpb() -> int:
    """Threads per block for 1-D launches, read from :mod:`p2pbyz.config` at call time."""
    return max(1, min(1024, int(config.THREADS_PER_BLOCK)))


def grid_1d(d: int) -> tuple[int, int]:
    """(blocks, threads) of a grid-stride launch over ``d`` items."""
    t = tpb()
    return max(1, min(_GRID_CAP, -(-d // t))), t


def row_chunks(n: int, d: int) -> tuple[int, int]:
    """(number of chunks, chunk length) splitting ``d`` for a (chunk, row) reduction grid."""
    t = tpb()
    nb = max(1, min(_ROW_TARGET_BLOCKS // max(n, 1), -(-d // (4 * t)), 65535))
    chunk = -(-d // nb)
    return -(-d // chunk), chunk


def small_block(n: int) -> int:
    """Threads of a single-block kernel over n items (strided loops cover n > blockDim)."""
    return max(1, min(tpb(), n))


# ----------------------------------------------------------------------------------------------
# Coordinate-wise kernel: generated per padded size and dtype


def _batcher_pairs(nmax: int) -> list[tuple[int, int]]:
    """Compare-exchange pairs of Batcher's odd-even merge sort for a power of two ``nmax``."""
    pairs = []
    p = 1
    while p < nmax:
        k = p
        while k >= 1:
            for j in range(k % p, nmax - k, 2 * k):
                for i in range(min(k, nmax - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


_COORD_TAIL = """
        h = n // 2
        med = 0.0
        if op == 0 or op == 2:
            if n % 2 == 1:
                med = float(s[h])
            elif kind == 0:
                med = 0.5 * (float(s[h - 1]) + float(s[h]))
            elif kind == 1:
                med = float(s[h - 1])
            else:
                med = float(s[h])
        tm = 0.0
        if op == 1 or op == 3:
            acc = 0.0
            for i in range(f, n - f):
                acc += float(s[i])
            tm = acc / (n - 2 * f)
        if op == 0:
            res = med
        elif op == 1:
            res = tm
        else:
            c = med if op == 2 else tm
            a = 0
            while a + kk < n and abs(float(s[a + kk]) - c) < abs(float(s[a]) - c):
                a += 1
            acc = 0.0
            for i in range(a, a + kk):
                acc += float(s[i])
            res = acc / kk
        out[k] = res
"""


def _coordinate_source(nmax: int, network: bool) -> str:
    lines = [
        "def coord_kernel(X, rows, n, op, kind, f, kk, out, flags, check):",
        "    d = X.shape[1]",
        "    start = cuda.grid(1)",
        "    stride = cuda.gridsize(1)",
        "    s = cuda.local.array(NMAX, DT)",
        "    for k in range(start, d, stride):",
    ]
    if network:
        for i in range(nmax):
            lines.append(f"        v{i} = X[rows[{i}], k] if {i} < n else INF")
        lines.append("        if check != 0:")
        for i in range(nmax):
            lines.append(f"            if {i} < n and (math.isnan(v{i}) or math.isinf(v{i})):")
            lines.append(f"                flags[rows[{i}]] = 1")
        for a, b in _batcher_pairs(nmax):
            lines.append(f"        t = min(v{a}, v{b})")
            lines.append(f"        v{b} = max(v{a}, v{b})")
            lines.append(f"        v{a} = t")
        for i in range(nmax):
            lines.append(f"        s[{i}] = v{i}")
    else:
        lines += [
            "        for i in range(n):",
            "            x = X[rows[i], k]",
            "            if check != 0 and (math.isnan(x) or math.isinf(x)):",
            "                flags[rows[i]] = 1",
            "            j = i",
            "            while j > 0 and s[j - 1] > x:",
            "                s[j] = s[j - 1]",
            "                j -= 1",
            "            s[j] = x",
        ]
    return "\n".join(lines) + _COORD_TAIL


@lru_cache(maxsize=None)
def _coordinate_kernel(nmax: int, network: bool, dtype_name: str):
    dt = numba.float32 if dtype_name == "float32" else numba.float64
    inf = np.float32(np.inf) if dtype_name == "float32" else np.float64(np.inf)
    namespace = {"cuda": cuda, "math": math, "NMAX": nmax, "DT": dt, "INF": inf}
    exec(compile(_coordinate_source(nmax, network), f"<p2pbyz coord kernel {nmax}>", "exec"), namespace)
    return cuda.jit(namespace["coord_kernel"])


def coordinate_kernel(n: int, dtype: np.dtype):
    """The coordinate-wise kernel for n values per coordinate and input ``dtype``.

    Signature ``kernel(X, rows, n, op, kind, f, k, out, flags, check)``: for each coordinate, sort
    ``X[rows[:n], coord]`` and write to ``out[coord]`` the median (``op=OP_MEDIAN``, ``kind`` from
    :data:`KIND_CODES`), the f-trimmed mean (``OP_TRIMMED_MEAN``) or the mean of the ``k`` values
    closest to the median / trimmed mean (``OP_CLOSEST_TO_*``). With ``check != 0`` it also sets
    ``flags[row] = 1`` for every row holding a NaN or an infinity (the non-finite scan fused into
    the single read of X; the driver discards the result and takes the dropping path if any).
    """
    nmax = 1
    while nmax < n:
        nmax *= 2
    network = nmax <= _NETWORK_MAX
    return _coordinate_kernel(nmax, network, np.dtype(dtype).name)


# ----------------------------------------------------------------------------------------------
# Distance matrix: one tiled kernel (generated per tile size, register block and dtype)


def _distance_source(T: int, R: int) -> str:
    """Source of the distance kernel: T x T threads, each an R x R register block of pairs."""
    TR = T * R
    L = ["def dist_kernel(X, ti, tj, chunk, part):"]
    L.append("    n = X.shape[0]")
    L.append("    d = X.shape[1]")
    L.append("    p = cuda.blockIdx.x")
    L.append("    s = cuda.blockIdx.y")
    L.append("    tx = cuda.threadIdx.x")
    L.append("    ty = cuda.threadIdx.y")
    L.append(f"    ra = ti[p] * {TR}")
    L.append(f"    rb = tj[p] * {TR}")
    L.append(f"    sa = cuda.shared.array(({TR}, {T + 1}), DT)")
    L.append(f"    sb = cuda.shared.array(({TR}, {T + 1}), DT)")
    L.append("    k0 = s * chunk")
    L.append("    k1 = min(d, k0 + chunk)")
    for a in range(R):
        for b in range(R):
            L.append(f"    acc{a}_{b} = 0.0")
    L.append(f"    for kb in range(k0, k1, {T}):")
    L.append("        col = kb + tx")
    L.append("        inside = col < k1")
    for a in range(R):
        L.append(f"        r = ra + ty + {a * T}")
        L.append(f"        sa[ty + {a * T}, tx] = X[r, col] if (inside and r < n) else ZERO")
        L.append(f"        r = rb + ty + {a * T}")
        L.append(f"        sb[ty + {a * T}, tx] = X[r, col] if (inside and r < n) else ZERO")
    L.append("        cuda.syncthreads()")
    for a in range(R):
        for b in range(R):
            L.append(f"        q{a}_{b} = ZERO")
    L.append(f"        for c in range({T}):")
    for a in range(R):
        L.append(f"            xa{a} = sa[ty + {a * T}, c]")
    for b in range(R):
        L.append(f"            xb{b} = sb[tx + {b * T}, c]")
    for a in range(R):
        for b in range(R):
            L.append(f"            e = xa{a} - xb{b}")
            L.append(f"            q{a}_{b} += e * e")
    for a in range(R):
        for b in range(R):
            L.append(f"        acc{a}_{b} += float(q{a}_{b})")
    L.append("        cuda.syncthreads()")
    for a in range(R):
        for b in range(R):
            L.append(f"    i = ra + ty + {a * T}")
            L.append(f"    j = rb + tx + {b * T}")
            L.append("    if i < n and j < n:")
            L.append(f"        part[s, i, j] = acc{a}_{b}")
    return "\n".join(L) + "\n"


@lru_cache(maxsize=None)
def _distance_kernel(T: int, R: int, dtype_name: str):
    f32 = dtype_name == "float32"
    namespace = {
        "cuda": cuda,
        "DT": numba.float32 if f32 else numba.float64,
        "ZERO": np.float32(0.0) if f32 else np.float64(0.0),
    }
    exec(compile(_distance_source(T, R), f"<p2pbyz dist kernel {T}x{R}>", "exec"), namespace)
    return cuda.jit(namespace["dist_kernel"])


def distance_kernel(n: int, dtype: np.dtype):
    """(kernel, T, R): the tiled distance kernel sized for n rows.

    ``T`` (threads per tile side, also the number of coordinates staged per step) is
    ``config.CUDA_TILE`` or less when n is small, so few threads idle on padded rows.
    """
    R = _DIST_R
    T = max(1, int(config.CUDA_TILE))
    while T > 1 and (T // 2) * R >= n:
        T //= 2
    return _distance_kernel(T, R, np.dtype(dtype).name), T, R


@cuda.jit
def sum_distance_slices(part, ti_of_row, out):
    """out[i, j] = sum over slices of part[s, i, j] (fixed order), mirrored below the tile diagonal."""
    n = out.shape[0]
    i, j = cuda.grid(2)
    if i < n and j < n:
        if i == j:
            out[i, j] = 0.0
            return
        a = i
        b = j
        if ti_of_row[i] > ti_of_row[j]:
            a = j
            b = i
        acc = 0.0
        for s in range(part.shape[0]):
            acc += part[s, a, b]
        out[i, j] = acc


# ----------------------------------------------------------------------------------------------
# Non-finite rows, gathers, row reductions


@cuda.jit
def nonfinite_flags(X, flags):
    """flags[i] = 1 if row i holds a NaN or an infinity."""
    n, d = X.shape
    start = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    stride = cuda.gridDim.x * cuda.blockDim.x
    for i in range(cuda.blockIdx.y, n, cuda.gridDim.y):
        bad = False
        for k in range(start, d, stride):
            v = X[i, k]
            if math.isnan(v) or math.isinf(v):
                bad = True
        if bad:
            flags[i] = 1


@cuda.jit
def gather_rows(X, idx, out):
    """out[r, :] = X[idx[r], :]."""
    d = X.shape[1]
    start = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    stride = cuda.gridDim.x * cuda.blockDim.x
    for r in range(cuda.blockIdx.y, out.shape[0], cuda.gridDim.y):
        src = idx[r]
        for k in range(start, d, stride):
            out[r, k] = X[src, k]


@cuda.jit
def row_sqdist_partial(X, z, use_z, chunk, part):
    """part[i, b] = sum over chunk b of (X[i, k] - z[k])^2 (z = 0 when use_z == 0), in float64."""
    sh = cuda.shared.array(1024, numba.float64)
    d = X.shape[1]
    b = cuda.blockIdx.x
    i = cuda.blockIdx.y
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    k0 = b * chunk
    k1 = min(d, k0 + chunk)
    acc = 0.0
    for k in range(k0 + tid, k1, nt):
        x = float(X[i, k])
        if use_z != 0:
            x -= float(z[k])
        acc += x * x
    sh[tid] = acc
    cuda.syncthreads()
    m = nt
    while m > 1:
        h = (m + 1) // 2
        if tid + h < m:
            sh[tid] += sh[tid + h]
        cuda.syncthreads()
        m = h
    if tid == 0:
        part[i, b] = sh[0]


@cuda.jit
def sum_partials(part, out):
    """out[i] = sum_b part[i, b] in order of b."""
    i = cuda.grid(1)
    if i < part.shape[0]:
        acc = 0.0
        for b in range(part.shape[1]):
            acc += part[i, b]
        out[i] = acc


@cuda.jit
def weighted_rows(X, w, n, mode, out):
    """out[k] = sum_i w[i] X[i, k] / sum_i w[i] (mode 0) or sum_i w[i] X[i, k] (mode 1)."""
    d = X.shape[1]
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    wsum = 0.0
    for i in range(n):
        wsum += w[i]
    for k in range(start, d, stride):
        acc = 0.0
        for i in range(n):
            acc += w[i] * float(X[i, k])
        out[k] = acc / wsum if mode == 0 else acc


@cuda.jit
def mean_rows_flagged(X, out, flags, check):
    """out[k] = sum_i X[i, k] / n in float64, rows in order (``weighted_rows`` with unit weights,
    bit for bit, without the weight vector); with ``check``, ``flags[i] = 1`` for every row
    holding a NaN or an infinity: averaging then reads X once (no separate scan)."""
    n, d = X.shape
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(start, d, stride):
        acc = 0.0
        for i in range(n):
            v = X[i, k]
            if check != 0 and (math.isnan(v) or math.isinf(v)):
                flags[i] = 1
            acc += float(v)
        out[k] = acc / n


@cuda.jit
def set_means(X, sel, cnt, out):
    """out[p, k] = mean of X[sel[p, r], k] over r < cnt[p], summed in the order of sel."""
    d = X.shape[1]
    start = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    stride = cuda.gridDim.x * cuda.blockDim.x
    for p in range(cuda.blockIdx.y, out.shape[0], cuda.gridDim.y):
        m = cnt[p]
        for k in range(start, d, stride):
            acc = 0.0
            for r in range(m):
                acc += float(X[sel[p, r], k])
            out[p, k] = acc / m


@cuda.jit
def scale_rows(X, scale, out):
    """out[i, k] = X[i, k] * scale[i] (computed in float64)."""
    d = X.shape[1]
    start = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    stride = cuda.gridDim.x * cuda.blockDim.x
    for i in range(cuda.blockIdx.y, X.shape[0], cuda.gridDim.y):
        sc = scale[i]
        for k in range(start, d, stride):
            out[i, k] = float(X[i, k]) * sc


@cuda.jit
def cc_update(X, v, scale, out):
    """out[k] = v[k] + sum_i scale[i] (X[i, k] - v[k]) / n  (one centered-clipping step)."""
    n, d = X.shape
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(start, d, stride):
        vk = v[k]
        acc = 0.0
        for i in range(n):
            acc += (float(X[i, k]) - vk) * scale[i]
        out[k] = vk + acc / n


@cuda.jit
def cast_copy(src, out):
    """out[k] = src[k] (dtype conversion on the device)."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(start, out.shape[0], stride):
        out[k] = src[k]


# ----------------------------------------------------------------------------------------------
# Per-row scalars and selections (small kernels over n or n x n)


@cuda.jit
def weiszfeld_weights(sqdist, floor, numer, w):
    """w[i] = numer / max(floor, sqrt(sqdist[i]))."""
    i = cuda.grid(1)
    if i < w.shape[0]:
        w[i] = numer / max(floor, math.sqrt(sqdist[i]))


@cuda.jit
def clip_scales(sqnorm, tau, zero_scale, scale):
    """scale[i] = min(1, tau / |x_i|), or ``zero_scale`` when |x_i| = 0."""
    i = cuda.grid(1)
    if i < scale.shape[0]:
        nrm = math.sqrt(sqnorm[i])
        scale[i] = min(1.0, tau / nrm) if nrm > 0 else zero_scale


@cuda.jit
def arc_scales(sqnorm, k, rankpos, scale):
    """ARC: clip the k rows of largest norm (ties: smallest index first) to the (k+1)-th norm.

    One block: each thread ranks its rows by (-norm, index), then every row reads the threshold.
    """
    n = sqnorm.shape[0]
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    for i in range(tid, n, nt):
        ni = math.sqrt(sqnorm[i])
        r = 0
        for j in range(n):
            nj = math.sqrt(sqnorm[j])
            if nj > ni or (nj == ni and j < i):
                r += 1
        rankpos[r] = i
    cuda.syncthreads()
    c = math.sqrt(sqnorm[rankpos[k]])
    for i in range(tid, n, nt):
        ni = math.sqrt(sqnorm[i])
        r = 0
        for j in range(n):
            nj = math.sqrt(sqnorm[j])
            if nj > ni or (nj == ni and j < i):
                r += 1
        scale[i] = c / ni if (r < k and ni > c) else 1.0


@cuda.jit
def neighbour_order(D, include_self, order):
    """order[i, r] = the r-th nearest row of row i by (D[i, j], j); row i itself only if include_self."""
    n = D.shape[0]
    i, j = cuda.grid(2)
    if i < n and j < n:
        if include_self == 0 and i == j:
            return
        dij = D[i, j]
        r = 0
        for q in range(n):
            if include_self == 0 and q == i:
                continue
            dq = D[i, q]
            if dq < dij or (dq == dij and q < j):
                r += 1
        order[i, r] = j


@cuda.jit
def rank_keys(keys, order):
    """order[r] = the row of rank r by (keys[i], i)."""
    n = keys.shape[0]
    i = cuda.grid(1)
    if i < n:
        ki = keys[i]
        r = 0
        for j in range(n):
            kj = keys[j]
            if kj < ki or (kj == ki and j < i):
                r += 1
        order[r] = i


@cuda.jit
def medoid_totals(D, tot):
    """tot[i] = sum_j sqrt(D[i, j])."""
    n = D.shape[0]
    i = cuda.grid(1)
    if i < n:
        acc = 0.0
        for j in range(n):
            acc += math.sqrt(D[i, j])
        tot[i] = acc


@cuda.jit
def krum_steps(D, order, ks, use_sqrt, removed, scores, picks, ranks):
    """Krum selections on a shrinking set, all in one block (Krum: one step; Bulyan: theta steps).

    At step t the Krum score of every remaining row i is the sum of its ks[t] smallest distances
    to the other remaining rows, summed in increasing order (``order`` holds each row's neighbours
    sorted by (D, index)); ``ranks[t, :]`` receives the remaining rows sorted by (score, index),
    ``picks[t]`` the first of them, which then leaves the set.
    """
    n = D.shape[0]
    tid = cuda.threadIdx.x
    nt = cuda.blockDim.x
    for t in range(picks.shape[0]):
        k = ks[t]
        for i in range(tid, n, nt):
            if removed[i] == 0:
                acc = 0.0
                c = 0
                for q in range(n - 1):
                    if c >= k:
                        break
                    j = order[i, q]
                    if removed[j] == 0:
                        v = D[i, j]
                        if use_sqrt != 0:
                            v = math.sqrt(v)
                        acc += v
                        c += 1
                scores[i] = acc
        cuda.syncthreads()
        for i in range(tid, n, nt):
            if removed[i] == 0:
                si = scores[i]
                r = 0
                for j in range(n):
                    if removed[j] == 0:
                        sj = scores[j]
                        if sj < si or (sj == si and j < i):
                            r += 1
                ranks[t, r] = i
        cuda.syncthreads()
        if tid == 0:
            p = ranks[t, 0]
            picks[t] = p
            removed[p] = 1
        cuda.syncthreads()


# ----------------------------------------------------------------------------------------------
# Launch helpers


def launch_rows(kernel, n_rows: int, d: int, *args) -> None:
    """Launch a (coordinate grid-stride x row) kernel over n_rows rows and d coordinates."""
    blocks, threads = grid_1d(d)
    gy = max(1, min(n_rows, 65535))
    kernel[(blocks, gy), threads](*args)


def launch_1d(kernel, count: int, *args) -> None:
    """Launch a one-thread-per-item kernel over ``count`` items."""
    t = tpb()
    kernel[max(1, -(-count // t)), t](*args)


def launch_2d(kernel, rows: int, cols: int, *args) -> None:
    """Launch a one-thread-per-(row, col) kernel."""
    t = max(1, int(math.isqrt(tpb())))
    kernel[(max(1, -(-rows // t)), max(1, -(-cols // t))), (t, t)](*args)
