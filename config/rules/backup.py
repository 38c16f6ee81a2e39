"""Config rules of the `backup` group: a cron schedule, DR replication to another region (required in prod), Velero
in the sandbox only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.rules.common import REGION
from config.schema import key

_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def backup(cfg: StackConfig) -> Iterator[Problem]:
    fields = cfg.backup_schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        yield Problem(key("backup.schedule"),
            f"{cfg.backup_schedule!r} must be a 5-field cron schedule such as '17 3 * * *'")
    if cfg.environment == "prod" and not cfg.backup_dr_replication:
        yield Problem(key("backup.drReplication"),
                      "prod replicates Vault snapshots to a DR region (customer requirement)")
    if cfg.backup_dr_replication:
        region = cfg.dr_region
        if not REGION.match(region):
            yield Problem(key("backup.drRegion"),
                f"drReplication needs an AWS region such as us-west-2 (got {region!r}; "
                f"{cfg.region!r} has no default DR region)")
        elif region == cfg.region:
            yield Problem(key("backup.drRegion"), f"{region} is the stack's own region; a DR copy must live elsewhere")
    if cfg.velero_enabled and cfg.environment != "sandbox":
        yield Problem(key("backup.veleroEnabled"),
            f"Velero is optional and sandbox-only (the client declined it), not for "
            f"{cfg.environment}")
