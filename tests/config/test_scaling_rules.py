"""Config rules of autoscaling and progressive delivery (`autoscaling.*`, `rollout.progressive` and its thresholds):
each bad value is one ConfigError line naming its key and the rule; the profiles' values pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from config.model import ConfigError
from tests.conftest import STACKS, build_config, minimal_settings
from tools.engine.mock_engine import load_stack_settings


def problems(stack: str, **groups: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config(stack, minimal_settings(stack, **groups))
    return [f"{p.key}: {p.rule}" for p in err.value.problems]


@pytest.mark.parametrize(("env", "groups", "expected"), [
    ("prod", {"autoscaling": {"scaleDownUtilization": 0.3}}, "autoscaling.scaleDownUtilization: 0.3 must lie in the "
     "50-80 % band"),
    ("prod", {"autoscaling": {"scaleDownUtilization": 0.9}}, "autoscaling.scaleDownUtilization: 0.9 must lie in"),
    ("prod", {"autoscaling": {"scaleDownUnneededMinutes": 0}}, "autoscaling.scaleDownUnneededMinutes: 0 must be"),
    ("prod", {"autoscaling": {"requestsPerPod": 0}}, "autoscaling.requestsPerPod: 0 must be between 1 and 10000"),
    ("prod", {"autoscaling": {"expander": "random"}}, "autoscaling.expander: must be 'priority' or 'least-waste'"),
    ("sandbox", {"rollout": {"progressive": True}}, "rollout.progressive: progressive canaries are analysed on "
     "Prometheus metrics"),
    ("prod", {"rollout": {"progressive": True, "stepWeight": 0}}, "rollout.stepWeight: 0 must be between 1 and 50"),
    ("prod", {"rollout": {"progressive": True, "stepWeight": 20, "maxWeight": 10}},
     "rollout.maxWeight: 10 must be between stepWeight (20) and 100"),
    ("prod", {"rollout": {"progressive": True, "interval": "10s"}}, "rollout.interval: '10s' must be a whole number"),
    ("prod", {"rollout": {"progressive": True, "interval": "1h"}}, "rollout.interval: '1h' must be a whole number"),
    ("prod", {"rollout": {"progressive": True, "failedChecks": 0}}, "rollout.failedChecks: 0 must be between 1 and 20"),
    ("prod", {"rollout": {"progressive": True, "minSuccessRate": 101}},
     "rollout.minSuccessRate: 101 must be a percentage between 50 and 100"),
    ("prod", {"rollout": {"progressive": True, "maxLatencyMs": 0}}, "rollout.maxLatencyMs: 0 must be between 1"),
])
def test_each_scaling_rule_names_its_key(env: str, groups: dict[str, Any], expected: str) -> None:
    found = problems(env, **groups)
    assert any(p.startswith(f"mtls-platform:{expected}") for p in found), found


def test_thresholds_are_checked_only_with_progressive_delivery_on() -> None:
    cfg = build_config("prod", minimal_settings("prod", rollout={"progressive": False, "stepWeight": 0}))
    assert cfg.canary_step_weight == 0 and not cfg.progressive_enabled


def test_progressive_delivery_defaults_on_where_prometheus_runs_and_follows_monitoring_off() -> None:
    # No stack file sets rollout.progressive: these are the profiles' defaults.
    assert [s for s in STACKS if build_config(s, load_stack_settings(s)).progressive_enabled] == ["dev", "staging",
                                                                                                  "prod"]
    # A stack that turns monitoring off loses the profile's canaries with it; asking for them explicitly is an error.
    cfg = build_config("prod", minimal_settings("prod", monitoring={"enabled": False}))
    assert not cfg.monitoring_enabled and not cfg.progressive_enabled and not cfg.progressive_services
    assert any(p.startswith("mtls-platform:rollout.progressive: progressive canaries are analysed on Prometheus")
               for p in problems("prod", monitoring={"enabled": False}, rollout={"progressive": True}))


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_passes_and_keeps_the_band(stack: str) -> None:
    cfg = build_config(stack, load_stack_settings(stack))
    assert 0.5 <= cfg.scale_down_utilization <= 0.8
    assert cfg.autoscaler is not None and cfg.autoscaler.expander == "priority"
