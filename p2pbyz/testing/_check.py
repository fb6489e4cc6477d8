"""``check_gar``: a property suite users can run on their own aggregation rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ..errors import InvalidArgument
from ._strategies import byzantine_sets

__all__ = ["check_gar", "CHECKS"]

#: The properties :func:`check_gar` knows how to check (the keys of GarSpec.properties that apply).
CHECKS = (
    "shape",
    "permutation_invariant",
    "translation_equivariant",
    "honest_value_exact",
    "coordinatewise_honest_range",
    "bounded_under_attack",
    "selects_input",
)

_GENERIC_SHAPES = ("far_cluster", "near_mean", "random", "opposite")


def _tol(dtype: np.dtype, rtol32: float, rtol64: float) -> float:
    return rtol32 if np.dtype(dtype) == np.float32 else rtol64


def _close(a: np.ndarray, b: np.ndarray, scale: float, tol: float) -> bool:
    return bool(np.all(np.abs(a.astype(np.float64) - b.astype(np.float64)) <= tol * (1.0 + scale)))


def check_gar(
    fn: Callable[..., Any] | str,
    *,
    requires: Callable[[int, int], bool] | None = None,
    properties: Iterable[str] | None = None,
    max_examples: int | None = None,
    rtol32: float = 2e-4,
    rtol64: float = 1e-7,
    max_f: int = 3,
    max_d: int = 6,
    **params: Any,
) -> None:
    """Fuzz an aggregation rule with hypothesis and assert the properties it claims.

    Parameters
    ----------
    fn : callable or str
        ``fn(X, f) -> (d,) array``, or the name of a registered rule (then ``requires`` and
        ``properties`` default to the registry's, and ``params`` are passed to the rule).
    requires : callable, optional
        Predicate on (n, f) that generated inputs satisfy; default ``n >= 2f + 1``.
    properties : iterable of str, optional
        Which of :data:`CHECKS` to assert; ``"shape"`` (output of shape (d,), finite) is always
        checked. Default for a callable: only ``"shape"`` and ``"permutation_invariant"``.
    max_examples : int, optional
        Examples per property (default: the active hypothesis profile's).
    rtol32, rtol64 : float
        Relative tolerances for float32 and float64 comparisons.
    max_f, max_d : int
        Largest f and dimension generated.
    **params
        Extra keyword arguments passed to ``fn``.

    Raises
    ------
    AssertionError
        With hypothesis's falsifying example, when a property fails.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz.testing import check_gar
    >>> def my_median(X, f):
    ...     return np.median(X, axis=0)
    >>> check_gar(my_median, properties=["permutation_invariant", "coordinatewise_honest_range"],
    ...           max_examples=20)
    """
    if isinstance(fn, str):
        from .. import gars

        spec = gars.spec(fn)
        name = spec.name
        requires = requires or spec.requires
        if properties is None:
            properties = set(spec.properties) & set(CHECKS)

        def call(X: np.ndarray, f: int) -> np.ndarray:
            return np.asarray(gars.aggregate(name, X, f, **params))
    else:
        if not callable(fn):
            raise InvalidArgument(f"check_gar: fn must be callable or a rule name; got fn={fn!r}")
        name = getattr(fn, "__name__", repr(fn))
        requires = requires or (lambda n, f: n >= 2 * f + 1)
        if properties is None:
            properties = {"permutation_invariant"}

        def call(X: np.ndarray, f: int) -> np.ndarray:
            return np.asarray(fn(X, f, **params))

    props = set(properties) | {"shape"}
    unknown = props - set(CHECKS)
    if unknown:
        raise InvalidArgument(
            f"check_gar: unknown properties {sorted(unknown)}; known: {', '.join(CHECKS)}"
        )
    cfg = settings() if max_examples is None else settings(max_examples=max_examples)
    f_st = st.integers(0, max_f)
    d_st = st.integers(1, max_d)

    def sets(**kw: Any) -> st.SearchStrategy:
        return byzantine_sets(requires=requires, f=f_st, d=d_st, **kw)

    checks: list[Callable[[], None]] = []

    @cfg
    @given(sets())
    def check_shape(b):
        out = call(b.X, b.f)
        assert out.shape == (b.d,), f"{name}: output shape {out.shape}, expected ({b.d},)"
        assert np.all(np.isfinite(out)), f"{name}: non-finite output {out} on finite input"

    checks.append(check_shape)

    # Generic inputs (continuous draws, n >= 3) for the invariances: exact ties between scores
    # can only be broken by the row index, and no rule is invariant there.

    if "permutation_invariant" in props:

        # n >= 3: with two rows, rules that pick "the row closest to the midpoint" face an exact
        # structural tie that only the row index can break (Aksel with n = 2, say).
        @cfg
        @given(sets(shapes=_GENERIC_SHAPES, min_n=3), st.randoms(use_true_random=False))
        def check_permutation(b, rnd):
            perm = list(range(b.n))
            rnd.shuffle(perm)
            a = call(b.X, b.f)
            p = call(np.ascontiguousarray(b.X[perm]), b.f)
            scale = float(np.abs(b.X[b.honest]).max()) if b.honest.size else 1.0
            assert _close(a, p, scale, _tol(b.X.dtype, rtol32, rtol64)), (
                f"{name}: not permutation invariant: {a} vs {p} (permutation {perm})"
            )

        checks.append(check_permutation)

    if "translation_equivariant" in props:

        @cfg
        @given(sets(shapes=_GENERIC_SHAPES, min_n=3), st.integers(0, 2**32 - 1))
        def check_translation(b, seed):
            c = np.random.default_rng(seed).normal(0.0, 10.0, size=b.d).astype(b.X.dtype)
            a = call(b.X, b.f)
            t = call(np.ascontiguousarray(b.X + c), b.f)
            scale = float(np.abs(b.X).max() + np.abs(c).max())
            assert _close(t - c, a, scale, _tol(b.X.dtype, rtol32, rtol64) * 10), (
                f"{name}: not translation equivariant: F(X+c)-c={t - c} vs F(X)={a}"
            )

        checks.append(check_translation)

    if "honest_value_exact" in props:

        @cfg
        @given(sets(full=True))
        def check_honest_value(b):
            v = b.X[b.honest[0]].copy() if b.honest.size else np.zeros(b.d, b.X.dtype)
            X = b.X.copy()
            X[b.honest] = v
            out = call(X, b.f)
            assert _close(out, v, float(np.abs(v).max()), _tol(X.dtype, rtol32, rtol64) * 10), (
                f"{name}: {b.n - b.byzantine.size} honest rows equal {v} but the output is {out}"
            )

        checks.append(check_honest_value)

    if "coordinatewise_honest_range" in props:

        @cfg
        @given(sets())
        def check_range(b):
            out = call(b.X, b.f).astype(np.float64)
            H = b.X[b.honest].astype(np.float64)
            lo, hi = H.min(axis=0), H.max(axis=0)
            slack = _tol(b.X.dtype, rtol32, rtol64) * (1.0 + np.abs(H).max())
            assert np.all(out >= lo - slack) and np.all(out <= hi + slack), (
                f"{name}: output {out} leaves the honest coordinate range [{lo}, {hi}]"
            )

        checks.append(check_range)

    if "bounded_under_attack" in props:

        @cfg
        @given(sets(shapes=("huge",), full=True))
        def check_bounded(b):
            out = call(b.X, b.f).astype(np.float64)
            H = b.X[b.honest].astype(np.float64)
            bound = 1e3 * (1.0 + np.abs(H).max())
            assert np.all(np.abs(out) <= bound), (
                f"{name}: output {out} is unbounded with {b.byzantine.size} rows at +-1e30"
            )

        checks.append(check_bounded)

    if "selects_input" in props:

        @cfg
        @given(sets())
        def check_selects(b):
            out = call(b.X, b.f)
            assert any(np.array_equal(out, row) for row in b.X), (
                f"{name}: output {out} is not one of the input rows"
            )

        checks.append(check_selects)

    for check in checks:
        check()
