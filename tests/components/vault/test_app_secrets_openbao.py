"""Application secrets against real servers: the bootstrap's own code (`bootstrap(..., app_secrets=...)`) converges
OpenBao 2.7.2, which then hands each service its own PostgreSQL login (Debian's PostgreSQL, TLS verify-full) and its
own cache user (Debian's redis-server with ACL users and TLS, the redis plugin), and refuses everyone else.

One module-scoped world (OpenBao + PostgreSQL + redis-server started in parallel). Counters in `FIGURES` are the
closing note's numbers: credentials issued, refused and revoked here (logged at the module's end).
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests

from components.app import vault_agent_specs
from components.vault.bootstrap.app_secrets import (
    REDIS_PLUGIN,
    AppSecretsSpec,
    AppService,
    CacheTarget,
    PostgresTarget,
    cache_username,
    postgres_role,
    role_name,
)
from components.vault.bootstrap.app_secrets_configure import DataCredentials
from components.vault.bootstrap.recovery import InMemorySecretStore, RecoveryMaterial
from components.vault.bootstrap.spec import BootstrapSpec, cert_manager_default_audience
from components.vault.bootstrap.steps import bootstrap
from config.names import cache_access_string
from tests.helpers.data_engines import (
    MASTER_USER,
    PostgresServer,
    RedisServer,
    require_binaries,
    start_postgres,
    start_redis,
)
from tests.helpers.openbao import (  # noqa: F401  # fixtures are found by name
    OpenBaoServer,
    ServerFactory,
    TokenReviewer,
    bao_binary,
    openbao_factory,
    openbao_transit,
    openbao_workdir,
    token_reviewer,
)

LOG = logging.getLogger("test.app_secrets")
NAMESPACE = "prod-app"
AUDIENCE = "vault://mtls-platform-test-apps"
FIGURES = {"issued": 0, "refused": 0, "revoked": 0}
SERVICES = (
    AppService("order-processing", NAMESPACE, ("rds", "cache")),
    AppService("product-catalog", NAMESPACE, ("rds",)),
    AppService("recommendation", NAMESPACE, ("cache",)),
    AppService("analytics", NAMESPACE, ()),  # no credential from Vault: no identity either
)


@dataclass
class World:
    vault: OpenBaoServer
    reviewer: TokenReviewer
    pg: PostgresServer
    cache: RedisServer
    spec: BootstrapSpec
    apps: AppSecretsSpec
    store: InMemorySecretStore
    root_token: str
    http: requests.Session

    def credentials(self) -> DataCredentials:
        return DataCredentials(postgres_master=lambda: (MASTER_USER, self.pg.master_password),
                               cache_admin=lambda: (self.cache.admin_user, self.cache.admin_password))

    def rerun(self, apps: AppSecretsSpec | None = None) -> list[str]:
        return bootstrap(self.vault.client(), self.spec, self.store, LOG, ready_timeout_s=20,
                         app_secrets=apps or self.apps, data_credentials=self.credentials()).changed

    def login(self, service: str, *, role: str | None = None, namespace: str = NAMESPACE,
              audience: str = AUDIENCE) -> requests.Response:
        jwt = self.reviewer.service_account_token(service, namespace, [audience])
        return self.call("", "POST", "auth/kubernetes/login", {"role": role or role_name(service), "jwt": jwt})

    def token(self, service: str) -> str:
        answer = self.login(service)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["auth"]["client_token"])

    def call(self, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        headers = {"X-Vault-Token": token} if token else {}
        return self.http.request(method, f"{self.vault.url}/v1/{path}", json=body, timeout=20, headers=headers,
                                 verify=self.vault.ca_path)

    def read(self, token: str, path: str) -> dict[str, Any]:
        answer = self.call(token, "GET", path)
        assert answer.status_code == 200, answer.text
        FIGURES["issued"] += 1
        return dict(answer.json())

    def refused(self, answer: requests.Response) -> bool:
        FIGURES["refused"] += answer.status_code in (400, 403)
        return answer.status_code in (400, 403)

    def admin(self) -> hvac.Client:
        return self.vault.client(self.root_token)


def _in_thread(start: Any) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(start())
        except Exception as exc:  # re-raised in the fixture
            box.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _joined(thread: threading.Thread, box: list[Any]) -> Any:
    thread.join(60)
    if isinstance(box[0], Exception):
        raise box[0]
    return box[0]


@pytest.fixture(scope="module")
def world(openbao_factory: ServerFactory, token_reviewer: TokenReviewer) -> Iterator[World]:  # noqa: F811
    require_binaries("initdb", "pg_ctl", "postgres", "psql", "redis-server", "redis-cli")
    pg_start, redis_start = _in_thread(start_postgres), _in_thread(start_redis)
    vault = openbao_factory()
    pg, cache = _joined(*pg_start), _joined(*redis_start)
    try:
        if not vault.kubernetes_login:
            pytest.skip("unshare -rm is refused here, so Kubernetes auth logins cannot work (tests/helpers/openbao.py)")
        answer = vault.client().sys.initialize(recovery_shares=5, recovery_threshold=3)
        store = InMemorySecretStore(RecoveryMaterial(tuple(answer["recovery_keys_base64"]), 3).to_json())
        spec = BootstrapSpec(root_common_name="test anchor", audience=cert_manager_default_audience("vault-issuer"),
                             seal_type="transit", kubernetes_host=token_reviewer.host)
        apps = AppSecretsSpec(
            services=SERVICES, audience=AUDIENCE,
            postgres=PostgresTarget(host="127.0.0.1", port=pg.port, database=pg.database, ca_file=str(pg.tls.ca_path)),
            cache=CacheTarget(host="127.0.0.1", port=cache.port, plugin=REDIS_PLUGIN, ca_pem=cache.tls.ca_pem,
                              admin_username=cache.admin_user))
        # The per-service cache users exist before Vault manages them (Pulumi creates the ElastiCache users).
        for svc in SERVICES:
            if "cache" in svc.data_services:
                cache.admin(["ACL", "SETUSER", cache_username(apps, svc.name), "reset",
                             *cache_access_string(svc.name).split(), ">initial-password-known-to-the-deployer"])
        world = World(vault, token_reviewer, pg, cache, spec, apps, store, str(answer["root_token"]),
                      requests.Session())
        changed = world.rerun()
        assert {"postgres-connection", "cache-connection", "app-order-processing-role"} <= set(changed), changed
        yield world
        world.http.close()
        LOG.warning("application-secrets figures (closing note): %s", FIGURES)  # shown with -s / on failure
    finally:
        vault.kill()
        pg.stop()
        cache.stop()


def pg_login(world: World, creds: dict[str, Any], sql: str) -> tuple[int, str, str]:
    return world.pg.psql(sql, creds["data"]["username"], creds["data"]["password"])


# --- PostgreSQL -----------------------------------------------------------------------------------------------------

def test_each_service_gets_a_postgres_login_with_exactly_its_own_schema(world: World) -> None:
    orders = world.read(world.token("order-processing"), "database/creds/postgres-order-processing")
    catalog = world.read(world.token("product-catalog"), "database/creds/postgres-product-catalog")
    assert orders["lease_duration"] == 3600 and orders["renewable"] is True  # the spec's default TTL: 1 hour

    code, out, err = pg_login(world, orders, "CREATE TABLE orders (id int); INSERT INTO orders VALUES (1); "
                                             "SELECT current_user || ' ' || current_schema() || ' ' || count(*) "
                                             "FROM orders")
    assert (code, out) == (0, "svc_order_processing order_processing 1"), err
    assert pg_login(world, catalog, "CREATE TABLE items (sku text); SELECT 'ok'")[:2] == (0, "ok")
    # Only over TLS (as RDS with rds.force_ssl): the same credential without TLS is refused.
    plain = world.pg.psql("SELECT 1", orders["data"]["username"], orders["data"]["password"], sslmode="disable")
    assert plain[0] != 0 and "no encryption" in plain[2]

    for sql in ("SELECT * FROM product_catalog.items", "CREATE TABLE product_catalog.x (i int)",
                "CREATE TABLE public.x (i int)", "CREATE ROLE intruder", "SET ROLE svc_product_catalog"):
        code, _, err = pg_login(world, orders, sql)
        assert code != 0 and ("permission denied" in err or "must be" in err), (sql, err)
        FIGURES["refused"] += 1


def test_credentials_stop_working_when_their_lease_is_revoked_or_their_token_ends(world: World) -> None:
    token = world.token("product-catalog")
    creds = world.read(token, "database/creds/postgres-product-catalog")
    # An open session as well: revocation terminates it (a compromised credential keeps no connection).
    user, password = creds["data"]["username"], creds["data"]["password"]
    session = subprocess.Popen(  # our own psql, arguments built here
        ["psql", f"host=127.0.0.1 port={world.pg.port} dbname={world.pg.database} user={user} sslmode=verify-full "
                 f"sslrootcert={world.pg.tls.ca_path}", "-X", "-c", "SELECT pg_sleep(30)"],
        env={"PATH": "/usr/bin:/bin", "PGPASSWORD": password, "HOME": str(world.pg.directory)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **world.pg._user_kw)  # type: ignore[call-overload]
    for _ in range(100):
        if world.pg.admin(f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}'") == "1":
            break
        time.sleep(0.05)
    world.admin().sys.revoke_lease(creds["lease_id"])
    FIGURES["revoked"] += 1
    assert session.wait(timeout=10) != 0
    code, _, err = pg_login(world, creds, "SELECT 1")
    assert code != 0 and "password authentication failed" in err
    assert world.pg.admin(f"SELECT count(*) FROM pg_roles WHERE rolname = '{user}'") == "0"

    # A token's leases end with it: an expired (here: revoked) token takes its credentials along.
    second = world.read(token, "database/creds/postgres-product-catalog")
    assert pg_login(world, second, "SELECT 1")[0] == 0
    world.admin().auth.token.revoke(token)
    FIGURES["revoked"] += 1
    assert pg_login(world, second, "SELECT 1")[0] != 0
    assert world.refused(world.call(token, "GET", "database/creds/postgres-product-catalog"))


def test_compromise_runbook_revokes_every_credential_of_one_service_at_once(world: World) -> None:
    token = world.token("order-processing")
    first, second = (world.read(token, "database/creds/postgres-order-processing") for _ in range(2))
    other = world.read(world.token("product-catalog"), "database/creds/postgres-product-catalog")
    # A table of its own (tests run in any order, on any worker): made by the credential about to be revoked.
    assert pg_login(world, first, "CREATE TABLE runbook_probe (id int); INSERT INTO runbook_probe VALUES (7)")[0] == 0
    # README "Runbook: one service's credentials are compromised", step 2.
    world.admin().sys.revoke_prefix(f"database/creds/{postgres_role('order-processing')}")
    FIGURES["revoked"] += 2
    assert pg_login(world, first, "SELECT 1")[0] != 0 and pg_login(world, second, "SELECT 1")[0] != 0
    assert pg_login(world, other, "SELECT 1")[0] == 0  # the other services keep working
    # Its tables survive (they belong to the group role): the next credential finds them.
    fresh = world.read(world.token("order-processing"), "database/creds/postgres-order-processing")
    assert pg_login(world, fresh, "SELECT id FROM runbook_probe")[:2] == (0, "7")


def test_another_services_token_and_foreign_identities_are_refused(world: World) -> None:
    orders = world.token("order-processing")
    for path in ("database/creds/postgres-product-catalog", "database/static-creds/cache-recommendation",
                 "database/config/postgres", "database/roles/postgres-order-processing", "sys/leases/lookup",
                 "auth/token/accessors"):
        assert world.refused(world.call(orders, "GET" if "lookup" not in path else "PUT", path)), path
    # Login: another service's role, another namespace, a token for another audience, a service without a role.
    assert world.refused(world.login("order-processing", role=role_name("product-catalog")))
    assert world.refused(world.login("order-processing", namespace="staging-app"))
    assert world.refused(world.login("order-processing", audience="vault://mtls-platform-test"))
    assert world.refused(world.login("analytics"))
    # cert-manager's identity cannot reach the application credentials either.
    assert world.refused(world.login("vault-issuer", role=role_name("order-processing"), namespace="cert-manager"))


def test_root_rotation_leaves_the_services_working_and_the_master_break_glass(world: World) -> None:
    creds = world.read(world.token("product-catalog"), "database/creds/postgres-product-catalog")
    config = world.admin().read("database/config/postgres")["data"]
    assert config["connection_details"]["username"] == "vault_admin"
    assert "sslmode=verify-full" in config["connection_details"]["connection_url"]
    world.admin().write_data("database/rotate-root/postgres", data={})
    assert pg_login(world, creds, "SELECT 1")[0] == 0
    fresh = world.read(world.token("product-catalog"), "database/creds/postgres-product-catalog")
    assert pg_login(world, fresh, "SELECT 1")[0] == 0
    # The master credential was given to Vault once and is no longer used by it; it still works for a person.
    assert world.pg.psql("SELECT 1", MASTER_USER, world.pg.master_password)[0] == 0
    assert world.pg.admin("SELECT rolcreaterole::text || rolsuper::text FROM pg_roles WHERE rolname = 'vault_admin'") \
        == "truefalse"


# --- cache --------------------------------------------------------------------------------------------------------

def test_each_service_gets_its_own_cache_user_rotated_by_vault(world: World) -> None:
    token = world.token("order-processing")
    creds = world.read(token, "database/static-creds/cache-order-processing")["data"]
    user, password = creds["username"], creds["password"]
    assert user == "app-order-processing" and password != "initial-password-known-to-the-deployer"
    assert creds["rotation_period"] == 30 * 86400 and 0 < creds["ttl"] <= 30 * 86400
    assert world.cache.cli(["SET", "order-processing:k", "v"], user, password)[1] == "OK"
    # The group's default user as cache_users.py makes it (off, no password, no command): nobody gets in as it.
    assert "WRONGPASS" in world.cache.cli(["PING"], "default", "")[1]
    assert world.cache.cli(["GET", "order-processing:k"], user, password)[1] == "v"
    for args in (["GET", "recommendation:k"], ["FLUSHALL"], ["ACL", "LIST"], ["CONFIG", "GET", "*"]):
        out = world.cache.cli(args, user, password)[1]
        assert out.startswith("NOPERM") or "no permissions" in out, (args, out)
        FIGURES["refused"] += 1
    initial = world.cache.cli(["PING"], user, "initial-password-known-to-the-deployer")[1]
    assert "WRONGPASS" in initial

    # A rotation (what the rotation period does on its own, forced here): the old password stops, the new works.
    world.admin().write_data("database/rotate-role/cache-order-processing", data={})
    rotated = world.read(token, "database/static-creds/cache-order-processing")["data"]["password"]
    assert rotated != password
    assert "WRONGPASS" in world.cache.cli(["PING"], user, password)[1]
    assert world.cache.cli(["PING"], user, rotated)[1] == "PONG"
    # Vault's own cache account was rotated when configured: the password the deployer gave no longer works.
    assert "WRONGPASS" in world.cache.cli(["PING"], world.cache.admin_user, world.cache.admin_password)[1]


def test_a_second_run_changes_nothing_and_a_removed_service_loses_its_identity(world: World) -> None:
    assert world.rerun() == []
    without = replace(world.apps, services=tuple(s for s in SERVICES if s.name != "product-catalog"))
    changed = world.rerun(without)
    assert {"app-product-catalog-role-deleted", "app-product-catalog-policy-deleted",
            "postgres-product-catalog-deleted", "postgres-connection"} <= set(changed), changed
    assert world.refused(world.login("product-catalog"))
    assert world.rerun() != []  # back, for any test that runs after


# --- delivery: the agent renders the project's templates --------------------------------------------------------

def test_the_agent_logs_in_as_the_service_and_renders_its_credentials(world: World, tmp_path: Path) -> None:
    service = world.apps.services_by_name["order-processing"]
    jwt = tmp_path / "token"
    jwt.write_text(world.reviewer.service_account_token(service.name, NAMESPACE, [AUDIENCE]))
    files = vault_agent_specs.templates(world.apps, service)
    config = {
        "vault": {"address": world.vault.url, "ca_cert": str(world.vault.ca_path)},
        "auto_auth": {"method": [{"type": "kubernetes", "mount_path": "auth/kubernetes",
                                  "config": {"role": role_name(service.name), "token_path": str(jwt)}}]},
        "template_config": {"exit_on_retry_failure": True},
        "template": [{"destination": str(tmp_path / name), "contents": text} for name, text in files.items()],
        "exit_after_auth": True,
    }
    (tmp_path / "agent.json").write_text(json.dumps(config))
    done = subprocess.run([str(bao_binary()), "agent", f"-config={tmp_path / 'agent.json'}"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rendered = {name: dict(line.split("=", 1) for line in (tmp_path / name).read_text().splitlines())
                for name in files}
    FIGURES["issued"] += 2
    pg = rendered["postgres.env"]
    assert world.pg.psql("SELECT current_user", pg["PGUSER"], pg["PGPASSWORD"])[:2] == (0, "svc_order_processing")
    cache = rendered["cache.env"]
    assert world.cache.cli(["PING"], cache["CACHE_USER"], cache["CACHE_PASSWORD"])[1] == "PONG"
    annotations = vault_agent_specs.injector_annotations(world.apps, service, "/vault/tls/ca.crt")
    assert annotations["vault.hashicorp.com/agent-inject-secret-postgres"] == \
        "database/creds/postgres-order-processing"
    assert annotations["vault.hashicorp.com/agent-inject-template-cache"] == files["cache.env"]
