"""The credential report against real servers: the bootstrap writes the report's role and policy into OpenBao 2.7.2
(with PostgreSQL and redis-server behind the database engine, tests/helpers/data_engines.py), and the report's own
code (components/vault/credential_report) runs with the report role's own token, logged in as the CronJob's service
account with its audience. `now` is always derived from the times OpenBao reports, never the wall clock.

One module-scoped world, the application-secrets tests' (`world` of test_app_secrets_openbao.py, started again
here: module scope).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from components.vault import credential_report_specs
from components.vault.bootstrap.app_secrets import (
    CACHE,
    POSTGRES,
    cache_role,
    postgres_role,
    services_with_credentials,
    to_json,
)
from components.vault.bootstrap.spec import report_policy
from components.vault.credential_report import main as report_main
from components.vault.credential_report.report import (
    FAIL,
    OK,
    Report,
    ServiceTarget,
    Settings,
    build_report,
)
from components.vault.credential_report.vault_side import (
    HvacReportVault,
    ReportVaultError,
    login,
    require_report_token,
)
from tests.components.vault.test_app_secrets_openbao import NAMESPACE, World, world  # noqa: F401  # fixture
from tests.helpers.openbao import needs_bao, needs_pod_files

pytestmark = [needs_bao, needs_pod_files]
PODS = {"order-processing": 2, "product-catalog": 1, "recommendation": 1}


@dataclass
class Reporter:
    world: World
    token: str
    reader: HvacReportVault
    settings: Settings

    def run(self, now_after: timedelta, anchor: str) -> Report:
        """The report at `now` = the newest lease's or rotation's time (`anchor`: postgres / cache) + `now_after`."""
        return build_report(self.settings, self.reader, PODS, self.anchor(anchor) + now_after)

    def anchor(self, what: str) -> datetime:
        if what == "cache":
            role = self.reader.static_role(cache_role("recommendation"))
            assert role is not None and role.last_vault_rotation is not None
            return role.last_vault_rotation
        prefix = f"database/creds/{postgres_role('product-catalog')}/"
        leases = [self.reader.lease(i) for i in self.reader.lease_ids(prefix)]
        return max(lease.issue_time for lease in leases if lease is not None)


@pytest.fixture(scope="module")
def reporter(world: World) -> Iterator[Reporter]:  # noqa: F811
    spec = world.spec
    client = world.vault.client()
    jwt = world.reviewer.service_account_token(spec.report_service_account, spec.report_namespace,
                                               [spec.report_audience])
    login(client, spec, jwt)
    targets = tuple(ServiceTarget(s.name, POSTGRES in s.data_services, CACHE in s.data_services)
                    for s in services_with_credentials(world.apps))
    assert world.apps.postgres is not None
    settings = Settings(services=targets, postgres_max_ttl_s=world.apps.postgres.max_ttl_hours * 3600,
                        database_path=spec.database_path)
    yield Reporter(world, str(client.token), HvacReportVault(client, spec), settings)


def _by_service(report: Report) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {s.service: (s.status, s.reasons) for s in report.services}


def test_the_bootstrap_writes_the_report_policy_and_the_login_is_narrow(reporter: Reporter) -> None:
    w, spec = reporter.world, reporter.world.spec
    assert w.admin().sys.read_acl_policy(spec.report_policy)["data"]["policy"] == report_policy(spec)
    info = w.admin().auth.token.lookup(reporter.token)["data"]
    assert info["policies"] == [spec.report_policy] and info["ttl"] <= spec.report_token_ttl_seconds
    # Another audience, another namespace, another service account: refused at login.
    for name, namespace, audience in ((spec.report_service_account, spec.report_namespace, "vault://other"),
                                      (spec.report_service_account, NAMESPACE, spec.report_audience),
                                      ("vault", spec.report_namespace, spec.report_audience)):
        jwt = w.reviewer.service_account_token(name, namespace, [audience])
        answer = w.call("", "POST", "auth/kubernetes/login", {"role": spec.report_role, "jwt": jwt})
        assert w.refused(answer), (name, namespace, audience)
    with pytest.raises(ReportVaultError, match="not exactly"):
        require_report_token(spec, ["root"])


def test_live_credential_passes_none_fails_revoked_lease_disappears(reporter: Reporter) -> None:
    w = reporter.world
    creds = w.read(w.token("product-catalog"), "database/creds/postgres-product-catalog")
    report = reporter.run(timedelta(minutes=1), "postgres")
    rows = _by_service(report)
    assert rows["product-catalog"] == (OK, ())
    # order-processing's pods hold no PostgreSQL credential in this w: a failure naming it.
    status, reasons = rows["order-processing"]
    assert status == FAIL and "no live PostgreSQL credential (postgres-order-processing)" in reasons[0]
    assert report.status == FAIL
    facts = next(s for s in report.services if s.service == "product-catalog").postgres
    assert facts is not None and facts["leases"] >= 1 and facts["maxTtlSeconds"] == 8 * 3600

    # An hour past the max TTL: a lease still listed means Vault is not revoking it (and it is no live one).
    late = reporter.run(timedelta(hours=9, minutes=1), "postgres")
    assert any("beyond the role's max TTL" in r for r in _by_service(late)["product-catalog"][1])

    prefix = f"database/creds/{postgres_role('product-catalog')}/"
    before = reporter.reader.lease_ids(prefix)
    assert creds["lease_id"] in before
    w.admin().sys.revoke_prefix(prefix)
    assert reporter.reader.lease_ids(prefix) == []
    assert reporter.reader.lease(creds["lease_id"]) is None  # looked up after it ended: gone, not an error
    again = build_report(reporter.settings, reporter.reader, PODS, late.generated)
    assert _by_service(again)["product-catalog"][0] == FAIL
    # No running pods and no lease: nothing is missing.
    idle = build_report(reporter.settings, reporter.reader, {}, late.generated)
    assert _by_service(idle)["product-catalog"] == (OK, ())


def test_static_role_rotation_age_against_its_period(reporter: Reporter) -> None:
    role = reporter.reader.static_role(cache_role("recommendation"))
    assert role is not None and role.rotation_period_s == 30 * 86400
    fresh = _by_service(reporter.run(timedelta(minutes=1), "cache"))["recommendation"]
    assert fresh == (OK, ())
    overdue = _by_service(reporter.run(timedelta(days=30, hours=1, seconds=1), "cache"))["recommendation"]
    assert overdue[0] == FAIL and "the rotation is overdue" in overdue[1][0]
    missing = replace(reporter.settings, services=(ServiceTarget("nobody", cache=True),))
    assert build_report(missing, reporter.reader, {}, role.last_vault_rotation).services[0].reasons == (  # type: ignore[arg-type]
        "static role cache-nobody does not exist",)


def test_the_report_token_can_never_read_a_credential_nor_touch_other_tokens(reporter: Reporter) -> None:
    w, token = reporter.world, reporter.token
    lease = w.read(w.token("product-catalog"), "database/creds/postgres-product-catalog")["lease_id"]
    refused = [
        ("GET", "database/creds/postgres-product-catalog", None),  # would mint a credential
        ("GET", "database/static-creds/cache-recommendation", None),  # the cache password
        ("GET", "database/roles/postgres-product-catalog", None),
        ("GET", "database/config/postgres", None),
        ("POST", "database/rotate-role/cache-recommendation", {}),
        ("LIST", "database/static-roles", None),
        ("PUT", "sys/leases/renew", {"lease_id": lease}),
        ("PUT", "sys/leases/revoke", {"lease_id": lease}),
        ("PUT", "sys/leases/lookup", {"lease_id": "auth/kubernetes/login/x"}),  # only the database engine's leases
        ("LIST", "sys/leases/lookup/auth/kubernetes/login/", None),
        ("LIST", "auth/token/accessors", None),  # other services' tokens
        ("POST", "auth/token/lookup", {"token": w.token("order-processing")}),
        ("POST", "auth/token/create", {}),
        ("GET", "pki/issuer/default", None),
    ]
    for method, path, body in refused:
        answer = w.call(token, method, path, body)
        assert answer.status_code == 403 and w.refused(answer), (method, path, answer.status_code, answer.text)
    # What it may do, it can: the lease's times, and nothing of the credential.
    answer = w.call(token, "PUT", "sys/leases/lookup", {"lease_id": lease})
    assert answer.status_code == 200 and set(answer.json()["data"]) >= {"issue_time", "expire_time"}
    assert "password" not in answer.text


def test_each_grant_is_needed_the_listing_needs_sudo(reporter: Reporter) -> None:
    # Vault's API doc says LIST sys/leases/lookup/:prefix requires sudo; OpenBao 2.7.2 agrees.
    w, spec = reporter.world, reporter.world.spec
    without_sudo = report_policy(spec).replace('["list", "sudo"]', '["list"]')
    admin = w.admin()
    admin.sys.create_or_update_acl_policy(name="report-without-sudo", policy=without_sudo)
    try:
        weak = admin.auth.token.create(policies=["report-without-sudo"], no_default_policy=True, ttl="5m")
        assert w.call(weak["auth"]["client_token"], "LIST", "sys/leases/lookup/database/creds/").status_code == 403
        assert w.call(reporter.token, "LIST", "sys/leases/lookup/database/creds/").status_code in (200, 404)
    finally:
        admin.sys.delete_acl_policy(name="report-without-sudo")


class FakeCore:
    """The two CoreV1Api calls kube_side makes, recorded (the API server is the one part not run here)."""

    def __init__(self, pods: dict[str, int]) -> None:
        self.pods = pods
        self.patches: list[tuple[str, str, dict[str, Any]]] = []

    def list_namespaced_pod(self, namespace: str) -> Any:
        assert namespace == NAMESPACE
        return SimpleNamespace(items=[SimpleNamespace(status=SimpleNamespace(phase="Running"),
                                                      spec=SimpleNamespace(service_account_name=name))
                                      for name, count in self.pods.items() for _ in range(count)])

    def patch_namespaced_config_map(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        self.patches.append((name, namespace, body))


def test_the_cronjob_entry_point_writes_the_report_and_fails_the_job(reporter: Reporter, tmp_path: Path) -> None:
    # The CronJob's own environment (credential_report_specs.cronjob_spec), pointed at this OpenBao.
    w, spec = reporter.world, reporter.world.spec
    settings = credential_report_specs.report_settings(to_json(w.apps), spec)
    job = credential_report_specs.cronjob_spec(credential_report_specs.ReportJobArgs(
        image="rotation:1", spec=spec, app_namespace=NAMESPACE, settings=settings, ca_secret="vault-server-tls"))
    env = {e["name"]: e["value"] for e in job["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    token = tmp_path / "token"
    token.write_text(w.reviewer.service_account_token(spec.report_service_account, spec.report_namespace,
                                                      [spec.report_audience]))
    env.update(VAULT_ADDR=w.vault.url, VAULT_CACERT=w.vault.ca_path, VAULT_TOKEN_FILE=str(token))
    w.read(w.token("product-catalog"), "database/creds/postgres-product-catalog")
    core = FakeCore(PODS)
    now = reporter.anchor("postgres") + timedelta(minutes=1)
    assert report_main.main(env, core=lambda: core, clock=lambda: now) == 1  # order-processing holds no credential
    [(name, namespace, body)] = core.patches
    assert (name, namespace) == ("credential-report", "vault")
    doc = json.loads(body["data"]["report.json"])
    assert doc["status"] == FAIL and doc["intervalSeconds"] == 900
    assert {s["service"]: s["status"] for s in doc["services"]} == {
        "order-processing": FAIL, "product-catalog": OK, "recommendation": OK}
    assert report_main.main(env, core=lambda: FakeCore({"product-catalog": 1}), clock=lambda: now) == 0
