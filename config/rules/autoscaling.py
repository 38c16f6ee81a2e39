"""Config rules of the `autoscaling` group: Cluster Autoscaler's scale-down band and timing, and the HPAs' request
rate target (docs/autoscaling.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.schema import key


def autoscaling(cfg: StackConfig) -> Iterator[Problem]:
    if not 0.5 <= cfg.scale_down_utilization <= 0.8:
        yield Problem(key("autoscaling.scaleDownUtilization"), f"{cfg.scale_down_utilization:g} must lie in the "
                      "50-80 % band (0.5-0.8): lower keeps half-empty nodes, higher drains nodes the HPAs fill")
    if not 1 <= cfg.scale_down_unneeded_minutes <= 60:
        yield Problem(key("autoscaling.scaleDownUnneededMinutes"),
                      f"{cfg.scale_down_unneeded_minutes} must be between 1 and 60 minutes")
    if not 1 <= cfg.requests_per_pod <= 10_000:
        yield Problem(key("autoscaling.requestsPerPod"), f"{cfg.requests_per_pod:g} must be between 1 and 10000 "
                      "requests per second per pod")
