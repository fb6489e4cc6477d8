"""The Krum family: Krum, Multi-Krum, the Medoid and 1-p Krum (THEORY.md §1).

All four read one (n, n) matrix of squared distances, which is the whole O(n^2 d) cost; the
selections after it are O(n^2 log n). What they select is what the exact float64 distances (from
differences, :func:`._common.sq_distances`) select; for float32 input they get there faster through
certified float32 bounds (:class:`ScoreBounds`). Ties go to the smallest index (Krum, arXiv 1703.02757v1 footnote 3). The score
helpers here are shared with :mod:`._bulyan`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import _api, _reference
from ._common import (
    NonFiniteInput, chunk_bounds, nonfinite_rows, raise_if_nonfinite, sq_distances,
    sq_distances_bounded,
)
from ._coordinatewise import exact_rows
from ._registry import GarSpec, register
from .. import config
from .._random import as_generator
from .._validation import check_choice, check_int
from ..errors import InvalidArgument

__all__ = ["krum", "multi_krum", "medoid", "one_minus_p_krum"]

NEIGHBOURS = ("paper", "n-f-1")

_KRUM_PAPER = "Blanchard, El Mhamdi, Guerraoui, Stainer, NIPS 2017 (arXiv 1703.02757)"


# ----------------------------------------------------------------------------------------------
# Kernels shared by the Krum and Bulyan families


@njit(cache=True)
def _row_orders_serial(E):  # pragma: no cover - compiled
    """order[i] = the indices j sorted by E[i, j] (ties in any order: only values are summed)."""
    n = E.shape[0]
    order = np.empty((n, n), dtype=np.int64)
    for i in range(n):
        order[i] = np.argsort(E[i])
    return order


@njit(parallel=True, cache=True)
def _row_orders_parallel(E):  # pragma: no cover - compiled
    """:func:`_row_orders_serial` with the rows in parallel (the same orders)."""
    n = E.shape[0]
    order = np.empty((n, n), dtype=np.int64)
    for i in prange(n):
        order[i] = np.argsort(E[i])
    return order


def _row_orders(E: np.ndarray) -> np.ndarray:
    """The rows' orders; in parallel from n = 64 (0.9 ms at n = 128 on one thread, 4% of Krum at
    (128, 1e5); below, waking the threads costs more than the sorts)."""
    return _row_orders_parallel(E) if E.shape[0] >= 64 else _row_orders_serial(E)


@njit(cache=True)
def _scores(E, order, alive, k):  # pragma: no cover - compiled
    """Krum score of every alive row within the alive rows: the sum of its k smallest E[i, j],
    j alive and j != i, added in ascending order (inf for rows not alive)."""
    n = E.shape[0]
    s = np.full(n, np.inf)
    for i in range(n):
        if not alive[i]:
            continue
        acc = 0.0
        c = 0
        for t in range(n):
            if c >= k:
                break
            j = order[i, t]
            if j == i or not alive[j]:
                continue
            acc += E[i, j]
            c += 1
        s[i] = acc
    return s


@njit(parallel=True, cache=True)
def _mean_rows_kernel(X, rows, bounds, out):  # pragma: no cover - compiled
    """out = mean of X[rows] as X[r0] + (1/m) sum_t (X[rows[t]] - X[r0]), in float64, rows added in
    the given order: equal rows give their value exactly, and the order (by score) does not depend
    on how the inputs are numbered."""
    m = rows.shape[0]
    r0 = rows[0]
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        lo = bounds[c]
        hi = bounds[c + 1]
        w = hi - lo
        x0 = X[r0, lo:hi]
        acc = np.zeros(w, dtype=np.float64)
        for t in range(1, m):
            xr = X[rows[t], lo:hi]
            for k in range(w):
                acc[k] += np.float64(xr[k]) - np.float64(x0[k])
        o = out[lo:hi]
        for k in range(w):
            o[k] = np.float64(x0[k]) + acc[k] / m


def mean_rows(X: np.ndarray, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Mean of the rows ``X[rows]`` (in that order), accumulated in float64, in ``out`` (default: a
    new array of X's dtype)."""
    if out is None:
        out = np.empty(X.shape[1], dtype=X.dtype)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    _mean_rows_kernel(X, rows, chunk_bounds(X.shape[1], config.CPU_BLOCK, 4096), out)
    return out


