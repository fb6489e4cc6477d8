r"""Models with analytic gradients on flat float64 parameter vectors.

Every model maps a flat parameter vector ``w`` of shape ``(dim,)`` and a batch ``X`` of shape
``(m, n_features)`` to a loss (the **mean** over the batch, plus an optional L2 penalty) and its
gradient, computed by hand with batched matrix products (no loop over samples). Flat vectors are what
the gradient aggregation rules, the attacks and the network exchange, so models never expose
anything else; :meth:`Model.unflatten` gives named views when a human wants to look inside.

============  =================================================  ==============  ===========
name          model                                              task            convex
============  =================================================  ==============  ===========
``linear``    :class:`LinearRegression` (squared loss)           regression      yes
``logistic``  :class:`LogisticRegression` (sigmoid, 2 classes)   classification  yes
``softmax``   :class:`SoftmaxRegression` (multinomial logistic)  classification  yes
``mlp``       :class:`MLP` (ReLU or tanh hidden layers)          classification  no
============  =================================================  ==============  ===========

The L2 penalty :math:`\frac{\lambda}{2}\lVert W \rVert_2^2` applies to the weight matrices only,
never to the biases. A non-finite parameter vector (a model wrecked by an attack) gives a
non-finite loss and gradient and no warning: the caller decides what a diverged model means.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from .._random import Seed, as_generator
from .._validation import check_choice, check_int, check_real
from ..errors import InvalidArgument
from ._checks import as_features, as_labels, as_targets, as_vector

__all__ = [
    "Evaluation",
    "Model",
    "LinearRegression",
    "LogisticRegression",
    "SoftmaxRegression",
    "MLP",
    "models",
    "model_info",
    "make_model",
]


@dataclass(frozen=True)
class Evaluation:
    """Loss and accuracy of one parameter vector on one set of samples.

    Attributes
    ----------
    loss : float
        Mean loss over the samples plus the L2 penalty (the objective the model minimises).
    accuracy : float
        Fraction of samples whose predicted class is the label; ``nan`` for regression.
    n_samples : int
        Number of samples evaluated.
    """

    loss: float
    accuracy: float
    n_samples: int


def _is_weight(key: str) -> bool:
    """Weight blocks get the L2 penalty and a random initialisation; bias blocks get neither."""
    return key == "weight" or key.startswith("W")


def _ignore_fp() -> Any:
    # Non-finite parameters (a diverged or attacked model) must give nan/inf, not a warning that
    # pytest's filterwarnings=error would turn into a crash in the middle of an emulation.
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


class Model(ABC):
    r"""Common interface of the learning models (abstract).

    Concrete models are frozen dataclasses: hashable, comparable, cheap to copy, safe to share
    between emulated nodes. Parameters always travel as flat float64 vectors of length :attr:`dim`.

    Attributes
    ----------
    name : str
        Registry name (``"linear"``, ``"logistic"``, ``"softmax"``, ``"mlp"``).
    task : {"classification", "regression"}
        What the model predicts.
    n_features : int
        Number of input features.
    n_classes : int
        Number of classes (0 for regression).
    l2 : float
        L2 penalty :math:`\lambda \ge 0` on the weights (not the biases).
    """

    name: ClassVar[str]
    task: ClassVar[str]
    n_features: int
    n_classes: int
    l2: float

    # ----------------------------------------------------------------- layout of the flat vector
    @property
    @abstractmethod
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """Names and shapes of the parameter blocks, in their order in the flat vector."""

    @property
    def dim(self) -> int:
        """Number of parameters, the length of a flat parameter vector."""
        return sum(math.prod(s) for _, s in self.shapes)

    def unflatten(self, w: Any) -> dict[str, np.ndarray]:
        """Return named views into the flat vector ``w`` (writing to a view writes to ``w``).

        Parameters
        ----------
        w : array_like, shape (dim,)
            Flat parameter vector.

        Returns
        -------
        dict of str to numpy.ndarray
            One view per parameter block, shaped as in :attr:`shapes`.

        Examples
        --------
        >>> from p2pbyz import learning
        >>> model = learning.make_model("softmax", n_features=3, n_classes=2)
        >>> {k: v.shape for k, v in model.unflatten(model.init(seed=0)).items()}
        {'W0': (3, 2), 'b0': (2,)}
        """
        w = as_vector(w, self.dim, owner=self.name)
        return self._views(w)

    def _views(self, w: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        off = 0
        for key, shape in self.shapes:
            size = math.prod(shape)
            out[key] = w[off : off + size].reshape(shape)
            off += size
        return out

    # ------------------------------------------------------------------------------ validation
    def _check(self, w: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        w = as_vector(w, self.dim, owner=self.name)
        X = as_features(X, self.n_features, owner=self.name)
        if self.task == "classification":
            y = as_labels(y, X.shape[0], self.n_classes, owner=self.name)
        else:
            y = as_targets(y, X.shape[0], owner=self.name)
        return w, X, y

    def _penalty(self, views: dict[str, np.ndarray]) -> float:
        if self.l2 == 0.0:
            return 0.0
        return (
            0.5
            * self.l2
            * sum(float(np.dot(v.ravel(), v.ravel())) for k, v in views.items() if _is_weight(k))
        )

    # ------------------------------------------------------------------------------ interface
    @abstractmethod
    def init(self, seed: Seed = None) -> np.ndarray:
        """Return an initial parameter vector of shape ``(dim,)``, drawn from ``seed``."""

    @abstractmethod
    def _loss_grad(
        self, w: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: bool
    ) -> tuple[float, np.ndarray | None]:
        """Loss (and gradient when ``need_grad``) on validated float64 input."""

    @abstractmethod
    def _scores(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Raw outputs: predictions (regression) or class probabilities (classification)."""

    def loss(self, w: Any, X: Any, y: Any) -> float:
        """Mean loss of ``w`` on the batch ``(X, y)``, plus the L2 penalty.

        Parameters
        ----------
        w : array_like, shape (dim,)
            Flat parameter vector.
        X : array_like, shape (m, n_features)
            Batch of samples, ``m >= 1``.
        y : array_like, shape (m,)
            Integer labels in ``[0, n_classes)`` (classification) or real targets (regression).

        Returns
        -------
        float
        """
        w, X, y = self._check(w, X, y)
        with _ignore_fp():
            return self._loss_grad(w, X, y, False)[0]

    def grad(self, w: Any, X: Any, y: Any) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to ``w``: a new float64 array of shape ``(dim,)``.

        Parameters are as in :meth:`loss`.
        """
        return self.loss_and_grad(w, X, y)[1]

    def loss_and_grad(self, w: Any, X: Any, y: Any) -> tuple[float, np.ndarray]:
        """:meth:`loss` and :meth:`grad` in one forward/backward pass.

        Parameters are as in :meth:`loss`.

        Returns
        -------
        loss : float
        grad : numpy.ndarray, shape (dim,)
        """
        w, X, y = self._check(w, X, y)
        with _ignore_fp():
            loss, g = self._loss_grad(w, X, y, True)
        assert g is not None
        return loss, g

    def predict(self, w: Any, X: Any) -> np.ndarray:
        """Predicted class labels (int64) or regression values (float64), shape ``(m,)``.

        Parameters
        ----------
        w : array_like, shape (dim,)
        X : array_like, shape (m, n_features)
        """
        w = as_vector(w, self.dim, owner=self.name)
        X = as_features(X, self.n_features, owner=self.name)
        with _ignore_fp():
            s = self._scores(w, X)
        if self.task == "regression":
            return s
        return np.argmax(s, axis=1).astype(np.int64)

    def predict_proba(self, w: Any, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(m, n_classes)`` (classification models only).

        Parameters
        ----------
        w : array_like, shape (dim,)
        X : array_like, shape (m, n_features)
        """
        if self.task != "classification":
            raise InvalidArgument(
                f"{self.name}: predict_proba needs a classification model; got task={self.task!r}"
            )
        w = as_vector(w, self.dim, owner=self.name)
        X = as_features(X, self.n_features, owner=self.name)
        with _ignore_fp():
            return self._scores(w, X)

    def accuracy(self, w: Any, X: Any, y: Any) -> float:
        """Fraction of the samples whose predicted class equals the label (classification only).

        Parameters are as in :meth:`loss`.
        """
        if self.task != "classification":
            raise InvalidArgument(
                f"{self.name}: accuracy needs a classification model; got task={self.task!r}"
            )
        w, X, y = self._check(w, X, y)
        with _ignore_fp():
            pred = np.argmax(self._scores(w, X), axis=1)
        return float(np.mean(pred == y))

    def evaluate(self, w: Any, X: Any, y: Any) -> Evaluation:
        """Loss and accuracy of ``w`` on ``(X, y)`` (accuracy is ``nan`` for regression).

        Parameters are as in :meth:`loss`.

        Returns
        -------
        Evaluation
        """
        w, X, y = self._check(w, X, y)
        with _ignore_fp():
            loss = self._loss_grad(w, X, y, False)[0]
            if self.task == "classification":
                acc = float(np.mean(np.argmax(self._scores(w, X), axis=1) == y))
            else:
                acc = float("nan")
        return Evaluation(loss=float(loss), accuracy=acc, n_samples=int(X.shape[0]))


