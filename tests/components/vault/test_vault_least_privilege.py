"""Least privilege, shown against a real OpenBao 2.7.2: what cert-manager's and the snapshot CronJob's Vault tokens
can do, and everything else they are refused. Plus the offline facts the policy rests on: it pins exactly what each
stack's identity issuer Certificate makes cert-manager send, and a change in any rendered document re-converges.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from components.mesh import cert_specs
from components.vault.bootstrap import spec as spec_module
from components.vault.bootstrap.recovery import InMemorySecretStore, RecoveryMaterial
from components.vault.bootstrap.spec import (
    BootstrapSpec,
    cert_manager_default_audience,
    signing_parameters,
    snapshot_role_payload,
    spec_from_props,
    spec_hash,
    spec_to_props,
)
from components.vault.bootstrap.steps import bootstrap
from components.vault.vault_bootstrap import VaultBootstrapProvider
from tests.conftest import STACKS, plan_of
from tests.helpers.openbao import (  # noqa: F401  # fixtures are found by name
    OpenBaoServer,
    ServerFactory,
    TokenReviewer,
    openbao_factory,
    openbao_transit,
    openbao_workdir,
    token_reviewer,
)
from tests.helpers.vault_double import VaultDouble

LOG = logging.getLogger("test.vault_least_privilege")
ISSUER = cert_specs.identity_issuer_name("cluster.local")
DURATION_HOURS = 2160


# --- Offline: the policy pins what the program's Certificate makes cert-manager send ------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_pins_exactly_what_the_identity_issuer_certificate_makes_cert_manager_send(stack: str) -> None:
    plan = plan_of(stack)
    spec = spec_from_props(plan.one("pulumi-python:dynamic:Resource", "vault-bootstrap").inputs)
    certificate = plan.one("kubernetes:cert-manager.io/v1:Certificate", "trust-chain-identity-issuer").inputs["spec"]
    pinned = signing_parameters(spec)
    # cert-manager v1.21.1 internal/vault/vault.go Sign: CN and names from the CSR (made from this spec), ttl from
    # the duration, formatted by Go (the Certificate's duration is already Go-formatted: cert_specs.hours).
    assert pinned["common_name"] == [certificate["commonName"]]
    assert pinned["alt_names"] == [",".join(certificate["dnsNames"])]
    assert pinned["ttl"] == [certificate["duration"]]
    assert "ipAddresses" not in certificate and "uris" not in certificate and pinned["ip_sans"] == pinned["uri_sans"]
    assert certificate["privateKey"] == {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}


def test_spec_hash_covers_the_rendered_documents_so_a_policy_change_reconverges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = BootstrapSpec(root_common_name="r", audience="vault://r")
    stored = {"root_ca_pem": "pem", "spec_hash": spec_hash(spec)}
    news = spec_to_props(spec)
    assert VaultBootstrapProvider().diff("id", stored, news).changes is False

    # The same spec, a different rendering of the cert-manager policy (as a code change would make it).
    monkeypatch.setattr(spec_module, "cert_manager_policy", lambda s: 'path "pki/*" { capabilities = ["update"] }\n')
    assert VaultBootstrapProvider().diff("id", stored, news).changes is True
    monkeypatch.undo()
    monkeypatch.setattr(spec_module, "snapshot_role_payload", lambda s: {"bound_service_account_names": ["*"]})
    assert VaultBootstrapProvider().diff("id", stored, news).changes is True
    monkeypatch.undo()
    monkeypatch.setattr(spec_module, "root_ca_parameters", lambda s: {"key_type": "rsa"})
    assert VaultBootstrapProvider().diff("id", stored, news).changes is True


@pytest.mark.parametrize(("change", "message"), [
    ({"identity_issuer_common_name": "*.linkerd.cluster.local"}, "identity_issuer_common_name must be"),
    ({"identity_issuer_common_name": "identity.linkerd.cluster.local,evil.example"}, "lowercase DNS name"),
    ({"identity_issuer_ttl_hours": 0}, "identity_issuer_ttl_hours"),
    ({"identity_issuer_ttl_hours": 90000}, "identity_issuer_ttl_hours"),
])
def test_a_name_or_ttl_that_would_widen_the_policy_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BootstrapSpec(root_common_name="r", audience="vault://r", **change)


def test_an_existing_root_without_the_name_constraint_is_kept_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # The HTTP double generates roots without name constraints, as every root made before them is.
    spec = BootstrapSpec(root_common_name="r", audience="vault://r")
    with VaultDouble() as double:
        store = InMemorySecretStore()
        first = bootstrap(hvac.Client(url=double.url, timeout=5), spec, store, LOG, ready_timeout_s=2,
                          sleep=lambda _s: None)
        caplog.set_level(logging.WARNING)
        again = bootstrap(hvac.Client(url=double.url, timeout=5), spec, store, LOG, ready_timeout_s=2,
                          sleep=lambda _s: None)
    assert again.root_ca_pem == first.root_ca_pem and double.state.root_generations == 1
    assert "does not limit the DNS names below it to identity.linkerd.cluster.local" in caplog.text
    assert "next trust-anchor rotation" in caplog.text


# --- Against OpenBao: a bootstrapped server --------------------------------------------------------------------

@dataclass
class Bootstrapped:
    server: OpenBaoServer
    reviewer: TokenReviewer
    spec: BootstrapSpec
    root_token: str  # the initial root token, kept by the test (the bootstrap makes and revokes its own)
    store: InMemorySecretStore

    def login_auth(self, role: str, account: str, namespace: str, audience: str) -> dict[str, Any]:
        jwt = self.reviewer.service_account_token(account, namespace, [audience])
        return dict(self.server.client().auth.kubernetes.login(role, jwt)["auth"])

    def login(self, role: str, account: str, namespace: str, audience: str) -> str:
        return str(self.login_auth(role, account, namespace, audience)["client_token"])

    @functools.cached_property
    def cert_manager_token(self) -> str:  # one login serves the module's requests (5 min TTL, unlimited uses)
        spec = self.spec
        return self.login(spec.cert_manager_role, spec.cert_manager_service_account, spec.cert_manager_namespace,
                          spec.audience)

    @functools.cached_property
    def snapshot_token(self) -> str:
        spec = self.spec
        return self.login(spec.snapshot_role, spec.snapshot_service_account, spec.snapshot_namespace,
                          spec.snapshot_audience)

    @functools.cached_property
    def http(self) -> requests.Session:  # one TLS connection for the module's requests
        return requests.Session()

    def call(self, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        # verify per request: a Session's own verify loses to REQUESTS_CA_BUNDLE from the environment.
        return self.http.request(method, f"{self.server.url}/v1/{path}", json=body, timeout=10,
                                 headers={"X-Vault-Token": token}, verify=self.server.ca_path)

    def rerun(self) -> list[str]:
        return bootstrap(self.server.client(), self.spec, self.store, LOG, ready_timeout_s=20).changed


@pytest.fixture(scope="module")
def vault(openbao_factory: ServerFactory, token_reviewer: TokenReviewer) -> Iterator[Bootstrapped]:  # noqa: F811
    server = openbao_factory()
    if not server.kubernetes_login:
        pytest.skip("unshare -rm is refused here, so Kubernetes auth logins cannot work (tests/helpers/openbao.py)")
    answer = server.client().sys.initialize(recovery_shares=5, recovery_threshold=3)
    store = InMemorySecretStore(RecoveryMaterial(tuple(answer["recovery_keys_base64"]), 3).to_json())
    spec = BootstrapSpec(root_common_name="test trust anchor", audience=cert_manager_default_audience("vault-issuer"),
                         identity_issuer_common_name=ISSUER, identity_issuer_ttl_hours=DURATION_HOURS,
                         seal_type="transit", kubernetes_host=token_reviewer.host)
    done = Bootstrapped(server, token_reviewer, spec, str(answer["root_token"]), store)
    assert "cert-manager-policy" in done.rerun()
    # Another PKI mount with its own root: the token must not reach it either.
    admin = server.client(done.root_token)
    admin.sys.enable_secrets_engine("pki", path="pki-other")
    admin.secrets.pki.generate_root("internal", "other root", mount_point="pki-other")
    yield done
    done.http.close()
    server.kill()


def identity_issuer_csr(names: list[str], key: Any = None) -> str:
    """The CSR cert-manager makes for the identity issuer Certificate (CN + DNS SANs, ECDSA P-256 unless given)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, names[0])]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def cert_manager_body(csr_pem: str, duration_hours: int = DURATION_HOURS) -> dict[str, str]:
    """The JSON body cert-manager v1.21.1 posts (internal/vault/vault.go Sign), for a CSR like the issuer's."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    common_name = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return {
        "common_name": str(common_name),
        "alt_names": ",".join(names.get_values_for_type(x509.DNSName)),
        "ip_sans": ",".join(str(ip) for ip in names.get_values_for_type(x509.IPAddress)),
        "uri_sans": ",".join(names.get_values_for_type(x509.UniformResourceIdentifier)),
        "ttl": f"{duration_hours}h0m0s",
        "csr": csr_pem,
        "exclude_cn_from_sans": "true",
    }


def signed(response: requests.Response) -> x509.Certificate:
    assert response.status_code == 200, response.text
    return x509.load_pem_x509_certificate(response.json()["data"]["certificate"].encode())


def only_dns_names(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [] and names.get_values_for_type(x509.OtherName) == []
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == []
    return list(names.get_values_for_type(x509.DNSName))




def test_cert_manager_gets_the_linkerd_identity_issuer_signed(vault: Bootstrapped) -> None:
    spec = vault.spec
    auth = vault.login_auth(spec.cert_manager_role, spec.cert_manager_service_account, spec.cert_manager_namespace,
                            spec.audience)
    # The signing policy alone (not even "default": the token cannot look itself up), for 5 minutes.
    assert auth["policies"] == [spec.cert_manager_policy] and auth["lease_duration"] == 300
    token = auth["client_token"]
    assert vault.call(token, "GET", "auth/token/lookup-self").status_code == 403

    cert = signed(vault.call(token, "POST", vault.spec.signing_path, cert_manager_body(identity_issuer_csr([ISSUER]))))

    assert cert.subject.rfc4514_string() == f"CN={ISSUER}" and only_dns_names(cert) == [ISSUER]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0  # the root's path length 1 minus one: no further CA
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc  # OpenBao back-dates not_before by 30 s
    assert dt.timedelta(hours=DURATION_HOURS) <= lifetime <= dt.timedelta(hours=DURATION_HOURS, minutes=1)
    root = x509.load_pem_x509_certificate(vault.server.client().secrets.pki.read_ca_certificate().encode())
    assert cert.issuer == root.subject
    root.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    name_constraints = root.extensions.get_extension_for_class(x509.NameConstraints)
    assert name_constraints.critical and name_constraints.value.permitted_subtrees == [x509.DNSName(ISSUER)]


def test_names_in_the_csr_are_ignored_and_its_key_type_is_not_pinned(vault: Bootstrapped) -> None:
    token = vault.cert_manager_token
    # A CSR asking for more names, sent with the pinned parameters: the names come from the parameters only.
    body = cert_manager_body(identity_issuer_csr([ISSUER]))
    body["csr"] = identity_issuer_csr([ISSUER, "shop.example.com", "evil.identity.linkerd.cluster.local"])
    assert only_dns_names(signed(vault.call(token, "POST", vault.spec.signing_path, body))) == [ISSUER]
    # What no policy or PKI setting of Vault/OpenBao 2.x can pin: the CSR's key type (an RSA key is signed too).
    # Linkerd refuses such an issuer; cert-manager's Certificate asks for ECDSA P-256 (spec.cert_manager_policy).
    rsa_csr = identity_issuer_csr([ISSUER], rsa.generate_private_key(public_exponent=65537, key_size=2048))
    rsa_cert = signed(vault.call(token, "POST", vault.spec.signing_path, cert_manager_body(rsa_csr)))
    assert isinstance(rsa_cert.public_key(), rsa.RSAPublicKey)


Change = Callable[[dict[str, str]], dict[str, Any]]
SIGNING_REFUSED: dict[str, Change] = {
    "another CN": lambda b: {**b, "common_name": "shop.example.com", "alt_names": "shop.example.com"},
    "a CN under the issuer's domain": lambda b: {**b, "common_name": f"x.{ISSUER}", "alt_names": f"x.{ISSUER}"},
    "an extra DNS SAN": lambda b: {**b, "alt_names": f"{ISSUER},shop.example.com"},
    "an IP SAN": lambda b: {**b, "ip_sans": "10.0.0.1"},
    "a URI SAN": lambda b: {**b, "uri_sans": "spiffe://cluster.local/ns/prod-app/sa/checkout"},
    "an other SAN": lambda b: {**b, "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:admin@example.com"},
    "a longer TTL": lambda b: {**b, "ttl": f"{DURATION_HOURS + 1}h0m0s"},
    "the root's TTL": lambda b: {**b, "ttl": "87600h"},
    "no TTL (Vault's default)": lambda b: {k: v for k, v in b.items() if k != "ttl"},
    "no CN (the CSR's)": lambda b: {k: v for k, v in b.items() if k != "common_name"},
    "use_csr_values": lambda b: {**b, "use_csr_values": "true"},
    "a path length": lambda b: {**b, "max_path_length": "3"},
    "own name constraints": lambda b: {**b, "permitted_dns_domains": "example.com"},
    "not_after": lambda b: {**b, "not_after": "2099-01-01T00:00:00Z"},
    "another issuer_ref": lambda b: {**b, "issuer_ref": "default"},
    "an empty request": lambda b: {},
}


@pytest.mark.parametrize("case", SIGNING_REFUSED)
def test_cert_manager_is_refused_anything_but_the_identity_issuer(vault: Bootstrapped, case: str) -> None:
    body = SIGNING_REFUSED[case](cert_manager_body(identity_issuer_csr([ISSUER])))
    response = vault.call(vault.cert_manager_token, "POST", vault.spec.signing_path, body)
    assert response.status_code == 403, response.text


CERT_MANAGER_PATHS_REFUSED = [
    ("POST", "pki/root/generate/internal"), ("POST", "pki/root/generate/exported"),
    ("POST", "pki/root/rotate/internal"), ("POST", "pki/intermediate/generate/internal"),
    ("POST", "pki/issue/any"), ("POST", "pki/sign/any"), ("POST", "pki/sign-verbatim"),
    ("POST", "pki/sign-verbatim/any"), ("POST", "pki/issuer/trust-anchor/sign-intermediate"),
    ("POST", "pki/issuers/import/bundle"), ("POST", "pki/roles/any"), ("GET", "pki/roles/any"),
    ("POST", "pki/config/urls"), ("POST", "pki/config/ca"), ("POST", "pki/revoke"),
    ("POST", "pki-other/root/sign-intermediate"),
    ("GET", "sys/storage/raft/snapshot"), ("GET", "sys/policies/acl/cert-manager-linkerd-issuer"),
    ("POST", "sys/policies/acl/cert-manager-linkerd-issuer"), ("POST", "sys/mounts/evil"), ("GET", "sys/audit"),
    ("POST", "auth/token/create"), ("POST", "auth/kubernetes/role/cert-manager"),
]


@pytest.mark.parametrize(("method", "path"), CERT_MANAGER_PATHS_REFUSED)
def test_cert_manager_reaches_no_other_path(vault: Bootstrapped, method: str, path: str) -> None:
    body = cert_manager_body(identity_issuer_csr([ISSUER])) if method == "POST" else None
    response = vault.call(vault.cert_manager_token, method, path, body)
    assert response.status_code == 403, response.text


def test_the_snapshot_token_reads_a_snapshot(vault: Bootstrapped) -> None:
    spec = vault.spec
    auth = vault.login_auth(spec.snapshot_role, spec.snapshot_service_account, spec.snapshot_namespace,
                            spec.snapshot_audience)
    assert auth["policies"] == [spec.snapshot_policy] and auth["lease_duration"] == 300
    token = auth["client_token"]
    response = vault.call(token, "GET", "sys/storage/raft/snapshot")
    assert response.status_code == 200 and response.content[:2] == b"\x1f\x8b"  # a gzip'd raft snapshot


SNAPSHOT_PATHS_REFUSED = [
    ("POST", "sys/storage/raft/snapshot"), ("POST", "sys/storage/raft/snapshot-force"),
    ("GET", "sys/storage/raft/configuration"), ("POST", "sys/storage/raft/remove-peer"),
    ("POST", "pki/root/sign-intermediate"), ("GET", "sys/policies/acl/vault-raft-snapshot"),
    ("POST", "auth/token/create"), ("GET", "auth/kubernetes/role/vault-snapshot"), ("GET", "sys/mounts"),
]


@pytest.mark.parametrize(("method", "path"), SNAPSHOT_PATHS_REFUSED)
def test_the_snapshot_token_does_nothing_else(vault: Bootstrapped, method: str, path: str) -> None:
    response = vault.call(vault.snapshot_token, method, path, {} if method == "POST" else None)
    assert response.status_code == 403, response.text


LOGINS_REFUSED = [  # role, service account, namespace, audience
    ("vault-snapshot", "default", "vault", "vault-raft-snapshot"),  # another account in its namespace
    ("vault-snapshot", "vault-snapshot", "prod-app", "vault-raft-snapshot"),  # its name in another namespace
    ("vault-snapshot", "vault-snapshot", "vault", "vault://vault-issuer"),  # another audience
    ("vault-snapshot", "vault-issuer", "cert-manager", "vault://vault-issuer"),  # cert-manager's identity
    ("cert-manager", "vault-issuer", "prod-app", "vault://vault-issuer"),
    ("cert-manager", "cert-manager", "cert-manager", "vault://vault-issuer"),  # the controller's own account
    ("cert-manager", "vault-issuer", "cert-manager", "vault-raft-snapshot"),
    ("cert-manager", "vault-snapshot", "vault", "vault-raft-snapshot"),  # the CronJob's identity
]


@pytest.mark.parametrize(("role", "account", "namespace", "audience"), LOGINS_REFUSED)
def test_login_is_refused_to_any_other_identity(
    vault: Bootstrapped, role: str, account: str, namespace: str, audience: str,
) -> None:
    with pytest.raises(hvac.exceptions.VaultError):
        vault.login(role, account, namespace, audience)


def test_a_role_widened_by_hand_is_reset_by_the_next_run(vault: Bootstrapped, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    path = f"auth/{vault.spec.kubernetes_auth_path}/role/{vault.spec.snapshot_role}"
    admin = vault.server.client(vault.root_token)
    admin.write_data(path, data={  # what someone might add by hand: any namespace labelled so, any CIDR, a period
        "bound_service_account_namespace_selector": '{"matchLabels":{"team":"shop"}}',
        "bound_service_account_namespaces": ["vault", "prod-app"], "token_policies": ["vault-raft-snapshot", "root"],
        "token_bound_cidrs": ["10.0.0.0/8"], "token_period": 86400, "token_num_uses": 0, "token_explicit_max_ttl": 0})

    assert vault.rerun() == ["snapshot-role"]

    current = admin.read(path)["data"]
    wanted = snapshot_role_payload(vault.spec)
    assert {key: current[key] for key in wanted} == wanted
    assert current["bound_service_account_namespace_selector"] == "" and current["token_period"] == 0
    with pytest.raises(hvac.exceptions.VaultError):
        vault.login(vault.spec.snapshot_role, "vault-snapshot", "prod-app", "vault-raft-snapshot")
    assert vault.rerun() == []  # and it stays converged
    assert "does not limit the DNS names" not in caplog.text  # this root carries the name constraint
