"""Aksel: parity with the numpy reference, selection and tie conventions, errors, determinism."""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import gars
from p2pbyz.errors import InvalidArgument, RequirementError
from p2pbyz.gars import _aksel
from p2pbyz.gars import _reference as ref
from gars_inputs import STYLES, assert_matches, make_input

DTYPES = (np.float32, np.float64)
MODES = ("mid", "n-f")
KINDS = ("midpoint", "lower", "upper")


def assert_matches_or_coin_flip(got, X, f, dtype, scale, mode="mid", kind="midpoint"):
    """As :func:`assert_matches`, except that with n = 2, a midpoint median and c = 1 the two
    rows are at the same distance from the median up to rounding (x1 - m = -(x2 - m) exactly in
    reals), so which one wins depends on summation order: either row is a correct answer."""
    if X.shape[0] == 2 and kind == "midpoint" and mode == "mid":
        assert any(np.array_equal(got, X[i]) for i in range(2))
        return
    assert_matches(got, ref.aksel(X, f, mode=mode, kind=kind), dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 16, 33, 70])
def test_parity_grid(dtype, style, n):
    rng = np.random.default_rng([n, len(style), DTYPES.index(dtype)])
    f = (n - 1) // 2
    for ff in sorted({0, f // 2, f}):
        for d in (1, 67):
            X, scale = make_input(rng, n, d, ff, dtype, style)
            for mode in MODES:
                got = _aksel._aksel_impl(X, ff, mode=mode)
                assert_matches_or_coin_flip(got, X, ff, dtype, scale, mode=mode)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 70),
    d=st.integers(1, 150),
    fsel=st.floats(0.0, 1.0),
    dtype=st.sampled_from(DTYPES),
    style=st.sampled_from(STYLES),
    mode=st.sampled_from(MODES),
    kind=st.sampled_from(KINDS),
)
def test_parity_hypothesis(seed, n, d, fsel, dtype, style, mode, kind):
    rng = np.random.default_rng(seed)
    f = int(fsel * ((n - 1) // 2))
    X, scale = make_input(rng, n, d, f, dtype, style)
    got = _aksel._aksel_impl(X, f, mode=mode, kind=kind)
    assert_matches_or_coin_flip(got, X, f, dtype, scale, mode=mode, kind=kind)


@pytest.mark.parametrize("dtype", DTYPES)
def test_parity_large_n(dtype):
    rng = np.random.default_rng(8)
    X, scale = make_input(rng, 300, 45, 120, dtype, "huge")
    for mode in MODES:
        got = _aksel._aksel_impl(X, 120, mode=mode)
        assert_matches(got, ref.aksel(X, 120, mode=mode), dtype, scale)


def test_known_answer_and_index_tie_break():
    # median (1, 1); squared distances 2, 0, 2, 19802, 1: rows 0 and 2 tie, the smaller index wins
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [100.0, -100.0], [1.0, 2.0]])
    np.testing.assert_allclose(gars.aksel(X, 1), X[[1, 4, 0]].mean(axis=0), rtol=0, atol=1e-15)
    want = X[[1, 4, 0, 2]].mean(axis=0)
    np.testing.assert_allclose(gars.aksel(X, 1, mode="n-f"), want, rtol=0, atol=1e-15)


def test_duplicate_rows_tie_by_index():
    """Integer rows with many exact distance ties: the selection is the reference's."""
    rng = np.random.default_rng(12)
    for n in (6, 7, 20, 41):
        base = rng.integers(-2, 3, size=(4, 30)).astype(np.float64)
        X = base[rng.integers(0, 4, size=n)]
        for mode in MODES:
            for kind in KINDS:
                got = gars.aksel(X, (n - 1) // 2, mode=mode, kind=kind)
                np.testing.assert_array_equal(got, ref.aksel(X, (n - 1) // 2, mode=mode, kind=kind))


def test_kind_changes_the_median():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    # mid: c = 2. Midpoint 1.5: rows 1, 2; lower 1: rows 1, then 0 (tie with 2, smaller index);
    # upper 2: rows 2, then 1 (tie with 3, smaller index).
    assert gars.aksel(X, 1)[0] == 1.5
    assert gars.aksel(X, 1, kind="lower")[0] == 0.5
    assert gars.aksel(X, 1, kind="upper")[0] == 1.5


def test_bounded_under_attack():
    rng = np.random.default_rng(1)
    for dtype in DTYPES:
        X = rng.normal(size=(9, 500)).astype(dtype)
        X[[0, 3, 8, 5]] = np.array([1e30, -1e30, 1e30, 3e29], dtype=dtype)[:, None]
        for mode in MODES:
            out = gars.aksel(X, 4, mode=mode)
            assert np.abs(out).max() < 10.0


def test_honest_value():
    rng = np.random.default_rng(6)
    v = rng.normal(size=50).astype(np.float32)
    X = np.tile(v, (7, 1))
    X[[0, 5, 6]] = rng.normal(scale=10.0, size=(3, 50)).astype(np.float32)
    for mode in MODES:
        np.testing.assert_array_equal(gars.aksel(X, 3, mode=mode), v)


def test_permutation_invariant():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(15, 300))
    perm = rng.permutation(15)
    for mode in MODES:
        got = gars.aksel(X[perm], 7, mode=mode)
        np.testing.assert_array_equal(gars.aksel(X, 7, mode=mode), got)


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_keeps_dtype(dtype):
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    out = gars.aksel(X, 2)
    assert out.dtype == dtype and out.shape == (3,)
    np.testing.assert_array_equal(out, gars.aggregate("aksel", X, 2))


def test_requirement_error_message():
    with pytest.raises(RequirementError, match=r"^aksel needs n >= 2f\+1; got n=4, f=2$"):
        gars.aksel(np.zeros((4, 3)), 2)


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        ({"mode": "half"}, "aksel: mode must be one of 'mid', 'n-f'; got mode='half'"),
        (
            {"kind": "mean"},
            "aksel: kind must be one of 'midpoint', 'lower', 'upper'; got kind='mean'",
        ),
    ],
)
def test_bad_parameters(params, msg):
    with pytest.raises(InvalidArgument, match=f"^{re.escape(msg)}$"):
        gars.aksel(np.zeros((3, 2)), 1, **params)


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_whatever_the_thread_count(two_threads, dtype):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(17, 64 * 300 + 5)).astype(dtype)
    results = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        results[threads] = [_aksel._aksel_impl(X, 8, mode=m) for m in MODES]
        one_chunk = np.array([0, X.shape[1]], dtype=np.int64)
        N = _aksel._sort_rows(17)
        results[threads].append(_aksel._median_sq_distances_cpu(X, 0, N, one_chunk)[0])
    for a, b in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(a, b)
