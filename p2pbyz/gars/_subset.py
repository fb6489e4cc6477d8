"""Subset rules: MDA (minimum-diameter averaging) and SMEA (smallest maximum eigenvalue averaging).

Both search all C(n, f) choices of the f rows to *remove* (the kept set S has n-f rows) and output
the mean of the best S. The search runs in Numba over fixed chunks of the lexicographic ranks of
the removal sets (each chunk unranks its first combination, then steps to the next one), so the
result does not depend on the number of threads. Per removal set:

* MDA reads the diameter from the pair list sorted by decreasing squared distance: the diameter of
  S is the first pair with no removed endpoint, found after at most f(n-1)+1 pairs (an incremental
  diameter, no O(n^2) rescan);
* SMEA forms the (n-f) x (n-f) centred Gram matrix of S from the squared distances
  (``-1/2 J D_S J``, translation-free, never from ``|x|^2`` terms) and takes its largest eigenvalue.

Ties are broken canonically (see :func:`mda`), so the output does not depend on the input order.
The search is exponential in f; :data:`p2pbyz.config.MDA_MAX_SUBSETS` caps C(n, f).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _api, _reference
from ._common import chunk_bounds, raise_if_nonfinite, sq_distances
from ._registry import GarSpec, register
from .. import config
from ..errors import TooExpensiveError

__all__ = ["mda", "smea", "mean_rows"]

#: SMEA: eigenvalues within this relative distance of the smallest one count as tied (solvers are
#: accurate to rounding only, so exactly tied subsets, e.g. with duplicated rows, must not be told
#: apart by rounding noise). Mirrored by ``_reference.SMEA_TIE_RTOL``.
SMEA_TIE_RTOL = _reference.SMEA_TIE_RTOL

_NCHUNKS = 256  # chunks of combination ranks: fixed, independent of the thread count


# ----------------------------------------------------------------------------------------------
# Shared kernels


@njit(parallel=True, cache=True)
def _mean_rows_cpu(X, idx, bounds):  # pragma: no cover - compiled
    """Mean of the rows ``X[idx]`` (rows added in the order of ``idx``), in float64."""
    m = idx.shape[0]
    d = X.shape[1]
    out = np.empty(d, dtype=np.float64)
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        lo = bounds[c]
        hi = bounds[c + 1]
        o = out[lo:hi]  # 1-d views: ``X[i, k]`` in the loop compiles to scalar code
        for k in range(hi - lo):
            o[k] = 0.0
        for t in range(m):
            x = X[idx[t], lo:hi]
            for k in range(hi - lo):
                o[k] += x[k]
        for k in range(hi - lo):
            o[k] = o[k] / m
    return out


def mean_rows(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Float64 mean of the rows ``X[idx]``, added in the order of ``idx`` (deterministic)."""
    bounds = chunk_bounds(X.shape[1], config.CPU_BLOCK, 64)
    return _mean_rows_cpu(X, np.ascontiguousarray(idx, dtype=np.int64), bounds)


@njit(cache=True)
def _unrank(rank, n, k, binom, comb):  # pragma: no cover - compiled
    """The k-combination of range(n) of lexicographic rank ``rank``, written into ``comb``."""
    x = 0
    for i in range(k):
        while binom[n - x - 1, k - i - 1] <= rank:
            rank -= binom[n - x - 1, k - i - 1]
            x += 1
        comb[i] = x
        x += 1


@njit(cache=True)
def _next_comb(comb, n, k):  # pragma: no cover - compiled
    """Advance ``comb`` to the next k-combination in lexicographic order (False after the last)."""
    i = k - 1
    while i >= 0 and comb[i] == n - k + i:
        i -= 1
    if i < 0:
        return False
    comb[i] += 1
    for j in range(i + 1, k):
        comb[j] = comb[j - 1] + 1
    return True


def _binomials(n: int, k: int) -> np.ndarray:
    B = np.zeros((n + 1, k + 1), dtype=np.int64)
    for a in range(n + 1):
        for b in range(min(a, k) + 1):
            B[a, b] = math.comb(a, b)
    return B


