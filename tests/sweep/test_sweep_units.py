"""Pieces that need no cluster: run_fn output checks, the worker wrapper, atomic files, tables."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from p2pbyz.errors import InvalidArgument
from p2pbyz.sweep._dask import check_cluster_args, machine_workers
from p2pbyz.sweep._store import atomic_write, load_run, run_path, write_json
from p2pbyz.sweep._sweep import execute, split_output
from p2pbyz.sweep._table import make_rows, read_csv, write_csv, write_parquet


def test_split_output_scalars_and_series():
    """Scalars (numpy ones included) are metrics; 1-D sequences of numbers are series."""
    metrics, series = split_output({
        "acc": np.float32(0.5), "n": np.int64(3), "ok": True, "note": "x", "none": None,
        "curve": np.array([0.1, np.nan]), "r": (0, 1),
    })
    assert metrics == {"acc": 0.5, "n": 3, "ok": True, "note": "x", "none": None}
    assert type(metrics["acc"]) is float and type(metrics["n"]) is int
    assert series["r"] == [0, 1] and series["curve"][0] == pytest.approx(0.1)
    assert math.isnan(series["curve"][1])


@pytest.mark.parametrize(("out", "match"), [
    ([1, 2], r"must return a mapping of metric names to values; got list"),
    ({"m": {"a": 1}}, r"run_fn returned m=\{'a': 1\}; each value must be a scalar"),
    ({"m": ["a", "b"]}, r"run_fn returned m=\['a', 'b'\]"),
    ({"m": np.zeros((2, 2))}, r"run_fn returned m=array"),
    ({3: 1.0}, r"metric name that is not a non-empty string: 3"),
])
def test_split_output_rejects(out, match):
    """Anything else is a TypeError naming the key and the value."""
    with pytest.raises(TypeError, match=match):
        split_output(out)


def _raise(s):
    raise RuntimeError(f"bad {s['x']}")


def test_execute_never_raises():
    """execute returns the failure as a record with the error line and the traceback, and gives
    run_fn a copy (a run_fn that mutates its scenario cannot change the caller's)."""
    rec = execute(_raise, {"x": 1})
    assert rec["status"] == "failed" and rec["error"] == "RuntimeError: bad 1"
    assert rec["traceback"].startswith("Traceback") and "_raise" in rec["traceback"]
    scen = {"x": {"y": 1}}
    rec = execute(lambda s: s["x"].update(y=2) or {"v": 1}, scen)
    assert rec["status"] == "ok" and rec["metrics"] == {"v": 1} and scen == {"x": {"y": 1}}
    assert rec["pid"] == os.getpid() and rec["seconds"] >= 0


def test_atomic_files(tmp_path):
    """atomic_write leaves no temporary file; write_json turns NaN into null; load_run rejects a
    damaged or foreign file (the run is then run again)."""
    p = tmp_path / "d" / "f.bin"
    atomic_write(str(p), b"abc")
    assert p.read_bytes() == b"abc" and os.listdir(p.parent) == ["f.bin"]
    write_json(run_path(str(tmp_path), "h1"), {"hash": "h1", "status": "ok", "m": float("nan")})
    assert load_run(str(tmp_path), "h1")["m"] is None
    (tmp_path / "runs" / "h2.json").write_text('{"hash": "h2", "sta')
    assert load_run(str(tmp_path), "h2") is None
    write_json(run_path(str(tmp_path), "h3"), {"hash": "other", "status": "ok"})
    assert load_run(str(tmp_path), "h3") is None
    assert load_run(str(tmp_path), "h4") is None


def test_table_columns_and_csv(tmp_path):
    """Fixed columns, dotted scenario columns, metrics (prefixed on a name clash); CSV cells."""
    entries = [
        (0, "a", {"rule": {"name": "krum"}, "seed": 0, "pre": ["nnm"]},
         {"status": "ok", "metrics": {"accuracy": 0.5, "seed": 9, "flag": True}, "seconds": 1.0,
          "attempts": 1}),
        (1, "b", {"rule": {"name": "median"}, "seed": 1, "pre": []},
         {"status": "failed", "error": "ValueError: x", "attempts": 2}),
        (2, "c", {"rule": {"name": "mean"}, "seed": 2, "pre": []}, None),
    ]
    cols, rows = make_rows(entries)
    assert cols == ["run", "hash", "status", "seconds", "attempts", "error", "rule.name", "seed",
                    "pre", "accuracy", "metric.seed", "flag"]
    assert [r["status"] for r in rows] == ["ok", "failed", "pending"]
    assert rows[0]["metric.seed"] == 9 and rows[0]["seed"] == 0 and rows[1]["accuracy"] is None
    write_csv(str(tmp_path / "t.csv"), cols, rows)
    header, back = read_csv(str(tmp_path / "t.csv"))
    assert header == cols
    assert back[0]["pre"] == '["nnm"]' and back[0]["flag"] == "true"
    assert back[0]["accuracy"] == "0.5"
    assert back[1]["error"] == "ValueError: x" and back[2]["seconds"] == ""


def test_parquet_when_pyarrow_is_present(tmp_path):
    """With pyarrow the same table is written as Parquet, one type per column."""
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is optional: CSV only without it")
    cols, rows = make_rows([(0, "a", {"x": 1, "l": [1]}, {"status": "ok", "metrics": {"m": 0.5}}),
                            (1, "b", {"x": 2, "l": []}, None)])
    path = write_parquet(str(tmp_path / "t.parquet"), cols, rows)
    t = pq.read_table(path).to_pylist()
    assert [r["x"] for r in t] == [1, 2] and t[0]["l"] == "[1]" and t[1]["m"] is None


def test_parquet_absent_means_none(tmp_path, monkeypatch):
    """Without pyarrow, write_parquet writes nothing and says so by returning None."""
    import builtins

    real = builtins.__import__

    def no_pyarrow(name, *a, **k):
        if name.startswith("pyarrow"):
            raise ImportError("no pyarrow here")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    assert write_parquet(str(tmp_path / "t.parquet"), ["x"], [{"x": 1}]) is None
    assert not (tmp_path / "t.parquet").exists()


def test_cluster_arguments():
    """workers must be a positive int and excludes scheduler; scheduler is an address or Client."""
    assert machine_workers() >= 1
    check_cluster_args(None, 3)
    check_cluster_args("tcp://h:8786", None)
    with pytest.raises(InvalidArgument, match=r"workers must be an integer >= 1; got workers=True"):
        check_cluster_args(None, True)
    with pytest.raises(InvalidArgument, match=r"scheduler must be an address .*got scheduler=5"):
        check_cluster_args(5, None)


def test_manifest_is_plain_json(tmp_path):
    """write_json output is strict JSON (readable by any tool)."""
    write_json(str(tmp_path / "m.json"), {"a": (1, 2), "b": np.float64(1.5), "c": float("inf")})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": [1, 2], "b": 1.5, "c": None}


def _fake_sweep(out, metrics_of):
    """A sweep directory written by hand: manifest and run files, as run_sweep leaves them."""
    from p2pbyz.sweep import expand

    runs = expand({"x": [1, 2, 3]})
    write_json(str(out / "sweep.json"), {"runs": [
        {"index": r.index, "hash": r.hash, "params": r.params, "scenario": r.scenario}
        for r in runs
    ]})
    for r in runs:
        write_json(run_path(str(out), r.hash), {"hash": r.hash, "status": "ok",
                                                 "metrics": metrics_of(r.scenario["x"])})
    return runs


def test_report_says_why_a_plot_is_skipped(tmp_path):
    """Without f, rule or series columns the plots are skipped, each with its reason."""
    from p2pbyz.sweep import report

    _fake_sweep(tmp_path, lambda x: {"accuracy": x / 10})
    rep = report(tmp_path)
    assert rep.plots == ()
    assert rep.skipped == {
        "heatmap": "no f column (e.g. ps.byzantine or f)",
        "worst_case": "no f column (e.g. ps.byzantine or f)",
        "vs_round": "the runs recorded no per-round series of accuracy",
    }
    assert [r["accuracy"] for r in rep.rows] == [0.1, 0.2, 0.3]
    rep = report(tmp_path, metric="loss")
    assert set(rep.skipped.values()) == {"no run reports a finite loss"}
