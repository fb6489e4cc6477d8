"""The runtime's shortcuts give exactly what the plain paths give: link streams drawn through one
shared PCG64, windows split off the heap in one batch, messages handed straight to a waking
receiver (no validator, no trace)."""

from __future__ import annotations

import networkx as nx
import numpy as np
from numpy.random.bit_generator import ISeedSequence

import p2pbyz.network._runtime as runtime
from p2pbyz.network import Constant, LinkPolicy, Network, Normal, Uniform
from p2pbyz.network._runtime import _BLOCK, _KEY_LINK, _WORDS, _pcg64_state


class _Words(ISeedSequence):
    """Hands fixed words to a bit generator, as a SeedSequence would."""

    def __init__(self, words):
        self.words = words

    def generate_state(self, n_words, dtype=np.uint32):
        w = self.words if np.dtype(dtype) == np.uint32 else self.words.view(np.uint64)
        return w[:n_words].copy()


def test_pcg64_state_matches_numpy_seeding():
    rng = np.random.default_rng(7)
    specials = [np.zeros(8), np.full(8, 2**32 - 1), np.arange(8), np.full(8, 2**31)]
    for i in range(500):
        w = specials[i] if i < len(specials) else rng.integers(0, 2**32, 8)
        w = np.asarray(w, dtype=np.uint64).astype(np.uint32)
        want = np.random.PCG64(_Words(w)).state
        assert _pcg64_state(*w.view(np.uint64).tolist()) == want


def test_link_streams_are_per_link_pcg64():
    # Draws through the shared bit generator, interleaved across links, equal those of one PCG64
    # per link seeded from its words of the sender's link SeedSequence.
    g = nx.complete_graph(4)
    net = Network(g, seed=123, link_policy=LinkPolicy(latency=Normal(0.05, 0.02, low=0.01)))
    links = [net._make_link(node, j) for node in net._nodes for j in node.out_idx]
    got = {(ln.src, ln.dst): [] for ln in links}
    for _ in range(3):
        for ln in links:
            ln.refill()
            got[(ln.src, ln.dst)].append(list(ln.lbuf))
            got[(ln.src, ln.dst)].append([ln.uniform() for _ in range(_BLOCK)])
    root = net.seed
    for node in net._nodes:
        key = tuple(root.spawn_key) + (_KEY_LINK, node.idx)
        ss = np.random.SeedSequence(root.entropy, spawn_key=key)
        words = ss.generate_state(_WORDS * len(node.out_idx), np.uint32)
        for p, j in enumerate(node.out_idx):
            gen = np.random.Generator(np.random.PCG64(_Words(words[_WORDS * p : _WORDS * (p + 1)])))
            want = []
            for _ in range(3):
                want.append(Normal(0.05, 0.02, low=0.01).sample(gen, _BLOCK).tolist())
                want.append(gen.random(_BLOCK).tolist())
            assert got[(node.idx, j)] == want


def _rounds_run(latency, *, trace, seed=3):
    g = nx.random_regular_graph(4, 60, seed=seed)
    net = Network(g, seed=seed, link_policy=LinkPolicy(latency=latency), trace=trace)
    seen = {}

    async def behaviour(ctx):
        got = []
        for r in range(6):
            ctx.broadcast((ctx.id, r))
            for _ in range(len(ctx.neighbours)):
                m = await ctx.recv(timeout=0.05)
                got.append(None if m is None else (m.deliver_at, m.seq, m.src, ctx.now()))
        seen[ctx.id] = got
        return len(got)

    net.add_nodes(behaviour)
    res = net.run()
    return res, seen


def _stats(res):
    st = res.statistics
    return st.run, dict(st.nodes), dict(st.links)


def test_batch_window_split_equals_popping(monkeypatch):
    for latency in (Uniform(0.01, 0.02), Constant(0.01), Constant(0.0)):
        want, want_seen = _rounds_run(latency, trace=True)
        monkeypatch.setattr(runtime, "_BATCH_MIN", 2)  # split every window in one batch
        got, got_seen = _rounds_run(latency, trace=True)
        monkeypatch.undo()
        assert got.trace == want.trace
        assert got_seen == want_seen
        assert _stats(got) == _stats(want)


def test_handoff_to_waking_receiver_counts_like_the_inbox():
    # With a trace the router goes through the inbox (_deliver, _pop); without one it hands the
    # waking message over directly: nodes see the same messages and the counters agree.
    for latency in (Uniform(0.01, 0.02), Constant(0.01)):
        traced, traced_seen = _rounds_run(latency, trace=True)
        plain, plain_seen = _rounds_run(latency, trace=None)
        assert plain_seen == traced_seen
        assert _stats(plain) == _stats(traced)


def test_raw_state_swap_equals_the_state_property(monkeypatch):
    # Links swap their PCG64 state into the shared generator as raw C bytes where numpy's layout
    # allows; through the ``state`` property (the fallback) every draw is the same.
    assert runtime._LinkDraws(np.random.SeedSequence(0)).raw
    runs = []
    for raw in (True, False):
        if not raw:
            monkeypatch.setattr(runtime, "_pcg64_raw", lambda bg: None)
        runs.append(_rounds_run(Normal(0.02, 0.01, low=0.005), trace=True))
    (a, a_seen), (b, b_seen) = runs
    assert a.trace == b.trace and a_seen == b_seen and _stats(a) == _stats(b)


