"""Every repository path a comment, docstring or document names exists, and none points outside the repository.

A reader following `components/vault/bootstrap/steps.py` or `docs/rollout.md` from a comment must find it; a moved or
renamed file leaves such pointers dangling, which this test catches. Text that only looks like a path (Kubernetes
apiVersions, IAM ARNs, Vault API paths, files of upstream repositories) is listed in NOT_REPOSITORY_PATHS.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT

TOP = ("components", "config", "tools", "tests", "docs", "audit", "policy_pack", "state_backend", "manifests",
       "pricing", "bootstrap", "policy")
PATH = re.compile(rf"(?<![\w./:-])((?:{'|'.join(TOP)})/[\w/.*-]*[\w/*])")
MODULE = re.compile(r"python -m ((?:tools|tests)\.[\w.]+)")
SUFFIXES = (".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".json", "Makefile", ".ci/run")
# Path-shaped text that is not a path of this repository, with what it is.
NOT_REPOSITORY_PATHS = {
    "policy/v1",  # the Kubernetes API group/version of PodDisruptionBudget
    "policy/role",  # prose: the Vault ACL policy and Kubernetes auth role of the snapshot job
    "audit/enforce",  # prose: rollout.policyMode's two values
    "docs/diagram",  # Makefile: docs/diagram-$(STACK).png, written by `make diagram`
    "docs/install/iam_policy.json",  # in kubernetes-sigs/aws-load-balancer-controller
    "docs/guide/ingress/annotations.md",  # same repository
    "docs/metrics/workload/cronjob-metrics.md",  # in kubernetes/kube-state-metrics
    "config/kube_config.py",  # in kubernetes-client/python
    "config/urls",  # Vault's PKI API path pki/config/urls
    "state_backend/.state/",  # the git-ignored local backend of the first run
    "bootstrap/.state",  # state_backend/'s name before the rename, for a local .state left there
    "config/versions",  # renovate.json: the regex config/versions\\.py
}
# Prose must not send a reader outside the repository (code that reads optional upstream data may name it).
OUTSIDE = re.compile(r"\.\./shared|shared/reference|/work/")


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if f.endswith(SUFFIXES) and (ROOT / f).is_file()]


def _mentions() -> list[tuple[str, int, str]]:
    found = []
    for f in _tracked():
        for n, line in enumerate((ROOT / f).read_text(errors="replace").splitlines(), 1):
            found += [(f, n, m.group(1)) for m in PATH.finditer(line)]
    return found


def test_the_scan_sees_paths() -> None:
    assert ("README.md", "config/profiles.py") in {(f, p) for f, _, p in _mentions()}


def test_every_mentioned_repository_path_exists() -> None:
    dangling = [f"{f}:{n}: {p}" for f, n, p in _mentions()
                if p not in NOT_REPOSITORY_PATHS and not (ROOT / p).exists() and not any(ROOT.glob(p))]
    assert dangling == []


def test_every_module_a_command_runs_exists() -> None:
    missing = []
    for f in _tracked():
        for n, line in enumerate((ROOT / f).read_text(errors="replace").splitlines(), 1):
            for m in MODULE.finditer(line):
                base = ROOT / m.group(1).replace(".", "/")
                if not (base.with_suffix(".py").is_file() or (base / "__main__.py").is_file()):
                    missing.append(f"{f}:{n}: {m.group(1)}")
    assert missing == []


@pytest.mark.parametrize("allowed", sorted(NOT_REPOSITORY_PATHS))
def test_each_exception_is_still_needed(allowed: str) -> None:
    assert any(p == allowed for _, _, p in _mentions()), f"{allowed} is no longer mentioned: drop it from the list"


def test_no_prose_points_outside_the_repository() -> None:
    hits = []
    for f in _tracked():
        if f == "tests/test_repository_paths.py":
            continue
        for n, line in enumerate((ROOT / f).read_text(errors="replace").splitlines(), 1):
            comment = line.split("#", 1)[1] if f.endswith(".py") and "#" in line else line
            if OUTSIDE.search(comment) and not re.search(r'ROOT\.parent|"shared"', line):
                hits.append(f"{f}:{n}: {line.strip()}")
    # The one-line notes beside code that reads the optional upstream data say where it lives without sending
    # a reader there; everything else must cite the public origin instead.
    assert hits == []
