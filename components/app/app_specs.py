"""Pure builders for one catalog service's Kubernetes objects: workload, Service, HPA, PDB, Linkerd policy and
NetworkPolicy. No resources are created here; `AppService` registers what these return.

Zero trust is enforced twice, from the same catalog edges:
* Linkerd (L7, identity): the app namespace's default inbound policy is `deny`; each port of a service gets a
  `Server`, and an `AuthorizationPolicy` on it requires a `MeshTLSAuthentication` naming exactly the service
  accounts of the declared callers. Public services also admit the edge ingress's service account (`PUBLIC_INGRESS`) on
  their http ports, through a separate authentication so the callers' list stays exactly the catalog's.
* Kubernetes NetworkPolicies (L3/L4): ingress only from callers' pods on the service's ports, egress only to
  callees' pods on theirs, plus the data services a service declares. DNS and the Linkerd control plane are
  allowed namespace-wide by the mesh layer (`platform_namespaces`).

Probes: the kubelet's HTTP GET probes are not mTLS. Linkerd authorizes the probe paths of a pod's containers for
unauthenticated clients from `policyController.probeNetworks` (0.0.0.0/0 by default) as long as no HTTPRoute
targets the Server, so adding per-route policy later (issue item 4) must authorize the probe routes explicitly.
Ref: https://linkerd.io/2-edge/reference/authorization-policy/
Prometheus scrapes the proxy's admin port (4191, named `linkerd-admin`): see `proxy_admin_server`.
CRD fields and versions: linkerd-crds edge-26.8.3 (tests/upstream_facts/linkerd_crd_fields.yaml).
"""

from __future__ import annotations

from typing import Any, Final

from config.catalog import Catalog, Service, callees
from config.names import MONITORING_NAMESPACE, PUBLIC_INGRESS, VAULT_NAMESPACE
from config.names import PRIMARY_SUFFIX as PRIMARY_SUFFIX  # re-exported: the app layer's tests read it here

Spec = dict[str, Any]

POLICY_API: Final = "policy.linkerd.io"
SERVER_VERSION: Final = "v1beta3"  # the storage version of servers.policy.linkerd.io
AUTH_VERSION: Final = "v1alpha1"  # authorizationpolicies, meshtlsauthentications, networkauthentications
# Server.spec.proxyProtocol per catalog protocol. Ref: https://linkerd.io/2-edge/reference/authorization-policy/
# (unknown | HTTP/1 | HTTP/2 | gRPC | opaque | TLS; the CRD types it as a free string with default "unknown").
PROXY_PROTOCOL: Final = {"grpc": "gRPC", "http": "HTTP/1"}
PROXY_INBOUND: Final = 4143
PROXY_ADMIN: Final = 4191
PROXY_ADMIN_PORT_NAME: Final = "linkerd-admin"
# The identity item 5's meshed edge ingress will run as (app namespace): the only extra client of public services.
SPOT_TOLERATION: Final = {"key": "capacity", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
SPOT_NODE_LABEL: Final = ("platform/pool", "spot")
# bb (FROM scratch) declares no USER; every image runs as this non-root UID/GID, so `runAsNonRoot` can be verified.
RUN_AS: Final = 65532
DATA_PORTS: Final = {"rds": (5432,), "mq": (5671, 61617), "cache": (6379,)}
IRSA_ROLE_ANNOTATION: Final = "eks.amazonaws.com/role-arn"
# data.messaging sqs: `mq` means the SQS and STS APIs over HTTPS, public AWS endpoints reached through NAT (no
# interface endpoints: README, "Cost"), so egress is 443 to anything outside the private ranges.
AWS_API_PORT: Final = 443
PRIVATE_RANGES: Final = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
NAME_LABEL: Final = "app.kubernetes.io/name"


def labels(service: Service) -> dict[str, str]:
    return {NAME_LABEL: service.name, "app.kubernetes.io/part-of": "mtls-platform"}


def selector(name: str) -> dict[str, str]:
    return {NAME_LABEL: name}


# Flagger's primary Deployment copies the service's pod template with the selector label's value suffixed
# (config.names.PRIMARY_SUFFIX; default -selector-labels "app,name,app.kubernetes.io/name"): policy selectors of a
# progressive service cover both.


def workload_selector(name: str, progressive: frozenset[str] = frozenset()) -> Spec:
    """The LabelSelector of a service's pods: its name, and its Flagger primary's when it is progressive."""
    if name not in progressive:
        return {"matchLabels": selector(name)}
    return {"matchExpressions": [{"key": NAME_LABEL, "operator": "In", "values": [name, name + PRIMARY_SUFFIX]}]}


def _probe(path: str, port: str, period: int, failures: int) -> Spec:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "timeoutSeconds": 2,
            "failureThreshold": failures}


