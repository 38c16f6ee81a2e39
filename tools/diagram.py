"""Architecture diagram of a stack, drawn from its offline plan: what `pulumi up` would build, as a picture.

    python -m tools.diagram --stack prod                  # writes docs/diagram-prod.png
    python -m tools.diagram --stack prod --format svg --out /tmp

Two steps. `build_model(plan)` turns the registrations into a graph model: groups (region, VPC, one per AZ, one per
subnet, the EKS cluster, one per namespace, the trust chain, the service graph), nodes inside them (NAT gateways,
node groups, data services, Helm releases, issuers, services) and edges (node groups -> control plane, TLS from the
cluster security group to each data service, the trust chain's signatures, the mesh's mTLS calls). `render(model)`
lays that model out on a fixed grid and draws it with matplotlib, which installs from PyPI as wheels with everything
it needs: no Graphviz binary, so `make diagram` works on a fresh clone with only python3. Layers not in the plan yet
(the mesh, the services) are drawn greyed, so the picture says what is missing instead of hiding it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from components.stack_config import ConfigError
from tools.cost import dig, helm_chart, resource_id
from tools.deploy_time import is_vault_bootstrap
from tools.mock_engine import ROOT, Plan, Registration, list_stacks, run_stack

DOCS: Final = ROOT / "docs"
SYSTEM_NAMESPACES: Final = frozenset({"kube-system", "linkerd", "cert-manager", "vault", "monitoring",
                                      "linkerd-viz", "aws-load-balancer-controller"})
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


# --- the model --------------------------------------------------------------------------------------------------------

def build_model(plan: Plan) -> DiagramModel:
    """The stack's architecture as groups, nodes and edges; no drawing."""
    region = str(next((r.inputs.get("region") for r in plan.of_type("pulumi:providers:aws")), "") or "us-east-1")
    subnets = {resource_id(s): s for s in plan.of_type("aws:ec2/subnet:Subnet")}
    zones = tuple(sorted({str(s.inputs.get("availabilityZone")) for s in subnets.values()}))
    m = DiagramModel(plan.stack, f"mtls-platform · {plan.stack} · {region} · {len(plan.resources)} resources", zones)
    m.group("region", f"AWS {region}", "region")
    vpc = next(iter(plan.of_type("aws:ec2/vpc:Vpc")), None)
    m.group("vpc", f"VPC {vpc.inputs.get('cidrBlock') if vpc else ''}", "vpc", "region")
    for zone in zones:
        m.group(f"az:{zone}", zone, "az", "vpc")
    for s in subnets.values():
        tier, zone = str(dig(s.inputs, "tags.tier", "private")), str(s.inputs.get("availabilityZone"))
        m.group(f"subnet:{tier}:{zone}", f"{tier} {s.inputs.get('cidrBlock')}", "subnet", f"az:{zone}")

    def zone_of(subnet_id: Any) -> str:
        s = subnets.get(str(subnet_id))
        return str(s.inputs.get("availabilityZone")) if s else (zones[0] if zones else "")

    for nat in plan.of_type("aws:ec2/natGateway:NatGateway"):
        zone = zone_of(nat.inputs.get("subnetId"))
        m.node(Node(f"nat:{nat.name}", "NAT gateway + EIP", "nat", f"subnet:public:{zone}"))
    _cluster(m, plan, zone_of)
    _data_services(m, plan, zones)
    _regional(m, plan)
    _kubernetes(m, plan)
    _trust_chain(m, plan)
    _services(m, plan)
    return m


