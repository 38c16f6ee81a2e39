"""Data-store rules: RDS, ElastiCache, Amazon MQ (audit list, section "Data stores").

Multi-AZ, deletion protection and backup depth are mandatory in staging/prod only (README.md, "Environments");
in sandbox/dev the same rules still run and report, as advisory.
"""

from __future__ import annotations

from audit import kinds
from audit.model import (
    Context,
    Resource,
    Verdict,
    all_of,
    as_list,
    failed,
    not_applicable,
    number,
    passed,
    resource_rule,
    truthy,
)
from audit.rules_eks import is_key_arn
from config.names import HA_ENVIRONMENTS

# RDS certificate authorities that are current (rds-ca-2019 expired in August 2024).
# Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
CURRENT_RDS_CAS = frozenset({"rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1"})
# The log each engine must export at least (CKV_AWS_129 accepts any; these are the ones an auditor asks for).
RDS_REQUIRED_LOGS = {"postgres": {"postgresql"}, "mysql": {"error", "slowquery"}, "mariadb": {"error", "slowquery"}}
MIN_HA_BACKUP_DAYS = 7
MULTI_AZ_BROKER_MODES = frozenset({"ACTIVE_STANDBY_MULTI_AZ", "CLUSTER_MULTI_AZ"})


@resource_rule("rds-encrypted-cmk", "RDS storage is encrypted with the customer-managed key", "CKV_AWS_16",
               {kinds.RDS_INSTANCE}, also=("AWS Security Hub RDS.3",))
def rds_encrypted_cmk(r: Resource, ctx: Context) -> Verdict:
    key = r.get("kmsKeyId")
    return all_of([(truthy(r.get("storageEncrypted", default=False)), "storageEncrypted is off"),
                   (is_key_arn(key), f"kmsKeyId {key!r} is not a customer key ARN (AWS-managed aws/rds key)")],
                  f"encrypted with {key}")


@resource_rule("rds-not-public", "RDS is not publicly accessible", "CKV_AWS_17", {kinds.RDS_INSTANCE},
               also=("AWS Security Hub RDS.2",))
def rds_not_public(r: Resource, ctx: Context) -> Verdict:
    return failed("publiclyAccessible") if truthy(r.get("publiclyAccessible", default=False)) else passed(
        "not publicly accessible")


@resource_rule("rds-deletion-protection", "RDS has deletion protection (staging/prod)", "CKV_AWS_293",
               {kinds.RDS_INSTANCE}, mandatory_in=HA_ENVIRONMENTS, also=("AWS Security Hub RDS.8",))
def rds_deletion_protection(r: Resource, ctx: Context) -> Verdict:
    return passed("deletionProtection on") if truthy(r.get("deletionProtection", default=False)) else failed(
        "deletionProtection off")


@resource_rule("rds-multi-az", "RDS is Multi-AZ (staging/prod)", "CKV_AWS_157", {kinds.RDS_INSTANCE},
               mandatory_in=HA_ENVIRONMENTS, also=("AWS Security Hub RDS.5",))
def rds_multi_az(r: Resource, ctx: Context) -> Verdict:
    return passed("Multi-AZ") if truthy(r.get("multiAz", default=False)) else failed("single-AZ")


@resource_rule("rds-log-exports", "RDS exports its engine logs to CloudWatch", "CKV_AWS_129/161",
               {kinds.RDS_INSTANCE}, also=("AWS Security Hub RDS.9",))
def rds_log_exports(r: Resource, ctx: Context) -> Verdict:
    exported = set(as_list(r.get("enabledCloudwatchLogsExports")))
    required = RDS_REQUIRED_LOGS.get(str(r.get("engine")), set())
    missing = sorted(required - exported)
    if not exported:
        return failed("no log exports")
    return failed("missing log exports: " + ", ".join(missing)) if missing else passed(", ".join(sorted(exported)))


@resource_rule("rds-iam-auth", "RDS accepts IAM database authentication", "CKV_AWS_129/161", {kinds.RDS_INSTANCE},
               also=("AWS Security Hub RDS.10",))
def rds_iam_auth(r: Resource, ctx: Context) -> Verdict:
    return passed("IAM authentication on") if truthy(r.get("iamDatabaseAuthenticationEnabled", default=False)) \
        else failed("iamDatabaseAuthenticationEnabled off")


_RDS_OPS = "CKV_AWS_118/353/226/211, CKV2_AWS_60"


@resource_rule("rds-enhanced-monitoring", "RDS has enhanced monitoring", _RDS_OPS, {kinds.RDS_INSTANCE},
               also=("CKV_AWS_118",))
def rds_enhanced_monitoring(r: Resource, ctx: Context) -> Verdict:
    interval = number(r.get("monitoringInterval"))
    return all_of([(interval > 0, "monitoringInterval is 0"),
                   (bool(r.get("monitoringRoleArn")), "no monitoringRoleArn")], f"every {interval:.0f} s")


