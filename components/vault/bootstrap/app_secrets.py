"""What Vault holds for the application's own credentials: one identity per catalog service, and the data services'
secrets engines that hand each service its own short-lived or rotated credential.

Pure: `AppSecretsSpec` is plain values (part of the bootstrap's inputs, so `spec_hash` covers it) and every document
the bootstrap writes for it is rendered here, without any hvac call: per service a Kubernetes auth role bound to
exactly that service account, namespace and token audience, and an ACL policy that reads that service's credentials
and nothing else; the database secrets engine's PostgreSQL connection (TLS verified against the RDS CA) with one
dynamic role per service that owns only its schema; the cache connection with one static role per service (an
ElastiCache RBAC user whose password Vault rotates). `components/vault/bootstrap/app_secrets_configure.py` converges
Vault to these documents.

Names (one place, used by the policies, the configure step, the delivery annotations and the runbooks):
Kubernetes auth role and ACL policy `app-<service>`, database role `postgres-<service>` (read at
`<mount>/creds/postgres-<service>`), static role `cache-<service>` (read at `<mount>/static-creds/cache-<service>`),
PostgreSQL group role `svc_<service>` owning schema `<service>` (hyphens become underscores).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from config.names import cache_user_id

# The data services a catalog service may name in `dataServices` and what Vault gives it for each.
POSTGRES: Final = "rds"
CACHE: Final = "cache"
BROKER: Final = "mq"
# Those whose credentials Vault hands out (messaging is SQS through IRSA: no secret at all).
DELIVERED: Final = (POSTGRES, CACHE)
# Seconds in the units the config speaks.
HOUR: Final = 3600
DAY: Final = 24 * HOUR
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
# The Vault-side plugins for the cache: Vault 2.0 manages ElastiCache users through the ElastiCache API (static roles
# only); OpenBao has no such plugin and speaks the Redis protocol (ACL SETUSER) to a server it can reach.
# Ref: https://developer.hashicorp.com/vault/docs/secrets/databases/rediselasticache (static roles only, no root
# rotation) and https://developer.hashicorp.com/vault/api-docs/secret/databases/redis (host, port, tls, ca_cert).
ELASTICACHE_PLUGIN: Final = "redis-elasticache-database-plugin"
REDIS_PLUGIN: Final = "redis-database-plugin"


@dataclass(frozen=True)
class AppService:
    """One catalog service as Vault sees it."""

    name: str  # catalog name = its ServiceAccount's name
    namespace: str  # the app namespace
    data_services: tuple[str, ...] = ()  # the catalog's dataServices (rds, cache, mq)


@dataclass(frozen=True)
class PostgresTarget:
    """The RDS instance the database secrets engine manages roles in."""

    host: str
    port: int
    database: str
    # Path of the RDS CA bundle on the Vault server: pgx reads sslrootcert as a file, in Vault and OpenBao alike.
    ca_file: str
    admin_username: str = "vault_admin"  # the engine's own account; its password only Vault knows (rotate-root)
    default_ttl_hours: int = 1  # what a service's credential lives unless renewed
    max_ttl_hours: int = 8  # the lease can be renewed up to this age; then the service reads a new credential


@dataclass(frozen=True)
class CacheTarget:
    """The Valkey replication group whose per-service users the database secrets engine rotates."""

    host: str
    port: int
    plugin: str = ELASTICACHE_PLUGIN
    region: str = ""  # redis-elasticache: the ElastiCache API's region (credentials from Vault's IRSA role)
    ca_pem: str = ""  # redis plugin: the server's CA (TLS is always on, as ElastiCache requires)
    admin_username: str = ""  # redis plugin only: the ACL user Vault manages the others with
    rotation_days: int = 30  # the promise: no cache password older than this
    user_prefix: str = "app"  # the service users are `<user_prefix>-<service>` (config.names.cache_user_id)


@dataclass(frozen=True)
class AppSecretsSpec:
    services: tuple[AppService, ...]
    audience: str  # `aud` the services' projected tokens carry and every app role requires
    postgres: PostgresTarget | None = None  # None: the stack runs no PostgreSQL any service uses
    cache: CacheTarget | None = None
    kubernetes_auth_path: str = "kubernetes"
    database_path: str = "database"
    postgres_connection: str = "postgres"
    cache_connection: str = "cache"
    # A service's Vault token: the agent logs in again when it ends. Leases are children of the token that read
    # them (revoking the token revokes them), so the token must be allowed to live as long as a credential may.
    token_ttl_seconds: int = HOUR
    token_max_ttl_seconds: int = 8 * HOUR
    services_by_name: dict[str, AppService] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "services_by_name", {s.name: s for s in self.services})
        problems = app_secrets_problems(self)
        if problems:
            raise ValueError("invalid application secrets spec: " + "; ".join(problems))


def app_secrets_problems(spec: AppSecretsSpec) -> list[str]:
    """Every rule the spec breaks (the config rules catch these first, naming the config key)."""
    problems: list[str] = []
    if len(spec.services_by_name) != len(spec.services):
        problems.append("service names must be unique")
    for svc in spec.services:
        unknown = sorted(set(svc.data_services) - {POSTGRES, CACHE, BROKER})
        if unknown:
            problems.append(f"{svc.name}: unknown data service(s) {unknown}")
        if POSTGRES in svc.data_services and spec.postgres is None:
            problems.append(f"{svc.name} asks for rds but the spec has no PostgreSQL target")
        if CACHE in svc.data_services and spec.cache is None:
            problems.append(f"{svc.name} asks for cache but the spec has no cache target")
        if not _IDENTIFIER.fullmatch(schema_name(svc.name)):
            problems.append(f"{svc.name}: not usable as a PostgreSQL schema name")
    if spec.postgres is not None:
        pg = spec.postgres
        if not 0 < pg.default_ttl_hours <= pg.max_ttl_hours:
            problems.append(f"postgres TTLs must satisfy 0 < default ({pg.default_ttl_hours} h) <= max "
                            f"({pg.max_ttl_hours} h)")
        if pg.max_ttl_hours * HOUR > spec.token_max_ttl_seconds:
            problems.append("postgres max TTL must not exceed the services' token max TTL (leases die with it)")
        if not _IDENTIFIER.fullmatch(pg.admin_username):
            problems.append(f"postgres admin_username {pg.admin_username!r} is not a plain identifier")
    if spec.cache is not None:
        if spec.cache.plugin not in (ELASTICACHE_PLUGIN, REDIS_PLUGIN):
            problems.append(f"cache plugin {spec.cache.plugin!r} is not supported")
        if not 1 <= spec.cache.rotation_days <= 30:
            problems.append("cache rotation_days must be between 1 and 30 (the customer's promise)")
        if spec.cache.plugin == REDIS_PLUGIN and not (spec.cache.admin_username and spec.cache.ca_pem):
            problems.append("the redis plugin needs admin_username and ca_pem")
        # Without a region the plugin falls back to us-east-1 and would rotate nothing in the stack's region.
        # Ref: vault-plugin-database-redis-elasticache main (2026-06) Initialize: awsutil.DefaultRegion fallback.
        if spec.cache.plugin == ELASTICACHE_PLUGIN and not spec.cache.region:
            problems.append("the redis-elasticache plugin needs the ElastiCache region")
        if not spec.cache.user_prefix:
            problems.append("cache user_prefix must not be empty")
    if not 0 < spec.token_ttl_seconds <= spec.token_max_ttl_seconds:
        problems.append("token_ttl_seconds must be > 0 and <= token_max_ttl_seconds")
    return problems


# --- names --------------------------------------------------------------------------------------------------------

def role_name(service: str) -> str:
    """Kubernetes auth role and ACL policy of one service."""
    return f"app-{service}"


def postgres_role(service: str) -> str:
    return f"postgres-{service}"


def cache_role(service: str) -> str:
    return f"cache-{service}"


def cache_username(spec: AppSecretsSpec, service: str) -> str:
    """The ElastiCache RBAC user (user id = user name) of one service."""
    assert spec.cache is not None
    return cache_user_id(spec.cache.user_prefix, service)


def schema_name(service: str) -> str:
    return service.replace("-", "_")


def group_role(service: str) -> str:
    """The NOLOGIN PostgreSQL role that owns the service's schema; every credential of the service is a member."""
    return f"svc_{schema_name(service)}"


