"""The neutral resource view every audit rule reads, the rule type, and the evaluator both front ends share.

A rule never sees a `pulumi_policy` argument or a mock-engine `Registration`: each front end adapts its own records
to `Resource` (type, name, camelCase inputs as the engine sees them, protect, retain_on_delete, URNs) once, and the
same pure functions judge them. Values that a `pulumi preview` cannot know yet arrive as `UNKNOWN`; reading one
through `dig`/`Resource.get` raises `UnknownValue`, which the evaluator turns into N/A ("known only after apply")
instead of a false failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

from audit.values import UNKNOWN, UnknownValue, as_json, as_list, dig, number, truthy
from config.names import ENVIRONMENTS, HA_ENVIRONMENTS

ALL_ENVIRONMENTS: Final = frozenset(ENVIRONMENTS)
# When nothing says which environment a stack is, judge it by the strictest standard.
DEFAULT_ENVIRONMENT: Final = "prod"

# Re-exported: rule modules read inputs through these.
__all__ = ["UNKNOWN", "UnknownValue", "as_json", "as_list", "dig", "number", "truthy"]


@dataclass(frozen=True)
class Resource:
    """One resource as both front ends can see it."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    protect: bool = False
    retain_on_delete: bool | None = None  # None: this front end cannot see it (the policy analyzer protocol)
    urn: str = ""
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    # Input property -> URNs it was computed from (policy packs know them; the offline plan does not).
    property_dependencies: Mapping[str, tuple[str, ...]] | None = None
    # Strings other resources use to refer to this one (id, ARN, bucket name): the offline fallback for links.
    identifiers: frozenset[str] = frozenset()

    def get(self, *path: str | int, default: Any = None) -> Any:
        return dig(self.inputs, *path, default=default)

    @property
    def label(self) -> str:
        return f"{short_type(self.type)} {self.name}"


def short_type(type_: str) -> str:
    """aws:ec2/subnet:Subnet -> aws:ec2:Subnet (the module path repeats the type name)."""
    pkg, _, rest = type_.partition(":")
    module, _, name = rest.partition(":")
    return f"{pkg}:{module.split('/')[0]}:{name}" if name else type_


@dataclass(frozen=True)
class Context:
    environment: str
    today: date  # support calendars are read at this date; callers pass it, no rule reads the clock

    @property
    def is_ha(self) -> bool:
        return self.environment in HA_ENVIRONMENTS


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NA = "N/A"


class Enforcement(StrEnum):
    MANDATORY = "mandatory"
    ADVISORY = "advisory"


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str


def passed(message: str) -> Verdict:
    return Verdict(Status.PASS, message)


def failed(message: str) -> Verdict:
    return Verdict(Status.FAIL, message)


def not_applicable(message: str) -> Verdict:
    return Verdict(Status.NA, message)


def all_of(checks: Iterable[tuple[bool, str]], ok: str) -> Verdict:
    """FAIL naming every problem whose condition is False, else PASS with `ok`."""
    problems = [problem for good, problem in checks if not good]
    return failed("; ".join(problems)) if problems else passed(ok)


ResourceCheck = Callable[[Resource, Context], Verdict]
Selector = Callable[[Resource], bool]
# A stack check yields (subject, verdict) pairs; subject None means the stack as a whole.
StackCheck = Callable[["Stack"], Iterable[tuple["Resource | None", Verdict]]]


@dataclass(frozen=True)
class Rule:
    """One audit rule: what it is about, where it comes from, how it is enforced, and its check."""

    id: str  # stable slug; the Pulumi policy name
    title: str
    anchors: str  # the ids exactly as the audit list (or the cited benchmark) writes them
    types: frozenset[str]  # resource types the rule judges (a stack rule: its subjects)
    mandatory_in: frozenset[str] = ALL_ENVIRONMENTS  # advisory elsewhere
    also: tuple[str, ...] = ()  # further anchors: Security Hub controls, BPG sections, upstream docs
    listed: bool = True  # False: our own addition, beyond the audit checklist the rule set was written from
    check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    selector: Selector | None = None  # narrows `types` (e.g. to the Vault Helm release among all releases)

    def applies(self, r: Resource) -> bool:
        if r.type not in self.types:
            return False
        if self.selector is None:
            return True
        try:
            return self.selector(r)
        except UnknownValue:
            return False

    @property
    def kind(self) -> str:
        return "resource" if self.check is not None else "stack"

    def enforcement(self, environment: str) -> Enforcement:
        return Enforcement.MANDATORY if environment in self.mandatory_in else Enforcement.ADVISORY

    @property
    def references(self) -> str:
        return "; ".join((self.anchors, *self.also))


@dataclass(frozen=True)
class Finding:
    rule: Rule
    status: Status
    resource: str  # the subject's label, or "stack"
    message: str
    urn: str = ""


REGISTRY: list[Rule] = []


