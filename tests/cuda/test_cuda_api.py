"""The CUDA target's entry point: device in / device out, validation, the non-finite policy,
requirements, rules without a kernel, the registry, and the "unavailable" error."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from cuda_helpers import CUDA, assert_close, needs_cuda, reference_spec

from p2pbyz import gars
from p2pbyz.errors import (
    ByzantineAssumptionError,
    CudaUnavailableError,
    InvalidArgument,
    RequirementError,
)
from p2pbyz.gars import _reference as ref

pytestmark = pytest.mark.cuda


def _run(spec, X, f, nonfinite="drop", **params):
    from p2pbyz.gars import cuda as gcuda

    return gcuda.run(spec, X, f, pre=[], nonfinite=nonfinite, params=params)


def _X(n=8, d=6, dtype=np.float64):
    return np.random.default_rng(5).normal(size=(n, d)).astype(dtype)


@needs_cuda
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["median", "krum", "geometric_median"])
def test_device_in_device_out(small_launch, name, dtype):
    from numba import cuda

    from p2pbyz.gars.cuda._driver import _is_device_array

    X = _X(dtype=dtype)
    out = _run(reference_spec(name), cuda.to_device(X), 2)
    assert _is_device_array(out)
    assert out.shape == (6,)
    assert np.dtype(out.dtype) == dtype
    assert_close(out.copy_to_host(), getattr(ref, name)(X, 2), dtype)


@needs_cuda
def test_strided_device_input(small_launch):
    from numba import cuda

    X = _X(8, 12)
    out = _run(reference_spec("trimmed_mean"), cuda.to_device(X)[:, ::2], 2)
    assert_close(out.copy_to_host(), ref.trimmed_mean(X[:, ::2], 2), np.float64)


# the simulator runs kernels on numpy scalars, which warn where a GPU computes inf - inf silently
_SIM_NONFINITE = pytest.mark.filterwarnings(
    "ignore:.*(invalid value|overflow) encountered:RuntimeWarning"
)


@needs_cuda
@_SIM_NONFINITE
@pytest.mark.parametrize("name", ["average", "trimmed_mean", "multi_krum"])  # fused / separate scan
def test_nonfinite_rows_are_dropped_and_counted_against_f(small_launch, name):
    X = _X(9, 7)
    X[2, 3] = np.nan
    X[6, 0] = -np.inf
    out = _run(reference_spec(name), X, 3)
    kept = np.delete(X, [2, 6], axis=0)
    assert_close(out, getattr(ref, name)(kept, 1), np.float64)


_DISTANCE_RULES = ["krum", "multi_krum", "medoid", "bulyan", "multi_bulyan", "mda", "smea", "caf"]


@needs_cuda
@_SIM_NONFINITE
@pytest.mark.parametrize(("row", "bad"), [(0, np.nan), (5, np.inf), (10, -np.inf)],
                         ids=["first-nan", "middle-inf", "last-minus-inf"])
@pytest.mark.parametrize("name", _DISTANCE_RULES)
def test_distance_rules_drop_nonfinite_rows_found_through_d(small_launch, monkeypatch, name, row, bad):
    """The distance rules read a NaN/inf row off the distance matrix: the result equals the
    rule on the other rows with f - 1, and X is scanned (once) only because D was not finite."""
    from p2pbyz.gars.cuda import _driver

    scanned = []
    real = _driver.nonfinite_rows
    monkeypatch.setattr(_driver, "nonfinite_rows", lambda A: scanned.append(A.shape) or real(A))
    X = _X(11, 7)
    X[row, 3] = bad
    out = _run(reference_spec(name), X, 2)
    assert_close(out, getattr(ref, name)(np.delete(X, row, axis=0), 1), np.float64)
    assert scanned == [(11, 11), (11, 7)]
    with pytest.raises(ByzantineAssumptionError, match=rf"^{name}: 1 input row\(s\) contain NaN"):
        _run(reference_spec(name), X, 2, nonfinite="raise")


@needs_cuda
@pytest.mark.parametrize("name", _DISTANCE_RULES)
def test_distance_rules_do_not_scan_finite_input(small_launch, monkeypatch, name):
    from numba import cuda

    from p2pbyz.gars.cuda import _driver

    scanned = []
    real = _driver.nonfinite_rows
    monkeypatch.setattr(_driver, "nonfinite_rows", lambda A: scanned.append(A.shape) or real(A))
    X = _X(11, 7).astype(np.float32)
    out = _run(reference_spec(name), cuda.to_device(X), 2)
    assert_close(out.copy_to_host(), getattr(ref, name)(X, 2), np.float32)
    # CAF at f = 0 is a plain mean: its scan of X is cheaper than D
    assert scanned == [(11, 11)]
    scanned.clear()
    _run(reference_spec(name), X, 0)
    assert scanned == ([(11, 7)] if name == "caf" else [(11, 11)])


@needs_cuda
@_SIM_NONFINITE
def test_one_row_alone_is_scanned(small_launch):
    X = np.full((1, 4), np.nan)
    with pytest.raises(ByzantineAssumptionError, match=r"^medoid: 1 input row\(s\) contain NaN"):
        _run(reference_spec("medoid"), X, 0)


@needs_cuda
def test_more_nonfinite_rows_than_f_is_an_error(small_launch):
    X = _X(9, 7)
    X[[1, 4, 5], 0] = np.inf
    with pytest.raises(
        ByzantineAssumptionError,
        match=r"^median: 3 input row\(s\) contain NaN or infinity \(rows 1, 4, 5\) but f=2: ",
    ):
        _run(reference_spec("median"), X, 2)


@needs_cuda
def test_nonfinite_raise_policy(small_launch):
    from numba import cuda

    X = _X(9, 7).astype(np.float32)
    X[8, 6] = np.nan
    with pytest.raises(
        ByzantineAssumptionError,
        match=r"^median: 1 input row\(s\) contain NaN or infinity \(rows 8\) and nonfinite='raise'$",
    ):
        _run(reference_spec("median"), cuda.to_device(X), 2, nonfinite="raise")


@needs_cuda
def test_dropping_rows_rechecks_the_requirement(small_launch):
    spec = reference_spec("median", requirement="n >= 2f+1", requires=lambda n, f: n >= 2 * f + 1)
    X = _X(5, 3)
    X[0, 0] = np.nan
    out = _run(spec, X, 2)  # n=4, f=1 after the drop: still fine
    assert_close(out, ref.median(X[1:], 1), np.float64)
    with pytest.raises(RequirementError, match=r"^median needs n >= 2f\+1; got n=4, f=3$"):
        _run(spec, _X(4, 3), 3)


@needs_cuda
@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros(5), r"^median: X must be 2-dimensional \(n vectors of dimension d\); got ndim=1"),
        (np.zeros((4, 3), dtype=np.int64), r"^median: X must have dtype float32 or float64; got dtype=int64"),
        (np.zeros((0, 3)), r"^median: X must hold at least one vector; got shape=\(0, 3\)$"),
    ],
    ids=["ndim", "dtype", "empty"],
)
@pytest.mark.parametrize("where", ["host", "device"])
def test_validation_messages_match_the_cpu_path(X, match, where):
    from numba import cuda

    arg = X if where == "host" else cuda.to_device(X)
    with pytest.raises(InvalidArgument, match=match):
        _run(reference_spec("median"), arg, 0)


@needs_cuda
def test_rule_without_a_kernel_says_so():
    spec = reference_spec("average", name="not_on_gpu")
    with pytest.raises(InvalidArgument, match=r"^not_on_gpu: this rule has no CUDA kernel yet; use target='cpu'"):
        _run(spec, _X(), 1)


@needs_cuda
def test_parameter_without_cuda_support_says_so():
    def impl(X, f, *, kind="midpoint", shiny=False):
        return ref.median(X, f, kind=kind)

    spec = reference_spec("median", impl=impl)
    with pytest.raises(InvalidArgument, match=r"^median: parameter 'shiny' has no CUDA implementation yet"):
        _run(spec, _X(), 1)


@needs_cuda
def test_registered_rules_through_aggregate(small_launch):
    """Every registered rule with a CUDA kernel, through the public wrapper, default parameters."""
    from p2pbyz.gars.cuda._driver import rule_names

    X = _X(11, 5)
    checked = 0
    for name in sorted(set(gars.names()) & set(rule_names())):
        spec = gars.spec(name)
        f = next((g for g in (2, 1, 0) if spec.requires(11, g)), None)
        if f is None:
            continue
        out = gars.aggregate(name, X, f, target="cuda")
        expected = spec.reference(X, f, **({"seed": 0} if "seed" in spec.params else {}))
        if "seed" not in spec.params:
            assert_close(out, expected, np.float64)
        checked += 1
    assert checked >= 1  # "average" at least is always registered


def test_unavailable_target_raises_with_install_hint(monkeypatch):
    from p2pbyz.gars import cuda as gcuda

    monkeypatch.setattr(gcuda, "unavailable_reason", lambda: "numba-cuda found no usable CUDA GPU")
    assert gars.cuda_available() is False
    with pytest.raises(
        CudaUnavailableError,
        match=r"^average: target='cuda' is unavailable: numba-cuda found no usable CUDA GPU$",
    ):
        gars.aggregate("average", _X(), 0, target="cuda")


def test_missing_numba_cuda_is_explained(monkeypatch):
    import numba

    from p2pbyz.gars import cuda as gcuda

    monkeypatch.delattr(numba, "cuda", raising=False)
    monkeypatch.setitem(sys.modules, "numba.cuda", None)
    assert gcuda.available() is False
    with pytest.raises(CudaUnavailableError, match=r'numba-cuda is not installed.*pip install "p2pbyz\[cuda\]"'):
        gars.aggregate("average", _X(), 0, target="cuda")


def test_available_matches_the_environment():
    assert gars.cuda_available() is CUDA
