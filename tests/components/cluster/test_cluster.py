"""Cluster layer per stack: EKS settings, access entries, logs, node hardening, IRSA and the Kubernetes provider."""

from __future__ import annotations

import json

import pytest

from components.cluster.cluster import CLUSTER_ADMIN_POLICY, CONTROL_PLANE_LOG_TYPES, DEVOPS_GROUP
from config.versions import KUBERNETES_VERSION
from tests.conftest import HA, STACKS, plan_of
from tools.engine.mock_engine import Plan, Registration, load_stack_settings, run_stack

EKS = "eks:index:Cluster"


def eks(plan: Plan) -> Registration:
    return plan.one(EKS)


@pytest.mark.parametrize("stack", STACKS)
def test_supported_version_on_standard_support(stack: str) -> None:
    inputs = eks(plan_of(stack)).inputs
    assert inputs["version"] == KUBERNETES_VERSION
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}  # CKV_AWS_339: no $0.60/h extended support
    assert inputs["name"] == f"mtls-platform-{stack}"


@pytest.mark.parametrize("stack", STACKS)
def test_endpoint_exposure_per_environment(stack: str) -> None:
    inputs = eks(plan_of(stack)).inputs
    assert inputs["endpointPrivateAccess"] is True  # CIS 5.4.2
    if stack in HA:
        assert inputs["endpointPublicAccess"] is False
        assert "publicAccessCidrs" not in inputs
    else:
        assert inputs["endpointPublicAccess"] is True
        assert inputs["publicAccessCidrs"] == ["203.0.113.0/24"]  # CIS 5.4.1: never 0.0.0.0/0


def test_api_authentication_with_admin_and_devops_entries(prod: Plan) -> None:
    inputs = eks(prod).inputs
    assert inputs["authenticationMode"] == "API"
    entries = inputs["accessEntries"]
    assert set(entries) == {"admin", "devops"}
    admin = entries["admin"]
    assert admin["principalArn"] == prod.one("aws:iam/role:Role", "cluster-admin").outputs["arn"]
    assert admin["accessPolicies"]["cluster-admin"] == {
        "policyArn": CLUSTER_ADMIN_POLICY, "accessScope": {"type": "cluster"}}
    devops = entries["devops"]
    assert devops["kubernetesGroups"] == [DEVOPS_GROUP] and "accessPolicies" not in devops


