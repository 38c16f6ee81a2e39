"""`make verify`'s `vault-leases` rows: the credential report's verdict per service, read from the ConfigMap
`vault/credential-report` that the report CronJob writes (components/vault/credential_report).

Which credentials are live and when each static role last rotated are Vault state behind a Vault token; `make
verify` holds none and should hold none (docs/verify.md). The report runs in the cluster with its own narrow Vault
role (lease and rotation metadata only, never a credential) and publishes its judgement; this check reads it with
the same read-only Kubernetes access as the other checks. A report that is missing, unreadable or older than two of
its own intervals is a warning: nothing is verified then, but nothing is known to be wrong either.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from components.vault.credential_report.report import FAIL, OK, REPORT_KEY, STATUS_CONFIGMAP, parse_time
from config.names import VAULT_NAMESPACE
from tools.verify.model import Expectations, Row, Snapshot, Status

CHECK = "vault-leases"
SUBJECT = f"{VAULT_NAMESPACE}/{STATUS_CONFIGMAP}"
STALE_INTERVALS = 2


def _age(now: datetime, then: datetime) -> str:
    minutes = int((now - then).total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _service_row(entry: dict[str, Any], as_of: str) -> Row:
    name = str(entry.get("service", "?"))
    reasons = [str(r) for r in entry.get("reasons") or []]
    if entry.get("status") == FAIL:
        return Row(CHECK, name, Status.FAIL, ("; ".join(reasons) or "failed") + as_of)
    facts = []
    postgres, cache = entry.get("postgres"), entry.get("cache")
    if isinstance(postgres, dict):
        facts.append(f"{postgres.get('leases', 0)} live PostgreSQL lease(s), oldest "
                     f"{int(postgres.get('oldestAgeSeconds', 0)) // 60} min (max TTL "
                     f"{int(postgres.get('maxTtlSeconds', 0)) // 3600} h)")
    if isinstance(cache, dict) and "ageSeconds" in cache:
        facts.append(f"cache password rotated {int(cache['ageSeconds']) // 3600} h ago (period "
                     f"{int(cache.get('rotationPeriodSeconds', 0)) // 86400} d)")
    status = Status.OK if entry.get("status") == OK else Status.WARN
    return Row(CHECK, name, status, (", ".join(facts) or "no credential in use") + as_of)


def check_leases(snap: Snapshot, exp: Expectations) -> list[Row]:
    """One row per service of the report; warn when it is missing, unreadable or stale."""
    if not exp.vault_credentials:
        return []
    if snap.credential_report is None:
        return [Row(CHECK, SUBJECT, Status.WARN, "ConfigMap missing: the credential report has not been deployed "
                                                 "yet (not verified)")]
    text = str((snap.credential_report.get("data") or {}).get(REPORT_KEY) or "")
    if not text:
        return [Row(CHECK, SUBJECT, Status.WARN, "no report yet: the CronJob vault/credential-report has not "
                                                 "completed a run (not verified)")]
    try:
        doc = json.loads(text)
        generated = parse_time(str(doc["generated"]))
        interval = int(doc.get("intervalSeconds") or 900)
        services = [s for s in doc.get("services") or [] if isinstance(s, dict)]
    except (ValueError, KeyError, TypeError) as err:
        return [Row(CHECK, SUBJECT, Status.WARN, f"report unreadable ({type(err).__name__}): not verified")]
    if generated is None:
        return [Row(CHECK, SUBJECT, Status.WARN, "report without a time: not verified")]
    rows = []
    as_of = ""
    if (snap.now - generated).total_seconds() > STALE_INTERVALS * interval:
        rows.append(Row(CHECK, SUBJECT, Status.WARN,
                        f"report is {_age(snap.now, generated)} old (runs every {interval // 60} min): the CronJob "
                        "is not completing runs (VaultCredentialReportFailing); the rows below are its last state"))
        as_of = f" (as of {_age(snap.now, generated)} ago)"
    rows += [_service_row(s, as_of) for s in sorted(services, key=lambda s: str(s.get("service")))]
    reported = {str(s.get("service")) for s in services}
    rows += [Row(CHECK, name, Status.WARN, "not in the report (a service added since its last run?): not verified")
             for name in exp.vault_services if name not in reported]
    return rows