def score_matrix(X: np.ndarray, squared: bool) -> np.ndarray:
    """The (n, n) float64 matrix Krum scores are sums of: squared distances, or distances."""
    D = sq_distances(X)
    return D if squared else np.sqrt(D)


#: Beyond this fraction of rows made exact one by one, :class:`ScoreBounds` computes the whole
#: exact matrix instead (a row costs n d, the matrix n^2 d / 2).
_EXACT_ROWS_FRACTION = 0.25


class ScoreBounds:
    """The matrix E that Krum scores sum (squared distances, or distances) as certified bounds
    ``lo <= E <= hi``, made exact row by row where a selection needs it. Raises
    :class:`._common.NonFiniteInput` if a row of X is not finite (:func:`._common.raise_if_nonfinite`:
    finite input is not scanned, so the rules built on it spare the wrapper its scan of X, about
    30% of Krum's time at (32, 1e7)).

    Float32 input starts from :func:`._common.sq_distances_bounded` (float32 arithmetic, twice
    the SIMD width, relative error about 2e-6); :func:`ranked` then only computes the exact
    float64 distances (from differences) of the rows whose score intervals could change the
    outcome: what is selected is exactly what the float64 computation selects, at about the cost
    of the float32 one. Float64 input (and float32 sums that overflow) start exact.

    A row's exact values come from :func:`._coordinatewise.exact_rows`, and only that row
    is updated (other rows keep their valid bounds, and each row's ``order`` sorts both its
    bounds). Two exact rows agree on their shared entry: ``(x - y)^2 == (y - x)^2`` in floating
    point, summed in the same fixed order.
    """

    def __init__(self, X: np.ndarray, squared: bool, fast: bool = True) -> None:
        self.X = X
        self.squared = squared
        n = X.shape[0]
        raise_if_nonfinite(X)  # a single row only: the distances reveal NaN/inf rows
        approx = sq_distances_bounded(X) if fast else None
        if approx is None:
            if fast and X.dtype == np.float32 and nonfinite_rows(X).any():
                raise NonFiniteInput  # the fast path fails on NaN/inf rows, or on an overflow
            self._set_exact_matrix()
            raise_if_nonfinite(X, self.lo)
            return
        D, rho, alpha = approx
        lo = np.maximum(D * (1.0 - rho) - alpha, 0.0)
        hi = D * (1.0 + rho) + alpha
        np.fill_diagonal(lo, 0.0)
        np.fill_diagonal(hi, 0.0)
        if not squared:  # sqrt is monotone and correctly rounded: one ulp each way keeps bounds
            lo = np.sqrt(lo) * (1.0 - 2.0**-52)
            hi = np.sqrt(hi) * (1.0 + 2.0**-52)
        self.lo, self.hi = lo, hi
        self.order = _row_orders(D)
        self.exact = np.zeros(n, dtype=np.bool_)

    def _set_exact_matrix(self) -> None:
        E = score_matrix(self.X, self.squared)
        self.lo = self.hi = E
        self.order = _row_orders(E)
        self.exact = np.ones(E.shape[0], dtype=np.bool_)

    def make_exact(self, rows: np.ndarray, phase: tuple[np.ndarray, int] | None = None):
        """Replace the bounds of ``rows`` by their exact values (one pass over X).

        With ``phase = (picks, beta)``, the same pass also computes Bulyan's coordinate phase of
        the rows ``picks`` (:func:`._coordinatewise.exact_rows`) and returns it; None when it
        did not (the whole exact matrix was computed instead) or without ``phase``."""
        n = self.X.shape[0]
        rows = np.array([i for i in rows if not self.exact[i]], dtype=np.int64)
        if self.exact.sum() + rows.size > _EXACT_ROWS_FRACTION * n:
            self._set_exact_matrix()
            return None
        picks, beta = phase if phase is not None else (None, 1)
        D, out = exact_rows(self.X, rows, picks, beta)
        E = D if self.squared else np.sqrt(D)
        self.lo[rows] = E
        self.hi[rows] = E
        self.order[rows] = np.argsort(E, axis=1)
        self.exact[rows] = True
        return out

    def scores(self, alive: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds on the Krum score (sum of the k smallest entries over the other alive rows) of
        every alive row; equal, and exact, for exact rows (inf for rows not alive)."""
        slo = _scores(self.lo, self.order, alive, k)
        if self.hi is self.lo:
            return slo, slo
        return slo, _scores(self.hi, self.order, alive, k)

    def _exact_ranking(self, alive: np.ndarray, k: int) -> np.ndarray:
        """Every alive row by (exact score, index), when the whole exact matrix is known: what the
        certification loops below return then, without their dozen small numpy calls (about a
        fifth of a float64 Krum at (10, 650))."""
        s = _scores(self.lo, self.order, alive, k)
        idx = np.flatnonzero(alive)
        return idx[np.lexsort((idx, s[idx]))]

    def ranked(self, alive: np.ndarray, k: int, count: int) -> np.ndarray:
        """The ``count`` alive rows of smallest exact score, ranked by (score, index).

        Rows whose lower bound exceeds the count-th smallest upper bound cannot rank; among the
        others, every row whose interval overlaps another's is made exact, until none does (or
        only exact rows overlap, which then compare exactly). The ranking by lower bounds is then
        the exact one.
        """
        if self.hi is self.lo:  # the exact matrix: rank by the exact scores at once
            return self._exact_ranking(alive, k)[:count]
        while True:
            slo, shi = self.scores(alive, k)
            idx = np.flatnonzero(alive)
            top = np.partition(shi[idx], count - 1)[count - 1]
            R = idx[slo[idx] <= top]
            a, b = slo[R], shi[R]
            overlap = (a[:, None] <= b[None, :]) & (a[None, :] <= b[:, None])
            np.fill_diagonal(overlap, False)
            # a degenerate interval (a == b: every term exact, e.g. k = 0) is an exact score
            unsure = R[overlap.any(axis=1) & ~self.exact[R] & (a != b)]
            if unsure.size == 0:
                return R[np.lexsort((R, a))][:count]
            self.make_exact(unsure)

    def smallest_set(self, alive: np.ndarray, k: int, count: int) -> np.ndarray:
        """The ``count`` alive rows of smallest exact score (ties by index), in index order.

        Only the boundary is certified: a row is in for sure when at least (alive - count) rows
        are surely worse, out for sure when ``count`` rows are surely better; the others are made
        exact and the boundary among them is drawn by (exact score, index).
        """
        if self.hi is self.lo:
            return np.sort(self._exact_ranking(alive, k)[:count])
        while True:
            slo, shi = self.scores(alive, k)
            idx = np.flatnonzero(alive)
            a, b = slo[idx], shi[idx]
            worse = (a[None, :] > b[:, None]).sum(axis=1)  # rows surely worse than each row
            better = (b[None, :] < a[:, None]).sum(axis=1)  # rows surely better than each row
            sure_in = worse >= idx.size - count
            unsure = ~sure_in & (better < count)
            if not (unsure & ~self.exact[idx] & (a != b)).any():
                rest = idx[unsure]
                rest = rest[np.lexsort((rest, slo[rest]))][: count - int(sure_in.sum())]
                return np.sort(np.concatenate([idx[sure_in], rest]))
            self.make_exact(idx[unsure & ~self.exact[idx] & (a != b)])


def neighbour_count(r: int, f: int, neighbours: str) -> int:
    """Neighbours in a Krum score among r rows: r-f-2 ("paper") or r-f-1, clamped to [0, r-1]."""
    k = r - f - 2 if neighbours == "paper" else r - f - 1
    return max(0, min(k, r - 1))


def krum_scores(X: np.ndarray, f: int, *, neighbours: str = "paper", squared: bool = True):
    """Krum score of every row of ``X`` (float64, exact); see :func:`krum`."""
    E = score_matrix(X, squared)
    n = E.shape[0]
    alive = np.ones(n, dtype=np.bool_)
    return _scores(E, _row_orders(E), alive, neighbour_count(n, f, neighbours))


def krum_ranking(X: np.ndarray, f: int, count: int, neighbours: str, squared: bool) -> np.ndarray:
    """The ``count`` rows of smallest Krum score, by (score, index), exactly as the float64
    scores rank them (:class:`ScoreBounds`)."""
    n = X.shape[0]
    alive = np.ones(n, dtype=np.bool_)
    return ScoreBounds(X, squared).ranked(alive, neighbour_count(n, f, neighbours), count)


def _check_krum_options(owner: str, neighbours: object, squared: object) -> None:
    check_choice(neighbours, "neighbours", NEIGHBOURS, owner=owner)
    if not isinstance(squared, bool | np.bool_):
        raise InvalidArgument(
            f"{owner}: squared must be True or False; got squared={squared!r} "
            f"(type={type(squared).__name__})"
        )


def check_m(owner: str, n: int, f: int, m: object) -> int | None:
    """Validate Multi-Krum's m: an integer with 1 <= m <= n-f (None: the default n-f)."""
    if m is None:
        return None
    hi = n - f
    if isinstance(m, bool) or not isinstance(m, int | np.integer):
        raise InvalidArgument(
            f"{owner}: m must be an integer with 1 <= m <= n-f = {hi}; got m={m!r} "
            f"(type={type(m).__name__})"
        )
    if not 1 <= int(m) <= hi:
        raise InvalidArgument(
            f"{owner}: m must satisfy 1 <= m <= n-f = {hi}; got m={m!r} (n={n}, f={f})"
        )
    return int(m)


