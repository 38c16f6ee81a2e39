"""Every Kubernetes object a stack would send to its cluster, validated strictly against the cluster's schemas.

Two sources: every object the real Helm engine renders for the stack's releases, and every Kubernetes resource the
plan registers directly. Built-in kinds are checked against the API schemas of config/versions.py
KUBERNETES_VERSION (kubernetes-validate, strict: an unknown field fails), custom resources against the
openAPIV3Schema of the CRDs that the stack's own releases install (rendered templates and the charts' `crds/`
directories), strict as well; a kind no release defines, or a version its CRD does not serve, fails.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Any

import jsonschema
import pytest

from tests.conftest import STACKS, plan_of
from tests.helpers import k8s_schemas
from tests.helpers.helm_render import RELEASE, crd_documents, rendered
from tests.helpers.k8s_schemas import Obj, SchemaSet, flatten, strict_crd_schema


@functools.cache
def schemas(stack: str) -> SchemaSet:
    """What the stack's cluster serves once its releases are installed: built-in kinds plus their CRDs."""
    crds, documents = [], []
    for release in plan_of(stack).of_type(RELEASE):
        name = release.inputs["name"]
        crds += k8s_schemas.crds_of(rendered(stack)[name], f"release {name}")
        documents += [(f"release {name} ({file})", text) for file, text in crd_documents(release)]
    return SchemaSet(crds, documents)


def _name(obj: Obj) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name', '?')}"


def registered_objects(stack: str) -> list[tuple[str, Obj]]:
    """(resource name, object) of every Kubernetes object the plan registers itself (not Helm releases)."""
    found = []
    for resource in plan_of(stack).resources:
        if resource.type.startswith("kubernetes:") and resource.type != RELEASE and resource.custom:
            found.append((resource.name, resource.inputs))
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_object_matches_its_kubernetes_or_crd_schema(stack: str) -> None:
    problems = []
    count = 0
    for release, objects in rendered(stack).items():
        for obj in flatten(objects):
            count += 1
            problems += [f"stack {stack}, release {release}, {_name(obj)}: {e}" for e in schemas(stack).errors(obj)]
    assert count > 100
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_every_registered_kubernetes_object_matches_its_schema(stack: str) -> None:
    objects = registered_objects(stack)
    problems = []
    for name, obj in objects:
        problems += [f"stack {stack}, resource {name}, {_name(obj)}: {e}" for e in schemas(stack).errors(obj)]
    assert len(objects) > 150
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("stack", STACKS)
def test_registered_type_tokens_name_the_objects_they_carry(stack: str) -> None:
    # kubernetes:<group>/<version>:<Kind> (core group spelled "core") must agree with the object's own apiVersion and
    # kind, or Pulumi and the API server would disagree on what the resource is.
    for resource in plan_of(stack).resources:
        if resource.type.startswith("kubernetes:") and resource.type != RELEASE and resource.custom:
            _, group_version, kind = resource.type.split(":")
            api_version = group_version.removeprefix("core/")
            assert (resource.inputs["apiVersion"], resource.inputs["kind"]) == (api_version, kind), resource.name


# --- the check can fail ----------------------------------------------------------------------------------------------

def _registered(stack: str, kind: str) -> Obj:
    obj = next(o for _, o in registered_objects(stack) if o["kind"] == kind)
    return copy.deepcopy(obj)


def test_unknown_fields_and_wrong_types_are_caught_in_builtin_kinds() -> None:
    deployment = _registered("prod", "Deployment")
    assert schemas("prod").errors(deployment) == []
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicyy"] = "Always"
    container["ports"][0]["containerPort"] = "http"
    deployment["metadata"]["label"] = {}
    errors = schemas("prod").errors(deployment)
    assert any(e.startswith("spec.template.spec.containers.0: ") and "'imagePullPolicyy' was unexpected" in e
               for e in errors), errors
    assert any(e.startswith("spec.template.spec.containers.0.ports.0.containerPort: ") for e in errors), errors
    assert any(e.startswith("metadata: ") and "'label' was unexpected" in e for e in errors), errors


