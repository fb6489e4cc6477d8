"""What every protocol shares: the packet format and its validation, the mailbox that gathers a
round's vectors, the Byzantine coalition, the metrics recorder, and the :class:`Role` base class.

Determinism. The runtime resumes the nodes of one router *window* (events less than the lookahead
``L`` apart) in any order, so state shared between nodes must not be read in the window it is
written in. Two objects are shared here, and both respect that:

* the :class:`Coalition` (what the omniscient adversary knows) stamps every observation with its
  virtual time ``t_w`` and lets a reader at time ``t`` see it only when ``t_w + L <= t``
  (``t_w < t`` when ``L = 0``): such an observation was made in an earlier window;
* the :class:`Recorder` stores every report under its node id and reduces them in node order, so
  the order in which reports arrive never changes a number.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..errors import ByzantineAssumptionError, InvalidArgument

__all__ = [
    "Packet",
    "packet_validator",
    "Setup",
    "Mailbox",
    "Coalition",
    "Recorder",
    "Role",
    "ByzantineMixin",
    "GROUPS",
]

#: Node groups the metrics are reported for.
GROUPS = ("server", "honest", "byzantine")


class Packet(NamedTuple):
    """What protocol nodes send: a kind (``"model"``, ``"grad"``, ``"sync"``, ``"gossip"``), an
    integer round key, and a float64 vector of the model's dimension."""

    kind: str
    round: int
    vector: np.ndarray


def packet_validator(
    d: int, kinds: Sequence[str], dtype: Any = np.float64
) -> Callable[[Any], bool]:
    """A payload validator for :class:`~p2pbyz.network.Network`: a :class:`Packet` (or 3-tuple)
    whose kind is in ``kinds``, whose round is an int ``>= 0`` and whose vector is a finite
    ``(d,)`` array of ``dtype``. Anything else is malformed (dropped and counted by the runtime).

    Examples
    --------
    >>> import numpy as np
    >>> ok = packet_validator(3, ("grad",))
    >>> ok(Packet("grad", 0, np.zeros(3))), ok(Packet("grad", 0, np.full(3, np.nan)))
    (True, False)
    >>> ok(("model", 0, np.zeros(3))), ok("malformed"), ok(Packet("grad", -1, np.zeros(3)))
    (False, False, False)
    """
    kinds_set = frozenset(kinds)
    want = np.dtype(dtype)
    shape = (int(d),)

    def validate(payload: Any) -> bool:
        if not isinstance(payload, tuple) or len(payload) != 3:
            return False
        kind, rnd, vec = payload
        if not isinstance(kind, str) or kind not in kinds_set:
            return False
        if isinstance(rnd, bool) or not isinstance(rnd, int | np.integer) or rnd < 0:
            return False
        if not isinstance(vec, np.ndarray) or vec.shape != shape or vec.dtype != want:
            return False
        return bool(np.isfinite(vec).all())

    return validate


@dataclass
class Setup:
    """Everything the roles of one emulation share (built by :func:`p2pbyz.emulate`).

    Attributes
    ----------
    scenario : Scenario
    model : p2pbyz.learning.Model
    data : p2pbyz.learning.Dataset
    schedule : callable
        Learning rate ``lr(t)``.
    rule, rule_params, rule_pre :
        The aggregation rule of the scenario (name, parameters, pre-aggregators).
    recorder : Recorder
    index : mapping
        Node id -> position (the canonical order in which vectors are stacked).
    byzantine : frozenset
        Ids of the Byzantine nodes (ground truth: the recorder and the coalition use it, the
        honest roles never do).
    compute_time : p2pbyz.network.Latency
        Virtual seconds one gradient takes.
    w0 : numpy.ndarray
        The common initial model.
    lookahead : float
        The network's lookahead (set once the network is built).
    seed : numpy.random.SeedSequence
        Root of the protocol-level streams (coalitions).
    """

    scenario: Any
    model: Any
    data: Any
    schedule: Callable[[int], float]
    rule: str
    rule_params: Mapping[str, Any]
    rule_pre: Any
    recorder: Recorder
    index: Mapping[Hashable, int]
    byzantine: frozenset[Hashable]
    compute_time: Any
    w0: np.ndarray
    seed: np.random.SeedSequence
    lookahead: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def d(self) -> int:
        """The model's dimension."""
        return int(self.model.dim)


