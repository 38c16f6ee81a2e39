"""The application-secrets half of the Vault bootstrap: converge Vault to `AppSecretsSpec` with a privileged token.

In order: per service an ACL policy and a Kubernetes auth role (`app-<service>`; those of services no longer in the
catalog are deleted, so removing a service revokes its identity), the database secrets engine mount, the PostgreSQL
connection with one dynamic role per service, the cache connection with one static role per service. Like
`configure.py`, each step reads first and writes only on difference, appending what it wrote to `changed`.

The PostgreSQL connection account is created by Vault itself (`seed`): the RDS master credential - read by the
deployer from the secret RDS keeps and rotates, never stored in Pulumi state - is given to Vault once, a throw-away
role creates the engine's own account with a password Vault generated, the connection is re-pointed at it and
`rotate-root` replaces that password with one only Vault knows. A run killed half-way repeats the seed (it is
idempotent), and a connection whose settings drifted is seeded again, because Vault never returns the password it
holds. The cache connection with the redis plugin (OpenBao; a self-managed Valkey) is rotated the same way once
configured; with redis-elasticache (Vault 2.0 against ElastiCache) Vault holds no cache credential at all: it calls
the ElastiCache API with its IRSA role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions

from components.vault.bootstrap.api import VaultBootstrapError, vault_data, vault_list, vault_read, vault_step
from components.vault.bootstrap.app_secrets import (
    CACHE,
    POSTGRES,
    REDIS_PLUGIN,
    AppSecretsSpec,
    cache_connection,
    cache_role,
    cache_role_payload,
    postgres_connection,
    postgres_role,
    postgres_role_payload,
    role_name,
    seed_role,
    seed_role_payload,
    service_policy,
    service_role,
    services_with_credentials,
)
from components.vault.bootstrap.configure import _ensure_policy, _ensure_role

Credential = tuple[str, str]  # (user name, password)


@dataclass(frozen=True)
class DataCredentials:
    """Where the deployer reads the one-time credentials Vault starts from; called only when Vault needs them."""

    postgres_master: Callable[[], Credential]  # the RDS master user (its RDS-managed secret)
    cache_admin: Callable[[], Credential] | None = None  # redis plugin only: the ACL admin user


def configure_app_secrets(client: hvac.Client, spec: AppSecretsSpec, credentials: DataCredentials,
                          changed: list[str]) -> None:
    _ensure_identities(client, spec, changed)
    if spec.postgres is None and spec.cache is None:
        return
    _ensure_database_mount(client, spec, changed)
    if spec.postgres is not None:
        _ensure_postgres(client, spec, credentials, changed)
    if spec.cache is not None:
        _ensure_cache(client, spec, credentials, changed)


# --- identities -----------------------------------------------------------------------------------------------------

_PREFIX = "app-"


def _ensure_identities(client: hvac.Client, spec: AppSecretsSpec, changed: list[str]) -> None:
    auth = spec.kubernetes_auth_path
    wanted = {role_name(s.name): s for s in services_with_credentials(spec)}
    with vault_step("application identities", client.url):
        for name, service in wanted.items():
            _ensure_policy(client, name, name, service_policy(spec, service), changed)
            _ensure_role(client, auth, name, name, service_role(spec, service), changed)
        # A service removed from the catalog (or that no longer uses a data service) loses its identity at once.
        for name in _listed(client, f"auth/{auth}/role"):
            if name.startswith(_PREFIX) and name not in wanted:
                _delete(client, f"auth/{auth}/role/{name}")
                changed.append(f"{name}-role-deleted")
        for name in vault_data(client.sys.list_acl_policies()).get("keys", []):
            if name.startswith(_PREFIX) and name not in wanted:
                client.sys.delete_acl_policy(name=name)
                changed.append(f"{name}-policy-deleted")


def _delete(client: hvac.Client, path: str) -> None:
    client.delete(path)  # type: ignore[no-untyped-call]  # hvac's generic delete is unannotated


def _listed(client: hvac.Client, path: str) -> list[str]:
    try:
        return [str(k) for k in vault_list(client, path).get("keys", [])]
    except hvac.exceptions.InvalidPath:  # nothing there yet
        return []


# --- the database secrets engine ------------------------------------------------------------------------------------

def _ensure_database_mount(client: hvac.Client, spec: AppSecretsSpec, changed: list[str]) -> None:
    with vault_step("database secrets engine", client.url):
        mount = vault_data(client.sys.list_mounted_secrets_engines()).get(f"{spec.database_path}/")
        if mount is None:
            # Ref: https://developer.hashicorp.com/vault/api-docs/system/mounts (type "database").
            client.sys.enable_secrets_engine(backend_type="database", path=spec.database_path,
                                             description="application credentials (PostgreSQL, cache)")
            changed.append("database-mount")
        elif mount.get("type") != "database":
            raise VaultBootstrapError(
                f"database secrets engine: {spec.database_path}/ is mounted as {mount.get('type')!r}")


def _read_connection(client: hvac.Client, path: str) -> dict[str, Any] | None:
    try:
        return vault_read(client, path)
    except hvac.exceptions.InvalidPath:
        return None


def _connection_drift(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    """Compared as Vault reads a connection back: plugin and roles at the top, the rest under connection_details."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases#read-connection (the password is never
    # returned; connection_details holds the plugin's own parameters).
    if current is None:
        return True
    details = current.get("connection_details") or {}
    for key, value in wanted.items():
        if key in ("verify_connection", "password"):
            continue
        have = current.get(key) if key in ("plugin_name", "allowed_roles", "password_authentication") and key in \
            current else details.get(key)
        if key == "allowed_roles":
            have = sorted(have or [])
        if have != value:
            return True
    return False