def _cluster(m: DiagramModel, plan: Plan, zone_of: Callable[[Any], str]) -> None:
    eks = next(iter(plan.of_type("eks:index:Cluster") + plan.of_type("aws:eks/cluster:Cluster")), None)
    if eks is None:
        return
    i = eks.inputs
    name = i.get("name") or eks.name
    m.group("cluster", f"EKS {name} · Kubernetes {i.get('version', '')}", "cluster", "region")
    endpoint = "private endpoint" if not i.get("endpointPublicAccess") else \
        f"public endpoint ({', '.join(i.get('publicAccessCidrs') or ['0.0.0.0/0'])}) + private"
    support = dig(i, "upgradePolicy.supportType") or "EXTENDED (unset)"
    m.node(Node("control-plane", "EKS control plane", "control-plane", "cluster",
                f"{endpoint} · {support} support · secrets KMS-encrypted · API access entries"))
    for ng in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        n = ng.inputs
        pool = dig(n, "labels", {}).get("platform/pool", ng.name)
        types = n.get("instanceTypes") or ["t3.medium"]
        capacity = "spot" if n.get("capacityType") == "SPOT" else "on-demand"
        size = n.get("scalingConfig") or {}
        ng_zones = tuple(sorted({zone_of(s) for s in n.get("subnetIds") or []}))
        m.node(Node(f"nodegroup:{ng.name}", f"{pool}: {size.get('desiredSize', 0):g} x {types[0]} {capacity}",
                    "nodegroup", "cluster", f"{size.get('minSize', 0):g}-{size.get('maxSize', 0):g} nodes"
                    + (f" · {', '.join(types)}" if len(types) > 1 else "")
                    + (" · tainted" if n.get("taints") else ""), zones=ng_zones))
        m.edges.append(Edge(f"nodegroup:{ng.name}", "control-plane", "joins"))


def _data_services(m: DiagramModel, plan: Plan, zones: tuple[str, ...]) -> None:
    def cell(k: int) -> str:
        return f"subnet:isolated:{zones[k % len(zones)]}" if zones else "vpc"

    placed: dict[str, str] = {}  # security group id -> primary node id
    for r in plan.of_type("aws:rds/instance:Instance"):
        i = r.inputs
        label = f"RDS PostgreSQL {i.get('engineVersion', '')} {i.get('instanceClass')}"
        detail = f"primary · {i.get('allocatedStorage', 0):g} GB"
        placed_id = m.node(Node(f"rds:{r.name}", label, "rds", cell(0), detail))
        for sg in i.get("vpcSecurityGroupIds") or []:
            placed[str(sg)] = placed_id
        if i.get("multiAz"):
            m.node(Node(f"rds:{r.name}:standby", label, "rds", cell(1), "standby (synchronous)"))
            m.edges.append(Edge(placed_id, f"rds:{r.name}:standby", "replication", "sync"))
    for r in plan.of_type("aws:mq/broker:Broker"):
        i = r.inputs
        label = f"Amazon MQ {i.get('engineType', '')} {i.get('engineVersion', '')} {i.get('hostInstanceType')}"
        placed_id = m.node(Node(f"mq:{r.name}", label, "mq", cell(0), "active"))
        for sg in i.get("securityGroups") or []:
            placed[str(sg)] = placed_id
        if i.get("deploymentMode") == "ACTIVE_STANDBY_MULTI_AZ":
            m.node(Node(f"mq:{r.name}:standby", label, "mq", cell(1), "standby"))
            m.edges.append(Edge(placed_id, f"mq:{r.name}:standby", "replication", "shared storage"))
    for r in plan.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        i = r.inputs
        label = f"ElastiCache {i.get('engine', 'redis')} {i.get('engineVersion', '')} {i.get('nodeType')}"
        count = int(i.get("numCacheClusters") or 1)
        ids = [m.node(Node(f"cache:{r.name}:{k}", label, "cache", cell(k), "primary" if k == 0 else "replica"))
               for k in range(count)]
        for sg in i.get("securityGroupIds") or []:
            placed[str(sg)] = ids[0]
        m.edges += [Edge(ids[0], other, "replication", "async") for other in ids[1:]]
    for r in plan.of_type("aws:servicecatalog/provisionedProduct:ProvisionedProduct"):
        params = {str(p.get("key")): str(p.get("value")) for p in r.inputs.get("provisioningParameters") or []}
        klass = params.get("InstanceClass", "")
        kind = {"db": "rds", "mq": "mq", "cache": "cache"}.get(klass.split(".")[0], "rds")
        node = m.node(Node(f"{kind}:{r.name}", f"{r.inputs.get('name', r.name)} {klass}", kind, cell(0),
                           f"Service Catalog product · Multi-AZ {params.get('MultiAZ', 'false')}"))
        placed[params.get("SecurityGroupIds", "")] = node
    ports: dict[str, list[str]] = {}
    for rule in plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        target = placed.get(str(rule.inputs.get("securityGroupId")))
        if target and rule.inputs.get("referencedSecurityGroupId"):
            ports.setdefault(target, []).append(f"{rule.inputs.get('fromPort', 0):g}")
    for target, numbers in ports.items():
        m.edges.append(Edge("cluster", target, "tls", f"TLS {'/'.join(sorted(numbers, key=float))}"))


