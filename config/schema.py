"""The schema of the stack configuration: every config key the program reads, typed, per group.

pydantic checks types and shapes here (`RawConfig`); what a type cannot say lives in `config.rules`. Aliases are the
config keys (camelCase) as `Pulumi.yaml` declares and describes them; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from config.image_pins import ImagePin
from config.names import PROJECT, Environment
from config.traffic import Canary


class ServiceCatalogProduct(BaseModel):
    """A Service Catalog product and the version (provisioning artifact) to launch."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    product_id: str = Field(alias="productId", pattern=r"^prod-[a-z0-9]{10,16}$")
    provisioning_artifact_id: str = Field(alias="provisioningArtifactId", pattern=r"^pa-[a-z0-9]{10,16}$")


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NetworkConfig(_Group):
    vpc_cidr: str | None = Field(None, alias="vpcCidr")
    az_count: int | None = Field(None, alias="azCount")
    availability_zones: list[str] | None = Field(None, alias="availabilityZones")
    public_subnet_cidrs: list[str] | None = Field(None, alias="publicSubnetCidrs")
    private_subnet_cidrs: list[str] | None = Field(None, alias="privateSubnetCidrs")
    isolated_subnet_cidrs: list[str] | None = Field(None, alias="isolatedSubnetCidrs")
    kubernetes_service_cidr: str | None = Field(None, alias="kubernetesServiceCidr")
    nat_gateways: Literal["single", "perAz"] | None = Field(None, alias="natGateways")
    egress: Literal["natGateway", "natInstance"] | None = Field(None, alias="egress")


class ClusterConfig(_Group):
    kubernetes_version: str | None = Field(None, alias="kubernetesVersion")
    endpoint_public_access: bool | None = Field(None, alias="endpointPublicAccess")
    public_access_cidrs: list[str] | None = Field(None, alias="publicAccessCidrs")
    admin_principal_arns: list[str] | None = Field(None, alias="adminPrincipalArns")
    devops_principal_arns: list[str] | None = Field(None, alias="devopsPrincipalArns")
    log_retention_days: int | None = Field(None, alias="logRetentionDays")


class NodesConfig(_Group):
    system_node_instance_types: list[str] | None = Field(None, alias="systemInstanceTypes")
    system_node_min_size: int | None = Field(None, alias="systemMinSize")
    system_node_desired_size: int | None = Field(None, alias="systemDesiredSize")
    system_node_max_size: int | None = Field(None, alias="systemMaxSize")
    node_disk_size_gb: int | None = Field(None, alias="diskSizeGb")
    spot_nodes_enabled: bool | None = Field(None, alias="spotEnabled")
    spot_node_instance_types: list[str] | None = Field(None, alias="spotInstanceTypes")
    spot_node_min_size: int | None = Field(None, alias="spotMinSize")
    spot_node_desired_size: int | None = Field(None, alias="spotDesiredSize")
    spot_node_max_size: int | None = Field(None, alias="spotMaxSize")
    spot_for_all_services: bool | None = Field(None, alias="spotForAllServices")
    system_node_capacity: Literal["onDemand", "spot"] | None = Field(None, alias="systemCapacity")


