"""Scenarios: TOML files (or dicts) validated into frozen dataclasses.

A scenario says everything an emulation needs: the protocol and its node counts (real Byzantine
nodes and the *declared* f the rules are configured with are separate numbers), the topology, the
aggregation rule with its parameters and pre-aggregators, the attack (vector attack, knowledge
model, Byzantine network behaviours), the data, the model, the training hyper-parameters, the
link policies and the seed. :func:`load` accepts a path, TOML text, a mapping or a
:class:`Scenario`; :func:`default` is the built-in scenario ``p2pbyz run`` uses without argument.

Errors are :class:`ScenarioError` (an :class:`~p2pbyz.errors.InvalidArgument`) with one line that
names the key, its value and what is allowed, prefixed by the file and line when known::

    scenario.toml line 9: rule.name: unknown rule 'krumm'; known rules: aksel, average, ...

Schema (every section and key is optional; the values shown are the defaults)::

    name = "default"            # free text, used in the run id
    seed = 0                    # one seed drives data, partition, init, sampling, attacks, network
    rounds = 60
    protocol = "ps"             # "ps" | "multi_server" | "p2p"

    [ps]                        # one server, n workers
    workers = 10
    byzantine = 2               # real number of Byzantine workers
    f = 2                       # declared f (default: byzantine)
    mode = "sync"               # "sync" | "async"
    quorum = 8                  # async: gradients per update (default n - f)
    staleness = 4               # async: largest staleness accepted
    stale = "drop"              # async: "drop" (use as is within the bound) | "weight" (1/(1+tau))
    round_timeout = 1.0         # virtual seconds a server waits for a round's vectors

    [multi_server]              # ByzSGD-style (El-Mhamdi et al., PODC 2020)
    servers = 4
    byzantine_servers = 1
    f_servers = 1
    workers = 10
    byzantine_workers = 2
    f_workers = 2
    model_rule = "median"       # workers' robust aggregation of the pulled models
    contract_rule = "median"    # servers' robust contraction of exchanged models
    exchange_every = 1          # rounds between model exchanges among servers
    equivocate = true           # Byzantine servers send different models to different workers
    server_attack = {}          # the Byzantine servers' model attack (default: [attack])
    round_timeout = 1.0

    [p2p]                       # peers on a topology
    peers = 10
    byzantine = 2
    f = 2                       # declared f of every peer's rule
    gossip_steps = 1
    placement = "random"        # "random" | "given" | "degree" (hubs first) | "cut" (cut vertices)
    byzantine_nodes = []        # placement = "given"
    equivocate = false          # tailor the attack to each recipient's neighbourhood
    round_timeout = 1.0

    [topology]                  # p2p only
    name = "complete"           # ring, complete, torus, erdos_renyi, ... (p2pbyz list topologies)
    # any other key is a builder parameter (k, p, ...)

    [rule]
    name = "trimmed_mean"
    pre = []                    # ["nnm"] or [{name = "bucketing", s = 2}]
    # any other key is a rule parameter (m = 7 for multi_krum, ...)

    [attack]
    name = "alie"               # a vector attack, or "none" (Byzantine nodes send honest vectors)
    label_flip = false          # Byzantine workers train on flipped labels
    # any other key is an attack parameter (z, eps, knowledge = "estimating", ...)
    # [[attack.network]] tables: network behaviours of every Byzantine node, e.g.
    # kind = "omission" p = 0.5 | kind = "delay" extra = 0.2 | kind = "crash" at = 3.0
    # kind = "flood" factor = 5 | kind = "malform" p = 0.5 | kind = "equivocate" scale = 1.0
    # kind = "impersonate" claim = "w0"

    [data]
    dataset = "digits"
    partition = "iid"           # "iid" | "dirichlet" (alpha) | "extreme" (classes_per_worker)
    test_fraction = 0.2
    # any other key is a dataset parameter (n_samples, ...)

    [model]
    name = "softmax"            # any other key is a model parameter (hidden, l2, ...)

    [training]
    lr = 0.5                    # a number, or {name = "cosine", lr = 0.5, total = 60}
    momentum = 0.0              # RESAM worker momentum beta
    batch_size = 32
    compute_time = 0.0          # virtual seconds per gradient (number or latency table)
    eval_every = 1

    [network]
    latency = 0.005             # seconds, or {dist = "uniform", low = ..., high = ...}
    bandwidth = inf             # bytes per second (omit for infinite)
    loss = 0.0
    duplicate = 0.0
    jitter = 0.0
    fifo = false
    trace = false               # keep the delivery trace (written to trace.jsonl)
    # [[network.partitions]] groups = [[...], [...]] start = 0.0 end = 1.0

Examples
--------
>>> from p2pbyz import scenario
>>> s = scenario.load({"protocol": "p2p", "p2p": {"peers": 8, "byzantine": 1}})
>>> s.protocol, s.p2p.peers, s.p2p.f, s.topology.name
('p2p', 8, 1, 'complete')
>>> scenario.load({"rule": {"name": "krumm"}})
Traceback (most recent call last):
...
p2pbyz.scenario.ScenarioError: scenario: rule.name: unknown rule 'krumm'; known rules: ...
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import numbers
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import InvalidArgument

__all__ = [
    "ScenarioError",
    "Scenario",
    "PsConfig",
    "MultiServerConfig",
    "P2PConfig",
    "TopologyConfig",
    "RuleConfig",
    "AttackConfig",
    "DataConfig",
    "ModelConfig",
    "TrainingConfig",
    "NetworkConfig",
    "PROTOCOLS",
    "NETWORK_BEHAVIOURS",
    "load",
    "loads",
    "default",
    "apply_overrides",
    "parse_override",
    "to_dict",
    "to_toml",
]

PROTOCOLS = ("ps", "multi_server", "p2p")
NETWORK_BEHAVIOURS = (
    "crash", "omission", "delay", "equivocate", "flood", "malform", "impersonate"
)
_BEHAVIOUR_KEYS: dict[str, tuple[str, ...]] = {
    "crash": ("at", "recover_at"),
    "omission": ("p", "start", "end"),
    "delay": ("extra",),
    "equivocate": ("scale",),
    "flood": ("factor",),
    "malform": ("p",),
    "impersonate": ("claim", "p"),
}
_PLACEMENTS = ("random", "given", "degree", "cut")


class ScenarioError(InvalidArgument):
    """A scenario is invalid: bad TOML, an unknown key, or a value out of its allowed range.

    The message is one line naming the key (dotted), its value and what is allowed.
    """


def _frozen_map(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(m or {}))


def _freeze(v: Any) -> Any:
    if isinstance(v, Mapping):
        return MappingProxyType({k: _freeze(x) for k, x in v.items()})
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    return v


def _thaw(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _thaw(x) for k, x in v.items()}
    if isinstance(v, tuple | list):
        return [_thaw(x) for x in v]
    return v


# ----------------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class PsConfig:
    """Parameter server: one server, ``workers`` workers of which ``byzantine`` are Byzantine.

    ``f`` is the number of Byzantine inputs the server's rule is configured to tolerate.
    Synchronous rounds wait for every worker (up to ``round_timeout``; a missing vector counts
    against f). Asynchronous mode updates as soon as ``quorum`` acceptable gradients arrived;
    a gradient computed on a model ``tau`` versions old is stale: beyond ``staleness`` it is
    dropped, within it is used as is (``stale="drop"``) or scaled by ``1/(1+tau)``
    (``stale="weight"``).
    """

    workers: int = 10
    byzantine: int = 2
    f: int = 2
    mode: str = "sync"
    quorum: int = 8
    staleness: int = 4
    stale: str = "drop"
    round_timeout: float = 1.0


@dataclass(frozen=True)
class MultiServerConfig:
    """ByzSGD-style multi-server setting (El-Mhamdi, Guerraoui, Guirguis, Hoang, Rouault, PODC 2020).

    Workers pull the servers' models and aggregate them with ``model_rule`` (f = ``f_servers``),
    compute a gradient there and push it to every server; servers aggregate gradients with the
    scenario's ``[rule]`` (f = ``f_workers``) and, every ``exchange_every`` rounds, exchange their
    models and contract them with ``contract_rule`` (f = ``f_servers``). Byzantine servers send
    ``server_attack`` models, different ones to different workers when ``equivocate``.
    """

    servers: int = 4
    byzantine_servers: int = 1
    f_servers: int = 1
    workers: int = 10
    byzantine_workers: int = 2
    f_workers: int = 2
    model_rule: str = "median"
    contract_rule: str = "median"
    exchange_every: int = 1
    equivocate: bool = True
    server_attack: AttackConfig | None = None
    round_timeout: float = 1.0


@dataclass(frozen=True)
class P2PConfig:
    """Peer-to-peer: every peer trains and robustly aggregates its own and its neighbours' models.

    ``byzantine`` peers are placed by ``placement`` (``"given"`` uses ``byzantine_nodes``);
    every honest peer's rule tolerates ``f`` Byzantine neighbours. A round is one local step then
    ``gossip_steps`` exchange-and-aggregate steps.
    """

    peers: int = 10
    byzantine: int = 2
    f: int = 2
    gossip_steps: int = 1
    placement: str = "random"
    byzantine_nodes: tuple[int, ...] = ()
    equivocate: bool = False
    round_timeout: float = 1.0


@dataclass(frozen=True)
class TopologyConfig:
    """A topology builder by name (:func:`topologies` registry) and its parameters (p2p only)."""

    name: str = "complete"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleConfig:
    """An aggregation rule by name, its parameters and its pre-aggregators."""

    name: str = "trimmed_mean"
    params: Mapping[str, Any] = field(default_factory=dict)
    pre: tuple[Any, ...] = ()


@dataclass(frozen=True)
class AttackConfig:
    """The Byzantine nodes' behaviour: a vector attack (or ``"none"``) with its parameters
    (including ``knowledge``), label flipping, and network behaviours."""

    name: str = "alie"
    params: Mapping[str, Any] = field(default_factory=dict)
    label_flip: bool = False
    network: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class DataConfig:
    """A dataset by name with its parameters, and how the training split is shared out."""

    dataset: str = "digits"
    params: Mapping[str, Any] = field(default_factory=dict)
    partition: str = "iid"
    partition_params: Mapping[str, Any] = field(default_factory=dict)
    test_fraction: float = 0.2


@dataclass(frozen=True)
class ModelConfig:
    """A model by name and its parameters."""

    name: str = "softmax"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingConfig:
    """Learning rate (number or schedule table), worker momentum, batch size, modelled compute
    time per gradient (virtual seconds) and evaluation period (rounds)."""

    lr: Any = 0.5
    momentum: float = 0.0
    batch_size: int | None = 32
    compute_time: Any = 0.0
    eval_every: int = 1


@dataclass(frozen=True)
class NetworkConfig:
    """Link policy shared by every link, timed partitions and whether to keep a trace."""

    latency: Any = 0.005
    bandwidth: float | None = None
    loss: float = 0.0
    duplicate: float = 0.0
    jitter: float = 0.0
    fifo: bool = False
    partitions: tuple[Mapping[str, Any], ...] = ()
    trace: bool = False


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (see the module docstring for the schema)."""

    name: str = "default"
    seed: int = 0
    rounds: int = 60
    protocol: str = "ps"
    ps: PsConfig = field(default_factory=PsConfig)
    multi_server: MultiServerConfig = field(default_factory=MultiServerConfig)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    topology: TopologyConfig = field(default_factory=TopologyConfig)
    rule: RuleConfig = field(default_factory=RuleConfig)
    attack: AttackConfig = field(default_factory=AttackConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)

    # -- convenience ---------------------------------------------------------------------------
    @property
    def counts(self) -> dict[str, int]:
        """Node counts of the protocol: total, Byzantine and declared f per role."""
        if self.protocol == "ps":
            p = self.ps
            return {"workers": p.workers, "byzantine_workers": p.byzantine, "f_workers": p.f}
        if self.protocol == "multi_server":
            m = self.multi_server
            return {
                "servers": m.servers,
                "byzantine_servers": m.byzantine_servers,
                "f_servers": m.f_servers,
                "workers": m.workers,
                "byzantine_workers": m.byzantine_workers,
                "f_workers": m.f_workers,
            }
        q = self.p2p
        return {"peers": q.peers, "byzantine_peers": q.byzantine, "f_peers": q.f}

    def replace(self, **changes: Any) -> Scenario:
        """A copy with top-level fields replaced (use :func:`apply_overrides` for dotted keys)."""
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------------- reading
class _Reader:
    """Reads one table of the raw scenario, tracking the keys it consumed."""

    def __init__(self, ctx: _Context, path: str, raw: Any) -> None:
        self.ctx = ctx
        self.path = path
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            ctx.fail(path, f"{path}: must be a table; got {raw!r}")
        self.raw = dict(raw)
        self.used: set[str] = set()

    def key(self, k: str) -> str:
        return f"{self.path}.{k}" if self.path else k

    def has(self, k: str) -> bool:
        return k in self.raw

    def get(self, k: str, default: Any) -> Any:
        self.used.add(k)
        return self.raw.get(k, default)

    def rest(self) -> dict[str, Any]:
        """The keys not consumed yet (they become parameters of a registered object)."""
        out = {k: v for k, v in self.raw.items() if k not in self.used}
        self.used.update(out)
        return out

    def fail(self, k: str, msg: str) -> None:
        self.ctx.fail(self.key(k), f"{self.key(k)}: {msg}")

    def done(self, allowed: tuple[str, ...]) -> None:
        extra = sorted(set(self.raw) - self.used)
        if extra:
            self.fail(
                extra[0], f"unknown key; allowed keys: {', '.join(allowed)}"
            )

    # typed getters ------------------------------------------------------------------------
    def int(self, k: str, default: int, minimum: int | None = 0, maximum: int | None = None) -> int:
        v = self.get(k, default)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                self.fail(k, f"must be an integer; got {v!r}")
        v = int(v)
        if minimum is not None and v < minimum:
            self.fail(k, f"must be >= {minimum}; got {v}")
        if maximum is not None and v > maximum:
            self.fail(k, f"must be <= {maximum}; got {v}")
        return v

    def real(
        self,
        k: str,
        default: float | None,
        minimum: float | None = 0.0,
        maximum: float | None = None,
        strict: bool = False,
        allow_inf: bool = False,
    ) -> float:
        v = self.get(k, default)
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            self.fail(k, f"must be a number; got {v!r}")
        v = float(v)
        if math.isnan(v) or (math.isinf(v) and not allow_inf):
            self.fail(k, f"must be finite; got {v!r}")
        if minimum is not None and (v <= minimum if strict else v < minimum):
            self.fail(k, f"must be {'>' if strict else '>='} {minimum}; got {v!r}")
        if maximum is not None and v > maximum:
            self.fail(k, f"must be <= {maximum}; got {v!r}")
        return v

    def bool(self, k: str, default: bool) -> bool:
        v = self.get(k, default)
        if not isinstance(v, bool):
            self.fail(k, f"must be true or false; got {v!r}")
        return bool(v)

    def str(self, k: str, default: str) -> str:
        v = self.get(k, default)
        if not isinstance(v, str):
            self.fail(k, f"must be a string; got {v!r}")
        return str(v)

    def choice(self, k: str, default: str, choices: tuple[str, ...], what: str) -> str:
        v = self.get(k, default)
        if not isinstance(v, str) or v not in choices:
            self.fail(k, f"unknown {what} {v!r}; known {what}s: {', '.join(choices)}")
        return str(v)

    def table(self, k: str) -> dict[str, Any]:
        v = self.get(k, {})
        if not isinstance(v, Mapping):
            self.fail(k, f"must be a table; got {v!r}")
        return dict(v)