def test_raw_state_keeps_a_buffered_uint32():
    # A latency law that draws 32-bit values leaves a buffered half-word in the bit generator;
    # the swap keeps it with the link, as the state property does.
    class Odd(Uniform):
        def sample(self, rng, k):
            return self.low + (self.high - self.low) * rng.random(k + 1, dtype=np.float32)[:k]

    def draws(raw):
        net = Network(nx.complete_graph(3), seed=5, link_policy=LinkPolicy(latency=Odd(0.1, 0.2)))
        if not raw:
            net._draws.raw = False
        links = [net._make_link(node, j) for node in net._nodes for j in node.out_idx]
        out = []
        for _ in range(3):
            for ln in links:
                ln.refill()
                out.append(list(ln.lbuf))
        return out

    assert draws(True) == draws(False)


def test_link_words_vectorized_match_seedsequence():
    # All nodes' link SeedSequences generated at once equal numpy's, one by one, whatever the
    # root (small, large, multi-word entropy; spawned roots; node indices past 2**31).
    roots = [
        np.random.SeedSequence(0),
        np.random.SeedSequence(),
        np.random.SeedSequence(12345).spawn(3)[2],
        np.random.SeedSequence([1, 2, 2**40]),
        np.random.SeedSequence(2**200 + 7, spawn_key=(4, 0, 2**33)),
    ]
    idx = [0, 1, 2, 5, 999, 2**31 + 3, 2**32 - 1]
    for root in roots:
        assert runtime._seeds_vectorizable(root)
        got = runtime._link_words(root, idx, 40)
        for r, i in enumerate(idx):
            key = tuple(root.spawn_key) + (_KEY_LINK, i)
            ss = np.random.SeedSequence(root.entropy, spawn_key=key)
            assert got[r].tolist() == ss.generate_state(40, np.uint32).tolist()
    assert not runtime._seeds_vectorizable(np.random.SeedSequence(0, pool_size=8))


def test_link_words_per_degree_group():
    # Nodes of different out-degrees get their own words (a star and a path hanging off it).
    g = nx.star_graph(5)
    nx.add_path(g, [5, 6, 7])
    net = Network(g, seed=9)
    d = net._draws
    for node in net._nodes:
        for j in node.out_idx:
            d.initial_seed(node, j)
    for node in net._nodes:
        ss = np.random.SeedSequence(9, spawn_key=(_KEY_LINK, node.idx))
        want = ss.generate_state(_WORDS * len(node.out_idx), np.uint32).view(np.uint64).tolist()
        assert node.link_words == want


def test_pcg64_blocks_match_numpy():
    # The first blocks of many streams at once: the draws of numpy's PCG64 and its state past them.
    rng = np.random.default_rng(11)
    words = rng.integers(0, 2**64, size=(300, 4), dtype=np.uint64)
    words[0] = 0
    words[1] = 2**64 - 1
    words[2] = [2**63, 1, 2**63 - 1, 2**32]
    u, core = runtime._pcg64_blocks(words, _BLOCK)
    for r, w in enumerate(words):
        state, inc = runtime._pcg64_seeded(*(int(v) for v in w))
        bg = np.random.PCG64(0)
        bg.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                    "has_uint32": 0, "uinteger": 0}  # fmt: skip
        assert u[r].tolist() == np.random.Generator(bg).random(_BLOCK).tolist()
        lo, hi, ilo, ihi = (int(v) for v in core[r])
        assert bg.state["state"] == {"state": (hi << 64) | lo, "inc": (ihi << 64) | ilo}


def test_first_blocks_equal_per_link_generators(monkeypatch):
    # First blocks computed per chunk of nodes (chunks of 3 here, nodes of several out-degrees),
    # scaled for each link's uniform latency or taken as random() by a lossy link's first draw,
    # then later blocks through the shared generator: each link's draws are its own PCG64's.
    monkeypatch.setattr(runtime, "_CHUNK", 3)
    g = nx.gnp_random_graph(14, 0.35, seed=2, directed=True)
    lats = [Uniform(0.01, 0.02), Uniform(0.0, 1.0), Uniform(0.003, 0.25), Uniform(0.5, 0.5)]
    for k, (u, v) in enumerate(g.edges):
        g.edges[u, v]["link"] = LinkPolicy(latency=lats[k % len(lats)], loss=0.1 * (k % 3 == 0))
    net = Network(g, seed=77, link_policy=LinkPolicy(latency=Uniform(0.01, 0.02)))
    links = [net._make_link(node, j) for node in reversed(net._nodes) for j in node.out_idx]
    got = {}
    for ln in links:
        seq = got[(ln.src, ln.dst)] = []
        for _ in range(2):
            if ln.loss:
                seq.append([ln.uniform() for _ in range(_BLOCK)])
            ln.refill()
            seq.append(list(ln.lbuf))
    assert all(n.link_first is not None for n in net._nodes if n.out_idx)
    for ln in links:
        node = net._nodes[ln.src]
        ss = np.random.SeedSequence(77, spawn_key=(_KEY_LINK, node.idx))
        words = ss.generate_state(_WORDS * len(node.out_idx), np.uint32)
        p = node.out_idx.index(ln.dst)
        gen = np.random.Generator(np.random.PCG64(_Words(words[_WORDS * p : _WORDS * (p + 1)])))
        want = []
        for _ in range(2):
            if ln.loss:
                want.append(gen.random(_BLOCK).tolist())
            want.append(ln.policy.latency.sample(gen, _BLOCK).tolist())
        assert got[(ln.src, ln.dst)] == want