def _regional(m: DiagramModel, plan: Plan) -> None:
    m.group("regional", "Regional services", "regional", "region")
    prefix = f"mtls-platform-{plan.stack}-"
    aliases = sorted(str(a.inputs.get("name", "")).split("/")[-1].removeprefix(prefix)
                     for a in plan.of_type("aws:kms/alias:Alias"))
    logs = plan.of_type("aws:cloudwatch/logGroup:LogGroup")
    retention = sorted({int(g.inputs.get("retentionInDays") or 0) for g in logs})
    irsa = [r.name for r in plan.of_type("aws:iam/role:Role")
            if "oidc-provider" in str(r.inputs.get("assumeRolePolicy"))]
    entries = [
        ("kms", f"KMS x {len(plan.of_type('aws:kms/key:Key'))}", ", ".join(aliases)),
        ("s3", f"S3 x {len(plan.of_type('aws:s3/bucket:Bucket'))}", ", ".join(b.name for b in
                                                                         plan.of_type("aws:s3/bucket:Bucket"))),
        ("secrets", f"Secrets Manager x {len(plan.of_type('aws:secretsmanager/secret:Secret'))}", "+ RDS-managed"),
        ("logs", f"CloudWatch Logs x {len(logs)}", f"retention {'/'.join(map(str, retention))} d, KMS"),
        ("irsa", f"IRSA roles x {len(irsa)}", ", ".join(irsa)),
    ]
    for key, label, detail in entries:
        m.node(Node(f"regional:{key}", label, "regional", "regional", detail))


def _kubernetes(m: DiagramModel, plan: Plan) -> None:
    namespaces = [str(dig(r.inputs, "metadata.name")) for r in plan.of_type("kubernetes:core/v1:Namespace")]
    releases = [r for r in plan.resources if helm_chart(r)]
    for r in releases:
        ns = str(r.inputs.get("namespace") or "default")
        if ns not in namespaces:
            namespaces.append(ns)
    for ns in namespaces:
        m.group(f"ns:{ns}", ns, "namespace", "cluster")
    for r in releases:
        ns = str(r.inputs.get("namespace") or "default")
        m.node(Node(f"release:{r.name}", f"{helm_chart(r)} {r.inputs.get('version', '')}".strip(), "release",
                    f"ns:{ns}", "Helm release" + (" · no wait" if r.inputs.get("skipAwait") else "")))
    counts: dict[str, dict[str, int]] = {}
    for r in plan.resources:
        ns = dig(r.inputs, "metadata.namespace")
        if r.custom and r.type.startswith("kubernetes:") and ns in namespaces:
            kind = r.type.rsplit(":", 1)[-1]
            counts.setdefault(str(ns), {}).setdefault(kind, 0)
            counts[str(ns)][kind] += 1
    for ns, kinds in counts.items():
        for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])):
            m.node(Node(f"k8s:{ns}:{kind}", f"{n} x {kind}", "k8s", f"ns:{ns}"))


