"""Config rules of the `protection` group: stateful resources protected in HA environments, snapshot retention."""

from __future__ import annotations

from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.schema import key


def protection(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.is_ha and not cfg.protect_resources:
        yield Problem(key("protection.protectResources"),
            f"{cfg.environment} protects stateful resources from deletion")
    if not 7 <= cfg.vault_backup_retention_days <= 3650:
        yield Problem(key("protection.vaultBackupRetentionDays"), "must be between 7 and 3650 days")
