"""Existing manifests (`manifests.directory`): validation at config load, and what the plan registers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import manifests
from config.manifests import ALLOWED
from config.model import ConfigError
from tests.conftest import FACTS, build_config, plan_of
from tests.helpers.variant_plans import EXAMPLE, sandbox_with
from tools.engine.mock_engine import PlanMocks, RecordingMonitor, load_stack_settings, run_stack

FIELDS = yaml.safe_load((FACTS / "linkerd_crd_fields.yaml").read_text())
CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"


def _pod_deployment(**pod: Any) -> dict[str, Any]:
    """A valid restricted Deployment; `pod` overrides pod-spec fields, `container` the container's."""
    annotations = pod.pop("annotations", {})
    container = {"name": "app", "image": "ghcr.io/stefanprodan/podinfo:6.9.2",
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                 **pod.pop("container", {})}
    spec = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container], **pod}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations},
                                  "spec": spec}}}


def _problems(tmp_path: Path, *docs: Any, text: str | None = None) -> list[str]:
    (tmp_path / "app.yaml").write_text(text if text is not None else yaml.safe_dump_all(docs))
    _, problems = manifests.load(tmp_path.name, "dev-app", root=tmp_path.parent)
    assert all(k == "mtls-platform:manifests.directory" for k, _ in problems)
    return [rule for _, rule in problems]


def test_the_example_app_is_valid_and_lands_in_the_app_namespace() -> None:
    objects, problems = manifests.load(EXAMPLE, "prod-app")
    assert problems == []
    kinds = sorted(o["kind"] for o in objects)
    assert kinds.count("Deployment") == 2 and kinds.count("Server") == 3 and kinds.count("NetworkPolicy") == 2
    assert {o["metadata"]["namespace"] for o in objects} == {"prod-app"}
    assert all(o["kind"] in ALLOWED[o["apiVersion"]] for o in objects)


def test_the_example_uses_only_fields_and_versions_of_the_pinned_linkerd_crds() -> None:
    objects, _ = manifests.load(EXAMPLE, "dev-app")
    linkerd = [o for o in objects if o["apiVersion"].startswith("policy.linkerd.io/")]
    assert {o["kind"] for o in linkerd} == {"Server", "MeshTLSAuthentication", "AuthorizationPolicy"}
    for o in linkerd:
        crd = FIELDS[o["kind"]]
        assert o["apiVersion"].split("/")[1] in crd["served"], o["kind"]
        assert set(o["spec"]) <= set(crd["spec"]), o["kind"]


def test_linkerd_kinds_in_the_allow_list_are_versions_the_crds_serve() -> None:
    for api, kinds in ALLOWED.items():
        if api.startswith("policy.linkerd.io/"):
            for kind in kinds & set(FIELDS):
                assert api.split("/")[1] in FIELDS[kind]["served"], kind


def test_a_valid_document_passes(tmp_path: Path) -> None:
    assert _problems(tmp_path, _pod_deployment()) == []


@pytest.mark.parametrize(("doc", "expected"), [
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}, "Namespace is cluster-scoped"),
    ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}},
     "cluster-scoped"),
    ({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}}, "v1 Secret is not an allowed kind"),
    ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "x"}}, "not an allowed"),
    ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}},
     "namespace 'default' is not the app namespace 'dev-app'"),
    ({"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server", "metadata": {"name": "s"},
      "spec": {"port": "http", "podSelector": {}, "accessPolicy": "all-unauthenticated"}},
     "accessPolicy 'all-unauthenticated'"),
    (_pod_deployment(annotations={"linkerd.io/inject": "disabled"}), "linkerd.io/inject: disabled"),
    (_pod_deployment(hostNetwork=True), "hostNetwork: true"),
    (_pod_deployment(container={"securityContext": {"privileged": True, "allowPrivilegeEscalation": False,
                                                    "capabilities": {"drop": ["ALL"]}}}), "privileged: true"),
    (_pod_deployment(container={"securityContext": {"runAsNonRoot": False, "allowPrivilegeEscalation": False,
                                                    "capabilities": {"drop": ["ALL"]}}}), "runAsNonRoot must be true"),
    (_pod_deployment(container={"securityContext": {"capabilities": {"drop": ["ALL"]}}}),
     "allowPrivilegeEscalation must be false"),
    (_pod_deployment(container={"securityContext": {"allowPrivilegeEscalation": False,
                                                    "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}}}),
     "capabilities.add ['NET_ADMIN']"),
    (_pod_deployment(volumes=[{"name": "host", "hostPath": {"path": "/var/run"}}]), "of type hostPath"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}},
     "only ClusterIP services"),
    ({"metadata": {"name": "x"}}, "must have apiVersion, kind and metadata"),
    (["not", "an", "object"], "must be a Kubernetes object"),
])
def test_every_broken_rule_names_the_file_and_the_document(tmp_path: Path, doc: Any, expected: str) -> None:
    ok = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "first"}}
    rules = _problems(tmp_path, ok, doc)
    assert len(rules) >= 1 and all(r.startswith(f"{tmp_path.name}/app.yaml document 2: ") for r in rules), rules
    assert any(expected in r for r in rules), rules


