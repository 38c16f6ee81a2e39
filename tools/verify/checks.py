"""Post-deploy checks as pure functions over objects fetched from a live cluster (`make verify`,
tools/verify/verify.py).

Each check takes a `Snapshot` (Kubernetes API objects as plain dicts in their JSON shape, Prometheus vectors) and
the stack's `Expectations`, and returns result rows (check, subject, ok/warn/fail, detail). Nothing here talks to
a network, so every failure class is tested with fixtures (tests/tools/verify/test_verify.py, tests/fixtures/verify/).
Service-to-service edges and authorization denials come from Linkerd proxy metrics (tools/verify/metrics.py);
the types both read are in tools/verify/model.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from config.names import IDENTITY_ISSUER, LINKERD_NAMESPACE, TRUST_ROOTS_CONFIGMAP, VAULT_NAMESPACE
from tools.verify.leases import check_leases
from tools.verify.metrics import check_credentials, check_denials, check_edges
from tools.verify.model import (
    INJECT_ANNOTATION,
    Check,
    Expectations,
    Obj,
    Row,
    Snapshot,
    Status,
    meshed_namespaces,
    meta,
)

# `linkerd check` warns when the trust anchor or the identity issuer has less than this many days left
# (linkerd2 edge-26.8.3 pkg/issuercerts: expirationWarningThresholdInDays = 60). The issuer renews at 61 days left
# (mesh.identityIssuerRenewBeforeHours), so a warning here means its renewal is stuck.
EXPIRY_WARN_DAYS = 60
TRUST_ROOTS_KEY = "ca-bundle.crt"  # key of the linkerd-identity-trust-roots ConfigMap (components/mesh/trust_chain.py)
# Ref: linkerd2 edge-26.8.3 charts/partials/templates/_proxy.tpl (container name linkerd-proxy; `restartPolicy: Always`
# when proxy.nativeSidecar); linkerd-control-plane 2026.8.3 values.yaml `proxy.nativeSidecar: true` (the default).
PROXY_CONTAINER = "linkerd-proxy"
# Ref: https://developer.hashicorp.com/vault/docs/configuration/service-registration/kubernetes (label definitions;
# values.yaml of vault-helm 0.34.1 selects the leader with `vault-active: "true"`).
VAULT_LABELS = ("vault-initialized", "vault-sealed", "vault-active")


def _name(obj: Obj) -> str:
    m = meta(obj)
    return f"{m['namespace']}/{m['name']}" if m.get("namespace") else str(m.get("name"))


def load_pems(bundle: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(bundle.encode()) if "BEGIN CERTIFICATE" in bundle else []


def _window(cert: x509.Certificate, now: datetime) -> tuple[Status, str]:
    """Validity window of one certificate against `now` and the 60-day threshold."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    span = f"valid {start:%Y-%m-%d} .. {end:%Y-%m-%d %H:%M}Z"
    if now < start:
        return Status.FAIL, f"not yet valid ({span})"
    if now >= end:
        return Status.FAIL, f"EXPIRED {(now - end).days} day(s) ago ({span})"
    days = (end - now).days
    status = Status.WARN if days < EXPIRY_WARN_DAYS else Status.OK
    return status, f"{days} days left ({span})"


