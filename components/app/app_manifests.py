"""Existing Kubernetes manifests applied into the meshed app namespace (`manifests.directory`).

The objects were read and validated at config load (`config/manifests.py`); here they are registered as one
`kubernetes:yaml/v2:ConfigGroup` after the Linkerd control plane (the proxy injector must be up before the first pod
or it starts unmeshed; the policy CRDs must exist before a Server) and after the namespace (its name is an Output
of the Namespace resource, set on every object). The rollout mode applies to the manifests' Servers as to the
catalog's. Ref: pulumi-kubernetes 4.34.2 SDK, `pulumi_kubernetes/yaml/v2/ConfigGroup.py` (`objs`, `resource_prefix`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.mesh import policy_mode_specs
from components.mesh.mesh import Mesh
from config.model import StackConfig


@dataclass(frozen=True)
class AppManifestsArgs:
    config: StackConfig  # the validated manifest objects, the app namespace and the rollout mode
    mesh: Mesh  # the app namespace and the Linkerd control plane to wait for


def objects_for(objects: tuple[Mapping[str, Any], ...], namespace: pulumi.Input[str],
                mode: policy_mode_specs.PolicyMode) -> list[dict[str, Any]]:
    """The objects as registered: the namespace (an Output, so they wait for it) and the rollout mode applied."""
    return [{**o, "metadata": {**o["metadata"], "namespace": namespace}}
            for o in policy_mode_specs.manifest_objects(objects, mode)]


class AppManifests(pulumi.ComponentResource):
    """One ConfigGroup holding every manifest object."""

    def __init__(self, name: str, args: AppManifestsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:app:AppManifests", name, None, opts)
        cfg = args.config
        namespace = args.mesh.namespaces.name_of(cfg.app_namespace_name)
        self.group = k8s.yaml.v2.ConfigGroup(
            f"{name}-objects", objs=objects_for(cfg.manifest_objects, namespace, cfg.policy_mode),
            resource_prefix=name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.mesh.linkerd.control_plane]))
        self.register_outputs({})
