"""Protocol builders: from a scenario to a graph, one role per node, and the coalitions.

Each builder returns a :class:`Plan`; :func:`p2pbyz.emulate` turns it into a running network.
Users replace a role by passing ``roles={"worker": MyWorker, ...}`` to :func:`p2pbyz.emulate`;
the keys are listed per protocol in :data:`ROLE_KEYS`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from ..errors import InvalidArgument, TopologyError
from ._base import Coalition, Role, Setup
from ._multi import ByzantineMsServer, ByzantineMsWorker, MsServer, MsWorker
from ._p2p import ByzantinePeer, Peer
from ._ps import ByzantinePsWorker, PsServer, PsWorker

__all__ = ["Plan", "ProtocolSpec", "names", "spec", "register", "ROLE_KEYS"]

#: Role keys of each protocol, with their default classes.
ROLE_KEYS: dict[str, dict[str, type[Role]]] = {
    "ps": {"server": PsServer, "worker": PsWorker, "byzantine_worker": ByzantinePsWorker},
    "multi_server": {
        "server": MsServer,
        "byzantine_server": ByzantineMsServer,
        "worker": MsWorker,
        "byzantine_worker": ByzantineMsWorker,
    },
    "p2p": {"peer": Peer, "byzantine_peer": ByzantinePeer},
}


@dataclass
class Plan:
    """What a protocol builder produces.

    Attributes
    ----------
    graph : networkx.Graph
        Nodes carry ``role`` (``"server"``, ``"worker"``, ``"peer"``) and ``byzantine`` attributes.
    learners : list of hashable
        Nodes that hold a data shard, in shard order (shard k goes to ``learners[k]``).
    byzantine : frozenset
        Byzantine nodes.
    expected : dict
        Group -> number of honest nodes reporting models in it (for the recorder).
    make_roles : callable
        ``make_roles(setup, learner_of, classes) -> {node: Role}``.
    notes : dict
        Facts worth reporting (e.g. honest peers with more Byzantine neighbours than f).
    """

    graph: nx.Graph
    learners: list[Hashable]
    byzantine: frozenset[Hashable]
    expected: dict[str, int]
    make_roles: Callable[..., dict[Hashable, Role]]
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtocolSpec:
    """A protocol: its name, a one-line summary, its builder and its role keys."""

    name: str
    summary: str
    build: Callable[..., Plan]
    roles: Mapping[str, type[Role]]


def _coalition(
    setup: Setup,
    attack: Any,
    members: Sequence[Hashable],
    honest: Sequence[Hashable],
    *,
    rule: str,
    params: Mapping[str, Any],
    pre: Any,
    f: int,
    n: int,
    key: int,
    name: str,
) -> Coalition:
    ss = setup.seed
    seed = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 100 + key))
    return Coalition(
        attack, members, honest, rule=rule, params=params, pre=pre, f=f, n=n, seed=seed,
        setup=setup, name=name,
    )


# ----------------------------------------------------------------------------------- ps
def build_ps(s: Any, attack: Any, server_attack: Any = None) -> Plan:
    """Star graph: server ``"server"``, workers ``"w0"..``; the last ``byzantine`` workers are
    Byzantine."""
    cfg = s.ps
    workers = [f"w{i}" for i in range(cfg.workers)]
    byz = workers[cfg.workers - cfg.byzantine :] if cfg.byzantine else []
    G = nx.Graph()
    G.add_node("server", role="server", byzantine=False)
    for w in workers:
        G.add_node(w, role="worker", byzantine=w in byz)
        G.add_edge("server", w)
    honest = [w for w in workers if w not in byz]

    def make_roles(setup: Setup, learner_of: Mapping[Hashable, Any], cls: Mapping[str, type]) -> dict:
        co = _coalition(
            setup, attack, byz, honest, rule=setup.rule, params=setup.rule_params,
            pre=setup.rule_pre, f=cfg.f, n=cfg.workers, key=0, name="workers",
        )
        roles: dict[Hashable, Role] = {"server": cls["server"](node_id="server", setup=setup, workers=workers)}
        for w in workers:
            k = "byzantine_worker" if w in byz else "worker"
            r = cls[k](node_id=w, setup=setup, learner=learner_of[w], server="server")
            r.coalition = co
            roles[w] = r
        return roles

    return Plan(G, workers, frozenset(byz), {"server": 1}, make_roles)


# ----------------------------------------------------------------------------------- multi
def build_multi_server(s: Any, attack: Any, server_attack: Any = None) -> Plan:
    """Servers ``"s0"..`` (a clique) fully connected to workers ``"w0"..``; the last
    ``byzantine_servers`` servers and ``byzantine_workers`` workers are Byzantine."""
    cfg = s.multi_server
    servers = [f"s{i}" for i in range(cfg.servers)]
    workers = [f"w{i}" for i in range(cfg.workers)]
    bs = servers[cfg.servers - cfg.byzantine_servers :] if cfg.byzantine_servers else []
    bw = workers[cfg.workers - cfg.byzantine_workers :] if cfg.byzantine_workers else []
    G = nx.Graph()
    for v in servers:
        G.add_node(v, role="server", byzantine=v in bs)
    for v in workers:
        G.add_node(v, role="worker", byzantine=v in bw)
    for i, a in enumerate(servers):
        for b in servers[i + 1 :]:
            G.add_edge(a, b)
        for w in workers:
            G.add_edge(a, w)
    hs = [v for v in servers if v not in bs]
    hw = [v for v in workers if v not in bw]

    def make_roles(setup: Setup, learner_of: Mapping[Hashable, Any], cls: Mapping[str, type]) -> dict:
        cw = _coalition(
            setup, attack, bw, hw, rule=setup.rule, params=setup.rule_params, pre=setup.rule_pre,
            f=cfg.f_workers, n=cfg.workers, key=0, name="workers",
        )
        cs = _coalition(
            setup, server_attack, bs, hs, rule=cfg.model_rule, params={}, pre=(),
            f=cfg.f_servers, n=cfg.servers, key=1, name="servers",
        )
        roles: dict[Hashable, Role] = {}
        for v in servers:
            r = cls["byzantine_server" if v in bs else "server"](
                node_id=v, setup=setup, workers=workers, servers=servers
            )
            r.coalition = cs
            roles[v] = r
        for v in workers:
            r = cls["byzantine_worker" if v in bw else "worker"](
                node_id=v, setup=setup, learner=learner_of[v], servers=servers
            )
            r.coalition = cw
            roles[v] = r
        return roles

    expected = {"server": len(hs), "honest": len(hw)}
    return Plan(G, workers, frozenset(bs) | frozenset(bw), expected, make_roles)


# ----------------------------------------------------------------------------------- p2p
def build_p2p(s: Any, attack: Any, server_attack: Any = None, *, seed: Any = None) -> Plan:
    """The scenario's topology; Byzantine peers placed by ``p2p.placement``."""
    from .. import gars
    from .._emulate import make_topology, place_byzantine

    cfg = s.p2p
    G = make_topology(s.topology.name, cfg.peers, dict(s.topology.params), seed=seed)
    peers = list(G.nodes)
    byz = place_byzantine(G, cfg, seed=seed)
    for v in peers:
        G.nodes[v]["role"] = "peer"
        G.nodes[v]["byzantine"] = v in byz
    honest = [v for v in peers if v not in byz]
    directed = G.is_directed()

    def in_nb(v: Hashable) -> list[Hashable]:
        return list(G.predecessors(v)) if directed else list(G.neighbors(v))

    def out_nb(v: Hashable) -> list[Hashable]:
        return list(G.successors(v)) if directed else list(G.neighbors(v))

    # Every honest peer's rule must accept its neighbourhood (own vector included).
    spec = gars.spec(s.rule.name)
    for v in honest:
        n_v = len(in_nb(v)) + 1
        if not spec.requires(n_v, cfg.f):
            raise TopologyError(
                f"p2p: peer {v!r} has {n_v - 1} neighbours, so its rule {s.rule.name} aggregates "
                f"n={n_v} vectors, but {s.rule.name} needs {spec.requirement} with f={cfg.f}; "
                f"use a denser topology, a smaller p2p.f or another rule"
            )
    over = [v for v in honest if sum(u in byz for u in in_nb(v)) > cfg.f]
    H = G.subgraph(honest)
    honest_connected = (
        (nx.is_weakly_connected(H) if directed else nx.is_connected(H)) if honest else False
    )
    notes = {"honest_peers_over_f": len(over), "honest_subgraph_connected": honest_connected}

    def make_roles(setup: Setup, learner_of: Mapping[Hashable, Any], cls: Mapping[str, type]) -> dict:
        co = _coalition(
            setup, attack, sorted(byz, key=lambda v: setup.index[v]), honest, rule=setup.rule,
            params=setup.rule_params, pre=setup.rule_pre, f=cfg.f,
            n=max((len(in_nb(v)) + 1 for v in honest), default=1), key=0, name="peers",
        )
        roles: dict[Hashable, Role] = {}
        for v in peers:
            k = "byzantine_peer" if v in byz else "peer"
            r = cls[k](
                node_id=v, setup=setup, learner=learner_of[v], in_neighbours=in_nb(v),
                out_neighbours=out_nb(v),
            )
            r.coalition = co
            if v in byz:
                r.victims = tuple(u for u in out_nb(v) if u not in byz)
                r.targets = {
                    u: tuple(x for x in [u, *in_nb(u)] if x not in byz) for u in out_nb(v)
                }
            roles[v] = r
        return roles

    return Plan(G, peers, frozenset(byz), {"honest": len(honest)}, make_roles, notes)


