r"""Suite 2: angular error vs d and n (AKSEL, OPODIS 2020, abstract; THEORY.md §5, §12 #8).

Under the strongest attack found on pilot draws, the normalised error
:math:`\mathbb E\lVert F - g\rVert/\sigma` (CLT CI) and the mean angle to g are measured over a
grid of d (n fixed) and of n (f = ⌊n/5⌋, d fixed) for Aksel, Krum, the median and Multi-Krum.
Log-log fits (parametric bootstrap CI) give growth exponents, compared with the claims:
O(√d) in d (exponent <= 1/2) and O(√(d log n)) in n for Gaussian gradients (the exponent of
:math:`\lVert F-g\rVert/(\sigma\sqrt{d\log n})` in n is <= 0). Both claims are [paper] in form but
[unverified] in normalisation and constants, so they are reported, not asserted; a tolerance of
0.1 on exponents absorbs finite-size curvature. Krum's bound :math:`\eta(n,f)\sqrt d` grows like n.
"""

from __future__ import annotations

import math

import numpy as np

from . import bounds
from ._core import Context, SuiteResult, apply_rule, byzantine_vectors, judge, resilience_candidates, resolve_rules, seed_rng
from .estimate import Estimate, loglog_fit, mean_ci, sample_honest

NAME = "angular"
TITLE = "Angular error growth in d and n (Aksel's O(√d) and O(√(d log n)) claims)"
TOL = 0.1

DEFAULTS = {
    "quick": {"rules": ["aksel", "krum", "median", "multi_krum"], "n": 11, "f": 2,
              "ds": [8, 32, 128], "ns": [7, 11, 15, 23], "d_for_n": 16, "pilot": 10, "draws": 80},
    "full": {"rules": ["aksel", "krum", "median", "multi_krum", "bulyan", "geometric_median"],
             "n": 15, "f": 3, "ds": [4, 16, 64, 256, 1024], "ns": [7, 11, 15, 23, 31, 47],
             "d_for_n": 32, "pilot": 16, "draws": 200},
}


