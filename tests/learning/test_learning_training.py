"""Samplers, schedules, honest workers (RESAM momentum, label flipping), evaluation, reference loop."""

from __future__ import annotations

import doctest
import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import learning
from p2pbyz.attacks import flip_labels
from p2pbyz.errors import InvalidArgument
from p2pbyz.learning import _datasets, _models, _partition, _schedules, _train, _worker


@pytest.fixture(scope="module")
def digits() -> learning.Dataset:
    return learning.load_dataset("digits", seed=0)


# ====================================================================================== sampler
@given(n=st.integers(1, 50), b=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_sampler_without_replacement(n: int, b: int, seed: int) -> None:
    """No index twice in a batch; each epoch's batches are disjoint; batch size constant."""
    s = learning.BatchSampler(n, b, seed=seed)
    size = min(b, n)
    per_epoch = n // size
    seen: list[int] = []
    for _ in range(per_epoch):
        idx = s.next()
        assert len(idx) == size and len(set(idx.tolist())) == size
        assert idx.min() >= 0 and idx.max() < n
        seen += idx.tolist()
    assert len(set(seen)) == len(seen) == per_epoch * size


def test_sampler_replacement_full_batch_and_seeding() -> None:
    """Replacement draws uniformly (repeats allowed); None = the full batch; seeded streams repeat."""
    s = learning.BatchSampler(5, 50, replacement=True, seed=0)
    idx = s.next()
    assert len(idx) == 50 and len(set(idx.tolist())) == 5
    full = learning.BatchSampler(7, None, seed=0)
    assert full.next().tolist() == list(range(7)) == full.next().tolist()
    assert learning.BatchSampler(7, 100, seed=0).next().tolist() == list(range(7))
    a, b = learning.BatchSampler(100, 10, seed=3), learning.BatchSampler(100, 10, seed=3)
    assert all(np.array_equal(a.next(), b.next()) for _ in range(25))
    assert a.epochs == 2


# ==================================================================================== schedules
def test_schedules_values() -> None:
    """Each schedule follows its formula."""
    assert learning.schedules() == ("constant", "inverse_sqrt", "step", "cosine")
    assert [learning.Constant(0.3)(t) for t in (0, 7)] == [0.3, 0.3]
    inv = learning.make_schedule("inverse_sqrt", lr=2.0)
    assert [inv(t) for t in (0, 3, 99)] == [2.0, 1.0, 0.2]
    step = learning.make_schedule("step", lr=1.0, every=5, gamma=0.5)
    assert [step(t) for t in (0, 4, 5, 10, 14)] == [1.0, 1.0, 0.5, 0.25, 0.25]
    cos = learning.make_schedule("cosine", lr=1.0, total=10, lr_min=0.1)
    assert cos(0) == 1.0 and cos(10) == pytest.approx(0.1) and cos(1000) == pytest.approx(0.1)
    assert cos(5) == pytest.approx(0.55)
    assert all(cos(t) >= cos(t + 1) for t in range(12))
    assert learning.as_schedule(0.2)(5) == 0.2
    f = lambda t: 1.0 / (t + 1)
    assert learning.as_schedule(f) is f


SCHED_BAD = [
    (
        lambda: learning.make_schedule("linear", lr=1.0),
        r"^unknown schedule 'linear'; known schedules: constant, inverse_sqrt, step, cosine$",
    ),
    (
        lambda: learning.make_schedule("step", lr=1.0),
        r"^step: missing parameter 'every'; parameters: lr, every, gamma$",
    ),
    (
        lambda: learning.make_schedule("cosine", lr=1.0, total=5, warmup=2),
        r"^cosine: unknown parameter 'warmup'; allowed parameters: lr, total, lr_min$",
    ),
    (lambda: learning.Constant(0.0), r"^constant: lr must be > 0.0; got lr=0.0$"),
    (
        lambda: learning.StepDecay(1.0, every=3, gamma=1.5),
        r"^step: gamma must be <= 1.0; got gamma=1.5$",
    ),
    (
        lambda: learning.Cosine(1.0, total=5, lr_min=2.0),
        r"^cosine: lr_min must be <= 1.0; got lr_min=2.0$",
    ),
    (
        lambda: learning.InverseSqrt(1.0)(-1),
        r"^inverse_sqrt: the step t must be an integer >= 0; got t=-1$",
    ),
    (
        lambda: learning.as_schedule("fast"),
        r"^lr must be a positive number or a schedule lr\(t\); got lr='fast'",
    ),
]


@pytest.mark.parametrize(("call", "match"), SCHED_BAD)
def test_schedule_errors(call, match: str) -> None:
    """Bad schedules raise InvalidArgument naming the parameter and value."""
    with pytest.raises(InvalidArgument, match=match):
        call()


# ====================================================================================== workers
def _one_worker(
    data: learning.Dataset, momentum: float, seed: int = 0, **kw
) -> tuple[learning.Model, learning.HonestWorker]:
    model = learning.make_model("softmax", data.n_features, data.n_classes)
    return model, learning.HonestWorker(
        model,
        data.X_train[:200],
        data.y_train[:200],
        batch_size=16,
        momentum=momentum,
        seed=seed,
        **kw,
    )


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_worker_momentum_recursion(digits: learning.Dataset, beta: float) -> None:
    """compute() returns m_t = beta m_{t-1} + (1 - beta) g_t with m_0 = g_0 (g_t on the sampler's batches)."""
    model, worker = _one_worker(digits, beta, seed=4)
    sampler = learning.BatchSampler(200, 16, seed=4)  # the same stream, replayed
    X, y = digits.X_train[:200], digits.y_train[:200]
    rng = np.random.default_rng(0)
    m = None
    for t in range(6):
        w = rng.normal(size=model.dim) * 0.1
        sent = worker.compute(w, t)
        idx = sampler.next()
        g = model.grad(w, X[idx], y[idx])
        m = g if m is None else beta * m + (1 - beta) * g
        np.testing.assert_allclose(sent, m, rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(worker.last_gradient, g)
    st_ = worker.statistics()
    assert (st_.steps, st_.samples_seen, st_.last_round) == (6, 96, 5)
    sent[:] = 0.0  # the returned vector is the caller's: mutating it leaves the worker intact
    assert np.abs(worker.momentum_buffer).sum() > 0
    worker.reset()
    assert worker.momentum_buffer is None and worker.statistics().steps == 0


def test_workers_seeded_and_independent(digits: learning.Dataset) -> None:
    """make_workers: same seed, same vectors; different workers draw different batches."""
    model = learning.make_model("softmax", digits.n_features, digits.n_classes)
    parts = learning.partition(digits.y_train, 4, seed=0)
    w = model.init(seed=0)
    a = [x.compute(w, 0) for x in learning.make_workers(model, digits, parts, seed=9)]
    b = [x.compute(w, 0) for x in learning.make_workers(model, digits, parts, seed=9)]
    c = [x.compute(w, 0) for x in learning.make_workers(model, digits, parts, seed=10)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not any(np.array_equal(u, v) for u, v in zip(a, c))
    workers = learning.make_workers(model, digits, parts, seed=9)
    assert sum(x.n_samples for x in workers) == digits.n_train
    np.testing.assert_array_equal(workers[2].X, digits.X_train[parts[2]])


def test_label_flip_worker(digits: learning.Dataset) -> None:
    """label_flip maps y to C - 1 - y on that worker's shard only; its gradients differ accordingly."""
    model = learning.make_model("softmax", digits.n_features, digits.n_classes)
    parts = learning.partition(digits.y_train, 3, seed=0)
    workers = learning.make_workers(model, digits, parts, label_flip=[1], batch_size=None, seed=0)
    assert [x.label_flip for x in workers] == [False, True, False]
    np.testing.assert_array_equal(workers[1].y, 9 - digits.y_train[parts[1]])
    np.testing.assert_array_equal(workers[0].y, digits.y_train[parts[0]])
    np.testing.assert_array_equal(flip_labels(np.arange(10), 10), np.arange(10)[::-1])
    w = model.init(seed=0)
    honest = learning.HonestWorker(model, workers[1].X, digits.y_train[parts[1]], batch_size=None)
    assert not np.allclose(workers[1].compute(w, 0), honest.compute(w, 0))


def test_label_flipping_hurts_training(digits: learning.Dataset) -> None:
    """A model trained on flipped labels predicts the flipped classes: near-zero test accuracy."""
    model = learning.make_model("softmax", digits.n_features, digits.n_classes)
    flipped = learning.Dataset(
        digits.X_train,
        flip_labels(digits.y_train, 10),
        digits.X_test,
        digits.y_test,
        10,
        "classification",
    )
    res = learning.train_centralised(model, flipped, steps=300, lr=0.1, batch=32, seed=0)
    assert res.test.accuracy < 0.1


WORKER_BAD = [
    (
        lambda m, d: learning.HonestWorker(m, d.X_train, d.y_train, momentum=1.0),
        r"^HonestWorker: momentum must be < 1; got momentum=1.0$",
    ),
    (
        lambda m, d: learning.HonestWorker(m, d.X_train, d.y_train, momentum=-0.1),
        r"^HonestWorker: momentum must be >= 0.0; got momentum=-0.1$",
    ),
    (
        lambda m, d: learning.HonestWorker(m, d.X_train, d.y_train, batch_size=0),
        r"^BatchSampler: batch_size must be >= 1; got batch_size=0$",
    ),
    (
        lambda m, d: learning.HonestWorker(m, d.X_train[:0], d.y_train[:0]),
        r"^HonestWorker: X must hold at least one sample; got shape=\(0, 64\)$",
    ),
    (
        lambda m, d: learning.HonestWorker("softmax", d.X_train, d.y_train),
        r"^HonestWorker: model must be a p2pbyz.learning.Model; got str$",
    ),
    (
        lambda m, d: learning.HonestWorker(m, d.X_train, d.y_train).compute(np.zeros(m.dim), -1),
        r"^HonestWorker.compute: t must be >= 0; got t=-1$",
    ),
    (
        lambda m, d: learning.make_workers(m, d, [np.arange(3)], label_flip=[1]),
        r"^make_workers: label_flip must be <= 0; got label_flip=1$",
    ),
    (
        lambda m, d: learning.evaluate(learning.make_model("softmax", 64, 3), np.zeros(195), d),
        r"^evaluate: model 'softmax' \(task=classification, n_features=64, n_classes=3\) does not fit dataset 'digits'",
    ),
    (
        lambda m, d: learning.evaluate(m, np.zeros(m.dim), d, split="valid"),
        r"^evaluate: split must be one of 'test', 'train'; got split='valid'$",
    ),
    (
        lambda m, d: learning.train_centralised(m, d, 0, 0.1),
        r"^train_centralised: steps must be >= 1; got steps=0$",
    ),
]


@pytest.mark.parametrize(("call", "match"), WORKER_BAD)
def test_worker_errors(digits: learning.Dataset, call, match: str) -> None:
    """Invalid workers, rounds, flips and evaluations raise InvalidArgument naming the parameter."""
    model = learning.make_model("softmax", digits.n_features, digits.n_classes)
    with pytest.raises(InvalidArgument, match=match):
        call(model, digits)


def test_regression_worker_refuses_label_flip() -> None:
    """Label flipping is meaningless for regression targets."""
    model = learning.make_model("linear", 2)
    with pytest.raises(
        InvalidArgument,
        match=r"^HonestWorker: label_flip needs a classification model; got model 'linear'$",
    ):
        learning.HonestWorker(model, np.zeros((3, 2)), np.zeros(3), label_flip=True)


# ======================================================================== evaluation & learning
def test_evaluate_splits(digits: learning.Dataset) -> None:
    """evaluate() on the held-out split by default; zero weights give loss log C and chance accuracy."""
    model = learning.make_model("softmax", digits.n_features, digits.n_classes)
    w = np.zeros(model.dim)
    ev = learning.evaluate(model, w, digits)
    assert ev.n_samples == digits.n_test and ev.loss == pytest.approx(math.log(10))
    assert learning.evaluate(model, w, digits, split="train").n_samples == digits.n_train


def test_softmax_learns_digits(digits: learning.Dataset) -> None:
    """Softmax regression on digits: >= 90% test accuracy, and the loss goes down."""
    model = learning.make_model("softmax", digits.n_features, digits.n_classes)
    res = learning.train_centralised(model, digits, steps=600, lr=0.1, batch=32, seed=0)
    assert res.test.accuracy >= 0.9
    assert res.losses[-50:].mean() < 0.3 * res.losses[:10].mean()


@pytest.mark.parametrize(("hidden", "activation"), [((32,), "relu"), ((32, 16), "tanh")])
def test_mlp_learns_digits(
    digits: learning.Dataset, hidden: tuple[int, ...], activation: str
) -> None:
    """An MLP (1 or 2 hidden layers) on digits: >= 90% test accuracy, with worker momentum."""
    model = learning.make_model(
        "mlp", digits.n_features, digits.n_classes, hidden=hidden, activation=activation
    )
    res = learning.train_centralised(
        model, digits, steps=800, lr=0.1, batch=32, seed=0, momentum=0.5
    )
    assert res.test.accuracy >= 0.9


def test_logistic_learns_breast_cancer() -> None:
    """Binary logistic regression on breast cancer: >= 93% test accuracy."""
    data = learning.load_dataset("breast_cancer", seed=0)
    model = learning.make_model("logistic", data.n_features, data.n_classes, l2=1e-3)
    res = learning.train_centralised(
        model, data, steps=300, lr=learning.Cosine(0.2, total=300), batch=32, seed=0
    )
    assert res.test.accuracy >= 0.93


def test_linear_regression_recovers_teacher() -> None:
    """Full-batch gradient descent on the linear teacher lands within noise of w*, like least squares."""
    data = learning.load_dataset("linear_teacher", seed=0, noise=0.1)
    model = learning.make_model("linear", data.n_features)
    res = learning.train_centralised(model, data, steps=300, lr=0.5, batch=None, seed=0)
    A = np.hstack([data.X_train, np.ones((data.n_train, 1))])
    w_ls = np.linalg.lstsq(A, data.y_train, rcond=None)[0]
    np.testing.assert_allclose(res.w, w_ls, atol=1e-8)
    assert np.linalg.norm(res.w - data.info["w_star"]) < 0.02
    assert res.test.loss == pytest.approx(0.5 * 0.1**2, rel=0.25)  # half the noise variance
    sgd = learning.train_centralised(
        model, data, steps=1500, lr=learning.InverseSqrt(0.1), batch=16, seed=0
    )
    assert np.linalg.norm(sgd.w - data.info["w_star"]) < 0.05


def test_training_is_reproducible_and_leaves_global_rng_alone(digits: learning.Dataset) -> None:
    """Same seed, bit-identical run; the global random and numpy streams are untouched."""
    py_state, np_state = random.getstate(), np.random.get_state()
    model = learning.make_model("mlp", digits.n_features, digits.n_classes, hidden=(8,))
    a = learning.train_centralised(model, digits, steps=20, lr=0.1, batch=8, seed=5)
    b = learning.train_centralised(model, digits, steps=20, lr=0.1, batch=8, seed=5)
    learning.partition(digits.y_train, 5, "dirichlet", seed=1)
    learning.load_dataset("gaussian_mixture", seed=2)
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert (
        after[0] == np_state[0]
        and np.array_equal(after[1], np_state[1])
        and after[2:] == np_state[2:]
    )


@pytest.mark.parametrize(
    "module",
    [learning, _models, _datasets, _partition, _schedules, _worker, _train],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module) -> None:
    """Every Examples section runs and prints what it says."""
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
