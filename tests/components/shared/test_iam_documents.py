"""Pure policy builders, checked without the mock engine."""

from __future__ import annotations

from components.shared import iam_documents


def test_tls_only_bucket_policy_denies_plain_http_and_old_tls() -> None:
    doc = iam_documents.tls_only_bucket_policy("arn:aws:s3:::b")
    conditions = [s["Condition"] for s in doc["Statement"]]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": "1.2"}} in conditions
    assert all(s["Effect"] == "Deny" for s in doc["Statement"])


def test_service_trust_and_allow() -> None:
    trust = iam_documents.service_trust("vpc-flow-logs.amazonaws.com")
    assert trust["Statement"][0]["Principal"] == {"Service": ["vpc-flow-logs.amazonaws.com"]}
    statement = iam_documents.allow(["s3:PutObject"], ["arn:aws:s3:::b/*"], sid="Put")
    assert statement == {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b/*"], "Sid": "Put"}


def test_seal_actions_are_exactly_what_awskms_needs() -> None:
    assert iam_documents.AWSKMS_SEAL_ACTIONS == ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]


def test_key_policy_names_the_account_root_and_scopes_logs_to_this_account() -> None:
    logs = iam_documents.logs_service_statement("us-east-1", "123456789012", "aws")
    doc = iam_documents.key_policy("123456789012", "aws", [logs])
    admin, service = doc["Statement"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert service["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert service["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:*")