class _Context:
    """Where errors point: the source name and, for files, the text (to find a key's line)."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.text = text

    def line_of(self, dotted: str) -> int | None:
        if not self.text:
            return None
        parts = dotted.split(".")
        lines = self.text.splitlines()
        table: list[str] = []
        for lineno, line in enumerate(lines, 1):
            s = line.strip()
            m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", s)
            if m:
                table = [p.strip().strip('"') for p in m.group(1).split(".")]
                continue
            m = re.match(r"^([A-Za-z0-9_\-\.\"]+)\s*=", s)
            if not m:
                continue
            key = table + [p.strip().strip('"') for p in m.group(1).split(".")]
            n = min(len(key), len(parts))
            if key[:n] == parts[:n] and n >= len(parts) - 1 and n >= 1:
                if key[: len(parts)] == parts or len(key) < len(parts):
                    return lineno
        return None

    def fail(self, dotted: str, msg: str) -> None:
        line = self.line_of(dotted)
        where = self.source if line is None else f"{self.source} line {line}"
        raise ScenarioError(f"{where}: {msg}")


def _check_registered(
    r: _Reader, k: str, name: Any, known: list[str] | tuple[str, ...], what: str, plural: str
) -> str:
    if not isinstance(name, str) or name not in known:
        r.fail(k, f"unknown {what} {name!r}; known {plural}: {', '.join(known)}")
    return str(name)


def _rule(ctx: _Context, raw: Any, path: str = "rule") -> RuleConfig:
    from . import gars
    from .gars._api import normalize_pre

    r = _Reader(ctx, path, raw)
    name = _check_registered(r, "name", r.get("name", "trimmed_mean"), gars.names(), "rule", "rules")
    pre = r.get("pre", [])
    if isinstance(pre, str | Mapping):
        pre = [pre]
    if not isinstance(pre, list | tuple):
        r.fail("pre", f"must be a list of pre-aggregator names or tables; got {pre!r}")
    try:
        normalize_pre([dict(p) if isinstance(p, Mapping) else p for p in pre], name)
    except InvalidArgument as exc:
        r.fail("pre", str(exc))
    params = r.table("params") if r.has("params") else {}
    params.update(r.rest())
    spec = gars.spec(name)
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        r.fail(unknown[0], f"unknown parameter of rule {name!r}; allowed parameters: {allowed}")
    return RuleConfig(name=name, params=_freeze(params), pre=_freeze(list(pre)))


def _attack(ctx: _Context, raw: Any, path: str = "attack") -> AttackConfig:
    from . import attacks

    r = _Reader(ctx, path, raw)
    known = ["none", *attacks.names()]
    name = _check_registered(r, "name", r.get("name", "alie"), known, "attack", "attacks")
    label_flip = r.bool("label_flip", False)
    net = r.get("network", [])
    if isinstance(net, Mapping):
        net = [net]
    if not isinstance(net, list | tuple):
        r.fail("network", f"must be a list of tables (one per behaviour); got {net!r}")
    behaviours = []
    for i, b in enumerate(net):
        key = f"network[{i}]"
        if not isinstance(b, Mapping) or "kind" not in b:
            r.fail(key, f"must be a table with a 'kind' ({', '.join(NETWORK_BEHAVIOURS)}); got {b!r}")
        kind = b["kind"]
        if kind not in NETWORK_BEHAVIOURS:
            r.fail(
                key,
                f"unknown network behaviour {kind!r}; known behaviours: "
                f"{', '.join(NETWORK_BEHAVIOURS)}",
            )
        extra = sorted(set(b) - {"kind", *_BEHAVIOUR_KEYS[kind]})
        if extra:
            r.fail(
                f"{key}.{extra[0]}",
                f"unknown parameter of {kind!r}; allowed parameters: "
                f"{', '.join(_BEHAVIOUR_KEYS[kind])}",
            )
        behaviours.append(dict(b))
    params = r.table("params") if r.has("params") else {}
    params.update(r.rest())
    if name != "none":
        try:
            attacks.make(name, **params)
        except InvalidArgument as exc:
            msg = str(exc)
            bad = re.search(r"unknown parameter '([^']+)'", msg)
            if bad:
                msg += (
                    f" (to change the attack and its parameters together, set the whole table: "
                    f"--set '{r.path}={{name=\"{name}\"}}')"
                )
            r.fail(bad.group(1) if bad else "name", msg)
    elif params:
        r.fail(sorted(params)[0], "attack 'none' takes no parameter")
    # Build the behaviours once, so that their parameters are checked here.
    from ._emulate import build_policies

    try:
        build_policies(behaviours)
    except InvalidArgument as exc:
        r.fail("network", str(exc))
    return AttackConfig(
        name=name, params=_freeze(params), label_flip=label_flip, network=_freeze(behaviours)
    )


def _ps(ctx: _Context, raw: Any) -> PsConfig:
    r = _Reader(ctx, "ps", raw)
    n = r.int("workers", 10, minimum=1)
    b = r.int("byzantine", min(2, n - 1) if n > 1 else 0, maximum=n)
    f = r.int("f", b)
    mode = r.choice("mode", "sync", ("sync", "async"), "mode")
    q = r.int("quorum", max(1, n - f), minimum=1, maximum=n)
    s = r.int("staleness", 4)
    stale = r.choice("stale", "drop", ("drop", "weight"), "staleness policy")
    timeout = r.real("round_timeout", 1.0, minimum=0.0, strict=True)
    r.done(tuple(f.name for f in dataclasses.fields(PsConfig)))
    return PsConfig(n, b, f, mode, q, s, stale, timeout)


def _multi(ctx: _Context, raw: Any) -> MultiServerConfig:
    from . import gars

    r = _Reader(ctx, "multi_server", raw)
    ns = r.int("servers", 4, minimum=1)
    bs = r.int("byzantine_servers", 1 if ns > 1 else 0, maximum=ns)
    fs = r.int("f_servers", bs)
    nw = r.int("workers", 10, minimum=1)
    bw = r.int("byzantine_workers", min(2, nw - 1) if nw > 1 else 0, maximum=nw)
    fw = r.int("f_workers", bw)
    mr = _check_registered(r, "model_rule", r.get("model_rule", "median"), gars.names(), "rule", "rules")
    cr = _check_registered(
        r, "contract_rule", r.get("contract_rule", "median"), gars.names(), "rule", "rules"
    )
    every = r.int("exchange_every", 1, minimum=1)
    eq = r.bool("equivocate", True)
    sa = _attack(ctx, r.get("server_attack", None), "multi_server.server_attack") if r.has(
        "server_attack"
    ) else None
    timeout = r.real("round_timeout", 1.0, minimum=0.0, strict=True)
    r.done(tuple(f.name for f in dataclasses.fields(MultiServerConfig)))
    if bs == ns:
        r.fail("byzantine_servers", f"at least one server must be honest; got {bs} of {ns}")
    if bw == nw:
        r.fail("byzantine_workers", f"at least one worker must be honest; got {bw} of {nw}")
    for key, rule, n, f in (("model_rule", mr, ns, fs), ("contract_rule", cr, ns, fs)):
        spec = gars.spec(rule)
        if not spec.requires(n, f):
            r.fail(key, f"{rule} needs {spec.requirement}; got n=servers={n}, f=f_servers={f}")
    return MultiServerConfig(ns, bs, fs, nw, bw, fw, mr, cr, every, eq, sa, timeout)


def _p2p(ctx: _Context, raw: Any) -> P2PConfig:
    r = _Reader(ctx, "p2p", raw)
    n = r.int("peers", 10, minimum=2)
    b = r.int("byzantine", min(2, n - 2), maximum=n - 1)
    f = r.int("f", b)
    steps = r.int("gossip_steps", 1, minimum=1)
    placement = r.choice("placement", "given" if r.has("byzantine_nodes") else "random",
                         _PLACEMENTS, "placement")
    nodes = r.get("byzantine_nodes", [])
    if not isinstance(nodes, list | tuple) or not all(
        isinstance(x, int) and not isinstance(x, bool) and 0 <= x < n for x in nodes
    ):
        r.fail("byzantine_nodes", f"must be a list of peer indices in [0, {n}); got {nodes!r}")
    if placement == "given":
        if len(set(nodes)) != len(nodes):
            r.fail("byzantine_nodes", f"must not repeat a peer; got {list(nodes)!r}")
        if r.has("byzantine") and len(nodes) != b:
            r.fail(
                "byzantine_nodes",
                f"lists {len(nodes)} peers but byzantine={b}; give one of them or make them agree",
            )
        b = len(nodes)
        if not r.has("f"):
            f = b
    eq = r.bool("equivocate", False)
    timeout = r.real("round_timeout", 1.0, minimum=0.0, strict=True)
    r.done(tuple(f.name for f in dataclasses.fields(P2PConfig)))
    return P2PConfig(n, b, f, steps, placement, tuple(int(x) for x in nodes), eq, timeout)


def _topology(ctx: _Context, raw: Any) -> TopologyConfig:
    r = _Reader(ctx, "topology", raw)
    known = _topology_names()
    name = _check_registered(r, "name", r.get("name", "complete"), known, "topology", "topologies")
    params = r.table("params") if r.has("params") else {}
    params.update(r.rest())
    return TopologyConfig(name=name, params=_freeze(params))


def _topology_names() -> tuple[str, ...]:
    from ._emulate import topology_names

    return topology_names()


def _data(ctx: _Context, raw: Any) -> DataConfig:
    from . import learning

    r = _Reader(ctx, "data", raw)
    name = _check_registered(
        r, "dataset", r.get("dataset", "digits"), learning.datasets(), "dataset", "datasets"
    )
    scheme = r.choice("partition", "iid", learning.partitions(), "partition")
    pp: dict[str, Any] = {}
    for k in ("alpha", "classes_per_worker"):
        if r.has(k):
            pp[k] = r.get(k, None)
    wrong = {"alpha": "dirichlet", "classes_per_worker": "extreme"}
    for k in pp:
        if wrong[k] != scheme:
            r.fail(k, f"only applies to partition = {wrong[k]!r}; got partition = {scheme!r}")
    tf = r.real("test_fraction", 0.2, minimum=0.0, maximum=1.0, strict=True)
    if tf >= 1.0:
        r.fail("test_fraction", f"must be < 1; got {tf}")
    params = r.table("params") if r.has("params") else {}
    params.update(r.rest())
    allowed = learning.dataset_info(name)["params"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        r.fail(
            unknown[0],
            f"unknown parameter of dataset {name!r}; allowed parameters: "
            f"{', '.join(allowed) or '(none)'}",
        )
    return DataConfig(name, _freeze(params), scheme, _freeze(pp), tf)


def _model(ctx: _Context, raw: Any, data: DataConfig) -> ModelConfig:
    from . import learning

    r = _Reader(ctx, "model", raw)
    name = _check_registered(r, "name", r.get("name", "softmax"), learning.models(), "model", "models")
    params = r.table("params") if r.has("params") else {}
    params.update(r.rest())
    info = learning.model_info(name)
    unknown = sorted(set(params) - set(info["params"]))
    if unknown:
        r.fail(
            unknown[0],
            f"unknown parameter of model {name!r}; allowed parameters: {', '.join(info['params'])}",
        )
    if "hidden" in params and isinstance(params["hidden"], list):
        params["hidden"] = tuple(params["hidden"])
    task = learning.dataset_info(data.dataset)["task"]
    if info["task"] != task:
        r.fail(
            "name",
            f"model {name!r} is for {info['task']} but dataset {data.dataset!r} is a {task} task",
        )
    return ModelConfig(name, _freeze(params))


def _training(ctx: _Context, raw: Any) -> TrainingConfig:
    from . import learning
    from .network import _latency

    r = _Reader(ctx, "training", raw)
    lr = r.get("lr", 0.5)
    if isinstance(lr, Mapping):
        lr = dict(lr)
        try:
            learning.make_schedule(**lr) if "name" in lr else r.fail(
                "lr", f"a schedule table needs a 'name' ({', '.join(learning.schedules())})"
            )
        except InvalidArgument as exc:
            r.fail("lr", str(exc))
        except TypeError as exc:
            r.fail("lr", f"invalid schedule table {lr!r} ({exc})")
    elif isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not float(lr) > 0 or not (
        math.isfinite(float(lr))
    ):
        r.fail("lr", f"must be a positive number or a schedule table; got {lr!r}")
    mom = r.real("momentum", 0.0, minimum=0.0)
    if mom >= 1.0:
        r.fail("momentum", f"must be < 1; got {mom}")
    bs = r.get("batch_size", 32)
    if bs is not None and bs != "full":
        bs = r.int("batch_size", 32, minimum=1)
    else:
        bs = None
    ct = r.get("compute_time", 0.0)
    try:
        _latency.as_latency(dict(ct) if isinstance(ct, Mapping) else ct, name="compute_time")
    except InvalidArgument as exc:
        r.fail("compute_time", str(exc))
    every = r.int("eval_every", 1, minimum=1)
    r.done(tuple(f.name for f in dataclasses.fields(TrainingConfig)))
    return TrainingConfig(_freeze(lr), mom, bs, _freeze(ct), every)


def _network(ctx: _Context, raw: Any) -> NetworkConfig:
    from .network import _latency

    r = _Reader(ctx, "network", raw)
    lat = r.get("latency", 0.005)
    try:
        _latency.as_latency(dict(lat) if isinstance(lat, Mapping) else lat, name="latency")
    except InvalidArgument as exc:
        r.fail("latency", str(exc))
    bw = None
    if r.has("bandwidth"):
        bw = r.real("bandwidth", None, minimum=0.0, strict=True, allow_inf=True)
        if math.isinf(bw):
            bw = None
    loss = r.real("loss", 0.0, maximum=1.0)
    dup = r.real("duplicate", 0.0, maximum=1.0)
    jit = r.real("jitter", 0.0)
    fifo = r.bool("fifo", False)
    parts = r.get("partitions", [])
    if isinstance(parts, Mapping):
        parts = [parts]
    if not isinstance(parts, list | tuple):
        r.fail("partitions", f"must be a list of tables; got {parts!r}")
    for i, p in enumerate(parts):
        if not isinstance(p, Mapping) or "groups" not in p:
            r.fail(f"partitions[{i}]", f"must be a table with 'groups' (and start, end); got {p!r}")
        extra = sorted(set(p) - {"groups", "start", "end"})
        if extra:
            r.fail(f"partitions[{i}].{extra[0]}", "unknown key; allowed keys: groups, start, end")
    trace = r.bool("trace", False)
    r.done(tuple(f.name for f in dataclasses.fields(NetworkConfig)))
    return NetworkConfig(
        _freeze(lat), bw, loss, dup, jit, fifo, _freeze([dict(p) for p in parts]), trace
    )


_TOP_KEYS = (
    "name", "seed", "rounds", "protocol", "ps", "multi_server", "p2p", "topology", "rule",
    "attack", "data", "model", "training", "network",
)


def _validate(raw: Mapping[str, Any], ctx: _Context) -> Scenario:
    r = _Reader(ctx, "", raw)
    name = r.str("name", "default")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
        r.fail("name", f"must be 1-64 characters among letters, digits, '_', '-', '.'; got {name!r}")
    seed = r.int("seed", 0)
    rounds = r.int("rounds", 60, minimum=1)
    protocol = r.choice("protocol", "ps", PROTOCOLS, "protocol")
    rule = _rule(ctx, r.get("rule", {}))
    attack = _attack(ctx, r.get("attack", {}))
    ps = _ps(ctx, r.get("ps", {}))
    ms = _multi(ctx, r.get("multi_server", {})) if (
        protocol == "multi_server" or r.has("multi_server")
    ) else MultiServerConfig()
    p2p = _p2p(ctx, r.get("p2p", {}))
    topo = _topology(ctx, r.get("topology", {}))
    data = _data(ctx, r.get("data", {}))
    model = _model(ctx, r.get("model", {}), data)
    training = _training(ctx, r.get("training", {}))
    network = _network(ctx, r.get("network", {}))
    r.done(_TOP_KEYS)
    s = Scenario(
        name, seed, rounds, protocol, ps, ms, p2p, topo, rule, attack, data, model, training,
        network,
    )
    _check_protocol(s, ctx)
    return s


def _check_protocol(s: Scenario, ctx: _Context) -> None:
    """Cross-section checks of the active protocol: the rule's requirement on its inputs."""
    from . import gars

    spec = gars.spec(s.rule.name)
    from .gars._api import check_call, normalize_pre

    pre = normalize_pre(_thaw(s.rule.pre), s.rule.name)

    def check(n: int, f: int, where: str) -> None:
        try:
            check_call(spec, n, f, pre, dict(s.rule.params))
        except InvalidArgument as exc:
            ctx.fail("rule.name", f"rule.name: {exc} ({where})")

    if s.protocol == "ps":
        p = s.ps
        if p.byzantine >= p.workers:
            ctx.fail("ps.byzantine", f"ps.byzantine: at least one worker must be honest; got "
                     f"{p.byzantine} of {p.workers}")
        if p.mode == "sync":
            check(p.workers, p.f, f"ps: n=workers={p.workers}, f={p.f}")
        else:
            if p.quorum < 1 or p.quorum > p.workers:
                ctx.fail("ps.quorum", f"ps.quorum: must be in [1, {p.workers}]; got {p.quorum}")
            check(p.quorum, p.f, f"ps async: n=quorum={p.quorum}, f={p.f}")
    elif s.protocol == "multi_server":
        m = s.multi_server
        check(m.workers, m.f_workers, f"multi_server: n=workers={m.workers}, f=f_workers={m.f_workers}")
    else:
        # Per-peer checks need the graph; they run when the topology is built.
        pass


