"""Trust-chain specs (pure): what Linkerd's identity accepts and what cert-manager's Vault signer posts."""

from __future__ import annotations

import base64

import yaml

from components.mesh import cert_specs
from components.mesh.linkerd_values import WEBHOOKS
from tests.conftest import FACTS


def test_identity_issuer_is_an_ecdsa_p256_ca_issued_by_the_vault_cluster_issuer() -> None:
    spec = cert_specs.identity_issuer_certificate("cluster.local", 2160, 1464)
    assert spec["isCA"] is True  # pkg/issuercerts: "issuer cert is not a CA" otherwise
    assert spec["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}
    assert spec["commonName"] == "identity.linkerd.cluster.local" == spec["dnsNames"][0]
    assert spec["secretName"] == "linkerd-identity-issuer"
    assert (spec["duration"], spec["renewBefore"]) == ("2160h0m0s", "1464h0m0s")
    assert spec["issuerRef"] == {"name": "vault-issuer", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert "cert sign" in spec["usages"]


def test_cluster_issuer_uses_kubernetes_auth_with_a_bound_token_and_the_ca_bundle() -> None:
    spec = cert_specs.vault_cluster_issuer("https://vault.vault.svc:8200", "pki/root/sign-intermediate",
                                           "-----BEGIN CERTIFICATE-----\nx\n", "kubernetes", "cert-manager",
                                           "vault://mtls-platform-prod")
    vault = spec["vault"]
    assert vault["server"].startswith("https://")
    assert base64.b64decode(vault["caBundle"]).decode().startswith("-----BEGIN CERTIFICATE-----")
    assert vault["path"] == "pki/root/sign-intermediate"
    assert vault["auth"] == {"kubernetes": {
        "mountPath": "/v1/auth/kubernetes", "role": "cert-manager",
        "serviceAccountRef": {"name": "vault-issuer", "audiences": ["vault://mtls-platform-prod"]}}}
    assert "tokenSecretRef" not in vault["auth"]  # no static token


def test_webhook_certificates_use_the_names_linkerd_reads() -> None:
    for _certificate, secret, service in WEBHOOKS.values():
        spec = cert_specs.webhook_certificate(secret, service, "linkerd")
        assert spec["secretName"] == secret and spec["dnsNames"] == [f"{service}.linkerd.svc"]
        assert spec["issuerRef"]["name"] == cert_specs.WEBHOOK_ISSUER
        assert spec["renewBefore"] < spec["duration"]


def test_trust_bundle_carries_the_previous_anchor_during_a_rotation() -> None:
    assert cert_specs.trust_bundle("NEW\n", None) == "NEW\n"
    assert cert_specs.trust_bundle("NEW\n", "OLD") == "NEW\nOLD\n"


def test_specs_only_use_fields_of_the_pinned_crds() -> None:
    """Field names checked against cert-manager v1.21.1's CRDs (the subset kept in
    tests/upstream_facts/crd_fields.yaml)."""

    fields = yaml.safe_load((FACTS / "crd_fields.yaml").read_text())
    cert = cert_specs.identity_issuer_certificate("cluster.local", 2160, 1464)
    assert set(cert) <= set(fields["Certificate"]["spec"])
    assert set(cert["privateKey"]) <= set(fields["Certificate"]["privateKey"])
    assert set(cert["usages"]) <= set(fields["Certificate"]["usages"])
    issuer = cert_specs.vault_cluster_issuer("https://v:8200", "p", "ca", "kubernetes", "r", "a")["vault"]
    assert set(issuer) <= set(fields["ClusterIssuer"]["vault"])
    assert set(issuer["auth"]["kubernetes"]) <= set(fields["ClusterIssuer"]["vault.auth.kubernetes"])