# ----------------------------------------------------------------------------------------------
# The theory hooks (THEORY.md §1, §8.3)


def eta(n: int, f: int) -> float:
    r"""Krum's :math:`\eta(n, f)` (Blanchard et al. 2017, Prop. 1): the resilience condition is
    :math:`\eta \sqrt{d}\sigma < \|g\|` and the bias bound is
    :math:`\|E\,Kr - g\|^2 \le \eta^2 d\sigma^2`.

    .. math:: \eta(n, f) = \sqrt{2\left(n - f + \frac{f(n-f-2) + f^2(n-f-1)}{n-2f-2}\right)}

    Examples
    --------
    >>> round(eta(11, 2), 6)
    6.033241
    """
    return math.sqrt(2.0 * (n - f + (f * (n - f - 2) + f * f * (n - f - 1)) / (n - 2 * f - 2)))


def _krum_lambda(n: int, f: int) -> float:
    """(f, lambda)-resilient averaging constant of Krum (n-f-2 neighbours, squared) [derived]."""
    return 1.0 + math.sqrt((n - f - 2) / (n - 2 * f - 2))


_ETA_SOURCE = "Blanchard et al. 2017, Prop. 1 [paper] (THEORY.md §1)"

KRUM_THEORY = {
    "eta": eta,
    "eta_source": _ETA_SOURCE,
    "variance_norm_ratio": lambda n, f: 1.0 / eta(n, f),
    "lambda": _krum_lambda,
    "breakdown": lambda n: (n - 3) // 2,
    "source": "eta: " + _ETA_SOURCE + "; lambda: THEORY.md §8.3 [derived], for "
    "neighbours='paper', squared=True; variance_norm_ratio = 1/eta: LPD upper_bound [code]; "
    "breakdown = the largest f with n >= 2f+3",
}


