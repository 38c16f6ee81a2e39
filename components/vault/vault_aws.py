"""Vault's AWS side: the auto-unseal key, the IRSA role that alone may use it, and the snapshot bucket.

Vault's pods (mesh layer) unseal through the awskms seal with credentials from IRSA, so no static AWS key exists
anywhere. The role is trusted only by the `vault/vault` service account of this cluster and may only call what the
seal needs on this one key. Raft snapshots go to a versioned, KMS-encrypted, TLS-only bucket, under `raft/`, kept
`backup_retention_days` as current objects and as long again as noncurrent versions (the writer: `BackupAws`).
Where services use the cache, the same role rotates their ElastiCache users' passwords (Vault's
redis-elasticache plugin): ModifyUser on exactly those users, DescribeUsers on the account's users (the plugin's
connection check lists them all; metadata only, no secret).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.cluster.cluster import Cluster
from components.shared import iam_documents
from components.shared.encryption_keys import EncryptionKeys, customer_key
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs
from components.vault.snapshot_bucket_specs import snapshot_retention_rule
from components.vault.vault_values import VAULT_SERVICE_ACCOUNT
from config.names import VAULT_NAMESPACE


@dataclass(frozen=True)
class VaultAwsArgs:
    cluster: Cluster
    keys: EncryptionKeys
    name_prefix: str
    backup_retention_days: int  # noncurrent snapshot versions expire after this many days
    protect: bool
    access_log_bucket: pulumi.Input[str] | None = None  # where the bucket's S3 server access logs go (CKV_AWS_18)
    cache_user_arns: Sequence[pulumi.Input[str]] = ()  # CacheUsers.user_arns: the users whose passwords Vault rotates


def cache_rotation_statements(user_arns: Sequence[pulumi.Input[str]],
                              all_users_arn: pulumi.Input[str]) -> list[iam_documents.Document]:
    """What Vault's redis-elasticache plugin calls: DescribeUsers (its connection check, with no user id, and before
    each rotation, by id) and ModifyUser (the new password) on the service users only."""
    # Ref: hashicorp/vault-plugin-database-redis-elasticache v0.9.1 redis_elasticache_client.go (Initialize:
    # DescribeUsers(nil) when verify_connection; UpdateUser: DescribeUsers + ModifyUser by UserId), and the
    # repository's own Terraform test fixture, which grants both actions on user ARNs.
    return [iam_documents.allow(["elasticache:DescribeUsers"], [all_users_arn], sid="CacheUsersDescribe"),
            iam_documents.allow(["elasticache:ModifyUser"], list(user_arns), sid="CacheUsersRotate")]


class VaultAws(pulumi.ComponentResource):
    """KMS unseal key + IRSA role + snapshot bucket for Vault."""

    def __init__(self, name: str, args: VaultAwsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:vault:VaultAws", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.cluster.aws_context

        self.unseal_key = customer_key(
            f"{name}-unseal", "Vault awskms auto-unseal (wraps Vault's root key)", f"{args.name_prefix}-vault-unseal",
            ctx, child, args.protect,
        )
        self.role = args.cluster.irsa_role(f"{name}-irsa", VAULT_NAMESPACE, VAULT_SERVICE_ACCOUNT, parent=self)
        seal_policy = aws.iam.RolePolicy(
            f"{name}-seal",
            role=self.role.id,
            policy=pulumi.Output.json_dumps(iam_documents.document(
                iam_documents.allow(iam_documents.AWSKMS_SEAL_ACTIONS, [self.unseal_key.arn], sid="AwsKmsSeal"))),
            opts=pulumi.ResourceOptions(parent=self.role),
        )
        self.backup_bucket = SecureBucket(f"{name}-snapshots", SecureBucketArgs(
            kms_key_arn=args.keys.data.arn,
            protect=args.protect,
            noncurrent_version_expiration_days=args.backup_retention_days,
            access_log_bucket=args.access_log_bucket,
            log_prefix="vault-snapshots/",
            # Snapshots get new names daily, so they never become noncurrent on their own: expire them by age.
            extra_lifecycle_rules=(snapshot_retention_rule(args.backup_retention_days),),
        ), child)

        attached: list[pulumi.Input[str]] = [seal_policy.id]
        if args.cache_user_arns:
            attached.append(aws.iam.RolePolicy(
                f"{name}-cache-users",
                role=self.role.id,
                policy=pulumi.Output.json_dumps(iam_documents.document(*cache_rotation_statements(
                    args.cache_user_arns, ctx.arn("elasticache", "user:*")))),
                opts=pulumi.ResourceOptions(parent=self.role),
            ).id)
        # Published only once the policies are attached: a pod using the role earlier would fail to unseal.
        self.role_arn = pulumi.Output.all(self.role.arn, *attached).apply(lambda v: str(v[0]))
        self.unseal_key_id = self.unseal_key.key_id
        self.bucket_name = self.backup_bucket.name
        self.register_outputs({
            "role_arn": self.role_arn,
            "unseal_key_id": self.unseal_key_id,
            "bucket": self.bucket_name,
        })
