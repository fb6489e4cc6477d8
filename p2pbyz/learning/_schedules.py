r"""Learning-rate schedules: small frozen callables ``lr(t) -> float`` of the step index ``t >= 0``.

=================  ===================================================================
name               :math:`\gamma_t`
=================  ===================================================================
``constant``       :math:`\gamma_0`
``inverse_sqrt``   :math:`\gamma_0 / \sqrt{t + 1}`
``step``           :math:`\gamma_0 \cdot \text{gamma}^{\lfloor t / \text{every} \rfloor}`
``cosine``         :math:`\gamma_{min} + \tfrac12 (\gamma_0 - \gamma_{min})(1 + \cos(\pi \min(t, T) / T))`
=================  ===================================================================

:func:`as_schedule` turns a float into a constant schedule and passes schedules (and any callable)
through, so APIs can take ``lr=0.1`` or ``lr=learning.cosine(0.1, total=500)`` alike.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

from .._validation import check_int, check_real
from ..errors import InvalidArgument

__all__ = [
    "Schedule",
    "Constant",
    "InverseSqrt",
    "StepDecay",
    "Cosine",
    "schedules",
    "make_schedule",
    "as_schedule",
]


def _step(t: Any, owner: str) -> int:
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise InvalidArgument(f"{owner}: the step t must be an integer >= 0; got t={t!r}")
    return int(t)


class Schedule(ABC):
    """Base class of the schedules: ``schedule(t)`` is the learning rate at step ``t`` (0-based)."""

    name: ClassVar[str]

    @abstractmethod
    def __call__(self, t: int) -> float:
        """The learning rate at step ``t``."""


@dataclass(frozen=True)
class Constant(Schedule):
    r"""Constant learning rate :math:`\gamma_t = \gamma_0`.

    Parameters
    ----------
    lr : float
        :math:`\gamma_0 > 0`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.Constant(0.1)(1000)
    0.1
    """

    lr: float
    name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "lr", check_real(self.lr, "lr", minimum=0.0, strict_min=True, owner=self.name)
        )

    def __call__(self, t: int) -> float:
        _step(t, self.name)
        return self.lr


@dataclass(frozen=True)
class InverseSqrt(Schedule):
    r"""Inverse square-root decay :math:`\gamma_t = \gamma_0 / \sqrt{t + 1}`.

    Parameters
    ----------
    lr : float
        :math:`\gamma_0 > 0`, the rate at ``t = 0``.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.InverseSqrt(1.0)(3)
    0.5
    """

    lr: float
    name: ClassVar[str] = "inverse_sqrt"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "lr", check_real(self.lr, "lr", minimum=0.0, strict_min=True, owner=self.name)
        )

    def __call__(self, t: int) -> float:
        return self.lr / math.sqrt(_step(t, self.name) + 1)


@dataclass(frozen=True)
class StepDecay(Schedule):
    r"""Step decay :math:`\gamma_t = \gamma_0 \cdot \text{gamma}^{\lfloor t / \text{every} \rfloor}`.

    Parameters
    ----------
    lr : float
        :math:`\gamma_0 > 0`.
    every : int
        Steps between two decays, ``>= 1``.
    gamma : float, default 0.1
        Multiplicative factor, ``0 < gamma <= 1``.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> s = learning.StepDecay(1.0, every=10, gamma=0.5)
    >>> s(9), s(10), s(25)
    (1.0, 0.5, 0.25)
    """

    lr: float
    every: int
    gamma: float = 0.1
    name: ClassVar[str] = "step"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "lr", check_real(self.lr, "lr", minimum=0.0, strict_min=True, owner=self.name)
        )
        object.__setattr__(
            self, "every", check_int(self.every, "every", minimum=1, owner=self.name)
        )
        object.__setattr__(
            self,
            "gamma",
            check_real(
                self.gamma, "gamma", minimum=0.0, strict_min=True, maximum=1.0, owner=self.name
            ),
        )

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** (_step(t, self.name) // self.every)


@dataclass(frozen=True)
class Cosine(Schedule):
    r"""Cosine annealing from :math:`\gamma_0` to :math:`\gamma_{min}` over ``total`` steps, then flat.

    .. math:: \gamma_t = \gamma_{min} + \tfrac12 (\gamma_0 - \gamma_{min})
              \bigl(1 + \cos(\pi \min(t, T) / T)\bigr)

    Parameters
    ----------
    lr : float
        :math:`\gamma_0 > 0`.
    total : int
        :math:`T \ge 1`, the step at which the rate reaches :math:`\gamma_{min}`.
    lr_min : float, default 0.0
        :math:`0 \le \gamma_{min} \le \gamma_0`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> s = learning.Cosine(1.0, total=100)
    >>> s(0), round(s(50), 12), s(100), s(500)
    (1.0, 0.5, 0.0, 0.0)
    """

    lr: float
    total: int
    lr_min: float = 0.0
    name: ClassVar[str] = "cosine"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "lr", check_real(self.lr, "lr", minimum=0.0, strict_min=True, owner=self.name)
        )
        object.__setattr__(
            self, "total", check_int(self.total, "total", minimum=1, owner=self.name)
        )
        object.__setattr__(
            self,
            "lr_min",
            check_real(self.lr_min, "lr_min", minimum=0.0, maximum=self.lr, owner=self.name),
        )

    def __call__(self, t: int) -> float:
        s = min(_step(t, self.name), self.total) / self.total
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * s))


_SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "inverse_sqrt": InverseSqrt,
    "step": StepDecay,
    "cosine": Cosine,
}


def schedules() -> tuple[str, ...]:
    """Names of the learning-rate schedules, for :func:`make_schedule`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.schedules()
    ('constant', 'inverse_sqrt', 'step', 'cosine')
    """
    return tuple(_SCHEDULES)


def make_schedule(name: str, **params: Any) -> Schedule:
    """Build a schedule by name (the form scenario files use).

    Parameters
    ----------
    name : str
        One of :func:`schedules`.
    **params
        The schedule's parameters (``lr`` always; ``every``/``gamma`` for ``step``;
        ``total``/``lr_min`` for ``cosine``).

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.make_schedule("step", lr=0.1, every=100)
    StepDecay(lr=0.1, every=100, gamma=0.1)
    """
    if not isinstance(name, str) or name not in _SCHEDULES:
        raise InvalidArgument(
            f"unknown schedule {name!r}; known schedules: {', '.join(_SCHEDULES)}"
        )
    cls = _SCHEDULES[name]
    specs = fields(cls)  # type: ignore[arg-type]
    allowed = [f.name for f in specs]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidArgument(
            f"{name}: unknown parameter {unknown[0]!r}; allowed parameters: {', '.join(allowed)}"
        )
    missing = [f.name for f in specs if f.name not in params and f.default is MISSING]
    if missing:
        raise InvalidArgument(
            f"{name}: missing parameter {missing[0]!r}; parameters: {', '.join(allowed)}"
        )
    return cls(**params)


def as_schedule(lr: float | Callable[[int], float], *, name: str = "lr") -> Callable[[int], float]:
    """Return ``lr`` as a schedule: a positive number becomes :class:`Constant`, a callable passes.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.as_schedule(0.5)
    Constant(lr=0.5)
    """
    if callable(lr):
        return lr
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise InvalidArgument(
            f"{name} must be a positive number or a schedule lr(t); got {name}={lr!r} (type={type(lr).__name__})"
        )
    return Constant(check_real(lr, name, minimum=0.0, strict_min=True))
