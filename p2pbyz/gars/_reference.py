"""Plain-numpy oracles of every rule and pre-aggregator.

Written for clarity, not speed: loops and sorts that follow the papers' definitions line by line
(../THEORY.md conventions). The fast kernels and the CUDA target are tested against these. Every
function takes validated, finite input ``X`` of shape (n, d) and returns float64.

Conventions shared by all:

* "the k smallest items" are chosen by a stable sort on (key, index): on exact ties the smallest
  index wins (Krum, footnote 3 of arXiv 1703.02757v1);
* coordinate-wise "the k values closest to a centre c" sort on (|x - c|, x): the tie between
  ``c - a`` and ``c + a`` goes to the smaller value, which keeps these rules permutation invariant;
* the median of an even count is the midpoint of the two middle values (numpy), unless
  ``kind="lower"``/``"upper"`` is asked for.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "average",
    "median",
    "trimmed_mean",
    "phocas",
    "meamed",
    "krum_scores",
    "krum",
    "multi_krum",
    "medoid",
    "one_minus_p_krum",
    "bulyan",
    "multi_bulyan",
    "aksel",
    "geometric_median",
    "rfa",
    "mda",
    "centered_clipping",
    "monna",
    "smea",
    "SMEA_TIE_RTOL",
    "nnm",
    "bucketing",
    "static_clipping",
    "arc",
    "sq_distances",
    "neighbour_count",
]


def _f64(X):
    return np.asarray(X, dtype=np.float64)


def sq_distances(X):
    """Squared Euclidean distances between rows, from differences, in float64."""
    X = _f64(X)
    diff = X[:, None, :] - X[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


# ----------------------------------------------------------------------------------------------
# Averaging and coordinate-wise rules


def average(X, f):
    """Arithmetic mean of the rows."""
    return _f64(X).mean(axis=0)


def _median_1d(v, kind):
    s = np.sort(v)
    n = s.size
    if n % 2 == 1:
        return s[n // 2]
    if kind == "lower":
        return s[n // 2 - 1]
    if kind == "upper":
        return s[n // 2]
    return 0.5 * (s[n // 2 - 1] + s[n // 2])


def median(X, f, *, kind="midpoint"):
    """Coordinate-wise median (``kind``: midpoint, lower or upper for even n)."""
    X = _f64(X)
    return np.array([_median_1d(X[:, k], kind) for k in range(X.shape[1])])


def trimmed_mean(X, f):
    """Coordinate-wise mean after dropping the f smallest and the f largest values."""
    S = np.sort(_f64(X), axis=0)
    n = S.shape[0]
    return S[f : n - f].mean(axis=0)


def _closest_mean(v, centre, k):
    order = sorted(range(v.size), key=lambda i: (abs(v[i] - centre), v[i]))
    return float(np.mean(v[order[:k]]))


def phocas(X, f):
    """Per coordinate: mean of the n-f values closest to the f-trimmed mean."""
    X = _f64(X)
    n = X.shape[0]
    tm = trimmed_mean(X, f)
    return np.array([_closest_mean(X[:, k], tm[k], n - f) for k in range(X.shape[1])])


def meamed(X, f, *, kind="midpoint"):
    """Per coordinate: mean of the n-f values closest to the median."""
    X = _f64(X)
    n = X.shape[0]
    med = median(X, f, kind=kind)
    return np.array([_closest_mean(X[:, k], med[k], n - f) for k in range(X.shape[1])])


# ----------------------------------------------------------------------------------------------
# Krum family


def neighbour_count(n, f, neighbours):
    """Number of neighbours in a Krum score: n-f-2 (paper) or n-f-1 (byzfl, LPD), at least 0."""
    k = n - f - 2 if neighbours == "paper" else n - f - 1
    return max(0, min(k, n - 1))


def krum_scores(X, f, *, neighbours="paper", squared=True, D=None, subset=None):
    """Krum score of each row of ``subset`` (default: all rows), computed within ``subset``."""
    if D is None:
        D = sq_distances(X)
    if not squared:
        D = np.sqrt(D)
    idx = list(range(D.shape[0])) if subset is None else list(subset)
    k = neighbour_count(len(idx), f, neighbours)
    scores = []
    for i in idx:
        others = sorted(D[i, j] for j in idx if j != i)
        scores.append(float(sum(others[:k])))
    return np.array(scores)


def _argsort_stable(keys):
    return sorted(range(len(keys)), key=lambda i: (keys[i], i))


def krum(X, f, *, neighbours="paper", squared=True):
    """The row with the smallest Krum score (ties: smallest index)."""
    s = krum_scores(X, f, neighbours=neighbours, squared=squared)
    return _f64(X)[_argsort_stable(list(s))[0]].copy()


def multi_krum(X, f, *, m=None, neighbours="paper", squared=True):
    """Mean of the m rows with the smallest Krum scores (default m = n-f)."""
    n = X.shape[0]
    m = n - f if m is None else m
    s = krum_scores(X, f, neighbours=neighbours, squared=squared)
    sel = _argsort_stable(list(s))[:m]
    return _f64(X)[sel].mean(axis=0)


def medoid(X, f):
    """The row minimising the sum of (unsquared) distances to all rows (ties: smallest index)."""
    D = np.sqrt(sq_distances(X))
    tot = D.sum(axis=1)
    return _f64(X)[_argsort_stable(list(tot))[0]].copy()


def one_minus_p_krum(X, f, *, t=1, seed=None, neighbours="paper", squared=True):
    """Average with probability 1/sqrt(t), else Krum; one uniform draw from ``seed``."""
    from .._random import as_generator

    u = as_generator(seed).random()
    if u < 1.0 / math.sqrt(t):
        return average(X, f)
    return krum(X, f, neighbours=neighbours, squared=squared)


# ----------------------------------------------------------------------------------------------
# Bulyan family


def _coordinate_phase(S, beta, kind="midpoint"):
    """Per coordinate: mean of the beta values of S closest to the median of S."""
    med = median(S, 0, kind=kind)
    return np.array([_closest_mean(S[:, k], med[k], beta) for k in range(S.shape[1])])


def bulyan(X, f, *, theta=None, neighbours="paper", squared=True):
    """theta = n-2f Krum selections on the shrinking set, then the beta = theta-2f closest to the median."""
    X = _f64(X)
    n = X.shape[0]
    theta = n - 2 * f if theta is None else theta
    beta = theta - 2 * f
    D = sq_distances(X)
    remaining = list(range(n))
    selected = []
    for _ in range(theta):
        s = krum_scores(X, f, neighbours=neighbours, squared=squared, D=D, subset=remaining)
        pick = remaining[_argsort_stable(list(s))[0]]
        selected.append(pick)
        remaining.remove(pick)
    return _coordinate_phase(X[selected], beta)


def _anchored_mean(R):
    """The mean of the rows of R as ``R[0] + sum_t (R[t] - R[0]) / m``, the terms added in row
    order: Multi-Bulyan's convention for its step vectors (equal rows give their value exactly).
    The coordinate phase compares distances to a median, so a mean rounded differently (numpy's
    ``mean``) can flip an exact tie there."""
    acc = np.zeros(R.shape[1])
    for r in R[1:]:
        acc += r - R[0]
    return R[0] + acc / R.shape[0]


def multi_bulyan(X, f, *, theta=None, m=None, neighbours="paper", squared=True):
    """Bulyan over Multi-Krum: at step k the selected vector is the mean (:func:`_anchored_mean`)
    of the m-k best-scoring remaining rows, in index order as Multi-Krum's (scores recomputed on
    the remaining set), then the best-scoring row leaves."""
    X = _f64(X)
    n = X.shape[0]
    theta = n - 2 * f if theta is None else theta
    m = n - f if m is None else m
    beta = theta - 2 * f
    D = sq_distances(X)
    remaining = list(range(n))
    selected = []
    for k in range(theta):
        s = krum_scores(X, f, neighbours=neighbours, squared=squared, D=D, subset=remaining)
        order = [remaining[i] for i in _argsort_stable(list(s))]
        mk = max(1, min(m - k, len(remaining)))
        selected.append(_anchored_mean(X[sorted(order[:mk])]))
        remaining.remove(order[0])
    return _coordinate_phase(np.array(selected), beta)


# ----------------------------------------------------------------------------------------------
# Aksel


def aksel(X, f, *, mode="mid", kind="midpoint"):
    """Mean of the c rows closest (squared distance) to the coordinate-wise median;
    c = ceil(n/2) (mode "mid") or n-f (mode "n-f")."""
    X = _f64(X)
    n = X.shape[0]
    c = (n + 1) // 2 if mode == "mid" else n - f
    med = median(X, f, kind=kind)
    dist = ((X - med) ** 2).sum(axis=1)
    sel = _argsort_stable(list(dist))[:c]
    return X[sel].mean(axis=0)


# ----------------------------------------------------------------------------------------------
# Geometric median


def geometric_median(X, f, *, tol=1e-10, max_iter=10_000, eps=1e-12, z0=None):
    """Weiszfeld's iteration from the mean (or ``z0``) until the step is below tol*(1+|z|)."""
    X = _f64(X)
    z = X.mean(axis=0) if z0 is None else _f64(z0).copy()
    for _ in range(max_iter):
        dist = np.sqrt(((X - z) ** 2).sum(axis=1))
        w = 1.0 / np.maximum(dist, eps)
        z_new = (w[:, None] * X).sum(axis=0) / w.sum()
        step = np.sqrt(((z_new - z) ** 2).sum())
        z = z_new
        if step <= tol * (1.0 + np.sqrt((z**2).sum())):
            break
    return z


