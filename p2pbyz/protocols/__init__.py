"""Byzantine-resilient training protocols as node behaviours on the :mod:`p2pbyz.network` runtime.

- ``ps``: one parameter server and n workers, synchronous rounds or asynchronous with a quorum and a
  staleness bound (:class:`PsServer`, :class:`PsWorker`, :class:`ByzantinePsWorker`);
- ``multi_server``: ByzSGD-style, several servers of which some Byzantine (:class:`MsServer`,
  :class:`ByzantineMsServer`, :class:`MsWorker`, :class:`ByzantineMsWorker`);
- ``p2p``: peers on any topology aggregating their neighbourhood robustly (:class:`Peer`,
  :class:`ByzantinePeer`).

A Byzantine node is its honest role plus a vector attack (through a :class:`Coalition`, which
knows what the attack's knowledge model allows) plus network behaviours (runtime policies).
Roles are classes: subclass one and pass it to :func:`p2pbyz.emulate` with ``roles=``.

Examples
--------
>>> from p2pbyz import protocols
>>> protocols.names()
('ps', 'multi_server', 'p2p')
>>> sorted(protocols.spec("ps").roles)
['byzantine_worker', 'server', 'worker']
"""

from __future__ import annotations

from ._base import GROUPS as GROUPS
from ._base import ByzantineMixin as ByzantineMixin
from ._base import Coalition as Coalition
from ._base import Mailbox as Mailbox
from ._base import Packet as Packet
from ._base import Recorder as Recorder
from ._base import Role as Role
from ._base import Setup as Setup
from ._base import packet_validator as packet_validator
from ._build import ROLE_KEYS as ROLE_KEYS
from ._build import Plan as Plan
from ._build import ProtocolSpec as ProtocolSpec
from ._build import names as names
from ._build import register as register
from ._build import spec as spec
from ._multi import ByzantineMsServer as ByzantineMsServer
from ._multi import ByzantineMsWorker as ByzantineMsWorker
from ._multi import MsServer as MsServer
from ._multi import MsWorker as MsWorker
from ._p2p import ByzantinePeer as ByzantinePeer
from ._p2p import Peer as Peer
from ._ps import ByzantinePsWorker as ByzantinePsWorker
from ._ps import PsServer as PsServer
from ._ps import PsWorker as PsWorker

__all__ = [
    "GROUPS",
    "Packet",
    "packet_validator",
    "Setup",
    "Mailbox",
    "Coalition",
    "Recorder",
    "Role",
    "ByzantineMixin",
    "Plan",
    "ProtocolSpec",
    "ROLE_KEYS",
    "names",
    "spec",
    "register",
    "PsServer",
    "PsWorker",
    "ByzantinePsWorker",
    "MsServer",
    "ByzantineMsServer",
    "MsWorker",
    "ByzantineMsWorker",
    "Peer",
    "ByzantinePeer",
]
