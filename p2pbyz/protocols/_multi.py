r"""The multi-server protocol, in the style of ByzSGD (El-Mhamdi, Guerraoui, Guirguis, Hoang,
Rouault, "Genuinely distributed Byzantine machine learning", PODC 2020).

Round t, with :math:`n_s` servers (:math:`f_s` tolerated) and :math:`n_w` workers
(:math:`f_w` tolerated):

1. every server :math:`s` sends its model :math:`\theta_t^s` to every worker;
2. every worker pulls the models, aggregates them robustly,
   :math:`\hat\theta_t = M(\theta_t^{s_1}, \dots;\ f_s)` (``model_rule``, the coordinate-wise median
   by default, as ByzSGD's scatter/gather phase), computes its vector :math:`m_t` there and pushes it
   to every server;
3. every server aggregates the vectors it received with the scenario's rule,
   :math:`\theta^s_{t+1/2} = \theta^s_t - \gamma_t F(m_t^{i_1}, \dots;\ f_w)`;
4. every ``exchange_every`` rounds the servers exchange their models and contract them,
   :math:`\theta^s_{t+1} = C(\theta^{s}_{t+1/2}, \theta^{s'}_{t+1/2}, \dots;\ f_s)` (``contract_rule``,
   the median: ByzSGD's distributed median contraction).

Byzantine servers run the honest server and send attacked models (the scenario's
``server_attack``) to workers and servers; with ``equivocate``, a seeded half of the recipients of
each round get the attacked model and the other half the server's honest model. Byzantine workers
send attacked vectors. After the last round the servers send their final models once more, so the
workers' final (aggregated) models are measured too.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np

from ._base import ByzantineMixin, Coalition, Packet, Role, Setup

__all__ = ["MsServer", "ByzantineMsServer", "MsWorker", "ByzantineMsWorker"]


class MsServer(Role):
    """An honest server of the multi-server protocol."""

    group: ClassVar[str] = "server"
    kinds: ClassVar[tuple[str, ...]] = ("grad", "sync")
    coalition: Coalition | None = None

    def __init__(
        self,
        node_id: Hashable,
        setup: Setup,
        workers: Sequence[Hashable],
        servers: Sequence[Hashable],
    ) -> None:
        super().__init__(node_id, setup)
        cfg = setup.scenario.multi_server
        self.cfg = cfg
        self.workers = tuple(workers)
        self.others = tuple(s for s in servers if s != node_id)
        self.senders = frozenset(self.workers) | frozenset(self.others)
        self.rounds = setup.scenario.rounds
        self.timeout = cfg.round_timeout
        self.theta = np.array(setup.w0, dtype=np.float64, copy=True)
        self.t = 0

    async def send_model(self, ctx: Any, kind: str, t: int, targets: Sequence[Hashable]) -> None:
        """Send this server's model to ``targets`` (honest: the same model to all)."""
        if self.coalition is not None:
            self.coalition.observe(self.id, (kind, t), self.theta, ctx.now())
        pkt = Packet(kind, t, self.theta)
        for dst in targets:
            ctx.send(dst, pkt)

    def update(self, theta: np.ndarray, G: np.ndarray, t: int) -> np.ndarray:
        """The model after the gradient step of round ``t``."""
        return theta - float(self.setup.schedule(t)) * G

    async def run(self, ctx: Any) -> np.ndarray:
        rec = self.setup.recorder
        cfg = self.cfg
        if self.t == 0:
            rec.model(self.id, self.group, 0, self.theta)
        for t in range(self.t, self.rounds):
            await self.send_model(ctx, "model", t, self.workers)
            # A worker may itself wait up to one timeout for a late server's model: wait two.
            got = await self.mailbox.collect(
                ctx, "grad", t, self.workers, ctx.now() + 2 * self.timeout
            )
            missing = len(self.workers) - len(got)
            if missing:
                self.count("missing", missing)
            srcs, X = self.stack(got)
            G = self.aggregate(X, self.effective_f(cfg.f_workers, missing), t=t)
            if G is None:
                self.count("skipped_updates")
            else:
                rec.aggregation(self.id, self.group, t + 1, srcs, X, G)
                self.theta = self.timed(self.update, self.theta, G, t)
            if self.others and (t + 1) % cfg.exchange_every == 0:
                await self.send_model(ctx, "sync", t, self.others)
                models = await self.mailbox.collect(
                    ctx, "sync", t, self.others, ctx.now() + self.timeout
                )
                miss = len(self.others) - len(models)
                models[self.id] = self.theta
                _, M = self.stack(models)
                C = self.aggregate(
                    M, self.effective_f(cfg.f_servers, miss), rule=cfg.contract_rule, params={}, pre=(), t=t
                )
                if C is None:
                    self.count("skipped_contractions")
                else:
                    self.theta = C
            self.t = t + 1
            rec.model(self.id, self.group, t + 1, self.theta)
        await self.send_model(ctx, "model", self.rounds, self.workers)
        self.finished_at = ctx.now()
        return self.theta


