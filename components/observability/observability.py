"""The operations layer's CloudWatch side: alarm topic (+ Slack), container logs, and log-based alarms.

Control-plane alarms (Kubernetes audit log) exist in every stack: their log group always does, and they cost cents.
Container logs - the add-on's agents on every node plus ingestion of every container's output - are the heavy part,
switched by `notifications.containerLogs` (off by default in sandbox only); the Vault and cert-manager alarms read
those logs, so they come and go with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.cluster.cluster import Cluster
from components.observability.alarm_specs import LogSource, application_alarms, control_plane_alarms
from components.observability.container_logs import ContainerLogs, ContainerLogsArgs
from components.observability.log_alarms import LogAlarms, LogAlarmsArgs
from components.observability.notifications import Notifications, NotificationsArgs
from components.shared.encryption_keys import EncryptionKeys
from config.model import StackConfig
from config.names import CERT_MANAGER_NAMESPACE, VAULT_NAMESPACE

# The namespaces the mesh layer installs Vault and cert-manager into (components/mesh/mesh.py).


@dataclass(frozen=True)
class ObservabilityArgs:
    config: StackConfig
    cluster: Cluster
    keys: EncryptionKeys


class Observability(pulumi.ComponentResource):
    """Notifications + ContainerLogs (optional) + LogAlarms."""

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:observability:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cfg, cluster = args.config, args.cluster
        self.notifications = Notifications(f"{name}-notify", NotificationsArgs(
            aws_context=cluster.aws_context, name_prefix=cfg.name_prefix, protect=cfg.protect_resources,
            slack_team_id=cfg.slack_team_id, slack_channel_id=cfg.slack_channel_id, logs_key_arn=args.keys.logs.arn,
            log_retention_days=cfg.log_retention_days), child)
        log_groups: dict[LogSource, pulumi.Input[str]] = {"control-plane": cluster.control_plane_log_group.name}
        alarms = control_plane_alarms(VAULT_NAMESPACE)
        self.container_logs: ContainerLogs | None = None
        if cfg.container_logs_enabled:
            self.container_logs = ContainerLogs(f"{name}-containers", ContainerLogsArgs(
                cluster=cluster, cluster_name=cfg.cluster_name, logs_key_arn=args.keys.logs.arn,
                retention_days=cfg.log_retention_days), child)
            log_groups["application"] = self.container_logs.application_log_group.name
            alarms += application_alarms(VAULT_NAMESPACE, CERT_MANAGER_NAMESPACE)
        self.log_alarms = LogAlarms(f"{name}-alarms", LogAlarmsArgs(
            alarms=alarms, log_groups=log_groups, topic_arn=self.notifications.topic.arn,
            metric_namespace=f"mtls-platform/{cfg.stack}", alarm_name_prefix=cfg.name_prefix), child)
        self.topic_arn = self.notifications.topic.arn
        self.register_outputs({"alarm_topic_arn": self.topic_arn})
