r"""Suite 3: slowdown of Multi-Krum / Multi-Bulyan vs averaging with no Byzantine worker
(1905.04374v1 Thm 1 (ii) and Thm 2 (ii), formulas stripped; v2 abstract "m/n slowdown"; THEORY.md §3).

All n inputs are honest, the rule is configured with f. Two measurements of the speed relative
to averaging:

* variance: :math:`s = \mathbb E\lVert\bar X - g\rVert^2 / \mathbb E\lVert F - g\rVert^2` (paired
  percentile bootstrap over draws);
* SGD on :math:`Q(x) = \tfrac12\lVert x\rVert^2` with constant step γ: the stationary error
  :math:`\mathbb E\lVert x_t\rVert^2 \approx \gamma V/(2-\gamma)` is proportional to the
  aggregate's variance V, so the ratio of floors (averaging / rule; independent chains, paired
  bootstrap over chains) is the same speed ratio measured through the dynamics.

Competing hypotheses (both reported, not asserted): s = m/n and s = √(m/n), with m the number of
averaged inputs (Multi-Krum's m, default n-f; Multi-Bulyan m = n-f). A hypothesis *holds* when
the CI lies within ±10% of it and *fails* when the CI lies outside that band.
"""

from __future__ import annotations

import math

import numpy as np

from . import bounds
from ._core import Context, Rule, SuiteResult, judge, registered_rule, resolve_rules, seed_rng
from .estimate import ratio_of_means, sample_honest

NAME = "slowdown"
TITLE = "Slowdown vs averaging with no attack (m/n vs √(m/n))"
BAND = 0.10

DEFAULTS = {
    "quick": {"configs": [(15, 3)], "rules": ["multi_krum", "multi_bulyan"], "m_values": ["default", "half"],
              "d": 20, "draws": 200, "chains": 8, "steps": 40, "gamma": 0.3},
    "full": {"configs": [(11, 2), (15, 3), (19, 4), (23, 5)], "rules": ["multi_krum", "multi_bulyan", "krum", "bulyan"],
             "m_values": ["default", "half", "third"], "d": 50, "draws": 1000, "chains": 24, "steps": 120,
             "gamma": 0.3},
}


