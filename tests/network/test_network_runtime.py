"""The runtime: determinism, latency/bandwidth/loss/duplication, partitions, crashes, recv/sleep
semantics, statistics, traces and replay, argument errors."""

from __future__ import annotations

import dataclasses
import io
import math
import random

import networkx as nx
import numpy as np
import pytest
import trio

from p2pbyz.errors import InvalidArgument, ReplayError
from p2pbyz.network import (
    Constant,
    Exponential,
    LinkPolicy,
    LogNormal,
    Network,
    Normal,
    Partition,
    Uniform,
    read_trace,
)


def _gossip_net(seed, *, trace=None, n=12, rounds=4, policy=None):
    g = nx.random_regular_graph(4, n, seed=3)
    pol = policy or LinkPolicy(latency=Uniform(0.01, 0.05), loss=0.1, duplicate=0.1, jitter=0.01)
    net = Network(g, seed=seed, link_policy=pol, trace=trace)

    async def behaviour(ctx):
        total = 0.0
        for r in range(rounds):
            ctx.broadcast(float(ctx.rng.normal()))
            while True:
                m = await ctx.recv(timeout=0.05)
                if m is None:
                    break
                total += m.payload
        return total

    net.add_nodes(behaviour)
    return net


def _trace_text(seed, **kw):
    buf = io.StringIO()
    res = _gossip_net(seed, trace=buf, **kw).run()
    return buf.getvalue(), res


def test_same_seed_same_trace_bytes():
    """Two runs with the same seed write byte-identical JSON-lines traces and results."""
    a, ra = _trace_text(7)
    b, rb = _trace_text(7)
    assert a == b
    assert len(a.splitlines()) > 50
    assert dict(ra.returns) == dict(rb.returns)
    assert ra.statistics == rb.statistics


def test_different_seeds_differ():
    a, _ = _trace_text(7)
    b, _ = _trace_text(8)
    assert a != b


def test_trace_file_roundtrip(tmp_path):
    path = tmp_path / "t.jsonl"
    res = _gossip_net(1, trace=str(path)).run()
    recs = read_trace(path)
    assert len(recs) == len(path.read_text(encoding="utf-8").splitlines())
    keys = [(r.t, r.seq) for r in recs]
    assert keys == sorted(keys)
    assert len({r.seq for r in recs}) == len(recs)
    assert sum(r.event == "deliver" for r in recs) == res.statistics.run.delivered


def test_global_rng_untouched():
    random.seed(5)
    np.random.seed(5)
    before = (random.random(), np.random.random())
    random.seed(5)
    np.random.seed(5)
    _gossip_net(3).run()
    assert (random.random(), np.random.random()) == before


def test_replay_reproduces_and_detects_divergence():
    res = _gossip_net(11, trace=True).run()
    rep = _gossip_net(12, trace=None)  # another seed: the link outcomes come from the trace
    rep._replay = None  # rebuilt below through the public argument
    again = Network(rep.graph, seed=11, replay=res.trace,
                    link_policy=LinkPolicy(latency=Uniform(0.01, 0.05)))  # fmt: skip

    async def same(ctx):  # same behaviour as _gossip_net's, same node streams (seed 11)
        total = 0.0
        for _ in range(4):
            ctx.broadcast(float(ctx.rng.normal()))
            while True:
                m = await ctx.recv(timeout=0.05)
                if m is None:
                    break
                total += m.payload
        return total

    again.add_nodes(same)
    out = again.run()
    assert out.trace == res.trace
    assert dict(out.returns) == dict(res.returns)

    other = Network(rep.graph, seed=11, replay=res.trace,
                    link_policy=LinkPolicy(latency=Uniform(0.01, 0.05)))  # fmt: skip

    async def different(ctx):
        ctx.broadcast(0.0)
        await ctx.sleep(1.0)

    other.add_nodes(different)
    with pytest.raises(ReplayError, match=r"^replay diverged"):
        other.run()


