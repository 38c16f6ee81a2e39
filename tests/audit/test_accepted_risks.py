"""The accepted-risk file: well-formed, no wildcards, every check id one checkov has, every resource one the plans
have; stale entries are reported. (That each accepted resource really fails its check in each listed stack is what
`make audit` verifies with the full scan: it exits 1 on a stale entry.)"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from audit.accepted_risks import AcceptedRiskError, load, parse, stale
from tests.conftest import STACKS, plan_of
from tests.helpers.helm_render import rendered
from tools.audit_report.checkov_scan import AUDIT_VENV, registered_objects
from tools.tf_plan_export.export import export

RISKS = load()


@cache
def checkov_ids() -> frozenset[str]:
    """Every check id the pinned checkov defines (read from its sources: no process start)."""
    packages = list((AUDIT_VENV / "lib").glob("python3*/site-packages/checkov"))
    if not packages:
        pytest.skip("checkov is not installed in .venv-audit/ (make audit or make test creates it)")
    # `id = "..."` in most checks, `check_id="..."` passed to a shared base class in others (CKV_AWS_382)
    pattern = re.compile(r"""\b(?:check_)?id["']?\s*[=:]\s*["']?(CKV2?_[A-Z0-9]+_\d+)\b""")
    # the checks live under <framework>/checks/ (Python classes, graph checks as YAML/JSON)
    found = {m for f in packages[0].glob("*/checks/**/*") if f.suffix in {".py", ".yaml", ".json"}
             for m in pattern.findall(f.read_text(errors="ignore"))}
    return frozenset(found)


def test_every_entry_names_a_check_checkov_has_and_says_why_and_who() -> None:
    assert RISKS, "audit/accepted_risks.yaml is empty"
    unknown = sorted({r.check for r in RISKS} - checkov_ids())
    assert unknown == []
    assert all(len(r.reason) > 40 and r.accepted_by for r in RISKS)


def _ids(stack: str) -> set[str]:
    plan = plan_of(stack)
    tf = {r["address"] for r in export(plan)["planned_values"]["root_module"]["resources"]}
    objects = [*registered_objects(plan), *(o for objs in rendered(stack).values() for o in objs)]
    k8s = {f"{o['kind']}.{(o.get('metadata') or {}).get('namespace', 'default')}.{o['metadata']['name']}"
           for o in objects if isinstance(o, dict) and "kind" in o}
    return tf | k8s


@pytest.mark.parametrize("stack", STACKS)
def test_every_accepted_resource_exists_in_the_stacks_it_names(stack: str) -> None:
    ids = _ids(stack)
    missing = [(r.check, res) for r in RISKS if r.applies_to(stack) for res in r.resources_in(stack)
               if res not in ids]
    assert missing == []


def test_an_entry_for_a_resource_that_no_longer_fails_is_stale() -> None:
    (risk,) = parse([{"check": "CKV_AWS_145", "resources": ["aws_s3_bucket.a", "aws_s3_bucket.b"],
                      "reason": "x" * 50, "accepted_by": "someone", "stacks": ["prod"]}])
    assert list(stale([risk], {("CKV_AWS_145", "aws_s3_bucket.a")}, "prod", "prod")) == [(risk, "aws_s3_bucket.b")]
    assert list(stale([risk], set(), "dev", "dev")) == []  # not listed for dev


@pytest.mark.parametrize(("entry", "message"), [
    ({"check": "CKV_K8S_43", "resources": ["Deployment.*"], "reason": "r", "accepted_by": "a"}, "no wildcards"),
    ({"check": "CKV_K8S_43", "resources": ["x"], "reason": "", "accepted_by": "a"}, "`reason` must be"),
    ({"check": "CKV_K8S_43", "resources": [], "reason": "r", "accepted_by": "a"}, "`resources` must list"),
    ({"check": "CKV_K8S_43", "resources": ["x"], "reason": "r", "accepted_by": "a", "stacks": ["qa"]}, "`stacks`"),
    ({"check": "CKV_K8S_43", "resources": ["x"], "reason": "r", "accepted_by": "a", "until": "x"}, "unknown field"),
])
def test_malformed_entries_are_refused_with_the_entry_named(entry: dict[str, object], message: str) -> None:
    with pytest.raises(AcceptedRiskError, match=re.escape(message)):
        parse([entry])


def test_one_resource_is_accepted_once_per_check_and_stack() -> None:
    entry = {"check": "CKV_K8S_43", "resources": ["x"], "reason": "r", "accepted_by": "a"}
    with pytest.raises(AcceptedRiskError, match="already accepted by entry 0"):
        parse([entry, entry])


def test_the_file_is_the_one_the_report_reads() -> None:
    assert Path(__file__).resolve().parents[2].joinpath("audit", "accepted_risks.yaml").is_file()
