"""Reads a stack's offline plan into the architecture diagram's graph model (`build_model`); no drawing here.

AWS side: the region, the VPC with one group per AZ and per subnet tier, NAT gateways, the EKS control plane and node
groups (each spanning the AZs of its subnets), the data services in the isolated subnets with their standbys or
replicas and the TLS ports the cluster security group may reach, and a summary of the regional services. Kubernetes
side: namespaces with their Helm releases and object counts, the trust chain from Vault's root CA to workload
certificates, and the service graph, whose mTLS edges come from the Linkerd authorization policies.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from tools.diagram.diagram_model import SYSTEM_NAMESPACES, DiagramModel, Edge, Node
from tools.engine.mock_engine import Plan, Registration
from tools.engine.plan_facts import (
    catalog_params,
    dig,
    helm_chart,
    is_k8s_kind,
    is_vault_bootstrap,
    k8s_name,
    resource_id,
)


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
    for nat in plan.of_type("aws:ec2/instance:Instance"):  # network.egress natInstance
        zone = zone_of(nat.inputs.get("subnetId"))
        m.node(Node(f"nat:{nat.name}", f"NAT instance {nat.inputs.get('instanceType')} + EIP", "nat",
                    f"subnet:public:{zone}"))
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
        params = catalog_params(r)
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
    vault_issuers = {k8s_name(r) for r in issuers}
    # Linkerd's identity issuer: the CA certificate a Vault ClusterIssuer signs (the webhook CA is self-signed).
    certs = sorted((r for r in plan.of_type("kubernetes:cert-manager.io/v1:Certificate") if dig(r.inputs, "spec.isCA")),
                   key=lambda r: (dig(r.inputs, "spec.issuerRef.name") not in vault_issuers,
                                  "identity" not in k8s_name(r)))
    linkerd = charts.get("linkerd-control-plane")
    workloads = [r for r in plan.of_type("kubernetes:apps/v1:Deployment")
                 if dig(r.inputs, "metadata.namespace") not in SYSTEM_NAMESPACES]

    def name(r: Registration | None) -> str:
        return k8s_name(r) if r else ""

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
        svc = k8s_name(d)
        by_account[str(dig(d.inputs, "spec.template.spec.serviceAccountName") or svc)] = svc
        m.node(Node(f"svc:{svc}", svc, "service", "services"))
    servers = {str(dig(r.inputs, "metadata.name")): r for r in plan.resources
               if is_k8s_kind(r, "policy.linkerd.io", "Server")}
    authns = {str(dig(r.inputs, "metadata.name")): r for r in plan.resources
              if is_k8s_kind(r, "policy.linkerd.io", "MeshTLSAuthentication")}
    edges: set[tuple[str, str]] = set()
    for policy in plan.resources:
        if not is_k8s_kind(policy, "policy.linkerd.io", "AuthorizationPolicy"):
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
        if is_k8s_kind(ingress, "networking.k8s.io", "Ingress"):
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

