"""Customer-managed KMS keys, one per purpose, so a key policy can stay narrow and a compromise stays contained.

`logs` encrypts every CloudWatch log group (control plane, flow logs), `eks` envelope-encrypts Kubernetes secrets,
`data` encrypts RDS, Amazon MQ, ElastiCache, their Secrets Manager secrets and the backup buckets. Vault's unseal key
is created by `VaultAws` because its policy names Vault's own role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.shared import iam_documents
from components.shared.aws_context import AwsContext


@dataclass(frozen=True)
class EncryptionKeysArgs:
    aws_context: AwsContext
    name_prefix: str  # alias prefix: alias/<prefix>-<purpose>
    protect: bool  # protect + retain on delete (staging/prod)
    deletion_window_days: int = 30  # the maximum: time to notice a scheduled deletion


def customer_key(
    name: str,
    description: str,
    alias: str,
    ctx: AwsContext,
    opts: pulumi.ResourceOptions,
    protect: bool,
    service_statements: Sequence[iam_documents.Document] = (),
    deletion_window_days: int = 30,
) -> aws.kms.Key:
    """A symmetric CMK with rotation on, an explicit key policy and an alias (CKV_AWS_7, CKV_AWS_33)."""
    keep = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect))
    key = aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        rotation_period_in_days=365,
        deletion_window_in_days=deletion_window_days,
        policy=pulumi.Output.json_dumps(iam_documents.key_policy(ctx.account_id, ctx.partition, service_statements)),
        opts=keep,
    )
    aws.kms.Alias(f"{name}-alias", name=f"alias/{alias}", target_key_id=key.key_id, opts=opts)
    return key


class EncryptionKeys(pulumi.ComponentResource):
    """The platform's shared customer-managed keys."""

    def __init__(self, name: str, args: EncryptionKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:security:EncryptionKeys", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws_context

        def make(purpose: str, description: str, *statements: iam_documents.Document) -> aws.kms.Key:
            return customer_key(f"{name}-{purpose}", description, f"{args.name_prefix}-{purpose}", ctx, child,
                                args.protect, statements, args.deletion_window_days)

        self.logs = make("logs", "CloudWatch Logs: EKS control plane, VPC flow logs",
                         iam_documents.logs_service_statement(ctx.region, ctx.account_id, ctx.partition))
        self.eks = make("eks", "EKS envelope encryption of Kubernetes secrets")
        self.data = make("data", "RDS, Amazon MQ, ElastiCache, Secrets Manager and backup buckets")
        self.register_outputs({"logs": self.logs.arn, "eks": self.eks.arn, "data": self.data.arn})
