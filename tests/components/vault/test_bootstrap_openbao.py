"""The Vault bootstrap against a real OpenBao server (tests/helpers/openbao.py): first run, re-run, drift of every
object it owns, cert-manager's own login and signing request, the snapshot CronJob's script and the restore runbook,
the dynamic provider as Pulumi calls it (port-forward bridge, Secrets Manager in moto), and the failure cases."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import hvac
import hvac.exceptions
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from components.backup.snapshot_specs import SNAPSHOT_FILE, TOKEN_DIR, SnapshotJobArgs, snapshot_script
from components.mesh import cert_specs
from components.vault import vault_bootstrap
from components.vault.bootstrap.spec import SNAPSHOT_PATH, snapshot_policy
from components.vault.bootstrap.steps import (
    BootstrapSpec,
    InMemorySecretStore,
    RecoveryMaterial,
    VaultBootstrapError,
    bootstrap,
    cert_manager_default_audience,
    cert_manager_policy,
    spec_hash,
    spec_to_props,
)
from components.vault.vault_bootstrap import VaultBootstrapProvider
from tests.helpers.openbao import (
    OpenBaoServer,
    TokenReviewer,
    bao_binary,
    make_tls,
    needs_bao,
    needs_pod_files,
    privileged_accessors,
    root_client,
    start_transit,
)

pytestmark = [needs_bao, needs_pod_files]

LOG = logging.getLogger("test.vault_bootstrap.openbao")
ALL_STEPS = ["initialise", "audit-device", "pki-mount", "root-ca", "pki-urls", "kubernetes-auth",
             "kubernetes-auth-config", "cert-manager-policy", "cert-manager-role", "snapshot-policy", "snapshot-role",
             "rotation-policy", "rotation-role", "credential-report-policy", "credential-report-role"]


def spec_for(reviewer: TokenReviewer, **changes: Any) -> BootstrapSpec:
    # seal_type "transit": the harness's stand-in for awskms; kubernetes_host: the TokenReview stand-in.
    return BootstrapSpec(**{"root_common_name": "mtls-platform test root", "seal_type": "transit",
                            "audience": cert_manager_default_audience("vault-issuer"),
                            "kubernetes_host": reviewer.host, **changes})


def run(server: OpenBaoServer, spec: BootstrapSpec, store: InMemorySecretStore, **kwargs: Any) -> Any:
    # Polls a local server: 50 ms between looks instead of the 2 s a pod behind a port-forward gets (the sealed
    # grace of 15 looks would otherwise cost 30 s per test).
    kwargs.setdefault("sleep", lambda _s: time.sleep(0.05))
    return bootstrap(server.client(), spec, store, LOG, ready_timeout_s=kwargs.pop("ready_timeout_s", 20), **kwargs)


def material(store: InMemorySecretStore) -> RecoveryMaterial:
    found = RecoveryMaterial.from_json(store.get())
    assert found is not None
    return found


def owned_state(client: hvac.Client, spec: BootstrapSpec) -> dict[str, Any]:
    """Every object the bootstrap owns, as the server reports it (identifiers that a re-creation renews left out)."""
    def without(item: dict[str, Any], *keys: str) -> dict[str, Any]:
        return {k: v for k, v in item.items() if k not in keys}

    volatile = ("accessor", "uuid", "running_plugin_version", "running_sha256")
    auth = spec.kubernetes_auth_path
    issuer = client.read(f"{spec.pki_path}/issuer/{spec.root_issuer_name}")["data"]
    return {
        # Every device: a replaced one leaves no second (the bridge that keeps requests audited during the swap).
        "audit": client.sys.list_enabled_audit_devices()["data"],
        "pki-mount": without(client.sys.list_mounted_secrets_engines()["data"][f"{spec.pki_path}/"], *volatile),
        "issuer": issuer,
        "default-issuer": client.read(f"{spec.pki_path}/config/issuers")["data"],
        "urls": client.read(f"{spec.pki_path}/config/urls")["data"],
        "auth-mount": without(client.sys.list_auth_methods()["data"][f"{auth}/"], *volatile),
        "auth-config": client.read(f"auth/{auth}/config")["data"],
        "policies": {name: client.sys.read_acl_policy(name)["data"]["policy"]
                     for name in (spec.cert_manager_policy, spec.snapshot_policy, spec.rotation_policy,
                                  spec.report_policy)},
        "roles": {name: client.read(f"auth/{auth}/role/{name}")["data"]
                  for name in (spec.cert_manager_role, spec.snapshot_role, spec.rotation_role, spec.report_role)},
    }



@dataclass
class Converged:
    server: OpenBaoServer
    spec: BootstrapSpec
    store: InMemorySecretStore
    first: Any  # the first run's BootstrapResult
    baseline: dict[str, Any]  # owned_state right after the first run

    @contextlib.contextmanager
    def admin(self) -> Iterator[hvac.Client]:
        with root_client(self.server, material(self.store).recovery_keys_b64) as client:
            yield client


@pytest.fixture(scope="module")
def converged(openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer) -> Converged:
    """One server bootstrapped once per module (per xdist worker); every test leaves it converged again."""
    server = openbao_factory()
    spec, store = spec_for(token_reviewer), InMemorySecretStore()
    first = run(server, spec, store)
    with root_client(server, material(store).recovery_keys_b64) as admin:
        baseline = owned_state(admin, spec)
    return Converged(server, spec, store, first, baseline)


def differences(now: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """{object: {field: (now, then)}} for every field that differs (readable assertion failures)."""
    out: dict[str, Any] = {}
    for name in sorted(set(now) | set(then)):
        a, b = now.get(name) or {}, then.get(name) or {}
        fields = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        if fields:
            out[name] = fields
    return out


def assert_no_privileged_token_left(converged: Converged) -> None:
    with converged.admin() as admin:
        own = admin.auth.token.lookup_self()["data"]["accessor"]
        assert privileged_accessors(admin) == {own}  # only the test's own, revoked when the block ends


# --- First run and re-run ------------------------------------------------------------------------------------------

def test_fresh_server_is_initialised_configured_and_left_without_a_root_token(
    converged: Converged, caplog: pytest.LogCaptureFixture,
) -> None:
    first, store = converged.first, converged.store
    assert first.initialized_now and first.changed == ALL_STEPS
    assert json.loads(store.writes[0]) == {"format": 1, "state": "initialising"}  # access proven before init
    kept = material(store)
    assert len(kept.recovery_keys_b64) == 5 and kept.recovery_threshold == 3 and kept.root_token is None
    cert = x509.load_pem_x509_certificate(first.root_ca_pem.encode())
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    baseline = converged.baseline
    assert baseline["policies"][converged.spec.cert_manager_policy] == cert_manager_policy(converged.spec)
    assert baseline["roles"]["cert-manager"]["token_policies"] == [converged.spec.cert_manager_policy]
    assert baseline["audit"][f"{converged.spec.audit_path}/"]["options"] == {"file_path": "stdout"}
    assert baseline["auth-config"]["kubernetes_host"] == converged.spec.kubernetes_host
    assert_no_privileged_token_left(converged)  # the initial root token was revoked
    assert not any(k in caplog.text for k in kept.recovery_keys_b64)


def test_rerun_changes_nothing_and_returns_the_same_anchor(
    converged: Converged, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    second = run(converged.server, converged.spec, converged.store)

    assert second.changed == [] and not second.initialized_now
    assert second.root_ca_pem.encode() == converged.first.root_ca_pem.encode()
    with converged.admin() as admin:
        assert differences(owned_state(admin, converged.spec), converged.baseline) == {}
    assert material(converged.store).root_token is None
    assert_no_privileged_token_left(converged)
    # Every field the server reports for an owned object is one the bootstrap writes or knows the default of.
    assert "does not know" not in caplog.text


# --- Drift: any field of any object the bootstrap owns -------------------------------------------------------------

def _write(path: str, data: dict[str, Any]) -> Callable[[hvac.Client, BootstrapSpec], None]:
    return lambda admin, _spec: admin.write_data(path, data=data)


def _import_foreign_default_issuer(admin: hvac.Client, spec: BootstrapSpec) -> None:
    tls = make_tls(Path(os.environ.get("TMPDIR", "/tmp")) / f"foreign-{os.getpid()}", "foreign")
    bundle = tls.ca_pem + Path(tls.cert_path).read_text()
    imported = admin.write_data(f"{spec.pki_path}/issuers/import/cert", data={"pem_bundle": tls.ca_pem})
    foreign = imported["data"]["imported_issuers"][0]
    admin.write_data(f"{spec.pki_path}/config/issuers", data={"default": foreign})
    assert bundle


DRIFTS: list[tuple[str, Callable[[hvac.Client, BootstrapSpec], None], list[str]]] = [
    ("role: namespace selector added", _write("auth/kubernetes/role/cert-manager", {
        "bound_service_account_namespace_selector": '{"matchLabels":{"team":"any"}}'}), ["cert-manager-role"]),
    ("role: extra policy and default policy", _write("auth/kubernetes/role/cert-manager", {
        "token_policies": ["cert-manager-linkerd-issuer", "vault-raft-snapshot"], "token_no_default_policy": False}),
     ["cert-manager-role"]),
    ("role: deprecated policies alias", _write("auth/kubernetes/role/vault-snapshot", {"policies": ["root"]}),
     ["snapshot-role"]),
    ("role: token type, CIDRs, uses, period", _write("auth/kubernetes/role/cert-manager", {
        "token_type": "service", "token_bound_cidrs": ["10.0.0.0/8"], "token_num_uses": 3, "token_period": 60}),
     ["cert-manager-role"]),
    ("role: deleted", lambda admin, _s: admin.delete("auth/kubernetes/role/vault-snapshot"), ["snapshot-role"]),
    ("policy: extra path", lambda admin, s: admin.sys.create_or_update_acl_policy(
        s.cert_manager_policy, cert_manager_policy(s) + 'path "sys/*" {\n  capabilities = ["sudo", "read"]\n}\n'),
     ["cert-manager-policy"]),
    ("policy: deleted", lambda admin, s: admin.sys.delete_acl_policy(s.snapshot_policy), ["snapshot-policy"]),
    ("PKI mount tuned", _write("sys/mounts/pki/tune", {
        "default_lease_ttl": "1h", "audit_non_hmac_request_keys": ["csr"], "listing_visibility": "unauth",
        "description": "changed"}), ["pki-tune"]),
    ("PKI max TTL shortened", _write("sys/mounts/pki/tune", {"max_lease_ttl": "1h"}), ["pki-tune"]),
    ("PKI URLs changed", _write("pki/config/urls", {
        "issuing_certificates": ["http://elsewhere/ca"], "ocsp_servers": ["http://ocsp"]}), ["pki-urls"]),
    ("anchor issuer settings", _write("pki/issuer/trust-anchor", {
        "issuer_name": "trust-anchor", "usage": "read-only,issuing-certificates",
        "leaf_not_after_behavior": "truncate"}),
     ["root-ca-issuer"]),
    ("anchor issuer renamed", _write("pki/issuer/trust-anchor", {"issuer_name": "renamed"}), ["root-ca-issuer"]),
    ("foreign issuer made default", _import_foreign_default_issuer, ["root-ca-default"]),
    ("auth method disabled", lambda admin, _s: admin.sys.disable_auth_method("kubernetes"),
     ["kubernetes-auth", "kubernetes-auth-config", "cert-manager-role", "snapshot-role", "rotation-role",
      "credential-report-role"]),
    ("auth method tuned", _write("sys/auth/kubernetes/tune", {"token_type": "batch", "default_lease_ttl": "10h",
                                                              "description": "changed"}), ["kubernetes-auth-tune"]),
    ("auth config: CA, reviewer JWT, issuer", lambda admin, s: admin.write_data("auth/kubernetes/config", data={
        "kubernetes_host": "https://elsewhere:6443", "kubernetes_ca_cert": make_tls(
            Path(os.environ.get("TMPDIR", "/tmp")) / f"kca-{os.getpid()}", "k").ca_pem,
        "token_reviewer_jwt": "a.b.c", "issuer": "https://issuer"}), ["kubernetes-auth-config"]),
    ("audit device disabled", lambda admin, s: admin.sys.disable_audit_device(s.audit_path), ["audit-device"]),
    ("audit bridge left by a run killed mid-swap", lambda admin, s: admin.sys.enable_audit_device(
        "file", path=f"{s.audit_path}-replacing", options={"file_path": "stdout"}), ["audit-device"]),
    ("audit device logs raw values", lambda admin, s: (
        admin.sys.disable_audit_device(s.audit_path),
        admin.sys.enable_audit_device("file", path=s.audit_path, options={"file_path": "stdout", "log_raw": "true"})),
     ["audit-device"]),
]


# One drift per object and round, so each round checks several objects at once; every drift is in one round.
ROUNDS = [
    ["role: namespace selector added", "policy: extra path", "PKI mount tuned", "PKI URLs changed",
     "anchor issuer settings", "auth config: CA, reviewer JWT, issuer", "audit device disabled"],
    ["role: extra policy and default policy", "role: deprecated policies alias", "policy: deleted",
     "PKI max TTL shortened", "anchor issuer renamed", "auth method tuned", "audit device logs raw values"],
    ["role: token type, CIDRs, uses, period", "role: deleted", "foreign issuer made default"],
    ["auth method disabled", "audit bridge left by a run killed mid-swap"],
]


def test_every_drift_is_in_exactly_one_round() -> None:
    assert sorted(name for names in ROUNDS for name in names) == sorted(name for name, _, _ in DRIFTS)


@pytest.mark.parametrize("names", ROUNDS, ids=[f"round {i + 1}" for i in range(len(ROUNDS))])
def test_drift_is_restored(converged: Converged, names: list[str]) -> None:
    drifts = {name: (change, expected) for name, change, expected in DRIFTS}
    with converged.admin() as admin:
        for name in names:
            drifts[name][0](admin, converged.spec)
        assert owned_state_or_none(admin, converged.spec) != converged.baseline  # the hand changes took effect

        result = run(converged.server, converged.spec, converged.store)

        assert sorted(result.changed) == sorted({step for name in names for step in drifts[name][1]})
        assert result.root_ca_pem == converged.first.root_ca_pem
        assert differences(owned_state(admin, converged.spec), converged.baseline) == {}
        for issuer_id, info in admin.list("pki/issuers")["data"]["key_info"].items():
            if not info["key_id"]:  # the foreign issuer (a certificate only): not the bootstrap's, removed here
                admin.delete(f"pki/issuer/{issuer_id}")
    # A restored object reads back as the first run left it, so the next run (test_rerun...) finds nothing to do.


def owned_state_or_none(admin: hvac.Client, spec: BootstrapSpec) -> dict[str, Any] | None:
    try:
        return owned_state(admin, spec)
    except (hvac.exceptions.VaultError, KeyError, TypeError):
        return None  # an object is gone
# --- cert-manager's own login and signing request --------------------------------------------------------------------

def cert_manager_csr(common_name: str) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """The CSR cert-manager sends for the Linkerd identity issuer Certificate (cert_specs: ECDSA P-256, isCA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM), key


