"""checkov on the offline plan: a deliberately weakened resource entering the plan fails the audit; the scan is
offline. One checkov process serves the weakened-plan tests (registered objects + the Terraform-plan export)."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
from pathlib import Path

import pytest

from audit.accepted_risks import load
from tests.conftest import plan_of
from tools.audit_report import checkov_scan
from tools.audit_report.checkov_scan import (
    NETWORK_MARKER,
    NO_NETWORK,
    ScanError,
    checkov_binary,
    registered_objects,
    run_checkov,
    write_manifests,
)
from tools.audit_report.scanner import ScannerVerdict, judge
from tools.engine.mock_engine import Plan
from tools.tf_plan_export.export import dumps

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

pytestmark = pytest.mark.skipif(checkov_binary() is None,
                                reason="checkov is not installed in .venv-audit/ (make audit or make test creates it)")


def weakened(plan: Plan) -> Plan:
    """prod's plan with the Vault snapshot bucket's encryption configuration gone and analytics' pod without any
    securityContext: what a careless change would register."""
    resources = []
    for r in plan.resources:
        if r.type == SSE and r.name.startswith("vault-snapshots"):
            continue
        if r.type == DEPLOYMENT and r.name == "app-analytics-deployment":
            inputs = copy.deepcopy(r.inputs)
            pod = inputs["spec"]["template"]["spec"]
            pod.pop("securityContext")
            for c in pod["containers"]:
                c.pop("securityContext")
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return dataclasses.replace(plan, resources=resources)


@pytest.fixture(scope="module")
def verdict(tmp_path_factory: pytest.TempPathFactory) -> ScannerVerdict:
    directory: Path = tmp_path_factory.mktemp("weakened")
    plan = weakened(plan_of("prod"))
    (directory / "tfplan.json").write_text(dumps(plan))
    write_manifests(directory / "k8s", "registered", registered_objects(plan))
    results, version, _ = run_checkov(directory)
    assert version == "3.3.30"
    return judge(results, load(), "prod", "prod")


def status(verdict: ScannerVerdict, check: str, resource: str) -> str:
    (found,) = [f.status for f in verdict.findings if f.result.check_id == check and f.result.resource == resource]
    return found


def test_a_bucket_without_encryption_fails_and_no_acceptance_covers_it(verdict: ScannerVerdict) -> None:
    assert status(verdict, "CKV_AWS_145", "aws_s3_bucket.vault-snapshots") == "FAIL"
    assert status(verdict, "CKV_AWS_145", "aws_s3_bucket.backups-aws-dr-replica") == "PASS"  # its SSE-KMS remains
    assert ("CKV_AWS_145", "aws_s3_bucket.vault-snapshots") in {
        (f.result.check_id, f.result.resource) for f in verdict.unaccepted()}


@pytest.mark.parametrize("check", ["CKV_K8S_20", "CKV_K8S_28", "CKV_K8S_30", "CKV_K8S_31", "CKV_K8S_40"])
def test_a_pod_without_security_context_fails(verdict: ScannerVerdict, check: str) -> None:
    assert status(verdict, check, "Deployment.prod-app.analytics") == "FAIL"
    assert status(verdict, check, "Deployment.prod-app.payment-gateway") == "PASS"  # the program's own spec


def test_the_unweakened_registered_objects_and_aws_layer_fail_nothing_unaccepted(verdict: ScannerVerdict) -> None:
    weak = {"Deployment.prod-app.analytics", "aws_s3_bucket.vault-snapshots"}
    assert [(f.result.check_id, f.result.resource) for f in verdict.unaccepted() if f.result.resource not in weak] \
        == []


def test_the_guard_checkov_runs_under_refuses_and_reports_every_connection() -> None:
    python = checkov_binary()
    assert python is not None
    probe = "import urllib.request\ntry:\n    urllib.request.urlopen('https://pypi.org/', timeout=2)\n" \
            "except Exception as err:\n    print(type(err).__name__)\n"
    proc = subprocess.run([str(python), "-c", NO_NETWORK + probe], capture_output=True, text=True, timeout=60,
                          check=False)
    assert NETWORK_MARKER in proc.stderr and "URLError" in proc.stdout  # refused before any packet left


def test_a_scan_whose_process_tried_the_network_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Any connection attempt inside the checkov process makes the scan fail, whatever checkov did with the error.
    monkeypatch.setattr(checkov_scan, "_GUARD", NO_NETWORK + "import socket\ntry:\n    "
                        "socket.create_connection(('pypi.org', 443))\nexcept OSError:\n    pass\nprint('[]')\n")
    with pytest.raises(ScanError, match="checkov tried to reach the network"):
        run_checkov(tmp_path, ("kubernetes",))
