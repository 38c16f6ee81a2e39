"""The optional Argo CD delivery (`gitops.argocd`): off everywhere by default; when on, fenced like a system namespace
and allowed to sync only the app's namespaced kinds into the app namespace."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import yaml

from components.gitops import argocd_specs, argocd_values
from components.shared.chart_values import flatten
from config.manifests import ALLOWED
from config.model import ConfigError
from config.versions import ARGOCD_CHART
from tests.conftest import FACTS, STACKS, build_config, plan_of
from tools.chart_data import chart_keys
from tools.engine.mock_engine import Plan, load_stack_settings, run_stack

KEY_LIST = chart_keys.KEYS_DIR / f"argo-cd-{ARGOCD_CHART}.txt"
CRD = yaml.safe_load((FACTS / "argocd_crd_fields.yaml").read_text())
REPO = "https://github.com/example/shop-deploy"
APP = "kubernetes:argoproj.io/v1alpha1:Application"


def _config(stack: str = "dev", **gitops: Any) -> dict[str, str]:
    return {**load_stack_settings(stack), "mtls-platform:gitops": json.dumps(gitops)}


@cache
def _dev_with_argocd() -> Plan:
    return run_stack("dev", config=_config(argocd=True, repoUrl=REPO, path="k8s/dev", targetRevision="v1.4.0"))


def test_key_list_names_its_source_and_every_value_set_exists_in_the_pinned_chart() -> None:
    assert KEY_LIST.read_text().startswith(
        "# Source: github.com/argoproj/argo-helm tag argo-cd-10.1.1 (commit af0a9310")
    keys = chart_keys.load(KEY_LIST)
    values = flatten(argocd_values.argocd_values())
    assert sorted(values) == sorted(p for p in values if p in keys)
    assert "global.networkPolicy.create" in keys and "dex.enabled" in keys


def _check_fields(kind: str, body: dict[str, Any], path: str = "spec") -> None:
    fields = CRD[kind]
    assert set(body) <= set(fields[path]), (kind, path, set(body) - set(fields[path]))
    for name, value in body.items():
        sub = f"{path}.{name}"
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and sub in fields:
                _check_fields(kind, item, sub)


def test_specs_use_only_fields_of_the_pinned_crds() -> None:
    assert CRD["Application"]["served"] == CRD["AppProject"]["served"] == [argocd_specs.API_VERSION.split("/")[1]]
    _check_fields("Application", argocd_specs.application("prod-app", REPO, "k8s", "main"))
    _check_fields("AppProject", argocd_specs.app_project("prod-app", REPO))
    with pytest.raises(AssertionError):
        _check_fields("Application", {"source": {"repoUrl": REPO}})  # the CRD spells it repoURL


def test_project_allows_only_the_app_namespace_and_the_manifest_kinds() -> None:
    project = argocd_specs.app_project("prod-app", REPO)
    assert project["destinations"] == [{"server": argocd_specs.IN_CLUSTER, "namespace": "prod-app"}]
    assert project["clusterResourceWhitelist"] == [] and project["sourceRepos"] == [REPO]
    allowed = {(api.rpartition("/")[0], kind) for api, kinds in ALLOWED.items() for kind in kinds}
    assert {(k["group"], k["kind"]) for k in project["namespaceResourceWhitelist"]} == allowed
    assert {"group": "", "kind": "Secret"} not in project["namespaceResourceWhitelist"]


@pytest.mark.parametrize("stack", STACKS)
def test_off_by_default_in_every_stack(stack: str) -> None:
    plan = plan_of(stack)
    assert not [r for r in plan.resources if "argoproj.io" in r.type or r.type == "mtls-platform:gitops:ArgoCd"]
    assert "argocd" not in {r.name for r in plan.of_type("kubernetes:helm.sh/v3:Release")}


def test_when_on_argocd_is_fenced_like_a_system_namespace() -> None:
    plan = _dev_with_argocd()
    ns = plan.one("kubernetes:core/v1:Namespace", "argocd-namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = [r for r in plan.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
                if r.inputs["metadata"]["namespace"] == "argocd"]
    by_name = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in policies}
    assert by_name["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    (git,) = by_name["allow-git-https"]["egress"]
    assert git["ports"] == [{"protocol": "TCP", "port": 443}]
    release = plan.one("kubernetes:helm.sh/v3:Release", "argocd")
    assert (release.inputs["chart"], release.inputs["version"]) == ("argo-cd", ARGOCD_CHART)
    assert release.inputs["values"]["global"]["networkPolicy"]["create"] is False


def test_when_on_the_application_syncs_the_repo_path_into_the_app_namespace_after_the_mesh() -> None:
    plan = _dev_with_argocd()
    app = plan.one(APP)
    assert app.inputs["metadata"] == {"name": "app", "namespace": "argocd"}
    assert app.inputs["spec"]["source"] == {"repoURL": REPO, "path": "k8s/dev", "targetRevision": "v1.4.0",
                                            "directory": {"recurse": True}}
    assert app.inputs["spec"]["destination"]["namespace"] == "dev-app"
    assert app.inputs["spec"]["syncPolicy"]["syncOptions"] == ["CreateNamespace=false"]
    deps = {d.rsplit("::", 1)[1] for d in app.dependencies}
    assert {"linkerd-control-plane", "argocd", "argocd-project", "dev-app"} <= deps


@pytest.mark.parametrize(("gitops", "expected"), [
    ({"argocd": True, "path": "k8s"}, r"gitops\.repoUrl: '' must be an https:// Git URL"),
    ({"argocd": True, "repoUrl": "http://git.example.com/x", "path": "k8s"}, r"gitops\.repoUrl: 'http://"),
    ({"argocd": True, "repoUrl": "https://user:pw@github.com/x", "path": "k8s"}, r"without credentials"),
    ({"argocd": True, "repoUrl": REPO, "path": "../k8s"}, r"gitops\.path: '\.\./k8s' must be a relative"),
    ({"argocd": True, "repoUrl": REPO}, r"gitops\.path: '' must be a relative"),
    ({"argocd": "yes", "repoUrl": REPO}, r"gitops\.argocd: must be a valid boolean"),
])
def test_gitops_settings_are_checked_when_argocd_is_on(gitops: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        build_config("dev", _config(**gitops))


def test_settings_without_the_flag_are_inert() -> None:
    assert not build_config("dev", _config(repoUrl="not-a-url")).argocd_enabled
