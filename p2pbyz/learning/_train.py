r"""Evaluation on a held-out split and a tiny reference training loop (no Byzantine node, no network).

:func:`train_centralised` is single-worker (momentum) SGD,

.. math:: w_{t+1} = w_t - \gamma_t m_t, \qquad m_t = \beta m_{t-1} + (1-\beta) g_t,\ m_0 = g_0,

built from the same :class:`HonestWorker` the protocols use, so it is the attack-free, one-node
baseline the distributed runs are compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._random import Seed
from .._validation import check_choice, check_int
from ..errors import InvalidArgument
from ._checks import as_vector, streams
from ._datasets import Dataset
from ._models import Evaluation, Model
from ._schedules import as_schedule
from ._worker import HonestWorker

__all__ = ["evaluate", "TrainResult", "train_centralised"]


def _check_pair(model: Any, data: Any, owner: str) -> None:
    if not isinstance(model, Model):
        raise InvalidArgument(
            f"{owner}: model must be a p2pbyz.learning.Model; got {type(model).__name__}"
        )
    if not isinstance(data, Dataset):
        raise InvalidArgument(
            f"{owner}: data must be a p2pbyz.learning.Dataset; got {type(data).__name__}"
        )
    if (
        model.task != data.task
        or model.n_features != data.n_features
        or model.n_classes != data.n_classes
    ):
        raise InvalidArgument(
            f"{owner}: model {model.name!r} (task={model.task}, n_features={model.n_features}, "
            f"n_classes={model.n_classes}) does not fit dataset {data.name!r} (task={data.task}, "
            f"n_features={data.n_features}, n_classes={data.n_classes})"
        )


def evaluate(model: Model, w: Any, data: Dataset, split: str = "test") -> Evaluation:
    """Loss and accuracy of the parameters ``w`` on a split of ``data``.

    Parameters
    ----------
    model : Model
    w : array_like, shape (model.dim,)
    data : Dataset
    split : {"test", "train"}, default "test"
        The held-out split by default.

    Returns
    -------
    Evaluation
        ``loss`` (mean loss + L2 penalty), ``accuracy`` (``nan`` for regression), ``n_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> data = learning.load_dataset("wine", seed=0)
    >>> model = learning.make_model("softmax", data.n_features, data.n_classes)
    >>> ev = learning.evaluate(model, np.zeros(model.dim), data)
    >>> round(ev.loss, 6) == round(float(np.log(3)), 6), ev.n_samples
    (True, 36)
    """
    _check_pair(model, data, "evaluate")
    check_choice(split, "split", ("test", "train"), owner="evaluate")
    if split == "test":
        return model.evaluate(w, data.X_test, data.y_test)
    return model.evaluate(w, data.X_train, data.y_train)


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Outcome of :func:`train_centralised`.

    Attributes
    ----------
    w : numpy.ndarray, shape (dim,)
        Final parameters.
    losses : numpy.ndarray, shape (steps,)
        Mini-batch loss at each step (before the step's update).
    train, test : Evaluation
        Final loss and accuracy on the whole train and test splits.
    """

    w: np.ndarray
    losses: np.ndarray
    train: Evaluation
    test: Evaluation


def train_centralised(
    model: Model,
    data: Dataset,
    steps: int,
    lr: float | Callable[[int], float],
    batch: int | None = 32,
    seed: Seed = None,
    *,
    momentum: float = 0.0,
    w0: Any = None,
) -> TrainResult:
    r"""Train ``model`` on the whole training split with (momentum) SGD: the reference loop.

    Parameters
    ----------
    model : Model
    data : Dataset
        Must match the model (task, n_features, n_classes).
    steps : int
        Number of SGD steps, ``>= 1``.
    lr : float or callable
        Learning rate, or a schedule ``lr(t)`` (see :func:`make_schedule`).
    batch : int or None, default 32
        Mini-batch size; None = full batch (gradient descent).
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator, default None
        Drives the initialisation (unless ``w0`` is given) and the mini-batches, through two
        spawned streams.
    momentum : float, default 0.0
        Worker momentum :math:`\beta \in [0, 1)`.
    w0 : array_like, shape (dim,), optional
        Initial parameters (default ``model.init(...)``).

    Returns
    -------
    TrainResult

    Notes
    -----
    Cost :math:`O(\text{steps} \times \text{batch} \times \text{model cost per sample})`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> data = learning.load_dataset("breast_cancer", seed=0)
    >>> model = learning.make_model("logistic", data.n_features, data.n_classes)
    >>> res = learning.train_centralised(model, data, steps=300, lr=0.1, batch=32, seed=0)
    >>> res.test.accuracy > 0.93
    True
    """
    _check_pair(model, data, "train_centralised")
    steps = check_int(steps, "steps", minimum=1, owner="train_centralised")
    schedule = as_schedule(lr)
    init_rng, batch_rng = streams(seed, 2)
    w = (
        model.init(init_rng)
        if w0 is None
        else as_vector(w0, model.dim, name="w0", owner="train_centralised").copy()
    )
    worker = HonestWorker(
        model, data.X_train, data.y_train, batch_size=batch, momentum=momentum, seed=batch_rng
    )
    losses = np.empty(steps)
    for t in range(steps):
        m = worker.compute(w, t)
        losses[t] = worker.last_loss
        w -= float(schedule(t)) * m
    return TrainResult(
        w=w,
        losses=losses,
        train=model.evaluate(w, data.X_train, data.y_train),
        test=model.evaluate(w, data.X_test, data.y_test),
    )