# ----------------------------------------------------------------------------------- public API
def loads(text: str, *, source: str = "scenario") -> Scenario:
    """Parse TOML ``text`` into a validated :class:`Scenario`.

    Raises
    ------
    ScenarioError
        Invalid TOML (the message gives the line and column) or an invalid value.

    Examples
    --------
    >>> from p2pbyz import scenario
    >>> scenario.loads('rounds = 5\\n[rule]\\nname = "median"').rule.name
    'median'
    >>> scenario.loads('rounds = = 5')
    Traceback (most recent call last):
    ...
    p2pbyz.scenario.ScenarioError: scenario: invalid TOML: Invalid value (at line 1, column 10)
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: invalid TOML: {exc}") from None
    return _validate(raw, _Context(source, text))


def load(source: Any = None, *, overrides: Any = ()) -> Scenario:
    """A validated :class:`Scenario` from a path, a mapping, a Scenario or None (the default).

    Parameters
    ----------
    source : str, os.PathLike, Mapping, Scenario or None
        A TOML file path, a dict shaped like the TOML file, a scenario (returned as is unless
        ``overrides`` are given), or None for :func:`default`.
    overrides : iterable of str or mapping
        ``"key=value"`` strings (dotted keys, TOML values; a bare word is a string) or a mapping
        from dotted keys to values, applied before validation.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        The message names the file, line (when known), key, value and what is allowed.

    Examples
    --------
    >>> from p2pbyz import scenario
    >>> scenario.load(None, overrides=["rule.name=median", "rounds=5"]).rule.name
    'median'
    """
    ctx_text: str | None = None
    if isinstance(source, Scenario):
        if not overrides:
            return source
        raw = to_dict(source)
        name = "scenario"
    elif source is None:
        raw = to_dict(default())
        name = "scenario"
    elif isinstance(source, Mapping):
        raw = copy.deepcopy(_thaw(source))
        name = "scenario"
    elif isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        name = path
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            raise ScenarioError(f"{path}: no such scenario file") from None
        except IsADirectoryError:
            raise ScenarioError(f"{path}: is a directory, not a scenario file") from None
        except OSError as exc:
            raise ScenarioError(f"{path}: cannot read the scenario file ({exc.strerror})") from None
        try:
            ctx_text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ScenarioError(f"{path}: not a UTF-8 text file") from None
        try:
            raw = tomllib.loads(ctx_text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: invalid TOML: {exc}") from None
    else:
        raise ScenarioError(
            f"scenario must be a path, a mapping, a Scenario or None; got {type(source).__name__}"
        )
    raw = apply_overrides(raw, overrides)
    return _validate(raw, _Context(name, ctx_text))


def default() -> Scenario:
    """The built-in scenario of ``p2pbyz run``: a parameter server with 10 workers of which 2 are
    Byzantine and run ALIE with z = 1.5 (the ALIE repository's default; ALIE's own z_max formula
    gives z = 0 at n = 10, f = 2, i.e. no attack), against the coordinate-wise trimmed mean,
    softmax regression on the digits dataset, 60 synchronous rounds (seconds on two cores).

    Examples
    --------
    >>> from p2pbyz import scenario
    >>> s = scenario.default()
    >>> s.protocol, s.ps.workers, s.ps.byzantine, s.attack.name, s.rule.name, s.rounds
    ('ps', 10, 2, 'alie', 'trimmed_mean', 60)
    """
    return _validate(
        {
            "name": "default",
            "seed": 0,
            "rounds": 60,
            "protocol": "ps",
            "ps": {"workers": 10, "byzantine": 2, "f": 2, "mode": "sync"},
            "rule": {"name": "trimmed_mean"},
            "attack": {"name": "alie", "z": 1.5},
            "data": {"dataset": "digits", "partition": "iid"},
            "model": {"name": "softmax"},
            "training": {"lr": 0.5, "momentum": 0.0, "batch_size": 32},
            "network": {"latency": 0.005},
        },
        _Context("default scenario", None),
    )


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``"a.b=value"`` into ``("a.b", value)``; the value is read as TOML, else a string.

    Examples
    --------
    >>> from p2pbyz.scenario import parse_override
    >>> parse_override("rule.name=krum"), parse_override("rounds=5"), parse_override("x=[1, 2]")
    (('rule.name', 'krum'), ('rounds', 5), ('x', [1, 2]))
    """
    if not isinstance(item, str) or "=" not in item:
        raise ScenarioError(f"--set: expected key=value; got {item!r}")
    key, text = item.split("=", 1)
    key = key.strip()
    if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", key):
        raise ScenarioError(f"--set: invalid key {key!r} (dotted names such as rule.name)")
    text = text.strip()
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    return key, value


