"""A defence-aware line search over the factor of a line attack, against the actual rule and
pre-aggregators in use, within a small constant budget of rule evaluations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_int, check_real
from ..errors import InvalidArgument
from ._base import GarContext, LineAttack, Round, compose, honest_mean, honest_std, tile
from ._registry import AttackSpec, make, register, spec

__all__ = ["DefenceAware", "LineSearchResult", "MAX_BUDGET"]

#: The most rule evaluations one search may spend (issue 4: "a small constant number, say <= 20").
MAX_BUDGET = 20


@dataclass(frozen=True)
class LineSearchResult:
    """The outcome of one :meth:`DefenceAware.search`.

    Attributes
    ----------
    vectors : ndarray, shape (f, d)
        The Byzantine vectors sent (f copies of ``c + factor * a``), in the input dtype.
    factor : float
        The factor chosen.
    damage : float
        ``||F(honest ∪ byzantine) - mean(honest)||`` at that factor (float64).
    base_factor, base_damage : float
        The base attack's own factor and its damage: ``damage >= base_damage`` always.
    evaluations : int
        Number of rule evaluations (calls of :func:`p2pbyz.gars.aggregate`) spent, ``<= budget``.
    trace : tuple of (float, float)
        Every (factor, damage) evaluated, in order.
    """

    vectors: np.ndarray
    factor: float
    damage: float
    base_factor: float
    base_damage: float
    evaluations: int
    trace: tuple[tuple[float, float], ...]


class DefenceAware(LineAttack):
    r"""Defence-aware attack: line search over a base attack's factor against the actual defence.

    The base attack is a line :math:`v(\varphi) = c + \varphi a` (ALIE: :math:`\mu - \varphi
    \sigma`; IPM/omniscient/sign flip: :math:`-\varphi \bar g`; Bulyan coordinate: :math:`\bar g +
    \varphi e_k`; MinMax/MinSum: :math:`\bar g + \varphi p`) with its own factor :math:`\varphi_0`.
    All f Byzantine nodes send :math:`v(\varphi^\star)`, where

    .. math::

        \varphi^\star \in \arg\max_{\varphi \in \Phi} \;
        \big\lVert F\big(g_1, \dots, g_h, \underbrace{v(\varphi), \dots, v(\varphi)}_{f}\big)
        - \bar g \big\rVert

    F being the rule and pre-aggregators of ``gar`` (run through :func:`p2pbyz.gars.aggregate`
    with the declared f; honest rows first, Byzantine rows last), and :math:`\Phi` the at most
    ``budget`` factors tried:

    1. :math:`\varphi_0` itself (so the result is never less damaging than the base attack; ties
       keep :math:`\varphi_0`);
    2. bracketing, with at most ``ceil(budget/2)`` evaluations in all: :math:`\varphi_0 r^k`
       (r = ``growth``; :math:`\pm r^{k-1}` if :math:`\varphi_0 = 0`) for k = 1, 2, ... while the
       damage strictly increases; if the first step does not increase it, :math:`\varphi_0 r^{-k}`
       instead (also while every candidate so far overflowed the dtype);
    3. refinement with the remaining evaluations: the midpoints between the best factor and its two
       neighbours in the bracket, keeping the best, halving the bracket each time.

    This is the kind of search LPD-EPFL's ``identical.py`` (16 evaluations) and byzfl's
    ``Optimal_ALIE``/``Optimal_IPM`` run (THEORY.md §10) [code]; the exact schedule is p2pbyz's.
    Non-finite candidate vectors are skipped (they would be dropped by the rule); candidates whose
    aggregate is NaN count as no damage. With ``knowledge="estimating"`` the attacker does not see
    the honest vectors: it simulates n - f of them as :math:`\hat\mu + \hat\sigma \odot
    \mathcal N(0, I)` from its own gradients (``rng`` and n required; :math:`\hat\sigma = 0` from a
    single gradient) and measures damage against their mean.

    Parameters
    ----------
    base : str, default "alie"
        A searchable attack: ``"alie"``, ``"ipm"``, ``"omniscient"``, ``"sign_flip"``,
        ``"bulyan_coordinate"``, ``"minmax"`` or ``"minsum"``.
    base_params : mapping, optional
        The base attack's parameters (its starting factor among them, e.g. ``{"z": 1.0}``).
    budget : int, default 16
        Rule evaluations allowed, ``1 <= budget <= 20``.
    growth : float, default 2.0
        Bracketing ratio r, ``r > 1``.
    gar : GarContext or str, optional
        Default defence, used when the call gives none.
    knowledge : {"omniscient", "estimating"}

    Notes
    -----
    Requirement: a defence (``gar``) at construction or call time; the rule must accept (n, f).
    Complexity: at most ``budget`` rule evaluations plus the base attack's cost.
    :meth:`search` returns the factor, the damage and the number of evaluations spent;
    ``last_result`` keeps the latest one.

    References
    ----------
    .. [1] El Mhamdi, Guerraoui, Rouault, ICML 2018 (Bulyan paper), and LPD-EPFL
       ByzantineMomentum ``attacks/identical.py`` (line-searched factor).
    .. [2] Shejwalkar, Houmansadr, NDSS 2021 (AGR-tailored attacks).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> H = np.random.default_rng(0).normal(size=(8, 4))
    >>> atk = attacks.make("defence_aware", base="ipm", gar="average")
    >>> res = atk.search(H, 2)
    >>> res.damage >= res.base_damage and res.evaluations <= 16
    True
    """

    name = "defence_aware"

    def __init__(
        self,
        *,
        base: str = "alie",
        base_params: Any = None,
        budget: int = 16,
        growth: float = 2.0,
        gar: GarContext | str | None = None,
        knowledge: str = "omniscient",
        collude: bool = True,
    ) -> None:
        searchable = sorted(n for n in _searchable_names())
        if not isinstance(base, str) or base not in searchable:
            raise InvalidArgument(
                f"{self.name}: base must be one of {', '.join(repr(s) for s in searchable)}; "
                f"got base={base!r}"
            )
        if base_params is None:
            base_params = {}
        if not isinstance(base_params, dict):
            raise InvalidArgument(
                f"{self.name}: base_params must be a dict of {base}'s parameters; got "
                f"base_params={base_params!r}"
            )
        for key in ("knowledge", "collude"):
            if key in base_params:
                raise InvalidArgument(
                    f"{self.name}: give {key} to defence_aware itself, not in base_params"
                )
        self.base = base
        self.base_params = dict(base_params)
        self.budget = check_int(budget, "budget", minimum=1, maximum=MAX_BUDGET, owner=self.name)
        self.growth = check_real(growth, "growth", minimum=1.0, strict_min=True, owner=self.name)
        if gar is not None and not isinstance(gar, GarContext):
            if not isinstance(gar, str):
                raise InvalidArgument(
                    f"{self.name}: gar must be a GarContext or a rule name; got gar={gar!r}"
                )
            gar = GarContext(gar)
        self.gar = gar
        super().__init__(knowledge=knowledge, collude=collude)
        self._base = make(base, knowledge=self.knowledge, **self.base_params)
        #: The :class:`LineSearchResult` of the latest search (also after a plain call), so callers
        #: of ``attack(...)`` can read the factor and the evaluations spent; it never changes the
        #: vectors a later call returns.
        self.last_result: LineSearchResult | None = None

    # -- the search ----------------------------------------------------------------------------
    def search(
        self,
        honest: Any,
        f: int,
        *,
        rng: np.random.Generator | None = None,
        round: int = 0,
        gar: GarContext | str | None = None,
        n: int | None = None,
    ) -> LineSearchResult:
        """Run the search and return the vectors with the factor, damage and evaluations spent.

        Same parameters as :meth:`__call__`.
        """
        H, ctx = self._context(honest, f, rng, round, gar, n)
        d = H.shape[1]
        if ctx.f == 0:
            empty = np.empty((0, d), dtype=H.dtype)
            return LineSearchResult(empty, 0.0, 0.0, 0.0, 0.0, 0, ())
        return self._search(H, ctx)

    def _context(self, honest: Any, f: Any, rng: Any, round: Any, gar: Any, n: Any) -> Any:
        # the defence given at construction is the default one (its n included)
        return super()._context(honest, f, rng, round, gar if gar is not None else self.gar, n)

    def _line(self, H: np.ndarray, ctx: Round) -> tuple[np.ndarray | None, np.ndarray, float]:
        r = self._search(H, ctx)
        c, a, _ = self._base._line(H, ctx)
        return c, a, r.factor

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        return self._search(H, ctx).vectors

    def _simulated_honest(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        if self.knowledge == "omniscient":
            return H
        if ctx.rng is None:
            raise InvalidArgument(
                f"{self.name}: with knowledge='estimating' the attacker simulates the honest "
                f"vectors; pass rng=np.random.default_rng(seed)"
            )
        if ctx.n is None:
            raise InvalidArgument(
                f"{self.name}: with knowledge='estimating' the number of honest vectors to "
                "simulate "
                f"is n - f; pass n=... or gar=GarContext(..., n=...)"
            )
        h_sim = ctx.n - ctx.f
        if h_sim < 1:
            raise InvalidArgument(
                f"{self.name}: no honest vector to simulate: n - f = {h_sim}; got n={ctx.n}, "
                f"f={ctx.f}"
            )
        mu = honest_mean(H)
        sigma = honest_std(H, mu, self.name) if H.shape[0] >= 2 else np.zeros_like(mu)
        noise = ctx.rng.standard_normal((h_sim, H.shape[1]))
        noise *= sigma
        noise += mu
        with np.errstate(over="ignore"):
            return noise.astype(ctx.dtype)

    def _search(self, H: np.ndarray, ctx: Round) -> LineSearchResult:
        gar = ctx.gar
        if gar is None:
            raise InvalidArgument(
                f"{self.name}: the search needs the defence: pass gar=GarContext(rule, ...) "
                f"(or a rule name) at construction or call time"
            )
        H_sim = self._simulated_honest(H, ctx)
        target = honest_mean(H_sim)
        c, a, phi0 = self._base._line(H, ctx)
        h_sim = H_sim.shape[0]
        cache: dict[float, float] = {}
        trace: list[tuple[float, float]] = []
        calls = 0

        def damage(phi: float) -> float:
            nonlocal calls
            if phi in cache:
                return cache[phi]
            v = compose(c, a, phi, ctx.dtype)
            if not np.all(np.isfinite(v)):
                y = -math.inf
            else:
                # a fresh input each time: a rule may work in place on what it is given
                X = np.empty((h_sim + ctx.count, H.shape[1]), dtype=ctx.dtype)
                X[:h_sim] = H_sim
                X[h_sim:] = v
                out = gar.aggregate(X, ctx.count)
                calls += 1
                diff = np.asarray(out, dtype=np.float64) - target
                y = float(math.sqrt(float(np.dot(diff, diff))))
                if math.isnan(y):
                    y = -math.inf
            cache[phi] = y
            trace.append((phi, y))
            return y

        steps = 0
        best_phi, best_y = phi0, damage(phi0)
        steps += 1
        base_y = best_y
        r = self.growth
        cap1 = math.ceil(self.budget / 2)
        sign = -1.0 if phi0 < 0 else 1.0

        def up(k: int) -> float:
            return phi0 * r**k if phi0 != 0.0 else sign * r ** (k - 1)

        # 2. bracketing: grid points around phi0; lo/hi are the grid neighbours of the best
        lo, hi = (phi0 / r if phi0 != 0.0 else 0.0), up(1)
        k = 1
        while steps < min(cap1, self.budget):
            phi = up(k)
            y = damage(phi)
            steps += 1
            if y > best_y:
                lo, best_phi, best_y = best_phi, phi, y
                hi = up(k + 1)
                k += 1
            else:
                hi = phi
                break
        if best_phi == phi0 and phi0 != 0.0:
            hi = up(1)
            k = 1
            while steps < min(cap1, self.budget):
                phi = phi0 / r**k
                y = damage(phi)
                steps += 1
                if y > best_y:
                    hi, best_phi, best_y = best_phi, phi, y
                    lo = phi0 / r ** (k + 1)
                    k += 1
                elif best_y == -math.inf:
                    hi = phi  # still non-finite (overflow): keep shrinking
                    k += 1
                else:
                    lo = phi
                    break
        # 3. refinement: midpoints on both sides of the best, the bracket halving each time
        while steps < self.budget:
            left = 0.5 * (lo + best_phi)
            right = 0.5 * (best_phi + hi)
            y_r = damage(right)
            steps += 1
            y_l = -math.inf
            if steps < self.budget:
                y_l = damage(left)
                steps += 1
            if y_r > best_y and y_r >= y_l:
                lo, best_phi, best_y = best_phi, right, y_r
            elif y_l > best_y:
                hi, best_phi, best_y = best_phi, left, y_l
            else:
                lo, hi = left, right
        vectors = tile(compose(c, a, best_phi, ctx.dtype), ctx.count)
        self.last_result = LineSearchResult(
            vectors=vectors,
            factor=float(best_phi),
            damage=float(best_y),
            base_factor=float(phi0),
            base_damage=float(base_y),
            evaluations=calls,
            trace=tuple(trace),
        )
        return self.last_result


def _searchable_names() -> list[str]:
    from ._registry import names

    return [n for n in names() if spec(n).searchable and n != "defence_aware"]


register(AttackSpec(
    name="defence_aware", cls=DefenceAware,
    formula=(
        "B_j = c + phi* a, phi* = argmax over <= budget factors of "
        "||F(honest + f copies) - mean(honest)||"
    ),
    paper=(
        "LPD-EPFL identical.py line search [code]; byzfl Optimal_ALIE/Optimal_IPM [code]; "
        "schedule p2pbyz's"
    ),
))