def container(service: Service, image: str) -> Spec:
    """The service's container under the restricted Pod Security profile."""
    r = service.resources
    spec: Spec = {
        "name": service.name,
        "image": image,
        # Every pod start checks the node's pull credentials against the registry, so a pod can never run a cached
        # image its ServiceAccount's node could no longer pull (CKV_K8S_15); ECR is in-region, the cost is one call.
        "imagePullPolicy": "Always",
        "ports": [{"name": p.name, "containerPort": p.port, "protocol": "TCP"} for p in service.ports],
        "resources": {"requests": {"cpu": r.cpu_request, "memory": r.memory_request},
                      "limits": {"cpu": r.cpu_limit, "memory": r.memory_limit}},
        "livenessProbe": _probe(service.health.liveness_path, service.health.port, 10, 6),
        "readinessProbe": _probe(service.health.readiness_path, service.health.port, 5, 3),
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if service.args:
        spec["args"] = list(service.args)
    return spec


# Zero-downtime rollouts (and the rolling restart that meshes pods, docs/rollout.md): a new pod must be ready before
# an old one goes. Ref: Kubernetes Deployment `strategy.rollingUpdate` (maxSurge, maxUnavailable).
ROLLING_UPDATE: Final = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def deployment(service: Service, image: str, ha: bool, spot_ok: bool = False) -> Spec:
    """Meshed, restricted, spread over zones. No `replicas`: the HPA owns the count (Pulumi would reset it).
    Non-critical services tolerate and prefer the spot pool; with `spot_ok` (nodes.spotForAllServices) every service
    tolerates it, so the scheduler spreads a service over both pools and a reclaimed spot node takes a few replicas
    of a zone-spread service, never all of them."""
    pod: Spec = {
        "serviceAccountName": service.name,
        # The app needs no Kubernetes API access; the Linkerd proxy gets its own projected identity token.
        # Ref: linkerd-control-plane values.yaml `identity.serviceAccountTokenProjection: true`
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(service, image)],
        "topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            # HA environments refuse to pile a service into one zone; small ones prefer spreading but still run.
            "whenUnsatisfiable": "DoNotSchedule" if ha else "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(service.name)}}],
    }
    if service.non_critical or spot_ok:
        pod["tolerations"] = [dict(SPOT_TOLERATION)]
    if service.non_critical:
        key, value = SPOT_NODE_LABEL
        pod["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
            "weight": 100, "preference": {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}}]}}
    return {
        "selector": {"matchLabels": selector(service.name)},
        "strategy": dict(ROLLING_UPDATE),
        "template": {"metadata": {"labels": labels(service), "annotations": {"linkerd.io/inject": "enabled"}},
                     "spec": pod},
    }


def service_spec(service: Service) -> Spec:
    # appProtocol lets the ALB controller and Linkerd see gRPC without guessing. Ref: Kubernetes ServicePort.
    return {"selector": selector(service.name),
            "ports": [{"name": p.name, "port": p.port, "targetPort": p.name, "protocol": "TCP",
                       "appProtocol": "kubernetes.io/h2c" if p.protocol == "grpc" else "http"} for p in service.ports]}


# The per-pod custom metric prometheus-adapter serves from Linkerd's proxy counter `request_total` (inbound,
# mTLS only: meshed callers, not the kubelet's probes) as a rate (components/monitoring/prometheus_adapter_values.py).
REQUEST_RATE_METRIC: Final = "linkerd_inbound_requests_per_second"


def hpa(service: Service, deployment_name: str, target_percent: int = 70,
        requests_per_pod: float | None = None) -> Spec:
    """CPU and memory at 70 % of requests; with `requests_per_pod` (where Prometheus runs) also the mesh's request
    rate per pod: the HPA follows whichever metric asks for the most replicas, within the catalog's bounds."""
    def metric(resource: str) -> Spec:
        return {"type": "Resource", "resource": {"name": resource, "target": {
            "type": "Utilization", "averageUtilization": target_percent}}}

    metrics = [metric("cpu"), metric("memory")]
    if requests_per_pod is not None:
        # A quantity in milli-units, so a fractional target stays exact. Ref: Kubernetes autoscaling/v2 MetricTarget
        # (averageValue: resource.Quantity) and https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale-walkthrough/
        metrics.append({"type": "Pods", "pods": {"metric": {"name": REQUEST_RATE_METRIC}, "target": {
            "type": "AverageValue", "averageValue": f"{round(requests_per_pod * 1000)}m"}}})
    return {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment_name},
            "minReplicas": service.replicas.min, "maxReplicas": service.replicas.max, "metrics": metrics}


