r"""The parameter-server protocol: one server, n workers, synchronous or asynchronous rounds.

Synchronous round t: the server broadcasts :math:`w_t`; each worker answers with its vector
:math:`m_t^i` (its RESAM momentum, the plain gradient when β = 0); the server waits for every
worker up to ``round_timeout`` (virtual seconds), then steps

.. math:: w_{t+1} = w_t - \gamma_t\, F\big(m_t^{i_1}, \dots, m_t^{i_k};\ f - (n - k)\big)

with the k vectors received stacked in worker order. On reliable links a vector missing at the
deadline can only be a Byzantine one in a synchronous system, so it is counted against f; on
lossy links f stays as declared (an honest vector may have been lost), and a round with too few
vectors for the rule leaves the model unchanged (counted).

Asynchronous: the server updates as soon as ``quorum`` acceptable gradients (at most one per
worker) arrived, then broadcasts the new model. A gradient computed on version :math:`t - \tau` is
*stale* by :math:`\tau`: beyond ``staleness`` it is dropped; within it is used as is
(``stale="drop"``) or scaled by :math:`1/(1+\tau)` (``stale="weight"``). Workers always compute
on the newest model they hold, so staleness comes from their compute time and the links.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np

from ._base import ByzantineMixin, Coalition, Packet, Role, Setup

__all__ = ["PsServer", "PsWorker", "ByzantinePsWorker"]


class PsServer(Role):
    """The parameter server (honest). Override :meth:`update` to change the step."""

    group: ClassVar[str] = "server"
    kinds: ClassVar[tuple[str, ...]] = ("grad",)

    def __init__(self, node_id: Hashable, setup: Setup, workers: Sequence[Hashable]) -> None:
        super().__init__(node_id, setup)
        self.workers = tuple(workers)
        self.senders = frozenset(self.workers)
        cfg = setup.scenario.ps
        self.n = len(self.workers)
        self.f = cfg.f
        self.mode = cfg.mode
        self.quorum = cfg.quorum
        self.staleness = cfg.staleness
        self.stale = cfg.stale
        self.timeout = cfg.round_timeout
        self.rounds = setup.scenario.rounds
        self.w = np.array(setup.w0, dtype=np.float64, copy=True)
        self.version = 0

    def update(self, w: np.ndarray, G: np.ndarray, t: int) -> np.ndarray:
        """The model after round ``t``'s aggregate ``G``: :math:`w - \\gamma_t G`."""
        return w - float(self.setup.schedule(t)) * G

    def _step(self, t: int, got: dict[Hashable, np.ndarray], f: int, ctx: Any) -> None:
        rec = self.setup.recorder
        srcs, X = self.stack(got)
        G = self.aggregate(X, f, t=t)
        if G is None:
            self.count("skipped_updates")
        else:
            rec.aggregation(self.id, self.group, t + 1, srcs, X, G)
            self.w = self.timed(self.update, self.w, G, t)
        self.version = t + 1
        rec.model(self.id, self.group, t + 1, self.w)

    async def run(self, ctx: Any) -> np.ndarray:
        rec = self.setup.recorder
        if self.version == 0:
            rec.model(self.id, self.group, 0, self.w)
        if self.mode == "sync":
            await self._run_sync(ctx)
        else:
            await self._run_async(ctx)
        self.finished_at = ctx.now()
        return self.w

    async def _run_sync(self, ctx: Any) -> None:
        for t in range(self.version, self.rounds):
            ctx.broadcast(Packet("model", t, self.w))
            got = await self.mailbox.collect(
                ctx, "grad", t, self.workers, ctx.now() + self.timeout
            )
            missing = self.n - len(got)
            if missing:
                self.count("missing", missing)
            self._step(t, got, self.effective_f(self.f, missing), ctx)

    async def _run_async(self, ctx: Any) -> None:
        rec = self.setup.recorder
        ctx.broadcast(Packet("model", self.version, self.w))
        buf: dict[Hashable, np.ndarray] = {}
        taus: list[int] = []
        deadline = ctx.now() + self.timeout
        while self.version < self.rounds:
            msg = await ctx.recv(timeout=max(0.0, deadline - ctx.now()))
            if msg is None:
                if buf:
                    self.count("partial_updates")
                else:
                    self.count("rebroadcasts")
                    ctx.broadcast(Packet("model", self.version, self.w))
                    deadline = ctx.now() + self.timeout
                    continue
            else:
                pkt = self.accept(msg)
                if pkt is None:
                    continue
                if msg.src not in self.senders:
                    self.count("unexpected_sender")
                    continue
                tau = self.version - pkt.round
                if tau < 0:
                    self.count("from_future")
                    continue
                if tau > self.staleness:
                    self.count("stale_dropped")
                    continue
                vec = pkt.vector
                if tau > 0:
                    self.count("stale_used")
                    if self.stale == "weight":
                        vec = vec / (1.0 + tau)
                        self.count("stale_weighted")
                if msg.src in buf:
                    self.count("replaced")
                buf[msg.src] = vec
                taus.append(tau)
                if len(buf) < self.quorum:
                    continue
            t = self.version
            rec.scalar(self.id, self.group, t + 1, staleness=float(np.mean(taus)) if taus else 0.0)
            self._step(t, buf, self.f, ctx)
            buf = {}
            taus = []
            if self.version < self.rounds:
                ctx.broadcast(Packet("model", self.version, self.w))
            deadline = ctx.now() + self.timeout