def rfa(X, f, *, nu=0.1, T=3, z0=None):
    """Smoothed Weiszfeld (RFA, Pillutla et al.): T steps with weights 1/max(nu, |z - X_i|)."""
    X = _f64(X)
    z = np.zeros(X.shape[1]) if z0 is None else _f64(z0).copy()
    for _ in range(T):
        dist = np.sqrt(((X - z) ** 2).sum(axis=1))
        beta = (1.0 / X.shape[0]) / np.maximum(nu, dist)
        z = (beta[:, None] * X).sum(axis=0) / beta.sum()
    return z


# ----------------------------------------------------------------------------------------------
# Subset rules


def _subset_key(D, S, X):
    """Canonical key of subset S for MDA: (diameter, sum of within-set squared distances, mean)."""
    sub = D[np.ix_(S, S)]
    return (float(sub.max()), float(sub.sum()), tuple(X[list(S)].mean(axis=0)))


def mda(X, f):
    """Mean of the n-f rows of minimum diameter; canonical tie-break (see _subset_key)."""
    X = _f64(X)
    n = X.shape[0]
    D = sq_distances(X)
    best = None
    for S in itertools.combinations(range(n), n - f):
        key = _subset_key(D, S, X)
        if best is None or key < best[0]:
            best = (key, S)
    return X[list(best[1])].mean(axis=0)


