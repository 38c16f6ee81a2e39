"""Offline audit: every audit rule and checkov on a stack's offline plan, before anything is deployed.

    # report per rule: id, anchors, enforcement, status, resources; then checkov per check id, accepted risks,
    # what the scanner cannot see, and the CIS EKS items left to the owner
    python -m tools.audit_report --stack prod
    python -m tools.audit_report --stack prod --json        # one JSON record per finding (both sources)
    python -m tools.audit_report --stack prod --no-checkov  # the project's rules only (seconds, no scan)
    python -m tools.audit_report --stack prod --draft-acceptances  # YAML skeletons for unaccepted checkov failures

The rules are the `audit` package's, the same functions the policy pack in `policy_pack/` runs in `pulumi preview`; this
front end only adapts the mock engine's `Registration`s to the rules' neutral `Resource` view. The environment comes
from the AWS provider's `environment` default tag (the stack name if there is none). checkov (tools/audit_report/
checkov_scan.py) scans the Terraform-plan export and the Kubernetes manifests; its results are merged per rule id
with the project's rules and judged against audit/accepted_risks.yaml. The scan's inputs stay in
`out/audit/<stack>/` so an auditor can re-run checkov on them by hand. Exit codes: 0 no mandatory failure, 1 a
mandatory rule fails, a checkov failure is neither fixed nor accepted, or an acceptance is stale; 2 invalid stack
configuration or checkov could not run offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date

from audit import RULES, Context, Enforcement, Finding, Resource, Status, environment_from, evaluate
from audit.accepted_risks import AcceptedRiskError, load
from audit.cis_eks import CIS_EKS_BENCHMARK, CIS_EKS_ITEMS
from audit.model import group_by_rule, rule_status
from config.load import run_date
from config.model import ConfigError
from tools.audit_report.checkov_scan import ScanError, ScanResult, scan
from tools.audit_report.scanner import (
    ScannerVerdict,
    by_check,
    check_status,
    cited_ids,
    draft_entries,
    judge,
    rules_citing,
)
from tools.engine.mock_engine import ROOT, Plan, Registration, list_stacks, run_stack
from tools.tf_plan_export.export import unseen

SCAN_DIR = ROOT / "out" / "audit"
# What neither the Terraform-plan export nor the manifests show checkov (the export's `unseen` lists the rest).
NOT_SEEN = (
    "pulumi-eks internals: the EKS cluster itself, its IAM role, security groups, OIDC provider and access entries "
    "(eks:index:Cluster is a remote component; the project's eks-* rules judge its inputs instead)",
    "what controllers create at run time: the ALB and its listeners/target groups (AWS Load Balancer Controller), "
    "EBS volumes (EBS CSI driver), node EC2 instances and Auto Scaling groups (managed node groups)",
    "what operators create after install (cert-manager's certificate Secrets, Prometheus Operator's StatefulSets) "
    "and `helm test` hooks (Pulumi never runs them): only what the charts render and the program registers is "
    "scanned",
)

STATUS_MARK = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.NA: "N/A "}


def to_resource(r: Registration) -> Resource:
    """A mock-engine registration as the rules see it; identifiers mirror the mock's id convention (`<name>-id`)."""
    identifiers = {f"{r.name}-id", *(str(r.outputs[k]) for k in ("arn", "bucket", "name", "id") if r.outputs.get(k))}
    return Resource(type=r.type, name=r.name, inputs=r.inputs, protect=r.protect,
                    retain_on_delete=r.retain_on_delete, urn=r.urn, parent=r.parent,
                    dependencies=tuple(r.dependencies), identifiers=frozenset(identifiers))


def audit_plan(plan: Plan, today: date) -> tuple[str, list[Finding]]:
    """(environment, findings of every rule) for one offline plan."""
    resources = [to_resource(r) for r in plan.resources]
    environment = environment_from(resources) or plan.stack
    context = Context(environment, today)
    return environment, evaluate(RULES, resources, context)


def mandatory_failures(findings: Sequence[Finding], environment: str) -> list[Finding]:
    return [f for f in findings
            if f.status is Status.FAIL and f.rule.enforcement(environment) is Enforcement.MANDATORY]