class PsWorker(Role):
    """An honest worker: answers each model with its vector (see
    :class:`p2pbyz.learning.HonestWorker`). Override :meth:`outgoing` to change what is sent."""

    group: ClassVar[str] = "honest"
    kinds: ClassVar[tuple[str, ...]] = ("model",)
    coalition: Coalition | None = None

    def __init__(self, node_id: Hashable, setup: Setup, learner: Any, server: Hashable) -> None:
        super().__init__(node_id, setup)
        self.learner = learner
        self.server = server
        self.senders = frozenset([server])
        self.last_round = -1
        self.timeout = setup.scenario.ps.round_timeout

    async def outgoing(self, ctx: Any, t: int, vec: np.ndarray) -> np.ndarray | None:
        """The vector to send for round ``t`` (honest: ``vec`` itself; the coalition of an
        omniscient adversary observes it)."""
        if self.coalition is not None:
            self.coalition.observe(self.id, t, vec, ctx.now())
        return vec

    async def run(self, ctx: Any) -> None:
        rec = self.setup.recorder
        while True:
            msg = await ctx.recv()
            if msg is None:
                continue
            pkt = self.accept(msg)
            if pkt is None:
                continue
            if msg.src != self.server:
                self.count("unexpected_sender")
                continue
            # Compute on the newest model already delivered (asynchronous mode).
            while (extra := ctx.poll()) is not None:
                p2 = self.accept(extra)
                if p2 is not None and extra.src == self.server and p2.round > pkt.round:
                    self.count("skipped_models")
                    pkt = p2
            if pkt.round <= self.last_round:
                self.count("late" if pkt.round < self.last_round else "duplicates")
                continue
            await self.compute_delay(ctx)
            vec = self.timed(self.learner.compute, pkt.vector, pkt.round)
            out = await self.outgoing(ctx, pkt.round, vec)
            self.last_round = pkt.round
            if out is not None:
                ctx.send(self.server, Packet("grad", pkt.round, out))
                rec.scalar(
                    self.id, self.group, pkt.round + 1,
                    train_loss=self.learner.last_loss,
                    vector_norm=float(np.linalg.norm(out)) if np.isfinite(out).all() else np.inf,
                )


class ByzantinePsWorker(ByzantineMixin, PsWorker):
    """A Byzantine worker: the honest worker whose vectors come from the coalition's attack."""

    async def outgoing(self, ctx: Any, t: int, vec: np.ndarray) -> np.ndarray | None:
        return await self.attack_vector(ctx, t, t, vec, ctx.now() + self.timeout / 2)
