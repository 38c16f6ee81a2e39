"""Export the offline plan's AWS resources as a Terraform plan JSON, so checkov's `terraform_plan` framework audits it.

    python -m tools.tf_plan_export --stack prod > prod.tfplan.json

Shape: what `terraform show -json <planfile>` prints for a first apply (`format_version` 1.2): `planned_values` with
one `managed` resource per pulumi-aws custom resource (type from `type_map.TERRAFORM_TYPES`, address
`<tf type>.<pulumi name>`, camelCase properties as the snake_case Terraform attributes, single nested blocks as
one-element lists, maps kept as objects), `resource_changes` (every action `create`) and `configuration` whose
`expressions` carry the references between resources. A property whose value is another resource's id, ARN or
name is left out of `planned_values` and given as a reference (`aws_s3_bucket.x.id`), as Terraform shows a value
that is known only after apply: checkov's graph connects resources through exactly these references (its
connected checks, e.g. "bucket has a public access block").
Ref: https://developer.hashicorp.com/terraform/internals/json-format (plan representation, expression references)

Not exported, so not seen by the scanner (listed by `unseen`): components (pulumi-eks's `eks:index:Cluster` is a
remote component: the EKS cluster, its IAM role, security groups, OIDC provider and access entries it creates are
not in the offline plan), non-AWS providers (kubernetes objects are scanned as manifests instead; tls/random), and
what controllers create at run time (the ALB the AWS Load Balancer Controller makes, EBS volumes of the CSI driver,
the nodes' EC2 instances and Auto Scaling groups of managed node groups).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tools.engine.mock_engine import SECRET_PLACEHOLDER, Plan, Registration
from tools.tf_plan_export.type_map import MAP_ATTRIBUTES, RENAMED, TERRAFORM_TYPES

FORMAT_VERSION = "1.2"
# The Terraform release whose plan format this imitates (any 1.x prints format_version 1.2).
TERRAFORM_VERSION = "1.9.8"
PROVIDER = "registry.terraform.io/hashicorp/aws"
# Pulumi bookkeeping inputs with no Terraform attribute.
_SKIP = frozenset({"__defaults", "tagsAll"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """`httpPutResponseHopLimit` -> `http_put_response_hop_limit` (Terraform's spelling of a bridged property)."""
    return _CAMEL.sub("_", name).lower()


def address_name(name: str) -> str:
    """A Pulumi resource name as a Terraform resource name (letters, digits, `_`, `-`; not starting with a digit)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"r_{cleaned}"


@dataclass(frozen=True)
class Target:
    """What a string in some resource's inputs may be: this resource's id, ARN or name."""

    address: str
    attribute: str


def _identifiers(r: Registration, address: str) -> dict[str, Target]:
    """The strings the mock engine gives this resource that other resources' inputs carry when they refer to it."""
    found = {f"{r.name}-id": Target(address, "id")}
    for output, attribute in (("arn", "arn"), ("keyId", "key_id"), ("bucket", "bucket")):
        value = r.outputs.get(output)
        if isinstance(value, str) and value:
            found.setdefault(value, Target(address, attribute))
    if r.type == "aws:iam/role:Role" and isinstance(r.outputs.get("name"), str):
        found.setdefault(r.outputs["name"], Target(address, "name"))
    return found


def _score(tf_type: str, attribute: str) -> int:
    """How much of the type the attribute names: its longest word-suffix inside the attribute (`parameter_group_name`
    names aws_db_parameter_group by 15 characters, aws_security_group by 5)."""
    words = tf_type.removeprefix("aws_").split("_")
    return max((len(suffix) for i in range(len(words)) if (suffix := "_".join(words[i:])) in attribute), default=0)


@dataclass
class _Resource:
    registration: Registration
    tf_type: str
    address: str


class Exporter:
    """One plan's export; `document()` is the plan JSON."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.resources: list[_Resource] = []
        used: set[str] = set()
        for r in plan.resources:
            tf_type = TERRAFORM_TYPES.get(r.type)
            if tf_type is None or not r.custom:
                continue
            address = f"{tf_type}.{address_name(r.name)}"
            while address in used:  # the same Pulumi name under two parents
                address += "_"
            used.add(address)
            self.resources.append(_Resource(r, tf_type, address))
        self._by_urn = {x.registration.urn: x for x in self.resources}
        # The mock engine's ids are `<name>-id`, so two resources of different types may share one (a security group
        # and a parameter group both called data-postgres): every candidate is kept and `_target` disambiguates.
        self._targets: dict[str, list[Target]] = {}
        for x in self.resources:
            for value, target in _identifiers(x.registration, x.address).items():
                self._targets.setdefault(value, []).append(target)

    def _target(self, value: Any, allowed: frozenset[str], attribute: str) -> Target | None:
        """The resource this value refers to among those the resource depends on; between several, the one whose
        type the attribute names (`vpc_security_group_ids` -> aws_security_group)."""
        if not isinstance(value, str):
            return None
        found = [t for t in self._targets.get(value, []) if t.address in allowed]
        if len(found) > 1:
            scores = {t.address: _score(t.address.split(".")[0], attribute) for t in found}
            best = max(scores.values())
            named = [t for t in found if scores[t.address] == best]
            found = named if best and len(named) == 1 else found
        return found[0] if len(found) == 1 else None

    def _convert(self, tf_type: str, value: dict[str, Any], allowed: frozenset[str],
                 top: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """(values, expressions) of one block: references become expressions and leave the values."""
        renamed = RENAMED.get(tf_type, {})
        values: dict[str, Any] = {}
        expressions: dict[str, Any] = {}
        for key, item in value.items():
            if key in _SKIP or (top and key.startswith("__")):
                continue
            name = renamed.get(key) or snake(key)
            if key in MAP_ATTRIBUTES and isinstance(item, dict):
                values[name] = item
                continue
            refs = self._references(item, allowed, name)
            if refs:
                expressions[name] = {"references": refs}
                continue
            if isinstance(item, dict):
                item = [item]  # a single nested block: Terraform shows it as a one-element list
            if isinstance(item, list) and any(isinstance(i, dict) for i in item):
                blocks = [self._convert(tf_type, i, allowed, top=False) for i in item if isinstance(i, dict)]
                values[name] = [b[0] for b in blocks]
                if any(b[1] for b in blocks):
                    expressions[name] = [b[1] for b in blocks]
                continue
            values[name] = _scalar(item)
        return values, expressions

    def _references(self, item: Any, allowed: frozenset[str], attribute: str) -> list[str]:
        """Terraform's reference list for a value that is another resource's id/ARN/name (or a list of such)."""
        candidates = item if isinstance(item, list) else [item]
        if not candidates:
            return []
        targets = [self._target(c, allowed, attribute) for c in candidates]
        if not all(targets):
            return []
        refs: list[str] = []
        for t in targets:
            assert t is not None
            refs.extend((f"{t.address}.{t.attribute}", t.address))
        return refs

    def _allowed(self, r: Registration) -> frozenset[str]:
        """Addresses this resource may refer to: what it depends on (the mock's values alone could be ambiguous)."""
        return frozenset(x.address for u in r.dependencies if (x := self._by_urn.get(u)) is not None)

    def document(self) -> dict[str, Any]:
        planned: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        configuration: list[dict[str, Any]] = []
        for x in self.resources:
            r = x.registration
            values, expressions = self._convert(x.tf_type, r.inputs, self._allowed(r), top=True)
            name = x.address.split(".", 1)[1]
            planned.append({"address": x.address, "mode": "managed", "type": x.tf_type, "name": name,
                            "provider_name": PROVIDER, "schema_version": 0, "values": values,
                            "sensitive_values": {}})
            changes.append({"address": x.address, "mode": "managed", "type": x.tf_type, "name": name,
                            "provider_name": PROVIDER,
                            "change": {"actions": ["create"], "before": None, "after": values,
                                       "after_unknown": {k: True for k in expressions}}})
            configuration.append({"address": x.address, "mode": "managed", "type": x.tf_type, "name": name,
                                  "provider_config_key": "aws", "expressions": expressions, "schema_version": 0,
                                  "depends_on": sorted({d.address for u in r.dependencies
                                                        if (d := self._by_urn.get(u)) is not None})})
        return {
            "format_version": FORMAT_VERSION,
            "terraform_version": TERRAFORM_VERSION,
            "planned_values": {"root_module": {"resources": planned}},
            "resource_changes": changes,
            "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": PROVIDER}},
                              "root_module": {"resources": configuration}},
        }


