"""Learning workloads for the emulator, in plain numpy (float64, seeded, no global RNG).

- **Models** with analytic gradients on flat parameter vectors: :func:`models`, :func:`make_model`
  (``linear``, ``logistic``, ``softmax``, ``mlp``), all sharing the :class:`Model` interface
  (``dim``, ``init``, ``loss``, ``grad``, ``loss_and_grad``, ``predict``, ``accuracy``, ``evaluate``).
- **Datasets** needing no download: :func:`datasets`, :func:`load_dataset` -> frozen :class:`Dataset`.
- **Partitioning** among workers: :func:`partition` (``iid``, ``dirichlet``, ``extreme``),
  :func:`label_histogram`, :func:`label_skew`.
- **Training**: :class:`BatchSampler`, schedules (:func:`make_schedule`), :class:`HonestWorker`
  with RESAM momentum, :func:`make_workers` (with per-worker label flipping), :func:`evaluate`, and the
  reference loop :func:`train_centralised`.

Examples
--------
>>> from p2pbyz import learning
>>> data = learning.load_dataset("digits", seed=0)
>>> model = learning.make_model("softmax", data.n_features, data.n_classes)
>>> parts = learning.partition(data.y_train, 10, "dirichlet", alpha=0.5, seed=0)
>>> workers = learning.make_workers(model, data, parts, batch_size=32, momentum=0.9, seed=0)
>>> w = model.init(seed=0)
>>> vectors = [worker.compute(w, t=0) for worker in workers]   # what the workers send
>>> len(vectors), vectors[0].shape
(10, (650,))
"""

from __future__ import annotations

from ._datasets import Dataset as Dataset
from ._datasets import dataset_info as dataset_info
from ._datasets import datasets as datasets
from ._datasets import load_dataset as load_dataset
from ._datasets import standardize as standardize
from ._datasets import train_test_split as train_test_split
from ._models import MLP as MLP
from ._models import Evaluation as Evaluation
from ._models import LinearRegression as LinearRegression
from ._models import LogisticRegression as LogisticRegression
from ._models import Model as Model
from ._models import SoftmaxRegression as SoftmaxRegression
from ._models import make_model as make_model
from ._models import model_info as model_info
from ._models import models as models
from ._partition import label_histogram as label_histogram
from ._partition import label_skew as label_skew
from ._partition import partition as partition
from ._partition import partitions as partitions
from ._schedules import Constant as Constant
from ._schedules import Cosine as Cosine
from ._schedules import InverseSqrt as InverseSqrt
from ._schedules import Schedule as Schedule
from ._schedules import StepDecay as StepDecay
from ._schedules import as_schedule as as_schedule
from ._schedules import make_schedule as make_schedule
from ._schedules import schedules as schedules
from ._train import TrainResult as TrainResult
from ._train import evaluate as evaluate
from ._train import train_centralised as train_centralised
from ._worker import BatchSampler as BatchSampler
from ._worker import HonestWorker as HonestWorker
from ._worker import WorkerStatistics as WorkerStatistics
from ._worker import make_workers as make_workers

__all__ = [
    # models
    "Model",
    "Evaluation",
    "LinearRegression",
    "LogisticRegression",
    "SoftmaxRegression",
    "MLP",
    "models",
    "model_info",
    "make_model",
    # datasets
    "Dataset",
    "datasets",
    "dataset_info",
    "load_dataset",
    "train_test_split",
    "standardize",
    # partitioning
    "partitions",
    "partition",
    "label_histogram",
    "label_skew",
    # schedules
    "Schedule",
    "Constant",
    "InverseSqrt",
    "StepDecay",
    "Cosine",
    "schedules",
    "make_schedule",
    "as_schedule",
    # workers and training
    "BatchSampler",
    "HonestWorker",
    "WorkerStatistics",
    "make_workers",
    "evaluate",
    "TrainResult",
    "train_centralised",
]
