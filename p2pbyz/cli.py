"""The ``p2pbyz`` command line (thin: every command calls the library).

::

    p2pbyz run [SCENARIO.toml] [--set key=value ...] [--out DIR] [--quiet] [--no-plots]
    p2pbyz list rules|attacks|topologies|protocols|datasets|models|preagg|schedules|partitions
    p2pbyz check [proofs_check options]        (delegates to proofs_check)
    p2pbyz sweep GRID.toml [sweep options]     (delegates to p2pbyz.sweep)

Exit codes: 0 success, 1 runtime failure, 2 usage or scenario error (one line on stderr, no
traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "build_parser", "LISTS"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _rules() -> list[tuple[str, str]]:
    from . import gars

    out = []
    for n in gars.names():
        s = gars.spec(n)
        params = ", ".join(f"{k}={v!r}" for k, v in s.params.items())
        out.append((n, f"needs {s.requirement}; {s.complexity}" + (f"; params: {params}" if params else "")))
    return out


def _attacks() -> list[tuple[str, str]]:
    from . import attacks

    out = []
    for n in attacks.names():
        s = attacks.spec(n)
        out.append((n, f"{s.formula} (knowledge: {', '.join(s.knowledge)})"))
    return out


def _topologies() -> list[tuple[str, str]]:
    import inspect

    import topologies

    out = []
    for n in topologies.names():
        fn = topologies.builder(n)
        doc = (inspect.getdoc(fn) or "").split("\n")[0]
        params = ", ".join(inspect.signature(fn).parameters)
        out.append((n, f"{doc} ({params})"))
    return out


def _protocols() -> list[tuple[str, str]]:
    from . import protocols

    return [
        (n, f"{protocols.spec(n).summary}; roles: {', '.join(protocols.spec(n).roles)}")
        for n in protocols.names()
    ]


def _datasets() -> list[tuple[str, str]]:
    from . import learning

    out = []
    for n in learning.datasets():
        info = learning.dataset_info(n)
        params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items())
        out.append((n, f"{info['summary']} [{info['task']}]" + (f"; params: {params}" if params else "")))
    return out


def _models() -> list[tuple[str, str]]:
    from . import learning

    out = []
    for n in learning.models():
        info = learning.model_info(n)
        params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items())
        out.append((n, f"{info['summary']} [{info['task']}]; params: {params}"))
    return out


def _preagg() -> list[tuple[str, str]]:
    from . import preagg

    out = []
    for n in preagg.names():
        s = preagg.spec(n)
        params = ", ".join(getattr(s, "params", ()) or ())
        req = getattr(s, "requirement", "")
        out.append((n, f"needs {req}" + (f"; params: {params}" if params else "")))
    return out


def _schedules() -> list[tuple[str, str]]:
    from . import learning

    return [(n, "learning-rate schedule") for n in learning.schedules()]


def _partitions() -> list[tuple[str, str]]:
    from . import learning

    text = {"iid": "shuffle and split evenly", "dirichlet": "label skew Dir(alpha)",
            "extreme": "classes_per_worker classes per worker"}
    return [(n, text.get(n, "")) for n in learning.partitions()]


#: What ``p2pbyz list`` can list: name -> function returning (name, description) pairs.
LISTS: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "rules": _rules,
    "attacks": _attacks,
    "topologies": _topologies,
    "protocols": _protocols,
    "datasets": _datasets,
    "models": _models,
    "preagg": _preagg,
    "schedules": _schedules,
    "partitions": _partitions,
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``p2pbyz`` (``check`` and ``sweep`` pass their arguments on)."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="p2pbyz",
        description="Byzantine-resilient distributed learning: emulate training over a "
        "virtual-time network, list the building blocks, check the papers' bounds.",
    )
    p.add_argument("--version", action="version", version=f"p2pbyz {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    r = sub.add_parser(
        "run",
        help="run a scenario (the built-in default without argument) and write results/<run-id>/",
        description="Run one emulation and write results/<run-id>/ (resolved scenario, metrics "
        "JSON and CSV, PNG plots). Without SCENARIO, runs the built-in default: a parameter "
        "server, 10 workers of which 2 run ALIE, the trimmed mean, softmax on digits, 60 rounds.",
    )
    r.add_argument("scenario", nargs="?", metavar="SCENARIO.toml", help="scenario file")
    r.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a scenario value by dotted key, e.g. --set rule.name=median "
        "--set ps.byzantine=3 (repeatable; values are TOML, a bare word is a string)",
    )
    r.add_argument("--out", default="results", metavar="DIR", help="parent of the run directory "
                   "(default: results)")
    r.add_argument("--run-id", default=None, metavar="ID", help="name of the run directory")
    r.add_argument("--quiet", "-q", action="store_true",
                   help="no progress bar and no table; print only the run directory")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    r.add_argument("--no-save", action="store_true", help="do not write a results directory")

    ls = sub.add_parser("list", help="list rules, attacks, topologies, protocols, datasets, ...",
                        description="List registered building blocks (custom ones included).")
    ls.add_argument("what", choices=sorted(LISTS), metavar="WHAT",
                    help="one of: " + ", ".join(sorted(LISTS)))

    sub.add_parser("check", help="Monte Carlo checks of the papers' bounds (proofs_check)",
                   add_help=False)
    sub.add_parser("sweep", help="grids of runs on Dask (p2pbyz.sweep)", add_help=False)
    return p


def _fail(msg: str, code: int) -> int:
    print(f"p2pbyz: error: {msg}", file=sys.stderr)
    return code


def _fmt(v: Any, digits: int = 4) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.{digits}f}"
    return str(v)


def _print_table(res: Any, run_dir: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    s = res.summary()
    sc = res.scenario
    counts = ", ".join(f"{k}={v}" for k, v in sc.counts.items())
    table = Table(
        title=f"{sc.name}: {sc.protocol}, rule {sc.rule.name}, attack {sc.attack.name}",
        title_justify="left",
    )
    table.add_column("group")
    for col in ("accuracy", "min acc", "loss", "disagreement", "influence"):
        table.add_column(col, justify="right")
    for g in ("server", "honest", "byzantine"):
        m = res.metrics.get(g)
        if not m or "accuracy" not in m:
            continue
        infl = m.get("influence")
        infl_v = float(_nanmean(infl)) if infl is not None else math.nan
        table.add_row(
            g,
            _fmt(res.final("accuracy", g)),
            _fmt(res.final("accuracy_min", g)),
            _fmt(res.final("loss", g)),
            _fmt(res.final("disagreement", g)),
            _fmt(infl_v),
        )
    console = Console()
    console.print(table)
    st = res.statistics.run
    console.print(f"{counts}; {sc.rounds} rounds, seed {sc.seed}")
    console.print(
        f"messages: {st.sent} sent, {st.delivered} delivered, {st.lost + st.partitioned} lost, "
        f"{st.malformed} malformed, {st.throttled} throttled, {st.omitted} omitted"
    )
    console.print(
        f"virtual time {s['virtual_time']:.3f} s; wall {s['wall_time']:.1f} s "
        f"(runtime share of the run {100 * s['runtime_share']:.0f}%)"
    )
    if run_dir is not None:
        console.print(f"results: {run_dir}")


def _nanmean(a: Any) -> float:
    import numpy as np

    a = np.asarray(a, dtype=float)
    ok = ~np.isnan(a)
    return float(a[ok].mean()) if ok.any() else math.nan


def _cmd_run(args: argparse.Namespace) -> int:
    from . import scenario as S
    from ._emulate import emulate
    from .results import write_results

    s = S.load(args.scenario, overrides=args.overrides)
    show = not args.quiet
    progress = None
    task = None
    if show and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn(f"{s.name} ({s.protocol})"), BarColumn(), MofNCompleteColumn(),
            TextColumn("rounds"), TimeElapsedColumn(), console=Console(stderr=True),
            transient=True,
        )
        task = progress.add_task("run", total=s.rounds)

    def on_progress(done: int, total: int) -> None:
        if progress is not None:
            progress.update(task, completed=done)

    if progress is not None:
        with progress:
            res = emulate(s, progress=on_progress)
    else:
        res = emulate(s)
    run_dir = None
    if not args.no_save:
        run_dir = write_results(res, args.out, run=args.run_id, plots=not args.no_plots)
    if show:
        _print_table(res, run_dir)
    elif run_dir is not None:
        print(run_dir)
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    rows = LISTS[args.what]()
    width = max((len(n) for n, _ in rows), default=0)
    for n, text in rows:
        print(f"{n:<{width}}  {text}".rstrip())
    return EXIT_OK


def _delegate(name: str, argv: list[str]) -> int:
    if name == "check":
        try:
            import proofs_check
        except ImportError:
            return _fail("p2pbyz check needs the proofs_check package, which is not installed", 2)
        fn = getattr(proofs_check, "main", None)
        if fn is None:
            try:
                from proofs_check._runner import main as fn
            except ImportError:
                return _fail("proofs_check has no main(); cannot run p2pbyz check", 2)
        return int(fn(argv) or 0)
    try:
        from .sweep import main as sweep_main
    except ImportError:
        return _fail("p2pbyz sweep is not available in this installation", 2)
    return int(sweep_main(argv, prog="p2pbyz sweep") or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``p2pbyz`` command line with ``argv`` (default ``sys.argv[1:]``); return the exit
    code.

    Examples
    --------
    >>> from p2pbyz.cli import main
    >>> main(["list", "protocols"])  # doctest: +ELLIPSIS
    ps            parameter server: ...
    0
    """
    from .errors import InvalidArgument, P2PByzError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("check", "sweep"):
        try:
            return _delegate(argv[0], argv[1:])
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # their argparse: --help or a usage error
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    try:
        if args.command == "run":
            return _cmd_run(args)
        return _cmd_list(args)
    except KeyboardInterrupt:
        print("p2pbyz: interrupted (no results written)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into a command that stopped reading (| head)
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
        except OSError:
            pass
        return EXIT_OK
    except InvalidArgument as exc:  # ScenarioError, TopologyError, RequirementError, ...
        return _fail(str(exc), EXIT_USAGE)
    except P2PByzError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILURE)
    except Exception as exc:  # noqa: BLE001 - one line for the user, the traceback on demand
        if os.environ.get("P2PBYZ_DEBUG"):
            raise
        return _fail(
            f"run failed: {type(exc).__name__}: {exc} (set P2PBYZ_DEBUG=1 for the traceback)",
            EXIT_FAILURE,
        )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
