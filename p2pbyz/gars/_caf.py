"""CAF, the covariance-bound agnostic filter: a spectral filter that needs no bound on the honest
covariance.

Definition (byzfl's ``CAF``, documented at byzfl.epfl.ch; Allouah et al.): start from weights
``c_i = 1``; while ``sum_i c_i > n - 2f``, take the weighted mean ``mu_c``, the top eigenpair
``(lambda, v)`` of the weighted covariance ``Sigma_c = sum_i c_i (x_i - mu_c)(x_i - mu_c)^T /
sum_i c_i``, the squared projections ``tau_i = ((x_i - mu_c) . v)^2``, and downweight
``c_i <- c_i (1 - tau_i / tau_max)``; output the ``mu_c`` of the smallest ``lambda`` met.

How it is computed here (exact, deterministic, O(n^2) memory whatever d is):

* everything after the distances is an n x n problem. With ``w = c / sum(c)`` and ``D`` the matrix
  of squared distances, the centred Gram matrix is ``G = -1/2 (D - r 1^T - 1 r^T + w^T D w)`` with
  ``r = D w`` (double centring, translation-free, never from ``|x|^2`` terms), ``Sigma_c`` has the
  non-zero spectrum of ``M = diag(sqrt w) G diag(sqrt w)``, and if ``M u = lambda u`` then
  ``(x_i - mu_c) . v = (G (sqrt(w) * u))_i / sqrt(lambda)``. A symmetric eigensolver replaces
  byzfl's random power iterations, so the result does not depend on a random start;
* rows whose ``tau_i`` is within a relative ``CAF_TIE_RTOL`` = 1e-9 of ``tau_max`` leave together
  (weight 0), so that equal rows stay equal whatever the rounding;
* ``tau_max`` is the largest ``tau_i`` over the rows that still have weight (byzfl's text takes it
  over all rows; a zero-weight far outlier would then keep the others' weights almost unchanged
  and the loop could crawl). Every iteration zeroes at least one weighted row, so the loop ends
  after at most ``2f + 1`` iterations;
* the squared distances are the exact float64 ones of :func:`p2pbyz.gars._common.sq_distances`;
  the final weighted mean reads X once.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from numba import njit, prange

from . import _api, _reference
from ._common import chunk_bounds, raise_if_nonfinite, sq_distances
from ._geomed import _weighted_sum
from ._registry import GarSpec, register
from .. import config

__all__ = ["caf", "caf_weights", "weighted_mean"]

#: Rows whose squared projection is within this relative distance of ``tau_max`` leave together
#: (their weight ``1 - tau/tau_max`` would be at most this). Equal rows have equal projections in
#: exact arithmetic but not always after rounding: translating the input by a constant used to
#: leave one of two equal far rows at weight ~1e-16, changing every later step (a 3e-5 relative
#: change of the output, found by the translation-equivariance property test).
CAF_TIE_RTOL = 1e-9


def caf_weights(D: np.ndarray, f: int) -> np.ndarray:
    """CAF's final weights (summing to 1) from the n x n float64 squared-distance matrix ``D``."""
    n = D.shape[0]
    c = np.ones(n)
    best_lam = np.inf
    best = np.full(n, 1.0 / n)  # f = 0: the loop never runs and CAF is the average
    while c.sum() > n - 2 * f:
        w = c / c.sum()
        r = D @ w
        G = -0.5 * (D - r[:, None] - r[None, :] + float(w @ r))
        sw = np.sqrt(w)
        # only the top eigenpair (LAPACK's MRRR on a subset: half the time of a full eigh(128))
        lams, U = scipy.linalg.eigh(sw[:, None] * G * sw[None, :], subset_by_index=[n - 1, n - 1],
                                    driver="evr", check_finite=False)
        lam = max(float(lams[-1]), 0.0)
        if lam < best_lam:
            best_lam, best = lam, w
        if lam == 0.0:
            break  # the weighted rows coincide: nothing left to filter
        tau = (G @ (sw * U[:, -1])) ** 2 / lam
        live = c > 0.0
        tmax = float(tau[live].max())
        if not tmax > 0.0:
            break
        c = np.where(live, c * np.maximum(1.0 - tau / tmax, 0.0), 0.0)
        # the farthest rows leave exactly, whatever the rounding: equal rows have equal tau in
        # exact arithmetic, and one left at weight 1e-16 would steer every later step
        c[live & (tau >= tmax * (1.0 - CAF_TIE_RTOL))] = 0.0
    return best


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _weighted_mean_cpu(X, w, bounds, out):  # pragma: no cover - compiled
    nchunks = bounds.shape[0] - 1
    for c in prange(nchunks):
        _weighted_sum(X, w, bounds[c], bounds[c + 1], out)


