"""The S3 bucket the platform keeps anything it cannot lose in: Pulumi state, Vault raft snapshots.

`SecureBucket` is private (owner-enforced objects, all four public-access blocks), versioned, encrypted with a
customer-managed KMS key (bucket key on), reachable over TLS 1.2+ only, cleans up old versions and abandoned uploads,
and can send server access logs to an `AccessLogBucket`. That covers the KMS / S3 audit rules: CKV2_AWS_6,
CKV_AWS_53-56, CKV_AWS_19/145, CKV_AWS_21, CKV_AWS_18, CKV2_AWS_61, CKV_AWS_70. `harden_bucket` and
`lifecycle_rules` are shared with `AccessLogBucket`, which differs only in encryption and log delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.shared import iam_documents

# Abandoned multipart uploads are invisible but billed; a week is longer than any upload still in progress.
ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7


@dataclass(frozen=True)
class SecureBucketArgs:
    kms_key_arn: pulumi.Input[str]  # customer-managed key for SSE-KMS; a full key ARN, not an alias
    protect: bool  # protect + retain_on_delete on the bucket (state and backup buckets, staging/prod data)
    noncurrent_version_expiration_days: int  # how long overwritten or deleted objects stay restorable
    access_log_bucket: pulumi.Input[str] | None = None  # target bucket name for server access logs; None = none
    log_prefix: str = ""  # key prefix of this bucket's logs in the target; "" = "<component name>/"
    force_destroy: bool = False  # empty the bucket on delete: throwaway stacks only, never with protect
    # More lifecycle rules (e.g. retention of one prefix); a bucket has a single lifecycle configuration.
    extra_lifecycle_rules: tuple[aws.s3.BucketLifecycleConfigurationRuleArgsDict, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.noncurrent_version_expiration_days < 1:
            problems.append(f"noncurrent_version_expiration_days must be >= 1, got "
                            f"{self.noncurrent_version_expiration_days}")
        if self.protect and self.force_destroy:
            problems.append("force_destroy contradicts protect: a protected bucket is never emptied on delete")
        if problems:
            raise ValueError("; ".join(problems))


def lifecycle_rules(
    noncurrent_days: int, expire_current_after_days: int | None = None
) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """Expire noncurrent versions (and current objects, if asked) and abort abandoned multipart uploads.

    Without a current-object expiration, delete markers whose last noncurrent version has expired would stay forever
    (every Pulumi lock file leaves one) and slow listings, so the rule removes them; S3 does that on its own when the
    same rule also expires current objects, and the two settings cannot be combined in one expiration.
    Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html (example 7)
    """
    expiration: aws.s3.BucketLifecycleConfigurationRuleExpirationArgsDict = (
        {"days": expire_current_after_days} if expire_current_after_days is not None
        else {"expired_object_delete_marker": True}
    )
    return [
        {
            "id": "expire-old-versions",
            "status": "Enabled",
            "filter": {},  # an empty filter applies the rule to every object
            "expiration": expiration,
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
        },
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "filter": {},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS},
        },
    ]


def harden_bucket(
    name: str,
    bucket: aws.s3.Bucket,
    child: pulumi.ResourceOptions,
    rules: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgsDict],
    extra_statements: Sequence[iam_documents.Document] = (),
) -> aws.s3.BucketPolicy:
    """Everything but encryption: owner-enforced objects, public access blocked, versioning, lifecycle, TLS only.

    Returns the bucket policy, the last piece to exist; `extra_statements` are appended to its TLS-only denies.
    """
    # ACLs disabled: the bucket owner owns every object, access is decided by policies alone.
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership", bucket=bucket.bucket, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=bucket.bucket, versioning_configuration={"status": "Enabled"}, opts=child
    )
    # Noncurrent-version rules need versioning in place first (the provider docs make the lifecycle depend on it).
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle", bucket=bucket.bucket, rules=list(rules),
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[versioning])),
    )
    document = iam_documents.tls_only_bucket_policy(bucket.arn)
    document["Statement"].extend(extra_statements)
    # After the public access block, so S3 judges the policy with every block already in force.
    return aws.s3.BucketPolicy(
        f"{name}-policy", bucket=bucket.bucket, policy=pulumi.Output.json_dumps(document),
        opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[public_access])),
    )


def keep_options(child: pulumi.ResourceOptions, protect: bool) -> pulumi.ResourceOptions:
    """The bucket's own options: protected and retained on delete when it holds something the platform needs."""
    return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect))


class SecureBucket(pulumi.ComponentResource):
    """A private, versioned, SSE-KMS bucket with TLS-only access, lifecycle clean-up and optional access logs."""

    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:storage:SecureBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Auto-named: bucket names are global, and nobody types this one (state_backend/ exports it).
        self.bucket = aws.s3.Bucket(name, force_destroy=args.force_destroy, opts=keep_options(child, args.protect))
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.bucket,
            rules=[{
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": args.kms_key_arn,
                },
                # One data key per bucket instead of a KMS call per object: cheaper, and fewer throttled requests.
                # Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html
                "bucket_key_enabled": True,
            }],
            opts=child,
        )
        rules = [*lifecycle_rules(args.noncurrent_version_expiration_days), *args.extra_lifecycle_rules]
        policy = harden_bucket(name, self.bucket, child, rules)
        if args.access_log_bucket is not None:
            aws.s3.BucketLogging(
                f"{name}-logging",
                bucket=self.bucket.bucket,
                target_bucket=args.access_log_bucket,
                target_prefix=args.log_prefix or f"{name}/",
                opts=child,
            )

        self.name = self.bucket.bucket
        # Published once the policy exists, so users of the ARN never see the bucket before TLS-only is enforced.
        self.arn = pulumi.Output.all(self.bucket.arn, policy.id).apply(lambda values: str(values[0]))
        self.register_outputs({"name": self.name, "arn": self.arn})
