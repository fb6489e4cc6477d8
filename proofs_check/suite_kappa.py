r"""Suite 5: (f, κ)-robustness and (f, λ)-resilient averaging (THEORY.md §8, §12 #9-#12).

For an input X and every subset S of n - f rows (all C(n, f) of them, vectorised),

.. math::

    \hat\kappa(X) = \max_S \frac{\lVert F(X) - \bar x_S\rVert^2}{\mathrm{var}_S}, \qquad
    \hat\lambda(X) = \max_S \frac{\lVert F(X) - \bar x_S\rVert}{\Delta_S}

(∞ when F differs from a zero-spread subset's mean). The empirical worst case is the maximum over
(a) the universal instance (f rows :math:`e_1`, n - f zero rows), (b) two-level inputs (a rows at
0, b at 1, up to f at 3), (c) a hill-climbing search from attack placements over Gaussian inputs.
Claims: universal lower bounds κ >= q, λ >= f/(n-f) [derived]; exact κ of the trimmed mean and the
median on two-level inputs [derived]; every published / derived upper bound (§8.2-§8.3). These
are deterministic: no sampling error, "holds" for an upper bound means no counterexample found.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from . import bounds
from ._core import AttackChoice, Context, Rule, SuiteResult, byzantine_vectors, judge, registered_rule, resolve_rules, seed_rng
from .estimate import exact

NAME = "kappa"
#: Relative deviation from a zero-spread subset's mean below which the output counts as equal to it.
ZERO_DEV = 1e-8
TITLE = "(f, κ)-robustness and (f, λ)-resilient averaging: worst cases vs bounds"

DEFAULTS = {
    "quick": {"rules": None, "nf": [(11, 2), (10, 2)], "d": 3, "search_iters": 40},
    "full": {"rules": None, "nf": [(7, 1), (9, 2), (11, 2), (10, 2), (15, 3), (13, 4)], "d": 4,
             "search_iters": 300},
}


class Subsets:
    """All subsets of size n - f of n rows, and the (κ, λ) ratios of an output against them."""

    def __init__(self, n: int, f: int) -> None:
        self.n, self.f = n, f
        self.idx = np.array(list(itertools.combinations(range(n), n - f)), dtype=np.int64)

    def ratios(self, X: np.ndarray, F: np.ndarray) -> tuple[float, float]:
        """(max_S κ ratio, max_S λ ratio) of output F on input X."""
        XS = X[self.idx]  # (c, m, d)
        mean = XS.mean(axis=1)
        var = ((XS - mean[:, None, :]) ** 2).sum(axis=2).mean(axis=1)
        diff = XS[:, :, None, :] - XS[:, None, :, :]
        diam = np.sqrt((diff**2).sum(axis=3).max(axis=(1, 2)))
        num2 = ((F[None, :] - mean) ** 2).sum(axis=1)
        scale = max(float((X**2).sum(axis=1).max()), 1.0)
        tiny = 1e-24 * scale
        # against a zero-spread subset any deviation gives an infinite ratio; deviations below
        # ZERO_DEV x the data scale (iterative solvers' precision, e.g. Weiszfeld) count as zero
        far = num2 > (ZERO_DEV**2) * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(var > tiny, num2 / var, np.where(far, np.inf, 0.0))
            lam = np.where(diam > math.sqrt(tiny), np.sqrt(num2) / diam, np.where(far, np.inf, 0.0))
        return float(k.max()), float(lam.max())


def _two_level(n: int, f: int, d: int):
    for c in (0, f):
        for a in range(0, n - c + 1):
            X = np.ones((n, d))
            X[:a] = 0.0
            X[n - c:] = 3.0
            yield f"two-level a={a} c={c}", X


def _universal(n: int, f: int, d: int) -> np.ndarray:
    X = np.zeros((n, d))
    X[n - f:, 0] = 1.0
    return X


def _rules(ctx: Context, s) -> tuple[list[Rule], list[str]]:
    from p2pbyz import gars

    names = s["rules"] if s["rules"] is not None else gars.names()
    if ctx.rules is not None:
        names = ctx.rules
    rules, missing = resolve_rules(names, ctx.extra_rules)
    if ctx.rules is None and "median" in gars.names() and "kind" in gars.spec("median").params:
        rules += [registered_rule("median", kind="lower"), registered_rule("median", kind="upper")]
    return rules, missing


def _hook_bounds(rule: Rule, key: str, n: int, f: int) -> list[tuple[float, bounds.Source]]:
    hook = rule.theory.get(key) if rule.registered else None
    if not callable(hook):
        return []
    src = str(rule.theory.get("source", "registry theory hook"))
    tag = next((t for t in ("paper", "derived", "code", "secondary", "unverified") if f"[{t}]" in src), "unverified")
    return [(float(hook(n, f)), bounds.Source(tag, "registry theory hook: " + src))]


def run(ctx: Context) -> SuiteResult:
    """Run the suite; see the module docstring."""
    s = ctx.get(DEFAULTS)
    rules, missing = _rules(ctx, s)
    res = SuiteResult(NAME, TITLE)
    if missing:
        res.notes.append("not registered (skipped): " + ", ".join(missing))
    d = s["d"]
    ctx.set_total(len(s["nf"]) * len(rules))
    rows = []
    for pi, (n, f) in enumerate(s["nf"]):
        sub = Subsets(n, f)
        q = bounds.kappa_lower(n, f)
        for rule in rules:
            ctx.advance(1)
            if not rule.allows(n, f):
                continue
            kind = rule.params.get("kind", "midpoint") if rule.registered else None
            params = {"n": n, "f": f, "d": d}
            try:
                Xu = _universal(n, f, d)
                ku, lu = sub.ratios(Xu, rule(Xu.copy(), f))
                k2 = l2 = 0.0
                arg2 = ""
                for lab, X in _two_level(n, f, d):
                    kk, ll = sub.ratios(X, rule(X.copy(), f))
                    if kk > k2:
                        k2, arg2 = kk, lab
                    l2 = max(l2, ll)
                ks, ls, evals = _search(rule, sub, n, f, d, s["search_iters"], seed_rng(ctx.seed, NAME, pi, rule.label))
            except Exception as exc:
                res.notes.append(f"{rule.label} at n={n} f={f}: {type(exc).__name__}: {exc}")
                continue
            kmax, lmax = max(ku, k2, ks), max(lu, l2, ls)
            rows.append([rule.label, n, f, _f(ku), _f(k2), _f(ks), _f(lu), _f(l2), _f(ls)])
            res.claims.append(judge(NAME, rule.label, "universal instance: max_S κ ratio >= f/(n-2f)", "lower",
                                    exact(ku), q, bounds.source("kappa_lower"), params=params))
            res.claims.append(judge(NAME, rule.label, "universal instance: max_S λ ratio >= f/(n-f)", "lower",
                                    exact(lu), bounds.lambda_lower(n, f), bounds.source("lambda_lower"),
                                    params=params))
            name = rule.name if rule.registered else None
            if name == "trimmed_mean":
                res.claims.append(judge(NAME, rule.label, "two-level inputs attain κ* = q exactly", "equal",
                                        exact(k2), bounds.kappa_trimmed_mean(n, f),
                                        bounds.source("kappa_trimmed_mean"), params={**params, "input": arg2}))
            if name == "median":
                lo, hi = bounds.kappa_median(n, f, kind)
                if lo == hi:
                    res.claims.append(judge(NAME, rule.label, f"two-level inputs attain the exact κ* ({kind}, n {'odd' if n % 2 else 'even'})",
                                            "equal", exact(k2), lo, bounds.source("kappa_median"),
                                            params={**params, "input": arg2}))
                else:
                    res.claims.append(judge(NAME, rule.label, "two-level max κ in [(n-2)/(n-2f+2), n/(n-2f)] (even-n midpoint)",
                                            "band", exact(k2), (lo, hi), bounds.source("kappa_midpoint_median"),
                                            params={**params, "input": arg2}))
                kup = [(hi, "kappa_median"), (4 * (1 + q) ** 2, "kappa_gm_cwmed")]
            else:
                kup = bounds.kappa_upper(name, n, f) if name else []
            kb = [(v, bounds.source(k)) for v, k in kup] + _hook_bounds(rule, "kappa", n, f)
            lb = [(v, bounds.source(k)) for v, k in (bounds.lambda_upper(name, n, f, d) if name else [])]
            lb += _hook_bounds(rule, "lambda", n, f)
            seen = set()
            for v, src in kb:
                if (round(v, 12), "k") in seen:
                    continue
                seen.add((round(v, 12), "k"))
                res.claims.append(judge(NAME, rule.label, "worst κ ratio found <= upper bound", "upper",
                                        exact(kmax, "max over universal, two-level and searched inputs", evals),
                                        v, src, params=params))
            for v, src in lb:
                if (round(v, 12), "l") in seen:
                    continue
                seen.add((round(v, 12), "l"))
                res.claims.append(judge(NAME, rule.label, "worst λ ratio found <= upper bound", "upper",
                                        exact(lmax, "max over universal, two-level and searched inputs", evals),
                                        v, src, params=params))
    from . import report

    res.data = {"points": rows}
    res.body = (
        "Columns: worst κ / λ ratio over all subsets S of size n − f on the universal instance, on "
        "two-level inputs and in the search (∞: the rule moves away from a zero-spread subset's mean).\n\n"
        + report.md_table(["rule", "n", "f", "κ universal", "κ two-level", "κ search", "λ universal",
                           "λ two-level", "λ search"], rows)
    )
    return res


def _f(v: float) -> str:
    return "∞" if v == math.inf else f"{v:.4g}"


def _search(rule: Rule, sub: Subsets, n: int, f: int, d: int, iters: int, rng: np.random.Generator):
    """Hill-climb the κ ratio: Gaussian honest rows, Byzantine rows from attacks, then perturb one
    row at a time and keep improvements. Returns (best κ, best λ seen, evaluations)."""
    H = rng.standard_normal((1, n - f, d))
    starts = [AttackChoice("alie", "alie", {"z": 1.0}), AttackChoice("ipm", "ipm", {"eps": 0.5}),
              AttackChoice("mimic", "mimic", {}), AttackChoice("bulyan_coordinate", "bulyan_coordinate", {"eps": 2.0})]
    best_k, best_l, best_X, evals = -1.0, 0.0, None, 0
    for c in starts:
        B = byzantine_vectors(c, H, f, rng)[0]
        X = np.vstack([H[0], B])
        k, lam = sub.ratios(X, rule(X.copy(), f))
        evals += 1
        best_l = max(best_l, lam)
        if k > best_k:
            best_k, best_X = k, X
    step = 0.5
    for _ in range(iters):
        if not math.isfinite(best_k):
            break
        X = best_X.copy()
        i = int(rng.integers(n))
        X[i] += step * rng.standard_normal(d)
        k, lam = sub.ratios(X, rule(X.copy(), f))
        evals += 1
        best_l = max(best_l, lam)
        if k > best_k:
            best_k, best_X = k, X
            step *= 1.2
        else:
            step = max(step * 0.9, 1e-3)
    return best_k, best_l, evals
