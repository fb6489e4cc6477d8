"""MDA and SMEA: exact subset search, canonical tie-break, the C(n, f) guard, thread invariance."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import config, gars
from p2pbyz.errors import RequirementError, TooExpensiveError
from p2pbyz.gars import _reference as ref

DTYPES = (np.float32, np.float64)
RULES = ("mda", "smea")
REFS = {"mda": ref.mda, "smea": ref.smea}


def _run(rule: str, X: np.ndarray, f: int) -> np.ndarray:
    return gars.aggregate(rule, X, f)


def _grid(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """Small integer coordinates: every distance, sum and mean is exact, so ties are real ties."""
    return rng.integers(-2, 3, size=(n, d)).astype(np.float64)


# ----------------------------------------------------------------------------------------------
# known answers


@pytest.mark.parametrize("rule", RULES)
def test_known_answer_byzfl(rule: str) -> None:
    """byzfl documents [2.5, 3.5, 4.5] for both MDA and SMEA on the 3x3 example with f=1."""
    X = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    np.testing.assert_array_equal(_run(rule, X, 1), [2.5, 3.5, 4.5])


@pytest.mark.parametrize("rule", RULES)
def test_f_zero_is_the_mean(rule: str) -> None:
    """With f = 0 the only subset is everything."""
    X = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_allclose(_run(rule, X, 0), X.mean(axis=0), rtol=1e-12)


def test_mda_and_smea_can_disagree() -> None:
    """Diameter and top eigenvalue are different criteria: here they select different sets."""
    X = np.array([[2.0, 1.0], [0.0, -2.0], [-1.0, -3.0], [-3.0, -3.0], [-2.0, 2.0]])
    np.testing.assert_array_equal(gars.mda(X, 1), [-1.5, -1.5])  # drops [2, 1]
    np.testing.assert_array_equal(gars.smea(X, 1), [-0.25, -0.5])  # drops [-3, -3]


# ----------------------------------------------------------------------------------------------
# parity with the reference


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize(("n", "f"), [(3, 1), (6, 1), (7, 2), (9, 3), (10, 4), (11, 2)])
def test_matches_reference_on_random_input(rule: str, n: int, f: int, dtype) -> None:
    """Same selected subset as the reference: equal means up to the dtype's rounding."""
    X = np.random.default_rng(n * 31 + f).normal(size=(n, 13)).astype(dtype)
    got = _run(rule, X, f)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, REFS[rule](X, f), rtol=1e-6 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-12)