def pdb(service: Service, progressive: frozenset[str] = frozenset()) -> Spec:
    """At most one pod down at a time: never blocks a drain, even at one replica (minAvailable 1 would)."""
    return {"maxUnavailable": 1, "selector": workload_selector(service.name, progressive)}


# --- Linkerd policy -----------------------------------------------------------------------------------------------

def server_name(service: Service, port: str) -> str:
    return f"{service.name}-{port}"


def server(service: Service, port: str, progressive: frozenset[str] = frozenset()) -> Spec:
    p = service.port(port)
    assert p is not None, port
    return {"podSelector": workload_selector(service.name, progressive), "port": p.name,
            "proxyProtocol": PROXY_PROTOCOL[p.protocol], "accessPolicy": "deny"}


def authorization_policy(server: str, authentication: str, kind: str = "MeshTLSAuthentication") -> Spec:
    return {"targetRef": {"group": POLICY_API, "kind": "Server", "name": server},
            "requiredAuthenticationRefs": [{"group": POLICY_API, "kind": kind, "name": authentication}]}


def mesh_tls_authentication(service_accounts: list[str]) -> Spec:
    """Exactly these service accounts of the app namespace (their mTLS identities), nobody else."""
    return {"identityRefs": [{"kind": "ServiceAccount", "name": sa} for sa in service_accounts]}


def proxy_admin_server() -> Spec:
    """Every meshed pod's proxy admin port, for Prometheus (`/metrics`); the kubelet's /live and /ready probes of
    the proxy are probe paths Linkerd authorizes itself."""
    return {"podSelector": {}, "port": PROXY_ADMIN_PORT_NAME, "proxyProtocol": "HTTP/1", "accessPolicy": "deny"}


def scrape_network_authentication(pod_cidrs: list[str]) -> Spec:
    """Prometheus runs unmeshed in `monitoring`, so it has no mTLS identity: admit the pod networks on the admin
    port only; the NetworkPolicy narrows that to the monitoring namespace's pods."""
    return {"networks": [{"cidr": c} for c in pod_cidrs]}


# --- NetworkPolicy ---------------------------------------------------------------------------------------------

def _pods(*names: str, progressive: frozenset[str] = frozenset()) -> list[Spec]:
    return [{"podSelector": workload_selector(n, progressive)} for n in names]


def _tcp(*ports: int | str) -> list[Spec]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def network_policy(service: Service, catalog: Catalog, data_cidrs: tuple[str, ...],
                   progressive: frozenset[str] = frozenset(), vault: bool = False, sqs: bool = False) -> Spec:
    """Ingress from callers (and the ingress for public services) on the service's ports, egress to callees and
    declared data services. The proxy's inbound port 4143 is listed with the app ports: meshed traffic is
    redirected to it inside the pod, and multicluster/opaque transport addresses it directly."""
    ports = [p.port for p in service.ports]
    ingress: list[Spec] = []
    if service.callers:
        ingress.append({"from": _pods(*service.callers, progressive=progressive),
                        "ports": _tcp(*ports, PROXY_INBOUND)})
    if service.public:
        http = [p.port for p in service.ports if p.protocol == "http"]
        ingress.append({"from": _pods(PUBLIC_INGRESS), "ports": _tcp(*http, PROXY_INBOUND)})
    ingress.append({"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}], "ports": _tcp(PROXY_ADMIN)})
    by_name = {s.name: s for s in catalog}
    egress: list[Spec] = [{"to": _pods(c, progressive=progressive),
                           "ports": _tcp(*[p.port for p in by_name[c].ports], PROXY_INBOUND)}
                          for c in callees(service.name, catalog)]
    data_ports = sorted({p for d in service.data_services if not (sqs and d == "mq") for p in DATA_PORTS[d]})
    if data_ports:
        egress.append({"to": [{"ipBlock": {"cidr": c}} for c in data_cidrs], "ports": _tcp(*data_ports)})
    if vault:  # a service with a Vault role reads its credentials there (the vault namespace admits exactly these)
        egress.append({"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": VAULT_NAMESPACE}},
                               "podSelector": {"matchLabels": {NAME_LABEL: "vault"}}}], "ports": _tcp(8200)})
    if sqs and "mq" in service.data_services:
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}],
                       "ports": _tcp(AWS_API_PORT)})
    return {"podSelector": workload_selector(service.name, progressive), "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress, "egress": egress}
