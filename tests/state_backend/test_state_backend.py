"""The state backend project (state_backend/): state bucket, access logs and the two KMS keys, on the mock engine.

What matters here is what the platform's stacks and CI rely on: the keys rotate and survive a destroy, the state
bucket is protected, encrypted with the state key, versioned and logged, and the exported backend URL and secrets
provider have the formats `pulumi login` and `pulumi stack init --secrets-provider` accept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tools.engine.mock_engine import ROOT, Plan, Registration, run_stack

STATE_BACKEND = ROOT / "state_backend"
REGION = "eu-central-1"
KEY = "aws:kms/key:Key"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_stack("state", config={"aws:region": REGION}, program=STATE_BACKEND / "__main__.py",
                     project="mtls-platform-state")


def state(plan: Plan, type_: str) -> Registration:
    return plan.child("mtls-platform:storage:SecureBucket", "state", type_)


def test_both_keys_rotate_and_survive_a_destroy(plan: Plan) -> None:
    keys = {k.name: k for k in plan.of_type(KEY)}
    assert set(keys) == {"pulumi-secrets", "pulumi-state"}
    for key in keys.values():
        assert key.inputs["enableKeyRotation"] is True  # CKV_AWS_7
        assert key.protect and key.retain_on_delete
        statements = json.loads(key.inputs["policy"])["Statement"]
        assert all(s["Principal"] != "*" and s["Principal"].get("AWS") != "*" for s in statements)  # CKV_AWS_33


def test_key_aliases_are_the_names_stacks_refer_to(plan: Plan) -> None:
    aliases = {a.inputs["name"]: a.inputs["targetKeyId"] for a in plan.of_type("aws:kms/alias:Alias")}
    assert aliases == {"alias/mtls-platform-pulumi-secrets": "pulumi-secrets-key-id",
                       "alias/mtls-platform-pulumi-state": "pulumi-state-key-id"}


def test_state_bucket_is_protected(plan: Plan) -> None:
    bucket = state(plan, "aws:s3/bucket:Bucket")
    assert bucket.protect and bucket.retain_on_delete
    assert bucket.inputs["forceDestroy"] is False


def test_state_bucket_is_encrypted_with_the_state_key(plan: Plan) -> None:
    (rule,) = state(plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                    "BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": plan.outputs["state_key_arn"]}
    assert rule["bucketKeyEnabled"] is True
    assert plan.outputs["state_key_arn"] != plan.outputs["secrets_key_arn"]


def test_state_bucket_is_versioned_private_and_tls_only(plan: Plan) -> None:
    assert state(plan, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"}
    block = state(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert [block[f] for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                               "restrictPublicBuckets")] == [True] * 4
    statements = json.loads(state(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    insecure = next(s for s in statements if s["Sid"] == "DenyInsecureTransport")
    assert insecure["Effect"] == "Deny" and insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_state_bucket_keeps_90_days_of_old_checkpoints(plan: Plan) -> None:
    rules = {r["id"]: r for r in state(plan, "aws:s3/bucketLifecycleConfiguration:"
                                       "BucketLifecycleConfiguration").inputs["rules"]}
    assert rules["expire-old-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    # Lock files leave delete markers behind; without this they would pile up forever.
    assert rules["expire-old-versions"]["expiration"] == {"expiredObjectDeleteMarker": True}
    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_state_access_is_logged_to_the_protected_sse_s3_log_bucket(plan: Plan) -> None:
    logging = state(plan, "aws:s3/bucketLogging:BucketLogging").inputs
    assert logging["targetBucket"] == plan.outputs["access_log_bucket"]
    assert logging["targetPrefix"] == "state/"
    logs = "mtls-platform:storage:AccessLogBucket"
    assert plan.child(logs, "state-access-logs", "aws:s3/bucket:Bucket").protect
    (rule,) = plan.child(logs, "state-access-logs", "aws:s3/bucketServerSideEncryptionConfiguration:"
                    "BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    lifecycle = plan.child(logs, "state-access-logs",
                      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle[0]["expiration"] == {"days": 365}


def test_outputs_are_what_pulumi_login_and_stack_init_take(plan: Plan) -> None:
    bucket = plan.outputs["state_bucket"]
    assert bucket == "state-bucket"
    assert plan.outputs["backend_url"] == f"s3://{bucket}?region={REGION}&awssdk=v2"
    assert plan.outputs["secrets_provider"] == f"awskms://alias/mtls-platform-pulumi-secrets?region={REGION}"


def test_provider_tags_every_resource_with_the_base_set(plan: Plan) -> None:
    provider = plan.one("pulumi:providers:aws", "aws")
    assert provider.inputs["region"] == REGION
    tags: dict[str, Any] = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {"project": "mtls-platform", "stack": "mtls-platform-state/state", "environment": "shared",
                    "owner": "platform-team", "managed-by": "pulumi"}


def test_missing_region_is_reported_by_key() -> None:
    with pytest.raises(Exception, match="aws:region"):
        run_stack("state", config={}, program=STATE_BACKEND / "__main__.py", project="mtls-platform-state")


def test_project_file_uses_the_repository_virtualenv() -> None:
    project = yaml.safe_load((STATE_BACKEND / "Pulumi.yaml").read_text())
    assert project["name"] == "mtls-platform-state"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "../.venv"}}
    assert (STATE_BACKEND / project["runtime"]["options"]["virtualenv"]).resolve() == ROOT / ".venv"
