"""Delivery of the services' Vault credentials: the plan's pod templates carry the injector's label, annotations and
the audience-bound token volume on exactly the services with a Vault role. The mutated pod is vault-k8s's work (Go,
in admission) and cannot be rendered here; its agent containers' securityContext is modelled from vault-k8s v1.7.6
(agent-inject/agent/container_sidecar.go securityContext, agent.go defaults) and checked against restricted."""

from __future__ import annotations

from typing import Any

import pytest

from components.app import vault_agent_specs as va
from components.vault.bootstrap.app_secrets import audience_for, role_name
from config.names import VAULT_AGENT_LABEL
from tests.conftest import STACKS, build_config, plan_of
from tests.helpers.pod_security import violations
from tools.engine.mock_engine import load_stack_settings

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _templates(stack: str) -> dict[str, dict[str, Any]]:
    return {r.name.removeprefix("app-").removesuffix("-deployment"): r.inputs["spec"]["template"]
            for r in plan_of(stack).of_type(DEPLOYMENT) if r.name.startswith("app-")}


@pytest.mark.parametrize("stack", STACKS)
def test_exactly_the_services_with_a_vault_role_get_the_agent(stack: str) -> None:
    cfg = build_config(stack, load_stack_settings(stack))
    with_role = {s.name for s in cfg.services if {"rds", "cache"} & set(s.data_services)}
    data = {s.name: set(s.data_services) for s in cfg.services}
    templates = _templates(stack)
    assert with_role and with_role < set(templates)
    for name, template in templates.items():
        annotations = template["metadata"].get("annotations", {})
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        if name not in with_role:
            assert VAULT_AGENT_LABEL not in template["metadata"]["labels"], name
            assert not [k for k in annotations if k.startswith("vault.hashicorp.com/")], name
            assert va.TOKEN_VOLUME not in volumes, name
            continue
        assert template["metadata"]["labels"][VAULT_AGENT_LABEL] == "true"
        assert annotations["vault.hashicorp.com/agent-inject"] == "true"
        assert annotations["vault.hashicorp.com/role"] == role_name(name)
        assert annotations["vault.hashicorp.com/agent-init-first"] == "true"
        assert annotations["config.linkerd.io/skip-outbound-ports"] == "8200"
        # One file per credential: PostgreSQL's dynamic login, the cache's rotated static password.
        files = {k.removeprefix("vault.hashicorp.com/agent-inject-file-"): v for k, v in annotations.items()
                 if k.startswith("vault.hashicorp.com/agent-inject-file-")}
        assert files == {**({"postgres": "postgres.env"} if "rds" in data[name] else {}),
                         **({"cache": "cache.env"} if "cache" in data[name] else {})}, name
        if "cache" in data[name]:
            assert annotations["vault.hashicorp.com/agent-inject-secret-cache"] == f"database/static-creds/cache-{name}"
        assert annotations["vault.hashicorp.com/agent-service-account-token-volume-name"] == va.TOKEN_VOLUME
        (source,) = volumes[va.TOKEN_VOLUME]["projected"]["sources"]
        assert source["serviceAccountToken"] == {"path": "token", "audience": audience_for(cfg.name_prefix),
                                                 "expirationSeconds": 600}
    secrets = [r for r in plan_of(stack).of_type("kubernetes:core/v1:Secret")
               if r.inputs["metadata"]["name"] == va.VAULT_CA_SECRET]
    assert [s.inputs["metadata"]["namespace"] for s in secrets] == [f"{stack}-app"]


def _agent_container(name: str) -> dict[str, Any]:
    """An injected agent container as vault-k8s v1.7.6 builds it with agent-set-security-context (defaults
    DefaultAgentRunAsUser 100, DefaultAgentRunAsGroup 1000, read-only root, drop ALL, no escalation)."""
    return {"name": name, "image": "hashicorp/vault:2.0.4", "securityContext": {
        "runAsUser": 100, "runAsGroup": 1000, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False}}


@pytest.mark.parametrize("stack", ["dev"])
def test_the_modelled_mutated_pod_stays_restricted(stack: str) -> None:
    name, template = next((n, t) for n, t in _templates(stack).items()
                          if VAULT_AGENT_LABEL in t["metadata"]["labels"])
    spec = {**template["spec"], "initContainers": [_agent_container("vault-agent-init")],
            "containers": [*template["spec"]["containers"], _agent_container("vault-agent")]}
    assert violations(template["metadata"], spec, "restricted") == [], name
    # Without the pod's seccomp profile (the agent sets none itself) the same pod is refused: the check bites.
    bare = {**spec, "securityContext": {k: v for k, v in spec["securityContext"].items() if k != "seccompProfile"}}
    assert violations(template["metadata"], bare, "restricted")
