"""The pre-aggregators: NNM, bucketing, static clipping and ARC.

Each is registered once (:class:`~p2pbyz.preagg.PreSpec`) and composes before any rule:
``gars.aggregate("trimmed_mean", X, f=2, pre=["nnm"])`` or
``pre=[("bucketing", {"s": 2, "seed": 0})]``. The registered ``impl(X, f, **params)`` returns
``(X', f')`` on validated finite input; the public functions below validate like the rules
(argument checks, the requirement, the non-finite policy) and return the transformed array.

The group means of NNM and bucketing come from :func:`p2pbyz.gars._common.group_means`, whose
chunks of coordinates are fixed (independent of the thread count), so outputs are bit-identical
whatever the number of Numba threads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._random import as_generator
from .._validation import as_gradients, check_choice, check_int, check_real
from ..errors import InvalidArgument, RequirementError
from ..gars import _reference
from ..gars._api import NONFINITE, drop_nonfinite
from ..gars._clipping import sq_dist_to
from ..gars._common import group_means, sq_distances
from ._registry import PreSpec, register, spec

__all__ = ["nnm", "bucketing", "static_clipping", "arc"]


def _row_norms(X: np.ndarray) -> np.ndarray:
    return np.sqrt(sq_dist_to(X, np.zeros(X.shape[1], dtype=X.dtype)))


def _run(name: str, X: Any, f: Any, nonfinite: Any, params: dict[str, Any]) -> np.ndarray:
    """Validate like a rule, apply the non-finite policy, run the pre-aggregator, return X'."""
    pspec = spec(name)
    f = check_int(f, "f", minimum=0, owner=name)
    check_choice(nonfinite, "nonfinite", NONFINITE, owner=name)
    X = as_gradients(X, owner=name)

    def check(n: int, f: int) -> None:
        if not pspec.requires(n, f):
            raise RequirementError(f"{name} needs {pspec.requirement}; got n={n}, f={f}")
        if pspec.check is not None:
            pspec.check(n, f, **params)

    check(X.shape[0], f)
    X, f, dropped = drop_nonfinite(X, f, nonfinite, name)
    if dropped.size:
        check(X.shape[0], f)
    out, _ = pspec.impl(X, f, **params)
    return np.asarray(out, dtype=X.dtype)


# ----------------------------------------------------------------------------------------------
# NNM


def _nnm_impl(X: np.ndarray, f: int) -> tuple[np.ndarray, int]:
    n = X.shape[0]
    m = n - f
    D = sq_distances(X)
    sel = np.sort(np.argsort(D, axis=1, kind="stable")[:, :m], axis=1)
    return group_means(X, sel.reshape(-1), np.arange(0, n * m + 1, m)), f


def nnm(X, f, *, nonfinite="drop"):
    r"""Nearest-neighbour mixing: replace each row by the mean of its n-f nearest rows.

    .. math::

        X_i' = \frac{1}{n-f} \sum_{j \in N_i} X_j, \qquad
        N_i = \text{the } n-f \text{ rows nearest to } X_i \text{ (itself included)}

    Distances are squared Euclidean; on exact ties the smaller index wins. Compose it before an
    (f, kappa)-robust rule: ``gars.aggregate("trimmed_mean", X, f, pre=["nnm"])``; f is
    unchanged.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity ("drop" removes them and counts them against f, so
        fewer rows come out).

    Returns
    -------
    ndarray, shape (n, d)
        The mixed rows, in the dtype of ``X`` (accumulated in float64).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(n^2 d + n^2 log n).
    Reference: Allouah, Farhadkhani, Guerraoui, Gupta, Pinot, Stephan, "Fixing by Mixing",
    AISTATS 2023, arXiv 2302.01772; byzfl ``NNM``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.preagg import nnm
    >>> nnm(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]), f=1)
    array([[2.5, 3.5, 4.5],
           [2.5, 3.5, 4.5],
           [5.5, 6.5, 7.5]])
    """
    return _run("nnm", X, f, nonfinite, {})


