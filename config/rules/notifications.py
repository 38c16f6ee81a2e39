"""Config rules of the `notifications` group: AWS Chatbot's Slack workspace and channel, both or neither."""

from __future__ import annotations

from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.schema import key


def notifications(cfg: StackConfig) -> Iterator[Problem]:
    team, channel = cfg.slack_team_id, cfg.slack_channel_id
    if bool(team) != bool(channel):
        missing = key("notifications.slackChannelId") if team else key("notifications.slackTeamId")
        yield Problem(missing, "set slackTeamId and slackChannelId together (Slack delivery needs both), "
                                    "or neither (alarms then reach the SNS topic only)")
