"""Stack outputs: the customer's earlier Terraform outputs plus what operators and later layers read, per stack."""

from __future__ import annotations

import json

import pytest

from config.versions import ANCHOR_ROTATION_IMAGE_TAG
from tests.conftest import STACKS, plan_of

EXPECTED = {
    "environment", "vpc_id", "cluster_name", "kubeconfig", "oidc_provider_arn", "admin_role_arn", "devops_role_arn",
    "cluster_autoscaler_role_arn", "vault_irsa", "vault_kms_key_id", "vault_s3_bucket", "alarm_topic_arn",
    "postgres_endpoint", "postgres_secret_arn", "queue_urls", "queue_role_arns", "cache_endpoint",  # SQS messaging
    "cache_user_group_id", "trust_anchor_pem", "vault_recovery_secret_arn",
    "vault_listener_ca_pem", "ecr_repository_urls", "vault_snapshot_role_arn", "trust_anchor_rotation_image",
}
ENTRY = {"public_url", "alb_hostname"}  # the default catalog has public services; the sandbox has no public entry


@pytest.mark.parametrize("stack", STACKS)
def test_outputs_present_and_kubeconfig_secret(stack: str) -> None:
    plan = plan_of(stack)
    assert set(plan.outputs) == EXPECTED | (set() if stack == "sandbox" else ENTRY)
    assert plan.secret_outputs == {"kubeconfig"}
    assert plan.outputs["environment"] == stack
    assert plan.outputs["cluster_name"] == f"mtls-platform-{stack}"
    assert plan.outputs["vault_irsa"] == plan.one("aws:iam/role:Role", "vault-irsa").outputs["arn"]
    bucket = plan.child("mtls-platform:storage:SecureBucket", "vault-snapshots", "aws:s3/bucket:Bucket")
    assert plan.outputs["vault_s3_bucket"] == bucket.outputs["bucket"]
    # What deploy.yml builds and pushes: the image the rotation CronJob runs, in the stack's own repository.
    cronjob = plan.one("kubernetes:batch/v1:CronJob", "trust-anchor-rotation-cronjob").inputs
    image = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
    repository = plan.child("mtls-platform:mesh:TrustAnchorRotation", "trust-anchor-rotation",
                            "aws:ecr/repository:Repository")
    assert plan.outputs["trust_anchor_rotation_image"] == image == \
        f"{repository.outputs['repositoryUrl']}:{ANCHOR_ROTATION_IMAGE_TAG}"


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_resource_gets_the_base_tags_from_the_provider(stack: str) -> None:
    providers = plan_of(stack).of_type("pulumi:providers:aws")  # prod: plus the backup DR region's provider
    for provider in providers:
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags == {"project": "mtls-platform", "stack": stack, "environment": stack, "owner": "platform-team",
                        "managed-by": "pulumi"}
    assert [p.inputs["region"] for p in providers] == ["us-east-1"] + (["us-west-2"] if stack == "prod" else [])
