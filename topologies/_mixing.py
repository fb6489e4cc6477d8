"""Gossip mixing matrices: Metropolis–Hastings weights and the spectral gap."""

from __future__ import annotations

from collections.abc import Hashable

import networkx as nx
import numpy as np

from p2pbyz.errors import InvalidArgument, TopologyError

__all__ = ["metropolis_hastings", "spectral_gap"]


def metropolis_hastings(graph: nx.Graph, *, honest_only: bool = False) -> tuple[np.ndarray, list[Hashable]]:
    r"""Metropolis–Hastings gossip weights of an undirected graph.

    .. math::
        W_{ij} = \frac{1}{1 + \max(d_i, d_j)} \text{ for } \{i, j\} \in E, \qquad
        W_{ii} = 1 - \sum_{j \ne i} W_{ij}, \qquad W_{ij} = 0 \text{ otherwise.}

    ``W`` is symmetric and doubly stochastic with non-negative entries, so gossip
    ``x <- W x`` converges to the average on a connected graph at a rate set by
    :func:`spectral_gap` (Xiao & Boyd, "Fast linear iterations for distributed averaging", 2004;
    Boyd et al., "Randomized gossip algorithms", 2006).

    Parameters
    ----------
    graph : networkx.Graph
        Undirected; self-loops are ignored.
    honest_only : bool
        Use the subgraph of the honest nodes (attribute ``byzantine`` false).

    Returns
    -------
    W : ndarray, shape (n, n), float64
    nodes : list
        The node of each row/column.

    Notes
    -----
    Complexity: O(n^2) memory, O(n + m) time.

    Examples
    --------
    >>> import networkx as nx
    >>> W, nodes = metropolis_hastings(nx.path_graph(3))
    >>> W
    array([[0.66666667, 0.33333333, 0.        ],
           [0.33333333, 0.33333333, 0.33333333],
           [0.        , 0.33333333, 0.66666667]])
    """
    if not isinstance(graph, nx.Graph):
        raise InvalidArgument(
            f"metropolis_hastings: graph must be a networkx graph; got {type(graph).__name__}"
        )
    if graph.is_directed():
        raise TopologyError("metropolis_hastings needs an undirected graph; got a directed one")
    g = graph
    if honest_only:
        g = graph.subgraph([v for v, b in graph.nodes(data="byzantine", default=False) if not b])
    nodes = list(g.nodes)
    if not nodes:
        raise TopologyError("metropolis_hastings: the graph has no nodes")
    idx = {v: i for i, v in enumerate(nodes)}
    deg = {v: sum(1 for u in g.neighbors(v) if u != v) for v in nodes}
    n = len(nodes)
    W = np.zeros((n, n), dtype=np.float64)
    for u, v in g.edges():
        if u == v:
            continue
        w = 1.0 / (1.0 + max(deg[u], deg[v]))
        W[idx[u], idx[v]] = w
        W[idx[v], idx[u]] = w
    np.fill_diagonal(W, 0.0)
    np.fill_diagonal(W, 1.0 - W.sum(axis=1))
    return W, nodes


def spectral_gap(W: np.ndarray) -> float:
    r"""Spectral gap ``1 - |lambda_2|`` of a symmetric stochastic matrix.

    .. math:: \gamma = 1 - \max(|\lambda_2|, |\lambda_n|)

    with :math:`1 = \lambda_1 \ge \lambda_2 \ge \dots \ge \lambda_n` the eigenvalues of ``W``.
    The consensus error of gossip contracts by :math:`1 - \gamma` per round; :math:`\gamma = 0`
    on a disconnected graph.

    Parameters
    ----------
    W : ndarray, shape (n, n)
        Symmetric (e.g. from :func:`metropolis_hastings`).

    Returns
    -------
    float

    Examples
    --------
    >>> import networkx as nx
    >>> W, _ = metropolis_hastings(nx.complete_graph(4))
    >>> round(spectral_gap(W), 12)
    1.0
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise InvalidArgument(f"spectral_gap: W must be a square matrix; got shape={W.shape}")
    if not np.allclose(W, W.T, atol=1e-12):
        raise InvalidArgument("spectral_gap: W must be symmetric")
    if W.shape[0] == 1:
        return 1.0
    ev = np.sort(np.linalg.eigvalsh(W))[::-1]
    return float(1.0 - max(abs(ev[1]), abs(ev[-1])))