@njit(parallel=True, cache=True)
def _mda_diameters(D, pi, pj, pv, f, binom, total, nchunks):  # pragma: no cover - compiled
    """Squared diameter of the kept set for every removal set, by lexicographic rank."""
    n = D.shape[0]
    out = np.empty(total, dtype=np.float64)
    npairs = pv.shape[0]
    for c in prange(nchunks):
        lo = (c * total) // nchunks
        hi = ((c + 1) * total) // nchunks
        if lo >= hi:
            continue
        comb = np.empty(f, dtype=np.int64)
        removed = np.zeros(n, dtype=np.bool_)
        _unrank(lo, n, f, binom, comb)
        for t in range(f):
            removed[comb[t]] = True
        for r in range(lo, hi):
            diam = 0.0
            for p in range(npairs):
                if not removed[pi[p]] and not removed[pj[p]]:
                    diam = pv[p]
                    break
            out[r] = diam
            if r + 1 < hi:
                for t in range(f):
                    removed[comb[t]] = False
                _next_comb(comb, n, f)
                for t in range(f):
                    removed[comb[t]] = True
    return out


@njit(parallel=True, cache=True)
def _smea_eigenvalues(D, f, binom, total, nchunks):  # pragma: no cover - compiled
    """Largest eigenvalue of the kept set's empirical covariance, for every removal set."""
    n = D.shape[0]
    m = n - f
    out = np.empty(total, dtype=np.float64)
    for c in prange(nchunks):
        lo = (c * total) // nchunks
        hi = ((c + 1) * total) // nchunks
        if lo >= hi:
            continue
        comb = np.empty(f, dtype=np.int64)
        removed = np.zeros(n, dtype=np.bool_)
        keep = np.empty(m, dtype=np.int64)
        G = np.empty((m, m), dtype=np.float64)
        rd = np.empty(m, dtype=np.float64)
        _unrank(lo, n, f, binom, comb)
        for t in range(f):
            removed[comb[t]] = True
        for r in range(lo, hi):
            q = 0
            for i in range(n):
                if not removed[i]:
                    keep[q] = i
                    q += 1
            # centred Gram matrix -1/2 J D_S J; its eigenvalues / m are those of the covariance
            big = 0.0
            tot = 0.0
            for a in range(m):
                s = 0.0
                for b in range(m):
                    v = D[keep[a], keep[b]]
                    s += v
                    if v > big:
                        big = v
                rd[a] = s / m
                tot += rd[a]
            tot = tot / m
            if not np.isfinite(big):
                out[r] = np.inf
            elif big == 0.0:
                out[r] = 0.0
            else:
                for a in range(m):
                    for b in range(m):
                        G[a, b] = -0.5 * (D[keep[a], keep[b]] - rd[a] - rd[b] + tot)
                lam = np.linalg.eigvalsh(G)[m - 1] / m
                out[r] = lam if lam > 0.0 else 0.0
            if r + 1 < hi:
                for t in range(f):
                    removed[comb[t]] = False
                _next_comb(comb, n, f)
                for t in range(f):
                    removed[comb[t]] = True
    return out


@njit(cache=True)
def _tie_break(X, D, rowsum, total_sum, f, binom, ranks):  # pragma: no cover - compiled
    """Among the removal sets of ``ranks`` (ascending), the one whose kept set has the smallest
    within-set sum of squared distances, then the lexicographically smallest mean (i.e. the
    lexicographically largest sum of the removed rows); full ties keep the smallest rank."""
    n, d = X.shape
    comb = np.empty(f, dtype=np.int64)
    best = np.empty(f, dtype=np.int64)
    best_s = np.inf
    have = False
    for q in range(ranks.shape[0]):
        _unrank(ranks[q], n, f, binom, comb)
        s = total_sum
        for a in range(f):
            s -= 2.0 * rowsum[comb[a]]
        for a in range(f):
            for b in range(f):
                s += D[comb[a], comb[b]]
        better = False
        if not have or s < best_s:
            better = True
        elif s == best_s:
            for k in range(d):
                u = 0.0
                v = 0.0
                for a in range(f):
                    u += X[comb[a], k]
                    v += X[best[a], k]
                if u != v:
                    better = u > v
                    break
        if better:
            have = True
            best_s = s
            for a in range(f):
                best[a] = comb[a]
    return best


