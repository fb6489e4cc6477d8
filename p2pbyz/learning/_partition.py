r"""Split a training set among n workers: iid, Dirichlet label skew, or extreme (a class per worker).

Every scheme returns one sorted int64 index array per worker; together they hold every sample
exactly once and every worker gets at least one sample. :func:`label_histogram` and
:func:`label_skew` measure how much the split changes the data each worker sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._random import Seed, as_generator
from .._validation import check_int, check_real
from ..errors import InvalidArgument

__all__ = ["partitions", "partition", "label_histogram", "label_skew"]

_SCHEMES: dict[str, dict[str, Any]] = {
    "iid": {},
    "dirichlet": {"alpha": 0.5},
    "extreme": {"classes_per_worker": 1},
}


def partitions() -> tuple[str, ...]:
    """Names of the partitioning schemes, for :func:`partition`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.partitions()
    ('iid', 'dirichlet', 'extreme')
    """
    return tuple(_SCHEMES)


def _labels(y: Any, scheme: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InvalidArgument(
            f"partition: y must be 1-dimensional (one label per sample); got shape={arr.shape}"
        )
    if scheme == "iid":
        return arr
    if arr.dtype.kind not in "iu" and not (
        arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr))
    ):
        raise InvalidArgument(
            f"partition: scheme={scheme!r} needs integer class labels; got dtype={arr.dtype} "
            f"(regression targets can only be split with scheme='iid')"
        )
    return arr.astype(np.int64)


def partition(
    y: Any, n_workers: int, scheme: str = "iid", *, seed: Seed = None, **params: Any
) -> tuple[np.ndarray, ...]:
    r"""Split the samples ``range(len(y))`` among ``n_workers`` workers.

    Schemes
    -------
    ``iid``
        Shuffle, then cut into ``n_workers`` parts whose sizes differ by at most one.
    ``dirichlet`` (``alpha`` > 0, default 0.5)
        Label skew (Hsu, Qi & Brown 2019): for each class :math:`c`, draw
        :math:`p_c \sim \mathrm{Dir}(\alpha \mathbf 1_n)` and give worker :math:`i` a share
        :math:`p_{c,i}` of that class's (shuffled) samples. Small :math:`\alpha` (0.1) gives workers
        that see almost one class; large :math:`\alpha` (100) approaches iid. A worker left empty
        receives one random sample of the currently largest worker (repeated until none is empty).
    ``extreme`` (``classes_per_worker`` = k, default 1)
        Pathological non-iid: the classes, in a seeded random order, are dealt cyclically to the
        workers' k slots each (worker i holds classes ``order[(i*k + j) % C]``, j < k); classes that
        no slot received (when ``n*k < C``) go round-robin to the workers as extra classes. Each
        class's samples are split evenly among its holders. With ``n >= C`` and k = 1 every worker
        sees exactly one class. Raises if a worker would get no sample (a class with fewer samples
        than holders).

    Parameters
    ----------
    y : array_like, shape (m,)
        Labels of the samples (any values for ``iid``; integer classes for the other schemes).
    n_workers : int
        Number of workers, ``1 <= n_workers <= m``.
    scheme : {"iid", "dirichlet", "extreme"}, default "iid"
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, default None
    **params
        ``alpha`` (dirichlet) or ``classes_per_worker`` (extreme, ``1 <= k <= C``).

    Returns
    -------
    tuple of numpy.ndarray
        ``n_workers`` sorted int64 index arrays, disjoint, covering ``range(m)``, none empty.

    Notes
    -----
    Cost :math:`O(m \log m + n C)`.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> y = np.repeat(np.arange(4), 5)                    # 4 classes, 5 samples each
    >>> parts = learning.partition(y, 4, "extreme", seed=0)
    >>> [np.unique(y[p]).size for p in parts]             # one class per worker
    [1, 1, 1, 1]
    >>> sorted(np.concatenate(parts).tolist()) == list(range(20))
    True
    >>> [len(p) for p in learning.partition(y, 3, "iid", seed=0)]
    [7, 7, 6]
    """
    if not isinstance(scheme, str) or scheme not in _SCHEMES:
        raise InvalidArgument(
            f"partition: unknown scheme {scheme!r}; known schemes: {', '.join(_SCHEMES)}"
        )
    allowed = _SCHEMES[scheme]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InvalidArgument(
            f"partition: scheme {scheme!r} takes no parameter {unknown[0]!r}; allowed parameters: "
            f"{', '.join(allowed) if allowed else '(none)'}"
        )
    p = {**allowed, **params}
    y = _labels(y, scheme)
    m = len(y)
    n = check_int(n_workers, "n_workers", minimum=1, owner="partition")
    if n > m:
        raise InvalidArgument(
            f"partition: n_workers must be <= the number of samples ({m}); got n_workers={n}"
        )
    rng = as_generator(seed)
    if scheme == "iid":
        parts = np.array_split(rng.permutation(m), n)
    elif scheme == "dirichlet":
        alpha = check_real(p["alpha"], "alpha", minimum=0.0, strict_min=True, owner="partition")
        parts = _dirichlet(y, n, alpha, rng)
    else:
        parts = _extreme(y, n, p["classes_per_worker"], rng)
    return tuple(np.sort(np.asarray(q, dtype=np.int64)) for q in parts)


def _dirichlet(y: np.ndarray, n: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    buckets: list[list[np.ndarray]] = [[] for _ in range(n)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        share = rng.dirichlet(np.full(n, alpha))
        # Cut points from the cumulative shares; the last cut is len(idx) exactly.
        cuts = np.floor(np.cumsum(share)[:-1] * len(idx)).astype(np.int64)
        for i, piece in enumerate(np.split(idx, cuts)):
            buckets[i].append(piece)
    parts = [np.concatenate(b) for b in buckets]
    while True:
        sizes = np.array([len(q) for q in parts])
        empty = np.flatnonzero(sizes == 0)
        if empty.size == 0:
            return parts
        donor = int(np.argmax(sizes))  # ties: smallest index
        k = int(rng.integers(sizes[donor]))
        parts[int(empty[0])] = parts[donor][k : k + 1]
        parts[donor] = np.delete(parts[donor], k)


def _extreme(y: np.ndarray, n: int, k: Any, rng: np.random.Generator) -> list[np.ndarray]:
    classes = np.unique(y)
    C = len(classes)
    k = check_int(k, "classes_per_worker", minimum=1, maximum=C, owner="partition")
    order = classes[rng.permutation(C)]
    holders: dict[int, list[int]] = {int(c): [] for c in classes}
    for i in range(n):
        for j in range(k):
            holders[int(order[(i * k + j) % C])].append(i)
    for s, c in enumerate(order[n * k :] if n * k < C else ()):
        holders[int(c)].append(s % n)
    buckets: list[list[np.ndarray]] = [[] for _ in range(n)]
    for c in classes:
        idx = rng.permutation(np.flatnonzero(y == c))
        for worker, piece in zip(holders[int(c)], np.array_split(idx, len(holders[int(c)]))):
            buckets[worker].append(piece)
    parts = [np.concatenate(b) if b else np.empty(0, dtype=np.int64) for b in buckets]
    empty = [i for i, q in enumerate(parts) if len(q) == 0]
    if empty:
        raise InvalidArgument(
            f"partition: scheme 'extreme' leaves worker {empty[0]} without samples (n_workers={n}, "
            f"classes_per_worker={k}, smallest class has {int(np.bincount(np.searchsorted(classes, y)).min())} "
            f"samples); use fewer workers or more classes_per_worker"
        )
    return parts


def label_histogram(y: Any, parts: Any, n_classes: int) -> np.ndarray:
    """Count the labels each worker holds: an int64 array of shape ``(n_workers, n_classes)``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> learning.label_histogram(np.array([0, 1, 1, 2]), [np.array([0, 1]), np.array([2, 3])], 3).tolist()
    [[1, 1, 0], [0, 1, 1]]
    """
    y = np.asarray(y, dtype=np.int64)
    n_classes = check_int(n_classes, "n_classes", minimum=1, owner="label_histogram")
    return np.stack(
        [
            np.bincount(y[np.asarray(q, dtype=np.int64)], minlength=n_classes)[:n_classes]
            for q in parts
        ]
    )


def label_skew(y: Any, parts: Any, n_classes: int) -> float:
    r"""Mean total-variation distance between each worker's label distribution and the global one.

    .. math:: \frac{1}{n} \sum_{i=1}^n \tfrac12 \lVert \hat p_i - \hat p \rVert_1 \in [0, 1]

    Near 0 for an iid split; near :math:`1 - 1/C` for one class per worker with balanced classes.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> y = np.repeat(np.arange(4), 50)
    >>> round(learning.label_skew(y, learning.partition(y, 4, "extreme", seed=0), 4), 3)
    0.75
    """
    h = label_histogram(y, parts, n_classes).astype(np.float64)
    local = h / h.sum(axis=1, keepdims=True)
    glob = h.sum(axis=0) / h.sum()
    return float(np.mean(0.5 * np.abs(local - glob).sum(axis=1)))
