"""Stack configuration: profiles, overrides, and every validation rule with the error it must produce.

Each bad input must come back as one ConfigError line naming the config key path, before any resource exists.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import yaml

from config.load import TODAY_VARIABLE, run_date
from config.model import ConfigError
from config.names import RESERVED_NAMESPACES
from config.profiles import PROFILES
from config.rules import cluster as cluster_rules
from config.schema import GROUPS, SETTING_PATHS, key
from config.subnets import carve_subnets
from tests.conftest import ROOT, STACKS, build_config, minimal_settings
from tools.engine.mock_engine import PlanMocks, RecordingMonitor, load_stack_settings, run_stack

settings = minimal_settings


def problems(stack: str, config: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        build_config(stack, config)
    return [f"{p.key}: {p.rule}" for p in err.value.problems]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_is_valid_and_takes_its_profile(stack: str) -> None:
    cfg = build_config(stack, load_stack_settings(stack))
    assert cfg.environment == stack
    assert cfg.system_node_instance_types == PROFILES[stack].system_node_instance_types
    assert cfg.is_ha == (stack in ("staging", "prod"))


def test_stack_override_wins_over_profile() -> None:
    cfg = build_config("prod", settings(nodes={"systemMaxSize": 12}, data={"rdsInstanceClass": "db.m7g.large"}))
    assert cfg.system_node_max_size == 12 and cfg.rds_instance_class == "db.m7g.large"
    assert cfg.system_node_min_size == PROFILES["prod"].system_node_min_size


def test_config_is_frozen() -> None:
    cfg = build_config("prod", settings())
    with pytest.raises(AttributeError):
        cfg.vpc_cidr = "10.0.0.0/16"  # type: ignore[misc]


@pytest.mark.parametrize(("env", "groups", "expected"), [
    ("prod", {"network": {"vpcCidr": "10.0.0.0/33"}}, "network.vpcCidr: '10.0.0.0/33' is not a valid IPv4 network"),
    ("prod", {"network": {"vpcCidr": "8.8.0.0/16"}}, "network.vpcCidr: 8.8.0.0/16 must lie in an RFC 1918"),
    ("prod", {"network": {"vpcCidr": "10.0.0.0/12"}}, "network.vpcCidr: 10.0.0.0/12 must be between /16 and /20"),
    ("prod", {"network": {"azCount": 2}}, "network.azCount: prod needs 3 availability zones (got 2)"),
    ("dev", {"network": {"azCount": 1}}, "network.azCount: dev needs 2 to 3 availability zones (got 1)"),
    ("prod", {"network": {"availabilityZones": ["us-east-1a", "us-east-1a", "us-west-2b"]}},
     "network.availabilityZones: must not repeat a zone"),
    ("prod", {"network": {"availabilityZones": ["us-east-1a", "us-east-1b", "us-west-2b"]}},
     "network.availabilityZones: 'us-west-2b' is not a zone of region 'us-east-1'"),
    ("prod", {"network": {"isolatedSubnetCidrs": ["10.10.0.0/24", "10.10.232.0/21", "10.10.240.0/21"]}},
     "network.isolatedSubnetCidrs: 10.10.0.0/24 overlaps 10.10.0.0/18 (mtls-platform:network.privateSubnetCidrs)"),
    ("prod", {"network": {"publicSubnetCidrs": ["10.99.0.0/24", "10.10.200.0/21", "10.10.208.0/21"]}},
     "network.publicSubnetCidrs: 10.99.0.0/24 is outside vpcCidr 10.10.0.0/16"),
    ("prod", {"network": {"privateSubnetCidrs": ["10.10.0.0/24", "10.10.64.0/18", "10.10.128.0/18"]}},
     "network.privateSubnetCidrs: 10.10.0.0/24 is smaller than /22"),
    ("prod", {"network": {"publicSubnetCidrs": ["10.10.192.0/21"]}},
     "network.publicSubnetCidrs: needs one CIDR per availability zone (3), got 1"),
    ("prod", {"network": {"kubernetesServiceCidr": "10.10.0.0/16"}},
     "network.kubernetesServiceCidr: 10.10.0.0/16 overlaps vpcCidr 10.10.0.0/16"),
    ("prod", {"network": {"natGateways": "single"}}, "network.natGateways: prod must use perAz"),
    ("prod", {"cluster": {"kubernetesVersion": "1.24"}}, "cluster.kubernetesVersion: '1.24' is not in EKS standard"),
    ("prod", {"cluster": {"endpointPublicAccess": True, "publicAccessCidrs": ["1.2.3.0/24"]}},
     "cluster.endpointPublicAccess: prod keeps the API endpoint private"),
    ("dev", {"cluster": {"publicAccessCidrs": []}}, "cluster.publicAccessCidrs: a public endpoint needs the CIDRs"),
    ("dev", {"cluster": {"publicAccessCidrs": ["0.0.0.0/0"]}}, "cluster.publicAccessCidrs: 0.0.0.0/0 opens"),
    ("prod", {"cluster": {"logRetentionDays": 90}}, "cluster.logRetentionDays: prod keeps logs at least 365 days"),
    ("dev", {"cluster": {"logRetentionDays": 42, "publicAccessCidrs": ["1.2.3.0/24"]}},
     "cluster.logRetentionDays: 42 is not a CloudWatch retention value"),
    ("prod", {"cluster": {"adminPrincipalArns": ["arn:aws:iam::12:role/x"]}},
     "cluster.adminPrincipalArns: 'arn:aws:iam::12:role/x' is not an IAM role"),
    ("prod", {"nodes": {"systemMinSize": 6, "systemMaxSize": 4}}, "nodes.systemMinSize: min 6 is greater than max 4"),
    ("prod", {"nodes": {"systemDesiredSize": 20}}, "nodes.systemDesiredSize: desired 20 must lie between min 3"),
    ("prod", {"nodes": {"systemMinSize": 2, "systemDesiredSize": 2}},
     "nodes.systemMinSize: prod keeps at least one system node per zone (3)"),
    ("prod", {"nodes": {"systemInstanceTypes": ["large"]}}, "nodes.systemInstanceTypes: 'large' is not an EC2"),
    ("prod", {"nodes": {"spotInstanceTypes": ["t3.large"]}}, "nodes.spotInstanceTypes: spot needs at least 2"),
    ("prod", {"nodes": {"diskSizeGb": 8}}, "nodes.diskSizeGb: 8 must be between 20 and 1000 GiB"),
    ("prod", {"data": {"rdsMultiAz": False}}, "data.rdsMultiAz: prod runs data services Multi-AZ"),
    ("staging", {"data": {"cacheMultiAz": False}}, "data.cacheMultiAz: staging runs data services Multi-AZ"),
    ("prod", {"data": {"cacheNodes": 1}}, "data.cacheNodes: cacheMultiAz needs at least 2 nodes"),
    ("prod", {"data": {"mqInstanceType": "mq.t3.micro", "messaging": "activemq"}},
     "data.mqInstanceType: mq.t3.micro is single-instance only"),
    ("prod", {"data": {"mqMultiAz": False, "messaging": "activemq"}}, "data.mqMultiAz: prod runs data services"),
    ("prod", {"nodes": {"spotEnabled": False}}, "nodes.spotForAllServices: needs nodes.spotEnabled"),
    ("staging", {"nodes": {"systemCapacity": "spot", "systemInstanceTypes": ["t3a.medium", "t3.medium"]}},
     "nodes.systemCapacity: staging keeps the platform on on-demand nodes"),
    ("dev", {"nodes": {"systemInstanceTypes": ["t3a.large"]}},
     "nodes.systemInstanceTypes: a spot system pool needs at least 2 instance types"),
    ("prod", {"network": {"egress": "natInstance"}}, "network.egress: prod must use natGateway"),
    ("dev", {"data": {"mode": "serviceCatalog", "messaging": "activemq", "serviceCatalogProducts": {
        "rds": {"productId": "prod-rdsabcdef0123", "provisioningArtifactId": "pa-rdsabcdef0123"},
        "cache": {"productId": "prod-cacheabcdef01", "provisioningArtifactId": "pa-cacheabcdef01"}}}},
     "data.serviceCatalogProducts: serviceCatalog mode needs products for ['mq']"),
    ("prod", {"data": {"rdsAllocatedStorageGb": 100, "rdsMaxAllocatedStorageGb": 50}},
     "data.rdsMaxAllocatedStorageGb: must not be below"),
    ("prod", {"data": {"mode": "serviceCatalog"}}, "data.serviceCatalogProducts: serviceCatalog mode needs products"),
    ("prod", {"protection": {"protectResources": False}}, "protection.protectResources: prod protects stateful"),
    ("prod", {"mesh": {"appNamespace": "vault"}}, "mesh.appNamespace: 'vault' must be a DNS label and not a system"),
    ("prod", {"mesh": {"identityIssuerRenewBeforeHours": 2160}},
     "mesh.identityIssuerRenewBeforeHours: 2160h must be at least 1 and below identityIssuerDurationHours"),
    ("prod", {"mesh": {"identityIssuerDurationHours": 24, "identityIssuerRenewBeforeHours": 12}},
     "mesh.identityIssuerDurationHours: 24h is shorter than two 24h proxy certificate lifetimes"),
    ("prod", {"mesh": {"trustAnchorTtlHours": 1000}}, "mesh.trustAnchorTtlHours: 1000h must outlive"),
    ("prod", {"mesh": {"previousTrustAnchorPem": "-----BEGIN CERTIFICATE-----"}},
     "mesh.previousTrustAnchorPem: was removed: the trust-anchor rotation CronJob now keeps"),
    ("prod", {"mesh": {"anchorRotationThresholdDays": 30}},
     "mesh.anchorRotationThresholdDays: 30 days must be more than `linkerd check`'s 60 days"),
    ("prod", {"mesh": {"anchorRotationThresholdDays": 3650}}, "mesh.anchorRotationThresholdDays: 3650 days must be"),
    ("prod", {"mesh": {"trustAnchorTtlHours": 8760}}, "mesh.anchorRotationThresholdDays: 365 days must be"),
    ("prod", {"mesh": {"anchorRotationSchedule": "every 15 minutes"}},
     "mesh.anchorRotationSchedule: 'every 15 minutes' must be a 5-field cron"),
    ("prod", {"mesh": {"anchorRotationStuckHours": 0}}, "mesh.anchorRotationStuckHours: 0h must be between 1 and"),
    ("prod", {"mesh": {"defaultInboundPolicy": "all-unauthenticated"}}, "mesh.defaultInboundPolicy: must be"),
])
def test_each_rule_names_its_key(env: str, groups: dict[str, Any], expected: str) -> None:
    found = problems(env, settings(env, **groups))
    assert any(p.startswith(f"mtls-platform:{expected}") for p in found), found


@pytest.mark.parametrize("namespace", sorted(RESERVED_NAMESPACES))
def test_the_app_namespace_is_none_the_platform_creates(namespace: str) -> None:
    """linkerd-viz (monitoring on) was accepted and registered a second `Namespace linkerd-viz`: every namespace of
    config.names is reserved, whether or not this stack turns its feature on."""
    found = problems("prod", settings(mesh={"appNamespace": namespace}))
    assert found == [f"mtls-platform:mesh.appNamespace: {namespace!r} must be a DNS label and not a system namespace"]


def test_the_reserved_namespaces_cover_every_namespace_a_plan_creates() -> None:
    created = {r.inputs["metadata"]["name"] for r in run_stack("prod", config=settings(
        gitops={"argocd": True, "repoUrl": "https://git.example.com/shop.git", "path": "deploy"}),
    ).of_type("kubernetes:core/v1:Namespace")}
    assert created - {"prod-app"} <= RESERVED_NAMESPACES
    assert {"linkerd-viz", "argocd"} <= created


@pytest.mark.parametrize(("config", "expected"), [
    ({"mtls-platform:environment": "qa"}, "mtls-platform:environment: must be 'sandbox', 'dev', 'staging' or 'prod'"),
    ({}, "mtls-platform:environment: is required"),
    ({"mtls-platform:environment": "prod", "mtls-platform:nodez": "{}"}, "mtls-platform:nodez: unknown config key"),
    ({"mtls-platform:environment": "prod", "mtls-platform:nodes": '{"systemMax": 3}'},
     "mtls-platform:nodes.systemMax: unknown setting"),
    ({"mtls-platform:environment": "prod", "mtls-platform:nodes": '{"systemMaxSize": "many"}'},
     "mtls-platform:nodes.systemMaxSize: must be a valid integer"),
    ({"mtls-platform:environment": "prod", "mtls-platform:budget": "-5"},
     "mtls-platform:budget: must be greater than 0"),
    ({"mtls-platform:environment": "prod", "mtls-platform:data": "not json"},
     "mtls-platform:data: must be a valid dictionary"),
])
def test_type_and_shape_errors(config: dict[str, str], expected: str) -> None:
    found = problems("prod", {"aws:region": "us-east-1", **config})
    assert any(p.startswith(expected) for p in found), found


def test_missing_region_is_reported() -> None:
    assert any(p.startswith("aws:region:") for p in problems("prod", {"mtls-platform:environment": "prod"}))


def test_all_problems_are_reported_together() -> None:
    found = problems("prod", settings(network={"vpcCidr": "nope", "natGateways": "single"},
                                      nodes={"systemMinSize": 9, "systemMaxSize": 3}, data={"rdsMultiAz": "x"}))
    keys = {p.split(":")[1] for p in found}
    assert {"network.vpcCidr", "network.natGateways", "nodes.systemMinSize", "data.rdsMultiAz"} <= keys


def test_a_broken_key_does_not_cascade_into_rules_about_it() -> None:
    found = problems("prod", settings(nodes={"systemMinSize": "three"}))
    assert found == ["mtls-platform:nodes.systemMinSize: must be a valid integer"]


def test_version_leaving_standard_support_is_an_error() -> None:
    cfg = build_config("prod", settings(cluster={"kubernetesVersion": "1.34"}))
    assert list(cluster_rules.kubernetes_version(cfg, today=date(2026, 11, 1))) == []
    (late,) = cluster_rules.kubernetes_version(cfg, today=date(2026, 12, 3))
    assert late.rule.startswith("1.34 left EKS standard support on 2026-12-02")


def test_bad_config_registers_no_resource() -> None:
    monitor = RecordingMonitor(PlanMocks("us-east-1"))
    with pytest.raises(ConfigError, match=r"network\.natGateways"):
        run_stack("prod", config=settings(network={"natGateways": "single"}), monitor=monitor)
    assert monitor.registrations == []


def test_pulumi_yaml_declares_exactly_the_keys_the_program_reads() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == {"environment", "owner", "budget", "services", *GROUPS}
    for name, decl in declared.items():
        assert decl["description"] and decl["type"] in {"string", "object", "integer"}, name
        # Pulumi demands a value in every stack file for a declared key without a default: only `environment`.
        assert ("default" in decl) == (name != "environment"), name
    for path in SETTING_PATHS:  # every setting is documented in its group's description
        group, alias = path.split(".", 1)
        assert alias in " ".join(declared[group]["description"].split()), path


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_hold_only_what_differs(stack: str) -> None:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    profile = PROFILES[stack]
    for group in GROUPS:
        for alias, value in (config.get(f"mtls-platform:{group}") or {}).items():
            field = next(n for n, f in GROUPS[group].model_fields.items() if f.alias == alias)
            if hasattr(profile, field):
                current = getattr(profile, field)
                assert (tuple(value) if isinstance(value, list) else value) != current, f"{group}.{alias}"


@pytest.mark.parametrize(("cidr", "azs", "private", "public", "isolated"), [
    ("10.10.0.0/16", 3, "10.10.0.0/18", "10.10.192.0/21", "10.10.224.0/21"),
    ("10.10.0.0/20", 3, "10.10.0.0/22", "10.10.12.0/25", "10.10.14.0/25"),
    ("10.10.0.0/16", 2, "10.10.0.0/18", "10.10.192.0/21", "10.10.224.0/21"),
])
def test_subnet_carving(cidr: str, azs: int, private: str, public: str, isolated: str) -> None:
    tiers = carve_subnets(cidr, azs)
    assert [len(v) for v in tiers.values()] == [azs] * 3
    assert (tiers["private"][0], tiers["public"][0], tiers["isolated"][0]) == (private, public, isolated)


def test_subnet_carving_rejects_nonsense_quietly() -> None:
    assert carve_subnets("bogus", 3) == {"public": (), "private": (), "isolated": ()}
    assert carve_subnets("10.0.0.0/16", 4)["private"] == ()


def test_key_takes_the_literal_dotted_path_and_refuses_any_other() -> None:
    assert key("manifests.mode") == "mtls-platform:manifests.mode"
    assert key("backup.schedule") == "mtls-platform:backup.schedule"
    assert key("services") == "mtls-platform:services"
    assert key("aws:region") == "aws:region"
    for wrong in ("schedule", "mode", "network.vpcCIDR", "nodes.systemMax", "vpcCidr", "aws:profile"):
        with pytest.raises(ValueError, match=rf"'{re.escape(wrong)}' is not a config key of mtls-platform"):
            key(wrong)


# `key("...")` / `key('...')` as the rule modules (and the few components that name a key) write it.
_KEY_CALL = re.compile(r"""\bkey\((["'])([^"']*)\1\)""")


def test_every_key_a_module_names_exists_in_the_schema() -> None:
    """A typo'd path raises when its rule runs; this finds it before, in every module, whichever rules run."""
    used = {m[1]: path for path in sorted([*(ROOT / "config").rglob("*.py"), *(ROOT / "components").rglob("*.py")])
            for m in _KEY_CALL.findall(path.read_text())}
    groups = {p.stem for p in (ROOT / "config" / "rules").glob("*.py")} - {"__init__", "common"}
    assert groups <= {p.stem for p in used.values() if p.parent.name == "rules"}  # the pattern sees every group
    for name, path in used.items():
        key(name)  # raises for a path the schema does not have
        assert "{" not in name, f"{path.relative_to(ROOT)}: {name!r} must be a literal path"


def test_the_run_date_comes_from_the_variable_and_a_bad_one_is_a_named_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_VARIABLE, "2027-08-03")
    assert run_date("prod") == date(2027, 8, 3)
    monkeypatch.setenv(TODAY_VARIABLE, "tomorrow")
    with pytest.raises(ConfigError, match=r"stack 'dev'.*\n  - MTLS_PLATFORM_TODAY: 'tomorrow' is not an ISO date"):
        run_date("dev")


def test_a_plan_after_the_pinned_version_leaves_support_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_VARIABLE, "2027-08-03")  # the day after 1.36 leaves EKS standard support
    monitor = RecordingMonitor(PlanMocks("us-east-1"))
    with pytest.raises(ConfigError, match=r"kubernetesVersion: 1.36 left EKS standard support on 2027-08-02"):
        run_stack("prod", monitor=monitor)
    assert monitor.registrations == []


def test_messaging_choice_unknown_value_names_key_and_stack() -> None:
    with pytest.raises(ConfigError) as err:
        build_config("prod", settings("prod", data={"messaging": "rabbitmq"}))
    assert "stack 'prod'" in str(err.value)
    assert [p.key for p in err.value.problems] == ["mtls-platform:data.messaging"]


def test_sqs_needs_no_broker_settings() -> None:
    # With SQS a single-instance broker setting is irrelevant in prod: no Multi-AZ rule fires on it.
    cfg = build_config("prod", settings("prod", data={"mqMultiAz": False}))
    assert cfg.messaging == "sqs"
