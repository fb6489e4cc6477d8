"""Bulyan and Multi-Bulyan against the numpy reference, the shrinking selection, the contracts."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from p2pbyz import gars
from p2pbyz.errors import InvalidArgument, RequirementError
from p2pbyz.gars import _bulyan, _krum, _reference

DTYPES = [np.float32, np.float64]


def _rtol(dtype):
    return 1e-9 if dtype == np.float64 else 1e-4


def _check(out, ref, dtype):
    assert out.dtype == dtype
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(out, ref, rtol=_rtol(dtype), atol=_rtol(dtype) * 1e-3 * scale)


def _inputs(dtype):
    """(name, X, f): random, tied, near-duplicate, huge-norm and adversarial inputs."""
    rng = np.random.default_rng(21)
    out = [
        ("random", rng.standard_normal((11, 30)), 2),
        ("minimal-n", rng.standard_normal((7, 5)), 1),
    ]
    tied = rng.standard_normal((12, 8))
    tied[[4, 9, 11]] = tied[2]
    out.append(("duplicates", tied, 2))
    base = rng.standard_normal(300) * 1e3
    out.append(("near-duplicates", base * (1 + 1e-7 * rng.standard_normal((11, 300))), 2))
    huge = rng.standard_normal((15, 10))
    huge[[0, 5, 9]] = 1e30
    huge[5] *= -1
    out.append(("huge-norm", huge, 3))
    adv = rng.standard_normal((15, 20))
    adv[:3] = 1e6 * rng.standard_normal((3, 20))
    adv[3:6] = adv[6:].mean(axis=0) + 0.05 * rng.standard_normal(20)  # colluding, identical
    out.append(("adversarial", adv, 3))
    return [(name, X.astype(dtype), f) for name, X, f in out]


CASES = [(dt, name, X, f) for dt in DTYPES for (name, X, f) in _inputs(dt)]
IDS = [f"{dt.__name__}-{name}" for dt, name, _, _ in CASES]
VARIANTS = [
    {},
    {"neighbours": "n-f-1"},
    {"squared": False},
    {"theta": "n-2f-2"},
    {"theta": "2f+1"},
]


MB_VARIANTS = [*VARIANTS, {"m": 1}, {"m": "n-f-2"}, {"m": "n-f-2", "theta": "n-2f-2"}]


def _resolve(params, n, f):
    theta = params.get("theta")
    theta = {"n-2f-2": n - 2 * f - 2, "2f+1": 2 * f + 1}.get(theta, theta)
    return {**params, "theta": theta}


@pytest.mark.parametrize(("dtype", "name", "X", "f"), CASES, ids=IDS)
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_bulyan_parity(dtype, name, X, f, variant):
    n = X.shape[0]
    params = _resolve(variant, n, f)
    if params["theta"] is not None and params["theta"] < 2 * f + 1:
        pytest.skip("theta = n-2f-2 < 2f+1 at the minimal n")
    _check(gars.bulyan(X, f, **params), _reference.bulyan(X, f, **params), dtype)


@pytest.mark.parametrize(("dtype", "name", "X", "f"), CASES, ids=IDS)
@pytest.mark.parametrize("variant", MB_VARIANTS, ids=str)
def test_multi_bulyan_parity(dtype, name, X, f, variant):
    n = X.shape[0]
    params = _resolve(variant, n, f)
    if params.get("m") == "n-f-2":
        params["m"] = n - f - 2
    if params["theta"] is not None and params["theta"] < 2 * f + 1:
        pytest.skip("theta = n-2f-2 < 2f+1 at the minimal n")
    _check(gars.multi_bulyan(X, f, **params), _reference.multi_bulyan(X, f, **params), dtype)


def _reference_picks(X, f, theta, neighbours="paper", squared=True):
    """Bulyan's picks, recomputed with the reference's own scores on the remaining set."""
    D = _reference.sq_distances(X)
    remaining, picks = list(range(X.shape[0])), []
    for _ in range(theta):
        s = _reference.krum_scores(
            X, f, neighbours=neighbours, squared=squared, D=D, subset=remaining
        )
        pick = remaining[sorted(range(len(remaining)), key=lambda i: (s[i], i))[0]]
        picks.append(pick)
        remaining.remove(pick)
    return picks


@pytest.mark.parametrize(("dtype", "name", "X", "f"), CASES, ids=IDS)
def test_selection_shrinks_and_matches_reference(dtype, name, X, f):
    """theta distinct picks, in the reference's order (index-level parity)."""
    n = X.shape[0]
    picks = _bulyan.selection_indices(X, f).tolist()
    assert len(picks) == n - 2 * f == len(set(picks))
    assert picks == _reference_picks(X, f, n - 2 * f)