# ----------------------------------------------------------------------------------------------
# Krum


def _krum_index(X: np.ndarray, f: int, neighbours: str, squared: bool) -> int:
    return int(krum_ranking(X, f, 1, neighbours, squared)[0])


def _krum_impl(X: np.ndarray, f: int, *, neighbours: str = "paper", squared: bool = True):
    return X[_krum_index(X, f, neighbours, squared)].copy()


def _krum_check(n: int, f: int, *, neighbours: str = "paper", squared: bool = True) -> None:
    _check_krum_options("krum", neighbours, squared)


def krum(X, f, *, neighbours="paper", squared=True, pre=(), nonfinite="drop", target="cpu"):
    r"""Krum: the input closest to its n-f-2 nearest neighbours (Blanchard et al., NIPS 2017).

    .. math::

        s(i) = \sum_{i \to j} \|X_i - X_j\|^2, \qquad
        \mathrm{Kr}(X_1, \dots, X_n) = X_{i^*}, \quad i^* = \operatorname{argmin}_i s(i)

    where :math:`i \to j` means that :math:`X_j` is one of the n-f-2 rows closest to :math:`X_i`
    (j != i). Ties go to the smallest index.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    neighbours : {"paper", "n-f-1"}
        Neighbours in a score: n-f-2 as in the paper, or n-f-1 as in byzfl and the LPD-EPFL code
        (whose Lemma-2 count includes the zero self-distance, THEORY.md §1).
    squared : bool, default True
        Sum squared distances (the paper) or plain distances (LPD-EPFL code, ``squared=False``).
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        A copy of the selected input row, in the dtype of ``X``.

    Notes
    -----
    Requirement: n >= 2f+3. Complexity: O(n^2 d) for the distances (float64, from differences),
    O(n^2 log n) for the scores. Exact ties make the choice depend on the numbering, and they are
    not rare: with n = 2f+3 a score has one neighbour, so two mutual nearest neighbours tie.
    Under Prop. 1 of the paper, Krum is (alpha, f)-Byzantine resilient when
    :math:`\eta(n, f)\sqrt{d}\sigma < \|g\|` (see :func:`eta`).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import krum
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    >>> krum(X, f=1)
    array([0., 0.])
    """
    return _api.run(
        "krum", X, f, pre=pre, nonfinite=nonfinite, target=target,
        neighbours=neighbours, squared=squared,
    )


