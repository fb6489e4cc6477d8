"""Byzantine network behaviours: flooding, malformed payloads, impersonation, omission, delay,
equivocation; honest nodes keep exchanging their messages."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from p2pbyz.errors import InvalidArgument
from p2pbyz.network import (
    Delay,
    Equivocate,
    Flood,
    Impersonate,
    LinkPolicy,
    Malform,
    Network,
    Omission,
    array_validator,
    malformed_payload,
)

D = 4
ROUNDS = 5


def _honest(rounds=ROUNDS):
    async def behaviour(ctx):
        got = {}
        for r in range(rounds):
            ctx.broadcast({"round": r, "x": np.full(D, float(ctx.id))})
            await ctx.sleep(0.5)  # a slow consumer: messages pile up in the inbox meanwhile
            deadline = ctx.now() + 0.5
            while ctx.now() < deadline:
                m = await ctx.recv(timeout=deadline - ctx.now())
                if m is None:
                    break
                got.setdefault(m.src, set()).add(m.payload["round"])
        return got

    return behaviour


def _net(byz_policies, *, byz_behaviour=None, cap=8, validator=None):
    g = nx.complete_graph(6)
    net = Network(g, seed=1, link_policy=LinkPolicy(latency=0.01), inbox_per_sender=cap,
                  validator=validator)  # fmt: skip
    net.add_nodes(_honest(), nodes=range(1, 6))
    net.add_node(0, byz_behaviour or _honest(), policies=byz_policies)
    return net


def _assert_honest_complete(res):
    for v in range(1, 6):
        got = res.returns[v]
        for u in range(1, 6):
            if u != v:
                assert got[u] == set(range(ROUNDS)), (v, u)


def test_flooding_node_is_throttled_not_starving():
    """A node sending each message 500 times fills only its own inbox share; every honest
    message still arrives; the excess is counted as throttled."""
    res = _net(Flood(500)).run()
    _assert_honest_complete(res)
    st = res.statistics
    assert st.nodes[0].emitted == 500 * 5 * ROUNDS
    assert st.nodes[0].throttled_out > 0
    assert st.run.throttled == st.nodes[0].throttled_out
    for v in range(1, 6):
        assert st.nodes[v].peak_inbox <= 8 * 5  # bounded: cap per sender x senders
        assert st.nodes[v].throttled_in > 0


def test_flooding_bounded_by_link_capacity():
    g = nx.path_graph(2)
    net = Network(g, link_policy=LinkPolicy(latency=1.0), link_capacity=100)

    async def flood(ctx):
        for k in range(1000):
            ctx.send(1, k)

    net.add_node(0, flood)
    st = net.run().statistics
    assert st.links[(0, 1)].peak_in_flight == 100
    assert st.links[(0, 1)].throttled == 900


def test_malformed_node_is_dropped_and_counted():
    """With a validator, NaN / wrong shape / wrong dtype payloads never reach a behaviour."""
    arr_ok = array_validator((D,), np.float64, key="x")
    seen_bad = []

    def validator(p):
        ok = arr_ok(p)
        if not ok:
            seen_bad.append(type(p).__name__)
        return ok

    res = _net(Malform(fn=lambda p, rng: {"round": p["round"], "x": malformed_payload(p["x"], rng)}),
               validator=validator).run()  # fmt: skip
    _assert_honest_complete(res)
    st = res.statistics
    assert st.nodes[0].malformed_out == 5 * ROUNDS
    assert st.run.malformed == 5 * ROUNDS
    for v in range(1, 6):
        assert 0 not in res.returns[v]
        assert st.nodes[v].malformed_in == ROUNDS


def test_validator_that_raises_counts_as_malformed():
    def strict(p):
        raise TypeError("not a dict")

    res = _net((), validator=strict).run()
    assert res.statistics.run.delivered == 0
    assert res.statistics.run.malformed == 6 * 5 * ROUNDS


def test_impersonation_fails_and_is_counted():
    res = _net(Impersonate(claim=3)).run()
    _assert_honest_complete(res)
    st = res.statistics
    assert st.nodes[0].impersonation_attempts == 5 * ROUNDS
    assert st.run.impersonation_attempts == 5 * ROUNDS
    for v in range(1, 6):
        assert 0 not in res.returns[v]
        if v != 3:
            assert res.returns[v][3] == set(range(ROUNDS))  # only node 3's own messages


def test_sender_is_stamped_even_if_payload_lies():
    g = nx.path_graph(2)
    net = Network(g)

    async def liar(ctx):
        ctx.send(1, {"from": 1, "src": 1})

    async def rx(ctx):
        return (await ctx.recv()).src

    net.add_node(0, liar)
    net.add_node(1, rx)
    assert net.run().returns[1] == 0


def test_omission_partial_and_total():
    res = _net(Omission(1.0)).run()
    _assert_honest_complete(res)
    assert res.statistics.nodes[0].omitted == 5 * ROUNDS
    assert all(0 not in res.returns[v] for v in range(1, 6))
    res = _net(Omission(1.0, targets=[1, 2])).run()
    assert 0 not in res.returns[1] and 0 not in res.returns[2]
    assert res.returns[3][0] == set(range(ROUNDS))


def test_delay_policy_adds_latency():
    g = nx.path_graph(2)
    net = Network(g, link_policy=LinkPolicy(latency=0.1))

    async def a(ctx):
        ctx.send(1, "x")

    async def b(ctx):
        return (await ctx.recv()).deliver_at

    net.add_node(0, a, policies=[Delay(2.0)])
    net.add_node(1, b)
    assert net.run().returns[1] == pytest.approx(2.1)


def test_equivocation_sends_different_payloads():
    g = nx.star_graph(4)
    net = Network(g, seed=0)

    async def center(ctx):
        ctx.broadcast(1.0)

    async def leaf(ctx):
        return (await ctx.recv()).payload

    net.add_node(0, center, policies=[Equivocate(lambda dst, p, rng: p * dst)])
    net.add_nodes(leaf, nodes=[1, 2, 3, 4])
    res = net.run()
    assert [res.returns[v] for v in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, 4.0]


def test_policy_errors():
    with pytest.raises(InvalidArgument, match=r"^Flood: factor must be >= 1; got factor=0$"):
        Flood(0)
    with pytest.raises(InvalidArgument, match=r"^Omission: p must be <= 1.0; got p=1.5$"):
        Omission(1.5)
    with pytest.raises(InvalidArgument, match=r"^policies of node 0 must be NodePolicy objects"):
        Network(nx.path_graph(2)).add_node(0, _honest(), policies=["crash"])
