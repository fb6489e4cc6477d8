"""``p2pbyz sweep``: the command line of sweeps (mounted by the project CLI, or run on its own)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InvalidArgument

__all__ = ["main"]

_EPILOG = """\
grid files: a scenario TOML whose values may be lists (one run per combination);
[zip.NAME] tables hold lists that vary together; seeds = N runs seeds 0..N-1.
A second invocation into the same --out skips the runs already finished.
Exit status: 0 every run ok, 1 some run failed, 2 invalid grid or arguments.
See also: p2pbyz sweep report DIR (rebuild the table and plots)."""


def _sweep_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run a grid of scenarios on Dask (resumable); write one table row per run "
        "and summary plots.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("grid", help="grid TOML file")
    p.add_argument("--out", metavar="DIR",
                   help="sweep directory (default: sweeps/<grid file name without .toml>)")
    p.add_argument("--dry-run", action="store_true",
                   help="list the runs (index, hash, done or to do, parameters); run nothing")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                   "(default: a local cluster)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local cluster: worker processes (default: one per core)")
    p.add_argument("--retries", type=int, default=1, metavar="N",
                   help="resubmissions of a run whose workers kept dying (default 1)")
    p.add_argument("--skip-failed", action="store_true",
                   help="do not run again the runs a previous invocation recorded as failed")
    p.add_argument("--run-fn", metavar="MODULE:FUNCTION",
                   help="run this function(scenario dict) -> metrics instead of p2pbyz.emulate; "
                   "the grid is then passed as written (no scenario schema)")
    p.add_argument("--no-plots", action="store_true", help="write the table only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _report_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{prog} report",
        description="Rebuild the table (results.csv, results.parquet with pyarrow) and the "
        "summary plots of a sweep directory from its run files.",
    )
    p.add_argument("dir", help="sweep directory")
    p.add_argument("--metric", help="metric to plot (default: the final accuracy)")
    return p


def _import_fn(spec: str) -> Callable[..., Any]:
    mod, sep, name = spec.partition(":")
    if not sep or not mod or not name:
        raise InvalidArgument(f"--run-fn must be MODULE:FUNCTION; got {spec!r}")
    try:
        obj: Any = importlib.import_module(mod)
    except ImportError as exc:
        raise InvalidArgument(f"--run-fn {spec}: cannot import {mod!r} ({exc})") from None
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InvalidArgument(f"--run-fn {spec}: {mod!r} has no {name!r}") from None
    if not callable(obj):
        raise InvalidArgument(f"--run-fn {spec}: {name!r} is not callable")
    return obj


def _fmt(v: Any) -> str:
    from ._grid import canonical_json

    return v if isinstance(v, str) else canonical_json(v)


def _cmd_report(argv: Sequence[str], prog: str) -> int:
    from ._report import report

    args = _report_parser(prog).parse_args(argv)
    try:
        rep = report(args.dir, metric=args.metric)
    except InvalidArgument as exc:
        print(f"{prog} report: {exc}", file=sys.stderr)
        return 2
    counts = {s: sum(r["status"] == s for r in rep.rows) for s in ("ok", "failed", "pending")}
    print(f"{prog} report: {len(rep.rows)} runs ({counts['ok']} ok, {counts['failed']} failed, "
          f"{counts['pending']} pending); table {rep.table}"
          + (f", {rep.parquet}" if rep.parquet else ""))
    for path in rep.plots:
        print(f"  plot {path}")
    for name, why in rep.skipped.items():
        print(f"  no {name} plot: {why}")
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str = "p2pbyz sweep") -> int:
    """Command line: ``p2pbyz sweep GRID.toml [--dry-run] [--scheduler ADDR] [--workers N]
    [--out DIR]`` and ``p2pbyz sweep report DIR``.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``sweep`` (default: ``sys.argv[1:]``).
    prog : str
        Program name shown in usage and messages.

    Returns
    -------
    int
        0 when every run is ok (or for a dry run / report), 1 when some run failed, 2 for an
        invalid grid or invalid arguments.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:
        return _cmd_report(argv[1:], prog)
    args = _sweep_parser(prog).parse_args(argv)
    from ._sweep import run_sweep

    out = args.out or os.path.join(
        "sweeps", os.path.splitext(os.path.basename(args.grid))[0] or "sweep"
    )
    try:
        run_fn = _import_fn(args.run_fn) if args.run_fn else None
        res = run_sweep(
            args.grid, out, scheduler=args.scheduler, workers=args.workers, run_fn=run_fn,
            dry_run=args.dry_run, retries=args.retries, retry_failed=not args.skip_failed,
            progress=False if args.no_progress else None, plots=not args.no_plots,
        )
    except InvalidArgument as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        width = len(str(len(res.runs) - 1))
        for run, row in zip(res.runs, res.rows, strict=True):
            state = {"ok": "done", "failed": "failed"}.get(row["status"], "to do")
            params = " ".join(f"{k}={_fmt(v)}" for k, v in run.params.items())
            print(f"{run.index:>{width}} {run.hash} {state:<6} {params}")
        todo = len(res.runs) - res.skipped
        print(f"{prog}: {len(res.runs)} runs, {res.skipped} already done, {todo} to run "
              f"(dry run: nothing ran; out {out})")
        return 0
    failed = res.failed
    for row in failed[:20]:
        print(f"{prog}: run {row['run']} ({row['hash']}) failed: {row['error']}", file=sys.stderr)
    if len(failed) > 20:
        print(f"{prog}: ... and {len(failed) - 20} more failed runs (see the table)",
              file=sys.stderr)
    print(f"{prog}: {len(res.runs)} runs ({res.executed} run now, {res.skipped} already done): "
          f"{res.n_ok} ok, {len(failed)} failed; table {res.table}"
          + (f", {len(res.plots)} plots in {os.path.join(out, 'plots')}" if res.plots else ""))
    return 1 if failed else 0
