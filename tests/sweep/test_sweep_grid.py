"""Grid expansion (product, zip, seeds), content hashes and their stability, dry runs."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz.errors import InvalidArgument
from p2pbyz.sweep import canonical_json, expand, resolve_scenario, run_hash, run_sweep


def test_product_in_file_order_last_axis_fastest():
    """Lists expand to the cartesian product; the last axis varies fastest."""
    runs = expand({"a": [1, 2], "b": {"c": ["x", "y", "z"]}, "fixed": 5})
    assert [r.index for r in runs] == list(range(6))
    assert [(r.params["a"], r.params["b.c"]) for r in runs] == list(
        itertools.product([1, 2], ["x", "y", "z"])
    )
    assert runs[4].scenario == {"a": 2, "b": {"c": "y"}, "fixed": 5}
    assert all(set(r.params) == {"a", "b.c"} for r in runs)


def test_zip_groups_vary_together():
    """A [zip.NAME] group is one axis whose lists advance together."""
    runs = expand({
        "rule": ["krum", "median"],
        "zip": {"size": {"n": [7, 11, 15], "f": [1, 2, 3]}},
    })
    assert len(runs) == 6
    assert [(r.params["n"], r.params["f"]) for r in runs[:3]] == [(7, 1), (11, 2), (15, 3)]
    # the [[zip]] array form and nested tables in a group are the same grid
    runs2 = expand({"rule": ["krum", "median"], "zip": [{"n": [7, 11, 15], "f": [1, 2, 3]}]})
    assert [r.hash for r in runs2] == [r.hash for r in runs]
    nested = expand({"zip": {"g": {"ps": {"workers": [7, 11], "byzantine": [1, 2]}}}})
    assert [r.scenario for r in nested] == [
        {"ps": {"workers": 7, "byzantine": 1}}, {"ps": {"workers": 11, "byzantine": 2}},
    ]


def test_seeds_shorthand_is_the_innermost_axis():
    """seeds = N means seed = 0..N-1, varying fastest; a list gives the seeds explicitly."""
    runs = expand({"rule": ["a", "b"], "seeds": 3})
    assert [(r.params["rule"], r.params["seed"]) for r in runs] == [
        ("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2),
    ]
    assert [r.params["seed"] for r in expand({"x": 1, "seeds": [4, 9]})] == [4, 9]
    assert expand({"seeds": 2}, seed_key="run.seed")[1].scenario == {"run": {"seed": 1}}


def test_list_of_lists_is_one_list_valued_setting():
    """To keep a list-valued setting fixed, write it as a list of lists."""
    runs = expand({"rule": {"pre": [["nnm", "clip"]]}})
    assert len(runs) == 1
    assert runs[0].scenario == {"rule": {"pre": ["nnm", "clip"]}}


def test_grid_file_and_dotted_keys(tmp_path):
    """A TOML file, with quoted dotted keys, expands like the equivalent nested mapping."""
    path = tmp_path / "g.toml"
    path.write_text(
        'seeds = 2\n"attack.name" = ["alie", "ipm"]\n[rule]\nname = "median"\n'
        '[zip.size]\n"ps.workers" = [7, 9]\n"ps.byzantine" = [1, 2]\n'
    )
    runs = expand(path)
    same = expand({"rule": {"name": "median"}, "attack": {"name": ["alie", "ipm"]},
                   "zip": {"size": {"ps": {"workers": [7, 9], "byzantine": [1, 2]}}}, "seeds": 2})
    assert len(runs) == 8
    assert [r.hash for r in runs] == [r.hash for r in same]
    assert expand(str(path))[3].params == {
        "attack.name": "alie", "ps.workers": 9, "ps.byzantine": 2, "seed": 1,
    }


def test_hash_is_pinned_and_order_independent():
    """The hash is SHA-256 of sorted-key JSON (16 hex digits): pinned, independent of key order
    and of tuple versus list."""
    assert run_hash({"a": 1}) == "015abd7f5cc57a2d"
    assert run_hash({"rule": {"name": "krum", "m": 3}, "seed": 0}) == run_hash(
        {"seed": 0, "rule": {"m": 3, "name": "krum"}}
    )
    assert run_hash({"x": (1, 2)}) == run_hash({"x": [1, 2]})
    assert run_hash({"x": 1}) != run_hash({"x": 1.0})
    assert canonical_json({"b": 1, "a": [1.5, None]}) == '{"a":[1.5,null],"b":1}'


@given(st.dictionaries(st.text(min_size=1, max_size=5),
                       st.one_of(st.integers(), st.text(max_size=5), st.booleans()), max_size=6))
def test_hash_ignores_insertion_order(d):
    """Reversing a mapping's insertion order never changes its hash."""
    assert run_hash(dict(reversed(list(d.items())))) == run_hash(d)


