"""Throughput of every registered GAR on CPU against numpy and against the machine's floors.

For each rule and size (n, d), float32, the script reports the p2pbyz time, the time of a
vectorised numpy equivalent (where one exists; None otherwise), and two floors measured in the
same run: the time to read X once (a parallel sum at memory bandwidth) and the time of a BLAS
``X @ X.T`` (the cost a Gram-form distance computation pays). Compile time is excluded: every
kernel runs once on the same input before timing. Median of ``--repeat`` runs.

Each rule's ratio to its floor is the median of ``--repeat`` rounds that time the floor and the
rule back to back (``floor_s`` is the median of those floor timings): the machine's speed drifts
within minutes, and neighbours in time share it. The size's floors measured before and after its
rules (the faster kept) are reported too, as ``read_floor_s`` and ``gemm_s``.

    python bench/gars.py            # sizes of the issue: (10,1e5) (32,1e6) (32,1e7) (128,1e5)
    python bench/gars.py --quick    # small sizes, about a minute
    python bench/gars.py --rules median krum --out bench/out/gars.json

Writes JSON (every number), CSV and a PNG plot of time / read-floor per rule.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from p2pbyz import config, gars  # noqa: E402
from p2pbyz.gars import _reference as ref  # noqa: E402

FULL_SIZES = [(10, 100_000), (32, 1_000_000), (32, 10_000_000), (128, 100_000)]
QUICK_SIZES = [(10, 10_000), (32, 100_000), (128, 10_000)]


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _read_once(X):  # pragma: no cover - compiled
    n, d = X.shape
    nchunks = 64
    per = (d + nchunks - 1) // nchunks
    part = np.zeros(nchunks)
    for c in prange(nchunks):
        lo = c * per
        hi = min(d, lo + per)
        s = 0.0
        for i in range(n):
            for k in range(lo, hi):
                s += X[i, k]
        part[c] = s
    return part.sum()


#: Idle seconds before each rule's timing (see main).
_SETTLE_S = 0.5

#: Idle seconds between a floor's timing and the rule's, each way: OpenBLAS's workers spin for
#: about 0.1 s after X @ X.T and, with none, slowed Bulyan at (128, 1e5) from 49 to 97 ms
#: (measured: 0.01 s 107 ms, 0.05 s 85 ms, 0.1 s 53 ms, 0.2 s 49 ms).
_PAIR_SETTLE_S = 0.2
#: Seconds of untimed calls after that idle, before the timed one (see :func:`_after_settle`).
_WARM_S = 0.01


def _timeit(fn, repeat: int) -> float:
    fn()  # warm: compile, page-in
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _after_settle(fn) -> float:
    """Seconds of one call of ``fn`` made after ``_PAIR_SETTLE_S`` idle and untimed calls for at
    least ``_WARM_S`` (which wake the thread pools and the cores: after the idle, a (10, 1e5)
    median measured 12 ms instead of 0.6; after one untimed call only, a 0.35 ms average at
    (32, 1e5) measured 4.5-4.8 ms in 6 rounds of 8, and 0.3-1.0 ms after 10 ms of calls)."""
    time.sleep(_PAIR_SETTLE_S)
    t0 = time.perf_counter()
    while True:
        fn()
        if time.perf_counter() - t0 >= _WARM_S:
            break
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _paired(fn, floor_fn, repeat: int) -> tuple[float, float, float]:
    """Time ``fn`` and its floor in alternation: (median time, median floor, median of the
    per-round ratios). This host's speed drifts by up to 2x within minutes (X@X.T at (128, 1e5)
    measured 15 to 36 ms within one minute), so a ratio of two timings taken minutes apart says
    more about the moment than about the code; each round's ratio compares neighbours."""
    fn()
    floor_fn()
    ts, fs = [], []
    for _ in range(repeat):
        fs.append(_after_settle(floor_fn))
        ts.append(_after_settle(fn))
    ratios = np.array(ts) / np.array(fs)
    return float(np.median(ts)), float(np.median(fs)), float(np.median(ratios))


def _closest_mean_np(X, centre, k):
    idx = np.argsort(np.abs(X - centre), axis=0, kind="stable")[:k]
    return np.take_along_axis(X, idx, axis=0).mean(axis=0)


