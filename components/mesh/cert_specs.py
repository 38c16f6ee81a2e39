"""Pure builders for the cert-manager objects of the trust chain (fields checked against cert-manager v1.21.1 CRDs).

Vault root (trust anchor, key never leaves Vault)
  -> ClusterIssuer `vault-issuer` (cert-manager, Kubernetes auth with a bound service-account token)
    -> Certificate `linkerd-identity-issuer` (an intermediate CA in namespace linkerd)
      -> Linkerd identity issues 24 h workload certificates to every proxy.

What Linkerd accepts as its identity issuer (linkerd2 pkg/issuercerts/issuercerts.go, `VerifyAndBuildCreds` and
`CheckCertAlgoRequirements`): an ECDSA P-256 public key, signed with ECDSA-SHA256 (so the signing root must be
ECDSA P-256 too), `IsCA` true, currently valid, verifying against the trust anchors for the identity DNS name; with
the `kubernetes.io/tls` scheme it reads `tls.crt`, `tls.key` and `ca.crt` from the `linkerd-identity-issuer` Secret
(`FetchExternalIssuerData`). `linkerd check` warns when it has less than 60 days left
(`expirationWarningThresholdInDays = 60`).
What cert-manager's Vault signer calls (cert-manager internal/vault/vault.go, `Sign`): POST `/v1/<spec.vault.path>`
with `common_name`, `alt_names`, `ttl` (the Certificate's duration) and the `csr`; so the path must be Vault's
`pki/root/sign-intermediate`, the one endpoint that returns a CA certificate (a `pki/sign/<role>` leaf could not be
a CA). The Vault policy of cert-manager's role allows exactly that path, for exactly this Certificate's name and
duration (components/vault/bootstrap/spec.py), so the two must change together: mesh.py passes both.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from config.names import IDENTITY_ISSUER, VAULT_ISSUER_SERVICE_ACCOUNT

Spec = dict[str, Any]
CLUSTER_ISSUER: Final = "vault-issuer"
ISSUER_SERVICE_ACCOUNT: Final = VAULT_ISSUER_SERVICE_ACCOUNT  # whose bound tokens cert-manager presents to Vault
WEBHOOK_ISSUER: Final = "linkerd-webhook-issuer"


def hours(h: int) -> str:
    """cert-manager durations are Go durations."""
    return f"{h}h0m0s"


def vault_cluster_issuer(server: str, sign_path: str, ca_pem: str, auth_mount: str, role: str,
                         audience: str) -> Spec:
    """ClusterIssuer spec: Vault over https with the listener CA, Kubernetes auth with an audience-bound token."""
    return {"vault": {
        "server": server,
        "path": sign_path,
        "caBundle": base64.b64encode(ca_pem.encode()).decode(),
        "auth": {"kubernetes": {
            "mountPath": f"/v1/auth/{auth_mount}",
            "role": role,
            "serviceAccountRef": {"name": ISSUER_SERVICE_ACCOUNT, "audiences": [audience]},
        }},
    }}


def identity_issuer_name(trust_domain: str) -> str:
    """The identity issuer's DNS name, the one name Linkerd verifies it for; also all Vault will sign for it."""
    return f"identity.linkerd.{trust_domain}"


def identity_issuer_certificate(trust_domain: str, duration_hours: int, renew_before_hours: int) -> Spec:
    """Certificate spec for Linkerd's identity issuer: an ECDSA P-256 intermediate CA, rotated key on renewal."""
    name = identity_issuer_name(trust_domain)
    return {
        "secretName": IDENTITY_ISSUER,
        "commonName": name,
        "dnsNames": [name],
        "isCA": True,
        "duration": hours(duration_hours),
        "renewBefore": hours(renew_before_hours),
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["cert sign", "crl sign", "server auth", "client auth"],
        "issuerRef": {"name": CLUSTER_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"},
    }


def webhook_ca_certificate(common_name: str = "webhook.linkerd.cluster.local") -> Spec:
    """The self-signed CA of a namespace's webhook certificates (a separate trust chain from the mesh's)."""
    return {
        "secretName": f"{WEBHOOK_ISSUER}-tls",
        "commonName": common_name,
        "isCA": True,
        "duration": hours(87600),
        "renewBefore": hours(8760),
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["cert sign", "crl sign"],
        "issuerRef": {"name": "linkerd-selfsigned", "kind": "Issuer", "group": "cert-manager.io"},
    }


def webhook_certificate(secret: str, service: str, namespace: str) -> Spec:
    """A webhook's serving certificate: 1 year, renewed after 8 months; the API server trusts the injected CA."""
    return {
        "secretName": secret,
        "commonName": f"{service}.{namespace}.svc",
        "dnsNames": [f"{service}.{namespace}.svc"],
        "isCA": False,
        "duration": hours(8760),
        "renewBefore": hours(2880),
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "usages": ["server auth"],
        "issuerRef": {"name": WEBHOOK_ISSUER, "kind": "Issuer", "group": "cert-manager.io"},
    }


def trust_bundle(current_pem: str, previous_pem: str | None) -> str:
    """Linkerd's trust roots: the current anchor, plus the previous one while a rotation is under way."""
    pems = [current_pem.strip()] + ([previous_pem.strip()] if previous_pem else [])
    return "\n".join(pems) + "\n"