def _trust_chain(m: DiagramModel, plan: Plan) -> None:
    m.group("trust", "Trust chain (mTLS identities)", "trust")
    charts = {helm_chart(r): r for r in plan.resources if helm_chart(r)}
    vault = next((r for r in plan.resources if is_vault_bootstrap(r)), None) or charts.get("vault")
    issuers = [r for r in plan.of_type("kubernetes:cert-manager.io/v1:ClusterIssuer") if dig(r.inputs, "spec.vault")]
    vault_issuers = {str(dig(r.inputs, "metadata.name", r.name)) for r in issuers}
    # Linkerd's identity issuer: the CA certificate a Vault ClusterIssuer signs (the webhook CA is self-signed).
    certs = sorted((r for r in plan.of_type("kubernetes:cert-manager.io/v1:Certificate") if dig(r.inputs, "spec.isCA")),
                   key=lambda r: (dig(r.inputs, "spec.issuerRef.name") not in vault_issuers,
                                  "identity" not in str(dig(r.inputs, "metadata.name", r.name))))
    linkerd = charts.get("linkerd-control-plane")
    workloads = [r for r in plan.of_type("kubernetes:apps/v1:Deployment")
                 if dig(r.inputs, "metadata.namespace") not in SYSTEM_NAMESPACES]

    def name(r: Registration | None) -> str:
        return str(dig(r.inputs, "metadata.name", r.name)) if r else ""

    chain = [
        ("root", "Vault PKI root CA", "trust anchor, key never leaves Vault", vault is not None),
        ("issuer", f"cert-manager ClusterIssuer {name(issuers[0]) if issuers else ''}".strip(),
         "Vault PKI, Kubernetes auth", bool(issuers)),
        ("identity", f"Certificate {name(certs[0]) if certs else 'identity issuer'}",
         "intermediate CA for Linkerd (cert-manager renews)", bool(certs)),
        ("linkerd", "Linkerd identity", f"linkerd-control-plane {linkerd.inputs.get('version', '') if linkerd else ''}",
         linkerd is not None),
        ("workloads", f"workload certificates ({len(workloads)} Deployments)" if workloads else "workload certificates",
         "per-pod, short-lived, mTLS", bool(workloads)),
    ]
    for key, label, detail, present in chain:
        m.node(Node(f"trust:{key}", label, "trust", "trust", detail, present))
    for (a, *_), (b, *_) in itertools.pairwise(chain):
        m.edges.append(Edge(f"trust:{a}", f"trust:{b}", "signs", "signs"))


def _services(m: DiagramModel, plan: Plan) -> None:
    """Services (Deployments outside system namespaces) and their mTLS calls from Linkerd authorization policy."""
    m.group("services", "Service graph (Linkerd mTLS, default deny)", "services")
    deployments = [r for r in plan.of_type("kubernetes:apps/v1:Deployment")
                   if dig(r.inputs, "metadata.namespace") not in SYSTEM_NAMESPACES]
    by_account: dict[str, str] = {}
    for d in deployments:
        svc = str(dig(d.inputs, "metadata.name", d.name))
        by_account[str(dig(d.inputs, "spec.template.spec.serviceAccountName") or svc)] = svc
        m.node(Node(f"svc:{svc}", svc, "service", "services"))
    servers = {str(dig(r.inputs, "metadata.name")): r for r in plan.resources if r.type.endswith(":Server")
               and r.type.startswith("kubernetes:policy.linkerd.io/")}
    authns = {str(dig(r.inputs, "metadata.name")): r for r in plan.resources
              if r.type.startswith("kubernetes:policy.linkerd.io/") and r.type.endswith(":MeshTLSAuthentication")}
    edges: set[tuple[str, str]] = set()
    for policy in plan.resources:
        if not policy.type.startswith("kubernetes:policy.linkerd.io/") or \
                not policy.type.endswith(":AuthorizationPolicy"):
            continue
        server = servers.get(str(dig(policy.inputs, "spec.targetRef.name")))
        labels = dig(server.inputs, "spec.podSelector.matchLabels", {}) if server else {}
        target = by_account.get(str(labels.get("app") or labels.get("app.kubernetes.io/name") or ""))
        for ref in dig(policy.inputs, "spec.requiredAuthenticationRefs", []) or []:
            authn = authns.get(str(ref.get("name")))
            for caller in _callers(authn.inputs if authn else {}):
                if target and caller in by_account:
                    edges.add((by_account[caller], target))
    m.edges += [Edge(f"svc:{a}", f"svc:{b}", "mtls", "mTLS") for a, b in sorted(edges)]
    for ingress in plan.resources:
        if ingress.type.startswith("kubernetes:networking.k8s.io/") and ingress.type.endswith(":Ingress"):
            for backend in _ingress_backends(ingress.inputs):
                if f"svc:{backend}" in m.nodes:
                    m.node(Node("svc:internet", "ALB (HTTPS)", "service", "services"))
                    m.edges.append(Edge("svc:internet", f"svc:{backend}", "public", "HTTPS"))


