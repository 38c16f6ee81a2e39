"""Config rules of the `alerts` group and of `monitoring` (retention and storage of the Prometheus the alerts run
on): thresholds that fit the mesh's certificate lifetimes, a Slack channel and webhook URL that are ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from config.model import Problem, StackConfig
from config.schema import key

_SLACK_CHANNEL: Final = re.compile(r"^[#@][a-z0-9._-]{1,80}$")


def alerts(cfg: StackConfig) -> Iterator[Problem]:
    """Thresholds that make sense for the certificate lifetimes the mesh chose, and a Slack URL that is one."""
    renew_days = cfg.identity_issuer_renew_before_hours / 24
    if not 1 <= cfg.cert_expiry_critical_days < cfg.cert_expiry_warning_days:
        yield Problem(key("alerts.certExpiryCriticalDays"),
            f"{cfg.cert_expiry_critical_days} must be at least 1 and below certExpiryWarningDays "
            f"({cfg.cert_expiry_warning_days})")
    if cfg.cert_expiry_warning_days >= renew_days:
        yield Problem(key("alerts.certExpiryWarningDays"),
            f"{cfg.cert_expiry_warning_days} d must be below the identity issuer's renewBefore "
            f"({renew_days:g} d), or it fires on every healthy renewal cycle")
    if cfg.cert_renewal_grace_hours < 1:
        yield Problem(key("alerts.certRenewalGraceHours"), "must be at least 1")
    if not 1 <= cfg.identity_issuer_expiry_warning_hours < cfg.identity_issuer_renew_before_hours:
        yield Problem(key("alerts.identityIssuerExpiryWarningHours"),
            f"{cfg.identity_issuer_expiry_warning_hours}h must be at least 1 and below "
            f"identityIssuerRenewBeforeHours ({cfg.identity_issuer_renew_before_hours}h)")
    if not 1 <= cfg.trust_anchor_expiry_warning_days * 24 < cfg.trust_anchor_ttl_hours:
        yield Problem(key("alerts.trustAnchorExpiryWarningDays"),
            f"{cfg.trust_anchor_expiry_warning_days} d must be at least 1 and below trustAnchorTtlHours "
            f"({cfg.trust_anchor_ttl_hours}h)")
    if not 0 < cfg.mtls_success_rate_floor <= 1:
        yield Problem(key("alerts.mtlsSuccessRateFloor"), f"{cfg.mtls_success_rate_floor} must be a share in (0, 1]")
    if cfg.mtls_min_request_rate < 0:
        yield Problem(key("alerts.mtlsMinRequestRate"), "must not be negative")
    if cfg.latency_budget_ms < 1:
        yield Problem(key("alerts.latencyBudgetMs"), "must be at least 1 ms")
    if cfg.authz_denials_per_10m < 0:
        yield Problem(key("alerts.authzDenialsPer10m"), "must not be negative")
    if cfg.snapshot_max_age_hours < 1:
        yield Problem(key("alerts.snapshotMaxAgeHours"),
            "must be at least 1 (hours since the last successful snapshot)")
    if not _SLACK_CHANNEL.match(cfg.slack_channel):
        yield Problem(key("alerts.slackChannel"),
            f"{cfg.slack_channel!r} must be a channel name such as #platform-alerts")
    url = cfg.slack_webhook_url
    if url is not None and not url.startswith("https://hooks.slack.com/"):
        # The value is a secret: never echo it.
        yield Problem(key("alerts.slackWebhookUrl"),
            "must be a Slack incoming-webhook URL (https://hooks.slack.com/...)")
    if cfg.monitoring_enabled and not 1 <= cfg.prometheus_retention_days <= 365:
        yield Problem(key("monitoring.prometheusRetentionDays"), f"{cfg.prometheus_retention_days} must be 1-365")
    if cfg.monitoring_enabled and cfg.prometheus_storage_gb < 10:
        yield Problem(key("monitoring.prometheusStorageGb"), f"{cfg.prometheus_storage_gb} must be at least 10")
