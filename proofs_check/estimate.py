r"""Seeded, vectorised Monte Carlo estimators with confidence intervals.

Every estimator returns an :class:`Estimate` (value, CI, number of samples, and the method in
words). The methods:

* ``mean_ci``: the sample mean with a Student-t interval (CLT).
* ``sq_norm_of_mean`` / ``norm_of_mean``: the unbiased U-statistic
  :math:`U = \frac{1}{N(N-1)}\sum_{i\ne j}\langle Y_i, Y_j\rangle` of :math:`\lVert\mathbb E Y\rVert^2`,
  with a jackknife standard error and a normal interval (CLT); the norm's interval is the square
  root of the clipped squared-norm interval. The plain :math:`\lVert\bar Y\rVert` is biased upwards
  by :math:`\mathrm{tr}\,\mathrm{Cov}(Y)/N`, which matters in high d.
* ``ratio_of_means``: a paired percentile bootstrap.
* ``loglog_fit``: weighted least squares on logarithms, with a parametric-bootstrap interval for
  the slope.

All randomness comes from the ``rng`` argument (a :class:`numpy.random.Generator`).

Examples
--------
>>> import numpy as np
>>> from proofs_check.estimate import mean_ci
>>> e = mean_ci(np.random.default_rng(0).normal(3.0, 1.0, 4000))
>>> e.lo < 3.0 < e.hi
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Estimate",
    "Fit",
    "exact",
    "mean_ci",
    "sq_norm_of_mean",
    "norm_of_mean",
    "ratio_of_means",
    "bootstrap",
    "loglog_fit",
    "sample_honest",
]

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided confidence interval.

    Attributes
    ----------
    value, lo, hi : float
        Estimate and interval bounds (``lo <= value <= hi`` for the estimators here).
    n : int
        Number of Monte Carlo samples (draws, chains, bootstrap fits...).
    method : str
        How the interval was made, in words.
    level : float
        Confidence level.
    se : float
        Standard error (NaN when not defined).
    """

    value: float
    lo: float
    hi: float
    n: int
    method: str
    level: float = LEVEL
    se: float = math.nan

    def as_dict(self) -> dict:
        """Plain-dict form for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class Fit:
    """A log-log fit :math:`\\log y = a + b \\log x` with an interval for the slope b."""

    slope: float
    lo: float
    hi: float
    intercept: float
    method: str
    level: float = LEVEL

    def as_dict(self) -> dict:
        """Plain-dict form for JSON."""
        return asdict(self)


def exact(value: float, method: str = "deterministic (no sampling error)", n: int = 1) -> Estimate:
    """An :class:`Estimate` without sampling error (search maxima, exact evaluations).

    Examples
    --------
    >>> exact(2.0).hi
    2.0
    """
    v = float(value)
    return Estimate(v, v, v, n, method, se=0.0)


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def mean_ci(x: np.ndarray, level: float = LEVEL) -> Estimate:
    """Mean of the samples ``x`` with a Student-t interval (CLT).

    Examples
    --------
    >>> e = mean_ci(np.arange(10.0))
    >>> e.value, round(e.se, 4)
    (4.5, 0.9574)
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    m = float(x.mean())
    if n < 2:
        return Estimate(m, -math.inf, math.inf, n, "mean, CLT t-interval (too few samples)")
    se = float(x.std(ddof=1) / math.sqrt(n))
    t = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return Estimate(m, m - t * se, m + t * se, n, "mean, CLT t-interval", level, se)


def sq_norm_of_mean(Y: np.ndarray, level: float = LEVEL) -> Estimate:
    r"""Unbiased estimate of :math:`\lVert\mathbb E Y\rVert^2` from N i.i.d. rows of ``Y`` (N, d).

    :math:`U = (\lVert S\rVert^2 - Q)/(N(N-1))` with :math:`S = \sum_i Y_i`,
    :math:`Q = \sum_i\lVert Y_i\rVert^2`; jackknife standard error from the N leave-one-out values
    (computed in closed form, O(Nd)); normal interval. The value may be negative when the true
    norm is small.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> e = sq_norm_of_mean(rng.normal(size=(2000, 50)) + 0.1)  # ||E Y||^2 = 0.5
    >>> e.lo < 0.5 < e.hi
    True
    """
    Y = np.asarray(Y, dtype=np.float64)
    N = Y.shape[0]
    if N < 3:
        raise ValueError(f"sq_norm_of_mean needs at least 3 samples; got {N}")
    S = Y.sum(axis=0)
    q = np.einsum("ij,ij->i", Y, Y)
    Q = float(q.sum())
    SS = float(S @ S)
    U = (SS - Q) / (N * (N - 1))
    # leave-one-out: ||S - Y_i||^2 - (Q - q_i), over (N-1)(N-2)
    loo = (SS - 2.0 * (Y @ S) + q - (Q - q)) / ((N - 1) * (N - 2))
    se = float(math.sqrt(max((N - 1) / N * float(((loo - loo.mean()) ** 2).sum()), 0.0)))
    z = _z(level)
    return Estimate(
        U, U - z * se, U + z * se, N, "U-statistic, jackknife SE, normal CI (CLT)", level, se
    )


def norm_of_mean(Y: np.ndarray, level: float = LEVEL) -> Estimate:
    r"""Estimate of :math:`\lVert\mathbb E Y\rVert` with a CI: square roots of :func:`sq_norm_of_mean`
    (value and bounds clipped at 0).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> e = norm_of_mean(rng.normal(size=(4000, 20)) + 0.5)  # ||E Y|| = sqrt(5)
    >>> e.lo < 5 ** 0.5 < e.hi
    True
    """
    e = sq_norm_of_mean(Y, level)
    r = lambda v: math.sqrt(max(v, 0.0))  # noqa: E731
    se = e.se / (2 * r(e.value)) if e.value > 0 else math.nan
    return Estimate(r(e.value), r(e.lo), r(e.hi), e.n, "sqrt of " + e.method, level, se)


