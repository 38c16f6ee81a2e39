"""The Vault Agent injector, rendered with the real Helm engine from the plan's own vault release: on exactly where a
service has a Vault role, its webhook scoped to the app namespace and to labelled pods, its TLS from cert-manager,
its pods restricted and reachable from the API server only on the webhook port."""

from __future__ import annotations

from typing import Any

import pytest

from components.mesh import namespace_specs as np
from components.mesh.mesh import INJECTOR_CERTIFICATE, INJECTOR_TLS_SECRET
from components.vault.vault_values import INJECTOR_POD_LABELS, INJECTOR_PORT, INJECTOR_SERVICE
from config.catalog import default_catalog
from config.names import VAULT_AGENT_LABEL, VAULT_NAMESPACE
from config.versions import VAULT_K8S_VERSION
from tests.conftest import STACKS, plan_of
from tests.helpers.helm_render import named, rendered
from tests.helpers.k8s_schemas import flatten
from tests.helpers.pod_security import violations

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
HA = {"staging", "prod"}


def _with_role(stack: str) -> bool:
    return any("rds" in s.data_services for s in default_catalog(stack))


def _vault_objects(stack: str) -> list[dict[str, Any]]:
    # The suite's shared render of the plan's vault release (cached once per run).
    return list(flatten(rendered(stack)["vault"]))


def test_the_shared_constants_agree() -> None:
    assert np.VAULT_INJECTOR_LABELS == INJECTOR_POD_LABELS and np.VAULT_INJECTOR_PORT == INJECTOR_PORT


@pytest.mark.parametrize("stack", STACKS)
def test_the_injector_runs_only_where_a_service_has_a_vault_role(stack: str) -> None:
    objects = _vault_objects(stack)
    webhooks = [o for o in objects if o["kind"] == "MutatingWebhookConfiguration"]
    policies = {r.name for r in plan_of(stack).of_type(NETPOL)}
    assert bool(webhooks) == _with_role(stack) == ("vault-allow-injector-webhook" in policies)
    if not webhooks:
        assert not [o for o in objects if o["metadata"]["name"].startswith("vault-agent-injector")]


@pytest.mark.parametrize("stack", [s for s in STACKS if _with_role(s)])
def test_the_webhook_mutates_labelled_app_pods_only_and_trusts_cert_managers_ca(stack: str) -> None:
    objects = _vault_objects(stack)
    config = named(objects, "MutatingWebhookConfiguration", "vault-agent-injector-cfg")
    (hook,) = config["webhooks"]
    assert hook["failurePolicy"] == "Fail"
    assert hook["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": f"{stack}-app"}}
    assert hook["objectSelector"] == {"matchLabels": {VAULT_AGENT_LABEL: "true"}}
    assert hook["clientConfig"]["service"] == {"name": INJECTOR_SERVICE, "namespace": VAULT_NAMESPACE,
                                               "path": "/mutate"}
    # cainjector fills caBundle from the Certificate; the chart's self-signed TLS is not used.
    assert config["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{VAULT_NAMESPACE}/{INJECTOR_CERTIFICATE}"}
    assert hook["clientConfig"]["caBundle"] == ""
    deployment = named(objects, "Deployment", "vault-agent-injector")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "AGENT_INJECT_TLS_AUTO" not in env and env["AGENT_INJECT_TLS_CERT_FILE"].endswith("/tls.crt")
    assert container["image"] == f"hashicorp/vault-k8s:{VAULT_K8S_VERSION}"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["webhook-certs"]["secret"]["secretName"] == INJECTOR_TLS_SECRET
    # The Certificate that Secret comes from: cert-manager's, for the Service the API server calls.
    plan = plan_of(stack)
    cert = plan.one("kubernetes:cert-manager.io/v1:Certificate", "vault-injector-webhook-vault-agent-injector")
    assert cert.inputs["spec"]["secretName"] == INJECTOR_TLS_SECRET
    assert cert.inputs["spec"]["dnsNames"] == [f"{INJECTOR_SERVICE}.{VAULT_NAMESPACE}.svc"]


@pytest.mark.parametrize("stack", [s for s in STACKS if _with_role(s)])
def test_the_injector_is_restricted_ha_where_the_env_is_and_reachable_on_its_port(stack: str) -> None:
    objects = _vault_objects(stack)
    deployment = named(objects, "Deployment", "vault-agent-injector")
    template = deployment["spec"]["template"]
    assert violations(template["metadata"], template["spec"], "restricted") == []
    assert deployment["spec"]["replicas"] == (3 if stack in HA else 1)
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget" and "injector" in o["metadata"]["name"]]
    assert [b["spec"].get("maxUnavailable") for b in budgets] == ([1] if stack in HA else [])
    assert INJECTOR_POD_LABELS.items() <= template["metadata"]["labels"].items()
    policy = plan_of(stack).one(NETPOL, "vault-allow-injector-webhook").inputs["spec"]
    assert policy["podSelector"] == {"matchLabels": INJECTOR_POD_LABELS}
    (rule,) = policy["ingress"]
    assert [p["port"] for p in rule["ports"]] == [INJECTOR_PORT]
    # The chart declares no containerPort: the injector listens where AGENT_INJECT_LISTEN says, behind the Service.
    (container,) = template["spec"]["containers"]
    assert {"name": "AGENT_INJECT_LISTEN", "value": f":{INJECTOR_PORT}"} in container["env"]
    (service_port,) = named(objects, "Service", INJECTOR_SERVICE)["spec"]["ports"]
    assert service_port["targetPort"] == INJECTOR_PORT
