"""Pre-aggregators composed before any rule: ``aggregate("trimmed_mean", X, f=2, pre=["nnm"])``."""

from __future__ import annotations

from ._registry import PreSpec as PreSpec
from ._registry import names as names
from ._registry import spec as spec

__all__ = ["PreSpec", "names", "spec"]