def test_unparseable_yaml_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text("kind: [unclosed\n")
    rules = _problems(tmp_path, text="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    assert rules[0].startswith(f"{tmp_path.name}/app.yaml document 2: duplicate ConfigMap 'a' (first in ")
    assert rules[1].startswith(f"{tmp_path.name}/b.yml: unparseable YAML (line 2)")


@pytest.mark.parametrize(("directory", "expected"), [
    ("../outside", "must be a relative path inside the project"),
    ("/etc", "must be a relative path inside the project"),
    ("no-such-dir", "is not a directory of the project"),
    ("docs", "holds no *.yaml or *.yml file"),
])
def test_directory_rules(directory: str, expected: str) -> None:
    _, problems = manifests.load(directory, "dev-app")
    assert [k for k, _ in problems] == ["mtls-platform:manifests.directory"]
    assert expected in problems[0][1]


def _config(**groups: Any) -> dict[str, str]:
    config = load_stack_settings("dev")
    config.update({f"mtls-platform:{g}": json.dumps(v) for g, v in groups.items()})
    return config


def test_a_bad_manifest_is_a_config_error_before_any_resource(tmp_path: Path) -> None:
    monitor = RecordingMonitor(PlanMocks("us-east-1"))
    with pytest.raises(ConfigError, match=r"stack 'dev'.*\n  - mtls-platform:manifests\.directory: 'no-such-dir'"):
        run_stack("dev", config=_config(manifests={"directory": "no-such-dir"}), monitor=monitor)
    assert monitor.registrations == []


def test_replace_needs_a_directory() -> None:
    with pytest.raises(ConfigError, match=r"mtls-platform:manifests\.mode: replace needs manifests\.directory"):
        build_config("dev", _config(manifests={"mode": "replace"}))


def test_mode_is_typed() -> None:
    with pytest.raises(ConfigError, match=r"mtls-platform:manifests\.mode: must be 'addition' or 'replace'"):
        build_config("dev", _config(manifests={"directory": EXAMPLE, "mode": "merge"}))


@pytest.mark.parametrize("stack", ["sandbox", "dev", "staging", "prod"])
def test_no_stack_applies_manifests_by_default(stack: str) -> None:
    assert plan_of(stack).of_type(CONFIG_GROUP) == []


def test_addition_applies_the_manifests_after_the_mesh_next_to_the_catalog() -> None:
    plan = sandbox_with("addition", "audit")  # the plan test_rollout also uses: one run for both
    (group,) = plan.of_type(CONFIG_GROUP)
    assert len(group.inputs["objs"]) == 20
    assert {o["metadata"]["namespace"] for o in group.inputs["objs"]} == {"sandbox-app"}
    deps = {d.rsplit("::", 1)[1] for d in group.dependencies}
    assert {"linkerd-control-plane", "sandbox-app"} <= deps
    assert len(plan.of_type("kubernetes:apps/v1:Deployment")) == len(plan_of("sandbox").of_type(
        "kubernetes:apps/v1:Deployment"))


def test_replace_creates_the_manifests_instead_of_the_catalog() -> None:
    plan = sandbox_with("replace")
    assert len(plan.of_type(CONFIG_GROUP)) == 1
    assert plan.of_type("kubernetes:apps/v1:Deployment") == []
    # no service repository (the trust-anchor rotation's image repository is the platform's)
    assert [r.name for r in plan.of_type("aws:ecr/repository:Repository")] == ["trust-anchor-rotation-image"]
    # The namespace-wide scrape policy stays: the manifests' pods are meshed and scraped too.
    assert [r.name for r in plan.resources if r.type.endswith(":Server")] == ["app-proxy-admin-server"]