class Mailbox:
    """Gathers the vectors of one (kind, round) from expected senders, buffering early ones.

    Each sender contributes at most one vector per (kind, round) (the first one; later copies are
    counted as duplicates), so a flooding node cannot fill a quorum by itself. Vectors for rounds
    already closed are counted as late; vectors more than ``window`` rounds ahead are dropped.
    """

    def __init__(self, role: Role, window: int = 8) -> None:
        self.role = role
        self.window = window
        self.pending: dict[tuple[str, int], dict[Hashable, np.ndarray]] = {}

    def _file(self, kind: str, rnd: int, src: Hashable, vec: np.ndarray, current: int) -> None:
        if rnd > current + self.window:
            self.role.count("too_early")
            return
        box = self.pending.setdefault((kind, rnd), {})
        if src in box:
            self.role.count("duplicates")
        else:
            box[src] = vec

    async def collect(
        self,
        ctx: Any,
        kind: str,
        rnd: int,
        expected: Sequence[Hashable],
        deadline: float,
        *,
        enough: int | None = None,
    ) -> dict[Hashable, np.ndarray]:
        """Wait until every sender of ``expected`` sent its ``(kind, rnd)`` vector (or ``enough``
        of them did), or until virtual time ``deadline``; return ``{src: vector}``.

        When links deliver in order (``setup.extra["ordered_links"]``: constant latency and no
        jitter, or FIFO links), a sender that already sent a *later* round of ``kind`` while its
        ``rnd`` vector is missing has moved on (that vector was lost or omitted): it is not
        waited for."""
        expected_set = frozenset(expected)
        need = len(expected_set) if enough is None else min(enough, len(expected_set))
        got = {
            s: v for s, v in self.pending.pop((kind, rnd), {}).items() if s in expected_set
        }
        # Drop what can never be used again.
        for key in [k for k in self.pending if k[0] == kind and k[1] < rnd]:
            self.role.count("late", len(self.pending.pop(key)))
        # Only sound when each link delivers in order (constant latency and no jitter, or FIFO).
        ordered = bool(self.role.setup.extra.get("ordered_links", False))
        moved_on = {
            s for (k, r), box in self.pending.items() if k == kind and r > rnd for s in box
        } & expected_set if ordered else set()
        while len(got) < need and len(got) + len(moved_on - got.keys()) < len(expected_set):
            remaining = deadline - ctx.now()
            if remaining < 0:
                break
            msg = await ctx.recv(timeout=remaining)
            if msg is None:
                break
            pkt = self.role.accept(msg)
            if pkt is None:
                continue
            if msg.src not in self.role.senders:
                self.role.count("unexpected_sender")
                continue
            if pkt.kind == kind and pkt.round == rnd:
                if msg.src not in expected_set:
                    self.role.count("unexpected_sender")
                elif msg.src in got:
                    self.role.count("duplicates")
                else:
                    got[msg.src] = pkt.vector
            elif pkt.round < rnd and pkt.kind == kind:
                self.role.count("late")
            else:
                self._file(pkt.kind, pkt.round, msg.src, pkt.vector, rnd)
                if ordered and pkt.kind == kind and msg.src in expected_set:
                    moved_on.add(msg.src)
        return got


