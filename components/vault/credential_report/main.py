"""Entry point of the `credential-report` CronJob: `python -m components.vault.credential_report.main`.

Reads its settings from the environment the CronJob sets (components/vault/credential_report_specs.py), logs in to
Vault with the pod's projected, audience-bound token, builds the report (report.py), writes it to the status
ConfigMap and exits 1 when any service fails, so the Job fails and `VaultCredentialReportFailing` fires after an
hour of failing runs. An error (Vault or the API unreachable) also exits 1, with one line naming the step.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import hvac

from components.shared.cli import run
from components.vault.bootstrap.spec import spec_from_props
from components.vault.credential_report.kube_side import KubeReport, in_cluster_core
from components.vault.credential_report.report import (
    FAIL,
    build_report,
    running_pods_by_service_account,
    settings_from_json,
)
from components.vault.credential_report.vault_side import HvacReportVault, login


def _now() -> datetime:
    return datetime.now(UTC)


def main(env: Mapping[str, str] = os.environ, core: Callable[[], Any] = in_cluster_core,
         clock: Callable[[], datetime] = _now) -> int:
    """One report; `core` and `clock` are the Kubernetes client and the time (tests give their own)."""
    logging.basicConfig(level=logging.INFO, format="credential-report: %(levelname)s %(message)s", stream=sys.stderr)
    log = logging.getLogger("mtls_platform.credential_report")
    spec = spec_from_props(json.loads(env["BOOTSTRAP_SPEC"]))
    settings = settings_from_json(env["REPORT_SETTINGS"])
    client = hvac.Client(url=env["VAULT_ADDR"], verify=env["VAULT_CACERT"], token="")  # type: ignore[no-untyped-call]
    with open(env["VAULT_TOKEN_FILE"], encoding="utf-8") as handle:
        login(client, spec, handle.read().strip())
    kube = KubeReport(core(), env["APP_NAMESPACE"], env["REPORT_NAMESPACE"], env["REPORT_CONFIGMAP"])
    report = build_report(settings, HvacReportVault(client, spec), running_pods_by_service_account(kube.pods()),
                          clock())
    kube.write(report.to_json())
    for result in report.services:
        log.log(logging.ERROR if result.status == FAIL else logging.INFO, "%s: %s%s", result.service, result.status,
                f" ({'; '.join(result.reasons)})" if result.reasons else "")
    return 1 if report.status == FAIL else 0


if __name__ == "__main__":
    run(main, "credential-report")
