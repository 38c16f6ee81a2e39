"""The delivery pipeline: dev -> staging -> prod, each `pulumi up` followed by the verify smoke test.

Parses .github/workflows/deploy.yml (a failing step fails its job; a job whose `needs` failed is skipped, so a
failing verify stops the promotion) and checks `make verify` is wired like the other targets.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def jobs() -> dict[str, Any]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    return dict(workflow["jobs"])


def test_environments_are_promoted_in_order(jobs: dict[str, Any]) -> None:
    assert jobs["dev"]["needs"] == "test"
    assert jobs["staging"]["needs"] == "dev"
    assert jobs["prod"]["needs"] == "staging"
    assert [jobs[e]["environment"] for e in ENVIRONMENTS] == list(ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_verify_runs_after_up_and_can_fail_the_job(jobs: dict[str, Any], env: str) -> None:
    steps = jobs[env]["steps"]
    up = [i for i, s in enumerate(steps)
          if s.get("uses") == "./.github/actions/pulumi" and s["with"] == {**s["with"], "command": "up", "stack": env}]
    verify = [i for i, s in enumerate(steps) if "-m tools.verify " in str(s.get("run", ""))]
    push = [i for i, s in enumerate(steps) if s.get("run") == f".github/scripts/push-rotation-image.sh {env}"]
    assert len(up) == 1 and len(verify) == 1 and len(push) == 1
    # The rotation controller's image goes up right after `up` (which creates its repository), then the smoke test.
    assert push[0] == up[0] + 1 and verify[0] == push[0] + 1
    assert "continue-on-error" not in steps[push[0]]
    step = steps[verify[0]]
    # --settle: right after `up` a Certificate may still be issuing; a real failure still fails after 5 minutes.
    assert step["run"].split() == [".venv/bin/python", "-m", "tools.verify", "--stack", env, "--settle", "300"]
    assert "continue-on-error" not in step and "if" not in step  # a failure must stop the promotion
    assert step["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"  # for `pulumi stack output`


def test_make_verify_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "verify: $(VENV)/.installed\n\t$(PY) -m tools.verify --stack $(STACK) $(ARGS)\n" in makefile
