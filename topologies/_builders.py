"""Topology builders: networkx graphs with integer nodes and role attributes.

Every builder returns a graph whose nodes are ``0..n-1`` with attributes ``role`` ("peer",
"server" or "worker") and ``byzantine`` (``False``; see :func:`place_byzantine`). Seeded builders
take ``seed`` (an int or ``None``) and never touch the global random state.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import networkx as nx

from p2pbyz._validation import check_int, check_real
from p2pbyz.errors import InvalidArgument, TopologyError

__all__ = [
    "complete",
    "ring",
    "torus",
    "grid",
    "erdos_renyi",
    "watts_strogatz",
    "barabasi_albert",
    "random_regular",
    "star",
    "multi_server",
    "two_cliques",
    "dumbbell",
    "from_graphml",
    "from_edgelist",
]

_MAX_TRIES = 100


def _roles(g: nx.Graph, role: str = "peer") -> nx.Graph:
    for v in g.nodes:
        g.nodes[v].setdefault("role", role)
        g.nodes[v].setdefault("byzantine", False)
    return g


def _seed(seed: Any, owner: str) -> int | None:
    if seed is None:
        return None
    return check_int(seed, "seed", minimum=0, owner=owner)


def complete(n: int) -> nx.Graph:
    """Complete graph on ``n`` peers (every pair connected).

    Examples
    --------
    >>> g = complete(4)
    >>> g.number_of_edges(), g.nodes[0]["role"]
    (6, 'peer')
    """
    n = check_int(n, "n", minimum=1, owner="complete")
    return _roles(nx.complete_graph(n))


def ring(n: int, k: int = 1) -> nx.Graph:
    """Ring of ``n`` peers, each linked to its ``k`` nearest neighbours on each side.

    Examples
    --------
    >>> sorted(d for _, d in ring(6, k=2).degree())
    [4, 4, 4, 4, 4, 4]
    """
    n = check_int(n, "n", minimum=3, owner="ring")
    k = check_int(k, "k", minimum=1, owner="ring")
    if 2 * k >= n:
        raise InvalidArgument(f"ring: k must be < n/2; got n={n}, k={k} (use complete(n))")
    g = nx.circulant_graph(n, list(range(1, k + 1)))
    return _roles(g)


def grid(rows: int, cols: int, *, periodic: bool = False) -> nx.Graph:
    """``rows x cols`` lattice (a torus when ``periodic``); node ``r*cols + c`` has ``pos=(r, c)``.

    Examples
    --------
    >>> g = grid(3, 4)
    >>> g.number_of_nodes(), g.nodes[5]["pos"]
    (12, (1, 1))
    """
    rows = check_int(rows, "rows", minimum=1, owner="grid")
    cols = check_int(cols, "cols", minimum=1, owner="grid")
    if periodic and (rows < 3 or cols < 3):
        raise InvalidArgument(
            f"torus needs rows >= 3 and cols >= 3 (else edges repeat); got rows={rows}, cols={cols}"
        )
    g0 = nx.grid_2d_graph(rows, cols, periodic=periodic)
    mapping = {(r, c): r * cols + c for r in range(rows) for c in range(cols)}
    g = nx.Graph()
    g.add_nodes_from(range(rows * cols))
    g.add_edges_from((mapping[u], mapping[v]) for u, v in g0.edges())
    for (r, c), i in mapping.items():
        g.nodes[i]["pos"] = (r, c)
    return _roles(g)


def torus(rows: int, cols: int) -> nx.Graph:
    """``rows x cols`` torus (periodic lattice, every node of degree 4).

    Examples
    --------
    >>> set(d for _, d in torus(3, 4).degree())
    {4}
    """
    return grid(rows, cols, periodic=True)


def _connected_random(build: Callable[[int | None], nx.Graph], seed: int | None, name: str,
                      what: str) -> nx.Graph:  # fmt: skip
    # Retry with derived seeds until connected (deterministic for a given seed).
    for attempt in range(_MAX_TRIES):
        s = None if seed is None else seed + attempt * 1_000_003
        g = build(s)
        if g.number_of_nodes() <= 1 or nx.is_connected(g):
            return g
    raise TopologyError(
        f"{name}: no connected graph in {_MAX_TRIES} draws with {what}; raise the edge density "
        f"or pass connected=False"
    )


def erdos_renyi(n: int, p: float, *, seed: int | None = None, connected: bool = True) -> nx.Graph:
    """Erdős–Rényi G(n, p); with ``connected`` (default), redrawn until connected.

    Examples
    --------
    >>> g = erdos_renyi(30, 0.2, seed=1)
    >>> import networkx as nx; nx.is_connected(g)
    True
    """
    n = check_int(n, "n", minimum=1, owner="erdos_renyi")
    p = check_real(p, "p", minimum=0.0, maximum=1.0, owner="erdos_renyi")
    seed = _seed(seed, "erdos_renyi")

    def build(s: int | None) -> nx.Graph:
        return nx.gnp_random_graph(n, p, seed=s)

    g = _connected_random(build, seed, "erdos_renyi", f"n={n}, p={p}") if connected else build(seed)
    return _roles(g)


def watts_strogatz(n: int, k: int, p: float, *, seed: int | None = None) -> nx.Graph:
    """Connected Watts–Strogatz small world: ring of degree ``k`` rewired with probability ``p``.

    Examples
    --------
    >>> watts_strogatz(20, 4, 0.1, seed=0).number_of_edges()
    40
    """
    n = check_int(n, "n", minimum=3, owner="watts_strogatz")
    k = check_int(k, "k", minimum=2, maximum=n - 1, owner="watts_strogatz")
    p = check_real(p, "p", minimum=0.0, maximum=1.0, owner="watts_strogatz")
    seed = _seed(seed, "watts_strogatz")
    return _roles(nx.connected_watts_strogatz_graph(n, k, p, tries=_MAX_TRIES, seed=seed))


def barabasi_albert(n: int, m: int, *, seed: int | None = None) -> nx.Graph:
    """Barabási–Albert preferential attachment: each new node links to ``m`` existing ones.

    Examples
    --------
    >>> barabasi_albert(20, 2, seed=0).number_of_edges()
    36
    """
    n = check_int(n, "n", minimum=2, owner="barabasi_albert")
    m = check_int(m, "m", minimum=1, maximum=n - 1, owner="barabasi_albert")
    seed = _seed(seed, "barabasi_albert")
    return _roles(nx.barabasi_albert_graph(n, m, seed=seed))


def random_regular(n: int, d: int, *, seed: int | None = None) -> nx.Graph:
    """Connected random ``d``-regular graph on ``n`` peers (``n*d`` even).

    Examples
    --------
    >>> set(dict(random_regular(10, 3, seed=0).degree()).values())
    {3}
    """
    n = check_int(n, "n", minimum=2, owner="random_regular")
    d = check_int(d, "d", minimum=1, maximum=n - 1, owner="random_regular")
    if (n * d) % 2:
        raise InvalidArgument(f"random_regular: n*d must be even; got n={n}, d={d}")
    seed = _seed(seed, "random_regular")

    def build(s: int | None) -> nx.Graph:
        return nx.random_regular_graph(d, n, seed=s)

    return _roles(_connected_random(build, seed, "random_regular", f"n={n}, d={d}"))


def star(n_workers: int) -> nx.Graph:
    """Parameter-server star: node 0 is the server (role "server"), nodes ``1..n_workers`` the
    workers (role "worker").

    Examples
    --------
    >>> g = star(3)
    >>> g.nodes[0]["role"], g.nodes[1]["role"], g.degree(0)
    ('server', 'worker', 3)
    """
    n_workers = check_int(n_workers, "n_workers", minimum=1, owner="star")
    g = nx.star_graph(n_workers)
    g.nodes[0]["role"] = "server"
    for v in range(1, n_workers + 1):
        g.nodes[v]["role"] = "worker"
    return _roles(g)


def multi_server(n_servers: int, n_workers: int, *, server_mesh: bool = True) -> nx.Graph:
    """Servers x workers: nodes ``0..n_servers-1`` are servers, the rest workers; every worker is
    linked to every server (complete bipartite), and servers to each other when ``server_mesh``.

    Examples
    --------
    >>> g = multi_server(3, 5)
    >>> g.number_of_edges(), g.nodes[3]["role"]
    (18, 'worker')
    """
    n_servers = check_int(n_servers, "n_servers", minimum=1, owner="multi_server")
    n_workers = check_int(n_workers, "n_workers", minimum=1, owner="multi_server")
    g = nx.complete_bipartite_graph(n_servers, n_workers)
    for v in range(n_servers):
        g.nodes[v]["role"] = "server"
    for v in range(n_servers, n_servers + n_workers):
        g.nodes[v]["role"] = "worker"
    for v in g.nodes:
        g.nodes[v].pop("bipartite", None)
    if server_mesh:
        g.add_edges_from((a, b) for a in range(n_servers) for b in range(a + 1, n_servers))
    return _roles(g)


def two_cliques(n1: int, n2: int | None = None, *, bridges: int = 1) -> nx.Graph:
    """Two cliques of ``n1`` and ``n2`` (default ``n1``) peers joined by ``bridges`` disjoint
    edges (node ``i`` of the first to node ``n1 + i`` of the second).

    Examples
    --------
    >>> g = two_cliques(4, bridges=2)
    >>> g.number_of_nodes(), g.number_of_edges()
    (8, 14)
    """
    n1 = check_int(n1, "n1", minimum=1, owner="two_cliques")
    n2 = n1 if n2 is None else check_int(n2, "n2", minimum=1, owner="two_cliques")
    bridges = check_int(bridges, "bridges", minimum=1, maximum=min(n1, n2), owner="two_cliques")
    g = nx.complete_graph(n1)
    g.add_edges_from((n1 + a, n1 + b) for a in range(n2) for b in range(a + 1, n2))
    g.add_nodes_from(range(n1, n1 + n2))
    g.add_edges_from((i, n1 + i) for i in range(bridges))
    return _roles(g)


def dumbbell(m: int, path: int = 0) -> nx.Graph:
    """Barbell: two ``m``-cliques joined by a path of ``path`` extra nodes.

    Examples
    --------
    >>> dumbbell(4, 2).number_of_nodes()
    10
    """
    m = check_int(m, "m", minimum=2, owner="dumbbell")
    path = check_int(path, "path", minimum=0, owner="dumbbell")
    return _roles(nx.barbell_graph(m, path))


def _relabel(g: nx.Graph) -> nx.Graph:
    if all(isinstance(v, int) for v in g.nodes) and set(g.nodes) == set(range(len(g))):
        return g
    try:
        order = sorted(g.nodes)
    except TypeError:
        order = list(g.nodes)
    mapping = {v: i for i, v in enumerate(order)}
    h = nx.relabel_nodes(g, mapping)
    for v, i in mapping.items():
        h.nodes[i]["label"] = v
    return h


def _check_roles(g: nx.Graph, path: Any) -> nx.Graph:
    g = _roles(g)
    for v, d in g.nodes(data=True):
        if d["role"] not in ("peer", "server", "worker"):
            raise TopologyError(
                f"{path}: node {v!r} has role={d['role']!r}; allowed: 'peer', 'server', 'worker'"
            )
        b = d["byzantine"]
        if isinstance(b, str):
            if b.lower() not in ("true", "false", "0", "1"):
                raise TopologyError(f"{path}: node {v!r} has byzantine={b!r}; expected a boolean")
            d["byzantine"] = b.lower() in ("true", "1")
        else:
            d["byzantine"] = bool(b)
    return g


def from_graphml(path: str | os.PathLike[str]) -> nx.Graph:
    """Load a GraphML file; nodes are relabelled ``0..n-1`` in sorted order (the original id is
    kept as attribute ``label``); missing ``role``/``byzantine`` default to "peer"/``False``.

    Examples
    --------
    >>> import tempfile, os, networkx as nx
    >>> p = os.path.join(tempfile.mkdtemp(), "g.graphml")
    >>> nx.write_graphml(nx.path_graph(3), p)
    >>> from_graphml(p).number_of_edges()
    2
    """
    try:
        g = nx.read_graphml(path)
    except (OSError, nx.NetworkXError, Exception) as exc:  # ElementTree raises ParseError
        raise TopologyError(f"cannot read GraphML {os.fspath(path)!r}: {exc}") from None
    g = nx.DiGraph(g) if g.is_directed() else nx.Graph(g)
    return _check_roles(_relabel(g), os.fspath(path))


def from_edgelist(path: str | os.PathLike[str], *, directed: bool = False) -> nx.Graph:
    """Load a whitespace-separated edge list (``u v`` per line, ``#`` comments; integer ids are
    parsed as ints); nodes are relabelled ``0..n-1`` in sorted order.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "g.txt")
    >>> with open(p, "w") as fh:
    ...     _ = fh.write("# ring\\n0 1\\n1 2\\n2 0\\n")
    >>> from_edgelist(p).number_of_edges()
    3
    """
    create = nx.DiGraph if directed else nx.Graph

    def node(tok: str) -> Any:
        try:
            return int(tok)
        except ValueError:
            return tok

    g = create()
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) < 2:
                    raise TopologyError(
                        f"{os.fspath(path)}:{lineno}: expected 'u v' per line; got {line!r}"
                    )
                g.add_edge(node(parts[0]), node(parts[1]))
    except OSError as exc:
        raise TopologyError(f"cannot read edge list {os.fspath(path)!r}: {exc}") from None
    return _check_roles(_relabel(g), os.fspath(path))
