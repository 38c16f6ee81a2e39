"""`make verify`'s vault-leases rows: the credential report's ConfigMap, written by the report's own code
(components/vault/credential_report/report.py, so the two cannot drift apart), read back as rows; fetched through the
fake API server of test_verify_fetch."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from components.vault.credential_report.report import (
    Lease,
    ServiceTarget,
    Settings,
    StaticRole,
    build_report,
)
from tests.tools.verify.test_verify import snapshot
from tests.tools.verify.test_verify_fetch import FakeApi, api  # noqa: F401  # `api` is a fixture
from tools.verify import verify
from tools.verify.checks import run_checks
from tools.verify.fetch import Source, fetch_snapshot
from tools.verify.leases import check_leases
from tools.verify.model import Expectations, Snapshot, Status

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PROD = Expectations(stack="prod", app_namespace="prod-app", vault_replicas=3, vault_credentials=True,
                    vault_services=("orders", "catalog"))
CONFIGMAP_PATH = "/api/v1/namespaces/vault/configmaps/credential-report"


class Vault:
    def lease_ids(self, prefix: str) -> list[str]:
        return [f"{prefix}a"] if "orders" in prefix else []

    def lease(self, lease_id: str) -> Lease | None:
        return Lease(lease_id, NOW - timedelta(minutes=20), NOW + timedelta(minutes=40))

    def static_role(self, name: str) -> StaticRole | None:
        return StaticRole(NOW - timedelta(days=2), 30 * 86400)


def _configmap(generated: datetime = NOW, pods: dict[str, int] | None = None) -> dict[str, object]:
    settings = Settings(services=(ServiceTarget("orders", postgres=True, cache=True), ServiceTarget("catalog", True)),
                        postgres_max_ttl_s=8 * 3600)
    report = build_report(settings, Vault(), pods if pods is not None else {"orders": 2}, generated)
    return {"metadata": {"name": "credential-report", "namespace": "vault"}, "data": {"report.json": report.to_json()}}


def _rows(configmap: dict[str, object] | None, exp: Expectations = PROD) -> list[tuple[str, Status, str]]:
    return [(r.subject, r.status, r.detail)
            for r in check_leases(Snapshot(now=NOW + timedelta(minutes=5), credential_report=configmap), exp)]


def test_one_row_per_service_ok_with_its_facts_or_fail_with_the_reason() -> None:
    assert _rows(_configmap()) == [
        ("catalog", Status.OK, "0 live PostgreSQL lease(s), oldest 0 min (max TTL 8 h)"),
        ("orders", Status.OK, "1 live PostgreSQL lease(s), oldest 20 min (max TTL 8 h), cache password rotated 48 h "
                              "ago (period 30 d)"),
    ]
    rows = _rows(_configmap(pods={"orders": 2, "catalog": 1}))
    assert rows[0] == ("catalog", Status.FAIL, "1 running pod(s) but no live PostgreSQL credential (postgres-catalog)")
    assert verify.MARK[Status.FAIL] in verify.render_table("prod", check_leases(
        Snapshot(now=NOW, credential_report=_configmap(pods={"catalog": 1})), PROD))


def test_missing_empty_unreadable_or_stale_reports_warn() -> None:
    assert [s for _, s, _ in _rows(None)] == [Status.WARN] and "ConfigMap missing" in _rows(None)[0][2]
    empty = {"metadata": {}, "data": {}}
    assert _rows(empty)[0][1:] == (Status.WARN, "no report yet: the CronJob vault/credential-report has not "
                                                "completed a run (not verified)")
    broken = {"data": {"report.json": "{not json"}}
    assert _rows(broken)[0][1] == Status.WARN and "unreadable" in _rows(broken)[0][2]
    stale = _rows(_configmap(generated=NOW - timedelta(minutes=26)))  # 31 min > 2 x 15 min
    assert stale[0][:2] == ("vault/credential-report", Status.WARN) and "31 min old" in stale[0][2]
    assert [s for _, s, _ in stale[1:]] == [Status.OK, Status.OK] and stale[1][2].endswith("(as of 31 min ago)")
    fresh = _rows(_configmap(generated=NOW - timedelta(minutes=20)))  # 25 min: within two intervals
    assert [subject for subject, _, _ in fresh] == ["catalog", "orders"]


def test_a_service_missing_from_the_report_and_stacks_without_vault_credentials() -> None:
    rows = _rows(_configmap(), replace(PROD, vault_services=("orders", "catalog", "payments")))
    assert rows[-1] == ("payments", Status.WARN, "not in the report (a service added since its last run?): not "
                                                 "verified")
    assert _rows(None, replace(PROD, vault_credentials=False, vault_services=())) == []
    assert "vault-leases" in {r.check for r in run_checks(Snapshot(now=NOW), PROD)}


def test_fetch_reads_the_report_configmap_only_where_services_get_vault_credentials(api: Source) -> None:  # noqa: F811
    FakeApi.overrides = {CONFIGMAP_PATH: (200, _configmap())}
    snap = fetch_snapshot(api, PROD)
    assert snap.credential_report is not None
    assert json.loads(snap.credential_report["data"]["report.json"])["status"] == "ok"
    FakeApi.requests.clear()
    assert fetch_snapshot(api, replace(PROD, vault_credentials=False)).credential_report is None
    assert CONFIGMAP_PATH not in [path for path, _, _ in FakeApi.requests]
    FakeApi.overrides = {}
    assert fetch_snapshot(api, PROD).credential_report is None  # a 404: not deployed yet, a warning row


def test_the_stack_config_names_the_services_with_vault_roles() -> None:
    exp = verify.expectations("prod", "1h")
    assert exp.vault_credentials and exp.vault_services and list(exp.vault_services) == sorted(exp.vault_services)


def test_the_prod_fixtures_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    # The prod catalog's four services with a Vault role (tests/fixtures/verify/generate.py credential_report).
    assert verify.main(["--stack", "prod", "--json"], fetch=lambda source, exp: snapshot("healthy")) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["results"] if r["check"] == "vault-leases"]
    assert [(r["subject"], r["status"]) for r in rows] == [(name, "ok") for name in verify.expectations(
        "prod", "1h").vault_services]
    assert verify.main(["--stack", "prod"], fetch=lambda source, exp: snapshot("credential-missing")) == 1
    table = capsys.readouterr().out
    assert re.search(r"vault-leases +payment-gateway +FAIL +2 running pod\(s\) but no live PostgreSQL credential",
                     table), table
