"""Traffic policy and canaries: Gateway API routes checked against the pinned CRDs
(tests/upstream_facts/gateway_crd_fields.yaml),
Linkerd's annotation semantics, every stack's plan, the canary's selectors, and each config error by its key."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.app import app_specs as specs
from components.app import progressive_specs
from components.app import route_specs as routes
from config import catalog as sc
from config import traffic as tp
from config.model import ConfigError
from tests.conftest import FACTS, ROOT, STACKS, build_config, plan_of, with_ha_defaults
from tools.engine.mock_engine import PlanMocks, RecordingMonitor, load_stack_settings, run_stack

FIELDS = yaml.safe_load((FACTS / "gateway_crd_fields.yaml").read_text())
CATALOG = sc.default_catalog("prod")
BY_NAME = {s.name: s for s in CATALOG}
ROUTE_TYPES = {f"kubernetes:{routes.GATEWAY_API}/{routes.ROUTE_VERSION}:{k}": k for k in ("GRPCRoute", "HTTPRoute")}


def _with_canary(name: str, weight: int = 25) -> sc.Service:
    return BY_NAME[name].model_copy(update={"canary": tp.Canary(tag="v1.1.0", weight=weight)})


def _check_fields(kind: str, path: str, value: Any) -> None:
    """Every key of `value` is a property the CRD schema defines at `path`, recursively; enums hold."""
    if isinstance(value, list):
        for item in value:
            _check_fields(kind, path, item)
    elif isinstance(value, dict):
        allowed = FIELDS[kind].get(path)
        assert allowed is not None, f"{kind} {path} is not an object in the CRD"
        assert set(value) <= set(allowed), f"{kind} {path}: {set(value) - set(allowed)}"
        for key, sub in value.items():
            _check_fields(kind, f"{path}.{key}", sub)
    else:
        enum = FIELDS[kind].get(f"{path}(enum)")
        assert enum is None or str(value) in enum, f"{kind} {path}={value!r} not in {enum}"


def test_route_kinds_use_the_served_storage_version_and_only_crd_fields() -> None:
    """linkerd-crds edge-26.8.3 installs Gateway API v1.1.1: GRPCRoute and HTTPRoute are served and stored as v1."""
    for kind in ("GRPCRoute", "HTTPRoute"):
        assert routes.ROUTE_VERSION in FIELDS[kind]["served"] and FIELDS[kind]["storage"] == routes.ROUTE_VERSION
    seen = set()
    for svc in [*CATALOG, _with_canary("payment-gateway"), _with_canary("order-processing", 0)]:
        for _, kind, _, spec in routes.routes(svc):
            seen.add(kind)
            _check_fields(kind, "spec", spec)
    assert seen == {"GRPCRoute", "HTTPRoute"}
    assert set(tp.HTTP_METHODS) == set(FIELDS["HTTPRoute"]["spec.rules.matches.method(enum)"])
    with pytest.raises(AssertionError):  # the check can fail: a field of HTTPRoute only
        _check_fields("GRPCRoute", "spec", {"rules": [{"timeouts": {"request": "1s"}}]})


def test_each_port_has_a_catch_all_route_on_its_service_port() -> None:
    for svc in CATALOG:
        built = routes.routes(svc)
        for port in svc.ports:
            _, kind, _, spec = next(r for r in built if r[0] == f"{svc.name}-{port.name}")
            assert kind == routes.ROUTE_KIND[port.protocol]
            assert spec["parentRefs"] == [{"group": "core", "kind": "Service", "name": svc.name, "port": port.port}]
            (rule,) = spec["rules"]
            assert rule.get("matches", []) == (  # gRPC: no match is every call; HTTP: every path
                [] if port.protocol == "grpc" else [{"path": {"type": "PathPrefix", "value": "/"}}])
            assert rule["backendRefs"] == [{"name": svc.name, "port": port.port}]


def test_annotations_follow_linkerds_parser() -> None:
    retrying = tp.Effective(request_timeout="5s", retry_limit=2, per_try_timeout="1s", retry_on=("unavailable",))
    assert routes.route_annotations(retrying, "grpc") == {
        "timeout.linkerd.io/request": "5s", "retry.linkerd.io/limit": "2", "retry.linkerd.io/grpc": "unavailable",
        "retry.linkerd.io/timeout": "1s"}
    # limit "0" would be read as unset and a condition list would then retry once: no retry means no annotations.
    for off in (retrying.model_copy(update={"retry_limit": 0}), retrying.model_copy(update={"retry_on": ()})):
        assert routes.route_annotations(off, "http") == {"timeout.linkerd.io/request": "5s"}


def test_payment_gateway_writes_are_never_retried_its_reads_are() -> None:
    built = {name: (notes, spec) for name, _, notes, spec in routes.routes(BY_NAME["payment-gateway"])}
    assert set(built) == {"payment-gateway-grpc", "payment-gateway-http", "payment-gateway-http-reads"}
    for catch_all in ("payment-gateway-grpc", "payment-gateway-http"):
        assert not any(k.startswith("retry.") for k in built[catch_all][0]), catch_all
    notes, spec = built["payment-gateway-http-reads"]
    assert notes["retry.linkerd.io/http"] == "503" and notes["retry.linkerd.io/limit"] == "2"
    assert notes["retry.linkerd.io/timeout"] == "2s"
    assert spec["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}, "method": "GET"}]
    other = {name: notes for name, _, notes, _ in routes.routes(BY_NAME["inventory-management"])}
    assert other["inventory-management-grpc"]["retry.linkerd.io/grpc"] == "unavailable"
    assert other["inventory-management-http"]["retry.linkerd.io/http"] == "503"


def test_route_overrides_resolve_against_the_defaults() -> None:
    policy = tp.TrafficPolicy(request_timeout="3s", routes=[
        tp.Route(name="charge", port="grpc", grpc_service="pay.v1.Payments", grpc_method="Charge", idempotent=False),
        tp.Route(name="list", port="grpc", grpc_service="pay.v1.Payments", request_timeout="1s",
                 per_try_timeout="300ms", retry_on=["unavailable", "resource-exhausted"])])
    charge = tp.effective(policy, "grpc", policy.routes[0])
    assert (charge.request_timeout, charge.retry_limit) == ("3s", 0)
    listing = tp.effective(policy, "grpc", policy.routes[1])
    assert listing == tp.Effective(request_timeout="1s", retry_limit=2, per_try_timeout="300ms",
                                   retry_on=("unavailable", "resource-exhausted"))
    svc = BY_NAME["payment-gateway"].model_copy(update={"traffic": policy})
    spec = next(s for n, _, _, s in routes.routes(svc) if n == "payment-gateway-grpc-charge")
    assert spec["rules"][0]["matches"] == [{"method": {"type": "Exact", "service": "pay.v1.Payments",
                                                       "method": "Charge"}}]


# --- canary ------------------------------------------------------------------------------------------------------

def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_canary_pods_are_covered_by_the_services_policy_and_split_by_track() -> None:
    svc = _with_canary("payment-gateway", 10)
    canary = routes.canary_deployment(svc, "repo/payment-gateway:v1.1.0", ha=True)
    stable = routes.with_track(specs.deployment(svc, "repo/payment-gateway:v1.0.0", ha=True), routes.STABLE)
    canary_pods, stable_pods = canary["template"]["metadata"]["labels"], stable["template"]["metadata"]["labels"]
    assert canary["template"]["spec"]["serviceAccountName"] == svc.name  # same identity: same authorization
    assert canary["replicas"] == 1 and canary["template"]["spec"]["containers"][0]["image"].endswith(":v1.1.0")
    assert _matches(canary["selector"]["matchLabels"], canary_pods)
    assert not _matches(canary["selector"]["matchLabels"], stable_pods)
    for port in svc.ports:  # Linkerd Servers, the NetworkPolicy and the PDB select canary pods too
        assert _matches(specs.server(svc, port.name)["podSelector"]["matchLabels"], canary_pods)
    assert _matches(specs.network_policy(svc, CATALOG, ())["podSelector"]["matchLabels"], canary_pods)
    assert _matches(specs.pdb(svc)["selector"]["matchLabels"], canary_pods)
    assert _matches(specs.service_spec(svc)["selector"], canary_pods)  # unmeshed clients reach both tracks
    for track, pods, other in ((routes.STABLE, stable_pods, canary_pods), (routes.CANARY, canary_pods, stable_pods)):
        selector = routes.track_service(svc, track)["selector"]
        assert _matches(selector, pods) and not _matches(selector, other), track
    assert stable["selector"] == specs.deployment(svc, "i:1", ha=True)["selector"]  # immutable: unchanged


@pytest.mark.parametrize("weight", [0, 10, 100])
def test_canary_weights_sum_to_100(weight: int) -> None:
    for _, _, _, spec in routes.routes(_with_canary("payment-gateway", weight)):
        refs = spec["rules"][0]["backendRefs"]
        assert [r["name"] for r in refs] == ["payment-gateway-stable", "payment-gateway-canary"]
        assert sum(r["weight"] for r in refs) == 100 and refs[1]["weight"] == weight


# --- plans -------------------------------------------------------------------------------------------------------

def _routes(stack: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return {r.inputs["metadata"]["name"]: (ROUTE_TYPES[r.type], r.inputs) for r in plan_of(stack).resources
            if r.type in ROUTE_TYPES}


def _canaries(stack: str) -> dict[str, dict[str, Any]]:
    """Flagger's Canary objects of a plan, by service name."""
    return {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan_of(stack).resources
            if r.type == f"kubernetes:{progressive_specs.API}:Canary"}


