"""The sweep directory: atomic files, the manifest and one result file per run.

Layout::

    OUT/sweep.json          the manifest: the grid, its axes and its runs (index, hash, params)
    OUT/runs/<hash>.json    one file per finished run (written atomically as the run completes)
    OUT/results.csv         the table, one row per run (results.parquet too with pyarrow)
    OUT/plots/*.png         summary plots

A run file is the only record of a run: the table and the plots are derived from the run files and
the manifest, so an interrupted sweep loses nothing that finished and ``sweep report`` rebuilds
everything else.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from ._grid import _jsonable

__all__ = ["atomic_write", "write_json", "read_json", "run_path", "load_run", "MANIFEST", "RUNS"]

MANIFEST = "sweep.json"
RUNS = "runs"


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a
    part: a temporary file in the same directory, flushed and fsynced, then :func:`os.replace`."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix="-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _plain(obj: Any) -> Any:
    """JSON-ready copy: non-finite floats become None (strict JSON readers reject NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return _plain(_jsonable(obj))


def write_json(path: str, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (NaN and infinities become null)."""
    text = json.dumps(_plain(obj), indent=1, sort_keys=False, allow_nan=False)
    atomic_write(path, (text + "\n").encode("utf-8"))


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def run_path(out_dir: str, h: str) -> str:
    return os.path.join(out_dir, RUNS, f"{h}.json")


def load_run(out_dir: str, h: str) -> dict[str, Any] | None:
    """The run file of hash ``h``, or None if absent or unreadable (a damaged file means re-run)."""
    try:
        rec = read_json(run_path(out_dir, h))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, IsADirectoryError):
        return None
    if not isinstance(rec, dict) or rec.get("hash") != h:
        return None
    if rec.get("status") not in ("ok", "failed"):
        return None
    return rec
