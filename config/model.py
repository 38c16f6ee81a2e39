"""The resolved configuration of one stack and how a broken one is reported.

`StackConfig` is the typed, frozen result of loading (`config.load`): the environment's profile with the stack file's
settings applied. `Problem` is one broken rule naming its config key; `ConfigError` carries every problem of a stack
at once, so a bad stack file costs one round trip, never a traceback or half a plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi

from config.catalog import Catalog
from config.image_pins import ImagePin
from config.names import HA_ENVIRONMENTS, PROJECT, Environment
from config.profiles import DR_REGION_DEFAULTS, Profile
from config.schema import ServiceCatalogProduct
from config.traffic import Canary


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



@dataclass(frozen=True)
class NodePoolShape:
    """One managed node group's shape."""

    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gb: int
    capacity_type: Literal["ON_DEMAND", "SPOT"]


@dataclass(frozen=True)
class AutoscalerSettings:
    """What Cluster Autoscaler is told (autoscaling group)."""

    scale_down_utilization: float
    scale_down_unneeded_minutes: int
    expander: Literal["priority", "least-waste"]


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
    services: Catalog = ()  # the application's service catalog (config/catalog.py)
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
    def system_pool(self) -> NodePoolShape:
        return NodePoolShape(
            self.system_node_instance_types,
            self.system_node_min_size,
            self.system_node_desired_size,
            self.system_node_max_size,
            self.node_disk_size_gb,
            "SPOT" if self.system_node_capacity == "spot" else "ON_DEMAND",
        )

    @property
    def spot_pool(self) -> NodePoolShape | None:
        if not self.spot_nodes_enabled:
            return None
        return NodePoolShape(
            self.spot_node_instance_types,
            self.spot_node_min_size,
            self.spot_node_desired_size,
            self.spot_node_max_size,
            self.node_disk_size_gb,
            "SPOT",
        )

    @property
    def progressive_services(self) -> frozenset[str]:
        """Catalog services Flagger delivers progressively: all of them with rollout.progressive, except those with
        a manual canary (`services.<name>.canary` / `rollout.canaries`), which keep their fixed weight."""
        if not self.progressive_enabled:
            return frozenset()
        return frozenset(s.name for s in self.services if s.canary is None and s.name not in self.canaries)

    @property
    def autoscaler(self) -> AutoscalerSettings | None:
        if not self.cluster_autoscaler_enabled:
            return None
        return AutoscalerSettings(self.scale_down_utilization, self.scale_down_unneeded_minutes,
                                  self.autoscaler_expander)

    @property
    def dr_region(self) -> str:
        """Where Vault snapshots are replicated (with backup_dr_replication): drRegion, else the region's default."""
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

    @property
    def data_services_run(self) -> frozenset[str]:
        """The data services this stack runs, by the catalog's names (`dataServices`: rds, mq, cache). Every stack
        runs all three today; a messaging choice without ActiveMQ drops "mq" here, and the rule
        `services.data_services_run` then names each service that still asks for it."""
        return frozenset({"rds", "mq", "cache"})
