"""Vault raft snapshot backups: minimal IAM and Vault grants, the CronJob, retention, DR replication, config rules."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from components.backup import snapshot_specs, velero_specs
from components.backup import velero_values as vv
from components.mesh import namespace_specs as np
from components.shared.chart_values import flatten
from components.vault.bootstrap.spec import snapshot_policy, snapshot_role_payload
from components.vault.bootstrap.steps import BootstrapSpec
from config import versions
from config.model import ConfigError
from tests.conftest import STACKS, build_config, minimal_settings, plan_of
from tools.chart_data import chart_keys
from tools.engine.mock_engine import Plan, Registration, load_stack_settings, run_stack

ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
SPEC = BootstrapSpec(root_common_name="test root", audience="vault://test")
LOG = logging.getLogger("test.backups")
BUCKET = "arn:aws:s3:::snapshots"
KEY = "arn:aws:kms:us-east-1:123456789012:key/data"

# --- Vault side ----------------------------------------------------------------------------------------------------


def test_snapshot_policy_text_is_exactly_read_on_the_snapshot_endpoint() -> None:
    assert snapshot_policy(SPEC) == (
        "# The raft snapshot CronJob reads a snapshot of Vault's storage here, only.\n"
        'path "sys/storage/raft/snapshot" {\n  capabilities = ["read"]\n}\n')


def test_snapshot_role_is_bound_to_the_cronjob_account_and_audience_with_a_short_ttl() -> None:
    assert snapshot_role_payload(SPEC) == {
        "bound_service_account_names": ["vault-snapshot"], "bound_service_account_namespaces": ["vault"],
        "audience": "vault-raft-snapshot", "alias_name_source": "serviceaccount_uid",
        "token_policies": ["vault-raft-snapshot"], "token_no_default_policy": True,
        "token_ttl": 300, "token_max_ttl": 300,
        # written with their narrow values so that one added by hand is reset by the next run
        "bound_service_account_namespace_selector": "", "token_explicit_max_ttl": 0, "token_period": 0,
        "token_num_uses": 0, "token_bound_cidrs": [], "token_type": "default"}


# The snapshot policy and role against a real server (created, unchanged on re-run, drift restored):
# tests/components/vault/test_bootstrap_openbao.py.


# --- AWS side ------------------------------------------------------------------------------------------------------


def test_writer_policy_is_put_only_under_the_prefix_and_kms_through_s3_only() -> None:
    doc = snapshot_specs.snapshot_writer_policy(BUCKET, KEY, "us-east-1")
    assert doc["Statement"] == [
        {"Sid": "PutSnapshotsOnly", "Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": ["arn:aws:s3:::snapshots/raft/*"]},
        {"Sid": "EncryptSnapshotsOnly", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": [KEY], "Condition": {
             "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
             "StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET, "arn:aws:s3:::snapshots/raft/*"]}}},
    ]
    actions = [a for s in doc["Statement"] for a in s["Action"]]
    assert not any(re.search(r"Get|List|Delete|\*", a) for a in actions if a.startswith("s3:"))


def irsa(plan: Plan) -> Registration:
    return plan.one("aws:iam/role:Role", "backups-aws-snapshot-irsa")


@pytest.mark.parametrize("stack", STACKS)
def test_snapshot_irsa_role_trusts_only_the_cronjob_account_and_holds_only_the_writer_policy(stack: str) -> None:
    plan = plan_of(stack)
    (statement,) = json.loads(irsa(plan).inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:sub"] == "system:serviceaccount:vault:vault-snapshot"
    policies = [p for p in plan.of_type("aws:iam/rolePolicy:RolePolicy") if p.parent == irsa(plan).urn]
    assert not [a for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if a.parent == irsa(plan).urn]
    assert [p.name for p in policies] == ["backups-aws-snapshot-write"]
    bucket = plan.child("mtls-platform:storage:SecureBucket", "vault-snapshots", "aws:s3/bucket:Bucket")
    key = plan.one("aws:kms/key:Key", "keys-data")
    expected = snapshot_specs.snapshot_writer_policy(bucket.outputs["arn"], key.outputs["arn"], "us-east-1")
    assert json.loads(policies[0].inputs["policy"]) == expected


@pytest.mark.parametrize("stack", STACKS)
def test_snapshots_expire_by_age_under_the_prefix(stack: str) -> None:
    plan = plan_of(stack)
    lifecycle = plan.child("mtls-platform:storage:SecureBucket", "vault-snapshots",
                           "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    (rule,) = [r for r in lifecycle.inputs["rules"] if r["id"] == "expire-raft-snapshots"]
    assert rule["filter"] == {"prefix": "raft/"}
    assert rule["expiration"] == {"days": 90 if stack == "prod" else 30}


def test_replication_only_in_prod() -> None:
    for stack in STACKS:
        found = plan_of(stack).of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        assert len(found) == (1 if stack == "prod" else 0), stack


def test_prod_replicates_raft_snapshots_to_a_kms_encrypted_bucket_in_the_dr_region(prod: Plan) -> None:
    provider = prod.one("pulumi:providers:aws", "backups-aws-dr-dr")
    assert provider.inputs["region"] == "us-west-2"
    (rule,) = prod.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig").inputs["rules"]
    assert rule["filter"] == {"prefix": "raft/"} and rule["deleteMarkerReplication"] == {"status": "Disabled"}
    replica_key = prod.one("aws:kms/key:Key", "backups-aws-dr-replica")
    assert replica_key.inputs["enableKeyRotation"] is True and replica_key.protect
    assert rule["destination"]["encryptionConfiguration"] == {"replicaKmsKeyId": replica_key.outputs["arn"]}
    replica = prod.child("mtls-platform:storage:SecureBucket", "backups-aws-dr-replica", "aws:s3/bucket:Bucket")
    assert rule["destination"]["bucket"] == replica.outputs["arn"] and replica.protect
    role = prod.one("aws:iam/role:Role", "backups-aws-dr-role")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": ["s3.amazonaws.com"]}
    actions = {a for s in json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "backups-aws-dr-role").inputs[
        "policy"])["Statement"] for a in s["Action"]}
    assert actions == {"s3:GetReplicationConfiguration", "s3:ListBucket", "s3:GetObjectVersionForReplication",
                       "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging", "s3:ReplicateObject",
                       "s3:ReplicateTags", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}


# --- The CronJob ---------------------------------------------------------------------------------------------------


def cronjob(plan: Plan) -> dict[str, Any]:
    return plan.one("kubernetes:batch/v1:CronJob", "backups-vault-snapshot").inputs


@pytest.mark.parametrize("stack", STACKS)
def test_cronjob_runs_daily_one_at_a_time_and_fails_loudly(stack: str) -> None:
    job = cronjob(plan_of(stack))
    assert job["metadata"]["namespace"] == "vault"
    spec = job["spec"]
    assert spec["schedule"] == "17 3 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 3
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 2
    assert spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 1800


def pod(plan: Plan) -> dict[str, Any]:
    return dict(cronjob(plan)["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def test_cronjob_pod_meets_restricted_pod_security(prod: Plan) -> None:
    spec = pod(prod)
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for container in spec["initContainers"] + spec["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]} and ctx["runAsNonRoot"] is True
    assert {v["name"]: next(k for k in v if k != "name") for v in spec["volumes"]} == {
        "snapshot": "emptyDir", "tmp": "emptyDir", "vault-ca": "secret", "vault-token": "projected"}


def test_cronjob_images_are_pinned_and_vault_matches_the_server(prod: Plan) -> None:
    spec = pod(prod)
    (snapshot,), (upload,) = spec["initContainers"], spec["containers"]
    assert snapshot["image"] == f"hashicorp/vault:{versions.VAULT_VERSION}" == "hashicorp/vault:2.0.4"
    assert upload["image"] == versions.AWS_CLI_IMAGE
    assert re.fullmatch(r"public\.ecr\.aws/aws-cli/aws-cli:2\.\d+\.\d+", upload["image"])
    assert "vault operator raft snapshot save /snapshot/vault.snap" in snapshot["command"][2]
    assert "--sse aws:kms --sse-kms-key-id" in upload["command"][2]
    env = {e["name"]: e["value"] for e in upload["env"]}
    assert env["PREFIX"] == "raft" and env["KMS_KEY_ARN"] == prod.one("aws:kms/key:Key", "keys-data").outputs["arn"]


def test_vault_login_uses_an_audience_bound_projected_token_and_only_the_ca(prod: Plan) -> None:
    volumes = {v["name"]: v for v in pod(prod)["volumes"]}
    (source,) = volumes["vault-token"]["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == SPEC.snapshot_audience
    assert source["serviceAccountToken"]["expirationSeconds"] <= 3600
    assert volumes["vault-ca"]["secret"] == {"secretName": "vault-server-tls",
                                             "items": [{"key": "ca.crt", "path": "ca.crt"}]}  # never tls.key
    (snapshot,) = pod(prod)["initContainers"]
    assert "auth/kubernetes/login role=vault-snapshot jwt=@/var/run/secrets/vault/token" in snapshot["command"][2]
    assert {"name": "VAULT_ADDR", "value": "https://vault-active.vault.svc:8200"} in snapshot["env"]


def test_service_account_carries_the_snapshot_role(prod: Plan) -> None:
    account = prod.one("kubernetes:core/v1:ServiceAccount", "backups-snapshot-sa")
    assert account.inputs["metadata"]["name"] == pod(prod)["serviceAccountName"] == SPEC.snapshot_service_account
    assert account.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": irsa(prod).outputs["arn"]}
    assert prod.outputs["vault_snapshot_role_arn"] == irsa(prod).outputs["arn"]


def test_snapshot_network_policies_name_the_vault_api_path() -> None:
    egress = np.allow_snapshots_to_vault()
    assert egress["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "vault-snapshot"}}
    assert egress["egress"][0]["ports"] == [{"protocol": "TCP", "port": 8200}]
    ingress = np.allow_vault_from_snapshots()
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8200}]
    assert snapshot_specs.POD_LABELS["app.kubernetes.io/name"] == "vault-snapshot"
    names = np.policies_for("vault", np.Networks("10.0.0.0/16", "172.20.0.0/16"))
    assert {"allow-snapshots-to-vault", "allow-vault-from-snapshots", "allow-aws-apis", "allow-dns"} <= set(names)


# --- Config --------------------------------------------------------------------------------------------------------


settings = minimal_settings


@pytest.mark.parametrize(("env", "backup", "message"), [
    ("prod", {"drReplication": False}, "backup.drReplication: prod replicates"),
    ("prod", {"drRegion": "us-east-1"}, "backup.drRegion: us-east-1 is the stack's own region"),
    ("staging", {"drReplication": True, "drRegion": "mars-1"}, "backup.drRegion: drReplication needs an AWS region"),
    ("dev", {"schedule": "daily"}, "backup.schedule: 'daily' must be a 5-field cron"),
])
def test_bad_backup_settings_are_rejected_naming_the_key(env: str, backup: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"mtls-platform:{message}")):
        build_config(env, settings(env, backup=backup))


def test_dr_region_defaults_per_region_and_can_be_set() -> None:
    assert build_config("prod", settings("prod")).dr_region == "us-west-2"
    cfg = build_config("prod", settings("prod", backup={"drRegion": "us-east-2", "schedule": "0 */6 * * *"}))
    assert cfg.dr_region == "us-east-2" and cfg.backup_schedule == "0 */6 * * *"
    assert not build_config("staging", settings("staging")).backup_dr_replication


# --- Velero (optional, sandbox only) -------------------------------------------------------------------------------

VELERO_KEYS = f"velero-{versions.VELERO_CHART}.txt"
# Free-form objects the chart renders with toYaml (values.yaml `{}`), so the key list cannot enumerate their fields.
VELERO_FREE_FORM = ("resources", "podSecurityContext", "containerSecurityContext", "serviceAccount.server.annotations")


def velero_values() -> dict[str, Any]:
    return vv.velero_values(vv.VeleroValuesArgs("velero-bucket", "us-east-1", KEY, "arn:aws:iam::1:role/velero"))


def test_every_velero_value_is_a_key_of_the_pinned_chart() -> None:
    keys = chart_keys.load(chart_keys.KEYS_DIR / VELERO_KEYS)
    assert "velero-11.4.0" in (chart_keys.KEYS_DIR / VELERO_KEYS).read_text().splitlines()[0]
    unknown = [p for p in sorted(flatten(velero_values()))
               if p not in keys and p.removesuffix("[]").removesuffix("{}") not in keys
               and not any(p.startswith(f"{f}.") for f in VELERO_FREE_FORM)]
    assert unknown == []
    assert "notAChartKey" not in keys  # the check can fail


def test_velero_uses_irsa_its_own_kms_bucket_and_pinned_images() -> None:
    values = velero_values()
    assert values["credentials"] == {"useSecret": False}
    annotations = values["serviceAccount"]["server"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/velero"}
    (location,) = values["configuration"]["backupStorageLocation"]
    assert location["provider"] == "aws" and location["config"] == {"region": "us-east-1", "kmsKeyId": KEY}
    assert values["image"]["tag"] == "v1.17.1" and values["initContainers"][0]["image"].endswith(":v1.13.2")
    assert values["snapshotsEnabled"] is False and values["deployNodeAgent"] is False


def test_velero_policy_is_the_plugins_s3_set_on_its_bucket_without_ec2() -> None:
    doc = velero_specs.velero_policy("arn:aws:s3:::velero-bucket", KEY, "us-east-1")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["BackupObjects"]["Resource"] == ["arn:aws:s3:::velero-bucket/*"]
    assert by_sid["ListBackups"] == {"Sid": "ListBackups", "Effect": "Allow", "Action": ["s3:ListBucket"],
                                     "Resource": ["arn:aws:s3:::velero-bucket"]}
    assert not any(a.startswith("ec2:") for s in doc["Statement"] for a in s["Action"])


@pytest.mark.parametrize("stack", STACKS)
def test_velero_is_off_by_default(stack: str) -> None:
    assert plan_of(stack).of_type("mtls-platform:backup:Velero") == []
    assert plan_of(stack).of_type("kubernetes:helm.sh/v3:Release") and not [
        r for r in plan_of(stack).of_type("kubernetes:helm.sh/v3:Release") if r.inputs.get("chart") == "velero"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_velero_is_rejected_outside_sandbox(env: str) -> None:
    with pytest.raises(ConfigError, match=r"mtls-platform:backup\.veleroEnabled: Velero is optional and sandbox-only"):
        build_config(env, settings(env, backup={"veleroEnabled": True}))


def test_sandbox_with_velero_registers_bucket_role_namespace_and_release() -> None:
    config = {**load_stack_settings("sandbox"), "mtls-platform:backup": json.dumps({"veleroEnabled": True})}
    plan = run_stack("sandbox", config)
    release = plan.one("kubernetes:helm.sh/v3:Release", "velero")
    assert release.inputs["version"] == versions.VELERO_CHART and release.inputs["namespace"] == "velero"
    role = plan.one("aws:iam/role:Role", "backups-velero-irsa")
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["StringEquals"][f"{ISSUER}:sub"] == "system:serviceaccount:velero:velero-server"
    namespace = plan.one("kubernetes:core/v1:Namespace", "backups-velero")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert plan.child("mtls-platform:storage:SecureBucket", "backups-velero-bucket", "aws:s3/bucket:Bucket")
