"""The checker can fail, and it reports the Krum family as holding its η bound."""

from __future__ import annotations

import math

import pytest

from proofs_check import run_checks, user_rule
from proofs_check import bounds
from proofs_check._core import judge
from proofs_check.estimate import Estimate

from _rules_for_tests import krum_no_selection, krum_one_neighbour, plain_average, rule_or_reference

SMALL = {"resilience": {"grid": [(7, 2, 8, 0.5)], "pilot": 8, "draws": 60,
                        "moments": {"n": 7, "f": 2, "d": 8, "draws": 20, "M": [10.0, 1e5]}}}


def _bias(results, label):
    return [c for r in results for c in r.claims if c.rule == label and c.claim.startswith("||E F - g||")]


def test_judge_verdicts():
    """holds / fails / inconclusive / n/a from the interval's position."""
    src = ("paper", "x")
    mk = lambda lo, hi: Estimate((lo + hi) / 2, lo, hi, 10, "m")  # noqa: E731
    assert judge("s", "r", "c", "upper", mk(0.1, 0.2), 1.0, src).verdict == "holds"
    assert judge("s", "r", "c", "upper", mk(1.1, 1.2), 1.0, src).verdict == "fails"
    assert judge("s", "r", "c", "upper", mk(0.9, 1.2), 1.0, src).verdict == "inconclusive"
    assert judge("s", "r", "c", "lower", mk(0.9, 1.2), 1.0, src).verdict == "inconclusive"
    assert judge("s", "r", "c", "band", mk(0.95, 1.05), (0.9, 1.1), src).verdict == "holds"
    assert judge("s", "r", "c", "band", mk(1.2, 1.3), (0.9, 1.1), src).verdict == "fails"
    assert judge("s", "r", "c", "upper", mk(5, 6), 1.0, src, applicable=False).verdict == "n/a"
    assert judge("s", "r", "c", "upper", mk(5, 6), 1.0, ("secondary", "x")).asserted is False


def test_averaging_violates_resilience_with_one_byzantine():
    """Plain averaging with f = 1 (as a user rule and as the registered rule) fails Krum's η bound."""
    grid = {"resilience": {**SMALL["resilience"], "grid": [(5, 1, 8, 0.5)],
                           "moments": {"n": 5, "f": 1, "d": 8, "draws": 20, "M": [10.0, 1e5]}}}
    res = run_checks(["resilience"], rules=["average"], extra_rules=[user_rule(plain_average, "avg")],
                     settings=grid)
    for label in ("average", "avg"):
        claims = [c for c in res[0].claims if c.rule == label]
        bias = _bias(res, label)
        assert bias and all(c.verdict == "fails" for c in bias)
        assert bias[0].estimate.lo > bounds.eta(5, 1) * math.sqrt(8) * 0.5 / math.sqrt(8)
        assert any(c.verdict == "fails" and "E||F||^4" in c.claim for c in claims)
    assert all(c.asserted for c in res[0].claims if c.rule == "avg")


@pytest.mark.parametrize("fn,label", [(krum_one_neighbour, "krum_1nn"), (krum_no_selection, "krum_nosel")])
def test_weakened_krum_is_caught(fn, label):
    """A Krum with one neighbour (f identical Byzantine vectors score 0) or without selection fails,
    as an asserted claim, and the breakdown suite finds it breaks within f < n/2."""
    res = run_checks(["resilience", "breakdown"], rules=[], extra_rules=[user_rule(fn, label)],
                     settings={**SMALL, "breakdown": {"ns": [7]}})
    bias = _bias(res, label)
    assert bias and all(c.verdict == "fails" and c.asserted for c in bias)
    bd = [c for c in res[1].claims if c.rule == label]
    assert bd and bd[0].verdict == "fails" and bd[0].estimate.value <= 2


def test_krum_family_holds_eta_on_quick_grid():
    """Krum, Multi-Krum and Bulyan hold ||E F - g|| <= η sqrt(d) σ (and the angle condition
    where sin α < 1) at every point of the quick grid, under the strongest attack found."""
    rules = [rule_or_reference(n) for n in ("krum", "multi_krum", "bulyan")]
    res = run_checks(["resilience"], rules=rules,
                     settings={"resilience": {"pilot": 6, "draws": 60,
                                              "moments": {"n": 11, "f": 2, "d": 6, "draws": 10, "M": [10.0, 1e5]}}})
    for r in rules:
        bias = _bias(res, r.label)
        assert len(bias) == 4 and all(c.verdict == "holds" for c in bias), [
            (c.params, c.estimate, c.bound) for c in bias]
        ang = [c for c in res[0].claims if c.rule == r.label and c.claim.startswith("<E F, g>")]
        assert all(c.verdict in ("holds", "n/a") for c in ang)
        assert any(c.verdict == "holds" for c in ang)
