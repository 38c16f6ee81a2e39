"""An in-memory mesh for the trust-anchor rotation's tests, with real X.509 certificates (cryptography).

A double for what cannot run here (no Kubernetes API server, no Linkerd proxies): `MeshWorld` implements
phases.Cluster - the status and trust-roots ConfigMaps, Deployments whose pods roll one at a time (maxSurge 1,
maxUnavailable 0, as components/app/app_specs.py ROLLING_UPDATE), the identity issuer Certificate re-issued through a
`signer` (OpenBao's sign-intermediate with cert-manager's own token, or `LocalVault`) - and models each pod's
Linkerd proxy as Linkerd does: it reads the trust bundle once when it starts and gets a 24 h leaf for
`<sa>.<ns>.serviceaccount.identity.linkerd.cluster.local` from the identity issuer current at that moment.
`kill_at` raises `Killed` at a named point (crash tests); `observe` is called after every pod event (simulation).

`LocalVault` implements phases.AnchorVault with roots built from the bootstrap's own `rotation_root_request`
(same key type, lifetime, path length and name constraint; test_anchor_rotation_openbao.py checks that OpenBao's
roots carry the same extensions), so the simulation runs without a server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.mesh.anchor_rotation.phases import Health, Issuer, IssuerCertificate
from components.vault.bootstrap.spec import BootstrapSpec, anchor_issuer_name, rotation_root_request

IDENTITY_DOMAIN = "identity.linkerd.cluster.local"
START = dt.datetime(2031, 3, 1, tzinfo=dt.UTC)  # simulated time: no wall clock
POD_START_S = 30.0  # a new pod until Ready (image cached, proxy up), per pod of a rolling restart


class Killed(RuntimeError):
    """The run was killed here (a crash test's injected SIGKILL)."""


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _ski(key: ec.EllipticCurvePublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key)


def build_root(request: dict[str, str], now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A root as Vault's generate-root makes it from `request` (spec.rotation_root_request)."""
    assert (request["key_type"], request["key_bits"]) == ("ec", "256")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, request["common_name"])])
    ttl = dt.timedelta(hours=int(request["ttl"].rstrip("h")))
    permitted = [x509.DNSName(d) for d in request["permitted_dns_domains"].split(",")]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + ttl)
            .add_extension(x509.BasicConstraints(ca=True, path_length=int(request["max_path_length"])), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(_ski(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def sign_issuer(root: x509.Certificate, root_key: ec.EllipticCurvePrivateKey, public: ec.EllipticCurvePublicKey,
                now: dt.datetime, hours: int = 2160) -> x509.Certificate:
    """The identity issuer as sign-intermediate makes it: CA, path length root's minus one, one DNS name."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, IDENTITY_DOMAIN)])
    root_pathlen = root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    return (x509.CertificateBuilder().subject_name(name).issuer_name(root.subject).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(seconds=30))
            .not_valid_after(now + dt.timedelta(hours=hours))
            .add_extension(x509.BasicConstraints(ca=True, path_length=max((root_pathlen or 1) - 1, 0)), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(_ski(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(IDENTITY_DOMAIN)]), critical=False)
            .sign(root_key, hashes.SHA256()))


def sign_leaf(issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey, identity: str,
              now: dt.datetime) -> x509.Certificate:
    """A proxy's workload certificate as Linkerd's identity issues it: 24 h, server + client auth, one DNS name."""
    key = ec.generate_private_key(ec.SECP256R1())
    # The name lives in the SAN: a CN is limited to 64 characters, which a Linkerd identity name can exceed.
    return (x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(seconds=10)).not_valid_after(now + dt.timedelta(hours=24))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            # critical: RFC 5280 4.2.1.6 requires it with an empty subject (cryptography's verifier enforces it)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(identity)]), critical=True)
            .sign(issuer_key, hashes.SHA256()))


class LocalVault:
    """phases.AnchorVault in memory (plus sign-intermediate with the default issuer, as cert-manager calls it)."""

    def __init__(self, spec: BootstrapSpec, clock: Callable[[], dt.datetime]) -> None:
        self.spec, self.clock = spec, clock
        first = {**rotation_root_request(spec, 2), "issuer_name": spec.root_issuer_name,
                 "common_name": spec.root_common_name}
        cert, key = build_root(first, clock())
        self.roots: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = {
            spec.root_issuer_name: (cert, key)}
        self.default, self.revoked = spec.root_issuer_name, set[str]()
        self.calls: list[str] = []

    def issuers(self) -> list[Issuer]:
        return [Issuer(name, pem(cert), name in self.revoked, name == self.default)
                for name, (cert, _) in self.roots.items()]

    def generate(self, generation: int) -> Issuer:
        name = anchor_issuer_name(self.spec, generation)
        if name not in self.roots:
            self.calls.append(f"generate {name}")
            self.roots[name] = build_root(rotation_root_request(self.spec, generation), self.clock())
        return next(i for i in self.issuers() if i.name == name)

    def set_default(self, name: str) -> None:
        self.calls.append(f"default {name}")
        self.default = name

    def revoke(self, name: str) -> None:
        assert name != self.default
        if name not in self.revoked:
            self.calls.append(f"revoke {name}")
            self.revoked.add(name)

    def sign_intermediate(self, issuer_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        cert, key = self.roots[self.default]
        return sign_issuer(cert, key, issuer_key.public_key(), self.clock())


@dataclass
class Proxy:
    """A meshed pod's Linkerd proxy: the bundle it loaded at start, its leaf and the issuer that signed it."""

    name: str
    namespace: str
    service_account: str
    mark: str
    bundle: tuple[x509.Certificate, ...]
    leaf: x509.Certificate
    issuer: x509.Certificate

    def __post_init__(self) -> None:
        self.identity = f"{self.service_account}.{self.namespace}.serviceaccount.{IDENTITY_DOMAIN}"
        self.bundle_key = tuple(c.serial_number for c in self.bundle)  # what the simulation's memo is keyed by
        self.leaf_serial = self.leaf.serial_number


@dataclass
class Deployment:
    namespace: str
    name: str
    service_account: str
    replicas: int
    mark: str = ""  # the pod template's restart annotation
    pods: list[Proxy] = field(default_factory=list)


Signer = Callable[[ec.EllipticCurvePrivateKey], x509.Certificate]  # cert-manager: CSR of this key -> CA


class MeshWorld:
    """phases.Cluster in memory. See the module docstring."""

    def __init__(self, signer: Signer, root_pem: str, deployments: Sequence[tuple[str, str, str, int]]) -> None:
        self.signer = signer
        self.elapsed = 0.0  # simulated seconds since START
        self.status: dict[str, str] = {}
        self.bundle = root_pem
        self.deploys = {(ns, name): Deployment(ns, name, sa, replicas) for ns, name, sa, replicas in deployments}
        self.issuer_key = ec.generate_private_key(ec.SECP256R1())
        self.issuer = signer(self.issuer_key)
        self.revision, self.issuing = 1, False
        self.kill_at: Callable[[str], bool] = lambda point: False
        self.observe: Callable[[str], None] = lambda event: None
        self.events: list[str] = []
        self.unhealthy: Health | None = None  # set by a test: what health() answers
        self.serial = 0
        for deployment in self.deploys.values():
            deployment.pods = [self._start(deployment) for _ in range(deployment.replicas)]

    def now(self) -> dt.datetime:
        return START + dt.timedelta(seconds=self.elapsed)

    def _point(self, point: str) -> None:
        if self.kill_at(point):
            raise Killed(point)

    def _start(self, deployment: Deployment) -> Proxy:
        self.serial += 1
        bundle = tuple(x509.load_pem_x509_certificates(self.bundle.encode()))
        identity = f"{deployment.service_account}.{deployment.namespace}.serviceaccount.{IDENTITY_DOMAIN}"
        leaf = sign_leaf(self.issuer, self.issuer_key, identity, self.now())
        return Proxy(f"{deployment.name}-{self.serial}", deployment.namespace, deployment.service_account,
                     deployment.mark, bundle, leaf, self.issuer)

    # --- phases.Cluster ---------------------------------------------------------------------------------------
    def read_status(self) -> dict[str, str]:
        return dict(self.status)

    def write_status(self, data: dict[str, str]) -> None:
        self._point(f"status:{data.get('phase')}")
        self.status = {**self.status, **data}

    def trust_bundle(self) -> str:
        return self.bundle

    def write_trust_bundle(self, pem_text: str) -> None:
        self.events.append(f"bundle {len(x509.load_pem_x509_certificates(pem_text.encode()))} root(s)")
        self.bundle = pem_text
        self._point("bundle-written")

    def deployments(self, namespace: str) -> list[str]:
        return sorted(name for ns, name in self.deploys if ns == namespace)

    def restart(self, namespace: str, deployment: str, mark: str) -> None:
        self.deploys[(namespace, deployment)].mark = mark

    def rollouts_pending(self, namespace: str, deployments: Sequence[str], mark: str, timeout_s: float) -> list[str]:
        # Every deployment of the namespace rolls at once, one surge pod each: a round of the rollout starts one
        # new pod per deployment, then removes one old pod per deployment.
        rolling = [self.deploys[(namespace, name)] for name in deployments]
        while any(p.mark != d.mark for d in rolling for p in d.pods):
            self.elapsed += POD_START_S
            for d in rolling:
                old = next((p for p in d.pods if p.mark != d.mark), None)
                if old is None:
                    continue
                d.pods.append(self._start(d))
                self.observe(f"{d.namespace}/{d.name}: new pod with {len(d.pods[-1].bundle)} root(s)")
                d.pods.remove(old)
                self.observe(f"{d.namespace}/{d.name}: old pod gone")
                self._point(f"pod-replaced:{namespace}")
        return []

    def issuer_certificate(self) -> IssuerCertificate:
        if self.issuing:
            self._issue()  # cert-manager works on its own: a killed controller does not stop an issuance
        return IssuerCertificate(self.revision, not self.issuing, self.issuing, pem(self.issuer))

    def trigger_reissue(self) -> None:
        self._point("before-reissue")
        self.issuing = True  # what `cmctl renew` writes: the Issuing condition
        self._point("reissue-triggered")

    def _issue(self) -> None:
        # cert-manager: a new key (rotationPolicy Always), signed by Vault's default issuer; Linkerd's identity
        # watches the Secret and issues from the new issuer from then on.
        self.issuer_key = ec.generate_private_key(ec.SECP256R1())
        self.issuer = self.signer(self.issuer_key)
        self.revision, self.issuing = self.revision + 1, False
        self.events.append("identity issuer re-issued")
        self.observe("identity issuer re-issued")

    def health(self) -> Health:
        return self.unhealthy or Health(authz_denials=0.0, plaintext_responses=0.0)

    def wait(self, seconds: float) -> None:
        self.elapsed += seconds

    # --- for the simulation -------------------------------------------------------------------------------------
    def proxies(self, namespace: str) -> dict[str, list[Proxy]]:
        """Service account -> its live proxies in `namespace`."""
        found: dict[str, list[Proxy]] = {}
        for (ns, _), d in self.deploys.items():
            if ns == namespace:
                found.setdefault(d.service_account, []).extend(d.pods)
        return found


def clock_of(world: MeshWorld) -> Callable[[], float]:
    return lambda: world.now().timestamp()

