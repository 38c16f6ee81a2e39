"""KMS, S3 and "loses no data" rules (audit list, sections "KMS / S3" and "Loses no data").

A bucket's settings live in separate resources (public-access block, encryption, versioning, logging, lifecycle,
policy, ownership), so the bucket rules are stack rules: `bucket_parts` links each part to its bucket through the
`bucket` input. A bucket that receives S3 server access logs is the documented exception to SSE-KMS and to logging
itself: AWS log delivery needs SSE-S3 on the target, and a log bucket logging into itself would loop.
Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from audit import kinds
from audit.model import (
    Context,
    Resource,
    Stack,
    Verdict,
    all_of,
    as_json,
    as_list,
    failed,
    not_applicable,
    passed,
    resource_rule,
    stack_rule,
    truthy,
)
from audit.rules_eks import is_key_arn
from config.names import HA_ENVIRONMENTS

PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
# What "stateful" means for protect: losing one of these loses data or locks it away for good.
STATEFUL = frozenset({kinds.RDS_INSTANCE, kinds.CACHE_GROUP, kinds.MQ_BROKER, kinds.KMS_KEY, *kinds.BUCKETS,
                      *kinds.EKS_CLUSTERS})
RETAINED = frozenset({kinds.KMS_KEY, *kinds.BUCKETS})
_PUBLIC_ACCESS = "CKV2_AWS_6, CKV_AWS_53\u201356"  # en dash, as the audit list writes it


def _statements(document: Any) -> list[Mapping[str, Any]]:
    doc = as_json(document)
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, Mapping)] if isinstance(doc, Mapping) else []


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


@resource_rule("kms-rotation", "Customer-managed KMS keys rotate automatically", "CKV_AWS_7", {kinds.KMS_KEY},
               also=("AWS Security Hub KMS.4", "CIS AWS Foundations 3.6"))
def kms_rotation(r: Resource, ctx: Context) -> Verdict:
    spec = r.get("customerMasterKeySpec") or r.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        return not_applicable(f"{spec} keys cannot rotate automatically")
    return passed("rotation on") if truthy(r.get("enableKeyRotation", default=False)) else failed("rotation off")


@resource_rule("kms-key-policy", "Every KMS key has an explicit key policy with no \"*\" principal",
               "CKV_AWS_33, CKV2_AWS_64", {kinds.KMS_KEY}, also=("AWS Security Hub KMS.5",))
def kms_key_policy(r: Resource, ctx: Context) -> Verdict:
    statements = _statements(r.get("policy"))
    if not statements:
        return failed("no explicit key policy (the default grants the whole account through IAM)")
    open_ = [s.get("Sid", i) for i, s in enumerate(statements) if s.get("Effect") == "Allow" and _everyone(
        s.get("Principal"))]
    return failed(f"statements {open_} allow principal \"*\"") if open_ else passed(
        f"{len(statements)} statement(s), no wildcard principal")


def bucket_parts(stack: Stack) -> dict[str, dict[str, list[Resource]]]:
    """bucket URN -> part kind -> the resources configuring that bucket."""
    groups = {"pab": kinds.BUCKET_PUBLIC_ACCESS_BLOCK, "sse": kinds.BUCKET_ENCRYPTION,
              "versioning": kinds.BUCKET_VERSIONING, "logging": kinds.BUCKET_LOGGING,
              "lifecycle": kinds.BUCKET_LIFECYCLE, "policy": kinds.BUCKET_POLICY, "ownership": kinds.BUCKET_OWNERSHIP}
    parts: dict[str, dict[str, list[Resource]]] = {b.urn: {k: [] for k in groups} for b in stack.of_type(
        *kinds.BUCKETS)}
    for kind, types in groups.items():
        for part in stack.of_type(*types):
            for bucket in stack.refs(part, "bucket", kinds.BUCKETS):
                parts[bucket.urn][kind].append(part)
    return parts


def log_targets(stack: Stack) -> set[str]:
    return {b.urn for logging in stack.of_type(*kinds.BUCKET_LOGGING)
            for b in stack.refs(logging, "targetBucket", kinds.BUCKETS)}


def _each_bucket(stack: Stack) -> Iterator[tuple[Resource, dict[str, list[Resource]]]]:
    parts = bucket_parts(stack)
    for bucket in stack.of_type(*kinds.BUCKETS):
        yield bucket, parts[bucket.urn]


@stack_rule("s3-public-access-block", "Every bucket blocks public access with all four flags",
            _PUBLIC_ACCESS, kinds.BUCKETS, also=("AWS Security Hub S3.8",))
def s3_public_access_block(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for bucket, parts in _each_bucket(stack):
        if not parts["pab"]:
            yield bucket, failed("no public access block")
            continue
        off = [f for f in PAB_FLAGS if not truthy(parts["pab"][0].get(f, default=False))]
        yield bucket, failed("flags off: " + ", ".join(off)) if off else passed("all four flags")


@stack_rule("s3-sse-kms", "Every bucket encrypts with SSE-KMS (customer key, bucket key on)", "CKV_AWS_19/145",
            kinds.BUCKETS, also=("AWS Security Hub S3.17",))
def s3_sse_kms(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    targets = log_targets(stack)
    for bucket, parts in _each_bucket(stack):
        rules = [rule for sse in parts["sse"] for rule in as_list(sse.get("rules"))]
        if not rules:
            yield bucket, failed("no default encryption configuration")
            continue
        default = rules[0].get("applyServerSideEncryptionByDefault") or {}
        algorithm = default.get("sseAlgorithm")
        if algorithm == "AES256" and bucket.urn in targets:
            yield bucket, passed("SSE-S3: documented exception for an S3 server-access-log target")
            continue
        yield bucket, all_of([
            (algorithm in ("aws:kms", "aws:kms:dsse"), f"sseAlgorithm {algorithm!r}, not aws:kms"),
            (is_key_arn(default.get("kmsMasterKeyId")), "no customer key ARN (kmsMasterKeyId)"),
            (truthy(rules[0].get("bucketKeyEnabled", False)), "bucket key off (one KMS call per object)"),
        ], f"SSE-KMS {default.get('kmsMasterKeyId')}, bucket key on")


@stack_rule("s3-versioning", "Every bucket is versioned", "CKV_AWS_21", kinds.BUCKETS,
            also=("AWS Security Hub S3.14",))
def s3_versioning(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for bucket, parts in _each_bucket(stack):
        status = [v.get("versioningConfiguration", "status") for v in parts["versioning"]]
        yield bucket, passed("versioning Enabled") if "Enabled" in status else failed(
            f"versioning {status[0] if status else 'not configured'}")


@stack_rule("s3-access-logging", "Every bucket sends server access logs (except the log target itself)",
            "CKV_AWS_18, CKV2_AWS_61", kinds.BUCKETS, also=("CKV_AWS_18", "AWS Security Hub S3.9"))
def s3_access_logging(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    targets = log_targets(stack)
    for bucket, parts in _each_bucket(stack):
        if parts["logging"]:
            yield bucket, passed(f"logs to {parts['logging'][0].get('targetBucket')}")
        elif bucket.urn in targets:
            yield bucket, passed("is the access-log target: documented exception (no log loop)")
        else:
            yield bucket, failed("no server access logging")


@stack_rule("s3-lifecycle", "Every bucket expires noncurrent versions and aborts incomplete uploads",
            "CKV_AWS_18, CKV2_AWS_61", kinds.BUCKETS, also=("CKV2_AWS_61", "AWS Security Hub S3.13"))
def s3_lifecycle(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for bucket, parts in _each_bucket(stack):
        rules = [rule for lc in parts["lifecycle"] for rule in as_list(lc.get("rules"))
                 if rule.get("status") == "Enabled"]
        yield bucket, all_of([
            (bool(rules), "no enabled lifecycle rule"),
            (any(rule.get("noncurrentVersionExpiration") for rule in rules), "noncurrent versions never expire"),
            (any(rule.get("abortIncompleteMultipartUpload") for rule in rules), "incomplete uploads never aborted"),
        ], f"{len(rules)} lifecycle rule(s)")


def _denies_plain_http(statement: Mapping[str, Any]) -> bool:
    condition = statement.get("Condition") or {}
    return statement.get("Effect") == "Deny" and str(
        (condition.get("Bool") or {}).get("aws:SecureTransport")).lower() == "false"


@stack_rule("s3-tls-only", "Every bucket policy denies non-TLS requests and allows nothing to \"*\"", "CKV_AWS_70",
            kinds.BUCKETS, also=("AWS Security Hub S3.5", "S3.2", "S3.3"))
def s3_tls_only(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for bucket, parts in _each_bucket(stack):
        statements = [s for p in parts["policy"] for s in _statements(p.get("policy"))]
        public = [s.get("Sid", "?") for s in statements if s.get("Effect") == "Allow" and _everyone(
            s.get("Principal"))]
        yield bucket, all_of([(bool(parts["policy"]), "no bucket policy"),
                              (any(_denies_plain_http(s) for s in statements), "no Deny on aws:SecureTransport false"),
                              (not public, f"Allow to \"*\" in {public}")], "TLS only, no public Allow")


@stack_rule("s3-acls-disabled", "Every bucket enforces bucket-owner object ownership (ACLs off)", "CKV2_AWS_65",
            kinds.BUCKETS, also=("AWS Security Hub S3.12",), listed=False)
def s3_acls_disabled(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for bucket, parts in _each_bucket(stack):
        owner = [o.get("rule", "objectOwnership") for o in parts["ownership"]]
        yield bucket, passed("BucketOwnerEnforced") if "BucketOwnerEnforced" in owner else failed(
            f"object ownership {owner[0] if owner else 'not configured'}: ACLs still apply")


@stack_rule("stateful-protected", "Stateful resources are protected from `pulumi destroy` (staging/prod)",
            "Pulumi protect", STATEFUL, mandatory_in=HA_ENVIRONMENTS,
            also=("Pulumi docs: protect resource option",))
def stateful_protected(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for r in stack.of_type(*sorted(STATEFUL)):
        yield r, passed("protect") if r.protect else failed("not protected")


@stack_rule("keys-buckets-retained", "KMS keys and buckets outlive a deleted stack (retainOnDelete, staging/prod)",
            "Pulumi protect", RETAINED, mandatory_in=HA_ENVIRONMENTS,
            also=("Pulumi docs: retainOnDelete resource option",))
def keys_buckets_retained(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    for r in stack.of_type(*sorted(RETAINED)):
        if r.retain_on_delete is None:
            yield r, not_applicable("retainOnDelete is not visible to policy packs (checked by `make audit`)")
        else:
            yield r, passed("retainOnDelete") if r.retain_on_delete else failed("deleted with the stack")


# Not on the audit list (no SNS there): checkov's rule for the alarm topic added with it. A customer key rather than
# alias/aws/sns, because CloudWatch alarms can only publish to a topic whose key policy grants them use of the key.
# Ref: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
@resource_rule("sns-kms", "SNS topics are encrypted with a customer-managed KMS key", "CKV_AWS_26", {kinds.SNS_TOPIC},
               also=("AWS Config sns-encrypted-kms", "AWS Security Hub SNS.1"), listed=False)
def sns_kms(r: Resource, ctx: Context) -> Verdict:
    key = r.get("kmsMasterKeyId")
    if not key:
        return failed("no kmsMasterKeyId: messages are stored unencrypted")
    return passed(f"KMS {key}") if is_key_arn(key) else failed(
        f"{key!r} is not a customer-managed key ARN (alarms cannot publish to an AWS-managed key's topic)")
