"""proofs_check on Dask gives the same verdicts and numbers as in process, figures included."""

from __future__ import annotations

import json

from proofs_check import run_checks

SETTINGS = {"kappa": {"nf": [(7, 2)], "search_iters": 5}}


def _claims(results):
    return [(c.verdict, c.as_dict()) for r in results for c in r.claims]


def test_suites_on_a_local_dask_cluster_match_the_local_run(tmp_path) -> None:
    local = run_checks(["kappa"], rules=["trimmed_mean", "median"], settings=SETTINGS,
                       out_dir=str(tmp_path / "local"))
    remote = run_checks(["kappa"], rules=["trimmed_mean", "median"], settings=SETTINGS,
                        out_dir=str(tmp_path / "dask"), dask=True, workers=1)
    assert _claims(local) == _claims(remote)
    rep = json.loads((tmp_path / "dask" / "report.json").read_text())
    figs = [f for s in rep["suites"] for f in s["figures"]]
    assert all((tmp_path / "dask" / f).stat().st_size > 1000 for f in figs)
