"""Container logs to CloudWatch: the `amazon-cloudwatch-observability` EKS add-on (Fluent Bit + CloudWatch agent).

Every container's stdout/stderr - Vault's audit log and cert-manager's controller log among them - lands in the
Container Insights `application` log group, where `LogAlarms` watches it. The add-on's log groups are created here
first, with the logs key and the stack's retention, so Fluent Bit finds them and never auto-creates an unencrypted
group that keeps logs forever. Container Insights *enhanced* observability and Application Signals are turned off:
the logs are what the platform needs, the per-observation metrics and traces are cost nobody reads yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from components.cluster.cluster import Cluster
from config import versions
from config.names import CLOUDWATCH_NAMESPACE as NAMESPACE

ADDON_NAME: Final = "amazon-cloudwatch-observability"
# The chart's service account (`cloudwatch-agent.name`), used by both the agent and the Fluent Bit DaemonSet, in the
# add-on's namespace. Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html
# (IRSA / Pod Identity: serviceAccount=cloudwatch-agent, namespace amazon-cloudwatch) and
# https://github.com/aws-observability/helm-charts/blob/93a934e8ccfa228fda6a5f653c3da59c5546afcf/charts/amazon-cloudwatch-observability/templates/linux/fluent-bit-daemonset.yaml
# (serviceAccountName: cloudwatch-agent.serviceAccountName; hostNetwork: true, so the IMDS hop limit of 1 does not
# cut it off; AWS_REGION and CLUSTER_NAME come from the chart's `region` / `clusterName`, which EKS fills in).
SERVICE_ACCOUNT: Final = "cloudwatch-agent"
# Fluent Bit writes application/dataplane/host (chart values.yaml, `log_group_name` of each [OUTPUT]); the agent
# writes Container Insights performance events to `performance`.
# Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference-performance-logs-EKS.html
LOG_GROUP_KINDS: Final = ("application", "dataplane", "host", "performance")


def log_group_name(cluster_name: str, kind: str) -> str:
    return f"/aws/containerinsights/{cluster_name}/{kind}"


def addon_configuration() -> dict[str, Any]:
    """The add-on's configuration values (a subset of the chart's values.yaml, key list in
    tests/upstream_facts/chart_keys/)."""
    return {
        "containerLogs": {"enabled": True},
        # `agent.config` replaces the agent's default configuration; this is the documented opt-out of enhanced
        # observability, which keeps the standard Container Insights metrics (from the performance log group).
        # Ref: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/install-CloudWatch-Observability-EKS-addon.html
        # ("enhanced_container_insights": false)
        "agent": {"config": {"logs": {"metrics_collected": {"kubernetes": {"enhanced_container_insights": False}}}}},
        # Application Signals would auto-instrument the application's pods; the mesh already gives golden metrics.
        "applicationSignals": {"enabled": False},
    }


@dataclass(frozen=True)
class ContainerLogsArgs:
    cluster: Cluster
    cluster_name: str  # the literal name: it is part of the log group names
    logs_key_arn: pulumi.Input[str]  # the platform's CloudWatch Logs CMK
    retention_days: int


class ContainerLogs(pulumi.ComponentResource):
    """Pre-created Container Insights log groups + the add-on and its IRSA role."""

    def __init__(self, name: str, args: ContainerLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:observability:ContainerLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.cluster.aws_context
        self.log_groups = {
            kind: aws.cloudwatch.LogGroup(
                f"{name}-{kind}", name=log_group_name(args.cluster_name, kind),
                retention_in_days=args.retention_days, kms_key_id=args.logs_key_arn, opts=child)
            for kind in LOG_GROUP_KINDS
        }
        self.application_log_group = self.log_groups["application"]
        self.role = args.cluster.irsa_role(f"{name}-agent", NAMESPACE, SERVICE_ACCOUNT, parent=self)
        # The managed policy the add-on docs attach: PutLogEvents/PutMetricData and the describes the agent needs.
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-agent", role=self.role.name,
            policy_arn=f"arn:{ctx.partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
            opts=pulumi.ResourceOptions(parent=self.role))
        self.addon = aws.eks.Addon(
            f"{name}-addon", cluster_name=args.cluster.cluster_name, addon_name=ADDON_NAME,
            addon_version=versions.CLOUDWATCH_OBSERVABILITY_ADDON,
            service_account_role_arn=self.role.arn,
            configuration_values=json.dumps(addon_configuration(), sort_keys=True),
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[
                *self.log_groups.values(), attachment, *args.cluster.nodes_ready]))
        self.register_outputs({"application_log_group": self.application_log_group.name,
                               "role_arn": self.role.arn})
