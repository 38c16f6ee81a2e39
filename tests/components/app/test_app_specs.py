"""Pure builders of the app layer: restricted pods, scaling, disruption budgets, and Linkerd/Kubernetes policy
shaped by the catalog, checked against the pinned Linkerd CRDs (tests/upstream_facts/linkerd_crd_fields.yaml)."""

from __future__ import annotations

import json

import yaml

from components.app import app_specs as specs
from components.app.application import lifecycle_policy
from config import catalog as sc
from config.names import PUBLIC_INGRESS
from tests.conftest import FACTS

CATALOG = sc.default_catalog("prod")
BY_NAME = {s.name: s for s in CATALOG}
FIELDS = yaml.safe_load((FACTS / "linkerd_crd_fields.yaml").read_text())


def test_deployment_is_meshed_restricted_and_spread() -> None:
    svc = BY_NAME["payment-gateway"]
    spec = specs.deployment(svc, "repo/payment-gateway:v1.0.0", ha=True)
    assert "replicas" not in spec  # the HPA owns it
    template = spec["template"]
    assert template["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
    pod = template["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "payment-gateway"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert set(container["resources"]) == {"requests", "limits"}
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone" and spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert "tolerations" not in pod and "args" not in container
    assert specs.deployment(svc, "i:1", ha=False)["template"]["spec"]["topologySpreadConstraints"][0][
        "whenUnsatisfiable"] == "ScheduleAnyway"


def test_only_non_critical_services_tolerate_spot() -> None:
    for svc in CATALOG:
        pod = specs.deployment(svc, "i:1", ha=True)["template"]["spec"]
        assert (pod.get("tolerations") == [specs.SPOT_TOLERATION]) is svc.non_critical, svc.name


def test_hpa_pdb_and_service() -> None:
    svc = BY_NAME["order-processing"]
    hpa = specs.hpa(svc, "order-processing")
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (4, 6)
    assert {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]} == {
        "cpu": 70, "memory": 70}
    assert specs.pdb(svc) == {"maxUnavailable": 1, "selector": {"matchLabels": {specs.NAME_LABEL: svc.name}}}
    ports = specs.service_spec(svc)["ports"]
    assert [(p["name"], p["port"], p["appProtocol"]) for p in ports] == [
        ("grpc", 9090, "kubernetes.io/h2c"), ("http", 8080, "http")]


def test_server_per_port_with_the_protocol() -> None:
    svc = BY_NAME["inventory-management"]
    grpc, http = specs.server(svc, "grpc"), specs.server(svc, "http")
    assert (grpc["port"], grpc["proxyProtocol"]) == ("grpc", "gRPC")
    assert (http["port"], http["proxyProtocol"]) == ("http", "HTTP/1")
    assert grpc["accessPolicy"] == "deny"


def test_mesh_tls_authentication_names_exactly_the_callers() -> None:
    svc = BY_NAME["customer-profile"]
    authn = specs.mesh_tls_authentication(list(svc.callers))
    assert authn == {"identityRefs": [{"kind": "ServiceAccount", "name": "order-processing"},
                                      {"kind": "ServiceAccount", "name": "recommendation"}]}
    policy = specs.authorization_policy("customer-profile-grpc", "customer-profile-callers")
    assert policy["targetRef"] == {"group": "policy.linkerd.io", "kind": "Server", "name": "customer-profile-grpc"}
    assert policy["requiredAuthenticationRefs"] == [
        {"group": "policy.linkerd.io", "kind": "MeshTLSAuthentication", "name": "customer-profile-callers"}]


def test_specs_only_use_fields_and_versions_of_the_pinned_crds() -> None:
    """Linkerd edge-26.8.3's policy CRDs (the subset kept in tests/upstream_facts/linkerd_crd_fields.yaml)."""
    assert FIELDS["Server"]["storage"] == specs.SERVER_VERSION
    for kind in ("AuthorizationPolicy", "MeshTLSAuthentication", "NetworkAuthentication"):
        assert specs.AUTH_VERSION in FIELDS[kind]["served"], kind
    for svc in CATALOG:
        for port in svc.ports:
            server = specs.server(svc, port.name)
            assert set(server) <= set(FIELDS["Server"]["spec"])
            assert set(server["podSelector"]) <= set(FIELDS["Server"]["spec.podSelector"])
            assert server["proxyProtocol"] in {"unknown", "HTTP/1", "HTTP/2", "gRPC", "opaque", "TLS"}
    assert set(specs.proxy_admin_server()) <= set(FIELDS["Server"]["spec"])
    policy = specs.authorization_policy("s", "a")
    assert set(policy) <= set(FIELDS["AuthorizationPolicy"]["spec"])
    assert set(policy["targetRef"]) <= set(FIELDS["AuthorizationPolicy"]["spec.targetRef"])
    for ref in policy["requiredAuthenticationRefs"]:
        assert set(ref) <= set(FIELDS["AuthorizationPolicy"]["spec.requiredAuthenticationRefs"])
    authn = specs.mesh_tls_authentication(["a"])
    assert set(authn) <= set(FIELDS["MeshTLSAuthentication"]["spec"])
    assert set(authn["identityRefs"][0]) <= set(FIELDS["MeshTLSAuthentication"]["spec.identityRefs"])
    network = specs.scrape_network_authentication(["10.0.0.0/18"])
    assert set(network) <= set(FIELDS["NetworkAuthentication"]["spec"])
    assert set(network["networks"][0]) <= set(FIELDS["NetworkAuthentication"]["spec.networks"])


def _peers(rules: list[dict[str, object]], key: str) -> set[str]:
    return {peer["podSelector"]["matchLabels"][specs.NAME_LABEL]  # type: ignore[index]
            for rule in rules for peer in rule[key] if "podSelector" in peer}  # type: ignore[attr-defined]


def test_network_policy_mirrors_the_graph() -> None:
    data = ("10.10.224.0/21",)
    for svc in CATALOG:
        policy = specs.network_policy(svc, CATALOG, data)
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        expected_in = set(svc.callers) | ({PUBLIC_INGRESS} if svc.public else set())
        assert _peers(policy["ingress"], "from") == expected_in, svc.name
        assert _peers(policy["egress"], "to") == set(sc.callees(svc.name, CATALOG)), svc.name
        blocks = [peer for rule in policy["egress"] for peer in rule["to"] if "ipBlock" in peer]
        assert bool(blocks) is bool(svc.data_services), svc.name
    analytics = specs.network_policy(BY_NAME["analytics"], CATALOG, data)
    assert analytics["egress"] == [{"to": [{"ipBlock": {"cidr": "10.10.224.0/21"}}],
                                    "ports": [{"protocol": "TCP", "port": 5671}, {"protocol": "TCP", "port": 61617}]}]


def test_ecr_lifecycle_keeps_the_newest_images() -> None:
    rules = json.loads(lifecycle_policy(keep=30))["rules"]
    assert rules[-1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30}
    assert [r["rulePriority"] for r in rules] == [1, 2]
