"""Geometric median (Weiszfeld to a tolerance) and RFA (smoothed Weiszfeld): parity with the
numpy reference, known answers, the GM inequality, parameter validation, thread invariance."""

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
RTOL = {np.float32: 2e-5, np.float64: 1e-9}


def _inputs(kind: str, n: int, f: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "tied":
        X = rng.integers(-2, 3, size=(n, d)).astype(float)
        X[1] = X[0]
    elif kind == "duplicated":
        X[: n // 2] = X[0]
    elif kind == "huge":
        X[:f] = 1e30 * rng.choice([-1.0, 1.0], size=(f, d))
    elif kind == "adversarial":
        # Byzantine rows collinear with the honest mean, far on one side (ALIE/IPM-like)
        mu = X[f:].mean(axis=0)
        X[:f] = mu + 50.0 * (mu + 1.0)
    return X


def _close(got, want, dtype, scale=1.0):
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


# ----------------------------------------------------------------------------------------------
# known answers and examples


def test_rfa_known_answer_byzfl() -> None:
    """byzfl's documented GeometricMedian (nu=0.1, T=3, z0=0) output on the 3x3 example."""
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    np.testing.assert_allclose(gars.rfa(X, 1), [3.78788764, 4.78788764, 5.78788764], atol=1e-8)
    np.testing.assert_allclose(
        gars.aggregate("rfa", X.astype(np.float32), 1),
        [3.78788764, 4.78788764, 5.78788764],
        rtol=1e-6,
    )


def test_geometric_median_of_collinear_odd_points_is_the_middle_one() -> None:
    """On a line with n odd, the geometric median is the (1-D) median."""
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [100.0, 100.0]])
    np.testing.assert_allclose(gars.geometric_median(X, 2), [2.0, 2.0], atol=1e-6)


# ----------------------------------------------------------------------------------------------
# parity with the reference


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["random", "tied", "duplicated", "huge", "adversarial"])
def test_geometric_median_matches_reference(kind: str, dtype) -> None:
    """Kernel and reference run the same Weiszfeld iteration and stop at the same step."""
    n, f, d = 11, 3, 700
    X = _inputs(kind, n, f, d, 1).astype(dtype)
    got = gars.geometric_median(X, f)
    assert got.dtype == dtype and got.shape == (d,)
    _close(got, ref.geometric_median(X, f), dtype, scale=float(np.abs(X[f:]).max()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["random", "tied", "duplicated", "huge", "adversarial"])
def test_rfa_matches_reference(kind: str, dtype) -> None:
    """RFA: T smoothed steps from z0 = 0, both implementations."""
    n, f, d = 9, 2, 600
    X = _inputs(kind, n, f, d, 2).astype(dtype)
    for T in (1, 3, 8):
        got = gars.rfa(X, f, T=T)
        assert got.dtype == dtype
        _close(got, ref.rfa(X, f, T=T), dtype, scale=1.0)


@given(
    n=st.integers(1, 9),
    d=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(DTYPES),
    scale=st.sampled_from([1e-3, 1.0, 1e6]),
)
def test_parity_fuzzed(n: int, d: int, seed: int, dtype, scale: float) -> None:
    """Random shapes and scales, every valid f, with and without a starting point."""
    rng = np.random.default_rng(seed)
    X = (scale * rng.normal(size=(n, d))).astype(dtype)
    z0 = rng.normal(size=d)
    f = (n - 1) // 2
    _close(gars.geometric_median(X, f), ref.geometric_median(X, f), dtype, scale)
    _close(gars.geometric_median(X, f, z0=z0), ref.geometric_median(X, f, z0=z0), dtype, scale)
    _close(gars.rfa(X, f, nu=0.5, T=4), ref.rfa(X, f, nu=0.5, T=4), dtype, scale)
    _close(gars.rfa(X, f, z0=z0), ref.rfa(X, f, z0=z0), dtype, scale)


def test_max_iter_stops_early_and_is_not_an_error() -> None:
    """max_iter=1 gives exactly one Weiszfeld step from the mean."""
    X = _inputs("random", 7, 2, 30, 4)
    got = gars.geometric_median(X, 2, max_iter=1)
    np.testing.assert_allclose(got, ref.geometric_median(X, 2, max_iter=1), rtol=1e-12)
    assert not np.allclose(got, gars.geometric_median(X, 2), atol=1e-6)


def test_gm_inequality_holds_for_every_honest_subset_centre() -> None:
    """(n-2f)|GM - c| <= 2 sum_{i in S} |X_i - c| with S the honest rows (THEORY.md §8.3)."""
    rng = np.random.default_rng(5)
    n, f, d = 9, 4, 6
    for _ in range(20):
        X = rng.normal(size=(n, d))
        X[:f] = rng.normal(size=(f, d)) * 1e3
        gm = gars.geometric_median(X, f)
        for c in (X[f:].mean(axis=0), np.median(X[f:], axis=0), X[f]):
            lhs = (n - 2 * f) * np.linalg.norm(gm - c)
            rhs = 2 * np.linalg.norm(X[f:] - c, axis=1).sum()
            assert lhs <= rhs * (1 + 1e-9)


def test_huge_byzantine_rows_do_not_move_the_median_far() -> None:
    """f rows at +-1e30: the GM stays within the honest rows' reach."""
    X = _inputs("huge", 11, 5, 20, 6)
    gm = gars.geometric_median(X, 5)
    assert np.abs(gm).max() < 100.0
    assert np.abs(gars.rfa(X, 5)).max() < 100.0


def test_nonfinite_rows_are_dropped_and_counted_against_f() -> None:
    """A NaN row is dropped (f decreases by one) before the iteration."""
    X = _inputs("random", 7, 2, 5, 7)
    Y = X.copy()
    Y[3, 1] = np.nan
    np.testing.assert_allclose(
        gars.geometric_median(Y, 2), ref.geometric_median(np.delete(X, 3, axis=0), 1), rtol=1e-9
    )


# ----------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("rule", "params", "match"),
    [
        ("geometric_median", {"tol": 0.0}, r"^geometric_median: tol must be > 0.0; got tol=0.0$"),
        ("geometric_median", {"tol": -1.0}, r"^geometric_median: tol must be > 0.0; got tol=-1.0$"),
        (
            "geometric_median",
            {"max_iter": 0},
            r"^geometric_median: max_iter must be >= 1; got max_iter=0$",
        ),
        ("geometric_median", {"eps": 0.0}, r"^geometric_median: eps must be > 0.0; got eps=0.0$"),
        ("geometric_median", {"tol": float("nan")}, r"^geometric_median: tol must be finite"),
        ("rfa", {"nu": 0.0}, r"^rfa: nu must be > 0.0; got nu=0.0$"),
        ("rfa", {"T": 0}, r"^rfa: T must be >= 1; got T=0$"),
        ("rfa", {"T": 2.5}, r"^rfa: T must be an integer; got T=2.5"),
    ],
)
def test_bad_parameters_are_refused(rule: str, params: dict, match: str) -> None:
    """Each parameter error names the rule, the parameter, its value and the allowed range."""
    X = np.zeros((5, 3))
    with pytest.raises(InvalidArgument, match=match):
        gars.aggregate(rule, X, 1, **params)