class DataConfig(_Group):
    data_services_mode: Literal["direct", "serviceCatalog"] | None = Field(None, alias="mode")
    service_catalog_products: dict[Literal["rds", "mq", "cache"], ServiceCatalogProduct] | None = Field(
        None, alias="serviceCatalogProducts"
    )
    rds_instance_class: str | None = Field(None, alias="rdsInstanceClass")
    rds_allocated_storage_gb: int | None = Field(None, alias="rdsAllocatedStorageGb")
    rds_max_allocated_storage_gb: int | None = Field(None, alias="rdsMaxAllocatedStorageGb")
    rds_multi_az: bool | None = Field(None, alias="rdsMultiAz")
    rds_backup_retention_days: int | None = Field(None, alias="rdsBackupRetentionDays")
    mq_instance_type: str | None = Field(None, alias="mqInstanceType")
    mq_multi_az: bool | None = Field(None, alias="mqMultiAz")
    cache_node_type: str | None = Field(None, alias="cacheNodeType")
    cache_nodes: int | None = Field(None, alias="cacheNodes")
    cache_multi_az: bool | None = Field(None, alias="cacheMultiAz")
    cache_snapshot_retention_days: int | None = Field(None, alias="cacheSnapshotRetentionDays")
    # How the catalog's `mq` services exchange messages: SQS queues or an Amazon MQ for ActiveMQ broker.
    messaging: Literal["sqs", "activemq"] | None = Field(None, alias="messaging")
    # Application credentials from Vault (README "Application secrets from Vault").
    postgres_credential_ttl_hours: int | None = Field(None, alias="postgresCredentialTtlHours")
    postgres_credential_max_ttl_hours: int | None = Field(None, alias="postgresCredentialMaxTtlHours")
    cache_rotation_days: int | None = Field(None, alias="cacheRotationDays")


class MeshConfig(_Group):
    app_namespace: str | None = Field(None, alias="appNamespace")
    default_inbound_policy: Literal["all-authenticated", "cluster-authenticated", "deny"] | None = Field(
        None, alias="defaultInboundPolicy")
    identity_issuer_duration_hours: int | None = Field(None, alias="identityIssuerDurationHours")
    identity_issuer_renew_before_hours: int | None = Field(None, alias="identityIssuerRenewBeforeHours")
    trust_anchor_ttl_hours: int | None = Field(None, alias="trustAnchorTtlHours")
    # Removed (the rotation keeps Linkerd's bundle); still parsed so that a stack file setting it gets a named error.
    previous_trust_anchor_pem: str | None = Field(None, alias="previousTrustAnchorPem")
    anchor_rotation_threshold_days: int | None = Field(None, alias="anchorRotationThresholdDays")
    anchor_rotation_schedule: str | None = Field(None, alias="anchorRotationSchedule")
    anchor_rotation_stuck_hours: int | None = Field(None, alias="anchorRotationStuckHours")


class ProtectionConfig(_Group):
    protect_resources: bool | None = Field(None, alias="protectResources")
    vault_backup_retention_days: int | None = Field(None, alias="vaultBackupRetentionDays")


class RolloutConfig(_Group):
    """Canary rollouts ({service name: canary} over whichever catalog runs, the default one included) and the app
    namespace's mesh onboarding mode: `audit` admits and records would-be denials, `enforce` denies."""

    canaries: dict[str, Canary] | None = Field(None, alias="canaries")
    image_pins: dict[str, ImagePin] | None = Field(None, alias="images")
    policy_mode: Literal["audit", "enforce"] | None = Field(None, alias="policyMode")
    # Progressive canaries by Flagger (docs/autoscaling.md): weight steps, analysis interval and rollback thresholds.
    progressive_enabled: bool | None = Field(None, alias="progressive")
    canary_step_weight: int | None = Field(None, alias="stepWeight")
    canary_max_weight: int | None = Field(None, alias="maxWeight")
    canary_interval: str | None = Field(None, alias="interval")
    canary_failed_checks: int | None = Field(None, alias="failedChecks")
    canary_min_success_rate: float | None = Field(None, alias="minSuccessRate", strict=False)
    canary_max_latency_ms: int | None = Field(None, alias="maxLatencyMs")


class NotificationsConfig(_Group):
    # Slack workspace (team) and channel IDs for AWS Chatbot; the workspace must be authorised in its console once.
    # Ref: pulumi_aws chatbot.SlackChannelConfiguration (examples T07EA123LEP, C07EZ1ABC23); C = public, G = private.
    slack_team_id: str | None = Field(None, alias="slackTeamId", pattern=r"^T[A-Z0-9]{8,20}$")
    slack_channel_id: str | None = Field(None, alias="slackChannelId", pattern=r"^[CG][A-Z0-9]{8,20}$")
    container_logs_enabled: bool | None = Field(None, alias="containerLogs")


