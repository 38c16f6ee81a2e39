"""Public entry (issue 4, item 5): the ALB controller's chart and identity, the meshed edge proxy, the HTTPS-only ALB.

Pure builders are checked against committed upstream facts (chart key list, annotation names, Linkerd CRD fields,
the controller's IAM policy); the per-stack properties against each stack's cached offline plan.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.ingress import edge_specs
from components.ingress.alb_controller_specs import IAM_POLICY_FILE, iam_policy
from components.ingress.alb_controller_values import (
    NAMESPACE,
    SERVICE_ACCOUNT,
    AlbControllerValuesArgs,
    alb_controller_values,
)
from config import versions
from config.catalog import default_catalog
from config.model import ConfigError
from tests.conftest import FACTS, HA, STACKS, build_config, plan_of, with_ha_defaults
from tests.helpers.chart_keys import unanchored_allow_list_entries
from tests.helpers.chart_keys import unknown_paths as chart_unknown_paths
from tools.chart_data import chart_keys
from tools.engine.mock_engine import Plan, Registration, load_stack_settings

ANNOTATIONS = yaml.safe_load((FACTS / "alb_annotations.yaml").read_text())
CRD = yaml.safe_load((FACTS / "linkerd_crd_fields.yaml").read_text())
RELEASE = "kubernetes:helm.sh/v3:Release"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
PUBLIC = sorted(s.name for s in default_catalog("prod") if s.public)

# The sandbox profile has no public entry (ingress.publicEntry: false): tested in test_sandbox_has_no_public_entry.
ENTRY_STACKS = [s for s in STACKS if s != "sandbox"]


def unknown_paths(values: dict[str, Any]) -> list[str]:
    return chart_unknown_paths(values, "aws-load-balancer-controller")


def values(ha: bool) -> dict[str, Any]:
    return alb_controller_values(AlbControllerValuesArgs(
        cluster_name="c", region="us-east-1", vpc_id="vpc-1", role_arn="arn:aws:iam::1:role/r", ha=ha,
        tags={"stack": "prod"}))


def app(plan: Plan, type_: str) -> dict[str, Registration]:
    ns = f"{plan.stack}-app"
    return {r.inputs["metadata"]["name"]: r for r in plan.of_type(type_) if r.inputs["metadata"]["namespace"] == ns}


def public_subnets(plan: Plan) -> set[str]:
    subnets = plan.of_type("aws:ec2/subnet:Subnet")
    return {s.inputs["cidrBlock"] for s in subnets if s.inputs["tags"]["tier"] == "public"}


# --- pure: chart, policy, annotations, CRD fields ---------------------------------------------------------------

def test_key_list_names_its_upstream_source() -> None:
    header = (chart_keys.KEYS_DIR / "aws-load-balancer-controller-3.5.0.txt").read_text().splitlines()[0]
    assert "kubernetes-sigs/aws-load-balancer-controller" in header and "v3.5.0" in header
    assert versions.AWS_LOAD_BALANCER_CONTROLLER_CHART == "3.5.0"


@pytest.mark.parametrize("ha", [True, False])
def test_every_controller_value_is_a_key_of_the_pinned_chart(ha: bool) -> None:
    assert unknown_paths(values(ha)) == []
    assert unknown_paths({"clusterNmae": "x"}) == ["clusterNmae"]  # the check can fail


def test_allow_list_entries_hang_off_the_chart() -> None:
    assert unanchored_allow_list_entries("aws-load-balancer-controller") == []


@pytest.mark.parametrize(("ha", "replicas"), [(True, 2), (False, 1)])
def test_controller_values_ha_identity_and_restricted_pods(ha: bool, replicas: int) -> None:
    v = values(ha)
    assert (v["clusterName"], v["region"], v["vpcId"], v["replicaCount"]) == ("c", "us-east-1", "vpc-1", replicas)
    assert v["serviceAccount"] == {"create": True, "name": SERVICE_ACCOUNT,
                                   "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}}
    assert v["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert v["securityContext"]["seccompProfile"] == v["podSecurityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"}
    assert v["enableServiceMutatorWebhook"] is False and v["enableCertManager"] is True
    assert ("podDisruptionBudget" in v) == ha and ("topologySpreadConstraints" in v) == ha


def test_iam_policy_is_the_upstream_file_for_the_pinned_tag() -> None:
    doc = json.loads(IAM_POLICY_FILE.read_text())
    assert doc["source"]["tag"] == f"v{versions.AWS_LOAD_BALANCER_CONTROLLER_CHART}"
    policy = iam_policy()
    assert policy == doc["policy"] and policy["Version"] == "2012-10-17"
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"elasticloadbalancing:CreateLoadBalancer", "ec2:AuthorizeSecurityGroupIngress",
            "acm:DescribeCertificate"} <= actions
    assert len(json.dumps(policy, separators=(",", ":"))) < 10240  # inline role policy size limit


def test_annotations_are_documented_for_the_pinned_controller() -> None:
    alb = edge_specs.AlbSettings("shop.example.com", ("0.0.0.0/0",), True)
    annotations = edge_specs.ingress_annotations(alb, "logs", "arn:aws:acm:us-east-1:1:certificate/x")
    assert set(annotations) <= set(ANNOTATIONS["annotations"])
    attributes = annotations["alb.ingress.kubernetes.io/load-balancer-attributes"].split(",")
    assert {a.split("=")[0] for a in attributes} <= set(ANNOTATIONS["load_balancer_attributes"])


def test_linkerd_specs_use_fields_of_the_pinned_crds() -> None:
    assert set(edge_specs.server()) <= set(CRD["Server"]["spec"])
    assert set(edge_specs.alb_network_authentication(["10.0.0.0/24"])) <= set(CRD["NetworkAuthentication"]["spec"])
    assert set(edge_specs.alb_network_authentication(["10.0.0.0/24"])["networks"][0]) <= set(
        CRD["NetworkAuthentication"]["spec.networks"])


def test_nginx_routes_each_public_service_and_nothing_else() -> None:
    routes = edge_specs.routes(default_catalog("prod"))
    assert sorted(r.name for r in routes) == PUBLIC
    conf = edge_specs.nginx_conf(routes, "prod-app")
    for r in routes:
        upstream = f"http://{r.name}.prod-app.svc.cluster.local:8080/"
        assert f"location /{r.name}/ {{\n            proxy_pass {upstream};" in conf
    assert conf.count("proxy_pass") == len(PUBLIC)
    assert "pid /tmp/nginx.pid;" in conf and "listen 8080;" in conf and "location = /healthz" in conf


# --- config -------------------------------------------------------------------------------------------------------

def cfg(ingress: dict[str, Any] | None, services: dict[str, Any] | None = None) -> dict[str, str]:
    c = {"aws:region": "us-east-1", "mtls-platform:environment": "prod"}
    if ingress is not None:
        c["mtls-platform:ingress"] = json.dumps(ingress)
    if services is not None:
        c["mtls-platform:services"] = json.dumps(services)
    return with_ha_defaults("prod", c)


def problems(config: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config("prod", config)
    return [p.key for p in err.value.problems]


def test_public_services_without_domain_or_certificate_name_the_keys() -> None:
    assert problems(cfg(None)) == ["mtls-platform:ingress.domain", "mtls-platform:ingress.hostedZoneId"]
    assert problems(cfg({"domain": "shop.example.com"})) == ["mtls-platform:ingress.hostedZoneId"]


@pytest.mark.parametrize(("ingress", "key"), [
    ({"domain": "Shop_Example", "hostedZoneId": "Z1"}, "mtls-platform:ingress.domain"),
    ({"domain": "shop.example.com", "hostedZoneId": "zone-1"}, "mtls-platform:ingress.hostedZoneId"),
    ({"domain": "shop.example.com", "certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/"
      "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"}, "mtls-platform:ingress.certificateArn"),
    ({"domain": "shop.example.com", "hostedZoneId": "Z1", "allowedCidrs": ["10.0.0.300/8"]},
     "mtls-platform:ingress.allowedCidrs"),
    ({"domain": "shop.example.com", "hostedZoneId": "Z1", "allowedCidrs": []}, "mtls-platform:ingress.allowedCidrs"),
])
def test_bad_ingress_settings_are_named(ingress: dict[str, Any], key: str) -> None:
    assert problems(cfg(ingress)) == [key]


def test_an_existing_certificate_alone_is_enough_and_no_public_service_needs_nothing() -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    assert build_config("prod", cfg({"domain": "shop.example.com", "certificateArn": arn})) \
        .ingress_certificate_arn == arn
    internal = {"a": {"ports": [{"name": "http", "port": 8080, "protocol": "http"}], "health": {"port": "http"},
                      "replicas": {"min": 2, "max": 4}}}
    assert build_config("prod", cfg(None, internal)).ingress_domain is None


# --- per stack ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", ENTRY_STACKS)
def test_controller_release_is_pinned_with_its_cluster_facts(stack: str) -> None:
    plan = plan_of(stack)
    rel = plan.one(RELEASE, "aws-load-balancer-controller").inputs
    assert (rel["version"], rel["repositoryOpts"]) == ("3.5.0", {"repo": "https://aws.github.io/eks-charts"})
    assert rel["namespace"] == NAMESPACE
    v = rel["values"]
    assert v["clusterName"] == f"mtls-platform-{stack}" and v["region"] == "us-east-1"
    assert v["vpcId"] == plan.outputs["vpc_id"]  # no IMDS for pods: set, not discovered
    assert v["replicaCount"] == (2 if stack in HA else 1)
    assert ("podDisruptionBudget" in v) == (stack in HA)
    role = plan.one("aws:iam/role:Role", "public-entry-alb-controller-irsa")
    assert v["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == role.outputs["arn"]
    assert unknown_paths(v) == []
    assert v["defaultTags"]["stack"] == stack and v["defaultTags"]["managed-by"] == "aws-load-balancer-controller"
    labels = {n.inputs["metadata"]["name"]: n.inputs["metadata"]["labels"]
              for n in plan.of_type("kubernetes:core/v1:Namespace")}
    assert labels[NAMESPACE]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("stack", ENTRY_STACKS)
def test_irsa_role_is_trusted_only_by_the_controller_service_account(stack: str) -> None:
    plan = plan_of(stack)
    role = plan.one("aws:iam/role:Role", "public-entry-alb-controller-irsa")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {"StringEquals": {
        f"{ISSUER}:sub": f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}", f"{ISSUER}:aud": "sts.amazonaws.com"}}
    policy = plan.one("aws:iam/rolePolicy:RolePolicy", "public-entry-alb-controller-irsa")
    assert json.loads(policy.inputs["policy"]) == iam_policy()


@pytest.mark.parametrize("stack", ENTRY_STACKS)
def test_edge_pods_are_meshed_restricted_and_run_as_public_ingress(stack: str) -> None:
    plan = plan_of(stack)
    spec = app(plan, "kubernetes:apps/v1:Deployment")["public-ingress"].inputs["spec"]
    template = spec["template"]
    assert template["metadata"]["annotations"]["linkerd.io/inject"] == "enabled"
    pod = template["spec"]
    assert pod["serviceAccountName"] == "public-ingress" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 101
    (container,) = pod["containers"]
    assert container["image"] == versions.INGRESS_PROXY_IMAGE
    sc = container["securityContext"]
    assert (sc["allowPrivilegeEscalation"], sc["readOnlyRootFilesystem"], sc["capabilities"]) == (
        False, True, {"drop": ["ALL"]})
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"livenessProbe", "readinessProbe"} <= set(container)
    hpa = app(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")["public-ingress"].inputs["spec"]
    assert hpa["minReplicas"] == (2 if stack in HA else 1)
    assert app(plan, "kubernetes:policy/v1:PodDisruptionBudget")["public-ingress"].inputs["spec"]["maxUnavailable"] == 1
    assert app(plan, "kubernetes:core/v1:ServiceAccount")["public-ingress"].inputs["automountServiceAccountToken"] \
        is False
    conf = app(plan, "kubernetes:core/v1:ConfigMap")["public-ingress-nginx"].inputs["data"]["nginx.conf"]
    assert conf == edge_specs.nginx_conf(edge_specs.routes(default_catalog(stack)), f"{stack}-app")


@pytest.mark.parametrize("stack", ENTRY_STACKS)
def test_only_the_public_subnets_reach_the_edge(stack: str) -> None:
    plan = plan_of(stack)
    subnets = public_subnets(plan)
    assert len(subnets) == 3
    policy = app(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy")["public-ingress"].inputs["spec"]
    from_alb, from_monitoring = policy["ingress"]
    assert {p["ipBlock"]["cidr"] for p in from_alb["from"]} == subnets
    assert {p["port"] for p in from_alb["ports"]} == {8080}  # the ALB is unmeshed: never the proxy port
    assert from_monitoring["ports"] == [{"protocol": "TCP", "port": 4191}]
    # The edge reaches each public service's pods, and its Flagger primary's where the stack is progressive.
    progressive = build_config(stack, load_stack_settings(stack)).progressive_services
    assert (set(PUBLIC) <= progressive) is (stack != "sandbox")
    reached = {}
    for rule in policy["egress"]:
        (peer,) = rule["to"]
        selector = peer["podSelector"]
        if stack == "sandbox":
            names = [selector["matchLabels"]["app.kubernetes.io/name"]]
        else:
            (expression,) = selector["matchExpressions"]
            assert (expression["key"], expression["operator"]) == ("app.kubernetes.io/name", "In")
            names = expression["values"]
        reached[names[0]] = names
    assert reached == {name: [name, *((f"{name}-primary",) if name in progressive else ())] for name in PUBLIC}
    server = app(plan, "kubernetes:policy.linkerd.io/v1beta3:Server")["public-ingress-http"].inputs["spec"]
    assert (server["port"], server["accessPolicy"]) == ("http", "deny")
    authn = app(plan, "kubernetes:policy.linkerd.io/v1alpha1:NetworkAuthentication")["public-ingress-alb"]
    assert {n["cidr"] for n in authn.inputs["spec"]["networks"]} == subnets
    authz = app(plan, "kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy")["public-ingress-http-alb"]
    assert authz.inputs["spec"] == {
        "targetRef": {"group": "policy.linkerd.io", "kind": "Server", "name": "public-ingress-http"},
        "requiredAuthenticationRefs": [{"group": "policy.linkerd.io", "kind": "NetworkAuthentication",
                                        "name": "public-ingress-alb"}]}
    # The public services admit the edge's identity (app layer), so its mTLS calls are authorized.
    for name in PUBLIC:
        mtls = app(plan, "kubernetes:policy.linkerd.io/v1alpha1:MeshTLSAuthentication")[f"{name}-ingress"]
        assert mtls.inputs["spec"]["identityRefs"] == [{"kind": "ServiceAccount", "name": "public-ingress"}]


@pytest.mark.parametrize("stack", ENTRY_STACKS)
def test_the_alb_is_https_only_with_the_validated_certificate(stack: str) -> None:
    plan = plan_of(stack)
    ingress = plan.one("kubernetes:networking.k8s.io/v1:Ingress").inputs
    a = {k.removeprefix("alb.ingress.kubernetes.io/"): v for k, v in ingress["metadata"]["annotations"].items()}
    assert ingress["spec"]["ingressClassName"] == "alb"
    domain = "shop.example.com" if stack == "prod" else f"{stack}.shop.example.com"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == domain
    # The prod plan shows the public services' ingress: one ALB rule each, all to the meshed edge.
    assert sorted(p["path"] for p in rule["http"]["paths"]) == [f"/{name}" for name in PUBLIC]
    for path in rule["http"]["paths"]:
        assert path["pathType"] == "Prefix"
        assert path["backend"]["service"] == {"name": "public-ingress", "port": {"name": "http"}}
    assert (a["scheme"], a["target-type"], a["ssl-redirect"]) == ("internet-facing", "ip", "443")
    assert json.loads(a["listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert a["ssl-policy"].startswith("ELBSecurityPolicy-TLS13-")
    validation = plan.one("aws:acm/certificateValidation:CertificateValidation")
    certificate = plan.one("aws:acm/certificate:Certificate")
    assert a["certificate-arn"] == validation.outputs["certificateArn"] == certificate.outputs["arn"]
    assert (certificate.inputs["domainName"], certificate.inputs["validationMethod"]) == (domain, "DNS")
    attributes = dict(kv.split("=") for kv in a["load-balancer-attributes"].split(","))
    bucket = plan.child("mtls-platform:storage:AccessLogBucket", "access-logs", "aws:s3/bucket:Bucket")
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == bucket.outputs["bucket"]
    assert attributes["deletion_protection.enabled"] == ("true" if stack in HA else "false")
    policy = plan.one("aws:s3/bucketPolicy:BucketPolicy", "access-logs-policy")
    sids = {s.get("Sid") for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert {"AlbAccessLogDeliveryLegacyRegions", "AlbAccessLogDelivery"} <= sids


@pytest.mark.parametrize("stack", ENTRY_STACKS)
def test_dns_alias_points_the_domain_at_the_alb(stack: str) -> None:
    plan = plan_of(stack)
    alias = plan.one("aws:route53/record:Record", "public-entry-alias").inputs
    hostname = plan.one("kubernetes:networking.k8s.io/v1:Ingress").outputs["status"]["loadBalancer"]["ingress"][0][
        "hostname"]
    assert (alias["type"], alias["zoneId"]) == ("A", "Z0REPLACEWITHYOURZONE")
    assert alias["aliases"] == [{"name": hostname, "zoneId": "Z35SXDOTRQ7X7K", "evaluateTargetHealth": True}]
    assert plan.outputs["alb_hostname"] == hostname
    assert plan.outputs["public_url"] == f"https://{alias['name']}"


def test_controller_waits_for_cert_manager_and_the_ingress_for_the_controller(prod: Plan) -> None:
    controller = prod.one(RELEASE, "aws-load-balancer-controller")
    assert prod.one(RELEASE, "cert-manager").urn in controller.dependencies  # its webhook certificates
    ingress = prod.one("kubernetes:networking.k8s.io/v1:Ingress")
    assert controller.urn in ingress.dependencies  # IngressClass `alb` and the validating webhook


def test_edge_pods_leave_the_alb_gracefully() -> None:
    """On SIGTERM nginx keeps serving while the ALB deregisters the target; the proxy outlives nginx; the grace
    period covers both (else every rollout, scale-down or drain drops requests with 502s)."""
    spec = edge_specs.deployment("nginx:1", "conf", "abc", ha=True)
    pod, annotations = spec["template"]["spec"], spec["template"]["metadata"]["annotations"]
    sleep = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    wait = int(annotations["config.alpha.linkerd.io/proxy-wait-before-exit-seconds"])
    assert 0 < sleep < wait < pod["terminationGracePeriodSeconds"]



def test_sandbox_has_no_public_entry() -> None:
    """ingress.publicEntry false: no ALB controller, certificate, DNS record or edge; the app's services remain."""
    plan = plan_of("sandbox")
    assert not [r for r in plan.resources if r.type.startswith("mtls-platform:ingress:")]
    assert not plan.of_type("aws:acm/certificate:Certificate") and not plan.of_type("aws:route53/record:Record")
    assert not [r for r in plan.of_type("kubernetes:networking.k8s.io/v1:Ingress")]
    assert plan.of_type("kubernetes:apps/v1:Deployment")
