"""The credential report's judgement: per service with a Vault role, are its credentials live and fresh?

Pure: it reads Vault through the `VaultReader` protocol (vault_side.py implements it with the report's own narrow
token) and takes the running pods per service and `now` as arguments, so every verdict is tested without a clock
(tests/components/vault/test_credential_report.py) and the Vault paths against a real OpenBao
(test_credential_report_openbao.py). The result is one JSON document (`Report.to_json`), which main.py writes to the
status ConfigMap `vault/credential-report` and `make verify`'s `vault-leases` rows read (tools/verify/leases.py).

PostgreSQL (dynamic role `postgres-<svc>`): the live leases under `<mount>/creds/postgres-<svc>/`; a service with
running pods and no live lease fails (its pods hold no credential Vault knows of), and so does a lease older than
the role's max TTL plus a grace (Vault ends every lease at its max TTL: an older one means revocation is failing).
Cache (static role `cache-<svc>`): the last rotation must be younger than the rotation period plus a grace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from components.vault.bootstrap.app_secrets import cache_role, postgres_role

STATUS_CONFIGMAP: Final = "credential-report"  # in `vault`; written by main.py, read by `make verify`
REPORT_KEY: Final = "report.json"  # the status ConfigMap's one key
VERSION: Final = 1
OK: Final = "ok"
FAIL: Final = "fail"


@dataclass(frozen=True)
class ServiceTarget:
    """One service with a Vault role and the credentials Vault hands it (app_secrets.credential_paths)."""

    name: str
    postgres: bool = False
    cache: bool = False


@dataclass(frozen=True)
class Settings:
    services: tuple[ServiceTarget, ...]
    postgres_max_ttl_s: int  # data.postgresCredentialMaxTtlHours: no lease may live longer
    database_path: str = "database"
    interval_s: int = 900  # the CronJob's schedule: `make verify` calls a report older than two of these stale
    # Vault revokes an expired lease within seconds, retrying for a while when the database refuses; a static role
    # rotates within seconds of its period. One hour is far beyond both and well inside any promise made.
    grace_s: int = 3600


@dataclass(frozen=True)
class Lease:
    lease_id: str
    issue_time: datetime
    expire_time: datetime | None  # None: no expiry (never the case for database credentials)


@dataclass(frozen=True)
class StaticRole:
    last_vault_rotation: datetime | None  # None: Vault has never rotated it
    rotation_period_s: int


class VaultReader(Protocol):
    """What the report reads from Vault: lease metadata and static-role metadata, never a credential."""

    def lease_ids(self, prefix: str) -> list[str]:
        """The full ids of the leases under `prefix` (`database/creds/postgres-<svc>/`); [] when there are none."""

    def lease(self, lease_id: str) -> Lease | None:
        """One lease's times; None when it ended between listing and lookup."""

    def static_role(self, name: str) -> StaticRole | None:
        """The static role's rotation metadata; None when the role does not exist."""


@dataclass(frozen=True)
class ServiceResult:
    service: str
    status: str
    reasons: tuple[str, ...]
    running_pods: int
    postgres: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None


@dataclass(frozen=True)
class Report:
    generated: datetime
    interval_s: int
    services: tuple[ServiceResult, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        return FAIL if any(s.status == FAIL for s in self.services) else OK

    def to_json(self) -> str:
        return json.dumps({
            "version": VERSION, "generated": iso(self.generated), "intervalSeconds": self.interval_s,
            "status": self.status,
            "services": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items() if v is not None}
                         for s in self.services],
        }, sort_keys=True)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_time(text: str) -> datetime | None:
    """Vault's RFC 3339 times (nanoseconds, `Z` or an offset) as aware datetimes; "" or Go's zero time -> None."""
    if not text or text.startswith("0001-01-01"):
        return None
    value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00")))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def check_postgres(settings: Settings, vault: VaultReader, service: str, running: int,
                   now: datetime) -> tuple[list[str], dict[str, Any]]:
    prefix = f"{settings.database_path}/creds/{postgres_role(service)}/"
    leases = [lease for lease in (vault.lease(i) for i in vault.lease_ids(prefix)) if lease is not None]
    live = [lease for lease in leases if lease.expire_time is None or lease.expire_time > now]
    stale = [lease for lease in leases if lease not in live]
    oldest = max(((now - lease.issue_time).total_seconds() for lease in leases), default=0.0)
    facts = {"leases": len(live), "oldestAgeSeconds": int(oldest), "maxTtlSeconds": settings.postgres_max_ttl_s}
    reasons = []
    if running and not live:
        reasons.append(f"{running} running pod(s) but no live PostgreSQL credential ({postgres_role(service)})")
    if oldest > settings.postgres_max_ttl_s + settings.grace_s:
        reasons.append(f"a PostgreSQL lease is {_hours(oldest)} old, beyond the role's max TTL of "
                       f"{_hours(settings.postgres_max_ttl_s)}: Vault is failing to revoke it")
    elif stale and any((now - lease.expire_time).total_seconds() > settings.grace_s
                       for lease in stale if lease.expire_time is not None):
        reasons.append(f"{len(stale)} PostgreSQL lease(s) past their expiry and not revoked")
    return reasons, facts


def check_cache(settings: Settings, vault: VaultReader, service: str,
                now: datetime) -> tuple[list[str], dict[str, Any]]:
    role = vault.static_role(cache_role(service))
    if role is None:
        return [f"static role {cache_role(service)} does not exist"], {}
    facts: dict[str, Any] = {"rotationPeriodSeconds": role.rotation_period_s}
    if role.last_vault_rotation is None:
        return [f"static role {cache_role(service)} was never rotated by Vault"], facts
    age = (now - role.last_vault_rotation).total_seconds()
    facts.update(lastRotation=iso(role.last_vault_rotation), ageSeconds=int(age))
    if age > role.rotation_period_s + settings.grace_s:
        return [f"cache password last rotated {_hours(age)} ago, its period is {_hours(role.rotation_period_s)}: "
                "the rotation is overdue"], facts
    return [], facts


def build_report(settings: Settings, vault: VaultReader, running_pods: Mapping[str, int],
                 now: datetime) -> Report:
    """One result per service; a service fails when any of its credentials does."""
    results = []
    for target in sorted(settings.services, key=lambda s: s.name):
        running = int(running_pods.get(target.name, 0))
        reasons: list[str] = []
        postgres = cache = None
        if target.postgres:
            found, postgres = check_postgres(settings, vault, target.name, running, now)
            reasons += found
        if target.cache:
            found, cache = check_cache(settings, vault, target.name, now)
            reasons += found
        results.append(ServiceResult(target.name, FAIL if reasons else OK, tuple(reasons), running, postgres, cache))
    return Report(now, settings.interval_s, tuple(results))


def running_pods_by_service_account(pods: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Running pods per service account (= per service: the Vault role binds the account, whatever the pod's name,
    so a progressive canary's `-primary` pods count as their service's)."""
    counts: dict[str, int] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        counts[account] = counts.get(account, 0) + 1
    return counts


def settings_from_json(text: str) -> Settings:
    data = json.loads(text)
    return Settings(services=tuple(ServiceTarget(**s) for s in data.pop("services")), **data)


def settings_to_json(settings: Settings) -> str:
    return json.dumps(asdict(settings), sort_keys=True)
