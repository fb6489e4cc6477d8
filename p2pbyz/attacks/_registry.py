"""The attack registry: one :class:`AttackSpec` per attack, declared once, read by :func:`make`,
the emulator's scenario files, the benchmarks and the tests (shaped as the GAR registry)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgument

__all__ = ["AttackSpec", "KNOWLEDGE", "register", "names", "spec", "make"]

#: Knowledge models. ``"omniscient"``: the attacker sees every honest vector of the round.
#: ``"estimating"``: it sees only the Byzantine nodes' own local gradients (as real colluders would)
#: and estimates the honest statistics from them.
KNOWLEDGE = ("omniscient", "estimating")


@dataclass(frozen=True)
class AttackSpec:
    """Everything p2pbyz knows about one attack.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"alie"``.
    cls : type
        The attack class; ``cls(**params)`` validates the parameters and builds a callable
        ``attack(honest, f, *, rng, round, gar, n) -> (f, d) array``.
    formula : str
        The Byzantine vector as text, e.g. ``"mu - z * sigma (coordinate-wise)"``.
    paper : str
        The paper (and section) the attack comes from, with the confidence tag of THEORY.md §10.
    knowledge : tuple of str
        Knowledge models the attack supports (subset of :data:`KNOWLEDGE`).
    noncolluding : bool
        Whether ``collude=False`` (each Byzantine node acts alone on its own gradient) is
        meaningful.
    randomized : bool
        Whether the attack draws random numbers (then ``rng`` is required at call time).
    stateful : bool
        Whether the object keeps state across rounds (a behaviour, not a pure function).
    searchable : bool
        Whether the attack is a line ``c + phi * a`` over a factor phi, usable as ``base`` of
        ``defence_aware``.
    omission : bool
        Whether the attack stands for *not sending* (the vectors it returns are stand-ins that
        every receiver drops).
    params : mapping
        Parameter name -> default, read from ``cls.__init__``'s keyword-only parameters.
    """

    name: str
    cls: type
    formula: str
    paper: str
    knowledge: tuple[str, ...] = KNOWLEDGE
    noncolluding: bool = False
    randomized: bool = False
    stateful: bool = False
    searchable: bool = False
    omission: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.knowledge) - set(KNOWLEDGE)
        if unknown:
            raise ValueError(f"AttackSpec {self.name}: unknown knowledge models {sorted(unknown)}")
        if not self.params:
            sig = inspect.signature(self.cls.__init__)
            params = {
                p.name: p.default
                for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            }
            object.__setattr__(self, "params", MappingProxyType(params))


_REGISTRY: dict[str, AttackSpec] = {}


def register(spec_: AttackSpec) -> AttackSpec:
    """Add ``spec_`` to the registry (a later registration under the same name replaces it)."""
    _REGISTRY[spec_.name] = spec_
    return spec_


def names() -> list[str]:
    """Names of every registered attack, sorted."""
    return sorted(_REGISTRY)


def spec(name: str) -> AttackSpec:
    """The :class:`AttackSpec` of attack ``name``; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(names())
        raise InvalidArgument(f"unknown attack {name!r}; known attacks: {known}")
    return _REGISTRY[name]


def make(name: str, **params: Any) -> Any:
    """Build attack ``name`` with ``params`` (validated by the attack's constructor).

    Examples
    --------
    >>> from p2pbyz import attacks
    >>> attacks.make("ipm", eps=0.5)
    Ipm(eps=0.5, knowledge='omniscient', collude=True)
    """
    s = spec(name)
    unknown = sorted(set(params) - set(s.params))
    if unknown:
        allowed = ", ".join(s.params) or "none"
        raise InvalidArgument(
            f"{s.name}: unknown parameter {unknown[0]!r}; allowed parameters: {allowed}"
        )
    return s.cls(**params)