def credential_paths(spec: AppSecretsSpec, service: AppService) -> list[str]:
    """The Vault paths the service reads its credentials from (what its policy allows, and nothing else)."""
    paths = []
    if POSTGRES in service.data_services:
        paths.append(f"{spec.database_path}/creds/{postgres_role(service.name)}")
    if CACHE in service.data_services:
        paths.append(f"{spec.database_path}/static-creds/{cache_role(service.name)}")
    return paths


# --- Kubernetes auth roles and ACL policies -------------------------------------------------------------------------

def service_policy(spec: AppSecretsSpec, service: AppService) -> str:
    """Read its own credentials; renew and look up its own token and leases (what Vault Agent does). Nothing else."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases#generate-credentials (GET creds/:name,
    # GET static-creds/:name: "read"); https://developer.hashicorp.com/vault/api-docs/system/leases#renew-lease
    # (PUT sys/leases/renew: "update"; Vault checks the lease belongs to the token's own tree, not the policy).
    # The agent renews its token through auth/token/renew-self and reads it through lookup-self.
    lines = [f"# {service.name}: its own credentials only."]
    for path in credential_paths(spec, service):
        lines += [f'path "{path}" {{', '  capabilities = ["read"]', "}"]
    lines += ['path "sys/leases/renew" {', '  capabilities = ["update"]', "}",
              'path "auth/token/renew-self" {', '  capabilities = ["update"]', "}",
              'path "auth/token/lookup-self" {', '  capabilities = ["read"]', "}"]
    return "\n".join(lines) + "\n"


def service_role(spec: AppSecretsSpec, service: AppService) -> dict[str, Any]:
    """One service account in one namespace, the audience, only the service's policy."""
    # Same narrow fields as the platform's own roles (spec._kubernetes_role, which documents each).
    return {
        "bound_service_account_names": [service.name],
        "bound_service_account_namespaces": [service.namespace],
        "bound_service_account_namespace_selector": "",
        "audience": spec.audience,
        "alias_name_source": "serviceaccount_uid",
        "token_policies": [role_name(service.name)],
        "token_no_default_policy": True,
        "token_ttl": spec.token_ttl_seconds,
        "token_max_ttl": spec.token_max_ttl_seconds,
        "token_explicit_max_ttl": 0,
        "token_period": 0,
        "token_num_uses": 0,
        "token_bound_cidrs": [],
        "token_type": "default",
    }