# ----------------------------------------------------------------------------------------------
# Multi-Krum


def _multi_krum_impl(
    X: np.ndarray, f: int, *, m=None, neighbours: str = "paper", squared: bool = True
):
    n = X.shape[0]
    m = n - f if m is None else int(m)
    alive = np.ones(n, dtype=np.bool_)
    k = neighbour_count(n, f, neighbours)
    # the mean of the selected set, rows added in index order: only the set has to be certified
    return mean_rows(X, ScoreBounds(X, squared).smallest_set(alive, k, m))


def _multi_krum_check(n: int, f: int, *, m=None, neighbours="paper", squared=True) -> None:
    _check_krum_options("multi_krum", neighbours, squared)
    check_m("multi_krum", n, f, m)


def multi_krum(
    X, f, *, m=None, neighbours="paper", squared=True, pre=(), nonfinite="drop", target="cpu"
):
    r"""Multi-Krum: the mean of the m inputs with the smallest Krum scores, scores computed once.

    .. math:: \mathrm{MKr}(X_1, \dots, X_n) = \frac{1}{m} \sum_{i \in M} X_i

    where M holds the m rows with the smallest Krum scores :math:`s(i)` (see :func:`krum`), ties
    broken by index. m = 1 is Krum, m = n is averaging. This is "Definition A" of THEORY.md §1 (NIPS
    2017 main paper; El-Mhamdi & Guerraoui, arXiv 1905.04374v1), not the iterated m-Krum of
    arXiv 1703.02757v1 §6.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    m : int, optional
        Number of rows averaged, 1 <= m <= n-f; default n-f (arXiv 1905.04374 footnote 5; byzfl).
        The LPD-EPFL code uses m = n-f-2.
    neighbours : {"paper", "n-f-1"}
        Neighbours in a score (see :func:`krum`).
    squared : bool, default True
        Squared (paper) or plain (LPD-EPFL code) distances in the scores.
    pre, nonfinite, target
        See :func:`p2pbyz.gars.aggregate`.

    Returns
    -------
    ndarray, shape (d,)
        The mean, in the dtype of ``X`` (accumulated in float64, rows added in index order).

    Notes
    -----
    Requirement: n >= 2f+3. Complexity: O(n^2 d + md). Exact score ties across the m-th place
    go to the smaller index (see :func:`krum`), so the rule depends on the numbering there.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import multi_krum
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    >>> multi_krum(X, f=1)
    array([0.5, 0.5])
    """
    return _api.run(
        "multi_krum", X, f, pre=pre, nonfinite=nonfinite, target=target,
        m=m, neighbours=neighbours, squared=squared,
    )


