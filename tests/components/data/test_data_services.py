"""Data layer: PostgreSQL, ActiveMQ and Valkey private to the cluster, encrypted with the CMK, credentials in secrets.

Pure builders are tested directly; the rest asserts on each stack's real program run once on the mock engine
(`tests.conftest.plan_of`, SQS messaging: the profiles' default), plus the prod stack switched to
`data.messaging: activemq` (the broker stays a supported choice) and one run of dev in Service Catalog mode.
"""

from __future__ import annotations

import functools
import json
from functools import cache as memoize
from typing import Any

import pulumi_aws as aws
import pytest

from components.data import cache, cache_users, message_broker, postgres
from components.data.data_services import CATALOG_PRODUCT, SERVICES, Service, catalog_output, catalog_parameters
from components.data.placement import BROKER_PORTS
from components.shared.aws_context import AwsContext
from config.model import StackConfig
from tests.conftest import HA, STACKS, build_config, plan_of
from tests.helpers.shared_cache import shared
from tools.engine.mock_engine import Plan, Registration, load_stack_settings, run_stack

DATA = "mtls-platform:data:DataServices"
INSTANCE = "aws:rds/instance:Instance"
BROKER = "aws:mq/broker:Broker"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
PRODUCT = "aws:servicecatalog/provisionedProduct:ProvisionedProduct"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
QUEUE = "aws:sqs/queue:Queue"
CACHE_USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
STATEFUL = (INSTANCE, BROKER, CACHE, SECRET, PASSWORD, QUEUE)
# One extra plan (active/standby); the single-instance shape is the pure builders' test above.
BROKER_STACKS = ("prod",)
CATALOG_IDS = {
    "rds": {"productId": "prod-rdsabcdef0123", "provisioningArtifactId": "pa-rdsabcdef0123"},
    "mq": {"productId": "prod-mqabcdef01234", "provisioningArtifactId": "pa-mqabcdef01234"},
    "cache": {"productId": "prod-cacheabcdef01", "provisioningArtifactId": "pa-cacheabcdef01"},
}


# --- helpers -----------------------------------------------------------------------------------------------------

def descendants(plan: Plan) -> list[Registration]:
    """Everything the DataServices component registered, at any depth."""
    found, frontier = [], [plan.one(DATA).urn]
    while frontier:
        children = [r for urn in frontier for r in plan.children(urn)]
        found += children
        frontier = [r.urn for r in children]
    return found


def ours(plan: Plan, type_: str) -> list[Registration]:
    return [r for r in descendants(plan) if r.type == type_]


def only(plan: Plan, type_: str) -> Registration:
    found = ours(plan, type_)
    assert len(found) == 1, f"expected one {type_} under DataServices, found {[r.name for r in found]}"
    return found[0]


def key_arn(plan: Plan, purpose: str) -> str:
    (key,) = [k for k in plan.of_type("aws:kms/key:Key") if k.name.endswith(f"-{purpose}")]
    arn: str = key.outputs["arn"]
    return arn


def isolated_subnet_ids(plan: Plan) -> list[str]:
    # The mock engine names every resource's id "<name>-id".
    subnets = plan.of_type("aws:ec2/subnet:Subnet")
    return sorted(f"{s.name}-id" for s in subnets if s.inputs["tags"]["tier"] == "isolated")


def cluster_security_group(plan: Plan) -> str:
    sg: str = plan.one("eks:index:Cluster").outputs["clusterSecurityGroupId"]
    return sg


def contains(value: Any, needle: str) -> bool:
    return needle in json.dumps(value, default=str)


@memoize
def config_of(stack: str) -> StackConfig:
    """The resolved config the program ran with (stack file + profile)."""
    return build_config(stack, load_stack_settings(stack))


def with_data(stack: str, **data: Any) -> Plan:
    settings = load_stack_settings(stack)
    merged = {**json.loads(settings.get("mtls-platform:data", "{}")), **data}
    return run_stack(stack, config={**settings, "mtls-platform:data": json.dumps(merged)})


