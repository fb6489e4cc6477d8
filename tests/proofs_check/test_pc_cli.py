"""python -m proofs_check: the quick run writes a report that parses; flags and exit codes."""

from __future__ import annotations

import json
import os

from proofs_check import main


def test_quick_report_files(tmp_path):
    """The whole quick suite runs; report.json loads, report.md starts with the summary table,
    the PNGs exist."""
    out = tmp_path / "rep"
    assert main(["--quick", "--out", str(out), "--no-progress"]) == 0
    data = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in data["suites"]] == ["resilience", "angular", "slowdown", "leeway",
                                                   "kappa", "breakdown"]
    assert data["summary"] and all(c["verdict"] in ("holds", "fails", "inconclusive", "n/a")
                                   for s in data["suites"] for c in s["claims"])
    md = (out / "report.md").read_text()
    assert md.index("## Summary") < md.index("## resilience")
    assert "| suite | rule | holds | fails | inconclusive | n/a | asserted failures |" in md
    figs = [f for s in data["suites"] for f in s["figures"]]
    assert figs and all((out / f).stat().st_size > 1000 for f in figs)
    assert all(f"]({f})" in md for f in figs)


def test_strict_exit_code_and_user_rule(tmp_path, monkeypatch, capsys):
    """--rule module:function checks a user rule; --strict exits 1 when its asserted claim fails."""
    monkeypatch.syspath_prepend(os.path.dirname(__file__))
    argv = ["--suite", "breakdown", "--rule", "_rules_for_tests:plain_average", "--out", str(tmp_path),
            "--no-progress"]
    assert main(argv) == 0
    assert main(argv + ["--strict"]) == 1
    assert "asserted" in capsys.readouterr().out


def test_usage_errors(tmp_path, capsys):
    """A bad --rule is a usage error (exit 2) with a message."""
    assert main(["--suite", "kappa", "--rule", "no_colon", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "--rule must be 'module:function'; got 'no_colon'" in capsys.readouterr().err
