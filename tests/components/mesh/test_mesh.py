"""The mesh layer per stack: pinned charts, Vault (seal, TLS, HA), the trust chain, Linkerd, namespaces, order."""

from __future__ import annotations

import base64

import pytest

from config import versions
from config.names import PLATFORM_NAMESPACES
from config.profiles import PROFILES
from tests.conftest import HA, STACKS, plan_of
from tools.engine.mock_engine import Plan, Registration

RELEASE = "kubernetes:helm.sh/v3:Release"
CERT = "kubernetes:cert-manager.io/v1:Certificate"
PINS = {
    "cert-manager": versions.CERT_MANAGER_CHART,
    "vault": versions.VAULT_CHART,
    "linkerd-crds": versions.LINKERD_CHART,
    "linkerd2-cni": versions.LINKERD_CHART,
    "linkerd-control-plane": versions.LINKERD_CHART,
    "cluster-autoscaler": versions.CLUSTER_AUTOSCALER_CHART,  # autoscaling.clusterAutoscaler, on in every profile
}
# The public entry's release: the default catalog has public services; the sandbox profile has no entry.
ENTRY_PINS = {"aws-load-balancer-controller": versions.AWS_LOAD_BALANCER_CONTROLLER_CHART}
# Releases of the monitoring layer (components/monitoring/monitoring.py), in every stack whose profile enables it.
MONITORING_PINS = {"kube-prometheus-stack": versions.KUBE_PROMETHEUS_STACK_CHART, "linkerd-viz": versions.LINKERD_CHART,
                   "prometheus-adapter": versions.PROMETHEUS_ADAPTER_CHART}
# Flagger's release (components/app/progressive_delivery.py): rollout.progressive, on in every profile with Prometheus.
PROGRESSIVE_PINS = {"flagger": versions.FLAGGER_CHART}


def monitored(stack: str) -> bool:
    return PROFILES[stack].monitoring_enabled


def progressive(stack: str) -> bool:
    return PROFILES[stack].progressive_enabled


def release(plan: Plan, name: str) -> Registration:
    return plan.one(RELEASE, name)


def depends(plan: Plan, resource: Registration, *on: Registration) -> bool:
    return all(o.urn in resource.dependencies for o in on)


@pytest.mark.parametrize("stack", STACKS)
def test_chart_versions_equal_the_pins(stack: str) -> None:
    plan = plan_of(stack)
    assert {r.name: r.inputs["version"] for r in plan.of_type(RELEASE)} == {
        **PINS, **(MONITORING_PINS if monitored(stack) else {}), **(ENTRY_PINS if stack != "sandbox" else {}),
        **(PROGRESSIVE_PINS if progressive(stack) else {})}
    assert progressive(stack) is monitored(stack) is (stack != "sandbox")  # sandbox covers the off path
    assert release(plan, "vault").inputs["repositoryOpts"] == {"repo": versions.VAULT_REPOSITORY}


