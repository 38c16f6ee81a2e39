"""Helm values of Flagger (pure builder): the controller of the progressive canaries (progressive_specs.py).

It runs unmeshed in `monitoring`, beside the Prometheus it queries, with the Gateway API provider of the version the
linkerd-crds release serves (HTTPRoute v1). Slack goes through the `AlertProvider` and its Secret, not through the
chart's `slack.url` (which would put the webhook in the release's values, in plain state). Keys:
tests/upstream_facts/chart_keys/flagger-1.44.0.txt.
Ref: https://github.com/fluxcd/flagger/blob/v1.44.0/charts/flagger/values.yaml ;
https://docs.flagger.app/tutorials/gatewayapi-progressive-delivery
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

Values = dict[str, Any]

RELEASE: Final = "flagger"
# templates/_helpers.tpl flagger.name/instance labels (no nameOverride).
POD_LABELS: Final = {"app.kubernetes.io/name": "flagger", "app.kubernetes.io/instance": RELEASE}
MESH_PROVIDER: Final = "gatewayapi:v1"


@dataclass(frozen=True)
class FlaggerValuesArgs:
    prometheus_url: str
    cluster_name: str  # named in every alert
    ha: bool


def flagger_values(args: FlaggerValuesArgs) -> Values:
    values: Values = {
        "meshProvider": MESH_PROVIDER,
        "metricsServer": args.prometheus_url,
        "clusterName": args.cluster_name,
        # Helm merges this into the chart's map, which asks Linkerd to inject the pod: monitoring is not meshed.
        "podAnnotations": {"linkerd.io/inject": "disabled"},
        "securityContext": {"enabled": True, "context": {
            "readOnlyRootFilesystem": True, "runAsUser": 10001, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}},
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "512Mi"}},
    }
    if args.ha:
        values["leaderElection"] = {"enabled": True, "replicaCount": 2}
    return values
