"""Scripted emulations: :func:`emulate` runs a scenario on the network runtime and returns an
:class:`EmulationResult` (per-round metrics as arrays, network and protocol statistics, final
models, timings)."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numba
import numpy as np

from . import config

from .errors import InvalidArgument, TopologyError

__all__ = [
    "EmulationResult",
    "emulate",
    "build_policies",
    "topology_names",
    "make_topology",
    "place_byzantine",
]


# ----------------------------------------------------------------------------------- policies
def _malform_packet(payload: Any, rng: np.random.Generator) -> Any:
    """Malform the vector of a packet (NaN-filled, wrong dtype or wrong shape), keeping its
    envelope, so that the receivers' validation is what stops it."""
    from .network import malformed_payload

    if isinstance(payload, tuple) and len(payload) == 3:
        return (payload[0], payload[1], malformed_payload(payload[2], rng))
    return malformed_payload(payload, rng)


def _equivocator(scale: float) -> Callable[[Hashable, Any, np.random.Generator], Any]:
    def fn(dst: Hashable, payload: Any, rng: np.random.Generator) -> Any:
        if isinstance(payload, tuple) and len(payload) == 3 and isinstance(payload[2], np.ndarray):
            v = payload[2]
            if v.dtype.kind == "f" and v.size and np.isfinite(v).all():
                rms = float(np.sqrt(np.mean(v * v))) or 1.0
                noisy = v + scale * rms * rng.standard_normal(v.shape)
                return (payload[0], payload[1], noisy.astype(v.dtype))
        return payload

    fn.__name__ = f"equivocate_noise_{scale}"
    return fn


def build_policies(behaviours: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """Network policies of a Byzantine node from the scenario's ``[[attack.network]]`` tables.

    ``equivocate`` (``scale``, default 1) sends each recipient the vector plus its own Gaussian
    noise of ``scale`` times the vector's RMS; ``malform`` (``p``) corrupts the vector inside the
    packet (NaN, wrong dtype or shape). The other kinds map to the runtime's policies of the same
    name.

    Examples
    --------
    >>> build_policies([{"kind": "omission", "p": 0.5}, {"kind": "flood", "factor": 3}])
    (Omission(p=0.5, targets=None, start=0.0, end=inf), Flood(factor=3, payload=None))
    """
    from . import network as N

    out: list[Any] = []
    for b in behaviours:
        kw = {k: v for k, v in b.items() if k != "kind"}
        kind = b.get("kind")
        try:
            if kind == "crash":
                out.append(N.Crash(**kw))
            elif kind == "omission":
                out.append(N.Omission(**kw))
            elif kind == "delay":
                extra = kw.get("extra", 0.0)
                out.append(N.Delay(dict(extra) if isinstance(extra, Mapping) else extra))
            elif kind == "equivocate":
                scale = float(kw.get("scale", 1.0))
                if not (math.isfinite(scale) and scale >= 0):
                    raise InvalidArgument(f"equivocate: scale must be >= 0; got scale={scale!r}")
                out.append(N.Equivocate(_equivocator(scale)))
            elif kind == "flood":
                out.append(N.Flood(**kw))
            elif kind == "malform":
                out.append(N.Malform(p=kw.get("p", 1.0), fn=_malform_packet))
            elif kind == "impersonate":
                if "claim" not in kw:
                    raise InvalidArgument("impersonate: needs claim = <node id>")
                out.append(N.Impersonate(**kw))
            else:
                raise InvalidArgument(f"unknown network behaviour {kind!r}")
        except TypeError as exc:
            raise InvalidArgument(f"{kind}: {exc}") from None
    return tuple(out)


# ----------------------------------------------------------------------------------- topologies
def topology_names() -> tuple[str, ...]:
    """Names of the topology builders usable in a scenario's ``[topology]`` (the
    :mod:`topologies` registry).

    Examples
    --------
    >>> "ring" in topology_names() and "complete" in topology_names()
    True
    """
    import topologies

    return tuple(topologies.names())


def _seed_int(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, np.uint32)[0])
    return int(seed)


