"""Pure builders for a catalog service's traffic policy and canary: Gateway API GRPCRoute/HTTPRoute specs per
Service port, their Linkerd timeout/retry annotations, and the canary's Deployment and Services.

Routes are *outbound* policy: their parent is the service's Kubernetes Service and port, so every meshed caller's
proxy applies them to requests addressed to the service. Once any route exists for a Service port Linkerd routes
only the requests some route matches, so each port gets a catch-all route (gRPC: no match = every call; HTTP:
path prefix `/`) and one route per catalog override; Gateway API precedence picks the most specific match (an
exact gRPC method over a service, a longer path prefix, then a method match). These routes do not target a
linkerd `Server`, so the inbound probe authorization described in `app_specs` is unchanged.

Timeouts and retries are annotations the policy controller reads from each route (`timeout.linkerd.io/request`,
`retry.linkerd.io/{limit,timeout,grpc,http}`); a route without retry annotations is never retried. Note that
`retry.linkerd.io/limit: "0"` is read as "unset", and a set condition list then retries once: no retries means
no retry annotations at all.
Ref: linkerd2 edge-26.8.3 policy-controller/k8s/index/src/outbound/index{.rs,/grpc.rs,/http.rs}
(parse_timeouts, parse_grpc_retry, parse_http_retry); fields: tests/upstream_facts/gateway_crd_fields.yaml.

Canary: pods carry a `track` label (`stable` on the main Deployment's pods, `canary` on `<svc>-canary`'s). The main
Service keeps selecting by name (both tracks, for unmeshed clients); `<svc>-stable` and `<svc>-canary` select one
track each and are the routes' weighted backends. The canary runs as the same ServiceAccount, so the Linkerd
authorization graph and the name-label selectors of Server, NetworkPolicy and PDB cover it unchanged.
"""

from __future__ import annotations

from typing import Any, Final

from components.app import app_specs
from config.catalog import Port, Service
from config.traffic import Canary, Effective, Route, effective

Spec = dict[str, Any]

GATEWAY_API: Final = "gateway.networking.k8s.io"
# GRPCRoute and HTTPRoute are served and stored as v1 by linkerd-crds edge-26.8.3 (Gateway API bundle v1.1.1).
ROUTE_VERSION: Final = "v1"
ROUTE_KIND: Final = {"grpc": "GRPCRoute", "http": "HTTPRoute"}
TRACK_LABEL: Final = "track"
STABLE, CANARY = "stable", "canary"


# --- routes ------------------------------------------------------------------------------------------------------

def route_name(service: Service, port: Port, route: Route | None = None) -> str:
    return f"{service.name}-{port.name}" + (f"-{route.name}" if route else "")


def route_annotations(policy: Effective, protocol: str) -> dict[str, str]:
    """Linkerd's route annotations for one resolved policy."""
    out = {"timeout.linkerd.io/request": policy.request_timeout}
    if policy.retry_limit > 0 and policy.retry_on:
        out["retry.linkerd.io/limit"] = str(policy.retry_limit)
        out[f"retry.linkerd.io/{protocol}"] = ",".join(policy.retry_on)
        if policy.per_try_timeout:
            out["retry.linkerd.io/timeout"] = policy.per_try_timeout
    return out


def backend_refs(service: Service, port: Port, canary: Canary | None) -> list[Spec]:
    """The Service itself, or stable and canary weighted by the canary's percentage (weights sum to 100)."""
    if canary is None:
        return [{"name": service.name, "port": port.port}]
    return [{"name": f"{service.name}-{STABLE}", "port": port.port, "weight": 100 - canary.weight},
            {"name": f"{service.name}-{CANARY}", "port": port.port, "weight": canary.weight}]


def _match(protocol: str, route: Route | None) -> list[Spec]:
    if protocol == "grpc":
        if route is None:
            return []  # no matches: every call on the port
        method: Spec = {"type": "Exact", "service": route.grpc_service}
        if route.grpc_method:
            method["method"] = route.grpc_method
        return [{"method": method}]
    match: Spec = {"path": {"type": "PathPrefix", "value": route.path_prefix if route else "/"}}
    if route is not None and route.method:
        match["method"] = route.method
    return [match]


def route_spec(service: Service, port: Port, route: Route | None = None) -> Spec:
    """One GRPCRoute/HTTPRoute spec (by the port's protocol) whose parent is the service's Service port."""
    rule: Spec = {"backendRefs": backend_refs(service, port, service.canary)}
    matches = _match(port.protocol, route)
    if matches:
        rule["matches"] = matches
    return {"parentRefs": [{"group": "core", "kind": "Service", "name": service.name, "port": port.port}],
            "rules": [rule]}


def routes(service: Service) -> list[tuple[str, str, dict[str, str], Spec]]:
    """(object name, kind, annotations, spec) for every route of the service: a catch-all per port first."""
    out = []
    for port in service.ports:
        for route in [None, *[r for r in service.traffic.routes if r.port == port.name]]:
            policy = effective(service.traffic, port.protocol, route)
            out.append((route_name(service, port, route), ROUTE_KIND[port.protocol],
                        route_annotations(policy, port.protocol), route_spec(service, port, route)))
    return out


# --- canary ------------------------------------------------------------------------------------------------------

def track_labels(service: Service, track: str) -> dict[str, str]:
    return {**app_specs.labels(service), TRACK_LABEL: track}


def with_track(deployment: Spec, track: str) -> Spec:
    """The main Deployment's pods labelled `track: stable`. Its selector stays name-only: a selector is immutable,
    so changing it would replace every Deployment."""
    template = deployment["template"]
    metadata = {**template["metadata"], "labels": {**template["metadata"]["labels"], TRACK_LABEL: track}}
    return {**deployment, "template": {**template, "metadata": metadata}}  # copies: the image may be an Output


def canary_deployment(service: Service, image: str, ha: bool) -> Spec:
    """The main Deployment's pod with the canary's image and track; a fixed replica count (no HPA)."""
    assert service.canary is not None, service.name
    spec = with_track(app_specs.deployment(service, image, ha), CANARY)
    spec["selector"] = {"matchLabels": {**app_specs.selector(service.name), TRACK_LABEL: CANARY}}
    spec["replicas"] = service.canary.replicas
    return spec


def track_service(service: Service, track: str) -> Spec:
    """`<svc>-stable` / `<svc>-canary`: the service's ports, selecting one track."""
    spec = app_specs.service_spec(service)
    spec["selector"] = {**app_specs.selector(service.name), TRACK_LABEL: track}
    return spec


def with_canary(service: Service, canaries: dict[str, Canary]) -> Service:
    """The service with the canary set by `rollout.canaries` (config rules forbid setting it in both places)."""
    canary = canaries.get(service.name)
    return service if canary is None else service.model_copy(update={"canary": canary})
