"""The trust-anchor rotation against a real OpenBao 2.7.2 bootstrapped by the project's bootstrap.

Every Vault phase runs with the rotation's own token (a Kubernetes auth login through the harness's TokenReview
stand-in, as the CronJob's projected token would), the identity issuer is re-signed by cert-manager's own token at
sign-intermediate (the real path), and the run is killed at every checkpoint in turn - each phase boundary before its
record is written, after a bundle write, after each replaced pod, around the re-issue trigger - and re-run until it
finishes. OpenBao's audit log (stdout, in the server log) shows that no request of the rotation carried any other
policy than the rotation's: no root token was used. Requests outside the policy are refused, and a bootstrap run after
the rotation keeps the new anchor (what `pulumi up` would run).
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hvac
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from components.mesh import cert_specs
from components.mesh.anchor_rotation.phases import DONE, PHASES, Rotation, Settings, Status
from components.mesh.anchor_rotation.vault_side import (
    HvacAnchorVault,
    RotationVaultError,
    login,
    require_rotation_token,
)
from components.vault.bootstrap.recovery import InMemorySecretStore
from components.vault.bootstrap.spec import (
    BootstrapSpec,
    anchor_generation,
    cert_manager_default_audience,
    rotation_root_request,
)
from components.vault.bootstrap.steps import bootstrap
from tests.helpers.anchor_world import Killed, LocalVault, MeshWorld, clock_of, pem
from tests.helpers.openbao import (  # noqa: F401  # fixtures are found by name
    OpenBaoServer,
    ServerFactory,
    TokenReviewer,
    needs_bao,
    needs_pod_files,
    openbao_factory,
    openbao_transit,
    openbao_workdir,
    token_reviewer,
)

pytestmark = [needs_bao, needs_pod_files]
LOG = logging.getLogger("test.anchor_rotation.openbao")
ISSUER = cert_specs.identity_issuer_name("cluster.local")


@dataclass
class Rotated:
    server: OpenBaoServer
    reviewer: TokenReviewer
    spec: BootstrapSpec
    store: InMemorySecretStore
    runs: int
    killed_at: list[str]
    status: Status
    world: MeshWorld
    audit: list[dict[str, Any]]  # the audit log's entries written while the rotation ran
    roots_before: list[str]

    def rotation_token(self) -> str:
        client = self.server.client()
        login(client, self.spec, self.reviewer.service_account_token(
            self.spec.rotation_service_account, self.spec.rotation_namespace, [self.spec.rotation_audience]))
        return str(client.token)

    @functools.cached_property
    def http(self) -> requests.Session:
        return requests.Session()

    def call(self, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.request(method, f"{self.server.url}/v1/{path}", json=body, timeout=10,
                                 headers={"X-Vault-Token": token}, verify=self.server.ca_path)


def _audit_entries(server: OpenBaoServer, offset: int) -> list[dict[str, Any]]:
    text = server._process.log_path.read_bytes()[offset:].decode(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"time"')]


def cert_manager_signer(server: OpenBaoServer, reviewer: TokenReviewer, spec: BootstrapSpec):  # type: ignore[no-untyped-def]
    """What cert-manager does for the identity issuer: log in as its role, post the CSR to sign-intermediate."""
    def sign(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        client = server.client()
        jwt = reviewer.service_account_token(spec.cert_manager_service_account, spec.cert_manager_namespace,
                                             [spec.audience])
        token = client.auth.kubernetes.login(spec.cert_manager_role, jwt)["auth"]["client_token"]
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, ISSUER)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(ISSUER)]), critical=False)
               .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
        body = {"common_name": ISSUER, "alt_names": ISSUER, "ip_sans": "", "uri_sans": "",
                "ttl": f"{spec.identity_issuer_ttl_hours}h0m0s", "csr": csr, "exclude_cn_from_sans": "true"}
        answer = requests.post(f"{server.url}/v1/{spec.signing_path}", json=body, timeout=10, verify=server.ca_path,
                               headers={"X-Vault-Token": token})
        assert answer.status_code == 200, answer.text
        return x509.load_pem_x509_certificate(answer.json()["data"]["certificate"].encode())
    return sign


@pytest.fixture(scope="module")
def rotated(openbao_factory: ServerFactory, token_reviewer: TokenReviewer) -> Iterator[Rotated]:  # noqa: F811
    server = openbao_factory()
    spec = BootstrapSpec(root_common_name="mtls-platform test trust anchor", seal_type="transit",
                         audience=cert_manager_default_audience("vault-issuer"), kubernetes_host=token_reviewer.host)
    store = InMemorySecretStore()
    first = bootstrap(server.client(), spec, store, LOG, ready_timeout_s=20, sleep=lambda _s: time.sleep(0.05))
    assert "rotation-policy" in first.changed and "rotation-role" in first.changed
    world = MeshWorld(cert_manager_signer(server, token_reviewer, spec), first.root_ca_pem,
                      [("linkerd", "linkerd-identity", "linkerd-identity", 1), ("app", "a", "a", 2),
                       ("app", "b", "b", 1)])
    settings = Settings("linkerd", ("app",), threshold_s=365 * 86400, stuck_after_s=6 * 3600)
    offset = server._process.log_path.stat().st_size
    world.status = {"request": "start"}
    # Each run is killed at the first checkpoint no earlier run was killed at (a checkpoint is its name and how often
    # the run met that name; the next run passes it), so every checkpoint the rotation passes - each phase boundary
    # before its record, a bundle write, each replaced pod, the re-issue trigger - is a kill point once, and a run
    # resumed after any of them is itself killed at the next.
    killed_at: list[str] = []
    done_points: set[tuple[str, int]] = set()
    runs, status = 0, Status()
    while runs < 150:
        runs += 1
        seen: list[str] = []

        def kill(point: str, seen: list[str] = seen) -> bool:
            seen.append(point)
            mark = (point, seen.count(point))
            if mark not in done_points:
                done_points.add(mark)
                return True
            return False
        world.kill_at = kill
        client = server.client()  # a new process: a new login
        login(client, spec, token_reviewer.service_account_token(
            spec.rotation_service_account, spec.rotation_namespace, [spec.rotation_audience]))
        rotation = Rotation(world, HvacAnchorVault(client, spec), settings,
                            lambda n: anchor_generation(spec, n), LOG, clock_of(world))
        try:
            status = rotation.run()
        except Killed as exc:
            killed_at.append(str(exc))
            continue
        if status.phase == DONE:
            break
    world.kill_at = lambda point: False
    audit = _audit_entries(server, offset)
    done = Rotated(server, token_reviewer, spec, store, runs, killed_at, status, world, audit, [first.root_ca_pem])
    yield done
    done.http.close()
    server.kill()


def test_killed_at_every_checkpoint_the_rotation_still_finishes(rotated: Rotated) -> None:
    assert rotated.status.phase == DONE and rotated.status.done[-len(PHASES):] == PHASES, rotated.killed_at
    kinds = {point.split(":")[0] for point in rotated.killed_at}
    assert {"status", "bundle-written", "pod-replaced", "before-reissue", "reissue-triggered"} <= kinds
    # before the record of every phase's completion (the next phase's name), and of the end
    recorded = {point.split(":", 1)[1] for point in rotated.killed_at if point.startswith("status:")}
    assert set(PHASES[1:]) | {DONE} <= recorded
    assert rotated.runs == len(rotated.killed_at) + 1
    print(f"crash test: {len(rotated.killed_at)} kills ({len(set(rotated.killed_at))} distinct points), "
          f"{rotated.runs} runs to finish")


def test_vault_ends_on_the_new_anchor_and_the_old_one_is_revoked(rotated: Rotated) -> None:
    spec = rotated.spec
    vault = HvacAnchorVault(rotated.server.client(rotated.rotation_token()), spec)
    by_name = {issuer.name: issuer for issuer in vault.issuers()}
    assert set(by_name) == {"trust-anchor", "trust-anchor-2"}
    assert by_name["trust-anchor-2"].default and not by_name["trust-anchor-2"].revoked
    assert by_name["trust-anchor"].revoked and not by_name["trust-anchor"].default
    new = x509.load_pem_x509_certificate(by_name["trust-anchor-2"].pem.encode())
    # The trust bundle holds the new root only and the identity issuer chains to it (signed through cert-manager's
    # real path).
    assert [pem(c) for c in x509.load_pem_x509_certificates(rotated.world.bundle.encode())] == [pem(new)]
    assert rotated.world.issuer.issuer == new.subject
    new.public_key().verify(rotated.world.issuer.signature, rotated.world.issuer.tbs_certificate_bytes,  # type: ignore[union-attr, call-arg]
                            ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg]


def test_the_new_root_is_generated_like_the_bootstraps_and_like_the_simulations(rotated: Rotated) -> None:
    spec = rotated.spec
    vault = HvacAnchorVault(rotated.server.client(rotated.rotation_token()), spec)
    new = x509.load_pem_x509_certificate(next(i.pem for i in vault.issuers() if i.name == "trust-anchor-2").encode())
    old = x509.load_pem_x509_certificate(rotated.roots_before[0].encode())
    assert new.subject.rfc4514_string() == f"CN={spec.root_common_name} 2"
    for cert in (new, old):
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
        assert constraints.critical and constraints.value.permitted_subtrees == [x509.DNSName(ISSUER)]
        assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    # The simulation's local roots (tests/helpers/anchor_world.py) carry the same extensions, critical alike.
    local = x509.load_pem_x509_certificate(LocalVault(spec, lambda: new.not_valid_before_utc).issuers()[0].pem.encode())
    def shape(cert: x509.Certificate) -> set[tuple[str, bool]]:
        return {(e.oid.dotted_string, e.critical) for e in cert.extensions}
    assert shape(local) <= shape(new), shape(new) - shape(local)


def test_no_request_of_the_rotation_used_any_other_policy_than_its_own(rotated: Rotated) -> None:
    spec = rotated.spec
    requests_seen = [e for e in rotated.audit if e.get("type") == "request"]
    by_policy: dict[str, int] = {}
    for entry in requests_seen:
        auth = entry.get("auth") or {}
        path = entry["request"]["path"]
        policies = auth.get("policies") or []
        assert "root" not in policies, path
        key = ",".join(policies) or "(login)"
        by_policy[key] = by_policy.get(key, 0) + 1
        if not path.startswith("auth/kubernetes/login") and path != spec.signing_path:
            assert policies == [spec.rotation_policy], (path, policies)
    assert by_policy.get(spec.rotation_policy, 0) > 20
    print(f"audit log during the rotation: {len(requests_seen)} requests by policy set {by_policy}")


def test_a_bootstrap_after_the_rotation_keeps_the_new_anchor(rotated: Rotated) -> None:
    # What the next `pulumi up` runs when the bootstrap's spec changed: it follows the default issuer.
    result = bootstrap(rotated.server.client(), rotated.spec, rotated.store, LOG, ready_timeout_s=20,
                       sleep=lambda _s: time.sleep(0.05))
    vault = HvacAnchorVault(rotated.server.client(rotated.rotation_token()), rotated.spec)
    current = next(i for i in vault.issuers() if i.default)
    assert current.name == "trust-anchor-2" and result.root_ca_pem == current.pem
    assert result.changed == []


def test_a_token_with_another_policy_set_is_refused() -> None:
    spec = BootstrapSpec(root_common_name="r", audience="a")
    for policies in (["root"], [spec.rotation_policy, "default"], []):
        with pytest.raises(RotationVaultError, match="refusing to run with it"):
            require_rotation_token(spec, policies)
    require_rotation_token(spec, [spec.rotation_policy])


def _root_body(spec: BootstrapSpec, **changes: str) -> dict[str, str]:
    return {**rotation_root_request(spec, 3), **changes}


REFUSED = {
    "an RSA root": ("POST", "pki/root/generate/internal", lambda s: _root_body(s, key_type="rsa", key_bits="4096")),
    "a longer-lived root": ("POST", "pki/root/generate/internal", lambda s: _root_body(s, ttl="175200h")),
    "a root without the name constraint": ("POST", "pki/root/generate/internal",
                                           lambda s: {k: v for k, v in _root_body(s).items()
                                                      if k != "permitted_dns_domains"}),
    "a wider name constraint": ("POST", "pki/root/generate/internal",
                                lambda s: _root_body(s, permitted_dns_domains="cluster.local")),
    "a longer path": ("POST", "pki/root/generate/internal", lambda s: _root_body(s, max_path_length="2")),
    "another issuer name": ("POST", "pki/root/generate/internal", lambda s: _root_body(s, issuer_name="evil")),
    "another CN": ("POST", "pki/root/generate/internal", lambda s: _root_body(s, common_name="shop.example.com")),
    "an exported key": ("POST", "pki/root/generate/exported", lambda s: _root_body(s)),
    "a key import": ("POST", "pki/issuers/import/bundle", lambda s: {"pem_bundle": "x"}),
    "an intermediate": ("POST", "pki/intermediate/generate/internal", lambda s: {"common_name": "x"}),
    "signing": ("POST", "pki/root/sign-intermediate", lambda s: {"common_name": ISSUER, "csr": "x"}),
    "a leaf": ("POST", "pki/issue/any", lambda s: {"common_name": "x"}),
    "another default issuer": ("POST", "pki/config/issuers", lambda s: {"default": "evil"}),
    "following the latest issuer": ("POST", "pki/config/issuers",
                                    lambda s: {"default": "trust-anchor-2", "default_follows_latest_issuer": "true"}),
    "deleting an issuer": ("DELETE", "pki/issuer/trust-anchor", lambda s: None),
    "editing an issuer": ("POST", "pki/issuer/trust-anchor-2", lambda s: {"usage": "issuing-certificates"}),
    "deleting the mount's root": ("DELETE", "pki/root", lambda s: None),
    "reading keys": ("GET", "pki/key/default", lambda s: None),
    "another mount": ("POST", "pki-other/root/generate/internal", lambda s: _root_body(s)),
    "a policy": ("POST", "sys/policies/acl/trust-anchor-rotation", lambda s: {"policy": 'path "*" {}'}),
    "a token": ("POST", "auth/token/create", lambda s: {}),
    "a role": ("POST", "auth/kubernetes/role/trust-anchor-rotation", lambda s: {"token_policies": ["root"]}),
    "mounts": ("GET", "sys/mounts", lambda s: None),
    "a snapshot": ("GET", "sys/storage/raft/snapshot", lambda s: None),
}


@pytest.mark.parametrize("case", REFUSED)
def test_the_rotation_token_is_refused_everything_else(rotated: Rotated, case: str) -> None:
    method, path, body = REFUSED[case]
    token = rotated.__dict__.setdefault("_token", rotated.rotation_token())
    response = rotated.call(token, method, path, body(rotated.spec))
    assert response.status_code == 403, response.text


@pytest.mark.parametrize(("account", "namespace", "audience"), [
    ("default", "linkerd", "vault-trust-anchor-rotation"),  # another account in its namespace
    ("trust-anchor-rotation", "prod-app", "vault-trust-anchor-rotation"),  # its name elsewhere
    ("trust-anchor-rotation", "linkerd", "vault://vault-issuer"),  # another audience
    ("vault-issuer", "cert-manager", "vault://vault-issuer"),  # cert-manager's identity
])
def test_only_the_rotation_service_account_logs_in(rotated: Rotated, account: str, namespace: str,
                                                   audience: str) -> None:
    jwt = rotated.reviewer.service_account_token(account, namespace, [audience])
    with pytest.raises(hvac.exceptions.VaultError):
        rotated.server.client().auth.kubernetes.login(rotated.spec.rotation_role, jwt)


def test_a_refresh_reads_the_rotated_anchor_so_the_stack_output_follows(
    rotated: Rotated, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `pulumi up --refresh` calls the provider's read: it re-reads Vault's default issuer through the port-forward
    # (here bridged to the local server) without any token, and returns it as root_ca_pem (trust_anchor_pem).
    from components.vault import vault_bootstrap
    from components.vault.bootstrap.spec import spec_to_props

    def local_stream() -> socket.socket:
        return socket.create_connection(rotated.server.address)
    monkeypatch.setattr(vault_bootstrap, "read_anchor", functools.partial(vault_bootstrap.read_anchor,
                                                                          open_stream=local_stream))
    stale = {"kubeconfig": "apiVersion: v1\nkind: Config\n", "namespace": "vault", "pod_name": "vault-0",
             "port": 8200.0, "vault_ca_pem": rotated.server.ca_pem, **spec_to_props(rotated.spec),
             "root_ca_pem": rotated.roots_before[0], "spec_hash": "h"}
    read = vault_bootstrap.VaultBootstrapProvider().read("vault/vault-0", stale)
    assert read.outs is not None and read.id == "vault/vault-0"
    vault = HvacAnchorVault(rotated.server.client(rotated.rotation_token()), rotated.spec)
    current = next(i for i in vault.issuers() if i.default)
    assert current.name == "trust-anchor-2" and read.outs["root_ca_pem"] == current.pem != rotated.roots_before[0]
    assert read.outs["spec_hash"] == "h"  # the diff still sees no spec change: nothing is re-converged or undone
