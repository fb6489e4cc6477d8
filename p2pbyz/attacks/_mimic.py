"""Mimic (Karimireddy, He & Jaggi, ICLR 2022): copy one honest worker, fixed or chosen during a
warm-up along the top principal direction of the honest vectors."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_int
from ..errors import InvalidArgument
from ._base import Attack, Round, honest_mean, tile
from ._registry import AttackSpec, register

__all__ = ["Mimic", "MimicWarmup"]

_KHJ = (
    "Karimireddy, He, Jaggi, 'Byzantine-Robust Learning on Heterogeneous Datasets via Bucketing', "
    "ICLR 2022"
)


class Mimic(Attack):
    r"""Mimic: every Byzantine node sends a copy of honest worker t's vector.

    .. math:: B_j = g_t

    Under heterogeneous (non-i.i.d.) data this over-represents worker t's distribution, which rules
    that look only at the spread of the inputs cannot detect [code: epfml
    byzantine-robust-noniid-optimizer, ``MimicAttacker``]. With ``knowledge="estimating"`` t indexes
    the Byzantine nodes' own gradients.

    Parameters
    ----------
    t : int, default 0
        Row of ``honest`` to copy, ``0 <= t < h`` (checked at call time).

    Notes
    -----
    Requirement: none. Complexity: O(fd).

    References
    ----------
    .. [1] Karimireddy, He, Jaggi, ICLR 2022, arXiv 2006.09365.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> attacks.make("mimic", t=1)(np.array([[1.0, 2.0], [3.0, 4.0]]), 2)
    array([[3., 4.],
           [3., 4.]])
    """

    name = "mimic"

    def __init__(self, *, t: int = 0, knowledge: str = "omniscient", collude: bool = True) -> None:
        self.t = check_int(t, "t", minimum=0, owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        if self.t >= H.shape[0]:
            raise InvalidArgument(
                f"{self.name}: t must be < the number of vectors seen; got t={self.t}, "
                f"h={H.shape[0]}"
            )
        return tile(H[self.t], ctx.count)


def _power_step(H: np.ndarray, mu: np.ndarray, z: np.ndarray) -> np.ndarray:
    """sum_i <g_i - mu, z> (g_i - mu), accumulated in float64 in row order."""
    cumu = np.zeros(H.shape[1], dtype=np.float64)
    tmp = np.empty(H.shape[1], dtype=np.float64)
    for i in range(H.shape[0]):
        np.subtract(H[i], mu, out=tmp)
        w = float(np.dot(tmp, z))
        cumu += w * tmp
    return cumu


def _normalized(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    norm = math.sqrt(float(np.dot(v, v)))
    return v / norm if norm > 0.0 else fallback


class MimicWarmup(Attack):
    r"""Mimic with warm-up: choose the worker to copy along the honest vectors' top principal
    direction, then keep copying it (a stateful behaviour).

    During the first ``warmup`` calls the attacker tracks a running mean :math:`\mu_t` and an
    estimate :math:`z_t` of the top principal direction of the honest vectors (one power-iteration
    step per call, averaged over calls), and sends the vector of

    .. math:: t^\star = \arg\max_i \langle g_i, z_t \rangle \quad \text{(smallest index on ties)}

    After the warm-up it keeps sending worker :math:`t^\star`'s vector. Updates, as the authors'
    ``MimicVariantAttacker`` [code]: call 0: :math:`\mu = \bar g`, :math:`z \propto \sum_i \langle
    g_i - \mu, z_0\rangle (g_i - \mu)` with :math:`z_0 \sim \mathcal N(0, I)` drawn from ``rng``;
    call t < warmup: :math:`\mu \leftarrow \frac{t}{t+1}\mu + \frac{1}{t+1}\bar g`,
    :math:`z \leftarrow \frac{t}{t+1} z + \frac{1}{t+1}\frac{c}{\lVert c\rVert}` with
    :math:`c = \sum_i \langle g_i - \mu, z\rangle (g_i - \mu)`, then z is normalised.

    The object keeps (calls, mu, z, target) across rounds: call it once per round, in order, and
    :meth:`reset` it between runs. ``round`` is not used (the warm-up counts calls).

    Parameters
    ----------
    warmup : int, default 1
        Number of calls during which the target is re-chosen (p2pbyz default), ``warmup >= 1``.

    Notes
    -----
    Requirement: the same d and at least t*+1 vectors in every call. Complexity: O(hd) per call.
    Randomized: ``rng`` is required (z_0).

    References
    ----------
    .. [1] Karimireddy, He, Jaggi, ICLR 2022, arXiv 2006.09365.

    Examples
    --------
    >>> import numpy as np
    >>> from p2pbyz import attacks
    >>> m = attacks.make("mimic_warmup", warmup=2)
    >>> H = np.array([[0.0, 0.0], [5.0, 0.0], [-1.0, 0.0]])
    >>> m(H, 1, rng=np.random.default_rng(0)).tolist() in ([[5.0, 0.0]], [[-1.0, 0.0]])
    True
    >>> m.target in (1, 2)
    True
    """

    name = "mimic_warmup"

    def __init__(
        self, *, warmup: int = 1, knowledge: str = "omniscient", collude: bool = True
    ) -> None:
        self.warmup = check_int(warmup, "warmup", minimum=1, owner=self.name)
        super().__init__(knowledge=knowledge, collude=collude)
        self.reset()

    def reset(self) -> None:
        """Forget the warm-up state (call before a new run)."""
        self.calls = 0
        self.mu: np.ndarray | None = None
        self.z: np.ndarray | None = None
        self.target: int | None = None

    def _vectors(self, H: np.ndarray, ctx: Round) -> np.ndarray:
        d = H.shape[1]
        if self.mu is not None and self.mu.shape[0] != d:
            raise InvalidArgument(
                f"{self.name}: the dimension changed from d={self.mu.shape[0]} to d={d}; call "
                "reset()"
            )
        t = self.calls
        if t < self.warmup:
            avg = honest_mean(H)
            if t == 0:
                z0 = ctx.rng.standard_normal(d)
                self.mu = avg
                self.z = _normalized(_power_step(H, self.mu, z0), _normalized(z0, z0))
            else:
                self.mu = (t / (t + 1)) * self.mu + avg / (t + 1)
                step = _normalized(_power_step(H, self.mu, self.z), self.z)
                self.z = _normalized((t / (t + 1)) * self.z + step / (t + 1), self.z)
            scores = np.array(
                [float(np.dot(H[i].astype(np.float64), self.z)) for i in range(H.shape[0])]
            )
            self.target = int(np.argmax(scores))  # first maximum: smallest index on ties
        elif self.target >= H.shape[0]:
            raise InvalidArgument(
                f"{self.name}: the warm-up chose worker {self.target} but only {H.shape[0]} "
                "vectors "
                f"are given in this round"
            )
        self.calls = t + 1
        return tile(H[self.target], ctx.count)


register(AttackSpec(
    name="mimic", cls=Mimic, formula="B_j = g_t (copy honest worker t)",
    paper=_KHJ + " [code]",
))
register(AttackSpec(
    name="mimic_warmup", cls=MimicWarmup,
    formula=(
        "B_j = g_t*, t* = argmax_i <g_i, z> during the warm-up (z: top principal direction), "
        "then fixed"
    ),
    paper=_KHJ + " [code]", randomized=True, stateful=True,
))