_PROTOCOLS: dict[str, ProtocolSpec] = {}


def register(spec_: ProtocolSpec) -> ProtocolSpec:
    """Add a protocol (a later registration under the same name replaces it)."""
    _PROTOCOLS[spec_.name] = spec_
    return spec_


def names() -> tuple[str, ...]:
    """Names of the protocols.

    Examples
    --------
    >>> from p2pbyz import protocols
    >>> protocols.names()
    ('ps', 'multi_server', 'p2p')
    """
    return tuple(_PROTOCOLS)


def spec(name: str) -> ProtocolSpec:
    """The :class:`ProtocolSpec` called ``name``; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in _PROTOCOLS:
        raise InvalidArgument(f"unknown protocol {name!r}; known protocols: {', '.join(_PROTOCOLS)}")
    return _PROTOCOLS[name]


register(ProtocolSpec(
    "ps", "parameter server: one server, n workers; sync rounds or async quorum with staleness",
    build_ps, ROLE_KEYS["ps"],
))
register(ProtocolSpec(
    "multi_server",
    "ByzSGD-style: workers pull and robustly aggregate servers' models; servers contract models",
    build_multi_server, ROLE_KEYS["multi_server"],
))
register(ProtocolSpec(
    "p2p", "peers on any topology train and robustly aggregate their neighbours' models (gossip)",
    build_p2p, ROLE_KEYS["p2p"],
))