def _callers(authn: dict[str, Any]) -> Iterable[str]:
    """Service-account names a MeshTLSAuthentication admits (identityRefs or identity strings)."""
    for ref in dig(authn, "spec.identityRefs", []) or []:
        if ref.get("kind") == "ServiceAccount" and ref.get("name"):
            yield str(ref["name"])
    for identity in dig(authn, "spec.identities", []) or []:
        yield str(identity).split(".")[0]


def _ingress_backends(spec: dict[str, Any]) -> Iterable[str]:
    for rule in dig(spec, "spec.rules", []) or []:
        for path in dig(rule, "http.paths", []) or []:
            name = dig(path, "backend.service.name")
            if name:
                yield str(name)


# --- drawing ----------------------------------------------------------------------------------------------------------

KIND_ORDER: Final = {"rds": 0, "mq": 1, "cache": 2}
COLOURS: Final = {
    "public": "#e8f5e9", "private": "#e3f2fd", "isolated": "#f3e5f5", "vpc": "#fbfbfb", "region": "#ffffff",
    "cluster": "#fff8e1", "regional": "#fafafa", "trust": "#fffde7", "services": "#f1f8e9", "namespace": "#ffffff",
    "nat": "#8c4fff", "control-plane": "#ed7100", "nodegroup": "#f7a541", "rds": "#3b48cc", "mq": "#c7131f",
    "cache": "#2e7d32", "release": "#326ce5", "k8s": "#90a4ae", "trust-node": "#b8860b", "service": "#00897b",
    "absent": "#bdbdbd", "tls": "#3b48cc", "mtls": "#00897b", "signs": "#b8860b", "joins": "#ed7100",
}


