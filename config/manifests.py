"""Existing Kubernetes manifests for the app namespace: loading and validation at config load.

A stack may point `manifests.directory` at a directory of YAML manifests (the customer's "provided Kubernetes
application") that `AppManifests` applies into the meshed app namespace, next to the catalog's services
(`mode: addition`) or instead of them (`mode: replace`). Every `*.yaml`/`*.yml` file is read in sorted order, each
multi-document file document by document, and checked before any resource is registered; each problem names the
config key, the file and the 1-based document number. The checks keep the app namespace's guarantees:
* only namespaced kinds from `ALLOWED` (workloads, their Services/config, disruption budgets, autoscalers,
  NetworkPolicies and the Linkerd policy kinds); nothing cluster-scoped, no RBAC, no Secrets (those live in Vault);
* the app namespace only (an unset namespace is set to it);
* no pod opts out of the mesh, and every pod template meets the restricted Pod Security profile (`pod_rules`), which
  the namespace enforces at admission anyway — failing here costs seconds, not a half-applied `pulumi up`;
* Services are ClusterIP only (outside traffic enters through the meshed edge ingress, never around the mesh);
* Servers keep `accessPolicy: deny` (audit comes from `rollout.policyMode`, never from a manifest);
* one object per kind and name.
The app namespace's inbound default is `deny`: objects from manifests are callable only through their own
Server + AuthorizationPolicy (and a NetworkPolicy allowing the caller), see docs/manifests.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from config.manifest_pods import pod_problems, pod_template
from config.model import StackConfig
from config.schema import key

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
DIRECTORY_KEY: Final = key("manifests.directory")

# apiVersion -> kinds a manifest may create, all namespaced. Linkerd kinds and versions: linkerd-crds edge-26.8.3
# (templates/policy/*.yaml: the storage version of each; `scope: Namespaced`). ServerAuthorization (legacy, replaced
# by AuthorizationPolicy) and EgressNetwork (egress is the platform's decision) are left out on purpose.
ALLOWED: Final[Mapping[str, frozenset[str]]] = {
    "v1": frozenset({"ConfigMap", "Service", "ServiceAccount"}),
    "apps/v1": frozenset({"Deployment", "StatefulSet"}),
    "batch/v1": frozenset({"Job", "CronJob"}),
    "autoscaling/v2": frozenset({"HorizontalPodAutoscaler"}),
    "policy/v1": frozenset({"PodDisruptionBudget"}),
    "networking.k8s.io/v1": frozenset({"NetworkPolicy"}),
    "policy.linkerd.io/v1beta3": frozenset({"Server", "HTTPRoute"}),
    "policy.linkerd.io/v1alpha1": frozenset({"AuthorizationPolicy", "MeshTLSAuthentication", "NetworkAuthentication",
                                             "HTTPLocalRateLimitPolicy"}),
}
# Kinds people commonly put in app manifests that are cluster-scoped: named as such in the error.
CLUSTER_SCOPED: Final = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "IngressClass", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "APIService", "RuntimeClass", "Node", "CSIDriver",
})
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")  # RFC 1123 subdomain (object names)
_SUFFIXES: Final = (".yaml", ".yml")

Problem = tuple[str, str]  # (config key, rule)
Obj = dict[str, Any]


def load_for(cfg: StackConfig) -> tuple[tuple[Obj, ...], list[Problem]]:
    """The stack's manifest objects (namespace set) and every problem; nothing when no directory is configured."""
    if not cfg.manifests_directory:
        if cfg.manifests_mode == "replace":
            return (), [(key("manifests.mode"), "replace needs manifests.directory: the app would be empty")]
        return (), []
    return load(cfg.manifests_directory, cfg.app_namespace_name)


def resolve(directory: str, root: Path = PROJECT_ROOT) -> Path | None:
    """The directory inside the project (Pulumi runs the program from there; CI checks out the same tree)."""
    path = Path(directory)
    if path.is_absolute() or ".." in path.parts:
        return None
    return root / path


