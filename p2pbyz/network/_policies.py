"""Link policies, timed partitions, and Byzantine network behaviours of nodes.

Link behaviour (latency, bandwidth, loss, duplication, jitter) is a :class:`LinkPolicy`, built from
networkx edge attributes or given by a scenario. Byzantine *network* behaviour is a tuple of
:class:`NodePolicy` objects handed to :meth:`Network.add_node`: each rewrites the node's outgoing
messages (drop, delay, change, multiply them, or try to claim another identity) with the node's
own seeded policy stream. Byzantine *gradient* attacks live elsewhere: these policies only see
payloads as opaque objects (or use a user function).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .._validation import check_int, check_real
from ..errors import InvalidArgument
from ._latency import Constant, Latency, as_latency

__all__ = [
    "LinkPolicy",
    "Partition",
    "Outgoing",
    "NodePolicy",
    "Crash",
    "Omission",
    "Delay",
    "Equivocate",
    "Flood",
    "Malform",
    "Impersonate",
    "malformed_payload",
]

_EDGE_KEYS = ("latency", "bandwidth", "loss", "duplicate", "jitter", "fifo")


def _prob(value: Any, name: str, owner: str) -> float:
    return check_real(value, name, minimum=0.0, maximum=1.0, owner=owner)


@dataclass(frozen=True)
class LinkPolicy:
    r"""How one directed link delays, loses, duplicates and reorders messages.

    A message of ``s`` bytes sent at time :math:`t` over a link of bandwidth :math:`B` starts
    transmitting when the link is free, :math:`t_0 = \max(t, \text{busy\_until})`, occupies it for
    :math:`s/B`, and is delivered at

    .. math:: t_\text{deliver} = t_0 + s/B + \ell + j, \qquad \ell \sim \text{latency},\;
              j \sim U(0, \text{jitter})

    (and never before the previous message of the link when ``fifo``). It is lost with probability
    ``loss``; a surviving message is duplicated with probability ``duplicate`` (the copy draws its
    own latency and jitter).

    Parameters
    ----------
    latency : Latency, float or dict
        Propagation delay distribution (see :func:`as_latency`); default 0.
    bandwidth : float or None
        Bytes per second; ``None`` (default) means infinite (no transmission delay).
    loss : float
        Probability in [0, 1] that a message is lost.
    duplicate : float
        Probability in [0, 1] that a delivered message is delivered twice.
    jitter : float
        Maximum extra uniform delay (seconds), which reorders messages of the link.
    fifo : bool
        Deliver the messages of the link in the order they were sent (like TCP).

    Examples
    --------
    >>> LinkPolicy(latency=0.01, loss=0.1).min_delay
    0.01
    >>> LinkPolicy.from_attrs({"latency": {"dist": "uniform", "low": 0.1, "high": 0.2}}).min_delay
    0.1
    """

    latency: Latency = field(default_factory=lambda: Constant(0.0))
    bandwidth: float | None = None
    loss: float = 0.0
    duplicate: float = 0.0
    jitter: float = 0.0
    fifo: bool = False

    def __post_init__(self) -> None:
        owner = "LinkPolicy"
        object.__setattr__(self, "latency", as_latency(self.latency, name="latency"))
        if self.bandwidth is not None:
            check_real(self.bandwidth, "bandwidth", minimum=0.0, strict_min=True, owner=owner)
            object.__setattr__(self, "bandwidth", float(self.bandwidth))
        object.__setattr__(self, "loss", _prob(self.loss, "loss", owner))
        object.__setattr__(self, "duplicate", _prob(self.duplicate, "duplicate", owner))
        object.__setattr__(
            self, "jitter", check_real(self.jitter, "jitter", minimum=0.0, owner=owner)
        )
        if not isinstance(self.fifo, bool):
            raise InvalidArgument(f"{owner}: fifo must be a bool; got fifo={self.fifo!r}")

    @property
    def min_delay(self) -> float:
        """Lower bound of the delay of any message on this link (the latency's minimum)."""
        return self.latency.minimum

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], default: LinkPolicy | None = None) -> LinkPolicy:
        """Build a policy from networkx edge attributes, falling back to ``default`` per field.

        Recognised keys: ``latency``, ``bandwidth``, ``loss``, ``duplicate``, ``jitter``, ``fifo``;
        other attributes (``weight``, ...) are ignored. An attribute ``link`` holding a
        :class:`LinkPolicy` replaces the whole policy.
        """
        base = default if default is not None else cls()
        link = attrs.get("link")
        if isinstance(link, LinkPolicy):
            return link
        if not any(k in attrs for k in _EDGE_KEYS):
            return base
        kw = {k: attrs.get(k, getattr(base, k)) for k in _EDGE_KEYS}
        return cls(**kw)


