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
    # MDA / SMEA enumerate C(n, f) subsets; above this count they raise TooExpensiveError.
    "MDA_MAX_SUBSETS": 2_000_000,
    # CUDA: threads per block for 1-D launches and tile width of the distance kernel.
    "THREADS_PER_BLOCK": 256,
    "CUDA_TILE": 16,
    # Decimal places used by parity tests between kernels and the numpy reference.
    "TEST_DECIMALS_FLOAT64": 9,
    "TEST_DECIMALS_FLOAT32": 4,
}

CPU_BLOCK: int = DEFAULTS["CPU_BLOCK"]
MDA_MAX_SUBSETS: int = DEFAULTS["MDA_MAX_SUBSETS"]
THREADS_PER_BLOCK: int = DEFAULTS["THREADS_PER_BLOCK"]
CUDA_TILE: int = DEFAULTS["CUDA_TILE"]
TEST_DECIMALS_FLOAT64: int = DEFAULTS["TEST_DECIMALS_FLOAT64"]
TEST_DECIMALS_FLOAT32: int = DEFAULTS["TEST_DECIMALS_FLOAT32"]


def _reset() -> None:
    """Restore every tunable to its default value."""
    globals().update(DEFAULTS)
