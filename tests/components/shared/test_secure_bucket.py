"""SecureBucket and AccessLogBucket: pure builders and argument checks directly, resources on the mock engine.

The engine runs tests/helpers/programs/secure_bucket.py, which builds one SecureBucket ("data") and, with logging on,
the AccessLogBucket ("logs") it logs to; config keys shape the arguments.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.shared.access_log_bucket import ELB_ACCOUNT_REGIONS, AccessLogBucketArgs, load_balancer_log_statements
from components.shared.secure_bucket import ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS, SecureBucketArgs, lifecycle_rules
from tools.engine.mock_engine import ACCOUNT, ROOT, Plan, Registration, run_stack

PROGRAM = ROOT / "tests" / "helpers" / "programs" / "secure_bucket.py"
KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/test-key"
SECURE = "mtls-platform:storage:SecureBucket"
ACCESS_LOGS = "mtls-platform:storage:AccessLogBucket"


def plan_for(**settings: str) -> Plan:
    config = {"aws:region": "eu-central-1", **{f"mtls-platform:{k}": v for k, v in settings.items()}}
    return run_stack("test", config=config, program=PROGRAM)


def child(plan: Plan, component_type: str, component: str, type_: str) -> Registration:
    parent = plan.one(component_type, component)
    found = [r for r in plan.children(parent.urn) if r.type == type_]
    assert len(found) == 1, f"{component} has {len(found)} {type_}"
    return found[0]


def policy_of(plan: Plan, component_type: str, component: str) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(child(plan, component_type, component, "aws:s3/bucketPolicy:BucketPolicy")
                                        .inputs["policy"])
    return policy


@pytest.fixture(scope="module")
def logged() -> Plan:
    return plan_for(logging="true", protect="true", noncurrentDays="45", retentionDays="400")


@pytest.fixture(scope="module")
def plain() -> Plan:
    return plan_for()


# --- pure builders and argument checks ---------------------------------------------------------------------------

def test_lifecycle_without_current_expiration_removes_expired_delete_markers() -> None:
    versions, uploads = lifecycle_rules(30)
    assert versions["noncurrent_version_expiration"] == {"noncurrent_days": 30}
    assert versions["expiration"] == {"expired_object_delete_marker": True}
    assert versions["filter"] == {} and versions["status"] == "Enabled"
    assert uploads["abort_incomplete_multipart_upload"] == {"days_after_initiation": 7}


def test_lifecycle_with_current_expiration_sets_days_only() -> None:
    versions, _ = lifecycle_rules(30, expire_current_after_days=365)
    # S3 rejects ExpiredObjectDeleteMarker together with Days in one expiration.
    assert versions["expiration"] == {"days": 365}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"noncurrent_version_expiration_days": 0}, "noncurrent_version_expiration_days must be >= 1, got 0"),
    ({"protect": True, "force_destroy": True}, "force_destroy contradicts protect"),
])
def test_secure_bucket_args_reject_contradictions(kwargs: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"kms_key_arn": KEY_ARN, "protect": False, "noncurrent_version_expiration_days": 30}
    with pytest.raises(ValueError, match=message):
        SecureBucketArgs(**{**values, **kwargs})


def test_access_log_bucket_args_report_every_problem() -> None:
    with pytest.raises(ValueError, match="retention_days must be >= 1, got 0; noncurrent_version_expiration_days"):
        AccessLogBucketArgs(account_id=ACCOUNT, protect=False, retention_days=0, noncurrent_version_expiration_days=0)


# --- SecureBucket on the mock engine -----------------------------------------------------------------------------

def test_every_resource_is_a_child_of_its_component(logged: Plan) -> None:
    components = {r.urn for r in logged.resources if r.is_component}
    assert all(r.parent in components for r in logged.resources if not r.is_component)
    assert len(list(logged.children(logged.one(SECURE, "data").urn))) == 8  # bucket + 7 companions


def test_bucket_is_auto_named_and_protected_when_asked(logged: Plan, plain: Plan) -> None:
    bucket = child(logged, SECURE, "data", "aws:s3/bucket:Bucket")
    assert "bucket" not in bucket.inputs and "bucketPrefix" not in bucket.inputs
    assert bucket.protect and bucket.retain_on_delete
    assert bucket.inputs["forceDestroy"] is False
    unprotected = child(plain, SECURE, "data", "aws:s3/bucket:Bucket")
    assert not unprotected.protect and not unprotected.retain_on_delete


def test_sse_kms_with_the_customer_key_and_bucket_key(plain: Plan) -> None:
    (rule,) = child(plain, SECURE, "data", "aws:s3/bucketServerSideEncryptionConfiguration:"
                    "BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN}
    assert rule["bucketKeyEnabled"] is True


def test_versioned_private_and_owner_enforced(plain: Plan) -> None:
    versioning = child(plain, SECURE, "data", "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    block = child(plain, SECURE, "data", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert {flag: block[flag] for flag in flags} == dict.fromkeys(flags, True)
    ownership = child(plain, SECURE, "data", "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_lifecycle_expires_noncurrent_versions_and_aborts_uploads(logged: Plan) -> None:
    lifecycle = child(logged, SECURE, "data", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {rule["id"]: rule for rule in lifecycle.inputs["rules"]}
    assert rules["expire-old-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 45}
    uploads = rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"]
    assert uploads == {"daysAfterInitiation": ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS}
    versioning = child(logged, SECURE, "data", "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.urn in lifecycle.dependencies


def test_policy_denies_plain_http_and_old_tls_after_public_access_block(plain: Plan) -> None:
    statements = {s["Sid"]: s for s in policy_of(plain, SECURE, "data")["Statement"]}
    insecure = statements["DenyInsecureTransport"]
    assert insecure["Effect"] == "Deny" and insecure["Action"] == "s3:*"
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert insecure["Resource"] == ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/*"]
    assert statements["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert all(s["Effect"] == "Deny" for s in statements.values())  # CKV_AWS_70: no Allow to "*"
    block = child(plain, SECURE, "data", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert block.urn in child(plain, SECURE, "data", "aws:s3/bucketPolicy:BucketPolicy").dependencies


def test_access_logs_go_to_the_log_bucket_under_the_component_name(logged: Plan, plain: Plan) -> None:
    logging = child(logged, SECURE, "data", "aws:s3/bucketLogging:BucketLogging").inputs
    assert logging == {"bucket": "data-bucket", "targetBucket": "logs-bucket", "targetPrefix": "data/"}
    assert not plain.of_type("aws:s3/bucketLogging:BucketLogging")


def test_explicit_log_prefix_is_used() -> None:
    plan = plan_for(logging="true", logPrefix="custom/")
    assert child(plan, SECURE, "data", "aws:s3/bucketLogging:BucketLogging").inputs["targetPrefix"] == "custom/"


def test_outputs_name_and_arn(plain: Plan) -> None:
    assert plain.outputs == {"name": "data-bucket", "arn": "arn:aws:s3:::data-bucket"}


# --- AccessLogBucket on the mock engine --------------------------------------------------------------------------

def test_log_bucket_uses_sse_s3_because_log_delivery_cannot_use_kms(logged: Plan) -> None:
    (rule,) = child(logged, ACCESS_LOGS, "logs", "aws:s3/bucketServerSideEncryptionConfiguration:"
                    "BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_log_bucket_admits_only_this_accounts_log_delivery(logged: Plan) -> None:
    statements = {s["Sid"]: s for s in policy_of(logged, ACCESS_LOGS, "logs")["Statement"]}
    delivery = statements["S3ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject" and delivery["Resource"] == "arn:aws:s3:::logs-bucket/*"
    assert delivery["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert {"DenyInsecureTransport", "DenyOutdatedTls"} <= statements.keys()


def test_log_bucket_is_private_versioned_expires_logs_and_does_not_log_itself(logged: Plan) -> None:
    block = child(logged, ACCESS_LOGS, "logs", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[f] for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                  "restrictPublicBuckets"))
    versioning = child(logged, ACCESS_LOGS, "logs", "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    lifecycle = child(logged, ACCESS_LOGS, "logs",
                      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle[0]["expiration"] == {"days": 400}
    logs_urn = logged.one(ACCESS_LOGS, "logs").urn
    assert not [r for r in logged.children(logs_urn) if r.type == "aws:s3/bucketLogging:BucketLogging"]


def test_alb_log_delivery_uses_the_regional_elb_account_only_where_one_exists() -> None:
    """Regions opened after August 2022 have no ELB account (the provider's lookup fails there): service principal."""
    # Plain strings: an Output made outside a running program would leave a task on the event loop.
    resource = "arn:aws:s3:::logs/alb/AWSLogs/111122223333/*"
    legacy = load_balancer_log_statements(resource, "arn:aws:iam::127311923021:root")
    newer = load_balancer_log_statements(resource, None)
    assert [s["Sid"] for s in legacy] == ["AlbAccessLogDeliveryLegacyRegions", "AlbAccessLogDelivery"]
    assert [s["Principal"] for s in newer] == [{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}]
    assert "us-east-1" in ELB_ACCOUNT_REGIONS and "me-central-1" not in ELB_ACCOUNT_REGIONS
