"""JSON-lines traces of deliveries: write, read, compare."""

from __future__ import annotations

import json
import os
from collections.abc import Hashable, Iterable
from typing import IO, Any, NamedTuple

from ..errors import InvalidArgument

__all__ = ["TraceRecord", "read_trace", "EVENTS"]

EVENTS = ("deliver", "throttle", "malformed", "undeliverable")


class TraceRecord(NamedTuple):
    """One message reaching its receiver's side, in ``(t, seq)`` order.

    Attributes
    ----------
    t : float
        Virtual delivery time.
    seq : int
        Router sequence number.
    src, dst : hashable
        Sender and receiver.
    sent_at : float
        Virtual send time.
    size : int
        Payload size in bytes (as used for bandwidth).
    event : str
        "deliver", "throttle" (inbox share full), "malformed" (validator rejected) or
        "undeliverable" (receiver crashed, finished or passive).
    link_seq : int
        Index of the message among those sent on the link ``src -> dst`` (from 0).
    copy : int
        0 for the original, 1 for a link duplicate.
    """

    t: float
    seq: int
    src: Hashable
    dst: Hashable
    sent_at: float
    size: int
    event: str
    link_seq: int
    copy: int


def _jsonable(x: Any) -> Any:
    if isinstance(x, tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _node(x: Any) -> Hashable:
    return tuple(_node(v) for v in x) if isinstance(x, list) else x


def dumps(rec: TraceRecord) -> str:
    """One JSON line (fixed key order, ``repr`` floats) for ``rec``."""
    return json.dumps(
        {
            "t": rec.t,
            "seq": rec.seq,
            "src": _jsonable(rec.src),
            "dst": _jsonable(rec.dst),
            "sent_at": rec.sent_at,
            "size": rec.size,
            "event": rec.event,
            "link_seq": rec.link_seq,
            "copy": rec.copy,
        },
        separators=(",", ":"),
    )


def read_trace(source: str | os.PathLike[str] | IO[str] | Iterable[str]) -> list[TraceRecord]:
    """Read a JSON-lines trace written by :class:`Network` (``trace=path``).

    Parameters
    ----------
    source : path, text file or iterable of lines

    Returns
    -------
    list of TraceRecord

    Raises
    ------
    InvalidArgument
        When a line is not a trace record (the message gives its line number).

    Examples
    --------
    >>> read_trace(['{"t":0.1,"seq":0,"src":0,"dst":1,"sent_at":0.0,"size":64,'
    ...             '"event":"deliver","link_seq":0,"copy":0}'])[0].dst
    1
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8") as fh:
            return read_trace(fh.readlines())
    out: list[TraceRecord] = []
    for lineno, line in enumerate(source, 1):
        line = line.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
            rec = TraceRecord(
                float(d["t"]),
                int(d["seq"]),
                _node(d["src"]),
                _node(d["dst"]),
                float(d["sent_at"]),
                int(d["size"]),
                str(d["event"]),
                int(d["link_seq"]),
                int(d["copy"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(f"trace line {lineno} is not a trace record: {exc}") from None
        if rec.event not in EVENTS:
            raise InvalidArgument(
                f"trace line {lineno}: event must be one of {', '.join(EVENTS)}; "
                f"got event={rec.event!r}"
            )
        out.append(rec)
    return out
