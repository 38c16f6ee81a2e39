"""The Vault bootstrap's pure helpers and dynamic resource, and the two runs only a Vault 2.0 double can show.

Everything else runs against a real OpenBao server (test_bootstrap_openbao.py). The double
(tests/helpers/vault_double.py) stays for Vault 2.0 under awskms: its seal-status answer `type: awskms` with the
program's default spec, the order of writes (recovery material stored before any write but sys/init) and the awskms
wording of the sealed error.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import pickle
import socket
import threading
from collections.abc import Iterator
from typing import Any

import dill
import hvac
import pulumi
import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.vault.bootstrap.steps import (
    BootstrapSpec,
    InMemorySecretStore,
    RecoveryMaterial,
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
    SPEC_INPUTS,
    PortForward,
    VaultBootstrap,
    VaultBootstrapArgs,
    VaultBootstrapProvider,
)
from tests.conftest import STACKS, plan_of
from tests.helpers.vault_double import VaultDouble, encode_root_token

SPEC = BootstrapSpec(root_common_name="mtls-platform test root", audience=cert_manager_default_audience("vault-issuer"))
LOG = logging.getLogger("test.vault_bootstrap")
ALL_STEPS = ["initialise", "audit-device", "pki-mount", "root-ca", "pki-urls", "kubernetes-auth",
             "kubernetes-auth-config", "cert-manager-policy", "cert-manager-role", "snapshot-policy", "snapshot-role",
             "rotation-policy", "rotation-role", "credential-report-policy", "credential-report-role"]


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

def test_awskms_vault_is_initialised_with_recovery_keys_stored_before_any_write(
    vault: VaultDouble, caplog: pytest.LogCaptureFixture,
) -> None:
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


# --- Failures ------------------------------------------------------------------------------------------------------

def test_sealed_awskms_vault_points_at_the_irsa_role_and_the_key(vault: VaultDouble) -> None:
    store = previously_initialised(vault)
    vault.state.sealed = True

    with pytest.raises(VaultBootstrapError, match=r"initialised but sealed.*awskms.*IRSA") as err:
        run(vault, store)
    assert vault.writes == [] and store.writes == []
    assert "Recovery keys cannot unseal" in str(err.value)


def test_unreachable_vault(vault: VaultDouble) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]
    client = client_for(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(VaultBootstrapError, match="read seal status: Vault is unreachable"):
        bootstrap(client, SPEC, InMemorySecretStore(), LOG, ready_timeout_s=0, sleep=lambda _s: None)


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
            assert set(inputs) == {*CONNECTION_INPUTS, *SPEC_INPUTS, *spec_to_props(SPEC), "__provider"}
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
