"""ElastiCache for Valkey: the platform's cache, a replication group private in the isolated subnets.

Encrypted at rest with the customer data key and in transit with TLS required (no plaintext clients at all), and
open only to the RBAC users of its user group (`cache_users.py`: one user per service, passwords rotated by Vault;
no shared AUTH token exists). With Multi-AZ on, a
replica in another zone is promoted automatically when the primary fails. Slow and engine logs go to a
KMS-encrypted log group with the stack's retention; daily snapshots are kept for the configured days, plus a
final one when a protected stack's group is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components.data.placement import CACHE_PORT, Placement
from config.versions import VALKEY_ENGINE_VERSION, VALKEY_PARAMETER_FAMILY

# Ref: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Log_Delivery.html
LOG_TYPES: Final = ("slow-log", "engine-log")
SNAPSHOT_WINDOW: Final = "02:00-03:00"  # UTC; must not overlap the maintenance window
MAINTENANCE_WINDOW: Final = "sun:05:00-sun:06:00"


LogDelivery = aws.elasticache.ReplicationGroupLogDeliveryConfigurationArgsDict


def log_delivery(log_group: pulumi.Input[str]) -> list[LogDelivery]:
    """Both Valkey log types, as JSON, into one CloudWatch log group."""
    return [{"destination": log_group, "destination_type": "cloudwatch-logs", "log_format": "json", "log_type": t}
            for t in LOG_TYPES]


@dataclass(frozen=True)
class CacheArgs:
    placement: Placement
    name_prefix: str  # physical names: the log group, descriptions, the final snapshot
    node_type: str  # data.cacheNodeType
    nodes: int  # data.cacheNodes: the primary plus replicas
    multi_az: bool  # data.cacheMultiAz: automatic failover to a replica in another zone
    snapshot_retention_days: int  # data.cacheSnapshotRetentionDays
    log_retention_days: int
    protect: bool  # protect + a final snapshot on delete
    user_group_id: pulumi.Input[str]  # CacheUsers.group_id: the only users the group admits


class Cache(pulumi.ComponentResource):
    """One Valkey replication group (cluster mode off) with its subnet group and log group, behind a user group."""

    endpoint: pulumi.Output[str]  # primary endpoint host:port (TLS)

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:data:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        where, protect = args.placement, args.protect

        logs = aws.cloudwatch.LogGroup(name, name=f"/aws/elasticache/{args.name_prefix}",
                                       retention_in_days=args.log_retention_days, kms_key_id=where.logs_key_arn,
                                       opts=child)
        subnets = aws.elasticache.SubnetGroup(name, description=f"{args.name_prefix} cache: isolated subnets",
                                              subnet_ids=where.subnet_ids, opts=child)

        self.replication_group = aws.elasticache.ReplicationGroup(
            name,
            description=f"{args.name_prefix} Valkey cache",
            engine="valkey",
            engine_version=VALKEY_ENGINE_VERSION,
            parameter_group_name=f"default.{VALKEY_PARAMETER_FAMILY}",  # cluster mode off
            cluster_mode="disabled",
            auto_minor_version_upgrade=True,
            node_type=args.node_type,
            num_cache_clusters=args.nodes,
            automatic_failover_enabled=args.multi_az,
            multi_az_enabled=args.multi_az,
            port=CACHE_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[where.security_group_id],
            at_rest_encryption_enabled=True,
            kms_key_id=where.data_key_arn,
            transit_encryption_enabled=True,
            # "required" is valid at creation; only an existing group must pass through "preferred" first.
            transit_encryption_mode="required",
            # RBAC instead of an AUTH token (the two exclude each other). On a group created with a token, "DELETE"
            # makes the provider's update drop it while adding the user group: the move to RBAC in one modification.
            # Ref: terraform-provider-aws internal/service/elasticache/replication_group.go (auth_token ConflictsWith
            # user_group_ids; Update: UserGroupIdsToAdd with AuthTokenUpdateStrategy DELETE; not used on create).
            user_group_ids=[args.user_group_id],
            auth_token_update_strategy="DELETE",
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window=SNAPSHOT_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            final_snapshot_identifier=f"{args.name_prefix}-cache-final" if protect else None,
            log_delivery_configurations=log_delivery(logs.name),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.endpoint = pulumi.Output.format("{0}:{1}", self.replication_group.primary_endpoint_address, CACHE_PORT)
        self.register_outputs({"endpoint": self.endpoint})
