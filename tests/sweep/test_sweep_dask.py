"""Sweeps on a 2-worker LocalCluster: tables, resume, failures, lost workers, map_on_dask."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sweep_fns

from p2pbyz.sweep import map_on_dask, report, run_sweep
from p2pbyz.sweep._dask import local_cluster
from p2pbyz.sweep._table import FIXED_COLUMNS, read_csv

GRID8 = {
    "rule": ["krum", "median"],
    "attack": ["alie", "signflip"],
    "f": 1,
    "heterogeneity": 0.5,
    "seeds": 2,
}


def test_sweep_of_8_runs_then_resume(tmp_path, address):
    """8 tiny runs give 8 ok rows with the scenario and metric columns; a second invocation
    skips them all and leaves their result files untouched."""
    out = tmp_path / "sw"
    res = run_sweep(GRID8, out, scheduler=address, run_fn=sweep_fns.toy, progress=False,
                   plots=False)
    assert (res.executed, res.skipped, res.n_ok, res.failed) == (8, 0, 8, [])
    cols = list(FIXED_COLUMNS) + ["rule", "attack", "f", "heterogeneity", "seed",
                                  "accuracy", "loss", "messages", "pid"]
    assert list(res.columns) == cols
    header, rows = read_csv(res.table)
    assert header == cols and len(rows) == 8
    assert [r["hash"] for r in rows] == [r.hash for r in res.runs]
    assert [(r["rule"], r["attack"], r["seed"]) for r in rows[:3]] == [
        ("krum", "alie", "0"), ("krum", "alie", "1"), ("krum", "signflip", "0"),
    ]
    assert float(rows[0]["accuracy"]) == pytest.approx(0.9 - 0.1 - 0.025 - 0.1)
    files = sorted(os.listdir(out / "runs"))
    assert files == sorted(f"{r.hash}.json" for r in res.runs)
    rec = json.loads((out / "runs" / files[0]).read_text())
    assert rec["status"] == "ok" and len(rec["series"]["accuracy_per_round"]) == 5
    mtimes = {f: os.stat(out / "runs" / f).st_mtime_ns for f in files}

    again = run_sweep(GRID8, out, scheduler=address, run_fn=sweep_fns.toy, progress=False,
                   plots=False)
    assert (again.executed, again.skipped, again.n_ok) == (0, 8, 8)
    assert {f: os.stat(out / "runs" / f).st_mtime_ns for f in files} == mtimes
    assert [r["accuracy"] for r in again.rows] == [r["accuracy"] for r in res.rows]

    # a grown grid runs only the new points
    grown = dict(GRID8, seeds=3)
    more = run_sweep(grown, out, scheduler=address, run_fn=sweep_fns.toy, progress=False,
                   plots=False)
    assert (more.executed, more.skipped, len(more.rows)) == (4, 8, 12)


def test_failed_run_is_reported_and_the_others_finish(tmp_path, address):
    """A run that raises is recorded with its error and traceback; the sweep completes the
    others; the next invocation runs only the failed one again (or none with retry_failed=False)."""
    out = tmp_path / "sw"
    grid = {"f": [0, 1, 2, 3], "boom": [False, True]}
    res = run_sweep(grid, out, scheduler=address, run_fn=sweep_fns.toy, progress=False,
                   plots=False)
    assert res.n_ok == 4 and len(res.failed) == 4
    bad = res.failed[0]
    assert bad["error"] == "ValueError: boom at f=0"
    assert bad["accuracy"] is None
    rec = json.loads((out / "runs" / f"{bad['hash']}.json").read_text())
    assert rec["status"] == "failed"
    assert "Traceback (most recent call last)" in rec["traceback"]
    assert 'raise ValueError(f"boom at f=' in rec["traceback"]
    header, rows = read_csv(res.table)
    assert [r["status"] for r in rows] == ["ok", "failed"] * 4
    assert rows[1]["error"] == "ValueError: boom at f=0"

    skip = run_sweep(grid, out, scheduler=address, run_fn=sweep_fns.toy, progress=False,
                     retry_failed=False, plots=False)
    assert (skip.executed, skip.skipped) == (0, 8)
    retry = run_sweep(grid, out, scheduler=address, run_fn=sweep_fns.toy, progress=False,
                      plots=False)
    assert (retry.executed, retry.skipped, len(retry.failed)) == (4, 4, 4)


def test_bad_run_fn_output_is_a_failed_run(tmp_path, address):
    """A run_fn returning something other than a mapping of scalars/series fails that run."""
    res = run_sweep({"x": [1, 2]}, tmp_path, scheduler=address, run_fn=str, progress=False,
                   plots=False)
    assert [r["error"] for r in res.failed] == [
        "TypeError: run_fn must return a mapping of metric names to values; got str"
    ] * 2


def test_killed_worker_loses_nothing(tmp_path, address):
    """A run that kills its worker process is rescheduled by the scheduler on a live worker and
    succeeds; every other run's result is kept."""
    grid = {"marker_dir": str(tmp_path),
            "zip": {"k": {"x": [0, 1, 2, 3, 4, 5],
                          "die": ["never", "never", "once", "never", "never", "never"]}}}
    res = run_sweep(grid, tmp_path / "sw", scheduler=address, run_fn=sweep_fns.die,
                    progress=False, plots=False)
    assert res.n_ok == 6 and res.failed == []
    assert [r["value"] for r in res.rows] == [0, 10, 20, 30, 40, 50]
    died = int((tmp_path / "died-2").read_text())
    assert res.rows[2]["pid"] != died


