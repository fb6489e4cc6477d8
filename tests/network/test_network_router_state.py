"""A hypothesis state machine of the router: sends, partitions, loss and duplication are
accumulated by rules, then the network runs and the invariants are checked on what arrived."""

from __future__ import annotations

import networkx as nx
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from p2pbyz.network import Constant, Exponential, LinkPolicy, Network, Partition, Uniform

N = 5
LATENCIES = [Constant(0.1), Uniform(0.05, 0.2), Exponential(0.05, offset=0.02), Constant(0.0)]


class RouterMachine(RuleBasedStateMachine):
    @initialize(
        lat=st.sampled_from(LATENCIES),
        directed=st.booleans(),
        graph_seed=st.integers(0, 100),
        seed=st.integers(0, 2**32 - 1),
    )
    def setup(self, lat, directed, graph_seed, seed):
        g = nx.gnp_random_graph(N, 0.6, seed=graph_seed, directed=directed)
        self.graph = g
        self.latency = lat
        self.seed = seed
        self.sends = {v: [] for v in g}
        self.partitions = []
        self.loss = 0.0
        self.dup = 0.0
        self.count = 0

    @rule(data=st.data(), t=st.floats(0.0, 3.0, allow_nan=False))
    def send(self, data, t):
        edges = list(self.graph.edges())
        if not edges:
            return
        u, v = data.draw(st.sampled_from(edges))
        self.sends[u].append((round(t, 3), self.count, v))
        self.count += 1

    @rule(data=st.data(), start=st.floats(0.0, 3.0), length=st.floats(0.01, 2.0))
    def partition(self, data, start, length):
        side = data.draw(st.sets(st.sampled_from(list(self.graph)), min_size=1, max_size=N - 1))
        self.partitions.append(Partition([side], start=start, end=start + length))

    @rule(p=st.sampled_from([0.0, 0.3]))
    def set_loss(self, p):
        self.loss = p

    @rule(p=st.sampled_from([0.0, 0.5]))
    def set_duplication(self, p):
        self.dup = p

    def teardown(self):
        if not hasattr(self, "graph"):
            return
        policy = LinkPolicy(latency=self.latency, loss=self.loss, duplicate=self.dup)
        net = Network(self.graph, seed=self.seed, link_policy=policy, partitions=self.partitions,
                      trace=True)  # fmt: skip
        got = {v: [] for v in self.graph}
        sends = self.sends

        async def behaviour(ctx):
            plan = sorted(sends[ctx.id])
            i = 0
            while True:
                if i < len(plan):
                    m = await ctx.recv(deadline=plan[i][0])
                    if m is None:
                        t, k, dst = plan[i]
                        assert ctx.now() == t or (ctx.now() > t and i > 0 and plan[i - 1][0] >= t)
                        ctx.send(dst, (ctx.id, k))
                        i += 1
                        continue
                else:
                    m = await ctx.recv()
                got[ctx.id].append((ctx.now(), m))

        net.add_nodes(behaviour)
        res = net.run()
        lo = self.latency.minimum
        sent = {k: (u, dst) for u, plan in sends.items() for _, k, dst in plan}
        copies = {}
        for v, msgs in got.items():
            keys = [(m.deliver_at, m.seq) for _, m in msgs]
            assert keys == sorted(keys), "per receiver, deliveries follow (deliver_at, seq)"
            for now, m in msgs:
                src, k = m.payload
                assert m.src == src and m.dst == v and sent[k] == (src, v)
                assert now == m.deliver_at, "received at its delivery time"
                assert m.deliver_at >= m.sent_at + lo, "never before send time + latency"
                for p in self.partitions:
                    if p.separates(m.src, m.dst):
                        assert not (p.start <= m.deliver_at and m.sent_at < p.end), "crossed"
                copies[k] = copies.get(k, 0) + 1
        limit = 2 if self.dup else 1
        assert all(c <= limit for c in copies.values()), "at most once unless duplication"
        if not self.loss and not self.partitions and not self.dup:
            assert set(copies) == set(sent), "no loss: everything arrives"
        trace = [(r.t, r.seq) for r in res.trace]
        assert trace == sorted(trace) and len(set(trace)) == len(trace)
        st_ = res.statistics.run
        assert st_.delivered == sum(len(m) for m in got.values())
        assert st_.sent == len(sent)
        assert st_.in_flight == 0


RouterMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=15, deadline=None
)
TestRouter = RouterMachine.TestCase