def _check_subsets(owner: str):
    def check(n, f):
        count = math.comb(n, f)
        limit = config.MDA_MAX_SUBSETS
        if count > limit:
            raise TooExpensiveError(
                f"{owner}: the exact search visits C(n, f) = C({n}, {f}) = {count} subsets, more "
                f"than config.MDA_MAX_SUBSETS = {limit}; lower n or f, or raise the limit "
                f"(p2pbyz.config.MDA_MAX_SUBSETS = {count})"
            )

    return check


def _select(
    X: np.ndarray, f: int, D: np.ndarray, binom: np.ndarray, ranks: np.ndarray
) -> np.ndarray:
    rowsum = D.sum(axis=1)
    total_sum = float(rowsum.sum())
    ranks = np.ascontiguousarray(ranks, dtype=np.int64)
    removed = _tie_break(X, D, rowsum, total_sum, f, binom, ranks)
    mask = np.ones(X.shape[0], dtype=bool)
    mask[removed] = False
    return mean_rows(X, np.flatnonzero(mask)).astype(X.dtype)


def _mda_impl(X: np.ndarray, f: int) -> np.ndarray:
    n = X.shape[0]
    if f == 0:
        out = mean_rows(X, np.arange(n)).astype(X.dtype)
        raise_if_nonfinite(X, out)  # detects_nonfinite: a NaN/inf row reaches the mean
        return out
    D = sq_distances(X)
    raise_if_nonfinite(X, D)
    iu, ju = np.triu_indices(n, 1)
    pv = D[iu, ju]
    order = np.argsort(-pv, kind="stable")
    total = math.comb(n, f)
    binom = _binomials(n, f)
    diam = _mda_diameters(
        D, iu[order].astype(np.int64), ju[order].astype(np.int64), np.ascontiguousarray(pv[order]),
        f, binom, total, min(_NCHUNKS, total),
    )
    ranks = np.flatnonzero(diam == diam.min())
    return _select(X, f, D, binom, ranks)


def _smea_impl(X: np.ndarray, f: int) -> np.ndarray:
    n = X.shape[0]
    if f == 0:
        out = mean_rows(X, np.arange(n)).astype(X.dtype)
        raise_if_nonfinite(X, out)  # detects_nonfinite: a NaN/inf row reaches the mean
        return out
    D = sq_distances(X)
    raise_if_nonfinite(X, D)
    total = math.comb(n, f)
    binom = _binomials(n, f)
    lam = _smea_eigenvalues(D, f, binom, total, min(_NCHUNKS, total))
    lmin = lam.min()
    ranks = np.flatnonzero(lam <= lmin + SMEA_TIE_RTOL * lmin)
    return _select(X, f, D, binom, ranks)


def mda(X, f, *, pre=(), nonfinite="drop", target="cpu"):
    r"""Minimum-diameter averaging: the mean of the n-f rows of smallest diameter.

    .. math::

        S^\star \in \operatorname*{arg\,min}_{|S| = n-f}
        \; \max_{i, j \in S} \lVert X_i - X_j \rVert,
        \qquad \mathrm{MDA}(X_1, \dots, X_n) = \frac{1}{n-f} \sum_{i \in S^\star} X_i

    Exact: every one of the C(n, f) sets of f rows to remove is visited. Distinct sets can tie on
    the diameter (with positive probability, THEORY.md §6), and first-found MDA (byzfl, LPD) then
    depends on the input order. Here ties are broken canonically, as ``_reference._subset_key``:
    the smallest diameter, then the smallest within-set sum of squared distances, then the
    lexicographically smallest mean. The output therefore depends only on the multiset of rows
    (up to rounding of float sums: sets whose keys differ only by rounding are not told apart).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1 and C(n, f) <= config.MDA_MAX_SUBSETS.
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

    Raises
    ------
    TooExpensiveError
        C(n, f) exceeds ``p2pbyz.config.MDA_MAX_SUBSETS`` (checked before any work).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(n^2 d) for the distances, then O(C(n, f) f n) for the
    search (each diameter is read off the sorted pair list), and 8 C(n, f) bytes of memory.
    Robustness: lambda <= 2f/(n-f), kappa <= 8f^2/(n-f) (THEORY.md §8.3, derived).
    Reference: El Mhamdi, Guerraoui, Rouault, ICLR 2021, arXiv 2003.00010 ("Brute").

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import mda
    >>> mda(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]), f=1)
    array([2.5, 3.5, 4.5])
    """
    return _api.run("mda", X, f, pre=pre, nonfinite=nonfinite, target=target)


