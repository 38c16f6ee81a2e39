"""Optional GitOps delivery of the app's manifests (`gitops.argocd`, off in every environment by default).

Argo CD runs in its own `argocd` namespace with the guard rails of the other system namespaces (restricted Pod
Security — every component of the pinned chart ships a restricted container security context — default-deny
NetworkPolicies plus DNS, API server, within-namespace, Prometheus and the repo server's HTTPS to the Git host). It is
not meshed, like the other platform components. Pulumi then registers one AppProject and one Application that sync
`gitops.repoUrl` / `gitops.path` into the meshed app namespace; specs from `values_argocd`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.cluster import Cluster
from components.gitops import argocd_specs, argocd_values
from components.mesh import namespace_specs as np
from components.mesh.mesh import Mesh
from components.mesh.platform_namespaces import network_policy
from components.shared import helm
from config.model import StackConfig
from config.versions import ARGOCD_CHART, ARGOCD_REPOSITORY


@dataclass(frozen=True)
class ArgoCdArgs:
    config: StackConfig  # the repository, path and revision; the app namespace; the VPC and service CIDRs
    mesh: Mesh  # the app namespace and the Linkerd control plane (synced pods must start meshed)
    cluster: Cluster  # node groups the release waits for


def policies(networks: np.Networks) -> dict[str, np.Spec]:
    """The argocd namespace's NetworkPolicies by name, default-deny first."""
    return {"default-deny": np.default_deny(), "allow-dns": np.allow_dns(),
            "allow-api-server": np.allow_api_server(networks), "allow-within-namespace": np.allow_within_namespace(),
            "allow-monitoring": np.allow_scraping_from("monitoring"), "allow-git-https": argocd_specs.allow_git_https()}


class ArgoCd(pulumi.ComponentResource):
    """Namespace + NetworkPolicies + the argo-cd Helm release + AppProject + Application."""

    def __init__(self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:gitops:ArgoCd", name, None, opts)
        cfg = args.config
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": argocd_values.NAMESPACE, "labels": np.pod_security_labels("restricted")},
            opts=pulumi.ResourceOptions(parent=self))
        for policy, body in policies(np.Networks(cfg.vpc_cidr, cfg.kubernetes_service_cidr)).items():
            network_policy(argocd_values.NAMESPACE, policy, body, self.namespace)
        ns = self.namespace.metadata.apply(lambda m: str(m["name"]) if isinstance(m, dict) else str(m.name))
        self.release = helm.release(
            argocd_values.RELEASE, "argo-cd", ARGOCD_CHART, ARGOCD_REPOSITORY, ns, argocd_values.argocd_values(),
            pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.nodes_ready)))
        app_ns = args.mesh.namespaces.name_of(cfg.app_namespace_name)
        # The Application waits for the CRDs (release), the app namespace and the mesh: a pod synced before the
        # Linkerd injector is up would start unmeshed.
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.release, args.mesh.linkerd.control_plane])
        meta: k8s.meta.v1.ObjectMetaArgsDict = {"name": argocd_specs.PROJECT, "namespace": ns}
        self.project = k8s.apiextensions.CustomResource(
            f"{name}-project", api_version=argocd_specs.API_VERSION, kind="AppProject", metadata=meta,
            spec=argocd_specs.app_project(cfg.app_namespace_name, cfg.gitops_repo_url), opts=after)
        self.application = k8s.apiextensions.CustomResource(
            f"{name}-application", api_version=argocd_specs.API_VERSION, kind="Application",
            metadata={"name": argocd_specs.APPLICATION, "namespace": ns},
            spec=app_ns.apply(lambda n: argocd_specs.application(n, cfg.gitops_repo_url, cfg.gitops_path,
                                                         cfg.gitops_target_revision)),
            opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=[self.project])))
        self.register_outputs({})
