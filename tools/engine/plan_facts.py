"""Facts read off an offline plan, shared by the report tools (cost, deploy time, diagram).

The plan (`tools.engine.mock_engine.Plan`) is a list of registrations with raw inputs and outputs; these helpers answer
the
questions several views ask of it the same way: a tolerant nested lookup (`dig`), a resource's id, the chart of a Helm
release, a Kubernetes object's name, kind and API group, a storage quantity in GiB, a Service Catalog product's
parameters, the EBS CSI add-on and the Vault bootstrap resource. The CLI plumbing every view repeats (run the stack,
report an invalid configuration with exit code 2, stop quietly when the reader of a pipe leaves) is here too. Pure
functions of the plan: nothing here prices, schedules or draws.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from config.model import ConfigError
from tools.engine.mock_engine import Plan, Registration


def dig(value: Any, path: str, default: Any = None) -> Any:
    """`dig(inputs, "scalingConfig.desiredSize")`: a nested lookup that tolerates missing keys."""
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def resource_id(r: Registration) -> str:
    """The id the offline plan gave the resource: its `id` output, else the mock engine's `<name>-id`."""
    return str(r.outputs.get("id") or f"{r.name}-id")


def helm_chart(r: Registration) -> str:
    """The chart name of a Helm release (`chart` may be `repo/name` or a URL), '' for anything else."""
    if not r.type.startswith("kubernetes:helm.sh/"):
        return ""
    return str(r.inputs.get("chart") or "").rstrip("/").split("/")[-1].removesuffix(".tgz")


def k8s_name(r: Registration) -> str:
    """A Kubernetes object's `metadata.name`, else the Pulumi resource name."""
    return str(dig(r.inputs, "metadata.name", r.name))


def k8s_group(type_: str) -> str:
    """The API group of a Kubernetes type: kubernetes:cert-manager.io/v1:Certificate -> cert-manager.io."""
    return type_.split(":")[1].split("/")[0]


def is_k8s_kind(r: Registration, group: str, kind: str) -> bool:
    """Whether `r` is a `kind` of the API `group`, at any version (Ingress of networking.k8s.io, ...)."""
    return r.type.startswith(f"kubernetes:{group}/") and r.type.endswith(f":{kind}")


def k8s_quantity_gib(value: Any) -> float:
    """'10Gi' -> 10.0; '500Mi' -> 0.49; plain numbers are bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]i?)?\s*", str(value))
    if not match:
        return 0.0
    scale = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 2**10, "K": 1e3 / 2**30, "M": 1e6 / 2**30,
             "G": 1e9 / 2**30, "T": 1e12 / 2**30}
    unit = match.group(2)
    return float(match.group(1)) * (scale[unit] if unit else 2**-30)


def catalog_params(r: Registration) -> dict[str, str]:
    """A Service Catalog provisioned product's parameters, key -> value."""
    return {str(p.get("key")): str(p.get("value")) for p in r.inputs.get("provisioningParameters") or []}


def ebs_csi_addons(plan: Plan) -> list[str]:
    """URNs of the EBS CSI driver add-on(s): what binds PersistentVolumeClaims on EBS."""
    return [r.urn for r in plan.of_type("aws:eks/addon:Addon") if r.inputs.get("addonName") == "aws-ebs-csi-driver"]


def is_vault_bootstrap(r: Registration) -> bool:
    """The dynamic resource that initialises Vault (components/vault/vault_bootstrap.py); not its second run, which
    carries the application secrets and which nothing of the trust chain waits for."""
    return r.type == "pulumi-python:dynamic:Resource" and not r.inputs.get("app_secrets") and (
        "vault" in r.name.lower() or "recovery_secret_arn" in r.inputs)


# --- CLI plumbing -----------------------------------------------------------------------------------------------------

def load_plan(run: Callable[[str], Plan], stack: str) -> Plan | None:
    """`run(stack)`, or None after printing why the stack's configuration is invalid (the caller exits 2)."""
    try:
        return run(stack)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return None


def emit(text: str) -> bool:
    """Print `text`; False when the reader left (`... | head`), which is not an error."""
    try:
        print(text)
    except BrokenPipeError:
        sys.stderr.close()
        return False
    return True
