"""Fast diagnosis when Vault is unreachable: a cause that waiting cannot heal is named in seconds, a transient one is
retried. Real OpenBao servers for TLS (wrong CA, a certificate without 127.0.0.1, plain HTTP) and for an unusable seal
key; a fake pod status for the crash-loop, image-pull and missing-pod cases (there is no cluster here: the gap is the
Kubernetes API's answer, whose fields are the PodStatus ones the diagnosis reads). Time is a fake clock advanced by
the bootstrap's own sleeps, so a 10-minute ready timeout costs nothing real.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from components.vault.bootstrap.api import transport_cause
from components.vault.bootstrap.recovery import InMemorySecretStore
from components.vault.bootstrap.spec import BootstrapSpec
from components.vault.bootstrap.steps import SEALED_READS, VaultBootstrapError, _wait_until_active, bootstrap
from components.vault.vault_bootstrap import PodDiagnosis, PortForward
from tests.helpers.openbao import (  # noqa: F401  # fixtures are found by name
    SKIP_NO_BAO,
    ServerFactory,
    TransitKms,
    bao_binary,
    make_tls,
    openbao_factory,
    openbao_transit,
    openbao_workdir,
    start_openbao,
    start_transit,
    token_reviewer,
)
from tests.helpers.vault_double import VaultDouble

LOG = logging.getLogger("test.vault_diagnosis")
SPEC = BootstrapSpec(root_common_name="test root", audience="vault://vault-issuer", seal_type="transit")
DOUBLE_SPEC = BootstrapSpec(root_common_name="test root", audience="vault://vault-issuer")  # the double is awskms
READY_TIMEOUT_S = 600.0  # the provider's default: a cause found by waiting it out would cost 10 minutes


class FakeTime:
    """The bootstrap's clock and sleep: sleeping advances the clock, nothing waits for real."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1


def run(client: hvac.Client, fake: FakeTime, spec: BootstrapSpec = SPEC, **kwargs: Any) -> Any:
    return bootstrap(client, spec, InMemorySecretStore(), LOG, ready_timeout_s=READY_TIMEOUT_S, sleep=fake.sleep,
                     clock=fake.clock, **kwargs)


def failure(client: hvac.Client, spec: BootstrapSpec = SPEC, **kwargs: Any) -> tuple[str, FakeTime, float]:
    """The bootstrap's error message, the fake time it spent, and the real seconds it took."""
    fake, started = FakeTime(), time.monotonic()
    with pytest.raises(VaultBootstrapError) as err:
        run(client, fake, spec, **kwargs)
    return str(err.value), fake, time.monotonic() - started


# --- TLS: causes that never heal, against real OpenBao listeners -------------------------------------------------

def test_a_listener_certificate_from_another_ca_is_named_at_once(
    openbao_factory: ServerFactory, tmp_path: Path,  # noqa: F811
) -> None:
    server = openbao_factory()
    other_ca = make_tls(tmp_path / "other", "vault")  # a CA that did not sign the listener's certificate

    message, fake, elapsed = failure(hvac.Client(url=server.url, verify=str(other_ca.ca_path), timeout=5))

    assert "read seal status" in message and "not signed by the CA given as vault_ca_pem" in message
    assert fake.sleeps == 0 and elapsed < 5