def smea(X, f, *, pre=(), nonfinite="drop", target="cpu"):
    r"""Smallest maximum eigenvalue averaging: the mean of the n-f rows whose empirical covariance
    has the smallest largest eigenvalue.

    .. math::

        S^\star \in \operatorname*{arg\,min}_{|S| = n-f} \lambda_{\max}\Big(
        \frac{1}{|S|} \sum_{i \in S} (X_i - \bar X_S)(X_i - \bar X_S)^\top \Big),
        \qquad \mathrm{SMEA}(X_1, \dots, X_n) = \bar X_{S^\star}

    Exact: every set of f rows to remove is visited and the largest eigenvalue comes from the
    small (n-f) x (n-f) centred Gram matrix ``-1/2 J D_S J`` (same non-zero spectrum as the d x d
    covariance, times |S|), by a symmetric eigensolver. byzfl's ``SMEA`` estimates each
    eigenvalue with one power-method step from a random vector, so its choice is random; this one
    is deterministic. Tie-break (canonical, documented here): eigenvalues within a relative
    ``SMEA_TIE_RTOL = 1e-9`` of the smallest one count as tied (eigensolvers are exact only to
    rounding); among the tied sets the one with the smallest within-set sum of squared distances
    wins, then the lexicographically smallest mean, as for :func:`mda`.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1 and C(n, f) <= config.MDA_MAX_SUBSETS.
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

    Raises
    ------
    TooExpensiveError
        C(n, f) exceeds ``p2pbyz.config.MDA_MAX_SUBSETS`` (checked before any work).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(n^2 d + C(n, f) (n-f)^3), and 8 C(n, f) bytes of memory.
    Reference: Allouah, Guerraoui, Gupta, Pinot, Stephan, "On the Privacy-Robustness-Utility
    Trilemma in Distributed Learning", ICML 2023; byzfl ``SMEA``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import smea
    >>> smea(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]), f=1)
    array([2.5, 3.5, 4.5])
    """
    return _api.run("smea", X, f, pre=pre, nonfinite=nonfinite, target=target)


register(
    GarSpec(
        name="mda",
        public=mda,
        impl=_mda_impl,
        reference=_reference.mda,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        check=_check_subsets("mda"),
        complexity="O(n^2 d + C(n,f) f n)",
        paper="El Mhamdi, Guerraoui, Rouault, ICLR 2021, arXiv 2003.00010 (Brute / MDA)",
        properties=frozenset(
            {
                "permutation_invariant",
                "translation_equivariant",
                "honest_value_exact",
                "bounded_under_attack",
            }
        ),
        theory={
            "lambda": lambda n, f: 2.0 * f / (n - f),
            "kappa": lambda n, f: 8.0 * f * f / (n - f),
            "variance_norm_ratio": lambda n, f: (n - f) / (math.sqrt(8.0) * f) if f else math.inf,
            "source": "THEORY.md §6 and §8.3 [derived]; ratio from LPD upper_bound [code]",
        },
        detects_nonfinite=True,  # its distances (or mean, at f = 0) reveal NaN/inf
    )
)

register(
    GarSpec(
        name="smea",
        public=smea,
        impl=_smea_impl,
        reference=_reference.smea,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        check=_check_subsets("smea"),
        complexity="O(n^2 d + C(n,f) (n-f)^3)",
        paper="Allouah, Guerraoui, Gupta, Pinot, Stephan, ICML 2023; byzfl SMEA",
        properties=frozenset(
            {
                "permutation_invariant",
                "translation_equivariant",
                "honest_value_exact",
                "bounded_under_attack",
            }
        ),
        detects_nonfinite=True,  # its distances (or mean, at f = 0) reveal NaN/inf
    )
)
