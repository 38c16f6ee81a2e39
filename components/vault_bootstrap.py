"""Vault bootstrap with hvac: initialise, keep the recovery material, and configure the platform's trust anchor.

Pure logic over an `hvac.Client`; how the client reaches Vault is the caller's business (the dynamic resource in
`vault_bootstrap_provider.py` opens a port-forward through the Kubernetes API server). One `bootstrap()` call:
initialises Vault under the awskms seal (recovery keys, not unseal keys) and writes the recovery keys and the initial
root token to a `SecretStore` before anything else; obtains a privileged token (the initial root token, or a fresh
one from the generate-root flow with the stored recovery keys); converges an audit device, the PKI mount holding the
root CA (generated inside Vault, so its private key never leaves it), and Kubernetes auth for cert-manager with a
policy allowing only the signing endpoint; then revokes the privileged token. Every step reads first and writes only
on difference, so a second run changes nothing and a partly failed run can be re-run. Errors are `VaultBootstrapError`
with a message naming the step; no message or log line ever contains a key share or a token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol

import hvac
import hvac.exceptions
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

_SIGN_INTERMEDIATE = "root/sign-intermediate"


class VaultBootstrapError(RuntimeError):
    """A bootstrap step failed. The message names the step and the cause, never key material or tokens."""


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
    audit_path: str = "file"
    audit_file_path: str = "stdout"  # see _ensure_audit_device for why stdout
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


# --- Recovery material -------------------------------------------------------------------------------------------

_PENDING = json.dumps({"format": 1, "state": "initialising"})


@dataclass(frozen=True)
class RecoveryMaterial:
    """What a team needs to get back into Vault: the recovery key shares (and, transiently, a root token)."""

    recovery_keys_b64: tuple[str, ...] = field(repr=False)
    recovery_threshold: int
    root_token: str | None = field(default=None, repr=False)  # only between init/generation and revocation

    def to_json(self) -> str:
        return json.dumps({
            "format": 1,
            "state": "initialised",
            "note": "Vault awskms recovery key shares (base64); any recovery_threshold of them authorise generate-root",
            "recovery_threshold": self.recovery_threshold,
            "recovery_keys_b64": list(self.recovery_keys_b64),
            "root_token": self.root_token,
        })

    @classmethod
    def from_json(cls, text: str | None) -> RecoveryMaterial | None:
        """None when the store holds nothing usable (empty, or only the marker written before init)."""
        if not text:
            return None
        blob = json.loads(text)
        if not isinstance(blob, dict) or blob.get("state") != "initialised":
            return None
        return cls(tuple(blob["recovery_keys_b64"]), int(blob["recovery_threshold"]), blob.get("root_token") or None)


class SecretStore(Protocol):
    """Where the recovery material lives: one JSON document."""

    def get(self) -> str | None: ...

    def put(self, value: str) -> None: ...


class InMemorySecretStore:
    """A SecretStore for tests and dry runs; `writes` keeps every value put, in order."""

    def __init__(self, value: str | None = None) -> None:
        self.writes: list[str] = []
        self._value = value

    def get(self) -> str | None:
        return self._value

    def put(self, value: str) -> None:
        self.writes.append(value)
        self._value = value


class SecretsManagerStore:
    """The recovery secret in AWS Secrets Manager: the program creates it (customer KMS key, access limited to the
    deployer and a break-glass role); operators read it with `aws secretsmanager get-secret-value`."""

    def __init__(self, secret_arn: str, region: str, client: Any | None = None) -> None:
        self._arn = secret_arn
        # boto3 ships no type information; imported here so the module loads without it.
        self._client = client or importlib.import_module("boto3").client("secretsmanager", region_name=region)

    def get(self) -> str | None:
        # Ref: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
        # (ResourceNotFoundException also when the secret has no AWSCURRENT value yet, as right after creation).
        try:
            response = self._client.get_secret_value(SecretId=self._arn)
        except self._client.exceptions.ResourceNotFoundException:
            return None
        value = response.get("SecretString")
        return value if isinstance(value, str) else None

    def put(self, value: str) -> None:
        # Ref: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html (new version,
        # labelled AWSCURRENT; the former one stays readable as AWSPREVIOUS).
        self._client.put_secret_value(SecretId=self._arn, SecretString=value)


# --- Errors --------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _step(name: str, vault_url: object) -> Iterator[None]:
    """Turn hvac / transport errors into a VaultBootstrapError naming the step (and drop the chained traceback)."""
    try:
        yield
    except VaultBootstrapError:
        raise
    except hvac.exceptions.Forbidden as exc:
        raise VaultBootstrapError(
            f"{name}: Vault answered 403 permission denied ({exc}); the token in use lacks that capability") from None
    except hvac.exceptions.VaultDown as exc:
        raise VaultBootstrapError(f"{name}: Vault answered 503, it is sealed or has no active node ({exc})") from None
    except hvac.exceptions.VaultError as exc:
        raise VaultBootstrapError(f"{name}: Vault answered {type(exc).__name__}: {exc}") from None
    except OSError as exc:  # requests' ConnectionError / Timeout / SSLError derive from OSError
        raise VaultBootstrapError(f"{name}: Vault is unreachable at {vault_url} ({type(exc).__name__})") from None


@contextlib.contextmanager
def _store_step(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # AWS errors name the operation and the code, never the secret value
        raise VaultBootstrapError(f"{name}: {type(exc).__name__}: {exc}") from None


def _data(response: Any) -> dict[str, Any]:
    """The `data` object of a Vault response (sys/ endpoints also repeat it at the top level)."""
    if not isinstance(response, dict):
        return {}
    data = response.get("data")
    return data if isinstance(data, dict) else response


# --- Bootstrap -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BootstrapResult:
    root_ca_pem: str  # the trust anchor certificate (public)
    initialized_now: bool
    changed: list[str]  # steps that wrote something, in order; empty on a converged Vault


def bootstrap(
    client: hvac.Client,
    spec: BootstrapSpec,
    store: SecretStore,
    log: logging.Logger,
    *,
    ready_timeout_s: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> BootstrapResult:
    """Bring Vault to `spec`, idempotently. See the module docstring."""
    client.token = None  # never an ambient VAULT_TOKEN or ~/.vault-token (hvac falls back to both)
    changed: list[str] = []
    status = _seal_status(client, ready_timeout_s, sleep)
    if status.get("type") != spec.seal_type or not status.get("recovery_seal"):
        raise VaultBootstrapError(
            f"Vault reports seal type {status.get('type')!r} (recovery_seal={status.get('recovery_seal')}); this "
            f"bootstrap expects the {spec.seal_type} auto-unseal, which yields recovery keys")
    fresh: RecoveryMaterial | None = None
    if not status.get("initialized"):
        fresh = _initialise(client, spec, store, log, sleep)
        changed.append("initialise")
    elif status.get("sealed"):
        # Ref: https://support.hashicorp.com/hc/en-us/articles/4404364271763 ("Recovery keys cannot decrypt the
        # master key, and thus are not sufficient to unseal Vault if the AutoUnseal mechanism isn't working").
        raise VaultBootstrapError(
            f"Vault is initialised but sealed. With the {spec.seal_type} seal it unseals itself at start-up with the "
            "KMS key, so staying sealed means it cannot reach or use that key: check the IRSA role (trust of the vault "
            "service account, "
            "kms:Encrypt/Decrypt/DescribeKey on the unseal key), the key's state and the vault pods' logs. Recovery "
            "keys cannot unseal an auto-unsealed Vault, so this bootstrap does not try.")
    _wait_until_active(client, ready_timeout_s, sleep)
    token, material = _privileged_token(client, store, log, fresh)
    client.token = token
    try:
        root_ca_pem = _configure(client, spec, changed, log)
    finally:
        _release_token(client, store, material, token, log)
    log.info("Vault bootstrap done: %s", ", ".join(changed) if changed else "nothing to change")
    return BootstrapResult(root_ca_pem=root_ca_pem, initialized_now=fresh is not None, changed=changed)


def _seal_status(client: hvac.Client, timeout_s: float, sleep: Callable[[float], None]) -> dict[str, Any]:
    """Seal status, retried while the pod is still starting (connection refused, port-forward not yet possible)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with _step("read seal status", client.url):
                # Ref: https://developer.hashicorp.com/vault/api-docs/system/seal-status (unauthenticated)
                return _data(client.sys.read_seal_status())
        except VaultBootstrapError:
            if time.monotonic() >= deadline:
                raise
            sleep(2.0)


