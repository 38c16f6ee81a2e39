"""Config rules of the public entry (`ingress` group): a stack with a public service needs a name and a certificate.

Run with the other cross-key rules (`config.rules.check`), so a missing domain is reported with every other problem,
before any resource exists. The ALB terminates HTTPS with an ACM certificate: either one this program
requests and validates through the Route 53 zone (`hostedZoneId`), or an existing one (`certificateArn`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Final

from config.model import Problem, StackConfig
from config.schema import key

# A fully qualified DNS name of at least two labels, lower case (ACM and Route 53 normalise to lower case anyway).
_DOMAIN: Final = re.compile(r"^(?=.{4,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# Ref: https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html (Id: up to 32 characters)
_ZONE_ID: Final = re.compile(r"^Z[A-Z0-9]{1,31}$")
_CERT_ARN: Final = re.compile(r"^arn:aws(-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$")


def public_services(cfg: StackConfig) -> list[str]:
    return [s.name for s in cfg.services if s.public]


def ingress(cfg: StackConfig) -> Iterator[Problem]:
    public = public_services(cfg) if cfg.public_entry_enabled else []
    domain, zone, cert = cfg.ingress_domain, cfg.ingress_hosted_zone_id, cfg.ingress_certificate_arn
    if public and domain is None:
        yield Problem(key("ingress.domain"), f"public services {public} need the DNS name the ALB answers on "
                                             "(e.g. shop.example.com)")
    if public and zone is None and cert is None:
        yield Problem(key("ingress.hostedZoneId"),
            "public services need a certificate: set hostedZoneId (Route 53 zone for "
            "ACM DNS validation and the alias record) or certificateArn")
    if domain is not None and not _DOMAIN.match(domain):
        yield Problem(key("ingress.domain"), f"{domain!r} is not a fully qualified lower-case DNS name")
    if zone is not None and not _ZONE_ID.match(zone):
        yield Problem(key("ingress.hostedZoneId"),
            f"{zone!r} is not a Route 53 hosted zone id (Z followed by letters/digits)")
    if cert is not None:
        match = _CERT_ARN.match(cert)
        if match is None:
            yield Problem(key("ingress.certificateArn"), f"{cert!r} is not an ACM certificate ARN")
        elif match["region"] != cfg.region:
            yield Problem(key("ingress.certificateArn"),
                f"an ALB needs a certificate in its own region {cfg.region!r}, "
                f"not {match['region']!r}")
    if not cfg.ingress_allowed_cidrs:
        yield Problem(key("ingress.allowedCidrs"), "must list at least one CIDR (0.0.0.0/0 for a public shop)")
    for cidr in cfg.ingress_allowed_cidrs:
        try:
            ipaddress.IPv4Network(cidr)
        except ValueError:
            yield Problem(key("ingress.allowedCidrs"), f"{cidr!r} is not a valid IPv4 network")
