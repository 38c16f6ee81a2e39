"""Config rules of the `cluster` group: log retention CloudWatch accepts, a Kubernetes version still in EKS standard
support on the given date, a private API endpoint in HA environments, principal ARNs that are ARNs and, in HA
environments, an explicit list of who may assume the admin and DevOps roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Final

from config.model import Problem, StackConfig
from config.rules.common import parse_network
from config.schema import key
from config.versions import EKS_STANDARD_SUPPORT_END

# Ref: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")


def log_retention(cfg: StackConfig) -> Iterator[Problem]:
    k = key("cluster.logRetentionDays")
    if cfg.log_retention_days not in LOG_RETENTION_DAYS:
        yield Problem(k, f"{cfg.log_retention_days} is not a CloudWatch retention value (1, 3, 5, 7, 14, 30, ...)")
    elif cfg.is_ha and cfg.log_retention_days < 365:
        yield Problem(k, f"{cfg.environment} keeps logs at least 365 days (CKV_AWS_338)")


def kubernetes_version(cfg: StackConfig, today: date) -> Iterator[Problem]:
    k = key("cluster.kubernetesVersion")
    end = EKS_STANDARD_SUPPORT_END.get(cfg.kubernetes_version)
    known = ", ".join(v for v, until in EKS_STANDARD_SUPPORT_END.items() if until > today)
    if end is None:
        yield Problem(k, f"{cfg.kubernetes_version!r} is not in EKS standard support (supported: {known})")
    elif end <= today:
        yield Problem(k, f"{cfg.kubernetes_version} left EKS standard support on {end} (extended support costs 6x)")


def endpoint(cfg: StackConfig) -> Iterator[Problem]:
    if not cfg.endpoint_public_access:
        return
    if cfg.is_ha:
        yield Problem(key("cluster.endpointPublicAccess"),
            f"{cfg.environment} keeps the API endpoint private (CIS 5.4.2)")
    k = key("cluster.publicAccessCidrs")
    if not cfg.public_access_cidrs:
        yield Problem(k, "a public endpoint needs the CIDRs allowed to reach it (CIS 5.4.1)")
    for cidr in cfg.public_access_cidrs:
        net = parse_network(cidr)
        if net is None:
            yield Problem(k, f"{cidr!r} is not a valid IPv4 network")
        elif net.prefixlen < 8:
            yield Problem(k, f"{net} opens the endpoint to a large part of the internet (use /8 or narrower)")


def principals(cfg: StackConfig) -> Iterator[Problem]:
    for k, arns in ((key("cluster.adminPrincipalArns"), cfg.admin_principal_arns),
                    (key("cluster.devopsPrincipalArns"), cfg.devops_principal_arns)):
        if cfg.is_ha and not arns:
            # Unset, the role trusts the account root: any principal IAM lets assume roles (CKV_AWS_61).
            yield Problem(k, f"{cfg.environment} needs the explicit list of roles/users who may assume this "
                             "cluster role (empty trusts every principal of the account; CKV_AWS_61, CIS 4.1.1)")
        for arn in arns:
            if not _ARN.match(arn):
                yield Problem(k, f"{arn!r} is not an IAM role, user or account-root ARN")
            elif cfg.is_ha and arn.endswith(":root"):
                yield Problem(k, f"{arn!r} is the account root, which trusts every principal of the account: "
                                 f"{cfg.environment} names the roles/users")
