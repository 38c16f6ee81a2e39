"""The credential alerts (components/monitoring/alert_specs.py credential_alerts) read metrics a real server exposes:
a dev-mode OpenBao with the production telemetry stanza makes its database engine fail each operation the alerts
watch (connection, issuance, static-role rotation against a PostgreSQL that is not there) and its Prometheus output
must carry exactly those counter names. OpenBao keeps Vault's metric names and middleware (sdk dbplugin v5)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from components.monitoring.alert_specs import credential_alerts
from components.vault.vault_values import vault_server_hcl
from tests.helpers.openbao import bao_binary, needs_bao

pytestmark = needs_bao
TOKEN = "metrics-root"
UNREACHABLE = "postgresql://{{username}}:{{password}}@127.0.0.1:1/none?sslmode=disable"


def _call(url: str, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/v1/{path}", method=method, headers={"X-Vault-Token": TOKEN},
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _telemetry_block() -> str:
    hcl = vault_server_hcl(1, "us-east-1", "alias/vault-unseal")
    match = re.search(r"^telemetry \{\n.*?^\}\n", hcl, re.M | re.S)
    assert match, "the production config has no top-level telemetry block"
    return match.group(0)


def test_every_database_counter_the_credential_alerts_read_is_exposed_on_failure(tmp_path: Path) -> None:
    (tmp_path / "telemetry.hcl").write_text(_telemetry_block())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(bao_binary()), "server", "-dev", f"-dev-root-token-id={TOKEN}", f"-dev-listen-address=127.0.0.1:{port}",
         f"-config={tmp_path / 'telemetry.hcl'}"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    try:
        for _ in range(100):
            try:
                if _call(url, "sys/health", method="GET")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        assert _call(url, "sys/mounts/database", {"type": "database"})[0] == 204
        # Initialize fails: the connection is verified against a port nothing listens on.
        status, _ = _call(url, "database/config/checked", {
            "plugin_name": "postgresql-database-plugin", "connection_url": UNREACHABLE, "username": "u",
            "password": "p", "allowed_roles": "*"})
        assert status == 400
        assert _call(url, "database/config/pg", {
            "plugin_name": "postgresql-database-plugin", "connection_url": UNREACHABLE, "username": "u",
            "password": "p", "allowed_roles": "*", "verify_connection": False})[0] == 204
        # NewUser fails: a dynamic credential cannot be created.
        assert _call(url, "database/roles/dynamic", {"db_name": "pg",
                                                     "creation_statements": 'CREATE ROLE "{{name}}"'})[0] == 204
        assert _call(url, "database/creds/dynamic", method="GET")[0] >= 400
        # UpdateUser fails: a static role's first rotation (at creation) cannot reach the database.
        assert _call(url, "database/static-roles/static", {"db_name": "pg", "username": "svc",
                                                           "rotation_period": "24h"})[0] >= 400
        status, text = _call(url, "sys/metrics?format=prometheus", method="GET")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert status == 200
    counters = set(re.findall(r"^# TYPE (vault_database_\w+_error) counter$", text, re.M))
    read = {name for alert in credential_alerts()
            for name in re.findall(r"vault_database_\w+_error", alert["expr"])}
    assert read == {"vault_database_NewUser_error", "vault_database_Initialize_error",
                    "vault_database_UpdateUser_error"}
    assert read <= counters, (read - counters, sorted(counters))