def test_people_roles_default_to_the_account_and_take_configured_principals(prod: Plan) -> None:
    trust = json.loads(plan_of("dev").one("aws:iam/role:Role", "cluster-admin").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root"]}  # dev: the account
    trust = json.loads(prod.one("aws:iam/role:Role", "cluster-admin").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {  # prod: the stack file's explicit list (config rule)
        "AWS": ["arn:aws:iam::123456789012:role/REPLACE-WITH-YOUR-PLATFORM-ADMIN-ROLE"]}


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_encryption_and_all_control_plane_logs(stack: str) -> None:
    plan = plan_of(stack)
    inputs = eks(plan).inputs
    assert inputs["encryptionConfigKeyArn"] == "arn:aws:kms:us-east-1:123456789012:key/keys-eks"  # CIS 5.3.1
    assert inputs["enabledClusterLogTypes"] == CONTROL_PLANE_LOG_TYPES == [
        "api", "audit", "authenticator", "controllerManager", "scheduler"]
    group = plan.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane")
    assert group.inputs["name"] == f"/aws/eks/mtls-platform-{stack}/cluster"  # the name EKS writes to
    assert group.inputs["kmsKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/keys-logs"
    assert group.urn in eks(plan).dependencies  # exists (with key and retention) before EKS would create it


def test_oidc_provider_network_policy_and_no_default_node_group(prod: Plan) -> None:
    inputs = eks(prod).inputs
    assert inputs["createOidcProvider"] is True
    assert inputs["vpcCniOptions"]["enableNetworkPolicy"] is True
    assert inputs["skipDefaultNodeGroup"] is True and inputs["nodeAssociatePublicIpAddress"] is False
    assert inputs["privateSubnetIds"] == [f"network-private-us-east-1{z}-id" for z in "abc"]
    assert "publicSubnetIds" not in inputs


@pytest.mark.parametrize(("stack", "pools"), [
    ("sandbox", {"system": (2, 2, 4, "t3a.medium")}),
    ("dev", {"system": (2, 2, 4, "t3a.large")}),
    ("staging", {"system": (3, 3, 6, "t3a.medium"), "spot": (0, 2, 4, "t3a.large")}),
    ("prod", {"system": (3, 3, 9, "t3a.large"), "spot": (0, 3, 6, "t3a.large")}),
])
def test_node_pools_per_environment(stack: str, pools: dict[str, tuple[int, int, int, str]]) -> None:
    plan = plan_of(stack)
    node_groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
    groups = {g.name.removeprefix("cluster-").removesuffix("-ng"): g for g in node_groups}
    assert set(groups) == set(pools)
    for pool, (lo, want, hi, first_type) in pools.items():
        g = groups[pool].inputs
        assert (g["scalingConfig"]["minSize"], g["scalingConfig"]["desiredSize"], g["scalingConfig"]["maxSize"]) == (
            lo, want, hi)
        assert g["instanceTypes"][0] == first_type
        # nodes.systemCapacity: spot in the sandbox/dev profiles (nothing there promises availability)
        system_spot = stack in ("sandbox", "dev")
        assert g["capacityType"] == ("SPOT" if pool == "spot" or system_spot else "ON_DEMAND")
        assert g["subnetIds"] == [f"network-private-us-east-1{z}-id" for z in "abc"]
        assert "remoteAccess" not in g  # CKV_AWS_100: no SSH key
        assert g["tags"][f"k8s.io/cluster-autoscaler/mtls-platform-{stack}"] == "owned"
    if "spot" in groups:
        assert groups["spot"].inputs["taints"] == [{"key": "capacity", "value": "spot", "effect": "NO_SCHEDULE"}]
        assert len(set(groups["spot"].inputs["instanceTypes"])) >= 2
    # The system pool is never tainted, not even when bought as spot: the platform must schedule on it.
    assert "taints" not in groups["system"].inputs or groups["system"].inputs["taints"] == []
    if groups["system"].inputs["capacityType"] == "SPOT":
        assert len(set(groups["system"].inputs["instanceTypes"])) >= 2


@pytest.mark.parametrize("stack", STACKS)
def test_launch_templates_require_imdsv2_with_hop_limit_one(stack: str) -> None:
    for lt in plan_of(stack).of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        meta = lt.inputs["metadataOptions"]
        assert (meta["httpTokens"], meta["httpPutResponseHopLimit"]) == ("required", 1)  # CKV_AWS_79/341
        ebs = lt.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["volumeType"] == "gp3"
        assert "keyName" not in lt.inputs and "networkInterfaces" not in lt.inputs


def test_node_role_uses_ssm_not_ssh(prod: Plan) -> None:
    attached = {a.inputs["policyArn"].rsplit("/", 1)[-1] for a in prod.of_type(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment") if a.name.startswith("cluster-node-")}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly",
                        "AmazonSSMManagedInstanceCore"}


def irsa_condition(role: Registration) -> dict[str, str]:
    statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert len(statement) == 1 and statement[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    return dict(statement[0]["Condition"]["StringEquals"])


@pytest.mark.parametrize(("role", "subject"), [
    ("cluster-autoscaler", "system:serviceaccount:kube-system:cluster-autoscaler"),
    ("cluster-ebs-csi", "system:serviceaccount:kube-system:ebs-csi-controller-sa"),
])
def test_irsa_roles_trust_one_service_account(prod: Plan, role: str, subject: str) -> None:
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
    assert irsa_condition(prod.one("aws:iam/role:Role", role)) == {
        f"{issuer}:sub": subject, f"{issuer}:aud": "sts.amazonaws.com"}


def test_autoscaler_may_resize_only_this_clusters_groups(prod: Plan) -> None:
    policy = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "cluster-autoscaler").inputs["policy"])
    resize = next(s for s in policy["Statement"] if s.get("Sid") == "ResizeOwnGroupsOnly")
    assert resize["Condition"] == {"StringEquals": {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/mtls-platform-prod": "owned"}}


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_protection_follows_environment(stack: str) -> None:
    cluster = eks(plan_of(stack))
    assert cluster.protect is (stack in HA)
    assert cluster.inputs["deletionProtection"] is (stack in HA)


def test_one_kubernetes_provider_from_the_cluster_kubeconfig(prod: Plan) -> None:
    (provider,) = prod.of_type("pulumi:providers:kubernetes")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["name"] == "mtls-platform-prod"
    assert provider.inputs["enableServerSideApply"] == "true"


def test_ebs_csi_driver_runs_with_its_own_role(prod: Plan) -> None:
    addon = prod.one("aws:eks/addon:Addon", "cluster-ebs-csi")
    assert addon.inputs["addonName"] == "aws-ebs-csi-driver"
    assert addon.inputs["serviceAccountRoleArn"] == prod.one("aws:iam/role:Role", "cluster-ebs-csi").outputs["arn"]
    assert addon.inputs["clusterName"] == "mtls-platform-prod"


def test_nodes_system_max_size_reaches_the_system_node_group() -> None:
    """The whole path of one key: stack file -> schema -> merge over the profile -> rule -> StackConfig.system_pool
    -> Cluster -> NodePool -> the NodeGroup's scalingConfig (and nothing on the way pins the profile's 9)."""
    settings = {**load_stack_settings("prod"), "mtls-platform:nodes": json.dumps({"systemMaxSize": 12})}
    groups = {g.name: g.inputs for g in run_stack("prod", config=settings).of_type("aws:eks/nodeGroup:NodeGroup")}
    assert groups["cluster-system-ng"]["scalingConfig"]["maxSize"] == 12
    assert groups["cluster-spot-ng"]["scalingConfig"]["maxSize"] == 6  # the spot pool keeps its own


@pytest.mark.parametrize("stack", STACKS)
def test_node_groups_wait_for_their_subnets_route_to_the_nat_gateway(stack: str) -> None:
    plan = plan_of(stack)
    egress = {r.urn for r in plan.resources
              if (r.type == "aws:ec2/routeTable:RouteTable" and r.name.startswith("network-private-"))
              or (r.type == "aws:ec2/routeTableAssociation:RouteTableAssociation" and "-private-" in r.name)
              or r.type == "aws:ec2/natGateway:NatGateway"
              or (r.type == "aws:ec2/instance:Instance" and r.name.startswith("network-nat"))}
    # 3 tables + 3 associations + the NAT gateways (one per zone in prod) or the NAT instance (network.egress)
    assert len(egress) == 6 + (3 if stack == "prod" else 1)
    for group in plan.of_type("aws:eks/nodeGroup:NodeGroup"):
        assert egress <= set(group.dependencies), group.name
