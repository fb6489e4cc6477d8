"""Closed forms of proofs_check.bounds against their sources, and the module doctests."""

from __future__ import annotations

import doctest
import math

import pytest

from proofs_check import _core, bounds, estimate, report


@pytest.mark.parametrize("n,f", [(5, 1), (7, 2), (11, 2), (15, 3), (19, 4), (40, 10)])
def test_eta_equals_lpd_form(n, f):
    """Krum Prop. 1's η equals LPD-EPFL's expansion 2(n-f + f(n + f(n-f-2) - 2)/(n-2f-2)) (THEORY §1)."""
    lpd = math.sqrt(2 * (n - f + f * (n + f * (n - f - 2) - 2) / (n - 2 * f - 2)))
    assert bounds.eta(n, f) == pytest.approx(lpd, rel=1e-12)


def test_eta_requirement_and_growth():
    """η needs 2f+2 < n; it grows like n for f proportional to n and like sqrt(n) for fixed f."""
    with pytest.raises(ValueError, match=r"eta needs 2f\+2 < n; got n=6, f=2"):
        bounds.eta(6, 2)
    r_lin = bounds.eta(400, 100) / bounds.eta(200, 50)
    r_sqrt = bounds.eta(400, 1) / bounds.eta(100, 1)
    assert abs(r_lin - 2.0) < 0.2  # eta = O(n) when f grows with n
    assert abs(r_sqrt - 2.0) < 0.1  # eta = O(sqrt(n)) for fixed f


def test_kappa_lambda_values():
    """§8.3 values: lower bounds, TM, median parities, order statistics, conversions."""
    assert bounds.kappa_lower(11, 2) == pytest.approx(2 / 7)
    assert bounds.lambda_lower(11, 2) == pytest.approx(2 / 9)
    assert bounds.kappa_median(11, 2) == (1.25, 1.25)
    assert bounds.kappa_median(10, 2, "upper") == pytest.approx((10 / 6, 10 / 6))
    # the median of odd n is the ((n+1)/2)-th order statistic
    assert bounds.kappa_order_statistic(11, 2, 6) == pytest.approx(bounds.kappa_median(11, 2)[0])
    assert bounds.kappa_order_statistic(11, 2, 3) == pytest.approx(8.0)
    # lambda = sqrt(kappa (m-1)/(2m)) and back: kappa' = 2 m lambda^2 = kappa (m-1), m = n-f = 9
    lam = bounds.kappa_to_lambda(3.0, 11, 2)
    assert bounds.lambda_to_kappa(lam, 11, 2) == pytest.approx(24.0)


def test_tags_are_known():
    """Every source carries a THEORY.md §0 tag; only paper/derived are asserted."""
    for s in bounds.SOURCES.values():
        assert s.tag in {"paper", "derived", "code", "secondary", "unverified"}
        assert s.asserted == (s.tag in {"paper", "derived"})


@pytest.mark.parametrize("mod", [bounds, estimate, report, _core])
def test_doctests(mod):
    """The Examples sections run."""
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0
