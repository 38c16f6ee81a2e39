"""Pure builders for the credential report CronJob in `vault` (components/vault/credential_report runs in it): its
RBAC rules, the settings it reads, its CronJob spec.

The image is the trust-anchor rotation's own (components/mesh/anchor_rotation/Dockerfile): it copies all of
components/ and config/, so the container's `command` runs this package's main instead of the image's entry point;
no second image to build, push or scan. Permissions: get/patch on the one status ConfigMap `vault/credential-report`,
list on Pods in the app namespace (which services are running); no Secret, nothing cluster-wide. In Vault: the
`credential-report` policy (components/vault/bootstrap/spec.py report_policy) through Kubernetes auth bound to this
service account only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pulumi

from components.vault.bootstrap import app_secrets
from components.vault.bootstrap.spec import BootstrapSpec, spec_to_props
from components.vault.credential_report import report
from components.vault.credential_report.report import ServiceTarget, Settings, settings_to_json
from components.vault.job_pod_specs import CA_DIR, TOKEN_DIR, vault_job_pod

Spec = dict[str, Any]
JOB_NAME: Final = "credential-report"
STATUS_CONFIGMAP: Final = report.STATUS_CONFIGMAP  # one name: main.py writes it, `make verify` reads it
POD_LABELS: Final = {"app.kubernetes.io/name": "credential-report"}
# Every 15 minutes: `make verify` calls a report older than two intervals stale, the alert fires after an hour of
# failing runs. A report takes a few requests per service.
SCHEDULE: Final = "*/15 * * * *"
INTERVAL_S: Final = 900
COMMAND: Final = ("python", "-m", "components.vault.credential_report.main")


def report_rules() -> list[Spec]:
    """The Role in `vault`: the status ConfigMap only."""
    return [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [STATUS_CONFIGMAP],
             "verbs": ["get", "patch"]}]


def app_rules() -> list[Spec]:
    """The Role in the app namespace: list Pods (running pods per service account)."""
    return [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]


def report_settings(app_secrets_json: str, spec: BootstrapSpec) -> str:
    """The report's settings from the application secrets' spec (the bootstrap's input): every service with a Vault
    role and which credentials it has, and the PostgreSQL max TTL."""
    apps = app_secrets.from_json(app_secrets_json)
    if apps is None:
        return settings_to_json(Settings(services=(), postgres_max_ttl_s=0, database_path=spec.database_path,
                                         interval_s=INTERVAL_S))
    targets = tuple(ServiceTarget(s.name, app_secrets.POSTGRES in s.data_services, app_secrets.CACHE in s.data_services)
                    for s in app_secrets.services_with_credentials(apps))
    max_ttl = apps.postgres.max_ttl_hours * app_secrets.HOUR if apps.postgres is not None else 0
    return settings_to_json(Settings(services=targets, postgres_max_ttl_s=max_ttl, database_path=spec.database_path,
                                     interval_s=INTERVAL_S))


@dataclass(frozen=True)
class ReportJobArgs:
    image: pulumi.Input[str]  # the trust-anchor rotation's image (repository:tag)
    spec: BootstrapSpec  # the report's role, audience, auth and database mounts
    app_namespace: str
    settings: pulumi.Input[str]  # report_settings(...) of the stack's application secrets
    ca_secret: str  # the listener TLS secret (vault_tls.SECRET_NAME); only its ca.crt is mounted
    vault_addr: str = "https://vault-active.vault.svc:8200"  # the active node (vault-helm's vault-active Service)


def cronjob_spec(args: ReportJobArgs) -> Spec:
    """batch/v1 CronJob: one run at a time, no retry (the next run is the retry), a short deadline."""
    env: dict[str, pulumi.Input[str]] = {
        "BOOTSTRAP_SPEC": json.dumps(spec_to_props(args.spec), sort_keys=True), "REPORT_SETTINGS": args.settings,
        "VAULT_ADDR": args.vault_addr, "VAULT_CACERT": f"{CA_DIR}/ca.crt", "VAULT_TOKEN_FILE": f"{TOKEN_DIR}/token",
        "APP_NAMESPACE": args.app_namespace, "REPORT_NAMESPACE": args.spec.report_namespace,
        "REPORT_CONFIGMAP": STATUS_CONFIGMAP, "HOME": "/tmp",
    }
    # The rotation image's ENTRYPOINT is its controller; COMMAND runs this package's main instead.
    pod = vault_job_pod(
        container="report", image=args.image, command=COMMAND, env=env,
        service_account=args.spec.report_service_account,
        resources={"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        audience=args.spec.report_audience,
        ca_volume={"secret": {"secretName": args.ca_secret, "items": [{"key": "ca.crt", "path": "ca.crt"}]}})
    # Ref: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ (concurrencyPolicy, timeZone)
    return {
        "schedule": SCHEDULE,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 300,
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": POD_LABELS}, "spec": {
            "backoffLimit": 0,  # a failing service fails the run; the next scheduled run is the retry
            "activeDeadlineSeconds": 300,
            "template": {"metadata": {"labels": POD_LABELS}, "spec": pod},
        }},
    }
