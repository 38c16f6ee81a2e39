"""Offline facts of the application secrets: each stack's plan hands the Vault bootstrap exactly its catalog's
services and the RDS endpoint, the rendered policies read only the service's own paths, a change reaches Vault
(spec_hash), and a broken spec names its problem."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.vault.bootstrap import app_secrets
from components.vault.bootstrap.app_secrets import (
    RDS_CA_FILE,
    AppSecretsSpec,
    AppService,
    CacheTarget,
    PostgresTarget,
    service_policy,
)
from components.vault.bootstrap.spec import BootstrapSpec, spec_from_props, spec_hash
from config.catalog import default_catalog
from tests.conftest import STACKS, build_config, plan_of
from tests.helpers.variant_plans import sandbox_with
from tools.engine.mock_engine import load_stack_settings

PG = PostgresTarget(host="db.example", port=5432, database="app", ca_file="/ca.pem")


def bootstrap_inputs(stack: str) -> dict[str, Any]:
    return dict(plan_of(stack).one("pulumi-python:dynamic:Resource", "vault-app-secrets").inputs)


@pytest.mark.parametrize("stack", STACKS)
def test_every_catalog_service_asking_for_rds_or_cache_gets_a_vault_role_and_nothing_else_does(stack: str) -> None:
    inputs = bootstrap_inputs(stack)
    apps = app_secrets.from_json(inputs["app_secrets"])
    assert apps is not None and apps.postgres is not None and apps.cache is not None
    pg = sorted(s.name for s in default_catalog(stack) if "rds" in s.data_services)
    cached = sorted(s.name for s in default_catalog(stack) if "cache" in s.data_services)
    rendered = app_secrets.rendered(apps)
    assert sorted(rendered["roles"]) == [f"app-{n}" for n in sorted({*pg, *cached})]
    assert sorted(rendered["postgres"]["roles"]) == [f"postgres-{n}" for n in pg]
    # The cache: Vault's redis-elasticache plugin in the stack's region, one static role per cache service naming
    # the plan's own ElastiCache user (by id), rotated every data.cacheRotationDays.
    plan = plan_of(stack)
    user_ids = {r.inputs["userId"] for r in plan.of_type("aws:elasticache/user:User")}
    connection = rendered["cache"]["connection"]
    assert connection["plugin_name"] == "redis-elasticache-database-plugin" and connection["region"] == "us-east-1"
    assert connection["url"] == f"{apps.cache.host}:6379" and connection["allowed_roles"] == [
        f"cache-{n}" for n in cached]
    roles = rendered["cache"]["roles"]
    assert sorted(roles) == [f"cache-{n}" for n in cached]
    for n in cached:
        assert roles[f"cache-{n}"]["username"] in user_ids
        assert roles[f"cache-{n}"]["rotation_period"] == 30 * 24 * 3600
    assert {r["bound_service_account_namespaces"][0] for r in rendered["roles"].values()} == {f"{stack}-app"}
    assert apps.audience == f"vault://mtls-platform-{stack}-apps"
    # TLS verified against the RDS CA bundle, the endpoint is the plan's RDS instance, seeded from its master secret.
    url = rendered["postgres"]["connection"]["connection_url"]
    assert url.endswith(f"?sslmode=verify-full&sslrootcert={RDS_CA_FILE}") and apps.postgres.port == 5432
    assert inputs["postgres_master_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert (apps.postgres.default_ttl_hours, apps.postgres.max_ttl_hours) == (1, 8)
    assert spec_hash(spec_from_props(inputs), inputs["app_secrets"]) != spec_hash(spec_from_props(inputs))


def test_a_service_policy_reads_only_its_own_credentials() -> None:
    spec = AppSecretsSpec(services=(AppService("a", "ns", ("rds", "cache")), AppService("b", "ns", ("rds",))),
                          audience="aud", postgres=PG, cache=CacheTarget(host="c", port=6379, region="us-east-1"))
    policy = service_policy(spec, spec.services[0])
    paths = [line.split('"')[1] for line in policy.splitlines() if line.startswith("path")]
    assert paths == ["database/creds/postgres-a", "database/static-creds/cache-a", "sys/leases/renew",
                     "auth/token/renew-self", "auth/token/lookup-self"]
    assert "*" not in policy and "postgres-b" not in policy


def test_a_change_in_the_catalog_or_the_ttl_reaches_vault() -> None:
    base = AppSecretsSpec(services=(AppService("a", "ns", ("rds",)),), audience="aud", postgres=PG)
    spec = BootstrapSpec(root_common_name="r", audience="vault://r")
    hashes = {spec_hash(spec, app_secrets.to_json(s)) for s in (
        base,
        AppSecretsSpec(services=(AppService("a", "ns", ("rds",)), AppService("b", "ns", ("rds",))), audience="aud",
                       postgres=PG),
        AppSecretsSpec(services=base.services, audience="aud",
                       postgres=PostgresTarget(host="db.example", port=5432, database="app", ca_file="/ca.pem",
                                               default_ttl_hours=2)),
    )}
    assert len(hashes) == 3
    assert app_secrets.from_json(app_secrets.to_json(base)) == base


@pytest.mark.parametrize(("change", "message"), [
    ({"services": (AppService("a", "ns", ("cache",)),)}, "a asks for cache but the spec has no cache target"),
    ({"services": (AppService("a", "ns", ("rds",)), AppService("a", "ns", ()))}, "service names must be unique"),
    ({"postgres": PostgresTarget(host="h", port=1, database="d", ca_file="/c", default_ttl_hours=9)},
     "postgres TTLs must satisfy"),
    ({"postgres": PostgresTarget(host="h", port=1, database="d", ca_file="/c", max_ttl_hours=24)},
     "must not exceed the services' token max TTL"),
    ({"cache": CacheTarget(host="h", port=1, rotation_days=31)}, "cache rotation_days must be between 1 and 30"),
])
def test_a_spec_that_breaks_a_rule_is_refused_naming_it(change: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"services": (AppService("a", "ns", ("rds",)),), "audience": "aud", "postgres": PG}
    with pytest.raises(ValueError, match=message):
        AppSecretsSpec(**{**fields, **change})


def test_the_stored_form_is_one_json_string() -> None:
    spec = AppSecretsSpec(services=(AppService("a", "ns", ("rds",)),), audience="aud", postgres=PG)
    assert json.loads(app_secrets.to_json(spec))["services"] == [{"name": "a", "namespace": "ns",
                                                                 "data_services": ["rds"]}]


@pytest.mark.parametrize("stack", STACKS)
def test_vaults_port_admits_exactly_the_services_with_a_role(stack: str) -> None:
    plan = plan_of(stack)
    netpol = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    with_role = sorted(s.name for s in default_catalog(stack) if {"rds", "cache"} & set(s.data_services))
    # Flagger's promoted pods of a progressive service (`<svc>-primary`, same service account) are the service too.
    progressive = build_config(stack, load_stack_settings(stack)).progressive_services
    pods = sorted({*with_role, *(f"{s}-primary" for s in with_role if s in progressive)})
    ingress = plan.one(netpol, "vault-allow-app-clients").inputs["spec"]
    assert ingress["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "vault"}}
    (rule,) = ingress["ingress"]
    (peer,) = rule["from"]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": f"{stack}-app"}}
    assert peer["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": pods}]
    assert (stack == "sandbox") == (pods == with_role), "progressive delivery is on in dev/staging/prod only"
    assert [p["port"] for p in rule["ports"]] == [8200]
    # The other side: only those services' own NetworkPolicies allow egress to Vault.
    to_vault = sorted(
        r.name.removeprefix("app-").removesuffix("-netpol") for r in plan.of_type(netpol)
        if r.name.startswith("app-") and any(
            any(peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name") == "vault"
                for peer in e.get("to", [])) for e in r.inputs["spec"]["egress"]))
    assert to_vault == with_role
    assert plan.one(netpol, "vault-allow-to-postgres").inputs["spec"]["egress"][0]["ports"] == [
        {"protocol": "TCP", "port": 5432}]


@pytest.mark.parametrize("stack", STACKS)
def test_the_trust_chain_does_not_wait_for_rds(stack: str) -> None:
    # The platform's bootstrap carries no application secrets (its hash is what it was), so it, the trust chain and
    # Linkerd do not depend on the RDS instance; the second run does, after the first.
    plan = plan_of(stack)
    platform = plan.one("pulumi-python:dynamic:Resource", "vault-bootstrap")
    assert platform.inputs["app_secrets"] == "" and platform.inputs["postgres_master_secret_arn"] == ""
    apps = plan.one("pulumi-python:dynamic:Resource", "vault-app-secrets")
    assert platform.urn in apps.dependencies


def test_a_stack_without_clients_still_converges_an_empty_spec_so_old_identities_go() -> None:
    # manifests.mode replace: no catalog service is created, so none has a Vault role, a cache user or a lease.
    plan = sandbox_with("replace")
    spec = app_secrets.from_json(plan.one("pulumi-python:dynamic:Resource", "vault-app-secrets").inputs["app_secrets"])
    assert spec is not None and spec.services == () and spec.postgres is None and spec.cache is None
    assert app_secrets.rendered(spec) == {"policies": {}, "roles": {}}  # the bootstrap deletes every app-* identity
    users = plan.of_type("aws:elasticache/user:User")
    assert [u.inputs["userName"] for u in users] == ["default"]  # only the switched-off default user
    assert not [r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "vault-cache-users"]
