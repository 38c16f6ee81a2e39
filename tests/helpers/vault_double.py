"""An HTTP-level stand-in for Vault 2.0 under the awskms seal, for the one thing the real OpenBao cannot show here.

Everything the bootstrap does is tested against a real OpenBao server (tests/helpers/openbao.py, with a transit
"KMS"). What remains here is what only Vault with AWS KMS answers: seal-status `type: awskms` with `recovery_seal`
(so the program's default `BootstrapSpec(seal_type="awskms")` is exercised end to end) and Vault's own refusal of
barrier parameters (secret_shares...) at sys/init under auto-unseal ("parameters not specific to auto unseal seals
present", hashicorp/vault http/sys_init.go). Response shapes follow Vault's API docs and server code (cited per
handler); every request is recorded, so a test can assert the order of writes.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SYSTEM_MAX_TTL = 768 * 3600  # Vault's default max lease TTL (32 days)
BASE62 = string.ascii_letters + string.digits
# Endpoints of the token's own lifecycle; everything else that is not a GET changes Vault's configuration.
TOKEN_LIFECYCLE = ("sys/generate-root/attempt", "sys/generate-root/update", "auth/token/revoke-self")


def _duration_seconds(value: Any) -> int:
    """Vault accepts durations as seconds or Go-style strings ("87600h", "5m", "30s")."""
    if isinstance(value, int | float):
        return int(value)
    match = re.fullmatch(r"(\d+)([hms]?)", str(value))
    assert match, f"unparsable duration {value!r}"
    return int(match.group(1)) * {"h": 3600, "m": 60, "s": 1, "": 1}[match.group(2)]


def _token() -> str:
    # Root tokens are "hvs." + 24 base62 characters: generate-root's OTP length is TokenLength + TokenPrefixLength
    # = 28 (hashicorp/vault http/sys_generate_root.go).
    return "hvs." + "".join(secrets.choice(BASE62) for _ in range(24))


def encode_root_token(token: str, otp: str) -> str:
    # Ref: hashicorp/vault sdk/helper/roottoken/encode.go (XOR with the OTP, base64 RawStdEncoding).
    xored = bytes(a ^ b for a, b in zip(token.encode(), otp.encode(), strict=True))
    return base64.b64encode(xored).decode().rstrip("=")


def self_signed_ca(common_name: str, ttl_seconds: int, max_path_length: int | None, curve_bits: int = 256) -> str:
    curve: ec.EllipticCurve = {256: ec.SECP256R1(), 384: ec.SECP384R1()}[curve_bits]
    key = ec.generate_private_key(curve)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(seconds=30))
        .not_valid_after(now + timedelta(seconds=ttl_seconds))
        .add_extension(x509.BasicConstraints(ca=True, path_length=max_path_length), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode().strip()


@dataclass
class VaultState:
    initialized: bool = False
    sealed: bool = True  # a fresh awskms Vault reports sealed until initialised
    recovery_keys: list[bytes] = field(default_factory=list)
    threshold: int = 0
    tokens: set[str] = field(default_factory=set)  # valid privileged (root) tokens
    deny_all: bool = False  # every authenticated endpoint answers 403
    attempt: dict[str, Any] | None = None  # generate-root in progress
    audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    mounts: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "sys/": {"type": "system", "config": {"default_lease_ttl": 0, "max_lease_ttl": 0}},
        "cubbyhole/": {"type": "cubbyhole", "config": {"default_lease_ttl": 0, "max_lease_ttl": 0}},
        "identity/": {"type": "identity", "config": {"default_lease_ttl": 0, "max_lease_ttl": 0}},
    })
    auth: dict[str, dict[str, Any]] = field(default_factory=lambda: {"token/": {"type": "token", "config": {}}})
    ca_pem: dict[str, str] = field(default_factory=dict)  # per PKI mount
    root_generations: int = 0
    urls: dict[str, dict[str, Any]] = field(default_factory=dict)
    k8s_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=lambda: {"default": 'path "auth/token/lookup-self" {}\n'})


class VaultDouble:
    """Start with `with VaultDouble() as vault:`; `vault.url` is the address for hvac."""

    def __init__(self) -> None:
        self.state = VaultState()
        self.requests: list[tuple[str, str]] = []  # (METHOD, path without /v1/), in arrival order
        self.fail_once: dict[tuple[str, str], int] = {}  # (METHOD, path) -> status to answer once
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                double._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    # --- lifecycle ---
    def __enter__(self) -> VaultDouble:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    # --- introspection for tests ---
    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m not in ("GET", "HEAD")]

    @property
    def config_writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.writes if p not in TOKEN_LIFECYCLE and p != "sys/init"]

    def initialise_out_of_band(self, shares: int = 5, threshold: int = 3) -> tuple[list[str], str]:
        """Vault initialised earlier (by a previous run): returns (recovery keys b64, root token)."""
        body = self._init({"recovery_shares": shares, "recovery_threshold": threshold})[1]
        return list(body["recovery_keys_base64"]), str(body["root_token"])

    # --- HTTP plumbing ---
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(req.path)
        path = parsed.path.removeprefix("/v1/")
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        body = json.loads(raw) if raw.strip() else {}
        token = req.headers.get("X-Vault-Token")
        with self._lock:
            self.requests.append((req.command, path))
            injected = self.fail_once.pop((req.command, path), None)
            if injected is not None:
                status, payload, ctype = injected, {"errors": ["injected failure"]}, "application/json"
            else:
                status, payload, ctype = self._route(req.command, path, parse_qs(parsed.query), body, token)
        data = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(data)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any], token: str | None,
    ) -> tuple[int, Any, str]:
        st = self.state
        json_ = "application/json"
        # Unauthenticated system endpoints.
        if path == "sys/seal-status":
            return 200, self._seal_status(), json_
        if path == "sys/health":
            # Ref: https://developer.hashicorp.com/vault/api-docs/system/health
            code = 501 if not st.initialized else 503 if st.sealed else 200
            return code, {"initialized": st.initialized, "sealed": st.sealed, "standby": False,
                          "performance_standby": False, "version": "1.21.1", "cluster_name": "vault-cluster"}, json_
        if path == "sys/leader":
            # Ref: https://developer.hashicorp.com/vault/api-docs/system/leader (one node: it leads once unsealed)
            return 200, {"ha_enabled": True, "is_self": not st.sealed, "leader_address": ""}, json_
        if path == "sys/init":
            if method == "GET":
                return 200, {"initialized": st.initialized}, json_
            return self._init(body)
        if st.sealed:
            return 503, {"errors": ["Vault is sealed"]}, json_
        if path.startswith("sys/generate-root/"):
            return self._generate_root(method, path, body)
        # Everything below needs a valid privileged token.
        if st.deny_all or token not in st.tokens:
            return 403, {"errors": ["permission denied"]}, json_
        return self._authenticated(method, path, body, token)

    # --- handlers ---
    def _seal_status(self) -> dict[str, Any]:
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/seal-status (auto-unseal: type awskms,
        # recovery_seal true; t/n describe the recovery key shares).
        st = self.state
        status: dict[str, Any] = {
            "type": "awskms", "initialized": st.initialized, "sealed": st.sealed, "t": st.threshold,
            "n": len(st.recovery_keys), "progress": 0, "nonce": "", "version": "1.21.1",
            "build_date": "2025-11-01T00:00:00Z", "migration": False, "recovery_seal": True,
            "storage_type": "raft", "removed_from_cluster": False,
        }
        if not st.sealed:
            status.update(cluster_name="vault-cluster-double", cluster_id=str(uuid.uuid4()))
        return status

    def _init(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        # Ref: hashicorp/vault http/sys_init.go - 400 once initialised; barrier flags rejected under auto-unseal;
        # the answer has empty keys/keys_base64 plus recovery_keys(_base64) and root_token; unsealed on return.
        st = self.state
        if st.initialized:
            return 400, {"errors": ["Vault is already initialized"]}, "application/json"
        if any(body.get(k) for k in ("secret_shares", "secret_threshold", "stored_shares", "pgp_keys")):
            return 400, {"errors": ["parameters not specific to auto unseal seals present"]}, "application/json"
        shares, threshold = int(body.get("recovery_shares") or 0), int(body.get("recovery_threshold") or 0)
        if not 0 < threshold <= shares:
            return 400, {"errors": ["invalid recovery configuration"]}, "application/json"
        st.recovery_keys = [secrets.token_bytes(33) for _ in range(shares)]
        st.threshold, st.initialized, st.sealed = threshold, True, False
        root = _token()
        st.tokens.add(root)
        return 200, {
            "keys": [], "keys_base64": [],
            "recovery_keys": [k.hex() for k in st.recovery_keys],
            "recovery_keys_base64": [base64.b64encode(k).decode() for k in st.recovery_keys],
            "root_token": root,
        }, "application/json"

    def _generate_root(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any, str]:
        # Ref: hashicorp/vault http/sys_generate_root.go and
        # https://developer.hashicorp.com/vault/api-docs/system/generate-root
        st, json_ = self.state, "application/json"

        def status(otp: str = "") -> dict[str, Any]:
            started = st.attempt is not None
            return {"started": started, "nonce": st.attempt["nonce"] if started else "",
                    "progress": len(st.attempt["keys"]) if started else 0, "required": st.threshold,
                    "complete": False, "encoded_token": "", "encoded_root_token": "", "pgp_fingerprint": "",
                    "otp": otp, "otp_length": 28}

        if path == "sys/generate-root/attempt":
            if method == "GET":
                return 200, status(), json_
            if method == "DELETE":
                st.attempt = None
                return 204, None, json_
            if st.attempt is not None:
                return 400, {"errors": ["root generation already in progress"]}, json_
            otp = body.get("otp") or "".join(secrets.choice(BASE62) for _ in range(28))
            st.attempt = {"nonce": str(uuid.uuid4()), "otp": otp, "keys": []}
            return 200, status(otp if not body.get("otp") else ""), json_
        if path == "sys/generate-root/update" and method in ("PUT", "POST"):
            if st.attempt is None:
                return 400, {"errors": ["no root generation in progress"]}, json_
            if body.get("nonce") != st.attempt["nonce"]:
                return 400, {"errors": ["incorrect nonce"]}, json_
            key = base64.b64decode(str(body.get("key")))
            if key in st.attempt["keys"]:
                return 400, {"errors": ["duplicate key"]}, json_
            st.attempt["keys"].append(key)
            progress = len(st.attempt["keys"])
            if progress < st.threshold:
                return 200, {"started": True, "nonce": body["nonce"], "progress": progress, "required": st.threshold,
                             "complete": False, "encoded_token": "", "encoded_root_token": "",
                             "pgp_fingerprint": ""}, json_
            provided, otp, nonce = st.attempt["keys"], st.attempt["otp"], st.attempt["nonce"]
            st.attempt = None
            if any(k not in st.recovery_keys for k in provided):
                return 400, {"errors": ["failed to verify recovery key"]}, json_
            root = _token()
            st.tokens.add(root)
            encoded = encode_root_token(root, otp)
            return 200, {"started": True, "nonce": nonce, "progress": progress, "required": st.threshold,
                         "complete": True, "encoded_token": encoded, "encoded_root_token": encoded,
                         "pgp_fingerprint": ""}, json_
        return 405, {"errors": []}, json_

    def _authenticated(
        self, method: str, path: str, body: dict[str, Any], token: str | None,
    ) -> tuple[int, Any, str]:
        st, json_ = self.state, "application/json"
        no_content: tuple[int, Any, str] = (204, None, json_)
        write = method in ("PUT", "POST")

        def listing(items: dict[str, Any]) -> tuple[int, Any, str]:
            return 200, {**items, "data": items, "request_id": str(uuid.uuid4())}, json_

        if path == "auth/token/lookup-self" and method == "GET":
            return 200, {"data": {"policies": ["root"], "ttl": 0}}, json_
        if path == "auth/token/revoke-self" and write:
            st.tokens.discard(token or "")
            return no_content
        # sys/audit - Ref: https://developer.hashicorp.com/vault/api-docs/system/audit
        if path == "sys/audit" and method == "GET":
            return listing(st.audit)
        if m := re.fullmatch(r"sys/audit/(.+)", path):
            key = m.group(1) + "/"
            if key in st.audit:
                return 400, {"errors": [f"path already in use at {key}"]}, json_
            st.audit[key] = {"type": body["type"], "description": body.get("description", ""),
                             "options": dict(body.get("options") or {}), "local": False, "path": key}
            return no_content
        # sys/mounts - Ref: https://developer.hashicorp.com/vault/api-docs/system/mounts
        if path == "sys/mounts" and method == "GET":
            return listing(st.mounts)
        if m := re.fullmatch(r"sys/mounts/(.+)/tune", path):
            mount = st.mounts.get(m.group(1) + "/")
            if mount is None:
                return 400, {"errors": [f"cannot fetch sysview for path {m.group(1)!r}"]}, json_
            if write:
                if "max_lease_ttl" in body:
                    mount["config"]["max_lease_ttl"] = _duration_seconds(body["max_lease_ttl"])
                return no_content
            tune = {"default_lease_ttl": mount["config"]["default_lease_ttl"] or SYSTEM_MAX_TTL,
                    "max_lease_ttl": mount["config"]["max_lease_ttl"] or SYSTEM_MAX_TTL, "force_no_cache": False}
            return 200, {**tune, "data": tune}, json_
        if m := re.fullmatch(r"sys/mounts/(.+)", path):
            key = m.group(1) + "/"
            if key in st.mounts:
                return 400, {"errors": [f"path is already in use at {key}"]}, json_
            config = body.get("config") or {}
            st.mounts[key] = {"type": body["type"], "description": body.get("description") or "",
                              "config": {"default_lease_ttl": 0,
                                         "max_lease_ttl": _duration_seconds(config.get("max_lease_ttl", 0))}}
            return no_content
        # sys/auth - Ref: https://developer.hashicorp.com/vault/api-docs/system/auth
        if path == "sys/auth" and method == "GET":
            return listing(st.auth)
        if m := re.fullmatch(r"sys/auth/(.+)", path):
            key = m.group(1) + "/"
            if key in st.auth:
                return 400, {"errors": [f"path is already in use at {key}"]}, json_
            st.auth[key] = {"type": body["type"], "description": body.get("description") or "", "config": {}}
            return no_content
        # sys/policies/acl - Ref: https://developer.hashicorp.com/vault/api-docs/system/policies
        if m := re.fullmatch(r"sys/policies/acl/(.+)", path):
            if write:
                st.policies[m.group(1)] = str(body["policy"])
                return no_content
            if m.group(1) not in st.policies:
                return 404, {"errors": []}, json_
            return 200, {"data": {"name": m.group(1), "policy": st.policies[m.group(1)]}}, json_
        # PKI - Ref: https://developer.hashicorp.com/vault/api-docs/secret/pki, builtin/logical/pki/path_fetch.go
        if m := re.fullmatch(r"(.+)/(ca/pem|root/generate/internal|config/urls)", path):
            mount, endpoint = m.group(1), m.group(2)
            if st.mounts.get(mount + "/", {}).get("type") != "pki":
                return 404, {"errors": [f"no handler for route {path!r}"]}, json_
            if endpoint == "ca/pem":
                pem = st.ca_pem.get(mount, "")
                return (200, pem.encode(), "application/pem-certificate-chain") if pem else no_content
            if endpoint == "root/generate/internal" and write:
                return self._generate_root_ca(mount, body)
            if endpoint == "config/urls":
                if write:
                    st.urls[mount] = {k: list(v) if isinstance(v, list) else v for k, v in body.items()}
                current = {"issuing_certificates": [], "crl_distribution_points": [], "ocsp_servers": [],
                           "enable_templating": False, **st.urls.get(mount, {})}
                return 200, {"data": current}, json_
        if re.fullmatch(r"(.+)/issuers", path):  # LIST of a mount without issuers (the double keeps none)
            return 404, {"errors": []}, json_
        # Kubernetes auth - Ref: https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
        if m := re.fullmatch(r"auth/(.+)/config", path):
            if st.auth.get(m.group(1) + "/", {}).get("type") != "kubernetes":
                return 404, {"errors": []}, json_
            if write:
                st.k8s_config[m.group(1)] = {
                    "kubernetes_host": body["kubernetes_host"],
                    "kubernetes_ca_cert": body.get("kubernetes_ca_cert", ""),
                    "pem_keys": body.get("pem_keys", []), "issuer": body.get("issuer", ""),
                    "disable_iss_validation": True, "disable_local_ca_jwt": bool(body.get("disable_local_ca_jwt"))}
                return no_content
            if m.group(1) not in st.k8s_config:
                return 404, {"errors": []}, json_  # plugin returns nil for an unset config
            return 200, {"data": st.k8s_config[m.group(1)]}, json_
        if m := re.fullmatch(r"auth/(.+)/role/(.+)", path):
            key = f"{m.group(1)}/{m.group(2)}"
            if write:
                st.roles[key] = self._role(body)
                return no_content
            if key not in st.roles:
                return 404, {"errors": []}, json_
            return 200, {"data": st.roles[key]}, json_
        return 404, {"errors": [f"no handler for route {path!r}"]}, json_

    def _generate_root_ca(self, mount: str, body: dict[str, Any]) -> tuple[int, Any, str]:
        st = self.state
        ttl = _duration_seconds(body.get("ttl") or SYSTEM_MAX_TTL)
        max_ttl = st.mounts[mount + "/"]["config"]["max_lease_ttl"] or SYSTEM_MAX_TTL
        if ttl > max_ttl:  # PKI caps certificates at the mount's max TTL
            ttl = max_ttl
        assert body.get("key_type") == "ec", "the double only signs EC roots"
        path_len = body.get("max_path_length")
        pem = self_signed_ca(str(body["common_name"]), ttl, None if path_len in (None, -1) else int(path_len),
                             int(body.get("key_bits") or 256))
        st.ca_pem[mount] = pem
        st.root_generations += 1
        return 200, {"data": {"certificate": pem, "issuing_ca": pem, "expiration": 0,
                              "serial_number": "00", "issuer_id": str(uuid.uuid4()),
                              "issuer_name": body.get("issuer_name", ""), "key_id": str(uuid.uuid4()),
                              "key_name": ""}}, "application/json"

    @staticmethod
    def _role(body: dict[str, Any]) -> dict[str, Any]:
        # Ref: hashicorp/vault-plugin-auth-kubernetes path_role.go (pathRoleRead + tokenutil.PopulateTokenData).
        def as_list(value: Any) -> list[str]:
            return [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value or [])

        return {
            "bound_service_account_names": as_list(body.get("bound_service_account_names")),
            "bound_service_account_namespaces": as_list(body.get("bound_service_account_namespaces")),
            "bound_service_account_namespace_selector": "",
            "audience": body.get("audience", ""),
            "alias_name_source": body.get("alias_name_source", "serviceaccount_uid"),
            "token_policies": as_list(body.get("token_policies")),
            "token_no_default_policy": bool(body.get("token_no_default_policy", False)),
            "token_ttl": _duration_seconds(body.get("token_ttl", 0)),
            "token_max_ttl": _duration_seconds(body.get("token_max_ttl", 0)),
            "token_period": 0, "token_type": "default", "token_bound_cidrs": [], "token_explicit_max_ttl": 0,
            "token_num_uses": 0,
        }
