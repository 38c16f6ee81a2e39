"""Where alarms go: a KMS-encrypted SNS topic and, when a Slack channel is configured, its delivery to Slack.

The topic has its own customer key because CloudWatch alarms can publish to an encrypted topic only when the key
policy lets the `cloudwatch.amazonaws.com` principal use the key; a dedicated key keeps that grant off the keys that
protect logs, secrets and data. Slack delivery is AWS Chatbot ("Amazon Q Developer in chat applications"), which
subscribes to the topic itself: the channel gets the alarm cards, the role behind it can only read CloudWatch.
Without `notifications.slackTeamId` / `slackChannelId` the topic still exists (alarms keep their state and history)
and the program warns that nobody is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components.shared import iam_documents
from components.shared.aws_context import AwsContext
from components.shared.encryption_keys import customer_key

# What Chatbot's "Notification permissions" template grants: enough to render an alarm card, nothing to change.
# Ref: https://docs.aws.amazon.com/chatbot/latest/adminguide/chatbot-iam-iam_documents.html (notification permissions)
CHATBOT_READ_ACTIONS: Final = ["cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"]
# Guardrail: the most any channel member can do through the channel (the default would be AdministratorAccess).
# Ref: https://docs.aws.amazon.com/chatbot/latest/adminguide/understanding-permissions.html (channel guardrails)
CHATBOT_GUARDRAIL_POLICY: Final = "CloudWatchReadOnlyAccess"
# Chatbot writes its own delivery log to /aws/chatbot/<configuration name> in us-east-1, creating the group (no key,
# never expires) on first use. Ref: https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_chatbot-readme.html
# ("Log Group"). In us-east-1 stacks the program creates that group first (logs key, stack retention) and keeps
# error logging; elsewhere it would need a second provider for one log group, so logging is off there.
CHATBOT_LOG_REGION: Final = "us-east-1"


def alarms_key_statement(account_id: pulumi.Input[str]) -> iam_documents.Document:
    """Lets CloudWatch alarms (of this account) encrypt messages for the topic."""
    # Ref: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    return {
        "Sid": "CloudWatchAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def chatbot_role_policy() -> iam_documents.Document:
    return iam_documents.document(iam_documents.allow(CHATBOT_READ_ACTIONS, ["*"], sid="ReadAlarmsForNotifications"))


@dataclass(frozen=True)
class NotificationsArgs:
    aws_context: AwsContext
    name_prefix: str  # key alias and Chatbot configuration name
    protect: bool
    slack_team_id: str | None  # Slack workspace authorised in the Chatbot console (T...)
    slack_channel_id: str | None  # channel to post into (C... or G...)
    logs_key_arn: pulumi.Input[str]  # for Chatbot's delivery log group
    log_retention_days: int


class Notifications(pulumi.ComponentResource):
    """Encrypted alarm topic + optional Slack delivery."""

    def __init__(self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:observability:Notifications", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws_context
        self.key = customer_key(f"{name}-key", "SNS alarm topic", f"{args.name_prefix}-notifications", ctx, child,
                                args.protect, [alarms_key_statement(ctx.account_id)])
        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=self.key.arn, opts=child)
        self.slack: aws.chatbot.SlackChannelConfiguration | None = None
        if args.slack_team_id and args.slack_channel_id:
            self.slack = self._slack(name, args)
        else:
            pulumi.log.warn("notifications.slackTeamId / slackChannelId are not set: alarms go to the SNS topic "
                            "only and nobody is notified (see docs/cloudwatch.md)", resource=self)
        self.register_outputs({"topic_arn": self.topic.arn})

    def _slack(self, name: str, args: NotificationsArgs) -> aws.chatbot.SlackChannelConfiguration:
        ctx = args.aws_context
        configuration_name = f"{args.name_prefix}-alarms"
        logs: list[pulumi.Resource] = []
        if ctx.region == CHATBOT_LOG_REGION:
            logs.append(aws.cloudwatch.LogGroup(
                f"{name}-chatbot", name=f"/aws/chatbot/{configuration_name}", kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days, opts=pulumi.ResourceOptions(parent=self)))
        role = aws.iam.Role(f"{name}-chatbot", description="Chatbot: read-only alarm notifications to Slack",
                            assume_role_policy=pulumi.Output.json_dumps(iam_documents.service_trust("chatbot.amazonaws.com")),
                            opts=pulumi.ResourceOptions(parent=self))
        read = aws.iam.RolePolicy(f"{name}-chatbot", role=role.id,
                                  policy=pulumi.Output.json_dumps(chatbot_role_policy()),
                                  opts=pulumi.ResourceOptions(parent=role))
        return aws.chatbot.SlackChannelConfiguration(
            f"{name}-slack", configuration_name=configuration_name, iam_role_arn=role.arn,
            slack_team_id=str(args.slack_team_id), slack_channel_id=str(args.slack_channel_id),
            sns_topic_arns=[self.topic.arn],
            guardrail_policy_arns=[f"arn:{ctx.partition}:iam::aws:policy/{CHATBOT_GUARDRAIL_POLICY}"],
            logging_level="ERROR" if logs else "NONE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[read, *logs]))
