"""The defence-aware line search: never less damaging than its base, within its budget."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import p2pbyz.gars
from p2pbyz import attacks, gars

SEARCHABLE = sorted(n for n in attacks.names() if attacks.spec(n).searchable)


def _rule_params(rule):
    """Deterministic parameters for a rule (a seed for randomized ones)."""
    return {"seed": 0} if "seed" in gars.spec(rule).params else {}


def _damage(rule, params, H, B, f, pre=()):
    out = gars.aggregate(rule, np.vstack([H, B]), f, pre=pre, **params)
    diff = np.asarray(out, dtype=np.float64) - H.astype(np.float64).mean(axis=0)
    return float(np.linalg.norm(diff))


@given(
    n=st.integers(5, 11),
    data=st.data(),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    base=st.sampled_from(SEARCHABLE),
    dtype=st.sampled_from([np.float64, np.float32]),
)
@settings(max_examples=6, deadline=None)
def test_search_is_at_least_as_damaging_as_its_base_for_every_rule(n, data, d, seed, base, dtype):
    """For every registered rule accepting (n, f): damage(search) >= damage(base attack)."""
    f = data.draw(st.integers(1, (n - 1) // 2), label="f")
    rng = np.random.default_rng(seed)
    H = (rng.normal(size=(n - f, d)) + rng.normal(size=d)).astype(dtype)
    B0 = attacks.make(base)(H, f)
    checked = 0
    for rule in gars.names():
        if not gars.spec(rule).requires(n, f):
            continue
        params = _rule_params(rule)
        res = attacks.make(
            "defence_aware", base=base, gar=attacks.GarContext(rule, params)
        ).search(H, f)
        base_damage = _damage(rule, params, H, B0, f)
        assert res.base_damage == pytest.approx(base_damage, rel=1e-9, abs=1e-12), rule
        assert res.damage >= res.base_damage, rule
        assert res.damage >= base_damage * (1 - 1e-9) - 1e-12, rule
        assert res.evaluations <= 16
        # the vectors returned are the ones whose damage is reported
        sent = _damage(rule, params, H, res.vectors, f)
        assert sent == pytest.approx(res.damage, rel=1e-9, abs=1e-12)
        assert res.vectors.dtype == dtype and res.vectors.shape == (f, d)
        checked += 1
    assert checked >= 1  # averaging accepts every (n, f)


@pytest.mark.parametrize("budget", [1, 2, 3, 7, 16, 20])
@pytest.mark.parametrize(
    ("rule", "base"), [("average", "ipm"), ("median", "alie"), ("trimmed_mean", "minmax")]
)
def test_search_stays_within_its_budget(budget, rule, base, monkeypatch):
    """Counted at the source: p2pbyz.gars.aggregate is called at most `budget` times."""
    if rule not in gars.names():
        pytest.skip(f"{rule} is not registered yet")
    calls = []
    real = p2pbyz.gars.aggregate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(p2pbyz.gars, "aggregate", counting)
    H = np.random.default_rng(0).normal(size=(9, 5)) + 1.0
    res = attacks.make("defence_aware", base=base, budget=budget, gar=rule).search(H, 3)
    assert len(calls) == res.evaluations <= budget
    assert len(res.trace) <= budget
    assert res.trace[0][0] == res.base_factor


def test_search_against_averaging_expands_the_factor():
    """Averaging is linear: the damage grows with the IPM factor, so the search pushes it up."""
    H = np.random.default_rng(1).normal(size=(8, 4)) + 2.0
    res = attacks.make("defence_aware", base="ipm", gar="average").search(H, 2)
    assert res.base_factor == 0.1
    assert res.factor > 10 * res.base_factor
    assert res.damage > res.base_damage
    # the damage is exactly |mean| f (1 + phi) / n for averaging
    mu = H.mean(0)
    assert res.damage == pytest.approx(np.linalg.norm(mu) * 2 * (1 + res.factor) / 10, rel=1e-9)


def test_call_returns_the_search_vectors_and_declared_f_is_used():
    H = np.random.default_rng(2).normal(size=(9, 3))
    atk = attacks.make("defence_aware", base="alie", budget=10)
    rule = "trimmed_mean" if "trimmed_mean" in gars.names() else "average"
    gar = attacks.GarContext(rule, f=3)
    B = atk(H, 2, gar=gar)
    assert atk.last_result is not None and atk.last_result.evaluations <= 10
    np.testing.assert_array_equal(B, atk.last_result.vectors)
    np.testing.assert_array_equal(B, atk.search(H, 2, gar=gar).vectors)


def test_search_with_pre_aggregators():
    if "nnm" not in p2pbyz.preagg._registry.names() or "median" not in gars.names():
        pytest.skip("nnm or median not registered yet")
    H = np.random.default_rng(3).normal(size=(9, 4))
    gar = attacks.GarContext("median", pre=("nnm",))
    res = attacks.make("defence_aware", base="alie", gar=gar).search(H, 2)
    B0 = attacks.make("alie")(H, 2)
    assert res.damage >= _damage("median", {}, H, B0, 2, pre=("nnm",)) * (1 - 1e-9)


def test_nonfinite_candidates_are_skipped():
    """A factor that overflows float32 is never sent (a rule would drop it): another one wins."""
    H = (np.random.default_rng(4).normal(size=(8, 3)) + 1.0).astype(np.float32)
    res = attacks.make(
        "defence_aware", base="omniscient", base_params={"k": 1e39}, gar="average"
    ).search(H, 2)
    assert res.base_damage == -math.inf
    assert np.all(np.isfinite(res.vectors))
    assert math.isfinite(res.damage) and res.factor < 1e39


def test_estimating_search_simulates_the_honest_vectors_deterministically():
    rng = np.random.default_rng(5)
    honest = rng.normal(size=(9, 4)) + 1.0
    own = rng.normal(size=(3, 4)) + 1.0
    gar = attacks.GarContext("average", n=12)
    est = attacks.make("defence_aware", base="alie", knowledge="estimating", gar=gar)
    B1 = est(own, 3, rng=np.random.default_rng(0))
    B2 = est(own, 3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(B1, B2)
    omni = attacks.make("defence_aware", base="alie", gar="average")(honest, 3)
    assert not np.allclose(B1, omni)
    with pytest.raises(p2pbyz.errors.InvalidArgument, match=r"n - f; pass n=\.\.\."):
        attacks.make("defence_aware", knowledge="estimating", gar="average")(
            own, 3, rng=np.random.default_rng(0)
        )
