"""Pure builders for the platform's PrometheusRule: the alerts that say the zero-trust chain is breaking.

One group of alerts per failure domain: certificates (cert-manager), the Linkerd identity issuer and trust anchor,
Vault, and the mesh's traffic (authorization denials, mTLS share, added latency). Thresholds come from the `alerts`
config group (config/profiles.py defaults); docs/observability.md says what each alert means and the first action.
Every metric name used here is listed, with the source version it was checked in, in
tests/upstream_facts/metric_names.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final

import pulumi
from cryptography import x509

from components.backup.snapshot_specs import JOB_NAME
from components.mesh import rotation_specs
from components.vault import credential_report_specs
from config.names import LINKERD_NAMESPACE, VAULT_NAMESPACE

Spec = dict[str, Any]
TRUST_ANCHOR_EXPIRY: Final = "mtls_platform:trust_anchor_expiry_timestamp_seconds"
# Label Prometheus selects PrometheusRules, PodMonitors and ServiceMonitors by (values_monitoring sets the selectors).
SELECTOR_LABEL: Final = "release"
_DAY: Final = 86400


@dataclass(frozen=True)
class AlertThresholds:
    """The `alerts` config group, resolved (see Pulumi.yaml for each key's meaning)."""

    cert_expiry_warning_days: int
    cert_expiry_critical_days: int
    cert_renewal_grace_hours: int
    identity_issuer_expiry_warning_hours: int
    trust_anchor_expiry_warning_days: int
    mtls_success_rate_floor: float
    mtls_min_request_rate: float
    latency_budget_ms: int
    authz_denials_per_10m: int
    snapshot_max_age_hours: int = 26  # the daily raft snapshot, plus two hours of slack


def trust_anchor_not_after(pem: str) -> float | None:
    """The trust anchor's notAfter as a Unix time, or None if `pem` is no certificate (the offline plan's stand-in)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    return cert.not_valid_after_utc.replace(tzinfo=UTC).timestamp()


def trust_anchor_expr(pem: str) -> str:
    """Recording expression for the trust anchor's expiry. Linkerd exposes no trust-anchor metric (linkerd2
    edge-26.8.3 pkg/identity/service.go leaves it as a TODO), so the program writes the notAfter of the certificate
    Vault returned at bootstrap; every `pulumi up` rewrites it, so a rotated anchor is followed."""
    not_after = trust_anchor_not_after(pem)
    # No certificate: an expression with an empty result, so the alert cannot fire on a made-up date.
    return f"vector({not_after:.0f})" if not_after is not None else "vector(0) < 0"


def _alert(name: str, expr: str, for_: str, severity: str, summary: str, action: str) -> Spec:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity},
            "annotations": {"summary": summary, "action": action,
                            "runbook_url": f"docs/observability.md#{name.lower()}"}}


def certificate_alerts(t: AlertThresholds) -> list[Spec]:
    """cert-manager's view: not Ready, renewal overdue, expiring (warning, then critical)."""
    expires_in = "certmanager_certificate_expiration_timestamp_seconds - time()"
    return [
        _alert("CertificateNotReady",
               'max by (namespace, name) (certmanager_certificate_ready_status{condition!="True"}) == 1', "15m",
               "warning", "Certificate {{ $labels.namespace }}/{{ $labels.name }} is not Ready",
               "kubectl describe certificate -n {{ $labels.namespace }} {{ $labels.name }}; check issuer and Vault"),
        _alert("CertificateRenewalOverdue",
               f"time() - certmanager_certificate_renewal_timestamp_seconds > {t.cert_renewal_grace_hours * 3600}"
               " and certmanager_certificate_renewal_timestamp_seconds > 0", "0m",
               "warning", "Certificate {{ $labels.namespace }}/{{ $labels.name }} is past its renewal time",
               "kubectl get certificaterequests -n {{ $labels.namespace }}; cert-manager controller logs"),
        _alert("CertificateExpiringSoon", f"{expires_in} < {t.cert_expiry_warning_days * _DAY}", "1h",
               "warning", "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in under "
               f"{t.cert_expiry_warning_days} days", "renewal has failed for weeks: fix the issuer, then "
               "cmctl renew"),
        _alert("CertificateExpiryCritical", f"{expires_in} < {t.cert_expiry_critical_days * _DAY}", "10m",
               "critical", "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in under "
               f"{t.cert_expiry_critical_days} days", "renew now (cmctl renew); an expired identity issuer stops "
               "all new mTLS"),
    ]