@resource_rule("rds-performance-insights-kms", "RDS Performance Insights on, encrypted with the CMK", _RDS_OPS,
               {kinds.RDS_INSTANCE}, also=("CKV_AWS_353", "CKV_AWS_354"))
def rds_performance_insights_kms(r: Resource, ctx: Context) -> Verdict:
    key = r.get("performanceInsightsKmsKeyId")
    return all_of([(truthy(r.get("performanceInsightsEnabled", default=False)), "Performance Insights off"),
                   (is_key_arn(key), "Performance Insights not encrypted with a customer key")], f"KMS {key}")


@resource_rule("rds-auto-minor-upgrade", "RDS applies minor engine upgrades automatically", _RDS_OPS,
               {kinds.RDS_INSTANCE}, also=("CKV_AWS_226", "AWS Security Hub RDS.13"))
def rds_auto_minor_upgrade(r: Resource, ctx: Context) -> Verdict:
    return passed("on") if truthy(r.get("autoMinorVersionUpgrade", default=True)) else failed(
        "autoMinorVersionUpgrade off")


@resource_rule("rds-current-ca", "RDS uses a current certificate authority", _RDS_OPS, {kinds.RDS_INSTANCE},
               also=("CKV_AWS_211",))
def rds_current_ca(r: Resource, ctx: Context) -> Verdict:
    ca = r.get("caCertIdentifier")
    return passed(str(ca)) if ca in CURRENT_RDS_CAS else failed(f"caCertIdentifier {ca!r} (not one of "
                                                                 f"{', '.join(sorted(CURRENT_RDS_CAS))})")


@resource_rule("rds-copy-tags", "RDS copies tags to snapshots", _RDS_OPS, {kinds.RDS_INSTANCE},
               also=("CKV2_AWS_60", "AWS Security Hub RDS.17"))
def rds_copy_tags(r: Resource, ctx: Context) -> Verdict:
    return passed("on") if truthy(r.get("copyTagsToSnapshot", default=False)) else failed("copyTagsToSnapshot off")


@resource_rule("rds-backups", "RDS keeps >= 7 days of backups and a final snapshot (staging/prod)", "CKV_AWS_133",
               {kinds.RDS_INSTANCE}, mandatory_in=HA_ENVIRONMENTS, listed=False,
               also=("AWS Security Hub RDS.11",))
def rds_backups(r: Resource, ctx: Context) -> Verdict:
    days = number(r.get("backupRetentionPeriod"))
    return all_of([(days >= MIN_HA_BACKUP_DAYS, f"backupRetentionPeriod {days:.0f} d < {MIN_HA_BACKUP_DAYS}"),
                   (not truthy(r.get("skipFinalSnapshot", default=False)), "skipFinalSnapshot: deletion loses data")],
                  f"{days:.0f} d of backups, final snapshot kept")


@resource_rule("rds-force-tls", "The RDS parameter group refuses unencrypted connections",
               "AWS RDS user guide: rds.force_ssl", {kinds.RDS_PARAMETER_GROUP}, listed=False,
               also=("CIS AWS Database Services Benchmark: encryption in transit",))
def rds_force_tls(r: Resource, ctx: Context) -> Verdict:
    family = str(r.get("family", default=""))
    params = {p.get("name"): str(p.get("value")) for p in as_list(r.get("parameters"))}
    if family.startswith("postgres"):
        return passed("rds.force_ssl=1") if params.get("rds.force_ssl") == "1" else failed("rds.force_ssl is not 1")
    if family.startswith(("mysql", "mariadb")):
        ok = params.get("require_secure_transport", "").upper() in {"1", "ON"}
        return passed("require_secure_transport ON") if ok else failed("require_secure_transport is not ON")
    return not_applicable(f"family {family!r}")


_CACHE_CRYPTO = "CKV_AWS_29/30/31/191"


@resource_rule("cache-at-rest-cmk", "ElastiCache encrypts at rest with the customer-managed key", _CACHE_CRYPTO,
               {kinds.CACHE_GROUP}, also=("CKV_AWS_29", "CKV_AWS_191", "AWS Security Hub ElastiCache.4"))
def cache_at_rest_cmk(r: Resource, ctx: Context) -> Verdict:
    key = r.get("kmsKeyId")
    return all_of([(truthy(r.get("atRestEncryptionEnabled", default=False)), "atRestEncryptionEnabled off"),
                   (is_key_arn(key), "not encrypted with a customer key (kmsKeyId)")], f"KMS {key}")


@resource_rule("cache-in-transit", "ElastiCache requires TLS in transit", _CACHE_CRYPTO, {kinds.CACHE_GROUP},
               also=("CKV_AWS_30", "AWS Security Hub ElastiCache.5"))
