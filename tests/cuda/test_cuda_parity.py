"""Parity of every CUDA rule and pre-aggregator with the numpy reference (``_reference``).

Small inputs (the simulator runs each thread in Python), float32 and float64, with tiny blocks and
grids (fixture ``small_launch``) so that multi-block, grid-stride and multi-slice paths run.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from cuda_helpers import assert_close, needs_cuda, reference_prespec, reference_spec

from p2pbyz.gars import _reference as ref

pytestmark = [pytest.mark.cuda, needs_cuda]

DTYPES = [np.float64, np.float32]

# (rule, params, n, f): every rule of the reference, non-default parameters included.
RULE_CASES = [
    ("average", {}, 7, 0),
    ("median", {}, 9, 2),
    ("median", {"kind": "midpoint"}, 10, 2),
    ("median", {"kind": "lower"}, 10, 2),
    ("median", {"kind": "upper"}, 10, 2),
    ("trimmed_mean", {}, 9, 2),
    ("phocas", {}, 10, 3),
    ("meamed", {}, 9, 2),
    ("meamed", {"kind": "lower"}, 10, 3),
    ("krum", {}, 9, 2),
    ("krum", {"neighbours": "byzfl", "squared": False}, 9, 2),
    ("multi_krum", {}, 9, 2),
    ("multi_krum", {"m": 3}, 9, 2),
    ("medoid", {}, 8, 1),
    ("one_minus_p_krum", {"t": 4, "seed": 1}, 8, 1),
    ("one_minus_p_krum", {"t": 4, "seed": 0}, 8, 1),
    ("bulyan", {}, 11, 2),
    ("bulyan", {"theta": 6, "squared": False}, 11, 1),
    ("multi_bulyan", {}, 11, 2),
    ("multi_bulyan", {"m": 4, "neighbours": "byzfl"}, 11, 2),
    ("aksel", {}, 9, 2),
    ("aksel", {"mode": "n-f", "kind": "upper"}, 10, 2),
    ("geometric_median", {"max_iter": 4}, 7, 1),
    ("geometric_median", {"tol": 1e-3, "eps": 1e-6}, 6, 1),
    ("rfa", {}, 7, 1),
    ("rfa", {"nu": 0.5, "T": 2}, 7, 1),
    ("mda", {}, 8, 2),
    ("smea", {}, 8, 2),
    ("caf", {}, 9, 3),
    ("centered_clipping", {}, 7, 1),
    ("centered_clipping", {"tau": 0.5, "L": 3}, 7, 1),
    ("monna", {}, 8, 2),
    ("monna", {"pivot": 3}, 8, 2),
]


def _data(n, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 3.0
    X[0] += 4.0  # one far row so that selections matter
    return X.astype(dtype)


def _run(name, X, f, pre=(), **params):
    from p2pbyz.gars import cuda as gcuda

    pre_list = [(reference_prespec(p), dict(pp)) for p, pp in pre]
    return gcuda.run(reference_spec(name), X, f, pre=pre_list, nonfinite="drop", params=params)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize(
    ("name", "params", "n", "f"), RULE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(RULE_CASES)]
)
def test_rule_matches_reference(small_launch, name, params, n, f, dtype):
    X = _data(n, 13, dtype)
    out = _run(name, X, f, **params)
    expected = getattr(ref, name)(X, f, **params)
    assert isinstance(out, np.ndarray)
    assert out.dtype == dtype
    assert out.shape == (13,)
    assert_close(out, expected, dtype)


# Integer-valued data: distances and scores are exact in both float32 and float64, so exact ties
# happen and the kernels must break them as the reference does (smallest index first).
TIE_CASES = [
    ("krum", {}, 2),
    ("multi_krum", {"m": 3}, 2),
    ("medoid", {}, 2),
    ("bulyan", {}, 1),
    ("multi_bulyan", {"m": 4}, 1),
    ("aksel", {}, 2),
    ("monna", {"pivot": 2}, 2),
    ("mda", {}, 2),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize(("name", "params", "f"), TIE_CASES, ids=[c[0] for c in TIE_CASES])
def test_exact_ties_choose_the_reference_selection(small_launch, name, params, f, dtype):
    X = np.array(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [-1, 0, 0, 0], [0, -1, 0, 0],
         [0, 0, -1, 0], [0, 0, 0, -1]],
        dtype=dtype,
    )
    out = _run(name, X, f, **params)
    expected = getattr(ref, name)(X, f, **params)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize(
    ("pre", "rule", "f"),
    [
        ([("nnm", {})], "average", 2),
        ([("bucketing", {"s": 2, "seed": 3})], "average", 1),
        ([("bucketing", {"s": 3, "seed": 0})], "median", 1),
        ([("static_clipping", {"c": 0.5})], "average", 1),
        ([("arc", {})], "average", 2),
        ([("arc", {})], "average", 0),
        ([("static_clipping", {"c": 2.0}), ("nnm", {})], "trimmed_mean", 2),
    ],
    ids=["nnm", "bucketing-s2", "bucketing-s3", "static_clipping", "arc", "arc-f0", "chain"],
)
def test_preaggregators_match_reference(small_launch, pre, rule, f, dtype):
    X = _data(9, 11, dtype, seed=1)
    out = _run(rule, X, f, pre=pre)
    Y, g = X.astype(np.float64), f
    for name, params in pre:
        Y, g = getattr(ref, name)(Y, g, **params)
        Y = Y.astype(dtype)  # the CPU path keeps X's dtype between stages too
    assert_close(out, getattr(ref, rule)(Y, g), dtype)


def test_arc_known_answer(small_launch):
    X = np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])
    out = _run("average", X, 1, pre=[("arc", {})])
    clipped = np.array([[1.0, 2, 3], [4, 5, 6], [4.41004009, 5.04004582, 5.67005155]])
    np.testing.assert_allclose(out, clipped.mean(axis=0), rtol=1e-8)


@pytest.mark.parametrize("tile", [1, 2, 4])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: np.dtype(t).name)
def test_distance_matrix_matches_reference(small_launch, tile, dtype):
    from numba import cuda

    from p2pbyz import config
    from p2pbyz.gars.cuda import _driver

    X = _data(11, 29, dtype, seed=2)
    with mock.patch.object(config, "CUDA_TILE", tile):
        D = _driver.sq_distances(cuda.to_device(X)).copy_to_host()
    expected = ref.sq_distances(X)
    assert_close(D, expected, dtype)
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0.0)


@pytest.mark.parametrize("name", ["median", "phocas", "meamed", "trimmed_mean"])
def test_insertion_sort_path_matches_network(small_launch, name):
    """n above the sorting network's size takes the local-memory insertion sort: same answer."""
    from p2pbyz.gars.cuda import _kernels as K

    X = _data(10, 9, np.float64, seed=3)
    with mock.patch.object(K, "_NETWORK_MAX", 4):
        out = _run(name, X, 2)
    assert_close(out, getattr(ref, name)(X, 2), np.float64)


def test_batcher_network_sorts_every_01_input():
    """0-1 principle: a comparator network sorts everything iff it sorts every 0-1 sequence."""
    from p2pbyz.gars.cuda._kernels import _batcher_pairs

    for nmax in (1, 2, 4, 8, 16):
        pairs = _batcher_pairs(nmax)
        for bits in range(2**nmax):
            v = [(bits >> i) & 1 for i in range(nmax)]
            for a, b in pairs:
                if v[a] > v[b]:
                    v[a], v[b] = v[b], v[a]
            assert v == sorted(v), (nmax, bits)
