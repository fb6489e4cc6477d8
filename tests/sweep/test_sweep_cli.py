"""The command line: p2pbyz sweep GRID [--dry-run] [--scheduler] [--workers] [--out]; report."""

from __future__ import annotations

import os
import re

import psutil
import pytest

from p2pbyz.sweep import main
from p2pbyz.sweep._table import read_csv

GRID = """\
seeds = 2
rule = ["krum", "median"]
f = [0, 1]
attack = "alie"
heterogeneity = 0.0
"""


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(GRID)
    return path


def test_dry_run_lists_runs(grid, tmp_path, capsys):
    """--dry-run prints one line per run (index, hash, state, parameters) and runs nothing."""
    out = tmp_path / "out"
    assert main([str(grid), "--dry-run", "--out", str(out), "--run-fn", "sweep_fns:toy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 9
    idx, h, state, *params = lines[0].split()
    assert (idx, state, params) == ("0", "to", ["do", "rule=krum", "f=0", "seed=0"])
    assert len(h) == 16
    assert lines[-1].startswith("p2pbyz sweep: 8 runs, 0 already done, 8 to run (dry run")
    assert not out.exists()


def test_run_resume_report(grid, tmp_path, capsys, address):
    """A sweep through the CLI writes the table; the second run skips all; report rebuilds."""
    out = tmp_path / "out"
    argv = [str(grid), "--out", str(out), "--scheduler", address, "--run-fn", "sweep_fns:toy",
            "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "8 runs (8 run now, 0 already done): 8 ok, 0 failed" in text
    assert len(read_csv(os.path.join(out, "results.csv"))[1]) == 8
    assert main(argv) == 0
    assert "8 runs (0 run now, 8 already done): 8 ok, 0 failed" in capsys.readouterr().out
    assert main([str(grid), "--dry-run", "--out", str(out), "--run-fn", "sweep_fns:toy"]) == 0
    assert "8 already done, 0 to run" in capsys.readouterr().out
    for name in os.listdir(out / "plots"):
        os.remove(out / "plots" / name)
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "8 runs (8 ok, 0 failed, 0 pending)" in text
    assert sorted(os.listdir(out / "plots")) == [
        "accuracy_vs_round.png", "heatmap_accuracy.png", "worst_case_accuracy.png",
    ]


def test_failed_runs_exit_1(tmp_path, capsys, address):
    """Failed runs are listed on stderr with their error and the exit status is 1."""
    path = tmp_path / "boom.toml"
    path.write_text('boom = [false, true]\nf = 1\nattack = "x"\n')
    argv = [str(path), "--out", str(tmp_path / "o"), "--scheduler", address,
            "--run-fn", "sweep_fns:toy", "--no-progress", "--no-plots"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "run 1 (" in err and "failed: ValueError: boom at f=1" in err


def test_own_local_cluster_leaks_nothing(grid, tmp_path, capsys):
    """Without --scheduler the sweep starts its own LocalCluster (--workers 1) and closes it:
    no process it started is left behind."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    argv = [str(grid), "--out", str(tmp_path / "o"), "--workers", "1",
            "--run-fn", "sweep_fns:toy", "--no-progress", "--no-plots"]
    assert main(argv) == 0
    assert "8 ok" in capsys.readouterr().out
    left = [p for p in me.children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


@pytest.mark.parametrize(("argv", "match"), [
    (["missing.toml"], r"no such file 'missing\.toml'"),
    (["GRID", "--workers", "0"], r"workers must be an integer >= 1; got workers=0"),
    (["GRID", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
     r"workers=2 sizes a local cluster"),
    (["GRID", "--run-fn", "nope"], r"--run-fn must be MODULE:FUNCTION; got 'nope'"),
    (["GRID", "--run-fn", "sweep_fns:nothing"], r"has no 'nothing'"),
    (["report", "NODIR"], r"has no sweep\.json; is it a sweep directory\?"),
])
def test_usage_errors_exit_2(argv, match, grid, tmp_path, capsys):
    """Invalid grids and arguments exit with status 2 and one line naming the problem."""
    argv = [str(grid) if a == "GRID" else str(tmp_path / "none") if a == "NODIR" else a
            for a in argv]
    if "--out" not in argv and argv[0] != "report":
        argv += ["--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("p2pbyz sweep")
    assert re.search(match, err), err
