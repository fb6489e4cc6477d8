"""Pre-aggregators composed before any rule: ``aggregate("trimmed_mean", X, f=2, pre=["nnm"])``."""

from __future__ import annotations

from ._registry import PreSpec as PreSpec
from ._registry import names as names
from ._registry import spec as spec
from ._preaggregators import arc as arc
from ._preaggregators import bucketing as bucketing
from ._preaggregators import nnm as nnm
from ._preaggregators import static_clipping as static_clipping

__all__ = ["PreSpec", "names", "spec", "nnm", "bucketing", "static_clipping", "arc"]