def _scalar(item: Any) -> Any:
    """Secret placeholders blanked (a plan shows sensitive values as such), whole numbers as integers (the engine's
    wire format makes every number a float)."""
    if isinstance(item, list):
        return [_scalar(i) for i in item]
    if isinstance(item, float) and item.is_integer():
        return int(item)
    return "" if isinstance(item, str) and SECRET_PLACEHOLDER in item else item


def export(plan: Plan) -> dict[str, Any]:
    """The plan JSON of one offline plan's AWS resources."""
    return Exporter(plan).document()


def unseen(plan: Plan) -> list[tuple[str, int]]:
    """(type, count) of the custom resources neither the export nor the manifests give checkov (Kubernetes objects
    are scanned as manifests, Helm releases as what they render)."""
    counts: dict[str, int] = {}
    for r in plan.resources:
        if r.custom and r.type not in TERRAFORM_TYPES and not r.type.startswith(("pulumi:providers:", "kubernetes:")):
            counts[r.type] = counts.get(r.type, 0) + 1
    return sorted(counts.items())


def unmapped_aws(types: Iterable[str]) -> list[str]:
    """pulumi-aws types with no Terraform mapping yet (add them to `type_map.TERRAFORM_TYPES`)."""
    return sorted({t for t in types if t.startswith("aws:") and t not in TERRAFORM_TYPES})


def dumps(plan: Plan) -> str:
    return json.dumps(export(plan), indent=1, sort_keys=True, default=str)
