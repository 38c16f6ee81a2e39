"""What the Vault bootstrap converges to: `BootstrapSpec` and the pure helpers derived from it.

The spec is a frozen dataclass of plain values, validated when built (`spec_problems` names every broken rule), because
it is also the input of the `VaultBootstrap` dynamic resource (`spec_to_props` / `spec_from_props`, and `spec_hash`,
which decides whether a `pulumi up` must contact Vault at all). The ACL policies and Kubernetes auth roles of
cert-manager and of the raft snapshot, trust-anchor rotation and credential report CronJobs are rendered here from
the spec, without any hvac call, so they can be tested and audited on their own; `configure.py` writes them to Vault.
`spec_hash` covers those rendered documents (and the root CA's generation parameters) as well as the spec, so a
change in how they are rendered makes every existing stack converge again on its next `pulumi up`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from components.vault.bootstrap import app_secrets

_SIGN_INTERMEDIATE = "root/sign-intermediate"
# A DNS name of lowercase labels. It also keeps `*` and `,` out of the ACL policy, where a `*` at either end of an
# allowed value is a glob and a `,` would let alt_names carry a second name.
_DNS_NAME = re.compile(r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+")


@dataclass(frozen=True)
class BootstrapSpec:
    """What Vault holds once bootstrapped. Plain values only: they are the dynamic resource's inputs."""

    root_common_name: str  # subject CN of the trust anchor (Linkerd's trust root)
    audience: str  # `aud` the cert-manager role requires; see cert_manager_default_audience()
    # The one certificate cert-manager may have signed: Linkerd's identity issuer (components/mesh/cert_specs.py,
    # identity_issuer_certificate). Its name is also the only DNS domain the root CA permits below it.
    identity_issuer_common_name: str = "identity.linkerd.cluster.local"
    identity_issuer_ttl_hours: int = 2160  # the Certificate's spec.duration, which cert-manager sends as `ttl`
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
    # The trust-anchor rotation CronJob (components/mesh/anchor_rotation): its role, service account, policy, audience.
    rotation_role: str = "trust-anchor-rotation"
    rotation_service_account: str = "trust-anchor-rotation"
    rotation_namespace: str = "linkerd"
    rotation_policy: str = "trust-anchor-rotation"
    rotation_audience: str = "vault-trust-anchor-rotation"
    rotation_token_ttl_seconds: int = 900  # one CronJob run logs in once per Vault phase it runs
    # The credential report CronJob (components/vault/credential_report): lease and rotation metadata, no secret.
    report_role: str = "credential-report"
    report_service_account: str = "credential-report"
    report_namespace: str = "vault"
    report_policy: str = "credential-report"
    report_audience: str = "vault-credential-report"
    report_token_ttl_seconds: int = 300  # one run logs in once and takes seconds
    database_path: str = "database"  # mount of the database secrets engine (AppSecretsSpec.database_path)
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
    for name in ("pki_path", "kubernetes_auth_path", "audit_path", "database_path"):
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
    if not _DNS_NAME.fullmatch(spec.identity_issuer_common_name):
        problems.append(f"identity_issuer_common_name must be a lowercase DNS name (got "
                        f"{spec.identity_issuer_common_name!r})")
    if not 0 < spec.identity_issuer_ttl_hours <= spec.root_ttl_hours:
        problems.append(f"identity_issuer_ttl_hours ({spec.identity_issuer_ttl_hours}) must be > 0 and <= "
                        f"root_ttl_hours ({spec.root_ttl_hours})")
    if spec.snapshot_token_ttl_seconds <= 0:
        problems.append("snapshot_token_ttl_seconds must be > 0")
    if spec.snapshot_policy == spec.cert_manager_policy or spec.snapshot_role == spec.cert_manager_role:
        problems.append("snapshot_policy/snapshot_role must differ from the cert-manager policy/role")
    if spec.rotation_token_ttl_seconds <= 0 or spec.rotation_policy in (spec.cert_manager_policy,
                                                                        spec.snapshot_policy) \
            or spec.rotation_role in (spec.cert_manager_role, spec.snapshot_role):
        problems.append("rotation_token_ttl_seconds must be > 0 and the rotation policy/role must be its own")
    if spec.report_token_ttl_seconds <= 0 or spec.report_policy in (
            spec.cert_manager_policy, spec.snapshot_policy, spec.rotation_policy) \
            or spec.report_role in (spec.cert_manager_role, spec.snapshot_role, spec.rotation_role):
        problems.append("report_token_ttl_seconds must be > 0 and the credential report's policy/role must be its own")
    return problems


