"""Disaster-recovery copy of the Vault snapshots: replication of the snapshot bucket's `raft/` prefix to another region.

A second AWS provider targets the DR region; there a replica KMS key (same policy shape as the platform's keys) and a
`SecureBucket` (with its own access-log bucket: S3 delivers logs within a region only) receive every new snapshot,
written by S3 itself through a replication role that may only read source versions under `raft/` and write replicas.
Deletes (delete markers) are not replicated, so losing or tampering with the primary region's bucket leaves the DR
copies intact until their own lifecycle expires them. Prod only by default (`backup.drReplication`); restore from the
DR copy: docs/vault-restore.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup import snapshot_specs
from components.shared import iam_documents
from components.shared.access_log_bucket import AccessLogBucket, AccessLogBucketArgs
from components.shared.aws_context import AwsContext
from components.shared.encryption_keys import customer_key
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.vault import snapshot_bucket_specs


@dataclass(frozen=True)
class BackupReplicationArgs:
    aws_context: AwsContext  # the primary region's account and partition
    source: SecureBucket  # the snapshot bucket
    source_key_arn: pulumi.Input[str]  # its KMS key
    dr_region: str
    name_prefix: str  # for the replica key's alias
    retention_days: int  # same retention as the source
    protect: bool
    tags: Mapping[str, str]  # the base tag set (the DR provider's default_tags)
    log_retention_days: int  # the DR access-log bucket's log expiry (the stack's log retention)


class BackupReplication(pulumi.ComponentResource):
    """DR provider + replica key + replica bucket + replication role and configuration."""

    def __init__(self, name: str, args: BackupReplicationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:backup:BackupReplication", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws_context
        self.provider = aws.Provider(f"{name}-dr", region=args.dr_region, default_tags={"tags": dict(args.tags)},
                                     opts=child)
        in_dr = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.replica_key = customer_key(
            f"{name}-replica", "Vault snapshot replicas (DR region)", f"{args.name_prefix}-backup-replica", ctx,
            in_dr, args.protect)
        in_dr_tree = pulumi.ResourceOptions(parent=self, providers=[self.provider])
        # S3 delivers server access logs only to a bucket of the same region: the DR region gets its own target.
        logs = AccessLogBucket(f"{name}-access-logs", AccessLogBucketArgs(
            account_id=ctx.account_id, protect=args.protect, retention_days=args.log_retention_days), in_dr_tree)
        self.replica = SecureBucket(f"{name}-replica", SecureBucketArgs(
            kms_key_arn=self.replica_key.arn, protect=args.protect,
            noncurrent_version_expiration_days=args.retention_days,
            access_log_bucket=logs.name, log_prefix="vault-snapshot-replicas/",
            extra_lifecycle_rules=(snapshot_bucket_specs.snapshot_retention_rule(args.retention_days),),
        ), in_dr_tree)
        role = aws.iam.Role(f"{name}-role", description="S3 replication of Vault snapshots to the DR region",
                            assume_role_policy=pulumi.Output.json_dumps(iam_documents.service_trust("s3.amazonaws.com")),
                            opts=child)
        policy = aws.iam.RolePolicy(f"{name}-role", role=role.id, policy=pulumi.Output.json_dumps(
            snapshot_specs.replication_policy(args.source.arn, args.source_key_arn, ctx.region,
                                              self.replica.arn, self.replica_key.arn, args.dr_region)),
            opts=pulumi.ResourceOptions(parent=role))
        # Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-add-config.html (V2 rule: filter,
        # delete marker replication, SSE-KMS objects selected explicitly, replica key in the destination region).
        self.configuration = aws.s3.BucketReplicationConfig(
            f"{name}-config",
            bucket=args.source.name,
            role=role.arn,
            rules=[{
                "id": "vault-snapshots-to-dr",
                "status": "Enabled",
                "filter": {"prefix": f"{snapshot_bucket_specs.SNAPSHOT_PREFIX}/"},
                "delete_marker_replication": {"status": "Disabled"},
                "source_selection_criteria": {"sse_kms_encrypted_objects": {"status": "Enabled"}},
                "destination": {
                    "bucket": self.replica.arn,
                    "storage_class": "STANDARD_IA",  # read only in a disaster
                    "encryption_configuration": {"replica_kms_key_id": self.replica_key.arn},
                },
            }],
            # Both buckets must be versioned first (SecureBucket does it), and the role able to act.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.source, self.replica, policy]),
        )
        self.replica_bucket = self.replica.name
        self.register_outputs({"replica_bucket": self.replica_bucket, "dr_region": args.dr_region})
