"""Vault's Helm values and server configuration (components/vault/vault_values.py): every key exists in the pinned
chart, raft with the right replicas, TLS everywhere, KMS auto-unseal through IRSA, a hardened pod, and the argument
checks that keep a value from breaking the HCL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.vault.vault_aws import VAULT_NAMESPACE, VAULT_SERVICE_ACCOUNT
from components.vault.vault_values import (
    CHART_PLACEHOLDERS,
    READINESS_PATH,
    TLS_MOUNT,
    VaultValuesArgs,
    vault_server_hcl,
    vault_tls_names,
    vault_values,
)
from config.versions import VAULT_VERSION
from tests.helpers.chart_keys import Values, chart_key_tests

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROLE_ARN = "arn:aws:iam::123456789012:role/mtls-platform-prod-vault"


def vault_args(ha: bool, **overrides: Any) -> VaultValuesArgs:
    fields: dict[str, Any] = {"ha": ha, "region": "us-east-1", "kms_key_id": KMS_KEY, "irsa_role_arn": ROLE_ARN,
                              "tls_secret_name": "vault-tls", "storage_class": "gp3-encrypted"}
    return VaultValuesArgs(**{**fields, **overrides})


CHARTS = ["vault"]
BUILDS: dict[str, Callable[[], Values]] = {
    "vault/ha": lambda: vault_values(vault_args(True)),
    "vault/single": lambda: vault_values(vault_args(False)),
    "vault/rds-ca": lambda: vault_values(vault_args(True, rds_ca_bundle=True)),
}


test_every_key_set_exists_in_the_pinned_chart, test_allow_list_entries_hang_off_the_chart = chart_key_tests(
    BUILDS, CHARTS)


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