@pytest.mark.parametrize(
    "latency",
    [Constant(0.02), Uniform(0.01, 0.03), Normal(0.02, 0.01), LogNormal(-4.0, 0.5, offset=0.001),
     Exponential(0.01, offset=0.005)],  # fmt: skip
)
def test_latency_lower_bound_and_delivery_time(latency):
    """No message is delivered before sent_at + the latency's minimum; receivers see it at
    deliver_at exactly; the lookahead is that minimum."""
    g = nx.complete_graph(5)
    net = Network(g, seed=2, link_policy=LinkPolicy(latency=latency))
    assert net.lookahead == latency.minimum
    seen = []

    async def behaviour(ctx):
        for _ in range(5):
            ctx.broadcast(ctx.id)
            await ctx.sleep(0.01)
        while True:
            m = await ctx.recv(timeout=1.0)
            if m is None:
                return
            seen.append((ctx.now(), m))

    net.add_nodes(behaviour)
    res = net.run()
    assert res.statistics.run.delivered == 5 * 4 * 5 == len(seen)
    for now, m in seen:
        assert m.deliver_at >= m.sent_at + latency.minimum
        assert now >= m.deliver_at
        assert m.src == m.payload


def test_constant_latency_exact_and_recv_timeout():
    g = nx.path_graph(2)
    net = Network(g, link_policy=LinkPolicy(latency=0.25))
    log = []

    async def a(ctx):
        await ctx.sleep(1.0)
        ctx.send(1, "x")

    async def b(ctx):
        m = await ctx.recv(timeout=0.5)
        log.append(("timeout", ctx.now(), m))
        m = await ctx.recv()
        log.append(("got", ctx.now(), m.payload, m.sent_at, m.deliver_at))
        m = await ctx.recv(timeout=0.1)
        log.append(("timeout", ctx.now(), m))

    net.add_node(0, a)
    net.add_node(1, b)
    res = net.run()
    assert log == [("timeout", 0.5, None), ("got", 1.25, "x", 1.0, 1.25), ("timeout", 1.35, None)]
    assert res.virtual_time == 1.35


def test_bandwidth_queues_messages():
    """Size / bandwidth delays each message and the link serialises them."""
    g = nx.path_graph(2)
    net = Network(g, link_policy=LinkPolicy(latency=0.1, bandwidth=800.0))
    times = []

    async def a(ctx):
        ctx.send(1, np.zeros(100))  # 800 bytes: 1 s on the wire
        ctx.send(1, b"x" * 400)  # 0.5 s, after the first

    async def b(ctx):
        for _ in range(2):
            m = await ctx.recv()
            times.append((m.size, m.deliver_at))

    net.add_node(0, a)
    net.add_node(1, b)
    net.run()
    assert times == [(800, 1.1), (400, 1.6)]


def test_fifo_and_jitter():
    g = nx.path_graph(2)

    def order(fifo):
        net = Network(g, seed=4, link_policy=LinkPolicy(latency=Uniform(0.0, 0.1), jitter=0.1,
                                                         fifo=fifo))  # fmt: skip
        got = []

        async def a(ctx):
            for k in range(50):
                ctx.send(1, k)
                await ctx.sleep(0.001)

        async def b(ctx):
            for _ in range(50):
                got.append((await ctx.recv()).payload)

        net.add_node(0, a)
        net.add_node(1, b)
        net.run()
        return got

    assert order(True) == list(range(50))
    assert sorted(order(False)) == list(range(50)) and order(False) != list(range(50))


def test_loss_and_duplication_counted():
    g = nx.path_graph(2)
    net = Network(g, seed=9, link_policy=LinkPolicy(latency=0.01, loss=0.3, duplicate=0.5))
    got = []

    async def a(ctx):
        for k in range(400):
            ctx.send(1, k)

    async def b(ctx):
        while True:
            got.append((await ctx.recv()).payload)

    net.add_node(0, a)
    net.add_node(1, b)
    st = net.run().statistics
    link = st.links[(0, 1)]
    assert link.sent == 400
    assert 80 < link.lost < 160
    assert link.duplicated > 50
    assert link.delivered == len(got) == 400 - link.lost + link.duplicated
    counts = np.bincount(got)
    assert counts.max() == 2
    assert st.run.in_flight == 0


def test_partition_blocks_and_heals():
    g = nx.complete_graph(4)
    part = Partition([[0, 1], [2, 3]], start=1.0, end=2.0)
    net = Network(g, link_policy=LinkPolicy(latency=0.1), partitions=[part])
    got = {v: [] for v in g}

    async def behaviour(ctx):
        for t in (0.0, 0.95, 1.5, 2.5):
            await ctx.sleep_until(t)
            ctx.broadcast((ctx.id, t))
        while True:
            m = await ctx.recv()
            got[ctx.id].append(m)

    net.add_nodes(behaviour)
    st = net.run().statistics
    for v, msgs in got.items():
        for m in msgs:
            if part.separates(m.src, m.dst):
                assert m.deliver_at < 1.0 or m.sent_at >= 2.0
        across = {m.payload[1] for m in msgs if part.separates(m.src, v)}
        assert across == {0.0, 2.5}  # 0.95 was in flight at 1.0: lost; 1.5: cut
        same = {m.payload[1] for m in msgs if not part.separates(m.src, v)}
        assert same == {0.0, 0.95, 1.5, 2.5}
    assert st.run.partitioned == 2 * 4 * 2