def test_cert_manager_logs_in_and_signs_the_linkerd_issuer_chained_to_the_anchor(
    converged: Converged, token_reviewer: TokenReviewer,
) -> None:
    spec, url = converged.spec, converged.server.url
    issuer = cert_specs.vault_cluster_issuer(url, spec.signing_path, converged.server.ca_pem, spec.kubernetes_auth_path,
                                             spec.cert_manager_role, spec.audience)["vault"]
    # Ref: https://github.com/cert-manager/cert-manager/blob/v1.21.1/internal/vault/vault.go
    # (requestTokenWithKubernetesAuth: a TokenRequest for serviceAccountRef with the issuer's audiences + "vault://<name>"
    # + spec.vault.server, then POST <mountPath>/login {"role", "jwt"}; Sign: POST /v1/<path> with the CSR's names as
    # strings, ttl = the duration's Go String(), exclude_cn_from_sans "true").
    auth = issuer["auth"]["kubernetes"]
    jwt = token_reviewer.service_account_token(
        auth["serviceAccountRef"]["name"], spec.cert_manager_namespace,
        [*auth["serviceAccountRef"]["audiences"], "vault://vault-issuer", issuer["server"]])
    http = requests.Session()
    http.verify, http.trust_env = converged.server.ca_path, False  # no CA bundle from the environment
    login = http.post(f"{url}{auth['mountPath']}/login", json={"role": auth["role"], "jwt": jwt}, timeout=10)
    assert login.status_code == 200, login.text
    token = login.json()["auth"]
    assert token["policies"] == [spec.cert_manager_policy] and token["lease_duration"] == 300
    common_name = "identity.linkerd.cluster.local"
    csr, _key = cert_manager_csr(common_name)
    body = {"common_name": common_name, "alt_names": common_name, "ip_sans": "", "uri_sans": "",
            "ttl": "2160h0m0s", "csr": csr.decode(), "exclude_cn_from_sans": "true"}

    signed = http.post(f"{url}/v1/{issuer['path']}", json=body, headers={"X-Vault-Token": token["client_token"]},
                       timeout=10)

    assert signed.status_code == 200, signed.text
    data = signed.json()["data"]
    assert data["issuing_ca"].strip() == converged.first.root_ca_pem.strip()
    cert = x509.load_pem_x509_certificate(data["certificate"].encode())
    anchor = x509.load_pem_x509_certificate(converged.first.root_ca_pem.encode())
    cert.verify_directly_issued_by(anchor)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0  # the Linkerd issuer cannot mint further CAs
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() <= 2160 * 3600 + 60
    assert cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value[0].access_location.value \
        == f"{spec.vault_url}/v1/{spec.pki_path}/ca"
    # The token may do nothing else; a token for another service account does not log in at all.
    other = http.get(f"{url}/v1/{SNAPSHOT_PATH}", headers={"X-Vault-Token": token["client_token"]}, timeout=10)
    assert other.status_code == 403
    stranger = token_reviewer.service_account_token("default", spec.cert_manager_namespace, [spec.audience])
    assert http.post(f"{url}{auth['mountPath']}/login", json={"role": auth["role"], "jwt": stranger},
                     timeout=10).status_code == 403