# ----------------------------------------------------------------------------------------------
# Medoid


def _medoid_impl(X: np.ndarray, f: int):
    # the medoid is the row of smallest Krum-style score over all n-1 others, unsquared distances
    n = X.shape[0]
    alive = np.ones(n, dtype=np.bool_)
    return X[int(ScoreBounds(X, False).ranked(alive, n - 1, 1)[0])].copy()


def medoid(X, f, *, pre=(), nonfinite="drop", target="cpu"):
    r"""The Medoid: the input minimising the sum of (unsquared) distances to all inputs.

    .. math:: \mathrm{Med}(X_1, \dots, X_n) = X_{i^*}, \quad
              i^* = \operatorname{argmin}_i \sum_{j=1}^{n} \|X_i - X_j\|

    A computable variant of the geometric median (Krum supplement §4); ties go to the smallest
    index, as the supplement states.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    pre, nonfinite, target
        See :func:`p2pbyz.gars.aggregate`.

    Returns
    -------
    ndarray, shape (d,)
        A copy of the selected input row, in the dtype of ``X``.

    Notes
    -----
    Requirement: n >= 2f+1. The supplement states no requirement; this is the majority condition,
    under which the honest rows outweigh the Byzantine ones in every sum (THEORY.md §1, §7).
    Complexity: O(n^2 d).

    Ties: on collinear inputs (always in d = 1) with an even number of points, every input between
    the two middle ones has the same sum of distances; the smallest index wins (as in the example
    below), so the output then depends on the order of the rows, and rounding may break the tie
    differently after a translation. On generic inputs in d >= 2 the minimiser is unique.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import medoid
    >>> medoid(np.array([[0.0], [1.0], [2.0], [100.0]]), f=1)
    array([1.])
    """
    return _api.run("medoid", X, f, pre=pre, nonfinite=nonfinite, target=target)


# ----------------------------------------------------------------------------------------------
# 1-p Krum


def _one_minus_p_krum_impl(
    X: np.ndarray, f: int, *, t=1, seed=None, neighbours: str = "paper", squared: bool = True
):
    from ._average import _average_impl

    u = as_generator(seed).random()
    if u < 1.0 / math.sqrt(t):
        return _average_impl(X, f)
    return _krum_impl(X, f, neighbours=neighbours, squared=squared)


def _one_minus_p_krum_check(
    n: int, f: int, *, t=1, seed=None, neighbours="paper", squared=True
) -> None:
    if isinstance(t, float):
        raise InvalidArgument(f"one_minus_p_krum: t must be an integer; got t={t!r} (type=float)")
    check_int(t, "t", minimum=1, owner="one_minus_p_krum")
    if not isinstance(seed, np.random.Generator):
        try:
            as_generator(seed)
        except InvalidArgument as exc:
            raise InvalidArgument(f"one_minus_p_krum: {exc}") from None
    _check_krum_options("one_minus_p_krum", neighbours, squared)


def one_minus_p_krum(
    X, f, *, t=1, seed=None, neighbours="paper", squared=True, pre=(), nonfinite="drop",
    target="cpu",
):
    r"""1-p Krum: at round t, the average with probability :math:`p_t = 1/\sqrt{t}`, else Krum.

    .. math::

        F_t(X_1, \dots, X_n) =
        \begin{cases} \frac{1}{n}\sum_i X_i & \text{if } u < 1/\sqrt{t} \\
                      \mathrm{Kr}(X_1, \dots, X_n) & \text{otherwise} \end{cases}

    with one uniform draw :math:`u \sim U[0, 1)` from ``seed`` (Krum supplement §4). Round 1
    always averages; the probability of choosing Krum goes to 1 as t grows.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    t : int, default 1
        The round number, t >= 1.
    seed : None, int, SeedSequence or Generator
        Source of the draw (a Generator is used as is, so a training loop can share one stream).
    neighbours, squared
        Options of the Krum branch (see :func:`krum`).
    pre, nonfinite, target
        See :func:`p2pbyz.gars.aggregate`.

    Returns
    -------
    ndarray, shape (d,)
        The average or Krum's choice, in the dtype of ``X``.

    Notes
    -----
    Requirement: n >= 2f+3 (Krum's, checked in every round so that a configuration is valid or
    not whatever the draw). Complexity: O(nd) when averaging, O(n^2 d) for Krum.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import one_minus_p_krum
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [94.0]])
    >>> one_minus_p_krum(X, f=1, t=1, seed=0)
    array([20.])
    """
    return _api.run(
        "one_minus_p_krum", X, f, pre=pre, nonfinite=nonfinite, target=target,
        t=t, seed=seed, neighbours=neighbours, squared=squared,
    )


