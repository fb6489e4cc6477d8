"""Public test helpers: hypothesis strategies for Byzantine inputs and a property suite for GARs.

Users fuzz their own rules with the same machinery p2pbyz tests itself with::

    from p2pbyz.testing import check_gar
    check_gar(my_rule, properties=["permutation_invariant", "bounded_under_attack"])
"""

from __future__ import annotations

from ._check import CHECKS as CHECKS
from ._check import check_gar as check_gar
from ._strategies import ATTACK_SHAPES as ATTACK_SHAPES
from ._strategies import ByzantineSet as ByzantineSet
from ._strategies import byzantine_sets as byzantine_sets
from ._strategies import gradient_sets as gradient_sets

__all__ = ["CHECKS", "check_gar", "ATTACK_SHAPES", "ByzantineSet", "byzantine_sets", "gradient_sets"]
