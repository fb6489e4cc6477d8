"""Results of an emulation on disk: ``results/<run-id>/`` with the resolved scenario, the metrics
(JSON, and CSV with one row per round per node group), the statistics, and PNG plots.

Writes are atomic: every file is written to a temporary file in its directory and moved into
place with :func:`os.replace`, and the run directory itself is assembled under a hidden temporary
name and renamed at the end, so an interrupted run leaves no half-written results (at most a
hidden ``.tmp-*`` directory, removed on the way out when Python can still run).

Files of a run directory:

``scenario.toml``
    The resolved scenario (every default written out); ``p2pbyz run scenario.toml`` reruns it.
``metrics.json``
    Run id, scenario, summary, per-round metrics per group (``null`` where not measured),
    protocol counters, notes, network statistics (run totals and per node).
``metrics.csv``
    ``round, group, <metric>...`` rows.
``accuracy.png``, ``loss.png``, ``disagreement.png``
    Test accuracy and loss vs round per group; disagreement between honest models (RMS distance
    to their mean) when the protocol has several honest models.
``trace.jsonl``
    The delivery trace, when the scenario asked for it (``network.trace = true``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidArgument

__all__ = [
    "atomic_write",
    "run_id",
    "write_results",
    "read_metrics",
    "plot_metrics",
    "to_jsonable",
]

_GROUP_LABELS = {"server": "server(s)", "honest": "honest nodes", "byzantine": "Byzantine nodes"}


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same directory, fsync,
    :func:`os.replace`); a reader sees the old file or the whole new one, never a part.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", "hello").read_text()
    'hello'
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


def to_jsonable(x: Any) -> Any:
    """Convert numpy values, dataclasses, mappings and tuples to JSON values (NaN and inf become
    ``null``; non-string keys become strings)."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: to_jsonable(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, Mapping):
        return {(k if isinstance(k, str) else str(k)): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return [to_jsonable(v) for v in x.tolist()]
    if isinstance(x, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, int | str | bool) or x is None:
        return x
    return str(x)


def run_id(scenario: Any, *, when: _dt.datetime | None = None) -> str:
    """A run id: UTC date and time, the scenario's name, and 8 hex digits of the hash of the
    resolved scenario (``20260101-120000-default-1a2b3c4d``)."""
    from . import scenario as S

    text = S.to_toml(scenario)
    h = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    when = when or _dt.datetime.now(_dt.timezone.utc)
    return f"{when.strftime('%Y%m%d-%H%M%S')}-{scenario.name}-{h}"


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if not rows:
        return ""
    cols = list(rows[0])
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})
    return buf.getvalue()


def _statistics_json(result: Any) -> dict[str, Any]:
    st = result.statistics
    return {
        "run": to_jsonable(st.run),
        "nodes": {str(k): to_jsonable(v) for k, v in st.nodes.items()},
    }


