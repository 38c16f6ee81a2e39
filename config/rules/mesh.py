"""Config rules of the `mesh` group: an app namespace that is a DNS label and none of the platform's (config.names),
identity issuer and trust anchor lifetimes that renew in time, a previous trust anchor that is a certificate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from cryptography import x509

from config.model import Problem, StackConfig
from config.names import RESERVED_NAMESPACES
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
    pem = cfg.previous_trust_anchor_pem
    if pem is not None and not _is_certificate(pem):
        yield Problem(key("mesh.previousTrustAnchorPem"), "must be one PEM certificate (-----BEGIN CERTIFICATE-----)")


def _is_certificate(pem: str) -> bool:
    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return False
    return True
