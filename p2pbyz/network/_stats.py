"""Frozen statistics snapshots of links, nodes and runs (values, not live views)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["LinkStatistics", "NodeStatistics", "RunStatistics", "NetworkStatistics", "RunResult"]


@dataclass(frozen=True)
class LinkStatistics:
    """Counters of one directed link ``src -> dst``.

    Attributes
    ----------
    sent : int
        Messages handed to the link (after the sender's policies; flood copies count).
    delivered : int
        Messages put in the receiver's inbox (duplicates included).
    lost : int
        Messages dropped by the link's loss probability.
    partitioned : int
        Messages dropped because a partition separated the endpoints during their flight.
    duplicated : int
        Extra copies created by the link's duplication probability.
    throttled : int
        Messages refused at the sender (link over capacity) or at the receiver (per-sender inbox
        cap reached).
    malformed : int
        Messages the receiver's validator rejected.
    undeliverable : int
        Messages that reached a crashed, finished or passive receiver.
    bytes_sent, bytes_delivered : int
        Payload sizes summed (arrays: ``nbytes``; bytes: ``len``; else a small constant).
    in_flight : int
        Messages currently travelling on the link.
    peak_in_flight : int
        The largest ``in_flight`` seen.
    """

    src: Hashable
    dst: Hashable
    sent: int
    delivered: int
    lost: int
    partitioned: int
    duplicated: int
    throttled: int
    malformed: int
    undeliverable: int
    bytes_sent: int
    bytes_delivered: int
    in_flight: int
    peak_in_flight: int


@dataclass(frozen=True)
class NodeStatistics:
    """Counters of one node.

    Attributes
    ----------
    sent : int
        Messages its behaviour asked to send (before its policies).
    emitted : int
        Messages that left it after its policies (omissions removed, flood copies added).
    omitted : int
        Messages its policies dropped.
    received : int
        Messages put in its inbox.
    consumed : int
        Messages its behaviour took from the inbox with ``recv``/``poll``.
    throttled_in : int
        Messages to it refused because their sender's inbox share was full.
    throttled_out : int
        Messages from it refused (at a receiver's inbox or at the link's capacity).
    malformed_in : int
        Messages to it that its validator rejected.
    malformed_out : int
        Messages from it that a receiver's validator rejected.
    impersonation_attempts : int
        Messages its policies tried to send under another identity (all rejected).
    peak_inbox : int
        The largest number of messages waiting in its inbox.
    inbox : int
        Messages waiting now.
    wakes : int
        Times the router resumed it.
    crashes, recoveries : int
        Crash and recovery events applied to it.
    state : str
        "new", "running", "receiving", "sleeping", "done", "crashed" or "passive".
    """

    node: Hashable
    sent: int
    emitted: int
    omitted: int
    received: int
    consumed: int
    throttled_in: int
    throttled_out: int
    malformed_in: int
    malformed_out: int
    impersonation_attempts: int
    peak_inbox: int
    inbox: int
    wakes: int
    crashes: int
    recoveries: int
    state: str


@dataclass(frozen=True)
class RunStatistics:
    """Totals of a run.

    Attributes
    ----------
    virtual_time : float
        Emulated seconds elapsed.
    sent, delivered, lost, partitioned, duplicated, throttled, malformed, undeliverable : int
        Sums over links (see :class:`LinkStatistics`).
    omitted, impersonation_attempts : int
        Sums over nodes.
    in_flight : int
        Messages still travelling.
    events : int
        Router events processed (deliveries, timers, crashes, recoveries, starts).
    windows : int
        Router windows (each a batch of virtual time processed at once).
    wakes : int
        Node resumptions.
    lookahead : float
        The window length (the smallest link latency lower bound).
    """

    virtual_time: float
    sent: int
    delivered: int
    lost: int
    partitioned: int
    duplicated: int
    throttled: int
    malformed: int
    undeliverable: int
    omitted: int
    impersonation_attempts: int
    in_flight: int
    events: int
    windows: int
    wakes: int
    lookahead: float


@dataclass(frozen=True)
class NetworkStatistics:
    """A snapshot of the whole network: ``run`` totals, ``nodes`` by id, ``links`` by
    ``(src, dst)`` (only links that carried at least one message)."""

    run: RunStatistics
    nodes: Mapping[Hashable, NodeStatistics]
    links: Mapping[tuple[Hashable, Hashable], LinkStatistics]


@dataclass(frozen=True)
class RunResult:
    """What :meth:`Network.run` returns.

    Attributes
    ----------
    statistics : NetworkStatistics
        The final snapshot.
    returns : Mapping
        Node id -> the value its behaviour returned (nodes that finished).
    virtual_time : float
        Emulated seconds elapsed.
    wall_time : float
        Wall seconds the run took (informative only; not part of any trace).
    trace : tuple of TraceRecord or None
        The records of the run when the network was asked to keep them in memory.
    """

    statistics: NetworkStatistics
    returns: Mapping[Hashable, Any]
    virtual_time: float
    wall_time: float
    trace: tuple[Any, ...] | None = None