def cert_manager_default_audience(cluster_issuer_name: str) -> str:
    """The audience cert-manager always puts in the token it requests for a ClusterIssuer's serviceAccountRef."""
    # Ref: https://github.com/cert-manager/cert-manager/blob/v1.21.1/internal/vault/vault.go
    # (requestTokenWithKubernetesAuth: audiences = serviceAccountRef.audiences + "vault://<issuer-name>" + server).
    return f"vault://{cluster_issuer_name}"


def go_duration(hours: int) -> str:
    """A whole number of hours as Go's time.Duration.String() writes it, as cert-manager sends the `ttl`."""
    return f"{hours}h0m0s"


def signing_parameters(spec: BootstrapSpec) -> dict[str, list[str]]:
    """The only values cert-manager may send to the signing endpoint (an empty list: any value, for the CSR)."""
    # Ref: https://github.com/cert-manager/cert-manager/blob/v1.21.1/internal/vault/vault.go (Sign: a JSON body of
    # strings - common_name = the CSR's CN, alt_names / ip_sans / uri_sans = the CSR's names joined by ",", ttl =
    # the CertificateRequest's duration via time.Duration.String(), csr, exclude_cn_from_sans "true"). The identity
    # issuer's CSR holds its one DNS name and no IP or URI name, so ip_sans and uri_sans arrive as "".
    name = spec.identity_issuer_common_name
    return {
        "common_name": [name],
        "alt_names": [name],
        "ip_sans": [""],
        "uri_sans": [""],
        "ttl": [go_duration(spec.identity_issuer_ttl_hours)],
        "exclude_cn_from_sans": ["true"],
        "csr": [],
    }


# Without a ttl Vault would pick its own default, and without a common_name it would take the CSR's
# (openbao v2.6.2 builtin/logical/pki/path_root.go pathIssuerSignIntermediate: UseCSRCommonName when common_name is
# empty); a request with no data at all would pass the allowed_parameters check (vault/policy/acl.go
# AllowOperation: "If there are no data fields, allow").
REQUIRED_SIGNING_PARAMETERS = ("common_name", "alt_names", "ttl", "csr")


