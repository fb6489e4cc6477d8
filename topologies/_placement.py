"""Placement of Byzantine nodes: given, random (seeded), or adversarial."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import networkx as nx
import numpy as np

from p2pbyz._validation import check_choice, check_int
from p2pbyz.errors import InvalidArgument, TopologyError

__all__ = ["place_byzantine", "STRATEGIES"]

STRATEGIES = ("given", "random", "degree", "cut")


def _rank_cut(g: nx.Graph, pool: list[Hashable]) -> list[Hashable]:
    """Cut vertices first, the one leaving the smallest largest component first (the most
    damaging split), then the rest by degree; ties by graph order."""
    order = {v: i for i, v in enumerate(g.nodes)}
    und = g.to_undirected(as_view=True) if g.is_directed() else g
    cuts = set(nx.articulation_points(und))
    n = und.number_of_nodes()

    def largest_left(v: Hashable) -> int:
        h = und.subgraph([u for u in und.nodes if u != v])
        return max((len(c) for c in nx.connected_components(h)), default=0)

    left = {v: (largest_left(v) if v in cuts else n - 1) for v in pool}
    return sorted(pool, key=lambda v: (v not in cuts, left[v], -und.degree(v), order[v]))


def place_byzantine(
    graph: nx.Graph,
    f: int | None = None,
    *,
    strategy: str = "random",
    nodes: Iterable[Hashable] | None = None,
    seed: int | None = None,
    role: str | None = None,
    copy: bool = True,
) -> nx.Graph:
    """Mark ``f`` nodes Byzantine (attribute ``byzantine=True``; the others ``False``).

    Parameters
    ----------
    graph : networkx.Graph
    f : int, optional
        How many (not needed with ``strategy="given"``).
    strategy : {"given", "random", "degree", "cut"}
        ``given``: exactly ``nodes``; ``random``: ``f`` nodes uniformly at random (``seed``);
        ``degree``: the ``f`` highest-degree nodes (an adversary taking the hubs);
        ``cut``: cut vertices first (those whose removal leaves the smallest largest component
        first), then by degree
        (an adversary trying to disconnect the honest nodes). Ties go to the earlier node.
    nodes : iterable, optional
        The Byzantine nodes for ``given``.
    seed : int, optional
        Seed of ``random``.
    role : str, optional
        Only place among nodes of this role (e.g. "worker").
    copy : bool
        Return a copy (default) instead of modifying ``graph``.

    Returns
    -------
    networkx.Graph

    Raises
    ------
    TopologyError
        When fewer than ``f`` candidate nodes exist or a given node is unknown.

    Examples
    --------
    >>> import networkx as nx
    >>> g = place_byzantine(nx.star_graph(4), 1, strategy="degree")
    >>> [v for v, b in g.nodes(data="byzantine") if b]
    [0]
    >>> g = place_byzantine(nx.path_graph(5), 1, strategy="cut")
    >>> [v for v, b in g.nodes(data="byzantine") if b]
    [2]
    """
    check_choice(strategy, "strategy", STRATEGIES, owner="place_byzantine")
    g = graph.copy() if copy else graph
    pool = [v for v in g.nodes if role is None or g.nodes[v].get("role") == role]
    if strategy == "given":
        if nodes is None:
            raise InvalidArgument("place_byzantine: strategy='given' needs nodes=[...]")
        chosen = list(dict.fromkeys(nodes))
        for v in chosen:
            if v not in g:
                raise TopologyError(f"place_byzantine: node {v!r} is not in the graph")
        if f is not None and len(chosen) != f:
            raise InvalidArgument(
                f"place_byzantine: f={f} but {len(chosen)} nodes were given"
            )
    else:
        if nodes is not None:
            raise InvalidArgument(
                f"place_byzantine: nodes=... only goes with strategy='given'; got strategy={strategy!r}"
            )
        if f is None:
            raise InvalidArgument(f"place_byzantine: strategy={strategy!r} needs f")
        f = check_int(f, "f", minimum=0, owner="place_byzantine")
        if f > len(pool):
            where = f" with role {role!r}" if role is not None else ""
            raise TopologyError(
                f"place_byzantine: f={f} exceeds the {len(pool)} candidate nodes{where}"
            )
        if strategy == "random":
            rng = np.random.default_rng(seed)
            pick = rng.choice(len(pool), size=f, replace=False) if f else []
            chosen = [pool[i] for i in sorted(int(i) for i in pick)]
        elif strategy == "degree":
            order = {v: i for i, v in enumerate(g.nodes)}
            deg = g.in_degree if g.is_directed() else g.degree
            chosen = sorted(pool, key=lambda v: (-deg(v), order[v]))[:f]
        else:
            chosen = _rank_cut(g, pool)[:f]
    chosen_set = set(chosen)
    for v in g.nodes:
        g.nodes[v]["byzantine"] = v in chosen_set
    return g
