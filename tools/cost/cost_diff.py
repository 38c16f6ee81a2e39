"""The pull-request cost comment: each stack's monthly estimate and its difference from the base branch.

    python -m tools.cost.cost_diff --head "cost-head-*.json" --base "cost-base-*.json" > comment.md

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--head", required=True, help="glob of this branch's cost JSON documents")
    parser.add_argument("--base", required=True, help="glob of the base branch's cost JSON documents")
    args = parser.parse_args(argv)
    head = load(args.head)
    if not head:
        print(f"no cost documents match {args.head!r}", file=sys.stderr)
        return 2
    print(comment(head, load(args.base)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
