"""Byzantine attacks: one registry, one call protocol, knowledge models, defence-aware search.

Build an attack by name (``attacks.make("alie", z=1.5)``) or by class; call it on what the
attacker knows to get the f Byzantine vectors of a round::

    B = attack(honest, f, rng=rng, round=t, gar=GarContext("krum", f=f))

``honest`` is every honest vector of the round (``knowledge="omniscient"``) or the Byzantine nodes'
own gradients (``knowledge="estimating"``); ``collude=False`` makes each node act alone on its own
gradient. ``attacks.names()`` lists the attacks and ``attacks.spec(name)`` gives the formula, the
paper, the knowledge models and the parameters. Formulas and sources: THEORY.md §10.
"""

from __future__ import annotations

from . import _simple, _alie, _minmax, _mimic, _defence_aware  # noqa: F401  (registration order)
from ._alie import Alie as Alie
from ._alie import alie_z as alie_z
from ._base import Attack as Attack
from ._base import GarContext as GarContext
from ._base import LineAttack as LineAttack
from ._behaviours import Alternate as Alternate
from ._behaviours import SwitchOn as SwitchOn
from ._data import flip_labels as flip_labels
from ._defence_aware import MAX_BUDGET as MAX_BUDGET
from ._defence_aware import DefenceAware as DefenceAware
from ._defence_aware import LineSearchResult as LineSearchResult
from ._mimic import Mimic as Mimic
from ._mimic import MimicWarmup as MimicWarmup
from ._minmax import MinMax as MinMax
from ._minmax import MinSum as MinSum
from ._registry import KNOWLEDGE as KNOWLEDGE
from ._registry import AttackSpec as AttackSpec
from ._registry import make as make
from ._registry import names as names
from ._registry import register as register
from ._registry import spec as spec
from ._simple import BulyanCoordinate as BulyanCoordinate
from ._simple import Drop as Drop
from ._simple import Gaussian as Gaussian
from ._simple import Inf as Inf
from ._simple import Ipm as Ipm
from ._simple import LinearTarget as LinearTarget
from ._simple import NaN as NaN
from ._simple import Omniscient as Omniscient
from ._simple import SignFlip as SignFlip
from ._simple import Zero as Zero

__all__ = [
    "register",
    "Attack",
    "AttackSpec",
    "GarContext",
    "KNOWLEDGE",
    "LineAttack",
    "LineSearchResult",
    "MAX_BUDGET",
    "names",
    "spec",
    "make",
    "alie_z",
    "flip_labels",
    "SwitchOn",
    "Alternate",
    "Alie",
    "BulyanCoordinate",
    "DefenceAware",
    "Drop",
    "Gaussian",
    "Inf",
    "Ipm",
    "LinearTarget",
    "Mimic",
    "MimicWarmup",
    "MinMax",
    "MinSum",
    "NaN",
    "Omniscient",
    "SignFlip",
    "Zero",
]