#: SMEA: largest eigenvalues within this relative distance of the smallest one count as tied.
SMEA_TIE_RTOL = 1e-9


def smea(X, f):
    """Mean of the n-f rows whose empirical covariance has the smallest largest eigenvalue.

    Canonical tie-break: eigenvalues within a relative SMEA_TIE_RTOL of the smallest count as tied
    (eigensolvers are exact only to rounding); among those, the smallest within-set sum of squared
    distances, then the lexicographically smallest mean (as MDA's _subset_key)."""
    X = _f64(X)
    n = X.shape[0]
    D = sq_distances(X)
    cands = []
    for S in itertools.combinations(range(n), n - f):
        Y = X[list(S)]
        C = Y - Y.mean(axis=0)
        # largest eigenvalue of C^T C / |S| equals that of the small Gram matrix C C^T / |S|
        lam = max(float(np.linalg.eigvalsh(C @ C.T / len(S))[-1]), 0.0)
        cands.append((lam, S))
    lam_min = min(lam for lam, _ in cands)
    best = None
    for lam, S in cands:
        if lam <= lam_min + SMEA_TIE_RTOL * lam_min:
            key = _subset_key(D, S, X)[1:]
            if best is None or key < best[0]:
                best = (key, S)
    return X[list(best[1])].mean(axis=0)


