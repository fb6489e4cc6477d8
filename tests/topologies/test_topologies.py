"""Topology builders, registry, validation errors, Byzantine placement, mixing weights."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import topologies as T
from p2pbyz.errors import InvalidArgument, TopologyError

CASES = [
    ("complete", {"n": 6}, 6, 15),
    ("ring", {"n": 8, "k": 2}, 8, 16),
    ("torus", {"rows": 3, "cols": 4}, 12, 24),
    ("grid", {"rows": 3, "cols": 4}, 12, 17),
    ("erdos_renyi", {"n": 20, "p": 0.3, "seed": 1}, 20, None),
    ("watts_strogatz", {"n": 20, "k": 4, "p": 0.2, "seed": 1}, 20, 40),
    ("barabasi_albert", {"n": 20, "m": 2, "seed": 1}, 20, 36),
    ("random_regular", {"n": 20, "d": 3, "seed": 1}, 20, 30),
    ("star", {"n_workers": 5}, 6, 5),
    ("multi_server", {"n_servers": 3, "n_workers": 7}, 10, 24),
    ("two_cliques", {"n1": 4, "n2": 5, "bridges": 2}, 9, 18),
    ("dumbbell", {"m": 4, "path": 2}, 10, 15),
]


@pytest.mark.parametrize(("name", "params", "n", "m"), CASES)
def test_builders_shape_roles_and_connectivity(name, params, n, m):
    g = T.build(name, **params)
    assert g.number_of_nodes() == n
    if m is not None:
        assert g.number_of_edges() == m
    assert sorted(g.nodes) == list(range(n))
    assert nx.is_connected(g)
    for _, d in g.nodes(data=True):
        assert d["role"] in ("peer", "server", "worker")
        assert d["byzantine"] is False


@pytest.mark.parametrize("name", ["erdos_renyi", "watts_strogatz", "barabasi_albert", "random_regular"])
def test_seeded_builders_are_reproducible(name):
    params = next(p for nm, p, _, _ in CASES if nm == name)
    a = T.build(name, **params)
    b = T.build(name, **params)
    c = T.build(name, **{**params, "seed": 2})
    assert sorted(a.edges) == sorted(b.edges)
    assert sorted(a.edges) != sorted(c.edges)


def test_roles_of_server_topologies():
    g = T.star(4)
    assert [g.nodes[v]["role"] for v in g] == ["server"] + ["worker"] * 4
    g = T.multi_server(2, 3)
    assert [g.nodes[v]["role"] for v in g] == ["server"] * 2 + ["worker"] * 3
    assert g.has_edge(0, 1) and not T.multi_server(2, 3, server_mesh=False).has_edge(0, 1)


def test_registry_names_and_errors():
    assert T.names() == sorted(T.names())
    assert {"complete", "ring", "torus", "erdos_renyi", "watts_strogatz", "barabasi_albert", "star",
            "multi_server", "two_cliques", "dumbbell", "graphml", "edgelist"} <= set(T.names())  # fmt: skip
    with pytest.raises(InvalidArgument, match=r"^unknown topology 'rign'; known: barabasi_albert, "):
        T.build("rign", n=4)
    with pytest.raises(InvalidArgument, match=r"^topology 'ring' has no parameter 'size'; accepted: n, k$"):
        T.build("ring", size=4)
    with pytest.raises(InvalidArgument, match=r"^ring: k must be < n/2; got n=4, k=2"):
        T.ring(4, k=2)


def test_graphml_and_edgelist_roundtrip(tmp_path):
    g = T.star(3)
    g.nodes[2]["byzantine"] = True
    p = tmp_path / "g.graphml"
    nx.write_graphml(g, p)
    h = T.from_graphml(p)
    assert sorted(h.edges) == sorted(g.edges)
    assert h.nodes[0]["role"] == "server" and h.nodes[2]["byzantine"] is True
    e = tmp_path / "g.txt"
    e.write_text("# comment\na b\nb c\nc a\n", encoding="utf-8")
    h = T.from_edgelist(e)
    assert sorted(h.nodes) == [0, 1, 2] and h.nodes[0]["label"] == "a"
    assert T.from_edgelist(e, directed=True).is_directed()
    bad = tmp_path / "bad.txt"
    bad.write_text("0 1\n2\n", encoding="utf-8")
    with pytest.raises(TopologyError, match=r"bad.txt:2: expected 'u v' per line; got '2'$"):
        T.from_edgelist(bad)
    with pytest.raises(TopologyError, match=r"^cannot read GraphML"):
        T.from_graphml(tmp_path / "missing.graphml")


def test_validation_messages():
    g = nx.Graph([(0, 1), (2, 3), (3, 4)])
    with pytest.raises(TopologyError, match=r"^graph is not connected: 2 components \(sizes 3, 2\)$"):
        T.validate(g)
    path = T.build("ring", n=6)
    bad = T.place_byzantine(path, nodes=[0, 3], strategy="given")
    with pytest.raises(
        TopologyError,
        match=r"^honest subgraph is not connected once Byzantine nodes \[0, 3\] are placed: "
        r"2 components \(sizes 2, 2\)$",
    ):
        T.validate(bad)
    assert T.validate(bad, honest_connected=False) is bad
    with pytest.raises(TopologyError, match=r"^node 0 has 2 neighbours; needs at least 2f\+1 = 5 \(f=2\)$"):
        T.validate(T.ring(6), f=2)
    with pytest.raises(TopologyError, match=r"^node 1 has 1 neighbours; needs at least min_degree = 2$"):
        T.validate(T.star(3), min_degree=2, roles=["worker"])
    assert T.validate(T.star(3), min_degree=3, roles=["server"]).number_of_nodes() == 4
    d = nx.DiGraph([(0, 1), (1, 2)])
    with pytest.raises(TopologyError, match=r"^graph is not strongly connected: 3 components"):
        T.validate(d)
    with pytest.raises(TopologyError, match=r"^graph has no nodes$"):
        T.validate(nx.Graph())


def test_placement_strategies():
    g = T.star(5)
    assert T.byzantine_nodes(T.place_byzantine(g, 1, strategy="degree")) == [0]
    assert T.byzantine_nodes(T.place_byzantine(g, 2, strategy="degree", role="worker")) == [1, 2]
    assert T.byzantine_nodes(T.place_byzantine(T.dumbbell(4, 1), 1, strategy="cut")) == [4]
    r1 = T.place_byzantine(T.complete(20), 5, strategy="random", seed=3)
    r2 = T.place_byzantine(T.complete(20), 5, strategy="random", seed=3)
    r3 = T.place_byzantine(T.complete(20), 5, strategy="random", seed=4)
    assert T.byzantine_nodes(r1) == T.byzantine_nodes(r2) != T.byzantine_nodes(r3)
    assert len(T.byzantine_nodes(r1)) == 5
    assert T.byzantine_nodes(g) == []  # copy=True leaves the input alone
    assert T.honest_subgraph(r1).number_of_nodes() == 15
    with pytest.raises(TopologyError, match=r"^place_byzantine: f=7 exceeds the 6 candidate nodes$"):
        T.place_byzantine(g, 7)
    with pytest.raises(InvalidArgument, match=r"^place_byzantine: strategy must be one of"):
        T.place_byzantine(g, 1, strategy="worst")
    with pytest.raises(TopologyError, match=r"^place_byzantine: node 9 is not in the graph$"):
        T.place_byzantine(g, nodes=[9], strategy="given")


@given(n=st.integers(2, 25), p=st.floats(0.1, 1.0), seed=st.integers(0, 1000))
def test_metropolis_hastings_doubly_stochastic_symmetric(n, p, seed):
    g = T.erdos_renyi(n, p, seed=seed, connected=False)
    W, nodes = T.metropolis_hastings(g)
    assert nodes == list(g.nodes)
    assert np.allclose(W, W.T)
    assert np.allclose(W.sum(axis=0), 1.0) and np.allclose(W.sum(axis=1), 1.0)
    assert (W >= -1e-15).all()
    gap = T.spectral_gap(W)
    assert -1e-9 <= gap <= 1 + 1e-9
    if nx.is_connected(g):
        assert gap > 1e-9
    else:
        assert abs(gap) < 1e-9


def test_spectral_gap_orders_topologies():
    """Better-connected graphs mix faster: complete > torus > ring of the same size."""
    gaps = [T.spectral_gap(T.metropolis_hastings(g)[0]) for g in
            (T.complete(16), T.torus(4, 4), T.ring(16))]  # fmt: skip
    assert gaps[0] == pytest.approx(1.0)
    assert gaps[0] > gaps[1] > gaps[2] > 0
    ring_gap = 1 - (1 + 2 * np.cos(2 * np.pi / 16)) / 3  # eigenvalues of the lazy ring walk
    assert gaps[2] == pytest.approx(ring_gap)


def test_mixing_honest_only_and_errors():
    g = T.place_byzantine(T.complete(6), nodes=[0], strategy="given")
    W, nodes = T.metropolis_hastings(g, honest_only=True)
    assert nodes == [1, 2, 3, 4, 5] and W.shape == (5, 5)
    with pytest.raises(TopologyError, match=r"^metropolis_hastings needs an undirected graph"):
        T.metropolis_hastings(nx.DiGraph([(0, 1)]))
    with pytest.raises(InvalidArgument, match=r"^spectral_gap: W must be symmetric$"):
        T.spectral_gap(np.array([[0.5, 0.5], [0.0, 1.0]]))


def test_builders_feed_the_network():
    """A topology with roles runs in the network runtime as is."""
    from p2pbyz.network import Network

    g = T.multi_server(2, 4)
    net = Network(g, seed=0)

    async def behaviour(ctx):
        if ctx.attrs["role"] == "worker":
            for s in ctx.neighbours:
                ctx.send(s, ctx.id)
        else:
            got = [(await ctx.recv()).src for _ in range(4)]
            return sorted(got)

    net.add_nodes(behaviour)
    res = net.run()
    assert res.returns[0] == res.returns[1] == [2, 3, 4, 5]