@pytest.mark.parametrize("shift", [0.0, 5.0])
@pytest.mark.parametrize("n, d", [(40, 3000), (64, 2000)])
def test_selection_from_float32_bounds_is_the_exact_one(n, d, shift):
    """Both Bulyans select from certified float32 bounds (stopping at the first unsure step,
    making rows exact, resuming there): the same picks and groups as the compiled loop on the
    exact float64 matrix."""
    rng = np.random.default_rng(n + int(shift))
    X = rng.standard_normal((n, d)) + shift * rng.standard_normal(d)
    X[5] = X[3] * (1 + 1e-7 * rng.standard_normal(d))  # a near tie: some rows must become exact
    X = X.astype(np.float32)
    f = (n - 3) // 4
    theta = n - 2 * f
    D = _krum.sq_distances(X)
    for m in (0, n - f):
        E = _krum.ScoreBounds(X, True)
        got = _bulyan._iterated_selection(E, f, theta, True, m)[:3]
        assert 0 < E.exact.sum() < n / 4  # the bounds path ran, and needed a few exact rows
        want = _bulyan._iterated_selection_exact(D, _krum._row_orders(D), f, theta, True, m)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_rescoring_matters_stale_scores_differ():
    """Scores computed once and never updated (the LPD-EPFL Python code) pick another set here; we
    match the recomputing reference, not the stale one."""
    X = np.random.default_rng(0).standard_normal((7, 2))
    f, theta = 1, 5
    s = _reference.krum_scores(X, f)
    stale = sorted(range(7), key=lambda i: (s[i], i))[:theta]
    ours = _bulyan.selection_indices(X, f).tolist()
    assert set(ours) != set(stale)
    assert ours == _reference_picks(X, f, theta)
    stale_out = _reference._coordinate_phase(X[stale], theta - 2 * f)
    out = gars.bulyan(X, f)
    np.testing.assert_allclose(out, _reference.bulyan(X, f), rtol=1e-12)
    assert not np.allclose(out, stale_out)


def test_inner_krum_corner_case_neighbour_count():
    """n = 4f+3: the last steps run with |R| - f - 2 neighbours down to 0 (f = 1): then every
    remaining row scores 0 and the smallest index is picked."""
    X = np.array([[5.0], [0.0], [1.0], [2.0], [3.0], [4.0], [60.0]])
    picks = _bulyan.selection_indices(X, 1).tolist()
    assert picks == _reference_picks(X, 1, 5)
    remaining = sorted(set(range(7)) - set(picks[:4]))
    assert picks[4] == remaining[0]