def caf(X, f):
    """Covariance-bound agnostic filter, straight from its definition: weighted mean, d x d
    weighted covariance, its top eigenvector, squared projections, ``c_i *= 1 - tau_i / tau_max``
    (max over the rows still weighted) while ``sum(c) > n - 2f``; the mean of the smallest top
    eigenvalue met (the average when f = 0)."""
    X = _f64(X)
    n = X.shape[0]
    c = np.ones(n)
    best_lam, best_mu = math.inf, X.mean(axis=0)
    while c.sum() > n - 2 * f:
        w = c / c.sum()
        mu = w @ X
        Y = X - mu
        lams, V = np.linalg.eigh((Y * w[:, None]).T @ Y)
        lam = max(float(lams[-1]), 0.0)
        if lam < best_lam:
            best_lam, best_mu = lam, mu
        if lam == 0.0:
            break
        tau = (Y @ V[:, -1]) ** 2
        live = c > 0
        tmax = tau[live].max()
        if not tmax > 0:
            break
        c = np.where(live, c * np.maximum(1.0 - tau / tmax, 0.0), 0.0)
        c[live & (tau >= tmax * (1.0 - 1e-9))] = 0.0  # rows tied with tau_max up to rounding leave
    return best_mu


# ----------------------------------------------------------------------------------------------
# Clipping-based rules


def centered_clipping(X, f, *, tau=10.0, L=1, v0=None):
    """v <- v + (1/n) sum_i (X_i - v) min(1, tau/|X_i - v|), L times from v0 (default 0)."""
    X = _f64(X)
    v = np.zeros(X.shape[1]) if v0 is None else _f64(v0).copy()
    for _ in range(L):
        diff = X - v
        norms = np.sqrt((diff**2).sum(axis=1))
        scale = np.minimum(1.0, tau / np.where(norms > 0, norms, np.inf))
        v = v + (diff * scale[:, None]).mean(axis=0)
    return v


def monna(X, f, *, pivot=0):
    """Mean of the n-f rows closest (squared distance) to row ``pivot``, itself included."""
    X = _f64(X)
    n = X.shape[0]
    dist = ((X - X[pivot]) ** 2).sum(axis=1)
    sel = _argsort_stable(list(dist))[: n - f]
    return X[sel].mean(axis=0)


# ----------------------------------------------------------------------------------------------
# Pre-aggregators: each returns (X', f')


def nnm(X, f):
    """Nearest-neighbour mixing: each row becomes the mean of its n-f nearest rows (itself included)."""
    X = _f64(X)
    n = X.shape[0]
    D = sq_distances(X)
    out = np.empty_like(X)
    for i in range(n):
        sel = _argsort_stable(list(D[i]))[: n - f]
        out[i] = X[sel].mean(axis=0)
    return out, f


def bucketing(X, f, *, s=2, seed=None):
    """Random permutation (from ``seed``), buckets of s consecutive rows, one mean per bucket."""
    from .._random import as_generator

    X = _f64(X)
    n = X.shape[0]
    perm = as_generator(seed).permutation(n)
    nb = -(-n // s)
    out = np.array([X[perm[b * s : (b + 1) * s]].mean(axis=0) for b in range(nb)])
    return out, f


def static_clipping(X, f, *, c=1.0):
    """Scale each row to norm at most c."""
    X = _f64(X)
    norms = np.sqrt((X**2).sum(axis=1))
    scale = np.minimum(1.0, c / np.where(norms > 0, norms, np.inf))
    return X * scale[:, None], f


def arc(X, f):
    """Adaptive robust clipping: clip the k = floor(2 (f/n) (n-f)) largest-norm rows to the norm of
    the (k+1)-th largest."""
    X = _f64(X).copy()
    n = X.shape[0]
    k = int(math.floor(2.0 * f * (n - f) / n))
    if k == 0:
        return X, f
    norms = np.sqrt((X**2).sum(axis=1))
    order = sorted(range(n), key=lambda i: (-norms[i], i))
    c = norms[order[k]]
    for i in order[:k]:
        if norms[i] > c:
            X[i] *= c / norms[i]
    return X, f
