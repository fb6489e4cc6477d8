r"""Honest workers: a data shard, a seeded mini-batch sampler and RESAM worker momentum.

An honest worker answers "here is the model :math:`w_t`" with the vector it sends,

.. math::

    g_t = \nabla \ell(w_t; B_t), \qquad
    m_t = \beta\, m_{t-1} + (1 - \beta)\, g_t, \quad m_0 = g_0,

where :math:`B_t` is its next mini-batch and :math:`\beta \in [0, 1)` its momentum (β = 0 sends the
plain stochastic gradient). This is the distributed momentum of RESAM (Farhadkhani, Guerraoui,
Gupta, Pinot, Stephan, ICML 2022, THEORY.md §8.1); the server then steps
:math:`w_{t+1} = w_t - \gamma_t F(m_t^1, \dots, m_t^n)`.

A worker built with ``label_flip=True`` runs the honest algorithm on poisoned labels
:math:`y \mapsto C - 1 - y` (:func:`p2pbyz.attacks.flip_labels`): a data-level Byzantine attack
(it must be counted in f).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._random import Seed, as_generator
from .._validation import check_int, check_real
from ..errors import InvalidArgument
from ._checks import as_features, as_labels, as_targets, check_bool, streams
from ._datasets import Dataset
from ._models import Evaluation, Model

__all__ = [
    "BatchSampler",
    "WorkerStatistics",
    "HonestWorker",
    "make_workers",
]


class BatchSampler:
    """Seeded, endless stream of mini-batches of sample indices in ``range(n_samples)``.

    Without replacement (the default), each epoch is a fresh random permutation cut into
    consecutive batches of ``batch_size``; a last piece shorter than ``batch_size`` is skipped (a
    different one each epoch), so every batch has the same size and no index repeats within a
    batch. With replacement, each batch is ``batch_size`` independent uniform draws. A
    ``batch_size`` of None, or one ``>= n_samples`` without replacement, gives the full batch
    ``arange(n_samples)`` every time (deterministic gradient descent; no random draw).

    Parameters
    ----------
    n_samples : int
        Number of samples, ``>= 1``.
    batch_size : int or None, default None
        Batch size ``>= 1``; None means the full batch.
    replacement : bool, default False
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, default None

    Examples
    --------
    >>> from p2pbyz import learning
    >>> s = learning.BatchSampler(5, 2, seed=0)
    >>> [sorted(s.next().tolist()) for _ in range(3)]     # epoch 1: 2 batches, then epoch 2
    [[2, 4], [0, 3], [1, 4]]
    >>> s.epochs
    1
    """

    def __init__(
        self,
        n_samples: int,
        batch_size: int | None = None,
        *,
        replacement: bool = False,
        seed: Seed = None,
    ) -> None:
        own = "BatchSampler"
        self.n_samples = check_int(n_samples, "n_samples", minimum=1, owner=own)
        self.replacement = check_bool(replacement, "replacement", owner=own)
        if batch_size is None:
            b = self.n_samples
            self.full = True
        else:
            b = check_int(batch_size, "batch_size", minimum=1, owner=own)
            self.full = not self.replacement and b >= self.n_samples
            if self.full:
                b = self.n_samples
        self.batch_size = b
        self.rng = as_generator(seed)
        self.epochs = 0
        self._perm = np.empty(0, dtype=np.int64)
        self._pos = 0
        self._all = np.arange(self.n_samples, dtype=np.int64)

    def next(self) -> np.ndarray:
        """Return the next batch of indices (int64 array of length :attr:`batch_size`)."""
        if self.full:
            return self._all
        if self.replacement:
            return self.rng.integers(0, self.n_samples, size=self.batch_size, dtype=np.int64)
        if self._pos + self.batch_size > len(self._perm):
            if len(self._perm):
                self.epochs += 1
            self._perm = self.rng.permutation(self.n_samples)
            self._pos = 0
        out = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        return self.next()

    def __repr__(self) -> str:
        return (
            f"<BatchSampler n_samples={self.n_samples} batch_size={self.batch_size} "
            f"replacement={self.replacement} epochs={self.epochs}>"
        )


@dataclass(frozen=True)
class WorkerStatistics:
    """A snapshot of a worker's counters.

    Attributes
    ----------
    steps : int
        Vectors computed (calls to :meth:`HonestWorker.compute`).
    samples_seen : int
        Samples used in those gradients (with repetition).
    epochs : int
        Completed passes over the shard (sampling without replacement).
    last_round : int or None
        The ``t`` of the last :meth:`HonestWorker.compute`, None before the first.
    last_loss : float
        Mini-batch loss at the last computation (``nan`` before the first).
    """

    steps: int
    samples_seen: int
    epochs: int
    last_round: int | None
    last_loss: float


class HonestWorker:
    r"""An honest worker: its data shard, its sampler and its momentum buffer.

    :meth:`compute` is the only call a protocol needs: given the current model ``w`` it draws the
    next mini-batch, computes the gradient and returns the vector to send (the RESAM momentum
    :math:`m_t`, which is the gradient itself when β = 0). Subclass and override
    :meth:`stochastic_gradient` or :meth:`update_momentum` to script a different behaviour.

    Parameters
    ----------
    model : Model
    X : array_like, shape (m, n_features)
        The worker's shard (float64; kept without copy when it already is one).
    y : array_like, shape (m,)
    batch_size : int or None, default 32
        Mini-batch size; None = full shard (see :class:`BatchSampler`).
    momentum : float, default 0.0
        :math:`\beta \in [0, 1)`; 0 disables momentum.
    replacement : bool, default False
        Sample mini-batches with replacement.
    label_flip : bool, default False
        Poison the shard's labels (classification only): the worker is then Byzantine.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, default None
        Drives the mini-batch sampler.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> data = learning.load_dataset("wine", seed=0)
    >>> model = learning.make_model("softmax", data.n_features, data.n_classes)
    >>> worker = learning.HonestWorker(model, data.X_train, data.y_train, batch_size=16,
    ...                                momentum=0.9, seed=1)
    >>> w = model.init(seed=0)
    >>> m0 = worker.compute(w, 0)                     # m_0 = g_0
    >>> bool((m0 == worker.last_gradient).all())
    True
    >>> m1 = worker.compute(w, 1)                     # m_1 = 0.9 m_0 + 0.1 g_1
    >>> bool(abs(m1 - (0.9 * m0 + 0.1 * worker.last_gradient)).max() < 1e-15)
    True
    """

    def __init__(
        self,
        model: Model,
        X: Any,
        y: Any,
        *,
        batch_size: int | None = 32,
        momentum: float = 0.0,
        replacement: bool = False,
        label_flip: bool = False,
        seed: Seed = None,
    ) -> None:
        own = "HonestWorker"
        if not isinstance(model, Model):
            raise InvalidArgument(
                f"{own}: model must be a p2pbyz.learning.Model; got {type(model).__name__}"
            )
        self.model = model
        self.X = as_features(X, model.n_features, owner=own)
        m = self.X.shape[0]
        self.label_flip = check_bool(label_flip, "label_flip", owner=own)
        if model.task == "classification":
            self.y = as_labels(y, m, model.n_classes, owner=own)
            if self.label_flip:
                # The attack has one definition, in p2pbyz.attacks (imported lazily: the attacks
                # package pulls in the GAR kernels, which plain learning code does not need).
                from ..attacks import flip_labels

                self.y = flip_labels(self.y, model.n_classes)
        else:
            if self.label_flip:
                raise InvalidArgument(
                    f"{own}: label_flip needs a classification model; got model {model.name!r}"
                )
            self.y = as_targets(y, m, owner=own)
        self.momentum = check_real(momentum, "momentum", minimum=0.0, owner=own)
        if not self.momentum < 1.0:
            raise InvalidArgument(f"{own}: momentum must be < 1; got momentum={momentum!r}")
        self.sampler = BatchSampler(m, batch_size, replacement=replacement, seed=seed)
        self.reset()

    # ------------------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the momentum and the counters (the sampler's stream continues)."""
        self.momentum_buffer: np.ndarray | None = None
        self.last_gradient: np.ndarray | None = None
        self.last_loss = float("nan")
        self.last_round: int | None = None
        self.steps = 0
        self.samples_seen = 0

    @property
    def n_samples(self) -> int:
        """Size of the shard."""
        return int(self.X.shape[0])

    def statistics(self) -> WorkerStatistics:
        """A frozen snapshot of the counters."""
        return WorkerStatistics(
            steps=self.steps,
            samples_seen=self.samples_seen,
            epochs=self.sampler.epochs,
            last_round=self.last_round,
            last_loss=self.last_loss,
        )

    # ------------------------------------------------------------------------------ behaviour
    def stochastic_gradient(self, w: Any) -> np.ndarray:
        """Draw the next mini-batch and return the gradient on it (records loss and counters)."""
        idx = self.sampler.next()
        if self.sampler.full:  # no gather copy for full-batch gradient descent
            loss, g = self.model.loss_and_grad(w, self.X, self.y)
        else:
            loss, g = self.model.loss_and_grad(w, self.X[idx], self.y[idx])
        self.last_loss = loss
        self.last_gradient = g
        self.samples_seen += len(idx)
        return g

    def update_momentum(self, g: np.ndarray) -> np.ndarray:
        r"""Fold ``g`` into the momentum: :math:`m \leftarrow \beta m + (1-\beta) g` (:math:`m_0 = g_0`)."""
        if self.momentum_buffer is None or self.momentum == 0.0:
            m = np.array(g, dtype=np.float64, copy=True)
        else:
            m = self.momentum * self.momentum_buffer
            m += (1.0 - self.momentum) * g
        self.momentum_buffer = m
        return m

    def compute(self, w: Any, t: int) -> np.ndarray:
        """The vector this worker sends for model ``w`` at round ``t``: a new float64 ``(dim,)`` array.

        Parameters
        ----------
        w : array_like, shape (dim,)
            The current model.
        t : int
            Round index, ``>= 0`` (recorded in :meth:`statistics`; the momentum recursion counts
            the worker's own computations, so a worker that skips rounds keeps its momentum).
        """
        t = check_int(t, "t", minimum=0, owner="HonestWorker.compute")
        m = self.update_momentum(self.stochastic_gradient(w))
        self.steps += 1
        self.last_round = t
        return m.copy()

    def evaluate(self, w: Any) -> Evaluation:
        """Loss and accuracy of ``w`` on the worker's whole shard (its own, possibly flipped, labels)."""
        return self.model.evaluate(w, self.X, self.y)

    def __repr__(self) -> str:
        return (
            f"<HonestWorker model={self.model.name} n_samples={self.n_samples} "
            f"batch_size={self.sampler.batch_size} momentum={self.momentum} "
            f"label_flip={self.label_flip} steps={self.steps}>"
        )


