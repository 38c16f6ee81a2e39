"""Pure builders for Vault's raft snapshot backups: the CronJob, its IAM policy, and the replication.

A daily CronJob in the `vault` namespace logs in to Vault with a projected, audience-bound service-account token
(Kubernetes auth role `vault-snapshot`, whose policy may only read `sys/storage/raft/snapshot`), saves a snapshot to
an emptyDir in an init container running the server's own Vault image, then uploads it with the AWS CLI under the
`raft/` prefix of the snapshot bucket, SSE-KMS. Its IRSA role may only put objects under that prefix. Nothing here
creates a resource: `backup_aws.py` and `backups.py` do, and the tests read these builders directly.
Restore: docs/vault-restore.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pulumi

from components.shared import iam_documents
from components.shared.iam_documents import Document
from components.vault.snapshot_bucket_specs import SNAPSHOT_PREFIX
from config import versions

JOB_NAME: Final = "vault-snapshot"
POD_LABELS: Final = {"app.kubernetes.io/name": "vault-snapshot", "app.kubernetes.io/component": "backup"}
RUN_AS: Final = 65532  # any non-root uid: both images run their CLI as an arbitrary user
TOKEN_DIR: Final = "/var/run/secrets/vault"
CA_DIR: Final = "/vault/ca"
SNAPSHOT_FILE: Final = "/snapshot/vault.snap"
# Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions - an upload, multipart
# included (the CLI splits files over 8 MB), needs s3:PutObject only; with SSE-KMS the caller also needs
# kms:GenerateDataKey and, for multipart, kms:Decrypt on the key (S3 decrypts the parts to complete the upload).
WRITER_S3_ACTIONS: Final = ["s3:PutObject"]
WRITER_KMS_ACTIONS: Final = ["kms:GenerateDataKey", "kms:Decrypt"]


def _concat(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    if all(isinstance(p, str) for p in parts):
        return "".join(str(p) for p in parts)
    return pulumi.Output.concat(*parts)


def _kms_via_s3(region: str, bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """KMS use only on S3's behalf, for this bucket: with an S3 Bucket Key the context is the bucket ARN.

    Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html (encryption context) and
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
    """
    return {
        "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, _concat(bucket_arn, f"/{SNAPSHOT_PREFIX}/*")]},
    }


def snapshot_writer_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], region: str) -> Document:
    """Write-only: put objects under raft/ and the KMS calls that needs, on the bucket's key. No read, list, delete."""
    kms = iam_documents.allow(WRITER_KMS_ACTIONS, [key_arn], sid="EncryptSnapshotsOnly")
    kms["Condition"] = _kms_via_s3(region, bucket_arn)
    return iam_documents.document(
        iam_documents.allow(WRITER_S3_ACTIONS, [_concat(bucket_arn, f"/{SNAPSHOT_PREFIX}/*")], sid="PutSnapshotsOnly"),
        kms,
    )