def _check_common(model: Any) -> None:
    owner = model.name
    object.__setattr__(
        model, "n_features", check_int(model.n_features, "n_features", minimum=1, owner=owner)
    )
    object.__setattr__(model, "l2", check_real(model.l2, "l2", minimum=0.0, owner=owner))


def _normal_weights(
    rng: np.random.Generator,
    views: dict[str, np.ndarray],
    scale: Callable[[str, tuple[int, ...]], float],
) -> None:
    for key, v in views.items():
        if _is_weight(key):
            v[...] = rng.normal(0.0, 1.0, size=v.shape) * scale(key, v.shape)
        else:
            v[...] = 0.0


# =============================================================================== linear models
@dataclass(frozen=True)
class LinearRegression(Model):
    r"""Linear regression with the squared loss (convex; strongly convex when ``l2 > 0``).

    .. math::

        \ell(w, b; X, y) = \frac{1}{2m} \sum_{i=1}^m (x_i^\top w + b - y_i)^2
                           + \frac{\lambda}{2} \lVert w \rVert_2^2,
        \qquad
        \nabla_w \ell = \frac{1}{m} X^\top r + \lambda w, \quad
        \nabla_b \ell = \frac{1}{m} \mathbf{1}^\top r, \quad r = X w + b - y.

    Flat layout: ``[w (n_features), b (1)]``, ``dim = n_features + 1``. Cost of a loss/gradient:
    :math:`O(m \cdot n_{features})`.

    Parameters
    ----------
    n_features : int
        Number of input features, ``>= 1``.
    n_classes : int, default 0
        Must be 0 (regression); present so that every model has the same constructor.
    l2 : float, default 0.0
        L2 penalty on ``w``, ``>= 0``.
    init_scale : float, default 0.01
        Standard deviation of the Gaussian initial weights (the bias starts at 0).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> model = learning.LinearRegression(n_features=2)
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([1.0, 2.0])
    >>> w = np.array([1.0, 2.0, 0.0])     # w = (1, 2), b = 0 fits exactly
    >>> model.loss(w, X, y), model.grad(w, X, y)
    (0.0, array([0., 0., 0.]))
    """

    n_features: int
    n_classes: int = 0
    l2: float = 0.0
    init_scale: float = 0.01
    name: ClassVar[str] = "linear"
    task: ClassVar[str] = "regression"

    def __post_init__(self) -> None:
        _check_common(self)
        if self.n_classes not in (0, None):
            raise InvalidArgument(
                f"linear: n_classes must be 0 (linear is a regression model); got n_classes={self.n_classes!r}"
            )
        object.__setattr__(self, "n_classes", 0)
        object.__setattr__(
            self,
            "init_scale",
            check_real(self.init_scale, "init_scale", minimum=0.0, owner=self.name),
        )

    @property
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("weight", (self.n_features,)), ("bias", (1,)))

    def init(self, seed: Seed = None) -> np.ndarray:
        rng = as_generator(seed)
        w = np.zeros(self.dim)
        _normal_weights(rng, self._views(w), lambda k, s: self.init_scale)
        return w

    def _scores(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        return X @ w[:-1] + w[-1]

    def _loss_grad(
        self, w: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: bool
    ) -> tuple[float, np.ndarray | None]:
        m = X.shape[0]
        r = X @ w[:-1] + w[-1] - y
        loss = 0.5 * float(np.dot(r, r)) / m + self._penalty(self._views(w))
        if not need_grad:
            return loss, None
        g = np.empty(self.dim)
        np.matmul(r, X, out=g[:-1])
        g[:-1] /= m
        g[-1] = r.sum() / m
        if self.l2:
            g[:-1] += self.l2 * w[:-1]
        return loss, g


@dataclass(frozen=True)
class LogisticRegression(Model):
    r"""Binary logistic regression (sigmoid output, labels 0 and 1; convex).

    .. math::

        \ell(w, b; X, y) = \frac{1}{m} \sum_{i=1}^m \bigl[\log(1 + e^{z_i}) - y_i z_i\bigr]
                           + \frac{\lambda}{2} \lVert w \rVert_2^2, \quad z = X w + b,
        \qquad
        \nabla_w \ell = \frac{1}{m} X^\top (\sigma(z) - y) + \lambda w.

    This is :class:`SoftmaxRegression` with two classes, written with one weight vector instead of
    two (the softmax form is over-parameterised: only the difference of its two weight vectors
    matters). Flat layout ``[w (n_features), b (1)]``; cost :math:`O(m \cdot n_{features})`.

    Parameters
    ----------
    n_features : int
        Number of input features, ``>= 1``.
    n_classes : int, default 2
        Must be 2.
    l2 : float, default 0.0
        L2 penalty on ``w``, ``>= 0``.
    init_scale : float, default 0.01
        Standard deviation of the Gaussian initial weights (the bias starts at 0).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> model = learning.make_model("logistic", n_features=1, n_classes=2)
    >>> w = np.zeros(model.dim)
    >>> round(model.loss(w, np.array([[1.0], [-1.0]]), np.array([1, 0])), 6)   # log 2
    0.693147
    """

    n_features: int
    n_classes: int = 2
    l2: float = 0.0
    init_scale: float = 0.01
    name: ClassVar[str] = "logistic"
    task: ClassVar[str] = "classification"

    def __post_init__(self) -> None:
        _check_common(self)
        if isinstance(self.n_classes, bool) or self.n_classes != 2:
            raise InvalidArgument(
                f"logistic: n_classes must be 2 (use 'softmax' for more classes); got n_classes={self.n_classes!r}"
            )
        object.__setattr__(
            self,
            "init_scale",
            check_real(self.init_scale, "init_scale", minimum=0.0, owner=self.name),
        )

    @property
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("weight", (self.n_features,)), ("bias", (1,)))

    def init(self, seed: Seed = None) -> np.ndarray:
        rng = as_generator(seed)
        w = np.zeros(self.dim)
        _normal_weights(rng, self._views(w), lambda k, s: self.init_scale)
        return w

    def _scores(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        z = X @ w[:-1] + w[-1]
        p1 = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid, stable for any z
        return np.stack([1.0 - p1, p1], axis=1)

    def _loss_grad(
        self, w: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: bool
    ) -> tuple[float, np.ndarray | None]:
        m = X.shape[0]
        z = X @ w[:-1] + w[-1]
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z)) + self._penalty(self._views(w))
        if not need_grad:
            return loss, None
        r = 0.5 * (1.0 + np.tanh(0.5 * z)) - y
        g = np.empty(self.dim)
        np.matmul(r, X, out=g[:-1])
        g[:-1] /= m
        g[-1] = r.sum() / m
        if self.l2:
            g[:-1] += self.l2 * w[:-1]
        return loss, g


