"""What the Vault bootstrap converges to: `BootstrapSpec` and the pure helpers derived from it.

The spec is a frozen dataclass of plain values, validated when built (`spec_problems` names every broken rule), because
it is also the input of the `VaultBootstrap` dynamic resource (`spec_to_props` / `spec_from_props`, and `spec_hash`,
which decides whether a `pulumi up` must contact Vault at all). The ACL policies and Kubernetes auth roles of
cert-manager and of the raft snapshot CronJob are rendered here from the spec, without any hvac call, so they can be
tested and audited on their own; `configure.py` writes them to Vault.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

_SIGN_INTERMEDIATE = "root/sign-intermediate"


@dataclass(frozen=True)
class BootstrapSpec:
    """What Vault holds once bootstrapped. Plain values only: they are the dynamic resource's inputs."""

    root_common_name: str  # subject CN of the trust anchor (Linkerd's trust root)
    audience: str  # `aud` the cert-manager role requires; see cert_manager_default_audience()
    pki_path: str = "pki"  # mount path of the PKI secrets engine holding the root CA
    pki_max_ttl_hours: int = 87600  # mount max lease TTL; must allow the root's lifetime
    root_ttl_hours: int = 87600  # root CA validity (10 years)
    root_key_type: str = "ec"  # ECDSA ...
    root_key_bits: int = 256  # ... on P-256
    root_issuer_name: str = "trust-anchor"  # Vault issuer name of the root (multi-issuer mounts, Vault 1.11+)
    root_max_path_length: int = 1  # root -> Linkerd issuer -> workload: the issuer cannot mint further CAs
    vault_url: str = "https://vault.vault.svc:8200"  # in-cluster address written into AIA / CRL URLs
    kubernetes_auth_path: str = "kubernetes"
    kubernetes_host: str = "https://kubernetes.default.svc"
    cert_manager_role: str = "cert-manager"  # Vault role the ClusterIssuer logs in with
    cert_manager_service_account: str = "vault-issuer"  # SA whose token the ClusterIssuer presents
    cert_manager_namespace: str = "cert-manager"
    cert_manager_policy: str = "cert-manager-linkerd-issuer"
    cert_manager_token_ttl_seconds: int = 300  # cert-manager logs in for each signing; tokens need not outlive it
    snapshot_role: str = "vault-snapshot"  # Vault role the raft snapshot CronJob logs in with
    # the CronJob's service account (components/backup/snapshot_specs.py)
    snapshot_service_account: str = "vault-snapshot"
    snapshot_namespace: str = "vault"
    snapshot_policy: str = "vault-raft-snapshot"
    snapshot_audience: str = "vault-raft-snapshot"  # `aud` of the CronJob's projected token, required by the role
    snapshot_token_ttl_seconds: int = 300  # one `snapshot save` per login; a snapshot of a small Vault takes seconds
    audit_path: str = "file"
    audit_file_path: str = "stdout"  # see vault_configure._ensure_audit_device for why stdout
    recovery_shares: int = 5
    recovery_threshold: int = 3
    seal_type: str = "awskms"

    def __post_init__(self) -> None:
        problems = spec_problems(self)
        if problems:
            raise ValueError("invalid Vault bootstrap spec: " + "; ".join(problems))

    @property
    def signing_path(self) -> str:
        """The one path cert-manager may call: it signs the Linkerd identity issuer (an intermediate CA)."""
        return f"{self.pki_path}/{_SIGN_INTERMEDIATE}"


def spec_problems(spec: BootstrapSpec) -> list[str]:
    """Every rule the spec breaks, each naming the field."""
    problems = [f"{f.name} must not be empty" for f in fields(spec) if getattr(spec, f.name) in ("", None)]
    for name in ("pki_path", "kubernetes_auth_path", "audit_path"):
        value = str(getattr(spec, name))
        if value.startswith("/") or value.endswith("/"):
            problems.append(f"{name} must not start or end with '/' (got {value!r})")
    if spec.root_ttl_hours <= 0 or spec.pki_max_ttl_hours < spec.root_ttl_hours:
        problems.append(
            f"pki_max_ttl_hours ({spec.pki_max_ttl_hours}) must be >= root_ttl_hours ({spec.root_ttl_hours}) > 0")
    if (spec.root_key_type, spec.root_key_bits) not in {("ec", 256), ("ec", 384), ("ec", 521), ("rsa", 4096)}:
        problems.append(f"root_key_type/root_key_bits {spec.root_key_type}/{spec.root_key_bits} is not a supported key")
    if not 1 <= spec.recovery_threshold <= spec.recovery_shares <= 255:
        problems.append("recovery shares/threshold must satisfy 1 <= threshold <= shares <= 255")
    if spec.cert_manager_token_ttl_seconds <= 0 or spec.root_max_path_length < 0:
        problems.append("cert_manager_token_ttl_seconds must be > 0 and root_max_path_length >= 0")
    if spec.snapshot_token_ttl_seconds <= 0:
        problems.append("snapshot_token_ttl_seconds must be > 0")
    if spec.snapshot_policy == spec.cert_manager_policy or spec.snapshot_role == spec.cert_manager_role:
        problems.append("snapshot_policy/snapshot_role must differ from the cert-manager policy/role")
    return problems


