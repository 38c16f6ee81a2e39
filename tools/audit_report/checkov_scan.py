"""checkov over a stack's offline plan, as an external auditor would run it, offline.

Inputs, written to a scratch directory: `tfplan.json` (the AWS layer, tools/tf_plan_export) and `k8s/*.yaml` (every
Kubernetes object the plan registers, `registered.yaml`, plus every manifest each Helm release renders with the real
Helm engine, `release-<name>.yaml`). checkov runs in its own virtualenv (`.venv-audit`, requirements-audit.txt:
its dependency pins conflict with the program's) as one process over that directory, frameworks `terraform_plan`
and `kubernetes` only, with `--skip-download`, `BC_SKIP_MAPPING=TRUE` and `CKV_SKIP_PACKAGE_UPDATE_CHECK=true`
(no guideline download, no mapping download, no PyPI version check) and no API key. The process also runs under a
guard that refuses every socket connection and reports each attempt: a scan that tried to call home fails.
Ref: https://www.checkov.io/2.Basics/CLI%20Command%20Reference.html (--skip-download, --framework, -o json)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.engine.helm_render import RELEASE, find_chart, render_inputs
from tools.engine.mock_engine import ROOT, SECRET_PLACEHOLDER, Plan
from tools.tf_plan_export.export import export

AUDIT_VENV = Path(os.environ.get("MTLS_AUDIT_VENV", ROOT / ".venv-audit"))
FRAMEWORKS = ("terraform_plan", "kubernetes")
OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "WARNING"}
# Refuses every connection inside the checkov process and records it (stderr marker), then runs checkov's CLI.
NO_NETWORK = """
import socket, sys
def _refuse(self, address, *a, **k):
    sys.stderr.write("AUDIT-NETWORK-ATTEMPT %r\\n" % (address,))
    raise OSError("network disabled by the offline audit")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = lambda address, *a, **k: _refuse(None, address)
