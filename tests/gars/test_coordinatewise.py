"""Coordinate-wise rules (median, trimmed mean, Phocas, MeaMed) and Bulyan's coordinate phase:
the bitonic sort, parity with the numpy reference, tie conventions, errors, determinism."""

from __future__ import annotations

import itertools
import re

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import gars
from p2pbyz.errors import InvalidArgument, RequirementError
from p2pbyz.gars import _coordinatewise as cw
from p2pbyz.gars import _reference as ref
from gars_inputs import STYLES, assert_matches, check_nonfinite_dropped, make_input

RULES = ("median", "trimmed_mean", "phocas", "meamed")
KIND_RULES = ("median", "meamed")
DTYPES = (np.float32, np.float64)

IMPL = {
    "median": cw._median_impl,
    "trimmed_mean": cw._trimmed_mean_impl,
    "phocas": cw._phocas_impl,
    "meamed": cw._meamed_impl,
}


def reference(rule, X, f, **params):
    return getattr(ref, rule)(X, f, **params)


# ----------------------------------------------------------------------------------------------
# The sorting network


def _bitonic(cols: np.ndarray, rows: np.ndarray = cw._ALL_ROWS, halves: bool = False) -> np.ndarray:
    """Sort every column of ``cols`` (or of its rows ``rows``) with the kernels' bitonic sort,
    block by block of ``_LANES`` columns; returns the n sorted rows (with ``halves``, the two
    sorted halves the median reads)."""
    n = rows.size if rows.size else cols.shape[0]
    N = cw._sort_rows(n)
    top = N // 2 if halves and N >= 16 else N
    buf = np.empty((N, cw._LANES), dtype=cols.dtype)
    buf[n:] = np.inf
    out = np.empty((n, cols.shape[1]), dtype=cols.dtype)
    chk = np.zeros(cw._LANES, dtype=cols.dtype)
    for lo in range(0, cols.shape[1], cw._LANES):
        hi = min(cols.shape[1], lo + cw._LANES)
        cw._bitonic_load_sort(
            cols, rows, lo, hi, n, buf, hi, min(cols.shape[1], hi + cw._LANES), chk, top
        )
        out[:, lo:hi] = buf[:n, : hi - lo]
        assert np.isinf(buf[n:]).all()  # the padding rows stay +inf
    assert not np.isnan(chk).any()
    return out


@pytest.mark.parametrize("n", range(1, 17))
def test_bitonic_sorts_every_zero_one_input(n):
    """0-1 principle: the bitonic sort is a comparator network (which comparators it skips
    depends on n only), so sorting all 2^n binary inputs proves it sorts everything."""
    cols = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.float64).T.copy()
    out = _bitonic(cols)
    assert (np.diff(out, axis=0) >= 0).all()
    np.testing.assert_array_equal(out.sum(axis=0), cols.sum(axis=0))


@pytest.mark.parametrize("n", range(9, 17))
def test_bitonic_halves_and_kth_on_every_zero_one_input(n):
    """With the last merge skipped, both halves are sorted (0-1 principle again) and
    :func:`_kth_lanes` reads every order statistic of the whole lane off them."""
    cols = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.float64).T.copy()
    out = _bitonic(cols, halves=True)
    a = cw._sort_rows(n) // 2
    assert (np.diff(out[:a], axis=0) >= 0).all() and (np.diff(out[a:], axis=0) >= 0).all()
    want = np.sort(cols, axis=0)
    got = np.empty(cw._LANES)
    for lo in range(0, cols.shape[1], cw._LANES):
        w = min(cw._LANES, cols.shape[1] - lo)
        blk = np.zeros((n, cw._LANES))
        blk[:, :w] = out[:, lo : lo + w]
        for k in range(n):
            cw._kth_lanes(blk, a, n - a, k, got)
            np.testing.assert_array_equal(got[:w], want[k, lo : lo + w])


