"""Generic property tests over every registered rule: each property its spec claims must hold.

The properties come from ``GarSpec.properties`` and are checked by ``p2pbyz.testing.check_gar``
(hypothesis), so users run the very same suite on their own rules.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from p2pbyz import gars
from p2pbyz.testing import CHECKS, check_gar

RULES = gars.names()
CASES = [
    (name, prop)
    for name in RULES
    for prop in ["shape", *sorted(set(gars.spec(name).properties) & set(CHECKS))]
]


@pytest.mark.parametrize(("name", "prop"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_declared_property_holds(name: str, prop: str) -> None:
    """Every property a rule declares in the registry holds on fuzzed Byzantine inputs."""
    check_gar(name, properties=[prop], max_f=2 if name in ("mda", "smea") else 3)


def test_every_rule_declares_sane_metadata() -> None:
    """Each spec states a requirement that accepts some (n, f), a complexity and a paper."""
    for name in RULES:
        s = gars.spec(name)
        assert s.requires(2 * 4 * 1 + 3, 1), name
        assert s.complexity.startswith("O("), name
        assert s.paper, name
        assert s.public.__doc__ and "Examples" in s.public.__doc__, name


def _valid_n(name: str, f: int) -> int:
    s = gars.spec(name)
    return next(n for n in range(1, 200) if s.requires(n, f))


@pytest.mark.parametrize("name", RULES)
def test_same_result_with_one_and_two_threads(name: str) -> None:
    """Kernels split work in fixed chunks: the thread count never changes a bit of the result."""
    f = 1
    n = _valid_n(name, f) + 2
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        X = rng.normal(size=(n, 5000)).astype(dtype)
        before = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            one = gars.aggregate(name, X, f)
            numba.set_num_threads(max(2, before))
            two = gars.aggregate(name, X, f)
        finally:
            numba.set_num_threads(before)
        assert one.dtype == dtype
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("name", RULES)
def test_kernel_matches_reference_on_random_input(name: str) -> None:
    """A smoke-level parity check for every rule (the rule modules' own tests go much further)."""
    s = gars.spec(name)
    f = 1
    n = _valid_n(name, f) + 3
    X = np.random.default_rng(3).normal(size=(n, 37))
    params = {"seed": 5} if "seed" in s.params else {}
    got = gars.aggregate(name, X, f, **params)
    want = s.reference(X, f, **params)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