def server_certificate_without_127_0_0_1(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a listener certificate naming only vault.vault.svc (as if 127.0.0.1 were dropped from its SANs)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "listener CA")])

    def build(subject: x509.Name, public: Any, ca: bool) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(hours=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))

    ca = build(ca_name, ca_key.public_key(), True).sign(ca_key, hashes.SHA256())
    cert = (build(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "vault")]), key.public_key(), False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("vault.vault.svc")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def mismatched_listener(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real OpenBao whose listener certificate lacks 127.0.0.1 (in-memory storage: only seal-status is asked)."""
    binary = bao_binary()
    if binary is None:
        pytest.skip(SKIP_NO_BAO)
    ca_path, cert_path, key_path = server_certificate_without_127_0_0_1(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "openbao.hcl"
    config.write_text(f'disable_mlock = true\nstorage "inmem" {{}}\nlistener "tcp" {{\n  address = "127.0.0.1:{port}"\n'
                      f'  tls_cert_file = "{cert_path}"\n  tls_key_file = "{key_path}"\n}}\n')
    with (tmp_path / "openbao.log").open("wb") as log:
        process = subprocess.Popen([binary, "server", f"-config={config}"], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # listening is enough: the TLS handshake is what the test examines
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            pytest.fail(f"OpenBao did not listen on {port}: {(tmp_path / 'openbao.log').read_text()[-2000:]}")
        yield f"https://127.0.0.1:{port}", ca_path
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_listener_certificate_without_127_0_0_1_is_named_at_once(mismatched_listener: tuple[str, Path]) -> None:
    url, ca_path = mismatched_listener

    message, fake, elapsed = failure(hvac.Client(url=url, verify=str(ca_path), timeout=5))

    assert "does not name the IP address the bootstrap connects to" in message and "127.0.0.1" in message
    assert fake.sleeps == 0 and elapsed < 5


def test_a_port_without_tls_is_named_at_once(openbao_transit: TransitKms) -> None:  # noqa: F811
    # The transit stand-in listens over plain HTTP: what a Vault with TLS disabled on its listener would answer.
    url = openbao_transit.url.replace("http://", "https://")

    message, fake, elapsed = failure(hvac.Client(url=url, verify=True, timeout=5))

    assert "answers without TLS" in message and fake.sleeps == 0 and elapsed < 5


@pytest.mark.parametrize(("code", "text", "expected"), [
    (10, "certificate has expired", "not valid now"),
    (9, "certificate is not yet valid", "not valid now"),
    (62, "Hostname mismatch, certificate is not valid for 'vault'.", "does not name the host name"),
    (19, "self-signed certificate in certificate chain", "not signed by the CA given"),
])
def test_each_certificate_verdict_is_permanent_and_named(code: int, text: str, expected: str) -> None:
    # The shape requests hands over: its SSLError wraps urllib3's, which wraps ssl's verification error.
    verify = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {text}")
    verify.verify_code, verify.verify_message = code, text
    wrapped = OSError(OSError("Max retries exceeded"))
    wrapped.args[0].__cause__ = verify

    permanent, cause = transport_cause(wrapped)

    assert permanent and expected in cause and text in cause
    assert transport_cause(ConnectionRefusedError(111, "Connection refused"))[0] is False


# --- The seal's key ---------------------------------------------------------------------------------------------

def test_a_seal_key_vault_may_not_use_fails_initialisation_with_a_named_cause(tmp_path: Path) -> None:
    if bao_binary() is None:
        pytest.skip(SKIP_NO_BAO)
    transit = start_transit(tmp_path / "transit")  # its own KMS: this test takes the key away
    server = start_openbao(tmp_path / "server", transit, None)
    try:
        # The KMS now refuses this Vault (as KMS would with the IRSA role's kms:Encrypt gone): revoke its token.
        hvac.Client(url=transit.url, token=transit.token).auth.token.revoke_self()

        message, fake, elapsed = failure(server.client())

        assert message.startswith("initialise Vault: Vault could not use its seal's key")
        assert "permission denied" in message and "kms:Encrypt/Decrypt/DescribeKey" in message
        assert fake.sleeps == 0 and elapsed < 5
        # Why the message says to delete the storage: the half-done init left Vault "initialised" and sealed.
        status = server.client().sys.read_seal_status()
        assert (status["initialized"], status["sealed"]) == (True, True)
    finally:
        server.kill()
        transit.stop()


def test_a_vault_that_stays_sealed_is_reported_after_the_auto_unseal_window() -> None:
    with VaultDouble() as vault:
        vault.initialise_out_of_band()
        vault.state.sealed = True

        message, fake, _ = failure(hvac.Client(url=vault.url, timeout=5), DOUBLE_SPEC)

    assert "initialised but sealed" in message and "IRSA" in message
    assert fake.sleeps == SEALED_READS - 1 and fake.now == 2.0 * (SEALED_READS - 1)  # ~30 s, not 10 minutes


def test_a_vault_that_unseals_itself_while_starting_is_not_a_seal_problem() -> None:
    with VaultDouble() as vault:
        vault.initialise_out_of_band()
        vault.state.sealed = True
        fake = FakeTime()

        def sleep(seconds: float) -> None:
            fake.sleep(seconds)
            vault.state.sealed = fake.sleeps < 3  # auto-unseal done after the third read

        with pytest.raises(VaultBootstrapError, match="recovery secret holds no recovery keys"):  # got past the seal
            bootstrap(hvac.Client(url=vault.url, timeout=5), DOUBLE_SPEC, InMemorySecretStore(), LOG,
                      ready_timeout_s=READY_TIMEOUT_S, sleep=sleep, clock=fake.clock)
    assert fake.sleeps == 3


def test_a_standby_without_an_active_node_is_waited_for() -> None:
    # What OpenBao 2.7.2 answers for a moment right after initialisation: health 200 as a standby, no leader yet.
    answers = iter([({"standby": True}, {"leader_address": ""}), ({"standby": True}, {"leader_address": ""}),
                    ({"standby": True}, {"leader_address": "https://10.0.1.7:8200"})])
    current: dict[str, Any] = {}

    class Sys:
        def read_health_status(self, method: str, standby_ok: bool) -> dict[str, Any]:
            assert (method, standby_ok) == ("GET", True)
            current["health"], current["leader"] = next(answers)
            return dict(current["health"])

        def read_leader_status(self) -> dict[str, Any]:
            return dict(current["leader"])

    class Client:
        url, sys = "https://127.0.0.1:8200", Sys()

    fake = FakeTime()
    _wait_until_active(Client(), READY_TIMEOUT_S, fake.sleep, fake.clock, None)  # type: ignore[arg-type]
    assert fake.sleeps == 2  # returned once a leader was known, not on the first 200


# --- The pod behind the port-forward (a fake Kubernetes API answer) -----------------------------------------------

class FakeCoreV1:
    """read_namespaced_pod as the Kubernetes API answers it: a V1Pod, or an ApiException."""

    def __init__(self, answer: k8s.V1Pod | ApiException) -> None:
        self.answer, self.reads = answer, 0

    def read_namespaced_pod(self, name: str, namespace: str) -> k8s.V1Pod:
        assert (namespace, name) == ("vault", "vault-0")
        self.reads += 1
        if isinstance(self.answer, ApiException):
            raise self.answer
        return self.answer


def vault_pod(waiting: str | None, message: str = "", phase: str = "Running") -> k8s.V1Pod:
    state = k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(reason=waiting, message=message)
                                 if waiting else None)
    crashed = waiting == "CrashLoopBackOff"  # only a container that ran has a last termination
    last = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=1, reason="Error"))
    status = k8s.V1ContainerStatus(name="vault", image="hashicorp/vault:2.0.4", image_id="", ready=False,
                                   restart_count=6 if crashed else 0, state=state,
                                   last_state=last if crashed else None)
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="vault-0", namespace="vault"),
                     status=k8s.V1PodStatus(phase=phase, container_statuses=[status]))


def refused_stream() -> Any:
    """The port-forward opener when the container does not run: the API server refuses the stream."""
    raise ApiException(status=500, reason="error upgrading connection: container not running")


@pytest.fixture
def forward() -> Iterator[tuple[PortForward, int]]:
    bridge = PortForward(refused_stream)
    with bridge as port:
        yield bridge, port


def client_behind(port: int, tmp_path: Path) -> hvac.Client:
    ca = make_tls(tmp_path / "listener", "vault")
    return hvac.Client(url=f"https://127.0.0.1:{port}", verify=str(ca.ca_path), timeout=5)


@pytest.mark.parametrize(("reason", "message"), [
    ("CrashLoopBackOff", "back-off 5m0s restarting failed container=vault pod=vault-0_vault"),
    ("ImagePullBackOff", 'Back-off pulling image "hashicorp/vault:2.0.4"'),
    ("CreateContainerConfigError", 'secret "vault-tls" not found'),
])
def test_a_pod_that_cannot_start_is_named_at_once(
    forward: tuple[PortForward, int], tmp_path: Path, reason: str, message: str,
) -> None:
    bridge, port = forward
    api = FakeCoreV1(vault_pod(reason, message))

    text, fake, elapsed = failure(client_behind(port, tmp_path), diagnose=PodDiagnosis(api, "vault", "vault-0", bridge))

    crashed = reason == "CrashLoopBackOff"
    last = ", last exit code 1 (Error), 6 restart(s)" if crashed else ", 0 restart(s)"
    assert f"container vault of pod vault/vault-0 is in {reason} ({message}){last}" in text
    assert text.startswith("read seal status: Vault at https://127.0.0.1:") and "waiting will not help" in text
    assert "kubectl -n vault logs vault-0 -c vault --previous" in text
    assert ("cannot reach or use its seal's KMS key" in text) == crashed
    assert fake.sleeps == 0 and api.reads == 1 and elapsed < 5


def test_a_pod_still_starting_is_waited_for_until_the_ready_timeout(
    forward: tuple[PortForward, int], tmp_path: Path,
) -> None:
    bridge, port = forward
    api = FakeCoreV1(vault_pod("ContainerCreating"))  # transient: the kubelet is still setting it up

    fake, started = FakeTime(), time.monotonic()
    with pytest.raises(VaultBootstrapError) as err:
        bootstrap(client_behind(port, tmp_path), SPEC, InMemorySecretStore(), LOG, ready_timeout_s=60,
                  sleep=fake.sleep, clock=fake.clock, diagnose=PodDiagnosis(api, "vault", "vault-0", bridge))

    text = str(err.value)
    assert text.startswith("read seal status: Vault is unreachable") and "no answer yet" in text
    assert fake.now == 60 and api.reads == fake.sleeps + 1 == 31 and time.monotonic() - started < 5
    assert isinstance(bridge.last_error, ApiException)  # what the opener said is kept for the diagnosis


def test_a_missing_pod_gets_a_short_grace_then_is_named(forward: tuple[PortForward, int], tmp_path: Path) -> None:
    bridge, port = forward
    fake_pod_clock = FakeTime()
    api = FakeCoreV1(ApiException(status=404, reason="Not Found"))
    diagnose = PodDiagnosis(api, "vault", "vault-0", bridge, not_found_grace_s=60, clock=lambda: fake_pod_clock.now)

    fake, started = FakeTime(), time.monotonic()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        fake_pod_clock.now = fake.now

    with pytest.raises(VaultBootstrapError) as err:
        bootstrap(client_behind(port, tmp_path), SPEC, InMemorySecretStore(), LOG, ready_timeout_s=READY_TIMEOUT_S,
                  sleep=sleep, clock=fake.clock, diagnose=diagnose)

    assert "pod vault/vault-0 does not exist (60 s after the first look)" in str(err.value)
    assert 60 <= fake.now <= 62 and time.monotonic() - started < 5


def test_a_port_forward_the_api_refuses_is_named_at_once(tmp_path: Path) -> None:
    def forbidden() -> Any:  # the deployer's identity lacks create on pods/portforward
        raise ApiException(status=403, reason="Forbidden")

    api = FakeCoreV1(vault_pod(None))
    bridge = PortForward(forbidden)
    with bridge as port:
        text, fake, elapsed = failure(client_behind(port, tmp_path),
                                      diagnose=PodDiagnosis(api, "vault", "vault-0", bridge))

    assert "the Kubernetes API refuses the port-forward to pod vault/vault-0 (HTTP 403)" in text
    assert "create on pods/portforward" in text and fake.sleeps == 0 and api.reads == 0 and elapsed < 5


def test_a_pod_that_starts_late_is_retried_and_converged() -> None:
    with VaultDouble() as vault:
        attempts = {"n": 0}

        def opener() -> socket.socket:  # refused twice (the container is starting), then the pod answers
            attempts["n"] += 1
            if attempts["n"] <= 2:
                raise ApiException(status=500, reason="container not running")
            return socket.create_connection(vault.address)

        api = FakeCoreV1(vault_pod("ContainerCreating"))
        bridge = PortForward(opener)
        fake = FakeTime()
        with bridge as port:
            result = run(hvac.Client(url=f"http://127.0.0.1:{port}", timeout=5), fake, DOUBLE_SPEC,
                         diagnose=PodDiagnosis(api, "vault", "vault-0", bridge))

    assert result.initialized_now and "root-ca" in result.changed
    assert fake.sleeps == 2 and api.reads == 2  # asked each time Vault did not answer; both times "wait"
