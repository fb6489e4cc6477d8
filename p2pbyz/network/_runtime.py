"""The virtual-time network runtime: a router over trio tasks, one task per node.

How determinism is obtained (trio's scheduler is deliberately random, so nothing a node can observe
may depend on it):

* Time is ours. The router keeps one heap of events keyed ``(time, seq)``: message deliveries,
  timers, starts, crashes, recoveries. ``seq`` is unique, so entries never compare further.
* The router processes virtual time in *windows*. With ``L`` the smallest latency lower bound over
  the links (the *lookahead*), a window holds every queued event earlier than ``t0 + L``, where
  ``t0`` is the earliest one (with ``L = 0``, the events at exactly ``t0``). Anything a node does
  at a time ``t >= t0`` lands at ``t + L >= t0 + L`` or later, so the window's events are final:
  they are split per node, in ``(time, seq)`` order, and each node consumes its own share in
  order, its clock (``ctx.now()``) advancing with them. Every node is resumed at most once per
  window; all resumed nodes run as one trio batch, in any order, because they only touch their
  own state (inbox, clock, streams, links they send on; the counters are sums).
* What a node emits (messages, timers) gets a ``seq`` that does not depend on when trio ran it:
  ``c * (n + 1) + i`` for the ``c``-th emission of the node of index ``i`` (``n`` nodes; the
  router's own events use ``i = n``), and is queued for the heap, which the router merges it into
  at the start of the next window (the order in which a heap pops unique keys does not depend on
  the order they were pushed in; where the router sorts a window instead, ties of time are
  ordered by ``seq``). Link randomness is drawn from per-link streams that only the sender uses,
  node randomness from per-node streams, all derived from one :class:`numpy.random.SeedSequence`
  by key.

So a run is a pure function of the graph, the behaviours, the policies and the seed: the same seed
gives the same trace, byte for byte.
"""

from __future__ import annotations

import ctypes
import gc
import heapq
import math
import os
import sys
import time
import types
from array import array
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from itertools import compress
from operator import attrgetter, itemgetter
from types import MappingProxyType
from typing import IO, Any

import networkx as nx
import numpy as np
import outcome
import trio
import trio.testing
from trio.lowlevel import Abort, current_task, reschedule, wait_task_rescheduled

from .. import config
from .._validation import check_int, check_real
from ..errors import InvalidArgument, ReplayError
from ._latency import Constant, Uniform
from ._message import Message
from ._policies import Crash, LinkPolicy, NodePolicy, Outgoing, Partition, check_policies
from ._stats import LinkStatistics, NetworkStatistics, NodeStatistics, RunResult, RunStatistics
from ._trace import TraceRecord, dumps, read_trace

__all__ = ["Network", "NodeContext", "payload_size"]

_INF = math.inf

# Kinds of the non-message heap entries ``(time, seq, kind, node index, data)``; messages are
# :class:`Message` tuples, which sort the same way (``deliver_at, seq`` first).
_TIMER, _CRASH, _RECOVER, _START = 1, 2, 3, 4
# Node states.
_NEW, _RUNNING, _RECV, _SLEEP, _DONE, _CRASHED, _PASSIVE = range(7)
_STATE_NAMES = ("new", "running", "receiving", "sleeping", "done", "crashed", "passive")
# Values a parked node is resumed with.
_W_START, _W_MSG, _W_TIMEOUT, _W_CRASH, _W_RECOVER, _W_HANDOFF = range(6)
_DEAD = (_DONE, _CRASHED, _PASSIVE)
_tnew = tuple.__new__  # builds a Message without the NamedTuple constructor's overhead
_push = heapq.heappush
_TIME, _SEQ = itemgetter(0), itemgetter(1)
_IDX = attrgetter("idx")
_BLOCK = 32  # draws per refill of a link's buffered random streams
_WORDS = 8  # uint32 words seeding one link's PCG64 (128-bit state and increment)
_CHUNK = 512  # nodes whose out-links draw their first block together (_LinkDraws.first_block)
# SeedSequence key domains.
_KEY_NODE, _KEY_LINK = 0, 1


_BATCH_MIN = 512  # heaps smaller than this give up their windows by popping


def _sorted_by_time(
    entries: list[tuple[Any, ...]], t: np.ndarray
) -> tuple[list[tuple[Any, ...]], np.ndarray] | None:
    """``entries`` (whose times are ``t``) in time order, and their times in that order; ``None``
    if two times are equal (then the order must also look at ``seq``)."""
    if len(entries) < 2:
        return entries, t
    order = np.argsort(t, kind="stable")
    ts = t[order]
    if bool((ts[1:] == ts[:-1]).any()):
        return None
    return list(itemgetter(*order.tolist())(entries)), ts


def _partition(
    heap: list[tuple[Any, ...]], t: np.ndarray, wmax: float
) -> tuple[list[tuple[Any, ...]], np.ndarray | None]:
    """Remove from ``heap`` (any order; ``t`` its entries' times) and return, in ``(time, seq)``
    order, its events at or before ``wmax``; leave the others in ``heap`` as a valid heap. Also
    return the times of what is left in ``heap`` if it is sorted, by ``(time, seq)`` (else
    ``None``)."""
    # The entries' times are in ``t``, read from them at most once (the entries are scattered in
    # memory: at 10,000 nodes, reading them is what costs; see Network._next_window); the
    # partition and the orders are computed on the array of times, and the entries gathered by
    # C loops.
    inwin = t <= wmax
    win = list(compress(heap, inwin.tolist()))
    later = ~inwin
    rest = list(compress(heap, later.tolist()))
    trest: np.ndarray | None = None
    srest = _sorted_by_time(rest, t[later])
    if srest is None:
        heapq.heapify(rest)
    else:
        rest, trest = srest
    heap[:] = rest  # a list sorted by (time, seq) is a valid heap
    swin = _sorted_by_time(win, t[inwin])
    if swin is not None:
        win = swin[0]
    else:
        # Two stable key sorts (seq, then time) compare plain ints and floats, not tuples.
        win.sort(key=_SEQ)
        win.sort(key=_TIME)
    return win, trest


def _take_window(heap: list[tuple[Any, ...]], wmax: float) -> list[tuple[Any, ...]]:
    """Remove from ``heap`` and return, in ``(time, seq)`` order, its events at or before ``wmax``.

    The result is what popping until ``heap[0][0] > wmax`` gives (keys are unique, so the order is
    total). When the window is a sizeable part of a large heap (a wide lookahead, many nodes), it
    is cheaper to partition the heap and sort both parts with C loops (a sorted list is a valid
    heap) than to pay ``O(log n)`` cache-missing sifts per popped event.
    """
    n = len(heap)
    if n >= _BATCH_MIN:
        # The events <= wmax form a subtree at the root (no entry sorts before its parent): walk
        # it, giving up once it holds more than an eighth of the heap.
        budget = n >> 3
        stack = [0]
        while stack:
            i = stack.pop()
            if heap[i][0] <= wmax:
                budget -= 1
                if budget < 0:
                    break
                c = 2 * i + 1
                if c < n:
                    stack.append(c)
                    if c + 1 < n:
                        stack.append(c + 1)
        if budget < 0:
            return _partition(heap, np.fromiter(map(_TIME, heap), np.float64, n), wmax)[0]
    win = []
    pop = heapq.heappop
    while heap and heap[0][0] <= wmax:
        win.append(pop(heap))
    return win


class _Crashed(BaseException):
    """Raised inside a node's behaviour when the node crashes (a BaseException, like trio's
    Cancelled, so that ``except Exception`` in a behaviour does not swallow it)."""


def _child_generator(ss: np.random.SeedSequence, k: int) -> np.random.Generator:
    child = np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (k,))
    return np.random.Generator(np.random.PCG64(child))


# The values tasks are resumed with, made once: a resumed task reads ``.value`` without
# ``unwrap()`` (which would mark a shared outcome used), so one object serves every wake.
_VALUES = tuple(outcome.Value(v) for v in range(6))
_V_NONE = outcome.Value(None)
_Value = outcome.Value

try:  # trio's own trap message (wait_task_rescheduled builds one per call; tasks keep theirs)
    from trio._core._traps import WaitTaskRescheduled as _WaitTaskRescheduled

    if _WaitTaskRescheduled(lambda _: Abort.SUCCEEDED).__class__.__name__ != "WaitTaskRescheduled":
        raise ImportError  # pragma: no cover
    _trap: Any = _WaitTaskRescheduled
except (ImportError, TypeError, AttributeError):  # pragma: no cover - another trio layout
    _WaitTaskRescheduled = None

    def _trap(abort: Callable[[Any], Abort]) -> Any:
        return abort


if _WaitTaskRescheduled is not None:

    @types.coroutine
    def _wait(trap: Any) -> Any:
        """``await wait_task_rescheduled(abort)`` in one generator frame, with the task's trap
        message built once (:func:`_trap`) and shared outcomes (a task is resumed on every wake
        of a node)."""
        o = yield trap
        if type(o) is _Value:
            return o.value
        return o.unwrap()  # an Error: trio cancelling the task

else:  # pragma: no cover

    async def _wait(trap: Any) -> Any:
        return await wait_task_rescheduled(trap)


_SCALARS = frozenset({int, float, bool, complex, type(None)})