class ByzantineMsServer(ByzantineMixin, MsServer):
    """A Byzantine server: runs the honest server, sends attacked (and equivocating) models."""

    async def send_model(self, ctx: Any, kind: str, t: int, targets: Sequence[Hashable]) -> None:
        V = await self.attack_vector(ctx, (kind, t), t, self.theta, ctx.now() + self.timeout / 2)
        if V is None:
            return
        if self.cfg.equivocate and len(targets) > 1:
            ss = self.setup.seed
            rng = np.random.default_rng(
                np.random.SeedSequence(
                    ss.entropy,
                    spawn_key=(*ss.spawn_key, 7, zlib.crc32(kind.encode()), t,
                               self.setup.index[self.id]),
                )
            )
            attacked = rng.permutation(len(targets)) < (len(targets) + 1) // 2
            honest = Packet(kind, t, self.theta)
            bad = Packet(kind, t, V)
            for k, dst in enumerate(targets):
                ctx.send(dst, bad if attacked[k] else honest)
            self.count("equivocations")
        else:
            pkt = Packet(kind, t, V)
            for dst in targets:
                ctx.send(dst, pkt)


class MsWorker(Role):
    """An honest worker of the multi-server protocol: pulls, aggregates models, pushes vectors."""

    group: ClassVar[str] = "honest"
    kinds: ClassVar[tuple[str, ...]] = ("model",)
    coalition: Coalition | None = None

    def __init__(
        self, node_id: Hashable, setup: Setup, learner: Any, servers: Sequence[Hashable]
    ) -> None:
        super().__init__(node_id, setup)
        self.cfg = setup.scenario.multi_server
        self.learner = learner
        self.servers = tuple(servers)
        self.senders = frozenset(self.servers)
        self.rounds = setup.scenario.rounds
        # Timeouts in a hierarchy (T = round_timeout): servers wait T for the exchange, so one of
        # them may start a round up to T late; they wait 2T for the workers' vectors, so vectors
        # delayed by a late server's model still count; a worker waits 4T for the next models
        # (> 2T + T: it never gives up on an honest server that is merely late).
        self.timeout = 4 * self.cfg.round_timeout
        self.theta = np.array(setup.w0, dtype=np.float64, copy=True)
        self.t = 0

    async def outgoing(self, ctx: Any, t: int, vec: np.ndarray) -> np.ndarray | None:
        """The vector to send for round ``t`` (honest: ``vec``)."""
        if self.coalition is not None:
            self.coalition.observe(self.id, t, vec, ctx.now())
        return vec

    async def pull(self, ctx: Any, t: int) -> np.ndarray:
        """Gather the servers' round-``t`` models and aggregate them with ``model_rule``."""
        got = await self.mailbox.collect(ctx, "model", t, self.servers, ctx.now() + self.timeout)
        missing = len(self.servers) - len(got)
        if missing:
            self.count("missing", missing)
        srcs, X = self.stack(got)
        theta = self.aggregate(
            X, self.effective_f(self.cfg.f_servers, missing), rule=self.cfg.model_rule, params={}, pre=(),
            t=t,
        )
        if theta is None:
            self.count("skipped_pulls")
            return self.theta
        self.setup.recorder.aggregation(self.id, self.group, t, srcs, X, theta)
        return theta

    def newest_round(self) -> int:
        """The latest round of which a server's model is already buffered (-1 if none)."""
        return max((r for (k, r) in self.mailbox.pending if k == "model"), default=-1)

    async def run(self, ctx: Any) -> np.ndarray:
        rec = self.setup.recorder
        while self.t < self.rounds:
            t = self.t
            # The servers moved on while this worker waited (lost models): catch up with them
            # rather than sending vectors for rounds they have closed.
            ahead = self.newest_round()
            if ahead > t:
                self.count("skipped_rounds", min(ahead, self.rounds) - t)
                t = self.t = min(ahead, self.rounds)
                if t >= self.rounds:
                    break
            self.theta = await self.pull(ctx, t)
            rec.model(self.id, self.group, t, self.theta)
            await self.compute_delay(ctx)
            vec = self.timed(self.learner.compute, self.theta, t)
            out = await self.outgoing(ctx, t, vec)
            if out is not None:
                pkt = Packet("grad", t, out)
                for s in self.servers:
                    ctx.send(s, pkt)
                rec.scalar(
                    self.id, self.group, t + 1, train_loss=self.learner.last_loss,
                    vector_norm=float(np.linalg.norm(out)) if np.isfinite(out).all() else np.inf,
                )
            self.t = t + 1
        self.theta = await self.pull(ctx, self.rounds)
        rec.model(self.id, self.group, self.rounds, self.theta)
        self.finished_at = ctx.now()
        return self.theta


class ByzantineMsWorker(ByzantineMixin, MsWorker):
    """A Byzantine worker of the multi-server protocol: sends attacked vectors to every server."""

    async def outgoing(self, ctx: Any, t: int, vec: np.ndarray) -> np.ndarray | None:
        return await self.attack_vector(ctx, t, t, vec, ctx.now() + self.cfg.round_timeout / 2)
