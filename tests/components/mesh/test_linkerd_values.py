"""Linkerd's Helm values (components/mesh/linkerd_values.py): every key exists in the pinned charts (CRDs, control
plane with its values-ha.yaml, CNI plugin), the external CA, an authenticated default inbound policy, HA settings,
webhook certificates from cert-manager, meshing through the CNI plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.mesh.linkerd_values import (
    ALLOWED_INBOUND_POLICIES,
    WEBHOOKS,
    LinkerdValuesArgs,
    linkerd_cni_values,
    linkerd_control_plane_values,
    linkerd_crds_values,
)
from components.shared.chart_values import flatten
from config.versions import LINKERD_CHART
from tests.helpers.chart_keys import Values, chart_key_tests
from tools.chart_data import chart_keys


def _linkerd_args(ha: bool, **kw: Any) -> LinkerdValuesArgs:
    return LinkerdValuesArgs(ha=ha, **kw)


CHARTS = ["linkerd-crds", "linkerd-control-plane", "linkerd2-cni"]
BUILDS: dict[str, Callable[[], Values]] = {
    "linkerd-crds/gateway-api": lambda: linkerd_crds_values(),
    "linkerd-crds/external-gateway-api": lambda: linkerd_crds_values(install_gateway_api=False),
    "linkerd-control-plane/ha": lambda: linkerd_control_plane_values(_linkerd_args(True)),
    "linkerd-control-plane/single": lambda: linkerd_control_plane_values(_linkerd_args(False)),
    "linkerd-control-plane/no-cni": lambda: linkerd_control_plane_values(_linkerd_args(True, cni_enabled=False)),
    "linkerd2-cni/default": linkerd_cni_values,
}


test_every_key_set_exists_in_the_pinned_chart, test_allow_list_entries_hang_off_the_chart = chart_key_tests(
    BUILDS, CHARTS)


@pytest.mark.parametrize("ha", [True, False])
def test_linkerd_identity_uses_the_external_ca(ha: bool) -> None:
    values = linkerd_control_plane_values(_linkerd_args(ha))
    assert values["identity"]["externalCA"] is True
    assert values["identity"]["issuer"] == {"scheme": "kubernetes.io/tls", "issuanceLifetime": "24h0m0s"}
    assert "identityTrustAnchorsPEM" not in values  # the trust roots come from the existing ConfigMap
    assert "tls" not in values["identity"]["issuer"]


def test_linkerd_issuance_lifetime_is_configurable_and_validated() -> None:
    values = linkerd_control_plane_values(_linkerd_args(False, issuance_lifetime="12h"))
    assert values["identity"]["issuer"]["issuanceLifetime"] == "12h"
    with pytest.raises(ValueError, match="issuance_lifetime"):
        _linkerd_args(False, issuance_lifetime="one day")


def test_linkerd_default_inbound_policy_is_authenticated() -> None:
    assert linkerd_control_plane_values(_linkerd_args(True))["proxy"]["defaultInboundPolicy"] == "all-authenticated"
    for policy in ALLOWED_INBOUND_POLICIES:
        values = linkerd_control_plane_values(_linkerd_args(False, default_inbound_policy=policy))
        assert values["proxy"]["defaultInboundPolicy"] == policy


@pytest.mark.parametrize("policy", ["all-unauthenticated", "cluster-unauthenticated", "audit", "allow"])
def test_linkerd_rejects_inbound_policies_that_do_not_authenticate(policy: str) -> None:
    with pytest.raises(ValueError, match=f"default_inbound_policy '{policy}' is not allowed"):
        _linkerd_args(True, default_inbound_policy=policy)


# values-ha.yaml keys the HA values leave out, because setting them changes nothing rendered: the YAML anchor the
# other *Resources reuse (read by no template), and the disabled heartbeat CronJob's resources.
HA_KEYS_WITHOUT_EFFECT = {f"{key}.{part}" for key in ("controllerResources", "heartbeatResources")
                          for part in ("cpu.limit", "cpu.request", "memory.limit", "memory.request")}


def test_linkerd_ha_mirrors_every_key_of_values_ha() -> None:
    ha_keys = chart_keys.load(chart_keys.KEYS_DIR / f"linkerd-control-plane-{LINKERD_CHART}.values-ha.txt")
    values = linkerd_control_plane_values(_linkerd_args(True))
    assert ha_keys >= HA_KEYS_WITHOUT_EFFECT
    assert ha_keys - flatten(values) == HA_KEYS_WITHOUT_EFFECT
    assert values["disableHeartBeat"] is True
    assert values["controllerReplicas"] == 3
    assert values["enablePodAntiAffinity"] is True and values["enablePodDisruptionBudget"] is True
    assert values["controller"]["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["webhookFailurePolicy"] == "Fail"
    assert values["highAvailability"] is True
    assert values["proxy"]["resources"]["memory"] == {"request": "20Mi", "limit": "250Mi"}


def test_linkerd_single_replica_omits_ha_only_settings_and_fails_open() -> None:
    values = linkerd_control_plane_values(_linkerd_args(False))
    assert values["controllerReplicas"] == 1
    assert values["webhookFailurePolicy"] == "Ignore"
    for key in ("highAvailability", "enablePodAntiAffinity", "enablePodDisruptionBudget", "deploymentStrategy"):
        assert key not in values


@pytest.mark.parametrize("ha", [True, False])
def test_linkerd_webhook_certificates_come_from_cert_manager(ha: bool) -> None:
    values = linkerd_control_plane_values(_linkerd_args(ha))
    for webhook, (certificate, _secret, _service) in WEBHOOKS.items():
        assert values[webhook]["externalSecret"] is True
        assert values[webhook]["injectCaFrom"] == f"linkerd/{certificate}"
        assert "caBundle" not in values[webhook]  # the chart fails if caBundle is combined with injectCaFrom
        assert "injectCaFromSecret" not in values[webhook]


def test_linkerd_meshes_through_the_cni_plugin_with_restricted_proxies() -> None:
    values = linkerd_control_plane_values(_linkerd_args(True))
    assert values["cniEnabled"] is True
    assert "proxyInit" not in values
    context = values["proxy"]["securityContext"]
    assert context["capabilities"] == {"drop": ["ALL"]} and context["runAsNonRoot"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"} and context["allowPrivilegeEscalation"] is False
    excluded = values["proxyInjector"]["namespaceSelector"]["matchExpressions"][1]
    assert excluded["key"] == "kubernetes.io/metadata.name" and {"vault", "kube-system"} <= set(excluded["values"])
    no_cni = linkerd_control_plane_values(_linkerd_args(True, cni_enabled=False))
    assert no_cni["cniEnabled"] is False and no_cni["proxyInit"] == {"iptablesMode": "nft"}


def test_linkerd_crds_install_only_the_gateway_api_routes_linkerd_uses() -> None:
    # All three route switches set: the chart's `installGatewayAPI` fallback would change nothing, so it is left out.
    assert linkerd_crds_values() == {"enableHttpRoutes": True, "enableTlsRoutes": False, "enableTcpRoutes": False}
    assert linkerd_crds_values(install_gateway_api=False) == {"installGatewayAPI": False}


def test_linkerd_cni_plugin_values() -> None:
    values = linkerd_cni_values()
    assert values["iptablesMode"] == "nft"
    assert values["repairController"]["enabled"] is True
    assert values["priorityClassName"] == "system-node-critical"