def test_hash_is_of_the_resolved_scenario():
    """With the p2pbyz schema, a default written out or left implicit is the same run."""
    a = expand({"rule": {"name": ["median"]}, "rounds": 3}, resolve=resolve_scenario)
    b = expand({"rule": {"name": "median"}, "rounds": 3, "ps": {"workers": 10}},
               resolve=resolve_scenario)
    assert a[0].hash == b[0].hash
    assert a[0].scenario["ps"]["workers"] == 10
    assert a[0].params == {"rule.name": "median"}


def test_resolution_errors_name_the_run():
    """A grid point the schema rejects fails the expansion, naming the run and its values."""
    with pytest.raises(InvalidArgument, match=r"run 1 \(rule\.name='krumm'\): .*unknown rule"):
        expand({"rule": {"name": ["median", "krumm"]}}, resolve=resolve_scenario)


@pytest.mark.parametrize(("grid", "match"), [
    ({"a": []}, r"'a' is an empty list"),
    ({"zip": {"g": {"a": [1, 2], "b": [1]}}}, r"zip group 'g' needs lists of one common length; "
                                             r"got lengths a=2, b=1"),
    ({"zip": {"g": {"a": 1}}}, r"zip group 'g': 'a' must be a non-empty list"),
    ({"zip": 3}, r"zip must be a table of groups"),
    ({"a": [1], "zip": {"g": {"a": [2]}}}, r"setting 'a' \(zip group 'g'\) overlaps 'a' \(body\)"),
    ({"seed": 1, "seeds": 2}, r"setting 'seed' \(seeds\) overlaps 'seed' \(body\)"),
    ({"seeds": 0}, r"seeds must be >= 1; got seeds=0"),
    ({"seeds": True}, r"seeds must be a positive integer N"),
    ({"seeds": [1, 1]}, r"seeds must be distinct"),
    ({"seeds": [-1]}, r"each seed must be an integer >= 0"),
    ({"a": [1, 1]}, r"runs 0 and 1 resolve to the same scenario"),
], ids=lambda v: str(v)[:40])
def test_invalid_grids(grid, match):
    """Invalid grids raise InvalidArgument naming the key and the value."""
    with pytest.raises(InvalidArgument, match=match):
        expand(grid)


def test_grid_file_errors(tmp_path):
    """A missing file or bad TOML is an InvalidArgument naming the file."""
    with pytest.raises(InvalidArgument, match=r"no such file '.*nope\.toml'"):
        expand(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("a = = 1\n")
    with pytest.raises(InvalidArgument, match=r"bad\.toml': invalid TOML: .*line 1"):
        expand(bad)
    with pytest.raises(InvalidArgument, match=r"must be a TOML file path or a mapping; got int"):
        expand(3)


def test_dry_run_lists_and_writes_nothing(tmp_path):
    """A dry run expands and hashes the runs, marks them pending, and creates nothing."""
    out = tmp_path / "out"
    res = run_sweep({"x": [1, 2, 3], "seeds": 2}, out, dry_run=True, run_fn=dict)
    assert res.dry_run and res.executed == 0 and res.skipped == 0
    assert len(res.rows) == 6 and {r["status"] for r in res.rows} == {"pending"}
    assert [r["hash"] for r in res.rows] == [r.hash for r in res.runs]
    assert [(r["x"], r["seed"]) for r in res.rows][:3] == [(1, 0), (1, 1), (2, 0)]
    assert not os.path.exists(out)


def test_example_grid_resolves():
    """topologies/scenarios/grid_example.toml expands to 216 valid, distinct scenarios."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "topologies", "scenarios",
                        "grid_example.toml")
    runs = expand(path, resolve=resolve_scenario)
    assert len(runs) == 216 and len({r.hash for r in runs}) == 216
    assert list(runs[0].params) == ["ps.byzantine", "rule.name", "attack.name", "data.alpha", "seed"]
    assert runs[0].scenario["ps"]["f"] == runs[0].params["ps.byzantine"]