@pytest.mark.parametrize("n", [16, 17, 31, 32, 33, 100, 128, 129, 300])
def test_kth_of_two_sorted_runs(n):
    rng = np.random.default_rng(n)
    X = rng.integers(-4, 5, size=(n, cw._LANES)).astype(np.float32)
    for a in sorted({1, n // 3, n // 2, n - 1, n}):
        buf = np.concatenate([np.sort(X[:a], axis=0), np.sort(X[a:], axis=0)])
        want = np.sort(X, axis=0)
        got = np.empty(cw._LANES, dtype=np.float32)
        for k in sorted({0, 1, n // 2 - 1, n // 2, n - 2, n - 1}):
            cw._kth_lanes(buf, a, n - a, k, got)
            np.testing.assert_array_equal(got, want[k])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [*range(17, 41), 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 600])
def test_bitonic_sorts_like_numpy(n, dtype):
    """Random values with ties, a partial last block, and the row-subset (in place) variant."""
    rng = np.random.default_rng(n)
    X = rng.integers(-4, 5, size=(n + 3, cw._LANES + 37)).astype(dtype)
    X[:, ::2] += rng.normal(size=(n + 3, (cw._LANES + 38) // 2)).astype(dtype)
    np.testing.assert_array_equal(_bitonic(X[:n].copy()), np.sort(X[:n], axis=0))
    rows = rng.permutation(n + 3)[:n].astype(np.int64)
    np.testing.assert_array_equal(_bitonic(X, rows), np.sort(X[rows], axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [8, 9, 16, 23, 64, 100])
def test_runs_of_8_loaded_straight_into_the_sort(n, dtype):
    """``top = 8`` sorts every aligned group of 8 rows, whole groups of full blocks loaded from
    X straight into the sort (:func:`_load_sort8`), with all rows and with a row subset."""
    rng = np.random.default_rng(n)
    X = rng.integers(-4, 5, size=(n + 3, cw._LANES + 37)).astype(dtype)
    X[:, ::2] += rng.normal(size=(n + 3, (cw._LANES + 38) // 2)).astype(dtype)
    N = cw._sort_rows(n)
    for rows in (cw._ALL_ROWS, rng.permutation(n + 3)[:n].astype(np.int64)):
        Y = X[rows] if rows.size else X[:n]
        buf = np.empty((N, cw._LANES), dtype=dtype)
        buf[n:] = np.inf
        chk = np.zeros(cw._LANES, dtype=dtype)
        for lo in range(0, X.shape[1], cw._LANES):
            hi = min(X.shape[1], lo + cw._LANES)
            Xin = X if rows.size else X[:n]
            cw._bitonic_load_sort(Xin, rows, lo, hi, n, buf, hi, hi, chk, 8)
            for g in range(0, n, 8):
                want = np.sort(Y[g : g + 8, lo:hi], axis=0)
                np.testing.assert_array_equal(buf[g : min(n, g + 8), : hi - lo], want)
        assert not np.isnan(chk).any()


def test_sort_rows():
    assert [cw._sort_rows(n) for n in (1, 7, 8, 9, 16, 17, 100)] == [8, 8, 8, 16, 16, 32, 128]
    assert cw._sort_rows(cw._NETWORK_MAX_N) == cw._NETWORK_MAX_N
    assert cw._sort_rows(cw._NETWORK_MAX_N + 1) == 0  # per-coordinate sorts


@pytest.mark.parametrize("n", [2, 5, 16, 33, 64, 70, 300, 1100])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["network", "per_coordinate"])
def test_kernel_order_statistics_equal_numpy_sort(n, dtype, path):
    """Both sorting paths give numpy's order statistics exactly (two full blocks + 3 columns)."""
    rng = np.random.default_rng(n)
    d = 2 * cw._LANES + 3
    X = rng.normal(size=(n, d)).astype(dtype)
    S = np.sort(X, axis=0)
    N = cw._sort_rows(n) if path == "network" else 0
    bounds = np.array([0, cw._LANES, d], dtype=np.int64)
    for kind, row in ((1, (n - 1) // 2), (2, n // 2)):
        out = np.empty(d, dtype=dtype)
        cw._coordinatewise_cpu(X, cw._ALL_ROWS, cw._MEDIAN, 0, 1, kind, N, bounds, out)
        np.testing.assert_array_equal(out, S[row])


@pytest.mark.parametrize("dtype", DTYPES)
def test_per_coordinate_path_parity(dtype):
    """The per-coordinate sort path runs every rule like the network path."""
    rng = np.random.default_rng(17)
    d = 2 * cw._LANES + 22
    X, _ = make_input(rng, 41, d, 13, dtype, "integers")
    bounds = np.array([0, cw._LANES, 2 * cw._LANES, d], dtype=np.int64)
    cases = ((cw._MEDIAN, 0, 1), (cw._TRIMMED, 13, 1), (cw._PHOCAS, 13, 28), (cw._CLOSEST, 0, 9))
    for rule, f, k in cases:
        a = np.empty(d, dtype=dtype)
        b = np.empty(d, dtype=dtype)
        cw._coordinatewise_cpu(X, cw._ALL_ROWS, rule, f, k, 0, 0, bounds, a)
        cw._coordinatewise_cpu(X, cw._ALL_ROWS, rule, f, k, 0, cw._sort_rows(41), bounds, b)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", [33, 64, 65, 100, 128, 129, 300])
def test_trimmed_mean_from_halves(n, style, dtype):
    """From N = 64 rows the trimmed mean stops at the two sorted halves and sums the values
    clipped to [f-th, (n-f-1)-th]: it equals the full sort's sum of the kept values exactly on
    integers, and within a few float64 roundings of the honest scale otherwise, with f rows of
    +-1e30 (which must never enter the sum) and with every f, even f = 0 and n = 2f+1. (Small f
    takes the tree path instead, :func:`test_trimmed_mean_tree`, compared the same way.)"""
    assert cw._sort_rows(n) >= cw._TRIM_HALVES_N
    rng = np.random.default_rng([n, STYLES.index(style), DTYPES.index(dtype)])
    d = cw._LANES + 9
    bounds = np.array([0, cw._LANES, d], dtype=np.int64)
    for f in sorted({0, 1, n // 5, (n - 1) // 2}):
        X, scale = make_input(rng, n, d, f, dtype, style)
        halves = np.empty(d, dtype=dtype)
        full = np.empty(d, dtype=dtype)  # per-coordinate sorts, then the sorted positions summed
        N = cw._sort_rows(n)
        cw._coordinatewise_cpu(X, cw._ALL_ROWS, cw._TRIMMED, f, 1, 0, N, bounds, halves)
        cw._coordinatewise_cpu(X, cw._ALL_ROWS, cw._TRIMMED, f, 1, 0, 0, bounds, full)
        if style == "integers":
            np.testing.assert_array_equal(halves, full)
        else:
            if dtype == np.float64:
                rtol = 4 * n * np.finfo(np.float64).eps
                atol = rtol * scale
            else:  # one float32 rounding at most
                rtol, atol = 1.2e-7, 0.0
            np.testing.assert_allclose(halves, full, rtol=rtol, atol=atol)
        assert_matches(halves, reference("trimmed_mean", X, f), dtype, scale)


def _trimmed_paths(X, f):
    """The trimmed mean of X by the network (whatever path n and f select) and by per-coordinate
    sorts with the sorted positions summed, over two blocks of lanes."""
    n, d = X.shape
    bounds = np.array([0, cw._LANES, d], dtype=np.int64)
    net = np.empty(d, dtype=X.dtype)
    full = np.empty(d, dtype=X.dtype)
    cw._coordinatewise_cpu(X, cw._ALL_ROWS, cw._TRIMMED, f, 1, 0, cw._sort_rows(n), bounds, net)
    cw._coordinatewise_cpu(X, cw._ALL_ROWS, cw._TRIMMED, f, 1, 0, 0, bounds, full)
    return net, full


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "n", [16, 17, 24, 31, 32, 33, 48, 64, 65, 80, 96, 97, 127, 128, 129, 160, 191, 255, 300]
)
def test_trimmed_mean_tree(n, style, dtype):
    """From n = 16 with f <= 4, n = 64 with f <= 8 and n = 96 with f <= 16, the trimmed mean
    merges only the K = 4, 8 or 16 extremes of sorted runs of 2K rows (:func:`_trimmed_tree`),
    every kept value summed once: it equals the full sort's sum exactly on integers; float32
    gives the sorted sum's bits (the float64 sum of these float32 values is exact); float64 is
    within a few roundings of the honest scale. Every branch of the root is taken (f = K, f < K,
    for K = 16 also f <= 8, and f = 0), with f rows of +-1e30 in the "huge" style, and a last
    run of 2K to 4K-1 rows when n is not a multiple of 2K. (The other f take the halves or the
    full sort, compared the same.)"""
    assert n >= cw._TREE4_N
    rng = np.random.default_rng([n, STYLES.index(style), DTYPES.index(dtype), 16])
    for f in (f for f in (0, 1, 3, 4, 5, 7, 8, 9, 15, 16) if 2 * f < n):
        X, scale = make_input(rng, n, cw._LANES + 9, f, dtype, style)
        tree, full = _trimmed_paths(X, f)
        if style == "integers" or dtype == np.float32:
            np.testing.assert_array_equal(tree, full)
        else:
            rtol = 4 * n * np.finfo(np.float64).eps
            np.testing.assert_allclose(tree, full, rtol=rtol, atol=rtol * scale)
        assert_matches(tree, reference("trimmed_mean", X, f), dtype, scale)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(cw._TREE4_N, 260),
    fsel=st.integers(0, 16),
    dtype=st.sampled_from(DTYPES),
    style=st.sampled_from(STYLES),
)
def test_trimmed_mean_tree_hypothesis(seed, n, fsel, dtype, style):
    f = min(fsel, (n - 1) // 2)
    rng = np.random.default_rng(seed)
    X, scale = make_input(rng, n, 40, f, dtype, style)
    assert_matches(cw._trimmed_mean_impl(X, f), reference("trimmed_mean", X, f), dtype, scale)


# ----------------------------------------------------------------------------------------------
# Parity with the reference


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 33, 64, 69])
def test_parity_grid(rule, dtype, style, n):
    rng = np.random.default_rng([n, len(style), DTYPES.index(dtype)])
    f = (n - 1) // 2
    for ff in sorted({0, f // 2, f}):
        for d in (1, 65):
            X, scale = make_input(rng, n, d, ff, dtype, style)
            assert_matches(IMPL[rule](X, ff), reference(rule, X, ff), dtype, scale)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 70),
    d=st.integers(1, 150),
    fsel=st.floats(0.0, 1.0),
    dtype=st.sampled_from(DTYPES),
    style=st.sampled_from(STYLES),
    rule=st.sampled_from(RULES),
    kind=st.sampled_from(cw.KINDS),
)
def test_parity_hypothesis(seed, n, d, fsel, dtype, style, rule, kind):
    rng = np.random.default_rng(seed)
    f = int(fsel * ((n - 1) // 2))
    X, scale = make_input(rng, n, d, f, dtype, style)
    params = {"kind": kind} if rule in KIND_RULES else {}
    assert_matches(IMPL[rule](X, f, **params), reference(rule, X, f, **params), dtype, scale)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_parity_large_n(rule, dtype):
    rng = np.random.default_rng(7)
    n, f = 300, 99
    X, scale = make_input(rng, n, 70, f, dtype, "integers")
    assert_matches(IMPL[rule](X, f), reference(rule, X, f), dtype, scale)


@pytest.mark.parametrize("dtype", DTYPES)
def test_parity_beyond_network_cutoff(dtype):
    """n = 4098 > _NETWORK_MAX_N: the public rules take the per-coordinate sort path."""
    rng = np.random.default_rng(13)
    n, f = cw._NETWORK_MAX_N + 2, 1000
    X, scale = make_input(rng, n, 3, f, dtype, "huge")
    for rule in ("median", "trimmed_mean"):
        assert_matches(IMPL[rule](X, f), reference(rule, X, f), dtype, scale)


@pytest.mark.parametrize("rule", KIND_RULES)
@pytest.mark.parametrize("kind", cw.KINDS)
@pytest.mark.parametrize("n", [2, 6, 32, 65])
def test_parity_kinds(rule, kind, n):
    rng = np.random.default_rng(n)
    f = (n - 1) // 2
    for dtype in DTYPES:
        X, scale = make_input(rng, n, 130, f, dtype, "integers")
        assert_matches(IMPL[rule](X, f, kind=kind), reference(rule, X, f, kind=kind), dtype, scale)


def test_huge_values_do_not_leak():
    """f rows at +-1e30 leave every rule within the honest range (float32 holds 1e30)."""
    rng = np.random.default_rng(3)
    for dtype in DTYPES:
        X = rng.normal(size=(11, 300)).astype(dtype)
        X[[2, 5, 9]] = np.array([1e30, -1e30, 1e30], dtype=dtype)[:, None]
        honest = np.delete(X, [2, 5, 9], axis=0)
        for rule in RULES:
            out = getattr(gars, rule)(X, f=3)
            assert np.isfinite(out).all()
            assert (np.abs(out) <= np.abs(honest).max(axis=0) + 1e-6).all(), rule


# ----------------------------------------------------------------------------------------------
# Known answers and tie conventions


def test_known_answers():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    assert gars.median(X, 1)[0] == 2.0
    assert gars.trimmed_mean(X, 1)[0] == 2.0
    assert gars.trimmed_mean(X, 2)[0] == 2.0
    assert gars.trimmed_mean(X, 0)[0] == pytest.approx(106.0 / 5)
    # Phocas: 4 closest to the 1-trimmed mean 2 are 2, 1, 3 (tie 1 vs 3 -> both) and then 0
    assert gars.phocas(X, 1)[0] == 1.5
    assert gars.meamed(X, 1)[0] == 1.5


def test_tie_between_both_sides_goes_to_smaller_value():
    """Centre 0, values -1 and +1 equally far: the smaller one is taken (reference convention)."""
    X = np.array([[-1.0, 1.0], [0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_array_equal(gars.meamed(X, 1), [-0.5, -0.5])
    np.testing.assert_array_equal(gars.phocas(X, 1), [-0.5, -0.5])
    np.testing.assert_array_equal(cw.closest_mean_to_median(X, 2), [-0.5, -0.5])


def test_even_n_kinds():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    assert gars.median(X, 1)[0] == 1.5
    assert gars.median(X, 1, kind="lower")[0] == 1.0
    assert gars.median(X, 1, kind="upper")[0] == 2.0
    # MeaMed, 3 closest: centre 1.5 -> {1, 2, 0}; centre 1 -> {1, 0, 2}; centre 2 -> {2, 1, 3}
    assert gars.meamed(X, 1)[0] == 1.0
    assert gars.meamed(X, 1, kind="lower")[0] == 1.0
    assert gars.meamed(X, 1, kind="upper")[0] == 2.0


def test_odd_n_ignores_kind():
    X = np.random.default_rng(0).normal(size=(7, 40))
    for kind in cw.KINDS:
        np.testing.assert_array_equal(gars.median(X, 2, kind=kind), np.median(X, axis=0))


@pytest.mark.parametrize("rule", RULES)
def test_permutation_invariant_bitwise(rule):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(13, 200)).astype(np.float32)
    perm = rng.permutation(13)
    np.testing.assert_array_equal(getattr(gars, rule)(X, 4), getattr(gars, rule)(X[perm], 4))


@pytest.mark.parametrize("rule", RULES)
def test_honest_value(rule):
    """n-f identical rows: the output is that row whatever the f others are."""
    rng = np.random.default_rng(5)
    v = rng.normal(size=90).astype(np.float32)
    X = np.tile(v, (9, 1))
    X[[1, 4, 6, 7]] = rng.normal(scale=50.0, size=(4, 90)).astype(np.float32)
    np.testing.assert_array_equal(getattr(gars, rule)(X, 4), v)


# ----------------------------------------------------------------------------------------------
# The public wrapper: dtypes, errors


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_public_keeps_dtype_and_shape(rule, dtype):
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(dtype)
    out = getattr(gars, rule)(X, 1)
    assert out.dtype == dtype and out.shape == (3,)
    np.testing.assert_array_equal(out, gars.aggregate(rule, X, 1))


@pytest.mark.parametrize("rule", RULES)
def test_requirement_error_message(rule):
    X = np.zeros((4, 3))
    msg = f"{rule} needs n >= 2f+1; got n=4, f=2"
    with pytest.raises(RequirementError, match=f"^{re.escape(msg)}$"):
        getattr(gars, rule)(X, 2)


def test_median_requirement_message_pinned():
    with pytest.raises(RequirementError, match=r"^median needs n >= 2f\+1; got n=4, f=2$"):
        gars.median(np.zeros((4, 2)), f=2)


@pytest.mark.parametrize("rule", KIND_RULES)
def test_bad_kind(rule):
    msg = f"{rule}: kind must be one of 'midpoint', 'lower', 'upper'; got kind='middle'"
    with pytest.raises(InvalidArgument, match=f"^{re.escape(msg)}$"):
        getattr(gars, rule)(np.zeros((3, 2)), 1, kind="middle")


@pytest.mark.parametrize("rule", ("trimmed_mean", "phocas"))
def test_kind_is_not_a_parameter_of(rule):
    with pytest.raises(InvalidArgument, match=rf"^{rule}: unknown parameter 'kind'"):
        gars.aggregate(rule, np.zeros((3, 2)), 1, kind="lower")


def test_nonfinite_row_dropped_and_counted():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(7, 20))
    X[3, 5] = np.nan
    kept = np.delete(X, 3, axis=0)
    for rule in RULES:
        got = getattr(gars, rule)(X, 2)
        np.testing.assert_allclose(got, reference(rule, kept, 1), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# closest_mean_to_median (Bulyan's coordinate phase)


@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 40),
    d=st.integers(1, 140),
    bsel=st.floats(0.0, 1.0),
    dtype=st.sampled_from(DTYPES),
    style=st.sampled_from(STYLES),
    kind=st.sampled_from(cw.KINDS),
)
def test_closest_mean_to_median_parity(seed, m, d, bsel, dtype, style, kind):
    rng = np.random.default_rng(seed)
    beta = 1 + int(bsel * (m - 1))
    f = min((m - 1) // 2, m - beta)  # the huge rows must stay out of the beta closest
    S, scale = make_input(rng, m, d, f, dtype, style)
    got = cw.closest_mean_to_median(S, beta, kind)
    assert_matches(got, ref._coordinate_phase(S, beta, kind), dtype, scale)


@pytest.mark.parametrize("kind", ["midpoint", "lower", "upper"])
@pytest.mark.parametrize("m", [7, 8, 13, 66])
def test_closest_to_median_with_long_runs_of_the_median(m, kind):
    """Only the window starts [h-k, h] are tested near the median; columns where more than k values
    equal the median (so the true start is further left) must still give the reference's mean."""
    rng = np.random.default_rng(m)
    d = 700
    S = rng.integers(-2, 3, size=(m, d)).astype(np.float64)
    S[: m - 2, ::3] = 0.0  # long runs of the median value in every third column
    for beta in sorted({1, 2, m // 3, m // 2, m - 1}):
        got = cw.closest_mean_to_median(S, beta, kind)
        np.testing.assert_array_equal(got, ref._coordinate_phase(S, beta, kind))


def test_closest_mean_to_median_is_meamed():
    X = np.random.default_rng(4).normal(size=(12, 77))
    np.testing.assert_array_equal(cw.closest_mean_to_median(X, 12 - 3), gars.meamed(X, 3))


@pytest.mark.parametrize("beta", [0, 6, -1, 2.0, True])
def test_closest_mean_to_median_bad_beta(beta):
    msg = r"^closest_mean_to_median: beta must be an integer in \[1, 5\]"
    with pytest.raises(InvalidArgument, match=msg):
        cw.closest_mean_to_median(np.zeros((5, 3)), beta)


def test_closest_mean_to_median_bad_input():
    with pytest.raises(InvalidArgument, match="S must be a 2-d float32 or float64 ndarray"):
        cw.closest_mean_to_median(np.zeros((5, 3), dtype=np.int64), 2)
    with pytest.raises(InvalidArgument, match="kind must be one of"):
        cw.closest_mean_to_median(np.zeros((5, 3)), 2, kind="mid")


# ----------------------------------------------------------------------------------------------
# Determinism


@pytest.fixture
def two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_same_result_whatever_the_thread_count(two_threads, dtype):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(21, 64 * 300 + 17)).astype(dtype)
    results = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        results[threads] = [IMPL[r](X, 6) for r in RULES] + [cw.closest_mean_to_median(X, 5)]
    for a, b in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_closest_mean_to_median_reads_selected_rows_in_place(dtype) -> None:
    """With ``rows`` the phase reads those rows of S where they are: same bits as on the copy."""
    from p2pbyz.gars._coordinatewise import closest_mean_to_median

    rng = np.random.default_rng(11)
    S = rng.normal(size=(13, 1000)).astype(dtype)
    rows = np.array([12, 0, 5, 7, 3, 9, 1])
    np.testing.assert_array_equal(
        closest_mean_to_median(S, 3, rows=rows), closest_mean_to_median(S[rows], 3)
    )
    with pytest.raises(InvalidArgument, match=r"^closest_mean_to_median: rows must be a non-empty"):
        closest_mean_to_median(S, 3, rows=np.array([0, 13]))
    with pytest.raises(InvalidArgument, match=r"beta must be an integer in \[1, 7\]; got beta=8"):
        closest_mean_to_median(S, 8, rows=rows)


# ----------------------------------------------------------------------------------------------
# The non-finite check folded into the block loads


@pytest.mark.parametrize("rule", [*RULES, "aksel"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n", [8, 9, 17, 33])
def test_one_nonfinite_value_anywhere_is_dropped_like_its_row(rule, dtype, bad, n):
    """The kernels check the values they load (no separate scan of X): a single NaN or infinity,
    in the first, a middle or the partial last block, makes the wrapper drop its row and count it
    against f, exactly as if the row had been removed; nonfinite="raise" refuses it. At n = 8,
    17 and 33 whole groups of 8 or 16 rows of a full block go straight into the sort
    (:func:`_load_sort8`), which does the check; at n = 9 every row is copied first."""
    rng = np.random.default_rng(9)
    d = 3 * cw._LANES + 5
    X = rng.normal(size=(n, d)).astype(dtype)
    check_nonfinite_dropped(rule, X, 2, bad, ((0, 0), (4, cw._LANES + 7), (n - 1, d - 1)))


def test_nonfinite_check_on_the_per_coordinate_path():
    """n > _NETWORK_MAX_N: the per-coordinate sorts check their loads too."""
    n = cw._NETWORK_MAX_N + 2
    X = np.random.default_rng(1).normal(size=(n, cw._LANES + 3))
    check_nonfinite_dropped("median", X, 1000, np.nan, ((n - 1, cw._LANES + 2),))


def test_closest_mean_to_median_refuses_nonfinite_values():
    S = np.ones((5, 3))
    S[2, 1] = np.nan
    with pytest.raises(InvalidArgument, match="closest_mean_to_median: S holds NaN or infinity"):
        cw.closest_mean_to_median(S, 2)
    np.testing.assert_array_equal(cw.closest_mean_to_median(S, 2, rows=[0, 1, 3]), [1.0, 1.0, 1.0])
