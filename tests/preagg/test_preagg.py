"""Pre-aggregators (NNM, bucketing, static clipping, ARC): parity with the reference, known
answers, composition through ``gars.aggregate(..., pre=...)``, validation, thread invariance."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import gars, preagg
from p2pbyz.errors import ByzantineAssumptionError, InvalidArgument, RequirementError
from p2pbyz.gars import _reference as ref

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 2e-6, np.float64: 1e-12}
X3 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])


def _inputs(kind: str, n: int, f: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if kind == "tied":
        X = rng.integers(-2, 3, size=(n, d)).astype(float)
    elif kind == "duplicated":
        X[1 : n // 2 + 1] = X[0]
    elif kind == "huge":
        X[:f] = 1e30 * rng.choice([-1.0, 1.0], size=(f, d))
    elif kind == "adversarial":
        X[:f] = X[f:].mean(axis=0) * -3.0 + 0.01 * rng.normal(size=(f, d))
    return X


KINDS = ["random", "tied", "duplicated", "huge", "adversarial"]


def _close(got: np.ndarray, want: np.ndarray, dtype) -> None:
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


# ----------------------------------------------------------------------------------------------
# known answers


def test_arc_known_answer_byzfl() -> None:
    """byzfl ARC with f=1: k = floor(2 (1/3) 2) = 1, the last row is clipped to |[4, 5, 6]|."""
    out = preagg.arc(X3, 1)
    np.testing.assert_allclose(out[2], [4.41004009, 5.04004582, 5.67005155], atol=1e-8)
    np.testing.assert_array_equal(out[:2], X3[:2])
    np.testing.assert_allclose(np.linalg.norm(out[2]), np.linalg.norm(X3[1]), rtol=1e-15)


def test_nnm_known_answer() -> None:
    """Each row becomes the mean of its 2 nearest rows (itself included, ties by index)."""
    want = [[2.5, 3.5, 4.5], [2.5, 3.5, 4.5], [5.5, 6.5, 7.5]]
    np.testing.assert_array_equal(preagg.nnm(X3, 1), want)


def test_static_clipping_known_answer() -> None:
    """[3, 4] has norm 5 and becomes [0.6, 0.8]; short rows are unchanged."""
    out = preagg.static_clipping(np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]]), c=1.0)
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]], rtol=1e-15)


# ----------------------------------------------------------------------------------------------
# parity with the reference


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_matches_reference(kind: str, dtype) -> None:
    """Every pre-aggregator agrees with its numpy oracle (same selections, same permutation)."""
    n, f, d = 11, 3, 700
    X = _inputs(kind, n, f, d, 1).astype(dtype)
    cases = [
        ("nnm", preagg.nnm(X, f), ref.nnm(X, f)),
        ("arc", preagg.arc(X, f), ref.arc(X, f)),
        ("static_clipping", preagg.static_clipping(X, c=2.0), ref.static_clipping(X, f, c=2.0)),
        ("bucketing", preagg.bucketing(X, f, s=3, seed=11), ref.bucketing(X, f, s=3, seed=11)),
    ]
    for name, got, (want, f_out) in cases:
        assert f_out == f, name
        assert got.dtype == dtype and got.shape == want.shape, name
        _close(got, want, dtype)


@given(
    n=st.integers(1, 12),
    d=st.integers(1, 20),
    s=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(DTYPES),
)
def test_parity_fuzzed(n: int, d: int, s: int, seed: int, dtype) -> None:
    """Random shapes, every f allowed, every bucket size."""
    X = (np.random.default_rng(seed).normal(size=(n, d)) * 10).astype(dtype)
    f = (n - 1) // 2
    _close(preagg.nnm(X, f), ref.nnm(X, f)[0], dtype)
    _close(preagg.arc(X, f), ref.arc(X, f)[0], dtype)
    _close(preagg.bucketing(X, f, s=s, seed=seed), ref.bucketing(X, f, s=s, seed=seed)[0], dtype)
    _close(preagg.static_clipping(X, c=3.0), ref.static_clipping(X, f, c=3.0)[0], dtype)


def test_arc_clips_only_the_k_largest_rows() -> None:
    """k = floor(2 f (n-f) / n) rows are clipped to the (k+1)-th largest norm; the rest stay."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(10, 4)) * np.arange(1, 11)[:, None]
    out = preagg.arc(X, 3)  # k = floor(2*3*7/10) = 4
    norms = np.linalg.norm(X, axis=1)
    order = np.argsort(-norms, kind="stable")
    np.testing.assert_allclose(np.linalg.norm(out[order[:4]], axis=1), norms[order[4]], rtol=1e-14)
    np.testing.assert_array_equal(out[order[4:]], X[order[4:]])


