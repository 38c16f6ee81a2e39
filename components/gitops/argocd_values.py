"""Helm values for the optional Argo CD install (`gitops.argocd`, argo-cd chart 10.1.1).

Chart keys: tests/upstream_facts/chart_keys/argo-cd-10.1.1.txt. The objects around the release (the namespace's
NetworkPolicies, the AppProject and the Application) are built in `argocd_specs.py`.
"""

from __future__ import annotations

from typing import Final

from components.shared.chart_values import Values
from config.names import ARGOCD_NAMESPACE

NAMESPACE: Final = ARGOCD_NAMESPACE
RELEASE: Final = "argocd"


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
