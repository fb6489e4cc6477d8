"""Registry of topology builders, so a CLI or a scenario can list and build them by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import networkx as nx

from p2pbyz.errors import InvalidArgument

from . import _builders as b

__all__ = ["names", "build", "builder"]

_BUILDERS: dict[str, Callable[..., nx.Graph]] = {
    "complete": b.complete,
    "ring": b.ring,
    "torus": b.torus,
    "grid": b.grid,
    "erdos_renyi": b.erdos_renyi,
    "watts_strogatz": b.watts_strogatz,
    "barabasi_albert": b.barabasi_albert,
    "random_regular": b.random_regular,
    "star": b.star,
    "multi_server": b.multi_server,
    "two_cliques": b.two_cliques,
    "dumbbell": b.dumbbell,
    "graphml": b.from_graphml,
    "edgelist": b.from_edgelist,
}


def names() -> list[str]:
    """Names of the registered builders, sorted.

    Examples
    --------
    >>> "ring" in names()
    True
    """
    return sorted(_BUILDERS)


def builder(name: str) -> Callable[..., nx.Graph]:
    """The builder function registered as ``name``."""
    fn = _BUILDERS.get(name)
    if fn is None:
        raise InvalidArgument(f"unknown topology {name!r}; known: {', '.join(names())}")
    return fn


def build(name: str, **params: Any) -> nx.Graph:
    """Build topology ``name`` with keyword parameters.

    Raises
    ------
    InvalidArgument
        For an unknown name (listing the known ones) or unknown parameters (listing the
        accepted ones).

    Examples
    --------
    >>> build("ring", n=5).number_of_edges()
    5
    >>> build("ring", n=5, size=3)
    Traceback (most recent call last):
    ...
    p2pbyz.errors.InvalidArgument: topology 'ring' has no parameter 'size'; accepted: n, k
    """
    fn = builder(name)
    accepted = list(inspect.signature(fn).parameters)
    for k in params:
        if k not in accepted:
            raise InvalidArgument(
                f"topology {name!r} has no parameter {k!r}; accepted: {', '.join(accepted)}"
            )
    try:
        return fn(**params)
    except TypeError as exc:
        raise InvalidArgument(f"topology {name!r}: {exc}") from None
