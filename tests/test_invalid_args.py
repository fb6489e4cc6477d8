"""One table of invalid calls for every public rule: each must raise a clear, pinned error."""

from __future__ import annotations

import re

import numpy as np
import pytest

from p2pbyz import gars
from p2pbyz.errors import ByzantineAssumptionError, InvalidArgument, RequirementError

RULES = gars.names()


def _valid(name: str, f: int = 1) -> np.ndarray:
    s = gars.spec(name)
    n = next(n for n in range(1, 200) if s.requires(n, f))
    return np.random.default_rng(0).normal(size=(n, 4))


BAD = [
    ("f negative", lambda X: dict(X=X, f=-1), r"f must be >= 0; got f=-1"),
    ("f float", lambda X: dict(X=X, f=1.5), r"f must be an integer; got f=1.5"),
    ("f string", lambda X: dict(X=X, f="1"), r"f must be an integer; got f='1'"),
    ("f bool", lambda X: dict(X=X, f=True), r"f must be an integer; got f=True"),
    ("X 1-D", lambda X: dict(X=X[0], f=0), r"X must be 2-dimensional .* got ndim=1"),
    ("X 3-D", lambda X: dict(X=X[None], f=0), r"X must be 2-dimensional .* got ndim=3"),
    ("X empty", lambda X: dict(X=X[:0], f=0), r"X must hold at least one vector"),
    ("d = 0", lambda X: dict(X=X[:, :0], f=0), r"X must have dimension d >= 1"),
    ("int dtype", lambda X: dict(X=X.astype(np.int64), f=1), r"X must have dtype float32 or float64; got dtype=int64"),
    ("complex", lambda X: dict(X=X.astype(np.complex128), f=1), r"X must have dtype float32 or float64; got dtype=complex128"),
    ("float16", lambda X: dict(X=X.astype(np.float16), f=1), r"X must have dtype float32 or float64; got dtype=float16"),
    ("ragged", lambda X: dict(X=[[1.0, 2.0], [1.0]], f=0), r"X must be a 2-D array of floats"),
    ("unknown param", lambda X: dict(X=X, f=1, bogus=3), r"unknown parameter 'bogus'; allowed parameters"),
    ("nonfinite policy", lambda X: dict(X=X, f=1, nonfinite="ignore"), r"nonfinite must be one of 'drop', 'raise'; got nonfinite='ignore'"),
    ("target", lambda X: dict(X=X, f=1, target="gpu"), r"target must be one of 'cpu', 'cuda'; got target='gpu'"),
    ("pre unknown", lambda X: dict(X=X, f=1, pre=["nope"]), r"unknown pre-aggregator 'nope'; known pre-aggregators"),
]


@pytest.mark.parametrize("name", RULES)
@pytest.mark.parametrize(("case", "make", "message"), BAD, ids=[b[0] for b in BAD])
def test_invalid_call_raises_clear_error(name, case, make, message) -> None:
    """Every rule rejects each malformed call with InvalidArgument naming the rule and the argument."""
    kwargs = make(_valid(name))
    with pytest.raises(InvalidArgument, match=rf"^{name}: {message}"):
        gars.aggregate(name, **kwargs)


@pytest.mark.parametrize("name", RULES)
def test_requirement_violation_names_rule_and_requirement(name: str) -> None:
    """The smallest f that the rule cannot tolerate at some n gives `<rule> needs <req>; got n=.., f=..`."""
    s = gars.spec(name)
    for f in range(1, 6):
        bad_n = [n for n in range(1, 40) if not s.requires(n, f)]
        if bad_n:
            n = bad_n[-1]
            X = np.ones((n, 3))
            with pytest.raises(RequirementError, match=rf"^{name} needs {re.escape(s.requirement)}; got n={n}, f={f}$"):
                gars.aggregate(name, X, f)
            return
    assert s.requirement == "n >= 1"


def test_unknown_rule_lists_known_ones() -> None:
    with pytest.raises(InvalidArgument, match=r"^unknown rule 'krumm'; known rules: .*krum"):
        gars.aggregate("krumm", np.ones((5, 2)), 1)


@pytest.mark.parametrize("name", RULES)
def test_too_many_nonfinite_rows_is_an_assumption_error(name: str) -> None:
    X = _valid(name, 1)
    X = np.concatenate([X, X[:2]])
    X[0, 0] = np.nan
    X[1, 1] = np.inf
    with pytest.raises(ByzantineAssumptionError, match=rf"^{name}: 2 input row\(s\) contain NaN or infinity \(rows 0, 1\) but f=1"):
        gars.aggregate(name, X, 1)
