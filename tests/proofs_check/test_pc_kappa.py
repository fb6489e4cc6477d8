"""(f, κ) / (f, λ): the universal lower bound for every rule, exact coordinate-wise κ values."""

from __future__ import annotations

import pytest

from p2pbyz import gars
from proofs_check import bounds, run_checks
from proofs_check.suite_kappa import Subsets

import numpy as np


@pytest.fixture(scope="module")
def kappa_results():
    return run_checks(["kappa"], settings={"kappa": {"nf": [(11, 2), (10, 2), (9, 3)], "search_iters": 3}})[0]


def test_universal_lower_bound_every_rule(kappa_results):
    """THEORY §12 #9: on (f rows e_1, n-f zero rows) the max over S of the ratio is >= f/(n-2f) for
    every registered rule that accepts (n, f), and >= f/(n-f) for λ."""
    for n, f in [(11, 2), (10, 2), (9, 3)]:
        allowed = {name for name in gars.names() if gars.spec(name).requires(n, f)}
        got = {c.rule.split("(")[0] for c in kappa_results.claims
               if c.params.get("n") == n and c.params.get("f") == f and c.claim.startswith("universal instance: max_S κ")}
        assert allowed <= got, allowed - got
    uni = [c for c in kappa_results.claims if c.claim.startswith("universal instance")]
    assert uni and all(c.verdict == "holds" for c in uni)
    for c in uni:
        if "κ" in c.claim:
            # 1e-9 relative: the verdicts' tolerance (iterative solvers such as Weiszfeld stop at 1e-10)
            assert c.estimate.value >= bounds.kappa_lower(c.params["n"], c.params["f"]) * (1 - 1e-9)


def test_exact_coordinatewise_kappa(kappa_results):
    """THEORY §12 #10: two-level inputs attain κ* = q for the trimmed mean, (n-1)/(n+1-2f) for the
    odd-n median and n/(n-2f) for the even-n lower/upper median."""
    ex = {(c.rule, c.params["n"], c.params["f"]): c for c in kappa_results.claims if "two-level" in c.claim}
    for n, f in [(11, 2), (10, 2), (9, 3)]:
        c = ex[("trimmed_mean", n, f)]
        assert c.verdict == "holds" and c.estimate.value == pytest.approx(f / (n - 2 * f), rel=1e-9)
    for n, f in [(11, 2), (9, 3)]:
        c = ex[("median", n, f)]
        assert c.verdict == "holds" and c.estimate.value == pytest.approx((n - 1) / (n + 1 - 2 * f), rel=1e-9)
    for kind in ("lower", "upper"):
        c = ex[(f"median(kind={kind})", 10, 2)]
        assert c.verdict == "holds" and c.estimate.value == pytest.approx(10 / 6, rel=1e-9)
    assert ex[("median", 10, 2)].verdict == "holds"  # midpoint: within [(n-2)/(n-2f+2), n/(n-2f)]


def test_no_derived_upper_bound_violated(kappa_results):
    """No [derived] κ or λ upper bound is exceeded by the worst case found."""
    bad = [c for c in kappa_results.claims if c.verdict == "fails" and c.asserted]
    assert not bad, [(c.rule, c.claim, c.estimate.value, c.bound) for c in bad]


def test_subset_ratios_by_hand():
    """The vectorised ratios on a case computed by hand: n=3, f=1, X = (0, 0, 1), F = 1/3."""
    sub = Subsets(3, 1)
    k, lam = sub.ratios(np.array([[0.0], [0.0], [1.0]]), np.array([1 / 3]))
    # S = {0,1}: var 0 and F != 0 -> inf
    assert k == float("inf") and lam == float("inf")
    k, lam = sub.ratios(np.array([[0.0], [1.0], [2.0]]), np.array([1.0]))
    # S = {0,1}: mean 0.5, var 0.25, ratio 0.25/0.25 = 1; diameter 1: lambda 0.5
    assert k == pytest.approx(1.0) and lam == pytest.approx(0.5)
