"""The credential report's Vault side: `report.VaultReader` over hvac with the report's own token.

The CronJob logs in through Kubernetes auth with its projected, audience-bound service-account token (`login`); a
token carrying any other policy than the report's - a root token above all - is refused before any request is made.
The operations are exactly those of `spec.report_policy`: list leases under the database engine's creds/, look one
up, read a static role's metadata. None of them returns a credential.
"""

from __future__ import annotations

from typing import Any

import hvac
import hvac.exceptions

from components.vault.bootstrap.api import (
    VaultBootstrapError,
    kubernetes_login,
    require_only_policy,
    vault_data,
    vault_list,
    vault_step,
)
from components.vault.bootstrap.spec import BootstrapSpec
from components.vault.credential_report.report import Lease, StaticRole, parse_time


class ReportVaultError(VaultBootstrapError):
    """A Vault call of the credential report failed; the message names the step, never a token."""


def login(client: hvac.Client, spec: BootstrapSpec, jwt: str) -> None:
    """Kubernetes auth login as the report's role; refuses a token with any other policy set."""
    kubernetes_login(client, "credential report", spec.kubernetes_auth_path, spec.report_role, spec.report_policy, jwt,
                     ReportVaultError)


def require_report_token(spec: BootstrapSpec, policies: list[str]) -> None:
    require_only_policy("credential report", policies, spec.report_policy, ReportVaultError)


class HvacReportVault:
    """report.VaultReader over hvac. The client holds the report's token (`login`)."""

    def __init__(self, client: hvac.Client, spec: BootstrapSpec) -> None:
        self.client, self.spec = client, spec

    def lease_ids(self, prefix: str) -> list[str]:
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/leases#list-leases (LIST
        # sys/leases/lookup/:prefix answers the ids below the prefix, a 404 when there are none)
        with vault_step(f"credential report: list leases {prefix}", self.client.url):
            try:
                keys = vault_list(self.client, f"sys/leases/lookup/{prefix}").get("keys") or []
            except hvac.exceptions.InvalidPath:
                return []
        return [f"{prefix}{key}" for key in keys if not str(key).endswith("/")]

    def lease(self, lease_id: str) -> Lease | None:
        # Ref: https://developer.hashicorp.com/vault/api-docs/system/leases#read-lease (PUT sys/leases/lookup:
        # id, issue_time, expire_time, last_renewal, renewable, ttl)
        with vault_step("credential report: look up a lease", self.client.url):
            try:
                data: dict[str, Any] = vault_data(self.client.write_data("sys/leases/lookup",
                                                                         data={"lease_id": lease_id}))
            except hvac.exceptions.InvalidRequest:  # "invalid lease": it ended since the listing
                return None
        issued = parse_time(str(data.get("issue_time") or ""))
        if issued is None:
            return None
        return Lease(lease_id, issued, parse_time(str(data.get("expire_time") or "")))

    def static_role(self, name: str) -> StaticRole | None:
        # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases#read-static-role
        with vault_step(f"credential report: read static role {name}", self.client.url):
            try:
                answer = self.client.read(f"{self.spec.database_path}/static-roles/{name}")  # type: ignore[no-untyped-call]
            except hvac.exceptions.InvalidPath:
                return None
        if not answer:
            return None
        data = answer.get("data") or {}
        return StaticRole(parse_time(str(data.get("last_vault_rotation") or "")), int(data.get("rotation_period") or 0))