def test_bucketing_is_seeded_and_has_ceil_n_over_s_rows() -> None:
    """Same seed, same buckets; ceil(n/s) bucket means; a different seed reshuffles."""
    X = _inputs("random", 11, 0, 6, 3)
    a = preagg.bucketing(X, s=3, seed=5)
    assert a.shape == (4, 6)
    np.testing.assert_array_equal(a, preagg.bucketing(X, s=3, seed=5))
    assert not np.array_equal(a, preagg.bucketing(X, s=3, seed=6))
    perm = np.random.default_rng(5).permutation(11)
    np.testing.assert_allclose(a[3], X[perm[9:]].mean(axis=0), rtol=1e-14)
    assert preagg.bucketing(X, s=1, seed=0).shape == (11, 6)
    np.testing.assert_allclose(preagg.bucketing(X, s=20, seed=0), X.mean(axis=0, keepdims=True))


# ----------------------------------------------------------------------------------------------
# composition with the rules


def test_nnm_then_rule_equals_rule_on_mixed_rows() -> None:
    """aggregate(rule, X, f, pre=["nnm"]) == rule(nnm(X, f), f)."""
    X = _inputs("adversarial", 11, 3, 50, 4)
    got = gars.aggregate("geometric_median", X, 3, pre=["nnm"])
    np.testing.assert_allclose(got, ref.geometric_median(ref.nnm(X, 3)[0], 3), rtol=1e-9)
    got = gars.aggregate("average", X, 3, pre=["nnm"])
    np.testing.assert_allclose(got, ref.nnm(X, 3)[0].mean(axis=0), rtol=1e-12)


def test_bucketing_then_rule_sees_the_bucket_means() -> None:
    """pre=[("bucketing", {"s": 2, "seed": 0})]: the rule runs on ceil(n/s) rows, same f."""
    X = _inputs("random", 10, 2, 30, 5)
    buckets = ref.bucketing(X, 2, s=2, seed=0)[0]
    assert buckets.shape == (5, 30)
    got = gars.aggregate("monna", X, 2, pre=[("bucketing", {"s": 2, "seed": 0})])
    np.testing.assert_allclose(got, ref.monna(buckets, 2), rtol=1e-12)


def test_requirement_is_checked_on_the_bucket_count() -> None:
    """median with n=10, s=2, f=3 sees 5 buckets and needs 5 >= 7."""
    with pytest.raises(
        RequirementError,
        match=r"^median needs n >= 2f\+1; got n=5 \(10 inputs after bucketing became 5\), f=3$",
    ):
        gars.aggregate("median", np.zeros((10, 3)), 3, pre=[("bucketing", {"s": 2, "seed": 0})])
    with pytest.raises(RequirementError, match=r"\(10 inputs after bucketing became 4\)"):
        gars.aggregate("mda", np.zeros((10, 3)), 2, pre=[("bucketing", {"s": 3})])


def test_chained_pre_aggregators_apply_in_order() -> None:
    """pre=["arc", "nnm"] is nnm(arc(X))."""
    X = _inputs("huge", 9, 2, 8, 6)
    got = gars.aggregate("average", X, 2, pre=["arc", "nnm"])
    want = ref.nnm(ref.arc(X, 2)[0], 2)[0].mean(axis=0)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    got = gars.aggregate("average", X, 2, pre=[("static_clipping", {"c": 0.5})])
    np.testing.assert_allclose(got, ref.static_clipping(X, 2, c=0.5)[0].mean(axis=0), rtol=1e-12)


