"""``run_checks`` (the Python entry point) and ``main`` (the command line)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ._core import Context, Rule, SuiteResult, user_rule

__all__ = ["SUITES", "run_checks", "main"]


def _suites() -> dict[str, Any]:
    from . import (
        suite_angular, suite_breakdown, suite_kappa, suite_leeway, suite_resilience, suite_slowdown,
    )

    mods = [suite_resilience, suite_angular, suite_slowdown, suite_leeway, suite_kappa, suite_breakdown]
    return {m.NAME: m for m in mods}


#: Suite names, in report order.
SUITES = ("resilience", "angular", "slowdown", "leeway", "kappa", "breakdown")


@contextlib.contextmanager
def _numba_threads(k: int | None) -> Iterator[None]:
    """Run with k numba threads: many small rule calls gain nothing from a thread pool, and the
    kernels give bit-identical results whatever the thread count (house rule)."""
    if k is None:
        yield
        return
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(k, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def run_checks(
    suites: Sequence[str] | None = None,
    *,
    mode: str = "quick",
    seed: int = 0,
    out_dir: str | None = None,
    rules: Sequence[str | Rule] | None = None,
    extra_rules: Sequence[str | Callable[..., Any] | Rule] = (),
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    threads: int | None = 1,
    progress: Any = None,
    scheduler: Any = None,
    dask: bool = False,
    workers: int | None = None,
) -> list[SuiteResult]:
    """Run suites and (if ``out_dir``) write the report; return the :class:`SuiteResult` list.

    Parameters
    ----------
    suites : sequence of str, optional
        Names from :data:`SUITES` (default: all).
    mode : {"quick", "full"}
    seed : int
        Master seed; each suite and grid point derives its own stream from it.
    out_dir : str, optional
        Report directory (``report.md``, ``report.json``, ``figures/``).
    rules : sequence, optional
        Replace every suite's default rule list (registered names or :class:`Rule`).
    extra_rules : sequence
        User rules added to every suite: ``"module:function"``, callables ``fn(X, f)`` or Rules.
    settings : mapping, optional
        Per-suite overrides of the mode's settings, e.g. ``{"resilience": {"draws": 50}}``.
    threads : int or None
        Numba threads while running (default 1; None leaves the setting alone).
    progress : rich.progress.Progress, optional
    scheduler : str or distributed.Client, optional
        Run the suites on this Dask cluster (``"tcp://host:8786"``), one task per suite, through
        :func:`p2pbyz.sweep.map_on_dask`; figures are drawn on the workers and sent back, so the
        workers need no shared filesystem (user rules given as ``"module:function"`` must be
        importable there).
    dask : bool
        Run the suites on a local Dask cluster (``workers`` processes) even without ``scheduler``.
    workers : int, optional
        Size of the local cluster.

    Examples
    --------
    >>> from proofs_check import run_checks
    >>> res = run_checks(["kappa"], rules=["trimmed_mean"],
    ...                  settings={"kappa": {"nf": [(7, 2)], "search_iters": 5}})
    >>> sorted({c.verdict for c in res[0].claims})
    ['holds']
    """
    mods = _suites()
    names = list(SUITES if not suites else suites)
    unknown = [s for s in names if s not in mods]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {', '.join(SUITES)}")
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full'; got {mode!r}")
    extra = [r if isinstance(r, Rule) else user_rule(r) for r in extra_rules]
    results = []
    t0 = time.perf_counter()
    if scheduler is not None or dask:
        results = _run_on_dask(names, mode, seed, out_dir, rules, list(extra_rules), settings,
                               threads, scheduler, workers, progress is not None)
    with _numba_threads(threads):
        for name in names if not results else ():
            task = progress.add_task(name, total=None) if progress is not None else None

            def advance(k: float, task=task) -> None:
                if progress is not None:
                    progress.advance(task, k)

            def set_total(k: float, task=task) -> None:
                if progress is not None:
                    progress.update(task, total=k)

            ctx = Context(mode=mode, seed=seed, settings=dict((settings or {}).get(name, {})),
                          rules=rules, extra_rules=extra, out_dir=out_dir, advance=advance,
                          set_total=set_total)
            t = time.perf_counter()
            r = mods[name].run(ctx)
            r.seconds = time.perf_counter() - t
            results.append(r)
    if out_dir is not None:
        from . import report

        import p2pbyz

        ver = getattr(p2pbyz, "__version__", "unknown")
        report.write(out_dir, results, {
            "mode": mode, "seed": seed, "suites": names, "version": ver,
            "seconds": time.perf_counter() - t0,
            "user_rules": [r.label for r in extra],
        })
    return results


def _suite_task(name: str, mode: str, seed: int, rules: Any, extra_rules: list[Any],
                settings: Mapping[str, Mapping[str, Any]] | None, threads: int | None,
                with_figures: bool) -> tuple[SuiteResult, dict[str, bytes]]:
    """One suite on a Dask worker: its result and the bytes of its figures."""
    import tempfile

    mod = _suites()[name]
    extra = [r if isinstance(r, Rule) else user_rule(r) for r in extra_rules]
    figures: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp, _numba_threads(threads):
        ctx = Context(mode=mode, seed=seed, settings=dict((settings or {}).get(name, {})),
                      rules=rules, extra_rules=extra, out_dir=tmp if with_figures else None,
                      advance=lambda k: None, set_total=lambda k: None)
        t = time.perf_counter()
        r = mod.run(ctx)
        r.seconds = time.perf_counter() - t
        for rel in r.figures:
            with open(os.path.join(tmp, rel), "rb") as fh:
                figures[rel] = fh.read()
    return r, figures


def _run_on_dask(names: Sequence[str], mode: str, seed: int, out_dir: str | None, rules: Any,
                 extra_rules: list[Any], settings: Any, threads: int | None, scheduler: Any,
                 workers: int | None, progress: bool) -> list[SuiteResult]:
    import functools

    from p2pbyz.sweep import map_on_dask

    task = functools.partial(_suite_task, mode=mode, seed=seed, rules=rules,
                             extra_rules=extra_rules, settings=settings, threads=threads,
                             with_figures=out_dir is not None)
    outs = map_on_dask(task, list(names), scheduler=scheduler, workers=workers,
                       progress=progress, description="suites")
    results = []
    for r, figures in outs:
        for rel, data in figures.items():
            path = os.path.join(out_dir, rel)  # type: ignore[arg-type]
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
        results.append(r)
    return results


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m proofs_check",
        description="Monte Carlo checks of the papers' bounds for p2pbyz's aggregation rules; "
        "writes report.md, report.json and PNG figures.",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick",
                   help="small grids, about a minute (default)")
    g.add_argument("--full", dest="mode", action="store_const", const="full",
                   help="larger grids and more draws (under 30 minutes)")
    p.set_defaults(mode="quick")
    p.add_argument("--suite", action="append", choices=SUITES, metavar="NAME",
                   help=f"run only this suite (repeatable): {', '.join(SUITES)}")
    p.add_argument("--out", default="proofs_report", help="report directory (default: proofs_report)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--rule", action="append", default=[], metavar="MODULE:FUNCTION",
                   help="also check your own rule fn(X, f) -> (d,) (repeatable)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 if a [paper]/[derived] (or user-rule) claim fails")
    p.add_argument("--threads", type=int, default=1, help="numba threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the suites on this Dask scheduler (tcp://host:8786), one task per suite")
    p.add_argument("--dask", action="store_true",
                   help="run the suites on a local Dask cluster (see --workers)")
    p.add_argument("--workers", type=int, default=None, help="local Dask cluster size")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m proofs_check [--quick|--full] [--suite NAME ...] [--out DIR]``.

    Returns 0 when the checks ran (whatever the verdicts), 1 with ``--strict`` if an asserted claim
    fails, 2 on a usage error.
    """
    args = _parser().parse_args(argv)
    if args.seed < 0:
        print("proofs_check: --seed must be >= 0", file=sys.stderr)
        return 2
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), transient=False)
    try:
        cm = progress if progress is not None else contextlib.nullcontext()
        with cm:
            results = run_checks(args.suite, mode=args.mode, seed=args.seed, out_dir=args.out,
                                 extra_rules=args.rule, threads=args.threads, progress=progress,
                                 scheduler=args.scheduler, dask=args.dask, workers=args.workers)
    except (ValueError, ImportError, AttributeError) as exc:
        print(f"proofs_check: {exc}", file=sys.stderr)
        return 2
    counts = {"holds": 0, "fails": 0, "inconclusive": 0, "n/a": 0}
    for r in results:
        for c in r.claims:
            counts[c.verdict] += 1
    bad = [c for r in results for c in r.claims if c.verdict == "fails" and c.asserted]
    print(f"proofs_check: {counts['holds']} hold, {counts['fails']} fail "
          f"({len(bad)} asserted), {counts['inconclusive']} inconclusive; "
          f"report in {os.path.join(args.out, 'report.md')}")
    return 1 if (args.strict and bad) else 0