@pytest.mark.parametrize("stack", STACKS)
def test_plan_has_every_route_with_its_timeouts_and_retries(stack: str) -> None:
    """Every catalog route is registered, except the canaried port's catch-all of a progressive service: Flagger's
    HTTPRoute owns that port, and the Canary's `service.apex` carries the catch-all's timeout (sandbox: none)."""
    found = _routes(stack)
    catalog = sc.default_catalog(stack)
    progressive = build_config(stack, load_stack_settings(stack)).progressive_services
    assert bool(progressive) is (stack != "sandbox")
    handed = {routes.route_name(s, progressive_specs.canary_port(s)): s for s in catalog if s.name in progressive}
    assert len(handed) == len(progressive)  # one port per progressive service goes to Flagger
    assert len(found) + len(handed) == sum(len(s.ports) + len(s.traffic.routes) for s in catalog) == 17
    canaries = _canaries(stack)
    assert set(canaries) == progressive
    for svc in catalog:
        for name, kind, notes, _ in routes.routes(svc):
            assert notes["timeout.linkerd.io/request"] == "5s"
            if name in handed:
                assert name not in found, name
                port = progressive_specs.canary_port(svc)
                service = canaries[svc.name]["service"]
                assert (kind, service["port"], service["gatewayRefs"][0]["port"]) == ("GRPCRoute", port.port, port.port)
                # gRPC retry conditions are read on GRPCRoutes only: the apex carries the timeout alone.
                assert service["apex"]["annotations"] == {"timeout.linkerd.io/request": notes[
                    "timeout.linkerd.io/request"]}, name
                continue
            assert found[name][0] == kind, name
            assert found[name][1]["metadata"]["annotations"] == notes, name
    services = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan_of(stack).of_type(
        "kubernetes:core/v1:Service")}
    parents = [inputs["spec"]["parentRefs"] for _, inputs in found.values()] + [
        canary["service"]["gatewayRefs"] for canary in canaries.values()]
    for refs in parents:  # each route's parent (ours or Flagger's) is a registered Service port
        (parent,) = refs
        assert parent["port"] in {p["port"] for p in services[parent["name"]]["ports"]}
    if "payment-gateway-grpc" in found:
        assert "retry.linkerd.io/grpc" not in found["payment-gateway-grpc"][1]["metadata"]["annotations"]
    if "order-processing" in progressive:
        assert "order-processing-grpc" not in found
    else:
        assert found["order-processing-grpc"][1]["metadata"]["annotations"]["retry.linkerd.io/grpc"] == "unavailable"


