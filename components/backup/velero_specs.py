"""Pure builders for Velero's AWS side (optional, sandbox only): the IAM policy its IRSA role carries.

Only the S3 statements of the plugin's documented policy: volume snapshots are off (`velero_values.py`), so the role
needs no EC2 rights.
"""

from __future__ import annotations

from typing import Final

import pulumi

from components.shared import iam_documents
from components.shared.iam_documents import Document

# Ref: https://github.com/vmware-tanzu/velero-plugin-for-aws/blob/v1.13.2/README.md (Set permissions for Velero):
# the S3 statements of the documented policy; its EC2 statement serves volume snapshots, which are off here.
S3_OBJECT_ACTIONS: Final = ["s3:GetObject", "s3:DeleteObject", "s3:PutObject", "s3:PutObjectTagging",
                            "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
S3_BUCKET_ACTIONS: Final = ["s3:ListBucket"]
# SSE-KMS objects (plugin config kmsKeyId): reads need kms:Decrypt, writes kms:GenerateDataKey, through S3 only.
KMS_ACTIONS: Final = ["kms:GenerateDataKey", "kms:Decrypt"]


def velero_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str], region: str) -> Document:
    kms = iam_documents.allow(KMS_ACTIONS, [key_arn], sid="BackupObjectsEncryption")
    kms["Condition"] = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    objects = pulumi.Output.concat(bucket_arn, "/*") if not isinstance(bucket_arn, str) else f"{bucket_arn}/*"
    return iam_documents.document(
        iam_documents.allow(S3_OBJECT_ACTIONS, [objects], sid="BackupObjects"),
        iam_documents.allow(S3_BUCKET_ACTIONS, [bucket_arn], sid="ListBackups"),
        kms,
    )