@pytest.mark.parametrize("stack", STACKS)
def test_vault_seals_with_kms_via_irsa_over_tls(stack: str) -> None:
    plan = plan_of(stack)
    values = release(plan, "vault").inputs["values"]
    server = values["server"]
    hcl = server["ha"]["raft"]["config"]
    key_id = plan.one("aws:kms/key:Key", "vault-unseal").outputs["keyId"]
    assert f'kms_key_id = "{key_id}"' in hcl and 'seal "awskms"' in hcl
    assert "access_key" not in hcl and "secret_key" not in hcl  # no static credentials
    assert "tls_disable     = false" in hcl and values["global"]["tlsDisable"] is False
    role = plan.one("aws:iam/role:Role", "vault-irsa").outputs["arn"]
    assert server["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == role
    assert server["ha"]["replicas"] == (3 if stack in HA else 1)
    assert server["ha"]["disruptionBudget"]["enabled"] is (stack in HA)
    assert release(plan, "vault").inputs["skipAwait"] is True  # pods are not ready until the bootstrap runs


@pytest.mark.parametrize("stack", STACKS)
def test_vault_storage_and_recovery_secret_are_encrypted_with_the_data_key(stack: str) -> None:
    plan = plan_of(stack)
    data_key = plan.one("aws:kms/key:Key", "keys-data").outputs["arn"]
    storage = plan.one("kubernetes:storage.k8s.io/v1:StorageClass").inputs
    assert storage["parameters"] == {"type": "gp3", "encrypted": "true", "kmsKeyId": data_key}
    assert storage["reclaimPolicy"] == ("Retain" if stack in HA else "Delete")
    secret = plan.one("aws:secretsmanager/secret:Secret", "vault-recovery")
    assert secret.inputs["kmsKeyId"] == data_key and secret.protect is (stack in HA)
    assert "secretString" not in secret.inputs  # only the bootstrap writes it, never Pulumi state


def test_bootstrap_runs_after_vault_and_hands_over_the_trust_anchor(prod: Plan) -> None:
    bootstrap = prod.one("pulumi-python:dynamic:Resource", "vault-bootstrap")
    assert depends(prod, bootstrap, release(prod, "vault"))
    assert bootstrap.secret_inputs  # the kubeconfig
    roots = prod.one("kubernetes:core/v1:ConfigMap", "trust-chain-trust-roots").inputs
    assert roots["metadata"] == {"name": "linkerd-identity-trust-roots", "namespace": "linkerd"}
    assert roots["data"]["ca-bundle.crt"] == bootstrap.outputs["root_ca_pem"]


def test_cluster_issuer_uses_vault_with_kubernetes_auth(prod: Plan) -> None:
    issuer = prod.one("kubernetes:cert-manager.io/v1:ClusterIssuer")
    vault = issuer.inputs["spec"]["vault"]
    assert vault["server"] == "https://vault.vault.svc:8200"
    assert vault["path"] == "pki/root/sign-intermediate"
    ca = prod.one("tls:index/selfSignedCert:SelfSignedCert").outputs["certPem"]
    assert base64.b64decode(vault["caBundle"]).decode() == ca
    auth = vault["auth"]["kubernetes"]
    assert auth["serviceAccountRef"] == {"name": "vault-issuer", "audiences": ["vault://mtls-platform-prod"]}
    assert depends(prod, issuer, release(prod, "cert-manager"),
                   prod.one("pulumi-python:dynamic:Resource", "vault-bootstrap"))


@pytest.mark.parametrize("stack", STACKS)
def test_identity_issuer_certificate(stack: str) -> None:
    plan = plan_of(stack)
    cert = plan.one(CERT, "trust-chain-identity-issuer")
    spec = cert.inputs["spec"]
    assert spec["isCA"] is True
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    assert (spec["duration"], spec["renewBefore"]) == ("2160h0m0s", "1464h0m0s")
    assert spec["issuerRef"] == {"name": "vault-issuer", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert cert.inputs["metadata"]["namespace"] == "linkerd"
    assert depends(plan, cert, plan.one("kubernetes:cert-manager.io/v1:ClusterIssuer"))


@pytest.mark.parametrize("stack", STACKS)
def test_linkerd_external_ca_and_authenticated_default_policy(stack: str) -> None:
    plan = plan_of(stack)
    values = release(plan, "linkerd-control-plane").inputs["values"]
    assert values["identity"]["externalCA"] is True
    assert values["identity"]["issuer"]["scheme"] == "kubernetes.io/tls"
    assert values["proxy"]["defaultInboundPolicy"] == "all-authenticated"
    assert values["cniEnabled"] is True
    assert values["webhookFailurePolicy"] == ("Fail" if stack in HA else "Ignore")
    assert values["controllerReplicas"] == (3 if stack in HA else 1)
    for webhook in ("proxyInjector", "profileValidator", "policyValidator"):
        assert values[webhook]["externalSecret"] is True
        assert values[webhook]["injectCaFrom"].startswith("linkerd/")


def test_control_plane_waits_for_its_trust_material(prod: Plan) -> None:
    control_plane = release(prod, "linkerd-control-plane")
    webhook_certs = [c for c in prod.of_type(CERT) if c.name.startswith("linkerd-webhook-linkerd-")]
    assert len(webhook_certs) == 3
    assert depends(prod, control_plane, release(prod, "linkerd-crds"), release(prod, "linkerd2-cni"),
                   prod.one("kubernetes:core/v1:ConfigMap", "trust-chain-trust-roots"),
                   prod.one(CERT, "trust-chain-identity-issuer"),
                   *webhook_certs)


@pytest.mark.parametrize("stack", STACKS)
def test_namespaces_carry_pod_security_labels_and_default_deny(stack: str) -> None:
    plan = plan_of(stack)
    namespaces = {n.inputs["metadata"]["name"]: n for n in plan.of_type("kubernetes:core/v1:Namespace")}
    viz = ("linkerd-viz",) if monitored(stack) else ()
    assert set(namespaces) == {*PLATFORM_NAMESPACES, f"{stack}-app", *viz}
    expected = {"linkerd": "restricted", "cert-manager": "restricted", "vault": "restricted",
                "monitoring": "privileged", "linkerd-cni": "privileged", f"{stack}-app": "restricted",
                **{ns: "restricted" for ns in viz}}
    for name, level in expected.items():
        labels = namespaces[name].inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == level
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert namespaces[f"{stack}-app"].inputs["metadata"]["annotations"] == {
        "linkerd.io/inject": "enabled", "config.linkerd.io/default-inbound-policy": "deny"}
    assert namespaces["linkerd"].inputs["metadata"]["labels"]["config.linkerd.io/admission-webhooks"] == "disabled"
    policies = {(p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]): p.inputs["spec"]
                for p in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    for ns in [*PLATFORM_NAMESPACES, f"{stack}-app", *viz]:
        assert policies[(ns, "default-deny")] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_devops_group_administers_every_system_namespace(prod: Plan) -> None:
    bindings = [b for b in prod.of_type("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")
                if b.inputs["metadata"]["name"] == "platform-devops-admin"]
    assert {b.inputs["metadata"]["namespace"] for b in bindings} == {*PLATFORM_NAMESPACES, "linkerd-viz"}
    for b in bindings:
        assert b.inputs["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                         "name": "platform-devops"}]
        assert b.inputs["roleRef"]["name"] == "admin"


def test_cert_manager_ha_per_environment() -> None:
    for stack in STACKS:
        values = release(plan_of(stack), "cert-manager").inputs["values"]
        ha = stack in HA
        assert values["replicaCount"] == (2 if ha else 1)
        assert values["webhook"]["replicaCount"] == (3 if ha else 1)
        assert values["cainjector"]["replicaCount"] == (2 if ha else 1)
        assert values["crds"]["enabled"] is True
