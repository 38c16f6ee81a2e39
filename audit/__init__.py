"""The platform's audit rules as code: one rule set, two front ends.

Each rule carries the ids auditors use (checkov CKV_*, CIS EKS Benchmark, EKS Best Practices, Security Hub, Vault /
Linkerd / cert-manager docs; each rule names its own), an enforcement per environment (mandatory or
advisory) and a pure check over the neutral `Resource` view. `tools.audit_report.audit_report` runs them on the offline
plan (`make audit STACK=prod`); `policy_pack/` runs the very same functions as a Pulumi policy pack in `pulumi preview`.
"""

from __future__ import annotations

from audit import rules_data, rules_eks, rules_network, rules_storage, rules_trust, rules_vault, rules_workloads
from audit.model import (
    REGISTRY,
    Context,
    Enforcement,
    Finding,
    Resource,
    Rule,
    Stack,
    Status,
    environment_from,
    evaluate,
    evaluate_rule,
    judge,
)
from config.names import ENVIRONMENTS

# Report order: the audit list's sections, each in the order its module declares its rules.
_SECTIONS = [m.__name__ for m in (rules_network, rules_eks, rules_data, rules_storage, rules_vault, rules_trust,
                                         rules_workloads)]


def _section(rule: Rule) -> int:
    check = rule.check or rule.stack_check
    return _SECTIONS.index(getattr(check, "__module__", ""))


RULES: tuple[Rule, ...] = tuple(sorted(REGISTRY, key=_section))

__all__ = ["ENVIRONMENTS", "RULES", "Context", "Enforcement", "Finding", "Resource", "Rule", "Stack", "Status",
           "environment_from", "evaluate", "evaluate_rule", "judge"]
