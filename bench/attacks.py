"""Benchmark of the attacks: time per attack at (n, d) = (32, 1e6), and the rule evaluations (and
time) the defence-aware line search spends against a few rules.

Usage::

    python bench/attacks.py                 # n=32, d=1e6, f=8, float32
    python bench/attacks.py --quick         # d=1e4, one repeat: a smoke run
    python bench/attacks.py --rules median krum --budget 16 --out bench/out/attacks.json

Prints a table and writes JSON (``--out``, default ``bench/out/attacks.json``). Each attack is
called once to warm up (numba compilation of the distance kernel, ...) and then ``--repeat``
times; the table shows the median and the minimum wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from p2pbyz import attacks, gars  # noqa: E402

DEFAULT_RULES = ("average", "median", "trimmed_mean", "krum")


def _params(name: str) -> dict:
    """Parameters used for each attack in the benchmark (defaults, plus a defence where needed)."""
    if name == "defence_aware":
        return {"gar": "average"}  # the cheapest rule: the time is the search's own overhead
    return {}


def _time(fn, repeat: int) -> tuple[list[float], object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=32, help="total number of nodes (default 32)")
    ap.add_argument("--f", type=int, default=8, help="number of Byzantine nodes (default 8)")
    ap.add_argument("--d", type=float, default=1e6, help="dimension (default 1e6)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per attack (default 3)")
    ap.add_argument("--budget", type=int, default=16, help="defence-aware budget (default 16)")
    ap.add_argument("--base", default="alie", help="defence-aware base attack (default alie)")
    ap.add_argument("--rules", nargs="*", default=list(DEFAULT_RULES),
                    help="rules the defence-aware search runs against (registered ones only)")
    ap.add_argument("--quick", action="store_true", help="d=1e4 and one repeat")
    ap.add_argument("--out", default="bench/out/attacks.json", help="JSON output path")
    args = ap.parse_args(argv)
    d = 10_000 if args.quick else int(args.d)
    repeat = 1 if args.quick else args.repeat
    n, f = args.n, args.f
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    honest = (rng.standard_normal((n - f, d), dtype=np.float32) + 0.1).astype(dtype)

    print(f"attacks at n={n} (h={n - f} honest, f={f}), d={d}, {dtype}, repeat={repeat}")
    rows = []
    print(f"{'attack':<20}{'median s':>12}{'min s':>12}  notes")
    for name in attacks.names():
        atk = attacks.make(name, **_params(name))
        times, out = _time(
            lambda: atk(honest, f, rng=np.random.default_rng(1)), repeat
        )
        note = "vs average, 16 evaluations" if name == "defence_aware" else ""
        rows.append({
            "attack": name,
            "params": {k: str(v) for k, v in _params(name).items()},
            "seconds_median": statistics.median(times),
            "seconds_min": min(times),
            "seconds_all": times,
            "out_shape": list(out.shape),
        })
        print(f"{name:<20}{statistics.median(times):>12.4f}{min(times):>12.4f}  {note}")

    print(f"\ndefence-aware search (base={args.base}, budget={args.budget})")
    print(f"{'rule':<20}{'evals':>7}{'seconds':>10}{'s/eval':>10}{'factor':>12}{'base f.':>10}"
          f"{'damage':>12}{'base dmg':>12}")
    searches = []
    for rule in args.rules:
        if rule not in gars.names():
            print(f"{rule:<20} (not registered, skipped)")
            continue
        if not gars.spec(rule).requires(n, f):
            print(f"{rule:<20} (needs {gars.spec(rule).requirement}, skipped)")
            continue
        atk = attacks.make("defence_aware", base=args.base, budget=args.budget, gar=rule)
        gars.aggregate(rule, np.vstack([honest, honest[:f]]), f)  # warm-up: load compiled kernels
        t0 = time.perf_counter()
        res = atk.search(honest, f)
        dt = time.perf_counter() - t0
        per = dt / max(res.evaluations, 1)
        searches.append({
            "rule": rule,
            "base": args.base,
            "budget": args.budget,
            "evaluations": res.evaluations,
            "seconds": dt,
            "seconds_per_evaluation": per,
            "factor": res.factor,
            "base_factor": res.base_factor,
            "damage": res.damage,
            "base_damage": res.base_damage,
        })
        print(f"{rule:<20}{res.evaluations:>7}{dt:>10.3f}{per:>10.4f}{res.factor:>12.4g}"
              f"{res.base_factor:>10.4g}{res.damage:>12.4g}{res.base_damage:>12.4g}")
        assert res.evaluations <= args.budget <= attacks.MAX_BUDGET

    try:
        import numba

        threads = numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover
        threads = None
    report = {
        "benchmark": "attacks",
        "n": n, "f": f, "d": d, "dtype": str(dtype), "repeat": repeat, "quick": args.quick,
        "numba_threads": threads, "cpu_count": os.cpu_count(), "numpy": np.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "attacks": rows,
        "defence_aware": searches,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