"""
_GUARD = NO_NETWORK + """
from checkov.main import Checkov
sys.exit(Checkov(sys.argv[1:]).run() or 0)
"""
NETWORK_MARKER = "AUDIT-NETWORK-ATTEMPT"
# Inputs of registered objects that are Pulumi's, not Kubernetes'.
_PULUMI_KEYS = frozenset({"__defaults"})
Obj = dict[str, Any]


class ScanError(RuntimeError):
    """checkov could not run, or it tried to reach the network."""


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    name: str
    status: str  # "passed" | "failed"
    resource: str  # checkov's id: aws_s3_bucket.x, or Kind.namespace.name for Kubernetes
    file: str  # input file, relative to the scan directory (tfplan.json, k8s/release-vault.yaml)
    framework: str
    guideline: str = ""


@dataclass(frozen=True)
class ScanResult:
    results: tuple[CheckResult, ...]
    seconds: float
    version: str
    unrendered: tuple[str, ...]  # releases whose chart was absent (make charts): their manifests went unscanned

    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]


def checkov_binary(venv: Path = AUDIT_VENV) -> Path | None:
    python = venv / "bin" / "python"
    return python if (venv / "bin" / "checkov").exists() and python.exists() else None


def registered_objects(plan: Plan) -> list[Obj]:
    """Every Kubernetes object the program registers itself (not the Helm releases' or the providers)."""
    objects = []
    for r in plan.resources:
        if not r.custom or not r.type.startswith("kubernetes:") or r.type == RELEASE:
            continue
        if "kind" not in r.inputs or "apiVersion" not in r.inputs:
            continue
        objects.append(_mask({k: v for k, v in r.inputs.items() if k not in _PULUMI_KEYS}))
    return objects


def _mask(value: Any) -> Any:
    """Secret placeholders blanked; whole numbers as integers (the engine's wire format makes every number a
    float: `runAsUser: 65532.0` would fail checks that compare integers)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return "offline-plan-secret" if SECRET_PLACEHOLDER in value else value
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def rendered_objects(plan: Plan) -> tuple[dict[str, list[Obj]], list[str]]:
    """(release name -> rendered objects, releases whose pinned chart is absent)."""
    rendered: dict[str, list[Obj]] = {}
    missing: list[str] = []
    for r in plan.of_type(RELEASE):
        chart = find_chart(r.inputs["chart"], r.inputs["version"])
        if chart is None:
            missing.append(f"{r.inputs['name']} ({r.inputs['chart']} {r.inputs['version']})")
            continue
        rendered[r.inputs["name"]] = render_inputs(r.inputs, chart)
    return rendered, missing


def write_inputs(plan: Plan, directory: Path, *, kubernetes: bool = True) -> list[str]:
    """Write the scan's inputs; returns the releases left unrendered."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tfplan.json").write_text(json.dumps(export(plan), indent=1, sort_keys=True, default=str))
    if not kubernetes:
        return []
    write_manifests(directory / "k8s", "registered", registered_objects(plan))
    rendered, missing = rendered_objects(plan)
    for name, objects in rendered.items():
        # CRDs are schemas, not workloads or permissions: checkov has no check for them, and they are most of the
        # rendered bytes (cert-manager's and Linkerd's CRDs: ~2.4 MB per stack).
        # `helm test` hooks are left out too: Pulumi's Release never runs `helm test`, so they are never created.
        write_manifests(directory / "k8s", f"release-{name}",
                        [o for o in objects if o.get("kind") != "CustomResourceDefinition" and not _test_hook(o)])
    return missing


def _test_hook(obj: Obj) -> bool:
    hooks = ((obj.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", "")
    return "test" in (h.strip() for h in str(hooks).split(","))


def write_manifests(directory: Path, name: str, objects: Iterable[Obj]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(list(objects), sort_keys=False))
    return path


def run_checkov(directory: Path, frameworks: Sequence[str] = FRAMEWORKS, venv: Path = AUDIT_VENV,
                timeout: float = 600) -> tuple[list[CheckResult], str, float]:
    """(results, checkov version, seconds) of one offline checkov run over `directory`."""
    python = checkov_binary(venv)
    if python is None:
        raise ScanError(f"checkov is not installed in {venv.name}/ (make audit creates it from requirements-audit.txt)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_API", "PRISMA", "CKV_"))} | OFFLINE_ENV
    argv = [str(python), "-c", _GUARD, "-d", str(directory), "--framework", *frameworks, "-o", "json",
            "--skip-download", "--compact", "--skip-results-upload"]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=directory, timeout=timeout, check=False)
    seconds = time.perf_counter() - start
    attempts = [line for line in proc.stderr.splitlines() if line.startswith(NETWORK_MARKER)]
    if attempts:
        raise ScanError(f"checkov tried to reach the network ({len(attempts)} attempt(s)): {attempts[0]}")
    if proc.returncode not in (0, 1):
        raise ScanError(f"checkov exited {proc.returncode}: {proc.stderr.strip()[-800:]}")
    reports = json.loads(proc.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    results: list[CheckResult] = []
    version = ""
    for report in reports:
        if not isinstance(report, dict) or "results" not in report:
            continue
        version = report.get("summary", {}).get("checkov_version", version)
        framework = report.get("check_type", "")
        for status in ("passed", "failed"):
            for c in report["results"].get(f"{status}_checks", []):
                results.append(CheckResult(
                    c["check_id"], c.get("check_name", ""), status, c.get("resource", ""),
                    _relative(c.get("file_path", ""), directory), framework, c.get("guideline") or ""))
    return results, version, seconds


def _relative(path: str, directory: Path) -> str:
    text = path.lstrip("/")
    root = str(directory).lstrip("/")
    return text[len(root):].lstrip("/") if text.startswith(root) else text


def scan(plan: Plan, directory: Path, *, kubernetes: bool = True, venv: Path = AUDIT_VENV) -> ScanResult:
    missing = write_inputs(plan, directory, kubernetes=kubernetes)
    frameworks = FRAMEWORKS if kubernetes else ("terraform_plan",)
    results, version, seconds = run_checkov(directory, frameworks, venv)
    return ScanResult(tuple(results), seconds, version, tuple(missing))


if __name__ == "__main__":  # pragma: no cover - a debugging aid: scan inputs already written to a directory
    found, ver, took = run_checkov(Path(sys.argv[1]))
    print(f"checkov {ver}: {len(found)} results in {took:.1f} s")