@pytest.mark.parametrize("stack", STACKS)
def test_only_staging_runs_the_payment_gateway_canary(stack: str) -> None:
    plan = plan_of(stack)
    services = {r.inputs["metadata"]["name"] for r in plan.of_type("kubernetes:core/v1:Service")}
    deployments = {r.inputs["metadata"]["name"]: r for r in plan.of_type("kubernetes:apps/v1:Deployment")}
    has_canary = stack == "staging"
    assert ({"payment-gateway-stable", "payment-gateway-canary"} <= services) is has_canary
    assert ("payment-gateway-canary" in deployments) is has_canary
    for name, (_, inputs) in _routes(stack).items():
        refs = inputs["spec"]["rules"][0]["backendRefs"]
        if has_canary and name.startswith("payment-gateway-"):
            weights = {r["name"]: r["weight"] for r in refs}
            assert weights == {"payment-gateway-stable": 90, "payment-gateway-canary": 10}
            assert all(r["name"] in services for r in refs)  # both backends exist
        else:
            assert [r["name"] for r in refs] == [name.split("-grpc")[0].split("-http")[0]], name
    if has_canary:
        canary = deployments["payment-gateway-canary"].inputs
        assert canary["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/payment-gateway:v1.1.0")
        assert canary["spec"]["template"]["spec"]["serviceAccountName"] == "payment-gateway"


