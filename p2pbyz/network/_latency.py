"""Latency distributions of links: seeded, vectorised, each with a known lower bound.

The lower bound (:attr:`Latency.minimum`) is what lets the router process a whole window of
virtual time at once: no message can be delivered sooner than that after it was sent.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_real
from ..errors import InvalidArgument

__all__ = [
    "Latency",
    "Constant",
    "Uniform",
    "Normal",
    "LogNormal",
    "Exponential",
    "as_latency",
]


class Latency:
    """Base class of latency distributions (seconds of virtual time).

    Subclasses implement :meth:`sample` (``k`` draws from a :class:`numpy.random.Generator`, as a
    float64 array) and :attr:`minimum` (a lower bound of every draw). ``sample`` must make all its
    draws during the call and not keep ``rng``: the runtime swaps each link's stream state in and
    out of one shared generator, so a kept generator would later draw from another link's stream.
    """

    minimum: float = 0.0

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must define sample(rng, k)")


@dataclass(frozen=True)
class Constant(Latency):
    """Always ``value`` seconds.

    Examples
    --------
    >>> import numpy as np
    >>> Constant(0.5).sample(np.random.default_rng(0), 2)
    array([0.5, 0.5])
    """

    value: float = 0.0

    def __post_init__(self) -> None:
        check_real(self.value, "value", minimum=0.0, owner="Constant latency")

    @property
    def minimum(self) -> float:  # type: ignore[override]
        return float(self.value)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return np.full(k, float(self.value))


@dataclass(frozen=True)
class Uniform(Latency):
    """Uniform on ``[low, high]``.

    Examples
    --------
    >>> import numpy as np
    >>> x = Uniform(0.1, 0.2).sample(np.random.default_rng(0), 1000)
    >>> bool(x.min() >= 0.1 and x.max() <= 0.2)
    True
    """

    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        check_real(self.low, "low", minimum=0.0, owner="Uniform latency")
        check_real(self.high, "high", minimum=float(self.low), owner="Uniform latency")

    @property
    def minimum(self) -> float:  # type: ignore[override]
        return float(self.low)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, k)


@dataclass(frozen=True)
class Normal(Latency):
    """Normal ``N(mean, std^2)`` truncated below at ``low`` (default 0).

    Draws below ``low`` are redrawn (true truncation, not clipping); after 64 rounds of redrawing,
    which only happens when ``low`` is many deviations above the mean, the rest are set to ``low``.

    Examples
    --------
    >>> import numpy as np
    >>> x = Normal(0.01, 0.02).sample(np.random.default_rng(0), 1000)
    >>> bool(x.min() >= 0.0)
    True
    """

    mean: float = 0.0
    std: float = 1.0
    low: float = 0.0

    def __post_init__(self) -> None:
        check_real(self.mean, "mean", owner="Normal latency")
        check_real(self.std, "std", minimum=0.0, owner="Normal latency")
        check_real(self.low, "low", minimum=0.0, owner="Normal latency")

    @property
    def minimum(self) -> float:  # type: ignore[override]
        return float(self.low)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        x = rng.normal(self.mean, self.std, k)
        for _ in range(64):
            bad = x < self.low
            nbad = int(bad.sum())
            if nbad == 0:
                return x
            x[bad] = rng.normal(self.mean, self.std, nbad)
        return np.maximum(x, self.low)


@dataclass(frozen=True)
class LogNormal(Latency):
    """``offset + exp(N(mu, sigma^2))`` (numpy's parametrisation: mu, sigma of the log).

    Examples
    --------
    >>> import numpy as np
    >>> x = LogNormal(-4.0, 0.5, offset=0.001).sample(np.random.default_rng(0), 100)
    >>> bool(x.min() > 0.001)
    True
    """

    mu: float = 0.0
    sigma: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        check_real(self.mu, "mu", owner="LogNormal latency")
        check_real(self.sigma, "sigma", minimum=0.0, owner="LogNormal latency")
        check_real(self.offset, "offset", minimum=0.0, owner="LogNormal latency")

    @property
    def minimum(self) -> float:  # type: ignore[override]
        return float(self.offset)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return self.offset + rng.lognormal(self.mu, self.sigma, k)


@dataclass(frozen=True)
class Exponential(Latency):
    """``offset + Exp(mean)`` (a shifted exponential: a propagation floor plus queueing).

    Examples
    --------
    >>> import numpy as np
    >>> x = Exponential(0.01, offset=0.002).sample(np.random.default_rng(0), 10000)
    >>> bool(abs(x.mean() - 0.012) < 1e-3)
    True
    """

    mean: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        check_real(self.mean, "mean", minimum=0.0, owner="Exponential latency")
        check_real(self.offset, "offset", minimum=0.0, owner="Exponential latency")

    @property
    def minimum(self) -> float:  # type: ignore[override]
        return float(self.offset)

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return self.offset + rng.exponential(self.mean, k)


_BY_NAME: dict[str, type[Latency]] = {
    "constant": Constant,
    "uniform": Uniform,
    "normal": Normal,
    "lognormal": LogNormal,
    "exponential": Exponential,
}


def as_latency(spec: Any, *, name: str = "latency") -> Latency:
    """Turn a latency specification into a :class:`Latency`.

    Parameters
    ----------
    spec : Latency, float, or dict
        A distribution object, a non-negative number (constant latency), or a dict such as
        ``{"dist": "uniform", "low": 0.01, "high": 0.02}`` (``dist`` one of constant, uniform,
        normal, lognormal, exponential; the other keys are the class's fields). This is the form
        networkx edge attributes and scenario files use.
    name : str
        Name used in error messages.

    Returns
    -------
    Latency

    Raises
    ------
    InvalidArgument
        For an unknown distribution name, a bad field, or a negative number.

    Examples
    --------
    >>> as_latency(0.25)
    Constant(value=0.25)
    >>> as_latency({"dist": "exponential", "mean": 0.01})
    Exponential(mean=0.01, offset=0.0)
    """
    if isinstance(spec, Latency):
        return spec
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        v = float(spec)
        if not math.isfinite(v) or v < 0:
            raise InvalidArgument(f"{name} must be a finite number >= 0; got {name}={spec!r}")
        return Constant(v)
    if isinstance(spec, dict):
        d = dict(spec)
        dist = d.pop("dist", None)
        cls = _BY_NAME.get(str(dist).lower()) if dist is not None else None
        if cls is None:
            allowed = ", ".join(sorted(_BY_NAME))
            raise InvalidArgument(
                f"{name}: 'dist' must be one of {allowed}; got dist={dist!r}"
            )
        try:
            return cls(**d)
        except TypeError as exc:
            raise InvalidArgument(f"{name}: bad fields for {dist!r} latency: {exc}") from None
    raise InvalidArgument(
        f"{name} must be a Latency, a number or a dict with 'dist'; got {name}={spec!r} "
        f"(type={type(spec).__name__})"
    )
