r"""The peer-to-peer protocol: every peer trains and robustly aggregates its neighbourhood.

Round t of peer i, with neighbours :math:`N_i` on any topology:

.. math::

    x_i^{(0)} = x_i - \gamma_t m_t^i, \qquad
    x_i^{(s+1)} = F\big(\{x_i^{(s)}\} \cup \{x_j^{(s)} : j \in N_i \text{ received}\};\
        f - \text{missing}\big), \quad s = 0, \dots, S-1,

then :math:`x_i \leftarrow x_i^{(S)}` (``gossip_steps`` = S exchange-and-aggregate steps, each
waiting up to ``round_timeout`` for the neighbours). The rows are stacked in node order, the
peer's own vector among them. Each peer's rule tolerates the declared ``f`` Byzantine
neighbours; on reliable links a neighbour silent at the deadline is counted against it.

Byzantine peers run the honest peer and send attacked vectors: one vector to all their
neighbours, computed from the honest vectors of those neighbours, or, with ``equivocate``, a
vector per recipient computed from the honest vectors that recipient aggregates.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ._base import ByzantineMixin, Coalition, Packet, Role, Setup

__all__ = ["Peer", "ByzantinePeer"]


class Peer(Role):
    """An honest peer. Override :meth:`local_step` or :meth:`combine` to script another one."""

    group: ClassVar[str] = "honest"
    kinds: ClassVar[tuple[str, ...]] = ("gossip",)
    coalition: Coalition | None = None

    def __init__(
        self,
        node_id: Hashable,
        setup: Setup,
        learner: Any,
        in_neighbours: Sequence[Hashable],
        out_neighbours: Sequence[Hashable],
    ) -> None:
        super().__init__(node_id, setup)
        cfg = setup.scenario.p2p
        self.cfg = cfg
        self.learner = learner
        self.in_neighbours = tuple(in_neighbours)
        self.out_neighbours = tuple(out_neighbours)
        self.senders = frozenset(self.in_neighbours)
        self.rounds = setup.scenario.rounds
        self.steps = cfg.gossip_steps
        self.timeout = cfg.round_timeout
        self.x = np.array(setup.w0, dtype=np.float64, copy=True)
        self.t = 0
        self.mailbox.window = max(8, 2 * self.steps)

    def local_step(self, x: np.ndarray, t: int) -> np.ndarray:
        r"""The local update :math:`x - \gamma_t m_t` with this peer's vector at ``x``."""
        m = self.learner.compute(x, t)
        return x - float(self.setup.schedule(t)) * m

    def combine(self, got: Mapping[Hashable, np.ndarray], f: int, t: int) -> np.ndarray | None:
        """Robustly aggregate the vectors ``got`` (own included), tolerating ``f``."""
        srcs, X = self.stack(got)
        out = self.aggregate(X, f, t=t)
        if out is not None:
            self.setup.recorder.aggregation(self.id, self.group, t + 1, srcs, X, out)
        return out

    async def send_vector(self, ctx: Any, key: int, t: int, v: np.ndarray) -> None:
        """Send ``v`` to the out-neighbours (honest: the same vector to all)."""
        if self.coalition is not None:
            self.coalition.observe(self.id, key, v, ctx.now())
        pkt = Packet("gossip", key, v)
        for dst in self.out_neighbours:
            ctx.send(dst, pkt)

    async def run(self, ctx: Any) -> np.ndarray:
        rec = self.setup.recorder
        if self.t == 0:
            rec.model(self.id, self.group, 0, self.x)
        for t in range(self.t, self.rounds):
            await self.compute_delay(ctx)
            v = self.timed(self.local_step, self.x, t)
            rec.scalar(self.id, self.group, t + 1, train_loss=self.learner.last_loss)
            for s in range(self.steps):
                key = t * self.steps + s
                await self.send_vector(ctx, key, t, v)
                got = await self.mailbox.collect(
                    ctx, "gossip", key, self.in_neighbours, ctx.now() + self.timeout
                )
                missing = len(self.in_neighbours) - len(got)
                if missing:
                    self.count("missing", missing)
                got[self.id] = v
                out = self.combine(got, self.effective_f(self.cfg.f, missing), t)
                if out is None:
                    self.count("skipped_steps")
                else:
                    v = out
            self.x = v
            self.t = t + 1
            rec.model(self.id, self.group, t + 1, self.x)
        self.finished_at = ctx.now()
        return self.x


class ByzantinePeer(ByzantineMixin, Peer):
    """A Byzantine peer: trains like an honest one, sends attacked vectors to its neighbours."""

    #: Per recipient: the honest nodes whose vectors it aggregates (set by the protocol builder).
    targets: Mapping[Hashable, tuple[Hashable, ...]] = {}
    #: The honest nodes the non-equivocating attack is computed from.
    victims: tuple[Hashable, ...] = ()

    async def send_vector(self, ctx: Any, key: int, t: int, v: np.ndarray) -> None:
        deadline = ctx.now() + self.timeout / 2
        if not self.cfg.equivocate:
            out = await self.attack_vector(ctx, key, t, v, deadline, among=self.victims)
            if out is None:
                return
            pkt = Packet("gossip", key, out)
            for dst in self.out_neighbours:
                ctx.send(dst, pkt)
            return
        idx = self.setup.index
        for dst in self.out_neighbours:
            out = await self.attack_vector(
                ctx, key, t, v, deadline, among=self.targets.get(dst, ()), recipient=idx[dst]
            )
            if out is None:
                return
            ctx.send(dst, Packet("gossip", key, out))
        self.count("equivocations")
