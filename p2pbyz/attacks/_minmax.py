"""MinMax and MinSum (Shejwalkar & Houmansadr, "Manipulating the Byzantine", NDSS 2021)."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_choice
from ..gars._common import sq_distances
from ._base import LineAttack, Round, honest_mean, honest_std
from ._registry import AttackSpec, register

__all__ = ["MinMax", "MinSum", "DIRECTIONS"]

#: Perturbation directions p of the NDSS'21 attacks (the authors' ``dev_type``).
DIRECTIONS = ("unit_vec", "std", "sign")

_NDSS = (
    "Shejwalkar, Houmansadr, 'Manipulating the Byzantine: Optimizing Model Poisoning Attacks and "
    "Defenses for Federated Learning', NDSS 2021"
)


def _direction(kind: str, H: np.ndarray, mu: np.ndarray, owner: str) -> np.ndarray:
    """The perturbation p: -mu/||mu|| ("unit_vec"), -std ("std") or -sign(mu) ("sign")."""
    if kind == "unit_vec":
        norm = math.sqrt(float(np.dot(mu, mu)))
        return -mu / norm if norm > 0.0 else np.zeros_like(mu)
    if kind == "std":
        return -honest_std(H, mu, owner)
    return -np.sign(mu)


def _largest_root(a: float, b: float, c: float) -> float:
    """Largest root of a g^2 + b g + c = 0 for a > 0, c <= 0 (so it is >= 0), computed stably."""
    c = min(c, 0.0)
    disc = math.sqrt(b * b - 4.0 * a * c)
    if b > 0.0:
        r = -2.0 * c / (b + disc) if b + disc > 0.0 else 0.0
    else:
        r = (-b + disc) / (2.0 * a)
    return max(r, 0.0)


def _offsets(H: np.ndarray, mu: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each honest g_i: ||mu - g_i||^2 and 2 <p, mu - g_i>, in float64 (row order)."""
    h = H.shape[0]
    c = np.empty(h, dtype=np.float64)
    b = np.empty(h, dtype=np.float64)
    tmp = np.empty(H.shape[1], dtype=np.float64)
    for i in range(h):
        np.subtract(mu, H[i], out=tmp)
        c[i] = float(np.dot(tmp, tmp))
        b[i] = 2.0 * float(np.dot(p, tmp))
    return c, b