# ============================================================================ feed-forward nets
def _feedforward(
    model: Model,
    w: np.ndarray,
    X: np.ndarray,
    y: np.ndarray | None,
    need_grad: bool,
    activation: str,
) -> tuple[float, np.ndarray | None, np.ndarray]:
    """Forward (and backward) pass of a softmax-output network; returns (loss, grad, probabilities)."""
    views = model._views(w)
    n_layers = len(views) // 2
    acts = [X]
    a = X
    for layer in range(n_layers):
        z = a @ views[f"W{layer}"]
        z += views[f"b{layer}"]
        if layer < n_layers - 1:
            a = np.maximum(z, 0.0) if activation == "relu" else np.tanh(z)
            acts.append(a)
        else:
            a = z
    shifted = a - a.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1))
    logp = shifted - lse[:, None]
    if y is None:
        return float("nan"), None, np.exp(logp)
    m = X.shape[0]
    rows = np.arange(m)
    loss = -float(np.mean(logp[rows, y])) + model._penalty(views)
    if not need_grad:
        return loss, None, logp
    delta = np.exp(logp)
    delta[rows, y] -= 1.0
    delta /= m
    g = np.empty(model.dim)
    gviews = model._views(g)
    for layer in range(n_layers - 1, -1, -1):
        W = views[f"W{layer}"]
        np.matmul(acts[layer].T, delta, out=gviews[f"W{layer}"])
        if model.l2:
            gviews[f"W{layer}"] += model.l2 * W
        np.sum(delta, axis=0, out=gviews[f"b{layer}"])
        if layer > 0:
            delta = delta @ W.T
            h = acts[layer]
            if activation == "relu":
                delta *= h > 0.0
            else:
                delta *= 1.0 - h * h
    return loss, g, logp


