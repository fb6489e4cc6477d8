"""The registry, parameter validation, the call protocol, seeds, dtypes and knowledge models."""

from __future__ import annotations

import numpy as np
import pytest

from p2pbyz import attacks
from p2pbyz.errors import InvalidArgument

RNG_FREE = {"gaussian", "mimic_warmup"}  # attacks that need rng


def _call(atk, X, f, seed=0, **kw):
    return atk(X, f, rng=np.random.default_rng(seed), **kw)


def _make(name, **params):
    if name == "defence_aware":
        params.setdefault("gar", "median")
    return attacks.make(name, **params)


def test_registry_lists_every_attack_of_the_issue():
    expected = {
        "gaussian", "omniscient", "sign_flip", "zero", "drop", "inf", "nan", "alie", "ipm", "mimic",
        "mimic_warmup", "bulyan_coordinate", "minmax", "minsum", "defence_aware", "linear_target",
    }
    assert expected <= set(attacks.names())
    assert attacks.names() == sorted(attacks.names())


@pytest.mark.parametrize("name", attacks.names())
def test_spec_describes_the_attack(name):
    s = attacks.spec(name)
    assert s.name == name and s.cls.name == name
    assert s.formula and s.paper
    assert set(s.knowledge) <= set(attacks.KNOWLEDGE)
    assert "knowledge" in s.params and "collude" in s.params
    atk = _make(name)
    assert isinstance(atk, attacks.Attack)
    assert repr(atk).startswith(type(atk).__name__ + "(")
    assert s.cls.__doc__ and ".. math::" in s.cls.__doc__


def test_unknown_attack_lists_the_known_ones():
    with pytest.raises(InvalidArgument, match=r"unknown attack 'lie'; known attacks: alie, "):
        attacks.spec("lie")


BAD_PARAMS = [
    ("gaussian", {"sigma": -1.0}, r"^gaussian: sigma must be >= 0.0; got sigma=-1.0$"),
    ("gaussian", {"mu": float("nan")}, r"^gaussian: mu must be finite; got mu=nan$"),
    ("gaussian", {"knowledge": "oracle"},
     r"^gaussian: knowledge must be one of 'omniscient', 'estimating'; got knowledge='oracle'$"),
    ("alie", {"knowledge": "estimated"},
     r"^alie: knowledge must be one of 'omniscient', 'estimating'"),
    ("omniscient", {"k": -2}, r"^omniscient: k must be >= 0.0; got k=-2$"),
    ("ipm", {"eps": "big"}, r"^ipm: eps must be a real number; got eps='big' \(type=str\)$"),
    ("bulyan_coordinate", {"k": -1}, r"^bulyan_coordinate: k must be >= 0; got k=-1$"),
    ("alie", {"z": float("inf")}, r"^alie: z must be finite; got z=inf$"),
    ("mimic", {"t": 1.5}, r"^mimic: t must be an integer; got t=1.5 \(type=float\)$"),
    ("mimic_warmup", {"warmup": 0}, r"^mimic_warmup: warmup must be >= 1; got warmup=0$"),
    ("minmax", {"direction": "up"},
     r"^minmax: direction must be one of 'unit_vec', 'std', 'sign'; got direction='up'$"),
    ("minsum", {"bound": "mean"}, r"^minsum: bound must be one of 'min', 'max'; got bound='mean'$"),
    ("defence_aware", {"budget": 21}, r"^defence_aware: budget must be <= 20; got budget=21$"),
    ("defence_aware", {"budget": 0}, r"^defence_aware: budget must be >= 1; got budget=0$"),
    ("defence_aware", {"growth": 1.0}, r"^defence_aware: growth must be > 1.0; got growth=1.0$"),
    ("defence_aware", {"base": "gaussian"}, r"^defence_aware: base must be one of 'alie', "),
    ("defence_aware", {"base_params": {"knowledge": "omniscient"}},
     r"^defence_aware: give knowledge to defence_aware itself, not in base_params$"),
    ("defence_aware", {"base": "ipm", "base_params": {"eps": -1, "z": 2}},
     r"^ipm: unknown parameter 'z'; allowed parameters: eps, knowledge, collude$"),
    ("defence_aware", {"gar": "krumm"}, r"^unknown rule 'krumm'; known rules: "),
    ("alie", {"collude": False},
     r"^alie: collude=False is not supported \(the attack needs statistics of several gradients"),
    ("sign_flip", {"collude": False},
     r"^sign_flip: collude=False means each Byzantine node acts alone on its own gradient, so "
     r"knowledge must be 'estimating'; got knowledge='omniscient'$"),
    ("sign_flip", {"collude": 0}, r"^sign_flip: collude must be True or False; got collude=0$"),
    ("linear_target", {"knowledge": "estimating"},
     r"^linear_target: knowledge must be one of 'omniscient'; got knowledge='estimating'$"),
    ("linear_target", {"target": "U"},
     r"^linear_target: target must be a real number or a 1-D array"),
    ("zero", {"scale": 2},
     r"^zero: unknown parameter 'scale'; allowed parameters: knowledge, collude$"),
]


