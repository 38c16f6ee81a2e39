"""The service catalog: the default call graph, and each validation rule naming its key path before any resource."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from config import catalog as sc
from config.model import ConfigError
from tests.conftest import ROOT, STACKS, build_config, with_ha_defaults
from tools.engine.mock_engine import PlanMocks, RecordingMonitor, run_stack

BRIEF_SERVICES = {"product-catalog", "inventory-management", "order-processing", "customer-profile", "payment-gateway",
        "configuration-engine", "recommendation", "analytics"}


def svc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ports": [{"name": "grpc", "port": 9090, "protocol": "grpc"},
                                      {"name": "http", "port": 8080, "protocol": "http"}],
                            "replicas": {"min": 2, "max": 4}, "health": {"port": "http"}}
    return {**base, **changes}


def settings(services: dict[str, Any] | str) -> dict[str, str]:
    raw = services if isinstance(services, str) else json.dumps(services)
    return with_ha_defaults("prod", {
        "aws:region": "us-east-1", "mtls-platform:environment": "prod", "mtls-platform:services": raw,
        "mtls-platform:ingress": json.dumps({"domain": "shop.example.com", "hostedZoneId": "Z0EXAMPLE"})})


def problems(services: dict[str, Any] | str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config("prod", settings(services))
    return [f"{p.key}: {p.rule}" for p in err.value.problems]


def test_default_catalog_is_the_brief_graph() -> None:
    catalog = sc.default_catalog("prod")
    assert {s.name for s in catalog} == BRIEF_SERVICES
    by_name = {s.name: s for s in catalog}
    assert {s.name for s in catalog if s.public} == {"product-catalog", "order-processing"}
    assert {s.name for s in catalog if s.non_critical} == {"recommendation", "analytics"}
    assert set(by_name["configuration-engine"].callers) == BRIEF_SERVICES - {"configuration-engine", "analytics"}
    assert sc.callees("order-processing", catalog) == [
        "product-catalog", "inventory-management", "customer-profile", "payment-gateway", "configuration-engine",
        "analytics"]
    assert by_name["payment-gateway"].data_services == ["rds"]
    assert by_name["order-processing"].data_services == ["rds", "mq"]
    assert list(sc.check(catalog, {s.name for s in catalog})) == []


def test_default_graph_is_acyclic() -> None:
    """bb forwards every request to its callees: a cycle would loop forever in the sandbox."""
    catalog = sc.default_catalog("sandbox")
    remaining = sc.edges(catalog)
    nodes = {s.name for s in catalog}
    while nodes:
        roots = {n for n in nodes if not any(callee == n for _, callee in remaining)}
        assert roots, f"cycle among {nodes}"
        nodes -= roots
        remaining = {(a, b) for a, b in remaining if a not in roots}


@pytest.mark.parametrize(("stack", "low", "high"), [("sandbox", 1, 2), ("dev", 1, 2), ("staging", 2, 4),
                                                     ("prod", 4, 6)])
def test_replicas_per_environment(stack: str, low: int, high: int) -> None:
    assert {(s.replicas.min, s.replicas.max) for s in sc.default_catalog(stack)} == {(low, high)}


def test_sandbox_runs_the_pinned_test_image_reproducing_the_graph() -> None:
    catalog = sc.default_catalog("sandbox")
    for s in catalog:
        assert s.image_ref == f"{sc.TEST_IMAGE}:{sc.TEST_IMAGE_TAG}"
        downstream = sc.callees(s.name, catalog)
        assert s.args[0] == ("broadcast-channel" if downstream else "terminus")
        assert sorted(a.split("=")[1].split(":")[0] for a in s.args if a.startswith("--grpc-downstream-server")) \
            == sorted(downstream)
    for stack in ("dev", "staging", "prod"):  # real images come from the ECR repositories
        assert all(s.image.repository is None and s.image.tag == sc.DEFAULT_TAG for s in sc.default_catalog(stack))


def test_stack_config_carries_the_catalog() -> None:
    cfg = build_config("prod", settings({"a": svc(), "b": svc(callers=["a"])}))
    assert [s.name for s in cfg.services] == ["a", "b"]
    assert {s.name for s in build_config("prod", settings({})).services} == BRIEF_SERVICES


P = "mtls-platform:services"


@pytest.mark.parametrize(("services", "expected"), [
    ({"a": svc(callers=["nobody"])}, f"{P}.a.callers[0]: unknown caller 'nobody'"),
    ({"a": svc(callers=["a"])}, f"{P}.a.callers[0]: a service does not call itself"),
    ({"a": svc(ports=[{"name": "grpc", "port": 9090, "protocol": "grpc"},
                      {"name": "http", "port": 9090, "protocol": "http"}])},
     f"{P}.a.ports[1].port: port 9090 clashes with another port of a"),
    ({"a": svc(ports=[{"name": "web", "port": 8080, "protocol": "http"},
                      {"name": "web", "port": 8081, "protocol": "http"}], health={"port": "web"})},
     f"{P}.a.ports[1].name: port name 'web' is used twice"),
    ({"a": svc(ports=[{"name": "http", "port": 4143, "protocol": "http"}])},
     f"{P}.a.ports[0].port: port 4143 belongs to the Linkerd proxy"),
    ({"a": svc(public=True, ports=[{"name": "grpc", "port": 9090, "protocol": "grpc"}], health={"port": "grpc"})},
     f"{P}.a.public: a public service needs an http port"),
    ({"a": svc(health={"port": "grpc"})}, f"{P}.a.health.port: 'grpc' must name one of the service's http ports"),
    ({"a": svc(dataServices=["dynamodb"])}, f"{P}.a.dataServices[0]: must be 'rds', 'mq' or 'cache'"),
    ({"a": svc(replicas={"min": 5, "max": 3})}, f"{P}.a.replicas.min: min 5 is greater than max 3"),
    ({"Payment_Gateway": svc()}, f"{P}.Payment_Gateway: service name 'Payment_Gateway' must be a DNS label"),
    ({"a": svc(image={"tag": "latest"})}, f"{P}.a.image.tag: 'latest' is not a pinned tag"),
    ({"a": svc(image={"tag": "v1", "digest": "sha256:" + "0" * 64})}, f"{P}.a.image: set exactly one of tag or"),
    ({"a": svc(image={"digest": "sha256:nope"})}, f"{P}.a.image.digest: must be sha256:<64 hex digits>"),
    ({"a": svc(name="b")}, f"{P}.a.name: the service's name is its key"),
    ({"a": svc(replicas={"min": 0, "max": 3})}, f"{P}.a.replicas.min: must be greater than or equal to 1"),
    ({"a": svc(color="blue")}, f"{P}.a.color: unknown setting"),
    ({"a": {k: v for k, v in svc().items() if k != "health"}}, f"{P}.a.health: is required"),
    ({"a": svc(ports=[{"name": "http", "port": 70000, "protocol": "http"}])}, f"{P}.a.ports[0].port: must be less"),
    ({"public-ingress": svc()}, f"{P}.public-ingress: 'public-ingress' is the public edge's name"),
    ({"payments-canary": svc()}, f"{P}.payments-canary: names ending in -stable or -canary"),
])
def test_each_catalog_error_names_its_key(services: dict[str, Any], expected: str) -> None:
    found = problems(services)
    assert any(p.startswith(expected) for p in found), found


def test_duplicate_service_name() -> None:
    raw = f'{{"a": {json.dumps(svc())}, "a": {json.dumps(svc())}}}'
    assert f"{P}.a: duplicate service name (each name appears once)" in problems(raw)


def test_catalog_problems_are_reported_with_the_others() -> None:
    config = {**settings({"a": svc(callers=["x"]), "b": svc(public=True, ports=[
        {"name": "grpc", "port": 9090, "protocol": "grpc"}], health={"port": "grpc"})}),
        "mtls-platform:network": json.dumps({"natGateways": "single"})}
    with pytest.raises(ConfigError) as err:
        build_config("prod", config)
    keys = {p.key for p in err.value.problems}
    assert {f"{P}.a.callers[0]", f"{P}.b.public", "mtls-platform:network.natGateways"} <= keys
    assert "stack 'prod'" in str(err.value)


def test_a_bad_catalog_registers_nothing() -> None:
    monitor = RecordingMonitor(PlanMocks("us-east-1"))
    with pytest.raises(ConfigError, match=r"services\.a\.callers\[0\]"):
        run_stack("prod", config=settings({"a": svc(callers=["ghost"])}), monitor=monitor)
    assert monitor.registrations == []


def test_pulumi_yaml_documents_every_service_setting() -> None:
    description = " ".join(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]["services"]["description"]
                           .split())
    for model in (sc.Service, sc.Image, sc.Port, sc.Replicas, sc.Resources, sc.Health):
        for name, field in model.model_fields.items():
            if name != "name":
                assert (field.alias or name) in description, f"{model.__name__}.{field.alias or name}"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_use_the_default_catalog(stack: str) -> None:
    assert "mtls-platform:services" not in (yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