def test_crash_and_recovery():
    g = nx.path_graph(2)
    net = Network(g, link_policy=LinkPolicy(latency=0.1))
    net.crash(1, at=1.0, recover_at=2.0)
    log = []

    async def sender(ctx):
        for k in range(30):
            ctx.send(1, k)
            await ctx.sleep(0.1)

    async def receiver(ctx):
        log.append(("start", ctx.incarnation, ctx.now()))
        while True:
            m = await ctx.recv()
            log.append((ctx.incarnation, m.payload))

    net.add_node(0, sender)
    net.add_node(1, receiver)
    res = net.run()
    assert log[0] == ("start", 0, 0.0)
    assert ("start", 1, 2.0) in log
    inc0 = [e[1] for e in log if e[0] == 0]
    inc1 = [e[1] for e in log if e[0] == 1]
    assert max(inc0) < 10 and min(inc1) > 18
    st = res.statistics
    assert st.nodes[1].crashes == 1 and st.nodes[1].recoveries == 1
    assert st.links[(0, 1)].undeliverable >= 9


def test_directed_graph_and_non_neighbour():
    g = nx.DiGraph([(0, 1), (1, 2)])
    net = Network(g, link_policy=LinkPolicy(latency=0.1))
    errors = []

    async def behaviour(ctx):
        assert ctx.id != 1 or (ctx.neighbours, ctx.in_neighbours) == ((2,), (0,))
        if ctx.id == 1:
            try:
                ctx.send(0, "back")
            except InvalidArgument as exc:
                errors.append(str(exc))

    net.add_nodes(behaviour)
    net.run()
    assert errors == ["node 1 cannot send to 0: no edge 1 -> 0 in the graph"]


def test_node_error_propagates():
    net = Network(nx.path_graph(2))

    async def bad(ctx):
        raise RuntimeError("boom")

    net.add_node(0, bad)
    with pytest.raises(RuntimeError, match="^boom$"):
        net.run()


def test_until_stops_and_statistics_frozen():
    net = Network(nx.cycle_graph(3), link_policy=LinkPolicy(latency=0.1))

    async def chatter(ctx):
        while True:
            ctx.broadcast(1)
            await ctx.sleep(0.1)

    net.add_nodes(chatter)
    res = net.run(until=1.0)
    assert res.virtual_time == 1.0
    st = res.statistics
    assert st.run.virtual_time == 1.0
    assert st.run.sent == 3 * 2 * 11
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.run.sent = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        st.nodes[0] = None  # type: ignore[index]
    assert net.node_statistics(0).sent == 22
    assert net.link_statistics(0, 1).sent == 11
    assert "Network 3 nodes" in repr(net)


async def test_run_async_under_mock_clock(autojump_clock):
    """Inside a trio run with a MockClock, trio's clock follows virtual time; no wall sleep."""
    net = Network(nx.path_graph(2), link_policy=LinkPolicy(latency=5.0))

    async def a(ctx):
        ctx.send(1, "hi")

    async def b(ctx):
        m = await ctx.recv()
        return ctx.now(), m.payload

    net.add_node(0, a)
    net.add_node(1, b)
    t0 = trio.current_time()
    res = await net.run_async()
    assert res.returns[1] == (5.0, "hi")
    assert trio.current_time() - t0 == pytest.approx(5.0)


async def test_run_async_cancelled_from_outside():
    """A scope around ``run_async`` cancelled while nodes are parked (and while the router has
    nodes to resume): the run ends with trio's Cancelled, caught by the scope, and nothing is
    resumed twice (this used to fail inside trio's ``reschedule``)."""

    async def chatter(ctx):  # every message received is answered once: constant traffic
        ctx.broadcast(1)
        while True:
            m = await ctx.recv()
            ctx.send(m.src, 1)

    for steps in (1, 7, 40, 200):
        net = Network(nx.cycle_graph(5), seed=0, link_policy=LinkPolicy(latency=0.1))
        net.add_nodes(chatter)
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as cs:

                async def cancel_soon(cs=cs, steps=steps):
                    for _ in range(steps):
                        await trio.lowlevel.checkpoint()
                    cs.cancel()

                nursery.start_soon(cancel_soon)
                await net.run_async()
        assert cs.cancelled_caught


