"""The bucket S3 server access logs of the platform's `SecureBucket`s are delivered to.

Hardened like a `SecureBucket` (shared `harden_bucket`: private, versioned, TLS-only, lifecycle), with two
differences AWS imposes on a log target, each a documented exception to the audit list:
- default encryption is SSE-S3, because log delivery does not support SSE-KMS default encryption (CKV_AWS_145);
- it does not log its own access: logging into itself would loop, and AWS advises against a log chain (CKV_AWS_18).
Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components.shared import iam_documents
from components.shared.secure_bucket import harden_bucket, keep_options, lifecycle_rules


@dataclass(frozen=True)
class AccessLogBucketArgs:
    account_id: pulumi.Input[str]  # only buckets of this account may deliver logs here
    protect: bool  # protect + retain_on_delete on the bucket (the logs are an audit trail)
    retention_days: int  # log objects expire after this many days
    noncurrent_version_expiration_days: int = 30  # versions only exist if someone overwrote or deleted a log
    load_balancer_log_prefix: str | None = None  # also admit ALB access logs under this prefix (public entry)
    region: str = ""  # the stack's region: picks the ALB log-delivery principal (regional ELB account or service)

    def __post_init__(self) -> None:
        problems = [f"{field} must be >= 1, got {value}" for field, value in
                    (("retention_days", self.retention_days),
                     ("noncurrent_version_expiration_days", self.noncurrent_version_expiration_days)) if value < 1]
        if problems:
            raise ValueError("; ".join(problems))


def log_delivery_statement(bucket_arn: pulumi.Input[str], account_id: pulumi.Input[str]) -> iam_documents.Document:
    """Lets the S3 logging service write objects, for source buckets of this account only.

    With owner-enforced object ownership ACLs are off, so a bucket policy is the only way to grant log delivery.
    Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
    (Grant permissions to the logging service principal by using a bucket policy)
    """
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": pulumi.Output.concat(bucket_arn, "/*"),
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


# Regions opened before August 2022 deliver ALB logs from a regional Elastic Load Balancing account (the provider's
# `aws.elb.get_service_account` knows these and fails for newer Regions, which use the log-delivery service).
# Ref: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
ELB_ACCOUNT_REGIONS: Final = frozenset({
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ca-central-1",
    "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-north-1", "me-south-1", "sa-east-1",
})


def load_balancer_log_resource(bucket_arn: pulumi.Input[str], prefix: str,
                               account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Where ALB access logs land: `<prefix>/AWSLogs/<account>/...` of the bucket."""
    return pulumi.Output.concat(bucket_arn, f"/{prefix}/AWSLogs/", account_id, "/*")


def load_balancer_log_statements(resource: pulumi.Input[str],
                                 elb_account_arn: pulumi.Input[str] | None) -> list[iam_documents.Document]:
    """Lets Elastic Load Balancing write ALB access logs under `<prefix>/AWSLogs/<account>/`: the regional ELB
    account for Regions opened before August 2022 (us-east-1 ...), the log-delivery service principal for newer ones.
    Ref: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
    (Attach a bucket policy); SSE-S3 is the only default encryption ALB log delivery supports, as for S3 logs.
    """
    statements: list[iam_documents.Document] = [
        {"Sid": "AlbAccessLogDelivery", "Effect": "Allow",
         "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": resource},
    ]
    if elb_account_arn is not None:
        statements.insert(0, {"Sid": "AlbAccessLogDeliveryLegacyRegions", "Effect": "Allow",
                              "Principal": {"AWS": elb_account_arn}, "Action": "s3:PutObject", "Resource": resource})
    return statements


class AccessLogBucket(pulumi.ComponentResource):
    """Target of S3 server access logs: SSE-S3, log delivery allowed for this account, logs expire."""

    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:storage:AccessLogBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = aws.s3.Bucket(name, opts=keep_options(child, args.protect))
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.bucket,
            # SSE-S3: the only default encryption server access log delivery supports (see module docstring).
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        # TLS-only here too (Security Hub S3.5); log delivery is unaffected, as secure baselines running both show,
        # e.g. https://github.com/nozaq/terraform-aws-secure-baseline/pull/129
        statements = [log_delivery_statement(self.bucket.arn, args.account_id)]
        if args.load_balancer_log_prefix is not None:
            elb_arn = (aws.elb.get_service_account_output(opts=pulumi.InvokeOptions(parent=self)).arn
                       if args.region in ELB_ACCOUNT_REGIONS else None)
            resource = load_balancer_log_resource(self.bucket.arn, args.load_balancer_log_prefix, args.account_id)
            statements += load_balancer_log_statements(resource, elb_arn)
        policy = harden_bucket(
            name, self.bucket, child,
            lifecycle_rules(args.noncurrent_version_expiration_days, expire_current_after_days=args.retention_days),
            statements,
        )

        # Published once the policy exists: a source bucket pointed here earlier would lose its first logs.
        self.name = pulumi.Output.all(self.bucket.bucket, policy.id).apply(lambda values: str(values[0]))
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
