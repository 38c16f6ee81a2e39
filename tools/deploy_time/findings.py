"""Findings of the deploy-time view: waits that serialise the `pulumi up` needlessly, and waits that are missing.

Serialising: an order-only wait (`depends_on`, or an Output used only as a gate: no identifying value of the dependency
flows into the dependent's inputs) that lengthens the modelled total and no rule in `JUSTIFIED` explains, and a
component's `depends_on`, which gates all its children. Missing: a Kubernetes object that does not wait for the chart
installing its CRDs, for its namespace or for what it reads, a release that waits for pods but for no node group, and
the Vault release that hangs until `vault operator init`. Findings with the same fix are folded into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tools.deploy_time.durations import (
    CRD_CHARTS,
    CRD_ONLY_CHARTS,
    HELM_CHARTS,
    JUSTIFIED,
    NODE_GROUP_TYPES,
    RELEASE_AFTER,
    duration,
    helm_waits,
)
from tools.deploy_time.schedule import Edge, predecessors, schedule, wall_time
from tools.engine.mock_engine import Plan, Registration
from tools.engine.plan_facts import dig, ebs_csi_addons, helm_chart, is_vault_bootstrap, k8s_group, resource_id


@dataclass(frozen=True)
class Finding:
    kind: Literal["serialises", "missing", "hangs"]
    resource: str
    detail: str
    cost_seconds: float = 0.0  # wall time the finding adds to the total, where measurable



def ordering_findings(plan: Plan, preds: Mapping[str, list[tuple[str, Edge]]],
                      durations: Mapping[str, tuple[float, str]], total: float) -> list[Finding]:
    """Needless serialisation (against the full waits `preds`) and missing order (against the engine's waits)."""
    return _fold([*_serialising(plan, preds, durations, total), *_missing(plan, predecessors(plan, runtime=False))])


def justified(dependent: Registration, dependency: Registration) -> str:
    """Why an order-only wait is needed ('' when no reason is known)."""
    reason = JUSTIFIED.get((dependent.type, dependency.type), "")
    group = k8s_group(dependent.type) if dependent.type.startswith("kubernetes:") else ""
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
        return total - wall_time(schedule(plan, trimmed, durations))

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
    ebs_csi = ebs_csi_addons(plan)
    bootstrap = [r for r in plan.of_type("pulumi-python:dynamic:Resource") if is_vault_bootstrap(r)]

    def need(r: Registration, target: Registration | None, why: str) -> Iterable[Finding]:
        if target is not None and target.urn != r.urn and target.urn not in before(r.urn):
            yield Finding("missing", _label(r), f"does not wait for {_label(target)}: {why}")

    for r in plan.resources:
        if not r.custom or not r.type.startswith("kubernetes:"):
            continue
        group = k8s_group(r.type)
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
        waits_for_pods = chart and chart not in CRD_ONLY_CHARTS and helm_waits(r)
        if waits_for_pods and node_groups and not node_groups & before(r.urn):
            yield Finding("missing", _label(r), "waits for its pods but not for any node group: on a fresh up it "
                          "races node group creation against its timeout")
        if chart == "vault":
            for addon in ebs_csi:
                yield from need(r, plan.by_urn(addon), "its PVCs need the EBS CSI driver")
            if helm_waits(r):
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

