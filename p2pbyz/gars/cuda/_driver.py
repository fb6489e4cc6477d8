"""Host side of the CUDA target: input conversion, non-finite policy, pre-aggregators, rules.

Everything here keeps X on the device. What comes back to the host is small and named: the n
row flags of the non-finite scan, the n x n distance matrix for MDA / SMEA / CAF (their subset search
or n x n eigenproblems run on the host), one uniform draw's worth of nothing (1-p Krum draws on the
host), and two scalars per Weiszfeld iteration for the stopping test.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numba import cuda

from ... import config
from ..._random import as_generator
from ..._validation import as_gradients
from ...errors import ByzantineAssumptionError, InvalidArgument, TooExpensiveError
from .. import _api
from .. import _reference as ref
from . import _kernels as K

__all__ = ["run", "rule_names", "preaggregator_names", "sq_distances"]

# ----------------------------------------------------------------------------------------------
# Input


def _is_device_array(X: Any) -> bool:
    if hasattr(cuda, "is_cuda_array"):
        return bool(cuda.is_cuda_array(X))
    return bool(cuda.devicearray.is_cuda_ndarray(X))  # the simulator's arrays


def to_device(X: Any, owner: str) -> tuple[Any, bool]:
    """(device array, came_from_host). Device input is used in place; host input is validated
    exactly like the CPU path (:func:`p2pbyz._validation.as_gradients`) and copied once."""
    if _is_device_array(X):
        arr = cuda.as_cuda_array(X) if hasattr(cuda, "as_cuda_array") else X
        _check_device_gradients(arr, owner)
        return arr, False
    return cuda.to_device(as_gradients(X, owner=owner)), True


def _check_device_gradients(arr: Any, owner: str, name: str = "X") -> None:
    prefix = f"{owner}: " if owner else ""
    if arr.ndim != 2:
        raise InvalidArgument(
            f"{prefix}{name} must be 2-dimensional (n vectors of dimension d); got ndim={arr.ndim}, "
            f"shape={tuple(arr.shape)}"
        )
    n, d = arr.shape
    if n == 0:
        raise InvalidArgument(f"{prefix}{name} must hold at least one vector; got shape={tuple(arr.shape)}")
    if d == 0:
        raise InvalidArgument(f"{prefix}{name} must have dimension d >= 1; got shape={tuple(arr.shape)}")
    if np.dtype(arr.dtype) not in (np.float32, np.float64):
        raise InvalidArgument(
            f"{prefix}{name} must have dtype float32 or float64; got dtype={np.dtype(arr.dtype)} "
            f"(convert with X.astype(np.float64) or np.float32)"
        )


def _vector_param(v: Any, d: int, rule: str, pname: str) -> Any:
    """A user-given length-d start vector (host or device) as a float64 device array."""
    if _is_device_array(v):
        arr = cuda.as_cuda_array(v) if hasattr(cuda, "as_cuda_array") else v
        if tuple(arr.shape) != (d,):
            raise InvalidArgument(f"{rule}: {pname} must have shape ({d},); got shape={tuple(arr.shape)}")
        out = cuda.device_array(d, dtype=np.float64)
        blocks, threads = K.grid_1d(d)
        K.cast_copy[blocks, threads](arr, out)
        return out
    host = np.asarray(v, dtype=np.float64)
    if host.shape != (d,):
        raise InvalidArgument(f"{rule}: {pname} must have shape ({d},); got shape={host.shape}")
    if not np.all(np.isfinite(host)):
        raise InvalidArgument(f"{rule}: {pname} must be finite")
    return cuda.to_device(np.ascontiguousarray(host))


# ----------------------------------------------------------------------------------------------
# Non-finite policy on the device


def drop_nonfinite(X: Any, f: int, nonfinite: str, owner: str,
                   bad: np.ndarray | None = None) -> tuple[Any, int, np.ndarray]:
    """Device twin of :func:`p2pbyz.gars._api.drop_nonfinite` (same rules, same messages).

    ``bad`` (the row flags, when a fused kernel already computed them) skips the scan."""
    if bad is None:
        bad = nonfinite_rows(X)
    if not bad.any():
        return X, f, np.empty(0, dtype=np.int64)
    idx = np.flatnonzero(bad)
    shown = ", ".join(str(i) for i in idx[:10]) + (", ..." if idx.size > 10 else "")
    if nonfinite == "raise":
        raise ByzantineAssumptionError(
            f"{owner}: {idx.size} input row(s) contain NaN or infinity (rows {shown}) and "
            f"nonfinite='raise'"
        )
    if idx.size > f:
        raise ByzantineAssumptionError(
            f"{owner}: {idx.size} input row(s) contain NaN or infinity (rows {shown}) but f={f}: "
            f"more Byzantine inputs than declared, so no result can be trusted"
        )
    return take_rows(X, np.flatnonzero(~bad)), f - idx.size, idx


def nonfinite_rows(A: Any) -> np.ndarray:
    """Host boolean flags: row i of the 2-d device array A holds a NaN or an infinity."""
    n, d = A.shape
    flags = cuda.to_device(np.zeros(n, dtype=np.uint8))
    K.launch_rows(K.nonfinite_flags, n, d, A, flags)
    return flags.copy_to_host().astype(bool)


def take_rows(X: Any, rows: np.ndarray) -> Any:
    """A new device array holding ``X[rows]``."""
    out = cuda.device_array((rows.size, X.shape[1]), dtype=X.dtype)
    K.launch_rows(K.gather_rows, rows.size, X.shape[1], X, cuda.to_device(rows.astype(np.int64)), out)
    return out


# ----------------------------------------------------------------------------------------------
# Building blocks


def sq_distances(X: Any) -> Any:
    """The n x n squared-distance matrix (float64, on the device) of the rows of device array X."""
    n, d = X.shape
    kern, T, R = K.distance_kernel(n, X.dtype)
    nt = -(-n // (T * R))
    ti, tj = np.triu_indices(nt)
    npairs = ti.size
    slices = max(1, min(-(-d // T), K._DIST_TARGET_BLOCKS // npairs, 65535))
    chunk = -(-(-(-d // slices)) // T) * T
    slices = -(-d // chunk)
    part = cuda.device_array((slices, n, n), dtype=np.float64)
    kern[(npairs, slices), (T, T)](
        X, cuda.to_device(ti.astype(np.int64)), cuda.to_device(tj.astype(np.int64)), chunk, part
    )
    D = cuda.device_array((n, n), dtype=np.float64)
    tile_of_row = cuda.to_device((np.arange(n) // (T * R)).astype(np.int64))
    K.launch_2d(K.sum_distance_slices, n, n, part, tile_of_row, D)
    return D


def row_sqdist(X: Any, z: Any | None) -> Any:
    """(n,) float64 device array of |X_i - z|^2 (|X_i|^2 when z is None)."""
    n, d = X.shape
    nb, chunk = K.row_chunks(n, d)
    part = cuda.device_array((n, nb), dtype=np.float64)
    threads = min(K.tpb(), 1024)
    zz = z if z is not None else cuda.device_array(1, dtype=np.float64)
    K.row_sqdist_partial[(nb, n), threads](X, zz, 0 if z is None else 1, chunk, part)
    out = cuda.device_array(n, dtype=np.float64)
    K.launch_1d(K.sum_partials, n, part, out)
    return out


def set_means(X: Any, sel: np.ndarray | Any, cnt: np.ndarray, dtype: Any) -> Any:
    """(p, d) device array: row p is the mean of X[sel[p, :cnt[p]]] (summed in sel's order)."""
    p = cnt.size
    out = cuda.device_array((p, X.shape[1]), dtype=dtype)
    sel_d = sel if _is_device_array(sel) else cuda.to_device(np.ascontiguousarray(sel, dtype=np.int64))
    K.launch_rows(K.set_means, p, X.shape[1], X, sel_d, cuda.to_device(cnt.astype(np.int64)), out)
    return out


def mean_of_rows(X: Any, rows: Any, m: int) -> Any:
    """(d,) device array: the mean of X[rows[0, :m]] in X's dtype; ``rows`` a (1, *) device array."""
    return set_means(X, rows, np.array([m]), X.dtype)[0]


def coordinatewise(X: Any, op: int, *, f: int = 0, k: int = 0, kind: str = "midpoint",
                   rows: Any | None = None, n: int | None = None, dtype: Any = None,
                   flags: Any | None = None) -> Any:
    """Run the coordinate-wise kernel over rows ``rows[:n]`` of X (all rows by default); with
    ``flags`` (n uint8, zeroed) it also flags the rows holding NaN or infinity."""
    d = X.shape[1]
    if rows is None:
        n = X.shape[0]
        rows = cuda.to_device(np.arange(n, dtype=np.int64))
    out = cuda.device_array(d, dtype=dtype or X.dtype)
    kern = K.coordinate_kernel(n, X.dtype)
    blocks, threads = K.grid_1d(d)
    check = 0 if flags is None else 1
    if flags is None:
        flags = cuda.device_array(1, dtype=np.uint8)
    kern[blocks, threads](X, rows, n, op, K.KIND_CODES[kind], f, k, out, flags, check)
    return out


def rank(keys: Any) -> Any:
    """(1, n) int64 device array: the rows sorted by (key, index)."""
    n = keys.shape[0]
    order = cuda.device_array((1, n), dtype=np.int64)
    K.launch_1d(K.rank_keys, n, keys, order[0])
    return order


def krum_selection(X: Any, f: int, steps: int, neighbours: str, squared: bool, D: Any = None):
    """Run ``steps`` Krum selections on the shrinking set; returns (picks, ranks) on the device."""
    n = X.shape[0]
    if D is None:
        D = sq_distances(X)
    order = cuda.device_array((n, max(1, n - 1)), dtype=np.int64)
    if n > 1:
        K.launch_2d(K.neighbour_order, n, n, D, 0, order)
    ks = np.array([ref.neighbour_count(n - t, f, neighbours) for t in range(steps)], dtype=np.int64)
    removed = cuda.to_device(np.zeros(n, dtype=np.int64))
    scores = cuda.device_array(n, dtype=np.float64)
    picks = cuda.device_array(steps, dtype=np.int64)
    ranks = cuda.device_array((steps, n), dtype=np.int64)
    K.krum_steps[1, K.small_block(n)](
        D, order, cuda.to_device(ks), 0 if squared else 1, removed, scores, picks, ranks
    )
    return picks, ranks


def _cast(v: Any, dtype: Any) -> Any:
    if np.dtype(v.dtype) == np.dtype(dtype):
        return v
    out = cuda.device_array(v.shape[0], dtype=dtype)
    blocks, threads = K.grid_1d(v.shape[0])
    K.cast_copy[blocks, threads](v, out)
    return out


# ----------------------------------------------------------------------------------------------
# Rules: each takes (X on device, f, params with defaults filled) and returns a (d,) device array


def _average(X, f, p, flags=None):
    d = X.shape[1]
    out = cuda.device_array(d, dtype=X.dtype)
    blocks, threads = K.grid_1d(d)
    check = 0 if flags is None else 1
    if flags is None:
        flags = cuda.device_array(1, dtype=np.uint8)
    K.mean_rows_flagged[blocks, threads](X, out, flags, check)
    return out


def _median(X, f, p, flags=None):
    return coordinatewise(X, K.OP_MEDIAN, kind=p["kind"], flags=flags)


def _trimmed_mean(X, f, p, flags=None):
    return coordinatewise(X, K.OP_TRIMMED_MEAN, f=f, flags=flags)


def _phocas(X, f, p, flags=None):
    return coordinatewise(X, K.OP_CLOSEST_TO_TRIMMED_MEAN, f=f, k=X.shape[0] - f, flags=flags)


def _meamed(X, f, p, flags=None):
    return coordinatewise(X, K.OP_CLOSEST_TO_MEDIAN, k=X.shape[0] - f, kind=p["kind"], flags=flags)


#: Rules whose single read of X also scans for non-finite rows (the common all-finite case then
#: reads X once; otherwise the result is discarded and the dropping path runs).
_FUSED_SCAN = frozenset({"average", "median", "trimmed_mean", "phocas", "meamed"})

#: Rules that start from the distance matrix D and take it as ``D=``: a NaN or inf row of X makes
#: its row of D non-finite (n >= 2), so X is scanned only when D is not finite, as on the CPU
#: (``GarSpec.detects_nonfinite``). Not one_minus_p_krum (its draw would repeat on the rerun) and
#: not CAF at f = 0 (a plain mean: D would cost more than the scan).
_DISTANCE_SCAN = frozenset({"krum", "multi_krum", "medoid", "bulyan", "multi_bulyan", "mda", "smea",
                            "caf"})


def _krum(X, f, p, D=None):
    _, ranks = krum_selection(X, f, 1, p["neighbours"], p["squared"], D)
    return mean_of_rows(X, ranks, 1)


def _multi_krum(X, f, p, D=None):
    n = X.shape[0]
    m = n - f if p["m"] is None else int(p["m"])
    _, ranks = krum_selection(X, f, 1, p["neighbours"], p["squared"], D)
    return set_means(X, ranks, np.array([m]), X.dtype)[0]


def _medoid(X, f, p, D=None):
    D = sq_distances(X) if D is None else D
    n = X.shape[0]
    tot = cuda.device_array(n, dtype=np.float64)
    K.launch_1d(K.medoid_totals, n, D, tot)
    return mean_of_rows(X, rank(tot), 1)


def _one_minus_p_krum(X, f, p):
    u = as_generator(p["seed"]).random()
    if u < 1.0 / math.sqrt(p["t"]):
        return _average(X, f, p)
    return _krum(X, f, p)


def _bulyan(X, f, p, D=None):
    n = X.shape[0]
    theta = n - 2 * f if p["theta"] is None else int(p["theta"])
    beta = theta - 2 * f
    picks, _ = krum_selection(X, f, theta, p["neighbours"], p["squared"], D)
    return coordinatewise(X, K.OP_CLOSEST_TO_MEDIAN, k=beta, rows=picks, n=theta)


def _multi_bulyan(X, f, p, D=None):
    n = X.shape[0]
    theta = n - 2 * f if p["theta"] is None else int(p["theta"])
    m = n - f if p["m"] is None else int(p["m"])
    beta = theta - 2 * f
    _, ranks = krum_selection(X, f, theta, p["neighbours"], p["squared"], D)
    cnt = np.array([max(1, min(m - t, n - t)) for t in range(theta)], dtype=np.int64)
    sel = ranks.copy_to_host()
    for t in range(theta):  # a step's group is summed in index order, as on the CPU
        sel[t, : cnt[t]].sort()
    S = set_means(X, sel, cnt, np.float64)
    out = coordinatewise(S, K.OP_CLOSEST_TO_MEDIAN, k=beta)
    return _cast(out, X.dtype)


def _aksel(X, f, p):
    n = X.shape[0]
    c = (n + 1) // 2 if p["mode"] == "mid" else n - f
    med = coordinatewise(X, K.OP_MEDIAN, kind=p["kind"], dtype=np.float64)
    order = rank(row_sqdist(X, med))
    return mean_of_rows(X, order, c)


def _weiszfeld(X, z, numer, floor, iters, tol):
    """Weiszfeld steps z <- sum w_i X_i / sum w_i, w_i = numer / max(floor, |X_i - z|)."""
    n, d = X.shape
    w = cuda.device_array(n, dtype=np.float64)
    blocks, threads = K.grid_1d(d)
    for _ in range(iters):
        K.launch_1d(K.weiszfeld_weights, n, row_sqdist(X, z), floor, numer, w)
        z_new = cuda.device_array((1, d), dtype=np.float64)  # 2-D so row_sqdist can read it
        K.weighted_rows[blocks, threads](X, w, n, 0, z_new[0])
        if tol is not None:
            # the stopping test is the only thing read back: two scalars per iteration
            step_sq = float(row_sqdist(z_new, z).copy_to_host()[0])
            norm_sq = float(row_sqdist(z_new, None).copy_to_host()[0])
            z = z_new[0]
            if math.sqrt(step_sq) <= tol * (1.0 + math.sqrt(norm_sq)):
                break
        else:
            z = z_new[0]
    return _cast(z, X.dtype)


def _geometric_median(X, f, p):
    n, d = X.shape
    if p["z0"] is None:
        z = cuda.device_array(d, dtype=np.float64)
        blocks, threads = K.grid_1d(d)
        K.weighted_rows[blocks, threads](X, cuda.to_device(np.ones(n)), n, 0, z)
    else:
        z = _vector_param(p["z0"], d, "geometric_median", "z0")
    return _weiszfeld(X, z, 1.0, float(p["eps"]), int(p["max_iter"]), float(p["tol"]))


def _rfa(X, f, p):
    n, d = X.shape
    if p["z0"] is None:
        z = cuda.to_device(np.zeros(d))
    else:
        z = _vector_param(p["z0"], d, "rfa", "z0")
    return _weiszfeld(X, z, 1.0 / n, float(p["nu"]), int(p["T"]), None)


def _centered_clipping(X, f, p):
    n, d = X.shape
    v = cuda.to_device(np.zeros(d)) if p["v0"] is None else _vector_param(p["v0"], d, "centered_clipping", "v0")
    scale = cuda.device_array(n, dtype=np.float64)
    blocks, threads = K.grid_1d(d)
    for _ in range(int(p["L"])):
        K.launch_1d(K.clip_scales, n, row_sqdist(X, v), float(p["tau"]), 0.0, scale)
        v_new = cuda.device_array(d, dtype=np.float64)
        K.cc_update[blocks, threads](X, v, scale, v_new)
        v = v_new
    return _cast(v, X.dtype)


def _monna(X, f, p):
    n = X.shape[0]
    pivot = int(p["pivot"])
    order = rank(row_sqdist(X, X[pivot]))
    return mean_of_rows(X, order, n - f)


def _combinations(n: int, m: int, rule: str):
    count = math.comb(n, m)
    if count > config.MDA_MAX_SUBSETS:
        raise TooExpensiveError(
            f"{rule}: C(n, n-f) = C({n}, {m}) = {count} subsets exceeds "
            f"config.MDA_MAX_SUBSETS={config.MDA_MAX_SUBSETS}"
        )
    it = itertools.combinations(range(n), m)
    while True:
        block = list(itertools.islice(it, 4096))
        if not block:
            return
        yield np.array(block, dtype=np.int64).reshape(len(block), m)


def _mda(X, f, p, D=None):
    """Distances on the device; the subset search runs on the host over the n x n matrix."""
    n = X.shape[0]
    m = n - f
    D = (sq_distances(X) if D is None else D).copy_to_host()
    best_key, best = None, []
    for S in _combinations(n, m, "mda"):
        sub = D[S[:, :, None], S[:, None, :]]
        diam = sub.max(axis=(1, 2))
        tot = sub.sum(axis=(1, 2))
        for b in range(S.shape[0]):
            key = (float(diam[b]), float(tot[b]))
            if best_key is None or key < best_key:
                best_key, best = key, [S[b]]
            elif key == best_key:
                best.append(S[b])
    sel = np.array(best, dtype=np.int64)
    means = set_means(X, sel, np.full(len(best), m), np.float64)
    if len(best) == 1:
        return _cast(means[0], X.dtype)
    host = means.copy_to_host()
    pick = min(range(len(best)), key=lambda b: tuple(host[b]))
    return _cast(means[pick], X.dtype)


def _smea(X, f, p, D=None):
    """Distances on the device; each subset's covariance top eigenvalue comes from its
    double-centred distance block (C C^T = -J D_S J / 2), on the host."""
    n = X.shape[0]
    m = n - f
    D = (sq_distances(X) if D is None else D).copy_to_host()
    J = np.eye(m) - 1.0 / m
    best_lam, best = None, None
    for S in _combinations(n, m, "smea"):
        G = -0.5 * J @ D[S[:, :, None], S[:, None, :]] @ J / m
        lam = np.linalg.eigvalsh(G)[:, -1]
        b = int(np.argmin(lam))
        if best_lam is None or lam[b] < best_lam:
            best_lam, best = float(lam[b]), S[b]
    return set_means(X, best[None, :], np.array([m]), X.dtype)[0]


def _caf(X, f, p, D=None):
    """Distances on the device; CAF's n x n eigenproblems on the host (the CPU path's own
    ``caf_weights``); the weighted mean on the device."""
    from .._caf import caf_weights

    n, d = X.shape
    if f == 0:
        w = np.full(n, 1.0 / n)
    else:
        w = caf_weights((sq_distances(X) if D is None else D).copy_to_host(), f)
    out = cuda.device_array(d, dtype=X.dtype)
    blocks, threads = K.grid_1d(d)
    K.weighted_rows[blocks, threads](X, cuda.to_device(w), n, 1, out)
    return out


_RULES: dict[str, tuple[Callable[..., Any], frozenset[str]]] = {
    "average": (_average, frozenset()),
    "median": (_median, frozenset({"kind"})),
    "trimmed_mean": (_trimmed_mean, frozenset()),
    "phocas": (_phocas, frozenset()),
    "meamed": (_meamed, frozenset({"kind"})),
    "krum": (_krum, frozenset({"neighbours", "squared"})),
    "multi_krum": (_multi_krum, frozenset({"m", "neighbours", "squared"})),
    "medoid": (_medoid, frozenset()),
    "one_minus_p_krum": (_one_minus_p_krum, frozenset({"t", "seed", "neighbours", "squared"})),
    "bulyan": (_bulyan, frozenset({"theta", "neighbours", "squared"})),
    "multi_bulyan": (_multi_bulyan, frozenset({"theta", "m", "neighbours", "squared"})),
    "aksel": (_aksel, frozenset({"mode", "kind"})),
    "geometric_median": (_geometric_median, frozenset({"tol", "max_iter", "eps", "z0"})),
    "rfa": (_rfa, frozenset({"nu", "T", "z0"})),
    "mda": (_mda, frozenset()),
    "smea": (_smea, frozenset()),
    "caf": (_caf, frozenset()),
    "centered_clipping": (_centered_clipping, frozenset({"tau", "L", "v0"})),
    "monna": (_monna, frozenset({"pivot"})),
}


# ----------------------------------------------------------------------------------------------
# Pre-aggregators: (X on device, f, params) -> (X' on device, f')


def _nnm(X, f, p):
    n = X.shape[0]
    D = sq_distances(X)
    order = cuda.device_array((n, n), dtype=np.int64)
    K.launch_2d(K.neighbour_order, n, n, D, 1, order)
    return set_means(X, order, np.full(n, n - f), X.dtype), f


def _bucketing(X, f, p):
    n = X.shape[0]
    s = int(p["s"])
    perm = as_generator(p["seed"]).permutation(n)
    nb = -(-n // s)
    sel = np.zeros((nb, s), dtype=np.int64)
    cnt = np.zeros(nb, dtype=np.int64)
    for b in range(nb):
        part = perm[b * s : (b + 1) * s]
        sel[b, : part.size] = part
        cnt[b] = part.size
    return set_means(X, sel, cnt, X.dtype), f


def _static_clipping(X, f, p):
    n, d = X.shape
    scale = cuda.device_array(n, dtype=np.float64)
    K.launch_1d(K.clip_scales, n, row_sqdist(X, None), float(p["c"]), 0.0, scale)
    out = cuda.device_array((n, d), dtype=X.dtype)
    K.launch_rows(K.scale_rows, n, d, X, scale, out)
    return out, f


def _arc(X, f, p):
    n, d = X.shape
    k = int(math.floor(2.0 * f * (n - f) / n))
    if k == 0:
        return X, f
    scale = cuda.device_array(n, dtype=np.float64)
    rankpos = cuda.device_array(n, dtype=np.int64)
    K.arc_scales[1, K.small_block(n)](row_sqdist(X, None), k, rankpos, scale)
    out = cuda.device_array((n, d), dtype=X.dtype)
    K.launch_rows(K.scale_rows, n, d, X, scale, out)
    return out, f


_PRE: dict[str, tuple[Callable[..., Any], frozenset[str]]] = {
    "nnm": (_nnm, frozenset()),
    "bucketing": (_bucketing, frozenset({"s", "seed"})),
    "static_clipping": (_static_clipping, frozenset({"c"})),
    "arc": (_arc, frozenset()),
}


def rule_names() -> list[str]:
    """Rules the CUDA target implements."""
    return sorted(_RULES)


def preaggregator_names() -> list[str]:
    """Pre-aggregators the CUDA target implements."""
    return sorted(_PRE)


def _resolve(table: Mapping[str, Any], name: str, defaults: Mapping[str, Any], given: Mapping[str, Any],
             what: str):
    if name not in table:
        raise InvalidArgument(
            f"{name}: this {what} has no CUDA kernel yet; use target='cpu' "
            f"(CUDA {what}s: {', '.join(sorted(table))})"
        )
    fn, known = table[name]
    params = {**defaults, **given}
    extra = sorted(set(params) - known)
    if extra:
        raise InvalidArgument(
            f"{name}: parameter {extra[0]!r} has no CUDA implementation yet; use target='cpu'"
        )
    return fn, params


# ----------------------------------------------------------------------------------------------
# Entry point


def run(spec: Any, X: Any, f: int, *, pre: Any, nonfinite: str, params: Mapping[str, Any]) -> Any:
    """Validate, apply the non-finite policy, the pre-aggregators and the rule, on the device."""
    rule, rparams = _resolve(_RULES, spec.name, spec.params, params, "rule")
    stages = [(_resolve(_PRE, ps.name, ps.params, pp, "pre-aggregator")) for ps, pp in pre]
    Xd, from_host = to_device(X, spec.name)
    n = Xd.shape[0]
    _api.check_call(spec, n, f, pre, params)
    bad = None
    if not stages and spec.name in _FUSED_SCAN:
        flags = cuda.to_device(np.zeros(n, dtype=np.uint8))
        out = rule(Xd, f, rparams, flags=flags)
        bad = flags.copy_to_host().astype(bool)
        if not bad.any():
            return out.copy_to_host() if from_host else out
    elif not stages and spec.name in _DISTANCE_SCAN and n > 1 and (f > 0 or spec.name != "caf"):
        D = sq_distances(Xd)
        if not nonfinite_rows(D).any():
            out = rule(Xd, f, rparams, D=D)
            return out.copy_to_host() if from_host else out
    Xd, f, dropped = drop_nonfinite(Xd, f, nonfinite, spec.name, bad)
    if dropped.size:
        _api.check_call(spec, Xd.shape[0], f, pre, params)
    for fn, pp in stages:
        Xd, f = fn(Xd, f, pp)
    out = rule(Xd, f, rparams)
    return out.copy_to_host() if from_host else out
