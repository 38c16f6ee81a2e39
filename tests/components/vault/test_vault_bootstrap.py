"""Vault bootstrap against an HTTP-level Vault double: first run, re-runs, failures, and the dynamic resource."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import pickle
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import dill
import hvac
import pulumi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from pulumi.dynamic.dynamic import serialize_provider

from components.vault.bootstrap.steps import (
    BootstrapSpec,
    InMemorySecretStore,
    RecoveryMaterial,
    SecretsManagerStore,
    VaultBootstrapError,
    bootstrap,
    cert_manager_default_audience,
    cert_manager_policy,
    decode_root_token,
    spec_from_props,
    spec_hash,
    spec_to_props,
)
from components.vault.vault_bootstrap import (
    CONNECTION_INPUTS,
    OUTPUTS,
    PortForward,
    VaultBootstrap,
    VaultBootstrapArgs,
    VaultBootstrapProvider,
)
from tests.conftest import STACKS, plan_of
from tests.helpers.vault_double import VaultDouble, encode_root_token, self_signed_ca

SPEC = BootstrapSpec(root_common_name="mtls-platform test root", audience=cert_manager_default_audience("vault-issuer"))
LOG = logging.getLogger("test.vault_bootstrap")
ALL_STEPS = ["initialise", "audit-device", "pki-mount", "root-ca", "pki-urls", "kubernetes-auth",
             "kubernetes-auth-config", "cert-manager-policy", "cert-manager-role", "snapshot-policy", "snapshot-role"]


class RecordingStore(InMemorySecretStore):
    """Notes how many Vault writes had happened at each put."""

    def __init__(self, vault: VaultDouble, value: str | None = None) -> None:
        super().__init__(value)
        self.vault_writes_at_put: list[list[tuple[str, str]]] = []
        self._vault = vault

    def put(self, value: str) -> None:
        self.vault_writes_at_put.append(list(self._vault.writes))
        super().put(value)

    @property
    def material(self) -> RecoveryMaterial | None:
        return RecoveryMaterial.from_json(self.get())


@pytest.fixture
def vault() -> Iterator[VaultDouble]:
    with VaultDouble() as double:
        yield double


def client_for(url: str) -> hvac.Client:
    return hvac.Client(url=url, token="", timeout=5)


def run(vault: VaultDouble, store: InMemorySecretStore, spec: BootstrapSpec = SPEC) -> Any:
    return bootstrap(client_for(vault.url), spec, store, LOG, ready_timeout_s=2, sleep=lambda _s: None)


def previously_initialised(vault: VaultDouble) -> RecordingStore:
    """A Vault initialised by an earlier run, whose root token that run revoked."""
    keys, root = vault.initialise_out_of_band()
    vault.state.tokens.discard(root)
    return RecordingStore(vault, RecoveryMaterial(tuple(keys), 3).to_json())


def secrets_of(store: InMemorySecretStore, vault: VaultDouble) -> list[str]:
    values: list[str] = []
    for write in store.writes:
        blob = json.loads(write)
        values += blob.get("recovery_keys_b64", []) + ([blob["root_token"]] if blob.get("root_token") else [])
    return values + [base64.b64encode(k).decode() for k in vault.state.recovery_keys]


# --- First run -----------------------------------------------------------------------------------------------------

def test_fresh_vault_is_initialised_and_configured(vault: VaultDouble, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = RecordingStore(vault)

    result = run(vault, store)

    assert result.initialized_now and result.changed == ALL_STEPS
    # The recovery material is stored before any Vault write but the init itself (a marker proves access first).
    assert store.vault_writes_at_put[0] == []
    assert store.vault_writes_at_put[1] == [("PUT", "sys/init")]
    assert json.loads(store.writes[1])["root_token"] and len(json.loads(store.writes[1])["recovery_keys_b64"]) == 5
    # The initial root token is revoked and removed from the secret; the recovery keys stay.
    assert vault.state.tokens == set()
    assert vault.writes[-1] == ("POST", "auth/token/revoke-self")
    material = store.material
    assert material is not None and material.root_token is None
    assert len(material.recovery_keys_b64) == 5 and material.recovery_threshold == 3
    # No key share or token in any log line.
    assert not any(secret in caplog.text for secret in secrets_of(store, vault))


def test_root_ca_is_an_ecdsa_p256_ca_generated_inside_vault(vault: VaultDouble) -> None:
    result = run(vault, RecordingStore(vault))

    cert = x509.load_pem_x509_certificate(result.root_ca_pem.encode())
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 1
    assert cert.subject.rfc4514_string() == "CN=mtls-platform test root"
    assert result.root_ca_pem.strip() == vault.state.ca_pem["pki"]
    assert ("POST", "pki/root/generate/internal") in vault.writes  # "internal": the key never leaves Vault
    assert vault.state.mounts["pki/"]["config"]["max_lease_ttl"] >= SPEC.root_ttl_hours * 3600


def test_cert_manager_may_call_exactly_one_endpoint(vault: VaultDouble) -> None:
    run(vault, RecordingStore(vault))

    policy = vault.state.policies[SPEC.cert_manager_policy]
    assert re.findall(r'path "([^"]+)"', policy) == ["pki/root/sign-intermediate"]
    assert re.findall(r"capabilities = \[([^\]]*)\]", policy) == ['"update"']
    role = vault.state.roles["kubernetes/cert-manager"]
    assert role["bound_service_account_names"] == ["vault-issuer"]
    assert role["bound_service_account_namespaces"] == ["cert-manager"]
    assert role["audience"] == "vault://vault-issuer"
    assert role["token_policies"] == [SPEC.cert_manager_policy] and role["token_no_default_policy"] is True
    assert role["token_ttl"] == role["token_max_ttl"] == 300
    assert vault.state.k8s_config["kubernetes"]["kubernetes_host"] == "https://kubernetes.default.svc"
    assert vault.state.k8s_config["kubernetes"]["disable_local_ca_jwt"] is False
    assert vault.state.audit["file/"]["options"] == {"file_path": "stdout"}
    assert vault.state.urls["pki"]["issuing_certificates"] == ["https://vault.vault.svc:8200/v1/pki/ca"]


# --- Re-runs -------------------------------------------------------------------------------------------------------

def test_second_run_changes_nothing(vault: VaultDouble) -> None:
    store = RecordingStore(vault)
    first = run(vault, store)
    writes_before = len(vault.writes)

    second = run(vault, store)

    assert second.changed == [] and not second.initialized_now
    assert second.root_ca_pem == first.root_ca_pem and vault.state.root_generations == 1
    writes = vault.writes[writes_before:]
    # Only the privileged token's own lifecycle writes: generate-root (start + 3 shares), then revoke-self.
    assert writes == [("PUT", "sys/generate-root/attempt")] + [("PUT", "sys/generate-root/update")] * 3 + [
        ("POST", "auth/token/revoke-self")]
    assert vault.state.tokens == set()
    assert store.material is not None and store.material.root_token is None


def test_already_initialised_vault_uses_generate_root_and_keeps_its_root_ca(
    vault: VaultDouble, caplog: pytest.LogCaptureFixture,
) -> None:
    store = previously_initialised(vault)
    existing = self_signed_ca("an offline root", 3600, None)
    vault.state.mounts["pki/"] = {"type": "pki", "config": {"default_lease_ttl": 0, "max_lease_ttl": 315360000}}
    vault.state.ca_pem["pki"] = existing

    result = run(vault, store)

    assert not result.initialized_now and "initialise" not in result.changed and "root-ca" not in result.changed
    assert ("PUT", "sys/init") not in vault.writes
    assert vault.state.root_generations == 0 and result.root_ca_pem == existing + "\n"
    assert "differs from the spec" in caplog.text
    assert vault.state.tokens == set()


def test_abandoned_root_generation_attempt_is_cancelled_first(vault: VaultDouble) -> None:
    store = previously_initialised(vault)
    vault.state.attempt = {"nonce": "stale", "otp": "x" * 28, "keys": []}

    run(vault, store)

    assert ("DELETE", "sys/generate-root/attempt") in vault.writes


def test_partially_failed_run_can_be_rerun(vault: VaultDouble) -> None:
    store = RecordingStore(vault)
    vault.fail_once[("POST", "auth/kubernetes/role/cert-manager")] = 500

    with pytest.raises(VaultBootstrapError, match="cert-manager role: Vault answered InternalServerError"):
        run(vault, store)
    assert vault.state.tokens == set()  # revoked in spite of the failure
    assert store.material is not None and store.material.root_token is None

    result = run(vault, store)
    assert result.changed == ["cert-manager-role", "snapshot-policy", "snapshot-role"] and not result.initialized_now


def test_token_left_by_an_interrupted_run_is_used_then_revoked(vault: VaultDouble) -> None:
    keys, root = vault.initialise_out_of_band()
    store = RecordingStore(vault, RecoveryMaterial(tuple(keys), 3, root).to_json())

    run(vault, store)

    assert not any(path.startswith("sys/generate-root") for _, path in vault.writes)
    assert vault.state.tokens == set()
    assert store.material is not None and store.material.root_token is None


# --- Failures ------------------------------------------------------------------------------------------------------

def test_sealed_after_init_is_reported_as_a_seal_problem(vault: VaultDouble) -> None:
    store = previously_initialised(vault)
    vault.state.sealed = True

    with pytest.raises(VaultBootstrapError, match=r"initialised but sealed.*awskms.*IRSA") as err:
        run(vault, store)
    assert vault.writes == [] and store.writes == []
    assert "Recovery keys cannot unseal" in str(err.value)


def test_permission_denied_is_a_clear_error_and_the_token_is_kept_for_revocation(vault: VaultDouble) -> None:
    store = previously_initialised(vault)
    vault.state.deny_all = True

    with pytest.raises(VaultBootstrapError, match="audit device: Vault answered 403 permission denied") as err:
        run(vault, store)
    assert not any(secret in str(err.value) for secret in secrets_of(store, vault))
    # revoke-self was refused too, so the generated token waits in the secret for the next run to revoke it.
    assert store.material is not None and store.material.root_token in vault.state.tokens

    vault.state.deny_all = False
    run(vault, store)
    assert vault.state.tokens == set() and store.material is not None and store.material.root_token is None


def test_recovery_material_that_cannot_be_stored_stops_the_run_and_the_root_token_dies(vault: VaultDouble) -> None:
    class FailsAfterMarker(InMemorySecretStore):
        def put(self, value: str) -> None:
            if self.writes:
                raise PermissionError("AccessDeniedException")
            super().put(value)

    with pytest.raises(VaultBootstrapError, match="could not be written to the recovery secret"):
        run(vault, FailsAfterMarker())
    assert vault.state.initialized and vault.state.tokens == set()
    assert vault.config_writes == []


def test_unreachable_vault(vault: VaultDouble) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]
    client = client_for(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(VaultBootstrapError, match="read seal status: Vault is unreachable"):
        bootstrap(client, SPEC, InMemorySecretStore(), LOG, ready_timeout_s=0, sleep=lambda _s: None)


def test_refuses_to_initialise_over_existing_recovery_material(vault: VaultDouble) -> None:
    store = RecordingStore(vault, RecoveryMaterial(("a2V5",), 1).to_json())

    with pytest.raises(VaultBootstrapError, match="refusing to initialise again"):
        run(vault, store)
    assert vault.writes == [] and store.writes == []


def test_initialised_vault_without_recovery_keys_in_the_secret(vault: VaultDouble) -> None:
    vault.initialise_out_of_band()
    with pytest.raises(VaultBootstrapError, match="holds no recovery keys"):
        run(vault, RecordingStore(vault))


def test_other_seal_types_are_refused(vault: VaultDouble) -> None:
    spec = BootstrapSpec(root_common_name="r", audience="a", seal_type="gcpckms")
    with pytest.raises(VaultBootstrapError, match="expects the gcpckms auto-unseal"):
        run(vault, RecordingStore(vault), spec)


# --- Pure helpers --------------------------------------------------------------------------------------------------

def test_root_token_decoding_reverses_vaults_encoding() -> None:
    token, otp = "hvs." + "A1b2C3d4" * 3, "Z" * 14 + "9" * 14
    assert decode_root_token(encode_root_token(token, otp), otp) == token
    with pytest.raises(VaultBootstrapError, match="differ in length"):
        decode_root_token(encode_root_token(token, otp), otp[:-1])


@pytest.mark.parametrize(("change", "message"), [
    ({"pki_max_ttl_hours": 100, "root_ttl_hours": 200}, "pki_max_ttl_hours"),
    ({"recovery_threshold": 6}, "threshold <= shares"),
    ({"root_key_type": "ec", "root_key_bits": 2048}, "not a supported key"),
    ({"audience": ""}, "audience must not be empty"),
    ({"pki_path": "pki/"}, "pki_path must not start or end"),
])
def test_spec_validation(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BootstrapSpec(**{"root_common_name": "r", "audience": "a", **change})


def test_spec_survives_the_engine_round_trip_and_hashes_stably() -> None:
    as_engine_returns = {k: float(v) if isinstance(v, int) else v for k, v in spec_to_props(SPEC).items()}
    assert spec_from_props(as_engine_returns) == SPEC
    assert spec_hash(spec_from_props(as_engine_returns)) == spec_hash(SPEC)
    assert 'path "pki/root/sign-intermediate"' in cert_manager_policy(SPEC)


def test_secrets_manager_store() -> None:
    class NotFound(Exception):
        pass

    class FakeSecretsManager:
        exceptions = type("E", (), {"ResourceNotFoundException": NotFound})
        value: str | None = None

        def get_secret_value(self, SecretId: str) -> dict[str, str]:  # boto3's parameter names
            if self.value is None:
                raise NotFound(SecretId)
            return {"ARN": SecretId, "SecretString": self.value}

        def put_secret_value(self, SecretId: str, SecretString: str) -> None:
            self.value = SecretString

    store = SecretsManagerStore("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x", "eu-west-1",
                                client=FakeSecretsManager())
    assert store.get() is None
    store.put('{"state": "initialising"}')
    assert store.get() == '{"state": "initialising"}'


# --- Dynamic resource ----------------------------------------------------------------------------------------------

def props(spec: BootstrapSpec = SPEC, **connection: Any) -> dict[str, Any]:
    base = {"kubeconfig": "apiVersion: v1", "namespace": "vault", "pod_name": "vault-0", "port": 8200.0,
            "vault_ca_pem": "-----BEGIN CERTIFICATE-----", "recovery_secret_arn": "arn:x", "region": "eu-west-1"}
    return {**base, **connection, **spec_to_props(spec)}


def test_diff_is_empty_for_identical_inputs_and_ignores_connection_details() -> None:
    provider = VaultBootstrapProvider()
    olds = {"root_ca_pem": "pem", "spec_hash": spec_hash(SPEC), "__provider": "p"}

    assert provider.diff("vault/vault-0", olds, props()).changes is False
    assert provider.diff("vault/vault-0", olds, props(kubeconfig="other", pod_name="vault-1")).changes is False
    changed = BootstrapSpec(root_common_name="r", audience="a", cert_manager_token_ttl_seconds=60)
    assert provider.diff("vault/vault-0", olds, props(changed)).changes is True
    assert provider.diff("vault/vault-0", {}, props()).changes is True
    unknown = {**props(), "root_ttl_hours": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}  # the engine's unknown sentinel
    assert provider.diff("vault/vault-0", olds, unknown).changes is True


def test_provider_pickles_for_the_state() -> None:
    restored = dill.loads(base64.b64decode(serialize_provider(VaultBootstrapProvider())))
    assert isinstance(restored, VaultBootstrapProvider)


def test_port_forward_bridge_carries_a_whole_bootstrap(vault: VaultDouble) -> None:
    opened: list[int] = []

    def open_stream() -> socket.socket:
        opened.append(1)
        return socket.create_connection(vault.address)

    with PortForward(open_stream) as port:
        result = bootstrap(client_for(f"http://127.0.0.1:{port}"), SPEC, RecordingStore(vault), LOG,
                           ready_timeout_s=2, sleep=lambda _s: None)
    assert result.changed == ALL_STEPS and opened


def test_port_forward_bridge_closes_cleanly_when_the_stream_fails() -> None:
    def refuse() -> socket.socket:
        raise OSError("pods/portforward forbidden")

    with PortForward(refuse) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(2)
        assert conn.recv(1) == b""  # closed, not hung


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_resource_registers_the_documented_inputs_and_outputs() -> None:
    registered: list[tuple[str, dict[str, Any]]] = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
            registered.append((args.typ, dict(args.inputs)))
            return "vault/vault-0", {**args.inputs, "root_ca_pem": "-----BEGIN CERTIFICATE-----\n"}

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
            return {}, None

    pulumi.runtime.set_mocks(Mocks(), project="mtls-platform", stack="test", preview=False)
    done = threading.Event()

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        resource = VaultBootstrap("vault-bootstrap", VaultBootstrapArgs(
            kubeconfig="{}", vault_ca_pem="ca", recovery_secret_arn="arn:x", region="eu-west-1", spec=SPEC))

        def verify(pem: str) -> None:
            typ, inputs = registered[0]
            assert typ == "pulumi-python:dynamic:Resource"
            # Outputs are declared as None props, which the SDK does not send as inputs.
            assert set(inputs) == {*CONNECTION_INPUTS, *spec_to_props(SPEC), "__provider"}
            assert OUTPUTS == ("root_ca_pem", "spec_hash")
            assert pem.startswith("-----BEGIN CERTIFICATE-----")
            done.set()

        return resource.root_ca_pem.apply(verify)

    check()
    assert done.is_set()


# --- State safety: the provider's stored path ------------------------------------------------------------------------
# Pulumi keeps a dynamic resource's provider in state as a dill pickle that names the class by module path; every
# stack deployed before the domain folders holds `components.vault_bootstrap_provider.VaultBootstrapProvider`.

OLD_PROVIDER_PATH = "components.vault_bootstrap_provider"


def test_the_old_module_path_still_imports_the_provider() -> None:
    shim = importlib.import_module(OLD_PROVIDER_PATH)
    assert shim.VaultBootstrapProvider is VaultBootstrapProvider


@pytest.mark.parametrize("stack", STACKS)
def test_the_registered_provider_names_the_path_existing_state_holds(stack: str) -> None:
    blob = plan_of(stack).one("pulumi-python:dynamic:Resource", "vault-bootstrap").inputs["__provider"]
    raw = base64.b64decode(blob)
    # By reference (module path + class name, no bytecode), and the reference is the old path.
    assert OLD_PROVIDER_PATH.encode() in raw and b"VaultBootstrapProvider" in raw
    assert b"components.vault.vault_bootstrap" not in raw and len(raw) < 200
    assert type(pickle.loads(raw)) is VaultBootstrapProvider  # what the provider process does with it
