"""Models: analytic gradients against finite differences, shapes, registry and pinned errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pbyz import learning
from p2pbyz.errors import InvalidArgument

CONFIGS = [
    ("linear", 5, None, {}),
    ("linear", 5, None, {"l2": 0.3}),
    ("logistic", 4, 2, {}),
    ("logistic", 4, 2, {"l2": 0.5}),
    ("softmax", 4, 3, {}),
    ("softmax", 6, 5, {"l2": 0.2}),
    ("mlp", 4, 3, {"hidden": (5,), "activation": "relu"}),
    ("mlp", 4, 3, {"hidden": (5,), "activation": "tanh", "l2": 0.1}),
    ("mlp", 3, 4, {"hidden": (6, 5), "activation": "relu", "l2": 0.05}),
    ("mlp", 3, 2, {"hidden": (4, 3), "activation": "tanh"}),
]


def _batch(model: learning.Model, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, model.n_features))
    if model.task == "regression":
        y = rng.normal(size=m)
    else:
        y = rng.integers(0, model.n_classes, size=m)
    return X, y


def _fd_grad(
    model: learning.Model, w: np.ndarray, X: np.ndarray, y: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    g = np.empty_like(w)
    for k in range(w.size):
        e = np.zeros_like(w)
        e[k] = eps
        g[k] = (model.loss(w + e, X, y) - model.loss(w - e, X, y)) / (2 * eps)
    return g


def _random_w(model: learning.Model, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.7, size=model.dim)


@pytest.mark.parametrize(("name", "p", "k", "params"), CONFIGS)
def test_gradient_matches_finite_differences(
    name: str, p: int, k: int | None, params: dict
) -> None:
    """The analytic gradient agrees with central finite differences to ~1e-7 relative."""
    model = learning.make_model(name, p, k, **params)
    X, y = _batch(model, 17, 1)
    w = _random_w(model, 2)
    g = model.grad(w, X, y)
    fd = _fd_grad(model, w, X, y)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)


@given(
    p=st.integers(1, 4),
    k=st.integers(2, 4),
    hidden=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    activation=st.sampled_from(["relu", "tanh"]),
    l2=st.sampled_from([0.0, 0.3]),
    m=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_mlp_gradient_property(
    p: int, k: int, hidden: list[int], activation: str, l2: float, m: int, seed: int
) -> None:
    """Any small MLP, any batch: analytic gradient = finite differences."""
    model = learning.make_model("mlp", p, k, hidden=tuple(hidden), activation=activation, l2=l2)
    X, y = _batch(model, m, seed)
    w = _random_w(model, seed + 1)
    np.testing.assert_allclose(model.grad(w, X, y), _fd_grad(model, w, X, y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "p", "k", "params"), CONFIGS)
def test_grad_is_batch_mean_of_per_sample_grads(
    name: str, p: int, k: int | None, params: dict
) -> None:
    """The batched gradient is the mean of the single-sample gradients (the penalty counted once)."""
    model = learning.make_model(name, p, k, **params)
    X, y = _batch(model, 9, 3)
    w = _random_w(model, 4)
    per_sample = np.mean([model.grad(w, X[i : i + 1], y[i : i + 1]) for i in range(9)], axis=0)
    np.testing.assert_allclose(model.grad(w, X, y), per_sample, rtol=1e-10, atol=1e-12)
    loss_mean = np.mean([model.loss(w, X[i : i + 1], y[i : i + 1]) for i in range(9)])
    assert model.loss(w, X, y) == pytest.approx(loss_mean, rel=1e-12)


@pytest.mark.parametrize(("name", "p", "k", "params"), CONFIGS)
def test_interface_shapes_and_consistency(name: str, p: int, k: int | None, params: dict) -> None:
    """dim matches the layout, loss_and_grad = (loss, grad), init is seeded, outputs have the right shapes."""
    model = learning.make_model(name, p, k, **params)
    assert model.dim == sum(int(np.prod(s)) for _, s in model.shapes)
    w = model.init(seed=5)
    assert w.shape == (model.dim,) and w.dtype == np.float64
    np.testing.assert_array_equal(w, model.init(seed=5))
    assert not np.array_equal(w, model.init(seed=6))
    X, y = _batch(model, 7, 0)
    loss, g = model.loss_and_grad(w, X, y)
    assert loss == model.loss(w, X, y)
    np.testing.assert_array_equal(g, model.grad(w, X, y))
    views = model.unflatten(w)
    assert [v.shape for v in views.values()] == [s for _, s in model.shapes]
    assert np.concatenate([v.ravel() for v in views.values()]).tolist() == w.tolist()
    pred = model.predict(w, X)
    assert pred.shape == (7,)
    ev = model.evaluate(w, X, y)
    assert ev.loss == pytest.approx(loss) and ev.n_samples == 7
    if model.task == "classification":
        assert pred.dtype == np.int64 and set(pred.tolist()) <= set(range(model.n_classes))
        proba = model.predict_proba(w, X)
        assert proba.shape == (7, model.n_classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert ev.accuracy == model.accuracy(w, X, y) == np.mean(pred == y)
    else:
        assert np.isnan(ev.accuracy)


def test_models_are_frozen_and_hashable() -> None:
    """Models are immutable values: equal parameters, equal and hash-equal models."""
    a = learning.make_model("mlp", 4, 3, hidden=[8])
    b = learning.MLP(n_features=4, n_classes=3, hidden=8)
    assert a == b and hash(a) == hash(b) and a.hidden == (8,)
    with pytest.raises(AttributeError):
        a.l2 = 1.0  # type: ignore[misc]


def test_logistic_is_two_class_softmax() -> None:
    """Logistic regression with (w, b) equals softmax regression with W = [0, w], b = [0, b]."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = rng.integers(0, 2, size=20)
    lo = learning.make_model("logistic", 3)
    so = learning.make_model("softmax", 3, 2)
    w = rng.normal(size=4)
    ws = np.zeros(so.dim)
    views = so.unflatten(ws)
    views["W0"][:, 1] = w[:3]
    views["b0"][1] = w[3]
    assert lo.loss(w, X, y) == pytest.approx(so.loss(ws, X, y), rel=1e-12)
    np.testing.assert_allclose(lo.predict_proba(w, X), so.predict_proba(ws, X), rtol=1e-12)