def _point(ctx: Context, rules, key: int, n: int, f: int, d: int, s: dict, res: SuiteResult):
    sigma = 1.0
    g = np.full(d, 1.0 / math.sqrt(d))
    H_p = sample_honest(seed_rng(ctx.seed, NAME, key, 1), s["pilot"], n - f, g, sigma)
    H_m = sample_honest(seed_rng(ctx.seed, NAME, key, 2), s["draws"], n - f, g, sigma)
    cands = resilience_candidates(d, sigma, "quick")
    shared = {c.label: byzantine_vectors(c, H_p, f, seed_rng(ctx.seed, NAME, key, 3, c.label))
              for c in cands if not c.per_rule}
    out = {}
    for rule in rules:
        ctx.advance(1)
        if not rule.allows(n, f):
            continue
        try:
            best = None
            for c in cands:
                if c.per_rule and not rule.registered:
                    continue
                B = shared.get(c.label)
                if B is None:
                    B = byzantine_vectors(c, H_p, f, seed_rng(ctx.seed, NAME, key, 3, c.label), rule)
                # lower confidence bound: a noisy candidate must not win on pilot noise
                e = mean_ci(np.linalg.norm(apply_rule(rule, H_p, B, f) - g, axis=1)).lo
                if best is None or e > best[0]:
                    best = (e, c)
            c = best[1]
            B = byzantine_vectors(c, H_m, f, seed_rng(ctx.seed, NAME, key, 4, c.label), rule)
            F = apply_rule(rule, H_m, B, f)
        except Exception as exc:
            res.notes.append(f"{rule.label} at n={n} f={f} d={d}: {type(exc).__name__}: {exc}")
            continue
        err = mean_ci(np.linalg.norm(F - g, axis=1) / sigma)
        cos = (F @ g) / np.maximum(np.linalg.norm(F, axis=1), 1e-300)
        ang = mean_ci(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
        out[rule.label] = (err, ang, c.label)
    return out


def run(ctx: Context) -> SuiteResult:
    """Run the suite; see the module docstring."""
    from . import report

    s = ctx.get(DEFAULTS)
    rules, missing = resolve_rules(ctx.rules if ctx.rules is not None else s["rules"], ctx.extra_rules)
    res = SuiteResult(NAME, TITLE)
    if missing:
        res.notes.append("not registered (skipped): " + ", ".join(missing))
    ctx.set_total((len(s["ds"]) + len(s["ns"])) * len(rules))
    rng_fit = seed_rng(ctx.seed, NAME, 99)
    rows = []
    # growth in d
    by_d = {d: _point(ctx, rules, i, s["n"], s["f"], d, s, res) for i, d in enumerate(s["ds"])}
    series_d, fits = {}, {}
    for rule in rules:
        pts = [(d, by_d[d][rule.label]) for d in s["ds"] if rule.label in by_d[d]]
        for d, (err, ang, atk) in pts:
            rows.append([rule.label, s["n"], s["f"], d, atk, f"{err.value:.4g} [{err.lo:.4g}, {err.hi:.4g}]",
                         f"{ang.value:.3g}"])
        if len(pts) < 2:
            continue
        fit = loglog_fit([d for d, _ in pts], [e for _, (e, _, _) in pts], rng_fit)
        fits[rule.label] = fit
        series_d[rule.label] = {"x": [d for d, _ in pts], "y": [e.value for _, (e, _, _) in pts],
                                "lo": [e.lo for _, (e, _, _) in pts], "hi": [e.hi for _, (e, _, _) in pts],
                                "fit": (fit.slope, fit.intercept)}
        src = bounds.source("aksel_sqrt_d") if rule.name == "aksel" else ("reference", bounds.source("aksel_sqrt_d").citation)
        res.claims.append(judge(
            NAME, rule.label, f"exponent of E||F-g||/σ in d <= 1/2 (+{TOL})", "upper",
            Estimate(fit.slope, fit.lo, fit.hi, len(pts), fit.method), bounds.ANGULAR_EXPONENT_D + TOL,
            src, asserted=False, params={"n": s["n"], "f": s["f"], "ds": list(s["ds"])},
        ))
    # growth in n
    dn = s["d_for_n"]
    by_n = {n: _point(ctx, rules, 100 + i, n, n // 5, dn, s, res) for i, n in enumerate(s["ns"])}
    series_n, fits_n = {}, {}
    for rule in rules:
        pts = [(n, by_n[n][rule.label]) for n in s["ns"] if rule.label in by_n[n]]
        for n, (err, ang, atk) in pts:
            rows.append([rule.label, n, n // 5, dn, atk, f"{err.value:.4g} [{err.lo:.4g}, {err.hi:.4g}]",
                         f"{ang.value:.3g}"])
        if len(pts) < 2:
            continue
        norm = [bounds.aksel_error_shape(dn, n) for n, _ in pts]
        scaled = [Estimate(e.value / z, e.lo / z, e.hi / z, e.n, e.method, se=e.se / z)
                  for (_, (e, _, _)), z in zip(pts, norm)]
        fit = loglog_fit([n for n, _ in pts], scaled, rng_fit)
        raw = loglog_fit([n for n, _ in pts], [e for _, (e, _, _) in pts], rng_fit)
        fits_n[rule.label] = (fit, raw)
        series_n[rule.label] = {"x": [n for n, _ in pts], "y": [e.value for _, (e, _, _) in pts],
                                "lo": [e.lo for _, (e, _, _) in pts], "hi": [e.hi for _, (e, _, _) in pts],
                                "fit": (raw.slope, raw.intercept)}
        src = bounds.source("aksel_sqrt_d_log_n") if rule.name == "aksel" else ("reference", bounds.source("aksel_sqrt_d_log_n").citation)
        res.claims.append(judge(
            NAME, rule.label, f"exponent in n of E||F-g||/(σ sqrt(d log n)) <= 0 (+{TOL})", "upper",
            Estimate(fit.slope, fit.lo, fit.hi, len(pts), fit.method), TOL, src, asserted=False,
            params={"d": dn, "ns": list(s["ns"]), "f": "n//5"},
        ))
    res.data = {
        "points": rows,
        "fits_d": {k: v.as_dict() for k, v in fits.items()},
        "fits_n": {k: {"normalised": a.as_dict(), "raw": b.as_dict()} for k, (a, b) in fits_n.items()},
    }
    if ctx.out_dir is not None and series_d:
        ref = next(iter(series_d.values()))
        c0 = ref["y"][0] / math.sqrt(ref["x"][0])
        res.figures.append(report.plot_curves(
            ctx.out_dir, "angular_d.png", series_d, xlabel="d", ylabel="E||F - g|| / σ (95% CI)",
            title=f"Error vs d (n={s['n']}, f={s['f']}), strongest attack",
            theory={"√d (claimed O(√d))": {"x": ref["x"], "y": [c0 * math.sqrt(x) for x in ref["x"]]}},
        ))
    if ctx.out_dir is not None and series_n:
        ref = next(iter(series_n.values()))
        x0 = ref["x"][0]
        y0 = ref["y"][0]
        res.figures.append(report.plot_curves(
            ctx.out_dir, "angular_n.png", series_n, xlabel="n (f = n//5)",
            ylabel="E||F - g|| / σ (95% CI)", title=f"Error vs n (d={dn}), strongest attack",
            theory={
                "√(d log n) (Aksel, Gaussian)": {"x": ref["x"], "y": [y0 * math.sqrt(math.log(x) / math.log(x0)) for x in ref["x"]]},
                "∝ n (Krum's η = O(n))": {"x": ref["x"], "y": [y0 * x / x0 for x in ref["x"]]},
            },
        ))
    fit_rows = [[k, f"{v.slope:.3f} [{v.lo:.3f}, {v.hi:.3f}]",
                 f"{fits_n[k][1].slope:.3f} [{fits_n[k][1].lo:.3f}, {fits_n[k][1].hi:.3f}]" if k in fits_n else "-",
                 f"{fits_n[k][0].slope:.3f} [{fits_n[k][0].lo:.3f}, {fits_n[k][0].hi:.3f}]" if k in fits_n else "-"]
                for k, v in fits.items()]
    res.body = (
        "Fitted exponents (95% parametric-bootstrap CI): the d-exponent is compared with 1/2 (O(√d)); "
        "the n-exponent of the raw error and of the error divided by √(d log n) say whether growth in n "
        "looks logarithmic (normalised exponent ≈ 0) or polynomial (Krum's bound grows like n).\n\n"
        + report.md_table(["rule", "exponent in d", "exponent in n", "exponent in n of err/√(d log n)"], fit_rows)
        + "\n\n" + report.md_table(["rule", "n", "f", "d", "attack", "E‖F − g‖/σ [95% CI]", "mean angle (deg)"], rows)
    )
    return res
