"""`make verify`'s vault-credentials rows: the database engine's error counters read from Prometheus (the same metrics
as the credential alerts), through the fake API server of test_verify_fetch, and the rows they give."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.tools.verify.test_verify_fetch import PROXY, FakeApi, api  # noqa: F401  # `api` is a fixture
from tools.verify import verify
from tools.verify.checks import run_checks
from tools.verify.fetch import Source, fetch_snapshot
from tools.verify.metrics import CREDENTIAL_OPERATIONS, check_credentials, credential_queries
from tools.verify.model import Expectations, Snapshot, Status

PROD = Expectations(stack="prod", app_namespace="prod-app", vault_replicas=3, vault_credentials=True)
NOW = Snapshot(now=datetime(2026, 1, 1, tzinfo=UTC))


def _sample(op: str, pod: str, value: str) -> dict[str, object]:
    return {"metric": {"pod": pod, "operation": op}, "value": [1767225600, value]}


def test_queries_read_the_alerts_counters_over_the_window() -> None:
    queries = credential_queries("30m")
    assert set(queries) == set(CREDENTIAL_OPERATIONS) == {"NewUser", "Initialize", "UpdateUser"}
    for op, query in queries.items():
        assert f"increase(vault_database_{op}_error[30m])" in query and "offset 30m" in query


def test_errors_fail_per_pod_and_operation_and_none_is_one_ok_row() -> None:
    errors = replace(NOW, credential_errors=[_sample("UpdateUser", "vault-1", "2"), _sample("NewUser", "vault-0", "1"),
                                             _sample("NewUser", "vault-2", "0")])
    rows = check_credentials(errors, PROD)
    assert [(r.subject, r.status) for r in rows] == [("vault/vault-0", Status.FAIL), ("vault/vault-1", Status.FAIL)]
    assert "1 error(s) issuing a credential (NewUser)" in rows[0].detail
    assert "rotating" in rows[1].detail and "(UpdateUser)" in rows[1].detail
    [ok] = check_credentials(replace(NOW, credential_errors=[]), PROD)
    assert ok.status is Status.OK and "last 1h" in ok.detail


def test_no_clients_no_row_and_no_prometheus_follows_the_metrics_rule() -> None:
    assert check_credentials(replace(NOW, credential_errors=[]), replace(PROD, vault_credentials=False)) == []
    down = replace(NOW, metrics_error="HTTP 503")
    assert [r.status for r in check_credentials(down, PROD)] == [Status.WARN]
    assert [r.status for r in check_credentials(down, replace(PROD, metrics_required=True))] == [Status.FAIL]
    assert "vault-credentials" in {r.check for r in run_checks(replace(NOW, credential_errors=[]), PROD,
                                                                (check_credentials,))}


def test_fetch_asks_prometheus_for_each_operation_and_labels_the_answers(api: Source) -> None:  # noqa: F811
    FakeApi.overrides = {PROXY: (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"pod": "vault-0"}, "value": [1767225600, "3"]}]}})}
    snap = fetch_snapshot(api, PROD)
    queries = [q["query"][0] for path, q, _ in FakeApi.requests if path == PROXY]
    assert [q for q in queries if "vault_database_" in q] == list(credential_queries("1h").values())
    assert sorted((s["metric"]["operation"], s["metric"]["pod"]) for s in snap.credential_errors or []) == [
        ("Initialize", "vault-0"), ("NewUser", "vault-0"), ("UpdateUser", "vault-0")]


def test_stacks_whose_services_use_postgres_expect_the_rows() -> None:
    assert verify.expectations("prod", "1h").vault_credentials is True
