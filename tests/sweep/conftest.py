"""Fixtures of the sweep tests: one 2-worker LocalCluster shared by the Dask tests.

Starting a cluster costs a few seconds (two worker processes importing p2pbyz), so the Dask tests
share one and reach it by address, the way a user points a sweep at a real cluster. The test that
needs the scheduler to give up on a dying worker at once starts its own.
"""

from __future__ import annotations

import pytest

from p2pbyz.sweep._dask import local_cluster


@pytest.fixture(scope="session")
def cluster():
    with local_cluster(2) as c:
        yield c


@pytest.fixture
def address(cluster) -> str:
    return cluster.scheduler_address
