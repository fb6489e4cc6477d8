"""A 1000-node network exchanging messages for 100 rounds on a sparse graph completes quickly."""

from __future__ import annotations

import time

import networkx as nx

from p2pbyz.network import LinkPolicy, Network, Uniform


def test_1000_nodes_100_rounds():
    n, deg, rounds = 1000, 4, 100
    g = nx.random_regular_graph(deg, n, seed=0)
    net = Network(g, seed=0, link_policy=LinkPolicy(latency=Uniform(0.01, 0.02)))

    async def behaviour(ctx):
        acc = 0
        for r in range(rounds):
            ctx.broadcast(r)
            for _ in range(deg):
                acc += (await ctx.recv()).payload
        return acc

    net.add_nodes(behaviour)
    t = time.perf_counter()
    res = net.run()
    wall = time.perf_counter() - t
    assert res.statistics.run.delivered == n * deg * rounds
    assert all(v == deg * sum(range(rounds)) for v in res.returns.values())
    assert len(res.returns) == n
    print(f"1000 nodes x 100 rounds: {n * deg * rounds} messages in {wall:.2f} s")