def test_routes_and_canary_wait_for_the_control_plane_and_their_backends() -> None:
    plan = plan_of("staging")
    control_plane = next(r.urn for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                         and r.inputs.get("chart") == "linkerd-control-plane")
    for r in plan.resources:
        if r.type in ROUTE_TYPES or r.name.endswith("-canary-deployment"):
            assert control_plane in r.dependencies, r.name
    backends = {r.urn for r in plan.resources if r.name.endswith(("-canary-deployment", "-stable-service",
                                                                  "-canary-service"))}
    assert len(backends) == 3
    for r in plan.resources:
        if r.type in ROUTE_TYPES and r.inputs["metadata"]["name"].startswith("payment-gateway-"):
            assert backends <= set(r.dependencies), r.name


# --- config errors -----------------------------------------------------------------------------------------------

def _svc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ports": [{"name": "grpc", "port": 9090, "protocol": "grpc"},
                                      {"name": "http", "port": 8080, "protocol": "http"}],
                            "replicas": {"min": 2, "max": 4}, "health": {"port": "http"}}
    return {**base, **changes}


def _settings(services: dict[str, Any], rollout: dict[str, Any] | None = None) -> dict[str, str]:
    out = {"aws:region": "us-east-1", "mtls-platform:environment": "prod",
           "mtls-platform:services": json.dumps(services)}
    if rollout is not None:
        out["mtls-platform:rollout"] = json.dumps(rollout)
    return with_ha_defaults("prod", out)


P = "mtls-platform:services.a"
R = "mtls-platform:rollout.canaries"


