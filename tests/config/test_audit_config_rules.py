"""Config rules issue 12 added: explicit cluster-role principals in staging/prod, image digests in prod."""

from __future__ import annotations

import json

import pytest

from config.model import ConfigError
from tests.conftest import EXAMPLE_DIGEST, build_config, minimal_settings

ADMIN = "mtls-platform:cluster.adminPrincipalArns"
DEVOPS = "mtls-platform:cluster.devopsPrincipalArns"


def problems(stack: str, config: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config(stack, config)
    return [f"{p.key}: {p.rule}" for p in err.value.problems]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_ha_stacks_must_name_who_assumes_the_cluster_roles(env: str) -> None:
    config = minimal_settings(env)
    config["mtls-platform:cluster"] = "{}"
    found = problems(env, config)
    assert f"{ADMIN}: {env} needs the explicit list of roles/users who may assume this cluster role (empty " \
           "trusts every principal of the account; CKV_AWS_61, CIS 4.1.1)" in found
    assert any(p.startswith(f"{DEVOPS}: {env} needs the explicit list") for p in found)


def test_the_account_root_is_not_an_explicit_list_in_prod() -> None:
    config = minimal_settings("prod", cluster={"adminPrincipalArns": ["arn:aws:iam::123456789012:root"],
                                                "devopsPrincipalArns": ["arn:aws:iam::123456789012:role/ops"]})
    assert problems("prod", config) == [
        f"{ADMIN}: 'arn:aws:iam::123456789012:root' is the account root, which trusts every principal of the "
        "account: prod names the roles/users"]


@pytest.mark.parametrize("env", ["sandbox", "dev"])
def test_small_stacks_may_default_to_the_account(env: str) -> None:
    cfg = build_config(env, minimal_settings(env, cluster={"publicAccessCidrs": ["203.0.113.0/24"]}))
    assert cfg.admin_principal_arns == () and cfg.devops_principal_arns == ()


def test_prod_references_every_image_and_canary_by_digest() -> None:
    config = minimal_settings("prod")
    rollout = json.loads(config["mtls-platform:rollout"])
    rollout["images"]["analytics"] = {"tag": "v1.0.1"}
    rollout["canaries"] = {"payment-gateway": {"tag": "v1.1.0", "weight": 10}}
    config["mtls-platform:rollout"] = json.dumps(rollout)
    assert sorted(problems("prod", config)) == [
        "mtls-platform:rollout.canaries.payment-gateway.digest: prod references images by digest, not by tag "
        "'v1.1.0' (CKV_K8S_43)",
        "mtls-platform:rollout.images.analytics: prod references images by digest (sha256:...), not by tag "
        "'v1.0.1' (CKV_K8S_43)"]


def test_digests_are_prod_only_and_satisfy_the_rule() -> None:
    assert build_config("staging", minimal_settings("staging")).services[0].image.digest is None
    assert {s.image.digest for s in build_config("prod", minimal_settings("prod")).services} == {EXAMPLE_DIGEST}