def identity_alerts(t: AlertThresholds, trust_anchor: pulumi.Input[str]) -> list[Spec]:
    """Linkerd's identity issuer as the identity controller sees it, and the trust anchor (recorded constant)."""
    return [
        {"record": TRUST_ANCHOR_EXPIRY, "expr": trust_anchor},
        _alert("LinkerdIdentityIssuerExpiring",
               f"min(issuer_cert_ttl_seconds) < {t.identity_issuer_expiry_warning_hours * 3600}", "30m", "critical",
               f"Linkerd's identity issuer has less than {t.identity_issuer_expiry_warning_hours} h left",
               "kubectl describe certificate -n linkerd linkerd-identity-issuer; restart linkerd-identity if the "
               "Secret is already renewed"),
        _alert("LinkerdTrustAnchorExpiring",
               f"{TRUST_ANCHOR_EXPIRY} - time() < {t.trust_anchor_expiry_warning_days * _DAY}", "1h", "warning",
               f"The mesh trust anchor (Vault root CA) expires in under {t.trust_anchor_expiry_warning_days} days",
               "the trust-anchor rotation should have started (mesh.anchorRotationThresholdDays): kubectl -n linkerd "
               "get configmap trust-anchor-rotation -o yaml; start it by hand (README, Trust-anchor rotation)"),
    ]


def _cronjob_failing(namespace: str, cronjob: str) -> str:
    """A CronJob whose runs have failed for over an hour, or that never succeeded within 2 h of its creation. With
    concurrencyPolicy Forbid the last schedule time is the latest run's start, so last schedule minus last success
    grows only while runs fail (a long successful run keeps both equal)."""
    sel = f'namespace="{namespace}",cronjob="{cronjob}"'
    last_success = f"kube_cronjob_status_last_successful_time{{{sel}}}"
    failing = f"(kube_cronjob_status_last_schedule_time{{{sel}}} - {last_success}) > 3600"
    never = f"(absent({last_success}) and on () (time() - max(kube_cronjob_created{{{sel}}}) > 7200))"
    return f"{failing} or {never}"


def rotation_alerts(namespace: str, cronjob: str) -> list[Spec]:
    """The trust-anchor rotation CronJob (components/mesh/anchor_rotation): its runs fail. A run exits non-zero on an
    error and when a phase has run longer than mesh.anchorRotationStuckHours (exit 3), so a stuck rotation shows up
    as runs that keep failing. With concurrencyPolicy Forbid the last schedule time is the latest run's start, so
    last schedule minus last success grows only while runs fail (a long successful run keeps both equal)."""
    return [
        _alert("TrustAnchorRotationFailing", _cronjob_failing(namespace, cronjob), "15m", "critical",
               "The trust-anchor rotation's runs have failed for over an hour (a phase stuck or an error)",
               f"kubectl -n {namespace} get configmap {cronjob} -o yaml (phase, message); kubectl -n {namespace} "
               f"logs job/<latest {cronjob}-* job>; pause it with request=pause (README, Trust-anchor rotation)"),
    ]


def credential_report_alerts(namespace: str, cronjob: str) -> list[Spec]:
    """The credential report CronJob (components/vault/credential_report): a run exits 1 when a service holds no
    live credential, a lease outlives its max TTL or a static role's rotation is overdue, and on any error (Vault or
    the API unreachable, a login refused). Same measure as TrustAnchorRotationFailing: with concurrencyPolicy Forbid,
    last schedule minus last success grows only while runs fail. No CronJob (no service with a Vault role): no
    series, no alert."""
    return [
        _alert("VaultCredentialReportFailing", _cronjob_failing(namespace, cronjob), "15m", "critical",
               "The credential report has failed for over an hour: a service holds no valid credential, a lease "
               "outlives its max TTL, a rotation is overdue, or the report cannot run",
               f"kubectl -n {namespace} get configmap {cronjob} -o jsonpath='{{.data.report\\.json}}'; kubectl -n "
               f"{namespace} logs job/<latest {cronjob}-* job>; make verify (vault-leases rows)"),
    ]


