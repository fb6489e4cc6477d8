"""``report``: the table and the summary plots of a sweep directory, rebuilt from its run files.

Plots (PNG, matplotlib's Agg canvas, no pyplot state touched), for the chosen metric (default: the
final accuracy):

- ``heatmap_<metric>.png``: one panel per rule, the metric over f (x) and heterogeneity (y), each
  cell the worst case over attacks of the mean over seeds and the other axes;
- ``worst_case_<metric>.png``: the same worst case against f, one line per rule, one panel per
  heterogeneity setting, each point labelled with the attack that achieves it;
- ``<metric>_vs_round.png``: the per-round curve of the best and the worst setting (a setting is a
  run up to its seed; the curve is the mean over seeds with the min-max band), when the runs
  recorded a per-round series of the metric.

Dimensions are read from the scenario columns: the rule is ``rule.name`` (with the other ``rule.*``
settings that vary, if any), the attack likewise from ``attack.*``, heterogeneity from the varying
``data.*`` settings (partition, alpha, ...), f from the active protocol's number of Byzantine
nodes (``ps.byzantine``, ``multi_server.byzantine_workers``, ``p2p.byzantine``) or, if that does not
vary, its declared f. Grids with their own schema (a custom ``run_fn``) can use plain ``rule``,
``attack``, ``f`` and ``heterogeneity`` keys. A plot whose dimensions are missing is skipped, and
:class:`Report` says why.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument
from ._grid import Run, canonical_json
from ._store import MANIFEST, atomic_write, load_run, read_json
from ._table import make_rows, write_csv, write_parquet

__all__ = ["Report", "report", "collect"]

_METRIC_CANDIDATES = ("accuracy", "final_accuracy", "test_accuracy", "acc")


@dataclass(frozen=True)
class Report:
    """Files written by :func:`report`, the table it wrote, and the plots it skipped (with why)."""

    out_dir: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    table: str
    parquet: str | None
    plots: tuple[str, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)


def collect(
    runs: Sequence[Run], records: Mapping[str, Mapping[str, Any] | None]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Table columns and rows of ``runs`` given their run records (None: pending)."""
    return make_rows([(r.index, r.hash, r.scenario, records.get(r.hash)) for r in runs])


def _load_manifest(out_dir: str) -> list[Run]:
    path = os.path.join(out_dir, MANIFEST)
    try:
        man = read_json(path)
    except FileNotFoundError:
        raise InvalidArgument(
            f"sweep report: {out_dir!r} has no {MANIFEST}; is it a sweep directory?"
        ) from None
    return [Run(index=e["index"], hash=e["hash"], scenario=e["scenario"], params=e["params"])
            for e in man["runs"]]


def report(
    out_dir: str | os.PathLike[str], *, plots: bool = True, metric: str | None = None
) -> Report:
    """Rebuild the table (``results.csv``, and ``results.parquet`` with pyarrow) and the summary
    plots (``plots/*.png``) of a sweep directory from its manifest and run files.

    Parameters
    ----------
    out_dir : path
        A directory written by :func:`p2pbyz.sweep.run_sweep` (finished or interrupted).
    plots : bool
        Also write the plots (see the module docstring).
    metric : str, optional
        The metric plotted (default: the first of ``accuracy``, ``final_accuracy``,
        ``test_accuracy`` the runs report).

    Returns
    -------
    Report

    Notes
    -----
    Table columns: ``run`` (grid index), ``hash``, ``status`` (``ok``, ``failed`` or ``pending``),
    ``seconds``, ``attempts``, ``error``, then every scenario setting with its dotted name
    (``rule.name``, ``ps.byzantine``, ...), then the metrics the runs returned. In the CSV, lists
    and tables are JSON text and a missing value is an empty cell.
    """
    out = os.fspath(out_dir)
    runs = _load_manifest(out)
    records = {r.hash: load_run(out, r.hash) for r in runs}
    columns, rows = collect(runs, records)
    table = write_csv(os.path.join(out, "results.csv"), columns, rows)
    parquet = write_parquet(os.path.join(out, "results.parquet"), columns, rows)
    written: list[str] = []
    skipped: dict[str, str] = {}
    if plots:
        written, skipped = make_plots(out, rows, records, runs, metric=metric)
    return Report(out, tuple(columns), tuple(rows), table, parquet, tuple(written), skipped)


