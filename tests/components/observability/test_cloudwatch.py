"""CloudWatch: log groups, the container-logs add-on, metric filters + alarms, the encrypted topic and Slack delivery.

Patterns are checked against committed sample events (tests/fixtures/cloudwatch_log_samples.json) with a small
evaluator of the filter syntax (tests/helpers/cw_filter.py); the wiring is checked on every stack's offline plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit.model import Status
from components.observability import alarm_specs, container_logs, notifications
from components.observability.alarm_specs import LogAlarm
from components.shared.chart_values import flatten
from config import versions
from config.model import ConfigError
from config.profiles import PROFILES
from tests.conftest import ROOT, STACKS, TODAY, build_config, minimal_settings, plan_of
from tests.helpers.cw_filter import PatternError, compile_pattern, matches
from tools.audit_report.audit_report import audit_plan, mandatory_failures
from tools.chart_data import chart_keys
from tools.engine.mock_engine import Plan, Registration, run_stack
from tools.engine.plan_facts import dig, helm_chart

SAMPLES: dict[str, Any] = json.loads((ROOT / "tests/fixtures/cloudwatch_log_samples.json").read_text())
ALL_ALARMS: tuple[LogAlarm, ...] = (alarm_specs.control_plane_alarms("vault")
                                    + alarm_specs.application_alarms("vault", "cert-manager"))
ADDON_KEYS = ROOT / "tests/upstream_facts/chart_keys/amazon-cloudwatch-observability-6.4.0.txt"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ADDON = "aws:eks/addon:Addon"


def message(event: Any) -> str:
    return event if isinstance(event, str) else json.dumps(event)


# --- patterns (pure) -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alarm", ALL_ALARMS, ids=lambda a: a.key)
def test_every_pattern_matches_its_samples_and_ignores_the_benign_ones(alarm: LogAlarm) -> None:
    samples = SAMPLES[alarm.key]
    assert samples["match"] and samples["ignore"]
    for event in samples["match"]:
        assert matches(alarm.pattern, message(event)), (alarm.key, event)
    for event in samples["ignore"]:
        assert not matches(alarm.pattern, message(event)), (alarm.key, event)


def test_no_pattern_matches_another_alarms_samples_by_accident() -> None:
    for alarm in ALL_ALARMS:
        for other, samples in SAMPLES.items():
            if other in (alarm.key, "_comment") or {alarm.key, other} == {"k8s-api-unauthorized", "vault-pod-exec"}:
                continue
            for event in samples["match"]:
                assert not matches(alarm.pattern, message(event)), (alarm.key, other)


def test_patterns_are_well_formed_and_keys_unique() -> None:
    assert len({a.key for a in ALL_ALARMS}) == len(ALL_ALARMS) == 6
    assert set(SAMPLES) - {"_comment"} == {a.key for a in ALL_ALARMS}
    for alarm in ALL_ALARMS:
        compile_pattern(alarm.pattern)  # parses: balanced braces, no unparenthesised && / || mix
        assert alarm.pattern.count('"') % 2 == 0
        assert alarm.threshold >= 1 and alarm.period_seconds in (60, 300, 900)


def test_the_evaluator_can_fail() -> None:
    with pytest.raises(PatternError):
        compile_pattern('{ $.a = 1 && $.b = 2 || $.c = 3 }')
    assert not matches('{ $.code = 403 }', '{"code": "403"}')  # a string is not a number
    assert not matches('{ $.a = "x*" }', "not json")
    assert matches('{ $.a[1] = "*b*" }', '{"a": ["z", "abc"]}')


def test_pattern_builders_quote_strings_and_leave_numbers_bare() -> None:
    assert alarm_specs.eq("$.code", 403) == "$.code = 403"
    assert alarm_specs.contains("$.log", "x y") == '$.log = "*x y*"'
    assert alarm_specs.json_pattern(alarm_specs.any_of("a", "b")) == "{ (a) || (b) }"


# --- add-on configuration (pure) -----------------------------------------------------------------------------------

def test_addon_configuration_uses_only_keys_of_the_pinned_chart() -> None:
    known = chart_keys.load(ADDON_KEYS)
    assert ADDON_KEYS.read_text().startswith("# Source: github.com/aws-observability/helm-charts")
    for key in flatten(container_logs.addon_configuration()):
        # `agent.config` is free-form in the chart (the CloudWatch agent's own configuration file).
        assert key in known or key.startswith("agent.config."), key
    config = container_logs.addon_configuration()
    assert config["containerLogs"] == {"enabled": True}
    assert config["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"] == {
        "enhanced_container_insights": False}
    assert config["applicationSignals"] == {"enabled": False}


# --- per stack ------------------------------------------------------------------------------------------------------

def _topic(plan: Plan) -> Registration:
    return plan.one("aws:sns/topic:Topic")


@pytest.mark.parametrize("stack", STACKS)
def test_log_groups_are_encrypted_and_expire(stack: str) -> None:
    plan = plan_of(stack)
    logs_key = plan.one("aws:kms/key:Key", "keys-logs").outputs["arn"]
    days = PROFILES[stack].log_retention_days
    groups = {r.inputs.get("name"): r for r in plan.of_type(LOG_GROUP)}
    cluster = f"mtls-platform-{stack}"
    expected = {container_logs.log_group_name(cluster, k) for k in container_logs.LOG_GROUP_KINDS}
    if PROFILES[stack].container_logs_enabled:
        assert expected <= set(groups)
    else:
        assert not expected & set(groups)
    for name in expected & set(groups):
        assert groups[name].inputs["kmsKeyId"] == logs_key
        assert groups[name].inputs["retentionInDays"] == days


@pytest.mark.parametrize("stack", STACKS)
def test_container_logs_addon_is_pinned_with_its_own_irsa_role(stack: str) -> None:
    plan = plan_of(stack)
    addons = [r for r in plan.of_type(ADDON) if r.inputs.get("addonName") == container_logs.ADDON_NAME]
    if not PROFILES[stack].container_logs_enabled:
        assert addons == []
        return
    (addon,) = addons
    assert addon.inputs["addonVersion"] == versions.CLOUDWATCH_OBSERVABILITY_ADDON
    assert json.loads(addon.inputs["configurationValues"]) == container_logs.addon_configuration()
    role = plan.one("aws:iam/role:Role", "observability-containers-agent")
    assert addon.inputs["serviceAccountRoleArn"] == role.outputs["arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:amazon-cloudwatch:cloudwatch-agent" in trust.values()
    attached = plan.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "observability-containers-agent")
    assert attached.inputs["policyArn"].endswith(":iam::aws:policy/CloudWatchAgentServerPolicy")
    groups = {r.urn for r in plan.of_type(LOG_GROUP) if "/aws/containerinsights/" in str(r.inputs.get("name"))}
    assert groups <= set(addon.dependencies)  # the groups exist before Fluent Bit could auto-create them


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_watches_a_filter_and_notifies_the_topic(stack: str) -> None:
    plan = plan_of(stack)
    topic_arn = _topic(plan).outputs["arn"]
    expected = alarm_specs.control_plane_alarms("vault")
    if PROFILES[stack].container_logs_enabled:
        expected += alarm_specs.application_alarms("vault", "cert-manager")
    filters = {r.name.removeprefix("observability-alarms-"): r for r in plan.of_type(FILTER)}
    alarms = {r.name.removeprefix("observability-alarms-"): r for r in plan.of_type(ALARM)}
    assert set(filters) == set(alarms) == {a.key for a in expected}
    control_plane = plan.one(LOG_GROUP, "cluster-control-plane").inputs["name"]
    for spec in expected:
        f, a = filters[spec.key], alarms[spec.key]
        assert f.inputs["pattern"] == spec.pattern
        if spec.source == "control-plane":
            assert f.inputs["logGroupName"] == control_plane
        else:
            assert f.inputs["logGroupName"].endswith("/application")
        transform = f.inputs["metricTransformation"]
        assert (transform["name"], transform["namespace"], transform["value"]) == (
            a.inputs["metricName"], a.inputs["namespace"], "1")
        assert a.inputs["namespace"] == f"mtls-platform/{stack}"
        assert a.inputs["alarmActions"] == [topic_arn] and a.inputs["okActions"] == [topic_arn]
        assert a.inputs["treatMissingData"] == "notBreaching"
        assert a.inputs["statistic"] == "Sum" and a.inputs["threshold"] == spec.threshold
        assert a.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert f"docs/cloudwatch.md#{spec.key}" in a.inputs["alarmDescription"]


@pytest.mark.parametrize("stack", STACKS)
def test_topic_is_encrypted_with_a_key_cloudwatch_may_use(stack: str) -> None:
    plan = plan_of(stack)
    key = plan.one("aws:kms/key:Key", "observability-notify-key")
    assert _topic(plan).inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    (grant,) = [s for s in statements if s.get("Sid") == "CloudWatchAlarmsPublish"]
    assert grant["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert grant["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert grant["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert key.protect == PROFILES[stack].protect_resources
    assert plan.outputs["alarm_topic_arn"] == _topic(plan).outputs["arn"]
    assert plan.of_type("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration") == []  # not configured


@pytest.mark.parametrize("stack", STACKS)
def test_audit_passes_the_new_resources(stack: str) -> None:
    environment, findings = audit_plan(plan_of(stack), TODAY)
    ours = [f for f in findings if f.urn and "observability" in f.urn]
    assert {f.rule.id for f in ours if f.status is Status.PASS} >= {"kms-rotation", "kms-key-policy", "sns-kms"}
    # Sandbox/dev waive protection and 365-day retention (advisory there, as for every other resource).
    assert [f"{f.rule.id}: {f.message}" for f in mandatory_failures(ours, environment)] == []
    if environment in ("staging", "prod"):
        assert [f.rule.id for f in ours if f.status is Status.FAIL] == []


SLACK = {"slackTeamId": "T07EA123LEP", "slackChannelId": "C07EZ1ABC23"}


def _settings(**notifications_: Any) -> dict[str, str]:
    return minimal_settings("sandbox", cluster={"publicAccessCidrs": ["203.0.113.0/24"]}, notifications=notifications_)


_CONFIGURED: list[Plan] = []


def configured_sandbox() -> Plan:
    """A sandbox with Slack set and container logs switched on (one extra offline run, shared)."""
    if not _CONFIGURED:
        _CONFIGURED.append(run_stack("sandbox", config=_settings(**SLACK, containerLogs=True)))
    return _CONFIGURED[0]


def test_slack_delivery_when_configured_with_a_read_only_role() -> None:
    plan = configured_sandbox()
    slack = plan.one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration")
    assert (slack.inputs["slackTeamId"], slack.inputs["slackChannelId"]) == ("T07EA123LEP", "C07EZ1ABC23")
    assert slack.inputs["snsTopicArns"] == [_topic(plan).outputs["arn"]]
    assert slack.inputs["guardrailPolicyArns"] == ["arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess"]
    role = plan.one("aws:iam/role:Role", "observability-notify-chatbot")
    assert slack.inputs["iamRoleArn"] == role.outputs["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": ["chatbot.amazonaws.com"]}
    policy = json.loads(plan.one("aws:iam/rolePolicy:RolePolicy", "observability-notify-chatbot").inputs["policy"])
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert actions == notifications.CHATBOT_READ_ACTIONS
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions)
    # Chatbot's own log group exists first, encrypted and expiring, so Chatbot never creates a plain one.
    group = plan.one(LOG_GROUP, "observability-notify-chatbot")
    assert group.inputs["name"] == "/aws/chatbot/mtls-platform-sandbox-alarms"
    assert group.inputs["kmsKeyId"] == plan.one("aws:kms/key:Key", "keys-logs").outputs["arn"]
    assert group.inputs["retentionInDays"] == PROFILES["sandbox"].log_retention_days
    assert slack.inputs["loggingLevel"] == "ERROR" and group.urn in slack.dependencies


def test_container_logs_can_be_switched_on_in_the_sandbox() -> None:
    plan = configured_sandbox()
    assert len(plan.of_type(ALARM)) == 6
    assert [r for r in plan.of_type(ADDON) if r.inputs.get("addonName") == container_logs.ADDON_NAME]


@pytest.mark.parametrize(("given", "expected"), [
    ({"slackTeamId": "T07EA123LEP"}, r"mtls-platform:notifications\.slackChannelId: set slackTeamId and"),
    ({"slackChannelId": "C07EZ1ABC23"}, r"mtls-platform:notifications\.slackTeamId: set slackTeamId and"),
    ({**SLACK, "slackChannelId": "#alerts"}, r"mtls-platform:notifications\.slackChannelId: String should match"),
    ({"containerLogs": "yes"}, r"mtls-platform:notifications\.containerLogs"),
])
def test_bad_notifications_config_names_the_key(given: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        build_config("sandbox", _settings(**given))


def test_defaults_per_environment() -> None:
    assert {env: p.container_logs_enabled for env, p in PROFILES.items()} == {
        "sandbox": False, "dev": True, "staging": True, "prod": True}
    cfg = build_config("prod", minimal_settings("prod"))
    assert cfg.slack_team_id is None and cfg.slack_channel_id is None


def test_docs_explain_every_alarm() -> None:
    doc = Path(ROOT / "docs/cloudwatch.md").read_text()
    for alarm in ALL_ALARMS:
        assert f'<a id="{alarm.key}"></a>' in doc, alarm.key


@pytest.mark.parametrize("stack", STACKS)
def test_log_formats_the_patterns_read_are_the_ones_deployed(stack: str) -> None:
    """Vault's server log and cert-manager's controller log stay in their text formats (the patterns match text)."""
    releases = {helm_chart(r): r for r in plan_of(stack).of_type("kubernetes:helm.sh/v3:Release")}
    # vault-helm 0.34.1 server.logFormat "" = Vault's "standard" format; cert-manager v1.21.1 logs text by default.
    assert dig(releases["vault"].inputs, "values.server.logFormat", "") in ("", "standard")
    assert dig(releases["cert-manager"].inputs, "values.config.logging.format", "text") == "text"
