"""The configuration half of the Vault bootstrap: what a privileged token converges once Vault is initialised.

In order: an audit device (first, so every later write is audited), the PKI mount and the root CA generated inside it
(the platform's trust anchor, never regenerated once it exists), the PKI URLs written into the certificates Vault
signs, Kubernetes auth, the cert-manager policy and role that allow only the signing endpoint, the raft snapshot
CronJob's policy and role that allow only reading a snapshot, the trust-anchor rotation's, and the credential report's
(lease and static-role metadata of the database engine, never a credential). Each step reads the whole object back
and compares it with what the step writes plus the defaults the server fills in for what it does not write
(`_drift`), so a field changed by hand - even one the bootstrap never sets, such as a namespace selector added to a
role - is restored; it writes only on difference and appends its name to `changed` when it wrote.
`steps.bootstrap()` calls `configure` between obtaining and revoking the privileged token. The trust anchor itself is
never regenerated: only its issuer's settings and its place as the mount's default issuer are restored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import hvac
import hvac.exceptions
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from components.vault.bootstrap.api import VaultBootstrapError, vault_data, vault_list, vault_read, vault_step
from components.vault.bootstrap.spec import (
    BootstrapSpec,
    anchor_common_name,
    anchor_generation,
    cert_manager_policy,
    report_policy,
    report_role_payload,
    role_payload,
    root_ca_parameters,
    rotation_policy,
    rotation_role_payload,
    snapshot_policy,
    snapshot_role_payload,
)


def configure(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> str:
    _ensure_audit_device(client, spec, changed, log)  # first, so every later write is audited
    _ensure_pki_mount(client, spec, changed)
    root_ca_pem = _ensure_root_ca(client, spec, changed, log)
    _ensure_pki_urls(client, spec, changed)
    _ensure_kubernetes_auth(client, spec, changed)
    _ensure_policy(client, "cert-manager", spec.cert_manager_policy, cert_manager_policy(spec), changed)
    auth = spec.kubernetes_auth_path
    _ensure_role(client, auth, "cert-manager", spec.cert_manager_role, role_payload(spec), changed)
    _ensure_policy(client, "snapshot", spec.snapshot_policy, snapshot_policy(spec), changed)
    _ensure_role(client, auth, "snapshot", spec.snapshot_role, snapshot_role_payload(spec), changed)
    _ensure_policy(client, "rotation", spec.rotation_policy, rotation_policy(spec), changed)
    _ensure_role(client, auth, "rotation", spec.rotation_role, rotation_role_payload(spec), changed)
    _ensure_policy(client, "credential-report", spec.report_policy, report_policy(spec), changed)
    _ensure_role(client, auth, "credential-report", spec.report_role, report_role_payload(spec), changed)
    return root_ca_pem


_LOG = logging.getLogger("mtls_platform.vault_bootstrap.configure")  # a child of the provider's logger
_EMPTY: tuple[Any, ...] = (None, "", [], {}, False, 0)


def _drift(current: Mapping[str, Any], wanted: Mapping[str, Any], defaults: Mapping[str, Any], what: str) -> list[str]:
    """Names of the fields where `current` differs from `wanted` (always compared) or from the server's `defaults`
    for what the bootstrap does not write (compared where the server reports the field: one release may not know it).
    A reported field neither names, with a non-empty value, is logged and left alone: its default is not known here
    (the tests check that every field OpenBao reports is known)."""
    drifted = [key for key, value in wanted.items() if current.get(key) != value]
    drifted += [key for key, value in defaults.items() if key in current and current[key] != value]
    unknown = sorted(key for key, value in current.items()
                     if key not in wanted and key not in defaults and value not in _EMPTY)
    if unknown:
        _LOG.warning("%s reports field(s) this bootstrap does not know, left as they are: %s", what, unknown)
    return sorted(set(drifted))


def _known(current: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults to write back: those the server reports."""
    return {key: value for key, value in defaults.items() if key in current}