@given(
    n=st.integers(1, 8),
    d=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    rule=st.sampled_from(RULES),
    data=st.data(),
)
def test_ties_are_broken_canonically(n: int, d: int, seed: int, rule: str, data) -> None:
    """On integer grids (many exact ties) the output is bit-identical to the reference and does
    not change when the rows are permuted."""
    rng = np.random.default_rng(seed)
    f = data.draw(st.integers(0, (n - 1) // 2))
    X = _grid(rng, n, d)
    want = REFS[rule](X, f)
    got = _run(rule, X, f)
    np.testing.assert_array_equal(got, want)
    perm = rng.permutation(n)
    np.testing.assert_array_equal(_run(rule, X[perm], f), got)


@pytest.mark.parametrize("rule", RULES)
def test_symmetric_configuration_ties_go_to_the_smallest_mean(rule: str) -> None:
    """The corners of a square with f=1: all four 3-subsets tie on diameter (and eigenvalue) and
    on the sum of squared distances; the lexicographically smallest mean wins, in every order."""
    X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    # The subset without [2, 2] has mean (2/3, 2/3), the smallest lexicographically.
    want = np.array([2.0, 2.0]) / 3.0
    for perm in ([0, 1, 2, 3], [3, 2, 1, 0], [2, 3, 0, 1], [1, 3, 0, 2]):
        np.testing.assert_allclose(_run(rule, X[perm], 1), want, rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", RULES)
def test_duplicated_rows_are_permutation_invariant(rule: str, dtype) -> None:
    """Duplicated rows give exactly tied subsets; any order selects an equal mean."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(9, 6))
    X[[1, 4, 7]] = X[0]
    X[[2, 5]] = X[3]
    X = X.astype(dtype)
    want = _run(rule, X, 3)
    np.testing.assert_allclose(want, REFS[rule](X, 3), rtol=1e-6, atol=1e-6)
    for _ in range(5):
        perm = rng.permutation(9)
        np.testing.assert_allclose(_run(rule, X[perm], 3), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", RULES)
def test_huge_byzantine_rows_are_removed(rule: str, dtype) -> None:
    """f rows at +-1e30 are never selected: the output is the honest mean."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(9, 5))
    X[[0, 4, 8]] = 1e30 * rng.choice([-1.0, 1.0], size=(3, 5))
    X = X.astype(dtype)
    honest = np.delete(X, [0, 4, 8], axis=0).astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(_run(rule, X, 3), honest, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_run(rule, X, 3), REFS[rule](X, 3), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("rule", RULES)
def test_adversarial_rows_inside_the_honest_spread(rule: str) -> None:
    """Byzantine rows placed along the honest rows' main axis: still the reference's choice."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(8, 4)) * [5.0, 1.0, 1.0, 1.0]
    X[:2] = X[2:].mean(axis=0) + np.array([[9.0, 0, 0, 0], [-9.0, 0, 0, 0]])
    np.testing.assert_allclose(_run(rule, X, 2), REFS[rule](X, 2), rtol=1e-12)


@pytest.mark.parametrize("rule", RULES)
def test_honest_value_is_returned_exactly_when_n_minus_f_rows_agree(rule: str) -> None:
    """n-f equal rows form a zero-diameter, zero-eigenvalue subset."""
    X = np.random.default_rng(6).normal(size=(7, 3)) * 100
    X[2:] = [0.5, -1.0, 2.0]
    np.testing.assert_array_equal(_run(rule, X, 2), [0.5, -1.0, 2.0])


# ----------------------------------------------------------------------------------------------
# the C(n, f) guard, requirement


@pytest.mark.parametrize("rule", RULES)
def test_too_many_subsets_is_refused_before_any_work(rule: str, monkeypatch) -> None:
    """C(n, f) > config.MDA_MAX_SUBSETS raises TooExpensiveError naming C(n,f), the limit and the
    fix; the check runs without data (spec.check) and before the kernel is called."""
    monkeypatch.setattr(config, "MDA_MAX_SUBSETS", 21)
    assert gars.aggregate(rule, np.zeros((7, 3)), 2).shape == (3,)  # at the limit it runs
    monkeypatch.setattr(config, "MDA_MAX_SUBSETS", 20)
    msg = (
        rf"^{rule}: the exact search visits C\(n, f\) = C\(7, 2\) = 21 subsets, more than "
        r"config.MDA_MAX_SUBSETS = 20; lower n or f, or raise the limit "
        r"\(p2pbyz.config.MDA_MAX_SUBSETS = 21\)$"
    )
    with pytest.raises(TooExpensiveError, match=msg):
        gars.spec(rule).check(7, 2)
    called = []
    monkeypatch.setattr("p2pbyz.gars._subset.sq_distances", lambda X: called.append(1))
    with pytest.raises(TooExpensiveError, match=msg):
        gars.aggregate(rule, np.zeros((7, 3)), 2)
    assert called == []


def test_default_limit_allows_moderate_searches() -> None:
    """C(20, 5) = 15504 subsets run well under the default cap."""
    assert math.comb(20, 5) <= config.MDA_MAX_SUBSETS
    X = np.random.default_rng(7).normal(size=(20, 50))
    np.testing.assert_allclose(gars.mda(X, 5), ref.mda(X, 5), rtol=1e-12)


@pytest.mark.parametrize("rule", RULES)
def test_requirement_is_pinned(rule: str) -> None:
    """n >= 2f+1."""
    with pytest.raises(RequirementError, match=rf"^{rule} needs n >= 2f\+1; got n=4, f=2$"):
        gars.aggregate(rule, np.zeros((4, 2)), 2)


# ----------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_a_bit(dtype) -> None:
    """Fixed chunks of combination ranks and coordinates: identical bits with 1 and 2 threads."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(12, 3000)).astype(dtype)
    X[[3, 9]] = X[0]  # exact ties too
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = (gars.mda(X, 4), gars.smea(X, 3))
        numba.set_num_threads(max(2, before))
        two = (gars.mda(X, 4), gars.smea(X, 3))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