def cert_manager_policy(spec: BootstrapSpec) -> str:
    """ACL policy for cert-manager: `update` (POST) on the sign-intermediate endpoint, for the identity issuer only."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#sign-intermediate (POST, no existence check, so
    # the capability is "update"). Login and sys/health are unauthenticated and need no grant.
    # Ref: https://developer.hashicorp.com/vault/docs/concepts/policies#parameter-constraints and
    # https://github.com/openbao/openbao/blob/v2.6.2/vault/policy/acl.go (AllowOperation): once allowed_parameters
    # is set, a parameter not listed is refused and a listed one must equal one of its values (as strings; neither
    # value here begins or ends with the "*" glob, see _DNS_NAME); a missing required parameter is refused. So
    # use_csr_values, max_path_length, permitted_dns_domains, other_sans, not_after, signature_bits, key_usage, ...
    # cannot be sent at all: the names come from these parameters, never from the CSR, and the issuer's path length
    # is the root's minus one (openbao v2.6.2 builtin/logical/pki/cert_util.go). Checked against OpenBao 2.7.2 in
    # tests/components/vault/test_vault_least_privilege.py.
    # Not pinnable: the key type. sign-intermediate signs a CSR of any key type (path_root.go: its implicit role
    # has KeyType "any"). The key is cert-manager's own, ECDSA P-256 as the Certificate asks, and Linkerd refuses
    # an issuer of another key type (linkerd2 edge-26.8.3 pkg/issuercerts CheckIssuerCertAlgoRequirements).
    allowed = "\n".join(
        f"    {json.dumps(key)} = {json.dumps(values)}" for key, values in signing_parameters(spec).items())
    return (
        "# cert-manager's Vault ClusterIssuer signs the Linkerd identity issuer (an intermediate CA) here, only: its\n"
        "# name, lifetime and no other name are pinned by the parameter constraints.\n"
        f'path "{spec.signing_path}" {{\n'
        '  capabilities = ["update"]\n'
        f"  required_parameters = {json.dumps(list(REQUIRED_SIGNING_PARAMETERS))}\n"
        f"  allowed_parameters = {{\n{allowed}\n  }}\n"
        "}\n"
    )


def root_ca_parameters(spec: BootstrapSpec) -> dict[str, Any]:
    """What the root CA (the trust anchor) is generated with, besides its common name; only a new root gets them."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#generate-root and
    # https://github.com/openbao/openbao/blob/v2.6.2/builtin/logical/pki/fields.go (addCAIssueFields).
    # max_path_length: root -> Linkerd issuer -> workload, so the issuer can sign no further CA. permitted_dns_domains
    # becomes a critical X.509 name constraint: every DNS name below the root must be the identity issuer's name or
    # under it - Linkerd's workload names are <sa>.<ns>.serviceaccount.<that name> (linkerd2 pkg/identity
    # checkCSR at edge-26.8.3: exactly one DNS name, no IP, URI or e-mail name) - so a certificate that even a
    # stolen issuer key signs for any other DNS name fails verification against the trust anchor. OpenBao 2.x offers
    # no IP or URI name constraint here; the issuer's own IP and URI names are pinned empty by the policy instead.
    # Only a root generated from now on carries the constraint: an existing trust anchor is never regenerated
    # (configure._ensure_root_ca), so existing stacks get it at their next trust-anchor rotation.
    return {
        "key_type": spec.root_key_type, "key_bits": spec.root_key_bits, "ttl": f"{spec.root_ttl_hours}h",
        "issuer_name": spec.root_issuer_name, "max_path_length": spec.root_max_path_length,
        "permitted_dns_domains": [spec.identity_issuer_common_name],
        "exclude_cn_from_sans": True,
    }


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


# --- The trust-anchor rotation: its issuers' names and the one Vault policy it runs with ----------------------------

_GENERATION = re.compile(r"-([2-9]|[1-9][0-9]{1,5})")


def anchor_issuer_name(spec: BootstrapSpec, generation: int) -> str:
    """The issuer name of the anchor of `generation` (1: the one the bootstrap generated; 2, 3, ...: rotations)."""
    return spec.root_issuer_name if generation == 1 else f"{spec.root_issuer_name}-{generation}"


def anchor_generation(spec: BootstrapSpec, issuer_name: str) -> int | None:
    """The generation of a trust anchor's issuer name, None for a name outside the family."""
    if issuer_name == spec.root_issuer_name:
        return 1
    rest = issuer_name[len(spec.root_issuer_name):] if issuer_name.startswith(spec.root_issuer_name) else ""
    return int(rest[1:]) if _GENERATION.fullmatch(rest) else None


def anchor_common_name(spec: BootstrapSpec, generation: int) -> str:
    """Subject CN of each generation: distinct, so the old and the new root in one bundle are told apart by name too."""
    return spec.root_common_name if generation == 1 else f"{spec.root_common_name} {generation}"


def rotation_root_request(spec: BootstrapSpec, generation: int) -> dict[str, str]:
    """The body the rotation posts to pki/root/generate/internal: the bootstrap's root parameters (root_ca_parameters,
    the same name constraint and path length), its generation's name and CN, every value a string as the policy pins
    it."""
    params = root_ca_parameters(spec)
    body = {key: (",".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool)
                  else str(value)) for key, value in params.items()}
    return {**body, "issuer_name": anchor_issuer_name(spec, generation),
            "common_name": anchor_common_name(spec, generation)}