def _ensure_audit_device(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> None:
    # file_path "stdout": the container runtime ships it with the pod logs (CloudWatch), it survives the pod, and it
    # cannot fill a volume - Vault refuses every request when no audit device can write, so a full audit PVC would
    # stop Vault. Ref: https://developer.hashicorp.com/vault/docs/audit/file ("stdout ... useful when running in a
    # container"); API: https://developer.hashicorp.com/vault/api-docs/system/audit (list and enable need sudo).
    wanted = {"type": "file", "description": _AUDIT_DESCRIPTION, "options": {"file_path": spec.audit_file_path},
              "local": False}
    # While the device is swapped a second one at this path keeps every request audited (Vault serves requests
    # unaudited when no device is enabled); a run killed mid-swap leaves it, and the next run removes it.
    bridge = f"{spec.audit_path}-replacing"
    with vault_step("audit device", client.url):
        devices = vault_data(client.sys.list_enabled_audit_devices())
        current = devices.get(f"{spec.audit_path}/")
        drifted = (_drift({k: v for k, v in current.items() if k != "path"}, wanted, {}, "audit device")
                   if current is not None else "absent")
        if drifted and current is not None:
            # An audit device cannot be tuned: it is replaced. Its HMAC salt goes with it (earlier entries can no
            # longer be matched by hmac lookups), which is still better than keeping e.g. log_raw or another sink.
            log.warning("audit device %s/ differs from the spec in %s; replacing it", spec.audit_path, drifted)
            if f"{bridge}/" not in devices:
                _enable_audit_device(client, bridge, spec.audit_file_path)
                devices[f"{bridge}/"] = {}
            client.sys.disable_audit_device(path=spec.audit_path)
        if drifted:
            _enable_audit_device(client, spec.audit_path, spec.audit_file_path)
        if f"{bridge}/" in devices:
            client.sys.disable_audit_device(path=bridge)
    if drifted or f"{bridge}/" in devices:
        changed.append("audit-device")


def _enable_audit_device(client: hvac.Client, path: str, file_path: str) -> None:
    try:
        client.sys.enable_audit_device(device_type="file", path=path, description=_AUDIT_DESCRIPTION,
                                       options={"file_path": file_path})
    except hvac.exceptions.InvalidRequest as exc:
        raise _audit_api_refused(exc) from None


_AUDIT_DESCRIPTION = "platform audit log (pod stdout)"


def _audit_api_refused(exc: hvac.exceptions.InvalidRequest) -> Exception:
    # OpenBao answers "cannot enable audit device via API; use declarative, config-based audit device management".
    # Ref: https://github.com/openbao/openbao/blob/v2.6.2/vault/logical_system.go (handleEnableAudit) and
    # https://github.com/openbao/openbao/blob/v2.6.2/CHANGELOG.md (2.3.2, HCSEC-2025-14).
    if "audit device via API" in str(exc):
        return VaultBootstrapError(
            "audit device: the server refuses to create audit devices through the API. OpenBao >= 2.3.2 needs "
            "`unsafe_allow_api_audit_creation = true` in its server configuration (or a declarative `audit` block "
            f"in the configuration instead of this step); Vault 2.0 allows it. ({exc})")
    return exc


# Optional tune settings: the mount table lists one only once it is set. Ref:
# https://developer.hashicorp.com/vault/api-docs/system/mounts#tune-mount-configuration (an empty list or string
# clears one; "system" resets a TTL to the system default - checked against OpenBao 2.7).
_TUNE_DEFAULTS: dict[str, Any] = {
    "audit_non_hmac_request_keys": [], "audit_non_hmac_response_keys": [], "listing_visibility": "",
    "passthrough_request_headers": [], "allowed_response_headers": [], "allowed_managed_keys": [],
    "delegated_auth_accessors": [], "plugin_version": "", "identity_token_key": "",
}


def _mount_drift(mount: Mapping[str, Any], description: str, config: Mapping[str, Any], what: str) -> list[str]:
    # The mount table reports the mount's own values (a default TTL of 0 means "the system default").
    drifted = _drift(mount.get("config") or {}, config, _TUNE_DEFAULTS, what)
    return drifted + (["description"] if mount.get("description") != description else [])


def _tune(client: hvac.Client, path: str, mount: Mapping[str, Any], description: str,
          config: Mapping[str, Any]) -> None:
    data: dict[str, Any] = {**_known(mount.get("config") or {}, _TUNE_DEFAULTS), "description": description}
    data.update({key: ("system" if key.endswith("_lease_ttl") and value == 0 else value)
                 for key, value in config.items() if key != "force_no_cache"})
    client.write_data(f"sys/mounts/{path}/tune", data=data)


def _ensure_pki_mount(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # Ref: https://developer.hashicorp.com/vault/api-docs/system/mounts (enable with config.max_lease_ttl). PKI caps
    # every certificate at the mount's max TTL, the root included.
    description = "platform trust anchor (root CA)"
    config = {"default_lease_ttl": 0, "max_lease_ttl": spec.pki_max_ttl_hours * 3600, "force_no_cache": False}
    with vault_step("PKI secrets engine", client.url):
        mount = vault_data(client.sys.list_mounted_secrets_engines()).get(f"{spec.pki_path}/")
        if mount is None:
            client.sys.enable_secrets_engine(
                backend_type="pki", path=spec.pki_path, description=description,
                config={"max_lease_ttl": f"{spec.pki_max_ttl_hours}h"})
            changed.append("pki-mount")
            return
        if mount.get("type") != "pki":
            raise VaultBootstrapError(f"PKI secrets engine: {spec.pki_path}/ is mounted as {mount.get('type')!r}")
        if _mount_drift(mount, description, config, "PKI mount"):
            _tune(client, spec.pki_path, mount, description, config)
            changed.append("pki-tune")


# What the PKI engine reports for an issuer's settings the bootstrap does not write.
# Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#update-issuer (a POST replaces every field: one left
# out returns to its default, the name included; checked against OpenBao 2.7).
_ISSUER_DEFAULTS: dict[str, Any] = {
    "leaf_not_after_behavior": "err", "manual_chain": None, "usage": "crl-signing,issuing-certificates,ocsp-signing,"
    "read-only", "issuing_certificates": [], "crl_distribution_points": [], "ocsp_servers": [],
    "delta_crl_distribution_points": [], "enable_aia_url_templating": False,
}
_ISSUER_IDENTITY = ("issuer_id", "key_id", "certificate", "ca_chain", "revoked", "revocation_time",
                    "revocation_time_rfc3339", "revocation_signature_algorithm", "issuer_name")


def _ensure_root_ca(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> str:
    with vault_step("trust anchor (root CA)", client.url):
        anchor = _find_anchor_issuer(client, spec)
        if anchor is None:
            # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#generate-root - type "internal": the
            # private key is created inside Vault and never returned. The other parameters: spec.root_ca_parameters.
            response = client.secrets.pki.generate_root(
                type="internal", common_name=spec.root_common_name, mount_point=spec.pki_path,
                extra_params=root_ca_parameters(spec))
            certificate = str(vault_data(response).get("certificate") or "").strip()
            if "BEGIN CERTIFICATE" not in certificate:
                raise VaultBootstrapError("trust anchor (root CA): Vault's answer holds no certificate")
            changed.append("root-ca")
            log.info("generated the root CA %r inside Vault", spec.root_common_name)
            return certificate + "\n"
        issuer_id, issuer = anchor
        if issuer.get("revoked"):
            raise VaultBootstrapError(
                f"trust anchor (root CA): issuer {spec.root_issuer_name!r} was revoked by hand; a revoked trust "
                "anchor cannot be restored - rotate it deliberately")
        _warn_if_root_differs(str(issuer["certificate"]), spec, log)
        # The CRL/OCSP signature algorithm is set from the root's own signature when Vault creates the issuer, and an
        # issuer write that leaves it out blanks it: it is part of what the bootstrap writes back. A rotated anchor
        # keeps its generation's name (trust-anchor-<n>).
        own_name = str(issuer.get("issuer_name") or "")
        wanted = {"issuer_name": own_name if anchor_generation(spec, own_name) else spec.root_issuer_name,
                  "revocation_signature_algorithm": _signature_algorithm(str(issuer["certificate"]))}
        settings = {k: v for k, v in issuer.items() if k not in _ISSUER_IDENTITY or k in wanted}
        if _drift(settings, wanted, _ISSUER_DEFAULTS, "trust anchor issuer"):
            client.write_data(f"{spec.pki_path}/issuer/{issuer_id}",
                              data={**_known(settings, _ISSUER_DEFAULTS), **wanted})
            changed.append("root-ca-issuer")
        # ca/pem and the signing endpoint use the mount's default issuer: an issuer imported and made default by hand
        # would silently become the trust anchor.
        # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#set-issuers-configuration
        issuers_config = vault_read(client, f"{spec.pki_path}/config/issuers")
        if issuers_config.get("default") != issuer_id or issuers_config.get("default_follows_latest_issuer"):
            client.write_data(f"{spec.pki_path}/config/issuers",
                              data={"default": issuer_id, "default_follows_latest_issuer": False})
            changed.append("root-ca-default")
    return str(issuer["certificate"]).strip() + "\n"


def _find_anchor_issuer(client: hvac.Client, spec: BootstrapSpec) -> tuple[str, dict[str, Any]] | None:
    """The trust anchor's issuer: the mount's default issuer when it is a live anchor of the family the rotation makes
    (`trust-anchor`, `trust-anchor-<n>`: after a rotation the bootstrap follows it instead of undoing it), else the
    one named `root_issuer_name`, else the mount's only issuer holding a key (its name was changed by hand); None on
    a mount without issuers. Never guesses between several."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#list-issuers (key_info: issuer_name per id;
    # an issuer imported without its private key has an empty key_id).
    try:
        info: dict[str, Any] = vault_list(client, f"{spec.pki_path}/issuers").get("key_info") or {}
    except hvac.exceptions.InvalidPath:
        return None
    if not info:
        return None
    default = str(vault_read(client, f"{spec.pki_path}/config/issuers").get("default") or "")
    if default in info and anchor_generation(spec, str(info[default].get("issuer_name") or "")) \
            and info[default].get("key_id"):
        current = vault_read(client, f"{spec.pki_path}/issuer/{default}")
        if not current.get("revoked"):
            return default, current
    named = [issuer_id for issuer_id, item in info.items() if item.get("issuer_name") == spec.root_issuer_name]
    keyed = [issuer_id for issuer_id, item in info.items() if item.get("key_id")]
    chosen = named or (keyed if len(keyed) == 1 else [])
    if not chosen:
        raise VaultBootstrapError(
            f"trust anchor (root CA): {spec.pki_path}/ holds {len(info)} issuer(s), none named "
            f"{spec.root_issuer_name!r} and not exactly one with a key; refusing to guess which is the trust anchor "
            f"or to generate a new one. Name the trust anchor's issuer {spec.root_issuer_name!r} and run again")
    return chosen[0], vault_read(client, f"{spec.pki_path}/issuer/{chosen[0]}")


def _signature_algorithm(pem: str) -> str:
    """Go's crypto/x509 name of the certificate's signature algorithm (what the PKI engine reads and writes)."""
    # Ref: https://pkg.go.dev/crypto/x509#SignatureAlgorithm (String(): "ECDSA-SHA256", ...) and
    # https://github.com/openbao/openbao/blob/v2.6.2/sdk/helper/certutil/helpers.go (InvSignatureAlgorithmNames: the API
    # spelling "ECDSAWithSHA256", "SHA256WithRSA").
    cert = x509.load_pem_x509_certificate(pem.encode())
    hash_name = cert.signature_hash_algorithm.name.upper() if cert.signature_hash_algorithm else "SHA256"
    if isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        return f"ECDSAWith{hash_name}"
    return f"{hash_name}WithRSA"


def _warn_if_root_differs(pem: str, spec: BootstrapSpec, log: logging.Logger) -> None:
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    key = cert.public_key()
    key_matches = (
        isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size == spec.root_key_bits
        if spec.root_key_type == "ec" else not isinstance(key, ec.EllipticCurvePublicKey))
    generation = next((n for n in range(1, 1000) if anchor_common_name(spec, n) == common_name), None)
    if generation is None or not key_matches:
        log.warning(
            "the existing root CA (CN %r) differs from the spec (CN %r, %s/%d); it is kept - a trust anchor is only "
            "replaced by a deliberate rotation", common_name, spec.root_common_name, spec.root_key_type,
            spec.root_key_bits)
    try:
        permitted = cert.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees or []
    except x509.ExtensionNotFound:
        permitted = []
    wanted = root_ca_parameters(spec)["permitted_dns_domains"]
    if sorted(str(name.value) for name in permitted if isinstance(name, x509.DNSName)) != sorted(wanted):
        log.warning(
            "the existing root CA does not limit the DNS names below it to %s (an X.509 name constraint, added to "
            "roots generated since); it is kept, and the next trust-anchor rotation brings the constraint",
            ", ".join(wanted))


# Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#set-urls - a write changes only the fields it names.
_URL_DEFAULTS: dict[str, Any] = {"ocsp_servers": [], "delta_crl_distribution_points": [], "enable_templating": False}


def _ensure_pki_urls(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # Written into certificates Vault signs (the Linkerd issuer) as AIA and CRL distribution point. An unset config
    # reads as empty lists (builtin/logical/pki getGlobalAIAURLs).
    base = f"{spec.vault_url}/v1/{spec.pki_path}"
    wanted = {"issuing_certificates": [f"{base}/ca"], "crl_distribution_points": [f"{base}/crl"]}
    with vault_step("PKI URLs", client.url):
        current = vault_data(client.secrets.pki.read_urls(mount_point=spec.pki_path))
        if _drift(current, wanted, _URL_DEFAULTS, "PKI URLs"):
            client.secrets.pki.set_urls(params={**_known(current, _URL_DEFAULTS), **wanted}, mount_point=spec.pki_path)
            changed.append("pki-urls")


# What auth/<path>/config reads back for everything the bootstrap leaves unset; a config write replaces the whole
# config, so the bootstrap's write (host + disable_local_ca_jwt) restores all of these.
# Ref: https://github.com/openbao/openbao/blob/v2.6.2/builtin/credential/kubernetes/path_config.go (pathConfigRead)
# and https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method.
_KUBERNETES_CONFIG_DEFAULTS: dict[str, Any] = {
    "kubernetes_ca_cert": "", "pem_keys": [], "issuer": "", "disable_iss_validation": True,
    "token_reviewer_jwt_set": False, "use_annotations_as_alias_metadata": False,
}
_AUTH_DESCRIPTION = "cert-manager"


def _ensure_kubernetes_auth(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    path = spec.kubernetes_auth_path
    # The auth mount's own settings: token_type "default-service" and TTLs 0 ("the system default") unless tuned.
    config = {"default_lease_ttl": 0, "max_lease_ttl": 0, "force_no_cache": False, "token_type": "default-service"}
    with vault_step("Kubernetes auth", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/auth
        method = vault_data(client.sys.list_auth_methods()).get(f"{path}/")
        if method is None:
            client.sys.enable_auth_method(method_type="kubernetes", path=path, description=_AUTH_DESCRIPTION)
            changed.append("kubernetes-auth")
        elif method.get("type") != "kubernetes":
            raise VaultBootstrapError(f"Kubernetes auth: auth/{path}/ is enabled as {method.get('type')!r}")
        elif _mount_drift(method, _AUTH_DESCRIPTION, config, "Kubernetes auth mount"):
            _tune(client, f"auth/{path}", method, _AUTH_DESCRIPTION, config)
            changed.append("kubernetes-auth-tune")
        # Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method - in a pod, with
        # disable_local_ca_jwt false, Vault reviews tokens with its own (re-read, so rotated) service-account token and
        # the cluster CA; vault-helm binds system:auth-delegator to that account. Reading an unset config is a 404.
        try:
            current = vault_data(client.auth.kubernetes.read_config(mount_point=path))
        except hvac.exceptions.InvalidPath:
            current = {}
        wanted = {"kubernetes_host": spec.kubernetes_host, "disable_local_ca_jwt": False}
        if _drift(current, wanted, _KUBERNETES_CONFIG_DEFAULTS, "Kubernetes auth config"):
            client.auth.kubernetes.configure(
                kubernetes_host=spec.kubernetes_host, disable_local_ca_jwt=False, mount_point=path)
            changed.append("kubernetes-auth-config")


def _ensure_policy(client: hvac.Client, who: str, name: str, wanted: str, changed: list[str]) -> None:
    """The named ACL policy holds exactly `wanted`; any drift (an edit by hand) is overwritten and reported."""
    with vault_step(f"{who} policy", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/policies#read-acl-policy (404 when absent)
        try:
            current = vault_data(client.sys.read_acl_policy(name=name)).get("policy")
        except hvac.exceptions.InvalidPath:
            current = None
        if current != wanted:
            client.sys.create_or_update_acl_policy(name=name, policy=wanted)
            changed.append(f"{who}-policy")


# What a Kubernetes auth role reads back for the fields role payloads leave unset. A role write changes only the
# fields it names, so restoring writes these explicitly. The deprecated aliases (policies, ttl, max_ttl, period,
# num_uses, bound_cidrs) are reported only when written by that name; writing the token_* field drops them.
# Ref: https://github.com/openbao/openbao/blob/v2.6.2/builtin/credential/kubernetes/path_role.go (pathRoleRead) and
# https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-update-role; token_* fields: sdk tokenutil.
_ROLE_DEFAULTS: dict[str, Any] = {
    "bound_service_account_namespace_selector": "", "token_bound_cidrs": [], "token_explicit_max_ttl": 0,
    "token_num_uses": 0, "token_period": 0, "token_type": "default", "token_strictly_bind_ip": False,
}


def _ensure_role(
    client: hvac.Client, auth_path: str, who: str, role: str, wanted: dict[str, Any], changed: list[str],
) -> None:
    with vault_step(f"{who} role", client.url):
        try:
            current = vault_data(client.auth.kubernetes.read_role(name=role, mount_point=auth_path))
        except hvac.exceptions.InvalidPath:
            current = {}
        if _drift(current, wanted, _ROLE_DEFAULTS, f"{who} role"):
            # Written as-is rather than through hvac's create_role, which only knows the deprecated ttl/policies names.
            client.write_data(f"auth/{auth_path}/role/{role}",
                              data={**{k: v for k, v in _ROLE_DEFAULTS.items() if k in current}, **wanted})
            changed.append(f"{who}-role")