def load(directory: str, namespace: str, root: Path = PROJECT_ROOT) -> tuple[tuple[Obj, ...], list[Problem]]:
    path = resolve(directory, root)
    if path is None:
        return (), [(DIRECTORY_KEY, f"{directory!r} must be a relative path inside the project (no '..')")]
    if not path.is_dir():
        return (), [(DIRECTORY_KEY, f"{directory!r} is not a directory of the project")]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
    if not files:
        return (), [(DIRECTORY_KEY, f"{directory!r} holds no *.yaml or *.yml file")]
    objects: list[Obj] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        where_file = f"{directory.rstrip('/')}/{file.name}"
        try:
            documents = list(yaml.safe_load_all(file.read_text()))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            problems.append((DIRECTORY_KEY, f"{where_file}: unparseable YAML{at}: {getattr(err, 'problem', err)}"))
            continue
        for index, doc in enumerate(documents, start=1):
            if doc is None:
                continue  # an empty document (a trailing '---')
            where = f"{where_file} document {index}"
            found = list(check_object(doc, namespace))
            problems += [(DIRECTORY_KEY, f"{where}: {rule}") for rule in found]
            if found:
                continue
            ident = (str(doc["kind"]), str(doc["metadata"]["name"]))
            if ident in seen:
                problems.append((DIRECTORY_KEY, f"{where}: duplicate {ident[0]} {ident[1]!r} (first in {seen[ident]})"))
                continue
            seen[ident] = where
            objects.append(with_namespace(doc, namespace))
    return tuple(objects), problems


def check_object(doc: Any, namespace: str) -> Iterator[str]:
    """Every rule one document breaks (empty: the object may be applied)."""
    if not isinstance(doc, dict):
        yield "must be a Kubernetes object (a mapping with apiVersion, kind, metadata)"
        return
    api, kind, meta = doc.get("apiVersion"), doc.get("kind"), doc.get("metadata")
    if not isinstance(api, str) or not isinstance(kind, str) or not isinstance(meta, dict):
        yield "must have apiVersion, kind and metadata"
        return
    name = meta.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 253:
        yield f"{kind}: metadata.name must be a DNS subdomain name (got {name!r})"
    if kind in CLUSTER_SCOPED:
        yield f"{kind} is cluster-scoped: the platform owns cluster-scoped objects (manifests are namespaced only)"
        return
    if kind not in ALLOWED.get(api, frozenset()):
        allowed = ", ".join(f"{a} {k}" for a, kinds in sorted(ALLOWED.items()) for k in sorted(kinds))
        yield f"{api} {kind} is not an allowed kind (allowed: {allowed})"
        return
    ns = meta.get("namespace")
    if ns is not None and ns != namespace:
        yield f"{kind} {name}: namespace {ns!r} is not the app namespace {namespace!r} (or leave it unset)"
    if kind == "Server":
        policy = (doc.get("spec") or {}).get("accessPolicy", "deny")
        if policy != "deny":
            yield (f"Server {name}: accessPolicy {policy!r}; manifests keep 'deny' (audit is the stack-wide "
                   "rollout.policyMode, docs/rollout.md)")
    if kind == "Service":
        service = doc.get("spec") or {}
        if service.get("type", "ClusterIP") != "ClusterIP" or service.get("externalIPs"):
            yield (f"Service {name}: only ClusterIP services (no NodePort, LoadBalancer, ExternalName or externalIPs); "
                   "traffic from outside enters through the platform's meshed ingress")
    template = pod_template(kind, doc.get("spec"))
    if template is not None:
        yield from (f"{kind} {name}: {rule}" for rule in pod_problems(template))


def with_namespace(doc: Obj, namespace: str) -> Obj:
    """A copy of the object with the app namespace set (the caller's document is left alone)."""
    return {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