@pytest.mark.parametrize(
    ("name", "params", "match"), BAD_PARAMS, ids=[f"{n}{p}" for n, p, _ in BAD_PARAMS]
)
def test_bad_parameters_are_refused_at_construction(name, params, match):
    with pytest.raises(InvalidArgument, match=match):
        attacks.make(name, **params)


X5 = np.arange(15, dtype=np.float64).reshape(5, 3)

BAD_CALLS = [
    ("ipm", {}, dict(honest=X5, f=-1), r"^ipm: f must be >= 0; got f=-1$"),
    ("ipm", {}, dict(honest=X5, f=3, n=2), r"^ipm: f must be <= n; got f=3, n=2$"),
    ("ipm", {}, dict(honest=X5, f=2, n=9),
     r"^ipm: with knowledge='omniscient' honest holds the n-f honest vectors, so n must equal "
     r"5\+f=7; got n=9, f=2$"),
    ("ipm", {}, dict(honest=X5[0], f=1), r"^ipm: honest must be 2-dimensional"),
    ("ipm", {}, dict(honest=X5.astype(np.int64), f=1),
     r"^ipm: honest must have dtype float32 or float64"),
    ("ipm", {}, dict(honest=X5, f=1, round=-1), r"^ipm: round must be >= 0; got round=-1$"),
    ("ipm", {}, dict(honest=X5, f=1, rng=42),
     r"^ipm: rng must be a numpy Generator \(np.random.default_rng\(seed\)\); got rng=42"),
    ("ipm", {}, dict(honest=X5, f=1, n=8, gar=attacks.GarContext("median", n=9)),
     r"^ipm: n=8 disagrees with gar.n=9; give one of them$"),
    ("gaussian", {}, dict(honest=X5, f=1),
     r"^gaussian: this attack draws random numbers; pass rng=np.random.default_rng\(seed\)$"),
    ("alie", {"knowledge": "estimating"}, dict(honest=X5, f=2),
     r"^alie: z=None computes z_max from n and f, but with knowledge='estimating' n is unknown"),
    ("alie", {"knowledge": "estimating", "z": 1.0}, dict(honest=X5[:1], f=1),
     r"^alie: estimating the coordinate-wise standard deviation needs at least 2 vectors; got 1"),
    ("bulyan_coordinate", {"k": 3}, dict(honest=X5, f=1),
     r"^bulyan_coordinate: k must be < d; got k=3, d=3$"),
    ("mimic", {"t": 5}, dict(honest=X5, f=1),
     r"^mimic: t must be < the number of vectors seen; got t=5, h=5$"),
    ("sign_flip", {"knowledge": "estimating", "collude": False}, dict(honest=X5, f=2),
     r"^sign_flip: with collude=False honest holds one own gradient per Byzantine node, so it "
     r"must have f=2 rows; got 5$"),
    ("linear_target", {"target": [1.0, 2.0]}, dict(honest=X5, f=1),
     r"^linear_target: target has 2 coordinates but the vectors have d=3$"),
    ("linear_target", {"weights": [1, 1, 1, 1, 1, 0]}, dict(honest=X5, f=1),
     r"^linear_target: the Byzantine weights sum to 0"),
    ("defence_aware", {}, dict(honest=X5, f=1),
     r"^defence_aware: the search needs the defence: pass gar=GarContext"),
    ("defence_aware", {"knowledge": "estimating", "gar": "median"}, dict(honest=X5, f=2, n=9),
     r"^defence_aware: with knowledge='estimating' the attacker simulates the honest vectors; "
     r"pass rng="),
]


@pytest.mark.parametrize(("name", "params", "call", "match"), BAD_CALLS,
                         ids=[f"{n}-{i}" for i, (n, *_r) in enumerate(BAD_CALLS)])
def test_bad_calls_are_refused_clearly(name, params, call, match):
    atk = attacks.make(name, **params)
    honest = call.pop("honest")
    f = call.pop("f")
    with pytest.raises(InvalidArgument, match=match):
        atk(honest, f, **call)