@pytest.mark.parametrize(("services", "rollout", "expected"), [
    ({"a": _svc(traffic={"routes": [{"name": "x", "port": "admin", "grpcService": "s"}]})}, None,
     f"{P}.traffic.routes[0].port: unknown port 'admin'"),
    ({"a": _svc(traffic={"grpcRetryOn": ["5xx"]})}, None, f"{P}.traffic.grpcRetryOn[0]: '5xx' is not a grpc retry"),
    ({"a": _svc(traffic={"httpRetryOn": ["unavailable"]})}, None,
     f"{P}.traffic.httpRetryOn[0]: 'unavailable' is not a http retry"),
    ({"a": _svc(traffic={"routes": [{"name": "r", "port": "http", "pathPrefix": "/", "retryOn": ["internal"]}]})},
     None, f"{P}.traffic.routes[0].retryOn[0]: 'internal' is not a http retry"),
    ({"a": _svc(traffic={"requestTimeout": "2s", "perTryTimeout": "3s"})}, None,
     f"{P}.traffic.perTryTimeout: 3s is longer than the request timeout 2s"),
    ({"a": _svc(traffic={"requestTimeout": "1.5s"})}, None, f"{P}.traffic.requestTimeout: '1.5s' must be a whole"),
    ({"a": _svc(traffic={"routes": [{"name": "c", "port": "grpc", "grpcService": "s", "idempotent": False,
                                     "retryLimit": 2}]})}, None,
     f"{P}.traffic.routes[0].retryLimit: a route marked idempotent: false is never retried"),
    ({"a": _svc(traffic={"routes": [{"name": "c", "port": "grpc", "pathPrefix": "/"}]})}, None,
     f"{P}.traffic.routes[0].pathPrefix: pathPrefix matches HTTP routes"),
    ({"a": _svc(traffic={"routes": [{"name": "c", "port": "http", "pathPrefix": "/", "method": "FETCH"}]})}, None,
     f"{P}.traffic.routes[0].method: 'FETCH' must be one of"),
    ({"a": _svc(traffic={"routes": [{"name": "c", "port": "http", "pathPrefix": "/"},
                                    {"name": "c", "port": "http", "pathPrefix": "/v1"}]})}, None,
     f"{P}.traffic.routes[1].name: route name 'c' is used twice"),
    ({"a": _svc(traffic={"routes": [{"name": "Bad_Name", "port": "http", "pathPrefix": "/"}]})}, None,
     f"{P}.traffic.routes[0].name: 'Bad_Name' must be a DNS label"),
    ({"a": _svc(traffic={"routes": [{"name": "g", "port": "grpc", "grpcMethod": "Get"}]})}, None,
     f"{P}.traffic.routes[0].grpcService: a gRPC route matches a service"),
    ({"a": _svc(traffic={"retryLimit": 11})}, None, f"{P}.traffic.retryLimit: must be less than or equal to 10"),
    ({"a": _svc(canary={"tag": "v2", "weight": 101})}, None, f"{P}.canary.weight: 101 must be between 0 and 100"),
    ({"a": _svc(canary={"tag": "v1.0.0", "weight": 5})}, None, f"{P}.canary: the canary must run a different image"),
    ({"a": _svc(canary={"weight": 5})}, None, f"{P}.canary: set exactly one of tag or digest"),
    ({"a": _svc()}, {"canaries": {"ghost": {"tag": "v2", "weight": 5}}}, f"{R}.ghost: unknown service 'ghost'"),
    ({"a": _svc()}, {"canaries": {"a": {"tag": "v2", "weight": -1}}}, f"{R}.a.weight: -1 must be between 0 and 100"),
    ({"a": _svc(canary={"tag": "v2", "weight": 5})}, {"canaries": {"a": {"tag": "v3", "weight": 5}}},
     f"{R}.a: services.a.canary is set too"),
])
def test_each_traffic_error_names_its_key_and_registers_nothing(
        services: dict[str, Any], rollout: dict[str, Any] | None, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_config("prod", _settings(services, rollout))
    found = [f"{p.key}: {p.rule}" for p in err.value.problems]
    assert any(p.startswith(expected) for p in found), found
    monitor = RecordingMonitor(PlanMocks("us-east-1"))  # the whole program: nothing registered before the error
    with pytest.raises(ConfigError):
        run_stack("prod", config=_settings(services, rollout), monitor=monitor)
    assert monitor.registrations == []


def test_a_valid_policy_and_rollout_canary_pass() -> None:
    cfg = build_config("prod", _settings(
        {"a": _svc(traffic={"requestTimeout": "10s", "perTryTimeout": "2s", "routes": [
            {"name": "get", "port": "http", "pathPrefix": "/v1", "method": "GET", "retryOn": ["502-504"]},
            {"name": "pay", "port": "grpc", "grpcService": "p.v1.P", "grpcMethod": "Pay", "idempotent": False}]})},
        {"canaries": {"a": {"digest": "sha256:" + "a" * 64, "weight": 0}}}))
    assert cfg.canaries["a"].weight == 0 and cfg.services[0].traffic.routes[1].idempotent is False


def test_staging_canary_comes_from_its_stack_file() -> None:
    cfg = build_config("staging", load_stack_settings("staging"))
    assert {n: (c.tag, c.weight, c.replicas) for n, c in cfg.canaries.items()} == {"payment-gateway": ("v1.1.0", 10, 1)}
    for stack in ("sandbox", "dev", "prod"):
        assert dict(build_config(stack, load_stack_settings(stack)).canaries) == {}


def test_pulumi_yaml_documents_the_traffic_settings() -> None:
    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    services = " ".join(config["services"]["description"].split())
    for model in (tp.TrafficPolicy, tp.Route, tp.Canary):
        for name, field in model.model_fields.items():
            assert (field.alias or name) in services, f"{model.__name__}.{field.alias or name}"
    assert "canaries" in config["rollout"]["description"]


def test_rollout_images_release_a_new_tag_on_the_default_catalog() -> None:
    """A default-catalog stack ships (or promotes a canary to) a new image without restating the catalog."""
    config = {**load_stack_settings("staging"), "mtls-platform:rollout": json.dumps({
        "images": {"payment-gateway": {"tag": "v1.1.0"}, "analytics": {"digest": "sha256:" + "a" * 64}}})}
    cfg = build_config("staging", config)
    images = {s.name: s.image for s in cfg.services}
    assert (images["payment-gateway"].tag, images["analytics"].digest) == ("v1.1.0", "sha256:" + "a" * 64)
    assert images["order-processing"].tag == "v1.0.0"  # the others keep the catalog's tag
    # ... and the Deployment the plan registers runs the pinned image from the service's ECR repository.
    plan = run_stack("staging", config=config)
    container = plan.one("kubernetes:apps/v1:Deployment", "app-payment-gateway-deployment").inputs[
        "spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith("/mtls-platform-staging/payment-gateway:v1.1.0")


@pytest.mark.parametrize(("images", "expected"), [
    ({"nope": {"tag": "v2"}}, "mtls-platform:rollout.images.nope: unknown service 'nope'"),
    ({"analytics": {"tag": "latest"}}, "mtls-platform:rollout.images.analytics.tag: 'latest' is not a pinned tag"),
    ({"analytics": {"tag": "v2", "digest": "sha256:" + "a" * 64}},
     "mtls-platform:rollout.images.analytics: set exactly one of tag or digest"),
])
def test_rollout_images_errors_name_the_key(images: dict[str, Any], expected: str) -> None:
    config = {**load_stack_settings("prod"), "mtls-platform:rollout": json.dumps({"images": images})}
    with pytest.raises(ConfigError) as err:
        build_config("prod", config)
    assert any(p.startswith(expected) for p in [f"{p.key}: {p.rule}" for p in err.value.problems])
