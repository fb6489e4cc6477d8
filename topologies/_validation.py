"""Validation of topologies: connectivity, honest connectivity, degree requirements."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import networkx as nx

from p2pbyz._validation import check_int
from p2pbyz.errors import InvalidArgument, TopologyError

__all__ = ["byzantine_nodes", "honest_subgraph", "validate"]


def byzantine_nodes(graph: nx.Graph) -> list[Hashable]:
    """Nodes whose ``byzantine`` attribute is true, in graph order.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.path_graph(3); g.nodes[1]["byzantine"] = True
    >>> byzantine_nodes(g)
    [1]
    """
    return [v for v, b in graph.nodes(data="byzantine", default=False) if b]


def honest_subgraph(graph: nx.Graph) -> nx.Graph:
    """The subgraph induced by the honest (non-Byzantine) nodes (a copy)."""
    bad = set(byzantine_nodes(graph))
    return graph.subgraph([v for v in graph.nodes if v not in bad]).copy()


def _components(g: nx.Graph) -> list[set[Hashable]]:
    comps = nx.strongly_connected_components(g) if g.is_directed() else nx.connected_components(g)
    return sorted((set(c) for c in comps), key=len, reverse=True)


def _sizes(comps: list[set[Hashable]]) -> str:
    return ", ".join(str(len(c)) for c in comps)


def validate(
    graph: nx.Graph,
    *,
    f: int | None = None,
    min_degree: int | None = None,
    byzantine: Iterable[Hashable] | None = None,
    honest_connected: bool = True,
    roles: Iterable[str] | None = None,
) -> nx.Graph:
    """Check that ``graph`` can host a Byzantine-resilient protocol; return it unchanged.

    Checks, in order: the graph is non-empty and connected (strongly, if directed); once the
    Byzantine nodes (``byzantine``, or the nodes whose attribute ``byzantine`` is true) are
    removed, the honest nodes are still connected (when ``honest_connected``); every node (of
    ``roles`` when given) has at least ``min_degree`` neighbours (in-neighbours, if directed),
    where ``f`` alone means ``min_degree = 2f + 1`` (e.g. a median-family rule over a node's
    neighbourhood needs ``2f + 1`` inputs).

    Parameters
    ----------
    graph : networkx.Graph or DiGraph
    f : int, optional
        Byzantine neighbours each node must tolerate.
    min_degree : int, optional
        Required number of neighbours (overrides ``2f + 1``).
    byzantine : iterable, optional
        Byzantine nodes (default: from the ``byzantine`` attribute).
    honest_connected : bool
        Require the honest subgraph to be connected.
    roles : iterable of str, optional
        Only nodes with these roles are checked for degree (e.g. ``("worker",)``).

    Returns
    -------
    networkx.Graph
        ``graph`` itself.

    Raises
    ------
    TopologyError
        Saying what is wrong (component sizes, the Byzantine nodes, the node and its degree).

    Examples
    --------
    >>> import networkx as nx
    >>> validate(nx.cycle_graph(5), f=0).number_of_nodes()
    5
    >>> validate(nx.cycle_graph(5), f=1)
    Traceback (most recent call last):
    ...
    p2pbyz.errors.TopologyError: node 0 has 2 neighbours; needs at least 2f+1 = 3 (f=1)
    """
    if not isinstance(graph, nx.Graph):
        raise InvalidArgument(f"validate: graph must be a networkx graph; got {type(graph).__name__}")
    n = graph.number_of_nodes()
    if n == 0:
        raise TopologyError("graph has no nodes")
    comps = _components(graph)
    kind = "strongly connected" if graph.is_directed() else "connected"
    if len(comps) > 1:
        raise TopologyError(
            f"graph is not {kind}: {len(comps)} components (sizes {_sizes(comps)})"
        )
    bad = list(byzantine) if byzantine is not None else byzantine_nodes(graph)
    unknown = [v for v in bad if v not in graph]
    if unknown:
        raise TopologyError(f"Byzantine node {unknown[0]!r} is not in the graph")
    if honest_connected and bad:
        badset = set(bad)
        h = graph.subgraph([v for v in graph.nodes if v not in badset])
        if h.number_of_nodes() == 0:
            raise TopologyError(f"every node is Byzantine ({len(bad)} of {n}); no honest node left")
        hc = _components(h)
        if len(hc) > 1:
            shown = sorted(bad, key=repr)
            raise TopologyError(
                f"honest subgraph is not {kind} once Byzantine nodes {shown} are placed: "
                f"{len(hc)} components (sizes {_sizes(hc)})"
            )
    need = None
    what = ""
    if min_degree is not None:
        need = check_int(min_degree, "min_degree", minimum=0, owner="validate")
        what = f"min_degree = {need}"
    elif f is not None:
        f = check_int(f, "f", minimum=0, owner="validate")
        need = 2 * f + 1
        what = f"2f+1 = {need} (f={f})"
    if need is not None:
        wanted = None if roles is None else set(roles)
        for v in graph.nodes:
            if wanted is not None and graph.nodes[v].get("role") not in wanted:
                continue
            deg = graph.in_degree(v) if graph.is_directed() else graph.degree(v)
            if deg < need:
                raise TopologyError(f"node {v!r} has {deg} neighbours; needs at least {what}")
    return graph
