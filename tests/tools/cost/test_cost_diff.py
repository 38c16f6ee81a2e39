"""The pull-request cost comment: totals, differences and changed line items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.cost.cost_diff import comment, main, pushed_over_budget


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


def test_budget_check_fails_only_when_the_change_pushes_a_stack_over() -> None:
    over = {"prod": report("prod", 640.0, {"EC2": 640.0})}
    pushed = pushed_over_budget(over, {"prod": report("prod", 590.0, {"EC2": 590.0})})
    assert pushed == ["stack prod: $640.00/month is over its budget of $600.00 ($590.00 on the base branch)"]
    assert pushed_over_budget(over, {}) == ["stack prod: $640.00/month is over its budget of $600.00 (no base figure)"]
    # already over and not made dearer: a warning in the comment, not a failed pipeline; dearer still fails
    assert pushed_over_budget(over, {"prod": report("prod", 650.0, {"EC2": 650.0})}) == []
    assert len(pushed_over_budget(over, {"prod": report("prod", 630.0, {"EC2": 630.0})})) == 1
    assert pushed_over_budget({"prod": report("prod", 590.0, {})}, {}) == []


def test_budget_check_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "head-prod.json").write_text(json.dumps(report("prod", 640.0, {})))
    (tmp_path / "base-prod.json").write_text(json.dumps(report("prod", 590.0, {})))
    args = ["--head", str(tmp_path / "head-*.json"), "--base", str(tmp_path / "base-*.json"), "--fail-over-budget"]
    assert main(args) == 1
    assert "budget check failed: stack prod" in capsys.readouterr().err
    (tmp_path / "head-prod.json").write_text(json.dumps(report("prod", 580.0, {})))
    assert main(args) == 0
