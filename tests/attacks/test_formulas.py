"""Each attack against its formula (THEORY.md §10) on known inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pbyz import attacks, gars
from p2pbyz.errors import RequirementError

H = np.array([[1.0, 2.0, -3.0], [3.0, 4.0, 1.0], [5.0, 0.0, 2.0], [-1.0, 2.0, 0.0]])
MEAN = np.array([2.0, 2.0, 0.0])
STD = np.std(H, axis=0, ddof=1)


def test_gaussian_moments_and_independence():
    """Rows are independent N(mu, sigma^2) draws (mean and std within sampling error)."""
    atk = attacks.make("gaussian", mu=3.0, sigma=2.0)
    B = atk(np.zeros((2, 20_000)), 3, rng=np.random.default_rng(1))
    assert B.shape == (3, 20_000)
    assert abs(B.mean() - 3.0) < 0.05
    assert abs(B.std() - 2.0) < 0.05
    assert not np.array_equal(B[0], B[1])


def test_gaussian_default_sigma_is_200():
    B = attacks.make("gaussian")(np.zeros((2, 50_000)), 1, rng=np.random.default_rng(2))
    assert abs(B.std() - 200.0) < 3.0


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("zero", {}, np.zeros(3)),
        ("sign_flip", {}, -MEAN),
        ("omniscient", {}, -100.0 * MEAN),
        ("omniscient", {"k": 7.0}, -7.0 * MEAN),
        ("ipm", {}, -0.1 * MEAN),
        ("ipm", {"eps": -10.0}, 10.0 * MEAN),
        ("bulyan_coordinate", {"eps": 4.0, "k": 2}, MEAN + np.array([0.0, 0.0, 4.0])),
        ("alie", {"z": 1.5}, MEAN - 1.5 * STD),
        ("alie", {"z": -1.5}, MEAN + 1.5 * STD),
        ("mimic", {"t": 2}, H[2]),
    ],
)
def test_fixed_formulas(name, params, expected):
    """The f rows all equal the formula's vector."""
    B = attacks.make(name, **params)(H, 3)
    assert B.shape == (3, 3)
    for row in B:
        np.testing.assert_allclose(row, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "value"), [("inf", np.inf), ("drop", np.nan), ("nan", np.nan)])
def test_nonfinite_attacks(name, value):
    B = attacks.make(name)(H, 2)
    np.testing.assert_array_equal(B, np.full((2, 3), value))


def test_drop_is_an_omission_that_the_rules_drop():
    """drop's placeholders are removed by the rule and counted against f."""
    assert attacks.spec("drop").omission
    B = attacks.make("drop")(H, 1)
    out = gars.aggregate("average", np.vstack([H, B]), 1)
    np.testing.assert_allclose(out, MEAN)


