"""The runtime's shortcuts around numpy's random machinery draw exactly what numpy would."""

from __future__ import annotations

import networkx as nx
import numpy as np
from numpy.random.bit_generator import ISeedSequence

from p2pbyz.network import LinkPolicy, Network, Normal
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
