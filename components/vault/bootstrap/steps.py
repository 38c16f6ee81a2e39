"""Vault bootstrap with hvac: initialise, keep the recovery material, and configure the platform's trust anchor.

Pure logic over an `hvac.Client`; how the client reaches Vault is the caller's business (the dynamic resource in
`vault_bootstrap_provider.py` opens a port-forward through the Kubernetes API server). One `bootstrap()` call:
initialises Vault under the awskms seal (recovery keys, not unseal keys) and writes the recovery keys and the initial
root token to a `SecretStore` before anything else; obtains a privileged token (the initial root token, or a fresh
one from the generate-root flow with the stored recovery keys, written to the store before it is used; a generation is
marked in the store before any key share is sent, and a run that finds the mark revokes the root tokens a killed run
left); converges an audit device, the PKI mount holding the root CA (generated inside Vault, so its private key never
leaves it), and Kubernetes auth for cert-manager with a policy allowing only the signing endpoint; then revokes the
privileged token. Every step reads first and writes only
on difference, so a second run changes nothing and a partly failed run can be re-run. Errors are `VaultBootstrapError`
with a message naming the step; no message or log line ever contains a key share or a token. This module holds the
flow (initialise, privileged token, revocation); the spec is in `spec.py`, the recovery material and its stores in
`recovery.py`, the configuration steps in `configure.py`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import hvac
import hvac.exceptions

from components.vault.bootstrap.api import (
    VaultBootstrapError,
    VaultUnreachable,
    store_step,
    vault_data,
    vault_list,
    vault_step,
)
from components.vault.bootstrap.app_secrets import AppSecretsSpec
from components.vault.bootstrap.app_secrets_configure import DataCredentials, configure_app_secrets
from components.vault.bootstrap.configure import configure
from components.vault.bootstrap.recovery import (
    PENDING_MARKER,
    InMemorySecretStore,
    RecoveryMaterial,
    SecretsManagerStore,
    SecretStore,
    decode_root_token,
)
from components.vault.bootstrap.spec import (
    BootstrapSpec,
    cert_manager_default_audience,
    cert_manager_policy,
    role_payload,
    spec_from_props,
    spec_hash,
    spec_problems,
    spec_to_props,
)

# Importers (the dynamic provider, tests) keep using this module for every bootstrap name.
__all__ = [
    "BootstrapResult", "BootstrapSpec", "InMemorySecretStore", "RecoveryMaterial", "SecretStore",
    "SecretsManagerStore", "VaultBootstrapError", "bootstrap", "cert_manager_default_audience", "cert_manager_policy",
    "decode_root_token", "role_payload", "spec_from_props", "spec_hash", "spec_problems", "spec_to_props",
]


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
    # A first deployment waits for the StatefulSet's EBS volumes, the image pull and scheduling: allow 10 minutes.
    ready_timeout_s: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    # Asked while Vault does not answer: a cause that waiting cannot heal (the pod crash-loops, its image cannot be
    # pulled), or None. The provider asks the Kubernetes API about the pod (vault_bootstrap.PodDiagnosis).
    diagnose: Callable[[], str | None] | None = None,
    # The application's credentials (components/vault/bootstrap/app_secrets_configure.py), converged after the
    # platform's own objects; the data credentials are read only when Vault needs them (a first run, or a drifted
    # connection).
    app_secrets: AppSecretsSpec | None = None,
    data_credentials: DataCredentials | None = None,
) -> BootstrapResult:
    """Bring Vault to `spec`, idempotently. See the module docstring."""
    client.token = None  # never an ambient VAULT_TOKEN or ~/.vault-token (hvac falls back to both)
    changed: list[str] = []
    status = _seal_status(client, ready_timeout_s, sleep, clock, diagnose)
    if status.get("type") != spec.seal_type or not status.get("recovery_seal"):
        raise VaultBootstrapError(
            f"Vault reports seal type {status.get('type')!r} (recovery_seal={status.get('recovery_seal')}); this "
            f"bootstrap expects the {spec.seal_type} auto-unseal, which yields recovery keys")
    fresh: RecoveryMaterial | None = None
    if not status.get("initialized"):
        fresh = _initialise(client, spec, store, log, sleep)
        changed.append("initialise")
    elif status.get("sealed"):
        _refuse_if_initialisation_was_interrupted(store)
        # Ref: https://support.hashicorp.com/hc/en-us/articles/4404364271763 ("Recovery keys cannot decrypt the
        # master key, and thus are not sufficient to unseal Vault if the AutoUnseal mechanism isn't working").
        raise VaultBootstrapError(
            f"Vault is initialised but sealed. With the {spec.seal_type} seal it unseals itself at start-up with the "
            "KMS key, so staying sealed means it cannot reach or use that key: check the IRSA role (trust of the vault "
            "service account, "
            "kms:Encrypt/Decrypt/DescribeKey on the unseal key), the key's state and the vault pods' logs. Recovery "
            "keys cannot unseal an auto-unsealed Vault, so this bootstrap does not try.")
    _wait_until_active(client, ready_timeout_s, sleep, clock, diagnose)
    token, material = _privileged_token(client, store, log, fresh)
    client.token = token
    try:
        if material.root_generation_pending:
            material = _revoke_orphans(client, store, material, log)
        root_ca_pem = configure(client, spec, changed, log)
        if app_secrets is not None:
            if data_credentials is None:
                raise VaultBootstrapError("application secrets: no data credentials were given to start from")
            configure_app_secrets(client, app_secrets, data_credentials, changed)
    finally:
        _release_token(client, store, material, token, log)
    log.info("Vault bootstrap done: %s", ", ".join(changed) if changed else "nothing to change")
    return BootstrapResult(root_ca_pem=root_ca_pem, initialized_now=fresh is not None, changed=changed)


# An auto-unsealed Vault reads its keys with the seal's key right after it starts; one that still reports "sealed"
# after this many reads, 2 s apart, cannot use that key.
SEALED_READS = 15


def _seal_status(
    client: hvac.Client, timeout_s: float, sleep: Callable[[float], None], clock: Callable[[], float],
    diagnose: Callable[[], str | None] | None,
) -> dict[str, Any]:
    """Seal status, retried while Vault may still come up; a cause that waiting cannot heal is raised at once."""
    deadline, sealed_reads = clock() + timeout_s, 0
    while True:
        try:
            with vault_step("read seal status", client.url):
                # Ref: https://developer.hashicorp.com/vault/api-docs/system/seal-status (unauthenticated)
                status = vault_data(client.sys.read_seal_status())
            sealed_reads = sealed_reads + 1 if status.get("initialized") and status.get("sealed") else SEALED_READS
            if sealed_reads >= SEALED_READS:
                return status  # answered; bootstrap() judges a Vault that stayed sealed
        except VaultUnreachable as exc:
            _raise_if_lasting(exc, diagnose)
            if clock() >= deadline:
                raise
        except VaultBootstrapError:
            if clock() >= deadline:
                raise
        sleep(2.0)


def _raise_if_lasting(exc: VaultUnreachable, diagnose: Callable[[], str | None] | None) -> None:
    """Raise now when waiting cannot help: the transport error says so, or the pod's state does."""
    if exc.permanent:
        raise exc
    cause = diagnose() if diagnose is not None else None
    if cause:
        raise VaultBootstrapError(
            f"{exc.step}: Vault at {exc.vault_url} does not answer, and waiting will not help: {cause}") from None