class Canvas:
    """Fixed-grid layout of a `DiagramModel` on matplotlib axes: AWS on the left, Kubernetes and trust on the right."""

    def __init__(self, ax: Any, model: DiagramModel) -> None:
        self.ax, self.m = ax, model
        self.where: dict[str, tuple[float, float, float, float]] = {}  # node id -> drawn box
        ax.set_xlim(0, 220)
        ax.set_ylim(0, 130)
        ax.axis("off")

    # primitives
    def box(self, x0: float, y0: float, x1: float, y1: float, face: str, label: str = "", *, edge: str = "#607d8b",
            dashed: bool = False, size: float = 8, bold: bool = False, colour: str = "#263238", lw: float = 1.0,
            rounded: bool = True) -> None:
        from matplotlib.patches import FancyBboxPatch

        style = "round,pad=0,rounding_size=0.8" if rounded else "square,pad=0"
        self.ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle=style, facecolor=face, edgecolor=edge,
                                         linewidth=lw, linestyle="--" if dashed else "-"))
        if label:
            self.text(x0 + 0.8, y1 - 0.6, label, size=size, bold=bold, colour=colour, va="top")

    def text(self, x: float, y: float, s: str, *, size: float = 8, bold: bool = False, colour: str = "#263238",
             ha: str = "left", va: str = "center", width: float | None = None) -> None:
        if width is not None:  # clip to the box: about 0.72 units per character at 8 pt
            limit = max(4, int(width / (0.09 * size)))
            s = s if len(s) <= limit else s[: limit - 1] + "…"
        self.ax.text(x, y, s, fontsize=size, fontweight="bold" if bold else "normal", color=colour, ha=ha, va=va)

    def card(self, x0: float, y0: float, x1: float, y1: float, node: Node, colour: str) -> None:
        """A node: coloured bar on the left, label, detail below."""
        self.where[node.id] = (x0, y0, x1, y1)
        face = "#ffffff" if node.present else "#f5f5f5"
        edge = colour if node.present else COLOURS["absent"]
        self.box(x0, y0, x1, y1, face, edge=edge, dashed=not node.present, lw=1.2)
        self.ax.add_patch(self._rect(x0, y0, 0.9, y1 - y0, edge))
        ink = "#263238" if node.present else "#9e9e9e"
        label = node.label + ("" if node.present else "  (not in plan yet)")
        one_line = y1 - y0 < 4.6 or not node.detail
        self.text(x0 + 1.6, (y0 + y1) / 2 if one_line else y1 - 1.5, label, size=7.5, bold=True, colour=ink,
                  width=x1 - x0 - 2)
        if not one_line:
            self.text(x0 + 1.6, y0 + 1.5, node.detail, size=6.5, colour=ink, width=x1 - x0 - 2)

    @staticmethod
    def _rect(x: float, y: float, w: float, h: float, colour: str) -> Any:
        from matplotlib.patches import Rectangle

        return Rectangle((x, y), w, h, facecolor=colour, edgecolor="none")

    def arrow(self, points: list[tuple[float, float]], colour: str, label: str = "", *, dashed: bool = False,
              lw: float = 1.2) -> None:
        xs, ys = zip(*points, strict=True)
        self.ax.plot(xs, ys, color=colour, linewidth=lw, linestyle="--" if dashed else "-")
        self.ax.annotate("", xy=points[-1], xytext=points[-2],
                         arrowprops={"arrowstyle": "-|>", "color": colour, "lw": lw, "shrinkA": 0, "shrinkB": 0})
        if label:
            (ax_, ay), (bx, by) = points[-2], points[-1]
            self.text((ax_ + bx) / 2 + 0.6, (ay + by) / 2, label, size=6.5, colour=colour)

    # layout
    def draw(self) -> None:
        m = self.m
        self.text(2, 127, m.title, size=15, bold=True)
        self.text(218, 127, "orange: compute   blue/red/green: data   gold: trust chain   teal: mTLS calls   "
                  "dashed grey: designed, not in this plan yet", size=7.5, ha="right", colour="#546e7a")
        self.box(2, 2, 140, 123, COLOURS["region"], m.groups["region"].label, size=10, bold=True)
        self._aws()
        self._kubernetes()
        self._trust()
        self._services()

    def _aws(self) -> None:
        m = self.m
        control = m.nodes.get("control-plane")
        if control is not None:
            self.box(6, 109, 136, 120, COLOURS["cluster"], m.groups["cluster"].label, edge=COLOURS["control-plane"],
                     size=9, bold=True)
            self.card(8, 110, 134, 116.2, control, COLOURS["control-plane"])
        self.box(6, 24, 136, 106.5, COLOURS["vpc"], m.groups["vpc"].label, size=9, bold=True)
        zones = m.zones or ("",)
        width = (126 - 2 * (len(zones) - 1)) / len(zones)
        rows = {"public": (83.0, 97.0), "private": (55.0, 81.0), "isolated": (27.0, 53.0)}
        self.columns = {z: (8 + k * (width + 2), 8 + k * (width + 2) + width) for k, z in enumerate(zones)}
        for zone, (x0, x1) in self.columns.items():
            self.box(x0, 26, x1, 102.5, "#ffffff", f"AZ {zone}", edge="#90a4ae", size=8.5, bold=True)
            for tier, (y0, y1) in rows.items():
                group = m.groups.get(f"subnet:{tier}:{zone}")
                if group is None:
                    continue
                self.box(x0 + 1, y0, x1 - 1, y1, COLOURS[tier], group.label, edge="#b0bec5", size=7)
                cells = sorted(m.nodes_in(group.id), key=lambda n: (KIND_ORDER.get(n.kind, 9), n.id))
                self._stack(cells, x0 + 2, x1 - 2, y1 - 3.2, y0 + 0.8)
        self._node_groups(rows["private"])
        for e in m.edges:
            if e.kind == "replication" and e.src in self.where and e.dst in self.where:
                a, b = self.where[e.src], self.where[e.dst]
                y = (a[1] + a[3]) / 2
                self.arrow([(a[2], y), (b[0], (b[1] + b[3]) / 2)], "#546e7a", dashed=True, lw=0.9)
                self.text((a[2] + b[0]) / 2, y + 1.0, e.label, size=6, colour="#546e7a", ha="center")
        if any(e.kind == "tls" for e in m.edges):
            x = (self.columns[zones[0]][0] + self.columns[zones[0]][1]) / 2
            self.arrow([(x, rows["private"][0] + 0.2), (x, rows["isolated"][1] - 0.2)], COLOURS["tls"],
                       "only from the cluster SG, TLS ports", dashed=True)
        self._regional()

    def _stack(self, nodes: list[Node], x0: float, x1: float, top: float, bottom: float) -> None:
        if not nodes:
            return
        height = min(6.4, (top - bottom) / len(nodes) - 0.6)
        tls = {e.dst: e.label for e in self.m.edges if e.kind == "tls"}
        for k, node in enumerate(nodes):
            y1 = top - k * (height + 0.6)
            shown = node if node.id not in tls else Node(node.id, node.label, node.kind, node.group,
                                                         f"{node.detail} · {tls[node.id]}", node.present)
            self.card(x0, y1 - height, x1, y1, shown, COLOURS.get(node.kind, "#607d8b"))

    def _node_groups(self, row: tuple[float, float]) -> None:
        groups = self.m.nodes_of("nodegroup")
        for k, node in enumerate(groups):
            spans = [self.columns[z] for z in node.zones if z in self.columns] or list(self.columns.values())
            x0, x1 = min(s[0] for s in spans) + 2, max(s[1] for s in spans) - 2
            y1 = row[1] - 4 - k * 8
            self.card(x0, y1 - 6.4, x1, y1, node, COLOURS["nodegroup"])
            lane = 7.0 + k * 0.45
            self.arrow([(x0, y1 - 3.2), (lane, y1 - 3.2), (lane, 110)], COLOURS["joins"], lw=0.8)

    def _regional(self) -> None:
        nodes = self.m.nodes_of("regional")
        self.box(6, 4, 136, 21.5, COLOURS["regional"], "Regional services", size=8.5, bold=True)
        width = (126 - 2 * (len(nodes) - 1)) / max(1, len(nodes))
        for k, node in enumerate(nodes):
            x0 = 8 + k * (width + 2)
            self.card(x0, 6, x0 + width, 16.5, node, "#546e7a")

    def _kubernetes(self) -> None:
        m = self.m
        namespaces = m.groups_of("namespace")
        self.box(144, 84, 218, 123, COLOURS["cluster"], "Kubernetes: namespaces and Helm releases",
                 edge=COLOURS["control-plane"], size=9, bold=True)
        if not namespaces:
            self.text(146, 104, "Not in this plan yet: the mesh layer adds namespaces and the cert-manager,\n"
                      "Vault and Linkerd releases (issue 3); they appear here.", size=8, colour="#9e9e9e")
            return
        cols = 3 if len(namespaces) > 4 else 2
        rows = -(-len(namespaces) // cols)
        w, h = (72 - 1.5 * (cols - 1)) / cols, (34 - 1.5 * (rows - 1)) / rows
        for k, ns in enumerate(namespaces):
            x0, y1 = 145 + (k % cols) * (w + 1.5), 119.5 - (k // cols) * (h + 1.5)
            self.box(x0, y1 - h, x0 + w, y1, "#ffffff", f"ns {ns.label}", edge="#326ce5", size=7.5, bold=True)
            inside = m.nodes_in(ns.id)
            fits = max(1, int((h - 4) // 2.3) + 1)
            if len(inside) > fits:  # keep the releases, fold the rest into one line
                rest = inside[fits - 1:]
                inside = [*inside[: fits - 1], Node(f"{ns.id}:more", f"+ {len(rest)} more kinds", "k8s", ns.id)]
            for j, node in enumerate(inside):
                colour = COLOURS["release"] if node.kind == "release" else COLOURS["k8s"]
                self.text(x0 + 1, y1 - 3.6 - j * 2.3, f"● {node.label}", size=6.5, colour=colour, width=w - 1.5)

    def _trust(self) -> None:
        nodes = self.m.nodes_of("trust")
        self.box(144, 47, 218, 81, COLOURS["trust"], self.m.groups["trust"].label, edge=COLOURS["signs"], size=9,
                 bold=True)
        for k, node in enumerate(nodes):
            y1 = 77 - k * 6
            self.card(150, y1 - 4.6, 214, y1, node, COLOURS["trust-node"])
            if k:
                self.arrow([(147.5, y1 + 1.4 + 2.3 - 0.2 + 0.0), (147.5, y1 - 2.3)], COLOURS["signs"], lw=1.0)

    def _services(self) -> None:
        import math

        m = self.m
        self.box(144, 2, 218, 44, COLOURS["services"], m.groups["services"].label, edge=COLOURS["mtls"], size=9,
                 bold=True)
        services = [n for n in m.nodes_of("service") if n.id != "svc:internet"]
        if not services:
            self.text(146, 23, "No services in this plan yet: the service catalog (issue 4) adds them, with\n"
                      "each mTLS edge its AuthorizationPolicy allows.", size=8, colour="#9e9e9e")
            return
        cx, cy, radius = 181.0, 21.0, 15.0
        where: dict[str, tuple[float, float]] = {}
        for k, node in enumerate(services):
            angle = math.pi / 2 - 2 * math.pi * k / len(services)
            where[node.id] = (cx + 1.9 * radius * math.cos(angle), cy + radius * math.sin(angle))
        if "svc:internet" in m.nodes:
            where["svc:internet"] = (150.0, 40.0)
        for e in m.edges:
            if e.kind in ("mtls", "public") and e.src in where and e.dst in where:
                (x0, y0), (x1, y1) = where[e.src], where[e.dst]
                self.ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={
                    "arrowstyle": "-|>", "color": COLOURS["mtls"] if e.kind == "mtls" else "#ed7100", "lw": 0.9,
                    "shrinkA": 9, "shrinkB": 9, "connectionstyle": "arc3,rad=0.08"})
        for node_id, (x, y) in where.items():
            self.ax.text(x, y, m.nodes[node_id].label, fontsize=6.5, ha="center", va="center", color="#ffffff",
                         bbox={"boxstyle": "round,pad=0.3", "facecolor": COLOURS["service"], "edgecolor": "none"})


def render(model: DiagramModel, path: Path) -> Path:
    """Draw `model` to `path` (.png or .svg) on a 220 x 130 grid (1 unit = 0.1 in)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "mtls-platform"  # stable ids: the SVG diffs only when the model does
    from matplotlib import pyplot as plt


    fig = plt.figure(figsize=(22, 13))
    ax = fig.add_axes((0, 0, 1, 1))
    Canvas(ax, model).draw()
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata: dict[str, Any] = {"Date": None} if path.suffix == ".svg" else {"Software": None}
    fig.savefig(path, dpi=100, metadata=metadata)
    plt.close(fig)
    return path


def render_diagram(plan: Plan, out_dir: Path = DOCS, fmt: str = "png") -> Path:
    return render(build_model(plan), out_dir / f"diagram-{plan.stack}.{fmt}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--format", choices=("png", "svg"), default="png")
    parser.add_argument("--out", type=Path, default=DOCS, help="directory (default: docs/)")
    parser.add_argument("--model", action="store_true", help="print the graph model as JSON instead of drawing")
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    if args.model:
        model = build_model(plan)
        print(json.dumps({"groups": [vars(g) for g in model.groups.values()],
                          "nodes": [vars(n) for n in model.nodes.values()],
                          "edges": [vars(e) for e in model.edges]}, indent=2))
        return 0
    print(render_diagram(plan, args.out, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