# ----------------------------------------------------------------------------------- dimensions
def _varying(rows: Sequence[Mapping[str, Any]], col: str) -> bool:
    return len({canonical_json(r.get(col)) for r in rows}) > 1


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, str):
        return v
    return canonical_json(v)


def _group_label(rows: Sequence[Mapping[str, Any]], prefixes: Sequence[str], main: Sequence[str],
                 exclude: Sequence[str] = ()) -> tuple[str, list[str]] | None:
    """Label function for a dimension: the varying columns under ``prefixes`` or the main column."""
    cols = [c for c in rows[0] if any(c == p or c.startswith(p + ".") for p in prefixes)
            and c not in exclude]
    vary = [c for c in cols if _varying(rows, c)]
    if not vary:
        vary = [c for c in main if c in rows[0]][:1]
    if not vary:
        return None
    return (vary[0] if len(vary) == 1 else ", ".join(vary)), vary


def _labeller(vary: list[str]) -> Any:
    if len(vary) == 1:
        return lambda row: _short(row.get(vary[0]))
    return lambda row: ", ".join(f"{c.rsplit('.', 1)[-1]}={_short(row.get(c))}" for c in vary)


def _f_column(rows: Sequence[Mapping[str, Any]]) -> tuple[str, Any] | None:
    """(label, per-row f): the protocol's Byzantine count, or its declared f if only that varies."""
    if "protocol" in rows[0]:
        cands = {
            "ps": ["ps.byzantine", "ps.f"],
            "multi_server": ["multi_server.byzantine_workers", "multi_server.f_workers"],
            "p2p": ["p2p.byzantine", "p2p.f"],
        }
        chosen: dict[str, str] = {}
        for proto, cs in cands.items():
            sub = [r for r in rows if r.get("protocol") == proto]
            if not sub:
                continue
            vary = [c for c in cs if c in sub[0] and _varying(sub, c)]
            chosen[proto] = vary[0] if vary else cs[0]
        if chosen:
            label = " / ".join(dict.fromkeys(chosen.values()))
            return label, lambda row: row.get(chosen.get(row.get("protocol"), ""))
    for c in ("f", "byzantine"):
        if c in rows[0]:
            return c, lambda row, c=c: row.get(c)
    return None


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if _finite(v) else (1, str(v))


def _pick_metric(rows: Sequence[Mapping[str, Any]], metric: str | None) -> str | None:
    names = [metric] if metric else list(_METRIC_CANDIDATES)
    for m in names:
        for col in (m, f"metric.{m}"):
            if any(_finite(r.get(col)) for r in rows):
                return col
    return None


