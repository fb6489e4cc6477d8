"""Gradient aggregation rules (GARs): one registry, one wrapper, CPU kernels and a CUDA target.

Call a rule by function (``gars.krum(X, f=2)``) or by name (``gars.aggregate("krum", X, f=2)``);
``gars.names()`` lists them and ``gars.spec(name)`` tells their requirement, complexity and theory.
"""

from __future__ import annotations

from ..preagg import _preaggregators as _preaggregators  # noqa: F401  (registers pre-aggregators)
from . import _average, _coordinatewise, _aksel, _krum, _bulyan, _geomed, _subset, _caf, _clipping  # noqa: F401
from ._api import aggregate as aggregate
from ._api import register_rule as register_rule
from ._registry import PROPERTIES as PROPERTIES
from ._registry import GarSpec as GarSpec
from ._registry import names as names
from ._registry import spec as spec
from ._average import average as average
from ._coordinatewise import median as median
from ._coordinatewise import trimmed_mean as trimmed_mean
from ._coordinatewise import phocas as phocas
from ._coordinatewise import meamed as meamed
from ._aksel import aksel as aksel
from ._geomed import geometric_median as geometric_median
from ._geomed import rfa as rfa
from ._subset import mda as mda
from ._subset import smea as smea
from ._caf import caf as caf
from ._clipping import centered_clipping as centered_clipping
from ._clipping import monna as monna
from ._krum import krum as krum
from ._krum import multi_krum as multi_krum
from ._krum import medoid as medoid
from ._krum import one_minus_p_krum as one_minus_p_krum
from ._bulyan import bulyan as bulyan
from ._bulyan import multi_bulyan as multi_bulyan


def cuda_available() -> bool:
    """True when numba-cuda is installed and a GPU (or the simulator) can be used."""
    try:
        from . import cuda as _cuda
    except ImportError:
        return False
    return _cuda.available()


__all__ = [
    "register_rule",
    "PROPERTIES",
    "aggregate", "names", "spec", "GarSpec", "cuda_available", "average",
    "median", "trimmed_mean", "phocas", "meamed", "aksel",
    "geometric_median", "rfa", "mda", "smea", "caf", "centered_clipping", "monna",
    "krum", "multi_krum", "medoid", "one_minus_p_krum", "bulyan", "multi_bulyan",
]