def _variants(rule: Rule, n: int, f: int, m_values) -> list[tuple[Rule, int]]:
    """(rule, m) pairs: Multi-Krum at several m (when it takes m), other rules once."""
    out = []
    if rule.registered and rule.name == "multi_krum" and "m" in _spec_params(rule):
        for mv in m_values:
            m = {"default": n - f, "half": (n + 1) // 2, "third": max(1, n // 3)}[mv]
            out.append((registered_rule("multi_krum", m=m) if mv != "default" else rule, m))
        return out
    m = {"krum": 1, "bulyan": n - 4 * f}.get(rule.name, n - f) if rule.registered else n - f
    return [(rule, m)]


def _spec_params(rule: Rule):
    from p2pbyz import gars

    return gars.spec(rule.name).params


def run(ctx: Context) -> SuiteResult:
    """Run the suite; see the module docstring."""
    from . import report

    s = ctx.get(DEFAULTS)
    rules, missing = resolve_rules(ctx.rules if ctx.rules is not None else s["rules"], ctx.extra_rules)
    res = SuiteResult(NAME, TITLE)
    if missing:
        res.notes.append("not registered (skipped): " + ", ".join(missing))
    d = s["d"]
    g = np.full(d, 1.0 / math.sqrt(d))
    sigma = 1.0
    ctx.set_total(len(s["configs"]) * len(rules))
    rows = []
    series: dict[str, dict] = {}
    support = {"m/n": 0.0, "sqrt(m/n)": 0.0}
    for ci, (n, f) in enumerate(s["configs"]):
        H = sample_honest(seed_rng(ctx.seed, NAME, ci, 1), s["draws"], n, g, sigma)
        avg_err = ((H.mean(axis=1) - g) ** 2).sum(axis=1)
        noise = seed_rng(ctx.seed, NAME, ci, 2).standard_normal((s["steps"], s["chains"], n, d)) * sigma
        for rule0 in rules:
            ctx.advance(1)
            if not rule0.allows(n, f):
                continue
            for rule, m in _variants(rule0, n, f, s["m_values"]):
                try:
                    F = np.stack([rule(H[k], f) for k in range(H.shape[0])])
                    # SGD: x <- x - gamma F(x + noise), chains in lockstep, same noise for averaging
                    x = np.zeros((s["chains"], d))
                    xa = np.zeros((s["chains"], d))
                    fl = np.zeros(s["chains"])
                    fla = np.zeros(s["chains"])
                    half = s["steps"] // 2
                    for t in range(s["steps"]):
                        grads = x[:, None, :] + noise[t]
                        step = np.stack([rule(grads[c], f) for c in range(s["chains"])])
                        x = x - s["gamma"] * step
                        xa = xa - s["gamma"] * (xa + noise[t].mean(axis=1))
                        if t >= half:
                            fl += (x**2).sum(axis=1)
                            fla += (xa**2).sum(axis=1)
                except Exception as exc:
                    res.notes.append(f"{rule.label} at n={n} f={f}: {type(exc).__name__}: {exc}")
                    continue
                rule_err = ((F - g) ** 2).sum(axis=1)
                var = ratio_of_means(avg_err, rule_err, seed_rng(ctx.seed, NAME, ci, 3, rule.label))
                sgd = ratio_of_means(fla, fl, seed_rng(ctx.seed, NAME, ci, 4, rule.label))
                hyp = bounds.slowdown_hypotheses(m, n)
                params = {"n": n, "f": f, "m": m, "d": d, "sigma": sigma}
                for what, est in (("variance", var), ("SGD floor", sgd)):
                    for key, pred in hyp.items():
                        src = bounds.source("slowdown_m_over_n" if key == "m/n" else "slowdown_sqrt_m_over_n")
                        res.claims.append(judge(
                            NAME, rule.label, f"speed vs averaging ({what}) = {key} (±{BAND:.0%})", "band",
                            est, (pred * (1 - BAND), pred * (1 + BAND)), src, asserted=False,
                            params={**params, "prediction": pred},
                        ))
                        support[key] += abs(math.log(max(est.value, 1e-12) / pred))
                rows.append([rule.label, n, f, m, f"{m / n:.3f}", f"{math.sqrt(m / n):.3f}",
                             f"{var.value:.3f} [{var.lo:.3f}, {var.hi:.3f}]",
                             f"{sgd.value:.3f} [{sgd.lo:.3f}, {sgd.hi:.3f}]"])
                ser = series.setdefault(rule.label.split("(")[0], {"x": [], "y": [], "lo": [], "hi": [], "bound": []})
                ser["x"].append(f"n={n} f={f} m={m}")
                ser["y"].append(var.value)
                ser["lo"].append(var.lo)
                ser["hi"].append(var.hi)
                ser["bound"].append(m / n)
    verdict = min(support, key=support.get) if any(support.values()) else None
    res.data = {"points": rows, "log_distance": support, "supported": verdict}
    if ctx.out_dir is not None and series:
        res.figures.append(report.plot_points(
            ctx.out_dir, "slowdown.png", series,
            ylabel="speed vs averaging = Var(avg)/Var(F)  (95% CI);  × = m/n",
            title="Slowdown with no Byzantine worker",
        ))
    res.body = (
        "Speed relative to averaging (1 = as fast as averaging). Summed |log(measured/predicted)| over "
        f"all measurements: m/n → {support['m/n']:.3f}, √(m/n) → {support['sqrt(m/n)']:.3f}. "
        + (f"The data support **{verdict}**." if verdict else "No measurement was possible.")
        + "\n\n" + report.md_table(["rule", "n", "f", "m", "m/n", "√(m/n)", "speed (variance) [CI]",
                                    "speed (SGD floor) [CI]"], rows)
    )
    return res