class BackupConfig(_Group):
    backup_schedule: str | None = Field(None, alias="schedule")
    backup_dr_replication: bool | None = Field(None, alias="drReplication")
    backup_dr_region: str | None = Field(None, alias="drRegion")
    velero_enabled: bool | None = Field(None, alias="veleroEnabled")


class IngressConfig(_Group):
    """Public entry (components/ingress/public_entry.py): the ALB's DNS name, its certificate and who may reach it."""

    ingress_domain: str | None = Field(None, alias="domain")
    ingress_hosted_zone_id: str | None = Field(None, alias="hostedZoneId")
    ingress_certificate_arn: str | None = Field(None, alias="certificateArn")
    ingress_allowed_cidrs: list[str] | None = Field(None, alias="allowedCidrs")
    public_entry_enabled: bool | None = Field(None, alias="publicEntry")


class MonitoringConfig(_Group):
    monitoring_enabled: bool | None = Field(None, alias="enabled")
    prometheus_retention_days: int | None = Field(None, alias="prometheusRetentionDays")
    prometheus_storage_gb: int | None = Field(None, alias="prometheusStorageGb")


class AlertsConfig(_Group):
    cert_expiry_warning_days: int | None = Field(None, alias="certExpiryWarningDays")
    cert_expiry_critical_days: int | None = Field(None, alias="certExpiryCriticalDays")
    cert_renewal_grace_hours: int | None = Field(None, alias="certRenewalGraceHours")
    identity_issuer_expiry_warning_hours: int | None = Field(None, alias="identityIssuerExpiryWarningHours")
    trust_anchor_expiry_warning_days: int | None = Field(None, alias="trustAnchorExpiryWarningDays")
    # strict=False: YAML writes 0.99 as a float but 1 as an int; both are rates.
    mtls_success_rate_floor: float | None = Field(None, alias="mtlsSuccessRateFloor", strict=False)
    mtls_min_request_rate: float | None = Field(None, alias="mtlsMinRequestRate", strict=False)
    latency_budget_ms: int | None = Field(None, alias="latencyBudgetMs")
    authz_denials_per_10m: int | None = Field(None, alias="authzDenialsPer10m")
    snapshot_max_age_hours: int | None = Field(None, alias="snapshotMaxAgeHours")
    slack_channel: str | None = Field(None, alias="slackChannel")
    # A Pulumi *secret* (`pulumi config set --secret --path mtls-platform:alerts.slackWebhookUrl ...`).
    slack_webhook_url: str | None = Field(None, alias="slackWebhookUrl", repr=False)


class AutoscalingConfig(_Group):
    """Node and pod autoscaling (docs/autoscaling.md): Cluster Autoscaler over the managed node groups, and the
    HPAs' mesh request-rate target where Prometheus runs."""

    cluster_autoscaler_enabled: bool | None = Field(None, alias="clusterAutoscaler")
    # strict=False: YAML writes 0.6 as a float but 1 as an int.
    scale_down_utilization: float | None = Field(None, alias="scaleDownUtilization", strict=False)
    scale_down_unneeded_minutes: int | None = Field(None, alias="scaleDownUnneededMinutes")
    autoscaler_expander: Literal["priority", "least-waste"] | None = Field(None, alias="expander")
    requests_per_pod: float | None = Field(None, alias="requestsPerPod", strict=False)


class ManifestsConfig(_Group):
    """Existing Kubernetes manifests applied into the app namespace (config/manifests.py validates them)."""

    manifests_directory: str | None = Field(None, alias="directory")
    manifests_mode: Literal["addition", "replace"] | None = Field(None, alias="mode")


class GitopsConfig(_Group):
    """Optional Argo CD delivering the app's manifests from Git (docs/gitops.md); Pulumi keeps the platform."""

    argocd_enabled: bool | None = Field(None, alias="argocd")
    gitops_repo_url: str | None = Field(None, alias="repoUrl")
    gitops_path: str | None = Field(None, alias="path")
    gitops_target_revision: str | None = Field(None, alias="targetRevision")


