"""Input generators, tolerances and checks shared by the GAR tests."""

from __future__ import annotations

import numpy as np
import pytest

from p2pbyz import config, gars
from p2pbyz.errors import ByzantineAssumptionError

STYLES = ("normal", "integers", "near_duplicate", "huge", "adversarial")


def make_input(rng, n, d, f, dtype, style):
    """An (n, d) input of the given style; returns (X, scale), scale bounding the honest values."""
    if style == "integers" or (style == "adversarial" and rng.random() < 0.5):
        X = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
    elif style == "near_duplicate":
        X = 1.0 + rng.normal(size=(1, d)) + 1e-6 * rng.normal(size=(n, d))
    else:
        X = rng.normal(size=(n, d))
    scale = max(1.0, float(np.abs(X).max()))
    if style == "huge" and f > 0:
        h = int(rng.integers(1, f + 1))
        rows = rng.choice(n, size=h, replace=False)
        X[rows] = rng.choice([-1e30, 1e30], size=(h, 1)) * rng.uniform(1.0, 2.0, size=(h, d))
    elif style == "adversarial" and f > 0:
        honest = X[f:]
        med = np.median(honest, axis=0)
        if rng.random() < 0.5:
            # mirror images of honest values about the honest median: many |x - c| ties
            X[:f] = 2.0 * med - honest[rng.integers(0, n - f, size=f)]
        else:
            # "a little is enough": just inside the honest spread
            X[:f] = honest.mean(axis=0) - 1.5 * honest.std(axis=0)
        scale = max(1.0, float(np.abs(X).max()))
    return np.ascontiguousarray(X.astype(dtype)), scale


def assert_matches(got, want, dtype, scale):
    """Kernel output (in X's dtype) against the float64 reference, at the project's tolerances."""
    assert got.dtype == dtype
    decimals = config.TEST_DECIMALS_FLOAT32 if dtype == np.float32 else config.TEST_DECIMALS_FLOAT64
    tol = 10.0**-decimals
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol * scale)


def check_nonfinite_dropped(rule, X, f, bad, cells):
    """One NaN/inf value at each (row, col) of ``cells``: the rule drops its row and counts it
    against f exactly as if the row were removed, and ``nonfinite="raise"`` refuses it."""
    for row, col in cells:
        Y = X.copy()
        Y[row, col] = bad
        expected = gars.aggregate(rule, np.delete(X, row, axis=0), f - 1)
        np.testing.assert_array_equal(gars.aggregate(rule, Y, f), expected)
        with pytest.raises(ByzantineAssumptionError, match="NaN or infinity"):
            gars.aggregate(rule, Y, f, nonfinite="raise")
