"""Offline plan: run a stack's real program on the mock engine and show what `pulumi up` would register.

    python -m tools.engine.plan --stack prod            # resource tree, counts per type, stack outputs
    python -m tools.engine.plan --stack prod --json     # one JSON record per resource (JSON Lines)

No Pulumi CLI and no cloud credentials are involved; `secure:` config values are replaced by a placeholder.
Each view is a function from a `Plan` to text (`_views`): the tree, JSON records, and the audit, cost and
deploy-time reports, which also have their own commands (`make audit|cost|deploy-time`).
Exit codes: 0 ok, 2 invalid stack configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from config.model import ConfigError
from tools.audit_report.audit_report import render_audit
from tools.cost.cost import render_cost
from tools.deploy_time.deploy_time import render_deploy_time
from tools.engine.mock_engine import SECRET_PLACEHOLDER, Plan, Registration, list_stacks, run_stack

View = Callable[[Plan], str]
# Inputs that are noise in a record (provider plumbing) or too long to be useful on a terminal.
_SKIP_INPUTS = frozenset({"__defaults", "tagsAll"})


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return "[secret]" if SECRET_PLACEHOLDER in value else value
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items() if k not in _SKIP_INPUTS}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def record(plan: Plan, r: Registration) -> dict[str, Any]:
    """The machine-readable form of one registration."""
    parent = plan.by_urn(r.parent)
    return {
        "type": r.type,
        "name": r.name,
        "parent": f"{parent.type}::{parent.name}" if parent else None,
        "component": r.is_component,
        "protect": r.protect,
        "retain_on_delete": r.retain_on_delete,
        "inputs": _mask(r.inputs) if r.custom or r.type.startswith("eks:") else {},
    }


def render_json(plan: Plan) -> str:
    return "\n".join(json.dumps(record(plan, r), sort_keys=True, default=str) for r in plan.resources)


def render_tree(plan: Plan) -> str:
    """Components with their children; custom resources folded into `type x count` per parent."""
    children: dict[str, list[Registration]] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r)
    known = {r.urn for r in plan.resources}
    roots = [r for r in plan.resources if r.parent not in known]
    lines = [f"stack {plan.stack}: {len(plan.resources)} resources "
             f"({sum(r.is_component for r in plan.resources)} components)"]

    def walk(node: Registration, depth: int) -> None:
        pad = "  " * depth
        kids = children.get(node.urn, [])
        flag = "  [protected]" if node.protect else ""
        lines.append(f"{pad}{_short(node.type)} {node.name}{flag}")
        leaves = Counter((_short(k.type), k.protect) for k in kids if not children.get(k.urn))
        for (type_, protected), n in sorted(leaves.items()):
            lines.append(f"{pad}  - {type_} x{n}{'  [protected]' if protected else ''}")
        for k in kids:
            if children.get(k.urn):
                walk(k, depth + 1)

    for root in roots:
        walk(root, 0)
    lines.append("")
    lines.append("resources per type:")
    for type_, n in sorted(plan.type_counts().items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {n:4d}  {type_}")
    lines.append("")
    lines.append("outputs:")
    for name in sorted(plan.outputs):
        value = "[secret]" if name in plan.secret_outputs else plan.outputs[name]
        lines.append(f"  {name}: {value}")
    return "\n".join(lines)


def _short(type_: str) -> str:
    """aws:ec2/subnet:Subnet -> aws:ec2:Subnet (the module path repeats the type name)."""
    pkg, _, rest = type_.partition(":")
    module, _, name = rest.partition(":")
    return f"{pkg}:{module.split('/')[0]}:{name}" if name else type_


def _views() -> dict[str, View]:
    """Every view of a plan, by the name `--view` takes."""
    return {"tree": render_tree, "json": render_json, "audit": render_audit, "cost": render_cost,
            "deploy-time": render_deploy_time}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=list_stacks())
    parser.add_argument("--json", action="store_true", help="one JSON record per resource")
    views = _views()
    parser.add_argument("--view", choices=sorted(views), default="tree")
    args = parser.parse_args(argv)
    try:
        plan = run_stack(args.stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    try:
        print(views["json" if args.json else args.view](plan))
    except BrokenPipeError:  # `make plan | head`: the reader left, nothing is wrong
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