def _snapshot(cls: type, **fields: Any) -> Any:
    """Build a frozen statistics dataclass without its per-field frozen ``__setattr__`` calls
    (snapshots of large networks make tens of thousands of them)."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def payload_size(payload: Any, small: int | None = None) -> int:
    """Size in bytes a payload occupies on a link (for bandwidth delays).

    Arrays count ``nbytes``, bytes-like objects their length, strings their UTF-8 length, tuples,
    lists and dicts the sum of their items plus ``small``; anything else ``small``
    (``config.NETWORK_SMALL_PAYLOAD_BYTES`` by default).

    Examples
    --------
    >>> import numpy as np
    >>> payload_size(np.zeros(10)), payload_size(b"abc"), payload_size(None, small=64)
    (80, 3, 64)
    """
    if small is None:
        small = int(config.NETWORK_SMALL_PAYLOAD_BYTES)
    if type(payload) in _SCALARS:
        return small
    if isinstance(payload, (tuple, list)):
        # Tested before the types below, of which no tuple or list is an instance (their layouts
        # conflict): payloads are mostly tuples. sum() over a generator, unrolled: scalar items
        # (the common case) skip the recursion.
        total = 0
        for x in payload:
            total += small if type(x) in _SCALARS else payload_size(x, small)
        return small + total
    if isinstance(payload, np.ndarray):
        return int(payload.nbytes)
    if isinstance(payload, (bytes, bytearray)):
        return len(payload)
    if isinstance(payload, memoryview):
        return int(payload.nbytes)
    if isinstance(payload, str):
        return len(payload.encode("utf-8"))
    if isinstance(payload, dict):
        return small + sum(payload_size(x, small) for x in payload.values())
    return small


# PCG64 seeding, as numpy's PCG64(seed) does it (pcg64_set_seed, then pcg_setseq_128_srandom_r):
# the seed's four uint64 words give a 128-bit initial state and stream selector.
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645  # PCG_DEFAULT_MULTIPLIER_128
_M128 = (1 << 128) - 1


def _pcg64_seeded(s_hi: int, s_lo: int, i_hi: int, i_lo: int) -> tuple[int, int]:
    """``(state, inc)`` of ``PCG64(seed)`` for a seed whose ``generate_state(4, np.uint64)`` is
    ``[s_hi, s_lo, i_hi, i_lo]``."""
    inc = ((((i_hi << 64) | i_lo) << 1) | 1) & _M128
    return ((inc + ((s_hi << 64) | s_lo)) * _PCG_MULT + inc) & _M128, inc


def _pcg64_state(s_hi: int, s_lo: int, i_hi: int, i_lo: int) -> dict[str, Any]:
    """The state of ``PCG64(seed)`` for a seed whose ``generate_state(4, np.uint64)`` is
    ``[s_hi, s_lo, i_hi, i_lo]`` (checked against numpy in the tests)."""
    state, inc = _pcg64_seeded(s_hi, s_lo, i_hi, i_lo)
    return {
        "bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0,
        "uinteger": 0,
    }  # fmt: skip


def _pcg64_raw(bg: np.random.PCG64) -> tuple[memoryview, memoryview] | None:
    """Writable views of ``bg``'s C state: its 128-bit state and increment (32 bytes) and its
    buffered 32-bit draw (``has_uint32``, ``uinteger``: 8 bytes); ``None`` unless numpy lays them
    out as expected (checked here both ways against the ``state`` property)."""
    try:
        addr = bg.ctypes.state_address  # a pcg64_state: (pcg64_random_t *, int, uint32)
        core_at = ctypes.c_void_p.from_address(addr).value
        if not core_at:
            return None
        core = memoryview((ctypes.c_uint8 * 32).from_address(core_at)).cast("B")
        extra = memoryview((ctypes.c_uint8 * 8).from_address(addr + ctypes.sizeof(ctypes.c_void_p)))
        extra = extra.cast("B")
        if ctypes.sizeof(ctypes.c_void_p) != 8 or ctypes.sizeof(ctypes.c_int) != 4:
            return None
        old = bg.state
        try:
            for st, inc, has, u in ((0x0123456789ABCDEF_FEDCBA9876543210, 0x1111_2222_3333_4445,
                                     1, 0xDEADBEEF), (7, 2**127 + 3, 0, 0)):  # fmt: skip
                want = _raw_words(st, inc, has, u)
                bg.state = {"bit_generator": "PCG64", "state": {"state": st, "inc": inc},
                            "has_uint32": has, "uinteger": u}  # fmt: skip
                if (bytes(core), bytes(extra)) != want:
                    return None
                bg.state = {"bit_generator": "PCG64", "state": {"state": 5, "inc": 9},
                            "has_uint32": 0, "uinteger": 0}  # fmt: skip
                core[:] = want[0]
                extra[:] = want[1]
                got = bg.state
                if (got["state"]["state"], got["state"]["inc"], got["has_uint32"],
                        got["uinteger"]) != (st, inc, has, u):  # fmt: skip
                    return None
        finally:
            bg.state = old
        return core, extra
    except Exception:  # pragma: no cover - another numpy layout: use the state property
        return None


def _raw_words(state: int, inc: int, has_uint32: int = 0, uinteger: int = 0) -> tuple[bytes, bytes]:
    """A PCG64 state as the bytes of its C structs (see :func:`_pcg64_raw`)."""
    bo = sys.byteorder
    if bo == "little":
        core = state.to_bytes(16, bo) + inc.to_bytes(16, bo)
    else:  # pragma: no cover - a big-endian uint128 (checked in _pcg64_raw)
        core = state.to_bytes(16, bo) + inc.to_bytes(16, bo)
    return core, has_uint32.to_bytes(4, bo) + uinteger.to_bytes(4, bo)


class _LinkDraws:
    """The one bit generator through which a network's links draw their streams.

    Link ``i -> j`` has its own PCG64 stream, seeded with words ``[8p, 8p+8)`` (read as four
    native uint64) of the state generated by node ``i``'s link SeedSequence (keyed
    ``(link domain, i)`` under the root), ``p`` the position of ``j`` among ``i``'s out-neighbours.
    A link keeps only its generator's state and swaps it into this shared PCG64 for each block of
    draws: the draws are exactly those of a PCG64 of its own, without building a PCG64 and a
    Generator per link (about 8 us and several GC-tracked objects each, times tens of thousands).
    The swap copies the raw bytes of the C state where numpy's layout allows (``raw``: about
    0.5 us instead of 5 us through the ``state`` property's dicts). A link's first block of
    uniform draws is not drawn through it but computed with those of its chunk of nodes
    (:meth:`first_block`).
    """

    __slots__ = ("root", "bg", "gen", "raw", "core", "extra", "nodes", "seeded", "all")

    def __init__(
        self, root: np.random.SeedSequence, nodes: Sequence[_Node] = ()
    ) -> None:
        self.root = root
        self.all = list(nodes)
        # The nodes, for seeding all those of one out-degree at once (None: one by one).
        self.nodes = self.all if _seeds_vectorizable(root) else None
        self.seeded: set[int] = set()
        self.bg = np.random.PCG64(0)
        self.gen = np.random.Generator(self.bg)
        views = _pcg64_raw(self.bg)
        self.raw = views is not None
        self.core, self.extra = views if views is not None else (None, None)

    def load(self, link: _Link) -> np.random.Generator:
        """The shared generator, holding ``link``'s stream state (then call :meth:`store`)."""
        st = link.state
        if self.raw:
            if st is None:
                st = _raw_words(*self.initial_seed(link.snode, link.dst))
            self.core[:] = st[0]  # type: ignore[index]
            self.extra[:] = st[1]  # type: ignore[index]
        else:
            self.bg.state = st if st is not None else self.initial_state(link.snode, link.dst)
        return self.gen

    def store(self, link: _Link) -> None:
        """Keep the shared generator's state as ``link``'s."""
        if self.raw:
            ex = bytes(self.extra)  # type: ignore[arg-type]
            link.state = (bytes(self.core), _ZERO8 if ex == _ZERO8 else ex)  # type: ignore[arg-type]
        else:
            link.state = self.bg.state

    def initial_state(self, node: _Node, j: int) -> dict[str, Any]:
        """The state (property form) of link ``node -> j``'s PCG64 before its first draw."""
        state, inc = self.initial_seed(node, j)
        return {
            "bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0,
            "uinteger": 0,
        }  # fmt: skip

    def initial_seed(self, node: _Node, j: int) -> tuple[int, int]:
        """``(state, inc)`` of link ``node -> j``'s PCG64 before its first draw."""
        w = self._words(node)
        p = (_WORDS // 2) * node.out_pos[j]
        return _pcg64_seeded(w[p], w[p + 1], w[p + 2], w[p + 3])

    def _words(self, node: _Node) -> list[int]:
        """``node.link_words`` (the seeds of its out-links' streams), computed if not yet."""
        w = node.link_words
        if w is None and self.nodes is not None:
            self._seed_degree(node)
            w = node.link_words
        if w is None:
            root = self.root
            ss = np.random.SeedSequence(
                root.entropy, spawn_key=tuple(root.spawn_key) + (_KEY_LINK, node.idx)
            )
            words = ss.generate_state(_WORDS * len(node.out_idx), np.uint32)
            w = node.link_words = words.view(np.uint64).tolist()
            node.out_pos = {j: p for p, j in enumerate(node.out_idx)}
        return w

    def first_block(self, link: _Link, low: float, high: float) -> memoryview | None:
        """The first ``_BLOCK`` draws of ``link``'s untouched stream as ``Generator.uniform(low,
        high, _BLOCK)`` gives them (``random(_BLOCK)`` for ``[0, 1)``), its state set past them;
        ``None`` where the raw state copy is unavailable (then draw through :meth:`load`).

        A link's first block is its main cost at creation (about 10 us through numpy's
        generator, times every link of a large network): the blocks of the out-links of a chunk
        of nodes are computed at once, by :func:`_pcg64_blocks`, the same draws bit for bit."""
        rng = high - low  # as numpy's uniform computes it
        if not self.raw or sys.byteorder != "little" or not math.isfinite(rng):
            return None
        node = link.snode
        fb = node.link_first
        if fb is None:
            self._first_chunk(node)
            fb = node.link_first
        blocks, base = fb
        r = base + node.out_pos[link.dst]
        link.state = (blocks.core[32 * r : 32 * r + 32], _ZERO8)
        return blocks.take(r, low, rng)

    def _first_chunk(self, node: _Node) -> None:
        """Compute the first blocks of the out-links of ``node`` and of the nodes of its chunk
        whose link seeds are known (:class:`_FirstBlocks`, ``link_first`` of each)."""
        self._words(node)
        c = node.idx - node.idx % _CHUNK
        chunk = [
            n for n in self.all[c : c + _CHUNK] if n.link_first is None and n.link_words is not None
        ]
        seeds = [w for n in chunk for w in n.link_words]  # type: ignore[union-attr]
        words = np.array(seeds, dtype=np.uint64)
        blocks = _FirstBlocks(*_pcg64_blocks(words.reshape(-1, 4), _BLOCK))
        base = 0
        for n in chunk:
            n.link_first = (blocks, base)
            base += len(n.out_idx)

    def _seed_degree(self, node: _Node) -> None:
        """Set ``link_words`` of every node with ``node``'s out-degree: the states their link
        SeedSequences generate (see :func:`_link_words`), vectorized over the nodes (one
        SeedSequence and its generate_state cost about 25 us per node)."""
        deg = len(node.out_idx)
        if deg in self.seeded or self.nodes is None:
            return
        self.seeded.add(deg)
        group = [n for n in self.nodes if len(n.out_idx) == deg and n.link_words is None]
        words = _link_words(self.root, [n.idx for n in group], _WORDS * deg)
        for n, w in zip(group, words.view(np.uint64).tolist()):
            n.link_words = w
            n.out_pos = {j: p for p, j in enumerate(n.out_idx)}


class _FirstBlocks:
    """The first blocks of draws of a chunk of link streams (see :meth:`_LinkDraws.first_block`):
    ``u`` their ``random()`` values (row ``r``: link ``r``'s ``k`` draws), ``core`` the raw C
    states past them (32 bytes a row)."""

    __slots__ = ("u", "k", "core", "scaled", "left")

    def __init__(self, u: np.ndarray, core: np.ndarray) -> None:
        self.k = u.shape[1]
        self.u: np.ndarray | None = u
        self.core = core.tobytes()  # 32 bytes a link (little-endian, checked by first_block)
        # Flat views of ``u * rng + low``, by ``(low, rng)``.
        self.scaled: dict[tuple[float, float], memoryview] = {}
        self.left = len(u)  # rows not yet taken; the arrays are dropped with the last one

    def take(self, r: int, low: float, rng: float) -> memoryview:
        """Row ``r`` scaled to ``[low, low + rng)``, as a view of floats (indexing it gives a
        Python float: a list would cost 32 float objects per link up front, a few us each time
        at 10,000 nodes, where their memory is fresh)."""
        u = self.u
        assert u is not None
        key = (low, rng)
        a = self.scaled.get(key)
        if a is None:
            if low == 0.0 and rng == 1.0:
                flat = u  # random(): low + 1.0 * u is u
            else:
                # numpy's uniform is ``low + rng * next_double`` (no fused multiply-add: checked
                # in the tests); elementwise here, the same roundings.
                flat = u * rng + low
            a = self.scaled[key] = memoryview(flat.reshape(-1))
        k = self.k
        self.left -= 1
        if not self.left:
            self.u = None
            self.scaled = {}
        return a[r * k : r * k + k]


_U64 = np.uint64
_PCG_MULT_HI, _PCG_MULT_LO = _U64(_PCG_MULT >> 64), _U64(_PCG_MULT & ((1 << 64) - 1))
_PCG_MULT_B0, _PCG_MULT_B1 = _U64(_PCG_MULT & 0xFFFFFFFF), _U64((_PCG_MULT >> 32) & 0xFFFFFFFF)
_LO32, _SH1, _SH11, _SH32, _SH58, _SH63, _SH64 = (
    _U64(0xFFFFFFFF), _U64(1), _U64(11), _U64(32), _U64(58), _U64(63), _U64(64)
)


def _pcg64_step(
    hi: np.ndarray, lo: np.ndarray, ihi: np.ndarray, ilo: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One PCG64 step, ``state * MULT + inc`` modulo 2**128, on states split in uint64 halves
    (the high half of ``lo * MULT_LO`` from 32-bit limbs; uint64 arithmetic wraps)."""
    a0 = lo & _LO32
    a1 = lo >> _SH32
    t0 = a0 * _PCG_MULT_B0
    t1 = a1 * _PCG_MULT_B0 + (t0 >> _SH32)
    t2 = a0 * _PCG_MULT_B1 + (t1 & _LO32)
    hi = a1 * _PCG_MULT_B1 + (t1 >> _SH32) + (t2 >> _SH32) + lo * _PCG_MULT_HI + hi * _PCG_MULT_LO
    lo = lo * _PCG_MULT_LO
    nlo = lo + ilo
    hi += ihi + (nlo < lo)  # the carry
    return hi, nlo


def _pcg64_blocks(words: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row ``[s_hi, s_lo, i_hi, i_lo]`` of ``words`` (uint64), the first ``k``
    ``random()`` draws of ``PCG64(seed)`` for a seed generating those words (see
    :func:`_pcg64_seeded`), and its raw state past them (``[state_lo, state_hi, inc_lo, inc_hi]``,
    the C layout checked by :func:`_pcg64_raw`); vectorized over the rows, bit for bit numpy's
    (PCG64's XSL-RR output of the stepped state; ``(x >> 11) * 2**-53``)."""
    s_hi, s_lo, i_hi, i_lo = (words[:, c].copy() for c in range(4))
    ihi = (i_hi << _SH1) | (i_lo >> _SH63)
    ilo = (i_lo << _SH1) | _SH1
    lo = ilo + s_lo
    hi = ihi + s_hi + (lo < ilo)
    hi, lo = _pcg64_step(hi, lo, ihi, ilo)
    u = np.empty((len(words), k))
    for c in range(k):
        hi, lo = _pcg64_step(hi, lo, ihi, ilo)
        x = hi ^ lo
        rot = hi >> _SH58
        x = (x >> rot) | (x << ((_SH64 - rot) & _SH63))
        u[:, c] = (x >> _SH11).astype(np.float64) * (1.0 / 9007199254740992.0)
    return u, np.stack([lo, hi, ilo, ihi], axis=1)


# numpy's SeedSequence (numpy/random/bit_generator.pyx), vectorized over spawn keys below.
_SS_INIT_A, _SS_MULT_A, _SS_INIT_B, _SS_MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_SS_MIX_L, _SS_MIX_R, _SS_POOL = 0xCA01F9DD, 0x4973F715, 4
_M32 = 0xFFFFFFFF


def _u32_words(x: Any) -> list[int] | None:
    """``numpy.random.bit_generator._coerce_to_uint32_array(x)`` for an int or a sequence of
    ints (``None`` for anything else)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        x = int(x)
        if x < 0:
            return None
        if x == 0:
            return [0]
        out = []
        while x:
            out.append(x & _M32)
            x >>= 32
        return out
    if isinstance(x, (tuple, list)):
        out = []
        for v in x:
            w = _u32_words(v)
            if w is None or not isinstance(v, (int, np.integer)):
                return None
            out.extend(w)
        return out
    return None


def _seeds_vectorizable(root: np.random.SeedSequence) -> bool:
    return (
        type(root) is np.random.SeedSequence
        and root.pool_size == _SS_POOL
        and _u32_words(root.entropy) is not None
        and _u32_words(tuple(root.spawn_key)) is not None
    )


def _link_words(root: np.random.SeedSequence, idx: Sequence[int], n_words: int) -> np.ndarray:
    """Row ``r``: ``SeedSequence(root.entropy, spawn_key=root.spawn_key + (_KEY_LINK, idx[r]))
    .generate_state(n_words, np.uint32)``, computed for all rows at once (uint32, C order)."""
    run = _u32_words(root.entropy)
    assert run is not None
    if len(run) < _SS_POOL:  # a spawn key is present: numpy pads the run entropy to the pool
        run = run + [0] * (_SS_POOL - len(run))
    spawn = _u32_words(tuple(root.spawn_key))
    assert spawn is not None
    ix = np.asarray(idx, dtype=np.uint64)
    if ix.size and int(ix.max()) > _M32:  # pragma: no cover - over 4 billion nodes
        raise OverflowError
    ent: list[Any] = [np.uint32(v) for v in run + spawn + [_KEY_LINK]]
    ent.append(ix.astype(np.uint32))
    m = len(ix)
    sh = np.uint32(16)
    hc = _SS_INIT_A

    def hashmix(v: Any) -> np.ndarray:
        nonlocal hc
        v = np.bitwise_xor(v, np.uint32(hc), dtype=np.uint32)
        hc = (hc * _SS_MULT_A) & _M32
        v = np.multiply(v, np.uint32(hc), dtype=np.uint32)
        return v ^ (v >> sh)  # type: ignore[no-any-return]

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r = np.multiply(np.uint32(_SS_MIX_L), x, dtype=np.uint32) - np.multiply(
            np.uint32(_SS_MIX_R), y, dtype=np.uint32
        )
        return r ^ (r >> sh)  # type: ignore[no-any-return]

    zero = np.zeros(m, np.uint32)
    mixer = [
        hashmix(ent[i] + zero if i < len(ent) else zero) for i in range(_SS_POOL)
    ]
    for i_src in range(_SS_POOL):
        for i_dst in range(_SS_POOL):
            if i_src != i_dst:
                mixer[i_dst] = mix(mixer[i_dst], hashmix(mixer[i_src]))
    for i_src in range(_SS_POOL, len(ent)):
        for i_dst in range(_SS_POOL):
            mixer[i_dst] = mix(mixer[i_dst], hashmix(ent[i_src] + zero))
    out = np.empty((m, n_words), np.uint32)
    hc = _SS_INIT_B
    for k in range(n_words):
        v = np.bitwise_xor(mixer[k % _SS_POOL], np.uint32(hc), dtype=np.uint32)
        hc = (hc * _SS_MULT_B) & _M32
        v = np.multiply(v, np.uint32(hc), dtype=np.uint32)
        out[:, k] = v ^ (v >> sh)
    return out


_ZERO8 = bytes(8)
_NOTHING: tuple[float, ...] = ()  # an empty draw buffer (shared: refilled buffers are lists)


class _Link:
    """Mutable state of one directed link (created on its first message).

    A message leaves its link when the router takes it into a window (Network._route), but the
    router does not touch the link then: at 10,000 nodes the links do not fit in the CPU caches,
    and the sender has its link at hand anyway. The link keeps the deliver times of its
    ``in_flight`` messages instead (``due`` and ``dsize`` for one; the sorted ``dues`` for more),
    and :meth:`settle`, at the link's first read in a window (a send, or a snapshot), retires
    those the router has taken since: a message launched in an earlier window has been taken iff
    it is due by the current window's end (each window takes every queued event up to its end).
    ``win``, the window of the last settle, keeps the messages launched in the current window in
    flight (with a zero lookahead they can be due at its very end). A settle depends only on the
    window, not on who reads the link first (its sender, or any node taking a snapshot), so the
    counts are exact at any moment and independent of trio's order; the capacity check and the
    peak see the same ``in_flight`` as when the router counted messages out one by one.

    ``delivered`` is ``sent + adj - in_flight``: ``adj`` counts the copies launched beyond one
    per message sent (a duplicate +1, a loss or a partition cut -1) less the copies the receiver
    refused (dead, malformed, throttled); ``bytes_adj`` the same in bytes.
    """

    # Slots are laid out in this order: the fields every message touches come first, to share
    # cache lines (at 10,000 nodes the links do not fit in the CPU caches).
    __slots__ = (
        "simple", "win", "in_flight", "due", "sent", "bytes_sent", "const", "lbuf", "lpos",
        "dsize", "peak", "dst_id",
        "src", "dst", "policy", "draws", "snode", "state", "ubuf", "upos", "busy", "last",
        "cuts", "loss", "dup", "jitter", "bw", "fifo", "dues", "adj", "bytes_adj", "lost",
        "partitioned", "duplicated", "throttled", "malformed", "undeliverable",
    )  # fmt: skip

    def __init__(self, src: _Node, dst: int, policy: LinkPolicy, draws: _LinkDraws,
                 cuts: tuple[tuple[float, float], ...], replay: bool) -> None:  # fmt: skip
        self.src = src.idx
        self.dst = dst
        self.policy = policy
        self.draws = draws
        self.snode = src
        self.state: Any = None  # the link's PCG64 state between draws (see _LinkDraws)
        lat = policy.latency
        self.const = float(lat.value) if isinstance(lat, Constant) else None
        self.lbuf: Sequence[float] = _NOTHING
        self.lpos = 0
        self.ubuf: Sequence[float] = _NOTHING
        self.upos = 0
        self.busy = 0.0
        self.last = 0.0
        self.cuts = cuts
        self.loss = policy.loss
        self.dup = policy.duplicate
        self.jitter = policy.jitter
        self.bw = policy.bandwidth
        self.fifo = policy.fifo
        # No loss, duplication, jitter, bandwidth, FIFO clamp, partition or replay: the fast path.
        self.simple = not (
            self.loss or self.dup or self.jitter or self.bw is not None or self.fifo or cuts
            or replay
        )
        # ``sent`` is also the next message's index on the link (its ``link_seq``).
        self.sent = self.lost = self.partitioned = self.duplicated = 0
        self.throttled = self.malformed = self.undeliverable = 0
        self.bytes_sent = self.adj = self.bytes_adj = self.in_flight = self.peak = 0
        self.win = 0  # the window of the last settle (the router numbers them from 1)
        self.due = 0.0  # the deliver time and size of the message in flight, if only one
        self.dsize = 0
        # If several: their (deliver time, size), sorted.
        self.dues: list[tuple[float, int]] | None = None

    def settle(self, win: int, wmax: float) -> int:
        """``in_flight`` in window ``win`` (which ends at ``wmax``), the link's first read in it:
        retire first the messages due by ``wmax`` (see the class docstring)."""
        self.win = win
        k = self.in_flight
        if k == 1:
            if self.due <= wmax:
                k = self.in_flight = 0
        elif k:
            q = self.dues
            c = bisect_right(q, wmax, key=_TIME)  # type: ignore[arg-type]
            if c:
                k -= c
                self.in_flight = k
                if k < 2:
                    if k:
                        self.due, self.dsize = q[-1]  # type: ignore[index]
                    self.dues = None
                else:
                    del q[:c]  # type: ignore[index]
        return k  # type: ignore[no-any-return]

    def launch(self, t: float, size: int) -> None:
        """Put a message of ``size`` bytes due at ``t`` in flight (once settled in the window)."""
        k = self.in_flight
        if k:
            q = self.dues
            if q is None:
                q = self.dues = [(self.due, self.dsize)]
            insort(q, (t, size))
        else:
            self.due = t
            self.dsize = size
        k += 1
        self.in_flight = k
        if k > self.peak:
            self.peak = k

    def bytes_in_flight(self) -> int:
        """Bytes of the messages in flight (as of the last settle)."""
        k = self.in_flight
        if k == 1:
            return self.dsize  # type: ignore[no-any-return]
        return sum(size for _, size in self.dues) if k else 0  # type: ignore[union-attr]

    def latency(self) -> float:
        if self.const is not None:
            return self.const
        if self.lpos >= len(self.lbuf):
            self.refill()
        v = self.lbuf[self.lpos]
        self.lpos += 1
        return v

    def refill(self) -> None:
        d = self.draws
        lat = self.policy.latency
        self.lpos = 0
        if self.state is None and type(lat) is Uniform:
            # The untouched stream's first block, computed with its chunk's (much cheaper).
            buf = d.first_block(self, float(lat.low), float(lat.high))
            if buf is not None:
                self.lbuf = buf
                return
        self.lbuf = lat.sample(d.load(self), _BLOCK).tolist()
        d.store(self)

    def uniform(self) -> float:
        if self.upos >= len(self.ubuf):
            d = self.draws
            buf = d.first_block(self, 0.0, 1.0) if self.state is None else None
            if buf is None:
                buf = d.load(self).random(_BLOCK).tolist()
                d.store(self)
            self.ubuf = buf
            self.upos = 0
        v = self.ubuf[self.upos]
        self.upos += 1
        return v


class _Node:
    """Mutable state of one node (the behaviour only ever sees its :class:`NodeContext`)."""

    # Slots are laid out in this order: the fields of the per-message and per-wake paths first,
    # to share cache lines.
    __slots__ = (
        "rwin", "state", "inbox_len", "wq", "wpos", "now", "in_links", "received", "consumed",
        "peak", "handoff", "wake", "wakes", "task", "parked", "trap", "token", "links", "seq",
        "stride", "sent",
        "emitted", "policies", "out_idx", "id", "idx",
        "behaviour", "validator", "start_at", "out", "in_ids", "attrs", "ctx", "timer",
        "inbox", "rr", "ss", "rng", "prng", "incarnation", "link_words", "out_pos",
        "link_first",
        "omitted", "throttled_in", "throttled_out", "malformed_in", "malformed_out", "imp",
        "crashes", "recoveries",
    )  # fmt: skip

    def __init__(self, idx: int, node_id: Hashable) -> None:
        self.idx = idx
        self.id = node_id
        self.behaviour: Callable[[NodeContext], Awaitable[Any]] | None = None
        self.policies: tuple[NodePolicy, ...] = ()
        self.validator: Callable[[Any], bool] | None = None
        self.start_at = 0.0
        self.out: tuple[Hashable, ...] = ()
        self.out_idx: tuple[int, ...] = ()
        self.in_ids: tuple[Hashable, ...] = ()
        self.attrs: Mapping[str, Any] = MappingProxyType({})
        self.ctx: NodeContext | None = None
        self.task: Any = None
        self.parked = False  # blocked in _wait, not yet rescheduled (by the router or by trio)
        self.trap: Any = None  # its trio trap message, built when its task starts
        self.state = _PASSIVE
        self.now = 0.0
        self.token = 0
        self.timer: tuple[float, int] | None = None
        self.wake = _W_START
        self.wq: list[tuple[Any, ...]] = []
        self.wpos = 0
        self.inbox: dict[int, deque[Message]] = {}
        self.rr: deque[int] = deque()
        self.inbox_len = 0
        self.links: dict[int, _Link] = {}
        self.in_links: dict[Hashable, _Link] = {}
        self.seq = idx  # next sequence number of this node's emissions
        self.stride = 1  # n + 1, set by the Network
        self.rwin = -1  # last window in which the router resumed the node
        self.handoff: Message | None = None  # the message that woke it, past the inbox (_route)
        self.ss: np.random.SeedSequence | None = None
        self.rng: np.random.Generator | None = None
        self.prng: np.random.Generator | None = None
        self.link_words: list[int] | None = None  # seeds of its out-links (_LinkDraws)
        self.out_pos: dict[int, int] = {}
        self.link_first: tuple[_FirstBlocks, int] | None = None  # (its chunk's, first row)
        self.incarnation = 0
        self.sent = self.emitted = self.omitted = self.received = self.consumed = 0
        self.throttled_in = self.throttled_out = self.malformed_in = self.malformed_out = 0
        self.imp = self.peak = self.wakes = self.crashes = self.recoveries = 0


class NodeContext:
    """The handle a node behaviour receives: its identity, clock, streams and network verbs.

    A behaviour is ``async def behaviour(ctx): ...``; it must only block through the handle's
    verbs (:meth:`recv`, :meth:`sleep`), never on trio primitives directly (``trio.sleep`` would
    escape the router's virtual clock and its determinism).

    Attributes
    ----------
    id : hashable
        This node's id (read-only; the runtime stamps it on every message sent).
    neighbours : tuple
        Ids this node can send to (out-neighbours in a directed graph), in graph order.
    in_neighbours : tuple
        Ids that can send to this node.
    attrs : mapping
        The node's attributes in the graph (``role``, ``byzantine``, ...), read-only.
    rng : numpy.random.Generator
        This node's own stream (independent of every other node's and of its policies').
    incarnation : int
        0 at first start, then incremented by each recovery after a crash.
    """

    __slots__ = ("_net", "_node")

    def __init__(self, net: Network, node: _Node) -> None:
        self._net = net
        self._node = node

    def __repr__(self) -> str:
        n = self._node
        return f"<NodeContext id={n.id!r} now={n.now!r} state={_STATE_NAMES[n.state]}>"

    @property
    def id(self) -> Hashable:
        return self._node.id

    @property
    def neighbours(self) -> tuple[Hashable, ...]:
        return self._node.out

    @property
    def in_neighbours(self) -> tuple[Hashable, ...]:
        return self._node.in_ids

    @property
    def attrs(self) -> Mapping[str, Any]:
        return self._node.attrs

    @property
    def incarnation(self) -> int:
        return self._node.incarnation

    @property
    def rng(self) -> np.random.Generator:
        node = self._node
        if node.rng is None:
            node.rng = _child_generator(self._net._node_seed(node), 0)
        return node.rng

    def now(self) -> float:
        """This node's virtual time in seconds."""
        return self._node.now

    def send(self, dst: Hashable, payload: Any, *, size: int | None = None) -> None:
        """Send ``payload`` to neighbour ``dst`` (never blocks; the message is in flight at once).

        Parameters
        ----------
        dst : hashable
            An out-neighbour's id.
        payload : object
            Anything; it is delivered as is (not copied: do not mutate an array after sending it).
        size : int, optional
            Bytes it occupies on the link (default :func:`payload_size`).

        Raises
        ------
        InvalidArgument
            If ``dst`` is not an out-neighbour.
        """
        net = self._net
        node = self._node
        j = net._index.get(dst)
        if j is None or j not in node.links and not net._has_edge(node, j):
            raise InvalidArgument(
                f"node {node.id!r} cannot send to {dst!r}: no edge {node.id!r} -> {dst!r} "
                f"in the graph"
            )
        net._send(node, j, payload, size)

    def broadcast(self, payload: Any, *, size: int | None = None) -> int:
        """Send ``payload`` to every out-neighbour (in graph order); return how many."""
        net = self._net
        node = self._node
        if size is None:
            size = payload_size(payload, net._small)
        out = node.out_idx
        if node.policies or node.state != _RUNNING:
            send = net._send
            for j in out:
                send(node, j, payload, size)
        else:
            node.sent += len(out)
            emit = net._emit
            links = node.links
            pend = net._pend.append
            pend_t = net._pend_t.append
            now = node.now
            lcap = net._lcap
            win = net._windows
            wmax = net._wmax
            src = node.id
            # The node's sequence number and its count of fast-path emissions live in locals
            # during the loop (written back before any call to _emit, and at the end).
            seq = node.seq
            stride = node.stride
            fast = 0
            try:
                for j in out:
                    # The fast path of Network._emit, inlined (a broadcast is the common case),
                    # on a simple link below its capacity (k: the link's in_flight, or lcap
                    # where the link is yet to be made or not simple).
                    link = links.get(j)
                    k = lcap
                    if link is not None and link.simple:
                        k = link.in_flight
                        if link.win != win:  # _Link.settle, its common cases inlined:
                            link.win = win
                            if k == 1:
                                if link.due <= wmax:
                                    k = 0  # the message in flight has left (written below)
                            elif k:
                                k = link.settle(win, wmax)
                    if k >= lcap:
                        node.seq = seq
                        emit(node, j, payload, size, 0.0)
                        seq = node.seq
                        continue
                    fast += 1
                    ls = link.sent  # the message's link_seq
                    link.sent = ls + 1
                    link.bytes_sent += size
                    lat = link.const
                    if lat is None:
                        pos = link.lpos
                        if pos >= len(link.lbuf):
                            link.refill()
                            pos = 0
                        lat = link.lbuf[pos]
                        link.lpos = pos + 1
                    t = now + lat
                    if k:
                        link.launch(t, size)
                    else:  # _Link.launch, its common case inlined
                        link.in_flight = 1
                        link.due = t
                        link.dsize = size
                        if not link.peak:
                            link.peak = 1
                    pend(_tnew(Message, (
                        t, seq, src, link.dst_id, payload, now, size, ls, 0,
                    )))  # fmt: skip
                    pend_t(t)
                    seq += stride
            finally:
                node.seq = seq
                node.emitted += fast
        return len(out)

    def poll(self) -> Message | None:
        """The next message already delivered (at or before :meth:`now`), or ``None``."""
        net = self._net
        node = self._node
        if node.state != _RUNNING:
            raise _Crashed
        if not node.inbox_len:
            wq = node.wq
            now = node.now
            while node.wpos < len(wq) and wq[node.wpos][0] <= now:
                ev = wq[node.wpos]
                node.wpos += 1
                if type(ev) is Message:
                    net._deliver(node, ev)
                elif ev[2] == _CRASH:
                    raise _Crashed
            if not node.inbox_len:
                return None
        return net._pop(node)

    async def recv(
        self, timeout: float | None = None, *, deadline: float | None = None
    ) -> Message | None:
        """Wait for the next message (per-sender round robin over the inbox).

        Parameters
        ----------
        timeout : float, optional
            Virtual seconds to wait at most; ``None`` waits forever.
        deadline : float, optional
            Absolute virtual time to wait until (instead of ``timeout``; exact, free of the
            rounding of ``now() + timeout``).

        Returns
        -------
        Message or None
            The message, or ``None`` when ``timeout`` expired first.
        """
        net = self._net
        node = self._node
        if node.inbox_len:
            return net._pop(node)
        if node.state != _RUNNING:
            raise _Crashed
        if deadline is not None:
            if timeout is not None:
                raise InvalidArgument("recv: give timeout or deadline, not both")
            deadline = max(float(deadline), node.now)
        elif timeout is None:
            deadline = _INF
        else:
            if not timeout >= 0:
                raise InvalidArgument(f"recv: timeout must be >= 0; got timeout={timeout!r}")
            deadline = node.now + timeout
        wq = node.wq
        pos = node.wpos
        while pos < len(wq):
            ev = wq[pos]
            t = ev[0]
            if t > deadline:
                break
            pos += 1
            node.wpos = pos
            if type(ev) is Message:
                node.now = t
                if net._plain:
                    # Fast path (no validator, no trace): the inbox is empty, so the message
                    # would enter it and leave at once; count it and hand it over (it counts
                    # delivered on its link since the router took it, see _Link).
                    node.received += 1
                    node.consumed += 1
                    if not node.peak:
                        node.peak = 1
                    return ev  # type: ignore[return-value]
                net._deliver(node, ev)
                if node.inbox_len:
                    return net._pop(node)
            elif ev[2] == _CRASH:
                node.now = t
                raise _Crashed
        if deadline <= net._wmax:
            node.now = deadline
            return None
        node.state = _RECV
        # Network._park, inlined (one coroutine frame less to resume on every wake).
        node.token += 1
        if deadline != _INF:
            net._pend.append((deadline, net._seq(node), _TIMER, node.idx, node.token))
            net._pend_t.append(deadline)
        net._running -= 1
        if net._running == 0 and net._router_parked:
            net._router_parked = False
            reschedule(net._router, _V_NONE)
        node.parked = True
        v = await _wait(node.trap)
        if v == _W_HANDOFF:
            m = node.handoff
            node.handoff = None
            node.consumed += 1
            return m
        if v == _W_MSG:
            return net._pop(node)
        if v == _W_TIMEOUT:
            return None
        raise _Crashed

    async def sleep(self, duration: float) -> None:
        """Let ``duration`` virtual seconds pass (messages keep arriving in the inbox)."""
        if not duration >= 0:
            raise InvalidArgument(f"sleep: duration must be >= 0; got duration={duration!r}")
        await self.sleep_until(self._node.now + duration)

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until virtual time ``deadline`` (returns at once if it has passed)."""
        net = self._net
        node = self._node
        if node.state != _RUNNING:
            raise _Crashed
        if deadline <= node.now:
            return
        wq = node.wq
        while node.wpos < len(wq):
            ev = wq[node.wpos]
            t = ev[0]
            if t > deadline:
                break
            node.wpos += 1
            if type(ev) is Message:
                net._deliver(node, ev)
            elif ev[2] == _CRASH:
                node.now = t
                raise _Crashed
        if deadline <= net._wmax:
            node.now = deadline
            return
        node.state = _SLEEP
        if await net._park(node, deadline) == _W_CRASH:
            raise _Crashed


Behaviour = Callable[[NodeContext], Awaitable[Any]]


class Network:
    """A deterministic, virtual-time emulation of a message-passing network over a networkx graph.

    Parameters
    ----------
    graph : networkx.Graph or networkx.DiGraph
        Nodes are the participants; an edge ``u - v`` (or ``u -> v``) lets ``u`` send to ``v``.
        Edge attributes ``latency``, ``bandwidth``, ``loss``, ``duplicate``, ``jitter``, ``fifo``
        (or ``link``, a :class:`LinkPolicy`) override ``link_policy`` for that edge.
    seed : int, numpy.random.SeedSequence or None
        Root of every random stream (links, nodes, policies). ``None`` draws fresh entropy
        (then readable from :attr:`seed`).
    link_policy : LinkPolicy, optional
        Default behaviour of links (default: zero latency, no loss).
    partitions : iterable of Partition
        Timed partitions.
    validator : callable, optional
        Default payload validator of receivers: ``validator(payload) -> bool`` (see
        :func:`array_validator`); rejected messages are dropped and counted as malformed.
    inbox_per_sender : int, optional
        How many messages of one sender an inbox holds before refusing more
        (default ``config.NETWORK_INBOX_PER_SENDER``). Inboxes are served round robin over
        senders, so a flooding sender is throttled and cannot starve the others.
    link_capacity : int, optional
        Messages in flight on one link before the sender is throttled
        (default ``config.NETWORK_LINK_CAPACITY``); bounds the router's memory.
    trace : None, True, path or text file
        Record every message reaching a receiver (:class:`TraceRecord`) as JSON lines in the file,
        or in memory (``True``: :attr:`RunResult.trace`).
    replay : path or sequence of TraceRecord, optional
        Re-run with the link outcomes (delivery times, losses, duplicates) of a recorded trace
        instead of drawing them; the run raises :class:`~p2pbyz.errors.ReplayError` if its own
        trace differs from the recorded one. Use the same graph, link latencies (the router's
        window depends on them), behaviours and seed (the node streams come from it); messages
        the original run lost or cut by a partition are counted as lost.

    Notes
    -----
    Complexity: ``O(log E)`` per message for the event heap, plus one trio task switch per node
    per window in which it has something to do. See the module docstring for why the result does
    not depend on trio's scheduling.

    Examples
    --------
    >>> import networkx as nx
    >>> from p2pbyz.network import Network, LinkPolicy
    >>> net = Network(nx.path_graph(3), seed=0, link_policy=LinkPolicy(latency=0.5))
    >>> async def ping(ctx):
    ...     if ctx.id == 0:
    ...         ctx.send(1, "ping")
    ...     elif ctx.id == 1:
    ...         msg = await ctx.recv()
    ...         return msg.src, msg.payload, ctx.now()
    >>> net.add_nodes(ping)
    >>> res = net.run()
    >>> res.returns[1]
    (0, 'ping', 0.5)
    >>> res.statistics.run.delivered
    1
    """

    def __init__(
        self,
        graph: nx.Graph,
        *,
        seed: int | np.random.SeedSequence | None = None,
        link_policy: LinkPolicy | None = None,
        partitions: Iterable[Partition] = (),
        validator: Callable[[Any], bool] | None = None,
        inbox_per_sender: int | None = None,
        link_capacity: int | None = None,
        trace: None | bool | str | os.PathLike[str] | IO[str] = None,
        replay: None | str | os.PathLike[str] | Iterable[TraceRecord] = None,
    ) -> None:
        if not isinstance(graph, nx.Graph):
            raise InvalidArgument(
                f"Network: graph must be a networkx Graph or DiGraph; got {type(graph).__name__}"
            )
        if graph.is_multigraph():
            raise InvalidArgument("Network: multigraphs are not supported; got a MultiGraph")
        if graph.number_of_nodes() == 0:
            raise InvalidArgument("Network: graph must have at least one node; got 0 nodes")
        self.graph = graph
        if isinstance(seed, np.random.SeedSequence):
            self._ss = seed
        elif seed is None or (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
            self._ss = np.random.SeedSequence(seed)
        else:
            raise InvalidArgument(
                f"Network: seed must be None, a non-negative int or a SeedSequence; got seed={seed!r}"
            )
        if link_policy is None:
            link_policy = LinkPolicy()
        if not isinstance(link_policy, LinkPolicy):
            raise InvalidArgument(
                f"Network: link_policy must be a LinkPolicy; got link_policy={link_policy!r}"
            )
        self.link_policy = link_policy
        self.partitions = tuple(partitions)
        for p in self.partitions:
            if not isinstance(p, Partition):
                raise InvalidArgument(f"Network: partitions must be Partition objects; got {p!r}")
        if validator is not None and not callable(validator):
            raise InvalidArgument(f"Network: validator must be callable; got {validator!r}")
        self.validator = validator
        cap = config.NETWORK_INBOX_PER_SENDER if inbox_per_sender is None else inbox_per_sender
        lcap = config.NETWORK_LINK_CAPACITY if link_capacity is None else link_capacity
        self._cap = check_int(cap, "inbox_per_sender", minimum=1, owner="Network")
        self._lcap = check_int(lcap, "link_capacity", minimum=1, owner="Network")
        self._small = int(config.NETWORK_SMALL_PAYLOAD_BYTES)
        self._directed = graph.is_directed()
        ids = list(graph.nodes)
        self._ids = ids
        self._index: dict[Hashable, int] = {v: i for i, v in enumerate(ids)}
        self._nodes = [_Node(i, v) for i, v in enumerate(ids)]
        for node in self._nodes:
            node.stride = len(ids) + 1
        idx = self._index
        for node in self._nodes:
            v = node.id
            out = tuple(graph.successors(v) if self._directed else graph.neighbors(v))
            node.out = out
            node.out_idx = tuple(idx[u] for u in out)
            node.in_ids = tuple(graph.predecessors(v)) if self._directed else out
            node.attrs = MappingProxyType(graph.nodes[v])
        self._link_overrides: dict[tuple[int, int], LinkPolicy] = {}
        self._crashes: list[tuple[int, Crash]] = []
        self._edge_policies: dict[tuple[int, int], LinkPolicy] = {}
        self._heap: list[tuple[Any, ...]] = []
        # Events emitted by nodes, not yet in the heap: the router merges them at the start of
        # the next window (see _next_window), usually without sifting them in one by one.
        self._pend: list[tuple[Any, ...]] = []
        # Their times, in the same order (appended with them). And the times of the heap's
        # entries in order while it is a sorted list (as _partition leaves it), else None: the
        # router then partitions without reading the entries (see _next_window).
        self._pend_t = array("d")
        self._heap_t: np.ndarray | None = None
        self._draws = _LinkDraws(self._ss, self._nodes)
        self._n = len(self._nodes)
        self._base = self._n  # next sequence number of the router's own events
        self._wmax = -_INF
        self._plain = False  # no validator and no trace: recv may skip the inbox
        self._running = 0
        self._router: Any = None
        self._router_trap: Any = None
        self._router_parked = False  # the router blocked in _wait, not yet rescheduled
        self._closing = False  # the router is cancelling the parked nodes at the run's end
        self._clock: Any = None
        self._t0_trio = 0.0
        self._vtime = 0.0
        self._events = self._windows = 0
        self._returns: dict[Hashable, Any] = {}
        self._started = False
        self._trace_spec = trace
        self._tbuf: list[TraceRecord] = []
        self._trace_on = trace is not None and trace is not False
        self._trace_mem: list[TraceRecord] | None = None
        self._trace_fh: IO[str] | None = None
        self._replay: dict[tuple[Hashable, Hashable, int], list[float]] | None = None
        self._replay_records: list[TraceRecord] | None = None
        if replay is not None:
            recs = read_trace(replay) if isinstance(replay, (str, os.PathLike)) else list(replay)
            self._replay_records = recs
            rmap: dict[tuple[Hashable, Hashable, int], list[tuple[int, float]]] = {}
            for r in recs:
                rmap.setdefault((r.src, r.dst, r.link_seq), []).append((r.copy, r.t))
            self._replay = {k: [t for _, t in sorted(v)] for k, v in rmap.items()}
            self._trace_on = True
        self.lookahead = self._compute_lookahead()

    # ------------------------------------------------------------------ configuration

    def __repr__(self) -> str:
        kind = "directed" if self._directed else "undirected"
        return (
            f"<Network {len(self._nodes)} nodes {kind}, now={self._vtime!r}, "
            f"in_flight={len(self._heap) + len(self._pend)}, lookahead={self.lookahead!r}>"
        )

    @property
    def seed(self) -> np.random.SeedSequence:
        """The root :class:`numpy.random.SeedSequence` (its ``entropy`` reproduces the run)."""
        return self._ss

    @property
    def now(self) -> float:
        """Virtual time reached by the router."""
        return self._vtime

    def _node_of(self, node_id: Hashable, what: str) -> _Node:
        i = self._index.get(node_id)
        if i is None:
            raise InvalidArgument(f"{what}: node {node_id!r} is not in the graph")
        return self._nodes[i]

    def _check_not_started(self, what: str) -> None:
        if self._started:
            raise InvalidArgument(f"{what}: the network has already run; build a new Network")

    def add_node(
        self,
        node_id: Hashable,
        behaviour: Behaviour,
        *,
        policies: NodePolicy | Iterable[NodePolicy] = (),
        validator: Callable[[Any], bool] | None = None,
        start_at: float = 0.0,
    ) -> None:
        """Give a graph node a behaviour (nodes without one are passive sinks).

        Parameters
        ----------
        node_id : hashable
            A node of the graph.
        behaviour : async callable
            ``async def behaviour(ctx: NodeContext) -> Any``; its return value lands in
            :attr:`RunResult.returns`.
        policies : NodePolicy or iterable of NodePolicy
            Byzantine network behaviours (:class:`Crash`, :class:`Omission`, :class:`Delay`,
            :class:`Equivocate`, :class:`Flood`, :class:`Malform`, :class:`Impersonate`), applied
            in order to every outgoing message.
        validator : callable, optional
            Payload validator of this node as a receiver (default: the network's).
        start_at : float
            Virtual time at which the behaviour starts.

        Raises
        ------
        InvalidArgument
            For an unknown node, a non-callable behaviour, bad policies, or after the run.
        """
        self._check_not_started("add_node")
        node = self._node_of(node_id, "add_node")
        if not callable(behaviour):
            raise InvalidArgument(
                f"add_node: behaviour of node {node_id!r} must be an async callable; "
                f"got {behaviour!r}"
            )
        if validator is not None and not callable(validator):
            raise InvalidArgument(f"add_node: validator must be callable; got {validator!r}")
        node.behaviour = behaviour
        node.policies = check_policies(policies, node_id)
        node.validator = validator
        node.start_at = check_real(start_at, "start_at", minimum=0.0, owner="add_node")
        node.state = _NEW

    def add_nodes(
        self,
        behaviour: Behaviour,
        nodes: Iterable[Hashable] | None = None,
        *,
        policies: NodePolicy | Iterable[NodePolicy] = (),
        validator: Callable[[Any], bool] | None = None,
    ) -> None:
        """:meth:`add_node` for each of ``nodes`` (default: every node of the graph)."""
        pols = check_policies(policies, "*")
        for v in self._ids if nodes is None else list(nodes):
            self.add_node(v, behaviour, policies=pols, validator=validator)

    def set_link(self, u: Hashable, v: Hashable, policy: LinkPolicy) -> None:
        """Override the policy of the directed link ``u -> v`` (both directions: call twice)."""
        self._check_not_started("set_link")
        a = self._node_of(u, "set_link")
        b = self._node_of(v, "set_link")
        if not self.graph.has_edge(u, v):
            raise InvalidArgument(f"set_link: no edge {u!r} -> {v!r} in the graph")
        if not isinstance(policy, LinkPolicy):
            raise InvalidArgument(f"set_link: policy must be a LinkPolicy; got {policy!r}")
        self._link_overrides[(a.idx, b.idx)] = policy
        self.lookahead = self._compute_lookahead()

    def partition(self, groups: Iterable[Iterable[Hashable]], start: float, end: float = _INF) -> None:
        """Add a timed :class:`Partition` of the nodes into ``groups`` during ``[start, end)``."""
        self._check_not_started("partition")
        self.partitions = self.partitions + (Partition(tuple(groups), start, end),)

    def crash(self, node_id: Hashable, at: float, recover_at: float | None = None) -> None:
        """Schedule a crash of ``node_id`` at ``at`` and its recovery at ``recover_at``."""
        self._check_not_started("crash")
        node = self._node_of(node_id, "crash")
        self._crashes.append((node.idx, Crash(at, recover_at)))

    # ------------------------------------------------------------------ links

    def _policy(self, i: int, j: int) -> LinkPolicy:
        key = (i, j)
        pol = self._link_overrides.get(key) if self._link_overrides else None
        if pol is not None:
            return pol
        pol = self._edge_policies.get(key) if self._edge_policies else None
        if pol is not None:
            return pol
        attrs = self.graph._adj[self._ids[i]][self._ids[j]]  # what graph.edges[u, v] returns
        if not attrs:  # from_attrs would return the default (the common case, made cheap)
            return self.link_policy
        return LinkPolicy.from_attrs(attrs, self.link_policy)

    def _compute_lookahead(self) -> float:
        """The smallest latency lower bound over all directed links (the router's window)."""
        lo = _INF
        idx = self._index
        default = self.link_policy
        cache: dict[tuple[int, int], LinkPolicy] = {}
        self._edge_policies = cache
        for u, v, attrs in self.graph.edges(data=True):
            i, j = idx[u], idx[v]
            pol = LinkPolicy.from_attrs(attrs, default)
            if pol is not default:
                cache[(i, j)] = pol
                if not self._directed:
                    cache[(j, i)] = pol
            lo = min(lo, self._policy(i, j).min_delay)
            if not self._directed:
                lo = min(lo, self._policy(j, i).min_delay)
        return float(default.min_delay if lo == _INF else lo)

    def _has_edge(self, node: _Node, j: int) -> bool:
        return self.graph.has_edge(node.id, self._ids[j])

    def _make_link(self, node: _Node, j: int) -> _Link:
        i = node.idx
        u, v = node.id, self._ids[j]
        cuts: tuple[tuple[float, float], ...] = ()
        if self.partitions:  # (the comprehension costs a call even over no partition)
            cuts = tuple([(p.start, p.end) for p in self.partitions if p.separates(u, v)])
        link = _Link(node, j, self._policy(i, j), self._draws, cuts, self._replay is not None)
        link.dst_id = v
        node.links[j] = link
        self._nodes[j].in_links[u] = link
        return link

    # ------------------------------------------------------------------ hot path: sending

    def _send(self, node: _Node, j: int, payload: Any, size: int | None) -> None:
        if node.state != _RUNNING:
            return  # a crashed node's finally-blocks cannot talk
        node.sent += 1
        if size is None:
            size = payload_size(payload, self._small)
        if not node.policies:
            self._emit(node, j, payload, size, 0.0)
            return
        outs = [Outgoing(self._ids[j], payload)]
        if node.prng is None:
            node.prng = _child_generator(self._node_seed(node), 1)
        for pol in node.policies:
            nxt: list[Outgoing] = []
            for o in outs:
                nxt.extend(pol.transform(o, node.now, node.prng))
            outs = nxt
        if not outs:
            node.omitted += 1
        for o in outs:
            if o.claim is not None and o.claim != node.id:
                node.imp += 1
                continue
            k = self._index.get(o.dst)
            if k is None or (k not in node.links and not self._has_edge(node, k)):
                raise InvalidArgument(
                    f"a policy of node {node.id!r} redirected a message to {o.dst!r}, which is "
                    f"not an out-neighbour"
                )
            psize = size if o.payload is payload else payload_size(o.payload, self._small)
            self._emit(node, k, o.payload, psize, o.delay)

    def _node_seed(self, node: _Node) -> np.random.SeedSequence:
        """The SeedSequence of ``node``'s streams (keyed ``(node domain, index)`` under the root),
        made on first use: most behaviours never draw, and at 10,000 nodes making them all
        up front costs a few tenths of a second."""
        ss = node.ss
        if ss is None:
            root = self._ss
            ss = node.ss = np.random.SeedSequence(
                root.entropy, spawn_key=tuple(root.spawn_key) + (_KEY_NODE, node.idx)
            )
        return ss

    @staticmethod
    def _seq(node: _Node) -> int:
        """The next sequence number of ``node`` (see the module docstring)."""
        seq = node.seq
        node.seq = seq + node.stride
        return seq

    def _emit(self, node: _Node, j: int, payload: Any, size: int, delay: float) -> None:
        link = node.links.get(j)
        if link is None:
            link = self._make_link(node, j)
        win = self._windows
        if (link.in_flight if link.win == win else link.settle(win, self._wmax)) >= self._lcap:
            link.throttled += 1
            node.throttled_out += 1
            return
        node.emitted += 1
        k = link.sent  # the message's link_seq
        link.sent = k + 1
        link.bytes_sent += size
        now = node.now
        if link.simple:
            lat = link.const
            if lat is None:
                pos = link.lpos
                if pos >= len(link.lbuf):
                    link.refill()
                    pos = 0
                lat = link.lbuf[pos]
                link.lpos = pos + 1
            t = now + delay + lat
            if link.in_flight:
                link.launch(t, size)
            else:  # _Link.launch, its common case inlined
                link.in_flight = 1
                link.due = t
                link.dsize = size
                if not link.peak:
                    link.peak = 1
            seq = node.seq
            node.seq = seq + node.stride
            self._pend.append(_tnew(Message, (
                t, seq, node.id, link.dst_id, payload, now, size, k, 0,
            )))  # fmt: skip
            self._pend_t.append(t)
            return
        if self._replay is not None:
            times = self._replay.get((node.id, self._ids[j], k))
            if times is None:
                link.lost += 1
                arrivals = []
            else:
                arrivals = [(c, d) for c, d in enumerate(times)]
        elif link.loss and link.uniform() < link.loss:
            link.lost += 1
            arrivals = []
        else:
            start = now + delay
            if link.bw is not None:
                if link.busy > start:
                    start = link.busy
                start += size / link.bw
                link.busy = start
            copies = 2 if link.dup and link.uniform() < link.dup else 1
            arrivals = []
            for c in range(copies):
                d = start + link.latency()
                if link.jitter:
                    d += link.jitter * link.uniform()
                if link.fifo:
                    if d < link.last:
                        d = link.last
                    link.last = d
                if any(ps <= d and now < pe for ps, pe in link.cuts):
                    link.partitioned += 1
                    continue
                arrivals.append((c, d))
        extra = len(arrivals) - 1  # copies launched beyond the message sent
        link.adj += extra
        link.bytes_adj += extra * size
        for c, d in arrivals:
            if c:
                link.duplicated += 1
            link.launch(d, size)
            self._pend.append(_tnew(Message, (
                d, self._seq(node), node.id, link.dst_id, payload, now, size, k, c,
            )))  # fmt: skip
            self._pend_t.append(d)

    # ------------------------------------------------------------------ hot path: receiving

    def _deliver(self, node: _Node, msg: Message) -> None:
        """Apply a message to its receiver: inbox, or throttle / malformed / undeliverable.

        The message counts delivered on its link since the router took it into the window (see
        _Link); a refused one is taken back off that count here."""
        link = node.in_links[msg[2]]
        event = "deliver"
        if node.state in _DEAD:
            link.undeliverable += 1
            link.adj -= 1
            link.bytes_adj -= msg[6]
            event = "undeliverable"
        else:
            val = node.validator if node.validator is not None else self.validator
            ok = True
            if val is not None:
                try:
                    ok = bool(val(msg[4]))
                except Exception:  # a validator that raises rejects the payload
                    ok = False
            if not ok:
                link.malformed += 1
                link.adj -= 1
                link.bytes_adj -= msg[6]
                node.malformed_in += 1
                self._nodes[link.src].malformed_out += 1
                event = "malformed"
            else:
                s = link.src
                q = node.inbox.get(s)
                if q is None:
                    q = node.inbox[s] = deque()
                if len(q) >= self._cap:
                    link.throttled += 1
                    link.adj -= 1
                    link.bytes_adj -= msg[6]
                    node.throttled_in += 1
                    self._nodes[s].throttled_out += 1
                    event = "throttle"
                else:
                    if not q:
                        node.rr.append(s)
                    q.append(msg)
                    n = node.inbox_len + 1
                    node.inbox_len = n
                    if n > node.peak:
                        node.peak = n
                    node.received += 1
                    if not self._trace_on:
                        return
        if self._trace_on:
            self._tbuf.append(
                TraceRecord(msg[0], msg[1], msg[2], msg[3], msg[5], msg[6], event, msg[7], msg[8])
            )

    def _pop(self, node: _Node) -> Message:
        s = node.rr.popleft()
        q = node.inbox[s]
        m = q.popleft()
        if q:
            node.rr.append(s)
        node.inbox_len -= 1
        node.consumed += 1
        return m

    def _clear_inbox(self, node: _Node) -> None:
        node.inbox.clear()
        node.rr.clear()
        node.inbox_len = 0

    # ------------------------------------------------------------------ task switching

    async def _park(self, node: _Node, deadline: float = _INF) -> int:
        """Block the calling node until the router resumes it; return the wake value."""
        node.token += 1
        if deadline != _INF:
            self._pend.append((deadline, self._seq(node), _TIMER, node.idx, node.token))
            self._pend_t.append(deadline)
        self._running -= 1
        if self._running == 0 and self._router_parked:
            self._router_parked = False
            reschedule(self._router, _V_NONE)
        node.parked = True
        return await _wait(node.trap)  # type: ignore[no-any-return]

    def _finish(self) -> None:
        self._running -= 1
        if self._running == 0 and self._router_parked:
            self._router_parked = False
            reschedule(self._router, _V_NONE)

    def _node_abort(self, node: _Node) -> Callable[[Any], Abort]:
        """The abort function of a node's parking: trio cancelling the node (a cancelled
        ``run_async``, or a failing node tearing the nursery down) resumes it itself, so the
        router must not, and the node runs again."""

        def abort(_: Any) -> Abort:
            node.parked = False
            if not self._closing:  # the run's own end keeps the states for the statistics
                if node.state == _RECV or node.state == _SLEEP:
                    node.state = _RUNNING
                self._running += 1
            return Abort.SUCCEEDED

        return abort

    def _router_abort(self, _: Any) -> Abort:
        self._router_parked = False
        return Abort.SUCCEEDED

    def _wake(self, node: _Node, value: int, t: float) -> None:
        if value != _W_CRASH:
            node.state = _RUNNING
        node.wake = value
        node.now = t
        node.wakes += 1

    def _drain_dead(self, node: _Node) -> bool:
        """Consume a crashed/finished node's window events; True if one of them recovers it."""
        wq = node.wq
        while node.wpos < len(wq):
            ev = wq[node.wpos]
            node.wpos += 1
            if type(ev) is Message:
                self._deliver(node, ev)
                continue
            kind = ev[2]
            if kind == _CRASH:
                if node.state == _DONE:
                    node.crashes += 1
            elif kind == _RECOVER and node.state == _CRASHED:
                node.now = ev[0]
                node.state = _RUNNING
                node.recoveries += 1
                return True
        return False

    def _do_crash(self, node: _Node) -> None:
        node.state = _CRASHED
        node.crashes += 1
        self._clear_inbox(node)

    async def _node_main(self, node: _Node) -> None:
        behaviour = node.behaviour
        assert behaviour is not None and node.ctx is not None
        node.task = current_task()
        node.trap = _trap(self._node_abort(node))
        v = await self._park(node)
        while True:
            if v == _W_CRASH:
                self._do_crash(node)
            else:
                if v == _W_RECOVER:
                    node.incarnation += 1
                try:
                    ret = await behaviour(node.ctx)
                except _Crashed:
                    self._do_crash(node)
                else:
                    node.state = _DONE
                    self._returns[node.id] = ret
                    self._drain_dead(node)
                    self._finish()
                    return
            if self._drain_dead(node):
                v = _W_RECOVER
            else:
                v = await self._park(node)

    def _advance_blocked(self, node: _Node, ev: tuple[Any, ...]) -> bool:
        """Apply one event to a node that is not running; True if the event resumes it."""
        st = node.state
        if type(ev) is Message:
            self._deliver(node, ev)  # type: ignore[arg-type]
            if st == _RECV and node.inbox_len:
                self._wake(node, _W_MSG, ev[0])
                return True
            return False
        kind = ev[2]
        if kind == _TIMER:
            if ev[4] == node.token and (st == _RECV or st == _SLEEP):
                self._wake(node, _W_TIMEOUT, ev[0])
                return True
        elif kind == _START:
            if st == _NEW:
                self._wake(node, _W_START, ev[0])
                return True
        elif kind == _CRASH:
            if st == _NEW or st == _RECV or st == _SLEEP:
                self._wake(node, _W_CRASH, ev[0])
                return True
            if st == _DONE:
                node.crashes += 1
        elif kind == _RECOVER:
            if st == _CRASHED:
                node.recoveries += 1
                self._wake(node, _W_RECOVER, ev[0])
                return True
        return False

    # ------------------------------------------------------------------ the router

    def _push(self, t: float, kind: int, j: int, data: Any) -> None:
        _push(self._heap, (t, self._base, kind, j, data))
        self._heap_t = None
        self._base += self._n + 1

    def _next_window(self, horizon: float) -> tuple[float, float, list[tuple[Any, ...]]] | None:
        """Merge the pending events into the heap and take the next window off it: its first
        event's time ``t0``, its end ``wmax`` and its events in ``(time, seq)`` order; ``None``
        (everything left queued) when the next event is later than ``horizon``."""
        heap = self._heap
        pend = self._pend
        pend_t = self._pend_t
        L = self.lookahead
        n = len(heap) + len(pend)
        if pend and n >= _BATCH_MIN:
            # Many new events (a wide lookahead, many nodes), or a window that is a sizeable part
            # of the queue: one pass over all the entries, which costs at most 9 reads per new
            # event (or per event of the window), instead of sifting each one in and popping the
            # window. The entries' times come from _pend_t and _heap_t, not from the entries
            # (scattered in memory: at 10,000 nodes, reading them is what costs).
            th = self._heap_t
            batch = 8 * len(pend) >= len(heap)
            if batch or th is not None:
                tp = np.array(pend_t, np.float64)
                if th is None:
                    th = np.fromiter(map(_TIME, heap), np.float64, len(heap))
                t = np.concatenate((th, tp))
                i = int(t.argmin())
                t0 = heap[i][0] if i < len(heap) else pend[i - len(heap)][0]
                wmax = t0 if L <= 0 else max(t0, math.nextafter(t0 + L, -_INF))
                if wmax > horizon:
                    wmax = horizon
                if not batch:  # the heap is sorted: its events in the window are a prefix
                    k = int(np.searchsorted(th, wmax, "right")) + int(np.count_nonzero(tp <= wmax))
                    batch = 8 * k >= n
            if batch:
                heap.extend(pend)
                pend.clear()
                del pend_t[:]
                if t0 > horizon:
                    heapq.heapify(heap)
                    self._heap_t = None
                    return None
                evs, self._heap_t = _partition(heap, t, wmax)
                return evs[0][0], wmax, evs  # the first event by (time, seq), as heap[0] would be
        for ev in pend:
            _push(heap, ev)
        pend.clear()
        del pend_t[:]
        self._heap_t = None
        t0 = heap[0][0]
        if t0 > horizon:
            return None
        wmax = t0 if L <= 0 else max(t0, math.nextafter(t0 + L, -_INF))
        if wmax > horizon:
            wmax = horizon
        return t0, wmax, _take_window(heap, wmax)

    def _write_trace(self) -> None:
        buf = self._tbuf
        if not buf:
            return
        buf.sort(key=lambda r: (r.t, r.seq))
        if self._trace_mem is not None:
            self._trace_mem.extend(buf)
        if self._trace_fh is not None:
            self._trace_fh.write("".join(dumps(r) + "\n" for r in buf))
        self._tbuf = []

    def _set_clock(self, t: float) -> None:
        clock = self._clock
        if clock is not None:
            dt = self._t0_trio + t - clock.current_time()
            if dt > 0:
                clock.jump(dt)

    async def run_async(self, until: float | None = None) -> RunResult:
        """Run the network inside an existing trio run (see :meth:`run`).

        Under a :class:`trio.testing.MockClock` the trio clock follows the router's virtual time;
        under any other clock, virtual time is the router's own and trio's clock is left alone.
        """
        self._check_not_started("run")
        horizon = _INF if until is None else check_real(until, "until", minimum=0.0, owner="run")
        self._started = True
        wall0 = time.perf_counter()
        clock = trio.lowlevel.current_clock()
        self._clock = clock if isinstance(clock, trio.testing.MockClock) else None
        self._t0_trio = trio.current_time()
        self._router = current_task()
        self._router_trap = _trap(self._router_abort)
        self._router_parked = False
        close_fh = False
        if self._trace_on:
            spec = self._trace_spec
            if spec is True or self._replay is not None:
                self._trace_mem = []
            if isinstance(spec, (str, os.PathLike)):
                self._trace_fh = open(spec, "w", encoding="utf-8")  # noqa: SIM115
                close_fh = True
            elif spec is not None and spec is not True and spec is not False:
                if not hasattr(spec, "write"):
                    raise InvalidArgument(
                        f"Network: trace must be None, True, a path or a text file; got {spec!r}"
                    )
                self._trace_fh = spec  # type: ignore[assignment]
        gc_old = gc.get_threshold()
        gc.set_threshold(max(gc_old[0], int(config.NETWORK_GC_GEN0)), *gc_old[1:])
        try:
            try:
                await self._route(horizon)
            finally:
                self._write_trace()
                if close_fh and self._trace_fh is not None:
                    self._trace_fh.close()
            # Still under the raised threshold: the snapshot allocates two objects per node and
            # per link, and at the default threshold their allocation would trigger full
            # collections over everything the run built (over a second at 10,000 nodes).
            stats = self.statistics()
        finally:
            gc.set_threshold(*gc_old)
        trace = tuple(self._trace_mem) if self._trace_mem is not None else None
        if self._replay_records is not None:
            self._check_replay(trace or ())
        return RunResult(
            statistics=stats,
            returns=MappingProxyType(dict(self._returns)),
            virtual_time=self._vtime,
            wall_time=time.perf_counter() - wall0,
            trace=trace,
        )

    def _check_replay(self, got: tuple[TraceRecord, ...]) -> None:
        assert self._replay_records is not None
        want = [r for r in self._replay_records if r.t <= self._vtime]
        want.sort(key=lambda r: (r.t, r.seq))
        for i, (a, b) in enumerate(zip(want, got)):
            if a != b:
                raise ReplayError(f"replay diverged at record {i}: recorded {a}, replayed {b}")
        if len(want) != len(got):
            raise ReplayError(
                f"replay diverged: the recorded trace has {len(want)} records up to "
                f"t={self._vtime!r}, the replay produced {len(got)}"
            )

    async def _route(self, horizon: float) -> None:
        nodes = self._nodes
        self._plain = (
            not self._trace_on
            and self.validator is None
            and all(n.validator is None for n in nodes)
        )
        byid = {n.id: n for n in nodes}
        plain = self._plain
        active = [n for n in nodes if n.state == _NEW]
        # Seed the heap: starts in node order, then scheduled crashes and recoveries.
        for node in active:
            node.ctx = NodeContext(self, node)
            self._push(node.start_at, _START, node.idx, None)
        scheduled = [(n.idx, p) for n in nodes for p in n.policies] + self._crashes
        for i, pol in scheduled:
            for t, what in pol.schedule():
                self._push(t, _CRASH if what == "crash" else _RECOVER, i, None)
        heap = self._heap
        advance = self._advance_blocked
        async with trio.open_nursery() as nursery:
            if active:
                self._running = len(active)
                for node in active:
                    nursery.start_soon(self._node_main, node)
                self._router_parked = True
                await _wait(self._router_trap)
            effective = self._vtime  # the last instant at which something happened
            pend = self._pend
            while heap or pend:
                window = self._next_window(horizon)
                if window is None:
                    break
                t0, wmax, evs = window
                self._wmax = wmax
                self._vtime = t0
                self._set_clock(t0)
                self._windows += 1
                win = self._windows
                woken: list[_Node] = []
                for ev in evs:
                    if type(ev) is Message:
                        # The message leaves its link here, and counts delivered, without the
                        # link being touched: its sender settles it (see _Link). _deliver takes
                        # back the few that the receiver refuses (dead, malformed, throttled)
                        # when it applies them, in its step of this window.
                        node = byid[ev[3]]
                        if node.rwin == win:
                            node.wq.append(ev)  # type: ignore[union-attr]
                            continue
                        if plain and node.state == _RECV and not node.inbox_len:
                            # The message wakes a receiver waiting on an empty inbox (no
                            # validator, no trace): hand it over past the inbox, counting what
                            # _deliver then _pop would (recv counts it consumed).
                            node.received += 1
                            if not node.peak:
                                node.peak = 1
                            node.handoff = ev  # type: ignore[assignment]
                            node.state = _RUNNING
                            node.wake = _W_HANDOFF
                            node.now = ev[0]
                            node.wakes += 1
                        elif not advance(node, ev):
                            continue
                    else:
                        node = nodes[ev[3]]
                        if node.rwin == win:
                            node.wq.append(ev)  # type: ignore[union-attr]
                            continue
                        if not advance(node, ev):
                            continue
                    node.rwin = win
                    node.wq = []
                    node.wpos = 0
                    woken.append(node)
                self._events += len(evs)
                # The run lasts until the last message routed (delivered, or traced undeliverable
                # to a finished node) and the last instant a node was resumed (its ``now``, at the
                # end); windows that only expire timers of finished nodes do not extend it. The
                # window's events are in time order: its last message is its latest.
                for ev in reversed(evs):
                    if type(ev) is Message:
                        effective = ev[0]
                        break
                else:
                    if woken:
                        effective = t0
                if woken:
                    self._running = len(woken)
                    # Resumed in index order (trio runs a batch in the order it was scheduled,
                    # or reversed): the nodes' objects were made in that order, so their memory
                    # is walked in sequence rather than at random (at 10,000 nodes, cache and TLB
                    # misses dominate). The order is not observable (see the module docstring).
                    if len(woken) > 64:
                        woken.sort(key=_IDX)
                    for node in woken:
                        if node.parked:  # else trio already resumed it to cancel it
                            node.parked = False
                            reschedule(node.task, _VALUES[node.wake])
                    self._router_parked = True
                    await _wait(self._router_trap)
                    for node in woken:
                        node.wq = ()  # type: ignore[assignment]
                        node.wpos = 0
                self._write_trace()
            if horizon != _INF:
                self._vtime = horizon
            else:
                self._vtime = max([effective] + [n.now for n in nodes if n.state != _PASSIVE])
            self._set_clock(self._vtime)
            self._closing = True
            nursery.cancel_scope.cancel()

    def run(self, until: float | None = None) -> RunResult:
        """Run the network under ``trio.run`` with a virtual clock.

        Parameters
        ----------
        until : float, optional
            Stop after virtual time ``until`` (events later than it stay unprocessed). ``None``
            runs until nothing is left to happen (every behaviour finished or blocked forever).

        Returns
        -------
        RunResult

        Raises
        ------
        Exception
            Whatever a behaviour raised (the run stops; the first error is re-raised as is).
        """
        clock = trio.testing.MockClock(autojump_threshold=0)
        try:
            return trio.run(self.run_async, until, clock=clock)
        except BaseExceptionGroup as eg:
            leaf = eg
            while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
                leaf = leaf.exceptions[0]
            if isinstance(leaf, BaseExceptionGroup):
                raise
            raise leaf from None

    # ------------------------------------------------------------------ observability

    def _link_stats(self, link: _Link) -> LinkStatistics:
        win = self._windows
        k = link.in_flight if link.win == win else link.settle(win, self._wmax)
        return _snapshot(
            LinkStatistics,
            src=self._ids[link.src], dst=self._ids[link.dst], sent=link.sent,
            delivered=link.sent + link.adj - k, lost=link.lost, partitioned=link.partitioned,
            duplicated=link.duplicated, throttled=link.throttled, malformed=link.malformed,
            undeliverable=link.undeliverable, bytes_sent=link.bytes_sent,
            bytes_delivered=link.bytes_sent + link.bytes_adj - link.bytes_in_flight(),
            in_flight=k, peak_in_flight=link.peak,
        )  # fmt: skip

    def _node_stats(self, n: _Node) -> NodeStatistics:
        return _snapshot(
            NodeStatistics,
            node=n.id, sent=n.sent, emitted=n.emitted, omitted=n.omitted, received=n.received,
            consumed=n.consumed, throttled_in=n.throttled_in, throttled_out=n.throttled_out,
            malformed_in=n.malformed_in, malformed_out=n.malformed_out,
            impersonation_attempts=n.imp, peak_inbox=n.peak, inbox=n.inbox_len, wakes=n.wakes,
            crashes=n.crashes, recoveries=n.recoveries, state=_STATE_NAMES[n.state],
        )  # fmt: skip

    def node_statistics(self, node_id: Hashable) -> NodeStatistics:
        """Snapshot of one node's counters."""
        return self._node_stats(self._node_of(node_id, "node_statistics"))

    def link_statistics(self, u: Hashable, v: Hashable) -> LinkStatistics:
        """Snapshot of the directed link ``u -> v`` (zeros if it never carried a message)."""
        a = self._node_of(u, "link_statistics")
        b = self._node_of(v, "link_statistics")
        link = a.links.get(b.idx)
        if link is None:
            if not self.graph.has_edge(u, v):
                raise InvalidArgument(f"link_statistics: no edge {u!r} -> {v!r} in the graph")
            return LinkStatistics(u, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return self._link_stats(link)

    def statistics(self) -> NetworkStatistics:
        """A frozen snapshot of every node, every used link and the run totals.

        Examples
        --------
        >>> import networkx as nx
        >>> Network(nx.complete_graph(2)).statistics().run.sent
        0
        """
        # One pass over the links (their records and the totals) and one over the nodes, the
        # records built by _snapshot: at 10,000 nodes the snapshot reads 60,000 links
        # scattered in memory, so they are read once.
        link_stats = self._link_stats
        links = {}
        sent = delivered = lost = partitioned = duplicated = throttled = malformed = 0
        undeliverable = in_flight = 0
        for n in self._nodes:
            for link in n.links.values():
                s = link_stats(link)
                links[(s.src, s.dst)] = s
                # The totals, summed over the links' counters (and their settled in-flight
                # counts, in the records).
                sent += link.sent
                delivered += s.delivered
                lost += link.lost
                partitioned += link.partitioned
                duplicated += link.duplicated
                throttled += link.throttled
                malformed += link.malformed
                undeliverable += link.undeliverable
                in_flight += s.in_flight
        tot = {
            "sent": sent, "delivered": delivered, "lost": lost, "partitioned": partitioned,
            "duplicated": duplicated, "throttled": throttled, "malformed": malformed,
            "undeliverable": undeliverable, "in_flight": in_flight,
        }  # fmt: skip
        # Throttling at a full link counts on the link too; nothing to add from nodes.
        node_stats = self._node_stats
        nodes = {n.id: node_stats(n) for n in self._nodes}
        run = RunStatistics(
            virtual_time=self._vtime,
            omitted=sum(n.omitted for n in self._nodes),
            impersonation_attempts=sum(n.imp for n in self._nodes),
            events=self._events,
            windows=self._windows,
            wakes=sum(n.wakes for n in self._nodes),
            lookahead=self.lookahead,
            **tot,
        )
        return NetworkStatistics(
            run=run, nodes=MappingProxyType(nodes), links=MappingProxyType(links)
        )