def _initialise(
    client: hvac.Client, spec: BootstrapSpec, store: SecretStore, log: logging.Logger, sleep: Callable[[float], None],
) -> RecoveryMaterial:
    with store_step("read the recovery secret"):
        if RecoveryMaterial.from_json(store.get()) is not None:
            raise VaultBootstrapError(
                "Vault is not initialised, yet the recovery secret already holds recovery keys of an earlier "
                "initialisation; refusing to initialise again and overwrite them. If Vault's storage was wiped on "
                "purpose, archive that secret value and clear it, then run again.")
    with store_step("write the recovery secret"):
        store.put(PENDING_MARKER)  # proves write access before the one step that cannot be repeated
    with vault_step("initialise Vault", client.url):
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/init - under auto-unseal only recovery_* apply;
        # Vault rejects secret_shares/secret_threshold ("parameters not specific to auto unseal seals present",
        # hashicorp/vault http/sys_init.go); hvac sends them as null, which Vault decodes as absent. The response
        # carries recovery_keys_base64 and root_token, and Vault unseals itself with KMS before answering.
        response = vault_data(client.sys.initialize(
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


def _refuse_if_initialisation_was_interrupted(store: SecretStore) -> None:
    """Vault says initialised, yet the secret still holds the marker written just before sys/init: that init never
    handed its keys over (the KMS was unreachable half-way - OpenBao 2.7 then stays initialised and sealed - or the
    run was killed before it stored the answer). Nothing can recover those keys."""
    with store_step("read the recovery secret"):
        pending = store.get() == PENDING_MARKER
    if pending:
        raise VaultBootstrapError(
            "Vault is initialised, but the recovery secret still holds the marker written just before "
            "initialisation: that initialisation did not complete here (the KMS key was unreachable during it, or the "
            "run was stopped before it stored the answer), so its recovery keys are lost. Nothing in Vault can be "
            "used yet: delete Vault's storage (the vault pods' data volumes), fix the KMS access if needed, and run "
            "again; the marker lets the next run initialise.")


def _wait_until_active(
    client: hvac.Client, timeout_s: float, sleep: Callable[[float], None], clock: Callable[[], float],
    diagnose: Callable[[], str | None] | None,
) -> None:
    """Wait for an unsealed node that serves requests (a standby forwards them to the active node)."""
    deadline, last = clock() + timeout_s, "no answer"
    while True:
        electing = False
        try:
            with vault_step("wait for an active Vault node", client.url):
                # Ref: https://developer.hashicorp.com/vault/api-docs/system/health - 200 active (or standby with
                # standbyok), 429 standby, 474 standby without an active node, 501 not initialised, 503 sealed.
                health = client.sys.read_health_status(method="GET", standby_ok=True)
                # Right after initialisation a lone raft node answers as a standby for a moment, before it has
                # elected itself; a standby serves only by forwarding to an active node, so one must be known.
                # Ref: https://developer.hashicorp.com/vault/api-docs/system/leader (leader_address; seen empty
                # from OpenBao 2.7.2 in that window, when requests fail with "local node not active but active
                # cluster node not found").
                if isinstance(health, dict) and (not health.get("standby") or vault_data(
                        client.sys.read_leader_status()).get("leader_address")):
                    return
            electing = isinstance(health, dict)
            last = ("a standby without an active node" if electing
                    else f"HTTP {getattr(health, 'status_code', '?')}")  # 5xx while raft elects a leader: wait
        except VaultUnreachable as exc:
            _raise_if_lasting(exc, diagnose)
            last = str(exc)
        except VaultBootstrapError as exc:  # sys/leader answering 5xx while raft elects
            last = str(exc)
        if clock() >= deadline:
            raise VaultBootstrapError(f"Vault did not become active within {timeout_s:.0f} s (last health: {last})")
        # A lone node elects itself within about a second (raft's minimum heartbeat): look again soon.
        sleep(0.2 if electing else 2.0)


def _privileged_token(
    client: hvac.Client, store: SecretStore, log: logging.Logger, fresh: RecoveryMaterial | None,
) -> tuple[str, RecoveryMaterial]:
    if fresh is not None and fresh.root_token:
        return fresh.root_token, fresh
    with store_step("read the recovery secret"):
        material = RecoveryMaterial.from_json(store.get())
    if material is None:
        _refuse_if_initialisation_was_interrupted(store)
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
    # Stored before it is used: a run killed after this point leaves a token the next run finds and revokes.
    generated = replace(material, root_token=_generate_root(client, store, material, log),
                        root_generation_pending=material.root_generation_pending)
    with store_step("write the recovery secret"):
        store.put(generated.to_json())
    return str(generated.root_token), generated


def _revoke_orphans(
    client: hvac.Client, store: SecretStore, material: RecoveryMaterial, log: logging.Logger,
) -> RecoveryMaterial:
    """A previous run was stopped between authorising a root token generation and storing its token: that token
    exists and nobody holds it. Revoke every root token but this run's own, then clear the mark."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/auth/token#list-accessors (LIST, sudo) and
    # #lookup-a-token-accessor / #revoke-a-token-accessor.
    with vault_step("revoke root tokens left by an interrupted run", client.url):
        own = vault_data(client.auth.token.lookup_self()).get("accessor")
        revoked = 0
        for accessor in vault_list(client, "auth/token/accessors").get("keys") or []:
            if accessor == own:
                continue
            try:
                info = vault_data(client.auth.token.lookup_accessor(accessor))
            except hvac.exceptions.InvalidRequest:
                continue  # expired or revoked meanwhile
            if "root" in (info.get("policies") or []):
                client.auth.token.revoke_accessor(accessor)
                revoked += 1
    log.warning("a previous run was interrupted while generating a root token; revoked %d root token(s) it left",
                revoked)
    cleared = replace(material, root_generation_pending=False)
    with store_step("write the recovery secret"):
        store.put(cleared.to_json())
    return cleared


def _generate_root(client: hvac.Client, store: SecretStore, material: RecoveryMaterial, log: logging.Logger) -> str:
    """A new root token from the recovery key shares (sys/generate-root with a Vault-generated OTP)."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/system/generate-root - since Vault 1.10 the start answer
    # carries the OTP (base62, otp_length chars); the final update answers the token XOR'd with it, base64-encoded.
    with vault_step("generate a root token", client.url):
        try:
            progress = vault_data(client.sys.read_root_generation_progress())
        except (hvac.exceptions.UnexpectedError, hvac.exceptions.InvalidPath) as exc:
            # OpenBao >= 2.5.3 (CVE-2026-5807) serves sys/generate-root only when the listener sets
            # disable_unauthed_generate_root_endpoints = false; elsewhere the path is "unsupported operation".
            # Ref: https://github.com/openbao/openbao/blob/v2.5.3/CHANGELOG.md
            raise VaultBootstrapError(
                "generate a root token: the server does not serve sys/generate-root. On OpenBao >= 2.5.3 set "
                "`disable_unauthed_generate_root_endpoints = false` in the listener block of its configuration; "
                f"Vault 2.0 serves it. ({exc})") from None
        if progress.get("started"):
            log.warning("cancelling an unfinished root token generation attempt (its one-time password is unknown)")
            client.sys.cancel_root_generation()
        attempt = vault_data(client.sys.start_root_token_generation())
        otp, nonce, required = str(attempt.get("otp") or ""), attempt.get("nonce"), int(attempt.get("required") or 0)
        try:
            if not otp:
                raise VaultBootstrapError("generate a root token: Vault returned no one-time password (Vault >= 1.10)")
            if not 0 < required <= len(material.recovery_keys_b64):
                raise VaultBootstrapError(
                    f"generate a root token: Vault needs {required} recovery key shares, the secret holds "
                    f"{len(material.recovery_keys_b64)}")
            if not material.root_generation_pending:  # marked before any key share can complete the generation
                with store_step("write the recovery secret"):
                    store.put(replace(material, root_token=None, root_generation_pending=True).to_json())
            encoded = ""
            for key in material.recovery_keys_b64[:required]:
                update = vault_data(client.sys.generate_root(key=key, nonce=nonce))
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


def _release_token(
    client: hvac.Client, store: SecretStore, material: RecoveryMaterial, token: str, log: logging.Logger,
) -> None:
    """Revoke the privileged token; the recovery secret keeps it only if revocation failed (the next run revokes it)."""
    revoked = True
    try:
        with vault_step("revoke the privileged token", client.url):
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