def services_with_credentials(spec: AppSecretsSpec) -> list[AppService]:
    """The services that get a Vault identity: those with at least one credential Vault hands out."""
    return [s for s in spec.services if credential_paths(spec, s)]


# --- PostgreSQL -----------------------------------------------------------------------------------------------------

def postgres_connection_url(target: PostgresTarget) -> str:
    """The DSN with the templated user (required for rotate-root) and TLS verified against the RDS CA bundle."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases/postgresql (connection_url: a templated URL
    # is required for root rotation; "parameters such as sslrootcert ... are treated as paths on the Vault server");
    # openbao v2.7 plugins/database/postgresql uses pgx the same way (no PEM parameter), so the bundle is a file in
    # the Vault pod. verify-full: the chain and the host name (RDS certificates name the instance endpoint).
    return (f"postgresql://{{{{username}}}}:{{{{password}}}}@{target.host}:{target.port}/{target.database}"
            f"?sslmode=verify-full&sslrootcert={target.ca_file}")


def postgres_connection(spec: AppSecretsSpec, username: str) -> dict[str, Any]:
    """What `<mount>/config/<connection>` holds, besides the password."""
    assert spec.postgres is not None
    roles = [postgres_role(s.name) for s in spec.services if POSTGRES in s.data_services]
    return {
        "plugin_name": "postgresql-database-plugin",
        "connection_url": postgres_connection_url(spec.postgres),
        "username": username,
        "allowed_roles": sorted(roles),
        "verify_connection": True,
        # SCRAM: the server keeps no password a stolen catalog dump could replay (RDS parameter password_encryption).
        "password_authentication": "scram-sha-256",
    }


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def postgres_creation_statements(spec: AppSecretsSpec, service: AppService) -> list[str]:
    """Create the service's group role and schema when missing, then a login role that acts as the group.

    The login role lives until its lease ends (VALID UNTIL as well, so PostgreSQL refuses it even if the revocation
    never ran); `SET ROLE` by default makes every object it creates belong to the group, so revoking one credential
    leaves the service's tables to the next. The group may use and create in its own schema only.
    """
    assert spec.postgres is not None
    group, schema = _quote(group_role(service.name)), _quote(schema_name(service.name))
    literal = group_role(service.name)
    # Ref: https://www.postgresql.org/docs/17/sql-createrole.html (PG 16+: the creating CREATEROLE role gets ADMIN on
    # it, and needs membership with SET to create a schema the group owns: granted to CURRENT_USER here; 'MEMBER'
    # is the pg_has_role check PostgreSQL 15 knows too) and
    # https://www.postgresql.org/docs/17/sql-createschema.html (AUTHORIZATION needs membership with SET).
    # A DO block holds END, so the plugin runs it as one statement (openbao plugins/database/postgresql
    # containsMultilineStatement); the others it splits on ";".
    return [
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{literal}') THEN CREATE ROLE {group} NOLOGIN; END IF; "
        f"IF NOT pg_has_role(CURRENT_USER, '{literal}', 'MEMBER') THEN GRANT {group} TO CURRENT_USER; END IF; "
        "END $$;",
        f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {group};",
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' "
        f"NOINHERIT IN ROLE {group};",
        f"ALTER ROLE \"{{{{name}}}}\" SET role = {_quote(literal)};",
        f"ALTER ROLE \"{{{{name}}}}\" SET search_path = {schema};",
    ]


def postgres_revocation_statements() -> list[str]:
    """End the credential's sessions too: a revoked credential (a compromise) must not keep an open connection."""
    # Ref: https://www.postgresql.org/docs/17/functions-admin.html#FUNCTIONS-ADMIN-SIGNAL (pg_terminate_backend:
    # member of the role or of pg_signal_backend - the engine's account is granted the latter).
    return [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';",
        'DROP ROLE IF EXISTS "{{name}}";',
    ]