# ----------------------------------------------------------------------------------- plots
def _figure(w: float, h: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    atomic_write(path, buf.getvalue())
    return path


def make_plots(
    out_dir: str,
    rows: Sequence[Mapping[str, Any]],
    records: Mapping[str, Mapping[str, Any] | None],
    runs: Sequence[Run],
    *,
    metric: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Write the summary plots; return (paths written, {plot: reason skipped})."""
    skipped: dict[str, str] = {}
    ok = [r for r in rows if r["status"] == "ok"]
    names = ("heatmap", "worst_case", "vs_round")
    if not ok:
        return [], dict.fromkeys(names, "no finished run")
    col = _pick_metric(ok, metric)
    if col is None:
        want = metric or " / ".join(_METRIC_CANDIDATES)
        return [], dict.fromkeys(names, f"no run reports a finite {want}")
    ok = [r for r in ok if _finite(r.get(col))]
    mname = col.removeprefix("metric.")
    plot_dir = os.path.join(out_dir, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    written: list[str] = []

    rule = _group_label(ok, ["rule"], ["rule.name", "rule", "gar"], exclude=())
    attack = _group_label(ok, ["attack"], ["attack.name", "attack"])
    het = _group_label(ok, ["data", "heterogeneity"], ["data.partition", "heterogeneity"],
                       exclude=("data.dataset",))
    fdim = _f_column(ok)
    rule_of = _labeller(rule[1]) if rule else (lambda row: "all")
    attack_of = _labeller(attack[1]) if attack else (lambda row: "none")
    het_of = _labeller(het[1]) if het else (lambda row: "all")
    rule_name = rule[0] if rule else "rule"
    het_name = het[0] if het else "heterogeneity"

    if fdim is None:
        skipped["heatmap"] = skipped["worst_case"] = "no f column (e.g. ps.byzantine or f)"
    else:
        f_name, fcol = fdim
        # mean over seeds and other axes per (rule, f, het, attack); then worst case over attacks
        acc: dict[tuple[str, Any, str, str], list[float]] = defaultdict(list)
        for r in ok:
            acc[(rule_of(r), fcol(r), het_of(r), attack_of(r))].append(float(r[col]))
        worst: dict[tuple[str, Any, str], tuple[float, str]] = {}
        for (ru, f, h, a), vals in acc.items():
            m = sum(vals) / len(vals)
            if (ru, f, h) not in worst or m < worst[(ru, f, h)][0]:
                worst[(ru, f, h)] = (m, a)
        rules = list(dict.fromkeys(rule_of(r) for r in ok))
        fs = sorted({k[1] for k in worst}, key=_sort_key)
        hets = list(dict.fromkeys(het_of(r) for r in ok))
        written.append(_heatmap(plot_dir, mname, worst, rules, fs, hets, rule_name, het_name,
                                f_name))
        written.append(_worst_lines(plot_dir, mname, worst, rules, fs, hets, rule_name,
                                    het_name, f_name))

    path, why = _vs_round(plot_dir, mname, col, ok, records, runs)
    if path:
        written.append(path)
    else:
        skipped["vs_round"] = why
    return written, skipped


def _bounds(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if 0.0 <= lo and hi <= 1.0:
        return 0.0, 1.0
    if lo == hi:
        return lo - 0.5, hi + 0.5
    return lo, hi


def _heatmap(plot_dir: str, mname: str, worst: Mapping[tuple[str, Any, str], tuple[float, str]],
             rules: list[str], fs: list[Any], hets: list[str], rule_name: str, het_name: str,
             f_name: str) -> str:
    import numpy as np

    k = len(rules)
    ncol = min(k, 4)
    nrow = math.ceil(k / ncol)
    fig = _figure(max(3.2, 0.6 * len(fs) + 2.2) * ncol, max(2.6, 0.45 * len(hets) + 1.8) * nrow)
    vmin, vmax = _bounds([v for v, _ in worst.values()])
    im = None
    for i, ru in enumerate(rules):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        grid = np.full((len(hets), len(fs)), np.nan)
        for (r, f, h), (v, _) in worst.items():
            if r == ru:
                grid[hets.index(h), fs.index(f)] = v
        im = ax.imshow(grid, vmin=vmin, vmax=vmax, cmap="viridis", aspect="auto", origin="lower")
        for y in range(len(hets)):
            for x in range(len(fs)):
                if np.isfinite(grid[y, x]):
                    ax.text(x, y, f"{grid[y, x]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if grid[y, x] < (vmin + vmax) / 2 else "black")
        ax.set_xticks(range(len(fs)), [_short(f) for f in fs])
        ax.set_yticks(range(len(hets)), hets, fontsize=7)
        ax.set_xlabel(f"f ({f_name})")
        if i % ncol == 0:
            ax.set_ylabel(het_name)
        ax.set_title(f"{rule_name} = {ru}", fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=fig.axes, shrink=0.8, label=f"final {mname}")
    fig.suptitle(f"final {mname}: worst case over attacks of the mean over seeds", fontsize=10)
    return _save(fig, os.path.join(plot_dir, f"heatmap_{mname}.png"))


def _worst_lines(plot_dir: str, mname: str,
                 worst: Mapping[tuple[str, Any, str], tuple[float, str]], rules: list[str],
                 fs: list[Any], hets: list[str], rule_name: str, het_name: str,
                 f_name: str) -> str:
    k = len(hets)
    ncol = min(k, 4)
    nrow = math.ceil(k / ncol)
    fig = _figure(4.2 * ncol, 3.2 * nrow)
    vmin, vmax = _bounds([v for v, _ in worst.values()])
    numeric = all(_finite(f) for f in fs)
    for i, h in enumerate(hets):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        for ru in rules:
            pts = [(f, worst[(ru, f, h)]) for f in fs if (ru, f, h) in worst]
            if not pts:
                continue
            xs = [f if numeric else fs.index(f) for f, _ in pts]
            ys = [v for _, (v, _) in pts]
            ax.plot(xs, ys, marker="o", label=ru)
            for x, (_, (v, a)) in zip(xs, pts, strict=True):
                ax.annotate(a, (x, v), textcoords="offset points", xytext=(0, 4), fontsize=6,
                            ha="center")
        if not numeric:
            ax.set_xticks(range(len(fs)), [_short(f) for f in fs])
        ax.set_ylim(vmin, vmax + 0.05 * (vmax - vmin))
        ax.set_xlabel(f"f ({f_name})")
        ax.set_ylabel(f"worst-case final {mname}")
        ax.set_title(f"{het_name} = {h}", fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(title=rule_name, fontsize=7, title_fontsize=7)
    fig.suptitle(f"worst case over attacks (labels: the worst attack), per {rule_name}",
                 fontsize=10)
    return _save(fig, os.path.join(plot_dir, f"worst_case_{mname}.png"))


def _vs_round(plot_dir: str, mname: str, col: str, ok: Sequence[Mapping[str, Any]],
              records: Mapping[str, Mapping[str, Any] | None],
              runs: Sequence[Run]) -> tuple[str | None, str]:
    import numpy as np

    by_hash = {r.hash: r for r in runs}
    series_key = None
    for r in ok:
        rec = records.get(r["hash"]) or {}
        s = rec.get("series") or {}
        for k in (mname, f"{mname}_per_round", "accuracy"):
            if k in s and len(s[k]) > 0:
                series_key = k
                break
        if series_key:
            break
    if series_key is None:
        return None, f"the runs recorded no per-round series of {mname}"
    # a setting = a run up to its seed
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in ok:
        params = dict(by_hash[r["hash"]].params)
        params.pop("seed", None)
        groups[canonical_json(params)].append(r)
    means = {g: sum(float(r[col]) for r in rs) / len(rs) for g, rs in groups.items()}
    best = max(means, key=lambda g: means[g])
    worst = min(means, key=lambda g: means[g])
    picks = [("best", best)] + ([("worst", worst)] if worst != best else [])
    fig = _figure(6.4, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    for tag, g in picks:
        curves = []
        xs = None
        for r in groups[g]:
            s = (records.get(r["hash"]) or {}).get("series") or {}
            ys = s.get(series_key)
            if not ys:
                continue
            y = np.array([np.nan if v is None else v for v in ys], dtype=float)
            x = s.get("round") or s.get("rounds") or list(range(1, len(y) + 1))
            curves.append(y)
            xs = x if xs is None or len(x) < len(xs) else xs
        if not curves:
            continue
        m = min(len(c) for c in curves)
        arr = np.vstack([c[:m] for c in curves])
        x = np.asarray(xs[:m], dtype=float)
        seen = ~np.all(np.isnan(arr), axis=0)  # rounds without an evaluation
        arr, x = arr[:, seen], x[seen]
        label = ", ".join(f"{k}={_short(v)}" for k, v in sorted(_params(g).items())) or "all"
        line = ax.plot(x, np.nanmean(arr, axis=0),
                       label=f"{tag} ({means[g]:.3f}): {label}"[:110])[0]
        if arr.shape[0] > 1:
            ax.fill_between(x, np.nanmin(arr, axis=0), np.nanmax(arr, axis=0), alpha=0.2,
                            color=line.get_color())
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel(mname)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")
    ax.set_title(f"{mname} per round: best and worst settings (mean over seeds, min-max band)",
                 fontsize=9)
    return _save(fig, os.path.join(plot_dir, f"{mname}_vs_round.png")), ""


def _params(key: str) -> dict[str, Any]:
    return json.loads(key)
