"""The shared wrapper: conversions, dtype, the non-finite policy, registry lookups."""

from __future__ import annotations

import numpy as np
import pytest

from p2pbyz import gars
from p2pbyz.errors import ByzantineAssumptionError, InvalidArgument


def test_names_and_spec() -> None:
    assert "average" in gars.names()
    s = gars.spec("average")
    assert s.requires(1, 0)
    assert s.public is gars.average
    with pytest.raises(InvalidArgument, match=r"^unknown rule 'nope'; known rules: .*average"):
        gars.spec("nope")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(dtype) -> None:
    X = np.arange(12, dtype=dtype).reshape(4, 3)
    out = gars.aggregate("average", X, 0)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, [4.5, 5.5, 6.5])


def test_lists_and_fortran_and_strided_inputs_are_accepted() -> None:
    X = np.asfortranarray(np.random.default_rng(0).normal(size=(5, 7)))
    want = X.mean(axis=0)
    np.testing.assert_allclose(gars.average(X), want)
    np.testing.assert_allclose(gars.average(X.tolist()), want)
    big = np.random.default_rng(1).normal(size=(5, 14))
    np.testing.assert_allclose(gars.average(big[:, ::2]), big[:, ::2].mean(axis=0))


class _ArrayLike:
    """Something like a CPU torch tensor: exposes __array__ only."""

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)


def test_array_protocol_and_dlpack_objects() -> None:
    X = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(gars.average(_ArrayLike(X)), X.mean(axis=0), rtol=1e-6)

    class _DLOnly:
        def __init__(self, a):
            self._a = a

        def __dlpack__(self, **kw):
            return self._a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self._a.__dlpack_device__()

    np.testing.assert_allclose(gars.average(_DLOnly(X)), X.mean(axis=0), rtol=1e-6)


def test_cuda_array_on_cpu_target_is_refused() -> None:
    class _Dev:
        __cuda_array_interface__ = {"shape": (2, 2), "typestr": "<f4", "data": (0, False), "version": 3}

    with pytest.raises(InvalidArgument, match=r"^average: X lives on a CUDA device; pass target='cuda'"):
        gars.average(_Dev())


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_rows_are_dropped_and_counted_against_f(bad, dtype) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 9)).astype(dtype)
    X[2, 4] = bad
    out = gars.aggregate("average", X, 1)
    np.testing.assert_allclose(out, np.delete(X, 2, axis=0).astype(np.float64).mean(axis=0), rtol=1e-6)
    assert np.all(np.isfinite(out))
    with pytest.raises(ByzantineAssumptionError, match=r"^average: 1 input row\(s\) contain NaN or infinity \(rows 2\) and nonfinite='raise'$"):
        gars.aggregate("average", X, 1, nonfinite="raise")
    with pytest.raises(ByzantineAssumptionError, match=r"but f=0: more Byzantine inputs than declared"):
        gars.aggregate("average", X, 0)


def test_nonfinite_scan_finds_a_single_bad_value_anywhere() -> None:
    from p2pbyz.gars._common import nonfinite_rows

    for dtype in (np.float32, np.float64):
        X = np.zeros((3, 10_001), dtype=dtype)
        assert not nonfinite_rows(X).any()
        for k in (0, 4095, 4096, 10_000):
            Y = X.copy()
            Y[1, k] = np.nan
            assert nonfinite_rows(Y).tolist() == [False, True, False]
        Y = X.copy()
        Y[2, 7] = np.finfo(dtype).max  # huge but finite: not Byzantine by this test
        assert not nonfinite_rows(Y).any()


def test_average_documents_lemma_1_one_input_moves_it_anywhere() -> None:
    """Krum supplementary Lemma 1: one input forces averaging to output any U."""
    rng = np.random.default_rng(4)
    honest = rng.normal(size=(9, 5))
    U = np.array([1e3, -2.0, 0.0, 5.0, 7.0])
    byz = 10 * U - honest.sum(axis=0)
    out = gars.average(np.vstack([honest, byz]), f=1)
    np.testing.assert_allclose(out, U, rtol=1e-12, atol=1e-9)
