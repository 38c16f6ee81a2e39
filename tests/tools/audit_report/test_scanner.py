"""Merging checkov's results with the project's rules: cited ids, verdicts against accepted risks, draft entries."""

from __future__ import annotations

from audit import RULES
from audit.accepted_risks import parse
from tools.audit_report.checkov_scan import CheckResult
from tools.audit_report.scanner import cited_ids, draft_entries, judge, rules_citing

REASON = "a reason long enough to be a reason someone reviewed"


def result(check: str, resource: str, status: str = "failed") -> CheckResult:
    return CheckResult(check, "name", status, resource, "tfplan.json", "terraform_plan")


def test_cited_ids_expand_slashes_and_ranges() -> None:
    by_id = {r.id: r for r in RULES}
    assert {"CKV_AWS_37", "CKV_AWS_338", "CKV_AWS_158"} <= cited_ids(by_id["eks-control-plane-logs"])
    assert {"CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV2_AWS_6"} <= \
        cited_ids(by_id["s3-public-access-block"])
    assert "s3-sse-kms" in rules_citing(RULES)["CKV_AWS_145"]


def test_failures_are_accepted_pending_or_open_and_each_stays_per_stack() -> None:
    risks = parse([
        {"check": "CKV_AWS_145", "resources": ["aws_s3_bucket.logs"], "reason": REASON, "accepted_by": "lead"},
        {"check": "CKV2_AWS_57", "resources": ["aws_secretsmanager_secret.cache"], "reason": REASON,
         "accepted_by": "lead", "pending": "issue 13", "stacks": ["prod"]},
    ])
    verdict = judge([result("CKV_AWS_145", "aws_s3_bucket.logs"), result("CKV_AWS_145", "aws_s3_bucket.data"),
                     result("CKV2_AWS_57", "aws_secretsmanager_secret.cache"),
                     result("CKV_AWS_21", "aws_s3_bucket.data", "passed")], risks, "prod", "prod")
    assert [f.status for f in verdict.findings] == ["ACCEPTED", "FAIL", "PENDING", "PASS"]
    assert verdict.stale == ()
    dev = judge([result("CKV2_AWS_57", "aws_secretsmanager_secret.cache")], risks, "dev", "dev")
    assert [f.status for f in dev.findings] == ["FAIL"]  # the entry names prod only
    assert [(r.check, res) for r, res in dev.stale] == [("CKV_AWS_145", "aws_s3_bucket.logs")]
    assert draft_entries(verdict, "prod", "prod").splitlines() == [
        "- check: CKV_AWS_145", "  resources:", '    - "aws_s3_bucket.data"', "  stacks: [prod]", '  reason: ""',
        '  accepted_by: ""']
