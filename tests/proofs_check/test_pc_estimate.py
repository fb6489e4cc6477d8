"""The estimators recover known values on distributions with closed forms, with honest coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from proofs_check import estimate as E


def test_sq_norm_of_mean_is_unbiased_and_covers():
    """U-statistic of ||E Y||^2 with jackknife CI: coverage of the 95% interval near 95%."""
    rng = np.random.default_rng(0)
    mu = np.full(8, 0.1)  # ||mu||^2 = 0.08, small against tr Cov / N = 8/200: the naive estimate is biased
    hits, vals, naive = 0, [], []
    for _ in range(300):
        Y = rng.normal(size=(200, 8)) + mu
        e = E.sq_norm_of_mean(Y)
        hits += e.lo <= 0.08 <= e.hi
        vals.append(e.value)
        naive.append(float((Y.mean(axis=0) ** 2).sum()))
    assert 0.90 <= hits / 300 <= 0.99
    assert abs(np.mean(vals) - 0.08) < 0.005
    assert np.mean(naive) - 0.08 > 0.03  # the plain ||mean||^2 overshoots by about 8/200


def test_norm_of_mean_interval_contains_truth():
    """sqrt transform of the squared-norm interval."""
    e = E.norm_of_mean(np.random.default_rng(1).normal(size=(5000, 4)) + np.array([3.0, 4.0, 0, 0]))
    assert e.lo < 5.0 < e.hi and e.lo >= 0


def test_mean_ci_coverage_exponential():
    """CLT t-interval on a skewed distribution (exponential, mean 2)."""
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(300):
        e = E.mean_ci(rng.exponential(2.0, 400))
        hits += e.lo <= 2.0 <= e.hi
    assert 0.90 <= hits / 300 <= 0.99


def test_ratio_of_means_bootstrap():
    """E[chi2_4]/E[chi2_2] = 2: the paired bootstrap interval contains it."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3000, 4))
    e = E.ratio_of_means((z**2).sum(axis=1), (z[:, :2] ** 2).sum(axis=1), rng)
    assert e.lo < 2.0 < e.hi and e.hi - e.lo < 0.3


def test_loglog_fit_recovers_exponent():
    """Noisy power law y = 3 x^0.5: the slope's interval contains 0.5 and excludes 0 and 1."""
    rng = np.random.default_rng(4)
    xs = [4, 16, 64, 256, 1024]
    ests = [E.mean_ci(3 * math.sqrt(x) * (1 + 0.1 * rng.normal(size=200))) for x in xs]
    fit = E.loglog_fit(xs, ests, rng)
    assert fit.lo < 0.5 < fit.hi and fit.hi < 0.6 and fit.lo > 0.4


@pytest.mark.parametrize("dist", ["gaussian", "student5"])
def test_sample_honest_normalisation(dist):
    """E||G - g||^2 = d sigma^2 (Krum's normalisation) for both distributions; seeded."""
    g = np.arange(6.0)
    X = E.sample_honest(np.random.default_rng(5), 4000, 5, g, 0.5, dist)
    m = ((X - g) ** 2).sum(axis=2).mean()
    assert m == pytest.approx(6 * 0.25, rel=0.03)
    Y = E.sample_honest(np.random.default_rng(5), 4000, 5, g, 0.5, dist)
    assert np.array_equal(X, Y)


def test_sample_honest_rejects_unknown_dist():
    with pytest.raises(ValueError, match="dist must be 'gaussian' or 'student5'; got 'cauchy'"):
        E.sample_honest(np.random.default_rng(0), 1, 1, np.zeros(1), 1.0, "cauchy")
