"""Scale-out on Ray: nodes are Ray actor processes hosting actor systems.

``open_actor_system(..., cluster=RayCluster(...))`` gives the system
:meth:`~llmgine.actors.ActorSystem.spawn_node`; a node's ``spawn`` returns a
:class:`RemoteRef` with the semantics of a local ref (bounded mailboxes,
overflow policies, asks, supervision). Needs the ``llmgine[ray]`` extra:
without Ray, :class:`RayCluster` raises :class:`~llmgine.ConfigurationError`.
"""

from ._cluster import RayCluster as RayCluster
from ._node import NodeRef as NodeRef
from ._node import NodeStatistics as NodeStatistics
from ._remote import RemoteRef as RemoteRef

__all__ = ["NodeRef", "NodeStatistics", "RayCluster", "RemoteRef"]
