"""What every attack shares: the call protocol, the knowledge models, the defence description
(:class:`GarContext`) and the honest statistics, accumulated in float64 in a fixed order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from .._validation import as_gradients, check_choice, check_int
from ..errors import InvalidArgument
from . import _registry

__all__ = ["Attack", "GarContext", "Round", "LineAttack", "honest_mean", "honest_std", "compose"]


@dataclass(frozen=True)
class GarContext:
    """The defence in use, as a defence-aware attacker sees it.

    Parameters
    ----------
    rule : str
        A registered rule (:func:`p2pbyz.gars.names`).
    params : mapping, optional
        The rule's own parameters, passed to :func:`p2pbyz.gars.aggregate`.
    f : int or None
        The f the rule is configured with (the *declared* f). None: the number of Byzantine vectors
        the attack produces.
    pre : sequence, optional
        Pre-aggregators, as :func:`p2pbyz.gars.aggregate` takes them.
    n : int or None
        Total number of inputs of the rule (honest + Byzantine). Required by attacks that need n
        under ``knowledge="estimating"`` (ALIE's z, the defence-aware search).

    Examples
    --------
    >>> from p2pbyz.attacks import GarContext
    >>> GarContext("median", f=2, n=11).rule
    'median'
    """

    rule: str
    params: Mapping[str, Any] = field(default_factory=dict)
    f: int | None = None
    pre: Any = ()
    n: int | None = None

    def __post_init__(self) -> None:
        from .. import gars

        gars.spec(self.rule)  # unknown rule -> InvalidArgument listing the known ones
        if not isinstance(self.params, Mapping):
            raise InvalidArgument(
                "GarContext: params must be a mapping of the rule's parameters; got "
                f"params={self.params!r}"
            )
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if self.f is not None:
            object.__setattr__(self, "f", check_int(self.f, "f", minimum=0, owner="GarContext"))
        if self.n is not None:
            object.__setattr__(self, "n", check_int(self.n, "n", minimum=1, owner="GarContext"))
        if isinstance(self.pre, list):
            object.__setattr__(self, "pre", tuple(self.pre))

    def aggregate(self, X: np.ndarray, f_real: int) -> np.ndarray:
        """Run the rule and its pre-aggregators on ``X`` with the declared f (else ``f_real``)."""
        from .. import gars

        f = self.f if self.f is not None else f_real
        return gars.aggregate(self.rule, X, f, pre=self.pre, **self.params)


@dataclass(frozen=True)
class Round:
    """What an attack knows about the round it acts in (built by :meth:`Attack.__call__`).

    ``count`` is the number of vectors to produce (f, or 1 for a non-colluding node), ``f`` the
    number of Byzantine nodes, ``n`` the total number of nodes (None if unknown), ``h`` the number
    of rows the attacker sees.
    """

    count: int
    f: int
    n: int | None
    h: int
    rng: np.random.Generator | None
    round: int
    gar: GarContext | None
    dtype: np.dtype


def honest_mean(H: np.ndarray) -> np.ndarray:
    """Coordinate-wise mean of the rows of ``H``, accumulated in float64 row by row, in order."""
    acc = np.zeros(H.shape[1], dtype=np.float64)
    for i in range(H.shape[0]):
        np.add(acc, H[i], out=acc)
    acc /= H.shape[0]
    return acc


def honest_std(H: np.ndarray, mu: np.ndarray, owner: str) -> np.ndarray:
    """Unbiased (ddof=1) coordinate-wise standard deviation of the rows of ``H`` around ``mu``."""
    h = H.shape[0]
    if h < 2:
        raise InvalidArgument(
            f"{owner}: estimating the coordinate-wise standard deviation needs at least 2 vectors; "
            f"got {h} (with knowledge='estimating' the attacker sees only its own f gradients)"
        )
    acc = np.zeros(H.shape[1], dtype=np.float64)
    tmp = np.empty(H.shape[1], dtype=np.float64)
    for i in range(h):
        np.subtract(H[i], mu, out=tmp)
        np.multiply(tmp, tmp, out=tmp)
        np.add(acc, tmp, out=acc)
    acc /= h - 1
    np.sqrt(acc, out=acc)
    return acc


def compose(c: np.ndarray | None, a: np.ndarray, phi: float, dtype: np.dtype) -> np.ndarray:
    """The vector ``c + phi * a`` in float64, then rounded to ``dtype`` (overflow gives inf)."""
    v = np.multiply(a, phi)
    if c is not None:
        np.add(v, c, out=v)
    with np.errstate(over="ignore"):
        return v.astype(dtype)


def tile(v: np.ndarray, count: int) -> np.ndarray:
    """``count`` copies of the row ``v`` as a writable (count, d) array."""
    return np.broadcast_to(v, (count, v.shape[0])).copy()


def _format_value(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array(shape={v.shape})"
    return repr(v)


class Attack:
    """Base class of every attack: validates the call and dispatches on the knowledge model.

    Subclasses set ``name`` (their registry name), validate their own parameters in ``__init__``
    (calling ``super().__init__(knowledge=..., collude=...)``) and implement
    ``_vectors(H, ctx) -> (ctx.count, d) array`` in ``ctx.dtype``.
    """

    name: ClassVar[str] = ""

    def __init__(self, *, knowledge: str = "omniscient", collude: bool = True) -> None:
        s = _registry.spec(self.name)
        self.knowledge = check_choice(knowledge, "knowledge", s.knowledge, owner=self.name)
        if not isinstance(collude, bool | np.bool_):
            raise InvalidArgument(
                f"{self.name}: collude must be True or False; got collude={collude!r}"
            )
        self.collude = bool(collude)
        if not self.collude:
            if not s.noncolluding:
                raise InvalidArgument(
                    f"{self.name}: collude=False is not supported (the attack needs statistics of "
                    f"several gradients, a node acting alone has one); use collude=True"
                )
            if self.knowledge != "estimating":
                raise InvalidArgument(
                    f"{self.name}: collude=False means each Byzantine node acts alone on its own "
                    f"gradient, so knowledge must be 'estimating'; got knowledge={self.knowledge!r}"
                )

    @property
    def spec(self) -> _registry.AttackSpec:
        """The registry entry of this attack."""
        return _registry.spec(self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={_format_value(getattr(self, p))}" for p in self.spec.params)
        return f"{type(self).__name__}({args})"

    # -- the call protocol -------------------------------------------------------------------
    def _context(
        self,
        honest: Any,
        f: Any,
        rng: Any,
        round: Any,
        gar: Any,
        n: Any,
    ) -> tuple[np.ndarray, Round]:
        H = as_gradients(honest, owner=self.name, name="honest")
        f = check_int(f, "f", minimum=0, owner=self.name)
        round = check_int(round, "round", minimum=0, owner=self.name)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise InvalidArgument(
                f"{self.name}: rng must be a numpy Generator (np.random.default_rng(seed)); "
                f"got rng={rng!r} (type={type(rng).__name__})"
            )
        if rng is None and self.spec.randomized:
            raise InvalidArgument(
                f"{self.name}: this attack draws random numbers; pass "
                "rng=np.random.default_rng(seed)"
            )
        if gar is not None and not isinstance(gar, GarContext):
            if isinstance(gar, str):
                gar = GarContext(gar)
            else:
                raise InvalidArgument(
                    f"{self.name}: gar must be a GarContext or a rule name; got gar={gar!r}"
                )
        h = H.shape[0]
        if n is not None:
            n = check_int(n, "n", minimum=1, owner=self.name)
            if gar is not None and gar.n is not None and gar.n != n:
                raise InvalidArgument(
                    f"{self.name}: n={n} disagrees with gar.n={gar.n}; give one of them"
                )
        elif gar is not None and gar.n is not None:
            n = gar.n
        if n is not None and f > n:
            raise InvalidArgument(f"{self.name}: f must be <= n; got f={f}, n={n}")
        if self.knowledge == "omniscient":
            if n is None:
                n = h + f
            elif n != h + f:
                raise InvalidArgument(
                    f"{self.name}: with knowledge='omniscient' honest holds the n-f honest "
                    "vectors, "
                    f"so n must equal {h}+f={h + f}; got n={n}, f={f}"
                )
        if not self.collude and f != h:
            raise InvalidArgument(
                f"{self.name}: with collude=False honest holds one own gradient per Byzantine "
                f"node, so it must have f={f} rows; got {h}"
            )
        ctx = Round(count=f, f=f, n=n, h=h, rng=rng, round=round, gar=gar, dtype=H.dtype)
        return H, ctx

    def __call__(
        self,
        honest: Any,
        f: int,
        *,
        rng: np.random.Generator | None = None,
        round: int = 0,
        gar: GarContext | str | None = None,
        n: int | None = None,
    ) -> np.ndarray:
        """Produce the f Byzantine vectors of a round.

        Parameters
        ----------
        honest : array_like, shape (h, d)
            What the attacker knows: every honest vector of the round (h = n - f) with
            ``knowledge="omniscient"``, or the Byzantine nodes' own local gradients with
            ``knowledge="estimating"`` (one per node, row j for node j, when ``collude=False``).
        f : int
            Number of Byzantine nodes, i.e. of vectors to produce.
        rng : numpy.random.Generator, optional
            The only source of randomness; required by randomized attacks.
        round : int, default 0
            Round number (used by behaviours over time; pure attacks ignore it).
        gar : GarContext or str, optional
            The defence in use (rule, parameters, declared f, pre-aggregators, n).
        n : int, optional
            Total number of nodes. Defaults to ``gar.n``, else to h + f when omniscient.

        Returns
        -------
        ndarray, shape (f, d)
            The Byzantine vectors, in the dtype of ``honest``.
        """
        H, ctx = self._context(honest, f, rng, round, gar, n)
        d = H.shape[1]
        if ctx.f == 0:
            return np.empty((0, d), dtype=H.dtype)
        if self.collude:
            out = self._vectors(H, ctx)
        else:
            rngs = ctx.rng.spawn(ctx.f) if ctx.rng is not None else [None] * ctx.f
            out = np.empty((ctx.f, d), dtype=H.dtype)
            for j in range(ctx.f):
                sub = Round(
                    count=1, f=ctx.f, n=ctx.n, h=1, rng=rngs[j], round=ctx.round, gar=ctx.gar,
                    dtype=ctx.dtype,
                )
                out[j] = self._vectors(H[j : j + 1], sub)[0]
        return np.ascontiguousarray(out, dtype=H.dtype)

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define _vectors")


class LineAttack(Attack):
    """An attack whose vector is ``c + phi * a`` for a factor phi (IPM, ALIE, MinMax, ...).

    Subclasses implement ``_line(H, ctx) -> (c or None, a, phi0)`` with c and a float64 (d,) arrays;
    the attack sends ``f`` copies of ``compose(c, a, phi0)``. :class:`DefenceAware` searches phi.
    """

    def _line(  # pragma: no cover - abstract
        self, H: np.ndarray, ctx: Round
    ) -> tuple[np.ndarray | None, np.ndarray, float]:
        raise TypeError(f"{type(self).__name__} must define _line")

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        c, a, phi = self._line(H, ctx)
        return tile(compose(c, a, phi, ctx.dtype), ctx.count)

    def factor(
        self,
        honest: Any,
        f: int,
        *,
        rng: np.random.Generator | None = None,
        round: int = 0,
        gar: GarContext | str | None = None,
        n: int | None = None,
    ) -> float:
        """The factor phi this attack uses on this input (z for ALIE, gamma for MinMax, ...)."""
        H, ctx = self._context(honest, f, rng, round, gar, n)
        return float(self._line(H, ctx)[2])