class Coalition:
    """The Byzantine nodes of one role acting together, and what they know.

    Honest nodes' outgoing vectors are *observed* (the omniscient adversary eavesdrops), the
    Byzantine nodes' own honest vectors too (the estimating adversary uses only those); a
    Byzantine node then asks :meth:`vectors` for its row of the round's attack. Observations are
    visible one lookahead after they were made (see the module docstring), so the answer never
    depends on the order in which the runtime resumed the nodes.

    Parameters
    ----------
    attack : callable or None
        A :mod:`p2pbyz.attacks` attack instance (None: send the honest vector).
    members : sequence of hashable
        The Byzantine nodes, in canonical order (row j of the attack goes to member j).
    honest : sequence of hashable
        The honest nodes whose vectors are observed.
    rule, params, pre, f, n : the defence the attack targets (the declared f and the number of
        inputs of the rule).
    seed : numpy.random.SeedSequence
    setup : Setup
    """

    def __init__(
        self,
        attack: Any,
        members: Sequence[Hashable],
        honest: Sequence[Hashable],
        *,
        rule: str,
        params: Mapping[str, Any],
        pre: Any,
        f: int,
        n: int,
        seed: np.random.SeedSequence,
        setup: Setup,
        name: str = "coalition",
    ) -> None:
        self.attack = attack
        self.members = tuple(members)
        self.rank = {m: i for i, m in enumerate(self.members)}
        self.honest = tuple(honest)
        self.rule = rule
        self.params = dict(params)
        self.pre = pre
        self.f = int(f)
        self.n = int(n)
        self.seed = seed
        self.setup = setup
        self.name = name
        knowledge = getattr(attack, "knowledge", "omniscient")
        self.knowledge = knowledge
        self.collude = bool(getattr(attack, "collude", True))
        # key -> node -> (t_w, vector)
        self._honest: dict[Any, dict[Hashable, tuple[float, np.ndarray]]] = {}
        self._own: dict[Any, dict[Hashable, tuple[float, np.ndarray]]] = {}
        self._cache: dict[Any, np.ndarray | None] = {}
        self.fallbacks = 0
        self.calls = 0

    def __repr__(self) -> str:
        return (
            f"<Coalition {self.name} attack={self.attack!r} members={len(self.members)} "
            f"honest={len(self.honest)} knowledge={self.knowledge}>"
        )

    @property
    def needs_honest(self) -> bool:
        """Whether honest observations are used (omniscient knowledge)."""
        return self.attack is not None and self.knowledge == "omniscient"

    def observe(self, node: Hashable, key: Any, vector: np.ndarray, t: float) -> None:
        """Record honest node ``node``'s vector for ``key`` at virtual time ``t``."""
        if self.needs_honest:
            self._honest.setdefault(key, {})[node] = (t, vector)

    def observe_own(self, node: Hashable, key: Any, vector: np.ndarray, t: float) -> None:
        """Record Byzantine node ``node``'s own honest vector for ``key`` at time ``t``."""
        self._own.setdefault(key, {})[node] = (t, vector)

    def _visible(self, t_w: float, t: float) -> bool:
        L = self.setup.lookahead
        return t_w + L <= t if L > 0 else t_w < t

    def view(
        self, key: Any, t: float, among: Sequence[Hashable] | None = None
    ) -> tuple[tuple[Hashable, ...], bool]:
        """The nodes whose ``key`` vector is visible at time ``t`` and whether that is all of them
        (honest nodes, or among ``among``; Byzantine members for estimating knowledge)."""
        if self.knowledge == "omniscient":
            pool = self._honest.get(key, {})
            want = self.honest if among is None else tuple(among)
        else:
            pool = self._own.get(key, {})
            want = self.members
        seen = tuple(v for v in want if v in pool and self._visible(pool[v][0], t))
        return seen, len(seen) == len(want)

    def vectors(
        self, key: Any, rnd: int, seen: tuple[Hashable, ...], recipient: int = 0
    ) -> np.ndarray | None:
        """The attack's ``(len(members), d)`` vectors for ``key`` computed from the vectors of
        ``seen`` (cached on ``(key, seen, recipient)``), or None if the attack cannot be computed
        from them (the members then send their honest vectors)."""
        ck = (key, seen, recipient)
        if ck in self._cache:
            return self._cache[ck]
        pool = self._honest if self.knowledge == "omniscient" else self._own
        rows = [pool[key][v][1] for v in seen]
        out: np.ndarray | None = None
        if rows:
            H = np.stack(rows)
            b = len(self.members)
            if self.knowledge == "omniscient":
                n = H.shape[0] + b
                f_call = b
            else:
                n = max(self.n, H.shape[0])
                f_call = H.shape[0] if not self.collude else b
            seed_key = (zlib.crc32(repr(key).encode()), int(recipient))
            rng = np.random.default_rng(
                np.random.SeedSequence(self.seed.entropy, spawn_key=(*self.seed.spawn_key, *seed_key))
            )
            from ..attacks import GarContext

            gar = GarContext(self.rule, self.params, f=min(self.f, n), pre=self.pre, n=n)
            self.calls += 1
            try:
                out = np.asarray(self.attack(H, f_call, rng=rng, round=int(rnd), gar=gar))
            except (InvalidArgument, ByzantineAssumptionError):
                out = None
            if out is not None and out.shape[0] != b:
                if out.shape[0] == 0:
                    out = None
                else:  # fewer rows (non-colluding, some members missing): map by position
                    full = np.empty((b, out.shape[1]), dtype=out.dtype)
                    pos = {m: i for i, m in enumerate(seen)} if self.knowledge != "omniscient" else {}
                    for j, m in enumerate(self.members):
                        full[j] = out[pos.get(m, j % out.shape[0])]
                    out = full
        if out is None:
            self.fallbacks += 1
        self._cache[ck] = out
        if len(self._cache) > 4096:  # keep memory bounded on long runs
            for k in list(self._cache)[:2048]:
                del self._cache[k]
        return out

    def forget(self, before: int) -> None:
        """Drop observations of keys whose round is older than ``before`` (memory)."""
        for store in (self._honest, self._own):
            for k in [k for k in store if _round_of(k) < before]:
                del store[k]
        for k in [k for k in self._cache if _round_of(k[0]) < before]:
            del self._cache[k]


