"""The three protocols on the runtime: determinism, synchrony and asynchrony, Byzantine servers and
peers, network behaviours of Byzantine nodes, validation of payloads, custom roles and rules."""

from __future__ import annotations

import dataclasses
import random
import types

import numpy as np
import pytest

import p2pbyz
from p2pbyz import protocols
from p2pbyz.errors import InvalidArgument, TopologyError
from p2pbyz.protocols import ByzantinePsWorker, Packet, Peer, PsWorker, packet_validator


def _same(a: p2pbyz.EmulationResult, b: p2pbyz.EmulationResult) -> bool:
    if a.metrics.keys() != b.metrics.keys():
        return False
    for g in a.metrics:
        if a.metrics[g].keys() != b.metrics[g].keys():
            return False
        for c in a.metrics[g]:
            if not np.array_equal(a.metrics[g][c], b.metrics[g][c], equal_nan=True):
                return False
    return (
        a.counters == b.counters
        and a.statistics.run == b.statistics.run
        and a.statistics.nodes == b.statistics.nodes
        and _links(a) == _links(b)
        and a.final_models.keys() == b.final_models.keys()
        and all(np.array_equal(a.final_models[k], b.final_models[k]) for k in a.final_models)
    )


def _links(r: p2pbyz.EmulationResult) -> dict:
    # peak_in_flight is left out: the runtime updates it from the sender's and the receiver's
    # sides within one window, so it depends on trio's order (a runtime issue, reported).
    return {k: dataclasses.replace(v, peak_in_flight=0) for k, v in r.statistics.links.items()}


