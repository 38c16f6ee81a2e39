"""Entry point of the platform program: one stack per environment (sandbox, dev, staging, prod).

Loads and validates the stack's configuration before any resource exists, builds the AWS provider with the base
tags, then creates the layers in dependency order and exports what operators and later layers need.
"""

import dataclasses

import pulumi
import pulumi_aws as aws

from components.app.app_manifests import AppManifests, AppManifestsArgs
from components.app.application import Application, ApplicationArgs
from components.backup.backups import Backups, BackupsArgs
from components.cluster.cluster import Cluster, ClusterArgs
from components.data.data_services import DataServices, DataServicesArgs
from components.gitops.argocd import ArgoCd, ArgoCdArgs
from components.ingress.edge_specs import LOG_PREFIX
from components.ingress.public_entry import PublicEntry, PublicEntryArgs
from components.mesh.mesh import Mesh, MeshArgs
from components.monitoring.monitoring import Monitoring, MonitoringArgs
from components.network.network import Network, NetworkArgs
from components.observability.observability import Observability, ObservabilityArgs
from components.outputs import Layers, export_outputs
from components.shared.access_log_bucket import AccessLogBucket, AccessLogBucketArgs
from components.shared.aws_context import AwsContext
from components.shared.encryption_keys import EncryptionKeys, EncryptionKeysArgs
from components.vault.vault_aws import VaultAws, VaultAwsArgs
from config.load import load_stack_config

cfg = load_stack_config()
# manifests.mode "replace": the manifests are the application, the catalog's services are not created.
app_cfg = dataclasses.replace(cfg, services=()) if cfg.manifests_mode == "replace" else cfg
# public services: the ALB and its meshed edge, unless ingress.publicEntry is off (the sandbox profile)
public = cfg.public_entry_enabled and any(s.public for s in app_cfg.services)
provider = aws.Provider("aws", region=cfg.region, default_tags={"tags": cfg.tags})
ctx = AwsContext.lookup(provider, cfg.region)
zones = cfg.availability_zones or tuple(
    aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=provider)).names[: cfg.az_count]
)
aws_opts = pulumi.ResourceOptions(providers=[provider])

keys = EncryptionKeys("keys", EncryptionKeysArgs(ctx, cfg.name_prefix, cfg.protect_resources), aws_opts)
network = Network("network", NetworkArgs(
    cluster_name=cfg.cluster_name, vpc_cidr=cfg.vpc_cidr, availability_zones=zones,
    public_subnet_cidrs=cfg.public_subnet_cidrs, private_subnet_cidrs=cfg.private_subnet_cidrs,
    isolated_subnet_cidrs=cfg.isolated_subnet_cidrs, nat_per_az=cfg.nat_gateways == "perAz",
    log_retention_days=cfg.log_retention_days, logs_key_arn=keys.logs.arn,
    nat_instance=cfg.egress == "natInstance",
), aws_opts)
cluster = Cluster("cluster", ClusterArgs(
    aws_context=ctx, network=network, keys=keys, cluster_name=cfg.cluster_name,
    kubernetes_version=cfg.kubernetes_version, kubernetes_service_cidr=cfg.kubernetes_service_cidr,
    endpoint_public_access=cfg.endpoint_public_access, public_access_cidrs=cfg.public_access_cidrs,
    admin_principal_arns=cfg.admin_principal_arns, devops_principal_arns=cfg.devops_principal_arns,
    system_pool=cfg.system_pool, spot_pool=cfg.spot_pool, log_retention_days=cfg.log_retention_days,
    protect=cfg.protect_resources, region=cfg.region, autoscaler=cfg.autoscaler, ha=cfg.is_ha,
), aws_opts)
access_logs = AccessLogBucket("access-logs", AccessLogBucketArgs(
    account_id=ctx.account_id, protect=cfg.protect_resources, retention_days=cfg.log_retention_days,
    load_balancer_log_prefix=LOG_PREFIX if public else None, region=cfg.region), aws_opts)
data = DataServices("data", DataServicesArgs(network=network, cluster=cluster, keys=keys, config=cfg), aws_opts)
vault = VaultAws("vault", VaultAwsArgs(
    cluster=cluster, keys=keys, name_prefix=cfg.name_prefix,
    backup_retention_days=cfg.vault_backup_retention_days, protect=cfg.protect_resources,
    access_log_bucket=access_logs.name, cache_user_arns=list(data.cache_users.user_arns.values()),
), aws_opts)
k8s_opts = pulumi.ResourceOptions(providers=[provider, cluster.provider])  # in-cluster layers use both
mesh = Mesh("mesh", MeshArgs(config=cfg, cluster=cluster, vault_aws=vault, keys=keys, data=data), k8s_opts)
app = Application("app", ApplicationArgs(config=app_cfg, mesh=mesh, keys=keys,
                                         queue_role_arns=data.queue_role_arns), k8s_opts)
if cfg.manifest_objects:
    AppManifests("app-manifests", AppManifestsArgs(config=cfg, mesh=mesh), k8s_opts)
entry = PublicEntry("public-entry", PublicEntryArgs(
    config=app_cfg, cluster=cluster, network=network, mesh=mesh, app=app, access_log_bucket=access_logs.name,
), k8s_opts) if public else None
observability = Observability("observability", ObservabilityArgs(config=cfg, cluster=cluster, keys=keys), aws_opts)
backups = Backups("backups", BackupsArgs(cfg, cluster, vault, keys, mesh.vault, access_logs.name), k8s_opts)
if cfg.monitoring_enabled:  # off in the sandbox profile (docs/observability.md)
    Monitoring("monitoring", MonitoringArgs(config=cfg, mesh=mesh), k8s_opts)
if cfg.argocd_enabled:  # GitOps delivery of the app's manifests; Pulumi keeps the platform (docs/gitops.md)
    ArgoCd("argocd", ArgoCdArgs(config=cfg, mesh=mesh, cluster=cluster), k8s_opts)

export_outputs(Layers(cfg, network, cluster, data, vault, mesh, app, observability, backups, entry))