@memoize
def activemq_plan(stack: str) -> Plan:
    """The stack with `data.messaging: activemq`: the Amazon MQ broker instead of SQS queues (one run per test run,
    shared by the xdist workers)."""
    return shared(f"plan-{stack}-activemq", functools.partial(with_data, stack, messaging="activemq"))


@pytest.fixture(scope="module")
def catalog() -> Plan:
    """The dev stack, switched to Service Catalog mode with the ActiveMQ broker (so all three products launch)."""
    return with_data("dev", mode="serviceCatalog", serviceCatalogProducts=CATALOG_IDS, messaging="activemq")


# --- pure builders -----------------------------------------------------------------------------------------------

def test_postgres_parameters_force_tls_and_log_connections() -> None:
    params = {p["name"]: p["value"] for p in postgres.parameters()}
    assert params["rds.force_ssl"] == "1"
    assert params["ssl_min_protocol_version"] == "TLSv1.2"
    assert params["password_encryption"] == "scram-sha-256"
    assert params["log_connections"] == params["log_disconnections"] == "1"
    assert params["log_statement"] == "ddl"  # never "all": statement values would land in the logs


def test_managed_secret_arn_requires_the_rds_secret() -> None:
    secret = aws.rds.outputs.InstanceMasterUserSecret(secret_arn="arn:aws:secretsmanager:x", secret_status="active")
    assert postgres.managed_secret_arn([secret]) == "arn:aws:secretsmanager:x"
    with pytest.raises(ValueError, match="no master user secret"):
        postgres.managed_secret_arn([])


@pytest.mark.parametrize(("multi_az", "mode", "subnets"), [
    (False, "SINGLE_INSTANCE", 1), (True, "ACTIVE_STANDBY_MULTI_AZ", 2)])
def test_broker_deployment_mode_and_subnets(multi_az: bool, mode: str, subnets: int) -> None:
    assert message_broker.deployment_mode(multi_az) == mode
    assert message_broker.subnet_count(message_broker.deployment_mode(multi_az)) == subnets


def test_openwire_url_single_failover_and_missing() -> None:
    one = [["ssl://b-1.mq:61617", "amqp+ssl://b-1.mq:5671"]]
    pair = [*one, ["ssl://b-2.mq:61617", "amqp+ssl://b-2.mq:5671"]]
    assert message_broker.openwire_url(one) == "ssl://b-1.mq:61617"
    assert message_broker.openwire_url(pair) == "failover:(ssl://b-1.mq:61617,ssl://b-2.mq:61617)"
    with pytest.raises(ValueError, match="no OpenWire"):
        message_broker.openwire_url([["amqp+ssl://b-1.mq:5671"]])


def test_generated_passwords_obey_each_service() -> None:
    mq = message_broker.PASSWORD_RULES
    assert 12 <= mq.length <= 250 and not set(",:=") & set(mq.special)
    assert 16 <= cache_users.INITIAL_PASSWORD_LENGTH <= 128