def test_killed_worker_resubmitted_after_scheduler_gives_up(tmp_path):
    """With allowed-failures = 0 the scheduler gives up at the first death (KilledWorker); the
    driver resubmits (retries=1): a run that dies once succeeds on its second attempt, one that
    always dies is reported with the error, and the others are unaffected (one worker, so the
    order of events is fixed)."""
    grid = {"marker_dir": str(tmp_path),
            "zip": {"k": {"x": [0, 1, 2, 3], "die": ["never", "once", "always", "never"]}}}
    with local_cluster(1, allowed_failures=0) as c:
        res = run_sweep(grid, tmp_path / "sw", scheduler=c.scheduler_address, run_fn=sweep_fns.die,
                        progress=False, retries=1, plots=False)
    assert [r["status"] for r in res.rows] == ["ok", "ok", "failed", "ok"]
    assert [r["attempts"] for r in res.rows] == [1, 2, 2, 1]
    err = res.rows[2]["error"]
    assert err.startswith("KilledWorker:") and "its worker died 2 time(s)" in err


def test_map_on_dask_ordered_and_raises(address):
    """map_on_dask returns results in input order and re-raises the first exception."""
    assert map_on_dask(sweep_fns.square, range(7), scheduler=address, progress=False) == [
        0, 1, 4, 9, 16, 25, 36,
    ]
    assert map_on_dask(sweep_fns.square, [], scheduler=address) == []
    with pytest.raises(ValueError, match="^three is not allowed$"):
        map_on_dask(sweep_fns.fail_on_three, range(6), scheduler=address, progress=False)


def test_report_rebuilds_table_and_plots(tmp_path, address):
    """report(DIR) rebuilds results.csv and the plots from the run files alone."""
    grid = {"rule": ["krum", "median"], "attack": ["alie", "ipm"], "f": [0, 1, 2],
            "heterogeneity": [0.0, 1.0], "seeds": 2}
    out = tmp_path / "sw"
    res = run_sweep(grid, out, scheduler=address, run_fn=sweep_fns.toy, progress=False)
    names = sorted(os.path.basename(p) for p in res.plots)
    assert names == ["accuracy_vs_round.png", "heatmap_accuracy.png", "worst_case_accuracy.png"]
    for p in res.plots:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        os.remove(p)
    os.remove(res.table)
    os.remove(out / "runs" / f"{res.runs[5].hash}.json")  # as if interrupted before run 5
    rep = report(out)
    assert sorted(os.path.basename(p) for p in rep.plots) == names
    assert rep.skipped == {}
    rows = read_csv(rep.table)[1]
    assert len(rows) == 48
    assert [r["status"] for r in rows].count("ok") == 47 and rows[5]["status"] == "pending"
    assert rows[5]["accuracy"] == "" and rows[5]["rule"] == res.rows[5]["rule"]



def test_real_emulation_sweep(tmp_path, address):
    """The default run_fn runs p2pbyz.emulate on resolved scenarios: 4 tiny runs give finite
    accuracies, the scenario columns of the p2pbyz schema, and the three plots."""
    grid = {
        "rounds": 2,
        "ps": {"workers": 5, "byzantine": [0, 1]},
        "rule": {"name": ["median", "trimmed_mean"]},
        "data": {"dataset": "digits"},
    }
    res = run_sweep(grid, tmp_path / "sw", scheduler=address, progress=False)
    assert res.n_ok == 4, [r["error"] for r in res.failed]
    for col in ("rule.name", "ps.byzantine", "ps.f", "seed", "attack.name", "data.partition",
                "accuracy", "loss", "influence_mean", "messages_sent"):
        assert col in res.columns
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in res.rows)
    assert [(r["ps.byzantine"], r["ps.f"], r["rule.name"]) for r in res.rows] == [
        (0, 0, "median"), (0, 0, "trimmed_mean"), (1, 1, "median"), (1, 1, "trimmed_mean"),
    ]
    assert all(r["messages_sent"] > 0 for r in res.rows)
    rec = json.loads((tmp_path / "sw" / "runs" / f"{res.rows[0]['hash']}.json").read_text())
    assert rec["series"]["round"] == [0, 1, 2]
    assert len(rec["series"]["accuracy_per_round"]) == 3
    assert sorted(os.path.basename(p) for p in res.plots) == [
        "accuracy_vs_round.png", "heatmap_accuracy.png", "worst_case_accuracy.png",
    ]


def test_progress_bar_on_stderr(tmp_path, address, capsys):
    """progress=True draws a rich bar over the runs on stderr and prints nothing on stdout."""
    run_sweep({"x": [1, 2, 3]}, tmp_path, scheduler=address, run_fn=sweep_fns.square_x,
              progress=True, plots=False)
    cap = capsys.readouterr()
    assert cap.out == ""
    assert "sweep" in cap.err and "3/3" in cap.err
