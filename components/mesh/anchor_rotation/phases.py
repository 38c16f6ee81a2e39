"""The trust-anchor rotation as a resumable sequence of phases, recorded in a status ConfigMap.

Each CronJob run reads the status, runs phases in order until the rotation is done, paused, waiting or blocked by a
health gate, and records each phase as done right after it (so a run killed at any point is resumed by the next).
Every phase is idempotent: it reads before it writes, and its restarts carry a mark (`<rotation>-<phase>`) in the
pod template, so a resumed restart waits for the same rollout instead of starting another.

  new-root        a new root issuer trust-anchor-<n> in the same PKI mount (NOT the default yet: a renewal of the
                  identity issuer meanwhile still comes from the old root, which every proxy trusts)
  bundle-both     Linkerd's trust roots ConfigMap holds old + new
  restart-trust   control plane, then the meshed workloads: every proxy now trusts both roots
  reissue         the new root becomes the mount's default issuer and the identity issuer is re-issued from it
  restart-issuer  control plane, then workloads: every proxy holds a leaf from the new chain
  bundle-new      the trust roots hold the new root only
  restart-final   control plane, then workloads: no proxy trusts the old root any more
  retire-old      the old root issuer is revoked in Vault (kept, so its CRL and audit trail stay readable)

A person (or the schedule) writes `request` in the status ConfigMap: `start`, `pause`, `resume` or `abort`. Abort is
accepted until `reissue` switches the default issuer: it puts the bundle back to the old root only,
restarts, and revokes the new root, leaving the mesh on the old anchor. A rotation also starts by itself when the
current anchor has less than `threshold_s` left. Before every phase the health gate must pass (`gate_problems`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

PHASES: tuple[str, ...] = ("new-root", "bundle-both", "restart-trust", "reissue", "restart-issuer", "bundle-new",
                           "restart-final", "retire-old")
ABORT_PHASES: tuple[str, ...] = ("abort-bundle-old", "abort-restart", "abort-retire-new")
# An abort is accepted while the next phase to run is at most `reissue` and the new root is not Vault's default yet
# (a run killed inside `reissue` may have switched it).
ABORTABLE: frozenset[str] = frozenset(PHASES[:PHASES.index("reissue") + 1])
IDLE, DONE, ABORTED = "idle", "done", "aborted"
RESTART_ANNOTATION = "mtls-platform.io/trust-anchor-rotation"
REQUESTS = ("start", "pause", "resume", "abort")


@dataclass(frozen=True)
class Issuer:
    """A root issuer of the PKI mount as the rotation sees it."""

    name: str
    pem: str
    revoked: bool
    default: bool

    @property
    def not_after(self) -> float:
        return x509.load_pem_x509_certificate(self.pem.encode()).not_valid_after_utc.timestamp()


class AnchorVault(Protocol):
    """What the rotation does in Vault (vault_side.HvacAnchorVault with the rotation's own token)."""

    def issuers(self) -> list[Issuer]: ...
    def generate(self, generation: int) -> Issuer: ...  # idempotent: an existing issuer of that name is returned
    def set_default(self, name: str) -> None: ...
    def revoke(self, name: str) -> None: ...  # idempotent; refuses the current default


@dataclass(frozen=True)
class IssuerCertificate:
    """The identity issuer Certificate: cert-manager's status and the certificate of its latest request."""

    revision: int
    ready: bool
    issuing: bool
    certificate_pem: str  # of the latest CertificateRequest (public), "" when unknown


@dataclass(frozen=True)
class Health:
    """What the gate reads (kube_side.KubeCluster.health): the `verify` checks that matter to a rotation."""

    certificates_not_ready: tuple[str, ...] = ()  # cert-manager Certificates without Ready=True
    pods_not_ready: tuple[str, ...] = ()  # pods of the control plane and meshed namespaces not Ready
    pods_unmeshed: tuple[str, ...] = ()  # pods of the meshed namespaces without the linkerd-proxy container
    authz_denials: float | None = None  # inbound authorization denials in the window (None: no Prometheus)
    plaintext_responses: float | None = None  # responses without tls="true" in the window


class Cluster(Protocol):
    """What the rotation does in Kubernetes (kube_side.KubeCluster; tests use an in-memory world)."""

    def read_status(self) -> dict[str, str]: ...
    def write_status(self, data: dict[str, str]) -> None: ...
    def trust_bundle(self) -> str: ...
    def write_trust_bundle(self, pem: str) -> None: ...
    def deployments(self, namespace: str) -> list[str]: ...
    def restart(self, namespace: str, deployment: str, mark: str) -> None: ...  # sets the mark if it differs
    def rollouts_pending(  # the deployments not rolled out to `mark` when done or timed out
        self, namespace: str, deployments: Sequence[str], mark: str, timeout_s: float) -> list[str]: ...
    def issuer_certificate(self) -> IssuerCertificate: ...
    def trigger_reissue(self) -> None: ...  # what `cmctl renew` does
    def health(self) -> Health: ...
    def wait(self, seconds: float) -> None: ...  # between looks at something that takes time


@dataclass(frozen=True)
class Settings:
    control_plane_namespace: str  # linkerd: its deployments restart first in every round
    meshed_namespaces: tuple[str, ...]  # the app namespace(s)
    threshold_s: float  # start by itself when the current anchor has less than this left
    stuck_after_s: float  # a phase running longer than this makes the run exit non-zero (alert)
    rollout_timeout_s: float = 1800.0
    max_denials: float = 0.0  # authorization denials tolerated in the gate's window
    phases: tuple[str, ...] = PHASES  # tests drop one to show what skipping it breaks


@dataclass(frozen=True)
class Status:
    """The status ConfigMap's data, typed. `phase` is the next phase to run (or idle/done/aborted)."""

    phase: str = IDLE
    generation: int = 0  # the new anchor's generation (its issuer is trust-anchor-<generation>)
    old_issuer: str = ""
    new_issuer: str = ""
    paused: bool = False
    request: str = ""
    phase_started: float = 0.0
    reissue_from_revision: int = -1  # the identity issuer's revision when the reissue was triggered
    message: str = ""
    done: tuple[str, ...] = field(default_factory=tuple)

    def to_data(self) -> dict[str, str]:
        """Every field but `request`, which is a person's to write (the controller only clears it, `_requests`)."""
        return {"phase": self.phase, "generation": str(self.generation), "oldIssuer": self.old_issuer,
                "newIssuer": self.new_issuer, "paused": str(self.paused).lower(),
                "phaseStarted": f"{self.phase_started:.0f}", "reissueFromRevision": str(self.reissue_from_revision),
                "message": self.message, "done": ",".join(self.done)}

    @classmethod
    def from_data(cls, data: dict[str, str]) -> Status:
        return cls(phase=data.get("phase") or IDLE, generation=int(data.get("generation") or 0),
                   old_issuer=data.get("oldIssuer", ""), new_issuer=data.get("newIssuer", ""),
                   paused=data.get("paused") == "true", request=(data.get("request") or "").strip(),
                   phase_started=float(data.get("phaseStarted") or 0),
                   reissue_from_revision=int(data.get("reissueFromRevision") or -1),
                   message=data.get("message", ""), done=tuple(p for p in (data.get("done") or "").split(",") if p))

    @property
    def in_progress(self) -> bool:
        return self.phase not in (IDLE, DONE, ABORTED)


class Blocked(RuntimeError):
    """The run stops here without failing the rotation: a gate, a rollout not finished in time, a refused request."""


def gate_problems(health: Health, max_denials: float = 0.0) -> list[str]:
    """Why the mesh is not healthy enough to start the next phase (empty: go)."""
    problems = [f"certificate not Ready: {name}" for name in health.certificates_not_ready]
    problems += [f"pod not Ready: {name}" for name in health.pods_not_ready]
    problems += [f"pod not meshed (no linkerd-proxy): {name}" for name in health.pods_unmeshed]
    if health.authz_denials is not None and health.authz_denials > max_denials:
        problems.append(f"{health.authz_denials:g} authorization denial(s) in the window (max {max_denials:g})")
    if health.plaintext_responses is not None and health.plaintext_responses > 0:
        problems.append(f"{health.plaintext_responses:g} response(s) without mTLS in the window")
    return problems


def signed_by(certificate_pem: str, root_pem: str) -> bool:
    """The certificate's issuer name is the root's subject and the root's key signed it."""
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem.encode())
        root = x509.load_pem_x509_certificate(root_pem.encode())
        key = root.public_key()
        if cert.issuer != root.subject or not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))  # type: ignore[arg-type]
    except Exception:  # unparsable or a bad signature: not signed by it
        return False
    return True


