r"""Closed forms of the bounds that :mod:`proofs_check` tests, each with its paper and tag.

Every function cites its source (../shared/THEORY.md section, paper, theorem) and carries a
confidence tag in :data:`SOURCES`: ``paper``, ``derived`` and ``code`` constants are hard-coded;
``secondary`` and ``unverified`` ones are *reported, not asserted* by the suites.

Notation (THEORY.md §0): n inputs, at most f Byzantine, honest vectors i.i.d. with
:math:`\mathbb E G = g` and :math:`\mathbb E\lVert G - g\rVert^2 = d\sigma^2`;
:math:`q = f/(n-2f)`; :math:`m = n - f` in the (f, κ) / (f, λ) sections.

Examples
--------
>>> from proofs_check import bounds
>>> round(bounds.eta(11, 2), 4)
6.0332
>>> bounds.kappa_lower(11, 2)
0.2857142857142857
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Source",
    "SOURCES",
    "ASSERTED_TAGS",
    "source",
    "eta",
    "sin_alpha",
    "eta_for_rule",
    "variance_norm_ratio",
    "bulyan_containment_radius",
    "LEEWAY_EXPONENT_WEAK",
    "LEEWAY_EXPONENT_STRONG",
    "aksel_error_shape",
    "ANGULAR_EXPONENT_D",
    "slowdown_hypotheses",
    "kappa_lower",
    "lambda_lower",
    "kappa_trimmed_mean",
    "lambda_trimmed_mean_1d",
    "kappa_order_statistic",
    "kappa_median",
    "kappa_upper",
    "lambda_upper",
    "kappa_to_lambda",
    "lambda_to_kappa",
    "breakdown_count",
    "max_f",
]


@dataclass(frozen=True)
class Source:
    """Where a closed form comes from.

    Attributes
    ----------
    tag : str
        Confidence tag of THEORY.md §0: ``paper``, ``derived``, ``code``, ``secondary`` or
        ``unverified``.
    citation : str
        Paper, theorem and THEORY.md section.
    """

    tag: str
    citation: str

    @property
    def asserted(self) -> bool:
        """Whether a violation is a bug (``paper``/``derived``), not a reading to re-check."""
        return self.tag in ASSERTED_TAGS


#: Tags whose violation makes ``--strict`` exit with status 1 (THEORY.md §12: "a violated [paper]
#: or [derived] bound is a bug").
ASSERTED_TAGS = frozenset({"paper", "derived"})

SOURCES: dict[str, Source] = {
    "eta": Source("paper", "Blanchard et al., NIPS 2017, supplement Prop. 1 (THEORY.md §1)"),
    "eta_multi_krum": Source(
        "unverified",
        "m-Krum: arXiv 1703.02757v1 Prop. 3 [paper]; Multi-Krum A: 1905.04374v1 Lemma 1, "
        "formulas stripped (THEORY.md §1, §12 #2)",
    ),
    "eta_bulyan": Source(
        "paper",
        "Bulyan inherits the (α,f)-resilience of Krum (1905.04374v1 citing arXiv 1802.07927); "
        "LPD upper_bound uses Krum's η [code] (THEORY.md §2)",
    ),
    "eta_multi_bulyan": Source(
        "unverified", "inherited through Multi-Krum, 1905.04374v1 Thm 2 (THEORY.md §3)"
    ),
    "variance_norm_ratio_median": Source("code", "LPD-EPFL median upper_bound: 1/sqrt(n-f) (THEORY.md §4)"),
    "variance_norm_ratio_mda": Source("code", "LPD-EPFL brute upper_bound: (n-f)/(sqrt(8) f) (THEORY.md §6)"),
    "eta_reference": Source(
        "paper",
        "Krum's η (supplement Prop. 1) used as the reference bound for a rule without its own",
    ),
    "bulyan_containment": Source("derived", "THEORY.md §2, deterministic per-coordinate leeway"),
    "leeway_weak": Source(
        "unverified",
        "Bulyan paper abstract (arXiv 1802.07927) [paper]: leeway Ω(√d) for weakly resilient "
        "rules; normalisation [unverified] (THEORY.md §2, §12 #6)",
    ),
    "leeway_strong": Source(
        "unverified",
        "Bulyan abstract, 1905.04374 Thm 2 [paper]: O(1/√d) leeway, i.e. O(σ_coord) per coordinate "
        "in THEORY's reading [unverified] (THEORY.md §2, §12 #6)",
    ),
    "aksel_sqrt_d": Source(
        "unverified",
        "AKSEL abstract, OPODIS 2020 [paper]: angular error O(√d); constants and normalisation "
        "[unverified] (THEORY.md §5, §12 #8)",
    ),
    "aksel_sqrt_d_log_n": Source(
        "unverified",
        "AKSEL abstract [paper]: O(√(d log n)) under Gaussian gradients; constants [unverified] "
        "(THEORY.md §5, §12 #8)",
    ),
    "slowdown_m_over_n": Source(
        "unverified",
        "1905.04374v2 abstract [paper]: multi-Bulyan has an m/n slowdown vs averaging, m = n-f; "
        "its mapping to a variance ratio is this checker's reading (THEORY.md §3, §12 #7)",
    ),
    "slowdown_sqrt_m_over_n": Source(
        "unverified", "restatements writing √(m/n) (THEORY.md §3) [unverified]"
    ),
    "kappa_lower": Source("derived", "THEORY.md §8.3 universal lower bound κ >= f/(n-2f), §12 #9"),
    "lambda_lower": Source("derived", "THEORY.md §8.3 universal lower bound λ >= f/(n-f), §12 #9"),
    "kappa_trimmed_mean": Source("derived", "THEORY.md §8.3, exact κ* = q for CWTM, §12 #10"),
    "kappa_median": Source("derived", "THEORY.md §8.3, exact κ* of the coordinate-wise median, §12 #10"),
    "kappa_order_statistic": Source("derived", "THEORY.md §8.3, k-th order statistic, §12 #10"),
    "kappa_midpoint_median": Source(
        "derived", "THEORY.md §8.3: (n-2)/(n-2f+2) <= κ* <= n/(n-2f) for the even-n midpoint median"
    ),
    "kappa_published_cwtm": Source(
        "secondary", "FbM via Yang et al.: 6q(1+q), constant 6 [unverified] (THEORY.md §8.2)"
    ),
    "kappa_published_krum": Source(
        "secondary", "FbM via Yang et al.: 6(1+q), constant 6 [unverified] (THEORY.md §8.2)"
    ),
    "kappa_gm_cwmed": Source("derived", "THEORY.md §8.3 GM inequality: κ <= 4(1+q)^2 (GM, CWMed)"),
    "kappa_mda": Source("derived", "THEORY.md §8.3: κ_MDA <= 8f^2/(n-f)"),
    "lambda_mda": Source("derived", "THEORY.md §8.3: λ_MDA <= 2f/(n-f)"),
    "lambda_krum": Source("derived", "THEORY.md §8.3: λ_Krum <= 1 + sqrt((n-f-2)/(n-2f-2))"),
    "lambda_gm": Source("derived", "THEORY.md §8.3: λ_GM <= 2(n-f)/(n-2f)"),
    "lambda_cw": Source("derived", "THEORY.md §8.3 coordinate-wise λ in d dimensions (TM, odd median)"),
    "breakdown_average": Source("paper", "Krum supplement Lemma 1: one Byzantine input controls a linear rule"),
    "breakdown_requirement": Source("paper", "each rule's requirement on n and f (THEORY.md §11)"),
}


def source(key: str) -> Source:
    """The :class:`Source` of bound ``key`` (a key of :data:`SOURCES`).

    Examples
    --------
    >>> source("eta").tag
    'paper'
    """
    return SOURCES[key]


# ------------------------------------------------------------------------------------------------
# (α, f)-Byzantine resilience (THEORY.md §1-§3)


def eta(n: int, f: int) -> float:
    r"""Krum's :math:`\eta(n, f)` (Blanchard et al., NIPS 2017, supplement Proposition 1).

    .. math::

        \eta(n, f) = \sqrt{2\Big(n - f + \frac{f(n-f-2) + f^2(n-f-1)}{n-2f-2}\Big)}

    The proof establishes :math:`\lVert \mathbb E\,\mathrm{Kr} - g\rVert^2 \le \eta^2 d\sigma^2`
    for any f Byzantine vectors, possibly dependent on the honest ones [paper].

    Parameters
    ----------
    n, f : int
        Requirement: 2f + 2 < n (f >= 0).

    Returns
    -------
    float

    Examples
    --------
    >>> round(eta(7, 1), 4), round(eta(15, 3), 4)
    (4.2426, 7.8011)
    >>> eta(5, 0) == (2 * 5) ** 0.5
    True
    """
    if f < 0 or not 2 * f + 2 < n:
        raise ValueError(f"eta needs 2f+2 < n; got n={n}, f={f}")
    return math.sqrt(2.0 * (n - f + (f * (n - f - 2) + f * f * (n - f - 1)) / (n - 2 * f - 2)))


def sin_alpha(eta_value: float, d: int, sigma: float, g_norm: float) -> float:
    r"""The resilience angle of Proposition 1: :math:`\sin\alpha = \eta\sqrt d\,\sigma / \lVert g\rVert`.

    Condition (i) of (α, f)-resilience then reads :math:`\langle \mathbb E F, g\rangle \ge
    (1 - \sin\alpha)\lVert g\rVert^2`; it is meaningful only when the value is < 1 [paper].

    Examples
    --------
    >>> sin_alpha(2.0, 4, 0.1, 1.0)
    0.4
    """
    return eta_value * math.sqrt(d) * sigma / g_norm


def variance_norm_ratio(rule: str, n: int, f: int) -> float | None:
    r"""LPD-EPFL's ``upper_bound``: the largest :math:`\sqrt{\mathbb E\lVert G-g\rVert^2}/\lVert g\rVert`
    for which the rule is resilient [code] (THEORY.md §12 #3); None for rules without one.

    Krum, Bulyan: :math:`1/\eta(n,f)`; median: :math:`1/\sqrt{n-f}`; MDA: :math:`(n-f)/(\sqrt 8 f)`.

    Examples
    --------
    >>> round(variance_norm_ratio("median", 11, 2), 4)
    0.3333
    """
    if rule in ("krum", "bulyan"):
        return 1.0 / eta(n, f)
    if rule == "median":
        return 1.0 / math.sqrt(n - f)
    if rule == "mda":
        return math.inf if f == 0 else (n - f) / (math.sqrt(8.0) * f)
    return None


def eta_for_rule(rule: str, n: int, f: int) -> tuple[float, Source] | None:
    r"""The η a rule is claimed to satisfy, :math:`\lVert\mathbb E F - g\rVert \le \eta\sqrt d\,\sigma`,
    with its source; None if no source gives one (the suites then use Krum's η as a reference).

    Krum [paper]; Multi-Krum [unverified: same η expected, 1905.04374v1 Lemma 1]; Bulyan [paper,
    inherited]; Multi-Bulyan [unverified]; median and MDA through LPD's variance-norm ratio
    (η = 1/ratio) [code].

    Examples
    --------
    >>> e, s = eta_for_rule("median", 11, 2)
    >>> e, s.tag
    (3.0, 'code')
    >>> eta_for_rule("phocas", 11, 2) is None
    True
    """
    if rule == "krum":
        return eta(n, f), SOURCES["eta"]
    if rule == "multi_krum":
        return eta(n, f), SOURCES["eta_multi_krum"]
    if rule == "bulyan":
        return eta(n, f), SOURCES["eta_bulyan"]
    if rule == "multi_bulyan":
        return eta(n, f), SOURCES["eta_multi_bulyan"]
    if rule == "median":
        return math.sqrt(n - f), SOURCES["variance_norm_ratio_median"]
    if rule == "mda" and f > 0:
        return math.sqrt(8.0) * f / (n - f), SOURCES["variance_norm_ratio_mda"]
    return None


# ------------------------------------------------------------------------------------------------
# Leeway (THEORY.md §2, §12 #5-#6)


def bulyan_containment_radius(honest_min: float, honest_max: float) -> tuple[float, float]:
    r"""Deterministic interval holding Bulyan's coordinate i [derived] (THEORY.md §2).

    With :math:`r_i` the range of the honest values among the selected vectors,
    :math:`|\mathrm{Bulyan}_i - \mathrm{med}_i| \le r_i`, so
    :math:`\mathrm{Bulyan}_i \in [\min_h - r_i, \max_h + r_i]`. Using the range of *all* honest
    values gives a superset, valid for every input with at most f Byzantine rows, n >= 4f+3,
    θ = n-2f, β = n-4f.

    Examples
    --------
    >>> bulyan_containment_radius(-1.0, 2.0)
    (-4.0, 5.0)
    """
    r = honest_max - honest_min
    return honest_min - r, honest_max + r


#: Growth exponent in d of the per-coordinate leeway of a weakly resilient rule, in units of the
#: per-coordinate σ: Ω(√d) (Bulyan abstract [paper]; normalisation [unverified]).
LEEWAY_EXPONENT_WEAK = 0.5
#: Growth exponent in d of Bulyan's / Multi-Bulyan's per-coordinate leeway in units of σ: O(1)
#: (the abstract's O(1/√d) with E||G-g||^2 = O(1); reading [unverified]).
LEEWAY_EXPONENT_STRONG = 0.0


# ------------------------------------------------------------------------------------------------
# Aksel angular error (THEORY.md §5)

#: Claimed growth exponent in d of Aksel's error ||F - g|| / σ: O(√d) (AKSEL abstract [paper]).
ANGULAR_EXPONENT_D = 0.5


def aksel_error_shape(d: int, n: int, gaussian: bool = True) -> float:
    r"""Shape (no constant) of Aksel's claimed error bound: :math:`\sqrt{d\log n}` for Gaussian
    gradients, :math:`\sqrt d` otherwise (AKSEL, OPODIS 2020, abstract [paper]; constants and
    normalisation [unverified], THEORY.md §5).

    Examples
    --------
    >>> round(aksel_error_shape(100, 10), 4)
    15.1743
    >>> aksel_error_shape(100, 10, gaussian=False)
    10.0
    """
    return math.sqrt(d * math.log(n)) if gaussian else math.sqrt(d)


# ------------------------------------------------------------------------------------------------
# Slowdown (THEORY.md §3, §12 #7)


def slowdown_hypotheses(m: int, n: int) -> dict[str, float]:
    r"""Competing slowdown claims (speed relative to averaging, no Byzantine worker).

    ``"m/n"``: 1905.04374v2 abstract for multi-Bulyan with m = n - f [paper]; ``"sqrt(m/n)"``: some
    restatements [unverified]. A speed ratio s corresponds to a variance ratio
    :math:`\mathbb E\lVert F-g\rVert^2 / \mathbb E\lVert \bar X - g\rVert^2 = 1/s` (SGD's
    noise-dominated rate scales with the variance) — this mapping is the checker's reading.

    Examples
    --------
    >>> slowdown_hypotheses(9, 16)
    {'m/n': 0.5625, 'sqrt(m/n)': 0.75}
    """
    return {"m/n": m / n, "sqrt(m/n)": math.sqrt(m / n)}


# ------------------------------------------------------------------------------------------------
# (f, κ)-robustness and (f, λ)-resilient averaging (THEORY.md §8)


def kappa_lower(n: int, f: int) -> float:
    r"""Universal lower bound :math:`\kappa \ge q = f/(n-2f)` for every rule [derived] (§8.3).

    Attained on the instance "f rows :math:`e_1`, n - f zero rows" (THEORY.md §12 #9).

    Examples
    --------
    >>> kappa_lower(10, 2)
    0.3333333333333333
    """
    return f / (n - 2 * f)


def lambda_lower(n: int, f: int) -> float:
    r"""Universal lower bound :math:`\lambda \ge f/(n-f)` for every rule [derived] (§8.3).

    Examples
    --------
    >>> lambda_lower(10, 2)
    0.25
    """
    return f / (n - f)


def kappa_trimmed_mean(n: int, f: int) -> float:
    r"""Exact κ* of the coordinate-wise trimmed mean: :math:`q = f/(n-2f)` [derived] (§8.3).

    Optimal (it meets the universal lower bound); two-level inputs attain it in any d.

    Examples
    --------
    >>> kappa_trimmed_mean(11, 2)
    0.2857142857142857
    """
    return f / (n - 2 * f)


def lambda_trimmed_mean_1d(n: int, f: int) -> float:
    r"""Exact 1-D λ* of the trimmed mean: :math:`f/(n-f)` [derived] (§8.3).

    Examples
    --------
    >>> lambda_trimmed_mean_1d(11, 2)
    0.2222222222222222
    """
    return f / (n - f)


def kappa_order_statistic(n: int, f: int, k: int) -> float:
    r"""Exact κ* of the k-th order statistic (1-based), f+1 <= k <= n-f [derived] (§8.3):

    .. math:: \kappa^* = \max\Big(\frac{k-1}{n-f-k+1}, \frac{n-k}{k-f}\Big)

    Examples
    --------
    >>> kappa_order_statistic(11, 2, 6)
    1.25
    """
    if not f + 1 <= k <= n - f:
        raise ValueError(f"kappa_order_statistic needs f+1 <= k <= n-f; got n={n}, f={f}, k={k}")
    return max((k - 1) / (n - f - k + 1), (n - k) / (k - f))


def kappa_median(n: int, f: int, kind: str = "midpoint") -> tuple[float, float]:
    r"""κ* of the coordinate-wise median as an interval (lo, hi) [derived] (§8.3).

    Odd n: exactly :math:`(n-1)/(n+1-2f)`. Even n, lower or upper median: exactly
    :math:`n/(n-2f)`. Even n, midpoint (numpy): :math:`(n-2)/(n-2f+2) \le \kappa^* \le n/(n-2f)`.

    Examples
    --------
    >>> kappa_median(11, 2)
    (1.25, 1.25)
    >>> kappa_median(10, 2, "lower")
    (1.6666666666666667, 1.6666666666666667)
    >>> kappa_median(10, 2)
    (1.0, 1.6666666666666667)
    """
    if n % 2 == 1:
        v = (n - 1) / (n + 1 - 2 * f)
        return v, v
    hi = n / (n - 2 * f)
    if kind in ("lower", "upper"):
        return hi, hi
    return (n - 2) / (n - 2 * f + 2), hi


def kappa_upper(rule: str, n: int, f: int) -> list[tuple[float, str]]:
    r"""Published and derived upper bounds on κ for ``rule``, as (value, SOURCES key) pairs.

    CWTM: q exactly [derived], 6q(1+q) [secondary]; CWMed: exact per parity [derived] and
    4(1+q)² [derived]; GM: 4(1+q)² [derived]; Krum: 6(1+q) [secondary, constant unverified];
    MDA: 8f²/(n-f) [derived] (THEORY.md §8.2-§8.3, §12 #11).

    Examples
    --------
    >>> [round(v, 4) for v, _ in kappa_upper("geometric_median", 11, 2)]
    [6.6122]
    """
    q = f / (n - 2 * f)
    out: list[tuple[float, str]] = []
    if rule == "trimmed_mean":
        out += [(q, "kappa_trimmed_mean"), (6 * q * (1 + q), "kappa_published_cwtm")]
    elif rule == "median":
        out += [(kappa_median(n, f)[1], "kappa_median"), (4 * (1 + q) ** 2, "kappa_gm_cwmed")]
    elif rule == "geometric_median":
        out += [(4 * (1 + q) ** 2, "kappa_gm_cwmed")]
    elif rule == "krum":
        out += [(6 * (1 + q), "kappa_published_krum")]
    elif rule == "mda":
        out += [(8.0 * f * f / (n - f), "kappa_mda")]
    return out


def lambda_upper(rule: str, n: int, f: int, d: int) -> list[tuple[float, str]]:
    r"""Derived upper bounds on λ (THEORY.md §8.3, §12 #12) as (value, SOURCES key) pairs.

    MDA :math:`2f/(n-f)`; Krum (n-f-2 neighbours) :math:`1 + \sqrt{(n-f-2)/(n-2f-2)}`;
    GM :math:`2(n-f)/(n-2f)`; TM :math:`\min(\frac{f}{n-f}\sqrt{\min(d, C(m,2))},
    \sqrt{q(m-1)/(2m)})`; odd median :math:`\min(\frac{n-1}{2(n-f)}\sqrt{\min(d,C(m,2))},
    \sqrt{\kappa^*(m-1)/(2m)})`.

    Examples
    --------
    >>> [round(v, 4) for v, _ in lambda_upper("mda", 11, 2, 5)]
    [0.4444]
    """
    m = n - f
    q = f / (n - 2 * f)
    root = math.sqrt(min(d, m * (m - 1) // 2))
    out: list[tuple[float, str]] = []
    if rule == "mda":
        out.append((2.0 * f / (n - f), "lambda_mda"))
    elif rule == "krum" and n - 2 * f - 2 > 0:
        out.append((1.0 + math.sqrt((n - f - 2) / (n - 2 * f - 2)), "lambda_krum"))
    elif rule == "geometric_median":
        out.append((2.0 * (n - f) / (n - 2 * f), "lambda_gm"))
    elif rule == "trimmed_mean":
        out.append((min(f / (n - f) * root, math.sqrt(q * (m - 1) / (2 * m))), "lambda_cw"))
    elif rule == "median" and n % 2 == 1:
        k = kappa_median(n, f)[1]
        out.append((min((n - 1) / (2 * (n - f)) * root, math.sqrt(k * (m - 1) / (2 * m))), "lambda_cw"))
    return out


def kappa_to_lambda(kappa: float, n: int, f: int) -> float:
    r"""(f, κ)-robust ⇒ (f, λ)-resilient with :math:`\lambda = \sqrt{\kappa(m-1)/(2m)}` [derived] (§8.3).

    Examples
    --------
    >>> round(kappa_to_lambda(2.0, 11, 2), 4)
    0.9428
    """
    m = n - f
    return math.sqrt(kappa * (m - 1) / (2 * m))


def lambda_to_kappa(lam: float, n: int, f: int) -> float:
    r"""(f, λ)-resilient ⇒ (f, κ)-robust with :math:`\kappa = 2m\lambda^2` [derived] (§8.3).

    Examples
    --------
    >>> lambda_to_kappa(0.5, 11, 2)
    4.5
    """
    return 2.0 * (n - f) * lam * lam


# ------------------------------------------------------------------------------------------------
# Breakdown (THEORY.md §10-§11)


def max_f(requires, n: int) -> int:
    """Largest f < n/2 with ``requires(n, f)`` true (-1 if none): what a rule's requirement allows.

    Examples
    --------
    >>> max_f(lambda n, f: n >= 2 * f + 3, 11)
    4
    """
    best = -1
    for f in range(0, (n + 1) // 2):
        if requires(n, f):
            best = f
    return best


def breakdown_count(rule: str, n: int) -> int | None:
    r"""Smallest number of Byzantine inputs known to drive the rule arbitrarily far, or None.

    Averaging (and every linear rule): 1 (Krum supplement Lemma 1 [paper]). Coordinate-wise
    median: :math:`\lceil n/2\rceil` (a majority of arbitrary values sets the median [derived]).

    Examples
    --------
    >>> breakdown_count("average", 10), breakdown_count("median", 11)
    (1, 6)
    """
    if rule == "average":
        return 1
    if rule == "median":
        return (n + 1) // 2
    return None
