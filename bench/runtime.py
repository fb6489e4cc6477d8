"""Throughput of the network runtime: messages routed per wall second, overhead per message.

Workload: ``n`` nodes on a random ``degree``-regular graph (sparse); in each of ``rounds`` rounds
every node broadcasts a small payload to its neighbours and waits for one message from each.
Links have uniform latency on ``[0.01, 0.02]`` virtual seconds (lookahead 0.01), or a constant
latency with ``--constant``. The figure of merit is delivered messages per wall second of
``Network.run`` (graph construction excluded, network construction included in ``setup_s``);
``us_per_msg`` is its inverse, the whole runtime overhead per message (router, trio task switches,
node bookkeeping, the trivial behaviour itself). ``msgs_per_cpu_s`` divides by the process CPU
time instead, which is steadier on a shared machine.

Usage::

    python bench/runtime.py                      # 100, 1000, 10000 nodes
    python bench/runtime.py --sizes 100 1000 --rounds 20 --out bench/out/runtime.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import networkx as nx

from p2pbyz.network import LinkPolicy, Network, Uniform


async def _rounds_behaviour(ctx, rounds):  # type: ignore[no-untyped-def]
    deg = len(ctx.neighbours)
    for r in range(rounds):
        ctx.broadcast((ctx.id, r))
        for _ in range(deg):
            await ctx.recv()
    return rounds


def bench_one(n: int, rounds: int, degree: int, seed: int, constant: bool) -> dict[str, float]:
    g = nx.random_regular_graph(degree, n, seed=seed)
    lat = 0.01 if constant else Uniform(0.01, 0.02)
    t0 = time.perf_counter()
    net = Network(g, seed=seed, link_policy=LinkPolicy(latency=lat))

    async def behaviour(ctx):  # type: ignore[no-untyped-def]
        return await _rounds_behaviour(ctx, rounds)

    net.add_nodes(behaviour)
    t1 = time.perf_counter()
    c1 = time.process_time()
    res = net.run()
    t2 = time.perf_counter()
    c2 = time.process_time()
    st = res.statistics.run
    assert st.delivered == n * degree * rounds, (st.delivered, n * degree * rounds)
    run_s = t2 - t1
    return {
        "nodes": n,
        "degree": degree,
        "rounds": rounds,
        "latency": "constant 0.01" if constant else "uniform[0.01,0.02]",
        "messages": st.delivered,
        "setup_s": round(t1 - t0, 4),
        "run_s": round(run_s, 4),
        "cpu_s": round(c2 - c1, 4),
        "msgs_per_cpu_s": round(st.delivered / max(c2 - c1, 1e-9), 1),
        "msgs_per_s": round(st.delivered / run_s, 1),
        "us_per_msg": round(run_s / st.delivered * 1e6, 3),
        "windows": st.windows,
        "wakes": st.wakes,
        "virtual_time": st.virtual_time,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--rounds", type=int, default=None, help="default: 200/100/20 by size")
    ap.add_argument("--degree", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--constant", action="store_true", help="constant latency (one instant per round)")
    ap.add_argument("--out", default=os.path.join("bench", "out", "runtime.json"))
    args = ap.parse_args(argv)
    rows = []
    print(
        f"{'nodes':>7} {'msgs':>9} {'run s':>8} {'msgs/s':>10} {'us/msg':>8} {'msgs/cpu s':>11} "
        f"{'windows':>8} {'wakes':>9}"
    )
    for n in args.sizes:
        rounds = args.rounds or (200 if n <= 100 else 100 if n <= 1000 else 20)
        row = bench_one(n, rounds, args.degree, args.seed, args.constant)
        rows.append(row)
        print(
            f"{row['nodes']:>7} {row['messages']:>9} {row['run_s']:>8.3f} {row['msgs_per_s']:>10.0f} "
            f"{row['us_per_msg']:>8.2f} {row['msgs_per_cpu_s']:>11.0f} {row['windows']:>8} "
            f"{row['wakes']:>9}",
            flush=True,
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "benchmark": "network runtime",
                "python": sys.version.split()[0],
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "results": rows,
            },
            fh,
            indent=2,
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