def test_broker_log_policy_is_scoped_to_this_account() -> None:
    ctx = AwsContext("123456789012", "aws", "us-east-1", "arn:aws:iam::123456789012:role/deployer")
    (statement,) = message_broker.log_delivery_policy(ctx)["Statement"]
    assert statement["Principal"] == {"Service": "mq.amazonaws.com"}
    assert statement["Resource"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/amazonmq/*"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


def test_cache_logs_both_types_as_json() -> None:
    delivery = cache.log_delivery("/aws/elasticache/x")
    assert {d["log_type"] for d in delivery} == {"slow-log", "engine-log"}
    assert all(d["destination_type"] == "cloudwatch-logs" and d["log_format"] == "json" for d in delivery)


@pytest.mark.parametrize(("service", "extra"), [
    ("postgres", {"AllocatedStorageGb", "MaxAllocatedStorageGb", "BackupRetentionDays"}),
    ("broker", set()),
    ("cache", {"NodeCount", "SnapshotRetentionDays", "UserGroupId"}),
])
def test_catalog_parameters_follow_the_contract(service: Service, extra: set[str]) -> None:
    params = catalog_parameters(service, config_of("prod"), "subnet-a,subnet-b", "sg-1", "arn:aws:kms:key",
                                "mtls-platform-prod-cache")
    values = {p["key"]: p["value"] for p in params}
    common = {"SubnetIds", "SecurityGroupIds", "KmsKeyArn", "MultiAZ", "InstanceClass", "EngineVersion",
              "DeletionProtection"}
    assert set(values) == common | extra
    assert [p["key"] for p in params] == sorted(values)
    assert values["MultiAZ"] == "true" and values["DeletionProtection"] == "true"
    assert values["SubnetIds"] == "subnet-a,subnet-b" and values["SecurityGroupIds"] == "sg-1"
    assert values.get("UserGroupId", "mtls-platform-prod-cache") == "mtls-platform-prod-cache"
    assert all(isinstance(v, str) for v in values.values())  # CloudFormation parameters are strings


def test_catalog_output_names_the_product_that_breaks_the_contract() -> None:
    out = aws.servicecatalog.outputs.ProvisionedProductOutput
    outputs = [out(key="Endpoint", value="db:5432")]
    assert catalog_output(outputs, "Endpoint", "rds") == "db:5432"
    with pytest.raises(ValueError, match="'rds' publishes no 'SecretArn'"):
        catalog_output(outputs, "SecretArn", "rds")


# --- direct mode, per stack --------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_postgres_private_encrypted_and_without_password(stack: str) -> None:
    plan = plan_of(stack)
    db = only(plan, INSTANCE).inputs
    data_key = key_arn(plan, "data")
    assert db["engine"] == "postgres" and db["storageType"] == "gp3"
    assert db["storageEncrypted"] is True and db["kmsKeyId"] == data_key
    assert db["manageMasterUserPassword"] is True and db["masterUserSecretKmsKeyId"] == data_key
    assert not {"password", "passwordWo"} & set(db)
    assert db["publiclyAccessible"] is False
    assert db["multiAz"] is (stack in HA)  # CKV_AWS_157
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["performanceInsightsEnabled"] is True and db["performanceInsightsKmsKeyId"] == data_key
    assert db["monitoringInterval"] == 60 and db["monitoringRoleArn"]
    assert db["autoMinorVersionUpgrade"] is True and db["copyTagsToSnapshot"] is True
    assert db["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert db["backupRetentionPeriod"] >= 1
    subnet_group = only(plan, "aws:rds/subnetGroup:SubnetGroup").inputs
    assert sorted(subnet_group["subnetIds"]) == isolated_subnet_ids(plan)
    params = {p["name"]: p["value"] for p in only(plan, "aws:rds/parameterGroup:ParameterGroup").inputs["parameters"]}
    assert params["rds.force_ssl"] == "1"


@pytest.mark.parametrize("stack", STACKS)
def test_postgres_log_groups_exist_first_and_are_encrypted(stack: str) -> None:
    plan = plan_of(stack)
    db = only(plan, INSTANCE)
    groups = {g.inputs["name"]: g for g in ours(plan, LOG_GROUP) if g.inputs["name"].startswith("/aws/rds/")}
    assert set(groups) == {f"/aws/rds/instance/{db.inputs['identifier']}/{log}" for log in ("postgresql", "upgrade")}
    for group in groups.values():
        assert group.inputs["kmsKeyId"] == key_arn(plan, "logs")
        assert group.urn in db.dependencies  # else RDS creates them, unencrypted and kept forever


@pytest.mark.parametrize("stack", STACKS)
def test_postgres_deletion_protection_and_final_snapshot(stack: str) -> None:
    db = only(plan_of(stack), INSTANCE)
    protected = stack in HA
    assert db.protect is protected
    assert db.inputs["deletionProtection"] is protected  # CKV_AWS_293
    assert db.inputs["skipFinalSnapshot"] is (not protected)
    assert ("finalSnapshotIdentifier" in db.inputs) is protected
    assert db.inputs["deleteAutomatedBackups"] is (not protected)


@pytest.mark.parametrize("stack", BROKER_STACKS)
def test_broker_private_encrypted_with_the_cmk(stack: str) -> None:
    plan = activemq_plan(stack)
    broker = only(plan, BROKER)
    mq = broker.inputs
    assert mq["engineType"] == "ActiveMQ"
    assert mq["encryptionOptions"] == {"useAwsOwnedKey": False, "kmsKeyId": key_arn(plan, "data")}
    assert mq["publiclyAccessible"] is False
    assert mq["logs"] == {"general": True, "audit": True}
    assert mq["autoMinorVersionUpgrade"] is True and mq["maintenanceWindowStartTime"]["timeZone"] == "UTC"
    multi = stack in HA
    assert mq["deploymentMode"] == ("ACTIVE_STANDBY_MULTI_AZ" if multi else "SINGLE_INSTANCE")
    assert len(mq["subnetIds"]) == (2 if multi else 1)
    assert set(mq["subnetIds"]) <= set(isolated_subnet_ids(plan))
    assert broker.secret_inputs  # the user's password travels as a secret
    endpoint = plan.outputs["broker_endpoint"]
    assert endpoint.startswith("failover:(ssl://") if multi else endpoint.startswith("ssl://")


@pytest.mark.parametrize("stack", STACKS)
def test_cache_encrypted_authenticated_and_failover_per_environment(stack: str) -> None:
    plan = plan_of(stack)
    group = only(plan, CACHE)
    rg = group.inputs
    assert rg["engine"] == "valkey"
    assert rg["atRestEncryptionEnabled"] is True and rg["kmsKeyId"] == key_arn(plan, "data")
    assert rg["transitEncryptionEnabled"] is True and rg["transitEncryptionMode"] == "required"
    # RBAC only: the stack's user group, no AUTH token (and "DELETE" drops one an older stack still has).
    assert "authToken" not in rg and rg["authTokenUpdateStrategy"] == "DELETE"
    assert rg["userGroupIds"] == [only(plan, USER_GROUP).inputs["userGroupId"]]
    multi = stack in HA
    assert rg["automaticFailoverEnabled"] is multi and rg["multiAzEnabled"] is multi  # CKV2_AWS_50
    assert rg["numCacheClusters"] == config_of(stack).cache_nodes
    assert rg["snapshotRetentionLimit"] == config_of(stack).cache_snapshot_retention_days
    assert rg["snapshotRetentionLimit"] >= 1  # CKV_AWS_134
    assert rg["autoMinorVersionUpgrade"] is True
    assert ("finalSnapshotIdentifier" in rg) is multi
    assert sorted(only(plan, "aws:elasticache/subnetGroup:SubnetGroup").inputs["subnetIds"]) == \
        isolated_subnet_ids(plan)
    logs = [g for g in ours(plan, LOG_GROUP) if g.inputs["name"].startswith("/aws/elasticache/")]
    assert len(logs) == 1 and logs[0].inputs["kmsKeyId"] == key_arn(plan, "logs")
    assert logs[0].inputs["retentionInDays"] == config_of(stack).log_retention_days
    assert {d["destination"] for d in rg["logDeliveryConfigurations"]} == {logs[0].inputs["name"]}
    assert "slow-log" in {d["logType"] for d in rg["logDeliveryConfigurations"]}


@pytest.mark.parametrize(("stack", "broker"), [*((s, False) for s in STACKS), *((s, True) for s in BROKER_STACKS)])
def test_generated_credentials_live_in_cmk_encrypted_secrets(stack: str, broker: bool) -> None:
    plan = activemq_plan(stack) if broker else plan_of(stack)
    secrets = ours(plan, SECRET)
    assert len(secrets) == (1 if broker else 0)  # the broker's (ActiveMQ only); RDS manages its own
    assert all(s.inputs["kmsKeyId"] == key_arn(plan, "data") for s in secrets)
    versions = ours(plan, SECRET_VERSION)
    assert len(versions) == len(secrets) and all(v.secret_inputs for v in versions)
    assert {tuple(sorted(json.loads(v.inputs["secretString"]))) for v in versions} == (
        {("password", "username")} if broker else set())
    for service in ("postgres", "broker") if broker else ("postgres",):
        assert plan.outputs[f"{service}_secret_arn"].startswith("arn:aws:secretsmanager:")
    assert "cache_secret_arn" not in plan.outputs  # the cache's users are Vault's
    assert ("broker_secret_arn" in plan.outputs) is broker  # SQS: no password exists
    # Nothing outside a secret-carrying input holds a generated value.
    for r in descendants(plan):
        if r.type not in (PASSWORD, SECRET_VERSION, BROKER, CACHE_USER):
            assert not contains(r.inputs, "offline-plan-placeholder-secret"), r.name


@pytest.mark.parametrize("stack", STACKS)
def test_stateful_resources_protected_in_staging_and_prod(stack: str) -> None:
    stateful = [r for r in descendants(plan_of(stack)) if r.type in STATEFUL and not _cache_user_part(r)]
    # instance, cache group, 3 queues + 3 dead-letter queues (SQS messaging)
    assert len(stateful) == 8
    assert all(r.protect is (stack in HA) for r in stateful), [(r.name, r.protect) for r in stateful]
    broker = [r for r in descendants(activemq_plan("prod")) if r.type in STATEFUL and not _cache_user_part(r)]
    assert len(broker) == 5  # instance, broker, cache group, the broker's secret and generated password
    # A service's cache user (and its throw-away initial password) goes with the service: never protected, or
    # removing a service from a protected stack's catalog would be refused.
    users = [r for r in descendants(plan_of(stack)) if _cache_user_part(r)]
    assert users and not any(r.protect for r in users)
    assert all(r.protect is (stack in HA) for r in stateful), [(r.name, r.protect) for r in stateful]


@pytest.mark.parametrize(("stack", "broker"), [*((s, False) for s in STACKS), *((s, True) for s in BROKER_STACKS)])
def test_security_groups_admit_only_the_cluster(stack: str, broker: bool) -> None:
    plan = activemq_plan(stack) if broker else plan_of(stack)
    services = SERVICES if broker else ("postgres", "cache")  # SQS is reached through its API, not the VPC
    cluster_sg = cluster_security_group(plan)
    groups = {g.name.rsplit("-", 1)[-1]: g for g in ours(plan, GROUP)}
    assert set(groups) == set(services)
    expected_ports = {"postgres": {5432}, "broker": set(BROKER_PORTS.values()), "cache": {6379}}
    for service, group in groups.items():
        assert group.inputs["description"] and "ingress" not in group.inputs and "egress" not in group.inputs
        assert group.inputs["vpcId"] == plan.one("aws:ec2/vpc:Vpc").name + "-id"
        rules = [r for r in plan.children(group.urn) if r.type == INGRESS]
        assert {r.inputs["fromPort"] for r in rules} == expected_ports[service]
        for rule in rules:
            assert rule.inputs["referencedSecurityGroupId"] == cluster_sg
            assert rule.inputs["fromPort"] == rule.inputs["toPort"] and rule.inputs["ipProtocol"] == "tcp"
            assert rule.inputs["description"]  # CKV_AWS_23
            assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    assert not ours(plan, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert not any(contains(r.inputs, "0.0.0.0/0") or contains(r.inputs, "::/0") for r in descendants(plan))
    attached = {
        "postgres": only(plan, INSTANCE).inputs["vpcSecurityGroupIds"],
        "cache": only(plan, CACHE).inputs["securityGroupIds"],
    } | ({"broker": only(plan, BROKER).inputs["securityGroups"]} if broker else {})
    assert all(attached[s] == [f"{groups[s].name}-id"] for s in services)


@pytest.mark.parametrize("stack", STACKS)
def test_endpoints_exported(stack: str) -> None:
    out = plan_of(stack).outputs
    assert out["postgres_endpoint"].endswith(":5432")
    assert out["cache_endpoint"].endswith(":6379")
    assert "broker_endpoint" not in out and set(out["queue_urls"]) == {"inventory-management", "order-processing",
                                                                        "analytics"}
    assert "61617" in activemq_plan("prod").outputs["broker_endpoint"]


# --- Service Catalog mode ----------------------------------------------------------------------------------------

def test_catalog_mode_launches_three_products_and_nothing_direct(catalog: Plan) -> None:
    products = {p.inputs["productId"]: p for p in ours(catalog, PRODUCT)}
    assert set(products) == {ids["productId"] for ids in CATALOG_IDS.values()}
    for service in SERVICES:
        ids = CATALOG_IDS[CATALOG_PRODUCT[service]]
        product = products[ids["productId"]]
        assert product.inputs["provisioningArtifactId"] == ids["provisioningArtifactId"]
        params = {p["key"]: p["value"] for p in product.inputs["provisioningParameters"]}
        assert params["SecurityGroupIds"] == f"data-{service}-id"
        assert params["KmsKeyArn"] == key_arn(catalog, "data")
        assert params["MultiAZ"] == "false" and params["DeletionProtection"] == "false"  # dev
        assert set(params["SubnetIds"].split(",")) <= set(isolated_subnet_ids(catalog))
    for type_ in (INSTANCE, BROKER, CACHE, SECRET, "aws:rds/parameterGroup:ParameterGroup"):
        assert not ours(catalog, type_), type_
    assert all(_cache_user_part(p) for p in ours(catalog, PASSWORD))  # only the cache users' initial ones
    assert len(ours(catalog, GROUP)) == 3  # the security groups stay ours
    # The cache users and their group stay ours too: the cache product is handed the group instead of a token.
    cache_params = {p["key"]: p["value"] for p in products[CATALOG_IDS["cache"]["productId"]].inputs[
        "provisioningParameters"]}
    assert cache_params["UserGroupId"] == only(catalog, USER_GROUP).inputs["userGroupId"]
    assert "cache_secret_arn" not in catalog.outputs


def test_catalog_mode_reads_endpoint_and_secret_from_product_outputs(catalog: Plan) -> None:
    assert catalog.outputs["postgres_endpoint"] == "data-postgres.catalog.internal"
    assert catalog.outputs["broker_secret_arn"].endswith(":secret:data-broker-credentials")


def _cache_user_part(r: Registration) -> bool:
    return r.type in (CACHE_USER, USER_GROUP) or (r.type == PASSWORD and r.name.endswith("-initial"))


@pytest.mark.parametrize("stack", STACKS)
def test_cache_users_one_per_cache_service_and_a_switched_off_default(stack: str) -> None:
    plan = plan_of(stack)
    cfg = config_of(stack)
    wanted = sorted(s.name for s in cfg.services if "cache" in s.data_services)
    users = {r.inputs["userName"]: r for r in ours(plan, CACHE_USER)}
    prefix = f"{cfg.name_prefix}-app-"
    assert sorted(u.removeprefix(prefix) for u in users if u != "default") == wanted
    default = users.pop("default")
    assert default.inputs["accessString"] == "off -@all"
    assert default.inputs["authenticationMode"] == {"type": "no-password-required"}
    for name, user in users.items():
        service = name.removeprefix(prefix)
        # Vault's static role names the user by id and clients AUTH by name: the two must be the same.
        assert user.inputs["userId"] == name and user.inputs["engine"] == "valkey"
        assert user.inputs["accessString"] == f"on ~{service}:* &{service}:* +@all -@dangerous -@admin"
        # The initial password only through the write-only field, once (version 1), as a secret.
        assert user.inputs["passwordsWoVersion"] == 1 and user.inputs["passwordsWo"] and user.secret_inputs
        assert "passwords" not in user.inputs and "authenticationMode" not in user.inputs
    group = only(plan, USER_GROUP)
    assert sorted(group.inputs["userIds"]) == sorted([default.inputs["userId"], *users])
    assert group.inputs["engine"] == "valkey"