# --- The snapshot CronJob's own script, and the restore runbook ------------------------------------------------------

def vault_cli_env(tmp_path: Path, server: OpenBaoServer) -> dict[str, str]:
    """`vault` on PATH is OpenBao's CLI (command-compatible for these commands), pointed at `server`."""
    binary = bao_binary()
    assert binary
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    with contextlib.suppress(FileExistsError):
        (bin_dir / "vault").symlink_to(binary)
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "VAULT_ADDR": server.url,
            "VAULT_CACERT": server.ca_path}


def sh(script: str, env: dict[str, str]) -> str:
    done = subprocess.run(["/bin/sh", "-ec", script], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_snapshot_cronjob_script_then_restore_into_a_fresh_server_keeps_the_anchor(
    converged: Converged, token_reviewer: TokenReviewer, openbao_factory: Callable[..., OpenBaoServer],
    tmp_path: Path,
) -> None:
    spec = converged.spec
    args = SnapshotJobArgs(namespace="vault", schedule="17 3 * * *", service_account=spec.snapshot_service_account,
                           vault_role=spec.snapshot_role, audience=spec.snapshot_audience,
                           auth_mount=spec.kubernetes_auth_path, ca_secret="vault-server-tls", bucket="b",
                           kms_key_arn="k", region="us-east-1")
    # The pod's mounts, moved into tmp_path: the projected token and the snapshot volume.
    (tmp_path / "token").write_text(token_reviewer.service_account_token(
        spec.snapshot_service_account, spec.snapshot_namespace, [spec.snapshot_audience]))
    snap = tmp_path / "vault.snap"
    # docs/vault-restore.md section 3, step 2, on a fresh server with the same (transit) unseal key: started and
    # initialised (a raft election, ~1.5 s of waiting) while the snapshot is taken.
    with ThreadPoolExecutor(max_workers=1) as pool:
        fresh_init = pool.submit(init_throwaway, openbao_factory, tmp_path / "fresh")
        script = snapshot_script(args).replace(f"{TOKEN_DIR}/token", str(tmp_path / "token")).replace(
        SNAPSHOT_FILE, str(snap))

        out = sh(script, vault_cli_env(tmp_path, converged.server))

        assert out.strip() == f"saved {snap.stat().st_size} bytes" and snap.read_bytes()[:2] == b"\x1f\x8b"  # gzip
        assert snapshot_policy(spec).count("path ") == 1
        fresh, env, init = fresh_init.result()
    assert "bao-0" in sh("vault operator raft list-peers", env)
    sh(f"vault operator raft snapshot restore -force {snap}", env)  # step 3
    wait_active(fresh)
    with pytest.raises(hvac.exceptions.Forbidden):  # the throwaway root token went with the throwaway keyring
        fresh.client(init["root_token"]).auth.token.lookup_self()

    after = run(fresh, spec, converged.store)  # step 5: the bootstrap with the recovery keys in the secret

    assert after.changed == [] and not after.initialized_now
    assert after.root_ca_pem == converged.first.root_ca_pem


def init_throwaway(factory: Callable[..., OpenBaoServer], home: Path) -> tuple[OpenBaoServer, dict[str, str], Any]:
    """The runbook's throwaway initialisation of the empty Vault, with the CLI."""
    home.mkdir()
    fresh = factory()
    env = vault_cli_env(home, fresh)
    init = json.loads(sh("vault operator init -recovery-shares=1 -recovery-threshold=1 -format=json", env))
    env["VAULT_TOKEN"] = init["root_token"]
    wait_active(fresh)
    return fresh, env, init


def wait_active(server: OpenBaoServer) -> None:
    import time  # only here: the one polling loop of this module

    client = server.client()
    for _ in range(200):
        with contextlib.suppress(OSError, hvac.exceptions.VaultError):
            leader = client.sys.read_leader_status()
            if leader.get("is_self") and not client.sys.read_seal_status()["sealed"]:
                return
        time.sleep(0.05)
    raise AssertionError(f"{server.url} did not become active:\n{server.log_tail()}")


# --- The dynamic provider as Pulumi calls it -------------------------------------------------------------------------

REGION = "eu-west-1"


def registered_props(spec: BootstrapSpec, server: OpenBaoServer, secret_arn: str) -> dict[str, Any]:
    """The inputs VaultBootstrap registers, as the engine hands them to the provider (numbers come back as floats)."""
    inputs = {"kubeconfig": "apiVersion: v1\nkind: Config\n", "namespace": "vault", "pod_name": "vault-0",
              "port": 8200, "vault_ca_pem": server.ca_pem, "recovery_secret_arn": secret_arn, "region": REGION,
              **spec_to_props(spec)}
    return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in inputs.items()}


