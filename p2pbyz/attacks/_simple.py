"""Fixed-formula attacks: Gaussian, zero, drop, inf, NaN, sign flip, omniscient, IPM, the
Bulyan-paper coordinate attack, and the linear-rule attack of the Krum supplement (Lemma 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int, check_real
from ..errors import InvalidArgument
from ._base import Attack, LineAttack, Round, honest_mean, tile
from ._registry import AttackSpec, register

__all__ = [
    "Gaussian",
    "Zero",
    "Drop",
    "Inf",
    "NaN",
    "SignFlip",
    "Omniscient",
    "Ipm",
    "BulyanCoordinate",
    "LinearTarget",
]

_KRUM_SUPP = (
    "Blanchard, El Mhamdi, Guerraoui, Stainer, NIPS 2017, arXiv 1703.02757, supplementary §5"
)


class Gaussian(Attack):
    r"""Gaussian attack: each Byzantine node sends an independent random Gaussian vector.

    .. math:: B_j \sim \mathcal{N}(\mu \mathbf{1}, \sigma^2 I_d), \quad j = 1, \dots, f

    The f vectors are independent (not identical); the honest vectors are only used for d and the
    dtype. Blanchard et al. (Krum supplement §5) draw "from a Gaussian distribution of which we
    could set the variance high enough (200)"; a third-party reproduction uses std = 200
    (THEORY.md §10). p2pbyz's ``sigma`` is the **standard deviation** (default 200, as the
    reproduction); pass ``sigma=200**0.5`` for the literal "variance 200" reading.

    Parameters
    ----------
    mu : float, default 0.0
        Mean of every coordinate.
    sigma : float, default 200.0
        Standard deviation of every coordinate, ``sigma >= 0``.
    knowledge : {"omniscient", "estimating"}
        Irrelevant here (the attack ignores the honest values); accepted for uniformity.
    collude : bool, default True
        With ``collude=False`` each node draws from its own child generator (``rng.spawn``).

    Notes
    -----
    Requirement: none. Complexity: O(fd). Randomized: ``rng`` is required.

    References
    ----------
    .. [1] Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient
       Descent", NIPS 2017, supplementary material §5.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> B = attacks.make("gaussian", sigma=1.0)(np.zeros((5, 3)), 2, rng=np.random.default_rng(0))
    >>> B.shape
    (2, 3)
    """

    name = "gaussian"

    def __init__(
        self,
        *,
        mu: float = 0.0,
        sigma: float = 200.0,
        knowledge: str = "omniscient",
        collude: bool = True,
    ) -> None:
        self.mu = check_real(mu, "mu", owner=self.name)
        self.sigma = check_real(sigma, "sigma", minimum=0.0, owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        out = ctx.rng.standard_normal((ctx.count, H.shape[1]), dtype=ctx.dtype)
        out *= ctx.dtype.type(self.sigma)
        out += ctx.dtype.type(self.mu)
        return out


class _Constant(Attack):
    """Every Byzantine vector is the constant ``fill`` in every coordinate (subclasses set it)."""

    fill: float

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        return np.full((ctx.count, H.shape[1]), self.fill, dtype=ctx.dtype)


class Zero(_Constant):
    r"""Zero attack: every Byzantine node sends the zero vector.

    .. math:: B_j = 0

    Notes
    -----
    Requirement: none. Complexity: O(fd).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("zero")(np.ones((3, 2)), 1)
    array([[0., 0.]])
    """

    name = "zero"
    fill = 0.0


class Drop(_Constant):
    r"""Drop (omission) attack: the Byzantine nodes send nothing.

    A vector attack must return (f, d) rows, so this one returns NaN stand-in rows: every rule's
    non-finite policy (``nonfinite="drop"``) removes them and counts them against f, which is
    exactly what a missing message does to a synchronous aggregation. The emulator reads
    ``spec("drop").omission`` and sends no message at all.

    .. math:: B_j = \text{(nothing)} \;\equiv\; \mathrm{NaN} \text{ rows, dropped by the receiver}

    Notes
    -----
    Requirement: none. Complexity: O(fd).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("drop")(np.ones((3, 2)), 1)
    array([[nan, nan]])
    """

    name = "drop"
    fill = np.nan


class Inf(_Constant):
    r"""Infinity attack: every coordinate of every Byzantine vector is ``+inf`` (byzfl's ``Inf``).

    .. math:: B_j = (+\infty, \dots, +\infty)

    Tests the rules' non-finite policy (rows with inf are dropped and counted against f).

    Notes
    -----
    Requirement: none. Complexity: O(fd).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("inf")(np.ones((3, 2)), 1)
    array([[inf, inf]])
    """

    name = "inf"
    fill = np.inf


class NaN(_Constant):
    r"""NaN attack: every coordinate of every Byzantine vector is NaN.

    .. math:: B_j = (\mathrm{NaN}, \dots, \mathrm{NaN})

    Notes
    -----
    Requirement: none. Complexity: O(fd).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("nan")(np.ones((3, 2)), 1)
    array([[nan, nan]])
    """

    name = "nan"
    fill = np.nan


class SignFlip(LineAttack):
    r"""Sign flip: send the opposite of the honest mean (byzfl's ``SignFlipping``).

    .. math:: B_j = -\bar g, \qquad \bar g = \frac{1}{h} \sum_{i=1}^{h} g_i

    With ``collude=False`` each node sends the opposite of its own gradient, the other meaning of
    "sign flip" in the literature (THEORY.md §10). As a line (for ``defence_aware``):
    ``c = 0, a = -mean, phi0 = 1``.

    Notes
    -----
    Requirement: none. Complexity: O(hd).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("sign_flip")(np.array([[1.0, 2.0], [3.0, 4.0]]), 1)
    array([[-2., -3.]])
    """

    name = "sign_flip"

    def __init__(self, *, knowledge: str = "omniscient", collude: bool = True) -> None:
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[None, np.ndarray, float]:
        return None, -honest_mean(H), 1.0


class Omniscient(LineAttack):
    r"""Omniscient attack of the Krum paper: the opposite of the honest mean, scaled by k.

    .. math:: B_j = -k \, \bar g

    Blanchard et al. (supplement §5) let the Byzantine workers "compute a rather precise estimator
    of the true gradient, and send the opposite value multiplied by an arbitrarily large factor".
    The factor is not stated in the paper; the default k = 100 follows a third-party reproduction
    (THEORY.md §10, [secondary]). With ``knowledge="estimating"`` the "precise estimator" is the
    mean of the Byzantine nodes' own gradients. As a line: ``c = 0, a = -mean, phi0 = k``.

    Parameters
    ----------
    k : float, default 100.0
        The scale, ``k >= 0``.

    Notes
    -----
    Requirement: none. Complexity: O(hd).

    References
    ----------
    .. [1] Blanchard et al., NIPS 2017, supplementary material §5.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("omniscient", k=10)(np.array([[1.0, 2.0], [3.0, 4.0]]), 1)
    array([[-20., -30.]])
    """

    name = "omniscient"

    def __init__(
        self, *, k: float = 100.0, knowledge: str = "omniscient", collude: bool = True
    ) -> None:
        self.k = check_real(k, "k", minimum=0.0, owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[None, np.ndarray, float]:
        return None, -honest_mean(H), self.k


class Ipm(LineAttack):
    r"""Inner-product manipulation ("Fall of Empires", Xie, Koyejo & Gupta, UAI 2019).

    .. math:: B_j = -\varepsilon \, \bar g

    so that the inner product of the aggregate with the true gradient turns negative. The paper
    tests eps in {-10, -1, 0, 0.1, 0.2, 0.5, 1, 10, 100}; the default 0.1 is the DM paper's and
    epfml code's (written there as ``g + 1.1 (-g)``); byzfl's default is 2.0 (THEORY.md §10).
    As a line: ``c = 0, a = -mean, phi0 = eps``.

    Parameters
    ----------
    eps : float, default 0.1
        The factor (any finite real).

    Notes
    -----
    Requirement: none. Complexity: O(hd).

    References
    ----------
    .. [1] Xie, Koyejo, Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product
       Manipulation", UAI 2019, arXiv 1903.03936.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("ipm", eps=0.5)(np.array([[1.0, 2.0], [3.0, 4.0]]), 2)
    array([[-1. , -1.5],
           [-1. , -1.5]])
    """

    name = "ipm"

    def __init__(
        self, *, eps: float = 0.1, knowledge: str = "omniscient", collude: bool = True
    ) -> None:
        self.eps = check_real(eps, "eps", owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[None, np.ndarray, float]:
        return None, -honest_mean(H), self.eps


class BulyanCoordinate(LineAttack):
    r"""The Bulyan-paper coordinate attack: the honest mean pushed along one coordinate.

    .. math:: B_j = \bar g + \varepsilon \, e_k

    (El Mhamdi, Guerraoui & Rouault, ICML 2018; LPD-EPFL ``identical.py``, attack "bulyan"). LPD
    finds eps by line search; here eps is fixed (default 1.0) and ``defence_aware(base=
    "bulyan_coordinate")`` searches it against the actual rule. As a line: ``c = mean, a = e_k,
    phi0 = eps``.

    Parameters
    ----------
    eps : float, default 1.0
        The push along e_k (any finite real).
    k : int, default 0
        The coordinate, ``0 <= k < d`` (checked at call time).

    Notes
    -----
    Requirement: none. Complexity: O(hd).

    References
    ----------
    .. [1] El Mhamdi, Guerraoui, Rouault, "The Hidden Vulnerability of Distributed Learning in
       Byzantium", ICML 2018, arXiv 1802.07927.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("bulyan_coordinate", eps=5.0, k=1)(np.array([[1.0, 2.0], [3.0, 4.0]]), 1)
    array([[2., 8.]])
    """

    name = "bulyan_coordinate"

    def __init__(
        self,
        *,
        eps: float = 1.0,
        k: int = 0,
        knowledge: str = "omniscient",
        collude: bool = True,
    ) -> None:
        self.eps = check_real(eps, "eps", owner=self.name)
        self.k = check_int(k, "k", minimum=0, owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[np.ndarray, np.ndarray, float]:
        d = H.shape[1]
        if self.k >= d:
            raise InvalidArgument(f"{self.name}: k must be < d; got k={self.k}, d={d}")
        a = np.zeros(d, dtype=np.float64)
        a[self.k] = 1.0
        return honest_mean(H), a, self.eps


class LinearTarget(Attack):
    r"""Force a linear rule to output a chosen vector U (Krum supplement, Lemma 1).

    For :math:`F = \sum_i \lambda_i V_i` with the honest vectors first and the f Byzantine vectors
    last, all Byzantine nodes send the same

    .. math:: B = \frac{U - \sum_{i \le h} \lambda_i g_i}{\sum_{j > h} \lambda_j}

    so that F = U exactly (up to rounding). With f = 1 this is Lemma 1's
    :math:`V_n = \frac{1}{\lambda_n} U - \sum_{i<n} \frac{\lambda_i}{\lambda_n} V_i`. The default
    weights are averaging's, :math:`\lambda_i = 1/n`, giving :math:`B = (nU - \sum_i g_i)/f`.

    Parameters
    ----------
    target : float or array_like of shape (d,), default 0.0
        The vector U the rule must output (a scalar means U = target * ones).
    weights : array_like of shape (n,), optional
        The rule's weights lambda_i (honest first, Byzantine last); None means averaging.
        The Byzantine weights must not sum to 0.

    Notes
    -----
    Requirement: omniscient knowledge (it needs every honest vector). Complexity: O(hd).

    References
    ----------
    .. [1] Blanchard et al., NIPS 2017, supplementary material, Lemma 1.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks, gars
    >>> H = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> B = attacks.make("linear_target", target=[7.0, -7.0])(H, 1)
    >>> gars.aggregate("average", np.vstack([H, B]), 1)
    array([ 7., -7.])
    """

    name = "linear_target"

    def __init__(
        self,
        *,
        target: Any = 0.0,
        weights: Any = None,
        knowledge: str = "omniscient",
        collude: bool = True,
    ) -> None:
        t = np.asarray(target)
        if t.dtype.kind not in "iuf" or t.ndim > 1:
            raise InvalidArgument(
                f"{self.name}: target must be a real number or a 1-D array of reals; got "
                f"target={target!r}"
            )
        t = t.astype(np.float64)
        if not np.all(np.isfinite(t)):
            raise InvalidArgument(f"{self.name}: target must be finite; got target={target!r}")
        self.target = t
        if weights is not None:
            w = np.asarray(weights)
            if w.dtype.kind not in "iuf" or w.ndim != 1 or w.size == 0:
                raise InvalidArgument(
                    f"{self.name}: weights must be a non-empty 1-D array of reals; got "
                    f"weights={weights!r}"
                )
            w = w.astype(np.float64)
            if not np.all(np.isfinite(w)):
                raise InvalidArgument(
                    f"{self.name}: weights must be finite; got weights={weights!r}"
                )
            weights = w
        self.weights = weights
        super().__init__(knowledge=knowledge, collude=collude)

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        h, d = H.shape
        n = h + ctx.f
        if self.target.ndim == 1 and self.target.shape[0] != d:
            raise InvalidArgument(
                f"{self.name}: target has {self.target.shape[0]} coordinates but the vectors have "
                f"d={d}"
            )
        U = np.broadcast_to(self.target, (d,))
        if self.weights is None:
            lam = np.full(n, 1.0 / n)
        else:
            if self.weights.shape[0] != n:
                raise InvalidArgument(
                    f"{self.name}: weights must have n = h + f = {n} entries; got "
                    f"{self.weights.shape[0]}"
                )
            lam = self.weights
        lam_byz = float(np.sum(lam[h:]))
        if lam_byz == 0.0:
            raise InvalidArgument(
                f"{self.name}: the Byzantine weights sum to 0, so no Byzantine vector can move the "
                f"output (Lemma 1 needs a non-zero weight)"
            )
        if self.weights is None:
            # (n U - sum_i g_i) / f, accumulated in float64 in row order
            acc = np.multiply(U, float(n))
            for i in range(h):
                np.subtract(acc, H[i], out=acc)
            acc /= ctx.f
        else:
            acc = np.array(U, dtype=np.float64)
            for i in range(h):
                acc -= lam[i] * H[i].astype(np.float64)
            acc /= lam_byz
        with np.errstate(over="ignore"):
            return tile(acc.astype(ctx.dtype), ctx.count)


_BOTH = ("omniscient", "estimating")

register(AttackSpec(
    name="gaussian", cls=Gaussian,
    formula="B_j ~ N(mu, sigma^2 I) independently for each Byzantine node",
    paper=_KRUM_SUPP + " ('variance 200' [paper]; std 200 in a reproduction [secondary])",
    knowledge=_BOTH, noncolluding=True, randomized=True,
))
register(AttackSpec(
    name="zero", cls=Zero, formula="B_j = 0", paper="folklore baseline (byzfl, epfml codes) [code]",
    knowledge=_BOTH, noncolluding=True,
))
register(AttackSpec(
    name="drop", cls=Drop, formula="no message (NaN stand-in rows, dropped by the receiver)",
    paper="crash/omission failure; DESIGN.md 'Byzantine behaviour'", knowledge=_BOTH,
    noncolluding=True, omission=True,
))
register(AttackSpec(
    name="inf", cls=Inf, formula="B_j = (+inf, ..., +inf)", paper="byzfl Inf attack [code]",
    knowledge=_BOTH, noncolluding=True,
))
register(AttackSpec(
    name="nan", cls=NaN, formula="B_j = (NaN, ..., NaN)", paper="non-finite input test",
    knowledge=_BOTH, noncolluding=True,
))
register(AttackSpec(
    name="sign_flip", cls=SignFlip, formula="B_j = -mean(honest) (collude=False: -own gradient)",
    paper="byzfl SignFlipping [code]; THEORY.md §10", knowledge=_BOTH, noncolluding=True,
    searchable=True,
))
register(AttackSpec(
    name="omniscient", cls=Omniscient, formula="B_j = -k * mean(honest)",
    paper=_KRUM_SUPP + " [paper]; k = 100 from a reproduction [secondary]", knowledge=_BOTH,
    noncolluding=True, searchable=True,
))
register(AttackSpec(
    name="ipm", cls=Ipm, formula="B_j = -eps * mean(honest)",
    paper=(
        "Xie, Koyejo, Gupta, UAI 2019, arXiv 1903.03936 [paper]; eps = 0.1 as the DM paper "
        "[paper]"
    ),
    knowledge=_BOTH, noncolluding=True, searchable=True,
))
register(AttackSpec(
    name="bulyan_coordinate", cls=BulyanCoordinate, formula="B_j = mean(honest) + eps * e_k",
    paper="El Mhamdi, Guerraoui, Rouault, ICML 2018; LPD-EPFL identical.py 'bulyan' [code]",
    knowledge=_BOTH, noncolluding=True, searchable=True,
))
register(AttackSpec(
    name="linear_target", cls=LinearTarget,
    formula=(
        "B = (U - sum_{i<=h} lambda_i g_i) / sum_{j>h} lambda_j  "
        "(forces sum_i lambda_i V_i = U)"
    ),
    paper="Blanchard et al., NIPS 2017, supplementary Lemma 1 [paper]", knowledge=("omniscient",),
))
