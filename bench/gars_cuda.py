"""Benchmark of the CUDA target of every GAR on a real GPU.

For each (n, d) in {(32, 1e7), (64, 1e7), (128, 1e6)} float32 it reports:

* the GPU's read-bandwidth floor for X in this run (``torch.sum(X)``, and a plain numba-cuda
  sum-reduction kernel; the faster one is the floor);
* each rule's end-to-end time through the CUDA target's entry point (what
  ``gars.aggregate(..., target="cuda")`` calls) on a torch CUDA tensor (device in, device out; non-finite scan, validation and selections included), with
  device synchronisation, compile warm-up excluded, median of ``--reps`` runs, and its fraction of
  the read floor (time of one read of X / time of the rule);
* torch's equivalents on the same GPU where one exists: ``torch.median(dim=0)``, a
  ``torch.sort``-based trimmed mean, ``X.mean(0)``, ``torch.cdist(X, X)`` and ``X @ X.T`` (cuBLAS),
  against p2pbyz's tiled distance-matrix kernel.

Writes ``gars_cuda.json`` (and ``gars_cuda.png`` when matplotlib is there) under ``--out``
(default: ``$OUT`` or ``bench_out``). ``--quick`` runs tiny sizes to check the script.

Usage: ``python bench/gars_cuda.py [--quick] [--reps 5] [--out DIR] [--only RULE ...]``
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = [(32, 10_000_000), (64, 10_000_000), (128, 1_000_000)]
QUICK_SIZES = [(32, 100_000), (64, 50_000)]

# (label, rule, params, pre, f) ; f=None means (n-3)//4, the largest f Bulyan allows
CASES = [
    ("average", "average", {}, (), None),
    ("median", "median", {}, (), None),
    ("trimmed_mean", "trimmed_mean", {}, (), None),
    ("phocas", "phocas", {}, (), None),
    ("meamed", "meamed", {}, (), None),
    ("krum", "krum", {}, (), None),
    ("multi_krum", "multi_krum", {}, (), None),
    ("medoid", "medoid", {}, (), None),
    ("bulyan", "bulyan", {}, (), None),
    ("multi_bulyan", "multi_bulyan", {}, (), None),
    ("aksel", "aksel", {}, (), None),
    ("geometric_median[max_iter=10]", "geometric_median", {"max_iter": 10}, (), None),
    ("rfa", "rfa", {}, (), None),
    ("centered_clipping", "centered_clipping", {}, (), None),
    ("monna", "monna", {}, (), None),
    ("mda[f=1]", "mda", {}, (), 1),
    ("smea[f=1]", "smea", {}, (), 1),
    ("nnm+average", "average", {}, ("nnm",), None),
    ("bucketing+median", "median", {}, (("bucketing", {"s": 2, "seed": 0}),), None),
    ("static_clipping+average", "average", {}, (("static_clipping", {"c": 1.0}),), None),
    ("arc+average", "average", {}, ("arc",), None),
]
COORDINATEWISE = {"average", "median", "trimmed_mean", "phocas", "meamed"}


def timed(fn, sync, reps):
    """Median wall time (s) of ``fn()`` with device synchronisation, after one warm-up call."""
    fn()
    sync()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def numba_sum_floor(Xd, reps):
    """A plain grid-stride sum-reduction kernel over X (float32 loads, float32 partials)."""
    from numba import cuda, float32

    @cuda.jit
    def _sum(x, out):
        sh = cuda.shared.array(256, float32)
        i = cuda.grid(1)
        stride = cuda.gridsize(1)
        acc = float32(0.0)
        for k in range(i, x.size, stride):
            acc += x[k]
        sh[cuda.threadIdx.x] = acc
        cuda.syncthreads()
        s = 128
        while s > 0:
            if cuda.threadIdx.x < s:
                sh[cuda.threadIdx.x] += sh[cuda.threadIdx.x + s]
            cuda.syncthreads()
            s //= 2
        if cuda.threadIdx.x == 0:
            out[cuda.blockIdx.x] = sh[0]

    flat = Xd.reshape(Xd.size)
    blocks = 132 * 16
    out = cuda.device_array(blocks, dtype=np.float32)
    return timed(lambda: _sum[blocks, 256](flat, out), cuda.synchronize, reps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", default=os.environ.get("OUT") or "bench_out")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args(argv)

    import torch
    from numba import cuda

    from p2pbyz import gars
    from p2pbyz.gars import _reference as ref
    from p2pbyz.gars.cuda import _driver
    from p2pbyz.gars.cuda import run as cuda_run
    from p2pbyz.gars._api import normalize_pre
    from p2pbyz.gars._registry import GarSpec
    from p2pbyz.preagg import _registry as pre_registry
    from p2pbyz.preagg._registry import PreSpec

    def rule_spec(name):
        """The registered spec, or (rule module not written yet) one built on the numpy oracle."""
        if name in gars.names():
            return gars.spec(name)
        fn = getattr(ref, name)
        return GarSpec(name=name, public=fn, impl=fn, reference=fn, requirement="-",
                       requires=lambda n, f: True, complexity="-", paper="-")

    def pre_list(pre, owner):
        out = []
        for item in pre:
            name, params = (item, {}) if isinstance(item, str) else item
            if name in pre_registry.names():
                out += normalize_pre([item], owner)
            else:
                fn = getattr(ref, name)
                n_out = (lambda n, s=2, **_: -(-n // s)) if name == "bucketing" else (lambda n, **_: n)
                out.append((PreSpec(name=name, public=fn, impl=fn, reference=fn, requirement="-",
                                    requires=lambda n, f: True, complexity="-", paper="-",
                                    n_out=n_out), dict(params)))
        return out

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sync = torch.cuda.synchronize
    dev = torch.device("cuda")
    meta = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "numba_cuda": getattr(sys.modules.get("numba_cuda"), "__version__", None),
        "python": platform.python_version(),
        "dtype": "float32",
        "reps": args.reps,
        "timing": "median wall time with torch.cuda.synchronize before and after; one warm-up",
    }
    try:
        import numba_cuda

        meta["numba_cuda"] = numba_cuda.__version__
    except ImportError:
        pass
    results = {"meta": meta, "configs": []}
    sizes = QUICK_SIZES if args.quick else SIZES
    for n, d in sizes:
        torch.manual_seed(0)
        X = torch.randn(n, d, device=dev, dtype=torch.float32)
        Xd = cuda.as_cuda_array(X)
        nbytes = X.numel() * 4
        t_torch_sum = timed(lambda: X.sum(), sync, args.reps)
        t_numba_sum = numba_sum_floor(Xd, args.reps)
        floor = min(t_torch_sum, t_numba_sum)
        cfg = {
            "n": n,
            "d": d,
            "bytes": nbytes,
            "read_floor": {
                "torch_sum_ms": t_torch_sum * 1e3,
                "numba_sum_ms": t_numba_sum * 1e3,
                "floor_ms": floor * 1e3,
                "floor_GBps": nbytes / floor / 1e9,
            },
            "rules": {},
            "torch": {},
            "distance": {},
        }
        print(f"\n== n={n} d={d}: read floor {floor * 1e3:.3f} ms ({nbytes / floor / 1e9:.0f} GB/s)", flush=True)
        for label, rule, params, pre, f in CASES:
            if args.only and label not in args.only and rule not in args.only:
                continue
            ff = (n - 3) // 4 if f is None else f
            try:
                spec = rule_spec(rule)
                pl = pre_list(pre, rule)
                t = timed(
                    lambda: cuda_run(spec, X, ff, pre=pl, nonfinite="drop", params=params), sync, args.reps
                )
            except Exception as exc:  # report and go on: one rule must not hide the others
                cfg["rules"][label] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  {label:32s} ERROR {type(exc).__name__}: {exc}", flush=True)
                continue
            entry = {"f": ff, "ms": t * 1e3, "read_GBps": nbytes / t / 1e9, "frac_of_floor": floor / t}
            cfg["rules"][label] = entry
            print(f"  {label:32s} f={ff:3d} {t * 1e3:9.3f} ms  {floor / t:6.1%} of floor", flush=True)
        # torch equivalents
        k = (n - 3) // 4
        eq = {
            "average: X.mean(0)": lambda: X.mean(0),
            "median: torch.median(X, 0)": lambda: torch.median(X, dim=0),
            "trimmed_mean: torch.sort(X, 0)[k:n-k].mean": lambda: torch.sort(X, dim=0)[0][k : n - k].mean(0),
        }
        for label, fn in eq.items():
            try:
                t = timed(fn, sync, args.reps)
                cfg["torch"][label] = {"ms": t * 1e3, "frac_of_floor": floor / t}
                print(f"  torch {label:40s} {t * 1e3:9.3f} ms  {floor / t:6.1%} of floor", flush=True)
            except Exception as exc:
                cfg["torch"][label] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  torch {label} ERROR {exc}", flush=True)
        # distance matrix: p2pbyz tiled kernel vs cuBLAS X @ X.T and torch.cdist
        dist = {
            "p2pbyz sq_distances (tiled kernel + slice sum)": lambda: _driver.sq_distances(Xd),
            "cuBLAS X @ X.T (fp32, TF32 off)": lambda: X @ X.T,
            "torch.cdist(X, X)": lambda: torch.cdist(X, X),
        }
        torch.backends.cuda.matmul.allow_tf32 = False
        for label, fn in dist.items():
            try:
                t = timed(fn, sync, args.reps)
                cfg["distance"][label] = {"ms": t * 1e3}
                print(f"  dist {label:48s} {t * 1e3:9.3f} ms", flush=True)
            except Exception as exc:
                cfg["distance"][label] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  dist {label} ERROR {type(exc).__name__}: {exc}", flush=True)
        # accuracy of the distance kernel against float64 torch (one check per size)
        try:
            D = _driver.sq_distances(Xd).copy_to_host()
            X64 = X.double()
            G = X64 @ X64.T
            nrm = torch.diagonal(G)
            D64 = (nrm[:, None] + nrm[None, :] - 2 * G).cpu().numpy()
            cfg["distance"]["max_rel_err_vs_float64"] = float(np.max(np.abs(D - D64)) / np.max(D64))
        except Exception as exc:
            cfg["distance"]["max_rel_err_vs_float64"] = f"{type(exc).__name__}: {exc}"
        results["configs"].append(cfg)
        (out_dir / "gars_cuda.json").write_text(json.dumps(results, indent=2))  # a partial run keeps its figures
        del X, Xd
        torch.cuda.empty_cache()

    path = out_dir / "gars_cuda.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {path}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(len(results["configs"]), 1, figsize=(12, 4 * len(results["configs"])))
        axes = np.atleast_1d(axes)
        for ax, cfg in zip(axes, results["configs"]):
            labels = [k for k, v in cfg["rules"].items() if "ms" in v]
            vals = [cfg["rules"][k]["frac_of_floor"] for k in labels]
            colors = ["tab:green" if cfg["rules"][k] and k in COORDINATEWISE else "tab:blue" for k in labels]
            ax.bar(range(len(labels)), vals, color=colors)
            ax.axhline(0.7, color="red", linestyle="--", linewidth=1, label="70% of read floor")
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
            ax.set_yscale("log")
            ax.set_ylabel("read floor time / rule time")
            ax.set_title(f"n={cfg['n']} d={cfg['d']:.0e} float32 on {meta['gpu']}")
            ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "gars_cuda.png", dpi=100)
        print(f"wrote {out_dir / 'gars_cuda.png'}")
    except ImportError:
        print("matplotlib not available: no plot")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
