"""The typed, frozen configuration of one stack, built once by `__main__` before any resource is registered.

Loading happens in three steps: the raw Pulumi config is parsed against `RawConfig` (pydantic: types and shapes),
the environment's profile fills every key the stack file leaves out, and the cross-key rules in `config_rules` run
over the merged result. Every problem from every step is reported together in one `ConfigError` naming the key,
the stack and the rule, so a bad stack file costs one round trip, never a traceback or half a plan.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import pulumi
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from components import service_catalog
from components.image_pins import ImagePin, apply_pins
from components.profiles import HA_ENVIRONMENTS, PROFILES, Environment, Profile
from components.service_catalog import Catalog
from components.traffic_policy import Canary

PROJECT: Final = "mtls-platform"


class ConfigError(pulumi.RunError):
    """Invalid stack configuration. A RunError, so `pulumi up` prints the message without a stack trace."""

    def __init__(self, stack: str, problems: list[Problem]) -> None:
        self.stack = stack
        self.problems = problems
        lines = [f"stack '{stack}': {len(problems)} configuration problem(s); no resource was registered:"]
        lines += [f"  - {p.key}: {p.rule}" for p in problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Problem:
    """One broken rule: the fully qualified config key (`project:key`) and what must hold."""

    key: str
    rule: str


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


class MeshConfig(_Group):
    app_namespace: str | None = Field(None, alias="appNamespace")
    default_inbound_policy: Literal["all-authenticated", "cluster-authenticated", "deny"] | None = Field(
        None, alias="defaultInboundPolicy")
    identity_issuer_duration_hours: int | None = Field(None, alias="identityIssuerDurationHours")
    identity_issuer_renew_before_hours: int | None = Field(None, alias="identityIssuerRenewBeforeHours")
    trust_anchor_ttl_hours: int | None = Field(None, alias="trustAnchorTtlHours")
    previous_trust_anchor_pem: str | None = Field(None, alias="previousTrustAnchorPem")


class ProtectionConfig(_Group):
    protect_resources: bool | None = Field(None, alias="protectResources")
    vault_backup_retention_days: int | None = Field(None, alias="vaultBackupRetentionDays")


class RolloutConfig(_Group):
    """Canary rollouts ({service name: canary} over whichever catalog runs, the default one included) and the app
    namespace's mesh onboarding mode: `audit` admits and records would-be denials, `enforce` denies."""

    canaries: dict[str, Canary] | None = Field(None, alias="canaries")
    image_pins: dict[str, ImagePin] | None = Field(None, alias="images")
    policy_mode: Literal["audit", "enforce"] | None = Field(None, alias="policyMode")


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
    """Public entry (components/public_entry.py): the ALB's DNS name, its certificate and who may reach it."""

    ingress_domain: str | None = Field(None, alias="domain")
    ingress_hosted_zone_id: str | None = Field(None, alias="hostedZoneId")
    ingress_certificate_arn: str | None = Field(None, alias="certificateArn")
    ingress_allowed_cidrs: list[str] | None = Field(None, alias="allowedCidrs")


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


class ManifestsConfig(_Group):
    """Existing Kubernetes manifests applied into the app namespace (components/manifests.py validates them)."""

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
    # The service catalog, {name: service}; its shape is checked by `service_catalog.parse` so that every problem
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


# Where each setting lives: dotted key path (as `pulumi config set --path` spells it), by camelCase alias.
_ALL_PATHS: Final = [f"{group}.{f.alias or name}" for group, model in GROUPS.items()
                     for name, f in model.model_fields.items()]
# An alias two groups share (`mode`: data.mode, manifests.mode) is left out: `key()` wants its dotted path.
AMBIGUOUS: Final = frozenset(a for a in (p.split(".", 1)[1] for p in _ALL_PATHS)
                             if sum(q.endswith(f".{a}") for q in _ALL_PATHS) > 1)
KEY_PATHS: Final[dict[str, str]] = {p.split(".", 1)[1]: p for p in _ALL_PATHS if p.split(".", 1)[1] not in AMBIGUOUS}
CONFIG_KEYS: Final = frozenset({"environment", "owner", "budget", "services", *GROUPS})
_JSON_KEYS: Final = frozenset({"budget", "services", *GROUPS})  # values Pulumi hands over JSON-encoded


@dataclass(frozen=True)
class NodePool:
    """One managed node group's shape."""

    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gb: int
    capacity_type: Literal["ON_DEMAND", "SPOT"]


