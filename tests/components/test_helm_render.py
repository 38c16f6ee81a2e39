"""Every Helm release of every stack, rendered by the real Helm engine with exactly the values the plan registers.

A first slice of rendering with the real engine: no render error, well-formed objects, and the properties each
environment depends on read off the rendered objects (replicas, disruption budgets, Linkerd's external CA and trust
roots, Vault's seal, TLS listener and raft peers) instead of off the values we pass.
"""

from __future__ import annotations

import json

import pytest

from config.names import IDENTITY_ISSUER, TRUST_ROOTS_CONFIGMAP
from tests.conftest import HA, STACKS, plan_of
from tests.helpers.helm_render import RELEASE, named, rendered

# Workloads whose count is the HA promise, by release: (kind, name) -> replicas in HA stacks; 1 elsewhere.
HA_REPLICAS = {
    "vault": {("StatefulSet", "vault"): 3},
    "linkerd-control-plane": {("Deployment", "linkerd-destination"): 3, ("Deployment", "linkerd-identity"): 3,
                              ("Deployment", "linkerd-proxy-injector"): 3},
    "cert-manager": {("Deployment", "cert-manager"): 2, ("Deployment", "cert-manager-webhook"): 3,
                     ("Deployment", "cert-manager-cainjector"): 2},
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_release_renders_well_formed_objects(stack: str) -> None:
    releases = {r.inputs["name"] for r in plan_of(stack).of_type(RELEASE)}
    by_release = rendered(stack)
    assert set(by_release) == releases and len(releases) >= (5 if stack == "sandbox" else 6)  # sandbox: no ALB
    for release, objects in by_release.items():
        assert objects, f"{release} rendered nothing"
        for obj in objects:
            assert obj.get("apiVersion") and obj.get("kind") and obj.get("metadata", {}).get("name"), (release, obj)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("release", sorted(HA_REPLICAS))
def test_ha_replicas_and_disruption_budgets_are_rendered(stack: str, release: str) -> None:
    objects = rendered(stack)[release]
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    for (kind, name), ha_replicas in HA_REPLICAS[release].items():
        replicas = named(objects, kind, name)["spec"].get("replicas")
        assert replicas == (ha_replicas if stack in HA else 1), (release, name, replicas)
    # A budget per HA workload in staging/prod; none in the single-replica stacks (it would block node drains).
    assert (len(budgets) >= len(HA_REPLICAS[release])) if stack in HA else budgets == []


@pytest.mark.parametrize("stack", STACKS)
def test_linkerd_identity_reads_the_issuer_and_trust_roots_it_does_not_own(stack: str) -> None:
    objects = rendered(stack)["linkerd-control-plane"]
    # External CA: the chart renders neither the issuer Secret nor the trust roots (cert-manager and the trust chain
    # own them); the identity Deployment mounts both by the names the platform creates.
    assert not [o for o in objects if o["kind"] in ("Secret", "ConfigMap")
                and o["metadata"]["name"] in (IDENTITY_ISSUER, TRUST_ROOTS_CONFIGMAP)]
    volumes = named(objects, "Deployment", "linkerd-identity")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "identity-issuer", "secret": {"secretName": IDENTITY_ISSUER}} in volumes
    assert {"configMap": {"name": TRUST_ROOTS_CONFIGMAP}, "name": "trust-roots"} in volumes


@pytest.mark.parametrize("stack", STACKS)
def test_vault_server_config_seals_with_awskms_over_tls_with_raft_peers(stack: str) -> None:
    objects = rendered(stack)["vault"]
    config = json.dumps(named(objects, "ConfigMap", "vault-config")["data"])
    assert 'seal \\"awskms\\"' in config and "tls_cert_file" in config and "retry_join" in config
    assert "tls_disable = 1" not in config and "tls_disable = true" not in config