def replication_policy(
    source_arn: pulumi.Input[str], source_key_arn: pulumi.Input[str], source_region: str,
    replica_arn: pulumi.Input[str], replica_key_arn: pulumi.Input[str], replica_region: str,
) -> Document:
    """S3's replication role: read versions under raft/ at the source, write replicas; deletes are not replicated.

    Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html and
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html
    """
    decrypt = iam_documents.allow(["kms:Decrypt"], [source_key_arn], sid="DecryptSourceSnapshots")
    decrypt["Condition"] = _kms_via_s3(source_region, source_arn)
    encrypt = iam_documents.allow(["kms:Encrypt", "kms:GenerateDataKey"], [replica_key_arn], sid="EncryptReplicas")
    encrypt["Condition"] = _kms_via_s3(replica_region, replica_arn)
    return iam_documents.document(
        iam_documents.allow(["s3:GetReplicationConfiguration", "s3:ListBucket"], [source_arn],
                            sid="SourceConfiguration"),
        iam_documents.allow(["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                             "s3:GetObjectVersionTagging"],
                            [_concat(source_arn, f"/{SNAPSHOT_PREFIX}/*")], sid="ReadSourceVersions"),
        iam_documents.allow(["s3:ReplicateObject", "s3:ReplicateTags"], [_concat(replica_arn, f"/{SNAPSHOT_PREFIX}/*")],
                            sid="WriteReplicas"),
        decrypt,
        encrypt,
    )


@dataclass(frozen=True)
class SnapshotJobArgs:
    namespace: str
    schedule: str  # cron, UTC
    service_account: str  # bound by the Vault role (BootstrapSpec.snapshot_service_account)
    vault_role: str  # BootstrapSpec.snapshot_role
    audience: str  # BootstrapSpec.snapshot_audience: the projected token's `aud`
    auth_mount: str  # BootstrapSpec.kubernetes_auth_path
    ca_secret: str  # the listener TLS secret (vault_tls.SECRET_NAME); only its ca.crt is mounted
    bucket: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    region: str
    vault_addr: str = "https://vault-active.vault.svc:8200"  # the active node (vault-helm's vault-active Service)


def _container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def snapshot_script(args: SnapshotJobArgs) -> str:
    # `vault write ... jwt=@file` reads the token from the file; -field=token prints the client token alone.
    # Ref: https://developer.hashicorp.com/vault/docs/auth/kubernetes#via-the-cli ;
    # https://developer.hashicorp.com/vault/docs/commands/operator/raft#snapshot-save
    return (
        f'VAULT_TOKEN="$(vault write -field=token auth/{args.auth_mount}/login role={args.vault_role} '
        f'jwt=@{TOKEN_DIR}/token)"\n'
        "export VAULT_TOKEN\n"
        f"vault operator raft snapshot save {SNAPSHOT_FILE}\n"
        f'echo "saved $(wc -c < {SNAPSHOT_FILE}) bytes"\n'
    )


def upload_script() -> str:
    # Ref: https://awscli.amazonaws.com/v2/documentation/api/latest/reference/s3/cp.html (--sse, --sse-kms-key-id)
    return (
        f"test -s {SNAPSHOT_FILE}\n"
        'key="${PREFIX}/$(date -u +%Y/%m/%d)/vault-$(date -u +%Y%m%dT%H%M%SZ).snap"\n'
        f'aws s3 cp {SNAPSHOT_FILE} "s3://${{BUCKET}}/${{key}}" --sse aws:kms --sse-kms-key-id "${{KMS_KEY_ARN}}" '
        "--no-progress\n"
    )


def cronjob_spec(args: SnapshotJobArgs) -> dict[str, Any]:
    """batch/v1 CronJob spec: one run at a time, a few retries, a hard deadline, history kept for inspection."""
    # A CPU limit too (CKV_K8S_11): a snapshot is I/O-bound, and a runaway CLI must not starve Vault's node.
    resources = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    mounts = [{"name": "snapshot", "mountPath": "/snapshot"}, {"name": "tmp", "mountPath": "/tmp"}]
    snapshot = {
        "name": "snapshot", "image": versions.VAULT_IMAGE, "command": ["/bin/sh", "-ec", snapshot_script(args)],
        "env": [{"name": "VAULT_ADDR", "value": args.vault_addr},
                {"name": "VAULT_CACERT", "value": f"{CA_DIR}/ca.crt"}, {"name": "HOME", "value": "/tmp"}],
        "volumeMounts": [*mounts, {"name": "vault-ca", "mountPath": CA_DIR, "readOnly": True},
                         {"name": "vault-token", "mountPath": TOKEN_DIR, "readOnly": True}],
        "resources": resources, "securityContext": _container_security(), "imagePullPolicy": "Always",
    }
    upload = {
        "name": "upload", "image": versions.AWS_CLI_IMAGE, "command": ["/bin/sh", "-ec", upload_script()],
        "env": [{"name": "BUCKET", "value": args.bucket}, {"name": "PREFIX", "value": SNAPSHOT_PREFIX},
                {"name": "KMS_KEY_ARN", "value": args.kms_key_arn}, {"name": "AWS_REGION", "value": args.region},
                {"name": "HOME", "value": "/tmp"}],
        "volumeMounts": mounts, "resources": resources, "securityContext": _container_security(),
        "imagePullPolicy": "Always",  # as the app's containers (CKV_K8S_15)
    }
    pod = {
        "serviceAccountName": args.service_account,
        # The Vault login token is the projected one below; IRSA's webhook adds its own (audience sts.amazonaws.com).
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",  # a failed run is a new pod, counted by backoffLimit
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS, "fsGroup": RUN_AS,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [snapshot],
        "containers": [upload],
        "volumes": [
            {"name": "snapshot", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "vault-ca",
             "secret": {"secretName": args.ca_secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            # Ref: https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken
            {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": {
                "audience": args.audience, "expirationSeconds": 600, "path": "token"}}]}},
        ],
    }
    # Ref: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ (timeZone is GA since 1.27)
    return {
        "schedule": args.schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 3600,  # a run missed by under an hour (control-plane hiccup) still happens
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": POD_LABELS}, "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": 1800,
            "template": {"metadata": {"labels": POD_LABELS}, "spec": pod},
        }},
    }
