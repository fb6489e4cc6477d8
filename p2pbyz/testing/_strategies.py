"""Hypothesis strategies for gradient sets with a Byzantine minority."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

__all__ = ["ByzantineSet", "gradient_sets", "byzantine_sets", "ATTACK_SHAPES"]

#: How the Byzantine rows of :func:`byzantine_sets` are built.
ATTACK_SHAPES = ("huge", "far_cluster", "near_mean", "copy_honest", "random", "opposite")


@dataclass(frozen=True)
class ByzantineSet:
    """n input rows of which the rows ``byzantine`` are adversarial and the rows ``honest`` are not.

    Attributes
    ----------
    X : ndarray, shape (n, d)
        All rows, honest and Byzantine, in an arbitrary order.
    f : int
        The number of Byzantine rows the rule must tolerate (``len(byzantine) <= f``).
    honest, byzantine : ndarray of int
        Row indices of each group.
    shape : str
        How the Byzantine rows were built (one of :data:`ATTACK_SHAPES`).
    """

    X: np.ndarray
    f: int
    honest: np.ndarray
    byzantine: np.ndarray
    shape: str

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])


def _dtype_strategy(dtype):
    if dtype is None:
        return st.sampled_from([np.float64, np.float32])
    return st.just(np.dtype(dtype).type)


@st.composite
def gradient_sets(
    draw,
    *,
    n: st.SearchStrategy[int] | int = st.integers(1, 12),
    d: st.SearchStrategy[int] | int = st.integers(1, 8),
    dtype=None,
    generic: bool = False,
    scale: float = 10.0,
) -> np.ndarray:
    """Arrays of shape (n, d), float32 or float64, finite.

    With ``generic=True`` the values are continuous Gaussian draws (from a hypothesis-drawn seed), so
    ties between distances or scores have probability zero; otherwise the values may also be small
    integers with many exact ties and duplicate rows, the inputs on which kernels go wrong.

    Examples
    --------
    >>> from hypothesis import given
    >>> from p2pbyz.testing import gradient_sets
    >>> @given(gradient_sets(n=5, d=3))
    ... def test_shape(X):
    ...     assert X.shape == (5, 3)
    >>> test_shape()
    """
    n_ = n if isinstance(n, int) else draw(n)
    d_ = d if isinstance(d, int) else draw(d)
    dt = draw(_dtype_strategy(dtype))
    kind = "gaussian" if generic else draw(st.sampled_from(["gaussian", "integers", "duplicates"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "gaussian":
        X = rng.normal(0.0, scale, size=(n_, d_))
    elif kind == "integers":
        X = rng.integers(-3, 4, size=(n_, d_)).astype(np.float64)
    else:
        base = rng.normal(0.0, scale, size=(max(1, n_ // 2), d_))
        X = base[rng.integers(0, base.shape[0], size=n_)]
    return np.ascontiguousarray(X, dtype=dt)


def _min_n(requires: Callable[[int, int], bool], f: int, limit: int = 200) -> int | None:
    for n in range(1, limit):
        if requires(n, f):
            return n
    return None


@st.composite
def byzantine_sets(
    draw,
    *,
    requires: Callable[[int, int], bool] = lambda n, f: n >= 2 * f + 1,
    f: st.SearchStrategy[int] | int = st.integers(0, 3),
    extra_n: int = 5,
    d: st.SearchStrategy[int] | int = st.integers(1, 6),
    dtype=None,
    shapes: tuple[str, ...] = ATTACK_SHAPES,
    full: bool = False,
    honest_spread: float = 1.0,
    min_n: int = 1,
) -> ByzantineSet:
    """n rows of which up to f are Byzantine, with (n, f) satisfying ``requires``.

    Honest rows are Gaussian around a random centre (continuous values: no exact ties); Byzantine
    rows follow one of ``shapes``: ``huge`` (+-1e30 coordinates), ``far_cluster`` (a tight cluster far
    away), ``near_mean`` (close to the honest mean, the colluding ALIE-like case), ``copy_honest``
    (duplicates of one honest row), ``random`` (wide Gaussian) or ``opposite`` (-10 x honest mean).
    ``full=True`` makes exactly f rows Byzantine; otherwise between 0 and f. Rows are shuffled.

    Parameters
    ----------
    requires : callable
        Predicate on (n, f) the generated sizes satisfy, e.g. ``gars.spec("krum").requires``.
    f : int or strategy
        The declared number of Byzantine rows.
    extra_n : int
        n ranges from the smallest n that ``requires`` accepts to that plus ``extra_n``.
    d : int or strategy
        Dimension.
    dtype : numpy dtype, optional
        float32 or float64; both when None.
    shapes : tuple of str
        Allowed Byzantine shapes (subset of :data:`ATTACK_SHAPES`).
    full : bool
        Whether exactly f rows are Byzantine.
    honest_spread : float
        Standard deviation of the honest rows around their centre.
    min_n : int
        Smallest n generated, whatever ``requires`` accepts.
    """
    f_ = f if isinstance(f, int) else draw(f)
    n_min = _min_n(requires, f_)
    if n_min is None:
        f_ = 0
        n_min = _min_n(requires, 0) or 1
    # an honest majority, whatever the rule accepts: the properties are about f < n/2
    n_min = max(n_min, 2 * f_ + 1, min_n)
    n_ = draw(st.integers(n_min, n_min + extra_n))
    d_ = d if isinstance(d, int) else draw(d)
    dt = draw(_dtype_strategy(dtype))
    nb = f_ if full else draw(st.integers(0, f_))
    shape = draw(st.sampled_from(shapes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    centre = rng.normal(0.0, 5.0, size=d_)
    H = centre + honest_spread * rng.normal(size=(n_ - nb, d_))
    if nb == 0:
        B = np.empty((0, d_))
    elif shape == "huge":
        B = rng.choice([-1e30, 1e30], size=(nb, d_))
    elif shape == "far_cluster":
        B = centre + 1e3 + 1e-3 * rng.normal(size=(nb, d_))
    elif shape == "near_mean":
        B = H.mean(axis=0) + 0.5 * honest_spread * rng.normal(size=(nb, d_))
    elif shape == "copy_honest":
        B = np.repeat(H[rng.integers(0, H.shape[0])][None, :], nb, axis=0)
    elif shape == "random":
        B = rng.normal(0.0, 100.0, size=(nb, d_))
    else:
        B = np.repeat(-10.0 * H.mean(axis=0)[None, :], nb, axis=0)
    X = np.concatenate([H, B])
    perm = rng.permutation(n_)
    X = X[perm]
    is_byz = perm >= (n_ - nb)
    return ByzantineSet(
        X=np.ascontiguousarray(X, dtype=dt),
        f=f_,
        honest=np.flatnonzero(~is_byz),
        byzantine=np.flatnonzero(is_byz),
        shape=shape,
    )
