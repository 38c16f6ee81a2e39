"""The pull-request cost comment: each stack's monthly estimate and its difference from the base branch.

    python -m tools.cost.cost_diff --head "cost-head-*.json" --base "cost-base-*.json" > comment.md
    python -m tools.cost.cost_diff --head "cost-head-*.json" --base "cost-base-*.json" --fail-over-budget

With `--fail-over-budget` it exits 1 when this change pushes a stack over its `budget`: over it now, and either
within it on the base branch (or new) or dearer than the base. A stack already over and not made dearer only warns,
so one stack's known overrun does not block unrelated changes.

Inputs are `python -m tools.cost --stack <s> --json` documents; a stack without a base document is new (or the base
predates the cost tool) and is shown without a difference.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Mapping
from typing import Any

Report = Mapping[str, Any]


def load(pattern: str) -> dict[str, Report]:
    reports = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            report = json.load(f)
        reports[str(report["stack"])] = report
    return reports


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _delta(value: float) -> str:
    return "±$0.00" if abs(value) < 0.005 else f"{'+' if value > 0 else '-'}${abs(value):,.2f}"


def comment(head: Mapping[str, Report], base: Mapping[str, Report]) -> str:
    """Markdown: a totals table, then the line items that changed per stack."""
    lines = ["### Monthly cost estimate (offline plan, `make cost`)", "",
             "| stack | base | this PR | change | budget |", "|---|---:|---:|---:|---|"]
    for stack, report in head.items():
        old = base.get(stack)
        total = float(report["total"])
        budget = float(report["budget"])
        status = f"over by {_money(total - budget)}" if report["over_budget"] else f"within {_money(budget)}"
        lines.append(f"| {stack} | {_money(float(old['total'])) if old else 'n/a'} | {_money(total)} | "
                     f"{_delta(total - float(old['total'])) if old else 'new'} | {status} |")
    for stack, report in head.items():
        old = base.get(stack)
        if not old:
            continue
        before = {x["item"]: float(x["monthly"]) for x in old["lines"]}
        after = {x["item"]: float(x["monthly"]) for x in report["lines"]}
        changed = sorted((item, after.get(item, 0.0) - before.get(item, 0.0)) for item in {*before, *after}
                         if abs(after.get(item, 0.0) - before.get(item, 0.0)) >= 0.005)
        if changed:
            lines += ["", f"<details><summary>{stack}: {len(changed)} line item(s) changed</summary>", ""]
            lines += [f"- {item}: {_delta(change)}" for item, change in changed]
            lines += ["", "</details>"]
    table_date = next(iter(head.values()), {}).get("table_date", "?")
    lines += ["", f"Prices: `pricing/prices.yaml` (us-east-1, dated {table_date}); usage assumptions in `make cost`."]
    return "\n".join(lines) + "\n"


def pushed_over_budget(head: Mapping[str, Report], base: Mapping[str, Report]) -> list[str]:
    """Messages for the stacks this change pushes over (or further over) their budget."""
    found = []
    for stack, report in head.items():
        if not report["over_budget"]:
            continue
        old, total, budget = base.get(stack), float(report["total"]), float(report["budget"])
        if old is None or not old["over_budget"] or total > float(old["total"]) + 0.005:
            was = f"{_money(float(old['total']))} on the base branch" if old else "no base figure"
            found.append(f"stack {stack}: {_money(total)}/month is over its budget of {_money(budget)} ({was})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--head", required=True, help="glob of this branch's cost JSON documents")
    parser.add_argument("--base", required=True, help="glob of the base branch's cost JSON documents")
    parser.add_argument("--fail-over-budget", action="store_true",
                        help="print nothing but the verdict; exit 1 when the change pushes a stack over its budget")
    args = parser.parse_args(argv)
    head = load(args.head)
    if not head:
        print(f"no cost documents match {args.head!r}", file=sys.stderr)
        return 2
    base = load(args.base)
    if args.fail_over_budget:
        pushed = pushed_over_budget(head, base)
        for message in pushed:
            print(f"budget check failed: {message}", file=sys.stderr)
        return 1 if pushed else 0
    print(comment(head, base), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