@given(
    X=st.tuples(st.integers(3, 14), st.integers(1, 4), st.sampled_from(DTYPES)).flatmap(
        lambda t: hnp.arrays(t[2], (t[0], t[1]), elements=st.integers(-3, 3).map(float))
    ),
    data=st.data(),
)
def test_lattice_inputs_parity(X, data):
    """Exact ties everywhere: the selections (and so the outputs) follow the reference's.

    Multi-Bulyan's step vectors are means (e.g. -1/3), stored in the input's dtype: in float32
    their rounding can break a coordinate-phase tie of the float64 reference the other way, so
    for float32 the test compares Multi-Bulyan's selections with those of the float64 input."""
    n = X.shape[0]
    f = data.draw(st.integers(0, (n - 3) // 4))
    theta = data.draw(st.integers(2 * f + 1, n - 2 * f))
    m = data.draw(st.integers(1, n - f))
    np.testing.assert_allclose(
        gars.bulyan(X, f, theta=theta), _reference.bulyan(X, f, theta=theta), rtol=1e-6, atol=1e-6
    )
    if X.dtype == np.float64:
        np.testing.assert_allclose(
            gars.multi_bulyan(X, f, theta=theta, m=m),
            _reference.multi_bulyan(X, f, theta=theta, m=m),
            rtol=1e-6,
            atol=1e-6,
        )
    else:
        groups = [
            _bulyan._iterated_selection(_krum.ScoreBounds(Y, True), f, theta, True, m)[1]
            for Y in (X, X.astype(np.float64))
        ]
        np.testing.assert_array_equal(groups[0], groups[1])
    assert _bulyan.selection_indices(X, f, theta=theta).tolist() == _reference_picks(X, f, theta)


@pytest.mark.parametrize("rule", ["bulyan", "multi_bulyan"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_containment_and_bounded_under_attack(rule, dtype):
    """Per coordinate, within the honest range widened by its width (THEORY.md §2 [derived]),
    with f rows at +-1e30 or colluding."""
    rng = np.random.default_rng(4)
    n, f = 15, 3
    for trial in range(10):
        H = rng.standard_normal((n - f, 6))
        if trial % 2:
            B = rng.choice([1e30, -1e30], size=(f, 6))
        else:
            B = np.tile(H.mean(0) + 0.3, (f, 1))
        X = np.vstack([B, H]).astype(dtype)
        out = gars.aggregate(rule, X, f).astype(np.float64)
        lo, hi = H.min(axis=0), H.max(axis=0)
        r = hi - lo
        assert np.all(out >= lo - r - 1e-5) and np.all(out <= hi + r + 1e-5)


@pytest.mark.parametrize(
    ("rule", "n", "f", "match"),
    [
        ("bulyan", 10, 3, r"^bulyan needs n >= 4f\+3; got n=10, f=3$"),
        ("multi_bulyan", 6, 1, r"^multi_bulyan needs n >= 4f\+3; got n=6, f=1$"),
    ],
)
def test_requirements(rule, n, f, match):
    with pytest.raises(RequirementError, match=match):
        gars.aggregate(rule, np.zeros((n, 2)), f)


_RANGE = r"theta must satisfy 2f\+1 <= theta <= n-2f, i.e. 5 <= theta <= 7; "


@pytest.mark.parametrize("rule", ["bulyan", "multi_bulyan"])
@pytest.mark.parametrize(
    ("theta", "match"),
    [
        (2, _RANGE + r"got theta=2 \(n=11, f=2\)$"),
        (8, _RANGE + r"got theta=8 \(n=11, f=2\)$"),
        (6.0, r"theta must be an integer with 2f\+1 <= theta <= n-2f, i.e. 5 <= theta <= 7; "
         r"got theta=6.0"),
    ],
)
def test_theta_validated(rule, theta, match):
    with pytest.raises(InvalidArgument, match=rf"^{rule}: {match}"):
        gars.aggregate(rule, np.zeros((11, 2)), 2, theta=theta)


@pytest.mark.parametrize(
    ("m", "match"),
    [
        (0, r"^multi_bulyan: m must satisfy 1 <= m <= n-f = 9; got m=0 \(n=11, f=2\)$"),
        (10, r"^multi_bulyan: m must satisfy 1 <= m <= n-f = 9; got m=10 \(n=11, f=2\)$"),
    ],
)
def test_multi_bulyan_m_validated(m, match):
    with pytest.raises(InvalidArgument, match=match):
        gars.multi_bulyan(np.zeros((11, 2)), 2, m=m)


def test_options_validated():
    with pytest.raises(InvalidArgument, match=r"^bulyan: neighbours must be one of 'paper', 'n-f"):
        gars.bulyan(np.zeros((7, 2)), 1, neighbours="n-f")
    with pytest.raises(InvalidArgument, match=r"^multi_bulyan: squared must be True or False"):
        gars.multi_bulyan(np.zeros((7, 2)), 1, squared="yes")


def test_lpd_theta_variant_is_a_different_rule():
    """theta = n-2f-2 (AggregaThor) averages fewer values than the paper's default."""
    X = np.random.default_rng(3).standard_normal((11, 6))
    a = gars.bulyan(X, 2)
    b = gars.bulyan(X, 2, theta=11 - 4 - 2)
    np.testing.assert_allclose(b, _reference.bulyan(X, 2, theta=5), rtol=1e-12)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("rule", ["bulyan", "multi_bulyan"])
def test_thread_count_invariant(rule):
    X = np.random.default_rng(6).standard_normal((11, 50_000)).astype(np.float32)
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
    spec = gars.spec("bulyan")
    assert spec.theory["eta"](15, 3) == pytest.approx(gars.spec("krum").theory["eta"](15, 3))
    assert spec.theory["breakdown"](15) == 3 and spec.requires(15, 3) and not spec.requires(14, 3)
    assert gars.spec("multi_bulyan").theory["slowdown"](10, 2) == pytest.approx(0.8)
    assert gars.spec("multi_bulyan").params == {
        "theta": None, "m": None, "neighbours": "paper", "squared": True
    }


@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_rows_with_the_phase_in_the_same_pass(dtype):
    """:func:`exact_rows` gives the same distances with or without the phase, whatever other rows
    are wanted (entries (i, j) and (j, i) agree), close to the full exact matrix, and the phase
    bit for bit as :func:`closest_mean_to_median` on the same rows."""
    from p2pbyz.gars import _coordinatewise as cw

    rng = np.random.default_rng(11)
    n, d = 23, 3 * cw._LANES + 17
    X = rng.normal(size=(n, d)).astype(dtype)
    picks = rng.permutation(n)[:15]
    D1, none = cw.exact_rows(X, np.array([4, 9, 2]))
    D2, out = cw.exact_rows(X, np.array([2, 17]), picks, 7)
    assert none is None
    np.testing.assert_array_equal(D1[2], D2[0])
    assert D1[1, 17] == D2[1, 9]
    np.testing.assert_allclose(D1, _krum.sq_distances(X)[[4, 9, 2]], rtol=1e-12)
    np.testing.assert_array_equal(out, cw.closest_mean_to_median(X, 7, rows=picks))


def test_bulyan_phase_fused_with_the_exact_rows_equals_the_separate_phase(monkeypatch):
    """When the bounds leave rows unsure, the phase runs in the same pass on the speculative
    selection; the result is the separate phase's, bit for bit, and the fused result is used."""
    rng = np.random.default_rng(2)
    n, d = 27, 700
    X = rng.standard_normal((n, d))
    X[5] = X[3] * (1 + 1e-7 * rng.standard_normal(d))  # a near tie: some rows must become exact
    X = X.astype(np.float32)
    f = 4
    E = _krum.ScoreBounds(X, True)
    picks, _, _, fused = _bulyan._iterated_selection(E, f, n - 2 * f, True, 0, n - 4 * f)
    assert fused is not None and fused[0] == frozenset(picks.tolist())
    separate = _bulyan._coordinate_phase(X, n - 4 * f, picks)
    np.testing.assert_array_equal(fused[1], separate)
    calls = []
    monkeypatch.setattr(_bulyan, "_coordinate_phase", lambda *a: calls.append(a))
    np.testing.assert_array_equal(_bulyan._bulyan_impl(X, f), separate)
    assert calls == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, d, f", [(11, 5, 2), (23, 3 * 256 + 17, 4), (40, 600, 9)])
def test_group_phase_in_one_pass_equals_the_two_steps(dtype, n, d, f):
    """Multi-Bulyan's group means and coordinate phase in one pass, block by block
    (:func:`group_closest_mean`), give the bits of the group means stored whole and then
    sorted (:func:`group_means`, :func:`closest_mean_to_median`), for groups of every size
    (one row included) and d off every block size."""
    from p2pbyz.gars import _common
    from p2pbyz.gars import _coordinatewise as cw

    rng = np.random.default_rng(n + d)
    for style in ("normal", "lattice", "outliers"):
        X = rng.standard_normal((n, d))
        if style == "lattice":
            X = np.round(2 * X)
        elif style == "outliers":
            X[:f] *= 1e20
        X = X.astype(dtype)
        theta = n - 2 * f
        sizes = np.concatenate([[1], rng.integers(1, n + 1, theta - 1)])
        rows = np.concatenate([np.sort(rng.permutation(n)[:s]) for s in sizes])
        starts = np.concatenate([[0], np.cumsum(sizes)])
        beta = theta - 2 * f
        want = cw.closest_mean_to_median(
            _common.group_means(X, rows, starts, centered=True), beta
        )
        np.testing.assert_array_equal(cw.group_closest_mean(X, rows, starts, beta), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_bulyan_first_step_is_multi_krum(dtype):
    """A step's vector is Multi-Krum's mean of the remaining rows (its rows in index order), so
    the first one is ``multi_krum(X, f, m=m)`` bit for bit."""
    from p2pbyz.gars import _common

    rng = np.random.default_rng(5)
    n, d, f = 19, 900, 4
    X = (rng.standard_normal((n, d)) + 3.0).astype(dtype)
    for m in (1, 7, n - f):
        _, groups, sizes, _ = _bulyan._iterated_selection(
            _krum.ScoreBounds(X, True), f, n - 2 * f, True, m
        )
        assert all(np.all(np.diff(groups[g, : sizes[g]]) > 0) for g in range(n - 2 * f))
        first = _common.group_means(X, groups[0, : sizes[0]], np.array([0, sizes[0]]), True)[0]
        np.testing.assert_array_equal(first, gars.multi_krum(X, f, m=m))


def test_multi_bulyan_certifies_only_the_groups_boundary():
    """With m = n-f the groups are nearly all the rows, and Gaussian rows' scores lie within
    float32's error of each other: certifying each group's order made 21 of 32 rows exact at
    (32, 1e6). Certifying the set (and the pick) needs only the rows at its boundary."""
    rng = np.random.default_rng(0)
    n, d, f = 32, 50_000, 4
    X = rng.standard_normal((n, d)).astype(np.float32)
    E = _krum.ScoreBounds(X, True)
    got = _bulyan._iterated_selection(E, f, n - 2 * f, True, n - f)[:3]
    assert E.exact.sum() <= n // 4
    D = _krum.sq_distances(X)
    want = _bulyan._iterated_selection_exact(D, _krum._row_orders(D), f, n - 2 * f, True, n - f)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
