"""The Dask machinery: a client on a local or remote cluster, a driver that survives lost workers.

Worker loss is handled at two levels. The scheduler itself reschedules a task whose worker died
while running it, up to ``distributed.scheduler.allowed-failures`` times (3 by default); past that
it gives up with :class:`distributed.KilledWorker`, and the driver here resubmits the task under a
fresh key ``retries`` more times. Exceptions raised by the task itself are *not* retried: runs and
Monte Carlo points are deterministic, so a retry would fail the same way.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidArgument

__all__ = [
    "check_cluster_args", "dask_client", "local_cluster", "map_on_dask", "machine_workers",
    "Outcome", "drive",
]


def machine_workers() -> int:
    """Number of CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def check_cluster_args(scheduler: Any, workers: Any) -> None:
    """Validate ``scheduler`` and ``workers`` as :func:`dask_client` takes them."""
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise InvalidArgument(f"sweep: workers must be an integer >= 1; got workers={workers!r}")
    if scheduler is not None and workers is not None:
        raise InvalidArgument(
            f"sweep: workers={workers} sizes a local cluster; with scheduler={scheduler!r} the "
            "cluster's size is set where its workers are started (dask worker --nworkers N)"
        )
    if scheduler is None or isinstance(scheduler, str) and scheduler:
        return
    from distributed import Client

    if not isinstance(scheduler, Client):
        raise InvalidArgument(
            f"sweep: scheduler must be an address like 'tcp://host:8786' or a "
            f"distributed.Client; got scheduler={scheduler!r}"
        )


@contextlib.contextmanager
def dask_client(scheduler: Any = None, workers: int | None = None) -> Iterator[Any]:
    """A :class:`distributed.Client` for the duration of a ``with`` block.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        ``"tcp://host:port"`` of a running scheduler (see the README, "Running on a cluster"), or a
        Client you already hold (used as is and left open). ``None`` starts a
        :class:`distributed.LocalCluster` and shuts it down on exit.
    workers : int, optional
        Local cluster only: number of worker processes (default: the cores this process may use).
        Each worker runs one task at a time (``threads_per_worker=1``) with ``NUMBA_NUM_THREADS=1``,
        so parallelism comes from processes and runs do not oversubscribe the cores.

    Notes
    -----
    Runs are long, and the scheduler blames every task queued on a worker that dies, not only
    the one that killed it; so the local cluster's scheduler hands each worker one task at a time
    (``distributed.scheduler.worker-saturation = 1.0``) and :func:`drive` keeps no more tasks in
    flight than there are worker threads. The local cluster has no dashboard (its HTTP
    server takes a free port, so that several sweeps can run side by side): start ``dask
    scheduler`` yourself and pass its address to get one. Dask's log messages below ERROR
    (restarted workers and the like) are silenced: failures reach you through the results.
    """
    check_cluster_args(scheduler, workers)
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InvalidArgument(
                f"sweep: cannot reach the Dask scheduler at {scheduler!r}: {exc}"
            ) from None
        with client:
            yield client
        return
    cluster = local_cluster(workers if workers is not None else machine_workers())
    with cluster, Client(cluster) as client:
        yield client


