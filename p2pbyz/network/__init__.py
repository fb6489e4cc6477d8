"""The virtual-time network runtime: deterministic emulation of Byzantine message-passing networks.

Nodes are trio tasks running ``async def behaviour(ctx)``; a router orders every delivery by
``(deliver_at, seq)`` in virtual time (a :class:`trio.testing.MockClock`), so a run depends only on
its seed. Links have latency distributions, bandwidth, loss, duplication and jitter; partitions
and crashes are timed; Byzantine network behaviours are policies given to nodes.

>>> import networkx as nx
>>> from p2pbyz.network import Network, LinkPolicy, Uniform
>>> net = Network(nx.cycle_graph(4), seed=1, link_policy=LinkPolicy(latency=Uniform(0.01, 0.02)))
>>> async def gossip(ctx):
...     ctx.broadcast(ctx.id)
...     got = [await ctx.recv() for _ in ctx.neighbours]
...     return sorted(m.payload for m in got)
>>> net.add_nodes(gossip)
>>> net.run().returns[0]
[1, 3]
"""

from __future__ import annotations

from ._latency import Constant as Constant
from ._latency import Exponential as Exponential
from ._latency import Latency as Latency
from ._latency import LogNormal as LogNormal
from ._latency import Normal as Normal
from ._latency import Uniform as Uniform
from ._latency import as_latency as as_latency
from ._message import Message as Message
from ._policies import Crash as Crash
from ._policies import Delay as Delay
from ._policies import Equivocate as Equivocate
from ._policies import Flood as Flood
from ._policies import Impersonate as Impersonate
from ._policies import LinkPolicy as LinkPolicy
from ._policies import Malform as Malform
from ._policies import NodePolicy as NodePolicy
from ._policies import Omission as Omission
from ._policies import Outgoing as Outgoing
from ._policies import Partition as Partition
from ._policies import malformed_payload as malformed_payload
from ._runtime import Network as Network
from ._runtime import NodeContext as NodeContext
from ._runtime import payload_size as payload_size
from ._stats import LinkStatistics as LinkStatistics
from ._stats import NetworkStatistics as NetworkStatistics
from ._stats import NodeStatistics as NodeStatistics
from ._stats import RunResult as RunResult
from ._stats import RunStatistics as RunStatistics
from ._trace import TraceRecord as TraceRecord
from ._trace import read_trace as read_trace
from ._validators import array_validator as array_validator

__all__ = [
    "Network",
    "NodeContext",
    "Message",
    "LinkPolicy",
    "Partition",
    "Latency",
    "Constant",
    "Uniform",
    "Normal",
    "LogNormal",
    "Exponential",
    "as_latency",
    "NodePolicy",
    "Outgoing",
    "Crash",
    "Omission",
    "Delay",
    "Equivocate",
    "Flood",
    "Malform",
    "Impersonate",
    "malformed_payload",
    "array_validator",
    "payload_size",
    "LinkStatistics",
    "NodeStatistics",
    "RunStatistics",
    "NetworkStatistics",
    "RunResult",
    "TraceRecord",
    "read_trace",
]