def _subject(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


def check_trust_anchor(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Every anchor in Linkerd's trust bundle is inside its validity window; Vault's current root is among them."""
    subject = f"{LINKERD_NAMESPACE}/{TRUST_ROOTS_CONFIGMAP}"
    bundle = ((snap.trust_roots or {}).get("data") or {}).get(TRUST_ROOTS_KEY, "")
    anchors = load_pems(bundle)
    if not anchors:
        return [Row("trust-anchor", subject, Status.FAIL, f"ConfigMap or its {TRUST_ROOTS_KEY} missing/empty")]
    rows = [Row("trust-anchor", _subject(a), *_window(a, snap.now)) for a in anchors]
    if snap.expected_anchor_pem:
        expected = load_pems(snap.expected_anchor_pem)
        if expected and not any(a == expected[0] for a in anchors):
            rows.append(Row("trust-anchor", subject, Status.FAIL,
                            "bundle does not contain the stack's trust_anchor_pem (Vault's current root)"))
    return rows


def _secret_pem(secret: Obj | None, key: str) -> str:
    raw = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(raw).decode() if raw else ""


def _chains(cert: x509.Certificate, anchors: Iterable[x509.Certificate]) -> bool:
    for anchor in anchors:
        try:
            cert.verify_directly_issued_by(anchor)
            return True
        except (InvalidSignature, ValueError, TypeError):  # bad signature, other issuer name, other key type
            continue
    return False


def check_identity_issuer(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Linkerd's identity issuer: valid now, renewal not overdue, an ECDSA P-256 CA signed by a trust anchor."""
    subject = f"{LINKERD_NAMESPACE}/{IDENTITY_ISSUER}"
    certs = load_pems(_secret_pem(snap.issuer_secret, "tls.crt"))
    if not certs:
        return [Row("identity-issuer", subject, Status.FAIL, "Secret or its tls.crt missing: Linkerd cannot issue")]
    issuer = certs[0]
    rows = [Row("identity-issuer", subject, *_window(issuer, snap.now))]
    renewal = _certificate_status(snap, LINKERD_NAMESPACE, IDENTITY_ISSUER).get("renewalTime")
    if renewal and _parse_time(renewal) < snap.now and rows[0].status is not Status.FAIL:
        rows.append(Row("identity-issuer", subject, Status.WARN, f"renewal overdue since {renewal}"))
    constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value \
        if _has_basic_constraints(issuer) else None
    key = issuer.public_key()
    if not (constraints and constraints.ca) or not (isinstance(key, ec.EllipticCurvePublicKey)
                                                    and isinstance(key.curve, ec.SECP256R1)):
        rows.append(Row("identity-issuer", subject, Status.FAIL,
                        "not an ECDSA P-256 CA certificate (Linkerd's identity rejects it)"))
    anchors = load_pems(((snap.trust_roots or {}).get("data") or {}).get(TRUST_ROOTS_KEY, ""))
    if _chains(issuer, anchors):
        rows.append(Row("identity-issuer", subject, Status.OK, "signed by a trust anchor in the bundle"))
    else:
        rows.append(Row("identity-issuer", subject, Status.FAIL,
                        f"does not chain to any trust anchor in {TRUST_ROOTS_CONFIGMAP}"))
    return rows


def _has_basic_constraints(cert: x509.Certificate) -> bool:
    return any(isinstance(e.value, x509.BasicConstraints) for e in cert.extensions)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _certificate_status(snap: Snapshot, namespace: str, name: str) -> Obj:
    for cert in snap.certificates:
        if meta(cert).get("namespace") == namespace and meta(cert).get("name") == name:
            return cert.get("status") or {}
    return {}


def _condition(obj: Obj, type_: str) -> Obj:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == type_), {})