def plot_metrics(result: Any, directory: str | os.PathLike[str]) -> list[Path]:
    """Write ``accuracy.png``, ``loss.png`` and (when measured) ``disagreement.png`` for
    ``result`` into ``directory`` (matplotlib's Agg canvas; no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    d = Path(directory)
    out: list[Path] = []
    s = result.scenario
    title = f"{s.name}: {s.protocol}, rule={s.rule.name}, attack={s.attack.name}"
    for metric, ylabel, fname in (
        ("accuracy", "test accuracy", "accuracy.png"),
        ("loss", "test loss", "loss.png"),
        ("disagreement", "RMS distance to the honest mean model", "disagreement.png"),
    ):
        series = []
        for g in ("server", "honest", "byzantine"):
            if metric == "disagreement" and g == "byzantine":
                continue
            arr = result.metrics.get(g, {}).get(metric)
            if arr is None:
                continue
            ok = ~np.isnan(arr)
            if ok.any():
                series.append((g, result.rounds[ok], arr[ok]))
        if not series:
            continue
        fig = Figure(figsize=(6.4, 4.0), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        for g, x, y in series:
            ax.plot(x, y, marker="." if len(x) < 40 else None, label=_GROUP_LABELS.get(g, g))
            if metric == "accuracy":
                lo = result.metrics[g].get("accuracy_min")
                hi = result.metrics[g].get("accuracy_max")
                if lo is not None and hi is not None:
                    ok = ~np.isnan(lo) & ~np.isnan(hi)
                    if ok.any() and np.any(lo[ok] != hi[ok]):
                        ax.fill_between(result.rounds[ok], lo[ok], hi[ok], alpha=0.2)
        ax.set_xlabel("round")
        ax.set_ylabel(ylabel)
        if metric == "disagreement" and all(np.all(y > 0) for _, _, y in series):
            ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        out.append(atomic_write(d / fname, buf.getvalue()))
    return out


def write_results(
    result: Any,
    out: str | os.PathLike[str] = "results",
    *,
    run: str | None = None,
    plots: bool = True,
) -> Path:
    """Write ``result`` (an :class:`~p2pbyz.EmulationResult`) to ``out/<run-id>/`` atomically.

    Parameters
    ----------
    result : EmulationResult
    out : path, default "results"
        The parent directory (created if needed).
    run : str, optional
        The run id (default :func:`run_id`); an existing directory of that name gets a ``-2``,
        ``-3``... suffix rather than being overwritten.
    plots : bool, default True
        Write the PNG plots.

    Returns
    -------
    pathlib.Path
        The run directory.

    Examples
    --------
    >>> import tempfile, p2pbyz
    >>> from p2pbyz.results import write_results
    >>> res = p2pbyz.emulate({"rounds": 2, "ps": {"workers": 4, "byzantine": 1}})
    >>> d = write_results(res, tempfile.mkdtemp(), plots=False)
    >>> sorted(p.name for p in d.iterdir())
    ['metrics.csv', 'metrics.json', 'scenario.toml']
    """
    from . import scenario as S

    parent = Path(out)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(f"cannot create the results directory {str(parent)!r}: {exc}") from None
    rid = run or run_id(result.scenario)
    if not rid or "/" in rid or rid.startswith("."):
        raise InvalidArgument(f"run id must be a plain, non-hidden name; got {rid!r}")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{rid}-", dir=parent))
    try:
        atomic_write(tmp / "scenario.toml", S.to_toml(result.scenario))
        doc = {
            "run_id": rid,
            "scenario": to_jsonable(S.to_dict(result.scenario)),
            "summary": to_jsonable(result.summary()),
            "rounds": to_jsonable(result.rounds),
            "metrics": to_jsonable(result.metrics),
            "counters": to_jsonable(result.counters),
            "notes": to_jsonable(result.notes),
            "byzantine": sorted(str(v) for v in result.byzantine),
            "statistics": _statistics_json(result),
        }
        atomic_write(tmp / "metrics.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
        atomic_write(tmp / "metrics.csv", _csv_text(result.rows()))
        if result.trace is not None:
            from .network._trace import dumps

            atomic_write(tmp / "trace.jsonl", "".join(dumps(r) + "\n" for r in result.trace))
        if plots:
            plot_metrics(result, tmp)
        final = parent / rid
        k = 1
        while True:
            try:
                os.rename(tmp, final)  # fails if final exists (non-empty dir) on POSIX
                break
            except OSError:
                if not final.exists():
                    raise
                k += 1
                final = parent / f"{rid}-{k}"
        return final
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_metrics(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Load ``metrics.json`` of a run directory (NaN restored where the JSON has ``null`` in the
    per-round metrics)."""
    doc = json.loads((Path(run_dir) / "metrics.json").read_text(encoding="utf-8"))
    for g, cols in doc.get("metrics", {}).items():
        for c, vals in cols.items():
            cols[c] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    return doc