def test_alie_default_z_is_z_max_of_n_and_f():
    """z=None uses z_max(n = h + f, f)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(38, 5))
    B = attacks.make("alie")(X, 12)
    z = attacks.alie_z(50, 12)
    np.testing.assert_allclose(B[0], X.mean(0) - z * X.std(0, ddof=1), rtol=1e-12)
    assert attacks.make("alie").factor(X, 12) == z


@pytest.mark.parametrize(("n", "f", "z"), [(50, 12, 0.34), (50, 24, 1.43)])
def test_alie_z_known_values(n, f, z):
    """THEORY.md §10: z ~ 0.34 at (50, 12) and ~ 1.43 at (50, 24) (epfml form)."""
    assert round(attacks.alie_z(n, f), 2) == z


def test_alie_z_closed_form():
    """s = floor(n/2 + 1) - f, z = Phi^-1((n - f - s)/(n - f)) at (51, 12): s = 14, p = 25/39."""
    from statistics import NormalDist

    assert attacks.alie_z(51, 12) == NormalDist().inv_cdf(25 / 39)


@pytest.mark.parametrize(("n", "f"), [(2, 0), (10, 6), (50, 26)])
def test_alie_z_outside_its_domain(n, f):
    match = rf"alie: .*needs n >= 3 and f <= floor\(n/2\); got n={n}, f={f}"
    with pytest.raises(RequirementError, match=match):
        attacks.alie_z(n, f)


@given(
    h=st.integers(1, 6),
    f=st.integers(1, 3),
    d=st.integers(1, 5),
    scale=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from([np.float64, np.float32]),
)
@settings(max_examples=25)
def test_lemma1_one_input_moves_the_average_anywhere(h, f, d, scale, seed, dtype):
    """Krum supplement Lemma 1: the Byzantine vectors make averaging output any chosen U."""
    rng = np.random.default_rng(seed)
    Hx = rng.normal(size=(h, d)).astype(dtype)
    U = rng.normal(size=d) * scale
    B = attacks.make("linear_target", target=U)(Hx, f)
    assert B.dtype == dtype
    out = gars.aggregate("average", np.vstack([Hx, B]), f)
    tol = 1e-9 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(out, U, rtol=tol, atol=tol * (1.0 + scale))


def test_lemma1_with_general_weights_single_byzantine():
    """F = sum_i lambda_i V_i with V_n = U/lambda_n - sum_{i<n} (lambda_i/lambda_n) V_i gives U."""
    lam = np.array([0.5, -2.0, 1.5, 0.25, 3.0])
    U = np.array([10.0, -1.0, 0.5])
    B = attacks.make("linear_target", target=U, weights=lam)(H, 1)
    F = lam[:4] @ H + lam[4] * B[0]
    np.testing.assert_allclose(F, U, rtol=1e-12, atol=1e-12)


def _perturbation(direction, X, mu):
    if direction == "unit_vec":
        return -mu / np.linalg.norm(mu)
    if direction == "std":
        return -X.std(0, ddof=1)
    return -np.sign(mu)


def _bisect(feasible, hi=1e6, iters=200):
    lo = 0.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            lo = mid
        else:
            hi = mid
    return lo


@pytest.mark.parametrize("direction", ["unit_vec", "std", "sign"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minmax_matches_a_bisection_on_its_constraint(direction, seed):
    """gamma* is the largest gamma with max_i |m + gamma p - g_i|^2 <= max_{i,k} |g_i - g_k|^2."""
    X = np.random.default_rng(seed).normal(size=(7, 6)) + 1.0
    mu = X.mean(0)
    p = _perturbation(direction, X, mu)
    T = max(np.sum((X[i] - X[k]) ** 2) for i in range(7) for k in range(7))
    ref = _bisect(lambda g: max(np.sum((mu + g * p - x) ** 2) for x in X) <= T)
    atk = attacks.make("minmax", direction=direction)
    gamma = atk.factor(X, 2)
    assert gamma == pytest.approx(ref, rel=1e-9)
    B = atk(X, 2)
    np.testing.assert_allclose(B[0], mu + gamma * p, rtol=1e-12)
    assert max(np.sum((B[0] - x) ** 2) for x in X) <= T * (1 + 1e-12)


@pytest.mark.parametrize("bound", ["min", "max"])
@pytest.mark.parametrize("direction", ["unit_vec", "std", "sign"])
def test_minsum_matches_a_bisection_on_its_constraint(bound, direction):
    """gamma* is the largest gamma with sum_i |m + gamma p - g_i|^2 <= min (or max) honest score."""
    X = np.random.default_rng(5).normal(size=(6, 4)) + 0.5
    mu = X.mean(0)
    p = _perturbation(direction, X, mu)
    scores = [sum(np.sum((X[i] - X[k]) ** 2) for k in range(6)) for i in range(6)]
    T = min(scores) if bound == "min" else max(scores)
    ref = _bisect(lambda g: sum(np.sum((mu + g * p - x) ** 2) for x in X) <= T)
    gamma = attacks.make("minsum", direction=direction, bound=bound).factor(X, 1)
    assert gamma == pytest.approx(ref, rel=1e-9)


def test_minmax_degenerate_inputs_send_the_mean():
    """A zero perturbation (all equal vectors: std = 0) or a single vector gives gamma = 0."""
    X = np.ones((4, 3))
    np.testing.assert_array_equal(attacks.make("minmax", direction="std")(X, 2), np.ones((2, 3)))
    one = np.array([[1.0, -2.0]])
    assert attacks.make("minsum", knowledge="estimating").factor(one, 1) == 0.0


def test_mimic_warmup_picks_the_top_principal_direction_then_keeps_it():
    """Honest vectors spread along e_0: the warm-up picks one extreme along e_0, then keeps it."""
    X = np.array([[0.0, 0.1], [10.0, 0.0], [-3.0, -0.1], [1.0, 0.0]])
    atk = attacks.make("mimic_warmup", warmup=2)
    rng = np.random.default_rng(3)
    first = atk(X, 2, rng=rng)
    assert atk.target in (1, 2)  # extreme along the principal axis (its sign is arbitrary)
    z = atk.z
    assert abs(z[0]) > 0.99
    expected = int(np.argmax(X @ z))
    assert atk.target == expected
    np.testing.assert_array_equal(first, np.vstack([X[expected]] * 2))
    atk(X, 2, rng=rng)  # second warm-up call
    t = atk.target
    Y = X[::-1].copy()  # after the warm-up the index is kept, whatever the vectors
    np.testing.assert_array_equal(atk(Y, 2, rng=rng), np.vstack([Y[t]] * 2))
    assert atk.calls == 3
    atk.reset()
    assert atk.calls == 0 and atk.target is None


def test_flip_labels():
    y = np.array([0, 3, 9, 4], dtype=np.int32)
    out = attacks.flip_labels(y, 10)
    np.testing.assert_array_equal(out, [9, 6, 0, 5])
    assert out.dtype == np.int32
    np.testing.assert_array_equal(attacks.flip_labels(out, 10), y)  # an involution


def test_switch_on_and_alternate():
    own = np.array([[7.0, 7.0, 7.0]])
    b = attacks.SwitchOn("ipm", start=2)
    np.testing.assert_array_equal(b(H, 1, round=1, own=own), own)
    np.testing.assert_allclose(b(H, 1, round=2, own=own), [-0.1 * MEAN])
    est = attacks.SwitchOn(attacks.make("sign_flip", knowledge="estimating"), start=1)
    # estimating knowledge: honest is the nodes' own gradients
    np.testing.assert_array_equal(est(own, 1, round=0), own)
    bb = attacks.SwitchOn("sign_flip", start=5, before="zero")
    np.testing.assert_array_equal(bb(H, 1, round=4), np.zeros((1, 3)))
    alt = attacks.Alternate(["zero", "sign_flip", "mimic"], period=2)
    assert [alt.current(r).name for r in range(7)] == [
        "zero", "zero", "sign_flip", "sign_flip", "mimic", "mimic", "zero"
    ]
    np.testing.assert_array_equal(alt(H, 1, round=4), H[:1])


def test_alie_uses_unbiased_std_like_the_codes():
    X = np.array([[0.0], [2.0]])
    # mean 1, unbiased std sqrt(2)
    assert attacks.make("alie", z=1.0)(X, 1)[0, 0] == pytest.approx(1.0 - math.sqrt(2.0))
