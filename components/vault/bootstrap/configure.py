"""The configuration half of the Vault bootstrap: what a privileged token converges once Vault is initialised.

In order: an audit device (first, so every later write is audited), the PKI mount and the root CA generated inside it
(the platform's trust anchor, never regenerated once it exists), the PKI URLs written into the certificates Vault
signs, Kubernetes auth, the cert-manager policy and role that allow only the signing endpoint, and the raft snapshot
CronJob's policy and role that allow only reading a snapshot. Each step reads
first and writes only on difference, appending its name to `changed` when it wrote; `vault_bootstrap.bootstrap()`
calls `configure` between obtaining and revoking the privileged token.
"""

from __future__ import annotations

import logging
from typing import Any

import hvac
import hvac.exceptions
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from components.vault.bootstrap.api import VaultBootstrapError, vault_data, vault_step
from components.vault.bootstrap.spec import (
    BootstrapSpec,
    cert_manager_policy,
    role_payload,
    root_ca_parameters,
    snapshot_policy,
    snapshot_role_payload,
)


def configure(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> str:
    _ensure_audit_device(client, spec, changed)  # first, so every later write is audited
    _ensure_pki_mount(client, spec, changed)
    root_ca_pem = _ensure_root_ca(client, spec, changed, log)
    _ensure_pki_urls(client, spec, changed)
    _ensure_kubernetes_auth(client, spec, changed)
    _ensure_policy(client, "cert-manager", spec.cert_manager_policy, cert_manager_policy(spec), changed)
    _ensure_role(client, spec, "cert-manager", spec.cert_manager_role, role_payload(spec), changed)
    _ensure_policy(client, "snapshot", spec.snapshot_policy, snapshot_policy(spec), changed)
    _ensure_role(client, spec, "snapshot", spec.snapshot_role, snapshot_role_payload(spec), changed)
    return root_ca_pem


def _ensure_audit_device(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # file_path "stdout": the container runtime ships it with the pod logs (CloudWatch), it survives the pod, and it
    # cannot fill a volume - Vault refuses every request when no audit device can write, so a full audit PVC would
    # stop Vault. Ref: https://developer.hashicorp.com/vault/docs/audit/file ("stdout ... useful when running in a
    # container"); API: https://developer.hashicorp.com/vault/api-docs/system/audit (list and enable need sudo).
    with vault_step("audit device", client.url):
        current = vault_data(client.sys.list_enabled_audit_devices()).get(f"{spec.audit_path}/")
        if current is None:
            client.sys.enable_audit_device(
                device_type="file", path=spec.audit_path, description="platform audit log (pod stdout)",
                options={"file_path": spec.audit_file_path})
            changed.append("audit-device")
            return
    options = current.get("options") or {}
    if current.get("type") != "file" or options.get("file_path") != spec.audit_file_path:
        raise VaultBootstrapError(
            f"audit device: {spec.audit_path}/ exists as {current.get('type')} with file_path "
            f"{options.get('file_path')!r}, expected file / {spec.audit_file_path!r}. Change it by hand (disabling an "
            "audit device discards its HMAC salt), or choose another audit_path")


def _ensure_pki_mount(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # Ref: https://developer.hashicorp.com/vault/api-docs/system/mounts (enable with config.max_lease_ttl; tune
    # reads TTLs in seconds). PKI caps every certificate at the mount's max TTL, the root included.
    max_ttl = f"{spec.pki_max_ttl_hours}h"
    with vault_step("PKI secrets engine", client.url):
        mount = vault_data(client.sys.list_mounted_secrets_engines()).get(f"{spec.pki_path}/")
        if mount is None:
            client.sys.enable_secrets_engine(
                backend_type="pki", path=spec.pki_path, description="platform trust anchor (root CA)",
                config={"max_lease_ttl": max_ttl})
            changed.append("pki-mount")
            return
        if mount.get("type") != "pki":
            raise VaultBootstrapError(f"PKI secrets engine: {spec.pki_path}/ is mounted as {mount.get('type')!r}")
        tune = vault_data(client.sys.read_mount_configuration(path=spec.pki_path))
        if int(tune.get("max_lease_ttl") or 0) < spec.pki_max_ttl_hours * 3600:  # at least: never shorten it
            client.sys.tune_mount_configuration(path=spec.pki_path, max_lease_ttl=max_ttl)
            changed.append("pki-max-ttl")


def _ensure_root_ca(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> str:
    with vault_step("trust anchor (root CA)", client.url):
        # Ref: hashicorp/vault builtin/logical/pki/path_fetch.go - GET <mount>/ca/pem answers 204 (empty) while the
        # mount has no default issuer, else the PEM. An existing root is never regenerated: it is the trust anchor.
        existing = str(client.secrets.pki.read_ca_certificate(mount_point=spec.pki_path)).strip()
        if existing:
            _warn_if_root_differs(existing, spec, log)
            return existing + "\n"
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


def _warn_if_root_differs(pem: str, spec: BootstrapSpec, log: logging.Logger) -> None:
    cert = x509.load_pem_x509_certificate(pem.encode())
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    key = cert.public_key()
    key_matches = (
        isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size == spec.root_key_bits
        if spec.root_key_type == "ec" else not isinstance(key, ec.EllipticCurvePublicKey))
    if common_name != spec.root_common_name or not key_matches:
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


def _ensure_pki_urls(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#set-urls - written into certificates Vault
    # signs (the Linkerd issuer) as AIA and CRL distribution point. An unset config reads as empty lists
    # (builtin/logical/pki getGlobalAIAURLs).
    base = f"{spec.vault_url}/v1/{spec.pki_path}"
    wanted = {"issuing_certificates": [f"{base}/ca"], "crl_distribution_points": [f"{base}/crl"]}
    with vault_step("PKI URLs", client.url):
        current = vault_data(client.secrets.pki.read_urls(mount_point=spec.pki_path))
        if any(list(current.get(key) or []) != value for key, value in wanted.items()):
            client.secrets.pki.set_urls(params=wanted, mount_point=spec.pki_path)
            changed.append("pki-urls")


def _ensure_kubernetes_auth(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    path = spec.kubernetes_auth_path
    with vault_step("Kubernetes auth", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/auth
        method = vault_data(client.sys.list_auth_methods()).get(f"{path}/")
        if method is None:
            client.sys.enable_auth_method(method_type="kubernetes", path=path, description="cert-manager")
            changed.append("kubernetes-auth")
        elif method.get("type") != "kubernetes":
            raise VaultBootstrapError(f"Kubernetes auth: auth/{path}/ is enabled as {method.get('type')!r}")
        # Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method - in a pod, with
        # disable_local_ca_jwt false, Vault reviews tokens with its own (re-read, so rotated) service-account token and
        # the cluster CA; vault-helm binds system:auth-delegator to that account. Reading an unset config is a 404.
        try:
            current = vault_data(client.auth.kubernetes.read_config(mount_point=path))
        except hvac.exceptions.InvalidPath:
            current = {}
        if current.get("kubernetes_host") != spec.kubernetes_host or current.get("disable_local_ca_jwt") is not False:
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


def _ensure_role(
    client: hvac.Client, spec: BootstrapSpec, who: str, role: str, wanted: dict[str, Any], changed: list[str],
) -> None:
    with vault_step(f"{who} role", client.url):
        try:
            current = vault_data(client.auth.kubernetes.read_role(name=role, mount_point=spec.kubernetes_auth_path))
        except hvac.exceptions.InvalidPath:
            current = {}
        if any(current.get(key) != value for key, value in wanted.items()):
            # Written as-is rather than through hvac's create_role, which only knows the deprecated ttl/policies names.
            client.write_data(f"auth/{spec.kubernetes_auth_path}/role/{role}", data=wanted)
            changed.append(f"{who}-role")
