"""Helm values builders: every key exists in the pinned chart, and the values that make the platform safe are there.

Key lists (tests/upstream_facts/chart_keys/) are generated from the charts' values files by
tools/chart_data/chart_keys.py and committed, so these
tests need no upstream data; when tools/chart_data finds the upstream charts (optional) the lists are also re-derived.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.mesh.cert_manager_values import cert_manager_values
from components.mesh.linkerd_values import (
    ALLOWED_INBOUND_POLICIES,
    WEBHOOKS,
    LinkerdValuesArgs,
    linkerd_cni_values,
    linkerd_control_plane_values,
    linkerd_crds_values,
)
from components.shared.chart_values import flatten
from components.vault.vault_values import (
    CHART_PLACEHOLDERS,
    READINESS_PATH,
    TLS_MOUNT,
    VaultValuesArgs,
    vault_server_hcl,
    vault_tls_names,
    vault_values,
)
from config.versions import CERT_MANAGER_CHART, LINKERD_CHART, VAULT_CHART, VAULT_VERSION
from tools.chart_data import chart_keys

Values = dict[str, Any]
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROLE_ARN = "arn:aws:iam::123456789012:role/mtls-platform-prod-vault"


def vault_args(ha: bool, **overrides: Any) -> VaultValuesArgs:
    fields: dict[str, Any] = {"ha": ha, "region": "us-east-1", "kms_key_id": KMS_KEY, "irsa_role_arn": ROLE_ARN,
                              "tls_secret_name": "vault-tls", "storage_class": "gp3-encrypted"}
    return VaultValuesArgs(**{**fields, **overrides})


# --- key lists ---------------------------------------------------------------------------------------------------
# Chart -> key list files (union) its builders are checked against.
CHART_LISTS: dict[str, tuple[str, ...]] = {
    "cert-manager": (f"cert-manager-{CERT_MANAGER_CHART}.txt",),
    "vault": (f"vault-{VAULT_CHART}.txt",),
    "linkerd-crds": (f"linkerd-crds-{LINKERD_CHART}.txt",),
    "linkerd-control-plane": (f"linkerd-control-plane-{LINKERD_CHART}.txt",
                              f"linkerd-control-plane-{LINKERD_CHART}.values-ha.txt"),
    "linkerd2-cni": (f"linkerd2-cni-{LINKERD_CHART}.txt",),
}

# Paths a builder may set (or set below) that the key lists cannot enumerate, each with where the chart reads it.
# Only extension points: free-form Kubernetes objects and maps, and keys the chart documents commented out.
ALLOWED: dict[str, dict[str, str]] = {
    "cert-manager": {
        # values.yaml `resources: {}` (each component): a ResourceRequirements rendered with toYaml.
        "resources": "ResourceRequirements", "webhook.resources": "ResourceRequirements",
        "cainjector.resources": "ResourceRequirements", "startupapicheck.resources": "ResourceRequirements",
        # values.yaml `affinity: {}`: an Affinity rendered with toYaml.
        "affinity": "Affinity", "webhook.affinity": "Affinity", "cainjector.affinity": "Affinity",
        # values.yaml `# minAvailable: 1` (+docs:property, commented out); *poddisruptionbudget.yaml reads it (hasKey).
        "podDisruptionBudget.minAvailable": "documented, commented out",
        "webhook.podDisruptionBudget.minAvailable": "documented, commented out",
        "cainjector.podDisruptionBudget.minAvailable": "documented, commented out",
    },
    "vault": {
        "fullnameOverride": "not in values.yaml; templates/_helpers.tpl vault.fullname reads it",
        "server.readinessProbe.path": "values.yaml `# path:` (commented out); server-statefulset.yaml reads it",
        "server.resources": "ResourceRequirements (values.yaml `resources: {}`)",
        "server.serviceAccount.annotations": "annotation map (values.yaml `annotations: {}`)",
        "server.extraEnvironmentVars": "environment map (values.yaml `extraEnvironmentVars: {}`)",
        "server.statefulSet.securityContext.pod": "PodSecurityContext (values.yaml `pod: {}`)",
        "server.statefulSet.securityContext.container": "SecurityContext (values.yaml `container: {}`)",
    },
    "linkerd-crds": {
        # values.yaml `# enableHttpRoutes: false` etc.; templates gateway.networking.k8s.io_*routes.yaml use hasKey.
        "enableHttpRoutes": "documented, commented out", "enableTlsRoutes": "documented, commented out",
        "enableTcpRoutes": "documented, commented out",
    },
    "linkerd-control-plane": {
        "proxy.securityContext": "SecurityContext (values.yaml `securityContext: {}`, partials _proxy.tpl)",
    },
    "linkerd2-cni": {},
}


def keys_of(chart: str) -> set[str]:
    return set().union(*(chart_keys.load(chart_keys.KEYS_DIR / name) for name in CHART_LISTS[chart]))


def unknown_paths(values: Values, chart: str) -> list[str]:
    """Paths set by a builder that the pinned chart does not define and no allow-list entry covers."""
    keys, allowed = keys_of(chart), ALLOWED[chart]
    unknown = []
    for path in sorted(flatten(values)):
        base = path[:-2] if path.endswith(("[]", "{}")) else path
        if path in keys or base in keys:  # a list or map where the chart's default is null or ""
            continue
        if any(path == p or path.startswith((f"{p}.", f"{p}[", f"{p}{{")) for p in allowed):
            continue
        unknown.append(path)
    return unknown


def _linkerd_args(ha: bool, **kw: Any) -> LinkerdValuesArgs:
    return LinkerdValuesArgs(ha=ha, **kw)


BUILDS: dict[str, Callable[[], Values]] = {
    "cert-manager/ha": lambda: cert_manager_values(True),
    "cert-manager/single": lambda: cert_manager_values(False),
    "vault/ha": lambda: vault_values(vault_args(True)),
    "vault/single": lambda: vault_values(vault_args(False)),
    "linkerd-crds/gateway-api": lambda: linkerd_crds_values(),
    "linkerd-crds/external-gateway-api": lambda: linkerd_crds_values(install_gateway_api=False),
    "linkerd-control-plane/ha": lambda: linkerd_control_plane_values(_linkerd_args(True)),
    "linkerd-control-plane/single": lambda: linkerd_control_plane_values(_linkerd_args(False)),
    "linkerd-control-plane/no-cni": lambda: linkerd_control_plane_values(_linkerd_args(True, cni_enabled=False)),
    "linkerd2-cni/default": linkerd_cni_values,
}


def test_a_key_list_exists_for_every_pinned_chart() -> None:
    for name in chart_keys.SOURCES:
        assert (chart_keys.KEYS_DIR / name).is_file(), f"run `python -m tools.chart_data.chart_keys` to generate {name}"


@pytest.mark.skipif(not chart_keys.DEFAULT_REFERENCE.is_dir(), reason="upstream chart data not present")
@pytest.mark.parametrize("name", sorted(chart_keys.SOURCES))
def test_committed_key_lists_match_the_upstream_values(name: str) -> None:
    source = chart_keys.SOURCES[name]
    expected = chart_keys.render(chart_keys.DEFAULT_REFERENCE / source, source)
    assert (chart_keys.KEYS_DIR / name).read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_key_set_exists_in_the_pinned_chart(build: str) -> None:
    chart = build.split("/")[0]
    assert unknown_paths(BUILDS[build](), chart) == []


def test_unknown_keys_are_caught() -> None:
    assert unknown_paths({"server": {"ha": {"raft": {"confg": "x"}}}}, "vault") == ["server.ha.raft.confg"]
    assert unknown_paths({"installCRD": True}, "cert-manager") == ["installCRD"]


@pytest.mark.parametrize("chart", sorted(ALLOWED))
def test_allow_list_entries_hang_off_the_chart(chart: str) -> None:
    """An allowed path is a key of the chart, or a documented key of a map the chart has (or top level)."""
    keys = keys_of(chart)
    for path in ALLOWED[chart]:
        parent = path.rpartition(".")[0]
        anchored = {path, f"{path}{{}}", f"{path}[]"} & keys or not parent or any(
            k.startswith(f"{parent}.") for k in keys)
        assert anchored, f"{chart}: allow-list entry {path} matches nothing in the chart"


def test_flatten_marks_lists_and_empty_maps_and_quotes_dotted_keys() -> None:
    assert flatten({"a": {"b": 1, "c": [], "d": {}, "e": None}, "f": {"x.y/z": "v"}}) == {
        "a.b", "a.c[]", "a.d{}", "a.e", 'f."x.y/z"'}


# --- cert-manager ------------------------------------------------------------------------------------------------
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


# --- Vault -------------------------------------------------------------------------------------------------------
def _block(hcl: str, header: str) -> str:
    match = re.search(rf'^{re.escape(header)} \{{\n(.*?)^\}}', hcl, re.M | re.S)
    assert match, f"no {header} block"
    return match.group(1)


@pytest.mark.parametrize("ha", [True, False])
def test_vault_runs_raft_with_the_right_replicas_and_budget(ha: bool) -> None:
    server = vault_values(vault_args(ha))["server"]
    assert server["ha"]["enabled"] is True and server["ha"]["raft"]["enabled"] is True
    assert server["ha"]["replicas"] == (3 if ha else 1)
    if ha:
        assert server["ha"]["disruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
        (spread,) = server["topologySpreadConstraints"]
        assert (spread["topologyKey"], spread["whenUnsatisfiable"]) == ("topology.kubernetes.io/zone", "DoNotSchedule")
    else:
        assert server["ha"]["disruptionBudget"] == {"enabled": False}  # explicit: one node, nothing to protect
        assert "topologySpreadConstraints" not in server
    assert "affinity" not in server  # the chart's default: required anti-affinity per node


@pytest.mark.parametrize("ha", [True, False])
def test_vault_tls_everywhere_and_a_readiness_probe_that_passes_before_init(ha: bool) -> None:
    values = vault_values(vault_args(ha))
    assert values["global"]["tlsDisable"] is False
    assert values["server"]["readinessProbe"] == {"enabled": True, "path": READINESS_PATH}
    assert "uninitcode=204" in READINESS_PATH and "standbyok=true" in READINESS_PATH
    assert "sealedcode" not in READINESS_PATH  # a sealed pod (broken auto-unseal) is not ready
    assert values["server"]["ha"]["apiAddr"].startswith("https://")
    assert values["server"]["ha"]["clusterAddr"].startswith("https://")
    mounts = {m["name"]: m for m in values["server"]["volumeMounts"]}
    volumes = {v["name"]: v for v in values["server"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "vault-tls"
    assert mounts["tls"] == {"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True}


def test_vault_injector_off_and_chart_network_policy_explicitly_off() -> None:
    values = vault_values(vault_args(True))
    assert values["injector"] == {"enabled": False}
    assert values["server"]["networkPolicy"] == {"enabled": False}


def test_vault_service_account_carries_the_irsa_role_and_matches_the_trusted_name() -> None:
    from components.vault.vault_aws import VAULT_NAMESPACE, VAULT_SERVICE_ACCOUNT

    values = vault_values(vault_args(True))
    account = values["server"]["serviceAccount"]
    assert account == {"name": VAULT_SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}
    assert vault_args(True).namespace == VAULT_NAMESPACE


def test_vault_pins_its_image_and_hardens_the_pod() -> None:
    server = vault_values(vault_args(True))["server"]
    assert server["image"] == {"tag": VAULT_VERSION}
    context = server["statefulSet"]["securityContext"]
    pod, container = context["pod"], context["container"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                         "readOnlyRootFilesystem": True}
    assert server["dataStorage"] == {"enabled": True, "size": "10Gi", "storageClass": "gp3-encrypted"}
    assert server["auditStorage"] == {"enabled": True, "size": "10Gi", "storageClass": "gp3-encrypted"}


@pytest.mark.parametrize(("ha", "replicas"), [(True, 3), (False, 1)])
def test_vault_config_seals_with_kms_through_irsa_and_joins_over_tls(ha: bool, replicas: int) -> None:
    hcl = vault_values(vault_args(ha))["server"]["ha"]["raft"]["config"]
    seal = _block(hcl, 'seal "awskms"')
    assert f'kms_key_id = "{KMS_KEY}"' in seal and 'region     = "us-east-1"' in seal
    assert "access_key" not in hcl and "secret_key" not in hcl
    listener = _block(hcl, 'listener "tcp"')
    assert "tls_disable     = false" in listener
    assert 'tls_min_version = "tls12"' in listener
    assert f'tls_cert_file   = "{TLS_MOUNT}/tls.crt"' in listener and f'"{TLS_MOUNT}/tls.key"' in listener
    storage = _block(hcl, 'storage "raft"')
    joins = re.findall(r'leader_api_addr     = "(.*)"\n\s*leader_ca_cert_file = "(.*)"', storage)
    assert joins == [(f"https://vault-{i}.vault-internal:8200", f"{TLS_MOUNT}/ca.crt") for i in range(replicas)]
    assert 'service_registration "kubernetes" {}' in hcl
    assert "ui = false" in hcl and "disable_mlock = true" in hcl
    assert not [p for p in CHART_PLACEHOLDERS if p in hcl]  # the chart's start-up sed would rewrite them


def test_vault_config_is_an_output_when_the_key_is_one() -> None:
    async def resolve() -> str:
        args = vault_args(True, kms_key_id=pulumi.Output.from_input(KMS_KEY),
                          irsa_role_arn=pulumi.Output.from_input(ROLE_ARN))
        config = vault_values(args)["server"]["ha"]["raft"]["config"]
        assert isinstance(config, pulumi.Output)
        return str(await config.future())

    # Its own loop, closed after: asyncio.run would leave the thread without a current loop for later engine tests.
    loop = asyncio.new_event_loop()
    try:
        assert f'kms_key_id = "{KMS_KEY}"' in loop.run_until_complete(resolve())
    finally:
        loop.close()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"region": 'us-east-1"\nseal'}, "region"),
    ({"kms_key_id": 'x" access_key = "y'}, "kms_key_id"),
    ({"tls_secret_name": "Vault_TLS"}, "tls_secret_name"),
    ({"storage_size": "10G"}, "storage_size"),
])
def test_vault_args_reject_values_that_would_break_the_config(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vault_args(True, **overrides)


def test_vault_hcl_rejects_an_unsafe_key_resolved_later() -> None:
    with pytest.raises(ValueError, match="kms_key_id"):
        vault_server_hcl(3, "us-east-1", 'k"\n}')


def test_vault_certificate_names_cover_peers_services_and_loopback() -> None:
    names = vault_tls_names(vault_args(True))
    assert {"vault-0.vault-internal", "vault-2.vault-internal", "vault.vault.svc", "vault-active.vault.svc"} <= set(
        names.dns_names)
    assert names.ip_addresses == ("127.0.0.1",)


# --- Linkerd -----------------------------------------------------------------------------------------------------
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


def test_linkerd_ha_mirrors_every_key_of_values_ha() -> None:
    ha_keys = chart_keys.load(chart_keys.KEYS_DIR / f"linkerd-control-plane-{LINKERD_CHART}.values-ha.txt")
    values = linkerd_control_plane_values(_linkerd_args(True))
    assert ha_keys - flatten(values) == set()
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
    assert linkerd_crds_values() == {"installGatewayAPI": False, "enableHttpRoutes": True,
                                     "enableTlsRoutes": False, "enableTcpRoutes": False}
    assert linkerd_crds_values(install_gateway_api=False) == {"installGatewayAPI": False}


def test_linkerd_cni_plugin_values() -> None:
    values = linkerd_cni_values()
    assert values["iptablesMode"] == "nft"
    assert values["repairController"]["enabled"] is True
    assert values["priorityClassName"] == "system-node-critical"
