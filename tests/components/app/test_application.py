"""The application layer in every stack's plan: each catalog service's objects exist, are meshed and restricted,
and the registered Linkerd and Kubernetes policies allow exactly the catalog's edges and no others."""

from __future__ import annotations

from typing import Any

import pytest

from components.app import app_specs as specs
from config import catalog as sc
from config.names import PUBLIC_INGRESS
from config.profiles import PROFILES
from tests.conftest import STACKS, build_config, plan_of
from tools.engine.mock_engine import Plan, Registration, load_stack_settings

LINKERD = "kubernetes:policy.linkerd.io"
SERVER = f"{LINKERD}/v1beta3:Server"
AUTHZ = f"{LINKERD}/v1alpha1:AuthorizationPolicy"
MESHTLS = f"{LINKERD}/v1alpha1:MeshTLSAuthentication"
NETAUTH = f"{LINKERD}/v1alpha1:NetworkAuthentication"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PER_SERVICE = ("kubernetes:core/v1:ServiceAccount", DEPLOYMENT, "kubernetes:core/v1:Service",
               "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:policy/v1:PodDisruptionBudget",
               NETPOL)


def app_objects(plan: Plan, type_: str) -> dict[str, Registration]:
    """Objects of a type in the app namespace, by Kubernetes name."""
    ns = f"{plan.stack}-app"
    return {r.inputs["metadata"]["name"]: r for r in plan.of_type(type_) if r.inputs["metadata"]["namespace"] == ns}


def catalog(stack: str) -> sc.Catalog:
    return sc.default_catalog(stack)


def pods_of(stack: str) -> dict[str, set[str]]:
    """The pod names (`app.kubernetes.io/name`) each catalog service runs under: its own, plus Flagger's
    `<svc>-primary` where the stack delivers it progressively (every stack with Prometheus; sandbox: none)."""
    progressive = build_config(stack, load_stack_settings(stack)).progressive_services
    assert bool(progressive) is (stack != "sandbox")
    return {s.name: {s.name, *((s.name + specs.PRIMARY_SUFFIX,) if s.name in progressive else ())}
            for s in catalog(stack)}


def _selected(selector: dict[str, Any]) -> set[str]:
    """The pod names a registered selector picks: one `matchLabels` name or one `In` expression on the name label."""
    if "matchExpressions" in selector:
        assert "matchLabels" not in selector
        (expression,) = selector["matchExpressions"]
        assert (expression["key"], expression["operator"]) == (specs.NAME_LABEL, "In")
        return set(expression["values"])
    assert set(selector["matchLabels"]) == {specs.NAME_LABEL}
    return {selector["matchLabels"][specs.NAME_LABEL]}


@pytest.mark.parametrize("stack", STACKS)
def test_every_service_has_its_objects(stack: str) -> None:
    plan = plan_of(stack)
    for type_ in PER_SERVICE:
        assert {s.name for s in catalog(stack)} <= set(app_objects(plan, type_)), type_
    servers, authz, authn = (app_objects(plan, t) for t in (SERVER, AUTHZ, MESHTLS))
    for svc in catalog(stack):
        for port in svc.ports:
            assert f"{svc.name}-{port.name}" in servers
        assert any(a.startswith(f"{svc.name}-") for a in authz) and any(a.startswith(f"{svc.name}-") for a in authn)


def _authorized(plan: Plan) -> set[tuple[str, str, str]]:
    """(client service account, server name, port) allowed by the registered Linkerd policy."""
    servers, authz, authn = (app_objects(plan, t) for t in (SERVER, AUTHZ, MESHTLS))
    allowed = set()
    for policy in authz.values():
        spec = policy.inputs["spec"]
        target = servers[spec["targetRef"]["name"]].inputs["spec"]
        for ref in spec["requiredAuthenticationRefs"]:
            if ref["kind"] != "MeshTLSAuthentication":
                continue
            for identity in authn[ref["name"]].inputs["spec"]["identityRefs"]:
                assert identity["kind"] == "ServiceAccount" and "namespace" not in identity
                names = _selected(target["podSelector"]) if target["podSelector"] else {"*"}
                allowed |= {(identity["name"], name, target["port"]) for name in names}
    return allowed


