"""Vault's AWS side: the unseal key, the IRSA role that alone may use it, and the snapshot bucket."""

from __future__ import annotations

import json

import pytest

from components.shared.iam_documents import AWSKMS_SEAL_ACTIONS
from tests.conftest import HA, STACKS, plan_of
from tools.engine.mock_engine import Plan, Registration

ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"


@pytest.mark.parametrize("stack", STACKS)
def test_unseal_key_rotates_with_explicit_policy_and_long_deletion_window(stack: str) -> None:
    plan = plan_of(stack)
    key = plan.one("aws:kms/key:Key", "vault-unseal")
    assert key.inputs["enableKeyRotation"] is True  # CKV_AWS_7
    assert key.inputs["deletionWindowInDays"] == 30
    statements = json.loads(key.inputs["policy"])["Statement"]
    assert [s["Principal"] for s in statements] == [{"AWS": "arn:aws:iam::123456789012:root"}]  # no "*" (CKV_AWS_33)
    assert key.protect is key.retain_on_delete is (stack in HA)
    alias = plan.one("aws:kms/alias:Alias", "vault-unseal-alias")
    assert alias.inputs["name"] == f"alias/mtls-platform-{stack}-vault-unseal"


def test_irsa_role_is_trusted_only_by_vaults_service_account(prod: Plan) -> None:
    role = prod.one("aws:iam/role:Role", "vault-irsa")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"}
    assert statement["Condition"] == {"StringEquals": {
        f"{ISSUER}:sub": "system:serviceaccount:vault:vault", f"{ISSUER}:aud": "sts.amazonaws.com"}}


def test_irsa_role_may_only_run_the_seal_on_that_one_key(prod: Plan) -> None:
    (policy,) = [p for p in prod.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "vault-seal"]
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == sorted(AWSKMS_SEAL_ACTIONS) == ["kms:Decrypt", "kms:DescribeKey",
                                                                          "kms:Encrypt"]
    assert statement["Resource"] == [prod.one("aws:kms/key:Key", "vault-unseal").outputs["arn"]]
    attached = [a for a in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.inputs["role"] == "vault-irsa"]
    assert attached == []  # nothing else grants it anything


def snapshots(plan: Plan, type_: str) -> Registration:
    return plan.child("mtls-platform:storage:SecureBucket", "vault-snapshots", type_)


@pytest.mark.parametrize("stack", STACKS)
def test_snapshot_bucket_is_private_versioned_and_kms_encrypted(stack: str) -> None:
    plan = plan_of(stack)
    bucket = snapshots(plan, "aws:s3/bucket:Bucket")
    assert bucket.protect is (stack in HA)
    pab = snapshots(plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                        "restrictPublicBuckets"))
    assert snapshots(plan, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"]["status"] == (
        "Enabled")
    (rule,) = snapshots(plan, "aws:s3/bucketServerSideEncryptionConfiguration:"
                              "BucketServerSideEncryptionConfiguration").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/keys-data"}
    assert rule["bucketKeyEnabled"] is True
    policy = json.loads(snapshots(plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["Statement"])
    lifecycle = snapshots(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    days = {"prod": 90}.get(stack, 30)
    assert any(r.get("noncurrentVersionExpiration", {}).get("noncurrentDays") == days for r in lifecycle)


@pytest.mark.parametrize("stack", STACKS)
def test_snapshot_bucket_access_is_logged(stack: str) -> None:
    plan = plan_of(stack)
    logging = snapshots(plan, "aws:s3/bucketLogging:BucketLogging").inputs
    log_bucket = plan.child("mtls-platform:storage:AccessLogBucket", "access-logs", "aws:s3/bucket:Bucket")
    assert logging["targetBucket"] == log_bucket.outputs["bucket"]  # CKV_AWS_18
    assert logging["targetPrefix"] == "vault-snapshots/"


@pytest.mark.parametrize("stack", STACKS)
def test_vault_may_rotate_exactly_the_cache_service_users(stack: str) -> None:
    plan = plan_of(stack)
    (policy,) = [r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "vault-cache-users"]
    assert policy.inputs["role"] == plan.one("aws:iam/role:Role", "vault-irsa").name + "-id"
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert set(statements) == {"CacheUsersDescribe", "CacheUsersRotate"}
    # DescribeUsers (the plugin's unscoped connection check) on this account's users, metadata only.
    assert statements["CacheUsersDescribe"]["Action"] == ["elasticache:DescribeUsers"]
    assert statements["CacheUsersDescribe"]["Resource"] == ["arn:aws:elasticache:us-east-1:123456789012:user:*"]
    # ModifyUser (a new password) on the service users and nothing else: not the default user, no wildcard.
    users = [u for u in plan.of_type("aws:elasticache/user:User") if u.inputs["userName"] != "default"]
    assert statements["CacheUsersRotate"]["Action"] == ["elasticache:ModifyUser"]
    rotate = statements["CacheUsersRotate"]["Resource"]
    assert len(rotate) == len(users) == 2 and not any("*" in arn for arn in rotate)
    assert sorted(arn.rsplit(":", 1)[1] for arn in rotate) == sorted(u.name for u in users)
