"""State backend: the self-managed Pulumi backend every mtls-platform stack keeps its state and secrets in.

Run once per AWS account, first on a local backend (see README.md): it creates the KMS key behind the `awskms`
secrets provider, a KMS key and a protected, versioned, access-logged bucket for the state, and the bucket those
access logs go to. Its outputs are what `pulumi login` and `pulumi stack init --secrets-provider` take.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

# Pulumi runs this program from state_backend/, so the repository root (home of the shared `components` package) is
# not on sys.path; add it rather than copy the components into this project.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from components.shared.access_log_bucket import AccessLogBucket, AccessLogBucketArgs  # noqa: E402
from components.shared.aws_context import AwsContext  # noqa: E402
from components.shared.encryption_keys import customer_key  # noqa: E402
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs  # noqa: E402

PROJECT = "mtls-platform"
SECRETS_KEY_ALIAS = f"{PROJECT}-pulumi-secrets"
STATE_KEY_ALIAS = f"{PROJECT}-pulumi-state"
# Every checkpoint write leaves the previous one as a noncurrent version: 90 days to notice a bad update and roll
# back (`pulumi stack import` of an older version).
STATE_NONCURRENT_VERSION_DAYS = 90
# Who read or wrote the state is an audit trail: a year, like the platform's other logs.
ACCESS_LOG_RETENTION_DAYS = 365

region = pulumi.Config("aws").require("region")
tags = {
    "project": PROJECT,
    "stack": f"{pulumi.get_project()}/{pulumi.get_stack()}",
    "environment": "shared",
    "owner": pulumi.Config().get("owner") or "platform-team",
    "managed-by": "pulumi",
}
provider = aws.Provider("aws", region=region, default_tags={"tags": tags})
ctx = AwsContext.lookup(provider, region)
opts = pulumi.ResourceOptions(provider=provider)

# Separate keys: reading state (SSE-KMS) and decrypting stack secrets are different permissions to hand out.
secrets_key = customer_key("pulumi-secrets", "Pulumi awskms secrets provider of every mtls-platform stack",
                           SECRETS_KEY_ALIAS, ctx, opts, protect=True)
state_key = customer_key("pulumi-state", "SSE-KMS of the mtls-platform Pulumi state bucket",
                         STATE_KEY_ALIAS, ctx, opts, protect=True)

access_logs = AccessLogBucket("state-access-logs", AccessLogBucketArgs(
    account_id=ctx.account_id, protect=True, retention_days=ACCESS_LOG_RETENTION_DAYS), opts)
state = SecureBucket("state", SecureBucketArgs(
    kms_key_arn=state_key.arn,
    protect=True,
    noncurrent_version_expiration_days=STATE_NONCURRENT_VERSION_DAYS,
    access_log_bucket=access_logs.name,
    log_prefix="state/",
), opts)

pulumi.export("state_bucket", state.name)
pulumi.export("access_log_bucket", access_logs.name)
pulumi.export("state_key_arn", state_key.arn)
pulumi.export("secrets_key_arn", secrets_key.arn)
# DIY S3 backend URL; the backend locks each stack itself (a lock object under .pulumi/locks/), no table needed.
# Ref: https://www.pulumi.com/docs/iac/operations/stack-management/using-a-diy-backend/
pulumi.export("backend_url", pulumi.Output.format("s3://{0}?region={1}&awssdk=v2", state.name, region))
# Ref: https://www.pulumi.com/docs/iac/cli/commands/pulumi_stack_init/ (awskms://alias/<alias>?region=<region>)
pulumi.export("secrets_provider", f"awskms://alias/{SECRETS_KEY_ALIAS}?region={region}")