@pytest.mark.parametrize("stack", STACKS)
def test_linkerd_policy_allows_exactly_the_catalog_edges(stack: str) -> None:
    plan = plan_of(stack)
    pods = pods_of(stack)  # a progressive service's `-primary` pods get exactly its callers, on the same ports
    expected = {(caller, pod, p.name) for s in catalog(stack) for caller in s.callers for p in s.ports
                for pod in pods[s.name]}
    expected |= {(PUBLIC_INGRESS, pod, p.name) for s in catalog(stack) if s.public for p in s.ports
                 if p.protocol == "http" for pod in pods[s.name]}
    assert _authorized(plan) == expected
    # An identity outside the catalog (or a caller on a service it does not call) has no path.
    assert not any(client == "intruder" for client, _, _ in _authorized(plan))
    assert ("analytics", "payment-gateway", "grpc") not in _authorized(plan)


@pytest.mark.parametrize("stack", STACKS)
def test_callers_authentication_names_exactly_the_declared_callers(stack: str) -> None:
    authn = app_objects(plan_of(stack), MESHTLS)
    for svc in catalog(stack):
        if svc.callers:
            refs = authn[f"{svc.name}-callers"].inputs["spec"]["identityRefs"]
            assert sorted(r["name"] for r in refs) == sorted(svc.callers)
        else:
            assert f"{svc.name}-callers" not in authn


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_may_scrape_only_the_proxy_admin_port(stack: str) -> None:
    plan = plan_of(stack)
    server = app_objects(plan, SERVER)["proxy-admin"].inputs["spec"]
    assert (server["port"], server["podSelector"]) == ("linkerd-admin", {})
    # The public entry adds its own (`public-ingress-alb`, tests/components/ingress/test_public_entry.py): pick
    # Prometheus's by name.
    netauth = app_objects(plan, NETAUTH)["prometheus-scrape"]
    private = plan.of_type("aws:ec2/subnet:Subnet")
    assert {n["cidr"] for n in netauth.inputs["spec"]["networks"]} == {
        s.inputs["cidrBlock"] for s in private if "private" in s.name}
    policy = app_objects(plan, AUTHZ)["proxy-admin-prometheus"].inputs["spec"]
    assert policy["requiredAuthenticationRefs"][0]["kind"] == "NetworkAuthentication"


def _netpol_edges(plan: Plan, direction: str = "ingress") -> set[tuple[str, str]]:
    """(client pod name, server pod name) each registered NetworkPolicy admits (ingress) or lets out (egress)."""
    edges = set()
    peers_key = "from" if direction == "ingress" else "to"
    for policy in app_objects(plan, NETPOL).values():
        spec: dict[str, Any] = policy.inputs["spec"]
        if not spec["podSelector"]:
            continue  # namespace-wide (default-deny, DNS, Linkerd)
        for rule in spec.get(direction, []):
            for peer in rule[peers_key]:
                if "podSelector" in peer:
                    edges |= {(other, own) if direction == "ingress" else (own, other)
                              for own in _selected(spec["podSelector"]) for other in _selected(peer["podSelector"])}
    return edges