SCENARIOS = {
    "ps_sync": {"rounds": 8},
    "ps_async": {
        "rounds": 8, "ps": {"mode": "async", "quorum": 6, "stale": "weight"},
        "training": {"compute_time": {"dist": "exponential", "mean": 0.01}},
        "network": {"latency": {"dist": "uniform", "low": 0.001, "high": 0.01}},
    },
    "multi_server": {"rounds": 6, "protocol": "multi_server", "network": {"loss": 0.05}},
    "p2p_equivocating": {
        "rounds": 5, "protocol": "p2p", "p2p": {"peers": 8, "byzantine": 1, "f": 1,
                                                "equivocate": True, "gossip_steps": 2},
        "topology": {"name": "ring", "k": 2}, "rule": {"name": "median"},
        "attack": {"name": "gaussian"}, "network": {"jitter": 0.004},
    },
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_same_metrics_other_seed_other_metrics(name):
    """Deterministic whatever trio's scheduling: two runs with one seed agree bit for bit."""
    sc = SCENARIOS[name]
    a, b = p2pbyz.emulate(sc), p2pbyz.emulate(sc)
    assert _same(a, b)
    c = p2pbyz.emulate({**sc, "seed": 1})
    assert not _same(a, c)


def test_emulate_leaves_global_random_state_alone():
    r0, n0 = random.getstate(), np.random.get_state()[1].copy()
    p2pbyz.emulate({"rounds": 2})
    assert random.getstate() == r0 and np.array_equal(np.random.get_state()[1], n0)


# ----------------------------------------------------------------------------------- ps
def test_sync_ps_counts_every_message():
    res = p2pbyz.emulate({"rounds": 5, "ps": {"workers": 6, "byzantine": 1}})
    run = res.statistics.run
    assert run.sent == run.delivered == 2 * 6 * 5          # a model and a vector per worker
    assert res.metrics["server"]["byzantine_inputs"][1:].tolist() == [1.0] * 5
    assert res.metrics["server"]["inputs"][1:].tolist() == [6.0] * 5
    assert set(res.final_models) == {"server"}
    assert res.virtual_time == pytest.approx(5 * 3 * 0.005)  # model, attack wait, vector


def test_async_ps_staleness_is_bounded_counted_and_weighted():
    sc = {
        "rounds": 30, "seed": 2,
        "ps": {"workers": 10, "byzantine": 2, "mode": "async", "quorum": 6, "staleness": 2,
               "stale": "weight"},
        "rule": {"name": "trimmed_mean"},
        "training": {"compute_time": {"dist": "exponential", "mean": 0.02}},
    }
    res = p2pbyz.emulate(sc)
    c = res.counters
    assert c["stale_used"] > 0 and c["stale_weighted"] == c["stale_used"]
    assert c["stale_dropped"] > 0
    st = res.metrics["server"]["staleness"][1:]
    assert np.all((st >= 0) & (st <= 2))
    assert res.final("accuracy") > 0.85
    drop = p2pbyz.emulate({**sc, "ps": {**sc["ps"], "staleness": 0}})
    assert drop.counters.get("stale_used", 0) == 0 and drop.counters["stale_dropped"] > 0


def test_byzantine_omission_is_missing_and_counted_against_f():
    res = p2pbyz.emulate({"rounds": 6, "attack": {"name": "drop"}})
    assert res.counters["missing"] == 2 * 6 and res.counters["byzantine.omitted"] == 2 * 6
    assert res.metrics["server"]["inputs"][1:].tolist() == [8.0] * 6
    assert res.final("accuracy") > 0.85


@pytest.mark.parametrize(
    ("behaviour", "check"),
    [
        ({"kind": "malform", "p": 1.0}, lambda r: r.statistics.run.malformed == 2 * 8),
        ({"kind": "flood", "factor": 5}, lambda r: r.counters["late"] + r.counters.get("duplicates", 0) >= 4 * 2 * 7),
        ({"kind": "crash", "at": 0.02}, lambda r: r.counters["missing"] >= 2 * 6),
        ({"kind": "omission", "p": 1.0}, lambda r: r.statistics.run.omitted == 2 * 8),
        ({"kind": "delay", "extra": 0.5}, lambda r: r.virtual_time > 8 * 0.5),
        ({"kind": "equivocate", "scale": 2.0}, lambda r: r.statistics.run.delivered == 160),
        ({"kind": "impersonate", "claim": "w0"}, lambda r: r.statistics.run.impersonation_attempts == 16),
    ],
    ids=lambda x: x["kind"] if isinstance(x, dict) else "",
)
def test_byzantine_network_behaviours_do_not_stop_honest_training(behaviour, check):
    res = p2pbyz.emulate({"rounds": 8, "attack": {"name": "alie", "z": 1.5, "network": [behaviour]}})
    assert check(res), (res.counters, res.statistics.run)
    assert res.final("accuracy") > 0.85


def test_honest_nodes_reject_malformed_payloads_without_crashing():
    setup = _tiny_setup()
    w = PsWorker(node_id="w0", setup=setup, learner=None, server="server")
    w.trust_validator = False           # as if no runtime validator had looked at the payloads
    d = setup.d
    junk = ["x", None, ("model",), ("model", 0, np.zeros(d + 1)), ("model", -1, np.zeros(d)),
            ("model", True, np.zeros(d)), ("grad", 0, np.zeros(d)),
            ("model", 0, np.zeros(d, np.float32)), ("model", 0, np.full(d, np.inf)), object()]
    for p in junk:
        assert w.accept(types.SimpleNamespace(src="server", payload=p)) is None
    assert w.counters["malformed"] == len(junk)
    ok = w.accept(types.SimpleNamespace(src="server", payload=Packet("model", 3, np.zeros(d))))
    assert ok is not None and ok.round == 3


def test_honest_nodes_with_validation_count_malformed_messages():
    res = p2pbyz.emulate({"rounds": 4, "attack": {"name": "nan"}})
    assert res.statistics.run.malformed == 2 * 4           # NaN vectors never reach the server
    assert res.counters["missing"] == 2 * 4 and res.final("accuracy") > 0.8


def test_packet_validator():
    ok = packet_validator(4, ("grad",))
    assert ok(Packet("grad", 0, np.ones(4)))
    assert not ok(Packet("grad", 0, np.ones(3)))
    assert not ok(Packet("model", 0, np.ones(4)))
    assert not ok(("grad", 0, np.array([1.0, np.nan, 0.0, 0.0])))
    assert not ok(["grad", 0, np.ones(4)])


def _tiny_setup():
    from p2pbyz import learning, scenario

    s = scenario.default()
    data = learning.load_dataset("wine", seed=0)
    model = learning.make_model("softmax", data.n_features, data.n_classes)
    rec = protocols.Recorder(model, data, 3, 1, frozenset(), {"server": 1}, {"server": 0, "w0": 1})
    return protocols.Setup(
        scenario=s, model=model, data=data, schedule=lambda t: 0.1, rule="median",
        rule_params={}, rule_pre=(), recorder=rec, index={"server": 0, "w0": 1},
        byzantine=frozenset(), compute_time=None, w0=model.init(0),
        seed=np.random.SeedSequence(0),
    )


# ----------------------------------------------------------------------------------- custom roles
class ZeroSender(ByzantinePsWorker):
    """A scripted Byzantine worker: always sends the zero vector."""

    async def outgoing(self, ctx, t, vec):
        return np.zeros_like(vec)


class CountingWorker(PsWorker):
    calls = 0

    async def outgoing(self, ctx, t, vec):
        type(self).calls += 1
        return await super().outgoing(ctx, t, vec)


def test_custom_roles_script_honest_and_byzantine_behaviour():
    CountingWorker.calls = 0
    res = p2pbyz.emulate(
        {"rounds": 4, "rule": {"name": "average"}},
        roles={"byzantine_worker": ZeroSender, "worker": CountingWorker},
    )
    assert CountingWorker.calls == 8 * 4
    assert res.counters["attack_calls"] == 0                       # the script replaced the attack
    assert res.metrics["byzantine"]["vector_norm"][1:].tolist() == [0.0] * 4


def test_unknown_role_key_or_class_is_refused():
    with pytest.raises(InvalidArgument, match=r"^emulate: unknown role 'peer' for protocol 'ps'; roles: server, worker, byzantine_worker$"):
        p2pbyz.emulate({"rounds": 1}, roles={"peer": Peer})
    with pytest.raises(InvalidArgument, match=r"must be a subclass of p2pbyz.protocols.Role"):
        p2pbyz.emulate({"rounds": 1}, roles={"worker": object})


def test_label_flipping_byzantine_workers_train_on_flipped_labels():
    seen = {}

    class Spy(ByzantinePsWorker):
        async def run(self, ctx):
            seen[self.id] = self.learner.label_flip
            return await super().run(ctx)

    p2pbyz.emulate({"rounds": 1, "attack": {"name": "none", "label_flip": True}},
                   roles={"byzantine_worker": Spy})
    assert seen == {"w8": True, "w9": True}


# ----------------------------------------------------------------------------------- multi-server
MS = {
    "rounds": 30, "protocol": "multi_server",
    "multi_server": {"servers": 4, "byzantine_servers": 1, "f_servers": 1, "workers": 10,
                     "byzantine_workers": 2, "f_workers": 2, "server_attack": {"name": "gaussian"}},
    "attack": {"name": "alie", "z": 1.5},
}


def test_multi_server_with_a_byzantine_server_converges():
    res = p2pbyz.emulate(MS)
    assert res.final("accuracy") > 0.9                       # honest workers' aggregated models
    assert res.final("accuracy", "server") > 0.9             # honest servers
    assert res.final("disagreement", "server") < 1e-6        # median contraction keeps them equal
    assert res.counters["byzantine.equivocations"] > 0
    assert {"s0", "s1", "s2", "w0"} <= set(res.final_models)


def test_multi_server_needs_robust_model_aggregation():
    """The same Byzantine server breaks workers that average the servers' models."""
    ms = {**MS["multi_server"], "model_rule": "average", "contract_rule": "average"}
    assert p2pbyz.emulate({**MS, "multi_server": ms}).final("accuracy") < 0.5


def test_multi_server_survives_message_loss():
    res = p2pbyz.emulate({**MS, "rounds": 20, "network": {"loss": 0.05}})
    assert res.final("accuracy") > 0.9
    assert res.statistics.run.lost > 0 and res.counters["missing"] > 0
    # Lost honest vectors are not counted against f: the Byzantine server never gets through.
    assert np.nanmax(res.metrics["honest"]["influence"]) < 0.05


# ----------------------------------------------------------------------------------- p2p
def _p2p(**kw):
    return p2pbyz.emulate({"rounds": 30, "protocol": "p2p", **kw})


def test_p2p_converges_on_a_ring():
    res = _p2p(p2p={"peers": 12, "byzantine_nodes": [3], "f": 1}, topology={"name": "ring"},
               rule={"name": "median"}, attack={"name": "ipm", "eps": 10.0})
    assert res.final("accuracy_min") > 0.88                  # every honest peer learns
    assert res.notes == {"honest_peers_over_f": 0, "honest_subgraph_connected": True}
    avg = _p2p(p2p={"peers": 12, "byzantine_nodes": [3], "f": 1}, topology={"name": "ring"},
               rule={"name": "average"}, attack={"name": "ipm", "eps": 10.0})
    assert avg.final("accuracy_min") < 0.5                   # its neighbours are poisoned


def test_p2p_converges_on_a_complete_graph_to_one_model():
    res = _p2p(p2p={"peers": 10, "byzantine": 2, "f": 2, "equivocate": True},
               topology={"name": "complete"}, rule={"name": "trimmed_mean"},
               attack={"name": "alie", "z": 1.5})
    assert res.final("accuracy_min") > 0.9
    assert res.final("disagreement") < 1e-9
    assert res.counters["byzantine.equivocations"] > 0


def test_more_gossip_steps_reduce_disagreement_on_a_ring():
    one = _p2p(rounds=10, p2p={"peers": 10, "byzantine": 0, "f": 0}, topology={"name": "ring"},
               rule={"name": "average"}, attack={"name": "none"})
    three = _p2p(rounds=10, p2p={"peers": 10, "byzantine": 0, "f": 0, "gossip_steps": 3},
                 topology={"name": "ring"}, rule={"name": "average"}, attack={"name": "none"})
    assert three.final("disagreement") < 0.5 * one.final("disagreement")


def test_p2p_topology_too_sparse_for_the_rule():
    with pytest.raises(
        TopologyError,
        match=r"^p2p: peer \d has 2 neighbours, so its rule krum aggregates n=3 vectors, but krum "
        r"needs n >= 2f\+3 with f=1; use a denser topology, a smaller p2p\.f or another rule$",
    ):
        _p2p(p2p={"peers": 8, "byzantine": 1, "f": 1}, topology={"name": "ring"},
             rule={"name": "krum"})


def test_p2p_topology_size_must_match_the_peers():
    with pytest.raises(TopologyError, match=r"has 12 nodes but p2p\.peers=10; set p2p\.peers=12"):
        _p2p(p2p={"peers": 10, "byzantine": 0, "f": 0}, topology={"name": "torus", "rows": 3,
                                                               "cols": 4})


def test_p2p_notes_honest_peers_with_too_many_byzantine_neighbours():
    res = _p2p(rounds=2, p2p={"peers": 8, "byzantine_nodes": [0, 2], "f": 1},
               topology={"name": "ring"}, rule={"name": "median"})
    assert res.notes["honest_peers_over_f"] == 1                # peer 1 sits between 0 and 2
    assert res.notes["honest_subgraph_connected"] is False      # ... cut off from the others


# ----------------------------------------------------------------------------------- shared parts
def test_coalition_sees_an_observation_one_lookahead_later():
    setup = _tiny_setup()
    setup.lookahead = 0.01
    co = protocols.Coalition(
        p2pbyz.attacks.make("sign_flip"), ["b"], ["h1", "h2"], rule="median", params={}, pre=(),
        f=1, n=3, seed=np.random.SeedSequence(0), setup=setup,
    )
    co.observe("h1", 0, np.ones(3), 1.0)
    co.observe("h2", 0, np.ones(3), 1.005)
    assert co.view(0, 1.0099) == ((), False)
    assert co.view(0, 1.01) == (("h1",), False)
    assert co.view(0, 1.015) == (("h1", "h2"), True)
    assert np.array_equal(co.vectors(0, 0, ("h1", "h2")), -np.ones((1, 3)))
    setup.lookahead = 0.0
    assert co.view(0, 1.0) == ((), False) and co.view(0, 1.001) == (("h1",), False)


def test_recorder_reduction_does_not_depend_on_report_order():
    from p2pbyz import learning

    data = learning.load_dataset("wine", seed=0)
    model = learning.make_model("softmax", data.n_features, data.n_classes)
    rng = np.random.default_rng(0)
    W = {i: rng.standard_normal(model.dim) for i in range(5)}
    tables = []
    for order in ([0, 1, 2, 3, 4], [4, 2, 0, 3, 1]):
        rec = protocols.Recorder(model, data, 1, 1, frozenset(), {"honest": 5},
                                 {i: i for i in range(5)})
        for i in order:
            rec.model(i, "honest", 1, W[i])
            rec.scalar(i, "honest", 1, train_loss=float(i) / 3)
        tables.append(rec.table())
    for c in tables[0]["honest"]:
        assert np.array_equal(tables[0]["honest"][c], tables[1]["honest"][c], equal_nan=True)
    M = np.stack([W[i] for i in range(5)])
    want = np.sqrt(np.mean(np.sum((M - M.mean(0)) ** 2, axis=1)))
    assert tables[0]["honest"]["disagreement"][1] == pytest.approx(want, rel=1e-12)


def test_round_dependent_rules_get_their_round():
    """1-p Krum draws averaging with probability 1/sqrt(t): at t=1 it always averages."""
    res = p2pbyz.emulate({"rounds": 1, "rule": {"name": "one_minus_p_krum"},
                          "attack": {"name": "none"}, "ps": {"byzantine": 0, "f": 2}})
    assert res.metrics["server"]["influence"][1] < 1e-12     # the average of honest inputs


def test_protocol_registry():
    assert protocols.names() == ("ps", "multi_server", "p2p")
    with pytest.raises(InvalidArgument, match=r"^unknown protocol 'x'; known protocols: ps, multi_server, p2p$"):
        protocols.spec("x")
