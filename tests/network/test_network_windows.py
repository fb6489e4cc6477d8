"""The router's windows: whichever way Network._next_window takes them (popping the heap, or
partitioning it with the times of the pending events and, while the heap is a sorted list, of its
own), a window is every queued event up to its end, in (time, seq) order."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from p2pbyz.network import Network
from p2pbyz.network._runtime import _TIMER


def _queue(net: Network, events: list[tuple[float, int]]) -> None:
    for t, seq in events:
        net._pend.append((t, seq, _TIMER, 0, 0))
        net._pend_t.append(t)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("lookahead", [0.0, 0.01])
def test_windows_are_the_queued_events_up_to_their_end(ties: bool, lookahead: float) -> None:
    rng = np.random.default_rng(7)
    net = Network(nx.path_graph(2))
    net.lookahead = lookahead
    queued: list[tuple[float, int]] = []
    seq = 0
    now = 0.0
    sorted_heaps = 0
    for step in range(60):
        # Batches of every size against the heap's: many new events, a few (into a large sorted
        # heap), none.
        k = int(rng.choice([0, 3, 40, 700, 3000]))
        ts = now + (rng.integers(0, 50, k) / 1000.0 if ties else rng.uniform(0.0, 0.05, k))
        new = [(float(t), seq + i) for i, t in enumerate(ts)]
        seq += k
        _queue(net, new)
        queued += new
        if not queued:
            continue
        horizon = math.inf if step % 7 else now + 0.002
        got = net._next_window(horizon)
        queued.sort()
        t0 = queued[0][0]
        if t0 > horizon:
            assert got is None
        else:
            assert got is not None
            wmax = t0 if lookahead <= 0 else max(t0, math.nextafter(t0 + lookahead, -math.inf))
            wmax = min(wmax, horizon)
            want = [e for e in queued if e[0] <= wmax]
            queued = queued[len(want) :]
            assert (got[0], got[1]) == (t0, wmax)
            assert [(ev[0], ev[1]) for ev in got[2]] == want
            now = t0
        heap = net._heap
        assert len(net._pend) == len(net._pend_t) == 0
        assert sorted((ev[0], ev[1]) for ev in heap) == queued
        assert all(heap[(i - 1) // 2][:2] <= heap[i][:2] for i in range(1, len(heap)))
        if net._heap_t is not None:
            sorted_heaps += 1
            assert [(ev[0], ev[1]) for ev in heap] == queued
            assert net._heap_t.tolist() == [t for t, _ in queued]
    if not ties:
        assert sorted_heaps > 0