def test_pre_requirement_and_unknown_parameters() -> None:
    """nnm needs n >= 2f+1 on its own input; unknown pre parameters are refused."""
    with pytest.raises(RequirementError, match=r"^nnm needs n >= 2f\+1; got n=6, f=3$"):
        gars.aggregate("average", np.zeros((6, 2)), 3, pre=["nnm"])
    with pytest.raises(InvalidArgument, match=r"^bucketing: unknown parameter 'size'; allowed "
                       r"parameters: s, seed$"):
        gars.aggregate("average", np.zeros((6, 2)), 1, pre=[("bucketing", {"size": 2})])


# ----------------------------------------------------------------------------------------------
# validation of the public functions


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda X: preagg.bucketing(X, 1, s=0), r"^bucketing: s must be >= 1; got s=0$"),
        (lambda X: preagg.bucketing(X, 1, s=1.5), r"^bucketing: s must be an integer; got s=1.5"),
        (
            lambda X: preagg.bucketing(X, 1, seed=-3),
            r"^bucketing: seed must be None, a non-negative int, a numpy SeedSequence or "
            r"Generator; got seed=-3 \(type=int\)$",
        ),
        (lambda X: preagg.static_clipping(X, c=0.0), r"^static_clipping: c must be > 0.0; got c=0"),
        (lambda X: preagg.static_clipping(X, c=-1.0), r"^static_clipping: c must be > 0.0; got c="),
        (lambda X: preagg.nnm(X, -1), r"^nnm: f must be >= 0; got f=-1$"),
        (lambda X: preagg.arc(X, 3), r"^arc needs n >= 2f\+1; got n=5, f=3$"),
        (lambda X: preagg.nnm(X[0], 1), r"^nnm: X must be 2-dimensional"),
        (lambda X: preagg.arc(X, 1, nonfinite="keep"), r"^arc: nonfinite must be one of 'drop'"),
    ],
)
def test_bad_arguments_are_refused(call, match: str) -> None:
    """Errors name the pre-aggregator, the argument, its value and the allowed range."""
    with pytest.raises(InvalidArgument, match=match):
        call(np.zeros((5, 2)))
    with pytest.raises(InvalidArgument, match=r"^static_clipping: c must be > 0.0; got c=0.0$"):
        gars.aggregate("average", np.zeros((5, 2)), 1, pre=[("static_clipping", {"c": 0.0})])


def test_nonfinite_rows_are_dropped_and_counted_against_f() -> None:
    """A NaN row is dropped (f - 1 for the requirement), or refused with nonfinite='raise'."""
    X = _inputs("random", 7, 2, 4, 7)
    X[2, 0] = np.nan
    out = preagg.nnm(X, 2)
    assert out.shape == (6, 4)
    np.testing.assert_allclose(out, ref.nnm(np.delete(X, 2, axis=0), 1)[0], rtol=1e-12)
    with pytest.raises(ByzantineAssumptionError, match=r"^nnm: 1 input row\(s\) contain NaN"):
        preagg.nnm(X, 2, nonfinite="raise")
    with pytest.raises(ByzantineAssumptionError, match=r"but f=0"):
        preagg.static_clipping(X, 0)


# ----------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_count_does_not_change_a_bit(dtype) -> None:
    """Fixed coordinate chunks: identical bits with 1 and 2 threads."""
    X = _inputs("duplicated", 9, 3, 5000, 8).astype(dtype)

    def run():
        return (preagg.nnm(X, 3), preagg.bucketing(X, 3, s=2, seed=1), preagg.arc(X, 3),
                preagg.static_clipping(X, c=10.0))

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run()
        numba.set_num_threads(max(2, before))
        two = run()
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