def check_certificates(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Every cert-manager Certificate has Ready=True (the identity issuer must exist)."""
    rows = []
    for cert in sorted(snap.certificates, key=_name):
        ready = _condition(cert, "Ready")
        if ready.get("status") == "True":
            not_after = (cert.get("status") or {}).get("notAfter", "?")
            rows.append(Row("certificate", _name(cert), Status.OK, f"Ready, notAfter {not_after}"))
        else:
            why = f"{ready.get('reason', 'no Ready condition')}: {ready.get('message', '')}".rstrip(": ")
            rows.append(Row("certificate", _name(cert), Status.FAIL, f"not Ready ({why})"))
    if not _certificate_status(snap, LINKERD_NAMESPACE, IDENTITY_ISSUER) and not any(
            r.subject == f"{LINKERD_NAMESPACE}/{IDENTITY_ISSUER}" for r in rows):
        rows.append(Row("certificate", f"{LINKERD_NAMESPACE}/{IDENTITY_ISSUER}", Status.FAIL, "Certificate missing"))
    return rows


def check_vault(snap: Snapshot, exp: Expectations) -> list[Row]:
    """From the service-registration labels: every pod initialised and unsealed, exactly one active (leader)."""
    rows = []
    pods = sorted(snap.vault_pods, key=_name)
    for pod in pods:
        labels = meta(pod).get("labels") or {}
        missing = [k for k in VAULT_LABELS if k not in labels]
        phase = (pod.get("status") or {}).get("phase", "?")
        if missing:
            rows.append(Row("vault", _name(pod), Status.FAIL,
                            f"{phase}; no service-registration label(s) {', '.join(missing)}: Vault is not running "
                            "its server (or cannot label its pod)"))
        elif labels["vault-initialized"] != "true":
            rows.append(Row("vault", _name(pod), Status.FAIL, "not initialised (vault-initialized=false)"))
        elif labels["vault-sealed"] != "false":
            rows.append(Row("vault", _name(pod), Status.FAIL, "SEALED (vault-sealed=true): check the awskms seal"))
        else:
            role = "active" if labels["vault-active"] == "true" else "standby"
            rows.append(Row("vault", _name(pod), Status.OK, f"{phase}, initialised, unsealed, {role}"))
    active = [_name(p) for p in pods if (meta(p).get("labels") or {}).get("vault-active") == "true"]
    subject = f"{VAULT_NAMESPACE} leader"
    if len(active) == 1:
        rows.append(Row("vault", subject, Status.OK, f"{active[0]} is the one active node"))
    else:
        what = "no active node" if not active else f"{len(active)} active nodes ({', '.join(active)})"
        rows.append(Row("vault", subject, Status.FAIL, f"{what}: expected exactly one"))
    healthy = sum(r.status is Status.OK for r in rows if r.subject != subject)
    if healthy < exp.vault_replicas:
        status = Status.WARN if healthy > exp.vault_replicas // 2 else Status.FAIL
        rows.append(Row("vault", f"{VAULT_NAMESPACE} replicas", status,
                        f"{healthy} of {exp.vault_replicas} pods healthy"
                        + (" (raft quorum kept, no spare)" if status is Status.WARN else "")))
    return rows


def has_proxy(pod: Obj) -> bool:
    """A linkerd-proxy container, or the native-sidecar form (init container with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == PROXY_CONTAINER for c in spec.get("containers") or []):
        return True
    return any(c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always"
               for c in spec.get("initContainers") or [])


def check_meshed_pods(snap: Snapshot, exp: Expectations) -> list[Row]:
    """Every running pod in a meshed namespace carries the proxy and does not opt out of injection."""
    rows = []
    by_name = {meta(ns)["name"]: ns for ns in snap.namespaces}
    for ns in meshed_namespaces(snap, exp):
        if ns not in by_name:
            rows.append(Row("mesh", ns, Status.FAIL, "namespace missing"))
            continue
        if (meta(by_name[ns]).get("annotations") or {}).get(INJECT_ANNOTATION) != "enabled":
            rows.append(Row("mesh", ns, Status.FAIL, f"namespace lacks {INJECT_ANNOTATION}: enabled"))
        pods = [p for p in snap.pods if meta(p).get("namespace") == ns
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        bad = []
        for pod in sorted(pods, key=_name):
            if (meta(pod).get("annotations") or {}).get(INJECT_ANNOTATION) == "disabled":
                bad.append(Row("mesh", _name(pod), Status.FAIL, f"annotated {INJECT_ANNOTATION}: disabled"))
            elif not has_proxy(pod):
                bad.append(Row("mesh", _name(pod), Status.FAIL, f"no {PROXY_CONTAINER}: not meshed (restart it)"))
        rows += bad
        if pods and not bad:
            rows.append(Row("mesh", ns, Status.OK, f"{len(pods)} pod(s), all with {PROXY_CONTAINER}"))
        elif not pods:
            rows.append(Row("mesh", ns, Status.WARN, "no running pods"))
    return rows


def run_checks(snap: Snapshot, exp: Expectations, checks: Sequence[Check] | None = None) -> list[Row]:
    chosen = checks or (check_trust_anchor, check_identity_issuer, check_certificates, check_vault,
                        check_meshed_pods, check_edges, check_denials, check_credentials, check_leases)
    return [row for check in chosen for row in check(snap, exp)]

