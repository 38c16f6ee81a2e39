"""checkov's results merged with the project's own audit rules, per rule id, and judged against the accepted risks.

A checkov result is FAIL, PASS, ACCEPTED (an entry of audit/accepted_risks.yaml covers it) or PENDING (an entry
names the issue that will fix it). Project rules cite checkov ids in their anchors (`CKV_AWS_37/338/158`,
`CKV_AWS_53-56`, with an en dash); `cited_ids` expands them, so each checkov id shows the project rules judging
the same thing and each project rule shows checkov's verdict on the ids it cites.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from audit import Rule
from audit.accepted_risks import AcceptedRisk, covering, stale
from tools.audit_report.checkov_scan import CheckResult

_CITED = re.compile(r"(CKV2?_[A-Z0-9]+_)(\d+)((?:/\d+)*)(?:[\u2013-](\d+))?")


def cited_ids(rule: Rule) -> frozenset[str]:
    """Every checkov id a rule's anchors name: `CKV_AWS_37/338/158` is three, `CKV_AWS_53-56` (an en dash) four."""
    ids: set[str] = set()
    for text in (rule.anchors, *rule.also):
        for prefix, first, more, last in _CITED.findall(text):
            numbers = [int(first), *(int(n) for n in more.split("/") if n)]
            if last:
                numbers += range(int(first), int(last) + 1)
            ids.update(f"{prefix}{n}" for n in numbers)
    return frozenset(ids)


@dataclass(frozen=True)
class ScannerFinding:
    result: CheckResult
    status: str  # PASS | FAIL | ACCEPTED | PENDING
    risk: AcceptedRisk | None = None


@dataclass(frozen=True)
class ScannerVerdict:
    findings: tuple[ScannerFinding, ...]
    stale: tuple[tuple[AcceptedRisk, str], ...]  # acceptances that name a resource which does not fail here

    def counts(self) -> Counter[str]:
        return Counter(f.status for f in self.findings)

    def unaccepted(self) -> list[ScannerFinding]:
        return [f for f in self.findings if f.status == "FAIL"]


def judge(results: Iterable[CheckResult], risks: Sequence[AcceptedRisk], stack: str,
          environment: str) -> ScannerVerdict:
    findings = []
    failures: set[tuple[str, str]] = set()
    for r in results:
        if r.status != "failed":
            findings.append(ScannerFinding(r, "PASS"))
            continue
        failures.add((r.check_id, r.resource))
        risk = covering(risks, r.check_id, r.resource, stack, environment)
        status = "FAIL" if risk is None else ("PENDING" if risk.pending else "ACCEPTED")
        findings.append(ScannerFinding(r, status, risk))
    return ScannerVerdict(tuple(findings), tuple(stale(risks, failures, stack, environment)))


def by_check(verdict: ScannerVerdict) -> dict[str, list[ScannerFinding]]:
    groups: dict[str, list[ScannerFinding]] = defaultdict(list)
    for f in verdict.findings:
        groups[f.result.check_id].append(f)
    return dict(sorted(groups.items(), key=lambda kv: _order(kv[0])))


def _order(check_id: str) -> tuple[str, int]:
    prefix, _, number = check_id.rpartition("_")
    return prefix, int(number) if number.isdigit() else 0


def rules_citing(rules: Iterable[Rule]) -> dict[str, list[str]]:
    """checkov id -> ids of the project rules that cite it."""
    citing: dict[str, list[str]] = defaultdict(list)
    for rule in rules:
        for check_id in cited_ids(rule):
            citing[check_id].append(rule.id)
    return citing


def check_status(found: Sequence[ScannerFinding]) -> str:
    statuses = {f.status for f in found}
    for status in ("FAIL", "PENDING", "ACCEPTED"):
        if status in statuses:
            return status
    return "PASS"


def draft_entries(verdict: ScannerVerdict, stack: str, environment: str) -> str:
    """YAML skeletons for the failures no entry covers, to review and paste into audit/accepted_risks.yaml (or fix):
    the reason and who accepted stay to be written by a person, so a pasted skeleton fails validation until then."""
    by_id: dict[str, list[str]] = defaultdict(list)
    for f in verdict.unaccepted():
        by_id[f.result.check_id].append(f.result.resource.replace(f"{environment}-app", "<env>-app"))
    lines = []
    for check_id, resources in sorted(by_id.items(), key=lambda kv: _order(kv[0])):
        lines += [f"- check: {check_id}", "  resources:", *(f'    - "{r}"' for r in sorted(set(resources))),
                  f"  stacks: [{stack}]", '  reason: ""', '  accepted_by: ""']
    return "\n".join(lines)
