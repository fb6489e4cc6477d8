"""The shared kernels: the pairwise distance matrix, the non-finite row scan, the chunking."""

from __future__ import annotations

from unittest import mock

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from p2pbyz.gars import _common, _reference

DTYPES = [np.float32, np.float64]


def _rows(dtype, n, d, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal((n, d)) * scale).astype(dtype)


@given(
    X=st.integers(1, 13).flatmap(
        lambda n: st.integers(1, 40).flatmap(
            lambda d: st.sampled_from(DTYPES).flatmap(
                lambda dt: hnp.arrays(
                    dt, (n, d), elements=st.floats(-1e6, 1e6, allow_nan=False, width=32)
                )
            )
        )
    )
)
def test_sq_distances_matches_reference(X):
    """Any shape and dtype: the float64 matrix of the reference, to float64 rounding."""
    D = _common.sq_distances(X)
    ref = _reference.sq_distances(X)
    assert D.dtype == np.float64 and D.shape == (X.shape[0],) * 2
    np.testing.assert_allclose(D, ref, rtol=1e-12, atol=0)
    assert np.array_equal(D, D.T)
    assert np.all(np.diag(D) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "d"), [(1, 5), (2, 1), (5, 3), (9, 1000), (13, 5000), (33, 700)])
def test_sq_distances_tile_edges(dtype, n, d):
    """n not a multiple of the 4 x 2 tile and d not a multiple of the block: every pair once."""
    X = _rows(dtype, n, d, seed=n * d)
    np.testing.assert_allclose(_common.sq_distances(X), _reference.sq_distances(X), rtol=1e-12)


def test_near_duplicates_float32_no_cancellation():
    """Rows equal up to 1e-7 relative in float32: differences are exact, unlike the Gram form."""
    rng = np.random.default_rng(3)
    base = rng.standard_normal(4000) * 1e3
    X = (base * (1 + 1e-7 * rng.standard_normal((6, 4000)))).astype(np.float32)
    D = _common.sq_distances(X)
    ref = _reference.sq_distances(X)
    off = ~np.eye(6, dtype=bool)
    assert np.all(ref[off] > 0)
    np.testing.assert_allclose(D, ref, rtol=1e-12)
    # the Gram form, even accumulated in float64 from float32 data, loses these distances entirely
    G = X.astype(np.float64) @ X.astype(np.float64).T
    sq = np.diag(G)
    gram = sq[:, None] + sq[None, :] - 2 * G
    assert np.max(np.abs(gram[off] - ref[off]) / ref[off]) > 1e-3


@pytest.mark.parametrize("dtype", DTYPES)
def test_identical_rows_identical_distances(dtype):
    """Exact duplicates get bit-identical distance rows whatever their place in the tiles."""
    X = _rows(dtype, 11, 3000, seed=5)
    X[7] = X[2]
    X[10] = X[2]
    D = _common.sq_distances(X)
    assert D[2, 7] == 0 and D[2, 10] == 0 and D[7, 10] == 0
    others = [j for j in range(11) if j not in (2, 7, 10)]
    assert np.array_equal(D[2, others], D[7, others])
    assert np.array_equal(D[2, others], D[10, others])


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_finite_values(dtype):
    """1e30 entries: squares reach 1e60, fine in float64 (float32 input is widened first)."""
    X = _rows(dtype, 6, 100, seed=1)
    X[4] = 1e30
    X[5] = -1e30
    D = _common.sq_distances(X)
    assert np.all(np.isfinite(D))
    np.testing.assert_allclose(D, _reference.sq_distances(X), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sq_distances_thread_count_invariant(dtype):
    """Fixed chunks reduced in order: bit-identical with 1 or 2 numba threads."""
    X = _rows(dtype, 10, 70_000, seed=2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        D1 = _common.sq_distances(X)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        D2 = _common.sq_distances(X)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(D1, D2)


def test_sq_distances_reads_cpu_block_at_call_time():
    """A patched config.CPU_BLOCK changes the blocking, not the result (beyond rounding)."""
    X = _rows(np.float64, 7, 5000, seed=4)
    ref = _reference.sq_distances(X)
    with mock.patch("p2pbyz.config.CPU_BLOCK", 8):
        assert _common._block_length(7) == 64
        D = _common.sq_distances(X)
    np.testing.assert_allclose(D, ref, rtol=1e-12)


def test_block_length_depends_on_n_only():
    assert _common._block_length(32) == 4096
    assert _common._block_length(128) == 1024
    assert _common._block_length(100_000) == 64


@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_rows(dtype):
    X = _rows(dtype, 5, 9000, seed=6)
    X[1, 8000] = np.nan
    X[3, 0] = -np.inf
    X[4, :] = np.finfo(dtype).max
    assert _common.nonfinite_rows(X).tolist() == [False, True, False, True, False]


def test_chunk_bounds_cover_and_align():
    b = _common.chunk_bounds(10_000, 512, 4)
    assert b[0] == 0 and b[-1] == 10_000 and len(b) == 5
    assert all(x % 512 == 0 for x in b[:-1])
    assert _common.chunk_bounds(3, 512).tolist() == [0, 3]


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 15, 16, 64, 1000, 4099])
def test_group_means_are_sequential_float64_sums(dtype, d, centered):
    """Each group's rows added in the given order in float64, the mean rounded once to X's dtype,
    on every path (16-wide vector sums, column tails, partial chunks); ``centered`` adds the
    differences to the first row and that row back after the division."""
    rng = np.random.default_rng(d)
    X = (rng.standard_normal((9, d)) * 10.0 ** rng.integers(-3, 4, size=(9, 1))).astype(dtype)
    sizes = [1, 2, 5, 9, 3]
    rows = np.concatenate([rng.permutation(9)[:s] for s in sizes])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    want = np.empty((len(sizes), d), dtype=dtype)
    for g in range(len(sizes)):
        acc = np.zeros(d)
        group = rows[starts[g] : starts[g + 1]]
        x0 = X[group[0]].astype(np.float64)
        for r in group[1:] if centered else group:
            acc = acc + (X[r].astype(np.float64) - x0 if centered else X[r].astype(np.float64))
        want[g] = x0 + acc / sizes[g] if centered else acc / sizes[g]
    got = _common.group_means(X, rows, starts, centered=centered)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)
