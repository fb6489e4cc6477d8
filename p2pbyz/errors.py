"""The error vocabulary of p2pbyz.

Every error p2pbyz raises on purpose derives from :class:`P2PByzError`, and each one is also a
builtin exception of the matching meaning, so ``except ValueError`` keeps working.
Messages name the argument, its value and the requirement, e.g.
``bulyan needs n >= 4f+3; got n=10, f=3``.
"""

from __future__ import annotations

__all__ = [
    "P2PByzError",
    "InvalidArgument",
    "RequirementError",
    "ByzantineAssumptionError",
    "TooExpensiveError",
    "CudaUnavailableError",
    "TopologyError",
    "ReplayError",
]


class P2PByzError(Exception):
    """Base class of every error raised on purpose by p2pbyz."""


class InvalidArgument(P2PByzError, ValueError):
    """An argument has the wrong type, shape, dtype or value."""


class RequirementError(InvalidArgument):
    """The numbers of inputs n and of Byzantine inputs f violate a rule's requirement."""


class ByzantineAssumptionError(P2PByzError, ValueError):
    """The input shows more Byzantine behaviour than the declared f allows.

    Raised, for instance, when more than f rows are non-finite: at most f rows may be Byzantine,
    so the assumption the rule relies on is broken and no answer would be trustworthy.
    """


class TooExpensiveError(InvalidArgument):
    """The exact computation asked for would take too long (e.g. MDA with a huge C(n, f))."""


class CudaUnavailableError(P2PByzError, RuntimeError):
    """``target="cuda"`` was asked for but numba-cuda or a GPU is missing."""


class TopologyError(InvalidArgument):
    """A network topology cannot serve the requested use.

    Raised for a disconnected graph, an honest subgraph disconnected once the Byzantine nodes are
    placed, or a node with fewer neighbours than the rule it runs needs (e.g. ``2f+1``).
    """


class ReplayError(P2PByzError, RuntimeError):
    """A network run replayed from a recorded trace diverged from that trace."""
