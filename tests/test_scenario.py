"""Scenarios: TOML and dicts into validated frozen dataclasses, errors that name the key and the
line, overrides, the default scenario, and writing a scenario back."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import scenario as S
from p2pbyz.scenario import ScenarioError

# Example scenarios (sweep grids, grid_*.toml, live beside them and are tested with the sweeps).
SCENARIOS = sorted(
    p
    for p in (pathlib.Path(__file__).parent.parent / "topologies" / "scenarios").glob("*.toml")
    if not p.name.startswith("grid")
)


def test_default_scenario_is_the_documented_one():
    """The built-in default: PS, 10 workers, 2 Byzantine ALIE, trimmed mean, softmax on digits."""
    s = S.default()
    assert (s.protocol, s.ps.workers, s.ps.byzantine, s.ps.f) == ("ps", 10, 2, 2)
    assert (s.attack.name, dict(s.attack.params)) == ("alie", {"z": 1.5})
    assert (s.rule.name, s.data.dataset, s.model.name, s.rounds) == (
        "trimmed_mean", "digits", "softmax", 60,
    )
    assert S.load(None) == s


def test_scenario_is_frozen():
    s = S.default()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.rounds = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.rule.params["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_example_scenarios_load_and_round_trip(path):
    """Every shipped scenario validates, and its resolved TOML reads back to the same scenario."""
    s = S.load(path)
    assert S.loads(S.to_toml(s)) == s
    assert S.load(S.to_dict(s)) == s


def test_one_example_scenario_per_protocol():
    protocols = {S.load(p).protocol for p in SCENARIOS}
    assert protocols == set(S.PROTOCOLS)
    assert any(p.name == "default.toml" for p in SCENARIOS)
    assert S.load(SCENARIOS[[p.name for p in SCENARIOS].index("default.toml")]) == S.default()


def test_unknown_rule_names_key_value_and_known_rules():
    with pytest.raises(ScenarioError, match=r"^scenario: rule\.name: unknown rule 'krumm'; known rules: .*\bkrum\b"):
        S.load({"rule": {"name": "krumm"}})


def test_toml_syntax_error_gives_the_line(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('rounds = 3\n[rule]\nname = "median\n')
    with pytest.raises(ScenarioError, match=r"^.*bad\.toml: invalid TOML: .*line 3"):
        S.load(p)


def test_semantic_error_in_a_file_gives_the_line(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('rounds = 3\n\n[ps]\nworkers = 10\nbyzantine = 2\nmode = "semi"\n')
    with pytest.raises(
        ScenarioError,
        match=r"s\.toml line 6: ps\.mode: unknown mode 'semi'; known modes: sync, async$",
    ):
        S.load(p)


def test_missing_file():
    with pytest.raises(ScenarioError, match=r"nope\.toml: no such scenario file$"):
        S.load("nope.toml")


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ({"protocol": "gossip"}, r"protocol: unknown protocol 'gossip'; known protocols: ps, multi_server, p2p"),
        ({"rounds": 0}, r"rounds: must be >= 1; got 0"),
        ({"rounds": "ten"}, r"rounds: must be an integer; got 'ten'"),
        ({"ps": {"wrokers": 3}}, r"ps\.wrokers: unknown key; allowed keys: workers, "),
        ({"ps": {"workers": 10, "byzantine": 11}}, r"ps\.byzantine: must be <= 10; got 11"),
        ({"ps": {"workers": 5, "byzantine": 5}}, r"ps\.byzantine: at least one worker must be honest"),
        ({"rule": {"name": "krum"}, "ps": {"workers": 6, "byzantine": 2}},
         r"rule\.name: krum needs n >= 2f\+3.*n=6, f=2.*\(ps: n=workers=6, f=2\)"),
        ({"rule": {"name": "krum"}, "ps": {"workers": 12, "byzantine": 3, "mode": "async", "quorum": 8}},
         r"rule\.name: krum needs n >= 2f\+3.*\(ps async: n=quorum=8, f=3\)"),
        ({"rule": {"name": "multi_krum", "mm": 3}}, r"rule\.mm: unknown parameter of rule 'multi_krum'; allowed parameters: m, "),
        ({"rule": {"name": "median", "pre": ["nmm"]}}, r"rule\.pre: .*unknown pre-aggregator 'nmm'"),
        ({"attack": {"name": "alie", "zz": 1}}, r"attack\.zz: alie: unknown parameter 'zz'; allowed parameters: z, "),
        ({"attack": {"name": "alie", "knowledge": "psychic"}}, r"attack\.name: alie: knowledge must be one of"),
        ({"attack": {"name": "nope"}}, r"attack\.name: unknown attack 'nope'; known attacks: none, alie"),
        ({"attack": {"name": "none", "z": 1}}, r"attack\.z: attack 'none' takes no parameter"),
        ({"attack": {"network": [{"kind": "teleport"}]}}, r"attack\.network\[0\]: unknown network behaviour 'teleport'"),
        ({"attack": {"network": [{"kind": "omission", "q": 1}]}}, r"attack\.network\[0\]\.q: unknown parameter of 'omission'; allowed parameters: p, start, end"),
        ({"attack": {"network": [{"kind": "omission", "p": 2.0}]}}, r"attack\.network: Omission: p must be <= 1"),
        ({"data": {"dataset": "mnist"}}, r"data\.dataset: unknown dataset 'mnist'; known datasets: "),
        ({"data": {"alpha": 0.1}}, r"data\.alpha: only applies to partition = 'dirichlet'; got partition = 'iid'"),
        ({"data": {"dataset": "linear_teacher"}}, r"model\.name: model 'softmax' is for classification but dataset 'linear_teacher' is a regression task"),
        ({"model": {"name": "mlp", "depth": 3}}, r"model\.depth: unknown parameter of model 'mlp'; allowed parameters: hidden, activation, l2"),
        ({"training": {"lr": -1}}, r"training\.lr: must be a positive number or a schedule table; got -1"),
        ({"training": {"lr": {"name": "cosine", "lr": 0.1}}}, r"training\.lr: cosine: missing parameter 'total'"),
        ({"training": {"momentum": 1.0}}, r"training\.momentum: must be < 1; got 1\.0"),
        ({"network": {"loss": 1.5}}, r"network\.loss: must be <= 1\.0; got 1\.5"),
        ({"network": {"latency": {"dist": "zipf"}}}, r"network\.latency: "),
        ({"topology": {"name": "hypercube"}}, r"topology\.name: unknown topology 'hypercube'; known topologies: "),
        ({"p2p": {"peers": 5, "byzantine_nodes": [1, 9]}}, r"p2p\.byzantine_nodes: must be a list of peer indices in \[0, 5\)"),
        ({"multi_server": {"servers": 2, "byzantine_servers": 1}, "protocol": "multi_server"},
         r"multi_server\.model_rule: median needs n >= 2f\+1; got n=servers=2, f=f_servers=1"),
        ({"name": "a b"}, r"name: must be 1-64 characters"),
        ({"extra": 1}, r"extra: unknown key; allowed keys: name, seed, rounds, protocol"),
    ],
)
def test_invalid_values_name_the_key_and_what_is_allowed(raw, pattern):
    with pytest.raises(ScenarioError, match=r"^scenario: " + pattern):
        S.load(raw)


def test_overrides_parse_toml_values_and_bare_words():
    assert S.parse_override("rule.name=krum") == ("rule.name", "krum")
    assert S.parse_override("rounds=5") == ("rounds", 5)
    assert S.parse_override("network.loss=0.5") == ("network.loss", 0.5)
    assert S.parse_override('training.lr={name="step", lr=0.1, every=5}') == (
        "training.lr", {"name": "step", "lr": 0.1, "every": 5},
    )
    with pytest.raises(ScenarioError, match=r"^--set: expected key=value; got 'rounds'$"):
        S.parse_override("rounds")
    with pytest.raises(ScenarioError, match=r"^--set: invalid key 'a..b'"):
        S.parse_override("a..b=1")


def test_overrides_apply_to_a_file(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('rounds = 3\n[rule]\nname = "median"\n')
    s = S.load(p, overrides=["rule.name=trimmed_mean", "ps.byzantine=1", "seed=7"])
    assert (s.rule.name, s.ps.byzantine, s.ps.f, s.seed, s.rounds) == ("trimmed_mean", 1, 1, 7, 3)


def test_override_into_a_value_is_an_error():
    with pytest.raises(ScenarioError, match=r"^--set rounds\.x: rounds is not a table \(it holds 60\)$"):
        S.load(None, overrides=["rounds.x=1"])


def test_declared_f_and_real_byzantine_count_are_separate():
    s = S.load({"ps": {"workers": 10, "byzantine": 1, "f": 3}})
    assert (s.ps.byzantine, s.ps.f, s.ps.quorum) == (1, 3, 7)
    s = S.load({"protocol": "p2p", "p2p": {"byzantine_nodes": [0, 3]}})
    assert (s.p2p.placement, s.p2p.byzantine, s.p2p.f) == ("given", 2, 2)


def test_rule_params_and_pre_aggregators_are_kept():
    s = S.load({"rule": {"name": "multi_krum", "m": 5, "pre": ["nnm"]}})
    assert dict(s.rule.params) == {"m": 5}
    assert S.to_dict(s)["rule"] == {"name": "multi_krum", "m": 5, "pre": ["nnm"]}
    s = S.load({"rule": {"name": "median", "pre": [{"name": "bucketing", "s": 2}]}})
    assert S.to_dict(s)["rule"] == {"name": "median", "pre": [{"name": "bucketing", "s": 2}]}


def test_pre_aggregators_count_in_the_requirement():
    """Bucketing 10 inputs by 2 leaves 5: too few for Multi-Krum with f=2 (needs 7)."""
    with pytest.raises(
        ScenarioError,
        match=r"^scenario: rule\.name: multi_krum needs n >= 2f\+3; got n=5 \(10 inputs after "
        r"bucketing became 5\), f=2 \(ps: n=workers=10, f=2\)$",
    ):
        S.load({"rule": {"name": "multi_krum", "pre": [{"name": "bucketing", "s": 2}]}})


@given(
    rounds=st.integers(1, 500),
    seed=st.integers(0, 2**32),
    workers=st.integers(5, 30),
    protocol=st.sampled_from(S.PROTOCOLS),
    rule=st.sampled_from(["median", "trimmed_mean", "average", "geometric_median"]),
    loss=st.floats(0, 1),
    lr=st.floats(1e-4, 10),
)
def test_resolved_scenarios_round_trip(rounds, seed, workers, protocol, rule, loss, lr):
    """Whatever the values, the written TOML and dict read back to an equal scenario."""
    s = S.load(
        {
            "rounds": rounds, "seed": seed, "protocol": protocol,
            "ps": {"workers": workers, "byzantine": 1},
            "multi_server": {"workers": workers, "byzantine_workers": 1},
            "p2p": {"peers": workers, "byzantine": 1},
            "rule": {"name": rule}, "network": {"loss": loss}, "training": {"lr": lr},
        }
    )
    assert S.loads(S.to_toml(s)) == s
    assert S.load(S.to_dict(s)) == s