def make_topology(name: str, n: int, params: Mapping[str, Any], *, seed: Any = None) -> nx.Graph:
    """Build topology ``name`` with ``params`` (``n`` and ``seed`` filled in when the builder takes
    them and they are not given), relabelled ``0..n-1``, and check it has ``n`` nodes and is
    connected.

    Raises
    ------
    TopologyError
        Unknown builder or parameter, a node count other than ``n``, or a disconnected graph.

    Examples
    --------
    >>> make_topology("ring", 6, {}).number_of_edges()
    6
    """
    import inspect

    import topologies

    params = dict(params)
    try:
        fn = topologies.builder(name)
    except InvalidArgument as exc:
        raise TopologyError(str(exc)) from None
    accepted = inspect.signature(fn).parameters
    if "n" in accepted and "n" not in params:
        params["n"] = n
    if "seed" in accepted and "seed" not in params:
        params["seed"] = _seed_int(seed)
    try:
        G = topologies.build(name, **params)
    except TopologyError:
        raise
    except InvalidArgument as exc:
        raise TopologyError(f"topology.{name}: {exc}") from None
    G = nx.DiGraph(G) if G.is_directed() else nx.Graph(G)
    if G.number_of_nodes() != n:
        shown = {k: v for k, v in params.items() if k != "seed"}
        raise TopologyError(
            f"topology {name!r} with {shown} has {G.number_of_nodes()} nodes but p2p.peers={n}; "
            f"set p2p.peers={G.number_of_nodes()} or change the topology's parameters"
        )
    mapping = {v: i for i, v in enumerate(G.nodes)}
    if any(k != v for k, v in mapping.items()):
        G = nx.relabel_nodes(G, mapping)
    connected = nx.is_strongly_connected(G) if G.is_directed() else nx.is_connected(G)
    if not connected:
        raise TopologyError(
            f"topology {name!r} is disconnected on n={n} nodes; gossip cannot mix; use a denser "
            f"graph or another seed"
        )
    return G


def place_byzantine(G: nx.Graph, cfg: Any, *, seed: Any = None) -> frozenset[int]:
    """Choose the Byzantine peers with :func:`topologies.place_byzantine`: ``given``
    (``cfg.byzantine_nodes``), ``random`` (seeded), ``degree`` (hubs first) or ``cut`` (cut
    vertices first)."""
    import topologies

    if cfg.placement == "given":
        return frozenset(cfg.byzantine_nodes)
    if cfg.byzantine == 0:
        return frozenset()
    g = topologies.place_byzantine(G, cfg.byzantine, strategy=cfg.placement, seed=_seed_int(seed))
    return frozenset(v for v, b in g.nodes(data="byzantine") if b)


