"""The GAR registry: one :class:`GarSpec` per rule, declared once, read by the wrapper, the CUDA
target, the attacks, the emulator and ``proofs_check``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgument

__all__ = ["GarSpec", "register", "names", "spec", "PROPERTIES"]

#: Properties a rule may declare; the property tests (and ``p2pbyz.testing.check_gar``) read them.
PROPERTIES = frozenset(
    {
        # output does not change when the rows are permuted (exact ties aside, see each docstring)
        "permutation_invariant",
        # F(X + c) = F(X) + c for every vector c
        "translation_equivariant",
        # if n-f rows all equal v, the output is v whatever the f others are
        "honest_value_exact",
        # each output coordinate lies in the range of the honest rows' coordinates (f < n/2)
        "coordinatewise_honest_range",
        # the output stays bounded when f rows go to +-1e30
        "bounded_under_attack",
        # the output is one of the input rows
        "selects_input",
        # uses a random generator (takes ``seed``)
        "randomized",
        # processes each coordinate independently
        "coordinatewise",
    }
)


@dataclass(frozen=True)
class GarSpec:
    """Everything p2pbyz knows about one gradient aggregation rule.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"multi_krum"``.
    public : callable
        The public function ``public(X, f, **params)``.
    impl : callable
        CPU implementation ``impl(X, f, **params) -> ndarray`` on validated, finite, C-contiguous
        float32/float64 input; the wrapper calls it, never users.
    reference : callable
        Plain-numpy oracle with the same signature as ``impl``.
    requirement : str
        The requirement on n and f as text, e.g. ``"n >= 2f+3"``.
    requires : callable
        The same requirement as a predicate ``requires(n, f) -> bool``.
    check : callable or None
        ``check(n, f, **params)`` validates user-given parameters against n and f and raises
        :class:`~p2pbyz.errors.InvalidArgument` with a clear message.
    complexity : str
        Time complexity, e.g. ``"O(n^2 d)"``.
    paper : str
        The paper (and theorem) the definition comes from.
    properties : frozenset of str
        Subset of :data:`PROPERTIES` that the rule guarantees.
    theory : mapping
        Hooks read by ``proofs_check``: ``eta``, ``kappa``, ``lambda``, ``angular_error``,
        ``breakdown`` ... each a callable or a value, with its source.
    params : mapping
        Parameter name -> default, read from ``impl``'s keyword-only parameters.
    nonfinite_propagates : bool
        True when a non-finite input row always makes the kernel's output non-finite (averaging:
        any NaN or inf reaches the sum). The wrapper then runs the kernel first and scans the rows
        for NaN/inf only if the output is not finite, saving one read of X in the common case.
    detects_nonfinite : bool
        True when ``impl`` checks its own input while reading it and raises
        :class:`~p2pbyz.gars._common.NonFiniteInput` if it holds a NaN or an infinity (the
        coordinate-wise kernels fold the check into their block loads). The wrapper then runs
        ``impl`` first and applies the non-finite policy only when it raised.
    """

    name: str
    public: Callable[..., Any]
    impl: Callable[..., Any]
    reference: Callable[..., Any]
    requirement: str
    requires: Callable[[int, int], bool]
    complexity: str
    paper: str
    check: Callable[..., None] | None = None
    properties: frozenset[str] = frozenset()
    theory: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    nonfinite_propagates: bool = False
    detects_nonfinite: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.properties) - PROPERTIES
        if unknown:
            raise ValueError(f"GarSpec {self.name}: unknown properties {sorted(unknown)}")
        if not self.params:
            sig = inspect.signature(self.impl)
            params = {
                p.name: p.default
                for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY
            }
            object.__setattr__(self, "params", MappingProxyType(params))
        object.__setattr__(self, "theory", MappingProxyType(dict(self.theory)))

    def check_requirement(self, n: int, f: int, context: str = "") -> None:
        """Raise :class:`~p2pbyz.errors.RequirementError` if (n, f) violates the requirement."""
        from ..errors import RequirementError

        if not self.requires(n, f):
            extra = f" ({context})" if context else ""
            raise RequirementError(
                f"{self.name} needs {self.requirement}; got n={n}{extra}, f={f}"
            )


_REGISTRY: dict[str, GarSpec] = {}


def register(spec_: GarSpec) -> GarSpec:
    """Add ``spec_`` to the registry (a later registration under the same name replaces it)."""
    _REGISTRY[spec_.name] = spec_
    return spec_


def names() -> list[str]:
    """Names of every registered rule, sorted."""
    return sorted(_REGISTRY)


def spec(name: str) -> GarSpec:
    """The :class:`GarSpec` of rule ``name``; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(names())
        raise InvalidArgument(f"unknown rule {name!r}; known rules: {known}")
    return _REGISTRY[name]