def apply_overrides(raw: Mapping[str, Any], overrides: Any) -> dict[str, Any]:
    """Return a copy of ``raw`` with dotted-key ``overrides`` set (strings ``"k=v"`` or a mapping).

    Examples
    --------
    >>> from p2pbyz.scenario import apply_overrides
    >>> apply_overrides({"rule": {"name": "krum"}}, ["rule.name=median", "ps.f=1"])
    {'rule': {'name': 'median'}, 'ps': {'f': 1}}
    """
    out = copy.deepcopy(_thaw(raw))
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]
    for key, value in items:
        parts = key.split(".")
        cur = out
        for i, p in enumerate(parts[:-1]):
            nxt = cur.get(p)
            if nxt is None:
                nxt = cur[p] = {}
            elif not isinstance(nxt, dict):
                raise ScenarioError(
                    f"--set {key}: {'.'.join(parts[: i + 1])} is not a table (it holds {nxt!r})"
                )
            cur = nxt
        cur[parts[-1]] = copy.deepcopy(value)
    return out


# ----------------------------------------------------------------------------------- writing
def _section_dict(obj: Any, flatten: tuple[str, ...] = ("params",)) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.name in flatten and isinstance(v, Mapping):
            d.update(_thaw(v))
        elif dataclasses.is_dataclass(v):
            d[f.name] = _section_dict(v)
        elif v is None:
            continue
        else:
            d[f.name] = _thaw(v)
    return d