# ----------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class EmulationResult:
    """What :func:`emulate` returns.

    Attributes
    ----------
    scenario : Scenario
        The resolved scenario.
    rounds : numpy.ndarray
        ``0..rounds`` (round 0 is the initial model).
    metrics : dict
        Group (``"server"``, ``"honest"``, ``"byzantine"``) -> metric -> array over ``rounds``
        (NaN where not measured): ``accuracy`` (mean over the group's nodes),
        ``accuracy_min``/``accuracy_max``, ``loss`` (test loss), ``disagreement`` (RMS distance
        of the group's models to their mean), ``influence`` (relative distance of an aggregate to
        the mean of its honest inputs), ``train_loss``, ``vector_norm``, ``staleness`` ...
    statistics : p2pbyz.network.NetworkStatistics
        The runtime's final snapshot (messages sent, delivered, lost, throttled, malformed ...).
    counters : dict
        Protocol counters summed over honest nodes (``missing``, ``late``, ``duplicates``,
        ``malformed``, ``stale_dropped``, ``aggregation_failures``, ...) and over Byzantine nodes
        (prefixed ``byzantine.``), plus the coalitions' ``attack_calls`` and ``attack_fallbacks``.
    final_models : dict
        Node id -> its final model (servers, and honest and Byzantine workers or peers).
    byzantine : frozenset
        Byzantine node ids.
    virtual_time : float
        Emulated seconds.
    wall_time : float
        Wall seconds of the whole emulation (setup included).
    run_wall_time : float
        Wall seconds of the network run.
    compute_time : float
        Wall seconds spent inside nodes computing (gradients, aggregations, attacks, evaluation).
    notes : dict
        Facts about the setting (e.g. ``honest_peers_over_f``).
    trace : tuple or None
        Delivery records when ``network.trace`` is on.
    """

    scenario: Any
    rounds: np.ndarray
    metrics: dict[str, dict[str, np.ndarray]]
    statistics: Any
    counters: dict[str, int]
    final_models: dict[Hashable, np.ndarray]
    byzantine: frozenset[Hashable]
    virtual_time: float
    wall_time: float
    run_wall_time: float
    compute_time: float
    notes: dict[str, Any] = field(default_factory=dict)
    trace: tuple[Any, ...] | None = None

    @property
    def runtime_share(self) -> float:
        """Share of the network run's wall time not spent computing in the nodes: the cost of the
        emulator itself (routing, task switches, message bookkeeping)."""
        if self.run_wall_time <= 0:
            return 0.0
        return max(0.0, 1.0 - self.compute_time / self.run_wall_time)

    @property
    def main_group(self) -> str:
        """The group whose models define the run's accuracy: ``server`` for ``ps``, ``honest``
        (workers' aggregated models, peers' models) otherwise."""
        return "server" if self.scenario.protocol == "ps" else "honest"

    def final(self, metric: str, group: str | None = None) -> float:
        """The last measured value of ``metric`` for ``group`` (default :attr:`main_group`)."""
        g = self.main_group if group is None else group
        arr = self.metrics.get(g, {}).get(metric)
        if arr is None:
            return math.nan
        ok = np.flatnonzero(~np.isnan(arr))
        return float(arr[ok[-1]]) if ok.size else math.nan

    def summary(self) -> dict[str, Any]:
        """The figures of the final table: accuracy, loss, disagreement, influence, messages."""
        run = self.statistics.run
        g = self.main_group
        infl_group = "server" if self.scenario.protocol != "p2p" else "honest"
        infl = self.metrics.get(infl_group, {}).get("influence")
        out: dict[str, Any] = {
            "protocol": self.scenario.protocol,
            "rule": self.scenario.rule.name,
            "attack": self.scenario.attack.name,
            "rounds": int(self.scenario.rounds),
            "accuracy": self.final("accuracy", g),
            "accuracy_min": self.final("accuracy_min", g),
            "loss": self.final("loss", g),
            "disagreement": self.final("disagreement", g),
            "influence_mean": float(np.nanmean(infl)) if infl is not None and np.any(~np.isnan(infl)) else math.nan,
            "messages_sent": int(run.sent),
            "messages_delivered": int(run.delivered),
            "messages_lost": int(run.lost + run.partitioned),
            "messages_malformed": int(run.malformed),
            "messages_throttled": int(run.throttled),
            "virtual_time": float(self.virtual_time),
            "wall_time": float(self.wall_time),
            "runtime_share": float(self.runtime_share),
        }
        if self.scenario.protocol == "multi_server":
            out["server_accuracy"] = self.final("accuracy", "server")
            out["server_disagreement"] = self.final("disagreement", "server")
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per (round, group) with every metric (for CSV)."""
        cols = sorted({c for g in self.metrics.values() for c in g})
        out = []
        for t in self.rounds.tolist():
            for g in ("server", "honest", "byzantine"):
                if g not in self.metrics:
                    continue
                m = self.metrics[g]
                row: dict[str, Any] = {"round": int(t), "group": g}
                have = False
                for c in cols:
                    v = float(m[c][t]) if c in m else math.nan
                    row[c] = v
                    have = have or not math.isnan(v)
                if have:
                    out.append(row)
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<EmulationResult {s['protocol']} rule={s['rule']} attack={s['attack']} "
            f"rounds={s['rounds']} accuracy={s['accuracy']:.4f} "
            f"messages={s['messages_delivered']}/{s['messages_sent']}>"
        )


# ----------------------------------------------------------------------------------- emulate
def _child(root: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k))


def _make_attack(cfg: Any) -> Any:
    from . import attacks

    if cfg is None or cfg.name == "none":
        return None
    params = {k: _unfreeze(v) for k, v in cfg.params.items()}
    return attacks.make(cfg.name, **params)


def _unfreeze(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _unfreeze(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return [_unfreeze(x) for x in v]
    return v


def emulate(
    scenario: Any = None,
    *,
    overrides: Any = (),
    roles: Mapping[str, type] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EmulationResult:
    """Run one emulation of Byzantine-resilient training over the virtual-time network.

    Parameters
    ----------
    scenario : Scenario, mapping, path or None
        What to run (see :mod:`p2pbyz.scenario`); None runs the built-in default scenario.
    overrides : iterable of "key=value" or mapping
        Dotted-key overrides applied before validation (like ``p2pbyz run --set``).
    roles : mapping, optional
        Replacement role classes by key (``"server"``, ``"worker"``, ``"byzantine_worker"`` for
        ``ps``; see :data:`p2pbyz.protocols.ROLE_KEYS`), e.g. a subclass of
        :class:`~p2pbyz.protocols.PsWorker` scripting a custom behaviour.
    progress : callable, optional
        ``progress(done_rounds, total_rounds)``, called as rounds complete (wall-clock UI only).

    Returns
    -------
    EmulationResult

    Raises
    ------
    ScenarioError
        Invalid scenario.
    TopologyError
        A topology the protocol cannot run on (disconnected, a peer with too few neighbours for
        the rule).

    Examples
    --------
    >>> import p2pbyz
    >>> res = p2pbyz.emulate({"rounds": 5, "ps": {"workers": 5, "byzantine": 1}})
    >>> res.metrics["server"]["accuracy"].shape, res.final("accuracy") > 0.5
    ((6,), True)
    """
    from . import learning, protocols
    from . import network as N
    from . import scenario as S

    wall0 = time.perf_counter()
    s = S.load(scenario, overrides=overrides)
    pspec = protocols.spec(s.protocol)
    classes: dict[str, type] = dict(pspec.roles)
    for k, c in (roles or {}).items():
        if k not in classes:
            raise InvalidArgument(
                f"emulate: unknown role {k!r} for protocol {s.protocol!r}; roles: "
                f"{', '.join(classes)}"
            )
        if not (isinstance(c, type) and issubclass(c, protocols.Role)):
            raise InvalidArgument(
                f"emulate: roles[{k!r}] must be a subclass of p2pbyz.protocols.Role; got {c!r}"
            )
        classes[k] = c

    root = np.random.SeedSequence(s.seed)
    data = learning.load_dataset(
        s.data.dataset, seed=_child(root, 0), test_fraction=s.data.test_fraction,
        **{k: _unfreeze(v) for k, v in s.data.params.items()},
    )
    mparams = {k: _unfreeze(v) for k, v in s.model.params.items()}
    if isinstance(mparams.get("hidden"), list):
        mparams["hidden"] = tuple(mparams["hidden"])
    model = learning.make_model(s.model.name, data.n_features, data.n_classes, **mparams)
    attack = _make_attack(s.attack)
    server_attack = None
    if s.protocol == "multi_server":
        server_attack = _make_attack(
            s.multi_server.server_attack if s.multi_server.server_attack is not None else s.attack
        )
    if s.protocol == "p2p":
        plan = pspec.build(s, attack, server_attack, seed=_child(root, 5))
    else:
        plan = pspec.build(s, attack, server_attack)
    G = plan.graph
    index = {v: i for i, v in enumerate(G.nodes)}
    learners = plan.learners
    if len(learners) > data.n_train:
        raise S.ScenarioError(
            f"scenario: {len(learners)} learners but dataset {data.name!r} has only "
            f"{data.n_train} training samples"
        )
    parts = learning.partition(
        data.y_train, len(learners), s.data.partition, seed=_child(root, 1),
        **{k: _unfreeze(v) for k, v in s.data.partition_params.items()},
    )
    flips = [i for i, v in enumerate(learners) if v in plan.byzantine] if s.attack.label_flip else []
    workers = learning.make_workers(
        model, data, parts, batch_size=s.training.batch_size, momentum=s.training.momentum,
        label_flip=flips, seed=_child(root, 3),
    )
    learner_of = dict(zip(learners, workers))
    lr = _unfreeze(s.training.lr)
    schedule = learning.make_schedule(**lr) if isinstance(lr, dict) else learning.as_schedule(lr)
    w0 = model.init(_child(root, 2))
    ct = _unfreeze(s.training.compute_time)
    compute_time = N.as_latency(ct, name="compute_time")

    done = [0]

    def on_round(t: int) -> None:
        if progress is not None and t > done[0]:
            done[0] = t
            progress(t, s.rounds)

    recorder = protocols.Recorder(
        model, data, s.rounds, s.training.eval_every, plan.byzantine, plan.expected, index,
        progress=on_round,
    )
    setup = protocols.Setup(
        scenario=s, model=model, data=data, schedule=schedule, rule=s.rule.name,
        rule_params={k: _unfreeze(v) for k, v in s.rule.params.items()},
        rule_pre=[_unfreeze(p) for p in s.rule.pre], recorder=recorder, index=index,
        byzantine=plan.byzantine, compute_time=compute_time, w0=w0, seed=_child(root, 4),
    )
    role_of = plan.make_roles(setup, learner_of, classes)

    net_cfg = s.network
    lat = _unfreeze(net_cfg.latency)
    link = N.LinkPolicy(
        latency=N.as_latency(lat, name="latency"), bandwidth=net_cfg.bandwidth,
        loss=net_cfg.loss, duplicate=net_cfg.duplicate, jitter=net_cfg.jitter, fifo=net_cfg.fifo,
    )
    partitions = []
    for p in net_cfg.partitions:
        groups = [list(g) for g in _unfreeze(p["groups"])]
        for g in groups:
            for v in g:
                if v not in index:
                    raise S.ScenarioError(
                        f"scenario: network.partitions: node {v!r} is not in the graph; nodes: "
                        f"{', '.join(repr(u) for u in list(index)[:12])}"
                        f"{', ...' if len(index) > 12 else ''}"
                    )
        partitions.append(
            N.Partition(tuple(groups), float(p.get("start", 0.0)), float(p.get("end", math.inf)))
        )
    net = N.Network(
        G, seed=_child(root, 6), link_policy=link, partitions=partitions,
        trace=True if net_cfg.trace else None,
    )
    policies = build_policies([_unfreeze(b) for b in s.attack.network])
    for v, role in role_of.items():
        net.add_node(
            v, role.run, policies=policies if v in plan.byzantine else (),
            validator=role.validator(),
        )
    setup.lookahead = float(net.lookahead)
    setup.extra["lossy"] = link.loss > 0 or bool(partitions)
    setup.extra["ordered_links"] = link.fifo or (
        isinstance(link.latency, N.Constant) and link.jitter == 0.0 and link.bandwidth is None
    )
    largest = max(len(G.nodes), 1) * model.dim
    serial = largest < config.EMULATION_SERIAL_BELOW
    threads = numba.get_num_threads()
    with contextlib.ExitStack() as stack:
        if serial:
            # Small vectors: one thread for numba kernels and BLAS (tiny matrix products are
            # many times slower with a thread pool, above all on a loaded machine).
            numba.set_num_threads(1)
            stack.callback(numba.set_num_threads, threads)
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
                pass
            else:
                stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
        res = net.run()
    recorder.finish()
    metrics = recorder.table()

    counters: dict[str, int] = {}
    compute = recorder.compute_s
    finals: dict[Hashable, np.ndarray] = {}
    for v in sorted(role_of, key=lambda u: index[u]):
        role = role_of[v]
        compute += role.compute_s
        prefix = "byzantine." if v in plan.byzantine else ""
        for k, c in sorted(role.counters.items()):
            counters[prefix + k] = counters.get(prefix + k, 0) + c
        w = getattr(role, "w", getattr(role, "theta", getattr(role, "x", None)))
        if isinstance(w, np.ndarray):
            finals[v] = w.copy()
    seen: set[int] = set()
    for role in role_of.values():
        co = getattr(role, "coalition", None)
        if co is not None and id(co) not in seen:
            seen.add(id(co))
            counters["attack_calls"] = counters.get("attack_calls", 0) + co.calls
            counters["attack_fallbacks"] = counters.get("attack_fallbacks", 0) + co.fallbacks
    return EmulationResult(
        scenario=s,
        rounds=np.arange(s.rounds + 1),
        metrics=metrics,
        statistics=res.statistics,
        counters=dict(sorted(counters.items())),
        final_models=finals,
        byzantine=plan.byzantine,
        virtual_time=float(max((r.finished_at for r in role_of.values() if r.finished_at is not None),
                               default=res.virtual_time)),
        wall_time=time.perf_counter() - wall0,
        run_wall_time=float(res.wall_time),
        compute_time=float(compute),
        notes=dict(plan.notes),
        trace=res.trace,
    )