class Rotation:
    """One CronJob run (`run()`), over a Cluster, an AnchorVault and the status record."""

    def __init__(self, cluster: Cluster, vault: AnchorVault, settings: Settings, family: Callable[[str], int | None],
                 log: logging.Logger, clock: Callable[[], float]) -> None:
        # family: generation of an issuer name of the trust-anchor family (spec.anchor_generation), None otherwise.
        self.cluster, self.vault, self.settings, self.family, self.log, self.clock = (
            cluster, vault, settings, family, log, clock)

    # --- the record ---------------------------------------------------------------------------------------------
    def _save(self, status: Status) -> Status:
        self.cluster.write_status(status.to_data())
        return status

    def _advance(self, status: Status, phases: Sequence[str], current: str) -> Status:
        index = phases.index(current)
        following = phases[index + 1] if index + 1 < len(phases) else (ABORTED if phases is ABORT_PHASES else DONE)
        self.log.info("phase %s done; next: %s", current, following)
        return self._save(replace(status, phase=following, phase_started=self.clock(), message="",
                                  done=(*status.done, current)))

    # --- one run ------------------------------------------------------------------------------------------------
    def run(self) -> Status:
        """Run phases until done, paused, or blocked; returns the recorded status (main turns `stuck` into an exit
        code)."""
        status = self._requests(Status.from_data(self.cluster.read_status()))
        if status.paused:
            self.log.info("rotation paused at phase %s", status.phase)
            return status
        if not status.in_progress:
            status = self._maybe_start(status)
            if not status.in_progress:
                return status
        phases = ABORT_PHASES if status.phase in ABORT_PHASES else self.settings.phases
        try:
            while status.phase in phases:
                problems = gate_problems(self.cluster.health(), self.settings.max_denials)
                if problems:
                    raise Blocked(f"health gate before {status.phase}: " + "; ".join(problems))
                current = status.phase
                status = self._run_phase(status, current)
                status = self._advance(status, phases, current)
                # A person may pause or abort while a run is under way: look between phases.
                status = self._requests(replace(status, request=self.cluster.read_status().get("request", "")))
                if status.paused:
                    return status
                phases = ABORT_PHASES if status.phase in ABORT_PHASES else phases
        except Blocked as exc:
            self.log.warning("%s", exc)
            return self._save(replace(status, message=str(exc)[:1000]))
        return status

    def stuck(self, status: Status) -> bool:
        return status.in_progress and not status.paused and \
            self.clock() - status.phase_started > self.settings.stuck_after_s

    def _requests(self, status: Status) -> Status:
        """Act on a person's request, record the effect, then clear the request: a run killed in between finds the
        request again and acting on it twice changes nothing."""
        request = status.request
        if not request:
            return status
        cleared = replace(status, request="")
        if request == "pause":
            status = self._save(replace(cleared, paused=True, message="paused by request"))
        elif request == "resume":
            status = self._save(replace(cleared, paused=False, message="resumed by request"))
        elif request == "abort" and status.phase in ABORT_PHASES:
            status = cleared  # already aborting
        elif request == "abort" and status.phase in ABORTABLE and not self._switched(status):
            self.log.warning("abort requested at %s: back to the old anchor", status.phase)
            status = self._save(replace(cleared, phase=ABORT_PHASES[0], paused=False, phase_started=self.clock(),
                                        message="abort requested"))
        elif request == "abort":
            why = ("nothing to abort" if not status.in_progress else
                   f"abort refused at {status.phase}: the identity issuer already moved (or is moving) to the new "
                   "anchor; finish the rotation, or pause it")
            self.log.warning("%s", why)
            status = self._save(replace(cleared, message=why))
        elif request == "start":
            status = cleared if status.in_progress else self._begin(cleared, "requested")
        else:
            status = self._save(replace(cleared, message=f"unknown request {request!r} ignored (one of {REQUESTS})"))
        self.cluster.write_status({"request": ""})
        return status

    def _switched(self, status: Status) -> bool:
        return bool(status.new_issuer) and any(i.default for i in self.vault.issuers() if i.name == status.new_issuer)

    def _maybe_start(self, status: Status) -> Status:
        current = self._default_anchor()
        left = current.not_after - self.clock()
        if left < self.settings.threshold_s:
            return self._begin(status, f"the trust anchor has {left / 86400:.0f} days left")
        return status

    def _begin(self, status: Status, why: str) -> Status:
        current = self._default_anchor()
        generations = [g for g in (self.family(i.name) for i in self.vault.issuers()) if g]
        generation = max(generations, default=1) + 1
        self.log.info("starting trust-anchor rotation to generation %d (%s)", generation, why)
        return self._save(Status(phase=self.settings.phases[0], generation=generation, old_issuer=current.name,
                                 phase_started=self.clock(), message=f"started: {why}"))

    def _default_anchor(self) -> Issuer:
        found = [i for i in self.vault.issuers() if i.default]
        if not found or self.family(found[0].name) is None:
            raise Blocked("the PKI mount's default issuer is not a trust anchor of this platform; run pulumi up")
        return found[0]

    def _issuer(self, name: str) -> Issuer:
        for issuer in self.vault.issuers():
            if issuer.name == name:
                return issuer
        raise Blocked(f"issuer {name!r} not found in Vault")

    # --- the phases ---------------------------------------------------------------------------------------------
    def _run_phase(self, status: Status, phase: str) -> Status:
        self.log.info("phase %s (rotation to generation %d)", phase, status.generation)
        if phase == "new-root":
            new = self.vault.generate(status.generation)
            return self._save(replace(status, new_issuer=new.name))
        if phase in ("bundle-both", "bundle-new", "abort-bundle-old"):
            names = {"bundle-both": (status.old_issuer, status.new_issuer), "bundle-new": (status.new_issuer,),
                     "abort-bundle-old": (status.old_issuer,)}[phase]
            bundle = "".join(self._issuer(n).pem.strip() + "\n" for n in names if n)
            if self.cluster.trust_bundle() != bundle:
                self.cluster.write_trust_bundle(bundle)
            return status
        if phase.startswith(("restart-", "abort-restart")):
            self._restart_round(f"{status.generation}-{phase}")
            return status
        if phase == "reissue":
            return self._reissue(status)
        if phase == "retire-old":
            self.vault.revoke(status.old_issuer)
            return status
        if phase == "abort-retire-new":
            if status.new_issuer:
                self.vault.revoke(status.new_issuer)
            return status
        raise Blocked(f"unknown phase {phase!r}")

    def _restart_round(self, mark: str) -> None:
        """Control plane first (identity, destination and injector load the trust roots at start), then the meshed
        workloads; each namespace's deployments roll together under their own strategy (maxUnavailable 0)."""
        for namespace in (self.settings.control_plane_namespace, *self.settings.meshed_namespaces):
            names = self.cluster.deployments(namespace)
            for name in names:
                self.cluster.restart(namespace, name, mark)
            pending = self.cluster.rollouts_pending(namespace, names, mark, self.settings.rollout_timeout_s)
            if pending:
                raise Blocked(f"rollout of {namespace}/{', '.join(pending)} not finished within "
                              f"{self.settings.rollout_timeout_s:.0f} s (mark {mark})")

    def _reissue(self, status: Status) -> Status:
        new = self._issuer(status.new_issuer)
        if not new.default:
            self.vault.set_default(new.name)
        certificate = self.cluster.issuer_certificate()
        if certificate.ready and certificate.certificate_pem and signed_by(certificate.certificate_pem, new.pem):
            return status  # already re-issued from the new root (a resumed run)
        if status.reissue_from_revision < 0:  # recorded before the trigger, so a resumed run does not trigger twice
            status = self._save(replace(status, reissue_from_revision=certificate.revision))
        if certificate.revision <= status.reissue_from_revision and not certificate.issuing:
            self.cluster.trigger_reissue()
        raise_after = self.clock() + self.settings.rollout_timeout_s
        while True:
            certificate = self.cluster.issuer_certificate()
            if certificate.ready and certificate.revision > status.reissue_from_revision:
                if signed_by(certificate.certificate_pem, new.pem):
                    return status
                raise Blocked("the re-issued identity issuer is not signed by the new root")
            if self.clock() >= raise_after:
                raise Blocked("the identity issuer was not re-issued in time")
            self.cluster.wait(5.0)


def now() -> float:
    return datetime.now(UTC).timestamp()
