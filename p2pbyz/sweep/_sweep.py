"""``run_sweep``: expand a grid, skip the runs already done, run the rest on Dask, tabulate."""

from __future__ import annotations

import copy
import datetime as _dt
import numbers
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument
from ._dask import Outcome, check_cluster_args, dask_client, drive
from ._grid import Run, axes_of, expand, load_grid
from ._store import MANIFEST, load_run, run_path, write_json

__all__ = [
    "SweepResult",
    "run_sweep",
    "resolve_scenario",
    "emulate_metrics",
    "execute",
    "split_output",
]


def resolve_scenario(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``raw`` against the p2pbyz scenario schema and return it with every default
    written out (:func:`p2pbyz.scenario.load` then :func:`p2pbyz.scenario.to_dict`).

    Resolving before hashing makes a run's hash independent of how the grid spelled it: a setting
    left at its default and the same default written out give the same run.

    Examples
    --------
    >>> from p2pbyz.sweep import resolve_scenario
    >>> s = resolve_scenario({"rule": {"name": "median"}, "rounds": 3})
    >>> s["rule"]["name"], s["rounds"], s["ps"]["workers"]
    ('median', 3, 10)
    """
    from .. import scenario

    return scenario.to_dict(scenario.load(dict(raw)))


def emulate_metrics(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The default ``run_fn``: run :func:`p2pbyz.emulate` on ``scenario`` and return its final
    metrics (scalars) and per-round series (lists), as :func:`split_output` expects."""
    import p2pbyz

    from ._metrics import result_metrics

    return result_metrics(p2pbyz.emulate(dict(scenario)))


def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if hasattr(v, "ndim") and getattr(v, "ndim", None) == 0:
        return _scalar(v.item())
    raise TypeError


def split_output(out: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Split a ``run_fn`` result into scalar metrics (table columns) and per-round series.

    ``out`` must be a mapping from names to a scalar (number, bool, str, None, numpy scalar) or a
    one-dimensional sequence of numbers (a per-round series, kept in the run file for the
    accuracy-vs-round plot).
    """
    if not isinstance(out, Mapping):
        raise TypeError(
            f"run_fn must return a mapping of metric names to values; got {type(out).__name__}"
        )
    metrics: dict[str, Any] = {}
    series: dict[str, list[Any]] = {}
    for k, v in out.items():
        if not isinstance(k, str) or not k:
            raise TypeError(f"run_fn returned a metric name that is not a non-empty string: {k!r}")
        try:
            metrics[k] = _scalar(v)
            continue
        except TypeError:
            pass
        seq = v.tolist() if hasattr(v, "tolist") else v
        if isinstance(seq, (list, tuple)):
            try:
                series[k] = [_scalar(x) for x in seq]
                if all(x is None or isinstance(x, (int, float)) for x in series[k]):
                    continue
            except TypeError:
                pass
        raise TypeError(
            f"run_fn returned {k}={v!r}; each value must be a scalar (number, bool, str, None) "
            "or a 1-D sequence of numbers (a per-round series)"
        )
    return metrics, series


def execute(run_fn: Callable[[dict[str, Any]], Any], scenario: Mapping[str, Any]) -> dict[str, Any]:
    """Run one scenario on a worker; never raises: a failure is returned as a record with the
    error and its traceback (so a deterministic error is reported once, not retried)."""
    t0 = time.perf_counter()
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        metrics, series = split_output(run_fn(copy.deepcopy(dict(scenario))))
    except Exception as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "seconds": time.perf_counter() - t0, **where}
    return {"status": "ok", "metrics": metrics, "series": series,
            "seconds": time.perf_counter() - t0, **where}


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    out_dir : str
    runs : tuple of Run
        Every run of the grid, in grid order.
    columns : tuple of str
        Columns of the table (see :func:`p2pbyz.sweep.report`).
    rows : tuple of dict
        One row per run, in grid order; ``row["status"]`` is ``"ok"``, ``"failed"`` or
        ``"pending"`` (not run: a dry run, or an interrupted sweep).
    executed : int
        Runs computed by this call.
    skipped : int
        Runs found finished in ``out_dir`` and not run again.
    dry_run : bool
    table, parquet : str or None
        Paths of the table files written (None for a dry run; parquet None without pyarrow).
    plots : tuple of str
        Paths of the PNG plots written.
    """

    out_dir: str
    runs: tuple[Run, ...]
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    executed: int
    skipped: int
    dry_run: bool = False
    table: str | None = None
    parquet: str | None = None
    plots: tuple[str, ...] = ()

    @property
    def n_ok(self) -> int:
        """Number of runs whose status is ``"ok"``."""
        return sum(r["status"] == "ok" for r in self.rows)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Rows of the failed runs (``row["error"]``: the error; the run file: the traceback)."""
        return [r for r in self.rows if r["status"] == "failed"]


def _fn_name(fn: Any) -> str:
    mod = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{mod}:{name}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_sweep(
    grid: str | os.PathLike[str] | Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    scheduler: Any = None,
    workers: int | None = None,
    run_fn: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    dry_run: bool = False,
    resolve: Callable[[dict[str, Any]], Mapping[str, Any]] | bool | None = None,
    retries: int = 1,
    retry_failed: bool = True,
    progress: bool | None = None,
    plots: bool = True,
) -> SweepResult:
    """Run every point of a grid on Dask, skipping the runs already finished in ``out_dir``.

    Parameters
    ----------
    grid : path or mapping
        A grid file (see :func:`p2pbyz.sweep.expand`): a scenario whose values may be lists.
    out_dir : path
        The sweep directory: ``runs/<hash>.json`` per run, ``results.csv`` (and ``.parquet``),
        ``plots/``, ``sweep.json``. Re-running the same (or a grown) grid into it resumes.
    scheduler : str or distributed.Client, optional
        Address of a running Dask scheduler (``"tcp://host:8786"``) or a Client; default: a
        ``LocalCluster`` with one single-threaded worker process per core, closed at the end.
    workers : int, optional
        Number of local worker processes.
    run_fn : callable, optional
        ``run_fn(scenario: dict) -> mapping`` of final metrics (scalars) and optional per-round
        series (1-D sequences), computed on a worker; it must be picklable (cloudpickle) and, on a
        remote cluster, importable there. Default: :func:`emulate_metrics` (:func:`p2pbyz.emulate`).
    dry_run : bool
        Expand, resolve and hash the runs and report which are done, without running anything or
        writing to ``out_dir``.
    resolve : callable or bool, optional
        How each expanded scenario is resolved before hashing and running: a callable, ``True``
        (:func:`resolve_scenario`, the p2pbyz schema) or ``False`` (as expanded). Default: ``True``
        with the default ``run_fn``, ``False`` with a custom one (whose schema p2pbyz cannot know).
    retries : int
        Resubmissions of a run after the scheduler gave up on it because its worker kept dying
        (the scheduler already reschedules a run whose worker was lost; see
        :func:`p2pbyz.sweep.map_on_dask`). A run that *raises* is not retried: it is recorded as
        failed with its error and traceback, and the sweep goes on.
    retry_failed : bool
        Run again the runs whose result file says ``failed`` (default). ``False`` skips them too.
    progress : bool, optional
        A rich progress bar on stderr (default: when stderr is a terminal).
    plots : bool
        Write the summary plots (see :func:`p2pbyz.sweep.report`).

    Returns
    -------
    SweepResult

    Raises
    ------
    InvalidArgument
        An invalid grid, or a grid point the scenario schema rejects (the message names the run and
        its parameters), before anything runs.

    Examples
    --------
    >>> import tempfile
    >>> from p2pbyz.sweep import run_sweep
    >>> res = run_sweep({"x": [1, 2, 3]}, tempfile.mkdtemp(), dry_run=True, run_fn=dict)
    >>> [(r["x"], r["status"]) for r in res.rows]
    [(1, 'pending'), (2, 'pending'), (3, 'pending')]
    """
    from ._report import collect, report

    check_cluster_args(scheduler, workers)
    if run_fn is not None and not callable(run_fn):
        raise InvalidArgument(f"sweep: run_fn must be callable; got run_fn={run_fn!r}")
    if resolve is None:
        resolve = run_fn is None
    resolver: Callable[[dict[str, Any]], Mapping[str, Any]] | None
    if resolve is True:
        resolver = resolve_scenario
    elif resolve is False:
        resolver = None
    elif callable(resolve):
        resolver = resolve
    else:
        raise InvalidArgument(
            f"sweep: resolve must be a callable or a bool; got resolve={resolve!r}"
        )
    fn = run_fn if run_fn is not None else emulate_metrics
    if isinstance(grid, (str, os.PathLike)):
        raw_grid: Any = load_grid(grid)
        grid_source: str | None = os.path.abspath(os.fspath(grid))
    else:
        raw_grid, grid_source = copy.deepcopy(dict(grid)), None

    runs = expand(raw_grid, resolve=resolver)
    out = os.fspath(out_dir)
    done: dict[str, dict[str, Any]] = {}
    for r in runs:
        rec = load_run(out, r.hash)
        if rec is not None and (rec["status"] == "ok" or not retry_failed):
            done[r.hash] = rec
    todo = [r for r in runs if r.hash not in done]
    if dry_run:
        records = {r.hash: load_run(out, r.hash) for r in runs}
        columns, rows = collect(runs, records)
        return SweepResult(out, tuple(runs), tuple(columns), tuple(rows), executed=0,
                           skipped=len(runs) - len(todo), dry_run=True)

    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, MANIFEST), {
        "format": 1,
        "created": _now(),
        "grid_file": grid_source,
        "grid": raw_grid,
        "run_fn": _fn_name(fn),
        "axes": axes_of(runs),
        "runs": [{"index": r.index, "hash": r.hash, "params": r.params, "scenario": r.scenario}
                 for r in runs],
    })

    def on_done(i: int, outcome: Outcome) -> None:
        run = todo[i]
        if outcome.ok:
            rec = dict(outcome.value)
        else:
            rec = {"status": "failed", "error": outcome.error, "traceback": outcome.traceback}
        rec.update(hash=run.hash, index=run.index, params=run.params, scenario=run.scenario,
                   attempts=outcome.attempts, finished=_now(), run_fn=_fn_name(fn))
        write_json(run_path(out, run.hash), rec)

    if todo:
        show = sys.stderr is not None and sys.stderr.isatty() if progress is None else progress
        with dask_client(scheduler, workers) as client:
            drive(client, execute, [(fn, r.scenario) for r in todo], on_done, retries=retries,
                  progress=bool(show), description="sweep", name="p2pbyz-run")
    rep = report(out, plots=plots)
    return SweepResult(out, tuple(runs), tuple(rep.columns), tuple(rep.rows), executed=len(todo),
                       skipped=len(runs) - len(todo), dry_run=False, table=rep.table,
                       parquet=rep.parquet, plots=tuple(rep.plots))

