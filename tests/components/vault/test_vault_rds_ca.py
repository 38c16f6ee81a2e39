"""The RDS CA bundle Vault's PostgreSQL connection verifies RDS with (sslrootcert): fetched by an init container of the
Vault StatefulSet, rendered with the real Helm engine from the pinned vault chart, restricted, allowed out by the
vault namespace's NetworkPolicies, and its script's failure modes run with /bin/sh."""

from __future__ import annotations

import ipaddress
import os
import posixpath
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from components.mesh import namespace_specs as np
from components.vault.bootstrap.app_secrets import RDS_CA_FILE
from components.vault.vault_values import (
    RDS_CA_INIT_CONTAINER,
    rds_ca_bundle_url,
    rds_ca_init_container,
    vault_values,
)
from config.names import VAULT_NAMESPACE
from config.versions import AWS_CLI_IMAGE, VAULT_CHART
from tests.components.vault.test_vault_values import vault_args
from tests.helpers.helm_render import chart_dir, named, parse_manifests
from tests.helpers.pod_security import violations

Obj = dict[str, Any]


def _statefulset(**overrides: Any) -> Obj:
    chart = helm.Chart.load(str(chart_dir("vault", VAULT_CHART)))
    objects = parse_manifests(chart.render(values=vault_values(vault_args(False, **overrides)), name="vault",
                                           namespace=VAULT_NAMESPACE, is_install=True))
    return named(objects, "StatefulSet", "vault")


def _mount_dir(container: Obj, volume: str) -> str:
    [path] = [m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] == volume]
    return str(path)


def test_the_rendered_vault_pod_fetches_the_bundle_where_the_connection_reads_it_and_stays_restricted() -> None:
    spec = _statefulset(rds_ca_bundle=True)["spec"]["template"]["spec"]
    [init] = [c for c in spec["initContainers"] if c["name"] == RDS_CA_INIT_CONTAINER]
    [server] = [c for c in spec["containers"] if c["name"] == "vault"]
    [volume] = [v for v in spec["volumes"] if "emptyDir" in v and v["name"] == init["volumeMounts"][0]["name"]]
    assert init["image"] == AWS_CLI_IMAGE and init["command"][:2] == ["/bin/sh", "-c"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"RDS_CA_URL": "https://truststore.pki.rds.amazonaws.com/us-east-1/us-east-1-bundle.pem",
                   "RDS_CA_FILE": RDS_CA_FILE}
    # The init container writes into the directory the server reads (read-only) and the connection names.
    assert _mount_dir(init, volume["name"]) == _mount_dir(server, volume["name"]) == posixpath.dirname(RDS_CA_FILE)
    assert [m.get("readOnly") for m in server["volumeMounts"] if m["name"] == volume["name"]] == [True]
    # The vault namespace enforces restricted (components.mesh.namespace_specs); the whole pod must pass it.
    assert violations({}, spec, "restricted") == []
    assert "--insecure" not in init["command"][2] and " -k " not in init["command"][2]


def test_without_a_postgres_client_vault_starts_without_the_download() -> None:
    spec = _statefulset()["spec"]["template"]["spec"]
    assert RDS_CA_INIT_CONTAINER not in [c["name"] for c in spec.get("initContainers") or []]
    assert posixpath.dirname(RDS_CA_FILE) not in [m["mountPath"] for c in spec["containers"]
                                                  for m in c.get("volumeMounts", [])]


def test_the_vault_namespace_lets_the_vault_pods_reach_the_trust_store_on_443_and_nothing_wider() -> None:
    vault_labels = {"app.kubernetes.io/name": "vault", "component": "server"}
    policies = np.policies_for(VAULT_NAMESPACE, np.Networks(vpc_cidr="10.10.0.0/16", service_cidr="172.20.0.0/16"),
                               app_namespace="apps", vault_app_clients=("orders",))
    public = ipaddress.ip_address("13.224.0.10")  # a public (CloudFront-range) address outside every private range
    admitting = []
    for name, policy in policies.items():
        selector = policy["podSelector"].get("matchLabels", {})
        if not selector.items() <= vault_labels.items() or "Egress" not in policy["policyTypes"]:
            continue
        for rule in policy.get("egress", []):
            blocks = [peer["ipBlock"] for peer in rule.get("to", []) if "ipBlock" in peer]
            if any(public in ipaddress.ip_network(b["cidr"]) and not any(
                    public in ipaddress.ip_network(e) for e in b.get("except", [])) for b in blocks):
                admitting.append((name, sorted(p["port"] for p in rule["ports"])))
    assert admitting == [("allow-aws-apis", [443])]


@pytest.mark.parametrize("region", ["us-east-1\n", "us-east-1/../x", "US-EAST-1", "global", ""])
def test_only_a_region_name_becomes_the_bundle_url(region: str) -> None:
    with pytest.raises(ValueError, match="not an AWS region name"):
        rds_ca_bundle_url(region)
    with pytest.raises(ValueError, match="not an AWS region name"):
        vault_args(False, region=region or "x y", rds_ca_bundle=True)


def _run_script(tmp_path: Path, fake_curl: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The init container's own script under /bin/sh, with `curl` replaced by a script that writes or fails the way
    the network would (the tests may not use the network); grep and mv are the system's."""
    if shutil.which("sh") is None or shutil.which("grep") is None:
        pytest.skip("no /bin/sh or grep on this machine")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text("#!/bin/sh\n" + fake_curl)
    (bin_dir / "curl").chmod(0o755)
    target = tmp_path / "rds-ca-bundle.pem"
    container = rds_ca_init_container("eu-west-1")
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "RDS_CA_FILE": str(target),
           "RDS_CA_URL": next(e["value"] for e in container["env"] if e["name"] == "RDS_CA_URL")}
    result = subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=20, check=False)
    return result, target


# The fake curl writes to the file after `-o` (its arguments are the script's, unchanged).
_WRITE = 'while [ "$1" != "-o" ]; do shift; done; printf "%s" "$CONTENT" > "$2"\n'


def test_the_script_writes_the_bundle_only_when_a_verified_download_returned_pem(tmp_path: Path) -> None:
    result, target = _run_script(tmp_path, 'CONTENT="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"\n'
                                            + _WRITE)
    assert result.returncode == 0, result.stderr
    assert target.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert not Path(f"{target}.part").exists()


@pytest.mark.parametrize(("fake", "message"), [
    ('echo "curl: (60) SSL certificate problem" >&2; exit 60\n', "cannot download https://truststore.pki.rds."
                                                                 "amazonaws.com/eu-west-1/eu-west-1-bundle.pem"),
    ('CONTENT="<html>captive portal</html>"\n' + _WRITE, "did not return PEM certificates"),
])
def test_the_script_fails_the_pod_with_one_clear_line(tmp_path: Path, fake: str, message: str) -> None:
    result, target = _run_script(tmp_path, fake)
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.count("fetch-rds-ca:") == 1
    assert not target.exists()