def test_unknown_fields_wrong_types_and_unserved_versions_are_caught_in_custom_resources() -> None:
    certificate = _registered("prod", "Certificate")
    assert schemas("prod").errors(certificate) == []
    certificate["spec"]["duration"] = 2160
    certificate["spec"]["privateKey"]["algorithmm"] = "ECDSA"
    certificate["metadata"]["annotation"] = {}
    errors = schemas("prod").errors(certificate)
    assert any(e == "spec.duration: 2160 is not of type 'string', 'null'" for e in errors), errors
    assert any(e.startswith("spec.privateKey: ") and "'algorithmm' was unexpected" in e for e in errors), errors
    assert any(e.startswith("metadata: ") and "'annotation' was unexpected" in e for e in errors), errors

    server = _registered("prod", "Server")
    server["apiVersion"] = "policy.linkerd.io/v1beta9"
    assert schemas("prod").errors(server) == [
        "(root): release linkerd-crds serves Server in ['v1alpha1', 'v1beta1', 'v1beta2', 'v1beta3'] only, not v1beta9"]
    server["apiVersion"] = "policy.linkerd.io/v1beta1"
    assert "is deprecated" in schemas("prod").errors(server)[0]


def test_a_custom_resource_whose_crd_no_release_installs_fails() -> None:
    # The sandbox runs no monitoring release, so no Prometheus Operator CRD is installed there.
    pod_monitor = _registered("prod", "PodMonitor")
    assert schemas("prod").errors(pod_monitor) == []
    assert schemas("sandbox").errors(pod_monitor) == [
        "(root): no schema for monitoring.coreos.com/v1 PodMonitor: not a built-in kind of Kubernetes 1.36 and no CRD"
        " of this stack's releases defines it"]


def test_crds_come_only_from_charts_and_subcharts_helm_would_install_them_from() -> None:
    (monitoring,) = [r for r in plan_of("prod").of_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack"]
    files = {file for file, _ in crd_documents(monitoring)}
    assert len(files) == 10 and all(f.startswith("kube-prometheus-stack/charts/crds/crds/") for f in files)
    # The subchart's condition (Chart.yaml `condition: crds.enabled`) turns its crds/ off; so does skipCrds.
    values = {**monitoring.inputs["values"], "crds": {"enabled": False}}
    assert crd_documents(dataclasses.replace(monitoring, inputs={**monitoring.inputs, "values": values})) == []
    assert crd_documents(dataclasses.replace(monitoring, inputs={**monitoring.inputs, "skipCrds": True})) == []


# --- the conversion of structural schemas (no chart data needed) -----------------------------------------------------

def _errors(schema: dict[str, Any], value: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(strict_crd_schema(schema))
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                  for e in validator.iter_errors(value))


def test_structural_schema_prunes_become_errors_unless_unknown_fields_are_preserved() -> None:
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "port": {"x-kubernetes-int-or-string": True},
        "opaque": {"type": "object"},
    }}
    assert _errors(schema, {"spec": {"replicas": 2}, "free": {"any": {"thing": 1}}, "labels": {"a": "b"},
                            "port": "http", "spec2": None}) == ["(root): Additional properties are not allowed"
                                                                " ('spec2' was unexpected)"]
    assert _errors(schema, {"port": 8080, "spec": {"replicas": None}}) == []  # a null is pruned, not rejected
    assert _errors(schema, {"spec": {"replicas": "2", "x": 1}, "labels": {"a": 1}, "port": 1.5, "opaque": {"k": 1}})\
        == ["labels.a: 1 is not of type 'string', 'null'",
            "opaque: Additional properties are not allowed ('k' was unexpected)",
            "port: 1.5 is not valid under any of the given schemas",
            "spec.replicas: '2' is not of type 'integer', 'null'",
            "spec: Additional properties are not allowed ('x' was unexpected)"]
