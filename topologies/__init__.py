"""Network topologies for p2pbyz: builders, validation, Byzantine placement, gossip weights.

Builders return networkx graphs on nodes ``0..n-1`` with node attributes ``role`` ("peer",
"server", "worker") and ``byzantine`` (bool). ``names()`` lists them and ``build(name, **params)``
builds one by name.

>>> import topologies
>>> g = topologies.build("watts_strogatz", n=20, k=4, p=0.1, seed=0)
>>> g = topologies.place_byzantine(g, 3, strategy="random", seed=1)
>>> topologies.validate(g, f=1) is g
True
>>> W, nodes = topologies.metropolis_hastings(g)
>>> 0 < topologies.spectral_gap(W) <= 1
True
"""

from __future__ import annotations

from ._builders import barabasi_albert as barabasi_albert
from ._builders import complete as complete
from ._builders import dumbbell as dumbbell
from ._builders import erdos_renyi as erdos_renyi
from ._builders import from_edgelist as from_edgelist
from ._builders import from_graphml as from_graphml
from ._builders import grid as grid
from ._builders import multi_server as multi_server
from ._builders import random_regular as random_regular
from ._builders import ring as ring
from ._builders import star as star
from ._builders import torus as torus
from ._builders import two_cliques as two_cliques
from ._builders import watts_strogatz as watts_strogatz
from ._mixing import metropolis_hastings as metropolis_hastings
from ._mixing import spectral_gap as spectral_gap
from ._placement import STRATEGIES as STRATEGIES
from ._placement import place_byzantine as place_byzantine
from ._registry import build as build
from ._registry import builder as builder
from ._registry import names as names
from ._validation import byzantine_nodes as byzantine_nodes
from ._validation import honest_subgraph as honest_subgraph
from ._validation import validate as validate

__all__ = [
    "complete",
    "ring",
    "torus",
    "grid",
    "erdos_renyi",
    "watts_strogatz",
    "barabasi_albert",
    "random_regular",
    "star",
    "multi_server",
    "two_cliques",
    "dumbbell",
    "from_graphml",
    "from_edgelist",
    "names",
    "build",
    "builder",
    "validate",
    "byzantine_nodes",
    "honest_subgraph",
    "place_byzantine",
    "STRATEGIES",
    "metropolis_hastings",
    "spectral_gap",
]
