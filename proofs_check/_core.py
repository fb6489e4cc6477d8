"""What the suites share: claims and verdicts, the rules under test, the attack candidates, seeds.

A *claim* compares an :class:`~proofs_check.estimate.Estimate` with a theoretical value and gets a
verdict: ``holds`` (the whole confidence interval is on the right side), ``fails`` (the whole
interval is on the wrong side), ``inconclusive`` (the interval straddles the value) or ``n/a``
(the bound is vacuous at this point, e.g. sin α >= 1).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import bounds
from .estimate import Estimate

__all__ = [
    "Claim",
    "Rule",
    "Context",
    "SuiteResult",
    "AttackChoice",
    "judge",
    "registered_rule",
    "user_rule",
    "resolve_rules",
    "seed_rng",
    "apply_rule",
    "byzantine_vectors",
    "resilience_candidates",
]

VERDICTS = ("holds", "fails", "inconclusive", "n/a")
#: Relative tolerance of deterministic comparisons (floating-point rounding of exact values).
RTOL = 1e-9


# ------------------------------------------------------------------------------------------------
# claims


@dataclass
class Claim:
    """One checked statement.

    Attributes
    ----------
    suite, rule, claim : str
        Suite name, rule label, and the statement in words.
    kind : {"upper", "lower", "equal", "band"}
        ``upper``: quantity <= bound; ``lower``: quantity >= bound; ``equal``: quantity == bound
        (deterministic); ``band``: quantity within ``bound = (lo, hi)``.
    estimate : Estimate
    bound : float or (float, float)
    tag : str
        Confidence tag of the bound (THEORY.md §0) or ``reference`` / ``user``.
    source : str
    asserted : bool
        Whether a ``fails`` makes ``--strict`` exit 1 (tags paper/derived, and user rules).
    params : dict
        Grid point (n, f, d, σ, attack, ...).
    verdict : str
    margin : float
        Relative margin, positive when the claim is satisfied by the point estimate.
    note : str
    """

    suite: str
    rule: str
    claim: str
    kind: str
    estimate: Estimate
    bound: Any
    tag: str
    source: str
    asserted: bool
    params: dict = field(default_factory=dict)
    verdict: str = ""
    margin: float = math.nan
    note: str = ""

    def as_dict(self) -> dict:
        """Plain-dict form for JSON (every number kept)."""
        b = list(self.bound) if isinstance(self.bound, tuple) else self.bound
        return {
            "suite": self.suite, "rule": self.rule, "claim": self.claim, "kind": self.kind,
            "estimate": self.estimate.as_dict(), "bound": b, "tag": self.tag,
            "source": self.source, "asserted": self.asserted, "params": self.params,
            "verdict": self.verdict, "margin": self.margin, "note": self.note,
        }


def judge(
    suite: str,
    rule: str,
    claim: str,
    kind: str,
    est: Estimate,
    bound: Any,
    src: bounds.Source | tuple[str, str],
    *,
    params: Mapping[str, Any] | None = None,
    asserted: bool | None = None,
    applicable: bool = True,
    note: str = "",
) -> Claim:
    """Build a :class:`Claim` and decide its verdict from the estimate's interval.

    Examples
    --------
    >>> from proofs_check.estimate import Estimate
    >>> c = judge("s", "r", "x <= 1", "upper", Estimate(0.5, 0.4, 0.6, 10, "m"), 1.0,
    ...           ("paper", "somewhere"))
    >>> c.verdict, c.margin
    ('holds', 0.5)
    """
    tag, cite = (src.tag, src.citation) if isinstance(src, bounds.Source) else src
    if asserted is None:
        asserted = tag in bounds.ASSERTED_TAGS
    c = Claim(suite, rule, claim, kind, est, bound, tag, cite, bool(asserted),
              dict(params or {}), note=note)
    v, lo, hi = est.value, est.lo, est.hi
    if not applicable:
        c.verdict = "n/a"
        return c
    if kind == "band":
        blo, bhi = bound
        tol_lo, tol_hi = RTOL * max(1.0, abs(blo)), RTOL * max(1.0, abs(bhi))
        if lo >= blo - tol_lo and hi <= bhi + tol_hi:
            c.verdict = "holds"
        elif hi < blo - tol_lo or lo > bhi + tol_hi:
            c.verdict = "fails"
        else:
            c.verdict = "inconclusive"
        width = max(abs(bhi), abs(blo), 1e-300)
        c.margin = min(v - blo, bhi - v) / width
        return c
    b = float(bound)
    tol = RTOL * max(1.0, abs(b))
    scale = abs(b) if b != 0 else 1.0
    if kind == "upper":
        c.margin = (b - v) / scale if math.isfinite(v) else -math.inf
        c.verdict = "holds" if hi <= b + tol else "fails" if lo > b + tol else "inconclusive"
    elif kind == "lower":
        c.margin = (v - b) / scale if math.isfinite(v) else math.inf
        c.verdict = "holds" if lo >= b - tol else "fails" if hi < b - tol else "inconclusive"
    elif kind == "equal":
        c.margin = -abs(v - b) / scale
        c.verdict = "holds" if abs(v - b) <= tol and abs(lo - b) <= tol and abs(hi - b) <= tol else "fails"
    else:
        raise ValueError(f"judge: unknown kind {kind!r}")
    return c


@dataclass
class SuiteResult:
    """What a suite returns: its claims, its data for the JSON, figures and Markdown body."""

    name: str
    title: str
    claims: list[Claim] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    body: str = ""
    seconds: float = 0.0


# ------------------------------------------------------------------------------------------------
# rules under test

#: Parameters the checker passes to registered rules by default (a randomised rule needs a seed;
#: 1-p Krum at t = 10^6 averages with probability 1e-3 — at its default t = 1 it always averages).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {"one_minus_p_krum": {"t": 10**6}}


@dataclass(frozen=True)
class Rule:
    """A rule under test: ``fn(X, f) -> (d,)`` float64.

    ``registered`` rules come from :mod:`p2pbyz.gars` (the defence-aware attack can target them);
    user rules come from ``--rule module:function`` or a callable.
    """

    label: str
    fn: Callable[[np.ndarray, int], np.ndarray]
    name: str
    registered: bool
    params: Mapping[str, Any] = field(default_factory=dict)
    requires: Callable[[int, int], bool] | None = None
    theory: Mapping[str, Any] = field(default_factory=dict)

    def allows(self, n: int, f: int) -> bool:
        """Whether (n, f) meets the rule's requirement (user rules: always, errors are caught)."""
        return True if self.requires is None else bool(self.requires(n, f))

    def __call__(self, X: np.ndarray, f: int) -> np.ndarray:
        return np.asarray(self.fn(X, f), dtype=np.float64)


