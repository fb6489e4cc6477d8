"""The message record the runtime hands to receivers."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

__all__ = ["Message"]


class Message(NamedTuple):
    """A delivered message, built by the runtime only: ``src`` is the true sender.

    The fields are ordered so that messages sort by ``(deliver_at, seq)``: the router's event
    heap holds the very objects receivers get.

    Attributes
    ----------
    deliver_at : float
        Virtual delivery time.
    seq : int
        Router sequence number, unique per message copy; ties of ``deliver_at`` are broken by it.
        It is ``c * (n + 1) + i`` for the ``c``-th emission (message or timer) of the sender of
        index ``i`` among the ``n`` graph nodes: a function of the sender's own history only,
        never of the order in which trio ran the tasks.
    src, dst : hashable
        Sender and receiver node ids (``src`` is stamped by the runtime, never by the sender).
    payload : object
        What the sender passed to ``send`` (possibly rewritten by its Byzantine policies).
    sent_at : float
        Virtual send time.
    size : int
        Bytes on the link (see :func:`payload_size`).
    link_seq : int
        Index of the message among those sent on the link ``src -> dst`` (from 0).
    copy : int
        0 for the original, 1 for a duplicate made by the link.
    """

    deliver_at: float
    seq: int
    src: Hashable
    dst: Hashable
    payload: Any
    sent_at: float
    size: int
    link_seq: int
    copy: int
