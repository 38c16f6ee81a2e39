"""Per-environment size profiles: the defaults every stack starts from.

A stack file (`Pulumi.<stack>.yaml`) holds only what differs from its environment's profile, plus secrets. Each field
here has a config key of the same name in camelCase (see `Pulumi.yaml`); a key set in the stack file wins.
Sizing rationale (the customer's brief asked for 7 x t3.large in prod) is in the README, "Sizing".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True)
class Profile:
    """Defaults for one environment; field names are the snake_case form of the config keys."""

    vpc_cidr: str
    az_count: int
    nat_gateways: Literal["single", "perAz"]
    log_retention_days: int
    endpoint_public_access: bool
    system_node_instance_types: tuple[str, ...]
    system_node_min_size: int
    system_node_desired_size: int
    system_node_max_size: int
    spot_nodes_enabled: bool
    spot_node_min_size: int
    spot_node_desired_size: int
    spot_node_max_size: int
    rds_instance_class: str
    rds_allocated_storage_gb: int
    rds_max_allocated_storage_gb: int
    rds_multi_az: bool
    rds_backup_retention_days: int
    mq_instance_type: str  # used only with messaging: activemq
    mq_multi_az: bool
    cache_node_type: str
    cache_nodes: int
    cache_multi_az: bool
    cache_snapshot_retention_days: int
    protect_resources: bool
    # Fields below share one default across environments.
    # The catalog's `mq` services talk through SQS queues (per-service IRSA, no password) or an Amazon MQ ActiveMQ
    # broker. SQS costs cents at the customer's traffic; an active/standby broker ~$420/month (README, "Cost").
    messaging: Literal["sqs", "activemq"] = "sqs"
    # Every catalog service tolerates the spot pool (non-critical ones still prefer it); the platform (Vault, Linkerd,
    # cert-manager, monitoring) stays on the on-demand pool. Off: only nonCritical services may use spot.
    spot_for_all_services: bool = False
    # The system pool's purchase option. `spot` only where nothing promises availability (sandbox, dev): a reclaim
    # drains the node on a 2-minute notice and Vault's single pod restarts elsewhere, resealed until KMS auto-unseal
    # opens it again (seconds), its PVC following it within the zone (README, "Cost").
    system_node_capacity: Literal["onDemand", "spot"] = "onDemand"
    # How the private subnets reach the internet: managed NAT gateway(s) or one small NAT instance (sandbox, dev;
    # components/network/nat_instance.py). The instance is a single point of egress with no managed failover.
    egress: Literal["natGateway", "natInstance"] = "natGateway"
    # The public entry (ALB, its certificate and DNS alias, the edge proxy) for the catalog's public services. Off in
    # the sandbox: its users reach the shop with `kubectl port-forward` instead of a public URL (README, "Cost").
    public_entry_enabled: bool = True
    # 30 GB holds the platform's and the services' images with room for the kubelet's image GC (EKS default: 20).
    node_disk_size_gb: int = 30
    # Spot capacity is diversified across interchangeable 2 vCPU / 8 GiB x86 types to survive pool reclaims; t3a
    # first, the cheapest (the estimate prices spot at the first type).
    spot_node_instance_types: tuple[str, ...] = ("t3a.large", "t3.large", "m5.large", "m6i.large")
    kubernetes_service_cidr: str = "172.20.0.0/16"
    vault_backup_retention_days: int = 30
    # Mesh: never "all-unauthenticated"; the app namespace itself defaults to deny (its own annotation).
    default_inbound_policy: Literal["all-authenticated", "cluster-authenticated", "deny"] = "all-authenticated"
    # 90-day identity issuer (the customer's certificate lifetime), renewed when 61 days remain: `linkerd check` warns
    # once an issuer has less than 60 days left, so renewing earlier keeps it quiet in steady state.
    identity_issuer_duration_hours: int = 2160
    identity_issuer_renew_before_hours: int = 1464
    # Trust anchor (Vault root CA): 10 years, rotated by the trust-anchor rotation CronJob (README), not by expiry.
    trust_anchor_ttl_hours: int = 87600
    # The rotation starts by itself when the anchor has fewer days left than this; the CronJob looks on its schedule,
    # and a phase running longer than the stuck threshold fails the Job (alert TrustAnchorRotationStuck).
    anchor_rotation_threshold_days: int = 365
    anchor_rotation_schedule: str = "*/15 * * * *"
    anchor_rotation_stuck_hours: int = 6
    # Container logs (CloudWatch Observability add-on) and the Vault/cert-manager alarms that read them; off only in
    # the sandbox profile (see below and docs/cloudwatch.md).
    container_logs_enabled: bool = True
    # Backups (docs/vault-restore.md): the Vault raft snapshot CronJob's schedule (cron, UTC; daily off the hour)
    # and cross-region replication of the snapshot bucket to a DR region (prod; the region is per stack).
    backup_schedule: str = "17 3 * * *"
    backup_dr_replication: bool = False
    backup_dr_region: str = ""
    # Application credentials from Vault (README "Application secrets from Vault"): a service's PostgreSQL login lives
    # 1 h, renewable up to 8 h, then it reads a new one; cache passwords are rotated every 30 days, the customer's
    # "every 30 days at most".
    postgres_credential_ttl_hours: int = 1
    postgres_credential_max_ttl_hours: int = 8
    cache_rotation_days: int = 30
    # Velero: optional, sandbox only (the customer's brief declined it); off by default.
    velero_enabled: bool = False
    # Observability (components/monitoring/monitoring.py). Off in the sandbox: Prometheus, Alertmanager, Grafana, the
    # exporters
    # and linkerd-viz want ~1.5 GiB of requests, too much for its two t3.medium nodes (docs/observability.md).
    monitoring_enabled: bool = True
    prometheus_retention_days: int = 7
    prometheus_storage_gb: int = 20
    # Alert thresholds (components/monitoring/alert_specs.py). Certificate warnings sit below every cert-manager
    # renewBefore (61 d for the identity issuer, 120 d for the webhooks), so in steady state they never fire: a
    # warning means renewal failed for weeks. The issuer warning is `linkerd check`'s 60 days.
    cert_expiry_warning_days: int = 30
    cert_expiry_critical_days: int = 7
    cert_renewal_grace_hours: int = 24
    identity_issuer_expiry_warning_hours: int = 1440
    trust_anchor_expiry_warning_days: int = 365
    mtls_success_rate_floor: float = 0.99
    mtls_min_request_rate: float = 1.0
    latency_budget_ms: int = 10
    authz_denials_per_10m: int = 0
    # A day between raft snapshots (backup.schedule is daily) plus two hours: the `VaultSnapshotMissing` alert.
    snapshot_max_age_hours: int = 26
    # Autoscaling (docs/autoscaling.md). Cluster Autoscaler drains a node whose pods request less than half of it
    # (the low end of the 50-80 % band: nodes fill up to ~80 % before a new one is needed, since pods are placed by
    # requests and the HPAs target 70 %), after 10 unneeded minutes (its default).
    cluster_autoscaler_enabled: bool = True
    scale_down_utilization: float = 0.5
    scale_down_unneeded_minutes: int = 10
    autoscaler_expander: Literal["priority", "least-waste"] = "priority"
    # HPA target on the mesh's inbound request rate per pod, where Prometheus runs (prometheus-adapter).
    requests_per_pod: float = 50.0
    # Progressive canaries (Flagger): 10 % more traffic per minute up to 50 %, promoted after the last step, rolled
    # back after 5 failed analyses (success rate under 99 % or p99 latency over 500 ms, from Linkerd's metrics).
    progressive_enabled: bool = False
    canary_step_weight: int = 10
    canary_max_weight: int = 50
    canary_interval: str = "1m"
    canary_failed_checks: int = 5
    canary_min_success_rate: float = 99.0
    canary_max_latency_ms: int = 500


_SMALL = Profile(
    monitoring_enabled=False,
    vpc_cidr="10.40.0.0/16",
    az_count=3,
    nat_gateways="single",
    log_retention_days=30,
    endpoint_public_access=True,
    system_node_instance_types=("t3a.medium",),
    system_node_min_size=2,
    system_node_desired_size=2,
    system_node_max_size=4,
    spot_nodes_enabled=False,
    spot_node_min_size=0,
    spot_node_desired_size=0,
    spot_node_max_size=2,
    rds_instance_class="db.t4g.micro",
    rds_allocated_storage_gb=20,
    rds_max_allocated_storage_gb=50,
    rds_multi_az=False,
    rds_backup_retention_days=1,
    mq_instance_type="mq.t3.micro",
    mq_multi_az=False,
    cache_node_type="cache.t4g.micro",
    cache_nodes=1,
    cache_multi_az=False,
    cache_snapshot_retention_days=1,
    protect_resources=False,
)

_HA = Profile(
    vpc_cidr="10.20.0.0/16",
    az_count=3,
    nat_gateways="single",
    log_retention_days=365,
    endpoint_public_access=False,
    # Staging keeps prod's shape where tests need it (3 zones, HA platform, Multi-AZ data, both pools) on smaller
    # on-demand nodes; the services run mostly on spot (README, "Cost").
    system_node_instance_types=("t3a.medium",),
    system_node_min_size=3,
    system_node_desired_size=3,
    system_node_max_size=6,
    spot_nodes_enabled=True,
    spot_node_min_size=0,
    spot_node_desired_size=2,
    spot_node_max_size=4,
    spot_for_all_services=True,
    # Right-sized for ~5,000 requests a day: 2 GiB PostgreSQL, 0.5 GiB Valkey nodes; storage grows by autoscaling.
    rds_instance_class="db.t4g.small",
    rds_allocated_storage_gb=20,
    rds_max_allocated_storage_gb=200,
    rds_multi_az=True,
    rds_backup_retention_days=7,
    mq_instance_type="mq.m5.large",
    mq_multi_az=True,
    cache_node_type="cache.t4g.micro",
    cache_nodes=2,
    cache_multi_az=True,
    cache_snapshot_retention_days=7,
    protect_resources=True,
    prometheus_retention_days=15,
    prometheus_storage_gb=20,
    # Canaries that roll back by themselves were promised wherever Prometheus runs (their analysis is its metrics).
    progressive_enabled=True,
)

PROFILES: Final[dict[str, Profile]] = {
    # Proof of concept: no agents on the nodes, no log ingestion; control-plane alarms and the topic stay.
    "sandbox": dataclasses.replace(_SMALL, container_logs_enabled=False, system_node_capacity="spot",
                                   system_node_instance_types=("t3a.medium", "t3.medium"), egress="natInstance",
                                   public_entry_enabled=False),
    "dev": dataclasses.replace(
        _SMALL,
        vpc_cidr="10.30.0.0/16",
        # Spot system nodes (two interchangeable types) and a NAT instance: dev promises no availability (README,
        # "Cost").
        log_retention_days=90,
        system_node_instance_types=("t3a.large", "t3.large"),
        system_node_capacity="spot",
        egress="natInstance",
        rds_backup_retention_days=7,
        cache_snapshot_retention_days=3,
        monitoring_enabled=True,
        # As in _HA: Prometheus runs here, so canaries are progressive (sandbox has no Prometheus to analyse them).
        progressive_enabled=True,
    ),
    "staging": _HA,
    "prod": dataclasses.replace(
        _HA,
        vpc_cidr="10.10.0.0/16",
        nat_gateways="perAz",
        # 3 on-demand (one per zone: Vault, Linkerd, cert-manager, monitoring) + 3 spot (the services, every one
        # tolerating spot and spread over zones), 12 vCPU; Cluster Autoscaler adds spot up to 6. README "Cost".
        system_node_instance_types=("t3a.large",),
        system_node_desired_size=3,
        system_node_max_size=9,
        spot_node_desired_size=3,
        spot_node_max_size=6,
        rds_allocated_storage_gb=20,
        rds_max_allocated_storage_gb=500,
        rds_backup_retention_days=14,
        cache_snapshot_retention_days=14,
        vault_backup_retention_days=90,
        backup_dr_replication=True,
        prometheus_retention_days=15,
        prometheus_storage_gb=30,
    ),
}

# The DR region a stack's backups replicate to when `backup.drRegion` is unset: a nearby region on the same continent
# (same data-residency area), far enough for a separate failure domain. Other regions must set drRegion.
DR_REGION_DEFAULTS: Final[dict[str, str]] = {
    "us-east-1": "us-west-2", "us-east-2": "us-west-2", "us-west-1": "us-east-1", "us-west-2": "us-east-1",
    "eu-west-1": "eu-central-1", "eu-west-2": "eu-west-1", "eu-west-3": "eu-central-1", "eu-central-1": "eu-west-1",
    "eu-north-1": "eu-central-1", "ap-southeast-1": "ap-southeast-2", "ap-southeast-2": "ap-southeast-1",
    "ap-northeast-1": "ap-northeast-3", "ap-south-1": "ap-south-2",
}