def _round_of(key: Any) -> int:
    if isinstance(key, tuple):
        return int(key[-1])
    return int(key)


class Recorder:
    """Collects per-round, per-node metrics and reduces them per group in node order.

    Roles report models (:meth:`model`, evaluated on the held-out split at evaluation rounds),
    aggregations (:meth:`aggregation`: the Byzantine influence) and scalars (:meth:`scalar`). A
    round's models are reduced (mean accuracy and loss, disagreement) as soon as every honest node
    of the group reported it, so memory holds a handful of models, not the whole run.

    Parameters
    ----------
    model : p2pbyz.learning.Model
    data : p2pbyz.learning.Dataset
    rounds : int
    eval_every : int
    byzantine : frozenset
        Byzantine node ids (ground truth).
    expected : mapping
        Group -> number of honest nodes reporting models in that group.
    progress : callable, optional
        ``progress(round)`` is called when a round's models are all in.
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        rounds: int,
        eval_every: int,
        byzantine: frozenset[Hashable],
        expected: Mapping[str, int],
        index: Mapping[Hashable, int],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.net_model = model
        self.data = data
        self.rounds = int(rounds)
        self.eval_every = int(eval_every)
        self.byzantine = byzantine
        self.expected = dict(expected)
        self.index = index
        self.progress = progress
        self.compute_s = 0.0
        # (round, group) -> node -> {name: value}
        self.scalars: dict[tuple[int, str], dict[Hashable, dict[str, float]]] = {}
        self._models: dict[tuple[int, str], dict[Hashable, np.ndarray]] = {}
        self.disagreement: dict[tuple[int, str], float] = {}
        self.final: dict[Hashable, np.ndarray] = {}
        self._done_rounds: set[int] = set()
        self._progress_group = next(iter(self.expected), None)

    def is_eval_round(self, t: int) -> bool:
        """Rounds 0, every ``eval_every``-th, and the last are evaluated."""
        return t == 0 or t == self.rounds or t % self.eval_every == 0

    def _row(self, node: Hashable, group: str, t: int) -> dict[str, float]:
        return self.scalars.setdefault((t, group), {}).setdefault(node, {})

    def scalar(self, node: Hashable, group: str, t: int, **values: float) -> None:
        """Record scalars of ``node`` (in ``group``) at round ``t``."""
        self._row(node, group, t).update({k: float(v) for k, v in values.items()})

    def model(self, node: Hashable, group: str, t: int, w: np.ndarray) -> None:
        """Report ``node``'s model after round ``t`` (``t = 0``: the initial model)."""
        if t >= self.rounds:
            self.final[node] = np.array(w, copy=True)
        if not self.is_eval_round(t):
            return
        c0 = time.perf_counter()
        ev = self.net_model.evaluate(w, self.data.X_test, self.data.y_test)
        self.scalar(node, group, t, accuracy=ev.accuracy, loss=ev.loss)
        if group != "byzantine" and self.expected.get(group, 0) > 1:
            box = self._models.setdefault((t, group), {})
            box[node] = np.array(w, dtype=np.float64, copy=True)
            if len(box) >= self.expected[group]:
                self._reduce_models(t, group)
        self.compute_s += time.perf_counter() - c0
        if (
            self.progress is not None
            and group == self._progress_group
            and len(self.scalars.get((t, group), {})) >= self.expected.get(group, 1)
            and t not in self._done_rounds
        ):
            self._done_rounds.add(t)
            self.progress(t)

    def _reduce_models(self, t: int, group: str) -> None:
        box = self._models.pop((t, group), {})
        if len(box) < 2:
            return
        nodes = sorted(box, key=lambda v: self.index[v])
        W = np.stack([box[v] for v in nodes])
        mean = W.mean(axis=0)
        dev = W - mean
        self.disagreement[(t, group)] = float(math.sqrt(float(np.mean(np.einsum("ij,ij->i", dev, dev)))))

    def aggregation(
        self,
        node: Hashable,
        group: str,
        t: int,
        srcs: Sequence[Hashable],
        X: np.ndarray,
        out: np.ndarray,
    ) -> None:
        r"""Record how far ``node``'s aggregate moved from the mean of its honest inputs:

        .. math:: \text{influence} = \frac{\lVert F(X) - \bar x_H \rVert}{\lVert \bar x_H \rVert}

        where :math:`\bar x_H` is the mean of the rows that came from honest nodes (ground truth),
        and the number of Byzantine rows among the inputs.
        """
        c0 = time.perf_counter()
        honest = [i for i, s in enumerate(srcs) if s not in self.byzantine]
        nb = len(srcs) - len(honest)
        if honest:
            mu = X[honest].mean(axis=0)
            den = float(np.linalg.norm(mu))
            num = float(np.linalg.norm(out - mu))
            infl = num / den if den > 0 else (0.0 if num == 0 else math.inf)
        else:
            infl = math.nan
        self.scalar(node, group, t, influence=infl, byzantine_inputs=nb, inputs=len(srcs))
        self.compute_s += time.perf_counter() - c0

    def finish(self) -> None:
        """Reduce whatever is still pending (nodes that never reported a round)."""
        for key in sorted(self._models, key=lambda k: (k[0], k[1])):
            t, g = key
            self._reduce_models(t, g)

    def table(self) -> dict[str, dict[str, np.ndarray]]:
        """Per group, per metric: an array over rounds ``0..rounds`` (NaN where not recorded).
        Node values are averaged in node order; ``accuracy_min``/``accuracy_max`` give the spread,
        ``disagreement`` the RMS distance of the group's models to their mean."""
        R = self.rounds + 1
        out: dict[str, dict[str, np.ndarray]] = {}
        for (t, g), nodes in sorted(self.scalars.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if t > self.rounds:
                continue
            cols = out.setdefault(g, {})
            order = sorted(nodes, key=lambda v: self.index[v])
            names = sorted({k for v in order for k in nodes[v]})
            for name in names:
                vals = np.array([nodes[v].get(name, math.nan) for v in order], dtype=np.float64)
                fin = vals[~np.isnan(vals)]
                for col, val in _reductions(name, fin):
                    arr = cols.get(col)
                    if arr is None:
                        arr = cols[col] = np.full(R, np.nan)
                    arr[t] = val
        for (t, g), val in self.disagreement.items():
            if t > self.rounds:
                continue
            cols = out.setdefault(g, {})
            arr = cols.get("disagreement")
            if arr is None:
                arr = cols["disagreement"] = np.full(R, np.nan)
            arr[t] = val
        return out


def _reductions(name: str, vals: np.ndarray) -> list[tuple[str, float]]:
    if vals.size == 0:
        return [(name, math.nan)]
    mean = float(vals.mean()) if np.isfinite(vals).all() else float(np.mean(vals))
    if name == "accuracy":
        return [(name, mean), ("accuracy_min", float(vals.min())), ("accuracy_max", float(vals.max()))]
    if name in ("byzantine_inputs", "inputs"):
        return [(name, mean)]
    return [(name, mean)]


class Role:
    """Base class of node behaviours: one instance per node, its :meth:`run` is the behaviour.

    Subclass a role and override its hooks to script a custom honest or Byzantine behaviour; pass
    the class to :func:`p2pbyz.emulate` (``roles={"worker": MyWorker}``).

    Attributes
    ----------
    id : hashable
        The node id.
    setup : Setup
    group : str
        ``"server"``, ``"honest"`` or ``"byzantine"`` (for the metrics).
    senders : frozenset
        Nodes this role accepts vectors from.
    counters : dict
        Protocol counters (``malformed``, ``late``, ``duplicates``, ``stale_dropped``,
        ``aggregation_failures``, ...), summed over nodes in the result's statistics.
    """

    group: ClassVar[str] = "honest"
    #: Packet kinds this role accepts.
    kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, node_id: Hashable, setup: Setup) -> None:
        self.id = node_id
        self.setup = setup
        self.counters: dict[str, int] = {}
        self.senders: frozenset[Hashable] = frozenset()
        self.compute_s = 0.0
        self.d = setup.d
        self.mailbox = Mailbox(self)
        #: Virtual time at which :meth:`run` returned (None while it has not).
        self.finished_at: float | None = None
        self._previous: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id!r} group={self.group}>"

    # -- hooks -------------------------------------------------------------------------------
    async def run(self, ctx: Any) -> Any:  # pragma: no cover - abstract
        """The node's behaviour (``async def run(self, ctx)``, ctx a NodeContext)."""
        raise TypeError(f"{type(self).__name__} must define run(ctx)")

    def validator(self) -> Callable[[Any], bool]:
        """The payload validator given to the runtime for this node."""
        return packet_validator(self.d, self.kinds)

    # -- helpers -----------------------------------------------------------------------------
    def count(self, name: str, k: int = 1) -> None:
        """Add ``k`` to the counter ``name``."""
        self.counters[name] = self.counters.get(name, 0) + int(k)

    #: Whether the runtime validates this role's incoming payloads with :meth:`validator`
    #: (then :meth:`accept` does not scan vectors for NaN a second time).
    trust_validator: ClassVar[bool] = True

    def accept(self, msg: Any) -> Packet | None:
        """Check a delivered message defensively (the runtime's validator already did); return
        its packet, or None (counted as ``malformed``) for anything unexpected. Never raises."""
        try:
            p = msg.payload
            if (
                isinstance(p, tuple)
                and len(p) == 3
                and isinstance(p[0], str)
                and p[0] in self.kinds
                and isinstance(p[1], int | np.integer)
                and not isinstance(p[1], bool)
                and p[1] >= 0
                and isinstance(p[2], np.ndarray)
                and p[2].shape == (self.d,)
                and p[2].dtype == np.float64
                and (
                    self.trust_validator or bool(np.isfinite(p[2]).all())
                )
            ):
                return Packet(p[0], int(p[1]), p[2])
        except Exception:  # noqa: BLE001 - a malformed message must never crash an honest node
            pass
        self.count("malformed")
        return None

    def stack(self, got: Mapping[Hashable, np.ndarray]) -> tuple[list[Hashable], np.ndarray]:
        """The received vectors stacked in canonical node order (never trio's order)."""
        idx = self.setup.index
        srcs = sorted(got, key=lambda s: idx[s])
        if not srcs:
            return [], np.empty((0, self.d))
        return srcs, np.stack([got[s] for s in srcs])

    def aggregate(
        self,
        X: np.ndarray,
        f: int,
        rule: str | None = None,
        params: Mapping[str, Any] | None = None,
        pre: Any = None,
        t: int | None = None,
    ) -> np.ndarray | None:
        """Aggregate the rows of ``X`` with the scenario's rule (or ``rule``) tolerating ``f``;
        None (counted as ``aggregation_failures``) when the rule cannot run on these inputs
        (too few vectors for its requirement).

        Round-dependent rules get what they need unless the scenario fixes it: ``t`` (the
        1-based round, e.g. 1-p Krum's p_t = 1/sqrt(t)), ``seed`` (derived from the run's seed,
        the node and the round) and ``v0`` (this node's previous aggregate, the centre of
        centered clipping).
        """
        from .. import gars

        if X.shape[0] == 0:
            self.count("aggregation_failures")
            return None
        rule = self.setup.rule if rule is None else rule
        if params is None:
            params = self.setup.rule_params if rule == self.setup.rule else {}
        if pre is None:
            pre = self.setup.rule_pre if rule == self.setup.rule else ()
        accepted = gars.spec(rule).params
        extra: dict[str, Any] = {}
        if "t" in accepted and "t" not in params and t is not None:
            extra["t"] = int(t) + 1
        if "seed" in accepted and "seed" not in params:
            ss = self.setup.seed
            extra["seed"] = zlib.crc32(
                repr((ss.entropy, self.setup.index[self.id], -1 if t is None else int(t))).encode()
            )
        if "v0" in accepted and "v0" not in params:
            prev = self._previous.get(rule)
            if prev is not None and prev.shape == (X.shape[1],):
                extra["v0"] = prev.astype(X.dtype)
        if extra:
            params = {**params, **extra}
        f = max(0, int(f))
        c0 = time.perf_counter()
        try:
            out = gars.aggregate(rule, X, f, pre=pre, **params)
        except (InvalidArgument, ByzantineAssumptionError):
            # Too few inputs for the rule with this f: no trustworthy aggregate this time.
            out = None
            self.count("aggregation_failures")
        finally:
            self.compute_s += time.perf_counter() - c0
        if out is None:
            return None
        out = np.asarray(out, dtype=np.float64)
        self._previous[rule] = out
        return out

    def effective_f(self, f: int, missing: int) -> int:
        """The f to aggregate with when ``missing`` expected vectors did not arrive in time.

        On reliable links (no loss, no partition) a synchronous round loses no honest vector, so
        a missing one is a Byzantine omission and counts against f: ``f - missing``. On lossy
        links an honest vector may be the missing one, so f stays as declared.
        """
        if missing <= 0 or self.setup.extra.get("lossy", False):
            return int(f)
        return max(0, int(f) - int(missing))

    def timed(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn(*args)`` and add its wall time to :attr:`compute_s`."""
        c0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.compute_s += time.perf_counter() - c0

    async def compute_delay(self, ctx: Any) -> None:
        """Let the modelled compute time of one gradient pass (virtual time)."""
        ct = self.setup.compute_time
        if ct is None:
            return
        v = float(ct.sample(ctx.rng, 1)[0]) if not _is_zero(ct) else 0.0
        if v > 0:
            await ctx.sleep(v)


def _is_zero(lat: Any) -> bool:
    from ..network import Constant

    return isinstance(lat, Constant) and float(lat.value) == 0.0


class ByzantineMixin:
    """What turns an honest role into a Byzantine one: its outgoing vectors come from the
    coalition's attack instead of its honest computation (which it still runs: the estimating
    adversary uses it, and the attack ``"none"`` sends it). Network behaviours (crash, omission,
    delay, flooding, malformed payloads, ...) are runtime policies given to the node."""

    group: ClassVar[str] = "byzantine"
    coalition: Coalition | None = None

    async def attack_vector(
        self: Any,
        ctx: Any,
        key: Any,
        rnd: int,
        own: np.ndarray,
        deadline: float,
        *,
        among: Sequence[Hashable] | None = None,
        recipient: int = 0,
    ) -> np.ndarray | None:
        """The vector this Byzantine node sends for ``key``: the coalition's attack row once the
        vectors it needs are visible (or at ``deadline`` with what is visible then); ``own`` for
        the attack ``"none"`` or when the attack cannot be computed; None for an omission attack.
        """
        co = self.coalition
        if co is None or co.attack is None:
            return own
        if getattr(co.attack, "name", "") == "drop" or getattr(
            getattr(co.attack, "spec", None), "omission", False
        ):
            self.count("omitted")
            return None
        co.observe_own(self.id, key, own, ctx.now())
        from .. import config

        L = self.setup.lookahead
        step = L if L > 0 else float(config.EMULATION_ATTACK_POLL)
        # Look again after L, 2L, 4L, ... (capped): few wake-ups even when the honest nodes are
        # slow, and the attack leaves at most one step after the last vector became visible.
        cap = max(step, (deadline - ctx.now()) / 8)
        while True:
            seen, complete = co.view(key, ctx.now(), among)
            if complete or ctx.now() >= deadline:
                break
            await ctx.sleep(min(step, max(0.0, deadline - ctx.now())))
            step = min(2 * step, cap)
        c0 = time.perf_counter()
        V = co.vectors(key, rnd, seen, recipient)
        self.compute_s += time.perf_counter() - c0
        if V is None:
            self.count("attack_fallbacks")
            return own
        row = np.asarray(V[co.rank[self.id]])
        with np.errstate(over="ignore", invalid="ignore"):
            return row.astype(np.float64)
