"""Validate Kubernetes objects the way the cluster would: built-in kinds against the API schemas of the cluster's
Kubernetes version (kubernetes-validate's strict schemas), custom resources against the openAPIV3Schema of the CRDs
the stack's own releases install, strict (an unknown field is an error, as with server-side field validation).

Validators are built once per (apiVersion, kind) and schema, and a verdict once per distinct object, so the same
object rendered in four stacks is validated once. What is not checked (the API server would): CEL rules
(`x-kubernetes-validations`), string formats, defaulting, and admission webhooks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv

from config.versions import KUBERNETES_VERSION

Obj = dict[str, Any]
# The strict schema set of the newest version kubernetes-validate ships that is not newer than the cluster (the
# library's own choice in kubernetes_validate.utils.validate).
SCHEMA_VERSION = [v for v in kv.all_versions() if kv.major_minor(v) <= KUBERNETES_VERSION][-1]
_SCHEMA_DIR = f"kubernetes-json-schema/v{SCHEMA_VERSION}-local-strict"
_OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# Built-in API groups: "" (core) and the groups Kubernetes serves itself; any other group needs a CRD.
_BUILTIN_GROUP = re.compile(r"|apps|batch|policy|autoscaling|.+\.k8s\.io")


def group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def flatten(objects: Iterable[Obj]) -> Iterator[Obj]:
    """Objects as the API server receives them: a `List` is sent item by item (Helm's resource builder flattens it)."""
    for obj in objects:
        if obj.get("kind") == "List" and obj.get("apiVersion") == "v1":
            yield from flatten(obj.get("items") or [])
        else:
            yield obj


@functools.cache
def _registry() -> referencing.Registry[Any]:
    definitions = kv.schema_contents(f"{_SCHEMA_DIR}/_definitions.json", SCHEMA_VERSION)
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


@functools.cache
def _core_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """The strict schema of a built-in kind, None when this Kubernetes version does not serve it."""
    # kubernetes-validate's file naming: <kind>-<first label of the group>-<version>.json ("apps/v1" -> apps-v1).
    short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{_SCHEMA_DIR}/{kind.lower()}-{short}.json", SCHEMA_VERSION)
    except FileNotFoundError:
        return None
    group, version = group_version(api_version)
    served = schema.get("x-kubernetes-group-version-kind", [])
    if {"group": group, "kind": kind, "version": version} not in served:
        return None  # the file name matched another group's kind (e.g. policy.linkerd.io vs policy)
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def strict_crd_schema(schema: Obj, *, root: bool = False) -> Obj:
    """A CRD version's structural openAPIV3Schema as a JSON schema that rejects what the API server would prune.

    Structural schemas (apiextensions "Specifying a structural schema") keep only the fields a node declares:
    `type: object` without `additionalProperties` or `x-kubernetes-preserve-unknown-fields: true` drops every
    other field, so here they are errors. `nullable` and int-or-string become JSON schema types; a null in a field
    that is not nullable is pruned by the server, so it is accepted as well (as kubernetes-validate's schemas do).
    Ref: https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
    """
    out: Obj = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: strict_crd_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = strict_crd_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [strict_crd_schema(sub) for sub in value]
        elif key in ("type", "required", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                     "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
                     "minProperties", "maxProperties", "additionalProperties", "multipleOf"):
            out[key] = value
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if schema.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        for name in ("apiVersion", "kind"):
            props.setdefault(name, {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if root:
        props = out.setdefault("properties", {})
        props["metadata"] = {"$ref": _OBJECT_META}  # the API server validates ObjectMeta of every object
    if out.get("type") == "object" and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@dataclass(frozen=True)
class Crd:
    group: str
    kind: str
    served: dict[str, str]  # version -> sha256 of the openAPIV3Schema (the key of the validator in _SCHEMAS)
    source: str  # where it comes from (release or chart file), for messages
    deprecated: dict[str, str]  # served version -> the warning the API server returns on every request


# sha256 of a CRD version's schema -> that schema: identical CRDs of four stacks share one validator.
_SCHEMAS: dict[str, Obj] = {}


def crds_of(objects: Iterable[Obj], source: str) -> list[Crd]:
    found = []
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj["spec"]
        served, deprecated = {}, {}
        for version in spec["versions"]:
            if not version.get("served"):
                continue
            if version.get("deprecated"):
                deprecated[version["name"]] = version.get("deprecationWarning") or "deprecated"
            schema = version.get("schema", {}).get("openAPIV3Schema")
            if schema is None:  # apiextensions/v1 requires one; keep a clear verdict if a chart ever omits it
                schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            digest = hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
            _SCHEMAS.setdefault(digest, schema)
            served[version["name"]] = digest
        found.append(Crd(spec["group"], spec["names"]["kind"], served, source, deprecated))
    return found


@functools.cache
def _crd_validator(api_version: str, kind: str, digest: str) -> jsonschema.Draft202012Validator:
    schema = strict_crd_schema(_SCHEMAS[digest], root=True)
    schema["properties"]["apiVersion"] = {"enum": [api_version]}
    schema["properties"]["kind"] = {"enum": [kind]}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
    return jsonschema.Draft202012Validator(schema, registry=_registry())


class Loader(yaml.CSafeLoader):
    """PyYAML's safe loader in C (libyaml: ~10x faster on megabytes of rendered charts and CRDs), plus a bare `=`,
    which YAML 1.1 reads as the `value` tag and Prometheus Operator's CRDs contain (PyYAML issue #89)."""


Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))
# Where kubebuilder-generated CRDs say which group and kind they define; only an index: a document found by it is
# parsed and checked to define exactly that group and kind, and a document it cannot read is parsed at once.
_GROUP = re.compile(r"""^  group: ["']?([\w.-]+)""", re.M)
_KIND = re.compile(r"""^  names:\n(?:    .*\n)*?    kind: ["']?(\w+)""", re.M)


@functools.cache
def _parse(text: str, source: str) -> tuple[Crd, ...]:
    return tuple(crds_of([yaml.load(text, Loader=Loader) or {}], source))


class SchemaSet:
    """The schemas one stack's cluster has: the built-in kinds of its Kubernetes version plus the given CRDs.

    CRD documents given as text are parsed only when an object of their kind is validated.
    """

    def __init__(self, crds: Iterable[Crd] = (), documents: Iterable[tuple[str, str]] = ()) -> None:
        self.crds: dict[tuple[str, str], Crd] = {}
        self._pending: dict[tuple[str, str], tuple[str, str]] = {}
        for crd in crds:
            self.crds.setdefault((crd.group, crd.kind), crd)
        for source, text in documents:
            group, kind = _GROUP.search(text), _KIND.search(text)
            if group and kind:
                self._pending.setdefault((group[1], kind[1]), (text, source))
            else:
                for crd in _parse(text, source):
                    self.crds.setdefault((crd.group, crd.kind), crd)

    def crd(self, group: str, kind: str) -> Crd | None:
        if (group, kind) not in self.crds and (group, kind) in self._pending:
            text, source = self._pending.pop((group, kind))
            parsed = _parse(text, source)
            assert [(c.group, c.kind) for c in parsed] == [(group, kind)], f"{source}: CRD index read {group} {kind}"
            self.crds[group, kind] = parsed[0]
        return self.crds.get((group, kind))

    def loaded(self) -> int:
        """How many CRDs were parsed (the others were never needed)."""
        return len(self.crds)

    def errors(self, obj: Obj) -> list[str]:
        """Every schema violation of `obj` as '<path>: <message>' (empty: valid)."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return ["(root): apiVersion and kind are required"]
        group, version = group_version(api_version)
        crd = self.crd(group, kind)
        if crd is not None:
            digest = crd.served.get(version)
            if digest is None:
                return [f"(root): {crd.source} serves {kind} in {sorted(crd.served)} only, not {version}"]
            if version in crd.deprecated:
                return [f"(root): {crd.source}: {crd.deprecated[version]}"]
            return _verdict(api_version, kind, digest, _canonical(obj))
        if _BUILTIN_GROUP.fullmatch(group) and _core_validator(api_version, kind) is not None:
            return _verdict(api_version, kind, "", _canonical(obj))
        return [f"(root): no schema for {api_version} {kind}: not a built-in kind of Kubernetes {KUBERNETES_VERSION}"
                " and no CRD of this stack's releases defines it"]


def _canonical(obj: Obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


@functools.cache
def _verdict(api_version: str, kind: str, digest: str, obj_json: str) -> list[str]:
    """Validated once per distinct (schema, object): four stacks render many identical objects."""
    validator = _crd_validator(api_version, kind, digest) if digest else _core_validator(api_version, kind)
    assert validator is not None
    found = []
    for error in sorted(validator.iter_errors(json.loads(obj_json)), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{path}: {error.message[:300]}")
    return found