@pytest.mark.parametrize("rule", ["geometric_median", "rfa"])
def test_bad_starting_point_is_refused(rule: str) -> None:
    """z0 must be a finite vector of shape (d,)."""
    X = np.zeros((5, 3))
    with pytest.raises(InvalidArgument, match=rf"^{rule}: z0 must have shape \(d,\) = \(3,\), the "
                       r"dimension of the inputs; got z0 with shape \(4,\)$"):
        gars.aggregate(rule, X, 1, z0=np.zeros(4))
    with pytest.raises(InvalidArgument, match=rf"^{rule}: z0 must have shape \(d,\); got z0 with "
                       r"shape \(1, 3\)$"):
        gars.aggregate(rule, X, 1, z0=np.zeros((1, 3)))
    with pytest.raises(InvalidArgument, match=rf"^{rule}: z0 must be finite"):
        gars.aggregate(rule, X, 1, z0=[0.0, np.inf, 0.0])
    with pytest.raises(InvalidArgument, match=rf"^{rule}: z0 must be None or a 1-D array"):
        gars.aggregate(rule, X, 1, z0="origin")


@pytest.mark.parametrize("rule", ["geometric_median", "rfa"])
def test_requirement_is_pinned(rule: str) -> None:
    """n >= 2f+1."""
    with pytest.raises(RequirementError, match=rf"^{rule} needs n >= 2f\+1; got n=6, f=3$"):
        gars.aggregate(rule, np.zeros((6, 2)), 3)


# ----------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_a_bit(dtype) -> None:
    """Fixed coordinate chunks: one thread and two threads give identical bits."""
    X = _inputs("adversarial", 9, 3, 5000, 8).astype(dtype)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = (gars.geometric_median(X, 3), gars.rfa(X, 3))
        numba.set_num_threads(max(2, before))
        two = (gars.geometric_median(X, 3), gars.rfa(X, 3))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def _reference_iterations(X: np.ndarray, tol: float = 1e-10, eps: float = 1e-12) -> int:
    """Iterations the numpy Weiszfeld (same start, same stopping rule) runs before it stops."""
    X = X.astype(np.float64)
    z = X.mean(axis=0)
    for it in range(1, 10_001):
        w = 1.0 / np.maximum(np.sqrt(((X - z) ** 2).sum(axis=1)), eps)
        z_new = (w[:, None] * X).sum(axis=0) / w.sum()
        step = np.sqrt(((z_new - z) ** 2).sum())
        z = z_new
        if step <= tol * (1.0 + np.sqrt((z**2).sum())):
            return it
    return 10_000


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "d"), [(13, 20_011), (130, 3_001), (3, 70_000)])
def test_fused_kernel_matches_reference_and_its_iteration_count(n: int, d: int, dtype) -> None:
    """Rows leaving a remainder of the 4-row blocks, many chunks, and (n=130) several sweeps per
    chunk: same iterate (within the parity tolerance) and the same number of iterations."""
    from p2pbyz.gars._geomed import _bounds, _sweep_length, weiszfeld

    assert n % 4 != 0
    if n == 130:
        assert _sweep_length(n, np.dtype(dtype).itemsize) < int(np.diff(_bounds(d)).max())
    X = _inputs("adversarial", n, (n - 1) // 2, d, 9).astype(dtype)
    z, iterations = weiszfeld(X, None, 1e-12, 1e-10, 10_000, True)
    assert iterations == _reference_iterations(X)
    _close(z.astype(dtype), ref.geometric_median(X, 0), dtype, scale=float(np.abs(X).max()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_a_bit_with_several_sweeps_per_chunk(dtype) -> None:
    """Many rows (short sweeps, several per chunk), a row remainder, a given start and RFA."""
    n, f, d = 130, 40, 3_001
    X = _inputs("adversarial", n, f, d, 10).astype(dtype)
    z0 = np.random.default_rng(11).normal(size=d)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = (gars.geometric_median(X, f), gars.geometric_median(X, f, z0=z0), gars.rfa(X, f, T=5))
        numba.set_num_threads(max(2, before))
        two = (gars.geometric_median(X, f), gars.geometric_median(X, f, z0=z0), gars.rfa(X, f, T=5))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