def registered_rule(name: str, **params: Any) -> Rule:
    """A :class:`Rule` calling ``p2pbyz.gars.aggregate(name, X, f, **params)``.

    Raises
    ------
    KeyError
        If ``name`` is not registered.
    """
    from p2pbyz import gars

    if name not in gars.names():
        raise KeyError(name)
    spec = gars.spec(name)
    p = dict(DEFAULT_PARAMS.get(name, {}))
    if "seed" in spec.params and "seed" not in params:
        p["seed"] = 0
    p.update(params)
    label = name if not params else f"{name}({', '.join(f'{k}={v}' for k, v in params.items())})"

    def fn(X: np.ndarray, f: int) -> np.ndarray:
        return gars.aggregate(name, X, f, **p)

    return Rule(label, fn, name, True, p, spec.requires, dict(spec.theory))


def user_rule(rule: str | Callable[..., Any], label: str | None = None) -> Rule:
    """A :class:`Rule` from ``"module:function"`` or a callable ``fn(X, f) -> (d,)``.

    Examples
    --------
    >>> import numpy as np
    >>> r = user_rule(lambda X, f: X.mean(axis=0), label="mean")
    >>> r(np.ones((3, 2)), 1)
    array([1., 1.])
    """
    if isinstance(rule, str):
        mod, sep, attr = rule.partition(":")
        if not sep or not mod or not attr:
            raise ValueError(f"--rule must be 'module:function'; got {rule!r}")
        fn = importlib.import_module(mod)
        for part in attr.split("."):
            fn = getattr(fn, part)
        if not callable(fn):
            raise ValueError(f"--rule {rule!r} is not callable")
        return Rule(label or rule, fn, label or rule, False)
    if not callable(rule):
        raise ValueError(f"a user rule must be 'module:function' or a callable; got {rule!r}")
    name = label or getattr(rule, "__name__", "user_rule")
    return Rule(name, rule, name, False)


def resolve_rules(names: Iterable[str | Rule], extra: Sequence[Rule] = ()) -> tuple[list[Rule], list[str]]:
    """Rules for a suite: registered ones by name (missing ones reported), then ``extra``."""
    out: list[Rule] = []
    missing: list[str] = []
    for n in names:
        if isinstance(n, Rule):
            out.append(n)
            continue
        try:
            out.append(registered_rule(n))
        except KeyError:
            missing.append(n)
    out.extend(extra)
    return out, missing


