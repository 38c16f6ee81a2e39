"""Test program: one SecureBucket (and its AccessLogBucket), shaped by config, run by
tests/components/shared/test_secure_bucket.py."""

import pulumi

from components.shared.access_log_bucket import AccessLogBucket, AccessLogBucketArgs
from components.shared.secure_bucket import SecureBucket, SecureBucketArgs

KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/test-key"

config = pulumi.Config()
access_logs = None
if config.get_bool("logging"):
    access_logs = AccessLogBucket("logs", AccessLogBucketArgs(account_id="123456789012", protect=False,
                                                              retention_days=config.get_int("retentionDays") or 365))
bucket = SecureBucket("data", SecureBucketArgs(
    kms_key_arn=KEY_ARN,
    protect=config.get_bool("protect") or False,
    noncurrent_version_expiration_days=config.get_int("noncurrentDays") or 30,
    access_log_bucket=access_logs.name if access_logs else None,
    log_prefix=config.get("logPrefix") or "",
    force_destroy=config.get_bool("forceDestroy") or False,
))
pulumi.export("name", bucket.name)
pulumi.export("arn", bucket.arn)
