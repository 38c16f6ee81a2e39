"""Config rules of the `mesh` group: an app namespace that is a DNS label and none of the platform's (config.names),
identity issuer and trust anchor lifetimes that renew in time, the trust-anchor rotation's threshold, schedule and
stuck limit, and the removed previousTrustAnchorPem (a named error with its migration).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from config.model import Problem, StackConfig
from config.names import RESERVED_NAMESPACES
from config.rules.backup import _CRON_FIELD
from config.schema import key

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LINKERD_CHECK_WARNING_HOURS: Final = 60 * 24  # `linkerd check` warns below 60 days of issuer/anchor validity


def mesh(cfg: StackConfig) -> Iterator[Problem]:
    ns = cfg.app_namespace_name
    if not _DNS_LABEL.match(ns) or ns in RESERVED_NAMESPACES:
        yield Problem(key("mesh.appNamespace"), f"{ns!r} must be a DNS label and not a system namespace")
    duration, renew = cfg.identity_issuer_duration_hours, cfg.identity_issuer_renew_before_hours
    if duration < 48:
        yield Problem(key("mesh.identityIssuerDurationHours"),
            f"{duration}h is shorter than two 24h proxy certificate lifetimes")
    if not 1 <= renew < duration:
        yield Problem(key("mesh.identityIssuerRenewBeforeHours"),
            f"{renew}h must be at least 1 and below identityIssuerDurationHours ({duration}h)")
    if cfg.trust_anchor_ttl_hours <= max(duration, LINKERD_CHECK_WARNING_HOURS):
        yield Problem(key("mesh.trustAnchorTtlHours"),
            f"{cfg.trust_anchor_ttl_hours}h must outlive the identity issuer and `linkerd check`'s 60 days")
    if cfg.previous_trust_anchor_pem is not None:
        yield Problem(key("mesh.previousTrustAnchorPem"),
            "was removed: the trust-anchor rotation CronJob now keeps Linkerd's trust bundle (README, 'Trust-anchor "
            "rotation'); run `pulumi config rm --path 'mtls-platform:mesh.previousTrustAnchorPem'`")
    threshold_h = cfg.anchor_rotation_threshold_days * 24
    if not LINKERD_CHECK_WARNING_HOURS < threshold_h < cfg.trust_anchor_ttl_hours - duration:
        yield Problem(key("mesh.anchorRotationThresholdDays"),
            f"{cfg.anchor_rotation_threshold_days} days must be more than `linkerd check`'s 60 days and less than the "
            f"anchor's lifetime minus the identity issuer's ({cfg.trust_anchor_ttl_hours}h - {duration}h), or every "
            "new anchor would start a rotation at once")
    fields = cfg.anchor_rotation_schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        yield Problem(key("mesh.anchorRotationSchedule"),
            f"{cfg.anchor_rotation_schedule!r} must be a 5-field cron schedule such as '*/15 * * * *'")
    if not 1 <= cfg.anchor_rotation_stuck_hours <= 168:
        yield Problem(key("mesh.anchorRotationStuckHours"),
            f"{cfg.anchor_rotation_stuck_hours}h must be between 1 and 168 (a phase is at most a few restart rounds)")


