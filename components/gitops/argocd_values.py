"""Pure builders for the optional Argo CD install (`gitops.argocd`): Helm values, the namespace's NetworkPolicies,
and the AppProject + Application that sync the app's manifests from Git into the app namespace.

Division of labour (docs/gitops.md): Pulumi owns the platform — cluster, mesh, Vault, the app namespace and its
guard rails, Argo CD itself and the one Application; Argo CD owns what is inside the repository path. The AppProject
fences Argo CD in the way `manifests.directory` is fenced at config load: one destination (the app namespace), no
cluster-scoped kinds, namespaced kinds from the same allow-list (`manifests.ALLOWED`). The namespace's own
restricted Pod Security level and default-deny policies still apply to whatever it syncs.

Chart keys: argo-cd 10.1.1 (tests/upstream_facts/chart_keys/argo-cd-10.1.1.txt); CRD fields: argoproj.io/v1alpha1 of
the same chart (tests/upstream_facts/argocd_crd_fields.yaml).
"""

from __future__ import annotations

from typing import Any, Final

from components.shared.chart_values import Values
from config.manifests import ALLOWED
from config.names import ARGOCD_NAMESPACE

NAMESPACE: Final = ARGOCD_NAMESPACE
RELEASE: Final = "argocd"
API_VERSION: Final = "argoproj.io/v1alpha1"
PROJECT: Final = "app"
APPLICATION: Final = "app"
# The cluster Argo CD runs in, as its own default cluster entry names it.
# Ref: https://argo-cd.readthedocs.io/en/stable/user-guide/application-specification/ (destination.server)
IN_CLUSTER: Final = "https://kubernetes.default.svc"
Spec = dict[str, Any]


def argocd_values() -> Values:
    """Small-team install: one replica per component (an Argo CD outage delays syncs, running apps are unaffected),
    no Dex (no SSO to wire; `argocd login --core` or port-forward), no notifications controller."""
    return {
        # values.yaml `crds.install: true`, `crds.keep: true`: Applications survive an uninstall of the chart.
        "crds": {"install": True, "keep": True},
        # The platform writes the namespace's NetworkPolicies itself (default deny + named allows, `policies`),
        # like every system namespace; the chart's own set (global.networkPolicy.create, default true) stays off.
        "global": {"networkPolicy": {"create": False}},
        "dex": {"enabled": False},
        "notifications": {"enabled": False},
    }


def _except_private() -> Spec:
    return {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}


def allow_git_https() -> Spec:
    """The repo server fetches from the Git host over HTTPS (outside the VPC, through NAT): 443 only."""
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "argocd-repo-server"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [_except_private()], "ports": [{"protocol": "TCP", "port": 443}]}]}


def app_project(app_namespace: str, repo_url: str) -> Spec:
    """Only this repository, only the app namespace, no cluster-scoped objects, only the allowed namespaced kinds."""
    kinds = sorted((api.split("/")[0] if "/" in api else "", kind) for api, ks in ALLOWED.items() for kind in ks)
    return {
        "description": "The application's manifests; the platform around them is Pulumi's",
        "sourceRepos": [repo_url],
        "destinations": [{"server": IN_CLUSTER, "namespace": app_namespace}],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [{"group": group, "kind": kind} for group, kind in kinds],
    }


def application(app_namespace: str, repo_url: str, path: str, target_revision: str) -> Spec:
    """Sync the repository path into the app namespace: automated, pruning, self-healing drift."""
    return {
        "project": PROJECT,
        "source": {"repoURL": repo_url, "path": path, "targetRevision": target_revision,
                   "directory": {"recurse": True}},
        "destination": {"server": IN_CLUSTER, "namespace": app_namespace},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            # The namespace is Pulumi's (labels, annotations, policies): Argo CD must never create or own it.
            "syncOptions": ["CreateNamespace=false"],
            "retry": {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
        },
    }
