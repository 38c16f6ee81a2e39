"""The offline plan command: the tree view, the JSON records, and a clean error for bad configuration."""

from __future__ import annotations

import json

import pytest

from tests.conftest import plan_of
from tools.engine import plan as plan_cli
from tools.engine.mock_engine import load_stack_settings, run_stack


@pytest.fixture
def shared_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's views over the run's shared plans (the same `run_stack(stack)` result, computed once per run)."""
    monkeypatch.setattr(plan_cli, "run_stack", plan_of)


@pytest.mark.usefixtures("shared_plans")
def test_tree_view_shows_components_protection_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_cli.main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stack prod: ")
    assert "mtls-platform:cluster:Cluster cluster" in out
    assert "- eks:index:Cluster x1  [protected]" in out
    assert "aws:ec2:NatGateway x1" in out
    assert "     9  aws:ec2/subnet:Subnet" in out
    assert "kubeconfig: [secret]" in out


@pytest.mark.usefixtures("shared_plans")
def test_json_view_emits_one_record_per_resource(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_cli.main(["--stack", "sandbox", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) > 80
    assert all({"type", "name", "parent", "protect", "inputs"} <= set(r) for r in records)
    vpc = next(r for r in records if r["type"] == "aws:ec2/vpc:Vpc")
    assert vpc["parent"] == "mtls-platform:network:Network::network"
    assert vpc["inputs"]["cidrBlock"] == "10.40.0.0/16"
    assert not any(r["protect"] for r in records)  # sandbox protects nothing


def test_bad_stack_config_exits_2_with_named_key(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {**load_stack_settings("prod"), "mtls-platform:nodes": '{"systemMinSize": 7, "systemMaxSize": 3}'}
    monkeypatch.setattr(plan_cli, "run_stack", lambda stack: plan_cli_run(stack, broken))
    assert plan_cli.main(["--stack", "prod"]) == 2
    err = capsys.readouterr().err
    assert "stack 'prod'" in err and "mtls-platform:nodes.systemMinSize: min 7 is greater than max 3" in err
    assert "Traceback" not in err


def plan_cli_run(stack: str, config: dict[str, str]) -> object:
    return run_stack(stack, config=config)