class MinMax(LineAttack):
    r"""MinMax: the farthest point along a perturbation that no honest vector finds farther than
    its worst honest neighbour.

    .. math::

        B_j = \bar g + \gamma^\star p, \qquad
        \gamma^\star = \max \Big\{ \gamma \ge 0 :
            \max_{i} \lVert \bar g + \gamma p - g_i \rVert^2 \le
            \max_{i, k} \lVert g_i - g_k \rVert^2 \Big\}

    with p = -ḡ/‖ḡ‖ (``"unit_vec"``, the authors' default), -std (``"std"``, unbiased) or -sign(ḡ)
    (``"sign"``). The paper finds γ* by binary search (authors' code: start at 10, halve the step
    until it is below 1e-5). Each constraint is a quadratic in γ that is <= 0 at γ = 0 (the mean
    lies in the convex hull), so the feasible set is an interval [0, γ*] and p2pbyz computes its
    end in closed form: γ* = min_i of the largest root of
    :math:`\lVert p\rVert^2 \gamma^2 + 2\langle p, \bar g - g_i\rangle \gamma + \lVert \bar g - g_i
    \rVert^2 - T = 0`. This is the limit of the binary search, not bounded by its start value; the
    tests check it against a bisection. With ``knowledge="estimating"`` the statistics come from the
    Byzantine nodes' own gradients (the paper's "unknown benign gradients" setting).
    As a line: ``c = mean, a = p, phi0 = γ*``.

    Parameters
    ----------
    direction : {"unit_vec", "std", "sign"}, default "unit_vec"
        The perturbation p.

    Notes
    -----
    Requirement: ``direction="std"`` needs at least 2 vectors seen. Complexity: O(h^2 d) (the honest
    pairwise distances, :func:`p2pbyz.gars._common.sq_distances`).

    References
    ----------
    .. [1] Shejwalkar, Houmansadr, NDSS 2021, §IV (AGR-agnostic attacks); code
       github.com/vrt1shjwlkr/NDSS21-Model-Poisoning (``our_attack_dist``).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> H = np.array([[0.0, 1.0], [2.0, 1.0]])
    >>> atk = attacks.make("minmax")   # mean (1, 1), p = -(1, 1)/sqrt(2), max pair distance^2 = 4
    >>> round(atk.factor(H, 1), 4)     # gamma^2 + sqrt(2) gamma - 3 = 0 binds for g_2 = (2, 1)
    1.1637
    >>> atk(H, 1)
    array([[0.17712434, 0.17712434]])
    """

    name = "minmax"

    def __init__(
        self, *, direction: str = "unit_vec", knowledge: str = "omniscient", collude: bool = True
    ) -> None:
        self.direction = check_choice(direction, "direction", DIRECTIONS, owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[np.ndarray, np.ndarray, float]:
        mu = honest_mean(H)
        p = _direction(self.direction, H, mu, self.name)
        a = float(np.dot(p, p))
        if a == 0.0:
            return mu, p, 0.0
        T = float(np.max(sq_distances(H)))
        c, b = _offsets(H, mu, p)
        gamma = min(_largest_root(a, float(b[i]), float(c[i]) - T) for i in range(H.shape[0]))
        return mu, p, gamma


class MinSum(LineAttack):
    r"""MinSum: the farthest point along a perturbation whose sum of squared distances to the
    honest vectors stays below an honest vector's.

    .. math::

        B_j = \bar g + \gamma^\star p, \qquad
        \gamma^\star = \max \Big\{ \gamma \ge 0 :
            \sum_{i} \lVert \bar g + \gamma p - g_i \rVert^2 \le
            \operatorname{bound}_{i} \sum_{k} \lVert g_i - g_k \rVert^2 \Big\}

    where bound is ``min`` in the authors' code (``our_attack_score``: ``score <= min_score``,
    [code], the default) or ``max`` in the paper's equation as usually restated ([unverified]).
    p is as in :class:`MinMax`. The left side is :math:`C + B\gamma + h \lVert p\rVert^2 \gamma^2`
    with :math:`C = \sum_i \lVert \bar g - g_i\rVert^2 \le` the bound and
    :math:`B = 2\langle p, \sum_i(\bar g - g_i)\rangle = 0` up to rounding, so γ* is the largest
    root of that quadratic (closed form, the limit of the paper's binary search).
    As a line: ``c = mean, a = p, phi0 = γ*``.

    Parameters
    ----------
    direction : {"unit_vec", "std", "sign"}, default "unit_vec"
        The perturbation p.
    bound : {"min", "max"}, default "min"
        Which honest score bounds the malicious one (see above).

    Notes
    -----
    Requirement: ``direction="std"`` needs at least 2 vectors seen. Complexity: O(h^2 d).

    References
    ----------
    .. [1] Shejwalkar, Houmansadr, NDSS 2021, §IV; code ``our_attack_score``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> H = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    >>> atk = attacks.make("minsum")   # sum_i |m - g_i|^2 = 48/9 + 3 gamma^2 <= min score 8
    >>> round(atk.factor(H, 1), 4)     # gamma = sqrt(8/9)
    0.9428
    """

    name = "minsum"

    def __init__(
        self,
        *,
        direction: str = "unit_vec",
        bound: str = "min",
        knowledge: str = "omniscient",
        collude: bool = True,
    ) -> None:
        self.direction = check_choice(direction, "direction", DIRECTIONS, owner=self.name)
        self.bound = check_choice(bound, "bound", ("min", "max"), owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[np.ndarray, np.ndarray, float]:
        mu = honest_mean(H)
        p = _direction(self.direction, H, mu, self.name)
        a = float(np.dot(p, p))
        if a == 0.0:
            return mu, p, 0.0
        scores = np.sum(sq_distances(H), axis=1)
        T = float(np.min(scores) if self.bound == "min" else np.max(scores))
        c, b = _offsets(H, mu, p)
        gamma = _largest_root(H.shape[0] * a, float(np.sum(b)), float(np.sum(c)) - T)
        return mu, p, gamma


register(AttackSpec(
    name="minmax", cls=MinMax,
    formula=(
        "B_j = mean + gamma* p, gamma* = max{g : max_i |mean + g p - g_i|^2 <= "
        "max_{i,k} |g_i - g_k|^2}"
    ),
    paper=_NDSS + " [paper]; closed-form gamma* (limit of the binary search) [derived]",
    searchable=True,
))
register(AttackSpec(
    name="minsum", cls=MinSum,
    formula=(
        "B_j = mean + gamma* p, gamma* = max{g : sum_i |mean + g p - g_i|^2 <= "
        "min_i sum_k |g_i - g_k|^2}"
    ),
    paper=_NDSS + " [paper]; min bound as the authors' code [code]; closed-form gamma* [derived]",
    searchable=True,
))