def _ensure_postgres(client: hvac.Client, spec: AppSecretsSpec, credentials: DataCredentials,
                     changed: list[str]) -> None:
    assert spec.postgres is not None
    mount, name = spec.database_path, spec.postgres_connection
    config_path = f"{mount}/config/{name}"
    wanted = postgres_connection(spec, spec.postgres.admin_username)
    with vault_step("PostgreSQL connection", client.url):
        if _connection_drift(_read_connection(client, config_path), wanted):
            _seed_postgres(client, spec, credentials)
            changed.append("postgres-connection")
    with vault_step("PostgreSQL roles", client.url):
        roles = {postgres_role(s.name): postgres_role_payload(spec, s)
                 for s in spec.services if POSTGRES in s.data_services}
        _ensure_roles(client, f"{mount}/roles", roles, "postgres-", changed, keep=())


def _seed_postgres(client: hvac.Client, spec: AppSecretsSpec, credentials: DataCredentials) -> None:
    """The connection account from the master credential, then rotate-root (module docstring)."""
    assert spec.postgres is not None
    mount, name, seed = spec.database_path, spec.postgres_connection, seed_role(spec)
    master_user, master_password = credentials.postgres_master()
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases#configure-connection and #rotate-root.
    as_master = {**postgres_connection(spec, master_user), "allowed_roles": [seed], "password": master_password}
    client.write_data(f"{mount}/config/{name}", data=as_master)
    client.write_data(f"{mount}/roles/{seed}", data=seed_role_payload(spec))
    answer = client.read(f"{mount}/creds/{seed}")  # type: ignore[no-untyped-call]  # the lease id is outside data
    if not answer or "data" not in answer:
        raise VaultBootstrapError("PostgreSQL connection: the seed role returned no credential")
    password = str(answer["data"]["password"])
    client.write_data(f"{mount}/config/{name}",
                      data={**postgres_connection(spec, spec.postgres.admin_username), "password": password})
    client.write_data("sys/leases/revoke", data={"lease_id": answer["lease_id"]})
    _delete(client, f"{mount}/roles/{seed}")
    client.write_data(f"{mount}/rotate-root/{name}", data={})


def _ensure_roles(client: hvac.Client, path: str, wanted: Mapping[str, Mapping[str, Any]], prefix: str,
                  changed: list[str], keep: tuple[str, ...]) -> None:
    for role, payload in wanted.items():
        current = _read_connection(client, f"{path}/{role}") or {}
        if any(_normalise(current.get(k)) != _normalise(v) for k, v in payload.items()):
            client.write_data(f"{path}/{role}", data=dict(payload))
            changed.append(role)
    for role in _listed(client, path):
        if role.startswith(prefix) and role not in wanted and role not in keep:
            _delete(client, f"{path}/{role}")
            changed.append(f"{role}-deleted")


def _normalise(value: Any) -> Any:
    # Vault reads statements back as lists and TTLs as seconds; an unset statement list reads as [] or None.
    if value in (None, []):
        return []
    return value


def _ensure_cache(client: hvac.Client, spec: AppSecretsSpec, credentials: DataCredentials,
                  changed: list[str]) -> None:
    assert spec.cache is not None
    mount, name = spec.database_path, spec.cache_connection
    wanted = cache_connection(spec)
    with vault_step("cache connection", client.url):
        if _connection_drift(_read_connection(client, f"{mount}/config/{name}"), wanted):
            data = dict(wanted)
            if spec.cache.plugin == REDIS_PLUGIN:
                if credentials.cache_admin is None:
                    raise VaultBootstrapError("cache connection: the redis plugin needs the cache's admin credential")
                data["password"] = credentials.cache_admin()[1]
            client.write_data(f"{mount}/config/{name}", data=data)
            if spec.cache.plugin == REDIS_PLUGIN:
                # Ref: https://developer.hashicorp.com/vault/docs/secrets/databases/redis (root rotation: yes).
                # redis-elasticache has none and needs none: Vault holds no cache credential there.
                client.write_data(f"{mount}/rotate-root/{name}", data={})
            changed.append("cache-connection")
    with vault_step("cache roles", client.url):
        roles = {cache_role(s.name): cache_role_payload(spec, s) for s in spec.services if CACHE in s.data_services}
        _ensure_roles(client, f"{mount}/static-roles", roles, "cache-", changed, keep=())
