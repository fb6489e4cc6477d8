"""The ``p2pbyz`` command line: run (default and file scenarios), list, check delegation, exit
codes and messages, and the results directory it writes (atomically)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from p2pbyz import results
from p2pbyz.cli import LISTS, main

ROOT = pathlib.Path(__file__).parent.parent


def _run_dirs(out: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in out.iterdir() if p.is_dir())


def test_default_run_from_a_fresh_interpreter_completes_and_writes_results(tmp_path):
    """``python -m p2pbyz run`` with no scenario: the built-in default, well under a minute."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "p2pbyz", "run", "--out", str(tmp_path), "--quiet"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert wall < 60
    (run_dir,) = _run_dirs(tmp_path)
    assert proc.stdout.strip() == str(run_dir)
    assert proc.stderr == ""
    names = {p.name for p in run_dir.iterdir()}
    assert {"scenario.toml", "metrics.json", "metrics.csv", "accuracy.png", "loss.png"} <= names
    doc = results.read_metrics(run_dir)
    assert doc["scenario"]["name"] == "default"
    assert doc["summary"]["accuracy"] > 0.9           # trimmed mean resists 2 ALIE workers of 10
    assert doc["metrics"]["server"]["accuracy"].shape == (61,)
    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["group"] for r in rows} == {"server", "honest", "byzantine"}
    assert {int(r["round"]) for r in rows if r["group"] == "server"} == set(range(61))
    for png in ("accuracy.png", "loss.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_a_scenario_file_with_overrides_prints_the_table(tmp_path, capsys):
    code = main([
        "run", str(ROOT / "topologies" / "scenarios" / "p2p_ring.toml"), "--out", str(tmp_path),
        "--set", "rounds=3", "--set", "p2p.gossip_steps=1", "--run-id", "ring3",
    ])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "p2p-ring: p2p, rule median, attack alie" in out.out
    assert "messages:" in out.out and "results:" in out.out
    run_dir = tmp_path / "ring3"
    assert (run_dir / "disagreement.png").exists()    # several honest models: disagreement
    doc = json.loads((run_dir / "metrics.json").read_text())
    assert doc["scenario"]["rounds"] == 3 and doc["scenario"]["p2p"]["gossip_steps"] == 1
    assert doc["statistics"]["run"]["delivered"] > 0
    # The resolved scenario reruns as is.
    assert main(["run", str(run_dir / "scenario.toml"), "--out", str(tmp_path), "--quiet",
                 "--no-plots"]) == 0


def test_same_run_id_never_overwrites(tmp_path, capsys):
    args = ["run", "--out", str(tmp_path), "--set", "rounds=2", "--quiet", "--no-plots",
            "--run-id", "x"]
    assert main(args) == 0 and main(args) == 0
    assert [p.name for p in _run_dirs(tmp_path)] == ["x", "x-2"]


def test_malformed_scenario_file_is_a_one_line_error_with_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('rounds = 5\n[rule]\nname = "krumm"\n')
    code = main(["run", str(p), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"p2pbyz: error: {p} line 3: rule.name: unknown rule 'krumm'; known rules:")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_toml_syntax_error_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text("rounds = = 5\n")
    assert main(["run", str(p)]) == 2
    assert "invalid TOML" in capsys.readouterr().err


def test_bad_override_exit_2(capsys):
    assert main(["run", "--set", "ps.workers=-3", "--no-save"]) == 2
    assert capsys.readouterr().err == "p2pbyz: error: scenario: ps.workers: must be >= 1; got -3\n"


def test_usage_errors_exit_2_and_help_exits_0(capsys):
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["list", "nonsense"]) == 2
    assert main(["--help"]) == 0
    assert main(["run", "--help"]) == 0
    assert "--set KEY=VALUE" in capsys.readouterr().out


@pytest.mark.parametrize("what", sorted(LISTS))
def test_list(what, capsys):
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    expected = {"rules": "trimmed_mean", "attacks": "alie", "topologies": "ring",
                "protocols": "multi_server", "datasets": "digits", "models": "softmax",
                "preagg": "nnm", "schedules": "cosine", "partitions": "dirichlet"}[what]
    assert any(line.split()[0] == expected for line in out.splitlines())


@contextlib.contextmanager
def registered_rule(name):
    """Register a custom rule (coordinate-wise median) for the duration of a test."""
    from p2pbyz import gars
    from p2pbyz.gars import _registry

    def impl(X, f):
        return np.median(X, axis=0)

    gars.register_rule(name, impl, complexity="O(nd log n)", paper="a test")
    try:
        yield
    finally:
        _registry._REGISTRY.pop(name, None)


def test_a_rule_registered_at_run_time_is_listed_and_runs_by_name(tmp_path, capsys):
    with registered_rule("my_rule_cli"):
        assert main(["list", "rules"]) == 0
        assert "my_rule_cli" in capsys.readouterr().out
        assert main(["run", "--set", "rule.name=my_rule_cli", "--set", "rounds=3", "--quiet",
                     "--no-plots", "--out", str(tmp_path)]) == 0
    (run_dir,) = _run_dirs(tmp_path)
    assert json.loads((run_dir / "metrics.json").read_text())["scenario"]["rule"]["name"] == "my_rule_cli"


def test_check_delegates_to_proofs_check(capsys):
    pytest.importorskip("proofs_check")
    assert main(["check", "--help"]) == 0
    assert "--quick" in capsys.readouterr().out


def test_check_without_proofs_check_exits_2(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "proofs_check", None)   # makes the import fail
    assert main(["check"]) == 2
    assert "proofs_check" in capsys.readouterr().err


def test_runtime_failure_exit_1_without_traceback(monkeypatch, capsys):
    import p2pbyz._emulate as E

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(E, "emulate", boom)
    monkeypatch.delenv("P2PBYZ_DEBUG", raising=False)
    assert main(["run", "--no-save"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("p2pbyz: error: run failed: RuntimeError: disk on fire")
    assert "Traceback" not in err


def test_interrupted_write_leaves_no_half_written_run(tmp_path, monkeypatch):
    """A failure while writing (here: in the plots) leaves neither the run nor temporary files."""
    import p2pbyz

    res = p2pbyz.emulate(None, overrides=["rounds=2"])

    def fail(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "plot_metrics", fail)
    with pytest.raises(KeyboardInterrupt):
        results.write_results(res, tmp_path, run="r")
    assert list(tmp_path.iterdir()) == []
    d = results.write_results(res, tmp_path, run="r", plots=False)
    assert d == tmp_path / "r" and sorted(p.name for p in d.iterdir()) == [
        "metrics.csv", "metrics.json", "scenario.toml",
    ]


def test_atomic_write_replaces_whole_files(tmp_path):
    p = results.atomic_write(tmp_path / "f.txt", "one")
    results.atomic_write(p, b"two")
    assert p.read_text() == "two" and [q.name for q in tmp_path.iterdir()] == ["f.txt"]


def test_python_dash_m_entry_point(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "p2pbyz", "list", "protocols"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["ps", "multi_server", "p2p"]