def rotation_policy(spec: BootstrapSpec) -> str:
    """ACL policy of the rotation CronJob: exactly the PKI operations a trust-anchor rotation needs, in one mount."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki (generate-root, list-issuers, read-issuer,
    # set-issuers-configuration, revoke-issuer) and https://developer.hashicorp.com/vault/docs/concepts/policies
    # (`+` matches one path segment; an allowed value ending in `*` is a prefix glob; required_parameters). The
    # new root's parameters are pinned to what the bootstrap generates (root_ca_parameters: key, lifetime, path
    # length, name constraint), only its name and CN carry a generation suffix. The default issuer may only be set
    # to a trust anchor of this family, by name; it is read as the issuer reference `default` (pki/issuer/default),
    # since required_parameters would refuse a read of the issuers' configuration. Revocation needs the issuer's
    # reference, hence `+`; the controller never revokes the current default (anchor_rotation/vault_side.py). No
    # delete: a retired anchor stays, revoked, so its CRL and audit trail stay readable. Login needs no grant.
    pki = spec.pki_path
    example = rotation_root_request(spec, 2)
    allowed = {key: [value] for key, value in example.items()}
    allowed["issuer_name"] = [f"{spec.root_issuer_name}-*"]
    allowed["common_name"] = [f"{spec.root_common_name} *"]
    body = "\n".join(f"    {json.dumps(key)} = {json.dumps(values)}" for key, values in sorted(allowed.items()))
    defaults = json.dumps([spec.root_issuer_name, f"{spec.root_issuer_name}-*"])
    return (
        "# The trust-anchor rotation: a new root in this mount, read the issuers, switch the default, revoke the old.\n"
        f'path "{pki}/root/generate/internal" {{\n  capabilities = ["update"]\n'
        f"  required_parameters = {json.dumps(sorted(allowed))}\n  allowed_parameters = {{\n{body}\n  }}\n}}\n"
        f'path "{pki}/issuers" {{\n  capabilities = ["list"]\n}}\n'
        f'path "{pki}/issuer/+" {{\n  capabilities = ["read"]\n}}\n'
        f'path "{pki}/config/issuers" {{\n  capabilities = ["update"]\n  required_parameters = ["default"]\n'
        f'  allowed_parameters = {{\n    "default" = {defaults}\n    "default_follows_latest_issuer" = ["false"]\n'
        "  }\n}\n"
        f'path "{pki}/issuer/+/revoke" {{\n  capabilities = ["update"]\n}}\n'
    )


def rotation_role_payload(spec: BootstrapSpec) -> dict[str, Any]:
    """The rotation CronJob's role: its service account in its namespace, its token audience, only its policy."""
    return _kubernetes_role(spec.rotation_service_account, spec.rotation_namespace, spec.rotation_audience,
                            spec.rotation_policy, spec.rotation_token_ttl_seconds)


# --- The credential report: lease and rotation metadata of the application credentials, never a credential -------

