"""The one reviewed place for scanner findings the platform accepts instead of fixing: `accepted_risks.yaml`.

Each entry names a checkov check id, the exact resources (checkov's ids: `aws_s3_bucket.access-logs`,
`Deployment.vault.vault-agent-injector`; `<env>` stands for the stack's environment, as in `<env>-app`), the stacks it
holds for (default: all), the reason, and who accepted it. An entry whose `pending` names an issue is not accepted
but waits for that issue's change (printed as pending, still a failure to fix). There is no wildcard: a new resource
that fails the same check is a new finding. The audit report prints every entry that applies to its stack, and an
entry that names a resource which does not fail that check in that stack is stale (the report and the tests fail).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from config.names import ENVIRONMENTS

ACCEPTED_RISKS_FILE: Final = Path(__file__).with_name("accepted_risks.yaml")
_FIELDS: Final = frozenset({"check", "resources", "stacks", "reason", "accepted_by", "pending"})


class AcceptedRiskError(ValueError):
    """The accepted-risk file is malformed (names the entry and the problem)."""


@dataclass(frozen=True)
class AcceptedRisk:
    check: str
    resources: tuple[str, ...]
    stacks: frozenset[str]
    reason: str
    accepted_by: str
    pending: str = ""  # an issue whose change will fix it: reported as pending, not as accepted

    def applies_to(self, stack: str) -> bool:
        return stack in self.stacks

    def resources_in(self, environment: str) -> tuple[str, ...]:
        return tuple(r.replace("<env>", environment) for r in self.resources)

    def covers(self, check_id: str, resource: str, stack: str, environment: str) -> bool:
        return self.check == check_id and self.applies_to(stack) and resource in self.resources_in(environment)


def parse(entries: Any, source: str = ACCEPTED_RISKS_FILE.name) -> tuple[AcceptedRisk, ...]:
    if not isinstance(entries, list):
        raise AcceptedRiskError(f"{source}: expected a list of entries")
    risks = [_entry(i, e, source) for i, e in enumerate(entries)]
    seen: dict[tuple[str, str, str], int] = {}
    for i, risk in enumerate(risks):
        for stack in risk.stacks:
            for resource in risk.resources:
                first = seen.setdefault((risk.check, resource, stack), i)
                if first != i:
                    raise AcceptedRiskError(f"{source} entry {i} ({risk.check}): {resource} in {stack} is already "
                                            f"accepted by entry {first}")
    return tuple(risks)


def _entry(i: int, e: Any, source: str) -> AcceptedRisk:
    where = f"{source} entry {i}"
    if not isinstance(e, Mapping):
        raise AcceptedRiskError(f"{where}: expected a mapping")
    unknown = set(e) - _FIELDS
    if unknown:
        raise AcceptedRiskError(f"{where}: unknown field(s) {sorted(unknown)}")
    for key in ("check", "reason", "accepted_by"):
        if not isinstance(e.get(key), str) or not e[key].strip():
            raise AcceptedRiskError(f"{where}: `{key}` must be a non-empty string")
    resources = e.get("resources")
    if not isinstance(resources, list) or not resources or not all(isinstance(r, str) and r for r in resources):
        raise AcceptedRiskError(f"{where} ({e['check']}): `resources` must list the exact resources")
    if any("*" in r for r in resources):
        raise AcceptedRiskError(f"{where} ({e['check']}): no wildcards; list each resource")
    stacks = e.get("stacks", list(ENVIRONMENTS))
    if not isinstance(stacks, list) or not stacks or set(stacks) - set(ENVIRONMENTS):
        raise AcceptedRiskError(f"{where} ({e['check']}): `stacks` must be a subset of {list(ENVIRONMENTS)}")
    pending = e.get("pending", "")
    if not isinstance(pending, str):
        raise AcceptedRiskError(f"{where} ({e['check']}): `pending` names an issue")
    return AcceptedRisk(e["check"], tuple(resources), frozenset(stacks), " ".join(e["reason"].split()),
                        e["accepted_by"].strip(), pending.strip())


def load(path: Path = ACCEPTED_RISKS_FILE) -> tuple[AcceptedRisk, ...]:
    return parse(yaml.safe_load(path.read_text()) or [], path.name)


def covering(risks: Sequence[AcceptedRisk], check_id: str, resource: str, stack: str,
             environment: str) -> AcceptedRisk | None:
    return next((r for r in risks if r.covers(check_id, resource, stack, environment)), None)


def stale(risks: Sequence[AcceptedRisk], failures: set[tuple[str, str]], stack: str,
          environment: str) -> Iterator[tuple[AcceptedRisk, str]]:
    """(entry, resource) pairs that apply to this stack but name a resource that does not fail that check here."""
    for risk in risks:
        if risk.applies_to(stack):
            for resource in risk.resources_in(environment):
                if (risk.check, resource) not in failures:
                    yield risk, resource