# ----------------------------------------------------------------------------------------------
# Registration

# Krum-scored rules are not permutation invariant: with n-f-2 = 1 neighbour (n = 2f+3) two mutual
# nearest neighbours always have the same score, an exact tie that the smaller index wins.
_KRUM_PROPS = frozenset(
    {"translation_equivariant", "honest_value_exact", "bounded_under_attack", "selects_input"}
)

register(
    GarSpec(
        name="krum",
        public=krum,
        impl=_krum_impl,
        reference=_reference.krum,
        requirement="n >= 2f+3",
        requires=lambda n, f: n >= 2 * f + 3,
        complexity="O(n^2 d)",
        paper=_KRUM_PAPER + ", Prop. 1",
        check=_krum_check,
        properties=_KRUM_PROPS,
        theory=KRUM_THEORY,
        detects_nonfinite=True,  # ScoreBounds checks its distance matrix
    )
)

register(
    GarSpec(
        name="multi_krum",
        public=multi_krum,
        impl=_multi_krum_impl,
        reference=_reference.multi_krum,
        requirement="n >= 2f+3",
        requires=lambda n, f: n >= 2 * f + 3,
        complexity="O(n^2 d)",
        paper=_KRUM_PAPER + "; El-Mhamdi & Guerraoui, arXiv 1905.04374v1, Lemma 1 and Theorem 1",
        check=_multi_krum_check,
        properties=frozenset(
            {"translation_equivariant", "honest_value_exact", "bounded_under_attack"}
        ),
        theory={
            "eta": eta,
            "eta_source": _ETA_SOURCE + "; the same bound is expected for Multi-Krum with m <= n-f "
            "(1905.04374v1 Lemma 1) [unverified]",
            "variance_norm_ratio": lambda n, f: 1.0 / eta(n, f),
            "breakdown": lambda n: (n - 3) // 2,
            "source": "eta: " + _ETA_SOURCE + " [unverified] for Multi-Krum; breakdown = the "
            "largest f with n >= 2f+3",
        },
        detects_nonfinite=True,  # ScoreBounds checks its distance matrix
    )
)

register(
    GarSpec(
        name="medoid",
        public=medoid,
        impl=_medoid_impl,
        reference=_reference.medoid,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(n^2 d)",
        paper=_KRUM_PAPER + ", supplementary material §4",
        # Not permutation invariant or translation equivariant: on collinear inputs (d = 1 above
        # all) with an even count, every point between the two middle ones minimises the sum,
        # and rounding plus the smallest-index rule decide (see the docstring).
        properties=_KRUM_PROPS - {"translation_equivariant"},
        theory={
            "breakdown": lambda n: (n - 1) // 2,
            "source": "breakdown = the largest f with n >= 2f+1 (majority condition) [derived]; "
            "the supplement states no requirement",
        },
        detects_nonfinite=True,  # ScoreBounds checks its distance matrix
    )
)

register(
    GarSpec(
        name="one_minus_p_krum",
        public=one_minus_p_krum,
        impl=_one_minus_p_krum_impl,
        reference=_reference.one_minus_p_krum,
        requirement="n >= 2f+3",
        requires=lambda n, f: n >= 2 * f + 3,
        complexity="O(n^2 d)",
        paper=_KRUM_PAPER + ", supplementary material §4",
        check=_one_minus_p_krum_check,
        properties=frozenset({"randomized"}),
        theory={
            "p_average": lambda t: 1.0 / math.sqrt(t),
            "source": "Krum supplement §4 [paper]: average with probability 1/sqrt(t), else Krum",
        },
    )
)