def bootstrap(
    x: np.ndarray,
    stat: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    *,
    B: int = 2000,
    level: float = LEVEL,
) -> Estimate:
    """Percentile bootstrap of ``stat`` over the first axis of ``x``.

    ``stat`` must be vectorised: given resampled arrays of shape (B, N, ...) it returns (B,).
    The point value is ``stat`` on the original sample.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> x = rng.exponential(2.0, 3000)
    >>> e = bootstrap(x, lambda s: s.mean(axis=-1), rng)
    >>> e.lo < 2.0 < e.hi
    True
    """
    x = np.asarray(x, dtype=np.float64)
    N = x.shape[0]
    idx = rng.integers(0, N, size=(B, N))
    reps = np.asarray(stat(x[idx]), dtype=np.float64)
    value = float(np.asarray(stat(x[None]), dtype=np.float64).ravel()[0])
    a = (1 - level) / 2
    lo, hi = np.quantile(reps, [a, 1 - a])
    return Estimate(value, float(min(lo, value)), float(max(hi, value)), N,
                    f"percentile bootstrap (B={B})", level, float(reps.std(ddof=1)))


def ratio_of_means(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, *, B: int = 2000, level: float = LEVEL
) -> Estimate:
    """mean(a) / mean(b) for paired samples, with a paired percentile bootstrap interval.

    Examples
    --------
    >>> rng = np.random.default_rng(4)
    >>> z = rng.normal(size=5000)
    >>> e = ratio_of_means(2 * z**2, z**2 + 1e-12, rng)
    >>> round(e.value, 6)
    2.0
    """
    ab = np.stack([np.asarray(a, np.float64), np.asarray(b, np.float64)], axis=1)
    return bootstrap(
        ab, lambda s: s[..., 0].mean(axis=-1) / s[..., 1].mean(axis=-1), rng, B=B, level=level
    )


def loglog_fit(
    x: Sequence[float],
    ests: Sequence[Estimate],
    rng: np.random.Generator,
    *,
    B: int = 2000,
    level: float = LEVEL,
) -> Fit:
    r"""Fit :math:`\log y = a + b\log x` by weighted least squares (weights :math:`1/\mathrm{se}_{\log}^2`,
    :math:`\mathrm{se}_{\log} = \mathrm{se}/y`), with a parametric-bootstrap interval for b: each
    point is redrawn from :math:`N(y, \mathrm{se}^2)` (clipped positive) and the line refitted.

    Examples
    --------
    >>> rng = np.random.default_rng(5)
    >>> xs = [4, 16, 64, 256]
    >>> es = [Estimate(3 * v**0.5, 0, 0, 100, "", se=0.01 * 3 * v**0.5) for v in xs]
    >>> fit = loglog_fit(xs, es, rng)
    >>> round(fit.slope, 6), fit.lo < 0.5 < fit.hi
    (0.5, True)
    """
    lx = np.log(np.asarray(x, dtype=np.float64))
    y = np.array([e.value for e in ests], dtype=np.float64)
    se = np.array([e.se if math.isfinite(e.se) and e.se > 0 else abs(e.value) * 1e-3 + 1e-300
                   for e in ests])
    if np.any(y <= 0):
        raise ValueError("loglog_fit needs positive estimates")
    w = (y / se) ** 2
    w = w / w.sum()

    def fit(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ly = np.log(Y)
        xm = (w * lx).sum()
        ym = (ly * w).sum(axis=-1, keepdims=True)
        b = ((w * (lx - xm)) * (ly - ym)).sum(axis=-1) / (w * (lx - xm) ** 2).sum()
        return b, ym[..., 0] - b * xm

    b0, a0 = fit(y[None])
    Y = y + se * rng.standard_normal((B, y.size))
    Y = np.maximum(Y, y * 1e-3)
    bs, _ = fit(Y)
    a = (1 - level) / 2
    lo, hi = np.quantile(bs, [a, 1 - a])
    return Fit(float(b0[0]), float(min(lo, b0[0])), float(max(hi, b0[0])), float(a0[0]),
               f"weighted LS on logs, parametric bootstrap (B={B})", level)


def sample_honest(
    rng: np.random.Generator,
    draws: int,
    h: int,
    g: np.ndarray,
    sigma: float,
    dist: str = "gaussian",
) -> np.ndarray:
    r"""All honest vectors of ``draws`` Monte Carlo draws at once: shape (draws, h, d), float64.

    :math:`G = g + \sigma\xi` with :math:`\xi` standard Gaussian (``"gaussian"``) or Student t with
    5 degrees of freedom scaled to unit variance (``"student5"``), so that
    :math:`\mathbb E\lVert G - g\rVert^2 = d\sigma^2` (Krum's normalisation, THEORY.md §0).

    Examples
    --------
    >>> X = sample_honest(np.random.default_rng(0), 3, 5, np.zeros(4), 1.0)
    >>> X.shape
    (3, 5, 4)
    """
    d = g.shape[0]
    if dist == "gaussian":
        xi = rng.standard_normal((draws, h, d))
    elif dist == "student5":
        xi = rng.standard_t(5.0, size=(draws, h, d)) * math.sqrt(3.0 / 5.0)
    else:
        raise ValueError(f"sample_honest: dist must be 'gaussian' or 'student5'; got {dist!r}")
    xi *= sigma
    xi += g
    return xi
