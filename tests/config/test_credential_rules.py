"""Config rules of the services' credentials from Vault: each bad combination is one problem naming its key."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from config.model import ConfigError, StackConfig
from config.rules import services as service_rules
from tests.conftest import build_config, minimal_settings


def problems(stack: str, config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config(stack, config)
    return [f"{p.key}: {p.rule}" for p in err.value.problems]


@pytest.mark.parametrize(("data", "expected"), [
    ({"postgresCredentialTtlHours": 12}, "data.postgresCredentialTtlHours: 12 h is longer than "
                                         "postgresCredentialMaxTtlHours (8 h)"),
    ({"postgresCredentialTtlHours": 0}, "data.postgresCredentialTtlHours: must be at least 1 hour"),
    ({"postgresCredentialMaxTtlHours": 721, "postgresCredentialTtlHours": 1},
     "data.postgresCredentialMaxTtlHours: 721 h exceeds the 30-day"),
    ({"cacheRotationDays": 31}, "data.cacheRotationDays: must be between 1 and 30 days"),
    ({"cacheRotationDays": 0}, "data.cacheRotationDays: must be between 1 and 30 days"),
])
def test_a_ttl_beyond_its_rotation_period_or_the_promise_is_one_named_error(data: dict[str, Any],
                                                                            expected: str) -> None:
    found = problems("prod", minimal_settings("prod", data=data))
    assert [p for p in found if p.startswith("mtls-platform:data.")] and \
        any(p.startswith(f"mtls-platform:{expected}") for p in found), found


def test_the_defaults_and_the_limits_themselves_are_accepted() -> None:
    cfg = build_config("prod", minimal_settings("prod", data={"postgresCredentialMaxTtlHours": 720,
                                                              "postgresCredentialTtlHours": 720,
                                                              "cacheRotationDays": 30}))
    assert (cfg.postgres_credential_ttl_hours, cfg.postgres_credential_max_ttl_hours) == (720, 720)
    default = build_config("prod", minimal_settings("prod"))
    assert (default.postgres_credential_ttl_hours, default.postgres_credential_max_ttl_hours,
            default.cache_rotation_days) == (1, 8, 30)


@dataclasses.dataclass(frozen=True)
class _WithoutBroker(StackConfig):
    """A stack that runs no ActiveMQ broker (the messaging choice without it)."""

    @property
    def data_services_run(self) -> frozenset[str]:
        return frozenset({"rds", "cache"})


def test_a_service_asking_for_a_data_service_the_stack_does_not_run_is_named() -> None:
    cfg = build_config("prod", minimal_settings("prod"))
    assert list(service_rules.data_services_run(cfg)) == []  # every stack runs all three today
    without = _WithoutBroker(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})
    found = [(p.key, p.rule) for p in service_rules.data_services_run(without)]
    # The default catalog: order-processing [rds, mq], inventory-management [rds, mq], analytics [mq].
    assert sorted(k for k, _ in found) == [
        "mtls-platform:services.analytics.dataServices[0]",
        "mtls-platform:services.inventory-management.dataServices[1]",
        "mtls-platform:services.order-processing.dataServices[1]",
    ]
    assert all("'mq' is not run by this stack" in rule for _, rule in found)
