"""Link counters read mid-run are exact: a message is in flight exactly while it waits in the
router's queue (heap or pending events), and the per-link capacity throttles a send exactly when
that count has reached it, whatever the lookahead (zero, or too small to move a window's end)."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import pytest

from p2pbyz.network import Constant, LinkPolicy, Message, Network, Uniform

CAP = 3


def _queued(net):
    """(count, bytes) of the messages of each link waiting in the router's queue."""
    n, b = Counter(), Counter()
    for ev in [*net._heap, *net._pend]:
        if type(ev) is Message:
            n[ev.src, ev.dst] += 1
            b[ev.src, ev.dst] += ev.size
    return n, b


def _check_all(net, lossy):
    n, b = _queued(net)
    st = net.statistics()
    for key, ls in st.links.items():
        assert ls.in_flight == n[key], key
        launched = ls.sent - ls.lost + ls.duplicated  # no partitions, no refusals here
        assert ls.delivered == launched - n[key], key
        if not lossy:
            assert ls.bytes_delivered == ls.bytes_sent - b[key], key
    assert st.run.in_flight == sum(n.values())
    assert st.run.delivered == sum(ls.delivered for ls in st.links.values())


def _send(net, ctx, v, payload):
    """Send on ctx.id -> v, checking the capacity and the peak against the router's queue."""
    before = net.link_statistics(ctx.id, v)
    queued = _queued(net)[0][ctx.id, v]
    assert before.in_flight == queued
    ctx.send(v, payload)
    after = net.link_statistics(ctx.id, v)
    if queued >= CAP:
        assert (after.sent, after.throttled) == (before.sent, before.throttled + 1)
    else:
        assert after.sent == before.sent + 1
        assert after.throttled == before.throttled
        assert after.peak_in_flight == max(before.peak_in_flight, after.in_flight)


@pytest.mark.parametrize(
    "policy, start",
    [
        (LinkPolicy(latency=Uniform(0.01, 0.03)), 0.0),
        (LinkPolicy(latency=Constant(0.01)), 0.0),
        (LinkPolicy(latency=Constant(0.0)), 0.0),  # zero lookahead: windows at one instant
        (LinkPolicy(latency=Uniform(1e-18, 3e-17)), 1.0),  # 1.0 + lookahead == 1.0
        (LinkPolicy(latency=Uniform(0.005, 0.03), loss=0.2, duplicate=0.3, jitter=0.01), 0.0),
    ],
)
def test_mid_run_link_counts_match_the_router_queue(policy, start):
    g = nx.random_regular_graph(3, 10, seed=1)
    net = Network(g, seed=5, link_policy=policy, link_capacity=CAP, inbox_per_sender=1000)
    lossy = bool(policy.loss or policy.duplicate)

    async def beh(ctx):
        if start:
            await ctx.sleep(start)
        for r in range(4):
            for i in range(3):
                for v in ctx.neighbours:
                    _send(net, ctx, v, (ctx.id, r, i) if i % 2 else b"x" * (r + i))
                _check_all(net, lossy)
            ctx.broadcast((ctx.id, r))
            _check_all(net, lossy)
            for _ in range(5):
                await ctx.recv(timeout=0.004)
                _check_all(net, lossy)
        await ctx.sleep(1.0)  # (nothing is refused: every message finds its receiver running)
        _check_all(net, lossy)

    net.add_nodes(beh)
    res = net.run()
    st = res.statistics
    assert st.run.in_flight == 0
    assert any(ls.throttled for ls in st.links.values())
    assert max(ls.peak_in_flight for ls in st.links.values()) >= 2
    for ls in st.links.values():
        assert ls.delivered == ls.sent - ls.lost + ls.duplicated
        assert ls.peak_in_flight <= CAP + (1 if lossy else 0)