def local_cluster(n_workers: int, **scheduler_kwargs: Any) -> Any:
    """The :class:`distributed.LocalCluster` of :func:`dask_client` (not started in a ``with``:
    the caller closes it). ``scheduler_kwargs`` go to the scheduler (e.g. ``allowed_failures``)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
            env={"NUMBA_NUM_THREADS": "1"},
            scheduler_kwargs={"dashboard": False, **scheduler_kwargs},
        )


@dataclass(frozen=True)
class Outcome:
    """How one task ended: ``value`` when ``ok``, else ``error`` (one line) and ``traceback``."""

    ok: bool
    value: Any = None
    error: str = ""
    traceback: str = ""
    attempts: int = 1


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _make_progress(enabled: bool, total: int, description: str) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=False,
    )
    progress.add_task(description, total=total, failed=0)
    return progress


def drive(
    client: Any,
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    on_done: Callable[[int, Outcome], None],
    *,
    retries: int = 1,
    progress: bool = False,
    description: str = "runs",
    stop_on_error: bool = False,
    name: str = "p2pbyz",
    per_thread: int = 1,
) -> None:
    """Submit ``fn(*args[i])`` for every i and call ``on_done(i, outcome)`` as each one finishes.

    ``on_done`` runs in this process, in completion order, as soon as a task's result arrives, so
    whatever it writes is safe before the next task completes.

    At most ``per_thread`` tasks per worker thread of the cluster (counted again at each
    completion, so workers that join or leave are followed) are in flight; the others wait here.
    This keeps the scheduler small for huge grids and, with ``per_thread=1``, keeps an innocent
    task from waiting on a worker that another task is about to kill: the scheduler counts every
    task assigned to a dying worker as suspicious, not only the one that killed it.

    A task whose worker was lost is rescheduled by the scheduler and, after
    :class:`distributed.KilledWorker`, resubmitted (first in line) up to ``retries`` times. With
    ``stop_on_error`` the first exception cancels the remaining tasks and is re-raised (with the
    remote traceback); otherwise it is passed on as a failed Outcome.
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidArgument(f"sweep: retries must be an integer >= 0; got retries={retries!r}")
    token = uuid.uuid4().hex[:12]
    live: dict[Any, tuple[int, Any]] = {}
    attempts = [0] * len(args)
    waiting = collections.deque(range(len(args)))
    ac = as_completed(loop=client.loop)

    def refill() -> None:
        try:
            threads = sum(client.nthreads().values())
        except Exception:  # scheduler momentarily unreachable: keep one task going
            threads = 0
        cap = max(1, per_thread * threads)
        while waiting and len(live) < cap:
            i = waiting.popleft()
            fut = client.submit(fn, *args[i], key=f"{name}-{token}-{i}-{attempts[i]}", pure=False)
            attempts[i] += 1
            live[fut.key] = (i, fut)
            ac.add(fut)

    bar = _make_progress(progress, len(args), description)
    failed = 0
    try:
        with bar if bar is not None else contextlib.nullcontext():
            refill()
            for fut in ac:
                i, _ = live.pop(fut.key)
                outcome = None
                try:
                    value = fut.result()
                except KilledWorker as exc:
                    if attempts[i] <= retries:
                        waiting.appendleft(i)
                    elif stop_on_error:
                        raise
                    else:
                        outcome = Outcome(
                            ok=False,
                            error=_error_text(exc) + f" (its worker died {attempts[i]} time(s) "
                            "after the scheduler's own retries; see "
                            "distributed.scheduler.allowed-failures)",
                            traceback="".join(traceback.format_exception(exc)),
                            attempts=attempts[i],
                        )
                except Exception as exc:
                    if stop_on_error:
                        raise
                    outcome = Outcome(ok=False, error=_error_text(exc),
                                      traceback="".join(traceback.format_exception(exc)),
                                      attempts=attempts[i])
                else:
                    outcome = Outcome(ok=True, value=value, attempts=attempts[i])
                finally:
                    fut.release()
                if outcome is not None:
                    on_done(i, outcome)
                    if bar is not None:
                        failed += not outcome.ok or (
                            isinstance(outcome.value, dict)
                            and outcome.value.get("status") == "failed"
                        )
                        bar.update(bar.task_ids[0], advance=1, failed=failed)
                refill()
    finally:
        if live:
            client.cancel([f for _, f in live.values()])
        ac.clear()


def map_on_dask(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    scheduler: Any = None,
    workers: int | None = None,
    progress: bool = True,
    retries: int = 1,
    description: str = "tasks",
) -> list[Any]:
    """``[fn(x) for x in items]`` computed on a Dask cluster; results in the order of ``items``.

    The generic helper behind ``proofs_check --scheduler``: each item is one task (say, one Monte
    Carlo grid point); two tasks per worker thread are in flight at a time, the rest are submitted
    as those finish. ``fn`` and the items must be picklable (``fn`` is sent with cloudpickle: a
    top-level function of an importable module, or a ``functools.partial`` of one, is safest on a
    remote cluster, whose workers must have p2pbyz and ``fn``'s module installed). Each item
    should be worth at least tens of milliseconds of work: a task costs about a millisecond of
    scheduling, so batch smaller items (e.g. several Monte Carlo draws per item). Local-cluster
    workers run with ``NUMBA_NUM_THREADS=1``, and results do not depend on the thread count.

    Parameters
    ----------
    fn : callable
        Called once per item on a worker.
    items : iterable
    scheduler : str or distributed.Client, optional
        Address of a running scheduler (``"tcp://host:8786"``) or a Client; ``None`` starts a local
        cluster of ``workers`` processes (default: one per core), closed on return.
    workers : int, optional
        Local cluster size.
    progress : bool
        A rich progress bar on stderr.
    retries : int
        Times an item is resubmitted after the scheduler gave up on it because its workers kept
        dying (:class:`distributed.KilledWorker`); the scheduler already reschedules a task whose
        worker was lost, up to ``distributed.scheduler.allowed-failures`` times.
    description : str
        Label of the progress bar.

    Returns
    -------
    list
        ``fn(item)`` for each item, in input order.

    Raises
    ------
    Exception
        The first exception ``fn`` raises, re-raised here with its remote traceback; the remaining
        tasks are cancelled (a deterministic computation would fail again on retry).
    distributed.KilledWorker
        An item kept killing its workers after ``retries`` resubmissions.

    Examples
    --------
    >>> from p2pbyz.sweep import map_on_dask
    >>> map_on_dask(abs, [-3, 1, -2], workers=1, progress=False)
    [3, 1, 2]
    """
    check_cluster_args(scheduler, workers)
    items = list(items)
    if not items:
        return []
    results: list[Any] = [None] * len(items)

    def on_done(i: int, outcome: Outcome) -> None:
        results[i] = outcome.value  # stop_on_error: failures raise before reaching here

    with dask_client(scheduler, workers) as client:
        drive(client, fn, [(x,) for x in items], on_done, retries=retries,
              progress=progress and sys.stderr is not None, description=description,
              stop_on_error=True, name="p2pbyz-map", per_thread=2)
    return results
