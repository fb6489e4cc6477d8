"""Sweeps: grids of emulation runs on Dask, resumable, with a results table and summary plots.

A grid is a scenario whose values may be lists (see :func:`expand`); :func:`run_sweep` runs every
point on a Dask cluster (a local one by default, ``scheduler="tcp://host:8786"`` for a real one),
skips the points already finished in the sweep directory, keeps going when a run fails, retries a
run whose worker died, and writes one table row per run plus summary plots (:func:`report`).
:func:`map_on_dask` is the same machinery for any list of independent tasks (``proofs_check
--scheduler``). The command line is ``p2pbyz sweep`` (:func:`main`).

Examples
--------
>>> from p2pbyz.sweep import expand
>>> runs = expand({"rule": {"name": ["median", "krum"]}, "ps": {"byzantine": [1, 2]}, "seeds": 2})
>>> len(runs), runs[0].params
(8, {'rule.name': 'median', 'ps.byzantine': 1, 'seed': 0})
"""

from __future__ import annotations

from ._cli import main as main
from ._dask import dask_client as dask_client
from ._dask import map_on_dask as map_on_dask
from ._grid import Run as Run
from ._grid import canonical_json as canonical_json
from ._grid import expand as expand
from ._grid import run_hash as run_hash
from ._report import Report as Report
from ._report import report as report
from ._sweep import SweepResult as SweepResult
from ._sweep import emulate_metrics as emulate_metrics
from ._sweep import resolve_scenario as resolve_scenario
from ._sweep import run_sweep as run_sweep

__all__ = [
    "Run",
    "SweepResult",
    "Report",
    "expand",
    "run_hash",
    "canonical_json",
    "run_sweep",
    "report",
    "map_on_dask",
    "dask_client",
    "resolve_scenario",
    "emulate_metrics",
    "main",
]