@dataclass(frozen=True)
class StackConfig(Profile):
    """The resolved configuration: the profile's fields with overrides applied, plus stack-only settings."""

    project: str = PROJECT
    stack: str = ""
    environment: Environment = "sandbox"
    region: str = ""
    owner: str = "platform-team"
    kubernetes_version: str = ""
    availability_zones: tuple[str, ...] | None = None
    public_subnet_cidrs: tuple[str, ...] = ()
    private_subnet_cidrs: tuple[str, ...] = ()
    isolated_subnet_cidrs: tuple[str, ...] = ()
    public_access_cidrs: tuple[str, ...] = ()
    admin_principal_arns: tuple[str, ...] = ()
    devops_principal_arns: tuple[str, ...] = ()
    data_services_mode: Literal["direct", "serviceCatalog"] = "direct"
    app_namespace: str = ""  # "" = "<environment>-app"
    previous_trust_anchor_pem: str | None = None
    service_catalog_products: Mapping[str, ServiceCatalogProduct] = dataclasses.field(default_factory=dict)
    services: Catalog = ()  # the application's service catalog (components/service_catalog.py)
    canaries: Mapping[str, Canary] = dataclasses.field(default_factory=dict)  # rollout.canaries (app_routes)
    image_pins: Mapping[str, ImagePin] = dataclasses.field(default_factory=dict)  # rollout.images (image_pins)
    slack_team_id: str | None = None  # notifications: unset = alarms reach the SNS topic only
    slack_channel_id: str | None = None
    # Public entry (ingress group): needed as soon as the catalog has a public service (config rule `ingress`).
    ingress_domain: str | None = None
    ingress_hosted_zone_id: str | None = None  # Route 53 zone: ACM DNS validation records and the alias record
    ingress_certificate_arn: str | None = None  # an existing ACM certificate instead of a DNS-validated one
    ingress_allowed_cidrs: tuple[str, ...] = ("0.0.0.0/0",)  # who may reach the ALB (a public shop: everyone)
    slack_channel: str = "#platform-alerts"  # Alertmanager's Slack channel
    slack_webhook_url: str | None = dataclasses.field(default=None, repr=False)  # secret config; None: no Slack
    manifests_directory: str = ""  # "" = no manifests; else a directory relative to the project root
    manifests_mode: Literal["addition", "replace"] = "addition"  # replace: the catalog's services are not created
    manifest_objects: tuple[Mapping[str, Any], ...] = ()  # loaded and validated at config load (manifests.py)
    policy_mode: Literal["audit", "enforce"] = "enforce"  # the app namespace's Linkerd policy (docs/rollout.md)
    argocd_enabled: bool = False  # Argo CD syncs gitops_repo_url/gitops_path into the app namespace (docs/gitops.md)
    gitops_repo_url: str = ""
    gitops_path: str = ""
    gitops_target_revision: str = "main"

    @property
    def is_ha(self) -> bool:
        return self.environment in HA_ENVIRONMENTS

    @property
    def name_prefix(self) -> str:
        """Prefix for the few physical names people or charts need (cluster, KMS aliases, log groups)."""
        return f"{self.project}-{self.stack}"

    @property
    def app_namespace_name(self) -> str:
        return self.app_namespace or f"{self.environment}-app"

    @property
    def cluster_name(self) -> str:
        return self.name_prefix

    @property
    def system_pool(self) -> NodePool:
        return NodePool(
            self.system_node_instance_types,
            self.system_node_min_size,
            self.system_node_desired_size,
            self.system_node_max_size,
            self.node_disk_size_gb,
            "ON_DEMAND",
        )

    @property
    def spot_pool(self) -> NodePool | None:
        if not self.spot_nodes_enabled:
            return None
        return NodePool(
            self.spot_node_instance_types,
            self.spot_node_min_size,
            self.spot_node_desired_size,
            self.spot_node_max_size,
            self.node_disk_size_gb,
            "SPOT",
        )

    @property
    def dr_region(self) -> str:
        """Where Vault snapshots are replicated (with backup_dr_replication): drRegion, else the region's default."""
        from components.profiles import DR_REGION_DEFAULTS

        return self.backup_dr_region or DR_REGION_DEFAULTS.get(self.region, "")

    @property
    def tags(self) -> dict[str, str]:
        """The base tag set merged into every taggable resource (through the AWS provider's default_tags)."""
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment,
            "owner": self.owner,
            "managed-by": "pulumi",
        }


def key(name: str) -> str:
    """The fully qualified config key path of a setting (its alias, or `group.alias`), as `pulumi config set --path`
    takes it."""
    if name in AMBIGUOUS:
        raise ValueError(f"config setting {name!r} exists in several groups; name it as group.{name}")
    return f"{PROJECT}:{KEY_PATHS.get(name, name)}"


def _decode(alias: str, raw: Any) -> Any:
    """Pulumi hands every config value over as a string; objects and lists arrive JSON-encoded."""
    if alias not in _JSON_KEYS or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # left as a string: pydantic then reports the wrong type against this key


