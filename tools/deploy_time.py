"""Deploy-time view: the modelled wall time of a fresh `pulumi up` of a stack, from its offline plan.

    python -m tools.deploy_time --stack prod          # total, critical path, findings
    python -m tools.deploy_time --stack prod --json

Pulumi creates a resource as soon as everything it waits for exists, with ample parallelism (4 x CPUs), so a fresh
`up` lasts as long as the longest chain of waits. What a resource waits for, as the Python SDK sends it:
- its `dependencies`: every resource whose Output flowed into an input, plus `depends_on`, where a local component
  stands for its custom descendants (`rpc._expand_dependencies`);
- its parent's URN, which the SDK awaits before registering: a custom parent is created first; a component parent
  registers at once, after *its own* `depends_on` (so a component's `depends_on` gates all its children, but a child
  never waits for its siblings);
- its provider, when that provider is configured from another resource's Output (the Kubernetes provider waits for
  the cluster's kubeconfig). The plan does not record providers, so a resource of package P is given the plan's
  explicit `pulumi:providers:P` (the nearest one when there are several).
Durations per type are typical figures from public apply logs (`DURATIONS`, with sources); anything unlisted takes
`DEFAULT_SECONDS`. The preview that `pulumi up` runs first is not modelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from components.stack_config import ConfigError
from tools.cost import dig, helm_chart, resource_id
from tools.mock_engine import Plan, Registration, list_stacks, run_stack

DEFAULT_SECONDS: Final = 5.0  # "everything else a few seconds" (IAM, KMS, S3, subnets, security groups, ...)
DEFAULT_PARALLELISM: Final = 8  # Pulumi's default, 4 x CPUs, on a 2-CPU runner (this project's CI)
REMOTE_COMPONENT_SECONDS: Final = 60.0  # a multi-language component not listed in DURATIONS
HELM_TIMEOUT_SECONDS: Final = 300.0  # kubernetes:helm.sh/v3:Release default `timeout`
Duration = Callable[[Registration], tuple[float, str]]


def _fixed(seconds: float, basis: str) -> Duration:
    return lambda r: (seconds, basis)


# Ref: ../shared/reference/durations.md (terraform-provider-aws timeouts and public apply logs)
DURATIONS: Final[dict[str, Duration]] = {
    "aws:eks/cluster:Cluster": _fixed(600, "EKS control plane: 8m21s-11m23s typical"),
    # pulumi-eks also creates the OIDC provider, the access entries and the VPC CNI settings inside the component.
    "eks:index:Cluster": _fixed(645, "EKS control plane 10 min + 45 s for OIDC provider, access entries, VPC CNI"),
    "aws:eks/nodeGroup:NodeGroup": _fixed(150, "managed node group: 1m28s-3m21s typical"),
    "eks:index:ManagedNodeGroup": _fixed(150, "managed node group: 1m28s-3m21s typical"),
    "aws:rds/instance:Instance": lambda r: (1080, "RDS Multi-AZ: 15-20 min") if r.inputs.get("multiAz")
    else (360, "RDS single-AZ: ~6 min"),
    "aws:mq/broker:Broker": lambda r: (480, "Amazon MQ single instance: >5 min (assumed 8)")
    if (r.inputs.get("deploymentMode") or "SINGLE_INSTANCE") == "SINGLE_INSTANCE"
    else (1200, "Amazon MQ active/standby: assumed 20 min (single >5 min, can exceed 30)"),
    "aws:elasticache/replicationGroup:ReplicationGroup": lambda r: (900, "ElastiCache multi-AZ: assumed 15 min")
    if r.inputs.get("multiAzEnabled") else (480, "ElastiCache: 6-9 min"),
    "aws:elasticache/cluster:Cluster": _fixed(480, "ElastiCache: 6-9 min"),
    "aws:ec2/natGateway:NatGateway": _fixed(105, "NAT gateway: 1m25s-2m5s"),
    "aws:eks/addon:Addon": _fixed(60, "EKS add-on to ACTIVE: assumed 1 min"),
    "aws:lb/loadBalancer:LoadBalancer": _fixed(180, "load balancer to active: assumed 3 min"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": lambda r: (120, "interface endpoint: assumed 2 min")
    if r.inputs.get("vpcEndpointType") == "Interface" else (10, "gateway endpoint: assumed 10 s"),
    "kubernetes:core/v1:Namespace": _fixed(2, "namespace: seconds"),
    "kubernetes:apps/v1:Deployment": _fixed(60, "Deployment rollout awaited: assumed 1 min"),
    "kubernetes:apps/v1:StatefulSet": _fixed(90, "StatefulSet rollout awaited: assumed 1.5 min"),
    "kubernetes:batch/v1:Job": _fixed(60, "Job completion awaited: assumed 1 min"),
    "kubernetes:networking.k8s.io/v1:Ingress": _fixed(180, "Ingress awaits its ALB address: assumed 3 min"),
    "kubernetes:core/v1:Service": lambda r: (150, "Service LoadBalancer awaits its NLB: assumed 2.5 min")
    if dig(r.inputs, "spec.type") == "LoadBalancer" else (2, "Service: seconds"),
}
# Helm releases by chart. Ref: durations.md (cert-manager 20 s-2m11s; Vault 12-48 s, then pods stay NotReady until
# `vault operator init`); the others are assumptions.
HELM_CHARTS: Final[dict[str, tuple[float, str]]] = {
    "cert-manager": (90, "Helm cert-manager: 20 s-2m11s"),
    "vault": (30, "Helm Vault: 12-48 s (pods NotReady until initialised)"),
    "linkerd-crds": (15, "Helm linkerd-crds: CRDs only, assumed 15 s"),
    "linkerd-control-plane": (120, "Helm linkerd-control-plane: assumed 2 min"),
    "aws-load-balancer-controller": (60, "Helm AWS Load Balancer Controller: assumed 1 min"),
}
HELM_DEFAULT: Final = (60.0, "Helm release: assumed 1 min")


def duration(r: Registration, local_component: bool = False) -> tuple[float, str]:
    """Seconds to create `r`, and where the figure comes from; a local component only registers."""
    if local_component:
        return 0.0, "component: registers at once"
    rule = DURATIONS.get(r.type)
    if rule is not None:
        return rule(r)
    if r.type.startswith("pulumi:providers:") or r.type.startswith(("random:", "tls:")):
        return 0.0, "local: no API call"
    if r.type.startswith("kubernetes:helm.sh/"):
        seconds, basis = HELM_CHARTS.get(helm_chart(r), HELM_DEFAULT)
        if _helm_waits(r) and helm_chart(r) == "vault":
            timeout = float(r.inputs.get("timeout") or HELM_TIMEOUT_SECONDS)
            return timeout, f"Helm Vault waits for pods NotReady until init: hangs to its {timeout:g} s timeout"
        return seconds, basis
    if r.type == "pulumi-python:dynamic:Resource":
        return 60.0, "dynamic resource (Vault bootstrap: init, PKI, auth): assumed 1 min"
    if r.type.startswith("kubernetes:"):
        return 3.0, "Kubernetes object: seconds (custom resources are not awaited)"
    if not r.custom:
        return REMOTE_COMPONENT_SECONDS, "remote component: assumed 1 min"
    return DEFAULT_SECONDS, "default: a few seconds"


def is_vault_bootstrap(r: Registration) -> bool:
    """The dynamic resource that initialises Vault (components/vault_bootstrap_provider.py)."""
    return r.type == "pulumi-python:dynamic:Resource" and ("vault" in r.name.lower()
                                                           or "recovery_secret_arn" in r.inputs)


def _helm_waits(r: Registration) -> bool:
    return not r.inputs.get("skipAwait")


NODE_GROUP_TYPES: Final = frozenset({"aws:eks/nodeGroup:NodeGroup", "eks:index:ManagedNodeGroup"})
WORKLOAD_TYPES: Final = frozenset({"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet",
                                   "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job"})
CRD_ONLY_CHARTS: Final = frozenset({"linkerd-crds"})  # no pods: nothing to schedule
PVC_CHARTS: Final = frozenset({"vault"})  # volumeClaimTemplates on EBS


# --- the schedule -----------------------------------------------------------------------------------------------------

Edge = Literal["dependency", "parent", "provider", "runtime"]


@dataclass(frozen=True)
class Step:
    urn: str
    type: str
    name: str
    seconds: float
    basis: str
    start: float
    finish: float
    waits_for: str  # URN of the predecessor that set `start` ('' when none)
    via: str  # "dependency", "parent" or "provider"


@dataclass(frozen=True)
class Finding:
    kind: Literal["serialises", "missing", "hangs"]
    resource: str
    detail: str
    cost_seconds: float = 0.0  # wall time the finding adds to the total, where measurable


@dataclass(frozen=True)
class DeployTimeReport:
    stack: str
    total_seconds: float
    critical_path: tuple[Step, ...]
    findings: tuple[Finding, ...]
    peak_concurrency: int  # most resources being created at once in the modelled schedule
    steps: Mapping[str, Step]
    parallelism: int  # the engine's limit used for the check below
    limited_seconds: float  # wall time when at most `parallelism` creations run at once

    def cluster_chain(self) -> tuple[Step, ...]:
        """The longest chain that passes through an EKS cluster (the platform's own critical path)."""
        clusters = {u for u, s in self.steps.items() if s.type in ("eks:index:Cluster", "aws:eks/cluster:Cluster")}
        chains = [self.path_to(u) for u in self.steps]
        through = [c for c in chains if clusters & {s.urn for s in c}]
        return max(through, key=lambda c: c[-1].finish, default=())

    def path_to(self, urn: str) -> tuple[Step, ...]:
        """The chain of waits that ends at `urn` (its own critical path)."""
        chain: list[Step] = []
        step: Step | None = self.steps.get(urn)
        while step is not None:
            chain.append(step)
            step = self.steps.get(step.waits_for)
        return tuple(reversed(chain))


def predecessors(plan: Plan, runtime: bool = True) -> dict[str, list[tuple[str, Edge]]]:
    """What each registration waits for, with the kind of wait.

    `runtime` adds the waits the engine does not know about but the cluster imposes (`runtime_waits`).
    """
    known = {r.urn: r for r in plan.resources}
    providers: dict[str, list[Registration]] = {}
    for r in plan.resources:
        if r.type.startswith("pulumi:providers:"):
            providers.setdefault(r.type.removeprefix("pulumi:providers:"), []).append(r)
    preds: dict[str, list[tuple[str, Edge]]] = {}
    for r in plan.resources:
        edges: list[tuple[str, Edge]] = [(u, "dependency") for u in dict.fromkeys(r.dependencies) if u in known]
        if r.parent in known:
            edges.append((r.parent, "parent"))
        provider = _provider_of(r, plan, providers)
        if provider in known and provider != r.urn:  # default providers are not registrations of the plan
            edges.append((provider, "provider"))
        preds[r.urn] = edges
    if runtime:
        for urn, waits in runtime_waits(plan).items():
            preds[urn] += [(w, "runtime") for w in waits if w not in {p for p, _ in preds[urn]}]
    return preds


def runtime_waits(plan: Plan) -> dict[str, list[str]]:
    """Physical waits outside the dependency graph: pods run only on a schedulable node, Vault's PVCs bind only once
    the EBS CSI driver runs. A release that does not wait for them is modelled as finishing after them anyway (its
    pods cannot be ready before), and `_missing` reports the absent dependency."""
    schedulable = [r.urn for r in plan.resources if r.type in NODE_GROUP_TYPES and not r.inputs.get("taints")]
    ebs_csi = [r.urn for r in plan.of_type("aws:eks/addon:Addon") if r.inputs.get("addonName") == "aws-ebs-csi-driver"]
    waits: dict[str, list[str]] = {}
    for r in plan.resources:
        chart = helm_chart(r)
        if (chart and chart not in CRD_ONLY_CHARTS) or r.type in WORKLOAD_TYPES:
            waits[r.urn] = list(schedulable)
        if chart in PVC_CHARTS:
            waits[r.urn] = waits.get(r.urn, []) + ebs_csi
    return waits


def _provider_of(r: Registration, plan: Plan, providers: Mapping[str, list[Registration]]) -> str:
    recorded = str(getattr(r, "provider", "") or "")  # "urn::id" when the recorder keeps it
    if recorded:
        return recorded.rsplit("::", 1)[0]
    if not r.custom or r.type.startswith("pulumi:providers:"):
        return ""
    candidates = providers.get(r.type.split(":", 1)[0], [])
    if len(candidates) <= 1:
        return candidates[0].urn if candidates else ""
    ancestors = _ancestors(r, plan)
    return max(candidates, key=lambda p: _depth_in(p.parent, ancestors)).urn


def _ancestors(r: Registration, plan: Plan) -> list[str]:
    chain: list[str] = []
    node = plan.by_urn(r.parent)
    while node is not None:
        chain.append(node.urn)
        node = plan.by_urn(node.parent)
    return chain


def _depth_in(urn: str, ancestors: list[str]) -> int:
    return len(ancestors) - ancestors.index(urn) if urn in ancestors else -1


def durations_of(plan: Plan) -> dict[str, tuple[float, str]]:
    """Each registration's duration; components with children in the plan are local and take no time."""
    parents = {r.parent for r in plan.resources}
    return {r.urn: duration(r, local_component=not r.custom and r.urn in parents) for r in plan.resources}


def schedule(plan: Plan, preds: Mapping[str, list[tuple[str, Edge]]] | None = None,
             durations: Mapping[str, tuple[float, str]] | None = None) -> dict[str, Step]:
    """Earliest start and finish of every registration (unbounded parallelism)."""
    preds = preds if preds is not None else predecessors(plan)
    durations = durations or durations_of(plan)
    by_urn = {r.urn: r for r in plan.resources}
    steps: dict[str, Step] = {}
    visiting: set[str] = set()

    def visit(urn: str) -> Step:
        if urn in steps:
            return steps[urn]
        if urn in visiting:
            raise ValueError(f"dependency cycle through {urn}")
        visiting.add(urn)
        start, waits_for, via = 0.0, "", ""
        for pred, kind in preds.get(urn, []):
            finish = visit(pred).finish
            if finish > start:
                start, waits_for, via = finish, pred, kind
        r = by_urn[urn]
        seconds, basis = durations[urn]
        steps[urn] = Step(urn, r.type, r.name, seconds, basis, start, start + seconds, waits_for, via)
        visiting.discard(urn)
        return steps[urn]

    for r in plan.resources:
        visit(r.urn)
    return steps


def _total(steps: Mapping[str, Step]) -> float:
    return max((s.finish for s in steps.values()), default=0.0)


def _peak(steps: Iterable[Step]) -> int:
    events = sorted([(s.start, 1) for s in steps if s.seconds > 0] + [(s.finish, -1) for s in steps if s.seconds > 0],
                    key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


def simulate(plan: Plan, parallelism: int, preds: Mapping[str, list[tuple[str, Edge]]] | None = None,
             durations: Mapping[str, tuple[float, str]] | None = None) -> float:
    """Wall time when at most `parallelism` creations run at once (ready resources start in program order)."""
    preds = preds if preds is not None else predecessors(plan)
    durations = durations or durations_of(plan)
    order = [r.urn for r in plan.resources]
    waiting = {u: {p for p, _ in preds.get(u, [])} for u in order}
    done: set[str] = set()
    running: list[tuple[float, str]] = []  # (finish, urn)
    now = 0.0
    while len(done) < len(order):
        ready = [u for u in order if u in waiting and waiting[u] <= done]
        for urn in ready[: max(0, parallelism - len(running))]:
            del waiting[urn]
            running.append((now + durations[urn][0], urn))
        if not running:
            raise ValueError("dependency cycle: nothing can start")
        running.sort()
        now, finished = running.pop(0)
        done.add(finished)
    return now


def model(plan: Plan, parallelism: int = DEFAULT_PARALLELISM) -> DeployTimeReport:
    """Modelled wall time of a fresh `pulumi up`, its critical path and the ordering findings."""
    preds = predecessors(plan)
    durations = durations_of(plan)
    steps = schedule(plan, preds, durations)
    total = _total(steps)
    last = max(steps.values(), key=lambda s: s.finish, default=None)
    path: list[Step] = []
    step = last
    while step is not None:
        path.append(step)
        step = steps.get(step.waits_for)
    findings = _fold([*_serialising(plan, preds, durations, total), *_missing(plan, predecessors(plan, runtime=False))])
    return DeployTimeReport(plan.stack, total, tuple(reversed(path)), tuple(findings), _peak(steps.values()), steps,
                            parallelism, simulate(plan, parallelism, preds, durations))


# --- findings: needless serialisation ---------------------------------------------------------------------------------

# Order-only waits that are needed although no value flows: (dependent type, dependency type) -> why.
JUSTIFIED: Final[dict[tuple[str, str], str]] = {
    ("eks:index:Cluster", "aws:cloudwatch/logGroup:LogGroup"): "EKS would create the group unencrypted, no retention",
    ("aws:eks/cluster:Cluster", "aws:cloudwatch/logGroup:LogGroup"): "EKS would create the group itself",
    ("aws:rds/instance:Instance", "aws:cloudwatch/logGroup:LogGroup"): "RDS would create its log groups itself",
    ("aws:rds/instance:Instance", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        "enhanced monitoring role must carry its policy first",
    ("aws:mq/broker:Broker", "aws:cloudwatch/logResourcePolicy:LogResourcePolicy"):
        "Amazon MQ publishes no logs unless the policy exists first",
    ("aws:ec2/natGateway:NatGateway", "aws:ec2/internetGateway:InternetGateway"):
        "a public NAT gateway needs the internet gateway attached",
    ("aws:eks/addon:Addon", "aws:eks/nodeGroup:NodeGroup"): "the add-on's pods need nodes to become ACTIVE",
    # The mesh: Kubernetes objects find each other by name, so these order-only waits carry the design.
    ("pulumi-python:dynamic:Resource", "kubernetes:helm.sh/v3:Release"): "Vault must run before it is initialised",
    ("kubernetes:cert-manager.io/v1:ClusterIssuer", "pulumi-python:dynamic:Resource"):
        "Vault's PKI role and Kubernetes auth must exist first",
    ("kubernetes:cert-manager.io/v1:Certificate", "kubernetes:cert-manager.io/v1:ClusterIssuer"):
        "cert-manager signs only with a ready issuer",
    ("kubernetes:cert-manager.io/v1:Certificate", "kubernetes:cert-manager.io/v1:Issuer"):
        "cert-manager signs only with a ready issuer",
    ("kubernetes:cert-manager.io/v1:Issuer", "kubernetes:cert-manager.io/v1:Certificate"):
        "a CA issuer reads the Secret its Certificate creates",
    ("kubernetes:helm.sh/v3:Release", "kubernetes:cert-manager.io/v1:Certificate"):
        "the chart mounts the Secret the Certificate creates",
    ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v3:Release"): "CRDs, CNI or webhooks from the earlier chart",
}


def justified(dependent: Registration, dependency: Registration) -> str:
    """Why an order-only wait is needed ('' when no reason is known)."""
    reason = JUSTIFIED.get((dependent.type, dependency.type), "")
    group = dependent.type.split(":")[1].split("/")[0] if dependent.type.startswith("kubernetes:") else ""
    if not reason and group in CRD_CHARTS and helm_chart(dependency):
        reason = f"{group} objects need the CRDs and webhook of a chart"
    return reason


def value_flows(dependent: Registration, dependency: Registration) -> bool:
    """Whether one of `dependency`'s identifying outputs appears in `dependent`'s inputs (else: order only)."""
    tokens = {resource_id(dependency), str(dependency.outputs.get("arn", "")), str(dependency.outputs.get("name", ""))}
    tokens |= {v for k, v in dependency.outputs.items() if isinstance(v, str) and k not in dependency.inputs}
    tokens = {t for t in tokens if len(t) >= 6}
    strings = list(_strings(dependent.inputs))
    return any(t in s for t in tokens for s in strings)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _serialising(plan: Plan, preds: Mapping[str, list[tuple[str, Edge]]],
                 durations: Mapping[str, tuple[float, str]], total: float) -> Iterable[Finding]:
    """Order-only waits (no value flows) that lengthen the total, and component `depends_on` gates."""
    by_urn = {r.urn: r for r in plan.resources}
    parents = {r.parent for r in plan.resources}

    def cost_without(urn: str, dropped: set[str]) -> float:
        """What the total would lose if `urn` stopped waiting for the `dropped` dependencies."""
        trimmed = {u: [(p, k) for p, k in edges if not (u == urn and k == "dependency" and p in dropped)]
                   for u, edges in preds.items()}
        return total - _total(schedule(plan, trimmed, durations))

    for r in plan.resources:
        for pred, kind in preds[r.urn]:
            dep = by_urn[pred]
            if kind != "dependency" or not r.custom or not dep.custom or value_flows(r, dep):
                continue
            if justified(r, dep):
                continue
            cost = cost_without(r.urn, {pred})
            if cost > 0:
                yield Finding("serialises", _label(r), f"waits for {_label(dep)} although no value flows "
                              f"(depends_on or an Output used as a gate): drop it or say why", cost)
        if not r.custom and r.dependencies and r.urn in parents:
            cost = cost_without(r.urn, set(r.dependencies))
            gated = [c.name for c in plan.children(r.urn)]
            names = ", ".join(sorted({by_urn[u].name for u in r.dependencies if u in by_urn}))
            yield Finding("serialises", _label(r), f"component depends_on [{names}] gates all its children "
                          f"({', '.join(gated)}); put it on the resources that need it"
                          + ("" if cost > 0 else " (not on the critical path today)"), cost)


# --- findings: missing order ------------------------------------------------------------------------------------------

# Custom resources of these API groups need their CRDs, which these charts install.
CRD_CHARTS: Final = {"cert-manager.io": "cert-manager", "acme.cert-manager.io": "cert-manager",
                     "policy.linkerd.io": "linkerd-crds", "linkerd.io": "linkerd-crds",
                     "monitoring.coreos.com": "kube-prometheus-stack"}
# Helm releases that must come after another release.
RELEASE_AFTER: Final = {"linkerd-control-plane": ("linkerd-crds",)}


def _missing(plan: Plan, preds: Mapping[str, list[tuple[str, Edge]]]) -> Iterable[Finding]:
    upstream: dict[str, set[str]] = {}

    def before(urn: str) -> set[str]:
        if urn not in upstream:
            upstream[urn] = set()
            for p, _ in preds.get(urn, []):
                upstream[urn] |= {p} | before(p)
        return upstream[urn]

    releases = {helm_chart(r): r for r in plan.resources if helm_chart(r)}
    node_groups = {r.urn for r in plan.resources if r.type in NODE_GROUP_TYPES}
    namespaces = {str(dig(r.inputs, "metadata.name")): r for r in plan.of_type("kubernetes:core/v1:Namespace")}
    ebs_csi = [r.urn for r in plan.of_type("aws:eks/addon:Addon") if r.inputs.get("addonName") == "aws-ebs-csi-driver"]
    bootstrap = [r for r in plan.of_type("pulumi-python:dynamic:Resource") if is_vault_bootstrap(r)]

    def need(r: Registration, target: Registration | None, why: str) -> Iterable[Finding]:
        if target is not None and target.urn != r.urn and target.urn not in before(r.urn):
            yield Finding("missing", _label(r), f"does not wait for {_label(target)}: {why}")

    for r in plan.resources:
        if not r.custom or not r.type.startswith("kubernetes:"):
            continue
        group = r.type.split(":")[1].split("/")[0]
        chart = helm_chart(r)
        namespace = str(r.inputs.get("namespace") or dig(r.inputs, "metadata.namespace") or "")
        if group in CRD_CHARTS:
            yield from need(r, releases.get(CRD_CHARTS[group]), f"its CRDs come from the {CRD_CHARTS[group]} chart")
        for earlier in RELEASE_AFTER.get(chart, ()):
            yield from need(r, releases.get(earlier), f"{chart} requires {earlier} installed first")
        if namespace and r.type != "kubernetes:core/v1:Namespace":
            yield from need(r, namespaces.get(namespace), f"it lives in namespace {namespace}")
        if chart == "linkerd-control-plane":
            for cert in plan.of_type("kubernetes:cert-manager.io/v1:Certificate"):
                if dig(cert.inputs, "metadata.namespace") == "linkerd":
                    yield from need(r, cert, "its certificates (identity issuer, webhooks) must exist first")
        if r.type == "kubernetes:cert-manager.io/v1:ClusterIssuer" and dig(r.inputs, "spec.vault"):
            for b in bootstrap:
                yield from need(r, b, "Vault's PKI and Kubernetes auth must be configured first")
        waits_for_pods = chart and chart not in CRD_ONLY_CHARTS and _helm_waits(r)
        if waits_for_pods and node_groups and not node_groups & before(r.urn):
            yield Finding("missing", _label(r), "waits for its pods but not for any node group: on a fresh up it "
                          "races node group creation against its timeout")
        if chart == "vault":
            for addon in ebs_csi:
                yield from need(r, plan.by_urn(addon), "its PVCs need the EBS CSI driver")
            if _helm_waits(r):
                yield Finding("hangs", _label(r), "waits for Vault pods, which stay NotReady until `vault operator "
                              "init`: set skipAwait (vault-helm #17, #375)", duration(r)[0] - HELM_CHARTS["vault"][0])
    for b in bootstrap:
        yield from need(b, releases.get("vault"), "Vault must be running to be initialised")


def _fold(findings: list[Finding]) -> list[Finding]:
    """One finding per (kind, detail): many resources missing the same wait are one fix."""
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        grouped.setdefault((f.kind, f.detail), []).append(f)
    out = []
    for (_, detail), same in grouped.items():
        if len(same) == 1:
            out.append(same[0])
            continue
        names = ", ".join(f.resource.split(" ", 1)[-1] for f in same[:4]) + (", ..." if len(same) > 4 else "")
        out.append(Finding(same[0].kind, f"{len(same)} resources ({names})", detail,
                           max(f.cost_seconds for f in same)))
    return out


def _label(r: Registration) -> str:
    chart = helm_chart(r)
    return f"{r.type} {r.name}" + (f" (chart {chart})" if chart else "")


# --- views ------------------------------------------------------------------------------------------------------------

def mmss(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def render_deploy_time(plan: Plan, parallelism: int = DEFAULT_PARALLELISM) -> str:
    report = model(plan, parallelism)
    lines = [f"deploy time: stack {report.stack}, fresh `pulumi up` (resource creation; preview not included)",
             f"  modelled wall time: {mmss(report.total_seconds)} (m:ss) = {report.total_seconds / 60:.1f} min",
             f"  peak concurrency {report.peak_concurrency}; with Pulumi's default limit of {report.parallelism} at "
             f"once (4 x 2 CPUs): {mmss(report.limited_seconds)}", "",
             "critical path (start  +duration  resource  [why it waits])", *_path_lines(report.critical_path)]
    chain = report.cluster_chain()
    if chain and chain != report.critical_path:
        lines += ["", f"longest chain through the EKS cluster (ends at {mmss(chain[-1].finish)})", *_path_lines(chain)]
    lines += ["", f"findings ({len(report.findings)})"]
    for f in report.findings:
        cost = f" (+{mmss(f.cost_seconds)} on the total)" if f.cost_seconds > 0 else ""
        lines.append(f"  [{f.kind}] {f.resource}: {f.detail}{cost}")
    if not report.findings:
        lines.append("  none")
    return "\n".join(lines)


def _path_lines(path: Iterable[Step]) -> list[str]:
    return [f"  {mmss(s.start):>6}  +{mmss(s.seconds):>5}  {s.type} {s.name}  "
            f"[{'after ' + s.via if s.via else 'first'}; {s.basis}]" for s in path]


def report_json(report: DeployTimeReport) -> str:
    doc = {"stack": report.stack, "total_seconds": report.total_seconds, "peak_concurrency": report.peak_concurrency,
           "parallelism": report.parallelism, "limited_seconds": report.limited_seconds,
           "critical_path": [asdict(s) for s in report.critical_path],
           "findings": [asdict(f) for f in report.findings]}
    return json.dumps(doc, indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="total, critical path and findings as JSON")
    parser.add_argument("--parallelism", type=int, default=DEFAULT_PARALLELISM,
                        help="the engine's limit on concurrent operations (pulumi up --parallel)")
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    try:
        print(report_json(model(plan, args.parallelism)) if args.json else render_deploy_time(plan, args.parallelism))
    except BrokenPipeError:  # `... | head`: the reader left, nothing is wrong
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
