"""Metric filters on the platform's log groups and one CloudWatch alarm per filter, each notifying the alarm topic.

The patterns and thresholds are pure data (`alarm_specs`); this component only registers them: a filter turns every
matching log event into a count of 1 on a per-stack metric, the alarm sums that count per period and notifies the
topic on ALARM and again on OK. No events means no data, which is the healthy state: missing data is not breaching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.observability.alarm_specs import LogAlarm, LogSource


@dataclass(frozen=True)
class LogAlarmsArgs:
    alarms: Sequence[LogAlarm]
    log_groups: Mapping[LogSource, pulumi.Input[str]]  # source -> log group name (an Output: the group exists first)
    topic_arn: pulumi.Input[str]
    metric_namespace: str  # per stack, so two stacks in one account never share a metric
    alarm_name_prefix: str


class LogAlarms(pulumi.ComponentResource):
    """One `LogMetricFilter` + `MetricAlarm` pair per alarm spec whose log group exists in this stack."""

    def __init__(self, name: str, args: LogAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:observability:LogAlarms", name, None, opts)
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for spec in args.alarms:
            group = args.log_groups.get(spec.source)
            if group is not None:
                self.alarms[spec.key] = self._pair(name, spec, group, args)
        self.register_outputs({"alarms": sorted(self.alarms)})

    def _pair(self, name: str, spec: LogAlarm, group: pulumi.Input[str],
              args: LogAlarmsArgs) -> aws.cloudwatch.MetricAlarm:
        metric_filter = aws.cloudwatch.LogMetricFilter(
            f"{name}-{spec.key}", log_group_name=group, pattern=spec.pattern,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=spec.metric_name, namespace=args.metric_namespace, value="1", unit="Count"),
            opts=pulumi.ResourceOptions(parent=self))
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.key}", name=f"{args.alarm_name_prefix}-{spec.key}",
            alarm_description=f"{spec.description}. First response: docs/cloudwatch.md#{spec.key}",
            namespace=args.metric_namespace, metric_name=spec.metric_name, statistic="Sum",
            period=spec.period_seconds, evaluation_periods=spec.evaluation_periods, threshold=spec.threshold,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
            alarm_actions=[args.topic_arn], ok_actions=[args.topic_arn],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[metric_filter]))