@pytest.mark.parametrize("stack", STACKS)
def test_network_policies_mirror_the_graph(stack: str) -> None:
    plan = plan_of(stack)
    pods = {**pods_of(stack), PUBLIC_INGRESS: {PUBLIC_INGRESS}}
    graph = sc.edges(catalog(stack))
    expected = {(a, b) for caller, callee in graph for a in pods[caller] for b in pods[callee]}
    # Public services admit the edge's pods even where no edge runs (sandbox, ingress.publicEntry false): the
    # identity then belongs to no pod, and the policies stay the same when the entry is switched on.
    expected |= {(PUBLIC_INGRESS, pod) for s in catalog(stack) if s.public for pod in pods[s.name]}
    assert _netpol_edges(plan) == expected
    # callers (and the edge) reach their callees' `-primary` pods; services with a Vault role reach Vault's pods
    vault = {(pod, "vault") for s in catalog(stack) if {"rds", "cache"} & set(s.data_services)
             for pod in pods[s.name]}
    edge_out = set() if PROFILES[stack].public_entry_enabled else {e for e in expected if e[0] == PUBLIC_INGRESS}
    assert _netpol_edges(plan, "egress") == (expected - edge_out) | vault  # no edge, no egress policy of its own
    policies = app_objects(plan, NETPOL)
    for svc in catalog(stack):  # one policy per service, covering its primary's pods with the same peers
        assert _selected(policies[svc.name].inputs["spec"]["podSelector"]) == pods[svc.name]
    isolated = {s.inputs["cidrBlock"] for s in plan.of_type("aws:ec2/subnet:Subnet") if "isolated" in s.name}
    for svc in catalog(stack):
        egress = policies[svc.name].inputs["spec"]["egress"]
        blocks = {peer["ipBlock"]["cidr"] for rule in egress for peer in rule["to"] if "ipBlock" in peer
                  and peer["ipBlock"]["cidr"] != "0.0.0.0/0"}
        # SQS messaging: `mq` is no isolated-subnet port; the queues' API is reached on 443 outside private ranges.
        assert blocks == (isolated if set(svc.data_services) - {"mq"} else set()), svc.name
        api = [rule for rule in egress for peer in rule["to"] if peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"]
        assert len(api) == ("mq" in svc.data_services), svc.name
        for rule in api:
            assert rule["ports"] == [{"protocol": "TCP", "port": 443}]
            assert set(rule["to"][0]["ipBlock"]["except"]) == set(specs.PRIVATE_RANGES)
        # The ServiceAccount carries the service's own queue role, and only an `mq` service has one.
        sa = next(r for r in plan.resources if r.type == "kubernetes:core/v1:ServiceAccount"
                  and r.inputs["metadata"]["name"] == svc.name and r.inputs["metadata"].get("namespace") ==
                  policies[svc.name].inputs["metadata"]["namespace"])
        annotations = sa.inputs["metadata"].get("annotations", {})
        if "mq" in svc.data_services:
            role = plan.one("aws:iam/role:Role", f"data-queues-{svc.name}")
            assert annotations == {specs.IRSA_ROLE_ANNOTATION: role.outputs["arn"]}, svc.name
        else:
            assert specs.IRSA_ROLE_ANNOTATION not in annotations, svc.name


@pytest.mark.parametrize("stack", STACKS)
def test_deployments_are_meshed_restricted_and_pinned(stack: str) -> None:
    plan = plan_of(stack)
    deployments = app_objects(plan, DEPLOYMENT)
    repos = {r.inputs["name"]: r for r in plan.of_type("aws:ecr/repository:Repository")}
    for svc in catalog(stack):
        template = deployments[svc.name].inputs["spec"]["template"]
        pod = template["spec"]
        assert template["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
        assert pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        context = container["securityContext"]
        assert context["runAsNonRoot"] and context["readOnlyRootFilesystem"]
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        image = container["image"]
        assert not image.endswith(":latest") and ("@sha256:" in image or ":" in image.rsplit("/", 1)[-1])
        if stack == "sandbox":
            assert image == "docker.io/buoyantio/bb:v0.0.6" and container["args"]
        else:
            repo = repos[f"mtls-platform-{stack}/{svc.name}"]
            # prod references images by digest (config rule rollout.prod_digests; the stack file's pins)
            suffix = f"@sha256:{'0' * 64}" if stack == "prod" else f":{sc.DEFAULT_TAG}"
            assert image == f"{repo.outputs['repositoryUrl']}{suffix}"


@pytest.mark.parametrize("stack", STACKS)
def test_ecr_repositories_immutable_scanned_and_encrypted(stack: str) -> None:
    plan = plan_of(stack)
    # the services' repositories (the trust-anchor rotation's image repository is tested with it)
    repos = [r for r in plan.of_type("aws:ecr/repository:Repository") if r.name != "trust-anchor-rotation-image"]
    if stack == "sandbox":
        assert repos == []  # the sandbox runs the public test image
        return
    data_key = plan.one("aws:kms/key:Key", "keys-data").outputs["arn"]
    assert len(repos) == 8
    for repo in repos:
        assert repo.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repo.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repo.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": data_key}]
        assert repo.protect is (stack in ("staging", "prod"))
    assert len(plan.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 8


def test_app_waits_for_the_linkerd_control_plane(prod: Plan) -> None:
    control_plane = prod.one("kubernetes:helm.sh/v3:Release", "linkerd-control-plane")
    for r in [*app_objects(prod, DEPLOYMENT).values(), *app_objects(prod, SERVER).values()]:
        assert control_plane.urn in r.dependencies, r.name
