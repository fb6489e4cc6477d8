"""Behaviours over time: attacks that depend on the round (switch on at round t, alternate)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_int
from ..errors import InvalidArgument
from ._base import Attack, GarContext
from ._registry import make

__all__ = ["SwitchOn", "Alternate"]


def _as_attack(a: Any, owner: str, name: str) -> Attack:
    if isinstance(a, str):
        return make(a)
    if isinstance(a, Attack):
        return a
    raise InvalidArgument(
        f"{owner}: {name} must be an attack (attacks.make(...)) or a registered attack name; got "
        f"{a!r}"
    )


class SwitchOn:
    """Behave honestly (or as ``before``) until round ``start``, then run ``attack``.

    Before ``start`` the Byzantine nodes send ``before(...)`` if given, else their own honest
    gradients: the ``own`` array if the caller passes it, otherwise ``honest`` itself when the
    attack's knowledge is ``"estimating"`` (then ``honest`` *is* the nodes' own gradients).

    Parameters
    ----------
    attack : Attack or str
        The attack from round ``start`` on.
    start : int
        First attacking round, ``start >= 0``.
    before : Attack or str, optional
        What to send before ``start``; None: the nodes' own gradients.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> b = attacks.SwitchOn("sign_flip", start=3)
    >>> own = np.array([[1.0, 1.0]])
    >>> H = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> b(H, 1, round=0, own=own), b(H, 1, round=3, own=own)
    (array([[1., 1.]]), array([[-2., -3.]]))
    """

    def __init__(self, attack: Any, start: int, *, before: Any = None) -> None:
        self.attack = _as_attack(attack, "SwitchOn", "attack")
        self.start = check_int(start, "start", minimum=0, owner="SwitchOn")
        self.before = None if before is None else _as_attack(before, "SwitchOn", "before")

    def __repr__(self) -> str:
        return f"SwitchOn({self.attack!r}, start={self.start}, before={self.before!r})"

    def __call__(
        self,
        honest: Any,
        f: int,
        *,
        rng: np.random.Generator | None = None,
        round: int = 0,
        gar: GarContext | str | None = None,
        n: int | None = None,
        own: Any = None,
    ) -> np.ndarray:
        """Same as :meth:`Attack.__call__`, plus ``own``: the nodes' own (f, d) honest gradients."""
        round = check_int(round, "round", minimum=0, owner="SwitchOn")
        if round >= self.start:
            return self.attack(honest, f, rng=rng, round=round, gar=gar, n=n)
        if self.before is not None:
            return self.before(honest, f, rng=rng, round=round, gar=gar, n=n)
        if own is None:
            if self.attack.knowledge != "estimating":
                raise InvalidArgument(
                    f"SwitchOn: before round {self.start} the nodes send their own honest "
                    f"gradients; pass own=(f, d) array (honest holds the other nodes' vectors)"
                )
            own = honest
        own = np.asarray(own)
        f = check_int(f, "f", minimum=0, owner="SwitchOn")
        if own.ndim != 2 or own.shape[0] != f:
            raise InvalidArgument(
                f"SwitchOn: own must have one row per Byzantine node, shape (f={f}, d); got shape "
                f"{own.shape}"
            )
        return own.copy()


class Alternate:
    """Cycle through attacks: round r uses ``attacks[(r // period) % len(attacks)]``.

    Parameters
    ----------
    attacks : sequence of Attack or str
        At least one attack.
    period : int, default 1
        Rounds each attack lasts, ``period >= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> b = attacks.Alternate(["zero", "sign_flip"])
    >>> H = np.array([[1.0, 2.0]])
    >>> b(H, 1, round=0), b(H, 1, round=1)
    (array([[0., 0.]]), array([[-1., -2.]]))
    """

    def __init__(self, attacks: Sequence[Any], *, period: int = 1) -> None:
        if isinstance(attacks, str | Attack) or not isinstance(attacks, Sequence) or not attacks:
            raise InvalidArgument(
                "Alternate: attacks must be a non-empty sequence of attacks; got "
                f"attacks={attacks!r}"
            )
        self.attacks = tuple(_as_attack(a, "Alternate", "attacks[]") for a in attacks)
        self.period = check_int(period, "period", minimum=1, owner="Alternate")

    def __repr__(self) -> str:
        return f"Alternate({list(self.attacks)!r}, period={self.period})"

    def current(self, round: int) -> Attack:
        """The attack used at ``round``."""
        round = check_int(round, "round", minimum=0, owner="Alternate")
        return self.attacks[(round // self.period) % len(self.attacks)]

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
        """Same as :meth:`Attack.__call__`."""
        return self.current(round)(honest, f, rng=rng, round=round, gar=gar, n=n)
