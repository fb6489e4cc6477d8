"""Rules for the proofs_check tests: deliberately weakened Krum variants and, while the Krum family
is not registered yet, its numpy oracles (p2pbyz.gars._reference) as user rules."""

from __future__ import annotations

import numpy as np

from p2pbyz import gars
from proofs_check import Rule, registered_rule, user_rule


def krum_one_neighbour(X, f):
    """Krum with a wrong neighbour count: 1 instead of n-f-2. f >= 2 identical Byzantine vectors
    score 0 and are always selected."""
    X = np.asarray(X, dtype=np.float64)
    D = ((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(D, np.inf)
    scores = np.sort(D, axis=1)[:, :1].sum(axis=1)
    return X[int(np.argmin(scores))].copy()


def krum_no_selection(X, f):
    """Krum without its selection: the plain average."""
    return np.asarray(X, dtype=np.float64).mean(axis=0)


def plain_average(X, f):
    """Averaging as a user rule."""
    return np.asarray(X, dtype=np.float64).mean(axis=0)


def rule_or_reference(name: str) -> Rule:
    """The registered rule, or (until it lands) its numpy oracle from p2pbyz.gars._reference."""
    if name in gars.names():
        return registered_rule(name)
    from p2pbyz.gars import _reference

    fn = getattr(_reference, name)
    return user_rule(lambda X, f: fn(X, f), label=f"{name} (reference oracle)")