@dataclass(frozen=True)
class Partition:
    """A timed network partition: nodes in different groups cannot talk during ``[start, end)``.

    A message between two separated nodes is lost when its flight ``[sent_at, deliver_at]``
    intersects the partition interval: nothing ever crosses a partition, not even a message in
    flight when it starts. Nodes listed in no group form one implicit extra group.

    Parameters
    ----------
    groups : iterable of iterables of node ids
        Disjoint groups.
    start, end : float
        The interval of virtual time; ``end=inf`` never heals.

    Examples
    --------
    >>> p = Partition([[0, 1], [2, 3]], start=1.0, end=2.0)
    >>> p.separates(0, 2), p.separates(0, 1), p.separates(0, 4)
    (True, False, True)
    """

    groups: tuple[frozenset[Hashable], ...]
    start: float = 0.0
    end: float = math.inf

    def __post_init__(self) -> None:
        groups = tuple(frozenset(g) for g in self.groups)
        seen: set[Hashable] = set()
        for g in groups:
            dup = seen & g
            if dup:
                raise InvalidArgument(
                    f"Partition: groups must be disjoint; node {sorted(dup, key=repr)[0]!r} "
                    f"is in two groups"
                )
            seen |= g
        object.__setattr__(self, "groups", groups)
        start = check_real(self.start, "start", minimum=0.0, owner="Partition")
        end = float(self.end)
        if not end > start:
            raise InvalidArgument(f"Partition: end must be > start; got start={start}, end={end}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "_index", {n: i for i, g in enumerate(groups) for n in g})

    def group_of(self, node: Hashable) -> int:
        """Index of ``node``'s group (``len(groups)`` for the implicit rest group)."""
        return self._index.get(node, len(self.groups))  # type: ignore[attr-defined]

    def separates(self, u: Hashable, v: Hashable) -> bool:
        """Whether ``u`` and ``v`` are in different groups (regardless of time)."""
        return self.group_of(u) != self.group_of(v)


class Outgoing(NamedTuple):
    """One message a node is about to send, as node policies see and rewrite it.

    ``claim`` is the sender identity the message claims (``None`` = the true one); any other value
    is an impersonation attempt, which the runtime rejects and counts.
    """

    dst: Hashable
    payload: Any
    delay: float = 0.0
    claim: Hashable | None = None


class NodePolicy:
    """Base class of Byzantine network behaviours.

    :meth:`transform` maps one outgoing message to the messages actually emitted (none, one, or
    several); :meth:`schedule` lists ``(time, "crash" | "recover")`` events. Policies of a node are
    applied in order, each to every output of the previous one, with the node's policy stream
    ``rng`` (independent of the stream the behaviour itself draws from).
    """

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        return [out]

    def schedule(self) -> list[tuple[float, str]]:
        return []


def _targets(targets: Iterable[Hashable] | None) -> frozenset[Hashable] | None:
    return None if targets is None else frozenset(targets)


@dataclass(frozen=True)
class Crash(NodePolicy):
    """Crash at ``at`` (the behaviour stops, the inbox is lost, messages to it are undeliverable);
    restart the behaviour from scratch at ``recover_at`` when given.

    Examples
    --------
    >>> Crash(1.0, recover_at=2.0).schedule()
    [(1.0, 'crash'), (2.0, 'recover')]
    """

    at: float
    recover_at: float | None = None

    def __post_init__(self) -> None:
        check_real(self.at, "at", minimum=0.0, owner="Crash")
        if self.recover_at is not None and not float(self.recover_at) > float(self.at):
            raise InvalidArgument(
                f"Crash: recover_at must be > at; got at={self.at}, recover_at={self.recover_at}"
            )

    def schedule(self) -> list[tuple[float, str]]:
        ev = [(float(self.at), "crash")]
        if self.recover_at is not None and math.isfinite(float(self.recover_at)):
            ev.append((float(self.recover_at), "recover"))
        return ev


@dataclass(frozen=True)
class Omission(NodePolicy):
    """Drop each send with probability ``p`` (to ``targets`` only, when given) during
    ``[start, end)``. ``p=1`` omits everything: a silent (but alive, receiving) node.

    Examples
    --------
    >>> import numpy as np
    >>> Omission(1.0).transform(Outgoing(1, "x"), 0.0, np.random.default_rng(0))
    []
    """

    p: float = 1.0
    targets: frozenset[Hashable] | None = None
    start: float = 0.0
    end: float = math.inf

    def __post_init__(self) -> None:
        _prob(self.p, "p", "Omission")
        object.__setattr__(self, "targets", _targets(self.targets))

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        if not (self.start <= now < self.end):
            return [out]
        if self.targets is not None and out.dst not in self.targets:
            return [out]
        if self.p >= 1.0 or rng.random() < self.p:
            return []
        return [out]


@dataclass(frozen=True)
class Delay(NodePolicy):
    """Hold each send back by an extra delay drawn from ``extra`` (to ``targets`` when given).

    Examples
    --------
    >>> import numpy as np
    >>> Delay(0.5).transform(Outgoing(1, "x"), 0.0, np.random.default_rng(0))[0].delay
    0.5
    """

    extra: Latency | float = 0.0
    targets: frozenset[Hashable] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", as_latency(self.extra, name="extra"))
        object.__setattr__(self, "targets", _targets(self.targets))

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        if self.targets is not None and out.dst not in self.targets:
            return [out]
        extra = float(self.extra.sample(rng, 1)[0])  # type: ignore[union-attr]
        return [out._replace(delay=out.delay + extra)]


@dataclass(frozen=True)
class Equivocate(NodePolicy):
    """Send different payloads to different recipients: ``fn(dst, payload, rng) -> payload``.

    Examples
    --------
    >>> import numpy as np
    >>> pol = Equivocate(lambda dst, p, rng: p * (-1 if dst % 2 else 1))
    >>> [pol.transform(Outgoing(d, 1.0), 0.0, np.random.default_rng(0))[0].payload for d in (1, 2)]
    [-1.0, 1.0]
    """

    fn: Callable[[Hashable, Any, np.random.Generator], Any]

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise InvalidArgument(f"Equivocate: fn must be callable; got fn={self.fn!r}")

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        return [out._replace(payload=self.fn(out.dst, out.payload, rng))]


@dataclass(frozen=True)
class Flood(NodePolicy):
    """Emit every send ``factor`` times (the extra copies carry ``payload(rng)`` when given,
    else the same payload). Receivers' per-sender inbox caps throttle the excess.

    Examples
    --------
    >>> import numpy as np
    >>> len(Flood(5).transform(Outgoing(1, "x"), 0.0, np.random.default_rng(0)))
    5
    """

    factor: int = 10
    payload: Callable[[np.random.Generator], Any] | None = None

    def __post_init__(self) -> None:
        check_int(self.factor, "factor", minimum=1, owner="Flood")

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        res = [out]
        for _ in range(int(self.factor) - 1):
            res.append(out if self.payload is None else out._replace(payload=self.payload(rng)))
        return res


def malformed_payload(payload: Any, rng: np.random.Generator) -> Any:
    """A malformed version of ``payload``: for an array, one of (NaN-filled, wrong dtype, wrong
    shape), chosen by ``rng``; for anything else, a string.

    Examples
    --------
    >>> import numpy as np
    >>> bad = malformed_payload(np.zeros(3), np.random.default_rng(1))
    >>> bad.shape != (3,) or bad.dtype != np.float64 or bool(np.isnan(bad).any())
    True
    """
    if isinstance(payload, np.ndarray):
        kind = int(rng.integers(3))
        if kind == 0:
            return np.full(payload.shape, np.nan, dtype=np.float64)
        if kind == 1:
            return payload.astype(np.int8) if payload.dtype != np.int8 else payload.astype(np.float64)
        return np.zeros(payload.size + 1, dtype=payload.dtype)
    return "malformed"


@dataclass(frozen=True)
class Malform(NodePolicy):
    """Replace each payload by ``fn(payload, rng)`` (default :func:`malformed_payload`) with
    probability ``p``.

    Examples
    --------
    >>> import numpy as np
    >>> Malform().transform(Outgoing(1, 3.0), 0.0, np.random.default_rng(0))[0].payload
    'malformed'
    """

    p: float = 1.0
    fn: Callable[[Any, np.random.Generator], Any] | None = None

    def __post_init__(self) -> None:
        _prob(self.p, "p", "Malform")

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        if self.p >= 1.0 or rng.random() < self.p:
            fn = self.fn if self.fn is not None else malformed_payload
            return [out._replace(payload=fn(out.payload, rng))]
        return [out]


@dataclass(frozen=True)
class Impersonate(NodePolicy):
    """Try to send as node ``claim`` with probability ``p``. The runtime authenticates senders:
    every such message is rejected and counted as an impersonation attempt.

    Examples
    --------
    >>> import numpy as np
    >>> Impersonate(7).transform(Outgoing(1, "x"), 0.0, np.random.default_rng(0))[0].claim
    7
    """

    claim: Hashable
    p: float = 1.0

    def __post_init__(self) -> None:
        _prob(self.p, "p", "Impersonate")

    def transform(self, out: Outgoing, now: float, rng: np.random.Generator) -> list[Outgoing]:
        if self.p >= 1.0 or rng.random() < self.p:
            return [out._replace(claim=self.claim)]
        return [out]


def check_policies(policies: Any, node: Hashable) -> tuple[NodePolicy, ...]:
    """Validate a node's policy sequence."""
    if isinstance(policies, NodePolicy):
        policies = (policies,)
    try:
        pols = tuple(policies)
    except TypeError:
        raise InvalidArgument(
            f"policies of node {node!r} must be a sequence of NodePolicy; got {policies!r}"
        ) from None
    for p in pols:
        if not isinstance(p, NodePolicy):
            raise InvalidArgument(
                f"policies of node {node!r} must be NodePolicy objects; got {p!r} "
                f"(type={type(p).__name__})"
            )
    return pols

