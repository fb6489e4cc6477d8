"""Krum, Multi-Krum, the Medoid and 1-p Krum against the numpy reference, plus their contracts."""

from __future__ import annotations

import itertools
import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from p2pbyz import gars
from p2pbyz.errors import InvalidArgument, RequirementError
from p2pbyz.gars import _bulyan, _krum, _reference
from p2pbyz.gars._common import sq_distances, sq_distances_bounded
from gars_inputs import check_nonfinite_dropped

DTYPES = [np.float32, np.float64]
VARIANTS = [
    {"neighbours": "paper", "squared": True},
    {"neighbours": "n-f-1", "squared": True},
    {"neighbours": "paper", "squared": False},
    {"neighbours": "n-f-1", "squared": False},
]


def _vid(v):
    return f"{v['neighbours']}-sq{v['squared']}"


def _rtol(dtype):
    return 1e-9 if dtype == np.float64 else 1e-4


def _honest(dtype, n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


def _far_and_colluding(dtype, n, f, d, seed):
    """f rows far away and f rows colluding (identical) just off the honest mean."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:f] = 1e6 * rng.standard_normal((f, d))
    mean = X[2 * f :].mean(axis=0)
    X[f : 2 * f] = mean + 0.05 * rng.standard_normal(d)
    return X.astype(dtype)


def _inputs(dtype):
    """(name, X, f): random, tied, near-duplicate, huge-norm and adversarial inputs."""
    rng = np.random.default_rng(11)
    out = [("random", _honest(dtype, 11, 30, 1), 2), ("random-small-d", _honest(dtype, 9, 1, 2), 3)]
    tied = _honest(dtype, 9, 12, 3)
    tied[[5, 8]] = tied[1]  # duplicates of row 1: a three-way exact tie
    tied[[3, 6]] = tied[0]
    out.append(("duplicates", tied, 2))
    base = rng.standard_normal(500) * 1e3
    near = (base * (1 + 1e-7 * rng.standard_normal((10, 500)))).astype(dtype)
    out.append(("near-duplicates", near, 3))
    huge = _honest(dtype, 10, 20, 4)
    huge[[2, 7]] = np.array(1e30, dtype=dtype)
    huge[7] *= -1
    out.append(("huge-norm", huge, 2))
    out.append(("adversarial", _far_and_colluding(dtype, 13, 3, 40, 5), 3))
    return out


CASES = [(dt, name, X, f) for dt in DTYPES for (name, X, f) in _inputs(dt)]
IDS = [f"{dt.__name__}-{name}" for dt, name, _, _ in CASES]


@pytest.mark.parametrize(("dtype", "name", "X", "f"), CASES, ids=IDS)
@pytest.mark.parametrize("variant", VARIANTS, ids=_vid)
def test_krum_selects_the_reference_row(dtype, name, X, f, variant):
    """Output is the reference's choice, bit for bit (the row itself), in X's dtype."""
    out = gars.krum(X, f, **variant)
    ref = _reference.krum(X, f, **variant)
    assert out.dtype == dtype
    assert np.array_equal(out.astype(np.float64), ref)


@pytest.mark.parametrize(("dtype", "name", "X", "f"), CASES, ids=IDS)
@pytest.mark.parametrize("variant", VARIANTS[:3], ids=_vid)
@pytest.mark.parametrize("m", [None, 1, 3, "n-f-2", "n-f"])
def test_multi_krum_parity(dtype, name, X, f, variant, m):
    n = X.shape[0]
    m = {"n-f-2": n - f - 2, "n-f": n - f}.get(m, m)
    out = gars.multi_krum(X, f, m=m, **variant)
    ref = _reference.multi_krum(X, f, m=m, **variant)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=_rtol(dtype), atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize(("dtype", "name", "X", "f"), CASES, ids=IDS)
def test_medoid_selects_the_reference_row(dtype, name, X, f):
    out = gars.medoid(X, f)
    assert out.dtype == dtype
    assert np.array_equal(out.astype(np.float64), _reference.medoid(X, f))


@given(
    X=st.tuples(st.integers(3, 12), st.integers(1, 6), st.sampled_from(DTYPES)).flatmap(
        lambda t: hnp.arrays(
            t[2], (t[0], t[1]), elements=st.integers(-4, 4).map(float)
        )
    ),
    data=st.data(),
)
def test_selection_parity_on_lattice_inputs(X, data):
    """Small-integer inputs tie exactly and often: the smallest index wins, as in the reference."""
    n = X.shape[0]
    f = data.draw(st.integers(0, (n - 3) // 2))
    variant = data.draw(st.sampled_from(VARIANTS))
    assert np.array_equal(gars.krum(X, f, **variant), _reference.krum(X, f, **variant))
    assert np.array_equal(gars.medoid(X, f), _reference.medoid(X, f))
    np.testing.assert_allclose(
        gars.multi_krum(X, f, **variant),
        _reference.multi_krum(X, f, **variant),
        rtol=1e-6,
        atol=1e-6,
    )


def test_exact_tie_between_distinct_rows_goes_to_smallest_index():
    """Four corners of a square (equal scores, distinct rows) and one far row: corner rows permuted,
    Krum and the Medoid return whichever corner comes first."""
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    far = np.array([[40.0, 40.0]])
    for perm in itertools.permutations(range(4)):
        X = np.vstack([corners[list(perm)], far])
        assert np.array_equal(gars.krum(X, 1), corners[perm[0]])
        X2 = np.vstack([far, corners[list(perm)]])
        assert np.array_equal(gars.krum(X2, 1), corners[perm[0]])
    scores = _krum.krum_scores(np.vstack([corners, far]), 1)
    assert scores[:4].tolist() == [2.0, 2.0, 2.0, 2.0]


def test_neighbour_variants_choose_differently():
    """The options are real: n-f-2 vs n-f-1 neighbours, squared vs plain distances can disagree."""
    disagreements = 0
    for seed in range(40):
        X = np.random.default_rng(seed).standard_normal((7, 2))
        picks = tuple(
            int(np.flatnonzero((X == gars.krum(X, 2, **v)).all(axis=1))[0]) for v in VARIANTS
        )
        disagreements += len(set(picks)) > 1
    assert disagreements > 0


def test_honest_value_exact_and_bounded():
    """n-f rows equal v: Krum and Multi-Krum return v exactly, whatever the f others are."""
    v = np.array([0.1, -3.7, 2.2e-5])
    byz = [[1e30, -1e30, 5.0], [-2.0, 3.0, 1e20], [0.1, -3.7, 2.3e-5]]
    X = np.vstack([np.tile(v, (8, 1)), byz])
    assert np.array_equal(gars.krum(X, 3), v)
    assert np.array_equal(gars.multi_krum(X, 3), v)
    assert np.array_equal(gars.multi_krum(X, 3, m=3), v)
    assert np.array_equal(gars.medoid(X, 3), v)


# ----------------------------------------------------------------------------------------------
# 1-p Krum


def _avg_vs_krum_input():
    X = _far_and_colluding(np.float64, 9, 2, 5, 7)
    return X, X.mean(axis=0), _reference.krum(X, 2)


@pytest.mark.parametrize("t", [1, 2, 4, 9, 100])
def test_one_minus_p_krum_parity(t):
    X, _, _ = _avg_vs_krum_input()
    for seed in range(20):
        np.testing.assert_allclose(
            gars.one_minus_p_krum(X, 2, t=t, seed=seed),
            _reference.one_minus_p_krum(X, 2, t=t, seed=seed),
            rtol=1e-12,
        )


def test_one_minus_p_krum_frequency():
    """At t=4 the average is chosen with probability 1/sqrt(4) = 1/2 (400 seeds: +-4 sigma)."""
    X, avg, kr = _avg_vs_krum_input()
    assert not np.allclose(avg, kr)
    averaged = 0
    for seed in range(400):
        out = gars.one_minus_p_krum(X, 2, t=4, seed=seed)
        if np.allclose(out, avg, rtol=1e-12):
            averaged += 1
        else:
            assert np.array_equal(out, kr)
    assert abs(averaged / 400 - 0.5) < 0.1
    # round 1 always averages
    assert all(np.allclose(gars.one_minus_p_krum(X, 2, t=1, seed=s), avg) for s in range(20))


def test_one_minus_p_krum_one_draw_from_a_shared_generator():
    X, _, _ = _avg_vs_krum_input()
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(10):
        np.testing.assert_allclose(
            gars.one_minus_p_krum(X, 2, t=3, seed=g1),
            _reference.one_minus_p_krum(X, 2, t=3, seed=g2),
        )
    assert g1.random() == g2.random()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"t": 0}, r"one_minus_p_krum: t must be >= 1; got t=0"),
        ({"t": 1.5}, r"one_minus_p_krum: t must be an integer; got t=1.5"),
        ({"t": "2"}, r"one_minus_p_krum: t must be an integer; got t='2'"),
        ({"seed": -1}, r"one_minus_p_krum: seed must be None, a non-negative int"),
        ({"neighbours": "n-f"}, r"one_minus_p_krum: neighbours must be one of 'paper', 'n-f-1'"),
    ],
)
def test_one_minus_p_krum_invalid(kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        gars.one_minus_p_krum(np.zeros((5, 2)), 1, **kwargs)


# ----------------------------------------------------------------------------------------------
# Requirements and parameters


@pytest.mark.parametrize(
    ("rule", "n", "f", "match"),
    [
        ("krum", 6, 2, r"^krum needs n >= 2f\+3; got n=6, f=2$"),
        ("multi_krum", 4, 1, r"^multi_krum needs n >= 2f\+3; got n=4, f=1$"),
        ("one_minus_p_krum", 8, 3, r"^one_minus_p_krum needs n >= 2f\+3; got n=8, f=3$"),
        ("medoid", 6, 3, r"^medoid needs n >= 2f\+1; got n=6, f=3$"),
    ],
)
def test_requirements(rule, n, f, match):
    with pytest.raises(RequirementError, match=match):
        gars.aggregate(rule, np.zeros((n, 3)), f)


def test_requirement_boundaries_accepted():
    assert gars.krum(np.zeros((7, 2)), 2).shape == (2,)
    assert gars.medoid(np.zeros((5, 2)), 2).shape == (2,)


@pytest.mark.parametrize(
    ("m", "match"),
    [
        (0, r"multi_krum: m must satisfy 1 <= m <= n-f = 8; got m=0 \(n=10, f=2\)"),
        (9, r"multi_krum: m must satisfy 1 <= m <= n-f = 8; got m=9 \(n=10, f=2\)"),
        (2.0, r"multi_krum: m must be an integer with 1 <= m <= n-f = 8; got m=2.0"),
        (True, r"multi_krum: m must be an integer"),
    ],
)
def test_multi_krum_m_validated(m, match):
    with pytest.raises(InvalidArgument, match=match):
        gars.multi_krum(np.zeros((10, 3)), 2, m=m)


@pytest.mark.parametrize("rule", ["krum", "multi_krum", "one_minus_p_krum"])
def test_krum_options_validated(rule):
    with pytest.raises(InvalidArgument, match=rf"{rule}: neighbours must be one of"):
        gars.aggregate(rule, np.zeros((7, 2)), 1, neighbours="lpd")
    msg = rf"{rule}: squared must be True or False; got squared=1 "
    with pytest.raises(InvalidArgument, match=msg):
        gars.aggregate(rule, np.zeros((7, 2)), 1, squared=1)


def test_m_bounds_follow_dropped_rows():
    """A NaN row counts against f: n and f both shrink, and the default m = n-f follows."""
    X = _honest(np.float64, 9, 4, 8)
    Xn = X.copy()
    Xn[4, 1] = np.nan
    kept = np.delete(X, 4, axis=0)
    np.testing.assert_allclose(gars.multi_krum(Xn, 2), _reference.multi_krum(kept, 1))


# ----------------------------------------------------------------------------------------------
# Determinism, registry


@pytest.mark.parametrize("rule", ["krum", "multi_krum", "medoid"])
def test_thread_count_invariant(rule):
    X = _far_and_colluding(np.float32, 12, 2, 60_000, 9)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = gars.aggregate(rule, X, 2)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b = gars.aggregate(rule, X, 2)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(a, b)


def test_theory_hooks():
    spec = gars.spec("krum")
    n, f = 11, 2
    expected = math.sqrt(2 * (n - f + (f * (n - f - 2) + f**2 * (n - f - 1)) / (n - 2 * f - 2)))
    assert spec.theory["eta"](n, f) == pytest.approx(expected)
    assert "Blanchard et al. 2017, Prop. 1" in spec.theory["eta_source"]
    # LPD's expanded form of the same eta^2 (THEORY.md §1)
    lpd = 2 * (n - f + f * (n + f * (n - f - 2) - 2) / (n - 2 * f - 2))
    assert spec.theory["eta"](n, f) ** 2 == pytest.approx(lpd)
    assert spec.theory["breakdown"](11) == 4 and spec.requires(11, 4) and not spec.requires(11, 5)
    assert gars.spec("multi_krum").theory["eta"] is spec.theory["eta"]
    assert gars.spec("medoid").theory["breakdown"](11) == 5
    assert gars.spec("one_minus_p_krum").properties == frozenset({"randomized"})
    assert "selects_input" in spec.properties and "selects_input" in gars.spec("medoid").properties
    assert gars.spec("multi_krum").params == {"m": None, "neighbours": "paper", "squared": True}


# ----------------------------------------------------------------------------------------------
# The float32 fast path: certified bounds, exact where it matters


def _near_tie_rows(rng, n, d, gap):
    """Rows whose two best Krum scores differ by a relative ``gap`` (about rho or less)."""
    X = rng.normal(size=(n, d))
    X[1] = X[0] * (1.0 + gap)  # rows 0 and 1 score almost the same
    return X.astype(np.float32)


@pytest.mark.parametrize(("n", "d"), [(9, 3000), (6, 40_001)])  # one partial block; many blocks
@pytest.mark.parametrize("style", ["normal", "near_duplicate", "tiny", "huge_ok", "lattice"])
def test_bounded_distances_contain_the_exact_ones(style, n, d):
    rng = np.random.default_rng(len(style))
    X = {
        "normal": lambda: rng.normal(size=(n, d)),
        "near_duplicate": lambda: 1.0 + 1e-6 * rng.normal(size=(n, d)),
        "tiny": lambda: 1e-30 * rng.normal(size=(n, d)),
        "huge_ok": lambda: 1e15 * rng.normal(size=(n, d)),
        "lattice": lambda: rng.integers(-2, 3, size=(n, d)).astype(float),
    }[style]().astype(np.float32)
    X[4] = X[2]
    D, rho, alpha = sq_distances_bounded(X)
    exact = sq_distances(X)
    assert np.all(exact >= D * (1 - rho) - alpha) and np.all(exact <= D * (1 + rho) + alpha)
    assert D[2, 4] == 0.0 and rho < 2.5e-6  # the explicit float32 summation order's bound


def test_bounded_distances_of_a_strided_view_equal_those_of_its_copy():
    # whole blocks are read from X in place: a view with a column stride must not be read as rows
    X = np.random.default_rng(3).normal(size=(7, 2 * 9000)).astype(np.float32)
    view = X[:, ::2]
    D, rho, alpha = sq_distances_bounded(view)
    D2, rho2, alpha2 = sq_distances_bounded(np.ascontiguousarray(view))
    np.testing.assert_array_equal(D, D2)
    assert (rho, alpha) == (rho2, alpha2)


def test_bounded_distances_decline_float64_and_overflow():
    assert sq_distances_bounded(np.ones((3, 4))) is None
    X = np.zeros((3, 4), dtype=np.float32)
    X[0] = 3e19  # squares overflow float32
    assert sq_distances_bounded(X) is None
    np.testing.assert_array_equal(gars.krum(X, 0), X[1])  # the exact path takes over


@pytest.mark.parametrize("gap", [0.0, 1e-9, 1e-7, 1e-5, 1e-3])
@pytest.mark.parametrize("rule", ["krum", "multi_krum", "medoid", "bulyan", "multi_bulyan"])
def test_float32_selects_what_float64_selects(rule, gap):
    """Near ties below the float32 bound are settled by exact float64 rows: float32 input selects
    the rows that the same values in float64 select."""
    rng = np.random.default_rng(int(gap * 1e9) + len(rule))
    X = _near_tie_rows(rng, 15, 2000, gap)
    X64 = X.astype(np.float64)
    if rule in ("krum", "medoid"):
        out = getattr(gars, rule)(X, 3)
        np.testing.assert_array_equal(out.astype(np.float64), getattr(gars, rule)(X64, 3))
    elif rule == "multi_krum":
        alive = np.ones(15, dtype=np.bool_)
        for m in (1, 2, 5, 12):
            want = _krum.krum_ranking(X64, 3, m, "paper", True)
            assert _krum.krum_ranking(X, 3, m, "paper", True).tolist() == want.tolist()
            got = _krum.ScoreBounds(X, True).smallest_set(alive, 10, m)
            assert got.tolist() == sorted(want.tolist())
    else:  # Bulyan uses the exact matrix by default: check the fast bounds select the same
        m = 6 if rule == "multi_bulyan" else 0
        got = _bulyan._iterated_selection(_krum.ScoreBounds(X, True, fast=True), 3, 9, True, m)
        want = _bulyan._iterated_selection(_krum.ScoreBounds(X64, True), 3, 9, True, m)
        exact = _bulyan._iterated_selection(_krum.ScoreBounds(X, True, fast=False), 3, 9, True, m)
        for a, b, c in zip(got, want, exact, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)


def test_fast_path_makes_few_rows_exact():
    """On generic input the float32 bounds settle Krum with at most a few exact rows."""
    X = np.random.default_rng(5).normal(size=(64, 5000)).astype(np.float32)
    sb = _krum.ScoreBounds(X, True)
    best = sb.ranked(np.ones(64, dtype=np.bool_), _krum.neighbour_count(64, 10, "paper"), 1)
    assert sb.exact.sum() <= 4
    assert best[0] == int(np.argmin(_krum.krum_scores(X.astype(np.float64), 10)))
    sb = _krum.ScoreBounds(X, True)
    chosen = sb.smallest_set(np.ones(64, dtype=np.bool_), _krum.neighbour_count(64, 10, "paper"), 54)
    assert sb.exact.sum() <= 8
    want = np.argsort(_krum.krum_scores(X.astype(np.float64), 10), kind="stable")[:54]
    assert chosen.tolist() == sorted(want.tolist())


_DISTANCE_RULES = [("krum", 9, 2), ("multi_krum", 9, 2), ("medoid", 9, 2), ("bulyan", 11, 2),
                   ("multi_bulyan", 11, 2), ("caf", 9, 2), ("mda", 9, 2), ("smea", 9, 2)]


@pytest.mark.parametrize("rule,n,f", _DISTANCE_RULES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_distance_rules_detect_nonfinite_rows_themselves(rule, n, f, dtype, bad):
    """The distance matrix reveals a NaN/inf row (``detects_nonfinite``): the row is dropped and
    counted against f exactly as if removed, ``nonfinite="raise"`` refuses it, and f = 0 is an
    assumption error; finite input is never scanned separately."""
    from p2pbyz.errors import ByzantineAssumptionError

    assert gars.spec(rule).detects_nonfinite
    X = _honest(dtype, n, 300, seed=5)
    check_nonfinite_dropped(rule, X, f, bad, ((0, 0), (n // 2, 150), (n - 1, 299)))
    Y = X.copy()
    Y[1, 7] = bad
    with pytest.raises(ByzantineAssumptionError, match="but f=0"):
        gars.aggregate(rule, Y, 0)


def test_distance_rules_skip_the_scan_on_finite_input(monkeypatch):
    calls = []
    from p2pbyz.gars import _api, _common

    real = _common.nonfinite_rows
    for mod in (_api, _common, _krum):
        monkeypatch.setattr(mod, "nonfinite_rows", lambda X: calls.append(1) or real(X))
    for rule, n, f in _DISTANCE_RULES:
        for dtype in DTYPES:
            for ff in (0, f):
                assert np.isfinite(gars.aggregate(rule, _honest(dtype, n, 50), ff)).all()
    assert calls == []


def test_one_nonfinite_row_alone_is_refused():  # n = 1: no distance reveals it
    from p2pbyz.errors import ByzantineAssumptionError

    for rule in ("medoid", "mda", "smea", "caf"):
        for dtype in DTYPES:
            with pytest.raises(ByzantineAssumptionError, match="but f=0"):
                gars.aggregate(rule, np.array([[1.0, np.nan]], dtype=dtype), 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_overflowing_distances_of_finite_rows_are_not_byzantine(dtype):
    """Finite rows whose squared distances overflow are not dropped: the exact path runs."""
    big = np.finfo(dtype).max / 4
    X = np.zeros((7, 3), dtype=dtype)
    X[:3] = big
    X[3:] = -big
    X[6, 0] = 0.0
    out = gars.krum(X, 2)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, _reference.krum(X, 2).astype(dtype))


@pytest.mark.parametrize("rule", ["krum", "median"])
def test_pre_aggregation_overflow_is_a_clear_error(rule):
    """Finite inputs whose NNM means overflow: no row to drop, an error that says why (it used
    to leak the internal NonFiniteInput for the rules that check their own input)."""
    big = np.finfo(np.float64).max
    X = np.array([[big], [-big], [big], [-big], [big]])
    with pytest.raises(InvalidArgument, match=rf"^{rule}: the vectors out of pre-aggregation \(nnm\) hold NaN or inf"):
        gars.aggregate(rule, X, 1, pre=["nnm"])
