"""Cross-key rules over the merged stack configuration.

Types and shapes are pydantic's job (`stack_config.RawConfig`); these rules hold what a type cannot: CIDRs that
parse, fit and do not overlap, HA floors per environment, node counts that order, a Kubernetes version still in
EKS standard support. Each rule returns problems naming the config key it is about; `check` runs them all.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import date
from itertools import combinations
from typing import Final

from cryptography import x509

from config.catalog import image_suffix
from config.image_pins import check_pin
from config.model import Problem, StackConfig
from config.names import RESERVED_NAMESPACES
from config.schema import key
from config.subnets import MAX_AZS
from config.traffic import check_canary
from config.versions import EKS_STANDARD_SUPPORT_END

Rule = Callable[[StackConfig], Iterator[Problem]]
DatedRule = Callable[[StackConfig, date], Iterator[Problem]]
RULES: list[DatedRule] = []  # in report order; every entry takes the date, plain rules ignore it

# Ref: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
_PRIVATE_RANGES: Final = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


def rule(fn: Rule) -> Rule:
    """Register a rule over the configuration alone."""
    RULES.append(lambda cfg, _today: fn(cfg))
    return fn


def dated_rule(fn: DatedRule) -> DatedRule:
    """Register a rule whose verdict depends on the date (support calendars): it is given `today`, never reads it."""
    RULES.append(fn)
    return fn


def check(cfg: StackConfig, today: date) -> list[Problem]:
    """Every problem of every rule as of `today`, in rule order."""
    return [p for r in RULES for p in r(cfg, today)]


def _net(value: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError:
        return None


@rule
def region_set(cfg: StackConfig) -> Iterator[Problem]:
    if not _REGION.match(cfg.region):
        yield Problem("aws:region", f"must be an AWS region such as us-east-1 (got {cfg.region!r})")


@rule
def vpc_cidr(cfg: StackConfig) -> Iterator[Problem]:
    net = _net(cfg.vpc_cidr)
    if net is None:
        yield Problem(key("vpcCidr"), f"{cfg.vpc_cidr!r} is not a valid IPv4 network (e.g. 10.10.0.0/16)")
    elif not any(net.subnet_of(r) for r in _PRIVATE_RANGES):
        yield Problem(key("vpcCidr"), f"{net} must lie in an RFC 1918 private range")
    elif not 16 <= net.prefixlen <= 20:
        yield Problem(key("vpcCidr"), f"{net} must be between /16 and /20 (EKS gives every pod a VPC address)")


@rule
def availability_zones(cfg: StackConfig) -> Iterator[Problem]:
    floor = 3 if cfg.is_ha else 2
    if not floor <= cfg.az_count <= MAX_AZS:
        yield Problem(
            key("azCount"),
            f"{cfg.environment} needs {floor if floor == MAX_AZS else f'{floor} to {MAX_AZS}'} availability zones "
            f"(got {cfg.az_count}): EKS needs 2, HA environments one node and replica per zone of 3",
        )
    azs = cfg.availability_zones
    if azs is None:
        return
    if len(set(azs)) != len(azs):
        yield Problem(key("availabilityZones"), "must not repeat a zone")
    if len(azs) != cfg.az_count:
        yield Problem(key("availabilityZones"), f"lists {len(azs)} zones but azCount is {cfg.az_count}")
    for az in azs:
        if not (az.startswith(cfg.region) and len(az) == len(cfg.region) + 1):
            yield Problem(key("availabilityZones"), f"{az!r} is not a zone of region {cfg.region!r}")


@rule
def subnets(cfg: StackConfig) -> Iterator[Problem]:
    vpc = _net(cfg.vpc_cidr)
    tiers = {"public": cfg.public_subnet_cidrs, "private": cfg.private_subnet_cidrs,
             "isolated": cfg.isolated_subnet_cidrs}
    parsed: list[tuple[str, ipaddress.IPv4Network]] = []
    for tier, cidrs in tiers.items():
        k = key(f"{tier}SubnetCidrs")
        if vpc is not None and len(cidrs) != cfg.az_count:
            yield Problem(k, f"needs one CIDR per availability zone ({cfg.az_count}), got {len(cidrs)}")
        for cidr in cidrs:
            net = _net(cidr)
            if net is None:
                yield Problem(k, f"{cidr!r} is not a valid IPv4 network")
            elif vpc is not None and not net.subnet_of(vpc):
                yield Problem(k, f"{net} is outside vpcCidr {vpc}")
            elif tier == "private" and net.num_addresses < 1024:
                yield Problem(k, f"{net} is smaller than /22: pods take VPC addresses, nodes would run out")
            else:
                parsed.append((k, net))
    for (k1, a), (k2, b) in combinations(parsed, 2):
        if a.overlaps(b):
            yield Problem(k2, f"{b} overlaps {a} ({k1})")


@rule
def service_cidr(cfg: StackConfig) -> Iterator[Problem]:
    k = key("kubernetesServiceCidr")
    net, vpc = _net(cfg.kubernetes_service_cidr), _net(cfg.vpc_cidr)
    # Ref: https://docs.aws.amazon.com/eks/latest/APIReference/API_KubernetesNetworkConfigRequest.html
    if net is None:
        yield Problem(k, f"{cfg.kubernetes_service_cidr!r} is not a valid IPv4 network")
    elif not (any(net.subnet_of(r) for r in _PRIVATE_RANGES) and 12 <= net.prefixlen <= 24):
        yield Problem(k, f"{net} must be an RFC 1918 block between /12 and /24 (EKS rule)")
    elif vpc is not None and net.overlaps(vpc):
        yield Problem(k, f"{net} overlaps vpcCidr {vpc}")


@rule
def nat(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.environment == "prod" and cfg.nat_gateways != "perAz":
        yield Problem(key("natGateways"), "prod must use perAz: one NAT gateway is a single point of failure")


@rule
def log_retention(cfg: StackConfig) -> Iterator[Problem]:
    k = key("logRetentionDays")
    if cfg.log_retention_days not in LOG_RETENTION_DAYS:
        yield Problem(k, f"{cfg.log_retention_days} is not a CloudWatch retention value (1, 3, 5, 7, 14, 30, ...)")
    elif cfg.is_ha and cfg.log_retention_days < 365:
        yield Problem(k, f"{cfg.environment} keeps logs at least 365 days (CKV_AWS_338)")


@dated_rule
def kubernetes_version(cfg: StackConfig, today: date) -> Iterator[Problem]:
    k = key("kubernetesVersion")
    end = EKS_STANDARD_SUPPORT_END.get(cfg.kubernetes_version)
    known = ", ".join(v for v, until in EKS_STANDARD_SUPPORT_END.items() if until > today)
    if end is None:
        yield Problem(k, f"{cfg.kubernetes_version!r} is not in EKS standard support (supported: {known})")
    elif end <= today:
        yield Problem(k, f"{cfg.kubernetes_version} left EKS standard support on {end} (extended support costs 6x)")


@rule
def endpoint(cfg: StackConfig) -> Iterator[Problem]:
    if not cfg.endpoint_public_access:
        return
    if cfg.is_ha:
        yield Problem(key("endpointPublicAccess"), f"{cfg.environment} keeps the API endpoint private (CIS 5.4.2)")
    k = key("publicAccessCidrs")
    if not cfg.public_access_cidrs:
        yield Problem(k, "a public endpoint needs the CIDRs allowed to reach it (CIS 5.4.1)")
    for cidr in cfg.public_access_cidrs:
        net = _net(cidr)
        if net is None:
            yield Problem(k, f"{cidr!r} is not a valid IPv4 network")
        elif net.prefixlen < 8:
            yield Problem(k, f"{net} opens the endpoint to a large part of the internet (use /8 or narrower)")


@rule
def principals(cfg: StackConfig) -> Iterator[Problem]:
    for name, arns in (("adminPrincipalArns", cfg.admin_principal_arns),
                       ("devopsPrincipalArns", cfg.devops_principal_arns)):
        for arn in arns:
            if not _ARN.match(arn):
                yield Problem(key(name), f"{arn!r} is not an IAM role, user or account-root ARN")


def _pool(prefix: str, types: tuple[str, ...], lo: int, want: int, hi: int) -> Iterator[Problem]:
    if not types:
        yield Problem(key(f"{prefix}InstanceTypes"), "must list at least one instance type")
    for t in types:
        if not _INSTANCE_TYPE.match(t):
            yield Problem(key(f"{prefix}InstanceTypes"), f"{t!r} is not an EC2 instance type")
    if lo < 0 or hi < 1:
        yield Problem(key(f"{prefix}MaxSize"), f"sizes must satisfy 0 <= min and max >= 1 (min {lo}, max {hi})")
    if lo > hi:
        yield Problem(key(f"{prefix}MinSize"), f"min {lo} is greater than max {hi}")
    elif not lo <= want <= hi:
        yield Problem(key(f"{prefix}DesiredSize"), f"desired {want} must lie between min {lo} and max {hi}")


@rule
def node_pools(cfg: StackConfig) -> Iterator[Problem]:
    yield from _pool("system", cfg.system_node_instance_types, cfg.system_node_min_size,
                     cfg.system_node_desired_size, cfg.system_node_max_size)
    if cfg.is_ha and cfg.system_node_min_size < cfg.az_count:
        yield Problem(key("systemMinSize"),
                      f"{cfg.environment} keeps at least one system node per zone ({cfg.az_count})")
    if cfg.spot_nodes_enabled:
        yield from _pool("spot", cfg.spot_node_instance_types, cfg.spot_node_min_size,
                         cfg.spot_node_desired_size, cfg.spot_node_max_size)
        if len(set(cfg.spot_node_instance_types)) < 2:
            yield Problem(key("spotInstanceTypes"), "spot needs at least 2 instance types to survive reclaims")
    if not 20 <= cfg.node_disk_size_gb <= 1000:
        yield Problem(key("diskSizeGb"), f"{cfg.node_disk_size_gb} must be between 20 and 1000 GiB")


@rule
def data_services(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.data_services_mode == "serviceCatalog":
        missing = sorted({"rds", "mq", "cache"} - set(cfg.service_catalog_products))
        if missing:
            yield Problem(key("serviceCatalogProducts"), f"serviceCatalog mode needs products for {missing}")
    if not 20 <= cfg.rds_allocated_storage_gb <= 65536:
        yield Problem(key("rdsAllocatedStorageGb"), "must be between 20 and 65536 GiB")
    if cfg.rds_max_allocated_storage_gb < cfg.rds_allocated_storage_gb:
        yield Problem(key("rdsMaxAllocatedStorageGb"), "must not be below rdsAllocatedStorageGb")
    if not 1 <= cfg.rds_backup_retention_days <= 35:
        yield Problem(key("rdsBackupRetentionDays"), "must be between 1 and 35 days")
    if not 1 <= cfg.cache_nodes <= 6:
        yield Problem(key("cacheNodes"), "must be between 1 and 6 (primary plus up to 5 replicas)")
    if cfg.cache_multi_az and cfg.cache_nodes < 2:
        yield Problem(key("cacheNodes"), "cacheMultiAz needs at least 2 nodes (a primary and a replica)")
    if not 0 <= cfg.cache_snapshot_retention_days <= 35:
        yield Problem(key("cacheSnapshotRetentionDays"), "must be between 0 and 35 days")
    if cfg.mq_multi_az and cfg.mq_instance_type == "mq.t3.micro":
        yield Problem(key("mqInstanceType"), "mq.t3.micro is single-instance only; active/standby needs mq.m5+")
    if cfg.is_ha:
        for name, on in (("rdsMultiAz", cfg.rds_multi_az), ("mqMultiAz", cfg.mq_multi_az),
                         ("cacheMultiAz", cfg.cache_multi_az)):
            if not on:
                yield Problem(key(name), f"{cfg.environment} runs data services Multi-AZ (CKV_AWS_157, CKV2_AWS_50)")


@rule
def protection(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.is_ha and not cfg.protect_resources:
        yield Problem(key("protectResources"), f"{cfg.environment} protects stateful resources from deletion")
    if not 7 <= cfg.vault_backup_retention_days <= 3650:
        yield Problem(key("vaultBackupRetentionDays"), "must be between 7 and 3650 days")


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LINKERD_CHECK_WARNING_HOURS: Final = 60 * 24  # `linkerd check` warns below 60 days of issuer/anchor validity


@rule
def mesh(cfg: StackConfig) -> Iterator[Problem]:
    ns = cfg.app_namespace_name
    if not _DNS_LABEL.match(ns) or ns in RESERVED_NAMESPACES:
        yield Problem(key("appNamespace"), f"{ns!r} must be a DNS label and not a system namespace")
    duration, renew = cfg.identity_issuer_duration_hours, cfg.identity_issuer_renew_before_hours
    if duration < 48:
        yield Problem(key("identityIssuerDurationHours"),
                      f"{duration}h is shorter than two 24h proxy certificate lifetimes")
    if not 1 <= renew < duration:
        yield Problem(key("identityIssuerRenewBeforeHours"),
                      f"{renew}h must be at least 1 and below identityIssuerDurationHours ({duration}h)")
    if cfg.trust_anchor_ttl_hours <= max(duration, LINKERD_CHECK_WARNING_HOURS):
        yield Problem(key("trustAnchorTtlHours"),
                      f"{cfg.trust_anchor_ttl_hours}h must outlive the identity issuer and `linkerd check`'s 60 days")
    pem = cfg.previous_trust_anchor_pem
    if pem is not None and not _is_certificate(pem):
        yield Problem(key("previousTrustAnchorPem"), "must be one PEM certificate (-----BEGIN CERTIFICATE-----)")


def _is_certificate(pem: str) -> bool:
    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return False
    return True


@rule
def canaries(cfg: StackConfig) -> Iterator[Problem]:
    """`rollout.canaries` names catalog services, not ones that already declare a canary, with valid blocks."""
    by_name = {s.name: s for s in cfg.services}
    for name, canary in cfg.canaries.items():
        at = f"{key('canaries')}.{name}"
        svc = by_name.get(name)
        if svc is None:
            yield Problem(at, f"unknown service {name!r} (services: {', '.join(sorted(by_name))})")
        elif svc.canary is not None:
            yield Problem(at, f"services.{name}.canary is set too; keep one of the two")
        else:
            yield from (Problem(k, r) for k, r in check_canary(at, canary, image_suffix(svc.image)))


@rule
def notifications(cfg: StackConfig) -> Iterator[Problem]:
    team, channel = cfg.slack_team_id, cfg.slack_channel_id
    if bool(team) != bool(channel):
        missing = "slackChannelId" if team else "slackTeamId"
        yield Problem(key(missing), "set slackTeamId and slackChannelId together (Slack delivery needs both), "
                                    "or neither (alarms then reach the SNS topic only)")


_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


@rule
def backup(cfg: StackConfig) -> Iterator[Problem]:
    fields = cfg.backup_schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        yield Problem(key("schedule"), f"{cfg.backup_schedule!r} must be a 5-field cron schedule such as '17 3 * * *'")
    if cfg.environment == "prod" and not cfg.backup_dr_replication:
        yield Problem(key("drReplication"), "prod replicates Vault snapshots to a DR region (seed requirement)")
    if cfg.backup_dr_replication:
        region = cfg.dr_region
        if not _REGION.match(region):
            yield Problem(key("drRegion"), f"drReplication needs an AWS region such as us-west-2 (got {region!r}; "
                                           f"{cfg.region!r} has no default DR region)")
        elif region == cfg.region:
            yield Problem(key("drRegion"), f"{region} is the stack's own region; a DR copy must live elsewhere")
    if cfg.velero_enabled and cfg.environment != "sandbox":
        yield Problem(key("veleroEnabled"), f"Velero is optional and sandbox-only (the client declined it), not for "
                                            f"{cfg.environment}")




@rule
def alerts(cfg: StackConfig) -> Iterator[Problem]:
    """Thresholds that make sense for the certificate lifetimes the mesh chose, and a Slack URL that is one."""
    renew_days = cfg.identity_issuer_renew_before_hours / 24
    if not 1 <= cfg.cert_expiry_critical_days < cfg.cert_expiry_warning_days:
        yield Problem(key("certExpiryCriticalDays"),
                      f"{cfg.cert_expiry_critical_days} must be at least 1 and below certExpiryWarningDays "
                      f"({cfg.cert_expiry_warning_days})")
    if cfg.cert_expiry_warning_days >= renew_days:
        yield Problem(key("certExpiryWarningDays"),
                      f"{cfg.cert_expiry_warning_days} d must be below the identity issuer's renewBefore "
                      f"({renew_days:g} d), or it fires on every healthy renewal cycle")
    if cfg.cert_renewal_grace_hours < 1:
        yield Problem(key("certRenewalGraceHours"), "must be at least 1")
    if not 1 <= cfg.identity_issuer_expiry_warning_hours < cfg.identity_issuer_renew_before_hours:
        yield Problem(key("identityIssuerExpiryWarningHours"),
                      f"{cfg.identity_issuer_expiry_warning_hours}h must be at least 1 and below "
                      f"identityIssuerRenewBeforeHours ({cfg.identity_issuer_renew_before_hours}h)")
    if not 1 <= cfg.trust_anchor_expiry_warning_days * 24 < cfg.trust_anchor_ttl_hours:
        yield Problem(key("trustAnchorExpiryWarningDays"),
                      f"{cfg.trust_anchor_expiry_warning_days} d must be at least 1 and below trustAnchorTtlHours "
                      f"({cfg.trust_anchor_ttl_hours}h)")
    if not 0 < cfg.mtls_success_rate_floor <= 1:
        yield Problem(key("mtlsSuccessRateFloor"), f"{cfg.mtls_success_rate_floor} must be a share in (0, 1]")
    if cfg.mtls_min_request_rate < 0:
        yield Problem(key("mtlsMinRequestRate"), "must not be negative")
    if cfg.latency_budget_ms < 1:
        yield Problem(key("latencyBudgetMs"), "must be at least 1 ms")
    if cfg.authz_denials_per_10m < 0:
        yield Problem(key("authzDenialsPer10m"), "must not be negative")
    if cfg.snapshot_max_age_hours < 1:
        yield Problem(key("snapshotMaxAgeHours"), "must be at least 1 (hours since the last successful snapshot)")
    if not _SLACK_CHANNEL.match(cfg.slack_channel):
        yield Problem(key("slackChannel"), f"{cfg.slack_channel!r} must be a channel name such as #platform-alerts")
    url = cfg.slack_webhook_url
    if url is not None and not url.startswith("https://hooks.slack.com/"):
        # The value is a secret: never echo it.
        yield Problem(key("slackWebhookUrl"), "must be a Slack incoming-webhook URL (https://hooks.slack.com/...)")
    if cfg.monitoring_enabled and not 1 <= cfg.prometheus_retention_days <= 365:
        yield Problem(key("prometheusRetentionDays"), f"{cfg.prometheus_retention_days} must be 1-365")
    if cfg.monitoring_enabled and cfg.prometheus_storage_gb < 10:
        yield Problem(key("prometheusStorageGb"), f"{cfg.prometheus_storage_gb} must be at least 10")


_SLACK_CHANNEL: Final = re.compile(r"^[#@][a-z0-9._-]{1,80}$")


_HTTPS_URL = re.compile(r"^https://[^\s/@]+(/[^\s]*)?$")


@rule
def gitops(cfg: StackConfig) -> Iterator[Problem]:
    """Argo CD needs a repository it can reach through the namespace's 443-only egress, and a path inside it."""
    if not cfg.argocd_enabled:
        return
    if not _HTTPS_URL.match(cfg.gitops_repo_url):
        yield Problem(key("repoUrl"), f"{cfg.gitops_repo_url!r} must be an https:// Git URL without credentials "
                                      "(gitops.argocd is on; the argocd namespace allows egress on 443 only)")
    path = cfg.gitops_path
    if not path or path.startswith("/") or ".." in path.split("/"):
        yield Problem(key("path"), f"{path!r} must be a relative directory inside the repository (gitops.argocd is on)")
    if not cfg.gitops_target_revision.strip():
        yield Problem(key("targetRevision"), "must name a branch, tag or commit")



@rule
def image_pins(cfg: StackConfig) -> Iterator[Problem]:
    """`rollout.images` names catalog services, each with exactly one pinned tag or digest."""
    names = {s.name for s in cfg.services}
    for name, pin in cfg.image_pins.items():
        at = f"{key('images')}.{name}"
        if name not in names:
            yield Problem(at, f"unknown service {name!r} (services: {', '.join(sorted(names))})")
        yield from (Problem(k, r) for k, r in check_pin(at, pin.tag, pin.digest))


from config.rules import ingress  # noqa: E402,F401  (registers the public-entry rules)
