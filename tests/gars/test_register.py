"""Rules registered at run time are first-class: validated, listed, usable by name."""

from __future__ import annotations

import numpy as np
import pytest

from p2pbyz import gars
from p2pbyz.errors import InvalidArgument, RequirementError
from p2pbyz.gars import _registry
from p2pbyz.testing import check_gar


@pytest.fixture
def midrange():
    def rule(X, f, *, shrink=1.0):
        S = np.sort(X, axis=0)
        return shrink * 0.5 * (S[f] + S[-f - 1])

    spec = gars.register_rule(
        "midrange_test", rule, requires=lambda n, f: n >= 2 * f + 1, requirement="n >= 2f+1",
        properties=["permutation_invariant", "coordinatewise_honest_range"],
    )
    yield spec
    _registry._REGISTRY.pop("midrange_test", None)


def test_registered_rule_runs_through_the_wrapper(midrange) -> None:
    assert "midrange_test" in gars.names()
    assert dict(gars.spec("midrange_test").params) == {"shrink": 1.0}
    X = np.array([[0.0], [1.0], [2.0], [100.0], [4.0]])
    np.testing.assert_allclose(gars.aggregate("midrange_test", X, 1), [2.5])
    np.testing.assert_allclose(gars.aggregate("midrange_test", X, 1, shrink=2.0), [5.0])
    Y = np.vstack([X, [[np.nan]]])
    np.testing.assert_allclose(gars.aggregate("midrange_test", Y, 2), [2.5])  # NaN row dropped, f=1
    with pytest.raises(RequirementError, match=r"^midrange_test needs n >= 2f\+1; got n=5, f=3$"):
        gars.aggregate("midrange_test", X, 3)
    with pytest.raises(InvalidArgument, match=r"^midrange_test: unknown parameter 'bogus'"):
        gars.aggregate("midrange_test", X, 1, bogus=1)


def test_registered_rule_passes_its_declared_properties(midrange) -> None:
    check_gar("midrange_test", max_examples=25)


def test_register_rule_validates_its_arguments() -> None:
    with pytest.raises(InvalidArgument, match=r"^register_rule: name must be an identifier"):
        gars.register_rule("no spaces please", lambda X, f: X[0])
    with pytest.raises(InvalidArgument, match=r"^register_rule: fn must be callable"):
        gars.register_rule("ok_name", 3)


@pytest.mark.parametrize("switch", [True, False])
def test_small_inputs_thread_count_and_restored_pool(switch, monkeypatch) -> None:
    """Small inputs drop to one numba thread only where that pays (the ``workqueue`` layer);
    either way the pool's thread count is restored."""
    import numba

    from p2pbyz.gars import _api

    monkeypatch.setattr(_api, "_switch_pays", lambda: switch)
    before = numba.get_num_threads()
    seen = []

    def spy(X, f):
        seen.append(numba.get_num_threads())
        return X.mean(axis=0)

    gars.register_rule("spy_threads", spy)
    try:
        gars.aggregate("spy_threads", np.ones((5, 10)), 1)
        assert seen == [1 if switch else before]
        assert numba.get_num_threads() == before
    finally:
        _registry._REGISTRY.pop("spy_threads", None)


def test_switch_pays_only_under_workqueue() -> None:
    import numba

    from p2pbyz.gars import _api

    gars.median(np.ones((5, 10)), 1)  # a parallel kernel has run: the layer is chosen
    assert _api._switch_pays() == (numba.threading_layer() == "workqueue")
