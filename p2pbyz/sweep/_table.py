"""The results table: one row per run, scenario columns (dotted), metrics, status and hash."""

from __future__ import annotations

import csv
import io
import json
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from ._grid import flatten
from ._store import atomic_write

__all__ = ["FIXED_COLUMNS", "make_rows", "write_csv", "write_parquet", "read_csv"]

#: Columns every table starts with, in this order.
FIXED_COLUMNS = ("run", "hash", "status", "seconds", "attempts", "error")


def make_rows(
    entries: Sequence[tuple[int, str, Mapping[str, Any], Mapping[str, Any] | None]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of the table from ``(index, hash, scenario, record or None)`` in grid order.

    Columns: :data:`FIXED_COLUMNS`, then every scenario setting flattened with dotted names (in
    first-seen order), then the metrics. A metric whose name is already a column is prefixed
    ``metric.``. A run without a record has status ``pending``.
    """
    scen_cols: dict[str, None] = {}
    metric_names: dict[str, None] = {}
    flat_list = []
    for _, _, scenario, rec in entries:
        flat = flatten(scenario)
        flat_list.append(flat)
        scen_cols.update(dict.fromkeys(flat))
        if rec is not None:
            metric_names.update(dict.fromkeys(rec.get("metrics") or {}))
    taken = set(FIXED_COLUMNS) | set(scen_cols)
    metric_cols = {m: (f"metric.{m}" if m in taken else m) for m in metric_names}
    columns = list(FIXED_COLUMNS) + list(scen_cols) + list(metric_cols.values())
    rows = []
    for (index, h, _, rec), flat in zip(entries, flat_list, strict=True):
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(run=index, hash=h, status="pending")
        if rec is not None:
            row.update(status=rec["status"], seconds=rec.get("seconds"),
                       attempts=rec.get("attempts"), error=rec.get("error") or None)
            for m, v in (rec.get("metrics") or {}).items():
                row[metric_cols[m]] = v
        row.update(flat)
        rows.append(row)
    return columns, rows


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, numbers.Real):
        return repr(v) if isinstance(v, float) else str(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def write_csv(path: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Write the table as CSV (atomically): empty cell for missing, JSON for lists and tables,
    ``true``/``false`` for booleans, shortest round-tripping text for floats."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    atomic_write(path, buf.getvalue().encode("utf-8"))
    return path


def read_csv(path: str) -> tuple[list[str], list[dict[str, str]]]:
    """Read a table written by :func:`write_csv` (cells as text)."""
    with open(path, newline="", encoding="utf-8") as fh:
        r = csv.DictReader(fh)
        rows = list(r)
        return list(r.fieldnames or []), rows


def _column_type(values: list[Any]) -> str:
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return "bool"
    if vals and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        return "int"
    if vals and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals):
        return "float"
    return "str"


def write_parquet(
    path: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> str | None:
    """Write the table as Parquet if pyarrow is importable (else return None).

    Each column gets one type: bool, int64, float64, or string (lists and tables as JSON text).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    arrays = {}
    for c in columns:
        vals = [row.get(c) for row in rows]
        kind = _column_type(vals)
        if kind == "bool":
            arrays[c] = pa.array(vals, type=pa.bool_())
        elif kind == "int":
            arrays[c] = pa.array([None if v is None else int(v) for v in vals], type=pa.int64())
        elif kind == "float":
            arrays[c] = pa.array([None if v is None else float(v) for v in vals], type=pa.float64())
        else:
            arrays[c] = pa.array([None if v is None else _cell(v) for v in vals], type=pa.string())
    table = pa.table(arrays)
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    atomic_write(path, buf.getvalue().to_pybytes())
    return path

