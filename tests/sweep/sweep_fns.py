"""Tiny, deterministic, picklable run functions for the sweep tests (imported by the workers).

They are top-level functions of an importable module (``tests/sweep`` is on ``sys.path`` under
pytest and the worker processes inherit it), so cloudpickle sends them by reference.
"""

from __future__ import annotations

import os
from typing import Any


def toy(s: dict[str, Any]) -> dict[str, Any]:
    """A fake emulation: the accuracy falls with f, heterogeneity and the ALIE attack."""
    if s.get("boom"):
        raise ValueError(f"boom at f={s.get('f')}")
    acc = 0.9 - 0.1 * s.get("f", 0) - 0.05 * s.get("heterogeneity", 0.0) + 0.01 * s.get("seed", 0)
    if s.get("attack") == "alie":
        acc -= 0.1
    rounds = 5
    return {
        "accuracy": acc,
        "loss": 1.0 - acc,
        "messages": 10 * rounds,
        "accuracy_per_round": [acc * (i + 1) / rounds for i in range(rounds)],
        "pid": os.getpid(),
    }


def die(s: dict[str, Any]) -> dict[str, Any]:
    """Kill the worker process running this run: never (``die="never"``), only the first time
    (``"once"``: a marker file records the pid that died) or every time (``"always"``)."""
    if s["die"] == "always":
        os._exit(1)
    if s["die"] == "once":
        marker = os.path.join(s["marker_dir"], f"died-{s['x']}")
        if not os.path.exists(marker):
            with open(marker, "w") as fh:
                fh.write(str(os.getpid()))
            os._exit(1)
    return {"value": 10 * s["x"], "pid": os.getpid()}


def square(x: int) -> int:
    """For map_on_dask."""
    return x * x


def fail_on_three(x: int) -> int:
    """For map_on_dask: raises on 3."""
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def square_x(s: dict[str, Any]) -> dict[str, Any]:
    """A run_fn of one metric."""
    return {"y": s["x"] ** 2}