def postgres_role_payload(spec: AppSecretsSpec, service: AppService) -> dict[str, Any]:
    assert spec.postgres is not None
    return {
        "db_name": spec.postgres_connection,
        "creation_statements": postgres_creation_statements(spec, service),
        "revocation_statements": postgres_revocation_statements(),
        "rollback_statements": [],
        "renew_statements": [],
        "default_ttl": spec.postgres.default_ttl_hours * HOUR,
        "max_ttl": spec.postgres.max_ttl_hours * HOUR,
    }


def postgres_seed_statements(spec: AppSecretsSpec) -> list[str]:
    """Run once with the RDS master credential: create the engine's own account with a password Vault generated.

    Used by a throw-away role (`seed_role`) whose credential read creates or resets `admin_username`; the engine is
    then re-pointed at that account and rotates its password (rotate-root), so the master credential goes back to
    being break-glass only (RDS keeps and rotates it) and the engine's password is known to Vault alone.
    """
    assert spec.postgres is not None
    admin, database = spec.postgres.admin_username, _quote(spec.postgres.database)
    return [
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{admin}') THEN CREATE ROLE {admin} LOGIN; END IF; "
        "END $$;",
        f"ALTER ROLE {admin} WITH LOGIN CREATEROLE INHERIT PASSWORD '{{{{password}}}}';",
        f"GRANT CREATE, CONNECT ON DATABASE {database} TO {admin};",
        # INHERIT: pg_terminate_backend checks the privileges of pg_signal_backend, which a NOINHERIT member lacks
        # (found against PostgreSQL 15: the revocation failed with "must be a member of pg_signal_backend").
        f"GRANT pg_signal_backend TO {admin};",
    ]


def seed_role(spec: AppSecretsSpec) -> str:
    return f"{spec.postgres_connection}-seed"


def seed_role_payload(spec: AppSecretsSpec) -> dict[str, Any]:
    # The seed credential's own generated user name is never created; revoking its lease has nothing to drop.
    return {"db_name": spec.postgres_connection, "creation_statements": postgres_seed_statements(spec),
            "revocation_statements": ["SELECT 1;"], "default_ttl": 300, "max_ttl": 300}


# --- cache ----------------------------------------------------------------------------------------------------------

def cache_connection(spec: AppSecretsSpec) -> dict[str, Any]:
    """What `<mount>/config/<cache connection>` holds (the redis plugin's password is added by the configure step)."""
    assert spec.cache is not None
    cache = spec.cache
    roles = sorted(cache_role(s.name) for s in spec.services if CACHE in s.data_services)
    if cache.plugin == ELASTICACHE_PLUGIN:
        # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases/rediselasticache (url = the primary
        # endpoint; no access key: the AWS credential chain, i.e. Vault's IRSA role, which needs
        # elasticache:ModifyUser and DescribeUsers on the service users).
        return {"plugin_name": cache.plugin, "url": f"{cache.host}:{cache.port}", "region": cache.region,
                "allowed_roles": roles, "verify_connection": True}
    return {"plugin_name": cache.plugin, "host": cache.host, "port": cache.port, "tls": True, "insecure_tls": False,
            "ca_cert": cache.ca_pem, "username": cache.admin_username, "allowed_roles": roles,
            "verify_connection": True}


def cache_role_payload(spec: AppSecretsSpec, service: AppService) -> dict[str, Any]:
    """A static role: the service's existing cache user, its password rotated by Vault every `rotation_days`."""
    # Ref: https://developer.hashicorp.com/vault/api-docs/secret/databases#create-static-role (rotation_period in
    # seconds; Vault rotates the password when the role is created and then every period).
    assert spec.cache is not None
    return {"db_name": spec.cache_connection, "username": cache_username(spec, service.name),
            "rotation_period": spec.cache.rotation_days * DAY}