def cert_manager_default_audience(cluster_issuer_name: str) -> str:
    """The audience cert-manager always puts in the token it requests for a ClusterIssuer's serviceAccountRef."""
    # Ref: https://github.com/cert-manager/cert-manager/blob/v1.21.1/internal/vault/vault.go
    # (requestTokenWithKubernetesAuth: audiences = serviceAccountRef.audiences + "vault://<issuer-name>" + server).
    return f"vault://{cluster_issuer_name}"


def cert_manager_policy(spec: BootstrapSpec) -> str:
    """ACL policy for cert-manager: `update` (POST) on the sign-intermediate endpoint and nothing else."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#sign-intermediate (POST, no existence check, so
    # the capability is "update"). Login and sys/health are unauthenticated and need no grant.
    return (
        "# cert-manager's Vault ClusterIssuer signs the Linkerd identity issuer (an intermediate CA) here, only.\n"
        f'path "{spec.signing_path}" {{\n  capabilities = ["update"]\n}}\n'
    )


SNAPSHOT_PATH = "sys/storage/raft/snapshot"


def snapshot_policy(spec: BootstrapSpec) -> str:
    """ACL policy for the raft snapshot CronJob: `read` (GET) on the snapshot endpoint and nothing else."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/system/storage/raft#take-a-snapshot-of-the-raft-cluster
    # (GET /sys/storage/raft/snapshot; a GET needs the "read" capability). Restoring (POST, "update" + sudo) is a
    # person's job with a privileged token (docs/vault-restore.md), never the CronJob's.
    return (
        "# The raft snapshot CronJob reads a snapshot of Vault's storage here, only.\n"
        f'path "{SNAPSHOT_PATH}" {{\n  capabilities = ["read"]\n}}\n'
    )


def spec_to_props(spec: BootstrapSpec) -> dict[str, Any]:
    return asdict(spec)


def spec_from_props(props: Mapping[str, Any]) -> BootstrapSpec:
    """Rebuild the spec from resource properties (the engine hands numbers back as floats)."""
    kwargs: dict[str, Any] = {}
    for f in fields(BootstrapSpec):
        if f.name in props:
            kwargs[f.name] = int(props[f.name]) if f.type in ("int", int) else str(props[f.name])
    return BootstrapSpec(**kwargs)


def spec_hash(spec: BootstrapSpec) -> str:
    return hashlib.sha256(json.dumps(spec_to_props(spec), sort_keys=True).encode()).hexdigest()


def role_payload(spec: BootstrapSpec) -> dict[str, Any]:
    """The cert-manager role: one service account in one namespace, the audience, and only the signing policy."""
    return _kubernetes_role(spec.cert_manager_service_account, spec.cert_manager_namespace, spec.audience,
                            spec.cert_manager_policy, spec.cert_manager_token_ttl_seconds)


def snapshot_role_payload(spec: BootstrapSpec) -> dict[str, Any]:
    """The snapshot CronJob's role: its service account, its token audience, only the snapshot policy, short TTL."""
    return _kubernetes_role(spec.snapshot_service_account, spec.snapshot_namespace, spec.snapshot_audience,
                            spec.snapshot_policy, spec.snapshot_token_ttl_seconds)


def _kubernetes_role(service_account: str, namespace: str, audience: str, policy: str, ttl: int) -> dict[str, Any]:
    # Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-update-role and
    # hashicorp/vault-plugin-auth-kubernetes path_role.go (read answers the token_* fields in seconds).
    # token_no_default_policy: the token carries the signing policy alone, not Vault's "default" policy.
    return {
        "bound_service_account_names": [service_account],
        "bound_service_account_namespaces": [namespace],
        "audience": audience,
        "alias_name_source": "serviceaccount_uid",
        "token_policies": [policy],
        "token_no_default_policy": True,
        "token_ttl": ttl,
        "token_max_ttl": ttl,
    }