def summary(findings: Sequence[Finding], environment: str) -> Counter[str]:
    """Rule counts: pass, fail-mandatory, fail-advisory, n/a (a rule fails when any of its findings fails)."""
    counts: Counter[str] = Counter()
    for rule, found in group_by_rule(findings):
        status = rule_status(found)
        key = status.value.lower() if status is not Status.FAIL else f"fail-{rule.enforcement(environment).value}"
        counts[key] += 1
    return counts


def render_report(stack: str, environment: str, findings: Sequence[Finding],
                  scanner: ScannerVerdict | None = None) -> str:
    counts = summary(findings, environment)
    checkov = {k: check_status(v) for k, v in by_check(scanner).items()} if scanner else {}
    lines = [f"audit of stack {stack} (environment {environment}): {len(RULES)} rules - "
             f"{counts['pass']} pass, {counts['fail-mandatory']} fail (mandatory), "
             f"{counts['fail-advisory']} fail (advisory), {counts['n/a']} n/a", ""]
    for rule, found in group_by_rule(findings):
        enforcement = rule.enforcement(environment).value
        lines.append(f"{STATUS_MARK[rule_status(found)]}  {rule.id}  [{enforcement}]  {rule.title}")
        lines.append(f"      {rule.references}")
        if scanner is not None and cited_ids(rule):
            lines.append("      checkov: " + ", ".join(f"{c} {checkov.get(c, 'not run here')}"
                                                     for c in sorted(cited_ids(rule))))
        for f in found:
            lines.append(f"      {STATUS_MARK[f.status]}  {f.resource}: {f.message}")
    failures = mandatory_failures(findings, environment)
    lines.append("")
    lines.append(f"{len(failures)} mandatory failure(s)" + (":" if failures else ""))
    lines.extend(f"  {f.rule.id} ({f.rule.anchors}) {f.resource}: {f.message}" for f in failures)
    return "\n".join(lines)


def render_audit(plan: Plan) -> str:
    """The audit report of one offline plan (a `tools.engine.plan` view)."""
    environment, findings = audit_plan(plan, run_date(plan.stack))
    return render_report(plan.stack, environment, findings)


def render_json(stack: str, environment: str, findings: Sequence[Finding]) -> str:
    return "\n".join(json.dumps({
        "source": "project",
        "stack": stack, "environment": environment, "rule": f.rule.id, "title": f.rule.title,
        "anchors": f.rule.anchors, "also": list(f.rule.also), "kind": f.rule.kind,
        "enforcement": f.rule.enforcement(environment).value, "status": f.status.value,
        "resource": f.resource, "message": f.message,
    }, sort_keys=True) for f in findings)


