"""RDS for PostgreSQL: the platform's relational store, private in the isolated subnets and encrypted end to end.

Storage, snapshots, Performance Insights and the master password are encrypted with the customer data key. RDS
generates and rotates the master password itself and keeps it in Secrets Manager (`manage_master_user_password`),
so no password exists in config, state or logs; applications read that secret, or better use IAM database
authentication. The parameter group refuses clients without TLS (`rds.force_ssl`), the CA is the current one, and
the PostgreSQL and upgrade logs go to KMS-encrypted log groups we create first (so RDS does not create unencrypted
ones without retention). Multi-AZ, deletion protection and the final snapshot follow the stack config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from components.data.placement import POSTGRES_PORT, Placement
from components.shared import iam_documents
from components.shared.aws_context import AwsContext
from config.versions import POSTGRES_ENGINE_VERSION, POSTGRES_PARAMETER_FAMILY, RDS_CA_IDENTIFIER

# Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html
LOG_EXPORTS: Final = ("postgresql", "upgrade")
MASTER_USERNAME: Final = "dbadmin"  # "postgres" and "rdsadmin" are reserved by RDS
DATABASE_NAME: Final = "app"
# Weekly maintenance after the daily backup; the two windows must not overlap (times in UTC).
BACKUP_WINDOW: Final = "02:00-03:00"
MAINTENANCE_WINDOW: Final = "sun:03:30-sun:04:30"


def parameters() -> list[aws.rds.ParameterGroupParameterArgsDict]:
    """Server settings: TLS only (TLS 1.2+), SCRAM passwords, and the logs an incident review needs."""
    # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html
    # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Concepts.PostgreSQL.html
    # Every parameter here is dynamic on RDS for PostgreSQL, so "immediate" (the default apply method) is valid.
    values = {
        "rds.force_ssl": "1",
        "ssl_min_protocol_version": "TLSv1.2",
        "password_encryption": "scram-sha-256",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
        "log_min_duration_statement": "1000",  # ms: statements slower than a second
        "log_statement": "ddl",  # schema changes, never data (no values of INSERT/UPDATE in the logs)
    }
    return [{"name": name, "value": value} for name, value in values.items()]


def identifier(name_prefix: str) -> str:
    """The instance identifier: fixed, because the log groups we pre-create are named after it."""
    return f"{name_prefix}-postgres"


def managed_secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret]) -> str:
    """The ARN of the secret RDS created for the master user (fails loudly if RDS reports none)."""
    arns = [s.secret_arn for s in secrets if s.secret_arn]
    if not arns:
        raise ValueError("RDS reported no master user secret although manage_master_user_password is set")
    return arns[0]


@dataclass(frozen=True)
class PostgresArgs:
    placement: Placement
    aws_context: AwsContext  # partition for the monitoring policy ARN
    name_prefix: str  # physical names: the instance identifier, log groups, the final snapshot
    instance_class: str  # data.rdsInstanceClass
    allocated_storage_gb: int  # data.rdsAllocatedStorageGb
    max_allocated_storage_gb: int  # data.rdsMaxAllocatedStorageGb: storage autoscaling ceiling
    multi_az: bool  # data.rdsMultiAz
    backup_retention_days: int  # data.rdsBackupRetentionDays
    log_retention_days: int
    protect: bool  # protect + deletion protection + a final snapshot


class Postgres(pulumi.ComponentResource):
    """One RDS for PostgreSQL instance with its subnet group, parameter group, log groups and monitoring role."""

    endpoint: pulumi.Output[str]  # host:port
    secret_arn: pulumi.Output[str]  # the RDS-managed master user secret

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:data:Postgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        where = args.placement
        protect = args.protect
        db_id = identifier(args.name_prefix)

        log_groups = [
            aws.cloudwatch.LogGroup(f"{name}-{log}", name=f"/aws/rds/instance/{db_id}/{log}",
                                    retention_in_days=args.log_retention_days, kms_key_id=where.logs_key_arn,
                                    opts=child)
            for log in LOG_EXPORTS
        ]
        subnets = aws.rds.SubnetGroup(name, description=f"{db_id}: isolated subnets", subnet_ids=where.subnet_ids,
                                      opts=child)
        params = aws.rds.ParameterGroup(name, family=POSTGRES_PARAMETER_FAMILY,
                                        description=f"{db_id}: TLS only, connection and slow-query logs",
                                        parameters=parameters(), opts=child)
        # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html
        monitoring = aws.iam.Role(f"{name}-monitoring", description=f"{db_id} enhanced monitoring",
                                  assume_role_policy=pulumi.Output.json_dumps(
                                      iam_documents.service_trust("monitoring.rds.amazonaws.com")), opts=child)
        attached = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring", role=monitoring.name,
            policy_arn=f"arn:{args.aws_context.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            opts=pulumi.ResourceOptions(parent=monitoring))

        self.instance = aws.rds.Instance(
            name,
            # A fixed identifier also makes an accidental replacement fail ("already exists") instead of
            # silently creating an empty database next to the old one.
            identifier=db_id,
            engine="postgres",
            engine_version=POSTGRES_ENGINE_VERSION,
            auto_minor_version_upgrade=True,
            # No silent switch to paid RDS Extended Support when the major version leaves standard support.
            # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/extended-support.html
            engine_lifecycle_support="open-source-rds-extended-support-disabled",
            instance_class=args.instance_class,
            storage_type="gp3",
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_encrypted=True,
            kms_key_id=where.data_key_arn,
            db_name=DATABASE_NAME,
            port=POSTGRES_PORT,
            username=MASTER_USERNAME,
            # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
            manage_master_user_password=True,
            master_user_secret_kms_key_id=where.data_key_arn,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[where.security_group_id],
            publicly_accessible=False,
            parameter_group_name=params.name,
            ca_cert_identifier=RDS_CA_IDENTIFIER,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            # Protected stacks keep their automated backups after a deletion, and take a final snapshot.
            delete_automated_backups=not protect,
            deletion_protection=protect,
            skip_final_snapshot=not protect,
            final_snapshot_identifier=f"{db_id}-final" if protect else None,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            monitoring_interval=60,
            monitoring_role_arn=monitoring.arn,
            # On for every class, db.t4g.micro included: the support table excludes db.t2/t3/t4g micro and small
            # for RDS for MySQL and MariaDB, not for RDS for PostgreSQL. 7 days is the free retention; the console
            # moves to CloudWatch Database Insights (standard mode), the API and these arguments stay.
            # Ref: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DatabaseInsights.Engines.html
            performance_insights_enabled=True,
            performance_insights_kms_key_id=where.data_key_arn,
            performance_insights_retention_period=7,
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[attached, *log_groups]),
        )
        self.endpoint = self.instance.endpoint
        self.secret_arn = self.instance.master_user_secrets.apply(managed_secret_arn)
        self.register_outputs({"endpoint": self.endpoint, "secret_arn": self.secret_arn})