# ------------------------------------------------------------------------------------------------
# seeds and context


def seed_rng(seed: int, *key: int | str) -> np.random.Generator:
    """A generator keyed by (seed, suite, point, phase...): independent of which suites run."""
    words = [int(seed)]
    for k in key:
        if isinstance(k, str):
            words.append(int.from_bytes(k.encode()[:8].ljust(8, b"\0"), "little") & 0xFFFFFFFF)
        else:
            words.append(int(k))
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass
class Context:
    """Everything a suite needs: mode, seed, settings overrides, rules, output folder, progress."""

    mode: str = "quick"
    seed: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)
    rules: Sequence[str | Rule] | None = None
    extra_rules: Sequence[Rule] = ()
    out_dir: str | None = None
    advance: Callable[[float], None] = lambda k: None
    set_total: Callable[[float], None] = lambda k: None

    def get(self, defaults: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The suite's settings for this mode, with the context's overrides applied."""
        s = dict(defaults[self.mode])
        s.update(self.settings)
        return s


# ------------------------------------------------------------------------------------------------
# running rules and attacks on batches of draws


def apply_rule(rule: Rule, H: np.ndarray, B: np.ndarray, f: int) -> np.ndarray:
    """``rule`` on every draw: X = honest rows then Byzantine rows; returns (draws, d) float64."""
    D, h, d = H.shape
    out = np.empty((D, d))
    X = np.empty((h + B.shape[1], d))
    for k in range(D):
        X[:h] = H[k]
        X[h:] = B[k]
        out[k] = rule(X.copy(), f)
    return out


@dataclass(frozen=True)
class AttackChoice:
    """An attack of :mod:`p2pbyz.attacks` with fixed parameters (``per_rule``: needs the defence)."""

    label: str
    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    per_rule: bool = False


def byzantine_vectors(
    choice: AttackChoice, H: np.ndarray, f: int, rng: np.random.Generator, rule: Rule | None = None
) -> np.ndarray:
    """The f Byzantine vectors of every draw of H (draws, h, d) under ``choice``: (draws, f, d)."""
    from p2pbyz import attacks

    D, h, d = H.shape
    params = dict(choice.params)
    if choice.per_rule:
        if rule is None or not rule.registered:
            raise ValueError(f"{choice.label} needs a registered rule")
        params["gar"] = attacks.GarContext(rule.name, params=dict(rule.params), f=f, n=h + f)
    atk = attacks.make(choice.name, **params)
    out = np.empty((D, f, d))
    for k in range(D):
        out[k] = atk(H[k], f, rng=rng)
    return out


def resilience_candidates(d: int, sigma: float, level: str, defence_aware: bool = True) -> list[AttackChoice]:
    """The attacks tried against the (α, f)-resilience bound (THEORY.md §10), strongest kept.

    Fixed-parameter attacks from the registry, line grids over their factor (a defence-aware
    search at the level of the expectation, done on pilot draws), and the registry's per-draw
    defence-aware line search (``defence_aware``, registered rules only).
    """
    from p2pbyz import attacks

    have = set(attacks.names())
    scale = math.sqrt(d) * sigma
    c: list[AttackChoice] = []

    def add(name: str, **p: Any) -> None:
        if name in have:
            label = name if not p else f"{name}({', '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in p.items())})"
            c.append(AttackChoice(label, name, p))

    add("omniscient")
    add("sign_flip")
    add("ipm")
    add("alie")
    add("gaussian")
    add("mimic")
    add("minmax")
    add("minsum")
    zs = (0.5, 1.0, 2.0) if level == "quick" else (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
    for z in zs:
        add("alie", z=z)
    for e in ((1.0, 3.0) if level == "quick" else (0.5, 1.0, 2.0, 5.0)):
        add("ipm", eps=e)
    for e in ((0.5, 1.0, 2.0) if level == "quick" else (0.25, 0.5, 1.0, 2.0, 4.0)):
        add("bulyan_coordinate", eps=float(e * scale))
    if defence_aware and "defence_aware" in have:
        budget = 8
        for base in (("alie",) if level == "quick" else ("alie", "bulyan_coordinate")):
            c.append(AttackChoice(f"defence_aware(base={base}, budget={budget})", "defence_aware",
                                  {"base": base, "budget": budget}, per_rule=True))
    return c