def cache_in_transit(r: Resource, ctx: Context) -> Verdict:
    mode = r.get("transitEncryptionMode")
    return all_of([(truthy(r.get("transitEncryptionEnabled", default=False)), "transitEncryptionEnabled off"),
                   (mode in (None, "required"), f"transitEncryptionMode {mode!r} still admits plaintext")],
                  "TLS required")


@resource_rule("cache-auth", "ElastiCache requires authentication (AUTH token or user groups)", _CACHE_CRYPTO,
               {kinds.CACHE_GROUP}, also=("CKV_AWS_31", "AWS Security Hub ElastiCache.6"))
def cache_auth(r: Resource, ctx: Context) -> Verdict:
    if r.get("authToken"):
        return passed("AUTH token")
    if as_list(r.get("userGroupIds")):
        return passed("RBAC user groups")
    return failed("neither authToken nor userGroupIds")


@resource_rule("cache-failover-multi-az", "ElastiCache fails over automatically across AZs (staging/prod)",
               "CKV2_AWS_50, CKV_AWS_134", {kinds.CACHE_GROUP}, mandatory_in=HA_ENVIRONMENTS,
               also=("AWS Security Hub ElastiCache.3",))
def cache_failover_multi_az(r: Resource, ctx: Context) -> Verdict:
    return all_of([(truthy(r.get("automaticFailoverEnabled", default=False)), "automaticFailoverEnabled off"),
                   (truthy(r.get("multiAzEnabled", default=False)), "multiAzEnabled off")],
                  "automatic failover, Multi-AZ")


@resource_rule("cache-snapshot-retention", "ElastiCache keeps automatic snapshots", "CKV2_AWS_50, CKV_AWS_134",
               {kinds.CACHE_GROUP}, also=("AWS Security Hub ElastiCache.1",))
def cache_snapshot_retention(r: Resource, ctx: Context) -> Verdict:
    days = number(r.get("snapshotRetentionLimit"))
    return passed(f"{days:.0f} d") if days >= 1 else failed("snapshotRetentionLimit 0: no automatic backups")


@resource_rule("mq-not-public", "Amazon MQ is not publicly accessible", "CKV_AWS_69/48", {kinds.MQ_BROKER},
               also=("CKV_AWS_69",))
def mq_not_public(r: Resource, ctx: Context) -> Verdict:
    return failed("publiclyAccessible") if truthy(r.get("publiclyAccessible", default=False)) else passed(
        "private")


@resource_rule("mq-logs", "Amazon MQ sends general logs to CloudWatch", "CKV_AWS_69/48", {kinds.MQ_BROKER},
               also=("CKV_AWS_48", "AWS Security Hub MQ.2"))
def mq_logs(r: Resource, ctx: Context) -> Verdict:
    general = truthy(r.get("logs", "general", default=False))
    audit = r.get("engineType") != "ActiveMQ" or truthy(r.get("logs", "audit", default=False))
    return all_of([(general, "general logs off"), (audit, "ActiveMQ audit logs off")], "general (+audit) logs")


@resource_rule("mq-cmk", "Amazon MQ encrypts with the customer-managed key", "CKV_AWS_209/207", {kinds.MQ_BROKER},
               also=("CKV_AWS_209",))
def mq_cmk(r: Resource, ctx: Context) -> Verdict:
    key = r.get("encryptionOptions", "kmsKeyId")
    return all_of([(not truthy(r.get("encryptionOptions", "useAwsOwnedKey", default=True)), "AWS-owned key"),
                   (is_key_arn(key), "no customer key ARN in encryptionOptions.kmsKeyId")], f"KMS {key}")


@resource_rule("mq-auto-minor-upgrade", "Amazon MQ applies minor engine upgrades automatically", "CKV_AWS_209/207",
               {kinds.MQ_BROKER}, also=("CKV_AWS_207", "AWS Security Hub MQ.3"))
def mq_auto_minor_upgrade(r: Resource, ctx: Context) -> Verdict:
    return passed("on") if truthy(r.get("autoMinorVersionUpgrade", default=False)) else failed(
        "autoMinorVersionUpgrade off")


@resource_rule("mq-multi-az", "Amazon MQ runs active/standby across AZs (staging/prod)", "CKV_AWS_209/207",
               {kinds.MQ_BROKER}, mandatory_in=HA_ENVIRONMENTS,
               also=("AWS Security Hub MQ.5 (ActiveMQ)", "MQ.6 (RabbitMQ)"))
def mq_multi_az(r: Resource, ctx: Context) -> Verdict:
    mode = r.get("deploymentMode", default="SINGLE_INSTANCE")
    return passed(str(mode)) if mode in MULTI_AZ_BROKER_MODES else failed(f"deploymentMode {mode}")
