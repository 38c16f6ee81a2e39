"""Pure builders for the IAM, KMS and S3 policy documents the platform attaches.

No resources are created here: each function returns a policy document (a dict whose leaves may be Outputs) that
callers serialise with `pulumi.Output.json_dumps`. Keeping them pure lets the tests check every statement without the
mock engine, and keeps the components free of long dict literals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

Document = dict[str, Any]

# Ref: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html (key administration by the
# account root keeps the key manageable; IAM policies then grant use, never a "*" principal).
KEY_ADMIN_ACTIONS = ["kms:*"]
# What the Vault awskms seal calls: Encrypt/Decrypt to wrap the root key, DescribeKey at startup.
# Ref: https://developer.hashicorp.com/vault/docs/configuration/seal/awskms (Authentication: required permissions)
AWSKMS_SEAL_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]


def _concat(*parts: pulumi.Input[str]) -> pulumi.Input[str]:
    """Plain strings stay plain (so the builders are testable without an engine); Outputs are concatenated."""
    if all(isinstance(p, str) for p in parts):
        return "".join(str(p) for p in parts)
    return pulumi.Output.concat(*parts)


def document(*statements: Document) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust(*services: str) -> Document:
    """Trust policy letting AWS services (e.g. vpc-flow-logs.amazonaws.com) assume a role."""
    return document({"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"})


def account_trust(principal_arns: Sequence[pulumi.Input[str]]) -> Document:
    """Trust policy for people's roles: the listed principals (or the account root, deferring to IAM)."""
    return document({"Effect": "Allow", "Principal": {"AWS": list(principal_arns)}, "Action": "sts:AssumeRole"})


def irsa_trust(
    oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[Document]:
    """IRSA trust: only one service account, with the STS audience, may assume the role (CIS 5.2.1)."""
    return pulumi.Output.from_input(oidc_issuer).apply(
        lambda issuer: document(
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{_strip_scheme(issuer)}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{_strip_scheme(issuer)}:aud": "sts.amazonaws.com",
                    }
                },
            }
        )
    )


def _strip_scheme(url: str) -> str:
    return url.removeprefix("https://")


def key_policy(
    account_id: pulumi.Input[str],
    partition: pulumi.Input[str],
    service_statements: Sequence[Document] = (),
) -> Document:
    """Explicit key policy: the account root administers the key (so IAM policies apply); services get scoped use."""
    root = _concat("arn:", partition, ":iam::", account_id, ":root")
    return document(
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        *service_statements,
    )


def logs_service_statement(region: str, account_id: pulumi.Input[str], partition: pulumi.Input[str]) -> Document:
    """Lets CloudWatch Logs use the key, but only for log groups of this account and region."""
    # Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    return {
        "Sid": "CloudWatchLogsUse",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": _concat(
            "arn:", partition, ":logs:", region, ":", account_id, ":log-group:*")}},
    }


def allow(actions: Sequence[str], resources: Sequence[pulumi.Input[str]], sid: str | None = None) -> Document:
    statement: Document = {"Effect": "Allow", "Action": list(actions), "Resource": list(resources)}
    if sid:
        statement["Sid"] = sid
    return statement


def tls_only_bucket_policy(bucket_arn: pulumi.Input[str]) -> Document:
    """Deny every request that does not use TLS 1.2+ (CKV_AWS_70 / S3 security best practice)."""
    objects = _concat(bucket_arn, "/*")
    return document(
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyOutdatedTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, objects], "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
    )
