"""Amazon MQ for ActiveMQ: the platform's message broker, private in the isolated subnets.

ActiveMQ rather than RabbitMQ because only ActiveMQ brokers encrypt at rest with a customer key (see versions.py).
The broker is never publicly accessible, listens only on TLS endpoints, publishes its general and audit logs to
CloudWatch, and runs active/standby across two zones where the stack asks for Multi-AZ. Its one user's password is
generated (without the characters Amazon MQ rejects) and kept in a Secrets Manager secret under the data key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pulumi
import pulumi_aws as aws

from components.data.placement import PasswordRules, Placement, stored_credential
from components.shared import iam_documents
from components.shared.aws_context import AwsContext
from config.versions import ACTIVEMQ_ENGINE_VERSION

DeploymentMode = Literal["SINGLE_INSTANCE", "ACTIVE_STANDBY_MULTI_AZ"]
USERNAME: Final = "platform"  # ActiveMQ usernames: 2-100 of [A-Za-z0-9-._~]
# ActiveMQ passwords: at least 12 characters, 4 unique, and no comma, colon or equal sign (",:=").
# Ref: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-amazonmq-broker-user.html
PASSWORD_RULES: Final = PasswordRules(length=32, special="!#$%&*()-_+[]{}<>?.~^")
MAINTENANCE_WINDOW: Final[aws.mq.BrokerMaintenanceWindowStartTimeArgsDict] = {
    "day_of_week": "SUNDAY", "time_of_day": "04:30", "time_zone": "UTC"}


def deployment_mode(multi_az: bool) -> DeploymentMode:
    return "ACTIVE_STANDBY_MULTI_AZ" if multi_az else "SINGLE_INSTANCE"


def subnet_count(mode: DeploymentMode) -> int:
    """Amazon MQ wants exactly one subnet for a single instance and two (in two zones) for active/standby."""
    # Ref: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/amazon-mq-broker-architecture.html
    return 2 if mode == "ACTIVE_STANDBY_MULTI_AZ" else 1


def openwire_url(endpoints: Sequence[Sequence[str]]) -> str:
    """The OpenWire (TLS) URL clients use: the one endpoint, or a failover URL over the active/standby pair."""
    # Ref: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/active-standby-broker-deployment.html
    urls = [url for instance in endpoints for url in instance if url.startswith("ssl://")]
    if not urls:
        raise ValueError(f"the broker reported no OpenWire (ssl://) endpoint: {list(endpoints)}")
    return urls[0] if len(urls) == 1 else f"failover:({','.join(urls)})"


def log_delivery_policy(ctx: AwsContext) -> iam_documents.Document:
    """Lets Amazon MQ write broker logs into this account's /aws/amazonmq/ groups, and only for its own brokers."""
    # Ref: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/configure-logging-monitoring-activemq.html
    # (resource-based policy, and the confused-deputy conditions)
    return iam_documents.document({
        "Sid": "AmazonMqLogs",
        "Effect": "Allow",
        "Principal": {"Service": "mq.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": ctx.arn("logs", "log-group:/aws/amazonmq/*"),
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ctx.account_id},
            "ArnLike": {"aws:SourceArn": ctx.arn("mq", "broker:*")},
        },
    })


@dataclass(frozen=True)
class MessageBrokerArgs:
    placement: Placement
    aws_context: AwsContext  # account and region for the log delivery policy
    name_prefix: str  # physical names: the broker, its log policy, the secret's description
    instance_type: str  # data.mqInstanceType
    multi_az: bool  # data.mqMultiAz: active/standby over two zones
    protect: bool


class MessageBroker(pulumi.ComponentResource):
    """One ActiveMQ broker, its generated credential and the policy that lets it publish logs."""

    endpoint: pulumi.Output[str]  # ssl://host:61617, or failover:(ssl://a:61617,ssl://b:61617)
    secret_arn: pulumi.Output[str]  # {"username": ..., "password": ...}

    def __init__(self, name: str, args: MessageBrokerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:data:MessageBroker", name, None, opts)
        where = args.placement
        protect = args.protect
        mode = deployment_mode(args.multi_az)

        # Account-wide (a log group per broker is created by Amazon MQ, named after the broker id). Must exist
        # before the broker starts, or Amazon MQ silently publishes nothing.
        log_policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-logs", policy_name=f"{args.name_prefix}-amazonmq-logs",
            policy_document=pulumi.Output.json_dumps(log_delivery_policy(args.aws_context)),
            opts=pulumi.ResourceOptions(parent=self))
        credential = stored_credential(
            f"{name}-credentials", f"{args.name_prefix} Amazon MQ user (username, password)", PASSWORD_RULES,
            lambda password: {"username": USERNAME, "password": password},
            where.data_key_arn, self, protect)

        count = subnet_count(mode)  # the placement lists every isolated subnet; take the first one or two
        self.broker = aws.mq.Broker(
            name,
            engine_type="ActiveMQ",
            engine_version=ACTIVEMQ_ENGINE_VERSION,
            auto_minor_version_upgrade=True,
            host_instance_type=args.instance_type,
            deployment_mode=mode,
            subnet_ids=pulumi.Output.from_input(where.subnet_ids).apply(lambda ids: list(ids)[:count]),
            security_groups=[where.security_group_id],
            publicly_accessible=False,
            encryption_options={"use_aws_owned_key": False, "kms_key_id": where.data_key_arn},
            authentication_strategy="simple",
            users=[{"username": USERNAME, "password": credential.password, "console_access": False}],
            logs={"general": True, "audit": True},
            maintenance_window_start_time=MAINTENANCE_WINDOW,
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[log_policy],
                                        additional_secret_outputs=["users"]),
        )
        self.endpoint = self.broker.instances.apply(
            lambda instances: openwire_url([i.endpoints or [] for i in instances]))
        self.secret_arn = credential.secret_arn
        self.register_outputs({"endpoint": self.endpoint, "secret_arn": self.secret_arn})
