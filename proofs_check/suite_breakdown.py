r"""Suite 6: breakdown — the smallest number b* of Byzantine inputs that drives the output past
any bound (THEORY.md §10-§11).

For b = 1, 2, ... the rule gets n - b honest Gaussian rows and b Byzantine rows, and is configured
with f = min(b, f_max), f_max being the largest f < n/2 its requirement allows. The attacker sends
identical far vectors (``omniscient`` -M·ḡ, ``bulyan_coordinate`` ḡ + M e_0) or Gaussian noise of
scale M, for M = 1e2 and 1e6. The output *breaks* when, on every draw, its error exceeds 1e3 at
M = 1e6 and grew more than 100-fold from M = 1e2 (a bounded rule does not follow M).

Claims: b* > f_max (the rule tolerates every f its requirement allows) [paper] for registered
rules — and for user rules, with f_max = ⌊(n-1)/2⌋; known breakdown counts (averaging: 1, Krum
supplement Lemma 1 [paper]; median: ⌈n/2⌉ [derived]).
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import bounds
from ._core import AttackChoice, Context, SuiteResult, byzantine_vectors, judge, resolve_rules, seed_rng
from .estimate import exact

NAME = "breakdown"
#: A rule whose single call at (n, f_max) takes longer than this (seconds) is skipped.
SLOW_CALL_S = 0.2
TITLE = "Breakdown: smallest number of Byzantine inputs that breaks each rule"

DEFAULTS = {
    "quick": {"rules": None, "ns": [11], "d": 5, "draws": 3, "M": (1e2, 1e6)},
    "full": {"rules": None, "ns": [7, 11, 15, 21], "d": 10, "draws": 8, "M": (1e2, 1e6)},
}


def _broken(rule, n: int, b: int, f_decl: int, d: int, draws: int, Ms, rng) -> bool:
    g = np.full(d, 1.0 / math.sqrt(d))
    H = g + rng.standard_normal((draws, n - b, d)) / math.sqrt(d)
    for mk in (lambda M: AttackChoice("omniscient", "omniscient", {"k": M}),
               lambda M: AttackChoice("bulyan_coordinate", "bulyan_coordinate", {"eps": M}),
               lambda M: AttackChoice("gaussian", "gaussian", {"sigma": M})):
        errs = []
        for M in Ms:
            B = byzantine_vectors(mk(M), H, b, rng)
            e = np.array([np.linalg.norm(rule(np.vstack([H[k], B[k]]), f_decl) - g) for k in range(draws)])
            errs.append(e)
        lo, hi = errs[0], errs[-1]
        if np.all(hi > 1e3) and np.all(hi > 100.0 * np.maximum(lo, 1e-12)):
            return True
    return False


def run(ctx: Context) -> SuiteResult:
    """Run the suite; see the module docstring."""
    from p2pbyz import gars

    from . import report

    s = ctx.get(DEFAULTS)
    names = ctx.rules if ctx.rules is not None else (s["rules"] if s["rules"] is not None else gars.names())
    rules, missing = resolve_rules(names, ctx.extra_rules)
    res = SuiteResult(NAME, TITLE)
    if missing:
        res.notes.append("not registered (skipped): " + ", ".join(missing))
    ctx.set_total(len(s["ns"]) * len(rules))
    rows = []
    for n in s["ns"]:
        for rule in rules:
            ctx.advance(1)
            fmax = bounds.max_f(rule.requires, n) if rule.requires is not None else (n - 1) // 2
            if fmax < 0:
                continue
            rng = seed_rng(ctx.seed, NAME, n, rule.label)
            bstar = None
            try:
                # exponential rules (MDA, SMEA at f ~ n/2) can take seconds a call: skip them here
                t0 = time.perf_counter()
                rule(np.random.default_rng(0).standard_normal((n, s["d"])), fmax)
                if time.perf_counter() - t0 > SLOW_CALL_S:
                    res.notes.append(f"{rule.label} at n={n}: one call at f={fmax} takes "
                                     f"{time.perf_counter() - t0:.2f} s; breakdown search skipped")
                    continue
                for b in range(1, n):
                    if _broken(rule, n, b, min(b, fmax), s["d"], s["draws"], s["M"], rng):
                        bstar = b
                        break
                    if b > fmax + 2 and b >= (n + 1) // 2 + 1:
                        break
            except Exception as exc:
                res.notes.append(f"{rule.label} at n={n}: {type(exc).__name__}: {exc}")
                continue
            est = exact(math.inf if bstar is None else bstar, "smallest b that breaks (search over b)")
            src = bounds.source("breakdown_requirement")
            req = gars.spec(rule.name).requirement if rule.registered else "n >= 2f+1 (assumed for a user rule)"
            # a requirement that does not limit f (averaging: n >= 1) promises no tolerance
            promises = rule.requires is None or not rule.requires(n, n - 1)
            if promises:
                res.claims.append(judge(
                    NAME, rule.label, f"no breakdown within the requirement ({req}): b* >= f_max + 1",
                    "lower", est, fmax + 1,
                    src if rule.registered else ("user", "user rule, assumed to tolerate f < n/2"),
                    asserted=True, params={"n": n, "f_max": fmax, "d": s["d"]},
                    note="" if bstar is not None else
                    f"no breakdown found up to b = {min(n - 1, max(fmax + 3, (n + 1) // 2 + 1))}",
                ))
            known = bounds.breakdown_count(rule.name, n) if rule.registered else None
            if known is not None and not (rule.name == "median" and rule.params.get("kind", "midpoint") != "midpoint"):
                src = bounds.source("breakdown_average" if rule.name == "average" else "kappa_median")
                res.claims.append(judge(NAME, rule.label, f"b* equals the known breakdown count {known}", "equal",
                                        est, known, (src.tag, src.citation if rule.name == "average" else
                                                     "a majority of equal values sets the median [derived]"),
                                        params={"n": n}))
            rows.append([rule.label, n, fmax, "none" if bstar is None else bstar,
                         "-" if bstar is None else f"{bstar / n:.3f}"])
    res.data = {"points": rows}
    res.body = (
        "b* = smallest number of Byzantine inputs that breaks the rule (configured with f = min(b, f_max)); "
        "b*/n is the empirical breakdown fraction.\n\n"
        + report.md_table(["rule", "n", "f_max (requirement)", "b*", "b*/n"], rows)
    )
    return res
