"""The credential report without servers: its verdicts over a fake `VaultReader` at injected times, its settings from
the application secrets' spec, the CronJob spec (restricted Pod Security, the rotation's image with another command,
the report's own Vault audience) and the vault namespace's NetworkPolicies for its pods. The Vault paths themselves
run against OpenBao in test_credential_report_openbao.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from components.mesh import namespace_specs as np
from components.mesh.mesh import vault_app_clients
from components.monitoring.alert_specs import credential_report_alerts
from components.vault import credential_report_specs as specs
from components.vault.bootstrap import app_secrets
from components.vault.bootstrap.spec import BootstrapSpec, cert_manager_default_audience, report_policy
from components.vault.credential_report.report import (
    FAIL,
    OK,
    Lease,
    ServiceTarget,
    Settings,
    StaticRole,
    build_report,
    parse_time,
    running_pods_by_service_account,
    settings_from_json,
)
from tests.conftest import ROOT, STACKS, build_config, plan_of
from tests.helpers.pod_security import violations
from tools.engine.mock_engine import load_stack_settings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SPEC = BootstrapSpec(root_common_name="test", audience=cert_manager_default_audience("vault-issuer"))
SETTINGS = Settings(services=(ServiceTarget("orders", postgres=True, cache=True), ServiceTarget("catalog", True),
                              ServiceTarget("recs", cache=True)), postgres_max_ttl_s=8 * 3600)


@dataclass
class FakeVault:
    leases: dict[str, list[Lease]] = field(default_factory=dict)  # by prefix
    roles: dict[str, StaticRole] = field(default_factory=dict)

    def lease_ids(self, prefix: str) -> list[str]:
        return [lease.lease_id for lease in self.leases.get(prefix, [])]

    def lease(self, lease_id: str) -> Lease | None:
        return next((x for found in self.leases.values() for x in found if x.lease_id == lease_id), None)

    def static_role(self, name: str) -> StaticRole | None:
        return self.roles.get(name)


def _lease(service: str, issued_ago: timedelta, ttl: timedelta = timedelta(hours=1)) -> Lease:
    issued = NOW - issued_ago
    return Lease(f"database/creds/postgres-{service}/{int(issued_ago.total_seconds())}", issued, issued + ttl)


def _healthy() -> FakeVault:
    return FakeVault(
        leases={"database/creds/postgres-orders/": [_lease("orders", timedelta(minutes=5))],
                "database/creds/postgres-catalog/": [_lease("catalog", timedelta(minutes=30))]},
        roles={"cache-orders": StaticRole(NOW - timedelta(days=3), 30 * 86400),
               "cache-recs": StaticRole(NOW - timedelta(days=29), 30 * 86400)})


def _verdicts(vault: FakeVault, pods: dict[str, int] | None = None) -> dict[str, tuple[str, tuple[str, ...]]]:
    report = build_report(SETTINGS, vault, pods if pods is not None else {"orders": 2, "catalog": 1, "recs": 1}, NOW)
    return {s.service: (s.status, s.reasons) for s in report.services}


def test_a_healthy_platform_passes_and_the_json_names_every_fact() -> None:
    report = build_report(SETTINGS, _healthy(), {"orders": 2, "catalog": 1}, NOW)
    assert report.status == OK and [s.status for s in report.services] == [OK, OK, OK]
    doc = json.loads(report.to_json())
    assert doc["generated"] == "2026-12-07T12:00:00Z" and doc["intervalSeconds"] == 900 and doc["version"] == 1
    orders = next(s for s in doc["services"] if s["service"] == "orders")
    assert orders["postgres"] == {"leases": 1, "oldestAgeSeconds": 300, "maxTtlSeconds": 28800}
    assert orders["cache"]["lastRotation"] == "2026-12-04T12:00:00Z" and orders["reasons"] == []
    assert "cache" not in next(s for s in doc["services"] if s["service"] == "catalog")


def test_each_failure_names_its_reason() -> None:
    vault = _healthy()
    vault.leases["database/creds/postgres-catalog/"] = []  # running, but no credential
    vault.leases["database/creds/postgres-orders/"].append(_lease("orders", timedelta(hours=9, minutes=30)))
    vault.roles["cache-recs"] = StaticRole(NOW - timedelta(days=30, hours=1, minutes=1), 30 * 86400)
    del vault.roles["cache-orders"]
    verdicts = _verdicts(vault)
    assert verdicts["catalog"] == (FAIL, ("1 running pod(s) but no live PostgreSQL credential (postgres-catalog)",))
    assert verdicts["orders"][0] == FAIL
    assert "9.5 h old, beyond the role's max TTL of 8.0 h" in verdicts["orders"][1][0]
    assert verdicts["orders"][1][1] == "static role cache-orders does not exist"
    assert "the rotation is overdue" in verdicts["recs"][1][0]
    never = FakeVault(roles={"cache-recs": StaticRole(None, 86400)})
    assert _verdicts(never)["recs"][1] == ("static role cache-recs was never rotated by Vault",)


def test_the_boundaries_grace_and_idle_services() -> None:
    vault = _healthy()
    vault.roles["cache-recs"] = StaticRole(NOW - timedelta(days=30, minutes=59), 30 * 86400)  # inside the grace
    vault.leases["database/creds/postgres-catalog/"] = [_lease("catalog", timedelta(hours=8, minutes=59),
                                                               ttl=timedelta(hours=9))]
    assert _verdicts(vault)["recs"][0] == OK and _verdicts(vault)["catalog"][0] == OK
    # No running pods and no lease: nothing is missing; an expired lease still listed an hour later: not revoked.
    empty = FakeVault(leases={"database/creds/postgres-catalog/": [_lease("catalog", timedelta(hours=3))]})
    verdicts = _verdicts(empty, pods={})
    assert verdicts["catalog"] == (FAIL, ("1 PostgreSQL lease(s) past their expiry and not revoked",))
    assert _verdicts(FakeVault(), pods={})["catalog"] == (OK, ())


def test_running_pods_count_by_service_account() -> None:
    pods = [{"status": {"phase": "Running"}, "spec": {"serviceAccountName": "orders"}},
            {"status": {"phase": "Running"}, "spec": {"serviceAccountName": "orders"}},  # e.g. orders-primary
            {"status": {"phase": "Pending"}, "spec": {"serviceAccountName": "catalog"}},
            {"status": {"phase": "Running"}, "spec": {}}]
    assert running_pods_by_service_account(pods) == {"orders": 2, "default": 1}


def test_vault_times_parse_with_nanoseconds_and_offsets() -> None:
    assert parse_time("2026-12-07T10:40:00.123456789Z") == datetime(2026, 12, 7, 10, 40, 0, 123456, tzinfo=UTC)
    assert parse_time("2026-12-07T11:40:00+01:00") == datetime(2026, 12, 7, 10, 40, tzinfo=UTC)
    assert parse_time("") is None and parse_time("0001-01-01T00:00:00Z") is None


def test_settings_follow_the_application_secrets_spec() -> None:
    apps = app_secrets.AppSecretsSpec(
        services=(app_secrets.AppService("orders", "prod-app", ("rds", "cache")),
                  app_secrets.AppService("web", "prod-app", ())),
        audience="vault://x-apps",
        postgres=app_secrets.PostgresTarget("db", 5432, "platform", "/ca.pem", max_ttl_hours=6),
        cache=app_secrets.CacheTarget("cache", 6379, region="eu-west-1"))
    settings = settings_from_json(specs.report_settings(app_secrets.to_json(apps), SPEC))
    assert settings.services == (ServiceTarget("orders", postgres=True, cache=True),)  # web has no Vault role
    assert settings.postgres_max_ttl_s == 6 * 3600 and settings.database_path == apps.database_path == "database"
    assert settings.interval_s == specs.INTERVAL_S
    assert settings_from_json(specs.report_settings("", SPEC)).services == ()


def test_the_cronjob_runs_the_rotation_image_restricted_with_its_own_audience() -> None:
    spec = specs.cronjob_spec(specs.ReportJobArgs(image="repo/trust-anchor-rotation:1", spec=SPEC,
                                                  app_namespace="prod-app", settings="{}",
                                                  ca_secret="vault-server-tls"))
    template = spec["jobTemplate"]["spec"]["template"]
    pod = template["spec"]
    assert violations(template["metadata"], pod, "restricted") == []
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "components.vault.credential_report.main"]
    assert container["image"] == "repo/trust-anchor-rotation:1"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["REPORT_CONFIGMAP"] == specs.STATUS_CONFIGMAP and env["REPORT_NAMESPACE"] == "vault"
    assert json.loads(env["BOOTSTRAP_SPEC"])["report_role"] == SPEC.report_role
    token = next(v for v in pod["volumes"] if v["name"] == "vault-token")["projected"]["sources"][0]
    assert token["serviceAccountToken"]["audience"] == SPEC.report_audience == "vault-credential-report"
    assert pod["serviceAccountName"] == SPEC.report_service_account
    assert spec["schedule"] == "*/15 * * * *" and spec["concurrencyPolicy"] == "Forbid"
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert specs.report_rules() == [{"apiGroups": [""], "resources": ["configmaps"],
                                     "resourceNames": ["credential-report"], "verbs": ["get", "patch"]}]
    assert specs.app_rules() == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]


def test_the_rotation_image_carries_the_report_package() -> None:
    dockerfile = (ROOT / "components" / "mesh" / "anchor_rotation" / "Dockerfile").read_text().splitlines()
    assert {"COPY components/ components/", "COPY config/ config/", "COPY requirements.txt ."} <= set(dockerfile)
    assert (ROOT / "components" / "vault" / "credential_report" / "main.py").is_file()
    requirements = (ROOT / "requirements.txt").read_text()
    assert "hvac==" in requirements and "kubernetes==" in requirements  # what the report imports at run time


def test_the_policy_never_names_a_credential_path() -> None:
    policy = report_policy(SPEC)
    assert "creds/" not in policy.replace("database/creds/*", "")  # only as a lease prefix
    assert "static-creds" not in policy and '"database/static-roles/cache-*"' in policy


def test_the_report_pods_reach_vault_and_the_api_server_only() -> None:
    assert np.REPORT_POD_LABELS == specs.POD_LABELS
    net = np.Networks("10.0.0.0/16", "172.20.0.0/16")
    policies = np.policies_for("vault", net, "prod-app", ("orders",))
    report_pod = {"app.kubernetes.io/name": "credential-report"}

    def selects(selector: dict, labels: dict[str, str]) -> bool:  # type: ignore[type-arg]
        ok = all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
        for e in selector.get("matchExpressions") or []:
            ok = ok and (labels.get(e["key"]) not in e["values"] if e["operator"] == "NotIn" else False)
        return ok

    egress = sorted(name for name, p in policies.items()
                    if "Egress" in p["policyTypes"] and p.get("egress") and selects(p["podSelector"], report_pod))
    assert egress == ["allow-api-server", "allow-credential-report-to-vault", "allow-dns"]
    assert policies["allow-credential-report-to-vault"]["egress"] == [
        {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vault"}}}],
         "ports": [{"protocol": "TCP", "port": 8200}]}]
    # Vault's own pods and the snapshot job keep the namespace-wide allows.
    assert selects(policies["allow-within-namespace"]["podSelector"], {"app.kubernetes.io/name": "vault"})
    assert selects(policies["allow-aws-apis"]["podSelector"], {"app.kubernetes.io/name": "vault-snapshot"})
    # Stacks without a Vault role for any service have no report and keep the policies as they were.
    assert np.policies_for("vault", net)["allow-within-namespace"]["podSelector"] == {}


def test_the_alert_reads_the_report_cronjob() -> None:
    [alert] = credential_report_alerts("vault", specs.JOB_NAME)
    assert alert["alert"] == "VaultCredentialReportFailing"
    assert 'cronjob="credential-report"' in alert["expr"] and alert["labels"]["severity"] == "critical"


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_with_vault_roles_runs_the_report_with_the_rotation_image(stack: str) -> None:
    plan = plan_of(stack)
    services = vault_app_clients(build_config(stack, load_stack_settings(stack)))
    jobs = {r.name: r for r in plan.of_type("kubernetes:batch/v1:CronJob")}
    if not services:
        assert "credential-report-cronjob" not in jobs
        return
    pod = jobs["credential-report-cronjob"].inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    rotation = jobs["trust-anchor-rotation-cronjob"].inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == rotation["containers"][0]["image"]
    assert container["command"] == list(specs.COMMAND)
    env = {e["name"]: e["value"] for e in container["env"]}
    settings = settings_from_json(env["REPORT_SETTINGS"])
    assert sorted(s.name for s in settings.services) == sorted(services)
    assert jobs["credential-report-cronjob"].inputs["metadata"]["namespace"] == "vault"
