"""Namespace guard rails (pure builders): Pod Security levels and the NetworkPolicy traffic matrix."""

from __future__ import annotations

import pytest

from components.mesh import namespace_specs as np
from config.names import PLATFORM_NAMESPACES

NET = np.Networks(vpc_cidr="10.10.0.0/16", service_cidr="172.20.0.0/16")


def test_levels_below_restricted_are_explained() -> None:
    for ns, (level, why) in np.POD_SECURITY.items():
        assert level in ("privileged", "baseline", "restricted")
        assert level == "restricted" or why, ns
    assert set(np.POD_SECURITY) == set(PLATFORM_NAMESPACES)
    labels = np.pod_security_labels("privileged")
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"


@pytest.mark.parametrize("ns", PLATFORM_NAMESPACES)
def test_every_system_namespace_starts_from_default_deny(ns: str) -> None:
    policies = np.policies_for(ns, NET)
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns"]["egress"][0]
    assert {p["port"] for p in dns["ports"]} == {53}


def test_vault_api_only_from_cert_manager_and_raft_only_between_vault_pods() -> None:
    vault = np.policies_for("vault", NET)["allow-vault"]
    api, raft = vault["ingress"]
    assert api["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cert-manager"}}}]
    assert api["ports"] == [{"protocol": "TCP", "port": 8200}]
    assert {p["port"] for p in raft["ports"]} == {8200, 8201}
    assert raft["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}}]


def test_only_vault_and_the_alb_controller_may_leave_the_vpc_and_only_on_443() -> None:
    for ns in PLATFORM_NAMESPACES:
        for name, spec in np.policies_for(ns, NET).items():
            for rule in spec.get("egress", []):
                for peer in rule.get("to", []):
                    cidr = peer.get("ipBlock", {}).get("cidr")
                    if cidr == "0.0.0.0/0":
                        # Vault: KMS/STS for its seal; the ALB controller: ELB/EC2/ACM/STS (public entry).
                        assert (ns, name) in {("vault", "allow-aws-apis"),
                                              ("aws-load-balancer-controller", "allow-aws-apis")}
                        assert rule["ports"] == [{"protocol": "TCP", "port": 443}]


def test_no_ingress_from_outside_the_cluster() -> None:
    for ns in PLATFORM_NAMESPACES:
        for spec in np.policies_for(ns, NET).values():
            for rule in spec.get("ingress", []):
                for peer in rule.get("from", []):
                    assert peer.get("ipBlock", {}).get("cidr", NET.vpc_cidr) == NET.vpc_cidr
