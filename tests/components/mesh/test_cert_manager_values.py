"""cert-manager's Helm values (components/mesh/cert_manager_values.py): every key exists in the pinned chart, HA
replicas and disruption budgets, CRDs through the current key, the chart's restricted security defaults kept.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.mesh.cert_manager_values import cert_manager_values
from tests.helpers.chart_keys import Values, chart_key_tests, keys_of

CHARTS = ["cert-manager"]
BUILDS: dict[str, Callable[[], Values]] = {
    "cert-manager/ha": lambda: cert_manager_values(True),
    "cert-manager/single": lambda: cert_manager_values(False),
}


test_every_key_set_exists_in_the_pinned_chart, test_allow_list_entries_hang_off_the_chart = chart_key_tests(
    BUILDS, CHARTS)


@pytest.mark.parametrize(("ha", "replicas"), [(True, {"controller": 2, "webhook": 3, "cainjector": 2}),
                                              (False, {"controller": 1, "webhook": 1, "cainjector": 1})])
def test_cert_manager_replicas_and_disruption_budgets(ha: bool, replicas: dict[str, int]) -> None:
    values = cert_manager_values(ha)
    parts = {"controller": values, "webhook": values["webhook"], "cainjector": values["cainjector"]}
    for name, part in parts.items():
        assert part["replicaCount"] == replicas[name]
        if ha:
            assert part["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
            spread = part["topologySpreadConstraints"][0]
            assert spread["topologyKey"] == "topology.kubernetes.io/zone"
            assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == name
        else:  # explicit False is rendered (a 1-replica PDB would block drains); spread is omitted
            assert part["podDisruptionBudget"] == {"enabled": False}
            assert "topologySpreadConstraints" not in part
            assert "affinity" not in part
        assert set(part["resources"]) == {"requests", "limits"}


@pytest.mark.parametrize("ha", [True, False])
def test_cert_manager_installs_crds_with_the_current_key_and_keeps_chart_security_defaults(ha: bool) -> None:
    values = cert_manager_values(ha)
    assert values["crds"] == {"enabled": True, "keep": True}
    assert "installCRDs" not in values  # deprecated; combined with crds.enabled the chart fails
    assert values["webhook"]["hostNetwork"] is False
    assert values["prometheus"] == {"enabled": True, "servicemonitor": {"enabled": False}}
    assert values["cainjector"]["enabled"] is True
    # The chart's restricted-compliant defaults stay in force: not overridden, and still defined by the chart.
    keys = keys_of("cert-manager")
    for prefix in ("", "webhook.", "cainjector."):
        part = values if not prefix else values[prefix[:-1]]
        assert "securityContext" not in part and "containerSecurityContext" not in part
        assert {f"{prefix}securityContext.runAsNonRoot", f"{prefix}securityContext.seccompProfile.type",
                f"{prefix}containerSecurityContext.readOnlyRootFilesystem",
                f"{prefix}containerSecurityContext.capabilities.drop[]"} <= keys
