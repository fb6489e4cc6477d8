"""What the protocols must achieve on real learning tasks (seeded, with asserted ranges).

Parameter server, softmax regression on digits, 10 workers, 30 rounds:

* with no Byzantine worker every robust rule reaches close to averaging's accuracy;
* with 2 Byzantine workers running IPM (eps = 10), averaging collapses while the robust rules stay
  close to the attack-free accuracy; with ALIE (z = 1.5) they stay close too;
* the Krum supplement's findings (Blanchard et al., NIPS 2017, supplementary §5, Figures 4 and 5),
  on an MLP with mini-batches of 3 on a two-class task (breast cancer standing in for spam).
"""

from __future__ import annotations

import numpy as np
import pytest

import p2pbyz

ROBUST = ["median", "trimmed_mean", "krum", "multi_krum", "geometric_median", "mda", "meamed", "aksel"]


def _ps(rule: str, attack: dict, byzantine: int = 2, rounds: int = 30, seed: int = 0) -> float:
    res = p2pbyz.emulate({
        "rounds": rounds, "seed": seed,
        "ps": {"workers": 10, "byzantine": byzantine, "f": 2},
        "rule": {"name": rule}, "attack": attack,
    })
    return res.final("accuracy")


@pytest.fixture(scope="module")
def clean_average() -> float:
    return _ps("average", {"name": "none"}, byzantine=0)


def test_averaging_learns_digits_without_attack(clean_average):
    assert 0.92 <= clean_average <= 1.0


@pytest.mark.parametrize("rule", ROBUST)
def test_robust_rules_match_averaging_without_byzantine_workers(rule, clean_average):
    acc = _ps(rule, {"name": "none"}, byzantine=0)
    assert acc >= clean_average - 0.03


def test_ipm_makes_averaging_collapse():
    assert _ps("average", {"name": "ipm", "eps": 10.0}) <= 0.2


@pytest.mark.parametrize("rule", ROBUST)
def test_robust_rules_resist_ipm(rule, clean_average):
    assert _ps(rule, {"name": "ipm", "eps": 10.0}) >= clean_average - 0.04


@pytest.mark.parametrize("rule", ["median", "trimmed_mean", "multi_krum", "geometric_median"])
def test_robust_rules_resist_alie(rule, clean_average):
    assert _ps(rule, {"name": "alie", "z": 1.5}) >= clean_average - 0.04


def _krum_supplement(rule: str, byzantine: int, seed: int) -> float:
    """Mean test loss over 60 rounds (lower = learns faster) of a PS with 15 workers."""
    res = p2pbyz.emulate({
        "rounds": 60, "seed": seed,
        "ps": {"workers": 15, "byzantine": byzantine, "f": 5},
        "rule": {"name": rule},
        "attack": {"name": "gaussian"} if byzantine else {"name": "none"},
        "data": {"dataset": "breast_cancer"},
        "model": {"name": "mlp", "hidden": [16]},
        "training": {"lr": 0.05, "batch_size": 3},
    })
    return float(np.nanmean(res.metrics["server"]["loss"][1:]))


KRUM_FAMILY = ["average", "multi_krum", "one_minus_p_krum", "krum", "medoid"]


@pytest.fixture(scope="module")
def krum_losses() -> dict[tuple[str, int], float]:
    return {
        (rule, b): float(np.mean([_krum_supplement(rule, b, seed) for seed in (0, 1)]))
        for rule in KRUM_FAMILY
        for b in (0, 5)
    }


def test_krum_supplement_no_byzantine(krum_losses):
    """Fig. 4: without Byzantine workers Multi-Krum is about as fast as averaging, and faster than
    Krum and the Medoid."""
    L = {r: krum_losses[(r, 0)] for r in KRUM_FAMILY}
    assert L["multi_krum"] <= 1.3 * L["average"]
    assert L["multi_krum"] < L["krum"]
    assert L["multi_krum"] < L["medoid"]
    assert L["average"] < L["krum"]


def test_krum_supplement_gaussian_byzantine(krum_losses):
    """Fig. 5: with 33% Gaussian Byzantine workers averaging does not learn, and Multi-Krum is
    the best of Krum, Medoid and 1-p Krum."""
    L = {r: krum_losses[(r, 5)] for r in KRUM_FAMILY}
    assert L["average"] > 10 * L["multi_krum"]
    assert L["multi_krum"] < min(L["krum"], L["medoid"], L["one_minus_p_krum"])
