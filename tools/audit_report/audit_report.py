"""Offline audit: every audit rule on a stack's offline plan, before anything is deployed.

    # report per rule: id, anchors, enforcement, status, resources
    python -m tools.audit_report --stack prod
    python -m tools.audit_report --stack prod --json    # one JSON record per finding

The rules are the `audit` package's, the same functions the policy pack in `policy_pack/` runs in `pulumi preview`; this
front end only adapts the mock engine's `Registration`s to the rules' neutral `Resource` view. The environment comes
from the AWS provider's `environment` default tag (the stack name if there is none). Exit codes: 0 no mandatory
failure, 1 at least one mandatory rule fails, 2 invalid stack configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date

from audit import RULES, Context, Enforcement, Finding, Resource, Status, environment_from, evaluate
from audit.model import group_by_rule, rule_status
from config.load import run_date
from config.model import ConfigError
from tools.engine.mock_engine import Plan, Registration, list_stacks, run_stack

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


def render_report(stack: str, environment: str, findings: Sequence[Finding]) -> str:
    counts = summary(findings, environment)
    lines = [f"audit of stack {stack} (environment {environment}): {len(RULES)} rules - "
             f"{counts['pass']} pass, {counts['fail-mandatory']} fail (mandatory), "
             f"{counts['fail-advisory']} fail (advisory), {counts['n/a']} n/a", ""]
    for rule, found in group_by_rule(findings):
        enforcement = rule.enforcement(environment).value
        lines.append(f"{STATUS_MARK[rule_status(found)]}  {rule.id}  [{enforcement}]  {rule.title}")
        lines.append(f"      {rule.references}")
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
        "stack": stack, "environment": environment, "rule": f.rule.id, "title": f.rule.title,
        "anchors": f.rule.anchors, "also": list(f.rule.also), "kind": f.rule.kind,
        "enforcement": f.rule.enforcement(environment).value, "status": f.status.value,
        "resource": f.resource, "message": f.message,
    }, sort_keys=True) for f in findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="one JSON record per finding")
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
        today = run_date(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    environment, findings = audit_plan(plan, today)
    text = (render_json if args.json else render_report)(plan.stack, environment, findings)
    try:
        print(text)
    except BrokenPipeError:  # `make audit | head`: the reader left, the verdict still stands
        sys.stderr.close()
    return 1 if mandatory_failures(findings, environment) else 0


if __name__ == "__main__":
    sys.exit(main())