def resource_rule(rule_id: str, title: str, anchors: str, types: Iterable[str], *, also: Sequence[str] = (),
                  mandatory_in: Iterable[str] = ALL_ENVIRONMENTS, listed: bool = True,
                  selector: Selector | None = None) -> Callable[[ResourceCheck], ResourceCheck]:
    """Register a per-resource check (a `ResourceValidationPolicy` in the pack)."""
    def register(check: ResourceCheck) -> ResourceCheck:
        REGISTRY.append(Rule(rule_id, title, anchors, frozenset(types), frozenset(mandatory_in), tuple(also),
                             listed, check=check, selector=selector))
        return check
    return register


def stack_rule(rule_id: str, title: str, anchors: str, types: Iterable[str], *, also: Sequence[str] = (),
               mandatory_in: Iterable[str] = ALL_ENVIRONMENTS,
               listed: bool = True) -> Callable[[StackCheck], StackCheck]:
    """Register a check over the whole resource list (a `StackValidationPolicy` in the pack)."""
    def register(check: StackCheck) -> StackCheck:
        REGISTRY.append(Rule(rule_id, title, anchors, frozenset(types), frozenset(mandatory_in), tuple(also),
                             listed, stack_check=check))
        return check
    return register


class Stack:
    """All resources of one stack, with the lookups stack rules need."""

    def __init__(self, resources: Sequence[Resource], context: Context) -> None:
        self.resources = list(resources)
        self.context = context
        self._by_urn = {r.urn: r for r in self.resources if r.urn}

    @property
    def environment(self) -> str:
        return self.context.environment

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def by_urn(self, urn: str) -> Resource | None:
        return self._by_urn.get(urn)

    def refs(self, r: Resource, prop: str, types: Iterable[str]) -> list[Resource]:
        """The resources of `types` that input `prop` of `r` refers to.

        Exact where the front end knows property dependencies (policy packs); otherwise the resource's dependencies
        of those types, narrowed to the ones whose identifiers equal the property's value when that is known.
        """
        wanted_types = frozenset(types)
        exact = None if r.property_dependencies is None else r.property_dependencies.get(prop)
        urns = exact if exact is not None else r.dependencies
        candidates = [c for c in (self.by_urn(u) for u in urns) if c is not None and c.type in wanted_types]
        if exact is not None:
            return candidates
        raw = r.inputs.get(prop)
        values = {v for v in (raw if isinstance(raw, list | tuple) else [raw]) if isinstance(v, str)}
        matched = [c for c in candidates if c.identifiers & values]
        return matched or candidates


def judge(rule: Rule, r: Resource, context: Context) -> Verdict:
    """Run a resource rule on one resource; an unknown input makes it N/A rather than a guess."""
    assert rule.check is not None, f"{rule.id} is a stack rule"
    try:
        return rule.check(r, context)
    except UnknownValue as err:
        return not_applicable(f"input {err} is known only after apply")


def evaluate_rule(rule: Rule, stack: Stack) -> list[Finding]:
    """Every finding of one rule on one stack; one N/A finding when nothing in the stack is subject to it."""
    if rule.check is not None:
        subjects = [r for r in stack.resources if rule.applies(r)]
        found = [Finding(rule, v.status, r.label, v.message, r.urn)
                 for r in subjects for v in [judge(rule, r, stack.context)]]
    else:
        assert rule.stack_check is not None
        try:
            found = [Finding(rule, v.status, r.label if r else "stack", v.message, r.urn if r else "")
                     for r, v in rule.stack_check(stack)]
        except UnknownValue as err:
            found = [Finding(rule, Status.NA, "stack", f"input {err} is known only after apply")]
    if not found:
        kinds = ", ".join(sorted(short_type(t) for t in rule.types))
        what = f"{kinds} it applies to" if rule.selector is not None else kinds
        found = [Finding(rule, Status.NA, "stack", f"no {what} in this stack")]
    return found


def evaluate(rules: Iterable[Rule], resources: Sequence[Resource], context: Context) -> list[Finding]:
    stack = Stack(resources, context)
    return [f for rule in rules for f in evaluate_rule(rule, stack)]


def environment_from(resources: Iterable[Resource]) -> str | None:
    """The `environment` default tag of the stack's AWS provider (where every taggable resource gets it)."""
    for r in resources:
        if r.type == "pulumi:providers:aws":
            env = provider_environment(r.inputs)
            if env:
                return env
    return None


def provider_environment(provider_inputs: Mapping[str, Any]) -> str | None:
    """`defaultTags.tags.environment` of an AWS provider; providers receive nested inputs as JSON strings."""
    raw = provider_inputs.get("defaultTags")
    if raw is UNKNOWN or raw is None:
        return None
    tags = as_json(raw) if isinstance(raw, str) else raw
    env = dig(tags, "tags", "environment") if isinstance(tags, Mapping) else None
    return env if isinstance(env, str) and env in ALL_ENVIRONMENTS else None


def rule_status(findings: Iterable[Finding]) -> Status:
    statuses = {f.status for f in findings}
    if Status.FAIL in statuses:
        return Status.FAIL
    return Status.PASS if Status.PASS in statuses else Status.NA


def group_by_rule(findings: Iterable[Finding]) -> Iterator[tuple[Rule, list[Finding]]]:
    groups: dict[str, tuple[Rule, list[Finding]]] = {}
    for f in findings:
        groups.setdefault(f.rule.id, (f.rule, []))[1].append(f)
    yield from groups.values()
