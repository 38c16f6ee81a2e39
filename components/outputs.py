"""The stack outputs: what operators, `make verify`, CI and later tooling read with `pulumi stack output`.

`vault_irsa` and `vault_s3_bucket` keep the names of the customer's earlier Terraform outputs; `kubeconfig` is a
secret (pulumi-eks marks it so). Kept out of `__main__` so the entry point reads as the order of the layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.app.application import Application
from components.backup.backups import Backups
from components.cluster.cluster import Cluster
from components.data.data_services import DataServices
from components.ingress.public_entry import PublicEntry
from components.mesh.mesh import Mesh
from components.network.network import Network
from components.observability.observability import Observability
from components.vault.vault_aws import VaultAws
from config.model import StackConfig


@dataclass(frozen=True)
class Layers:
    """The components whose attributes become outputs (`entry` is None when no service is public)."""

    config: StackConfig
    network: Network
    cluster: Cluster
    data: DataServices
    vault: VaultAws
    mesh: Mesh
    app: Application
    observability: Observability
    backups: Backups
    entry: PublicEntry | None


def export_outputs(layers: Layers) -> None:
    cluster, data, vault, mesh = layers.cluster, layers.data, layers.vault, layers.mesh
    outputs: dict[str, pulumi.Input[object]] = {
        "environment": layers.config.environment,
        "vpc_id": layers.network.vpc_id,
        "cluster_name": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "oidc_provider_arn": cluster.oidc_provider_arn,
        "admin_role_arn": cluster.admin_role.arn,
        "devops_role_arn": cluster.devops_role.arn,
        "cluster_autoscaler_role_arn": cluster.autoscaler_role.arn,
        "vault_irsa": vault.role_arn,
        "vault_kms_key_id": vault.unseal_key_id,
        "vault_s3_bucket": vault.bucket_name,
        "postgres_endpoint": data.postgres_endpoint,
        "postgres_secret_arn": data.postgres_secret_arn,
        "cache_endpoint": data.cache_endpoint,
        "cache_user_group_id": data.cache_users.group_id,
        "trust_anchor_pem": mesh.vault.root_ca_pem,
        "vault_recovery_secret_arn": mesh.vault.recovery_secret.arn,
        "vault_listener_ca_pem": mesh.vault.ca_pem,
        "trust_anchor_rotation_image": mesh.anchor_rotation.image,
        "ecr_repository_urls": layers.app.repository_urls,
        "alarm_topic_arn": layers.observability.topic_arn,
        "vault_snapshot_role_arn": layers.backups.aws.role_arn,
    }
    if data.broker_endpoint is not None and data.broker_secret_arn is not None:  # data.messaging: activemq
        outputs |= {"broker_endpoint": data.broker_endpoint, "broker_secret_arn": data.broker_secret_arn}
    if data.queue_urls:  # data.messaging: sqs
        outputs |= {"queue_urls": data.queue_urls, "queue_role_arns": data.queue_role_arns}
    if layers.entry is not None:
        outputs |= {"public_url": layers.entry.url, "alb_hostname": layers.entry.hostname}
    for name, value in outputs.items():
        pulumi.export(name, value)
