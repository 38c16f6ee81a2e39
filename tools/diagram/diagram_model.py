"""The architecture diagram's graph model: groups, the nodes inside them, and the edges between nodes.

Groups nest (region > VPC > AZ > subnet; the EKS cluster > namespaces; the trust chain; the service graph), nodes sit
in one group and say whether the design expects them but the plan does not have them yet (`present=False`, drawn
greyed), edges carry a kind (joins, tls, replication, signs, mtls, public) and a label. `tools.diagram.build` fills a
`DiagramModel` from a plan; `tools.diagram.diagram` draws it. Plain data: `--model` prints it as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from config.names import RESERVED_NAMESPACES

# Deployments outside these namespaces are the application's services.
SYSTEM_NAMESPACES: Final = RESERVED_NAMESPACES
TIERS: Final = ("public", "private", "isolated")


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    kind: str  # region, vpc, az, subnet, cluster, namespace, regional, trust, services
    parent: str = ""


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # nat, control-plane, nodegroup, rds, mq, cache, release, k8s, trust, service, regional
    group: str
    detail: str = ""
    present: bool = True  # False: expected by the design, not in this plan yet (drawn greyed)
    zones: tuple[str, ...] = ()  # AZs a node spans (node groups)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    kind: str  # joins, tls, replication, signs, mtls, public
    label: str = ""


@dataclass
class DiagramModel:
    stack: str
    title: str
    zones: tuple[str, ...]
    groups: dict[str, Group] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def group(self, id_: str, label: str, kind: str, parent: str = "") -> str:
        self.groups.setdefault(id_, Group(id_, label, kind, parent))
        return id_

    def node(self, node: Node) -> str:
        self.nodes[node.id] = node
        return node.id

    def groups_of(self, kind: str) -> list[Group]:
        return [g for g in self.groups.values() if g.kind == kind]

    def nodes_of(self, kind: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == kind]

    def nodes_in(self, group: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.group == group]

