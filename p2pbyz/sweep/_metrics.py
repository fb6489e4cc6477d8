"""What the default ``run_fn`` keeps of an :class:`p2pbyz.EmulationResult`."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["result_metrics"]

#: Summary entries that repeat scenario settings (already table columns).
_SCENARIO_ECHO = ("protocol", "rule", "attack", "rounds")

#: Per-round series kept in the run file (for the accuracy-vs-round plot), from the main group.
_SERIES = ("accuracy", "loss", "disagreement")


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def result_metrics(result: Any) -> dict[str, Any]:
    """Final metrics and per-round series of an emulation.

    Scalars: every numeric entry of :meth:`p2pbyz.EmulationResult.summary` (final ``accuracy``,
    ``accuracy_min``, ``loss``, honest ``disagreement``, Byzantine ``influence_mean``,
    ``messages_sent`` / ``_delivered`` / ``_lost`` / ``_malformed`` / ``_throttled``,
    ``virtual_time``, ``wall_time``, ``runtime_share``, and the multi-server extras). Series:
    ``round`` and ``<metric>_per_round`` for accuracy, loss and disagreement of the run's main
    group (the server for ``ps``, the honest nodes otherwise), ``None`` where not measured.
    """
    out: dict[str, Any] = {
        k: v for k, v in result.summary().items()
        if k not in _SCENARIO_ECHO and not isinstance(v, str)
    }
    group = result.metrics.get(result.main_group, {})
    out["round"] = [int(t) for t in result.rounds.tolist()]
    for name in _SERIES:
        arr = group.get(name)
        if arr is not None:
            out[f"{name}_per_round"] = [_num(float(x)) for x in arr.tolist()]
    return out
