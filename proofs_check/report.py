"""The report directory: ``report.md`` (summary table first, one section per suite with its
figures), PNG plots (matplotlib, Agg backend) and ``report.json`` with every number.

Examples
--------
>>> from proofs_check.report import md_table
>>> print(md_table(["a", "b"], [[1, 2]]))
| a | b |
|---|---|
| 1 | 2 |
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["md_table", "plot_points", "plot_curves", "write", "summary_rows"]


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (``|`` in cells escaped)."""
    esc = lambda v: str(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _fig_path(out_dir: str, name: str) -> str:
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    return os.path.join("figures", name)


def plot_points(out_dir: str, name: str, series: Mapping[str, Mapping[str, list]], *,
                ylabel: str, title: str) -> str:
    """Estimates with CI error bars at categorical grid points, the bound of each as a cross.

    ``series[label]`` has lists ``x`` (point labels), ``y``, ``lo``, ``hi`` and ``bound``.
    Returns the figure's path relative to ``out_dir``.
    """
    plt = _pyplot()
    labels: list[str] = []
    for s in series.values():
        for x in s["x"]:
            if x not in labels:
                labels.append(x)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels) + 3), 4.2))
    k = len(series)
    for j, (lab, s) in enumerate(series.items()):
        xs = [labels.index(x) + (j - (k - 1) / 2) * 0.8 / max(k, 1) for x in s["x"]]
        y = [max(v, 1e-6) for v in s["y"]]
        err = [[max(v - max(lo, 1e-6), 0) for v, lo in zip(y, s["lo"])],
               [max(hi - v, 0) for v, hi in zip(y, s["hi"])]]
        line = ax.errorbar(xs, y, yerr=err, fmt="o", ms=4, capsize=2, label=lab)
        ax.plot(xs, s["bound"], "x", color=line[0].get_color(), ms=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    rel = _fig_path(out_dir, name)
    fig.savefig(os.path.join(out_dir, rel), dpi=110)
    plt.close(fig)
    return rel


def plot_curves(out_dir: str, name: str, series: Mapping[str, Mapping[str, list]], *,
                xlabel: str, ylabel: str, title: str, logx: bool = True, logy: bool = True,
                theory: Mapping[str, Mapping[str, list]] | None = None) -> str:
    """Estimates with CI bands against x, plus theoretical curves (dashed) and fitted lines (dotted).

    ``series[label]`` has ``x``, ``y``, ``lo``, ``hi`` and optionally ``fit`` = (slope,
    intercept) of a log-log fit; ``theory[label]`` has ``x`` and ``y``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for lab, s in series.items():
        (ln,) = ax.plot(s["x"], s["y"], "o-", ms=4, label=lab)
        ax.fill_between(s["x"], s["lo"], s["hi"], color=ln.get_color(), alpha=0.2)
        if s.get("fit"):
            b, a = s["fit"]
            ax.plot(s["x"], [math.exp(a) * x**b for x in s["x"]], ":", color=ln.get_color(),
                    label=f"{lab} fit: slope {b:.2f}")
    for lab, t in (theory or {}).items():
        ax.plot(t["x"], t["y"], "--", lw=1.2, label=lab)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    rel = _fig_path(out_dir, name)
    fig.savefig(os.path.join(out_dir, rel), dpi=110)
    plt.close(fig)
    return rel


def summary_rows(results: Sequence[Any]) -> list[list[Any]]:
    """One row per suite and rule: counts of each verdict and the asserted failures."""
    rows = []
    for r in results:
        per: dict[str, dict[str, int]] = {}
        for c in r.claims:
            d = per.setdefault(c.rule, {"holds": 0, "fails": 0, "inconclusive": 0, "n/a": 0, "af": 0})
            d[c.verdict] += 1
            d["af"] += int(c.verdict == "fails" and c.asserted)
        for rule, d in per.items():
            rows.append([r.name, rule, d["holds"], d["fails"], d["inconclusive"], d["n/a"], d["af"]])
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "inf" if v == math.inf else f"{v:.4g}"
    if isinstance(v, tuple | list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _claims_table(claims: Sequence[Any]) -> str:
    rows = []
    for c in claims:
        p = ", ".join(f"{k}={_fmt(v)}" for k, v in c.params.items() if k not in ("g_norm",))
        e = c.estimate
        ci = "exact" if e.lo == e.hi else f"[{_fmt(e.lo)}, {_fmt(e.hi)}]"
        rows.append([c.rule, c.claim, p, _fmt(e.value), ci, _fmt(c.bound), _fmt(c.margin),
                     f"**{c.verdict}**" if c.verdict == "fails" else c.verdict,
                     f"[{c.tag}]" + ("" if c.asserted else " (reported)")])
    return md_table(["rule", "claim", "point", "estimate", "95% CI", "theory", "margin", "verdict",
                     "tag"], rows)


def _json_safe(o: Any) -> Any:
    if isinstance(o, float):
        return o if math.isfinite(o) else ("inf" if o > 0 else "-inf" if o < 0 else "nan")
    if isinstance(o, dict):
        return {str(k): _json_safe(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_json_safe(v) for v in o]
    if hasattr(o, "item") and callable(o.item):
        return _json_safe(o.item())
    return o


def write(out_dir: str, results: Sequence[Any], meta: Mapping[str, Any]) -> tuple[str, str]:
    """Write ``report.md`` and ``report.json`` into ``out_dir``; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    lines = ["# proofs_check report", ""]
    lines.append(
        f"Mode **{meta.get('mode')}**, seed {meta.get('seed')}, p2pbyz {meta.get('version', '?')}, "
        f"{meta.get('seconds', 0):.1f} s. Verdicts: **holds** = the whole 95% CI satisfies the bound, "
        "**fails** = the whole CI violates it, **inconclusive** = the CI straddles it, **n/a** = "
        "the bound is vacuous there. Tags follow THEORY.md §0; *(reported)* claims rest on "
        "[secondary]/[unverified]/[code] readings or are reference comparisons and are not asserted."
    )
    lines += ["", "## Summary", ""]
    lines.append(md_table(["suite", "rule", "holds", "fails", "inconclusive", "n/a",
                           "asserted failures"], summary_rows(results)))
    failed = [c for r in results for c in r.claims if c.verdict == "fails" and c.asserted]
    lines += ["", f"Asserted ([paper]/[derived] or user-rule) claims that fail: {len(failed)}."]
    for c in failed[:30]:
        lines.append(f"- {c.suite} / {c.rule}: {c.claim} ({_fmt(c.estimate.value)} vs {_fmt(c.bound)})")
    for r in results:
        lines += ["", f"## {r.name}: {r.title}", "", f"_{r.seconds:.1f} s_", ""]
        if r.body:
            lines += [r.body, ""]
        for fig in r.figures:
            lines += [f"![{r.name}]({fig})", ""]
        if r.notes:
            lines += ["Notes:", ""] + [f"- {n}" for n in r.notes] + [""]
        if r.claims:
            lines += ["### Claims", "", _claims_table(r.claims), ""]
    md = os.path.join(out_dir, "report.md")
    with open(md, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    payload = {
        "meta": dict(meta),
        "summary": [dict(zip(["suite", "rule", "holds", "fails", "inconclusive", "n/a",
                              "asserted_failures"], row)) for row in summary_rows(results)],
        "suites": [
            {"name": r.name, "title": r.title, "seconds": r.seconds, "notes": r.notes,
             "figures": r.figures, "data": r.data, "claims": [c.as_dict() for c in r.claims]}
            for r in results
        ],
    }
    js = os.path.join(out_dir, "report.json")
    with open(js, "w", encoding="utf-8") as fh:
        json.dump(_json_safe(payload), fh, indent=1)
    return md, js
