"""Tunables of p2pbyz, in one place.

Library code reads these module attributes at call time, so tests and users may patch them
(``unittest.mock.patch("p2pbyz.config.MDA_MAX_SUBSETS", 10)``). :func:`_reset` restores the defaults.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    # CPU kernels: number of coordinates processed together by one prange iteration. Fixed (not tied
    # to the thread count) so that results are bit-identical whatever NUMBA_NUM_THREADS is.
    "CPU_BLOCK": 512,
    # Inputs with fewer numbers than this run the kernels on one numba thread: below it the cost
    # of waking the thread pool (large on a loaded machine) exceeds the work.
    "CPU_PARALLEL_MIN_SIZE": 1 << 16,
    # MDA / SMEA enumerate C(n, f) subsets; above this count they raise TooExpensiveError.
    "MDA_MAX_SUBSETS": 2_000_000,
    # CUDA: threads per block for 1-D launches and tile width of the distance kernel.
    "THREADS_PER_BLOCK": 256,
    "CUDA_TILE": 16,
    # Decimal places used by parity tests between kernels and the numpy reference.
    "TEST_DECIMALS_FLOAT64": 9,
    "TEST_DECIMALS_FLOAT32": 4,
    # Network runtime: per-sender inbox cap (a flooding sender is throttled beyond it), cap on the
    # messages in flight on one link (bounds the router's memory), and the size in bytes assumed
    # for a payload that is neither an array nor bytes (bandwidth delay).
    "NETWORK_INBOX_PER_SENDER": 1024,
    "NETWORK_LINK_CAPACITY": 65536,
    "NETWORK_SMALL_PAYLOAD_BYTES": 64,
    # During Network.run the cyclic GC's generation-0 threshold is raised to at least this (and
    # restored after): the router allocates many short-lived acyclic tuples, and frequent
    # collections cost ~30% of the run on large networks.
    "NETWORK_GC_GEN0": 100_000,
    # Emulation: when the largest aggregation of a run holds fewer than this many numbers (n * d),
    # numba kernels and BLAS run on one thread during the run (thread start-up and barriers cost
    # more than they save on small inputs; results are identical whatever the thread count).
    "EMULATION_SERIAL_BELOW": 1 << 20,
    # Emulation: virtual seconds between two looks of a waiting Byzantine node at what its
    # coalition has observed, when the network's lookahead is 0 (otherwise the lookahead is used).
    "EMULATION_ATTACK_POLL": 1e-3,
}

CPU_BLOCK: int = DEFAULTS["CPU_BLOCK"]
CPU_PARALLEL_MIN_SIZE: int = DEFAULTS["CPU_PARALLEL_MIN_SIZE"]
MDA_MAX_SUBSETS: int = DEFAULTS["MDA_MAX_SUBSETS"]
THREADS_PER_BLOCK: int = DEFAULTS["THREADS_PER_BLOCK"]
CUDA_TILE: int = DEFAULTS["CUDA_TILE"]
TEST_DECIMALS_FLOAT64: int = DEFAULTS["TEST_DECIMALS_FLOAT64"]
TEST_DECIMALS_FLOAT32: int = DEFAULTS["TEST_DECIMALS_FLOAT32"]
NETWORK_INBOX_PER_SENDER: int = DEFAULTS["NETWORK_INBOX_PER_SENDER"]
NETWORK_LINK_CAPACITY: int = DEFAULTS["NETWORK_LINK_CAPACITY"]
NETWORK_SMALL_PAYLOAD_BYTES: int = DEFAULTS["NETWORK_SMALL_PAYLOAD_BYTES"]
NETWORK_GC_GEN0: int = DEFAULTS["NETWORK_GC_GEN0"]
EMULATION_SERIAL_BELOW: int = DEFAULTS["EMULATION_SERIAL_BELOW"]
EMULATION_ATTACK_POLL: float = DEFAULTS["EMULATION_ATTACK_POLL"]


def _reset() -> None:
    """Restore every tunable to its default value."""
    globals().update(DEFAULTS)
