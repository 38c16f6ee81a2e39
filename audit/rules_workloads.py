"""Kubernetes workload rules: namespaces, network policies, containers, RBAC, disruption budgets.

They judge the Kubernetes objects the program declares itself (Helm charts render theirs inside the release, which
the values rules cover). Container predicates are checkov's CKV_K8S ones over the pod template.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from audit import kinds
from audit.model import (
    Context,
    Resource,
    Stack,
    UnknownValue,
    Verdict,
    as_list,
    failed,
    not_applicable,
    number,
    passed,
    resource_rule,
    stack_rule,
    truthy,
)
from config.names import (
    CERT_MANAGER_NAMESPACE,
    KUBE_SYSTEM,
    LINKERD_CNI_NAMESPACE,
    LINKERD_NAMESPACE,
    LINKERD_VIZ_NAMESPACE,
    MONITORING_NAMESPACE,
    VAULT_NAMESPACE,
    VELERO_NAMESPACE,
)

PSS_ENFORCE = "pod-security.kubernetes.io/enforce"
PSS_LEVELS = frozenset({"restricted", "baseline", "privileged"})
# Namespaces whose workloads may need more than `restricted` (proxy-init NET_ADMIN, node exporters, CSI); every
# other namespace must enforce `restricted`. An exception still has to carry an explicit label.
SYSTEM_NAMESPACES = frozenset({KUBE_SYSTEM, LINKERD_NAMESPACE, LINKERD_CNI_NAMESPACE, LINKERD_VIZ_NAMESPACE,
                               CERT_MANAGER_NAMESPACE, VAULT_NAMESPACE, MONITORING_NAMESPACE, VELERO_NAMESPACE})
DANGEROUS_VERBS = frozenset({"escalate", "bind", "impersonate"})
_K8S_RESOURCES = "CKV_K8S_10\u201313/8/9/14/43"  # en dash, as the audit list writes it


def pod_spec(r: Resource) -> Mapping[str, Any]:
    if r.type == "kubernetes:core/v1:Pod":
        spec = r.get("spec", default={})
    elif r.type == "kubernetes:batch/v1:CronJob":
        spec = r.get("spec", "jobTemplate", "spec", "template", "spec", default={})
    else:
        spec = r.get("spec", "template", "spec", default={})
    return spec if isinstance(spec, Mapping) else {}


def containers(r: Resource) -> list[Mapping[str, Any]]:
    spec = pod_spec(r)
    return [c for c in as_list(spec.get("initContainers")) + as_list(spec.get("containers"))
            if isinstance(c, Mapping)]


@resource_rule("namespace-pss", "Namespaces enforce Pod Security Standards (restricted unless a system namespace)",
               "BPG", {kinds.NAMESPACE}, also=("EKS BPG: Pod security - Pod Security Standards",
                                               "Kubernetes docs: Pod Security Admission labels"))
def namespace_pss(r: Resource, ctx: Context) -> Verdict:
    name = r.get("metadata", "name", default=r.name)
    level = r.get("metadata", "labels", PSS_ENFORCE)
    if level not in PSS_LEVELS:
        return failed(f"no {PSS_ENFORCE} label")
    if level != "restricted" and name not in SYSTEM_NAMESPACES:
        return failed(f"enforces {level}: only system namespaces may be exempt from restricted")
    return passed(f"enforce={level}" + ("" if level == "restricted" else " (documented system exception)"))


def _is_default_deny(policy: Resource) -> bool:
    spec = policy.get("spec", default={}) or {}
    selector = spec.get("podSelector") or {}
    return (not selector.get("matchLabels") and not selector.get("matchExpressions")
            and {"Ingress", "Egress"} <= set(as_list(spec.get("policyTypes")))
            and not as_list(spec.get("ingress")) and not as_list(spec.get("egress")))


def _namespace_name(ns: Resource) -> Any:
    return ns.get("metadata", "name", default=ns.name)


def _in_namespace(stack: Stack, policy: Resource, ns: Resource, name: Any) -> bool:
    """By the literal metadata.namespace, or, while that is unknown (preview), by what it was computed from."""
    try:
        literal = policy.get("metadata", "namespace")
    except UnknownValue:
        literal = None
    if isinstance(literal, str):
        return bool(literal == name)
    return ns in stack.refs(policy, "metadata", {kinds.NAMESPACE})


@stack_rule("namespace-default-deny", "Every namespace has a default-deny NetworkPolicy (ingress and egress)",
            "CKV2_K8S_6, CIS 4.3.2", {kinds.NAMESPACE}, also=("EKS BPG: Network security - default deny",))
def namespace_default_deny(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    policies = stack.of_type(kinds.NETWORK_POLICY)
    for ns in stack.of_type(kinds.NAMESPACE):
        name = _namespace_name(ns)
        mine = [p for p in policies if _in_namespace(stack, p, ns, name)]
        deny = [p for p in mine if _is_default_deny(p)]
        yield ns, passed(f"default deny {deny[0].name}, {len(mine) - 1} allow(s)") if deny else failed(
            f"no default-deny NetworkPolicy among {len(mine)} polic(ies)")


def _container_problems(spec: Mapping[str, Any], c: Mapping[str, Any]) -> list[str]:
    sc = c.get("securityContext") or {}
    pod_sc = spec.get("securityContext") or {}
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    name = c.get("name", "?")
    checks = [
        (not truthy(sc.get("privileged", False)), "privileged"),
        (sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation not false"),
        (truthy(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot", False))), "runAsNonRoot not true"),
        (truthy(sc.get("readOnlyRootFilesystem", False)), "root filesystem writable"),
        ("ALL" in as_list((sc.get("capabilities") or {}).get("drop")), "capabilities not dropped (ALL)"),
        (seccomp in ("RuntimeDefault", "Localhost"), "no RuntimeDefault seccomp profile"),
    ]
    return [f"{name}: {problem}" for ok, problem in checks if not ok]


@resource_rule("container-security-context", "Containers run unprivileged, non-root, read-only, drop ALL, seccomp",
               "CKV_K8S_16/20/17/18/19/23/40/22/28/37/31", kinds.WORKLOADS,
               also=("Pod Security Standards: restricted",))
def container_security_context(r: Resource, ctx: Context) -> Verdict:
    spec = pod_spec(r)
    host = [k for k in ("hostNetwork", "hostPID", "hostIPC") if truthy(spec.get(k, False))]
    problems = [f"uses {', '.join(host)}"] if host else []
    problems += [p for c in containers(r) for p in _container_problems(spec, c)]
    if not containers(r):
        return not_applicable("no containers in the pod template")
    return failed("; ".join(problems)) if problems else passed(f"{len(containers(r))} hardened container(s)")


@resource_rule("container-resources", "Containers request CPU and memory and cap memory", _K8S_RESOURCES,
               kinds.WORKLOADS, also=("EKS BPG: Reliability - set requests and limits",))
def container_resources(r: Resource, ctx: Context) -> Verdict:
    problems = []
    for c in containers(r):
        res = c.get("resources") or {}
        for path, label in ((("requests", "cpu"), "cpu request"), (("requests", "memory"), "memory request"),
                            (("limits", "memory"), "memory limit")):
            if not (res.get(path[0]) or {}).get(path[1]):
                problems.append(f"{c.get('name', '?')}: no {label}")
    if not containers(r):
        return not_applicable("no containers in the pod template")
    return failed("; ".join(problems)) if problems else passed("requests and memory limits set")


@resource_rule("container-probes", "Long-running containers have liveness and readiness probes",
               _K8S_RESOURCES, kinds.WORKLOADS - {"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"},
               mandatory_in=(), also=("CKV_K8S_8", "CKV_K8S_9"))
def container_probes(r: Resource, ctx: Context) -> Verdict:
    spec = pod_spec(r)
    missing = [f"{c.get('name', '?')}: {probe}" for c in as_list(spec.get("containers")) if isinstance(c, Mapping)
               for probe in ("livenessProbe", "readinessProbe") if not c.get(probe)]
    return failed("; ".join(missing)) if missing else passed("liveness and readiness probes")


@resource_rule("container-image-pinned", "Container images are pinned (a tag other than latest, ideally a digest)",
               _K8S_RESOURCES, kinds.WORKLOADS, also=("CKV_K8S_14", "CKV_K8S_43"))
def container_image_pinned(r: Resource, ctx: Context) -> Verdict:
    loose = []
    for c in containers(r):
        image = str(c.get("image", ""))
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if "@sha256:" not in image and tag in ("", "latest"):
            loose.append(f"{c.get('name', '?')}: {image or 'no image'}")
    return failed("unpinned: " + "; ".join(loose)) if loose else passed("images pinned")


@resource_rule("rbac-least-privilege", "RBAC roles use no wildcards and no escalate/bind/impersonate",
               "CKV_K8S_49/155/157/158, CIS 4.1.x", kinds.RBAC_ROLES, also=("CIS 4.1.3", "CIS 4.1.8"))
def rbac_least_privilege(r: Resource, ctx: Context) -> Verdict:
    problems = []
    for i, rule in enumerate(as_list(r.get("rules"))):
        for field in ("verbs", "resources", "apiGroups"):
            if "*" in as_list(rule.get(field)):
                problems.append(f"rules[{i}].{field} has '*'")
        risky = DANGEROUS_VERBS & set(as_list(rule.get("verbs")))
        if risky:
            problems.append(f"rules[{i}] grants {', '.join(sorted(risky))}")
    return failed("; ".join(problems)) if problems else passed("no wildcards or privilege-escalation verbs")


@resource_rule("pdb-allows-eviction", "PodDisruptionBudgets keep >= 1 pod yet allow node drains", "BPG reliability",
               {kinds.PDB}, also=("EKS BPG: Reliability - PodDisruptionBudgets",))
def pdb_allows_eviction(r: Resource, ctx: Context) -> Verdict:
    min_available = r.get("spec", "minAvailable")
    max_unavailable = r.get("spec", "maxUnavailable")
    if max_unavailable is not None:
        blocked = str(max_unavailable) in ("0", "0%")
        return failed("maxUnavailable 0 blocks every drain") if blocked else passed(f"maxUnavailable {max_unavailable}")
    if min_available is None:
        return failed("neither minAvailable nor maxUnavailable")
    if str(min_available) == "100%":
        return failed("minAvailable 100% blocks every drain")
    if not str(min_available).endswith("%") and number(min_available) < 1:
        return failed("minAvailable < 1 protects nothing")
    return passed(f"minAvailable {min_available}")


@resource_rule("workload-zone-spread", "Replicated workloads spread across zones", "BPG",
               {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"}, mandatory_in=(),
               also=("EKS BPG: Reliability - topology spread constraints",))
def workload_zone_spread(r: Resource, ctx: Context) -> Verdict:
    replicas = number(r.get("spec", "replicas", default=1), default=1)
    if replicas < 2:
        return not_applicable("single replica")
    keys = {c.get("topologyKey") for c in as_list(pod_spec(r).get("topologySpreadConstraints"))
            if isinstance(c, Mapping)}
    return passed("spread on zones") if "topology.kubernetes.io/zone" in keys else failed(
        "no topologySpreadConstraints on topology.kubernetes.io/zone")
