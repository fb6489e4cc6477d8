"""Helpers of the CUDA target's tests (imported by the test modules)."""

from __future__ import annotations

import numpy as np
import pytest

from p2pbyz import config
from p2pbyz.gars import _reference as ref
from p2pbyz.gars import cuda_available
from p2pbyz.gars._registry import GarSpec
from p2pbyz.preagg._registry import PreSpec

CUDA = cuda_available()
needs_cuda = pytest.mark.skipif(
    not CUDA, reason="no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set (numba-cuda simulator)"
)


def reference_spec(rule: str, **overrides) -> GarSpec:
    """A GarSpec whose impl is the numpy oracle, so the kernels are tested against the reference
    whatever the state of the CPU rule modules (and under the oracle's own parameter names)."""
    fn = getattr(ref, rule)
    kw = dict(
        name=rule,
        public=fn,
        impl=fn,
        reference=fn,
        requirement="n >= 1",
        requires=lambda n, f: n >= 1,
        complexity="-",
        paper="-",
    )
    kw.update(overrides)
    return GarSpec(**kw)


def reference_prespec(name: str) -> PreSpec:
    """A PreSpec whose impl is the numpy oracle of pre-aggregator ``name``."""
    fn = getattr(ref, name)
    n_out = (lambda n, s=2, **_: -(-n // s)) if name == "bucketing" else (lambda n, **_: n)
    return PreSpec(
        name=name, public=fn, impl=fn, reference=fn, requirement="n >= 1",
        requires=lambda n, f: n >= 1, complexity="-", paper="-", n_out=n_out,
    )


def assert_close(out, expected, dtype) -> None:
    """Parity within the stated tolerances (config.TEST_DECIMALS_*), relative to the scale."""
    decimals = config.TEST_DECIMALS_FLOAT32 if dtype == np.float32 else config.TEST_DECIMALS_FLOAT64
    scale = 1.0 + float(np.max(np.abs(expected)))
    np.testing.assert_allclose(out, expected, rtol=0, atol=scale * 10.0 ** (-decimals))