def read_raw_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Pick this project's keys out of the whole stack config; unknown keys under our namespace are problems."""
    prefix = f"{PROJECT}:"
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for full_key, raw in config.items():
        if not full_key.startswith(prefix):
            continue
        name = full_key[len(prefix) :]
        if name not in CONFIG_KEYS:
            problems.append(Problem(full_key, "unknown config key (not declared in Pulumi.yaml; a typo?)"))
            continue
        values[name] = _decode(name, raw)
    return values, problems


def _pydantic_problems(err: pydantic.ValidationError) -> tuple[list[Problem], set[str]]:
    problems, failed = [], set()
    for e in err.errors():
        loc = [str(part) for part in e["loc"]]
        # The failed *setting*: a group's field (network.vpcCidr) or a top-level key (environment).
        failed.add(loc[1] if loc[0] in GROUPS and len(loc) > 1 else loc[0])
        where = f"{PROJECT}:{'.'.join(loc[:2])}" + "".join(f"[{p}]" for p in loc[2:])
        msg = {"missing": "is required", "extra_forbidden": "unknown setting (a typo?)"}.get(
            e["type"], e["msg"].replace("Input should", "must"))
        problems.append(Problem(where, msg))
    return problems, failed


def build_stack_config(stack: str, config: Mapping[str, Any]) -> StackConfig:
    """Parse, merge with the environment's profile, and validate. Raises ConfigError listing every problem."""
    from components import config_rules, manifests  # both import StackConfig; keep the import graph acyclic

    values, problems = read_raw_config(config)
    region = config.get("aws:region") or ""
    failed: set[str] = set()
    try:
        raw = RawConfig.model_validate(values)
    except pydantic.ValidationError as err:
        type_problems, failed = _pydantic_problems(err)
        problems += type_problems
        # Re-parse with the broken keys dropped so the cross-key rules can still check the rest.
        # Without a valid environment there is no profile to merge with: report what we have.
        if "environment" in failed:
            raise ConfigError(stack, problems) from None
        raw = RawConfig.model_validate(_without(values, failed))

    catalog, catalog_problems = service_catalog.parse(
        f"{PROJECT}:services", raw.services, raw.environment,
        service_catalog.duplicate_names(config.get(f"{PROJECT}:services")))
    problems += [Problem(k, rule) for k, rule in catalog_problems]
    merged = merge(stack, region, raw, PROFILES[raw.environment])
    cfg = dataclasses.replace(merged, services=apply_pins(catalog, merged.image_pins))
    problems += [p for p in config_rules.check(cfg) if not _involves(p, failed)]
    objects, manifest_problems = manifests.load_for(cfg)
    problems += [Problem(k, rule) for k, rule in manifest_problems]
    cfg = dataclasses.replace(cfg, manifest_objects=objects)
    if problems:
        raise ConfigError(stack, problems)
    return cfg


def _without(values: dict[str, Any], failed: set[str]) -> dict[str, Any]:
    """The raw values minus every setting that failed to parse (a whole key if its object was malformed)."""
    kept: dict[str, Any] = {}
    for k, v in values.items():
        if k in failed:
            continue
        kept[k] = {f: x for f, x in v.items() if f not in failed} if isinstance(v, dict) else v
    return kept


def _involves(problem: Problem, failed: set[str]) -> bool:
    path = problem.key.split(":", 1)[-1].split("[", 1)[0]
    return any(part in failed for part in path.split("."))


def merge(stack: str, region: str, raw: RawConfig, profile: Profile) -> StackConfig:
    """Profile defaults overlaid with every key the stack file sets; subnets carved from the VPC when unset."""
    from components.subnets import carve_subnets  # pure helper, imported lazily for the same reason

    overrides = raw.overrides()
    base = {f.name: getattr(profile, f.name) for f in dataclasses.fields(Profile)}
    merged: dict[str, Any] = {**base, **overrides}
    merged.setdefault("kubernetes_version", _default_kubernetes_version())
    if "availability_zones" in merged and "az_count" not in overrides:
        merged["az_count"] = len(merged["availability_zones"])
    carved = carve_subnets(merged["vpc_cidr"], merged["az_count"])
    for tier, cidrs in carved.items():
        merged.setdefault(f"{tier}_subnet_cidrs", cidrs)
    return StackConfig(
        **merged,
        stack=stack,
        region=region,
        environment=raw.environment,
        owner=raw.owner,
        service_catalog_products={str(k): v for k, v in (raw.data.service_catalog_products or {}).items()},
    )


def _default_kubernetes_version() -> str:
    from components.versions import KUBERNETES_VERSION

    return KUBERNETES_VERSION


def load_stack_config() -> StackConfig:
    """Build the stack's config from the running Pulumi program's settings (called once, by `__main__`)."""
    from pulumi.runtime.config import CONFIG, get_config_env

    config = {**get_config_env(), **CONFIG.get()}
    return build_stack_config(pulumi.get_stack(), config)