def test_garcontext_validates():
    with pytest.raises(InvalidArgument, match=r"^GarContext: n must be >= 1; got n=0$"):
        attacks.GarContext("median", n=0)
    with pytest.raises(InvalidArgument, match=r"^GarContext: params must be a mapping"):
        attacks.GarContext("median", params=[1])


ALL_SEARCHABLE = [n for n in attacks.names() if attacks.spec(n).searchable]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", attacks.names())
def test_dtype_shape_and_determinism(name, dtype):
    """Output is (f, d) in the input dtype; same seed -> same bytes; global RNG untouched."""
    X = np.random.default_rng(1).normal(size=(9, 6)).astype(dtype)
    state = np.random.get_state()[1].copy()
    B1 = _call(_make(name), X, 3, seed=7)
    B2 = _call(_make(name), X, 3, seed=7)
    assert B1.shape == (3, 6) and B1.dtype == dtype
    assert B1.flags.c_contiguous
    np.testing.assert_array_equal(B1, B2)
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("name", attacks.names())
def test_zero_byzantine_nodes_gives_no_vector(name):
    B = _call(_make(name), np.ones((4, 2)), 0)
    assert B.shape == (0, 2)


def test_randomized_attack_depends_on_the_seed():
    X = np.zeros((3, 5))
    g = attacks.make("gaussian")
    assert not np.array_equal(_call(g, X, 2, seed=1), _call(g, X, 2, seed=2))


def test_estimating_and_omniscient_knowledge_differ():
    """An estimating attacker sees only its own f gradients, so its statistics differ."""
    rng = np.random.default_rng(4)
    honest = rng.normal(size=(12, 5))
    own = rng.normal(size=(3, 5))
    cases = [("alie", {"z": 1.0}), ("ipm", {}), ("minmax", {}), ("minsum", {"direction": "std"})]
    for name, params in cases:
        omni = attacks.make(name, **params)(honest, 3)
        est = attacks.make(name, knowledge="estimating", **params)(own, 3, n=15)
        assert not np.allclose(omni, est), name
        # the estimating attacker applies the same formula to what it sees
        np.testing.assert_array_equal(est, attacks.make(name, **params)(own, 3))
    # ALIE's z_max needs n: n = h + f when omniscient, given explicitly when estimating
    est = attacks.make("alie", knowledge="estimating")(own, 3, n=15)
    z = attacks.alie_z(15, 3)
    np.testing.assert_allclose(est[0], own.mean(0) - z * own.std(0, ddof=1), rtol=1e-12)
    gar = attacks.GarContext("median", f=3, n=15)
    by_gar = attacks.make("alie", knowledge="estimating")(own, 3, gar=gar)
    np.testing.assert_array_equal(by_gar, est)


def test_non_colluding_nodes_act_alone():
    """collude=False: row j depends only on node j's own gradient."""
    own = np.array([[1.0, -2.0], [3.0, 4.0], [0.5, 0.5]])
    np.testing.assert_array_equal(
        attacks.make("sign_flip", knowledge="estimating", collude=False)(own, 3), -own
    )
    alone = attacks.make("bulyan_coordinate", eps=2.0, k=1, knowledge="estimating", collude=False)
    np.testing.assert_allclose(alone(own, 3), own + np.array([0.0, 2.0]))
    colluding = attacks.make("sign_flip", knowledge="estimating")(own, 3)
    np.testing.assert_allclose(colluding, np.tile(-own.mean(0), (3, 1)))
    g = attacks.make("gaussian", knowledge="estimating", collude=False)
    B = g(own, 3, rng=np.random.default_rng(0))
    assert len({tuple(r) for r in B}) == 3
    np.testing.assert_array_equal(B, g(own, 3, rng=np.random.default_rng(0)))


def test_noncolluding_support_is_declared():
    for name in attacks.names():
        s = attacks.spec(name)
        if s.noncolluding:
            atk = attacks.make(name, knowledge="estimating", collude=False)
            assert atk(np.ones((2, 3)), 2, rng=np.random.default_rng(0)).shape == (2, 3)
        else:
            match = rf"^{name}: (collude=False|knowledge must be)"
            with pytest.raises(InvalidArgument, match=match):
                attacks.make(name, knowledge="estimating", collude=False)


def test_searchable_attacks_expose_their_factor():
    X = np.random.default_rng(0).normal(size=(6, 3))
    assert set(ALL_SEARCHABLE) == {
        "alie", "ipm", "omniscient", "sign_flip", "bulyan_coordinate", "minmax", "minsum"
    }
    assert attacks.make("ipm", eps=0.3).factor(X, 2) == 0.3
    assert attacks.make("omniscient").factor(X, 2) == 100.0
