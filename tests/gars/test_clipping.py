"""Centered clipping and MoNNA: parity with the reference, clipping invariants, ties, parameter
validation, thread invariance."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import gars
from p2pbyz.errors import InvalidArgument, RequirementError
from p2pbyz.gars import _reference as ref

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 2e-6, np.float64: 1e-12}


def _inputs(kind: str, n: int, f: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 3.0
    if kind == "tied":
        X = rng.integers(-2, 3, size=(n, d)).astype(float)
    elif kind == "duplicated":
        X[1 : n // 2 + 1] = X[0]
    elif kind == "huge":
        X[-f:] = 1e30 * rng.choice([-1.0, 1.0], size=(f, d))
    elif kind == "adversarial":
        # Byzantine rows just outside the clipping radius, all in one direction
        u = rng.normal(size=d)
        X[-f:] = X[:-f].mean(axis=0) + 10.5 * u / np.linalg.norm(u)
    return X


KINDS = ["random", "tied", "duplicated", "huge", "adversarial"]


# ----------------------------------------------------------------------------------------------
# centered clipping


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_centered_clipping_matches_reference(kind: str, dtype) -> None:
    """Same L clipped steps as the reference, from zero and from a given v0."""
    n, f, d = 10, 3, 900
    X = _inputs(kind, n, f, d, 1).astype(dtype)
    v0 = np.random.default_rng(2).normal(size=d)
    for params in ({}, {"tau": 1.0, "L": 3}, {"tau": 100.0, "L": 2, "v0": v0}):
        got = gars.centered_clipping(X, f, **params)
        assert got.dtype == dtype and got.shape == (d,)
        want = ref.centered_clipping(X, f, **params)
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * 10)


@given(
    n=st.integers(1, 9),
    d=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    tau=st.floats(1e-3, 1e3),
    L=st.integers(1, 4),
    dtype=st.sampled_from(DTYPES),
)
def test_centered_clipping_parity_fuzzed(
    n: int, d: int, seed: int, tau: float, L: int, dtype
) -> None:
    """Random shapes, radii and iteration counts."""
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(dtype)
    f = (n - 1) // 2
    np.testing.assert_allclose(
        gars.centered_clipping(X, f, tau=tau, L=L), ref.centered_clipping(X, f, tau=tau, L=L),
        rtol=RTOL[dtype] * 10, atol=RTOL[dtype] * 10,
    )


def test_centered_clipping_is_the_mean_when_nothing_is_clipped() -> None:
    """With tau larger than every |X_i - v0|, one step from v0 is the plain mean."""
    X = _inputs("random", 8, 2, 20, 3)
    np.testing.assert_allclose(gars.centered_clipping(X, 2, tau=1e6), X.mean(axis=0), rtol=1e-12)


def test_each_input_moves_the_estimate_by_at_most_tau_over_n() -> None:
    """One step: |v1 - v0| <= tau, whatever the inputs (each clipped term has norm <= tau)."""
    X = _inputs("huge", 10, 3, 15, 4)
    v0 = np.ones(15)
    v1 = gars.centered_clipping(X, 3, tau=2.0, v0=v0)
    assert np.linalg.norm(v1 - v0) <= 2.0 * (1 + 1e-12)
    # the three huge rows pull by at most 3 * tau / n in all
    honest_step = ref.centered_clipping(X[:7], 0, tau=2.0, v0=v0) - v0
    assert np.linalg.norm((v1 - v0) - honest_step * 7 / 10) <= 3 * 2.0 / 10 * (1 + 1e-12)


def test_centered_clipping_is_translation_equivariant_with_v0_shifted() -> None:
    """CC(X + c; v0 + c) = CC(X; v0) + c (THEORY.md §12, item 16)."""
    X = _inputs("random", 9, 2, 12, 5)
    c = np.linspace(-3, 3, 12)
    v0 = np.zeros(12)
    a = gars.centered_clipping(X + c, 2, tau=1.5, L=3, v0=v0 + c)
    np.testing.assert_allclose(a, gars.centered_clipping(X, 2, tau=1.5, L=3, v0=v0) + c, atol=1e-12)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"tau": 0.0}, r"^centered_clipping: tau must be > 0.0; got tau=0.0$"),
        ({"tau": -2.0}, r"^centered_clipping: tau must be > 0.0; got tau=-2.0$"),
        ({"tau": float("inf")}, r"^centered_clipping: tau must be finite; got tau=inf$"),
        ({"L": 0}, r"^centered_clipping: L must be >= 1; got L=0$"),
        ({"L": "3"}, r"^centered_clipping: L must be an integer; got L='3'"),
        (
            {"v0": np.zeros(5)},
            r"^centered_clipping: v0 must have shape \(d,\) = \(4,\), the dimension "
            r"of the inputs; got v0 with shape \(5,\)$",
        ),
        (
            {"v0": np.zeros((2, 2))},
            r"^centered_clipping: v0 must have shape \(d,\); got v0 with shape \(2, 2\)$",
        ),
        ({"v0": [0.0, np.nan, 0.0, 0.0]}, r"^centered_clipping: v0 must be finite"),
    ],
)
def test_centered_clipping_bad_parameters(params: dict, match: str) -> None:
    """tau > 0 and finite, L >= 1, v0 a finite vector of shape (d,)."""
    with pytest.raises(InvalidArgument, match=match):
        gars.aggregate("centered_clipping", np.zeros((5, 4)), 1, **params)


# ----------------------------------------------------------------------------------------------
# MoNNA


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_monna_matches_reference(kind: str, dtype) -> None:
    """Same n-f nearest rows to the pivot (ties by index) as the reference."""
    n, f, d = 11, 4, 300
    X = _inputs(kind, n, f, d, 6).astype(dtype)
    for pivot in (0, 3, n - 1):
        got = gars.monna(X, f, pivot=pivot)
        assert got.dtype == dtype
        want = ref.monna(X, f, pivot=pivot)
        np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_monna_ties_go_to_the_smaller_index() -> None:
    """Four rows at distance 1 from the pivot compete for three places: the smaller indices win,
    so a reordering of the tied rows changes the output (MoNNA is not permutation invariant)."""
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [9, 9], [9, 9]])
    np.testing.assert_array_equal(gars.monna(X, 3, pivot=0), [0.0, 0.25])
    np.testing.assert_array_equal(ref.monna(X, 3, pivot=0), [0.0, 0.25])
    swapped = X[[0, 4, 2, 3, 1, 5, 6]]  # [1, 0] now comes last among the tied rows
    np.testing.assert_array_equal(gars.monna(swapped, 3, pivot=0), [-0.25, 0.0])


def test_monna_ignores_far_rows_when_the_pivot_is_honest() -> None:
    """f huge rows are never among the n-f nearest to an honest pivot."""
    X = _inputs("huge", 9, 4, 10, 7)
    np.testing.assert_allclose(gars.monna(X, 4, pivot=2), X[:5].mean(axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    ("pivot", "match"),
    [
        (5, r"^monna: pivot must index one of the n=5 inputs \(0 <= pivot < n\); got pivot=5$"),
        (-1, r"^monna: pivot must be >= 0; got pivot=-1$"),
        (1.5, r"^monna: pivot must be an integer; got pivot=1.5"),
    ],
)
def test_monna_bad_pivot(pivot, match: str) -> None:
    """pivot indexes one of the n inputs."""
    with pytest.raises(InvalidArgument, match=match):
        gars.monna(np.zeros((5, 2)), 1, pivot=pivot)


@pytest.mark.parametrize("rule", ["centered_clipping", "monna"])
def test_requirement_is_pinned(rule: str) -> None:
    """n >= 2f+1 (for CC the theory regime is f/n <= 0.1, documented)."""
    with pytest.raises(RequirementError, match=rf"^{rule} needs n >= 2f\+1; got n=8, f=4$"):
        gars.aggregate(rule, np.zeros((8, 2)), 4)


# ----------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_a_bit(dtype) -> None:
    """Fixed coordinate chunks: identical bits with 1 and 2 threads."""
    X = _inputs("adversarial", 10, 3, 6000, 8).astype(dtype)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = (gars.centered_clipping(X, 3, tau=2.0, L=3), gars.monna(X, 3, pivot=1))
        numba.set_num_threads(max(2, before))
        two = (gars.centered_clipping(X, 3, tau=2.0, L=3), gars.monna(X, 3, pivot=1))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