def test_provider_create_diff_update_through_the_port_forward_and_secrets_manager(
    openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = openbao_factory()
    streams: list[socket.socket] = []

    def local_stream() -> socket.socket:  # stands in for the pod's port-forward websocket
        stream = socket.create_connection(server.address)
        streams.append(stream)
        return stream

    # The provider calls converge(props) as in a deployment; only the stream to the pod is replaced.
    monkeypatch.setattr(vault_bootstrap, "converge", functools.partial(vault_bootstrap.converge,
                                                                       open_stream=local_stream))
    spec = spec_for(token_reviewer)
    provider = VaultBootstrapProvider()
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(Name="vault-recovery", KmsKeyId="alias/aws/secretsmanager")["ARN"]
        props = registered_props(spec, server, arn)

        created = provider.create(props)

        assert created.id == "vault/vault-0" and streams
        assert created.outs["spec_hash"] == spec_hash(spec)
        anchor = created.outs["root_ca_pem"]
        kept = RecoveryMaterial.from_json(secrets.get_secret_value(SecretId=arn)["SecretString"])
        assert kept is not None and len(kept.recovery_keys_b64) == 5 and kept.root_token is None
        versions = secrets.list_secret_version_ids(SecretId=arn)["Versions"]
        assert len(versions) >= 3  # marker, material with the initial root token, material without it

        olds = {**props, **created.outs}
        assert provider.diff(created.id, olds, props).changes is False
        changed = spec_for(token_reviewer, cert_manager_token_ttl_seconds=120)
        new_props = registered_props(changed, server, arn)
        assert provider.diff(created.id, olds, new_props).changes is True

        updated = provider.update(created.id, olds, new_props)

        assert updated.outs == {"root_ca_pem": anchor, "spec_hash": spec_hash(changed)}
        with root_client(server, kept.recovery_keys_b64) as admin:
            role = admin.read(f"auth/kubernetes/role/{spec.cert_manager_role}")["data"]
            assert role["token_ttl"] == role["token_max_ttl"] == 120
            assert privileged_accessors(admin) == {admin.auth.token.lookup_self()["data"]["accessor"]}


# --- Failures --------------------------------------------------------------------------------------------------------

def test_kms_unreachable_during_init_is_reported_and_the_rerun_says_the_storage_must_go(
    openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer, tmp_path: Path,
) -> None:
    kms = start_transit(tmp_path / "kms")
    server = openbao_factory(transit=kms)
    kms.stop()
    store = InMemorySecretStore()
    try:
        with pytest.raises(VaultBootstrapError, match=(
                r"initialise Vault: Vault could not use its seal's key .*transit/encrypt")):
            run(server, spec_for(token_reviewer), store)
        assert RecoveryMaterial.from_json(store.get()) is None  # only the marker
        # OpenBao wrote the seal configuration before the KMS call failed: initialised, sealed, no keys anywhere.
        assert server.client().sys.read_seal_status()["initialized"] is True
        kms.start()

        with pytest.raises(VaultBootstrapError, match=r"did not complete here.*delete Vault's storage"):
            run(server, spec_for(token_reviewer), store)
    finally:
        kms.stop()


def test_an_unusable_kms_key_leaves_vault_sealed_and_the_run_says_so_writing_nothing(
    openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer, tmp_path: Path,
) -> None:
    kms = start_transit(tmp_path / "kms")
    server = openbao_factory(transit=kms)
    store = InMemorySecretStore()
    run(server, spec_for(token_reviewer), store)
    writes = len(store.writes)
    try:
        kms.stop()
        server.kill()
        with pytest.raises(RuntimeError, match='Error configuring seal "transit"'):
            server.start()  # with the KMS down the server does not even start (the pod crash-loops)
        with pytest.raises(VaultBootstrapError, match="read seal status: Vault is unreachable"):
            run(server, spec_for(token_reviewer), store, ready_timeout_s=0, sleep=lambda _s: None)
        kms.start()  # reachable again, but a different key (like a KMS key the IRSA role may no longer use)
        server.start()

        with pytest.raises(VaultBootstrapError, match=r"initialised but sealed.*transit seal.*cannot reach") as err:
            run(server, spec_for(token_reviewer), store)

        assert "Recovery keys cannot unseal" in str(err.value) and len(store.writes) == writes
        assert server.client().sys.read_seal_status()["sealed"] is True
    finally:
        kms.stop()


def test_a_token_without_privileges_in_the_secret_gives_a_403_naming_the_step_and_is_revoked(
    converged: Converged,
) -> None:
    with converged.admin() as admin:
        # An orphan: a child of the admin token would die with it when the block ends.
        weak = admin.auth.token.create(policies=["default"], ttl="10m", no_parent=True)["auth"]["client_token"]
    keys = material(converged.store).recovery_keys_b64
    store = InMemorySecretStore(RecoveryMaterial(keys, 3, weak).to_json())

    with pytest.raises(VaultBootstrapError, match="audit device: Vault answered 403 permission denied") as err:
        run(converged.server, converged.spec, store)

    assert weak not in str(err.value) and not any(k in str(err.value) for k in keys)
    assert material(store).root_token is None  # revoke-self is allowed to any token: it was revoked
    with pytest.raises(hvac.exceptions.Forbidden):
        converged.server.client(weak).auth.token.lookup_self()
    assert run(converged.server, converged.spec, store).changed == []  # the next run generates a root token


def test_a_listener_certificate_from_another_ca_is_refused(converged: Converged, tmp_path: Path) -> None:
    other = make_tls(tmp_path / "other", "vault")
    client = hvac.Client(url=converged.server.url, verify=str(other.ca_path), token="", timeout=5)  # type: ignore[no-untyped-call]

    with pytest.raises(VaultBootstrapError, match=(
            r"read seal status: Vault is unreachable at .*: Vault's listener certificate is not signed by the CA")):
        bootstrap(client, converged.spec, InMemorySecretStore(), LOG, ready_timeout_s=0, sleep=lambda _s: None)


def test_refuses_to_initialise_over_recovery_keys_of_an_earlier_initialisation(
    fresh_openbao: OpenBaoServer, token_reviewer: TokenReviewer,
) -> None:
    store = InMemorySecretStore(RecoveryMaterial(("a2V5",), 1).to_json())
    with pytest.raises(VaultBootstrapError, match="refusing to initialise again"):
        run(fresh_openbao, spec_for(token_reviewer), store)
    assert store.writes == [] and fresh_openbao.client().sys.read_seal_status()["initialized"] is False


def test_other_seal_types_are_refused(converged: Converged, token_reviewer: TokenReviewer) -> None:
    with pytest.raises(VaultBootstrapError, match=r"reports seal type 'transit'.*expects the awskms auto-unseal"):
        run(converged.server, spec_for(token_reviewer, seal_type="awskms"), InMemorySecretStore())


def test_openbao_defaults_are_named_in_the_errors(
    openbao_factory: Callable[..., OpenBaoServer], token_reviewer: TokenReviewer,
) -> None:
    """OpenBao's own defaults refuse two things Vault 2.0 allows; each error names the setting to change."""
    server = openbao_factory(openbao_defaults=True)
    store = InMemorySecretStore()

    with pytest.raises(VaultBootstrapError, match=r"audit device: .*`unsafe_allow_api_audit_creation = true`"):
        run(server, spec_for(token_reviewer), store)
    with pytest.raises(VaultBootstrapError,
                       match=r"generate a root token: .*`disable_unauthed_generate_root_endpoints = false`"):
        run(server, spec_for(token_reviewer), store)  # the initial root token was revoked: generate-root is next


def test_recovery_material_that_cannot_be_stored_stops_the_run_and_the_root_token_dies(
    fresh_openbao: OpenBaoServer, token_reviewer: TokenReviewer,
) -> None:
    class FailsAfterMarker(InMemorySecretStore):
        def put(self, value: str) -> None:
            if self.writes:
                self.refused = value  # what would have been stored: the only copy of the keys and the root token
                raise PermissionError("AccessDeniedException")
            super().put(value)

    store = FailsAfterMarker()
    with pytest.raises(VaultBootstrapError, match=r"could not be written to the recovery secret.*delete Vault's"):
        run(fresh_openbao, spec_for(token_reviewer), store, sleep=lambda _s: None)

    token = json.loads(store.refused)["root_token"]
    with pytest.raises(hvac.exceptions.Forbidden):
        fresh_openbao.client(token).auth.token.lookup_self()  # revoked before giving up: nobody could ever hold it


def test_initialised_elsewhere_without_keys_in_the_secret_is_refused(converged: Converged) -> None:
    with pytest.raises(VaultBootstrapError, match="holds no recovery keys"):
        run(converged.server, converged.spec, InMemorySecretStore())
