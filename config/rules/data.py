"""Config rules of the `data` group: Service Catalog products when that mode is on, storage, retention and node
counts within AWS's limits, Multi-AZ data services in HA environments.
"""

from __future__ import annotations

from collections.abc import Iterator

from config.model import Problem, StackConfig
from config.schema import key


def data_services(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.data_services_mode == "serviceCatalog":
        # With SQS messaging no broker product is launched (the queues are created directly, see data_services.py).
        needed = {"rds", "cache"} | ({"mq"} if cfg.messaging == "activemq" else set())
        missing = sorted(needed - set(cfg.service_catalog_products))
        if missing:
            yield Problem(key("data.serviceCatalogProducts"), f"serviceCatalog mode needs products for {missing}")
    if not 20 <= cfg.rds_allocated_storage_gb <= 65536:
        yield Problem(key("data.rdsAllocatedStorageGb"), "must be between 20 and 65536 GiB")
    if cfg.rds_max_allocated_storage_gb < cfg.rds_allocated_storage_gb:
        yield Problem(key("data.rdsMaxAllocatedStorageGb"), "must not be below rdsAllocatedStorageGb")
    if not 1 <= cfg.rds_backup_retention_days <= 35:
        yield Problem(key("data.rdsBackupRetentionDays"), "must be between 1 and 35 days")
    if not 1 <= cfg.cache_nodes <= 6:
        yield Problem(key("data.cacheNodes"), "must be between 1 and 6 (primary plus up to 5 replicas)")
    if cfg.cache_multi_az and cfg.cache_nodes < 2:
        yield Problem(key("data.cacheNodes"), "cacheMultiAz needs at least 2 nodes (a primary and a replica)")
    if not 0 <= cfg.cache_snapshot_retention_days <= 35:
        yield Problem(key("data.cacheSnapshotRetentionDays"), "must be between 0 and 35 days")
    if cfg.messaging == "activemq" and cfg.mq_multi_az and cfg.mq_instance_type == "mq.t3.micro":
        yield Problem(key("data.mqInstanceType"), "mq.t3.micro is single-instance only; active/standby needs mq.m5+")
    if cfg.is_ha:
        # SQS stores every message redundantly across AZs by itself: mqMultiAz only concerns the ActiveMQ broker.
        broker_multi_az = cfg.mq_multi_az if cfg.messaging == "activemq" else True
        for k, on in ((key("data.rdsMultiAz"), cfg.rds_multi_az), (key("data.mqMultiAz"), broker_multi_az),
                      (key("data.cacheMultiAz"), cfg.cache_multi_az)):
            if not on:
                yield Problem(k, f"{cfg.environment} runs data services Multi-AZ (CKV_AWS_157, CKV2_AWS_50)")


# The customer's promise: no credential older than 30 days ("rotated automatically, every 30 days at most").
MAX_CREDENTIAL_AGE_DAYS = 30


def credentials(cfg: StackConfig) -> Iterator[Problem]:
    """The services' credentials from Vault: a PostgreSQL login lives `postgresCredentialTtlHours`, renewable up to
    `postgresCredentialMaxTtlHours` (its whole life: it is never rotated, it ends); cache passwords rotate every
    `cacheRotationDays`. Each must stay within the 30-day promise, and a TTL must not exceed its maximum."""
    ttl, max_ttl = cfg.postgres_credential_ttl_hours, cfg.postgres_credential_max_ttl_hours
    if ttl < 1:
        yield Problem(key("data.postgresCredentialTtlHours"), "must be at least 1 hour")
    elif ttl > max_ttl:
        yield Problem(key("data.postgresCredentialTtlHours"),
                      f"{ttl} h is longer than postgresCredentialMaxTtlHours ({max_ttl} h), the credential's "
                      "rotation period: Vault would cut every lease short")
    if max_ttl > MAX_CREDENTIAL_AGE_DAYS * 24:
        yield Problem(key("data.postgresCredentialMaxTtlHours"),
                      f"{max_ttl} h exceeds the {MAX_CREDENTIAL_AGE_DAYS}-day credential age the platform promises")
    if not 1 <= cfg.cache_rotation_days <= MAX_CREDENTIAL_AGE_DAYS:
        yield Problem(key("data.cacheRotationDays"),
                      f"must be between 1 and {MAX_CREDENTIAL_AGE_DAYS} days (the promised maximum credential age)")
