"""Fixtures of the CUDA target's tests.

They run under numba's simulator (``NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/cuda``, the
variable set before numba is imported) and unchanged on a real GPU. Without either, every test that
needs the target skips with a reason; the tests of the "unavailable" path still run.
"""

from __future__ import annotations

from unittest import mock

import pytest

from p2pbyz import config


@pytest.fixture
def small_launch():
    """Tiny blocks and grids so the simulator runs multi-block, grid-stride and multi-slice paths."""
    from p2pbyz.gars.cuda import _kernels as K

    with (
        mock.patch.object(config, "THREADS_PER_BLOCK", 4),
        mock.patch.object(config, "CUDA_TILE", 2),
        mock.patch.object(K, "_GRID_CAP", 3),
        mock.patch.object(K, "_DIST_TARGET_BLOCKS", 8),
        mock.patch.object(K, "_ROW_TARGET_BLOCKS", 16),
    ):
        yield


# numba-cuda warns about small grids (the tests' inputs are tiny on purpose) with its own
# NumbaPerformanceWarning class (numba.cuda.core.errors, not numba.core.errors, which
# pyproject.toml already ignores); matched by message so that collection needs no numba-cuda.
_CUDA_WARNINGS = (
    "ignore:Grid size .* will likely result in GPU under-utilization",
    "ignore:Host array used in CUDA kernel will incur copy overhead",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/cuda/" in str(item.fspath).replace("\\", "/"):
            for flt in _CUDA_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(flt))