def vault_alerts() -> list[Spec]:
    """Vault: a sealed node, or no active node (also when no node reports at all)."""
    return [
        _alert("VaultSealed", "vault_core_unsealed == 0", "2m", "critical", "Vault pod {{ $labels.pod }} is sealed",
               "auto-unseal failed: check the pod log for KMS/IRSA errors (the unseal key and role)"),
        _alert("VaultNoLeader", "(sum(vault_core_active) or vector(0)) < 1", "5m", "critical",
               "Vault has no active node: certificates cannot be issued",
               "kubectl -n vault get pods; vault operator raft list-peers from a running pod"),
        # Per pod: a sealed Vault may answer /v1/sys/metrics with an error instead of vault_core_unsealed 0, so a
        # pod that stops reporting is an alert of its own; `absent` covers "no target at all".
        _alert("VaultMetricsMissing", 'up{namespace="vault"} == 0 or absent(up{namespace="vault"})', "10m",
               "warning", "Prometheus cannot scrape Vault pod {{ $labels.pod }} (down, sealed or unreachable)",
               "kubectl -n vault get pods; the vault target in Prometheus (TLS CA, NetworkPolicy)"),
        *credential_alerts(),
    ]


def _database_errors(*operations: str, window: str = "15m") -> str:
    """Errors of Vault's database secrets engine, per pod. The counters exist only after a first error, so a series
    that appears within the window counts too (`increase` sees nothing for its first sample)."""
    parts = []
    for op in operations:
        metric = f"vault_database_{op}_error"
        parts += [f"sum by (pod) (increase({metric}[{window}])) > 0",
                  f"sum by (pod) ({metric} unless {metric} offset {window}) > 0"]
    return " or ".join(parts)


def credential_alerts() -> list[Spec]:
    """The services' credentials (README "Application secrets from Vault"): issuance and rotation failures.

    Vault's database plugin middleware counts an error per operation: NewUser (a dynamic PostgreSQL credential),
    Initialize (the connection, e.g. TLS to RDS), UpdateUser (a static role's scheduled rotation, rotate-root).
    Ref: https://github.com/hashicorp/vault sdk/database/dbplugin/v5/middleware.go (databaseMetricsMiddleware);
    https://developer.hashicorp.com/vault/docs/internals/telemetry/metrics/database ; the names as OpenBao 2.7.2
    exposes them are tested in tests/components/vault/test_credential_alert_metrics.py."""
    return [
        _alert("VaultCredentialIssuanceFailed", _database_errors("NewUser", "Initialize"), "0m", "critical",
               "Vault pod {{ $labels.pod }} failed to issue or connect for a database credential: new pods of the "
               "services get no PostgreSQL login; running ones keep theirs until it ends (max TTL)",
               "kubectl -n vault logs <pod> | grep -i database; vault read database/config/postgres; the "
               "fetch-rds-ca init container's log and allow-to-postgres"),
        _alert("VaultCredentialRotationFailed", _database_errors("UpdateUser"), "0m", "critical",
               "Vault pod {{ $labels.pod }} failed to rotate a database credential (a static role's scheduled "
               "rotation or rotate-root); Vault retries, the old password stays valid meanwhile",
               "kubectl -n vault logs <pod> | grep -i rotat; vault read database/static-roles/<role> "
               "(last_vault_rotation); vault write -f database/rotate-role/<role>"),
    ]