def make_workers(
    model: Model,
    data: Dataset,
    parts: Iterable[Any],
    *,
    batch_size: int | None = 32,
    momentum: float = 0.0,
    replacement: bool = False,
    label_flip: Iterable[int] = (),
    seed: Seed = None,
) -> list[HonestWorker]:
    """One :class:`HonestWorker` per index array of ``parts`` (from :func:`partition`).

    Worker i's sampler gets the i-th independent stream spawned from ``seed``.

    Parameters
    ----------
    model : Model
    data : Dataset
        Its training split is shared out.
    parts : iterable of int arrays
        Indices into ``data.X_train`` for each worker.
    batch_size, momentum, replacement
        As in :class:`HonestWorker`, the same for all workers.
    label_flip : iterable of int, default ()
        Indices of the workers whose labels are flipped (data-level Byzantine workers).
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, default None

    Returns
    -------
    list of HonestWorker

    Examples
    --------
    >>> from p2pbyz import learning
    >>> data = learning.load_dataset("digits", seed=0)
    >>> model = learning.make_model("softmax", data.n_features, data.n_classes)
    >>> parts = learning.partition(data.y_train, 5, "dirichlet", alpha=0.1, seed=0)
    >>> workers = learning.make_workers(model, data, parts, label_flip=[4], seed=0)
    >>> [w.label_flip for w in workers]
    [False, False, False, False, True]
    """
    parts = [np.asarray(p, dtype=np.int64) for p in parts]
    n = len(parts)
    flips = {
        check_int(i, "label_flip", minimum=0, maximum=n - 1, owner="make_workers")
        for i in label_flip
    }
    rngs = streams(seed, n)
    return [
        HonestWorker(
            model,
            data.X_train[p],
            data.y_train[p],
            batch_size=batch_size,
            momentum=momentum,
            replacement=replacement,
            label_flip=i in flips,
            seed=rngs[i],
        )
        for i, p in enumerate(parts)
    ]
