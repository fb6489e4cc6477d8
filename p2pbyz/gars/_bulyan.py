"""The Bulyan family: Bulyan over Krum and Multi-Bulyan over Multi-Krum (THEORY.md §2, §3).

Both run theta Krum-scored selections on a shrinking set, then a coordinate phase. The distances are
computed once (:class:`._krum.ScoreBounds`: float32 bounds made exact where a step needs it, the
O(n^2 d) cost); at every step the scores are *recomputed* on the remaining rows from that matrix
(O(n^2) with each row's neighbours sorted once), never carried over from the previous step as the
LPD-EPFL Python code does (THEORY.md §3).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import _api, _reference
from ._common import group_means
from ._coordinatewise import group_closest_mean
from ._krum import ScoreBounds, _check_krum_options, _scores, check_m, eta
from ._registry import GarSpec, register
from ..errors import InvalidArgument

__all__ = ["bulyan", "multi_bulyan"]

_BULYAN_PAPER = (
    "El Mhamdi, Guerraoui, Rouault, 'The Hidden Vulnerability of Distributed Learning in "
    "Byzantium', ICML 2018 (arXiv 1802.07927)"
)
_MULTI_BULYAN_PAPER = (
    "El-Mhamdi & Guerraoui, arXiv 1905.04374v1, Theorem 2; El-Mhamdi, Guerraoui, Rouault, "
    "'Fast and Robust Distributed Learning in High Dimension' (v2); AggregaThor C++ kernel"
)


def _iterated_selection(E, f, theta, paper, m, phase_beta=None):
    """theta selection steps on the shrinking set R (all rows at first); E is a
    :class:`._krum.ScoreBounds`, so every step selects what the exact float64 scores select.

    At step k, |R| = n-k and every row of R is scored within R with neighbour count
    |R|-f-2 (``paper``) or |R|-f-1, clamped to [0, |R|-1] (THEORY.md §2, inner-Krum corner case).
    The rows of R are ranked by (score, index); the first leaves R. With ``m > 0`` (Multi-Bulyan)
    step k also records the set of the max(1, m-k) best-ranked rows (at most |R|), in index
    order, whose mean is the step's selected vector. Returns (picks, groups, sizes).

    From float32 bounds (:func:`_bounded_steps`), the steps run certified until one cannot
    separate its candidates; the rest run speculatively to collect every row a later step may
    need exact, all made exact in one pass over X, and the steps resume from the first unsure one.
    Measured at (128, 1e5), Gaussian rows, f = 16 and 31: 4-8 rows made exact, in one pass.
    Multi-Bulyan certifies its groups as sets (only their boundary): at (32, 1e6), f = 4, m =
    n-f, 21 of 32 rows needed exact values when the group's order was certified too.

    With ``phase_beta`` (Bulyan), that pass also runs the coordinate phase on the speculative
    selection, whose *set* (all the phase depends on) was the final one in 48 of 48 random
    trials at n = 10 .. 128: the fourth output is then ``(set of picks, phase output)``, else
    None.
    """
    n = E.X.shape[0]
    picks = np.empty(theta, dtype=np.int64)
    groups = np.zeros((theta, max(1, m)), dtype=np.int64)
    sizes = np.ones(theta, dtype=np.int64)
    alive = np.ones(n, dtype=np.bool_)
    step = 0
    fused = None
    while not E.exact.all():
        step, unsure = _bounded_steps(E.lo, E.hi, E.order, E.exact, f, theta, paper, m, step,
                                      alive, picks, groups, sizes)
        if step == theta:
            return picks, groups, sizes, fused
        if phase_beta is not None and fused is None:
            spec = picks.copy()  # certified before ``step``, speculative from it on
            out = E.make_exact(np.flatnonzero(unsure), (spec, phase_beta))
            if out is not None:
                fused = (frozenset(spec.tolist()), out)
        else:
            E.make_exact(np.flatnonzero(unsure))
    return (*_iterated_selection_exact(E.lo, E.order, f, theta, paper, m), fused)


@njit(cache=True)
def _bounded_steps(lo, hi, order, exact, f, theta, paper, m, step0, alive, picks, groups,
                   sizes):  # pragma: no cover - compiled
    """Steps ``step0 .. theta-1`` of :func:`_iterated_selection` on score bounds, in place.

    A row is *unsure* when it is not exact and its interval leaves a step's outcome open:
    - the pick (the row of smallest score): the rows that can be smallest are those whose lower
      bound is at most the smallest upper bound; among them, a row whose interval meets another's;
    - with ``m > 0``, the set of the mk best (Multi-Bulyan's group, :meth:`._krum.ScoreBounds
      .smallest_set`): a row is surely in when at least r - mk rows are surely worse, surely out
      when mk rows are surely better; a row that is neither. Only the set's boundary counts,
      not the order within the set (the group's mean adds its rows in index order).
    Without unsure rows the step is decided exactly: the pick by (lower bound, index) among its
    candidates, and the group as the surely-in rows plus the best of the undecided (all exact)
    by (lower bound, index). From the first step with unsure rows on, the steps go on
    speculatively (deciding by lower bounds) only to collect the unsure rows of later steps.
    Returns ``(stop, unsure)``: steps before ``stop`` are certified and recorded, and ``alive``
    is the alive set after them; ``stop == theta`` when all are.
    """
    n = lo.shape[0]
    unsure = np.zeros(n, dtype=np.bool_)
    stop = theta
    saved = alive.copy()
    for step in range(step0, theta):
        r = n - step
        k = r - f - 2 if paper else r - f - 1
        k = max(0, min(k, r - 1))
        slo, shi = _score_bounds(lo, hi, order, alive, k)
        idx = np.flatnonzero(alive)
        found = False
        # the pick
        cand = idx[slo[idx] <= np.min(shi[idx])]
        for a in range(cand.shape[0]):
            i = cand[a]
            if exact[i] or slo[i] == shi[i]:  # degenerate: the exact score (e.g. k = 0)
                continue
            for b in range(cand.shape[0]):
                j = cand[b]
                if j != i and slo[i] <= shi[j] and slo[j] <= shi[i]:
                    unsure[i] = True
                    found = True
                    break
        ranked = cand[np.argsort(slo[cand], kind="mergesort")]  # cand is in index order
        pick = ranked[0]
        mk = 1
        if m > 0:
            mk = max(1, min(m - step, r))
            state = np.zeros(r, dtype=np.int64)  # 1 surely in, -1 surely out, 0 undecided
            nin = 0
            for a in range(r):
                i = idx[a]
                worse = 0
                better = 0
                for b in range(r):
                    j = idx[b]
                    if slo[j] > shi[i]:
                        worse += 1
                    if shi[j] < slo[i]:
                        better += 1
                if worse >= r - mk:
                    state[a] = 1
                    nin += 1
                elif better >= mk:
                    state[a] = -1
                elif not exact[i] and slo[i] != shi[i]:
                    unsure[i] = True
                    found = True
            rest = idx[state == 0]
            rest = rest[np.argsort(slo[rest], kind="mergesort")][: mk - nin]
            group = np.sort(np.concatenate((idx[state == 1], rest)))
            groups[step, :mk] = group
        else:
            groups[step, 0] = pick
        if found and stop == theta:
            stop = step
            saved[:] = alive
        sizes[step] = mk
        picks[step] = pick
        alive[pick] = False
    if stop < theta:
        alive[:] = saved
    return stop, unsure


@njit(cache=True)
def _score_bounds(lo, hi, order, alive, k):  # pragma: no cover - compiled
    """:func:`._krum._scores` of ``lo`` and of ``hi`` in one sweep of the shared row orders: the
    same terms added in the same (ascending) order, so exact rows get their exact score."""
    n = lo.shape[0]
    slo = np.full(n, np.inf)
    shi = np.full(n, np.inf)
    for i in range(n):
        if not alive[i]:
            continue
        a = 0.0
        b = 0.0
        c = 0
        for t in range(n):
            if c >= k:
                break
            j = order[i, t]
            if j == i or not alive[j]:
                continue
            a += lo[i, j]
            b += hi[i, j]
            c += 1
        slo[i] = a
        shi[i] = b
    return slo, shi


@njit(cache=True)
def _iterated_selection_exact(E, order, f, theta, paper, m):  # pragma: no cover - compiled
    """:func:`_iterated_selection` on an exact matrix, compiled (no bounds to certify): the same
    steps, ranks and outputs."""
    n = E.shape[0]
    alive = np.ones(n, dtype=np.bool_)
    picks = np.empty(theta, dtype=np.int64)
    width = max(1, m)
    groups = np.zeros((theta, width), dtype=np.int64)
    sizes = np.ones(theta, dtype=np.int64)
    for step in range(theta):
        r = n - step
        k = r - f - 2 if paper else r - f - 1
        k = max(0, min(k, r - 1))
        s = _scores(E, order, alive, k)
        idx = np.empty(r, dtype=np.int64)
        c = 0
        for i in range(n):
            if alive[i]:
                idx[c] = i
                c += 1
        if m > 0:
            ranked = idx[np.argsort(s[idx], kind="mergesort")]
            mk = max(1, min(m - step, r))
            groups[step, :mk] = np.sort(ranked[:mk])
            sizes[step] = mk
            pick = ranked[0]
        else:
            pick = idx[0]
            for t in range(1, r):
                if s[idx[t]] < s[pick]:
                    pick = idx[t]
            groups[step, 0] = pick
        picks[step] = pick
        alive[pick] = False
    return picks, groups, sizes


def _theta_beta(n: int, f: int, theta) -> tuple[int, int]:
    theta = n - 2 * f if theta is None else int(theta)
    return theta, theta - 2 * f


def _coordinate_phase(S: np.ndarray, beta: int, rows: np.ndarray | None = None) -> np.ndarray:
    from ._coordinatewise import closest_mean_to_median

    return closest_mean_to_median(S, beta, kind="midpoint", rows=rows)


def _check_theta(owner: str, n: int, f: int, theta) -> None:
    if theta is None:
        return
    lo, hi = 2 * f + 1, n - 2 * f
    if isinstance(theta, bool) or not isinstance(theta, int | np.integer):
        raise InvalidArgument(
            f"{owner}: theta must be an integer with 2f+1 <= theta <= n-2f, i.e. "
            f"{lo} <= theta <= {hi}; got theta={theta!r} (type={type(theta).__name__})"
        )
    if not lo <= int(theta) <= hi:
        raise InvalidArgument(
            f"{owner}: theta must satisfy 2f+1 <= theta <= n-2f, i.e. {lo} <= theta <= {hi}; "
            f"got theta={theta!r} (n={n}, f={f})"
        )


def selection_indices(X: np.ndarray, f: int, *, theta=None, neighbours="paper", squared=True):
    """The theta row indices Bulyan's selection phase picks, in the order it picks them."""
    n = X.shape[0]
    theta, _ = _theta_beta(n, f, theta)
    E = ScoreBounds(X, squared)  # see _iterated_selection
    return _iterated_selection(E, f, theta, neighbours == "paper", 0)[0]


# ----------------------------------------------------------------------------------------------
# Bulyan


def _bulyan_impl(X: np.ndarray, f: int, *, theta=None, neighbours="paper", squared=True):
    theta, beta = _theta_beta(X.shape[0], f, theta)
    E = ScoreBounds(X, squared)  # see _iterated_selection
    picks, _, _, fused = _iterated_selection(E, f, theta, neighbours == "paper", 0, beta)
    if fused is not None and fused[0] == frozenset(picks.tolist()):
        return fused[1]  # the phase ran in the pass that made the unsure rows exact
    # the selected rows are read in place: copying theta rows costs as much as the phase itself
    return _coordinate_phase(X, beta, np.asarray(picks, dtype=np.int64))


def _bulyan_check(n: int, f: int, *, theta=None, neighbours="paper", squared=True) -> None:
    _check_krum_options("bulyan", neighbours, squared)
    _check_theta("bulyan", n, f, theta)


def bulyan(
    X, f, *, theta=None, neighbours="paper", squared=True, pre=(), nonfinite="drop", target="cpu"
):
    r"""Bulyan over Krum (El Mhamdi, Guerraoui, Rouault, ICML 2018).

    Selection: starting from R = all inputs, theta times apply Krum to R and move its choice to S
    (the scores are recomputed on the remaining R at every step). Aggregation, per coordinate k:

    .. math:: \mathrm{Bulyan}(X)_k = \frac{1}{\beta} \sum_{X \in M_k} X_k, \qquad
              \beta = \theta - 2f,

    with :math:`M_k` the :math:`\beta` members of S whose k-th coordinates are closest to
    :math:`\mathrm{median}_{X \in S} X_k` (midpoint median; the tie between ``med - a`` and
    ``med + a`` goes to the smaller value).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    theta : int, optional
        Number of selections, 2f+1 <= theta <= n-2f; default n-2f (the paper). theta = n-2f-2
        (beta = n-4f-2) gives the LPD-EPFL / AggregaThor variant.
    neighbours : {"paper", "n-f-1"}
        Neighbours in the inner Krum scores: |R|-f-2 or |R|-f-1 for |R| remaining rows, clamped
        at 0. On the last two steps (|R| = 2f+2, 2f+1) Krum's own requirement fails and the count
        is f, then f-1 (THEORY.md §2, "Inner-Krum corner case").
    squared : bool, default True
        Squared (paper) or plain distances in the inner Krum scores.
    pre, nonfinite, target
        See :func:`p2pbyz.gars.aggregate`.

    Returns
    -------
    ndarray, shape (d,)
        The aggregate, in the dtype of ``X`` (sums accumulated in float64).

    Notes
    -----
    Requirement: n >= 4f+3. Complexity: O(n^2 d + theta n^2 + theta d): the distances once, theta
    re-scorings from the stored matrix, the coordinate phase. Per coordinate the output lies
    within r_k of the selected set's median, r_k the range of the honest selected values
    (THEORY.md §2 [derived]); Bulyan inherits Krum's (alpha, f)-resilience. The inner Krum's exact
    ties go to the smaller index (on the last steps the neighbour count can reach 0 and every
    remaining score tie), so the selection can depend on the numbering of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import bulyan
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [100.0]])
    >>> bulyan(X, f=1)
    array([2.5])
    """
    return _api.run(
        "bulyan", X, f, pre=pre, nonfinite=nonfinite, target=target,
        theta=theta, neighbours=neighbours, squared=squared,
    )


# ----------------------------------------------------------------------------------------------
# Multi-Bulyan


def _multi_bulyan_impl(
    X: np.ndarray, f: int, *, theta=None, m=None, neighbours="paper", squared=True
):
    n, d = X.shape
    theta, beta = _theta_beta(n, f, theta)
    m = n - f if m is None else int(m)
    E = ScoreBounds(X, squared)  # see _iterated_selection
    _, groups, sizes, _ = _iterated_selection(E, f, theta, neighbours == "paper", m)
    # each step's group mean as Multi-Krum's (mean_rows' arithmetic, rows in index order), and
    # the coordinate phase over them, block by block: the (theta, d) means are never stored
    # (at (32, 1e6) their page faults and round trip through memory were half the time)
    flat = np.concatenate([groups[g, : sizes[g]] for g in range(theta)])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    out = group_closest_mean(X, flat, starts, beta)
    if out is not None:
        return out
    return _coordinate_phase(group_means(X, flat, starts, centered=True), beta)


def _multi_bulyan_check(
    n: int, f: int, *, theta=None, m=None, neighbours="paper", squared=True
) -> None:
    _check_krum_options("multi_bulyan", neighbours, squared)
    _check_theta("multi_bulyan", n, f, theta)
    check_m("multi_bulyan", n, f, m)


def multi_bulyan(
    X, f, *, theta=None, m=None, neighbours="paper", squared=True, pre=(), nonfinite="drop",
    target="cpu",
):
    r"""Multi-Bulyan: Bulyan over Multi-Krum (El-Mhamdi & Guerraoui, arXiv 1905.04374).

    Selection, in the AggregaThor form: for k = 0 .. theta-1, score the remaining rows R within R
    (recomputed every step), rank them by (score, index), take as the k-th selected vector the mean
    of the :math:`\max(1, m-k)` best-ranked rows (Multi-Krum's mean of R), then remove the
    best-ranked row from R.
    Aggregation, per coordinate, as in :func:`bulyan`:

    .. math:: \mathrm{MB}(X)_k = \frac{1}{\beta} \sum_{Y \in M_k} Y_k, \qquad \beta = \theta - 2f,

    :math:`M_k` the :math:`\beta` selected vectors whose k-th coordinates are closest to their
    median.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs.
    theta : int, optional
        Number of selections, 2f+1 <= theta <= n-2f; default n-2f. theta = n-2f-2 with m = n-f-2
        gives the AggregaThor defaults.
    m : int, optional
        Rows averaged at the first step, 1 <= m <= n-f; default n-f (v2 abstract).
    neighbours : {"paper", "n-f-1"}
        Neighbours in the inner scores (see :func:`bulyan`).
    squared : bool, default True
        Squared (paper) or plain distances in the inner scores.
    pre, nonfinite, target
        See :func:`p2pbyz.gars.aggregate`.

    Returns
    -------
    ndarray, shape (d,)
        The aggregate, in the dtype of ``X`` (means and sums accumulated in float64; the selected
        vectors are stored in the dtype of ``X``). A step's mean is computed as Multi-Krum's:
        ``x0 + sum(x - x0) / m``, its rows in index order from the first, x0 (so the first
        step's vector is ``multi_krum(X, f, m=m)``, bit for bit).

    Notes
    -----
    Requirement: n >= 4f+3 (Bulyan's, which implies Multi-Krum's n >= 2f+3). Complexity:
    O(n^2 d + theta n^2 + theta m d). Unlike the AggregaThor kernel, which subtracts the removed
    row's distances from the scores, the scores are recomputed with the neighbour count of the
    shrunk set.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import multi_bulyan
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [100.0]])
    >>> multi_bulyan(X, f=1)
    array([3.])
    """
    return _api.run(
        "multi_bulyan", X, f, pre=pre, nonfinite=nonfinite, target=target,
        theta=theta, m=m, neighbours=neighbours, squared=squared,
    )


# ----------------------------------------------------------------------------------------------
# Registration

_ETA_SOURCE = (
    "Krum's eta (Blanchard et al. 2017, Prop. 1) [paper]: Bulyan inherits the "
    "(alpha, f)-resilience of its inner rule (1905.04374v1) [paper]; LPD upper_bound uses "
    "1/eta [code]"
)

_BULYAN_THEORY = {
    "eta": eta,
    "eta_source": _ETA_SOURCE,
    "variance_norm_ratio": lambda n, f: 1.0 / eta(n, f),
    "leeway_radius": 1.0,
    "breakdown": lambda n: (n - 3) // 4,
    "source": "eta: " + _ETA_SOURCE + "; leeway_radius: |F_k - med_k| <= 1 * r_k, r_k the range of "
    "the honest selected values (THEORY.md §2) [derived]; breakdown = the largest f with n >= 4f+3",
}

# Not permutation invariant: the inner Krum's exact ties (mutual nearest neighbours with one
# neighbour, every score 0 with none on the last steps) go to the smaller index.
_BULYAN_PROPS = frozenset({"translation_equivariant", "bounded_under_attack"})

register(
    GarSpec(
        name="bulyan",
        public=bulyan,
        impl=_bulyan_impl,
        reference=_reference.bulyan,
        requirement="n >= 4f+3",
        requires=lambda n, f: n >= 4 * f + 3,
        complexity="O(n^2 d + theta n^2)",
        paper=_BULYAN_PAPER,
        check=_bulyan_check,
        properties=_BULYAN_PROPS,
        theory=_BULYAN_THEORY,
        detects_nonfinite=True,  # ScoreBounds checks its distance matrix
    )
)

register(
    GarSpec(
        name="multi_bulyan",
        public=multi_bulyan,
        impl=_multi_bulyan_impl,
        reference=_reference.multi_bulyan,
        requirement="n >= 4f+3",
        requires=lambda n, f: n >= 4 * f + 3,
        complexity="O(n^2 d + theta m d)",
        paper=_MULTI_BULYAN_PAPER,
        check=_multi_bulyan_check,
        properties=_BULYAN_PROPS,
        theory={**_BULYAN_THEORY, "slowdown": lambda n, f: (n - f) / n,
                "source": _BULYAN_THEORY["source"] + "; slowdown m/n with m = n-f (v2 abstract) "
                "[paper]"},
        detects_nonfinite=True,  # ScoreBounds checks its distance matrix
    )
)