def render_scanner(plan: Plan, environment: str, result: ScanResult, verdict: ScannerVerdict) -> str:
    """checkov per check id (with the project rules citing it), accepted and pending risks, stale acceptances,
    what the scanner cannot see, and the CIS EKS items."""
    counts = verdict.counts()
    citing = rules_citing(RULES)
    groups = by_check(verdict)
    lines = [f"checkov {result.version} on stack {plan.stack} (offline; terraform_plan + kubernetes, "
             f"{result.seconds:.0f} s): {len(groups)} checks, {len(verdict.findings)} results - {counts['PASS']} "
             f"passed, {counts['FAIL']} failed, {counts['ACCEPTED']} accepted, {counts['PENDING']} pending", ""]
    for check_id, found in groups.items():
        status = check_status(found)
        per = Counter(f.status for f in found)
        rules = f"  [project rules: {', '.join(sorted(citing[check_id]))}]" if citing.get(check_id) else ""
        lines.append(f"{status:<8} {check_id}  {found[0].result.name} ({per['PASS']} pass"
                     + "".join(f", {per[k]} {k.lower()}" for k in ("FAIL", "ACCEPTED", "PENDING") if per[k])
                     + f"){rules}")
        for f in found:
            if f.status != "PASS":
                why = f" - {f.risk.pending if f.status == 'PENDING' else 'accepted'}" if f.risk else ""
                lines.append(f"      {f.status:<8} {f.result.resource} ({f.result.file}){why}")
    risks = sorted({f.risk for f in verdict.findings if f.risk is not None}, key=lambda r: (r.check, r.resources))
    lines += ["", f"accepted risks ({sum(1 for r in risks if not r.pending)} entries, audit/accepted_risks.yaml):"]
    lines += [f"  {r.check}  {', '.join(r.resources_in(environment))}\n      {r.reason} (accepted by {r.accepted_by})"
              for r in risks if not r.pending]
    lines += ["", "pending (a fix is under way):"]
    lines += [f"  {r.check}  {', '.join(r.resources_in(environment))}\n      {r.reason} ({r.pending})"
              for r in risks if r.pending] or ["  none"]
    lines += ["", f"{len(verdict.stale)} stale acceptance(s)" + (":" if verdict.stale else "")]
    lines += [f"  {risk.check} {resource}: does not fail in {plan.stack}; remove it from the entry"
              for risk, resource in verdict.stale]
    lines += ["", "not seen by checkov:"]
    lines += [f"  {t} x{n} (neither AWS nor Kubernetes: nothing to scan)" for t, n in unseen(plan)]
    lines += [f"  Helm release {name}: chart absent, not rendered (make charts)" for name in result.unrendered]
    lines += [f"  {text}" for text in NOT_SEEN]
    lines += ["", f"{CIS_EKS_BENCHMARK}: items a managed cluster leaves to its owner"]
    lines += [f"  {item.id:<11} [{item.who}] {item.title}: {item.how}" for item in CIS_EKS_ITEMS]
    failures = verdict.unaccepted()
    lines += ["", f"{len(failures)} checkov failure(s) neither fixed nor accepted" + (":" if failures else "")]
    lines += [f"  {f.result.check_id} {f.result.resource}: {f.result.name}" for f in failures]
    return "\n".join(lines)


def render_scanner_json(plan: Plan, environment: str, verdict: ScannerVerdict) -> str:
    citing = rules_citing(RULES)
    records = [{"source": "checkov", "stack": plan.stack, "environment": environment, "rule": f.result.check_id,
                "title": f.result.name, "status": f.status, "resource": f.result.resource, "file": f.result.file,
                "project_rules": sorted(citing.get(f.result.check_id, [])),
                "reason": f.risk.reason if f.risk else "", "accepted_by": f.risk.accepted_by if f.risk else "",
                "pending": f.risk.pending if f.risk else ""} for f in verdict.findings]
    records += [{"source": "checkov", "stack": plan.stack, "environment": environment, "rule": risk.check,
                 "status": "STALE", "resource": resource, "reason": risk.reason} for risk, resource in verdict.stale]
    records += [{"source": "cis-eks", "stack": plan.stack, "environment": environment, "rule": f"CIS EKS {i.id}",
                 "title": i.title, "status": i.who, "message": i.how} for i in CIS_EKS_ITEMS]
    return "\n".join(json.dumps(r, sort_keys=True) for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="one JSON record per finding")
    parser.add_argument("--no-checkov", action="store_true", help="the project's rules only")
    parser.add_argument("--draft-acceptances", action="store_true",
                        help="print accepted-risk skeletons for the unaccepted checkov failures, to fix or review")
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
        today = run_date(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    environment, findings = audit_plan(plan, today)
    verdict = result = None
    if not args.no_checkov:
        try:
            result = scan(plan, SCAN_DIR / plan.stack)
            verdict = judge(result.results, load(), plan.stack, environment)
        except (ScanError, AcceptedRiskError) as err:
            print(f"checkov scan of {plan.stack}: {err}", file=sys.stderr)
            return 2
    if args.draft_acceptances and verdict is not None:
        print(draft_entries(verdict, plan.stack, environment))
        return 0
    if args.json:
        text = render_json(plan.stack, environment, findings)
        if verdict is not None:
            text += "\n" + render_scanner_json(plan, environment, verdict)
    else:
        text = render_report(plan.stack, environment, findings, verdict)
        if verdict is not None and result is not None:
            text += "\n\n" + render_scanner(plan, environment, result, verdict)
    try:
        print(text)
    except BrokenPipeError:  # `make audit | head`: the reader left, the verdict still stands
        sys.stderr.close()
    failed = bool(mandatory_failures(findings, environment))
    if verdict is not None:
        failed = failed or bool(verdict.unaccepted()) or bool(verdict.stale)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