# --- everything, for spec_hash --------------------------------------------------------------------------------------

def rendered(spec: AppSecretsSpec) -> dict[str, Any]:
    """Every document derived from the spec by code: a change here must reach Vault (spec_hash covers it)."""
    who = services_with_credentials(spec)
    out: dict[str, Any] = {
        "policies": {role_name(s.name): service_policy(spec, s) for s in who},
        "roles": {role_name(s.name): service_role(spec, s) for s in who},
    }
    if spec.postgres is not None:
        out["postgres"] = {"connection": postgres_connection(spec, spec.postgres.admin_username),
                           "roles": {postgres_role(s.name): postgres_role_payload(spec, s)
                                     for s in spec.services if POSTGRES in s.data_services},
                           "seed": seed_role_payload(spec)}
    if spec.cache is not None:
        out["cache"] = {"connection": cache_connection(spec),
                        "roles": {cache_role(s.name): cache_role_payload(spec, s)
                                  for s in spec.services if CACHE in s.data_services}}
    return out


def to_json(spec: AppSecretsSpec) -> str:
    """The spec as the dynamic resource stores it (one string property: the engine keeps nested values as they are,
    but a string keeps the hash independent of how it returns numbers)."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__ if k != "services_by_name"}
        return value
    return json.dumps(plain(spec), sort_keys=True)


def from_json(text: str) -> AppSecretsSpec | None:
    if not text:
        return None
    data = json.loads(text)
    services = tuple(AppService(s["name"], s["namespace"], tuple(s["data_services"])) for s in data.pop("services"))
    postgres = PostgresTarget(**data.pop("postgres")) if data.get("postgres") else None
    data.pop("postgres", None)
    cache = CacheTarget(**data.pop("cache")) if data.get("cache") else None
    data.pop("cache", None)
    return AppSecretsSpec(services=services, postgres=postgres, cache=cache, **data)


# Where the Vault pods find the RDS CA bundle (pgx reads sslrootcert as a file; see postgres_connection_url).
RDS_CA_FILE: Final = "/vault/userconfig/rds-ca/rds-ca-bundle.pem"


def _host_port(endpoint: str, default_port: int) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    if not port.isdigit():  # a Service Catalog product may publish the host alone
        return endpoint, default_port
    return host, int(port)


def for_stack(services: tuple[tuple[str, tuple[str, ...]], ...], namespace: str, audience: str,
              postgres_endpoint: str, database: str, ttl_hours: int, max_ttl_hours: int,
              cache_endpoint: str = "", region: str = "", cache_user_prefix: str = "",
              cache_rotation_days: int = 30) -> AppSecretsSpec:
    """The spec of one stack from its catalog (name, dataServices), the RDS endpoint and, where a service uses the
    cache, the Valkey primary endpoint (`host:port`) whose per-service ElastiCache users
    (`components/data/cache_users.py`, `cache_user_prefix`) Vault rotates through the ElastiCache API in `region`.
    `mq` is left out: SQS needs no secret (README "Application secrets from Vault")."""
    pg_host, pg_port = _host_port(postgres_endpoint, 5432)
    wants_cache = any(CACHE in wanted for _, wanted in services)
    wants_postgres = any(POSTGRES in wanted for _, wanted in services)
    cache = None
    if wants_cache and cache_endpoint:
        cache_host, cache_port = _host_port(cache_endpoint, 6379)
        cache = CacheTarget(host=cache_host, port=cache_port, plugin=ELASTICACHE_PLUGIN, region=region,
                            rotation_days=cache_rotation_days, user_prefix=cache_user_prefix)
    delivered = DELIVERED if cache is not None else (POSTGRES,)
    return AppSecretsSpec(
        services=tuple(AppService(name, namespace, tuple(d for d in wanted if d in delivered))
                       for name, wanted in services),
        audience=audience,
        postgres=PostgresTarget(host=pg_host, port=pg_port, database=database, ca_file=RDS_CA_FILE,
                                default_ttl_hours=ttl_hours, max_ttl_hours=max_ttl_hours) if wants_postgres else None,
        cache=cache,
        token_max_ttl_seconds=max(8, max_ttl_hours) * HOUR,
    )


def audience_for(name_prefix: str) -> str:
    """The `aud` of the services' projected tokens for Vault (one per stack, never the API server's own)."""
    return f"vault://{name_prefix}-apps"
