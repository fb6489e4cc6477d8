"""Gradient aggregation rules (GARs): one registry, one wrapper, CPU kernels and a CUDA target.

Call a rule by function (``gars.krum(X, f=2)``) or by name (``gars.aggregate("krum", X, f=2)``);
``gars.names()`` lists them and ``gars.spec(name)`` tells their requirement, complexity and theory.
"""

from __future__ import annotations

from ..preagg import _preaggregators as _preaggregators  # noqa: F401  (registers pre-aggregators)
from . import _average, _coordinatewise, _aksel, _krum, _bulyan, _geomed, _subset, _clipping  # noqa: F401
from ._api import aggregate as aggregate
from ._registry import GarSpec as GarSpec
from ._registry import names as names
from ._registry import spec as spec
from ._average import average as average


def cuda_available() -> bool:
    """True when numba-cuda is installed and a GPU (or the simulator) can be used."""
    try:
        from . import cuda as _cuda
    except ImportError:
        return False
    return _cuda.available()


__all__ = ["aggregate", "names", "spec", "GarSpec", "cuda_available", "average"]