# Top-level config key -> the model of its object value. `environment` and `owner` are plain strings.
GROUPS: Final[dict[str, type[_Group]]] = {
    "network": NetworkConfig,
    "cluster": ClusterConfig,
    "nodes": NodesConfig,
    "data": DataConfig,
    "mesh": MeshConfig,
    "protection": ProtectionConfig,
    "rollout": RolloutConfig,
    "notifications": NotificationsConfig,
    "backup": BackupConfig,
    "ingress": IngressConfig,
    "monitoring": MonitoringConfig,
    "alerts": AlertsConfig,
    "manifests": ManifestsConfig,
    "gitops": GitopsConfig,
    "autoscaling": AutoscalingConfig,
}


class RawConfig(BaseModel):
    """Every config key the program reads, as typed in the stack file. Unset keys fall back to the profile.

    Size settings sit in a few object keys (`network`, `cluster`, `nodes`, `data`, `mesh`, `protection`) because Pulumi
    requires every *declared* scalar key without a default in every stack file, which would defeat the profiles.
    Aliases are the config keys (camelCase); `Pulumi.yaml` declares and describes the same keys, a test keeps the
    two in step.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    environment: Environment
    owner: str = "platform-team"
    # Monthly budget in USD the cost estimate (`make cost`) checks against; no resource depends on it.
    budget: int = Field(600, gt=0)
    network: NetworkConfig = NetworkConfig()
    cluster: ClusterConfig = ClusterConfig()
    nodes: NodesConfig = NodesConfig()
    data: DataConfig = DataConfig()
    mesh: MeshConfig = MeshConfig()
    protection: ProtectionConfig = ProtectionConfig()
    rollout: RolloutConfig = RolloutConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    backup: BackupConfig = BackupConfig()
    ingress: IngressConfig = IngressConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    alerts: AlertsConfig = AlertsConfig()
    manifests: ManifestsConfig = ManifestsConfig()
    gitops: GitopsConfig = GitopsConfig()
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    # The service catalog, {name: service}; its shape is checked by `catalog.parse` so that every problem
    # names the service (`services.payment-gateway.callers[0]`). Empty: the default catalog.
    services: dict[str, Any] = {}

    def overrides(self) -> dict[str, Any]:
        """Flat snake_case field -> value for every setting the stack file gave (lists become tuples)."""
        flat: dict[str, Any] = {}
        for group in GROUPS:
            model = getattr(self, group)
            for name in type(model).model_fields:
                value = getattr(model, name)
                if value is not None and name != "service_catalog_products":
                    flat[name] = tuple(value) if isinstance(value, list) else value
        return flat


# Every setting inside a group, as the dotted path `pulumi config set --path` takes (`network.vpcCidr`).
SETTING_PATHS: Final = frozenset(f"{group}.{f.alias or name}" for group, model in GROUPS.items()
                                 for name, f in model.model_fields.items())
CONFIG_KEYS: Final = frozenset({"environment", "owner", "budget", "services", *GROUPS})
# Keys of other Pulumi packages a rule may be about; they keep their own namespace.
PROVIDER_KEYS: Final = frozenset({"aws:region"})
_JSON_KEYS: Final = frozenset({"budget", "services", *GROUPS})  # values Pulumi hands over JSON-encoded


def key(path: str) -> str:
    """The fully qualified config key of `path` as `pulumi config set --path` takes it: a setting's literal dotted path
    (`network.vpcCidr`), a top-level key (`services`), or a provider key (`aws:region`, returned as it is).

    Raises ValueError for a path the schema does not have, so a typo in a rule fails when its module is imported or
    the rule runs, instead of naming a key nobody can set."""
    if path in PROVIDER_KEYS:
        return path
    if path not in SETTING_PATHS and path not in CONFIG_KEYS:
        raise ValueError(f"{path!r} is not a config key of {PROJECT} (a setting is named by its dotted path, "
                         "e.g. 'network.vpcCidr'; config/schema.py lists them)")
    return f"{PROJECT}:{path}"