def _initialise(
    client: hvac.Client, spec: BootstrapSpec, store: SecretStore, log: logging.Logger, sleep: Callable[[float], None],
) -> RecoveryMaterial:
    with _store_step("read the recovery secret"):
        if RecoveryMaterial.from_json(store.get()) is not None:
            raise VaultBootstrapError(
                "Vault is not initialised, yet the recovery secret already holds recovery keys of an earlier "
                "initialisation; refusing to initialise again and overwrite them. If Vault's storage was wiped on "
                "purpose, archive that secret value and clear it, then run again.")
    with _store_step("write the recovery secret"):
        store.put(_PENDING)  # proves write access before the one step that cannot be repeated
    with _step("initialise Vault", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/init - under auto-unseal only recovery_* apply;
        # Vault rejects secret_shares/secret_threshold ("parameters not specific to auto unseal seals present",
        # hashicorp/vault http/sys_init.go); hvac sends them as null, which Vault decodes as absent. The response
        # carries recovery_keys_base64 and root_token, and Vault unseals itself with KMS before answering.
        response = _data(client.sys.initialize(
            recovery_shares=spec.recovery_shares, recovery_threshold=spec.recovery_threshold))
    keys, token = response.get("recovery_keys_base64"), response.get("root_token")
    if not keys or not token:
        raise VaultBootstrapError("initialise Vault: the answer holds no recovery keys or root token")
    material = RecoveryMaterial(tuple(str(k) for k in keys), spec.recovery_threshold, str(token))
    for attempt in range(3):
        try:
            store.put(material.to_json())
            break
        except Exception as exc:
            if attempt == 2:
                client.token = material.root_token  # a root token nobody can keep is revoked at once
                with contextlib.suppress(Exception):
                    client.auth.token.revoke_self()
                client.token = None
                raise VaultBootstrapError(
                    f"Vault was initialised but its recovery material could not be written to the recovery secret "
                    f"({type(exc).__name__}). The only copy was in this process and is lost: delete Vault's storage "
                    "(the vault pods' data volumes) and run again.") from None
            sleep(2.0)
    log.info("Vault initialised; %d recovery key shares (threshold %d) are in the recovery secret",
             len(material.recovery_keys_b64), material.recovery_threshold)
    return material


def _wait_until_active(client: hvac.Client, timeout_s: float, sleep: Callable[[float], None]) -> None:
    """Wait for an unsealed node that serves requests (a standby forwards them to the active node)."""
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while True:
        try:
            # Ref: https://developer.hashicorp.com/vault/api-docs/system/health - 200 active (or standby with
            # standbyok), 429 standby, 474 standby without an active node, 501 not initialised, 503 sealed.
            health = client.sys.read_health_status(method="GET", standby_ok=True)
            if isinstance(health, dict):
                return
            last = f"HTTP {getattr(health, 'status_code', '?')}"
        except OSError as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            raise VaultBootstrapError(f"Vault did not become active within {timeout_s:.0f} s (last health: {last})")
        sleep(2.0)


def _privileged_token(
    client: hvac.Client, store: SecretStore, log: logging.Logger, fresh: RecoveryMaterial | None,
) -> tuple[str, RecoveryMaterial]:
    if fresh is not None and fresh.root_token:
        return fresh.root_token, fresh
    with _store_step("read the recovery secret"):
        material = RecoveryMaterial.from_json(store.get())
    if material is None:
        raise VaultBootstrapError(
            "Vault is initialised but the recovery secret holds no recovery keys, so no privileged token can be "
            "generated. Vault was initialised outside this bootstrap or the secret was replaced: put its recovery "
            "keys in the secret (format: see RecoveryMaterial.to_json) and run again.")
    if material.root_token:  # left by a run that could not revoke it: use it now, revoke it at the end
        client.token = material.root_token
        try:
            client.auth.token.lookup_self()
            log.info("using the privileged token a previous run left in the recovery secret; it is revoked below")
            return material.root_token, material
        except (hvac.exceptions.VaultError, OSError):
            pass
        finally:
            client.token = None
    return _generate_root(client, material, log), material


def _generate_root(client: hvac.Client, material: RecoveryMaterial, log: logging.Logger) -> str:
    """A new root token from the recovery key shares (sys/generate-root with a Vault-generated OTP)."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/system/generate-root - since Vault 1.10 the start answer
    # carries the OTP (base62, otp_length chars); the final update answers the token XOR'd with it, base64-encoded.
    with _step("generate a root token", client.url):
        if _data(client.sys.read_root_generation_progress()).get("started"):
            log.warning("cancelling an unfinished root token generation attempt (its one-time password is unknown)")
            client.sys.cancel_root_generation()
        attempt = _data(client.sys.start_root_token_generation())
        otp, nonce, required = str(attempt.get("otp") or ""), attempt.get("nonce"), int(attempt.get("required") or 0)
        try:
            if not otp:
                raise VaultBootstrapError("generate a root token: Vault returned no one-time password (Vault >= 1.10)")
            if not 0 < required <= len(material.recovery_keys_b64):
                raise VaultBootstrapError(
                    f"generate a root token: Vault needs {required} recovery key shares, the secret holds "
                    f"{len(material.recovery_keys_b64)}")
            encoded = ""
            for key in material.recovery_keys_b64[:required]:
                update = _data(client.sys.generate_root(key=key, nonce=nonce))
                if update.get("complete"):
                    encoded = str(update.get("encoded_token") or update.get("encoded_root_token") or "")
                    break
            if not encoded:
                raise VaultBootstrapError("generate a root token: Vault did not complete the generation")
        except BaseException:
            with contextlib.suppress(Exception):  # leave no half-done attempt behind, but report the first error
                client.sys.cancel_root_generation()
            raise
    return decode_root_token(encoded, otp)


def decode_root_token(encoded: str, otp: str) -> str:
    """Decode generate-root's `encoded_token` with the attempt's OTP."""
    # Ref: https://github.com/hashicorp/vault/blob/main/sdk/helper/roottoken/decode.go (otpLength > 0: base64
    # RawStdEncoding, then XOR with the OTP's bytes; both must have the same length).
    raw = base64.b64decode(encoded.rstrip("=") + "=" * (-len(encoded.rstrip("=")) % 4))
    if len(raw) != len(otp):
        raise VaultBootstrapError("generate a root token: the encoded token and the one-time password differ in length")
    return bytes(a ^ b for a, b in zip(raw, otp.encode(), strict=True)).decode()


def _release_token(
    client: hvac.Client, store: SecretStore, material: RecoveryMaterial, token: str, log: logging.Logger,
) -> None:
    """Revoke the privileged token; the recovery secret keeps it only if revocation failed (the next run revokes it)."""
    revoked = True
    try:
        with _step("revoke the privileged token", client.url):
            client.auth.token.revoke_self()  # Ref: https://developer.hashicorp.com/vault/api-docs/auth/token#revoke-a-token-self
    except VaultBootstrapError as exc:
        revoked = False
        log.warning("%s; it stays in the recovery secret so the next run uses and revokes it", exc)
    client.token = None
    wanted = replace(material, root_token=None if revoked else token)
    if wanted != material:
        try:
            store.put(wanted.to_json())
        except Exception as exc:  # never mask the run's own outcome
            log.warning("could not update the recovery secret after revocation (%s)", type(exc).__name__)


# --- Configuration steps -------------------------------------------------------------------------------------------

def _configure(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> str:
    _ensure_audit_device(client, spec, changed)  # first, so every later write is audited
    _ensure_pki_mount(client, spec, changed)
    root_ca_pem = _ensure_root_ca(client, spec, changed, log)
    _ensure_pki_urls(client, spec, changed)
    _ensure_kubernetes_auth(client, spec, changed)
    _ensure_policy(client, spec, changed)
    _ensure_role(client, spec, changed)
    return root_ca_pem


def _ensure_audit_device(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # file_path "stdout": the container runtime ships it with the pod logs (CloudWatch), it survives the pod, and it
    # cannot fill a volume - Vault refuses every request when no audit device can write, so a full audit PVC would
    # stop Vault. Ref: https://developer.hashicorp.com/vault/docs/audit/file ("stdout ... useful when running in a
    # container"); API: https://developer.hashicorp.com/vault/api-docs/system/audit (list and enable need sudo).
    with _step("audit device", client.url):
        current = _data(client.sys.list_enabled_audit_devices()).get(f"{spec.audit_path}/")
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
    with _step("PKI secrets engine", client.url):
        mount = _data(client.sys.list_mounted_secrets_engines()).get(f"{spec.pki_path}/")
        if mount is None:
            client.sys.enable_secrets_engine(
                backend_type="pki", path=spec.pki_path, description="platform trust anchor (root CA)",
                config={"max_lease_ttl": max_ttl})
            changed.append("pki-mount")
            return
        if mount.get("type") != "pki":
            raise VaultBootstrapError(f"PKI secrets engine: {spec.pki_path}/ is mounted as {mount.get('type')!r}")
        tune = _data(client.sys.read_mount_configuration(path=spec.pki_path))
        if int(tune.get("max_lease_ttl") or 0) < spec.pki_max_ttl_hours * 3600:  # at least: never shorten it
            client.sys.tune_mount_configuration(path=spec.pki_path, max_lease_ttl=max_ttl)
            changed.append("pki-max-ttl")


def _ensure_root_ca(client: hvac.Client, spec: BootstrapSpec, changed: list[str], log: logging.Logger) -> str:
    with _step("trust anchor (root CA)", client.url):
        # Ref: hashicorp/vault builtin/logical/pki/path_fetch.go - GET <mount>/ca/pem answers 204 (empty) while the
        # mount has no default issuer, else the PEM. An existing root is never regenerated: it is the trust anchor.
        existing = str(client.secrets.pki.read_ca_certificate(mount_point=spec.pki_path)).strip()
        if existing:
            _warn_if_root_differs(existing, spec, log)
            return existing + "\n"
        # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#generate-root - type "internal": the
        # private key is created inside Vault and never returned.
        response = client.secrets.pki.generate_root(
            type="internal", common_name=spec.root_common_name, mount_point=spec.pki_path,
            extra_params={
                "key_type": spec.root_key_type, "key_bits": spec.root_key_bits, "ttl": f"{spec.root_ttl_hours}h",
                "issuer_name": spec.root_issuer_name, "max_path_length": spec.root_max_path_length,
                "exclude_cn_from_sans": True,
            })
    certificate = str(_data(response).get("certificate") or "").strip()
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


def _ensure_pki_urls(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki#set-urls - written into certificates Vault
    # signs (the Linkerd issuer) as AIA and CRL distribution point. An unset config reads as empty lists
    # (builtin/logical/pki getGlobalAIAURLs).
    base = f"{spec.vault_url}/v1/{spec.pki_path}"
    wanted = {"issuing_certificates": [f"{base}/ca"], "crl_distribution_points": [f"{base}/crl"]}
    with _step("PKI URLs", client.url):
        current = _data(client.secrets.pki.read_urls(mount_point=spec.pki_path))
        if any(list(current.get(key) or []) != value for key, value in wanted.items()):
            client.secrets.pki.set_urls(params=wanted, mount_point=spec.pki_path)
            changed.append("pki-urls")


def _ensure_kubernetes_auth(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    path = spec.kubernetes_auth_path
    with _step("Kubernetes auth", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/auth
        method = _data(client.sys.list_auth_methods()).get(f"{path}/")
        if method is None:
            client.sys.enable_auth_method(method_type="kubernetes", path=path, description="cert-manager")
            changed.append("kubernetes-auth")
        elif method.get("type") != "kubernetes":
            raise VaultBootstrapError(f"Kubernetes auth: auth/{path}/ is enabled as {method.get('type')!r}")
        # Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#configure-method - in a pod, with
        # disable_local_ca_jwt false, Vault reviews tokens with its own (re-read, so rotated) service-account token and
        # the cluster CA; vault-helm binds system:auth-delegator to that account. Reading an unset config is a 404.
        try:
            current = _data(client.auth.kubernetes.read_config(mount_point=path))
        except hvac.exceptions.InvalidPath:
            current = {}
        if current.get("kubernetes_host") != spec.kubernetes_host or current.get("disable_local_ca_jwt") is not False:
            client.auth.kubernetes.configure(
                kubernetes_host=spec.kubernetes_host, disable_local_ca_jwt=False, mount_point=path)
            changed.append("kubernetes-auth-config")


def _ensure_policy(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    wanted = cert_manager_policy(spec)
    with _step("cert-manager policy", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/policies#read-acl-policy (404 when absent)
        try:
            current = _data(client.sys.read_acl_policy(name=spec.cert_manager_policy)).get("policy")
        except hvac.exceptions.InvalidPath:
            current = None
        if current != wanted:
            client.sys.create_or_update_acl_policy(name=spec.cert_manager_policy, policy=wanted)
            changed.append("cert-manager-policy")


def role_payload(spec: BootstrapSpec) -> dict[str, Any]:
    """The cert-manager role: one service account in one namespace, the audience, and only the signing policy."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-update-role and
    # hashicorp/vault-plugin-auth-kubernetes path_role.go (read answers the token_* fields in seconds).
    # token_no_default_policy: the token carries the signing policy alone, not Vault's "default" policy.
    return {
        "bound_service_account_names": [spec.cert_manager_service_account],
        "bound_service_account_namespaces": [spec.cert_manager_namespace],
        "audience": spec.audience,
        "alias_name_source": "serviceaccount_uid",
        "token_policies": [spec.cert_manager_policy],
        "token_no_default_policy": True,
        "token_ttl": spec.cert_manager_token_ttl_seconds,
        "token_max_ttl": spec.cert_manager_token_ttl_seconds,
    }


def _ensure_role(client: hvac.Client, spec: BootstrapSpec, changed: list[str]) -> None:
    wanted = role_payload(spec)
    with _step("cert-manager role", client.url):
        try:
            current = _data(client.auth.kubernetes.read_role(
                name=spec.cert_manager_role, mount_point=spec.kubernetes_auth_path))
        except hvac.exceptions.InvalidPath:
            current = {}
        if any(current.get(key) != value for key, value in wanted.items()):
            # Written as-is rather than through hvac's create_role, which only knows the deprecated ttl/policies names.
            client.write_data(f"auth/{spec.kubernetes_auth_path}/role/{spec.cert_manager_role}", data=wanted)
            changed.append("cert-manager-role")
