"""The one wrapper every rule goes through: validate, convert, handle non-finite rows, apply the
pre-aggregators, dispatch to the CPU kernel or the CUDA target. It is the only place that raises."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numba
import numpy as np

from .. import config
from .._validation import as_gradients, check_choice, check_int
from ..errors import ByzantineAssumptionError, InvalidArgument
from ..preagg import _registry as pre_registry
from . import _registry
from ._common import NonFiniteInput, nonfinite_rows

__all__ = [
    "run", "aggregate", "normalize_pre", "check_call", "drop_nonfinite", "threads_for", "register_rule",
]

TARGETS = ("cpu", "cuda")
NONFINITE = ("drop", "raise")

PreList = Sequence[tuple[pre_registry.PreSpec, dict[str, Any]]]


def normalize_pre(pre: Any, owner: str) -> list[tuple[pre_registry.PreSpec, dict[str, Any]]]:
    """Turn ``pre`` (a name, a ``(name, params)`` pair, or a sequence of those) into specs + params."""
    if pre is None:
        return []
    if isinstance(pre, str) or (
        isinstance(pre, tuple) and len(pre) == 2 and isinstance(pre[0], str) and isinstance(pre[1], Mapping)
    ):
        pre = [pre]
    if not isinstance(pre, Iterable):
        raise InvalidArgument(
            f"{owner}: pre must be a sequence of pre-aggregator names or (name, params) pairs; got pre={pre!r}"
        )
    out = []
    for item in pre:
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, Mapping) and "name" in item:
            params = {k: v for k, v in item.items() if k != "name"}
            name = item["name"]
        elif (
            isinstance(item, tuple | list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Mapping)
        ):
            name, params = item[0], dict(item[1])
        else:
            raise InvalidArgument(
                f"{owner}: each pre entry must be a name or a (name, params) pair; got {item!r}"
            )
        if name not in pre_registry.names():
            known = ", ".join(pre_registry.names())
            raise InvalidArgument(
                f"{owner}: unknown pre-aggregator {name!r}; known pre-aggregators: {known}"
            )
        pspec = pre_registry.spec(name)
        unknown = sorted(set(params) - set(pspec.params))
        if unknown:
            allowed = ", ".join(pspec.params) or "none"
            raise InvalidArgument(
                f"{pspec.name}: unknown parameter {unknown[0]!r}; allowed parameters: {allowed}"
            )
        out.append((pspec, dict(params)))
    return out


def check_call(
    spec: _registry.GarSpec,
    n: int,
    f: int,
    pre: PreList,
    params: Mapping[str, Any],
) -> None:
    """Check (n, f), the pre-aggregators' requirements and the rule's parameters, without data."""
    context = []
    n_cur = n
    for pspec, pparams in pre:
        if not pspec.requires(n_cur, f):
            raise _registry_requirement_error(pspec.name, pspec.requirement, n_cur, f)
        if pspec.check is not None:
            pspec.check(n_cur, f, **pparams)
        n_next = pspec.n_out(n_cur, **pparams)
        if n_next != n_cur:
            context.append(f"{n_cur} inputs after {pspec.name} became {n_next}")
        n_cur = n_next
    spec.check_requirement(n_cur, f, "; ".join(context))
    if spec.check is not None:
        spec.check(n_cur, f, **params)


def _registry_requirement_error(name: str, requirement: str, n: int, f: int) -> Exception:
    from ..errors import RequirementError

    return RequirementError(f"{name} needs {requirement}; got n={n}, f={f}")


def drop_nonfinite(
    X: np.ndarray, f: int, nonfinite: str, owner: str
) -> tuple[np.ndarray, int, np.ndarray]:
    """Apply the non-finite policy: return (rows kept, new f, indices of the rows dropped)."""
    bad = nonfinite_rows(X)
    if not bad.any():
        return X, f, np.empty(0, dtype=np.int64)
    idx = np.flatnonzero(bad)
    shown = ", ".join(str(i) for i in idx[:10]) + (", ..." if idx.size > 10 else "")
    if nonfinite == "raise":
        raise ByzantineAssumptionError(
            f"{owner}: {idx.size} input row(s) contain NaN or infinity (rows {shown}) and "
            f"nonfinite='raise'"
        )
    if idx.size > f:
        raise ByzantineAssumptionError(
            f"{owner}: {idx.size} input row(s) contain NaN or infinity (rows {shown}) but f={f}: "
            f"more Byzantine inputs than declared, so no result can be trusted"
        )
    return np.ascontiguousarray(X[~bad]), f - idx.size, idx


def _check_common(
    spec: _registry.GarSpec, f: Any, nonfinite: Any, target: Any, params: Mapping[str, Any]
) -> int:
    f = check_int(f, "f", minimum=0, owner=spec.name)
    check_choice(nonfinite, "nonfinite", NONFINITE, owner=spec.name)
    check_choice(target, "target", TARGETS, owner=spec.name)
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        raise InvalidArgument(
            f"{spec.name}: unknown parameter {unknown[0]!r}; allowed parameters: {allowed}"
        )
    return f


def run(
    name: str,
    X: Any,
    f: Any,
    *,
    pre: Any = (),
    nonfinite: str = "drop",
    target: str = "cpu",
    **params: Any,
) -> Any:
    """Validate and run rule ``name``; see :func:`aggregate`."""
    spec = _registry.spec(name)
    f = _check_common(spec, f, nonfinite, target, params)
    pre_list = normalize_pre(pre, spec.name)
    if target == "cuda":
        from . import cuda as _cuda  # imported lazily: numba-cuda is an optional extra

        return _cuda.run(spec, X, f, pre=pre_list, nonfinite=nonfinite, params=params)
    X = as_gradients(X, owner=spec.name)
    n = X.shape[0]
    check_call(spec, n, f, pre_list, params)
    with threads_for(X.size):
        if (spec.nonfinite_propagates or spec.detects_nonfinite) and not pre_list:
            # Optimistic: a rule that checks its own input, or a finite output of a rule through
            # which any NaN/inf propagates, proves every row finite (see GarSpec), so the scan for
            # NaN/inf rows (one more read of X) only runs when it must.
            try:
                out = apply_cpu(spec, X, f, pre_list, params)
            except NonFiniteInput:
                pass
            else:
                if spec.detects_nonfinite or np.isfinite(out).all():
                    return out
        X, f, dropped = drop_nonfinite(X, f, nonfinite, spec.name)
        if dropped.size:
            check_call(spec, X.shape[0], f, pre_list, params)
        return apply_cpu(spec, X, f, pre_list, params)


def _switch_pays() -> bool:
    """Whether :func:`threads_for` should drop to one thread: under the ``workqueue`` layer, or
    before any parallel kernel has run (the layer is not chosen yet)."""
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:
        return True


@contextlib.contextmanager
def threads_for(size: int) -> Iterator[None]:
    """Run small inputs (fewer than ``config.CPU_PARALLEL_MIN_SIZE`` numbers) on one numba thread
    under numba's ``workqueue`` threading layer.

    Results do not depend on the thread count (every kernel reduces in fixed chunks), so this only
    changes speed. Under ``workqueue`` (numba's fallback where no OpenMP or TBB library is found)
    every parallel launch wakes the pool, 150-200 us at (10, 100) on 2 cores. Under OpenMP the
    launch costs a few us at any thread count, two threads already beat one from about 4e4
    numbers (median, Krum, trimmed mean at (10, 4000): 0.7-0.8x), and switching the count
    costs 5-15 us a call, so the count is left alone there.
    """
    before = numba.get_num_threads()
    if size >= config.CPU_PARALLEL_MIN_SIZE or before == 1 or not _switch_pays():
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def register_rule(
    name: str,
    fn: Any,
    *,
    requires: Any = None,
    requirement: str = "n >= 2f+1",
    complexity: str = "O(?)",
    paper: str = "user-defined rule",
    properties: Iterable[str] = (),
    theory: Mapping[str, Any] | None = None,
) -> _registry.GarSpec:
    """Register a user rule so that every part of p2pbyz can use it by name.

    Parameters
    ----------
    name : str
        The registry name (replaces a rule of the same name).
    fn : callable
        ``fn(X, f, **params) -> (d,) array``: it receives validated, finite, C-contiguous float32
        or float64 input (non-finite rows already dropped and counted against f); its
        keyword-only parameters become the rule's parameters.
    requires : callable, optional
        ``requires(n, f) -> bool``; default ``n >= 2f + 1``. Checked on every call.
    requirement : str
        The same requirement as text, used in error messages.
    complexity, paper : str
        Shown by ``p2pbyz list rules``.
    properties : iterable of str
        Properties the rule guarantees (see :data:`p2pbyz.gars.PROPERTIES`); check them with
        :func:`p2pbyz.testing.check_gar`.
    theory : mapping, optional
        Hooks for ``proofs_check`` (e.g. ``{"eta": callable}``).

    Returns
    -------
    GarSpec

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import gars
    >>> def coordinate_min_max_mid(X, f):
    ...     return 0.5 * (np.sort(X, axis=0)[f] + np.sort(X, axis=0)[-f - 1])
    >>> _ = gars.register_rule("midrange", coordinate_min_max_mid)
    >>> gars.aggregate("midrange", np.array([[0.0], [1.0], [2.0], [100.0], [4.0]]), f=1)
    array([2.5])
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise InvalidArgument(f"register_rule: name must be an identifier; got name={name!r}")
    if not callable(fn):
        raise InvalidArgument(f"register_rule: fn must be callable; got fn={fn!r}")
    req = requires if requires is not None else (lambda n, f: n >= 2 * f + 1)

    def public(X: Any, f: Any, *, pre: Any = (), nonfinite: str = "drop", target: str = "cpu",
               **params: Any) -> Any:
        return run(name, X, f, pre=pre, nonfinite=nonfinite, target=target, **params)

    public.__name__ = name
    public.__doc__ = getattr(fn, "__doc__", None)
    spec = _registry.GarSpec(
        name=name, public=public, impl=fn, reference=fn, requirement=requirement, requires=req,
        complexity=complexity, paper=paper, properties=frozenset(properties),
        theory=dict(theory or {}),
    )
    return _registry.register(spec)


def apply_cpu(
    spec: _registry.GarSpec, X: np.ndarray, f: int, pre: PreList, params: Mapping[str, Any]
) -> np.ndarray:
    """Run the pre-aggregators then the rule's CPU kernel on validated, finite input."""
    dtype = X.dtype
    for pspec, pparams in pre:
        X, f = pspec.impl(X, f, **pparams)
        X = np.ascontiguousarray(X, dtype=dtype)
    try:
        out = spec.impl(X, f, **params)
    except NonFiniteInput:
        if not pre:
            raise  # run() applies the non-finite policy
        # finite inputs whose pre-aggregated vectors overflowed (means of values near the
        # dtype's maximum): no input row to drop, so say what happened
        names = ", ".join(p.name for p, _ in pre)
        raise InvalidArgument(
            f"{spec.name}: the vectors out of pre-aggregation ({names}) hold NaN or inf "
            f"(overflow in {dtype}); scale the inputs down"
        ) from None
    return np.asarray(out, dtype=dtype)


def aggregate(
    name: str,
    X: Any,
    f: int,
    *,
    pre: Any = (),
    target: str = "cpu",
    nonfinite: str = "drop",
    **params: Any,
) -> Any:
    """Aggregate the rows of ``X`` with the rule called ``name``.

    Parameters
    ----------
    name : str
        A registered rule (see :func:`p2pbyz.gars.names`).
    X : array_like, shape (n, d)
        The n input vectors, float32 or float64. Host arrays give a numpy array back; with
        ``target="cuda"``, device arrays (numba, CuPy, torch) give a device array back.
    f : int
        The number of Byzantine inputs to tolerate.
    pre : sequence, optional
        Pre-aggregators applied in order before the rule: names (``"nnm"``) or
        ``(name, params)`` pairs (``("bucketing", {"s": 2, "seed": 0})``).
    target : {"cpu", "cuda"}
        Where to compute.
    nonfinite : {"drop", "raise"}
        Policy for rows holding NaN or infinity, which only a Byzantine node sends. ``"drop"``
        removes them and counts them against f (more than f such rows is an error);
        ``"raise"`` refuses the input.
    **params
        The rule's own parameters (see its function's docstring).

    Returns
    -------
    ndarray, shape (d,)
        The aggregate, in the dtype of ``X``.

    Raises
    ------
    InvalidArgument
        Unknown rule or parameter, bad shape or dtype, negative f, ...
    RequirementError
        (n, f) violates the rule's requirement, e.g. ``bulyan needs n >= 4f+3; got n=10, f=3``.
    ByzantineAssumptionError
        More than f rows are non-finite.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import gars
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [100.0, -100.0], [1.0, 2.0]])
    >>> gars.aggregate("median", X, f=1)
    array([1., 1.])
    """
    return run(name, X, f, pre=pre, nonfinite=nonfinite, target=target, **params)