def weighted_mean(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_i w_i X_i`` in float64 (``w`` sums to 1), rows added in order, in X's dtype."""
    out = np.empty(X.shape[1], dtype=np.float64)
    bounds = chunk_bounds(X.shape[1], config.CPU_BLOCK, 64)
    _weighted_mean_cpu(X, np.ascontiguousarray(w, dtype=np.float64), bounds, out)
    return out.astype(X.dtype)


def _caf_impl(X: np.ndarray, f: int) -> np.ndarray:
    if f == 0:
        out = weighted_mean(X, np.full(X.shape[0], 1.0 / X.shape[0]))
        raise_if_nonfinite(X, out)  # detects_nonfinite: a NaN/inf row reaches the mean
        return out
    D = sq_distances(X)
    raise_if_nonfinite(X, D)
    return weighted_mean(X, caf_weights(D, f))


def caf(X, f, *, pre=(), nonfinite="drop", target="cpu"):
    r"""Covariance-bound agnostic filter: the weighted mean of smallest top covariance eigenvalue
    met while a spectral filter downweights the rows that stick out along that eigenvector.

    .. math::

        c \leftarrow \mathbf 1; \quad \text{while } \textstyle\sum_i c_i > n - 2f: \quad
        \mu_c = \frac{\sum_i c_i X_i}{\sum_i c_i}, \;
        (\lambda, v) = \text{top eigenpair of }
        \frac{\sum_i c_i (X_i - \mu_c)(X_i - \mu_c)^\top}{\sum_i c_i}, \;
        \tau_i = ((X_i - \mu_c)^\top v)^2, \;
        c_i \leftarrow c_i \Big(1 - \frac{\tau_i}{\max_{j: c_j > 0} \tau_j}\Big)

    and the output is the :math:`\mu_c` of the smallest :math:`\lambda` met (the average when
    f = 0). The eigenpair comes exactly from an n x n eigenproblem built from the squared distances
    (see the module docstring), not from byzfl's random power iterations, so the output is
    deterministic; ``tau_max`` is taken over the rows still weighted (so each iteration removes
    at least one row and the loop ends within 2f+1 iterations). When the top eigenvalue is
    repeated exactly, the eigenvector is the solver's choice and the output may then depend on
    the input order. If the n-f honest rows are equal, the honest weight lost never exceeds the
    Byzantine weight lost (Cauchy-Schwarz on the centred projections), so an iteration with only
    honest rows weighted (lambda = 0) is met and the output is the honest value.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Input vectors, float32 or float64.
    f : int
        Number of Byzantine inputs; requires n >= 2f+1.
    pre : sequence, optional
        Pre-aggregators applied first (see :func:`p2pbyz.gars.aggregate`).
    nonfinite : {"drop", "raise"}
        Policy for rows with NaN or infinity.
    target : {"cpu", "cuda"}
        Where to compute.

    Returns
    -------
    ndarray, shape (d,)
        The weighted mean, in the dtype of ``X`` (accumulated in float64).

    Notes
    -----
    Requirement: n >= 2f+1. Complexity: O(n^2 d) for the distances and one O(n d) weighted mean,
    then O(f n^3) for the eigenproblems.
    Reference: the covariance-bound agnostic filter of Allouah et al. (EPFL), ICML 2025, as
    defined in byzfl's ``CAF`` documentation (byzfl.epfl.ch/aggregators/classes/caf.html); the
    paper's own Algorithm text could not be retrieved, see the module docstring for the choices.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.gars import caf
    >>> X = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [9.0, -5.0]])
    >>> caf(X, f=1)
    array([1., 1.])
    """
    return _api.run("caf", X, f, pre=pre, nonfinite=nonfinite, target=target)


register(
    GarSpec(
        name="caf",
        public=caf,
        impl=_caf_impl,
        reference=_reference.caf,
        requirement="n >= 2f+1",
        requires=lambda n, f: n >= 2 * f + 1,
        complexity="O(n^2 d + f n^3)",
        paper="Allouah et al. (EPFL), ICML 2025: covariance-bound agnostic filter, as in byzfl CAF docs",
        properties=frozenset(
            {
                "permutation_invariant",
                "translation_equivariant",
                "honest_value_exact",
                "bounded_under_attack",
            }
        ),
        detects_nonfinite=True,  # its distances (or mean, at f = 0) reveal NaN/inf
    )
)