def report_policy(spec: BootstrapSpec) -> str:
    """ACL policy of the credential report CronJob: list and look up the leases of the database engine's dynamic
    credentials, read the static roles' metadata. No creds/ or static-creds/ path: it can never read a password."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/system/leases (List leases: LIST
    # /sys/leases/lookup/:prefix, "requires sudo capability in addition to any path-specific capabilities"; Read
    # lease: PUT /sys/leases/lookup with lease_id, hence "update") and
    # https://developer.hashicorp.com/vault/api-docs/secret/databases#read-static-role (GET static-roles/:name:
    # username, rotation_period, last_vault_rotation; the password is only at static-creds/:name).
    # `*` at the end is a prefix glob, also for an allowed parameter value: the lookup is limited to leases of the
    # database engine's creds/ (a lease id starts with the path that issued it). The `cache-` prefix is the static
    # roles' name (app_secrets.cache_role). Checked against OpenBao 2.7.2 in
    # tests/components/vault/test_credential_report_openbao.py (every path, and the refusals).
    db = spec.database_path
    return (
        "# The credential report: which database credentials are live and how old, when static roles rotated.\n"
        f'path "sys/leases/lookup/{db}/creds/*" {{\n  capabilities = ["list", "sudo"]\n}}\n'
        f'path "sys/leases/lookup" {{\n  capabilities = ["update"]\n  required_parameters = ["lease_id"]\n'
        f'  allowed_parameters = {{\n    "lease_id" = ["{db}/creds/*"]\n  }}\n}}\n'
        f'path "{db}/static-roles/{app_secrets.cache_role("")}*" {{\n  capabilities = ["read"]\n}}\n'
    )


def report_role_payload(spec: BootstrapSpec) -> dict[str, Any]:
    """The credential report CronJob's role: its service account in `vault`, its audience, only its policy."""
    return _kubernetes_role(spec.report_service_account, spec.report_namespace, spec.report_audience,
                            spec.report_policy, spec.report_token_ttl_seconds)


def spec_to_props(spec: BootstrapSpec) -> dict[str, Any]:
    return asdict(spec)


def spec_from_props(props: Mapping[str, Any]) -> BootstrapSpec:
    """Rebuild the spec from resource properties (the engine hands numbers back as floats)."""
    kwargs: dict[str, Any] = {}
    for f in fields(BootstrapSpec):
        if f.name in props:
            kwargs[f.name] = int(props[f.name]) if f.type in ("int", int) else str(props[f.name])
    return BootstrapSpec(**kwargs)


def rendered_documents(spec: BootstrapSpec) -> dict[str, Any]:
    """Everything the bootstrap writes that is derived from the spec by code: a change here must reach Vault."""
    return {
        "policies": {spec.cert_manager_policy: cert_manager_policy(spec), spec.snapshot_policy: snapshot_policy(spec),
                     spec.rotation_policy: rotation_policy(spec), spec.report_policy: report_policy(spec)},
        "roles": {spec.cert_manager_role: role_payload(spec), spec.snapshot_role: snapshot_role_payload(spec),
                  spec.rotation_role: rotation_role_payload(spec), spec.report_role: report_role_payload(spec)},
        "root_ca": root_ca_parameters(spec),
    }


def spec_hash(spec: BootstrapSpec, app_secrets_json: str = "") -> str:
    """What the provider's diff compares: the spec and the documents rendered from it (policies, roles, root), and
    the application secrets' spec with its documents when the stack has one (app_secrets.to_json)."""
    blob: dict[str, Any] = {"spec": spec_to_props(spec), "rendered": rendered_documents(spec)}
    if app_secrets_json:
        apps = app_secrets.from_json(app_secrets_json)
        assert apps is not None
        blob["app_secrets"] = {"spec": json.loads(app_secrets_json), "rendered": app_secrets.rendered(apps)}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


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
    # Every field that widens who may log in or what the token may do is written with its narrow value, even where
    # that is the default, so a field added by hand (a namespace label selector admits the same account name in
    # any namespace whose labels match; bound CIDRs, a period, unlimited uses) differs from this payload and the
    # next run writes it back (configure._ensure_role). The deprecated aliases (policies, ttl, period, bound_cidrs,
    # num_uses) read back as these token_* fields. OpenBao's extra token_strictly_bind_ip is left out: Vault has no
    # such field, so it would never read back and every run would rewrite the role.
    return {
        "bound_service_account_names": [service_account],
        "bound_service_account_namespaces": [namespace],
        "bound_service_account_namespace_selector": "",
        "audience": audience,
        "alias_name_source": "serviceaccount_uid",
        "token_policies": [policy],
        "token_no_default_policy": True,
        "token_ttl": ttl,
        "token_max_ttl": ttl,
        "token_explicit_max_ttl": 0,
        "token_period": 0,
        "token_num_uses": 0,
        "token_bound_cidrs": [],
        "token_type": "default",
    }

