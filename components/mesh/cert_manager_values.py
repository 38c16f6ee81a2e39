"""Helm values for cert-manager (chart v1.21.1), the layer that issues and renews every certificate of the platform.

cert-manager turns the Vault-backed ClusterIssuer into Linkerd's identity issuer certificate and the Linkerd webhook
certificates (its cainjector patches their caBundle). Keys were checked against the chart's values.yaml and templates at
tag v1.21.1; tests/components/mesh/test_cert_manager_values.py keeps every key set here inside
tests/upstream_facts/chart_keys/cert-manager-v1.21.1.txt.
"""

from __future__ import annotations

from typing import Final

from components.shared.chart_values import Values, prefer_other_nodes, resources, zone_spread
from config.names import CERT_MANAGER_NAMESPACE

# The chart's pod labels per component (templates/*deployment.yaml: app.kubernetes.io/name is "cert-manager",
# "webhook" or "cainjector" and app.kubernetes.io/component "controller", "webhook" or "cainjector"); name+component
# select one component whatever the release is called.
_POD_LABELS: Final[dict[str, dict[str, str]]] = {
    "controller": {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"},
    "webhook": {"app.kubernetes.io/name": "webhook", "app.kubernetes.io/component": "webhook"},
    "cainjector": {"app.kubernetes.io/name": "cainjector", "app.kubernetes.io/component": "cainjector"},
}
# Replicas in HA. Ref: https://cert-manager.io/docs/installation/best-practice/#high-availability (controller and
# cainjector elect one leader, so 2 is enough for fail-over; the webhook serves every API request: 3).
_HA_REPLICAS: Final = {"controller": 2, "webhook": 3, "cainjector": 2}
# Requests sized for a small cluster (a few hundred certificates); memory limits leave room for the informer caches.
_RESOURCES: Final = {
    "controller": resources("50m", "128Mi", "500m", "512Mi"),
    "webhook": resources("25m", "64Mi", "250m", "256Mi"),
    "cainjector": resources("25m", "128Mi", "250m", "512Mi"),
    "startupapicheck": resources("10m", "32Mi", "100m", "64Mi"),
}


def _component(name: str, ha: bool) -> Values:
    """Replicas, disruption budget and placement of one long-running component (same keys at three levels)."""
    if not ha:
        # One replica: a PodDisruptionBudget with minAvailable 1 would block every node drain. Explicitly off.
        return {"replicaCount": 1, "podDisruptionBudget": {"enabled": False}, "resources": _RESOURCES[name]}
    labels = _POD_LABELS[name]
    return {
        "replicaCount": _HA_REPLICAS[name],
        # `minAvailable` is a documented but commented-out key (values.yaml `# minAvailable: 1` under
        # podDisruptionBudget); the template renders it when present (templates/poddisruptionbudget.yaml `hasKey`).
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
        "resources": _RESOURCES[name],
        "topologySpreadConstraints": zone_spread(labels),
        "affinity": prefer_other_nodes(labels),
    }


def cert_manager_values(ha: bool) -> Values:
    """Values for the cert-manager chart: CRDs included, HA replicas with PDBs and zone spread when `ha`.

    Pod and container security contexts are left at the chart's defaults, which already satisfy the restricted Pod
    Security Standard (values.yaml `securityContext`: runAsNonRoot, seccompProfile RuntimeDefault;
    `containerSecurityContext`: allowPrivilegeEscalation false, drop ALL, readOnlyRootFilesystem).
    """
    controller = _component("controller", ha)
    return {
        # v1.21 still reads the deprecated `installCRDs` and fails if it is combined with `crds.enabled`
        # (templates/_helpers.tpl "cert-manager.crd-check"): use only the replacement. `keep` leaves the CRDs (and so
        # every Certificate) in place if the release is ever uninstalled.
        "crds": {"enabled": True, "keep": True},
        "global": {
            # Leader-election leases in cert-manager's own namespace rather than kube-system (the default), so its
            # Roles stay out of a system namespace. Ref: values.yaml global.leaderElection.namespace
            "leaderElection": {"namespace": CERT_MANAGER_NAMESPACE},
        },
        **controller,
        "webhook": {
            **_component("webhook", ha),
            # EKS: the API server reaches webhook pods on their VPC CNI addresses, so no host networking is needed
            # (only overlay CNIs need it). The webhook listens on 10250 (values.yaml webhook.securePort), a port the
            # EKS node security group already opens to the control plane; the namespace NetworkPolicy allows it.
            "hostNetwork": False,
        },
        "cainjector": {
            # Required: the Linkerd webhooks get their caBundle from cainjector (values_linkerd injectCaFrom).
            "enabled": True,
            **_component("cainjector", ha),
        },
        "startupapicheck": {"resources": _RESOURCES["startupapicheck"]},
        # Metrics on (the controller Service, port 9402); the chart's ServiceMonitor stays off because its CRD does not
        # exist yet when cert-manager installs: components/monitoring/monitoring.py creates one after
        # kube-prometheus-stack.
        "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
    }
