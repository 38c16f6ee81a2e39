"""The pull-request cost comment: totals, differences and changed line items."""

from __future__ import annotations

from typing import Any

from tools.cost.cost_diff import comment


def report(stack: str, total: float, lines: dict[str, float], budget: float = 600.0) -> dict[str, Any]:
    return {"stack": stack, "total": total, "budget": budget, "over_budget": total > budget, "table_date": "2026-10-02",
            "lines": [{"item": k, "monthly": v} for k, v in lines.items()]}


def test_difference_and_changed_items_against_the_base() -> None:
    head = {"prod": report("prod", 1200.0, {"EC2": 400.0, "NAT": 100.0, "ALB": 30.0})}
    base = {"prod": report("prod", 1170.0, {"EC2": 400.0, "NAT": 100.0})}
    text = comment(head, base)
    assert "| prod | $1,170.00 | $1,200.00 | +$30.00 | over by $600.00 |" in text
    assert "- ALB: +$30.00" in text and "- EC2" not in text


def test_a_stack_without_a_base_is_new() -> None:
    text = comment({"sandbox": report("sandbox", 258.09, {"EC2": 60.0})}, {})
    assert "| sandbox | n/a | $258.09 | new | within $600.00 |" in text
