"""ALIE, "A Little Is Enough" (Baruch, Baruch & Goldberg, NeurIPS 2019)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from .._validation import check_int, check_real
from ..errors import InvalidArgument, RequirementError
from ._base import LineAttack, Round, honest_mean, honest_std
from ._registry import AttackSpec, register

__all__ = ["Alie", "alie_z"]


def alie_z(n: int, f: int) -> float:
    r"""ALIE's :math:`z_{max}` for n nodes of which f are Byzantine.

    .. math::

        s = \left\lfloor \frac{n}{2} + 1 \right\rfloor - f, \qquad
        z_{max} = \Phi^{-1}\!\left(\frac{n - f - s}{n - f}\right)

    This is the form of epfml's ``alittle.py`` and FLPoison [code][secondary] (THEORY.md §10; not
    checked against the ALIE paper itself, whose restatements sometimes read
    :math:`\Phi(z) < (n - s)/n` instead, giving 0.58 and 1.75 below).

    Parameters
    ----------
    n, f : int
        Total number of nodes and of Byzantine nodes.

    Returns
    -------
    float

    Raises
    ------
    RequirementError
        Unless ``0 < (n-f-s)/(n-f) < 1``, i.e. ``n >= 3`` and ``f <= floor(n/2)``.

    Examples
    --------
    >>> from p2pbyz.attacks import alie_z
    >>> round(alie_z(50, 12), 2), round(alie_z(50, 24), 2)
    (0.34, 1.43)
    """
    n = check_int(n, "n", minimum=1, owner="alie")
    f = check_int(f, "f", minimum=0, owner="alie")
    s = n // 2 + 1 - f
    if n < 3 or s <= 0:
        raise RequirementError(
            f"alie: z_max = Phi^-1((n-f-s)/(n-f)) with s = floor(n/2+1)-f needs n >= 3 and "
            f"f <= floor(n/2); got n={n}, f={f} (pass z explicitly)"
        )
    return NormalDist().inv_cdf((n - f - s) / (n - f))


class Alie(LineAttack):
    r"""ALIE, "A Little Is Enough": shift every coordinate by z honest standard deviations.

    .. math:: B_j = \mu - z \, \sigma \quad \text{(coordinate-wise)}

    where :math:`\mu` and :math:`\sigma` are the coordinate-wise mean and **unbiased** (ddof = 1)
    standard deviation of the vectors the attacker sees, as in the codes [code]. With
    ``knowledge="estimating"`` they are estimated from the Byzantine nodes' own f gradients (f >= 2
    needed). ``z=None`` uses :func:`alie_z` (n, f) (z ~ 0.34 at n = 50, f = 12; ~ 1.43 at f = 24);
    n is h + f when omniscient, else it must come from ``n=`` or ``gar.n``. Other fixed values in
    use: z = 1.5 (ALIE repository, DM paper), byzfl sends mu + 1.5 sigma (i.e. z = -1.5).
    As a line (for ``defence_aware``): ``c = mu, a = -sigma, phi0 = z``.

    Parameters
    ----------
    z : float or None, default None
        The number of standard deviations (any finite real), or None for z_max(n, f).

    Notes
    -----
    Requirement: at least 2 vectors seen; ``z=None`` needs n >= 3 and f <= floor(n/2).
    Complexity: O(hd).

    References
    ----------
    .. [1] Baruch, Baruch, Goldberg, "A Little Is Enough: Circumventing Defenses For Distributed
       Learning", NeurIPS 2019, arXiv 1902.06156.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> H = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    >>> attacks.make("alie", z=1.0)(H, 1)
    array([[0., 1.]])
    """

    name = "alie"

    def __init__(
        self, *, z: float | None = None, knowledge: str = "omniscient", collude: bool = True
    ) -> None:
        self.z = None if z is None else check_real(z, "z", owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[np.ndarray, np.ndarray, float]:
        if self.z is None:
            if ctx.n is None:
                raise InvalidArgument(
                    f"{self.name}: z=None computes z_max from n and f, but with "
                    f"knowledge='estimating' n is unknown; pass n=..., gar=GarContext(..., n=...) "
                    f"or z=..."
                )
            z = alie_z(ctx.n, ctx.f)
        else:
            z = self.z
        mu = honest_mean(H)
        sigma = honest_std(H, mu, self.name)
        np.negative(sigma, out=sigma)
        return mu, sigma, z


register(AttackSpec(
    name="alie", cls=Alie, formula="B_j = mu - z * sigma (coordinate-wise, unbiased std)",
    paper=(
        "Baruch, Baruch, Goldberg, NeurIPS 2019, arXiv 1902.06156 [paper]; z_max as epfml "
        "alittle.py [code]"
    ),
    searchable=True,
))