def _gram_sqdist(X):
    X64 = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * (X64 @ X64.T), 0.0)


def _krum_np(X, f, m=1):
    n = X.shape[0]
    D = _gram_sqdist(X)
    np.fill_diagonal(D, np.inf)
    k = max(0, n - f - 2)
    scores = np.sort(D, axis=1)[:, :k].sum(axis=1)
    sel = np.argsort(scores, kind="stable")[:m]
    return X[sel].mean(axis=0)


def _bulyan_np(X, f):
    n = X.shape[0]
    D = _gram_sqdist(X)
    np.fill_diagonal(D, np.inf)
    rem = list(range(n))
    sel = []
    for _ in range(n - 2 * f):
        sub = D[np.ix_(rem, rem)]
        k = max(0, len(rem) - f - 2)
        scores = np.sort(sub, axis=1)[:, :k].sum(axis=1)
        pick = rem[int(np.argmin(scores))]
        sel.append(pick)
        rem.remove(pick)
    S = X[sel]
    return _closest_mean_np(S, np.median(S, axis=0), len(sel) - 2 * f)


def _aksel_np(X, f):
    med = np.median(X, axis=0)
    dist = ((X - med) ** 2).sum(axis=1)
    sel = np.argsort(dist, kind="stable")[: (X.shape[0] + 1) // 2]
    return X[sel].mean(axis=0)


#: Vectorised numpy equivalents: what a user would write without p2pbyz.
NUMPY = {
    "average": lambda X, f: X.mean(axis=0),
    "median": lambda X, f: np.median(X, axis=0),
    "trimmed_mean": lambda X, f: np.sort(X, axis=0)[f : X.shape[0] - f].mean(axis=0),
    "phocas": lambda X, f: _closest_mean_np(
        X, np.sort(X, axis=0)[f : X.shape[0] - f].mean(axis=0), X.shape[0] - f
    ),
    "meamed": lambda X, f: _closest_mean_np(X, np.median(X, axis=0), X.shape[0] - f),
    "aksel": _aksel_np,
    "krum": lambda X, f: _krum_np(X, f, 1),
    "multi_krum": lambda X, f: _krum_np(X, f, X.shape[0] - f),
    "bulyan": _bulyan_np,
    "geometric_median": lambda X, f: ref.geometric_median(X, f),
    "rfa": lambda X, f: ref.rfa(X, f),
    "centered_clipping": lambda X, f: ref.centered_clipping(X, f),
}

DISTANCE_BASED = {
    "krum", "multi_krum", "medoid", "one_minus_p_krum", "bulyan", "multi_bulyan", "mda", "smea",
    "monna", "caf",
}


def _choose_f(name: str, n: int) -> int:
    s = gars.spec(name)
    best = 0
    for f in range(0, n // 8 + 1):
        if not s.requires(n, f):
            continue
        if name == "mda" and math.comb(n, f) > 20_000:
            continue
        # exact SMEA does one (n-f)x(n-f) eigen-decomposition per subset
        if name == "smea" and math.comb(n, f) * (n - f) ** 3 > 3e8:
            continue
        best = f
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    p.add_argument("--rules", nargs="*", help="rules to run (default: all registered)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-numpy", action="store_true", help="skip the numpy equivalents")
    p.add_argument("--out", default="bench/out/gars.json", help="JSON output path")
    args = p.parse_args(argv)

    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    rules = args.rules or gars.names()
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    rows = []
    rng = np.random.default_rng(0)
    for n, d in sizes:
        X = rng.normal(size=(n, d)).astype(np.float32)

        def _numba_read():
            return _read_once(X)

        def _numpy_read():
            return X.sum(axis=0)

        def floors() -> tuple[float, float]:
            # the fastest of two readers: a parallel numba sum and numpy's own reduction
            read = min(_timeit(_numba_read, args.repeat), _timeit(_numpy_read, args.repeat))
            return read, _timeit(lambda: X @ X.T, args.repeat)

        floor_read, floor_gemm = floors()
        console.log(f"n={n} d={d:.0e}: read-once {floor_read * 1e3:.2f} ms, X@X.T {floor_gemm * 1e3:.2f} ms")
        read_fn = _numba_read if _timeit(_numba_read, 1) <= _timeit(_numpy_read, 1) else _numpy_read
        first = len(rows)
        for name in rules:
            f = _choose_f(name, n)
            params = {"seed": 0} if "seed" in gars.spec(name).params else {}
            # Let the previous rule's thread pools go to sleep first: OpenBLAS workers spin for
            # a while after SMEA's or CAF's eigensolves and slowed the next rule by up to 10x.
            time.sleep(_SETTLE_S)
            distance = name in DISTANCE_BASED
            t, floor, ratio = _paired(lambda: gars.aggregate(name, X, f, **params),
                                      (lambda: X @ X.T) if distance else read_fn, args.repeat)
            t_np = None
            if not args.no_numpy and name in NUMPY:
                t_np = _timeit(lambda: NUMPY[name](X, f), 1)
            rows.append(
                {
                    "rule": name, "n": n, "d": d, "f": f, "dtype": "float32",
                    "time_s": t, "numpy_s": t_np, "read_floor_s": floor_read, "gemm_s": floor_gemm,
                    "floor_s": floor, "ratio_to_floor": ratio, "floor": "X@X.T" if distance else "read",
                    "speedup_vs_numpy": (t_np / t) if t_np else None,
                }
            )
            console.log(f"  {name:18s} f={f:<3d} {t * 1e3:10.2f} ms  x{ratio:6.2f} of floor "
                        f"({floor * 1e3:.2f} ms)"
                        + (f"  numpy {t_np * 1e3:10.2f} ms ({t_np / t:6.1f}x)" if t_np else ""))
        # The size's floors again after its rules, for the record: the faster of the two
        read2, gemm2 = floors()
        floor_read, floor_gemm = min(floor_read, read2), min(floor_gemm, gemm2)
        console.log(f"n={n} d={d:.0e} after: read-once {read2 * 1e3:.2f} ms, X@X.T {gemm2 * 1e3:.2f} ms")
        for r in rows[first:]:
            r.update(read_floor_s=floor_read, gemm_s=floor_gemm)

    table = Table(title=f"p2pbyz GARs, float32, {os.cpu_count()} cores")
    for col in ("rule", "n", "d", "f", "ms", "/floor", "floor", "numpy ms", "speedup"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["rule"], str(r["n"]), f"{r['d']:.0e}", str(r["f"]), f"{r['time_s'] * 1e3:.2f}",
            f"{r['ratio_to_floor']:.2f}", r["floor"],
            f"{r['numpy_s'] * 1e3:.1f}" if r["numpy_s"] else "-",
            f"{r['speedup_vs_numpy']:.1f}x" if r["speedup_vs_numpy"] else "-",
        )
    Console().print(table)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
        "numpy": np.__version__, "cpu_block": config.CPU_BLOCK, "quick": args.quick,
        "numba": numba.__version__, "threads": numba.get_num_threads(),
        "threading_layer": numba.threading_layer(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    _plot(rows, out.with_suffix(".png"))
    console.log(f"wrote {out}, {out.with_suffix('.csv')}, {out.with_suffix('.png')}")
    return 0


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({(r["n"], r["d"]) for r in rows})
    rules = sorted({r["rule"] for r in rows})
    fig, ax = plt.subplots(figsize=(max(8, len(rules) * 0.6), 4.5))
    width = 0.8 / len(sizes)
    for j, (n, d) in enumerate(sizes):
        vals = []
        for rule in rules:
            match = [r for r in rows if r["rule"] == rule and (r["n"], r["d"]) == (n, d)]
            vals.append(match[0]["ratio_to_floor"] if match else np.nan)
        ax.bar(np.arange(len(rules)) + j * width, vals, width, label=f"n={n}, d={d:.0e}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(rules)) + 0.4 - width / 2)
    ax.set_xticklabels(rules, rotation=45, ha="right")
    ax.set_ylabel("time / floor (read-once, or X@X.T for distance rules)")
    ax.set_title("p2pbyz GAR time relative to the machine floor (float32)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