def to_dict(s: Scenario) -> dict[str, Any]:
    """The scenario as a plain dict in the TOML file's shape (``load(to_dict(s)) == s``).

    Examples
    --------
    >>> from p2pbyz import scenario
    >>> s = scenario.default()
    >>> scenario.load(scenario.to_dict(s)) == s
    True
    """
    out: dict[str, Any] = {
        "name": s.name, "seed": s.seed, "rounds": s.rounds, "protocol": s.protocol,
    }
    out["ps"] = _section_dict(s.ps)
    out["multi_server"] = _section_dict(s.multi_server)
    out["p2p"] = _section_dict(s.p2p)
    out["topology"] = _section_dict(s.topology)
    out["rule"] = _section_dict(s.rule)
    out["attack"] = _section_dict(s.attack)
    data = _section_dict(s.data, flatten=("params", "partition_params"))
    out["data"] = data
    out["model"] = _section_dict(s.model)
    out["training"] = _section_dict(s.training)
    if s.training.batch_size is None:
        out["training"]["batch_size"] = "full"
    out["network"] = _section_dict(s.network)
    return out


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_\-]+", k) else json.dumps(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ScenarioError(f"cannot write {v!r} (type {type(v).__name__}) to TOML")


def to_toml(s: Scenario) -> str:
    """The scenario as TOML text that :func:`loads` reads back to an equal scenario.

    Examples
    --------
    >>> from p2pbyz import scenario
    >>> s = scenario.default()
    >>> scenario.loads(scenario.to_toml(s)) == s
    True
    """
    d = to_dict(s)
    lines = ["# p2pbyz scenario (resolved: every default written out)"]
    for k, v in d.items():
        if not isinstance(v, Mapping):
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in d.items():
        if isinstance(v, Mapping):
            lines.append("")
            lines.append(f"[{_toml_key(k)}]")
            for kk, vv in v.items():
                lines.append(f"{_toml_key(kk)} = {_toml_value(vv)}")
    return "\n".join(lines) + "\n"
