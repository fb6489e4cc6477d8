"""p2pbyz: Byzantine-resilient distributed learning: robust aggregation rules (Numba CPU and CUDA),
a virtual-time network emulator, attacks, and Monte Carlo checks of the papers' bounds."""

from __future__ import annotations

__version__ = "0.1.0"

from . import errors as errors
from . import gars as gars
from ._emulate import EmulationResult as EmulationResult
from ._emulate import emulate as emulate

__all__ = ["__version__", "errors", "gars", "emulate", "EmulationResult"]
