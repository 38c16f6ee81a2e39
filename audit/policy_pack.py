"""The policy-pack front end: the audit rules as `pulumi_policy` policies for `pulumi preview --policy-pack policy`.

`pulumi_policy` hands a policy the resource's properties exactly as the engine holds them: camelCase keys
(`MessageToDict` of a protobuf Struct keeps its keys), wrapped in proxies that raise on values a preview cannot know.
`plain` unwraps them once, turning those values into `audit.model.UNKNOWN`, so the rules see the same neutral
`Resource` as the offline audit. Policy analyzers are not told `retainOnDelete`; rules that need it report N/A here.

Enforcement is per environment, but a policy's level is fixed when the pack starts: the environment is the stack's
`mtls-platform:environment` config when the CLI passes it, else the stack name, else the strictest ("prod"). Rule
logic uses the AWS provider's `environment` default tag when it can see it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from typing import Any

import pulumi.runtime
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)
from pulumi_policy.secret import Secret

from audit import RULES
from audit.model import (
    ALL_ENVIRONMENTS,
    DEFAULT_ENVIRONMENT,
    UNKNOWN,
    Context,
    Enforcement,
    Resource,
    Rule,
    Stack,
    Status,
    environment_from,
    evaluate_rule,
    judge,
    provider_environment,
)

PACK_NAME = "mtls-platform-audit"
CONFIG_KEY = "mtls-platform:environment"
_UNKNOWNS = frozenset({UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE,
                       UNKNOWN_ASSET_VALUE, UNKNOWN_ARCHIVE_VALUE, UNKNOWN_OBJECT_VALUE})


def _raw(value: Any) -> Any:
    """The value a `pulumi_policy` wrapper holds: proxies hand out their target under the key "__target"."""
    while type(value).__module__.startswith("pulumi_policy."):
        value = value.value if isinstance(value, Secret) else value["__target"]
    return value


def plain(value: Any) -> Any:
    """Properties as plain dicts and lists, with a preview's unknown values as `UNKNOWN`.

    Reading through the proxies would raise on the first unknown value; their raw targets do not.
    """
    value = _raw(value)
    if isinstance(value, str) and value in _UNKNOWNS:
        return UNKNOWN
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def from_args(args: ResourceValidationArgs) -> Resource:
    return Resource(type=args.resource_type, name=args.name, inputs=plain(args.props), protect=args.opts.protect,
                    retain_on_delete=None, urn=args.urn, parent=args.opts.parent or "")


def from_policy_resource(r: PolicyResource) -> Resource:
    props = plain(r.props)
    identifiers = {str(props[k]) for k in ("id", "arn", "bucket", "name")
                   if isinstance(props.get(k), str)}
    return Resource(
        type=r.resource_type, name=r.name, inputs=props, protect=r.opts.protect, retain_on_delete=None,
        urn=r.urn, parent=r.opts.parent or "", dependencies=tuple(d.urn for d in r.dependencies),
        property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()},
        identifiers=frozenset(identifiers),
    )


def pack_environment(environ: Mapping[str, str] | None = None) -> str:
    """The environment whose enforcement levels the pack applies (see the module docstring)."""
    environ = os.environ if environ is None else environ
    configured = pulumi.runtime.get_config(CONFIG_KEY)
    if isinstance(configured, str) and configured in ALL_ENVIRONMENTS:
        return configured
    stack = environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1]
    return stack if stack in ALL_ENVIRONMENTS else DEFAULT_ENVIRONMENT


def _level(rule: Rule, environment: str) -> EnforcementLevel:
    mandatory = rule.enforcement(environment) is Enforcement.MANDATORY
    return EnforcementLevel.MANDATORY if mandatory else EnforcementLevel.ADVISORY


def _resource_policy(rule: Rule, environment: str) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = from_args(args)
        if not rule.applies(resource):
            return
        provider = plain(args.provider.props) if args.provider is not None else {}
        env = provider_environment(provider) or environment
        verdict = judge(rule, resource, Context(env, date.today()))
        if verdict.status is Status.FAIL:
            report_violation(verdict.message, None)
        elif verdict.status is Status.NA:
            args.not_applicable(verdict.message)

    return ResourceValidationPolicy(name=rule.id, description=f"{rule.title} [{rule.anchors}]", validate=validate,
                                    enforcement_level=_level(rule, environment), display_name=rule.title,
                                    severity=_severity(rule, environment), tags=list((rule.anchors, *rule.also)))


def _stack_policy(rule: Rule, environment: str) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [from_policy_resource(r) for r in args.resources]
        context = Context(environment_from(resources) or environment, date.today())
        findings = evaluate_rule(rule, Stack(resources, context))
        for f in findings:
            if f.status is Status.FAIL:
                report_violation(f"{f.resource}: {f.message}", f.urn or None)
        if all(f.status is Status.NA for f in findings):
            args.not_applicable("; ".join(sorted({f.message for f in findings})))

    return StackValidationPolicy(name=rule.id, description=f"{rule.title} [{rule.anchors}]", validate=validate,
                                 enforcement_level=_level(rule, environment), display_name=rule.title,
                                 severity=_severity(rule, environment), tags=list((rule.anchors, *rule.also)))


def _severity(rule: Rule, environment: str) -> Severity:
    return Severity.HIGH if rule.enforcement(environment) is Enforcement.MANDATORY else Severity.MEDIUM


def build_policies(environment: str) -> list[Policy]:
    """One policy per rule, named by the rule id, enforced as the rule says for `environment`."""
    return [_resource_policy(rule, environment) if rule.kind == "resource" else _stack_policy(rule, environment)
            for rule in RULES]