def test_linear_loss_value() -> None:
    """Squared loss: 1/(2m) sum r^2 + l2/2 |w|^2, the bias not penalised."""
    model = learning.make_model("linear", 2, l2=0.5)
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([0.0, 0.0])
    w = np.array([1.0, 2.0, 3.0])  # residuals 4 and 5
    assert model.loss(w, X, y) == pytest.approx((16 + 25) / 4 + 0.25 * 5)


def test_softmax_is_stable_for_huge_logits() -> None:
    """Large finite parameters give finite losses (log-sum-exp with the max subtracted)."""
    model = learning.make_model("softmax", 2, 3)
    w = np.full(model.dim, 1e5)
    X = np.array([[1.0, -1.0], [3.0, 2.0]])
    loss, g = model.loss_and_grad(w, X, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    lo = learning.make_model("logistic", 1)
    assert np.isfinite(lo.loss(np.array([1e6, 0.0]), np.array([[1.0], [-1.0]]), np.array([0, 1])))


@pytest.mark.parametrize("name", learning.models())
def test_nonfinite_parameters_give_nan_without_warning(name: str) -> None:
    """A wrecked model (NaN parameters) yields NaN loss and gradient, silently."""
    model = learning.make_model(name, 3, 2 if name != "linear" else None)
    X, y = _batch(model, 4, 0)
    w = np.full(model.dim, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, g = model.loss_and_grad(w, X, y)
        model.predict(w, X)
    assert np.isnan(loss) and np.isnan(g).all()


def test_registry() -> None:
    """The registry lists the four models and builds each with the right task."""
    assert learning.models() == ("linear", "logistic", "softmax", "mlp")
    assert learning.make_model("linear", 3).task == "regression"
    assert learning.make_model("logistic", 3).n_classes == 2
    assert isinstance(learning.make_model("softmax", 3, 4), learning.SoftmaxRegression)
    for name in learning.models():
        info = learning.model_info(name)
        k = 3 if name in ("softmax", "mlp") else None
        default = learning.make_model(name, 3, k)
        assert info["task"] == default.task
        assert learning.make_model(name, 3, k, **info["params"]) == default  # the listed defaults


BAD = [
    (
        lambda: learning.make_model("svm", 3, 2),
        r"^unknown model 'svm'; known models: linear, logistic, softmax, mlp$",
    ),
    (
        lambda: learning.make_model("mlp", 3, 2, depth=2),
        r"^mlp: unknown parameter 'depth'; allowed parameters: hidden, activation, l2$",
    ),
    (
        lambda: learning.make_model("softmax", 3),
        r"^softmax: n_classes is required \(>= 2\); got n_classes=None$",
    ),
    (
        lambda: learning.make_model("softmax", 3, 1),
        r"^softmax: n_classes must be >= 2; got n_classes=1$",
    ),
    (
        lambda: learning.make_model("logistic", 3, 3),
        r"^logistic: n_classes must be 2 \(use 'softmax' for more classes\); got n_classes=3$",
    ),
    (
        lambda: learning.make_model("linear", 3, 2),
        r"^linear: n_classes must be 0 \(linear is a regression model\); got n_classes=2$",
    ),
    (
        lambda: learning.make_model("softmax", 0, 2),
        r"^softmax: n_features must be >= 1; got n_features=0$",
    ),
    (
        lambda: learning.make_model("softmax", 3, 2, l2=-1.0),
        r"^softmax: l2 must be >= 0.0; got l2=-1.0$",
    ),
    (
        lambda: learning.make_model("mlp", 3, 2, activation="gelu"),
        r"^mlp: activation must be one of 'relu', 'tanh'; got activation='gelu'$",
    ),
    (
        lambda: learning.make_model("mlp", 3, 2, hidden=()),
        r"^mlp: hidden must be a positive int or a non-empty sequence",
    ),
    (
        lambda: learning.make_model("mlp", 3, 2, hidden=(4, 0)),
        r"^mlp: hidden must be >= 1; got hidden=0$",
    ),
]


@pytest.mark.parametrize(("call", "match"), BAD)
def test_construction_errors(call, match: str) -> None:
    """Invalid constructions raise InvalidArgument naming the parameter and its value."""
    with pytest.raises(InvalidArgument, match=match):
        call()


def test_call_errors() -> None:
    """Wrong shapes and labels at call time are refused with the model's name and the shape."""
    model = learning.make_model("softmax", 3, 2)
    w = np.zeros(model.dim)
    X = np.zeros((4, 3))
    y = np.array([0, 1, 0, 1])
    with pytest.raises(
        InvalidArgument,
        match=r"^softmax: w must be a flat parameter vector of shape \(8,\); got shape=\(7,\)$",
    ):
        model.loss(w[:-1], X, y)
    with pytest.raises(
        InvalidArgument,
        match=r"^softmax: X must have shape \(m, 3\) \(one sample per row\); got shape=\(4, 2\)$",
    ):
        model.grad(w, X[:, :2], y)
    with pytest.raises(
        InvalidArgument, match=r"^softmax: X must hold at least one sample; got shape=\(0, 3\)$"
    ):
        model.grad(w, X[:0], y[:0])
    with pytest.raises(
        InvalidArgument,
        match=r"^softmax: y must hold labels in \[0, 1\] \(n_classes=2\); got label 2$",
    ):
        model.loss(w, X, np.array([0, 1, 2, 0]))
    with pytest.raises(
        InvalidArgument, match=r"^softmax: y must hold integer class labels; got non-integer values"
    ):
        model.loss(w, X, np.array([0.5, 1, 0, 0]))
    with pytest.raises(
        InvalidArgument,
        match=r"^softmax: y must have shape \(4,\) \(one label per row of X\); got shape=\(3,\)$",
    ):
        model.loss(w, X, y[:3])
    with pytest.raises(
        InvalidArgument, match=r"^softmax: w must be an array of real numbers; got dtype=<U1$"
    ):
        model.loss(np.array(["a"] * 8), X, y)
    lin = learning.make_model("linear", 3)
    with pytest.raises(
        InvalidArgument,
        match=r"^linear: accuracy needs a classification model; got task='regression'$",
    ):
        lin.accuracy(np.zeros(4), X, y)