def mesh_alerts(t: AlertThresholds, app_namespace: str) -> list[Spec]:
    """Traffic in the application namespace, from the proxies' own metrics (scraped on the admin port)."""
    ns = f'namespace="{app_namespace}"'
    inbound = f'direction="inbound",{ns}'
    by = "namespace, deployment"
    # mTLS share on the callers' side (outbound, per destination): every meshed call should leave over mTLS. The
    # server side would count the kubelet's plaintext probes, which Linkerd authorizes on every meshed port; an
    # unmeshed caller cannot get past the namespace's deny default and shows up as an authorization denial instead.
    dst = 'direction="outbound",dst_namespace="' + app_namespace + '"'
    dst_by = "dst_namespace, dst_deployment"
    total = f"sum by ({dst_by}) (rate(response_total{{{dst}}}[5m]))"
    # `or 0 * total`: a destination reached only in plaintext has no tls="true" series at all, so without it the
    # share would be empty — silent in exactly the case the alert exists for.
    mtls = f'(sum by ({dst_by}) (rate(response_total{{{dst},tls="true"}}[5m])) or 0 * {total})'
    limit = t.authz_denials_per_10m
    denials = (f"(sum by ({by}) (increase(inbound_http_authz_deny_total{{{ns}}}[10m])) > {limit})"
               f" or (sum by ({by}) (increase(inbound_tcp_authz_deny_total{{{ns}}}[10m])) > {limit})")
    # Added latency, estimated per server: the callers' p99 (outbound, measured in the calling proxy) minus the
    # server's own p99 (inbound, measured in its proxy); what is left is the two proxies and the network.
    outbound_p99 = (f"histogram_quantile(0.99, sum by (le, dst_namespace, dst_deployment) "
                    f'(rate(response_latency_ms_bucket{{direction="outbound",dst_namespace="{app_namespace}"}}[5m])))')
    inbound_p99 = (f"label_replace(label_replace(histogram_quantile(0.99, sum by (le, {by}) "
                   f"(rate(response_latency_ms_bucket{{{inbound}}}[5m]))), "
                   '"dst_namespace", "$1", "namespace", "(.*)"), "dst_deployment", "$1", "deployment", "(.*)")')
    return [
        _alert("MeshAuthorizationDenied", denials, "0m", "warning",
               "{{ $labels.deployment }} denied {{ $value }} requests/connections in 10 minutes",
               "an unauthorized caller or a missing callers entry in the service catalog: linkerd viz authz"),
        _alert("MeshMtlsSuccessRateLow",
               f"({mtls} / {total}) < {t.mtls_success_rate_floor} and {total} > {t.mtls_min_request_rate}",
               "10m", "critical", "Only {{ $value | humanizePercentage }} of calls to {{ $labels.dst_deployment }} "
               "are mTLS", "linkerd viz edges deploy -n {{ $labels.dst_namespace }}; check proxy identity logs"),
        _alert("MeshAddedLatencyHigh",
               f"({outbound_p99} - on (dst_namespace, dst_deployment) {inbound_p99}) > {t.latency_budget_ms}",
               "15m", "warning", "Mesh adds ~{{ $value }} ms at p99 in front of {{ $labels.dst_deployment }} "
               f"(budget {t.latency_budget_ms} ms)", "check proxy CPU limits and node saturation"),
    ]


def backup_alerts(t: AlertThresholds, namespace: str, cronjob: str) -> list[Spec]:
    """Vault's raft snapshot CronJob (components/backup/backups.py): no successful run for longer than the threshold.
    kube-state-metrics (a kube-prometheus-stack default) exports the CronJob's last successful time; a CronJob that
    never succeeded has no value, which the `absent` arm catches once the job has existed for a day."""
    sel = f'namespace="{namespace}",cronjob="{cronjob}"'
    last_success = f"kube_cronjob_status_last_successful_time{{{sel}}}"
    never = f"(absent({last_success}) and on () (time() - max(kube_cronjob_created{{{sel}}}) > {_DAY}))"
    return [
        _alert("VaultSnapshotMissing",
               f"(time() - {last_success} > {t.snapshot_max_age_hours * 3600}) or {never}", "30m", "critical",
               f"No successful Vault raft snapshot in {t.snapshot_max_age_hours} h",
               f"kubectl -n {namespace} get jobs (the {cronjob}-* ones); the failed pod's log "
               "(Vault login, S3 upload); docs/vault-restore.md"),
    ]


def prometheus_rule_spec(t: AlertThresholds, app_namespace: str, trust_anchor: pulumi.Input[str]) -> Spec:
    """The PrometheusRule `spec` (monitoring.coreos.com/v1)."""
    return {"groups": [
        {"name": "mtls-platform.certificates", "rules": certificate_alerts(t)},
        {"name": "mtls-platform.identity", "rules": identity_alerts(t, trust_anchor)},
        {"name": "mtls-platform.vault", "rules": vault_alerts()},
        {"name": "mtls-platform.mesh", "rules": mesh_alerts(t, app_namespace)},
        {"name": "mtls-platform.backups", "rules": backup_alerts(t, "vault", JOB_NAME)},
        {"name": "mtls-platform.trust-anchor-rotation",
         "rules": rotation_alerts(LINKERD_NAMESPACE, rotation_specs.JOB_NAME)},
        {"name": "mtls-platform.credential-report",
         "rules": credential_report_alerts(VAULT_NAMESPACE, credential_report_specs.JOB_NAME)},
    ]}
