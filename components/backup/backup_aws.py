"""The AWS side of Vault's snapshot backups: the CronJob's IRSA role, write-only, and (prod) the DR replication.

The role is trusted only by the `vault/vault-snapshot` service account and may only put objects under `raft/` in the
snapshot bucket `VaultAws` already owns (plus the KMS calls SSE-KMS writes need, on that bucket's key, through S3
only): the job can neither read, list nor delete a snapshot, so a compromised job cannot destroy the backups.
Retention is the bucket's lifecycle (`VaultAws`), cross-region copies are `BackupReplication`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup import snapshot_specs
from components.backup.backup_replication import BackupReplication, BackupReplicationArgs
from components.cluster.cluster import Cluster
from components.shared.encryption_keys import EncryptionKeys
from components.vault.vault_aws import VaultAws
from config.names import VAULT_NAMESPACE


@dataclass(frozen=True)
class BackupAwsArgs:
    cluster: Cluster
    vault_aws: VaultAws  # owns the snapshot bucket
    keys: EncryptionKeys  # `data` encrypts the bucket
    service_account: str  # the CronJob's service account in `vault`
    region: str  # the stack's region (KMS via S3 condition of the write policy)
    name_prefix: str
    dr_region: str | None  # backup.drReplication on: the region the snapshots are replicated to; None: no copy
    retention_days: int  # protection.vaultBackupRetentionDays, for the replicas too
    log_retention_days: int
    protect: bool
    tags: Mapping[str, str]  # the base tags, for the DR region's provider


class BackupAws(pulumi.ComponentResource):
    """IRSA role + write-only policy for the snapshot CronJob; DR replication where configured."""

    def __init__(self, name: str, args: BackupAwsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:backup:BackupAws", name, None, opts)
        bucket = args.vault_aws.backup_bucket
        self.role = args.cluster.irsa_role(f"{name}-snapshot-irsa", VAULT_NAMESPACE, args.service_account, parent=self)
        policy = aws.iam.RolePolicy(
            f"{name}-snapshot-write",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(
                snapshot_specs.snapshot_writer_policy(bucket.arn, args.keys.data.arn, args.region)),
            opts=pulumi.ResourceOptions(parent=self.role),
        )
        self.replication: BackupReplication | None = None
        if args.dr_region is not None:
            self.replication = BackupReplication(f"{name}-dr", BackupReplicationArgs(
                aws_context=args.cluster.aws_context, source=bucket, source_key_arn=args.keys.data.arn,
                dr_region=args.dr_region, name_prefix=args.name_prefix,
                retention_days=args.retention_days, protect=args.protect, tags=args.tags,
                log_retention_days=args.log_retention_days,
            ), pulumi.ResourceOptions(parent=self))
        # Published once the policy is attached: a job started earlier would fail its upload.
        self.role_arn = pulumi.Output.all(self.role.arn, policy.id).apply(lambda v: str(v[0]))
        self.register_outputs({"role_arn": self.role_arn})