@dataclass(frozen=True)
class SoftmaxRegression(Model):
    r"""Multinomial logistic (softmax) regression (convex).

    .. math::

        \ell(W, b; X, y) = -\frac{1}{m} \sum_{i=1}^m \log \operatorname{softmax}(x_i^\top W + b)_{y_i}
                           + \frac{\lambda}{2} \lVert W \rVert_F^2,
        \qquad
        \nabla_W \ell = \frac{1}{m} X^\top (P - Y) + \lambda W, \quad
        \nabla_b \ell = \frac{1}{m} \mathbf{1}^\top (P - Y),

    with :math:`P` the row-wise softmax probabilities and :math:`Y` the one-hot labels. Flat layout
    ``[W0 (n_features x n_classes, row-major), b0 (n_classes)]``; cost
    :math:`O(m \cdot n_{features} \cdot n_{classes})`.

    Parameters
    ----------
    n_features : int
        Number of input features, ``>= 1``.
    n_classes : int
        Number of classes, ``>= 2``.
    l2 : float, default 0.0
        L2 penalty on ``W``, ``>= 0``.
    init_scale : float, default 0.01
        Standard deviation of the Gaussian initial weights (the biases start at 0).

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import learning
    >>> model = learning.make_model("softmax", n_features=4, n_classes=3)
    >>> model.dim
    15
    >>> w = np.zeros(model.dim)                   # uniform prediction: loss = log 3
    >>> round(model.loss(w, np.ones((2, 4)), np.array([0, 2])), 6)
    1.098612
    """

    n_features: int
    n_classes: int
    l2: float = 0.0
    init_scale: float = 0.01
    name: ClassVar[str] = "softmax"
    task: ClassVar[str] = "classification"

    def __post_init__(self) -> None:
        _check_common(self)
        object.__setattr__(
            self, "n_classes", check_int(self.n_classes, "n_classes", minimum=2, owner=self.name)
        )
        object.__setattr__(
            self,
            "init_scale",
            check_real(self.init_scale, "init_scale", minimum=0.0, owner=self.name),
        )

    @property
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        return (("W0", (self.n_features, self.n_classes)), ("b0", (self.n_classes,)))

    def init(self, seed: Seed = None) -> np.ndarray:
        rng = as_generator(seed)
        w = np.zeros(self.dim)
        _normal_weights(rng, self._views(w), lambda k, s: self.init_scale)
        return w

    def _scores(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        return _feedforward(self, w, X, None, False, "relu")[2]

    def _loss_grad(
        self, w: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: bool
    ) -> tuple[float, np.ndarray | None]:
        loss, g, _ = _feedforward(self, w, X, y, need_grad, "relu")
        return loss, g


@dataclass(frozen=True)
class MLP(Model):
    r"""Multi-layer perceptron: hidden layers with ReLU or tanh, softmax output, cross-entropy loss.

    .. math::

        a_0 = X, \quad a_{l+1} = \phi(a_l W_l + b_l) \ (l < L), \quad
        \ell = -\frac{1}{m} \sum_i \log \operatorname{softmax}(a_L W_L + b_L)_{i, y_i}
               + \frac{\lambda}{2} \sum_l \lVert W_l \rVert_F^2,

    with :math:`\phi` = ReLU (derivative taken as 0 at 0) or tanh, and the gradient by
    back-propagation: :math:`\delta_L = (P - Y)/m`, :math:`\nabla_{W_l} = a_l^\top \delta_l +
    \lambda W_l`, :math:`\nabla_{b_l} = \mathbf{1}^\top \delta_l`, :math:`\delta_{l-1} = (\delta_l
    W_l^\top) \odot \phi'(a_l)`. Non-convex. Flat layout ``[W0, b0, W1, b1, ...]`` (row-major).
    Cost :math:`O(m \sum_l s_l s_{l+1})` for layer sizes :math:`s_l`.

    Initialisation: He normal (std :math:`\sqrt{2/\text{fan-in}}`) for ReLU, LeCun normal
    (std :math:`\sqrt{1/\text{fan-in}}`) for tanh; biases 0.

    Parameters
    ----------
    n_features : int
        Number of input features, ``>= 1``.
    n_classes : int
        Number of classes, ``>= 2``.
    hidden : int or tuple of int, default (64,)
        Width of each hidden layer (one int = one layer); the issue asks for 1 or 2 layers, any
        number ``>= 1`` works.
    activation : {"relu", "tanh"}, default "relu"
    l2 : float, default 0.0
        L2 penalty on the weight matrices, ``>= 0``.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> model = learning.make_model("mlp", n_features=64, n_classes=10, hidden=(32, 16))
    >>> model.dim                  # 64*32+32 + 32*16+16 + 16*10+10
    2778
    >>> [name for name, _ in model.shapes]
    ['W0', 'b0', 'W1', 'b1', 'W2', 'b2']
    """

    n_features: int
    n_classes: int
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    l2: float = 0.0
    name: ClassVar[str] = "mlp"
    task: ClassVar[str] = "classification"

    def __post_init__(self) -> None:
        _check_common(self)
        object.__setattr__(
            self, "n_classes", check_int(self.n_classes, "n_classes", minimum=2, owner=self.name)
        )
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)) or len(hidden) == 0:
            raise InvalidArgument(
                f"mlp: hidden must be a positive int or a non-empty sequence of positive ints; got hidden={self.hidden!r}"
            )
        object.__setattr__(
            self,
            "hidden",
            tuple(check_int(h, "hidden", minimum=1, owner=self.name) for h in hidden),
        )
        check_choice(self.activation, "activation", ("relu", "tanh"), owner=self.name)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths from input to output: ``(n_features, *hidden, n_classes)``."""
        return (self.n_features, *self.hidden, self.n_classes)

    @property
    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        s = self.sizes
        out: list[tuple[str, tuple[int, ...]]] = []
        for layer in range(len(s) - 1):
            out.append((f"W{layer}", (s[layer], s[layer + 1])))
            out.append((f"b{layer}", (s[layer + 1],)))
        return tuple(out)

    def init(self, seed: Seed = None) -> np.ndarray:
        rng = as_generator(seed)
        w = np.zeros(self.dim)
        gain = 2.0 if self.activation == "relu" else 1.0
        _normal_weights(rng, self._views(w), lambda k, s: math.sqrt(gain / s[0]))
        return w

    def _scores(self, w: np.ndarray, X: np.ndarray) -> np.ndarray:
        return _feedforward(self, w, X, None, False, self.activation)[2]

    def _loss_grad(
        self, w: np.ndarray, X: np.ndarray, y: np.ndarray, need_grad: bool
    ) -> tuple[float, np.ndarray | None]:
        loss, g, _ = _feedforward(self, w, X, y, need_grad, self.activation)
        return loss, g


# ==================================================================================== registry
@dataclass(frozen=True)
class _ModelEntry:
    cls: type
    task: str
    summary: str
    params: tuple[str, ...] = field(default=())


_MODELS: dict[str, _ModelEntry] = {
    "linear": _ModelEntry(
        LinearRegression,
        "regression",
        "linear regression, squared loss (convex)",
        ("l2", "init_scale"),
    ),
    "logistic": _ModelEntry(
        LogisticRegression,
        "classification",
        "binary logistic regression (convex)",
        ("l2", "init_scale"),
    ),
    "softmax": _ModelEntry(
        SoftmaxRegression,
        "classification",
        "multinomial logistic regression (convex)",
        ("l2", "init_scale"),
    ),
    "mlp": _ModelEntry(
        MLP,
        "classification",
        "MLP, ReLU/tanh hidden layers, softmax output",
        ("hidden", "activation", "l2"),
    ),
}


def models() -> tuple[str, ...]:
    """Names of the registered models, for :func:`make_model`.

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.models()
    ('linear', 'logistic', 'softmax', 'mlp')
    """
    return tuple(_MODELS)


def model_info(name: str) -> dict[str, Any]:
    """What the registry knows about model ``name``: its task, a one-line summary and its
    parameters with their defaults (for ``p2pbyz list`` and scenario validation).

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.model_info("mlp")
    {'task': 'classification', 'summary': 'MLP, ReLU/tanh hidden layers, softmax output', 'params': {'hidden': (64,), 'activation': 'relu', 'l2': 0.0}}
    """
    entry = _entry(name)
    defaults = {f.name: f.default for f in fields(entry.cls)}
    return {
        "task": entry.task,
        "summary": entry.summary,
        "params": {p: defaults[p] for p in entry.params},
    }


def _entry(name: Any) -> _ModelEntry:
    if not isinstance(name, str) or name not in _MODELS:
        raise InvalidArgument(f"unknown model {name!r}; known models: {', '.join(_MODELS)}")
    return _MODELS[name]


def make_model(name: str, n_features: int, n_classes: int | None = None, **params: Any) -> Model:
    """Build a registered model by name.

    Parameters
    ----------
    name : str
        One of :func:`models`.
    n_features : int
        Number of input features.
    n_classes : int or None, default None
        Number of classes; None means 0 for ``linear`` and 2 for ``logistic`` and is required for
        ``softmax`` and ``mlp``. A :class:`~p2pbyz.learning.Dataset` gives both:
        ``make_model(name, data.n_features, data.n_classes)``.
    **params
        Model parameters (``l2``, ``init_scale``, ``hidden``, ``activation``: see each class).

    Returns
    -------
    Model

    Raises
    ------
    InvalidArgument
        Unknown name or parameter, or an invalid value (the message names it and what is allowed).

    Examples
    --------
    >>> from p2pbyz import learning
    >>> learning.make_model("mlp", 64, 10, hidden=(32,), activation="tanh")
    MLP(n_features=64, n_classes=10, hidden=(32,), activation='tanh', l2=0.0)
    """
    entry = _entry(name)
    unknown = sorted(set(params) - set(entry.params))
    if unknown:
        raise InvalidArgument(
            f"{name}: unknown parameter {unknown[0]!r}; allowed parameters: {', '.join(entry.params)}"
        )
    if n_classes is None:
        if name in ("softmax", "mlp"):
            raise InvalidArgument(f"{name}: n_classes is required (>= 2); got n_classes=None")
        n_classes = 0 if name == "linear" else 2
    model: Model = entry.cls(n_features=n_features, n_classes=n_classes, **params)
    return model
