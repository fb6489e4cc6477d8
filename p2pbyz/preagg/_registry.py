"""Registry of pre-aggregators: transformations of the (n, d) input applied before any rule."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgument

__all__ = ["PreSpec", "register", "names", "spec"]


@dataclass(frozen=True)
class PreSpec:
    """One pre-aggregator.

    ``impl(X, f, **params) -> (X', f')`` takes validated, finite input and returns the transformed
    rows and the number of Byzantine rows the next stage must tolerate. ``n_out(n, **params)`` says
    how many rows come out (bucketing shrinks n), so requirements are checked before any work.
    """

    name: str
    public: Callable[..., Any]
    impl: Callable[..., Any]
    reference: Callable[..., Any]
    requirement: str
    requires: Callable[[int, int], bool]
    complexity: str
    paper: str
    n_out: Callable[..., int] = lambda n, **_: n
    check: Callable[..., None] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.params:
            sig = inspect.signature(self.impl)
            params = {
                p.name: p.default
                for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            }
            object.__setattr__(self, "params", MappingProxyType(params))


_REGISTRY: dict[str, PreSpec] = {}


def register(spec_: PreSpec) -> PreSpec:
    """Add ``spec_`` to the registry."""
    _REGISTRY[spec_.name] = spec_
    return spec_


def names() -> list[str]:
    """Names of every registered pre-aggregator, sorted."""
    return sorted(_REGISTRY)


def spec(name: str) -> PreSpec:
    """The :class:`PreSpec` of ``name``; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(names())
        raise InvalidArgument(f"unknown pre-aggregator {name!r}; known pre-aggregators: {known}")
    return _REGISTRY[name]