register(
    PreSpec(
        name="nnm",
        public=nnm,
        impl=_nnm_impl,
        reference=_reference.nnm,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(n^2 d)",
        paper="Allouah et al., Fixing by Mixing, AISTATS 2023, arXiv 2302.01772",
    )
)


# ----------------------------------------------------------------------------------------------
# Bucketing


def _check_bucketing(n, f, *, s=2, seed=None):
    check_int(s, "s", minimum=1, owner="bucketing")
    if not isinstance(seed, np.random.Generator):
        try:
            as_generator(seed, "seed")
        except InvalidArgument as exc:
            raise InvalidArgument(f"bucketing: {exc}") from None


def _bucketing_n_out(n, *, s=2, seed=None):
    return -(-n // int(s))


def _bucketing_impl(X: np.ndarray, f: int, *, s=2, seed=None) -> tuple[np.ndarray, int]:
    n = X.shape[0]
    s = int(s)
    perm = as_generator(seed).permutation(n)
    nb = -(-n // s)
    starts = np.minimum(np.arange(nb + 1) * s, n)
    return group_means(X, perm, starts), f


def bucketing(X, f=0, *, s=2, seed=None, nonfinite="drop"):
    r"""Bucketing: shuffle the rows, split them into buckets of s, and average each bucket.

    .. math::

        X_b' = \frac{1}{|B_b|} \sum_{i \in B_b} X_{\pi(i)}, \qquad
        B_b = \{bs, \dots, \min(n, (b+1)s) - 1\}, \quad b < \lceil n/s \rceil

    ``pi`` is ``as_generator(seed).permutation(n)``: the same seed gives the same buckets. The
    last bucket may be smaller. The next rule sees ceil(n/s) rows and the same f, and its
    requirement is checked on ceil(n/s) (e.g. ``median`` with n=10, s=2, f=3 sees 5 buckets and
    needs 5 >= 2f+1).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int, default 0
        Number of Byzantine inputs (only used by the non-finite policy; f is passed on unchanged).
    s : int, default 2
        Bucket size (>= 1); the experiments of Karimireddy et al. use s = 2.
    seed : None, int, SeedSequence or Generator
        Seed of the permutation (None: fresh OS entropy).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.

    Returns
    -------
    ndarray, shape (ceil(n/s), d)
        The bucket means, in the dtype of ``X`` (accumulated in float64).

    Notes
    -----
    Requirement: none on n and f (n >= 1); the next rule's requirement applies to ceil(n/s).
    Complexity: O(nd).
    Reference: Karimireddy, He, Jaggi, "Byzantine-Robust Learning on Heterogeneous Datasets via
    Bucketing", ICLR 2022, arXiv 2006.09365; epfml ``bucketing_wrapper``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.preagg import bucketing
    >>> bucketing(np.arange(8.0).reshape(4, 2), s=2, seed=0).shape
    (2, 2)
    """
    return _run("bucketing", X, f, nonfinite, {"s": s, "seed": seed})


register(
    PreSpec(
        name="bucketing",
        public=bucketing,
        impl=_bucketing_impl,
        reference=_reference.bucketing,
        requirement="n >= 1",
        requires=lambda n, f: n >= 1,
        complexity="O(nd)",
        paper="Karimireddy, He, Jaggi, ICLR 2022, arXiv 2006.09365",
        n_out=_bucketing_n_out,
        check=_check_bucketing,
    )
)


# ----------------------------------------------------------------------------------------------
# Static clipping


def _check_static_clipping(n, f, *, c=1.0):
    check_real(c, "c", minimum=0.0, strict_min=True, owner="static_clipping")


def _static_clipping_impl(X: np.ndarray, f: int, *, c=1.0) -> tuple[np.ndarray, int]:
    norms = _row_norms(X)
    with np.errstate(divide="ignore"):
        scale = np.minimum(1.0, float(c) / np.where(norms > 0, norms, np.inf))
    return (X.astype(np.float64) * scale[:, None]).astype(X.dtype), f


def static_clipping(X, f=0, *, c=1.0, nonfinite="drop"):
    r"""Static clipping: scale every row to norm at most c.

    .. math:: X_i' = \min\Big(1, \frac{c}{\lVert X_i \rVert}\Big) X_i

    The ARC paper argues a fixed threshold breaks (f, kappa)-robustness; see :func:`arc` for the
    adaptive version.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int, default 0
        Number of Byzantine inputs (only used by the non-finite policy).
    c : float, default 1.0
        Clipping threshold (> 0).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.

    Returns
    -------
    ndarray, shape (n, d)
        The clipped rows, in the dtype of ``X``.

    Notes
    -----
    Requirement: none (n >= 1). Complexity: O(nd).
    Reference: common practice; discussed in Allouah et al., ICLR 2025, arXiv 2405.14432.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.preagg import static_clipping
    >>> static_clipping(np.array([[3.0, 4.0], [0.3, 0.4]]), c=1.0)
    array([[0.6, 0.8],
           [0.3, 0.4]])
    """
    return _run("static_clipping", X, f, nonfinite, {"c": c})


register(
    PreSpec(
        name="static_clipping",
        public=static_clipping,
        impl=_static_clipping_impl,
        reference=_reference.static_clipping,
        requirement="n >= 1",
        requires=lambda n, f: n >= 1,
        complexity="O(nd)",
        paper="static norm clipping; Allouah et al., ICLR 2025, arXiv 2405.14432 (discussion)",
        check=_check_static_clipping,
    )
)


# ----------------------------------------------------------------------------------------------
# ARC


def _arc_impl(X: np.ndarray, f: int) -> tuple[np.ndarray, int]:
    n = X.shape[0]
    k = int(math.floor(2.0 * f * (n - f) / n))
    if k == 0:
        return X.copy(), f
    norms = _row_norms(X)
    order = np.argsort(-norms, kind="stable")
    c = norms[order[k]]
    top = order[:k]
    top = top[norms[top] > c]
    out = X.astype(np.float64)
    out[top] *= (c / norms[top])[:, None]
    return out.astype(X.dtype), f


def arc(X, f, *, nonfinite="drop"):
    r"""Adaptive robust clipping (ARC): clip the k largest rows to the norm of the (k+1)-th.

    .. math::

        k = \Big\lfloor 2 \frac{f}{n} (n - f) \Big\rfloor, \qquad
        X_i' = \min\Big(1, \frac{\lVert X_{(k+1)} \rVert}{\lVert X_i \rVert}\Big) X_i

    where ``X_(k+1)`` is the row of the (k+1)-th largest norm (norm ties: the smaller index counts
    as larger). Only the k largest rows can change. f is passed on unchanged.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.

    Returns
    -------
    ndarray, shape (n, d)
        The clipped rows, in the dtype of ``X``.

    Notes
    -----
    Requirement: n >= 2f+1 (the paper's f < n/2). Complexity: O(nd + n log n).
    Reference: Allouah, Guerraoui, Gupta, Jellouli, Rizk, Stephan, "Boosting Robustness by
    Clipping Gradients in Distributed Learning", ICLR 2025, arXiv 2405.14432; byzfl ``ARC``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.preagg import arc
    >>> arc(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]), f=1)[2]
    array([4.41004009, 5.04004582, 5.67005155])
    """
    return _run("arc", X, f, nonfinite, {})


register(
    PreSpec(
        name="arc",
        public=arc,
        impl=_arc_impl,
        reference=_reference.arc,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(nd + n log n)",
        paper="Allouah et al., ICLR 2025, arXiv 2405.14432 (ARC)",
    )
)