def test_virtual_time_covers_messages_to_finished_nodes_and_replays():
    """Messages still routed after their receivers finished are traced (undeliverable): the run's
    virtual time reaches the last of them, and replaying the trace reproduces it."""
    g = nx.random_regular_graph(4, 40, seed=1)
    pol = LinkPolicy(latency=Exponential(0.01, offset=0.002))

    async def gossip(ctx):
        for r in range(6):
            ctx.broadcast((ctx.id, r))
            for _ in range(len(ctx.neighbours)):
                await ctx.recv(timeout=0.02)

    net = Network(g, seed=7, link_policy=pol, trace=True)
    net.add_nodes(gossip)
    res = net.run()
    assert res.statistics.run.undeliverable > 0
    assert max(r.t for r in res.trace) == res.virtual_time
    again = Network(g, seed=7, link_policy=pol, replay=res.trace)
    again.add_nodes(gossip)
    out = again.run()
    assert out.trace == res.trace and out.virtual_time == res.virtual_time


@pytest.fixture
def autojump_clock():
    return trio.testing.MockClock(autojump_threshold=0)


def test_argument_errors():
    g = nx.path_graph(2)
    with pytest.raises(InvalidArgument, match=r"^Network: graph must be a networkx Graph"):
        Network("nope")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"^Network: seed must be None"):
        Network(g, seed=-1)
    with pytest.raises(InvalidArgument, match=r"^add_node: node 7 is not in the graph$"):
        Network(g).add_node(7, lambda ctx: None)
    with pytest.raises(InvalidArgument, match=r"^LinkPolicy: loss must be <= 1.0; got loss=2$"):
        LinkPolicy(loss=2)
    with pytest.raises(InvalidArgument, match=r"^latency: 'dist' must be one of"):
        LinkPolicy(latency={"dist": "pareto"})
    with pytest.raises(InvalidArgument, match=r"^Partition: end must be > start"):
        Partition([[0]], start=2.0, end=1.0)
    net = Network(g)
    net.run()
    with pytest.raises(InvalidArgument, match=r"^run: the network has already run"):
        net.run()


def test_edge_attributes_set_links():
    g = nx.path_graph(3)
    g.edges[0, 1]["latency"] = {"dist": "constant", "value": 0.5}
    g.edges[1, 2]["latency"] = 0.2
    net = Network(g, link_policy=LinkPolicy(latency=1.0))
    assert net.lookahead == 0.2
    got = {}

    async def b(ctx):
        if ctx.id == 1:
            ctx.broadcast("x")
        else:
            got[ctx.id] = (await ctx.recv()).deliver_at

    net.add_nodes(b)
    net.run()
    assert got == {0: 0.5, 2: 0.2}
    assert math.isinf(Partition([[0]], start=0.0).end)


def test_trace_independent_of_trio_task_order(monkeypatch):
    """Shuffle trio's run batches with different scheduler seeds: the trace does not change.

    Uses trio's own hook for deterministic scheduling (``_ALLOW_DETERMINISTIC_SCHEDULING`` and
    its private ``_r``), the one trio's tests use, to force genuinely different task orders.
    """
    from trio._core import _run

    if not hasattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING") or not hasattr(_run, "_r"):
        pytest.skip("this trio has no deterministic-scheduling hook")
    monkeypatch.setattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING", True)
    traces = set()
    for sched_seed in range(4):
        _run._r.seed(sched_seed)
        traces.add(_trace_text(5, n=16, rounds=3)[0])
    assert len(traces) == 1


def test_recv_deadline_and_errors():
    net = Network(nx.path_graph(2))
    out = []

    async def b(ctx):
        out.append((await ctx.recv(deadline=0.3), ctx.now()))
        try:
            await ctx.recv(timeout=1.0, deadline=2.0)
        except InvalidArgument as exc:
            out.append(str(exc))
        try:
            await ctx.sleep(-1.0)
        except InvalidArgument as exc:
            out.append(str(exc))

    net.add_node(1, b)
    net.run()
    assert out == [
        (None, 0.3),
        "recv: give timeout or deadline, not both",
        "sleep: duration must be >= 0; got duration=-1.0",
    ]
