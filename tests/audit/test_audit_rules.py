"""Audit rules: each rule passes a good fixture and fires on a bad one (the way checkov tests its checks), both front
ends adapt their records to the same view, and the real stacks have no mandatory failure.

Fixtures are small: camelCase inputs as the engine sees them, URNs and dependencies only where a stack rule links
resources. `CASES` must name every rule, so a new rule without a passing and a failing case fails the suite.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi_policy import (
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResourceOptions,
    _NotApplicableError,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from audit import RULES, Context, Enforcement, Resource, Stack, Status, evaluate_rule, judge
from audit import kinds as k
from audit.model import UNKNOWN, environment_from
from audit.policy_pack import build_policies, from_args, from_policy_resource, pack_environment, plain
from tests.conftest import ROOT, STACKS, TODAY, plan_of
from tools.audit_report import audit_report as offline
from tools.engine.mock_engine import Plan

# Optional data outside the repository (the audit checklist the rules were written from); its test skips without it.
AUDIT_LIST = ROOT.parent / "shared" / "reference" / "audit-rules.md"
KEY = "arn:aws:kms:us-east-1:123456789012:key/k1"
RULE = {r.id: r for r in RULES}


def res(type_: str, name: str = "r", inputs: dict[str, Any] | None = None, *, protect: bool = False,
        retain: bool | None = False, deps: Sequence[Resource] = (), ids: Sequence[str] = ()) -> Resource:
    return Resource(type_, name, inputs or {}, protect, retain, urn=f"urn:pulumi:test::p::{type_}::{name}",
                    dependencies=tuple(d.urn for d in deps), identifiers=frozenset(ids or [f"{name}-id"]))


def with_inputs(r: Resource, **changes: Any) -> Resource:
    return replace(r, inputs={**r.inputs, **changes})


def run(rule_id: str, resources: Sequence[Resource], env: str = "prod") -> list[Status]:
    return [f.status for f in evaluate_rule(RULE[rule_id], Stack(resources, Context(env, TODAY)))]


@dataclass(frozen=True)
class Case:
    good: Sequence[Resource]
    bad: Sequence[Sequence[Resource]]


def case(good: Sequence[Resource] | Resource, *bad: Sequence[Resource] | Resource) -> Case:
    def listed(x: Sequence[Resource] | Resource) -> Sequence[Resource]:
        return [x] if isinstance(x, Resource) else x
    return Case(listed(good), [listed(b) for b in bad])


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- shared fixtures ---------------------------------------------------------------------------------------------
VPC = res(k.VPC, "vpc")
SG = res(k.SECURITY_GROUP, "sg", {"description": "postgres from the cluster only", "vpcId": "vpc-id"})
WORLD_SG = with_inputs(SG, ingress=[{"description": "all", "cidrBlocks": ["0.0.0.0/0"], "fromPort": 22}])
PRIVATE = [res(k.SUBNET, f"private-{z}", {"availabilityZone": f"us-east-1{z}", "mapPublicIpOnLaunch": False,
                                          "tags": {"tier": "private"}}) for z in "abc"]
PUBLIC = res(k.SUBNET, "public-a", {"availabilityZone": "us-east-1a", "mapPublicIpOnLaunch": False,
                                    "tags": {"tier": "public"}})
UNTAGGED = res(k.SUBNET, "edge-a", {"availabilityZone": "us-east-1a"})
IGW_TABLE = res(k.ROUTE_TABLE, "edge", {"routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]})
EDGE_ASSOC = res(k.ROUTE_TABLE_ASSOCIATION, "edge-a", {"routeTableId": "edge-id", "subnetId": "edge-a-id"},
                 deps=[IGW_TABLE, UNTAGGED])
NODES = res(k.NODE_GROUP, "ng", {"subnetIds": [s.name + "-id" for s in PRIVATE]}, deps=PRIVATE)
EKS = res(k.EKS_COMPONENT, "eks", {
    "name": "demo", "version": "1.36", "endpointPrivateAccess": True, "endpointPublicAccess": False,
    "encryptionConfigKeyArn": KEY, "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager",
                                                              "scheduler"],
    "upgradePolicy": {"supportType": "STANDARD"}, "authenticationMode": "API", "deletionProtection": True,
    "accessEntries": {"admin": {"principalArn": "arn:aws:iam::123456789012:role/admin"}},
    "vpcCniOptions": {"enableNetworkPolicy": True}, "skipDefaultNodeGroup": True,
})
PUBLIC_EKS = with_inputs(EKS, endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"])
EKS_CHILD = res(k.EKS_CLUSTER, "eks-child", {
    "name": "demo", "version": "1.36",
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
    "encryptionConfig": {"provider": {"keyArn": KEY}, "resources": ["secrets"]},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "upgradePolicy": {"supportType": "STANDARD"}, "deletionProtection": True,
    "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
})
LOG_GROUP = res(k.LOG_GROUP, "cp", {"name": "/aws/eks/demo/cluster", "kmsKeyId": KEY, "retentionInDays": 365})
SNS_TOPIC = res(k.SNS_TOPIC, "alarms", {"kmsMasterKeyId": KEY})
LAUNCH_TEMPLATE = res(k.LAUNCH_TEMPLATE, "lt", {"metadataOptions": {"httpTokens": "required",
                                                                    "httpPutResponseHopLimit": 1}})
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"


def irsa(conditions: dict[str, Any]) -> Resource:
    return res(k.IAM_ROLE, "irsa", {"assumeRolePolicy": policy({
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"},
        "Condition": {"StringEquals": conditions}})})


IRSA_OK = irsa({f"{ISSUER}:sub": "system:serviceaccount:vault:vault", f"{ISSUER}:aud": "sts.amazonaws.com"})
RDS = res(k.RDS_INSTANCE, "db", {
    "engine": "postgres", "storageEncrypted": True, "kmsKeyId": KEY, "publiclyAccessible": False,
    "deletionProtection": True, "multiAz": True, "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
    "iamDatabaseAuthenticationEnabled": True, "monitoringInterval": 60, "monitoringRoleArn": "arn:role",
    "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY, "autoMinorVersionUpgrade": True,
    "caCertIdentifier": "rds-ca-rsa2048-g1", "copyTagsToSnapshot": True, "backupRetentionPeriod": 14,
    "skipFinalSnapshot": False,
})
PARAMS = res(k.RDS_PARAMETER_GROUP, "pg", {"family": "postgres17", "parameters": [{"name": "rds.force_ssl",
                                                                                   "value": "1"}]})
CACHE = res(k.CACHE_GROUP, "cache", {
    "atRestEncryptionEnabled": True, "kmsKeyId": KEY, "transitEncryptionEnabled": True,
    "transitEncryptionMode": "required", "authToken": "s3cret", "automaticFailoverEnabled": True,
    "multiAzEnabled": True, "snapshotRetentionLimit": 7,
})
BROKER = res(k.MQ_BROKER, "mq", {
    "engineType": "ActiveMQ", "publiclyAccessible": False, "logs": {"general": True, "audit": True},
    "encryptionOptions": {"kmsKeyId": KEY, "useAwsOwnedKey": False}, "autoMinorVersionUpgrade": True,
    "deploymentMode": "ACTIVE_STANDBY_MULTI_AZ",
})
KMS = res(k.KMS_KEY, "key", {"enableKeyRotation": True, "policy": policy(
    {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
     "Action": "kms:*", "Resource": "*"})}, protect=True, retain=True)
BUCKET = res("aws:s3/bucket:Bucket", "data", ids=["data-bucket"], protect=True, retain=True)
LOGS = res("aws:s3/bucket:Bucket", "logs", ids=["logs-bucket"], protect=True, retain=True)


def part(type_: str, name: str, bucket: Resource, inputs: dict[str, Any], *extra: Resource) -> Resource:
    return res(type_, name, {"bucket": next(iter(bucket.identifiers)), **inputs}, deps=[bucket, *extra])


TLS_POLICY = policy({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
SSE_KMS = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY},
                      "bucketKeyEnabled": True}]}
SSE_S3 = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}
LIFECYCLE = {"rules": [{"status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 30},
                        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]}
PAB = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}


def bucket_stack(**overrides: dict[str, Any] | None) -> list[Resource]:
    """A data bucket logging into a log bucket, both fully hardened; overrides replace (or drop, None) a part."""
    spec: dict[str, tuple[str, dict[str, Any]]] = {
            "pab": ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", PAB),
            "sse": ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    SSE_KMS),
            "versioning": ("aws:s3/bucketVersioning:BucketVersioning",
                           {"versioningConfiguration": {"status": "Enabled"}}),
            "lifecycle": ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", LIFECYCLE),
            "policy": ("aws:s3/bucketPolicy:BucketPolicy", {"policy": TLS_POLICY}),
            "ownership": ("aws:s3/bucketOwnershipControls:BucketOwnershipControls",
                          {"rule": {"objectOwnership": "BucketOwnerEnforced"}})}
    out = [BUCKET, LOGS]
    for kind, (type_, inputs) in spec.items():
        data_inputs = overrides.get(kind, inputs) if kind in overrides else inputs
        if data_inputs is not None:
            out.append(part(type_, f"data-{kind}", BUCKET, data_inputs))
        out.append(part(type_, f"logs-{kind}", LOGS, SSE_S3 if kind == "sse" else inputs))
    if overrides.get("logging", {}) is not None:
        out.append(part("aws:s3/bucketLogging:BucketLogging", "data-logging", BUCKET,
                        {"targetBucket": "logs-bucket"}, LOGS))
    return out


def release(chart: str, values: dict[str, Any], namespace: str = "") -> Resource:
    return res("kubernetes:helm.sh/v3:Release", chart, {"chart": chart, "namespace": namespace or chart,
                                                        "values": values})


VAULT_CONFIG = """
ui = true
listener "tcp" {
  address = "[::]:8200"
  tls_cert_file = "/vault/tls/tls.crt"
  tls_key_file = "/vault/tls/tls.key"
}
storage "raft" {
  path = "/vault/data"
}
seal "awskms" {
  region     = "us-east-1"
  kms_key_id = "key-1"
}
"""
VAULT_VALUES: dict[str, Any] = {
    "global": {"tlsDisable": False},
    "server": {
        "ha": {"enabled": True, "replicas": 3, "raft": {"enabled": True, "config": VAULT_CONFIG}},
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/vault"}},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone"}],
        "auditStorage": {"enabled": True},
    },
}
VAULT = release("vault", VAULT_VALUES)


def vault_with(**server: Any) -> Resource:
    return release("vault", {**VAULT_VALUES, "server": {**VAULT_VALUES["server"], **server}})


def netpol(name: str, namespace: str, spec: dict[str, Any]) -> Resource:
    return res(k.NETWORK_POLICY, name, {"metadata": {"namespace": namespace}, "spec": spec})


DEFAULT_DENY = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
VAULT_ALLOW = netpol("vault-allow", "vault", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [
    {"ports": [{"port": 8200}, {"port": 8201}]}]})
CERT_MANAGER = release("cert-manager", {
    "replicaCount": 2, "podDisruptionBudget": {"enabled": True},
    "webhook": {"replicaCount": 3, "podDisruptionBudget": {"enabled": True}},
    "cainjector": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
})
LINKERD_VALUES: dict[str, Any] = {
    "controllerReplicas": 3, "enablePodDisruptionBudget": True, "enablePodAntiAffinity": True,
    "webhookFailurePolicy": "Fail",
    "proxy": {"defaultInboundPolicy": "all-authenticated",
              "resources": {"cpu": {"request": "100m"}, "memory": {"request": "20Mi", "limit": "250Mi"}}},
    "identity": {"externalCA": True, "issuer": {"scheme": "kubernetes.io/tls"}},
}
LINKERD = release("linkerd-control-plane", LINKERD_VALUES, "linkerd")
CERT = res(k.CERTIFICATE, "issuer", {"metadata": {"namespace": "linkerd"}, "spec": {
    "secretName": "linkerd-identity-issuer", "isCA": True, "duration": "2160h0m0s", "renewBefore": "1464h",
    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"}}})


def cert_with(**spec: Any) -> Resource:
    return with_inputs(CERT, spec={**CERT.inputs["spec"], **spec})


VAULT_ISSUER = res("kubernetes:cert-manager.io/v1:ClusterIssuer", "vault", {"spec": {"vault": {
    "server": "https://vault.vault.svc:8200", "path": "pki/sign/linkerd", "caBundle": "LS0t",
    "auth": {"kubernetes": {"role": "cert-manager", "mountPath": "/v1/auth/kubernetes",
                            "serviceAccountRef": {"name": "cert-manager-vault"}}}}}})


def issuer_with(**vault: Any) -> Resource:
    return with_inputs(VAULT_ISSUER, spec={"vault": {**VAULT_ISSUER.inputs["spec"]["vault"], **vault}})


def namespace(name: str, level: str | None = "restricted", annotations: dict[str, str] | None = None) -> Resource:
    labels = {"pod-security.kubernetes.io/enforce": level} if level else {}
    return res(k.NAMESPACE, name, {"metadata": {"name": name, "labels": labels, "annotations": annotations or {}}})


HARDENED: dict[str, Any] = {"name": "app", "image": "ghcr.io/shop/cart:1.4.2",
            "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            "livenessProbe": {"grpc": {"port": 8080}}, "readinessProbe": {"grpc": {"port": 8080}}}


def deployment(container: dict[str, Any] | None = None, **spec: Any) -> Resource:
    return res("kubernetes:apps/v1:Deployment", "cart", {"metadata": {"namespace": "prod-app"}, "spec": {
        "replicas": 3, "template": {"spec": {
            "containers": [container or HARDENED],
            "topologySpreadConstraints": [{"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 1}],
            **spec}}}})


def container(**changes: Any) -> dict[str, Any]:
    return {**HARDENED, **changes}


def role(*rules: dict[str, Any]) -> Resource:
    return res("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "role", {"rules": list(rules)})


def linkerd_policy(kind: str, name: str, spec: dict[str, Any]) -> Resource:
    return res(f"kubernetes:policy.linkerd.io/v1beta3:{kind}", name,
               {"metadata": {"name": name, "namespace": "prod-app"}, "spec": spec})


SERVER = linkerd_policy("Server", "cart-grpc", {"podSelector": {}, "port": "grpc"})
AUTHZ = res("kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy", "cart-authz", {
    "metadata": {"namespace": "prod-app"}, "spec": {"targetRef": {"kind": "Server", "name": "cart-grpc"}}})

CASES: dict[str, Case] = {
    # Network
    "vpc-flow-logs": case([VPC, res(k.FLOW_LOG, "fl", {"vpcId": "vpc-id", "trafficType": "ALL"}, deps=[VPC])],
                          [VPC], [VPC, res(k.FLOW_LOG, "fl", {"vpcId": "vpc-id", "trafficType": "REJECT"},
                                           deps=[VPC])]),
    "sg-no-world-ingress": case(
        [SG, res(k.INGRESS_RULE, "in", {"referencedSecurityGroupId": "sg-1", "description": "x"})], WORLD_SG,
        res(k.INGRESS_RULE, "in", {"cidrIpv6": "::/0", "description": "x"}),
        res(k.SECURITY_GROUP_RULE, "in", {"type": "ingress", "cidrBlocks": ["0.0.0.0/0"]})),
    "sg-descriptions": case(SG, with_inputs(SG, description="Managed by Pulumi"),
                            with_inputs(SG, ingress=[{"cidrBlocks": ["10.0.0.0/8"]}]),
                            res(k.INGRESS_RULE, "in", {"cidrIpv4": "10.0.0.0/8"})),
    "default-sg-closed": case([VPC, res(k.DEFAULT_SECURITY_GROUP, "default", {"vpcId": "vpc-id"}, deps=[VPC])],
                              [VPC], [VPC, res(k.DEFAULT_SECURITY_GROUP, "default", {
                                  "vpcId": "vpc-id", "ingress": [{"self": True, "protocol": "-1"}]}, deps=[VPC])]),
    "subnet-no-public-ip": case(PRIVATE[0], with_inputs(PRIVATE[0], mapPublicIpOnLaunch=True)),
    "workload-subnets-private": case(
        [*PRIVATE, NODES],
        [UNTAGGED, IGW_TABLE, EDGE_ASSOC, res(k.RDS_SUBNET_GROUP, "db", {"subnetIds": ["edge-a-id"]},
                                              deps=[UNTAGGED])],
        [PUBLIC, res(k.MQ_BROKER, "mq", {"subnetIds": ["public-a-id"]}, deps=[PUBLIC])]),
    "nodegroup-multi-az": case([*PRIVATE, NODES], [PRIVATE[0], res(k.NODE_GROUP, "ng", {
        "subnetIds": ["private-a-id"]}, deps=[PRIVATE[0]])]),
    # EKS
    "eks-private-endpoint": case(EKS, with_inputs(EKS, endpointPrivateAccess=False)),
    "eks-no-public-endpoint": case(EKS, PUBLIC_EKS, res(k.EKS_COMPONENT, "defaults", {"name": "x"})),
    "eks-public-cidrs": case(PUBLIC_EKS, with_inputs(PUBLIC_EKS, publicAccessCidrs=["0.0.0.0/0"]),
                             with_inputs(PUBLIC_EKS, publicAccessCidrs=None)),
    "eks-secrets-encryption": case(EKS, with_inputs(EKS, encryptionConfigKeyArn=None),
                                   with_inputs(EKS, encryptionConfigKeyArn="alias/eks")),
    "eks-control-plane-logs": case(EKS, with_inputs(EKS, enabledClusterLogTypes=["api", "audit"])),
    "eks-log-group-managed": case([EKS, LOG_GROUP], [EKS]),
    "log-group-kms": case(LOG_GROUP, with_inputs(LOG_GROUP, kmsKeyId=None)),
    "log-group-retention": case(LOG_GROUP, with_inputs(LOG_GROUP, retentionInDays=30),
                                with_inputs(LOG_GROUP, retentionInDays=None)),
    "eks-supported-version": case(EKS, with_inputs(EKS, version="1.24"), with_inputs(EKS, version="1.33")),
    "eks-standard-support-type": case(EKS, with_inputs(EKS, upgradePolicy={"supportType": "EXTENDED"}),
                                      with_inputs(EKS, upgradePolicy=None)),
    "nodes-imdsv2": case(LAUNCH_TEMPLATE, with_inputs(LAUNCH_TEMPLATE, metadataOptions={"httpTokens": "optional"}),
                         with_inputs(LAUNCH_TEMPLATE, metadataOptions={"httpTokens": "required",
                                                                       "httpPutResponseHopLimit": 2})),
    "ebs-encrypted": case(
        [with_inputs(LAUNCH_TEMPLATE, blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]),
         res(k.STORAGE_CLASS, "gp3", {"provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true",
                                                                                       "kmsKeyId": KEY}})],
        with_inputs(LAUNCH_TEMPLATE, blockDeviceMappings=[{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50}}]),
        res(k.STORAGE_CLASS, "gp3", {"provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true"}})),
    "nodes-no-ssh-no-public-ip": case(
        [NODES, LAUNCH_TEMPLATE, EKS], with_inputs(NODES, remoteAccess={"ec2SshKey": "ops"}),
        with_inputs(LAUNCH_TEMPLATE, keyName="ops"),
        with_inputs(LAUNCH_TEMPLATE, networkInterfaces=[{"associatePublicIpAddress": "true"}]),
        with_inputs(EKS, skipDefaultNodeGroup=False)),
    "eks-auth-mode-api": case(EKS, with_inputs(EKS, authenticationMode="API_AND_CONFIG_MAP"),
                              with_inputs(EKS, accessEntries={})),
    "eks-creator-not-admin": case(EKS_CHILD, EKS, with_inputs(EKS_CHILD, accessConfig={"authenticationMode": "API"})),
    "eks-network-policy-enforced": case(
        [EKS, res(k.EKS_ADDON, "vpc-cni", {"addonName": "vpc-cni", "configurationValues": json.dumps(
            {"enableNetworkPolicy": "true"})}), res(k.EKS_ADDON, "ebs", {"addonName": "aws-ebs-csi-driver"})],
        with_inputs(EKS, vpcCniOptions={}), res(k.EKS_ADDON, "vpc-cni", {"addonName": "vpc-cni"})),
    "eks-deletion-protection": case(EKS, with_inputs(EKS, deletionProtection=False)),
    "irsa-trust-scoped": case(
        IRSA_OK, irsa({f"{ISSUER}:aud": "sts.amazonaws.com"}),
        irsa({f"{ISSUER}:sub": "system:serviceaccount:vault:*", f"{ISSUER}:aud": "sts.amazonaws.com"}),
        irsa({f"{ISSUER}:sub": "system:serviceaccount:vault:vault"})),
    # Data stores
    "rds-encrypted-cmk": case(RDS, with_inputs(RDS, storageEncrypted=False), with_inputs(RDS, kmsKeyId=None)),
    "rds-not-public": case(RDS, with_inputs(RDS, publiclyAccessible=True)),
    "rds-deletion-protection": case(RDS, with_inputs(RDS, deletionProtection=False)),
    "rds-multi-az": case(RDS, with_inputs(RDS, multiAz=False)),
    "rds-log-exports": case(RDS, with_inputs(RDS, enabledCloudwatchLogsExports=[]),
                            with_inputs(RDS, enabledCloudwatchLogsExports=["upgrade"])),
    "rds-iam-auth": case(RDS, with_inputs(RDS, iamDatabaseAuthenticationEnabled=False)),
    "rds-enhanced-monitoring": case(RDS, with_inputs(RDS, monitoringInterval=0)),
    "rds-performance-insights-kms": case(RDS, with_inputs(RDS, performanceInsightsKmsKeyId=None),
                                         with_inputs(RDS, performanceInsightsEnabled=False)),
    "rds-auto-minor-upgrade": case(RDS, with_inputs(RDS, autoMinorVersionUpgrade=False)),
    "rds-current-ca": case(RDS, with_inputs(RDS, caCertIdentifier="rds-ca-2019")),
    "rds-copy-tags": case(RDS, with_inputs(RDS, copyTagsToSnapshot=False)),
    "rds-backups": case(RDS, with_inputs(RDS, backupRetentionPeriod=1), with_inputs(RDS, skipFinalSnapshot=True)),
    "rds-force-tls": case(PARAMS, with_inputs(PARAMS, parameters=[{"name": "rds.force_ssl", "value": "0"}])),
    "cache-at-rest-cmk": case(CACHE, with_inputs(CACHE, atRestEncryptionEnabled=False),
                              with_inputs(CACHE, kmsKeyId=None)),
    "cache-in-transit": case(CACHE, with_inputs(CACHE, transitEncryptionEnabled=False),
                             with_inputs(CACHE, transitEncryptionMode="preferred")),
    "cache-auth": case(CACHE, with_inputs(CACHE, authToken=None)),
    "cache-failover-multi-az": case(CACHE, with_inputs(CACHE, automaticFailoverEnabled=False),
                                    with_inputs(CACHE, multiAzEnabled=False)),
    "cache-snapshot-retention": case(CACHE, with_inputs(CACHE, snapshotRetentionLimit=0)),
    "mq-not-public": case(BROKER, with_inputs(BROKER, publiclyAccessible=True)),
    "mq-logs": case(BROKER, with_inputs(BROKER, logs={"general": False, "audit": True})),
    "mq-cmk": case(BROKER, with_inputs(BROKER, encryptionOptions={"useAwsOwnedKey": True})),
    "mq-auto-minor-upgrade": case(BROKER, with_inputs(BROKER, autoMinorVersionUpgrade=False)),
    "mq-multi-az": case(BROKER, with_inputs(BROKER, deploymentMode="SINGLE_INSTANCE")),
    # KMS / S3 / protection
    "kms-rotation": case(KMS, with_inputs(KMS, enableKeyRotation=False)),
    "sns-kms": case(SNS_TOPIC, with_inputs(SNS_TOPIC, kmsMasterKeyId=None),
                    with_inputs(SNS_TOPIC, kmsMasterKeyId="alias/aws/sns")),
    "kms-key-policy": case(KMS, with_inputs(KMS, policy=None),
                           with_inputs(KMS, policy=policy({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                           "Action": "kms:*"}))),
    "s3-public-access-block": case(bucket_stack(), bucket_stack(pab=None), bucket_stack(pab={**PAB,
                                                                                            "blockPublicAcls": False})),
    "s3-sse-kms": case(bucket_stack(), bucket_stack(sse=SSE_S3), bucket_stack(sse=None),
                       bucket_stack(sse={"rules": [{"applyServerSideEncryptionByDefault": {
                           "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}}]})),
    "s3-versioning": case(bucket_stack(), bucket_stack(versioning={"versioningConfiguration": {
        "status": "Suspended"}})),
    "s3-access-logging": case(bucket_stack(), bucket_stack(logging=None)),
    "s3-lifecycle": case(bucket_stack(), bucket_stack(lifecycle=None),
                         bucket_stack(lifecycle={"rules": [{"status": "Enabled", "expiration": {"days": 30}}]})),
    "s3-tls-only": case(bucket_stack(), bucket_stack(policy=None), bucket_stack(policy={"policy": policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"})})),
    "s3-acls-disabled": case(bucket_stack(), bucket_stack(ownership={"rule": {"objectOwnership": "ObjectWriter"}})),
    "stateful-protected": case([replace(RDS, protect=True), KMS, replace(EKS, protect=True)], [RDS], [EKS]),
    "keys-buckets-retained": case([KMS, BUCKET], [replace(KMS, retain_on_delete=False)]),
    # Vault / cert-manager / Linkerd
    "vault-awskms-seal": case(
        VAULT, vault_with(ha={**VAULT_VALUES["server"]["ha"], "raft": {"enabled": True, "config": VAULT_CONFIG.replace(
            'kms_key_id = "key-1"', 'kms_key_id = "key-1"\n  access_key = "AKIA"')}}),
        vault_with(extraEnvironmentVars={"AWS_SECRET_ACCESS_KEY": "x"}), vault_with(serviceAccount={}),
        vault_with(ha={"enabled": True, "raft": {"enabled": True, "config": 'storage "raft" {\n}\n'}})),
    "vault-ha-raft": case(VAULT, vault_with(ha={**VAULT_VALUES["server"]["ha"], "replicas": 1}),
                          vault_with(ha={"enabled": False})),
    "vault-spread": case(VAULT, vault_with(topologySpreadConstraints=[]), vault_with(affinity="")),
    "vault-tls": case(VAULT, release("vault", {**VAULT_VALUES, "global": {}}), vault_with(
        ha={**VAULT_VALUES["server"]["ha"], "raft": {"enabled": True, "config": VAULT_CONFIG.replace(
            'address = "[::]:8200"', 'address = "[::]:8200"\n  tls_disable = 1')}})),
    "vault-audit-storage": case(VAULT, vault_with(auditStorage={"enabled": False})),
    "vault-network-policy": case([VAULT, VAULT_ALLOW], [VAULT], [VAULT, netpol("wide", "vault", {"ingress": [
        {"ports": [{"port": 8200}, {"port": 22}]}]})]),
    "vault-raft-snapshots": case([VAULT, res(k.CRON_JOB, "snap", {"spec": {"jobTemplate": {"spec": {"template": {
        "spec": {"containers": [{"args": ["vault operator raft snapshot save /tmp/s"]}]}}}}}})], [VAULT]),
    "cert-manager-ha": case(CERT_MANAGER, release("cert-manager", {"replicaCount": 1}),
                            release("cert-manager", {**CERT_MANAGER.inputs["values"], "webhook": {"replicaCount": 3}})),
    "certificate-private-key": case(CERT, cert_with(privateKey={"algorithm": "RSA", "rotationPolicy": "Always"}),
                                    cert_with(privateKey={"algorithm": "ECDSA", "rotationPolicy": "Never"})),
    "certificate-durations": case(CERT, cert_with(duration=None), cert_with(renewBefore="2160h"),
                                  cert_with(renewBefore=None), cert_with(renewal={"policy": "Disabled"})),
    "linkerd-issuer-renewal-window": case(CERT, cert_with(renewBefore="720h")),
    "vault-issuer-auth": case(VAULT_ISSUER, issuer_with(server="http://vault.vault.svc:8200"),
                              issuer_with(caBundle=None), issuer_with(auth={"tokenSecretRef": {"name": "t"}}),
                              issuer_with(auth={"kubernetes": {"role": "r", "secretRef": {"name": "sa-token"}}})),
    "linkerd-ha": case(LINKERD, release("linkerd-control-plane", {**LINKERD_VALUES, "controllerReplicas": 1}),
                       release("linkerd-control-plane", {**LINKERD_VALUES, "webhookFailurePolicy": "Ignore"})),
    "linkerd-default-inbound-policy": case(
        [LINKERD, namespace("prod-app", annotations={"config.linkerd.io/default-inbound-policy": "deny"})],
        release("linkerd-control-plane", {**LINKERD_VALUES, "proxy": {}}),
        namespace("shop", annotations={"config.linkerd.io/default-inbound-policy": "all-unauthenticated"})),
    "linkerd-external-ca": case(LINKERD, release("linkerd-control-plane", {**LINKERD_VALUES, "identity": {}}),
                                release("linkerd-control-plane", {**LINKERD_VALUES, "identity": {
                                    "externalCA": True, "issuer": {"scheme": "linkerd.io/tls"}}})),
    "linkerd-authorization": case([SERVER, AUTHZ], [SERVER]),
    "certificate-expiry-alert": case(
        [CERT, res(k.PROMETHEUS_RULE, "expiry", {"spec": {"groups": [{"rules": [{
            "alert": "CertificateExpiresSoon",
            "expr": "certmanager_certificate_expiration_timestamp_seconds - time() < 21 * 24 * 3600"}]}]}})],
        [CERT]),
    # Kubernetes workloads
    "namespace-pss": case([namespace("prod-app"), namespace("linkerd", "privileged")], namespace("prod-app", None),
                          namespace("prod-app", "baseline")),
    "namespace-default-deny": case([namespace("prod-app"), netpol("deny", "prod-app", DEFAULT_DENY)],
                                   [namespace("prod-app")],
                                   [namespace("prod-app"), netpol("deny", "prod-app", {"podSelector": {},
                                                                                      "policyTypes": ["Ingress"]})]),
    "container-security-context": case(
        deployment(), deployment(container(securityContext={})), deployment(hostNetwork=True),
        deployment(container(securityContext={**HARDENED["securityContext"], "privileged": True}))),
    "container-resources": case(deployment(), deployment(container(resources={"requests": {"cpu": "1"}}))),
    "container-probes": case(deployment(), deployment(container(livenessProbe=None))),
    "container-image-pinned": case(deployment(), deployment(container(image="ghcr.io/shop/cart:latest")),
                                   deployment(container(image="ghcr.io/shop/cart"))),
    "rbac-least-privilege": case(role({"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}),
                                 role({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}),
                                 role({"apiGroups": [""], "resources": ["clusterroles"], "verbs": ["escalate"]})),
    "pdb-allows-eviction": case(res(k.PDB, "pdb", {"spec": {"maxUnavailable": 1}}),
                                res(k.PDB, "pdb", {"spec": {"maxUnavailable": 0}}),
                                res(k.PDB, "pdb", {"spec": {"minAvailable": "100%"}})),
    "workload-zone-spread": case(deployment(), deployment(topologySpreadConstraints=[])),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULE), "rules without cases / cases without rules"


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_passes_its_good_fixture(rule_id: str) -> None:
    statuses = run(rule_id, CASES[rule_id].good)
    assert Status.PASS in statuses and Status.FAIL not in statuses, statuses


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_each_bad_fixture(rule_id: str) -> None:
    assert CASES[rule_id].bad, "no failing fixture"
    for i, bad in enumerate(CASES[rule_id].bad):
        assert Status.FAIL in run(rule_id, bad), f"bad fixture {i} did not fail"


def test_rule_ids_are_unique_slugs_and_anchored() -> None:
    assert len(RULE) == len(RULES)
    for rule in RULES:
        assert rule.id.replace("-", "").isalnum() and rule.id.islower(), rule.id
        assert rule.anchors and rule.title and rule.types, rule.id


@pytest.mark.skipif(not AUDIT_LIST.exists(), reason="the shared audit list is not beside this clone")
def test_listed_anchors_are_verbatim_ids_of_the_audit_list() -> None:
    ids = {line[2:].split(" | ")[0] for line in AUDIT_LIST.read_text().splitlines() if line.startswith("- ")}
    assert {r.anchors for r in RULES if r.listed} <= ids
    assert not ids - {r.anchors for r in RULES}, "audit-list lines without a rule"


# --- shapes, environments, unknowns -------------------------------------------------------------------------------

@pytest.mark.parametrize("rule_id", ["eks-private-endpoint", "eks-no-public-endpoint", "eks-secrets-encryption",
                                     "eks-control-plane-logs", "eks-supported-version", "eks-standard-support-type",
                                     "eks-auth-mode-api", "eks-deletion-protection"])
def test_eks_child_shape_is_judged_like_the_component(rule_id: str) -> None:
    """A real preview shows the pack pulumi-eks's child aws:eks/cluster:Cluster, with nested inputs."""
    assert run(rule_id, [EKS_CHILD]) == [Status.PASS]


@pytest.mark.parametrize(("change", "rule_id"), [
    ({"vpcConfig": {"endpointPrivateAccess": False}}, "eks-private-endpoint"),
    ({"vpcConfig": {"endpointPrivateAccess": True}}, "eks-no-public-endpoint"),  # omitted public = EKS's default on
    ({"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}}, "eks-public-cidrs"),
    ({"encryptionConfig": {"provider": {"keyArn": KEY}, "resources": []}}, "eks-secrets-encryption"),
    ({"accessConfig": {"authenticationMode": "CONFIG_MAP"}}, "eks-auth-mode-api"),
])
def test_eks_child_shape_fails(change: dict[str, Any], rule_id: str) -> None:
    assert run(rule_id, [with_inputs(EKS_CHILD, **change)]) == [Status.FAIL]


def test_enforcement_depends_on_the_environment() -> None:
    public = RULE["eks-no-public-endpoint"]
    assert public.enforcement("sandbox") is Enforcement.ADVISORY
    assert public.enforcement("prod") is Enforcement.MANDATORY
    assert RULE["eks-public-cidrs"].enforcement("sandbox") is Enforcement.MANDATORY
    assert {RULE[i].enforcement("dev") for i in ("rds-multi-az", "stateful-protected", "vault-ha-raft")} == {
        Enforcement.ADVISORY}


def test_unknown_values_make_a_rule_not_applicable_instead_of_failing() -> None:
    role_ = res(k.IAM_ROLE, "irsa", {"assumeRolePolicy": UNKNOWN})
    verdict = judge(RULE["irsa-trust-scoped"], role_, Context("prod", TODAY))
    assert verdict.status is Status.NA and "after apply" in verdict.message


def test_stack_links_prefer_property_dependencies() -> None:
    """With property dependencies (policy packs) the link is exact, even when the value is unknown in preview."""
    logging = replace(part("aws:s3/bucketLogging:BucketLogging", "l", BUCKET, {"targetBucket": UNKNOWN}, LOGS),
                      inputs={"bucket": UNKNOWN, "targetBucket": UNKNOWN},
                      property_dependencies={"bucket": (BUCKET.urn,), "targetBucket": (LOGS.urn,)})
    stack = Stack([BUCKET, LOGS, logging], Context("prod", TODAY))
    assert stack.refs(logging, "bucket", k.BUCKETS) == [BUCKET]
    assert stack.refs(logging, "targetBucket", k.BUCKETS) == [LOGS]


def test_environment_comes_from_the_aws_provider_default_tags() -> None:
    provider = res("pulumi:providers:aws", "aws", {"defaultTags": json.dumps({"tags": {"environment": "dev"}})})
    assert environment_from([provider, VPC]) == "dev"
    assert environment_from([VPC]) is None


# --- the policy-pack front end -----------------------------------------------------------------------------------

def _opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def engine_props(props: dict[str, Any]) -> Any:
    """Properties the way `pulumi_policy` builds them from the engine's protobuf Struct."""
    struct = struct_pb2.Struct()
    struct.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def test_policy_props_keep_the_engines_camel_case_keys_and_unknowns_become_unknown() -> None:
    props = engine_props({"storageEncrypted": True, "kmsKeyId": UNKNOWN_STRING_VALUE,
                          "vpcConfig": {"endpointPublicAccess": False, "subnetIds": [UNKNOWN_STRING_VALUE]}})
    assert plain(props) == {"storageEncrypted": True, "kmsKeyId": UNKNOWN,
                            "vpcConfig": {"endpointPublicAccess": False, "subnetIds": [UNKNOWN]}}


def _policy(rule_id: str, environment: str = "prod") -> Any:
    return next(p for p in build_policies(environment) if p.name == rule_id)


def _validate_resource(rule_id: str, r: Resource, provider_tags: str | None = None) -> list[str]:
    provider = None if provider_tags is None else PolicyProviderResource(
        "pulumi:providers:aws", engine_props({"defaultTags": provider_tags}), "urn:aws", "aws")
    args = ResourceValidationArgs(r.type, engine_props(dict(r.inputs)), r.urn, r.name, _opts(r.protect), provider)
    violations: list[str] = []
    _policy(rule_id).validate(args, lambda message, urn=None: violations.append(message))
    return violations


def test_resource_policy_reports_the_same_verdicts_as_the_offline_audit() -> None:
    assert _validate_resource("rds-not-public", RDS) == []
    assert _validate_resource("rds-not-public", with_inputs(RDS, publiclyAccessible=True)) == ["publiclyAccessible"]
    assert _validate_resource("rds-not-public", VPC) == []  # other types are not its business
    with pytest.raises(_NotApplicableError):
        _validate_resource("eks-public-cidrs", EKS)


def test_resource_policy_reads_the_environment_from_the_provider() -> None:
    sandbox = json.dumps({"tags": {"environment": "sandbox"}})
    message = _validate_resource("eks-no-public-endpoint", PUBLIC_EKS, sandbox)[0]
    assert "sandbox" in message


def test_policy_levels_follow_the_pack_environment() -> None:
    assert _policy("rds-multi-az", "prod").enforcement_level.value == "mandatory"
    assert _policy("rds-multi-az", "sandbox").enforcement_level.value == "advisory"
    assert pack_environment({"PULUMI_STACK": "acme/dev"}) == "dev"
    assert pack_environment({"PULUMI_STACK": "feature-x"}) == "prod"


def test_stack_policy_links_parts_through_property_dependencies() -> None:
    def policy_resource(r: Resource, deps: dict[str, list[PolicyResource]] | None = None) -> PolicyResource:
        pr = PolicyResource(r.type, engine_props(dict(r.inputs)), r.urn, r.name, _opts(r.protect), None, None,
                            [], deps or {})
        pr.dependencies = [d for ds in (deps or {}).values() for d in ds]
        return pr

    bucket = policy_resource(BUCKET)
    pab = policy_resource(res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "pab",
                              {"bucket": UNKNOWN_STRING_VALUE, **PAB, "blockPublicPolicy": False}),
                          {"bucket": [bucket]})
    assert from_policy_resource(pab).property_dependencies == {"bucket": (BUCKET.urn,)}
    violations: list[tuple[str, str | None]] = []
    _policy("s3-public-access-block").validate(StackValidationArgs([bucket, pab]),
                                               lambda message, urn=None: violations.append((message, urn)))
    assert violations == [("aws:s3:Bucket data: flags off: blockPublicPolicy", BUCKET.urn)]


def test_from_args_keeps_protect() -> None:
    args = ResourceValidationArgs(k.KMS_KEY, engine_props({"enableKeyRotation": True}), "urn:k", "k", _opts(True),
                                  None)
    r = from_args(args)
    assert r.protect and r.retain_on_delete is None and r.inputs == {"enableKeyRotation": True}


def test_policy_pack_entry_point_serves_every_rule() -> None:
    source = (ROOT / "policy_pack" / "__main__.py").read_text()
    assert "build_policies(environment)" in source and "PolicyPack(" in source
    assert [p.name for p in build_policies("prod")] == [r.id for r in RULES]


# --- the real stacks ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_breaks_a_mandatory_rule(stack: str) -> None:
    environment, findings = offline.audit_plan(plan_of(stack), TODAY)
    assert environment == stack
    failures = offline.mandatory_failures(findings, environment)
    assert not failures, "\n".join(f"{f.rule.id} {f.resource}: {f.message}" for f in failures)


def test_prod_report_lists_every_rule_with_its_ids() -> None:
    report = offline.render_audit(plan_of("prod"))
    assert report.startswith("audit of stack prod (environment prod)")
    for rule in RULES:
        assert f"  {rule.id}  [" in report and rule.anchors in report, rule.id
    assert report.rstrip().endswith("0 mandatory failure(s)")


def test_prod_judges_what_matters_not_vacuously() -> None:
    """The AWS rules find their subjects in the real prod plan (a broken link would make them N/A)."""
    _, findings = offline.audit_plan(plan_of("prod"), TODAY)
    passed = {f.rule.id for f in findings if f.status is Status.PASS}
    assert {"vpc-flow-logs", "workload-subnets-private", "nodegroup-multi-az", "s3-public-access-block",
            "s3-sse-kms", "s3-access-logging", "s3-tls-only", "stateful-protected", "keys-buckets-retained",
            "irsa-trust-scoped", "rds-multi-az", "cache-failover-multi-az", "eks-log-group-managed",
            "default-sg-closed"} <= passed
    # prod's messaging is SQS (data.messaging): no broker, so the Amazon MQ rules have no subject there.
    assert "mq-multi-az" not in {f.rule.id for f in findings if f.status is Status.FAIL}


def _bad_plan() -> Plan:
    prod = plan_of("prod")
    resources = [replace(r, inputs={**r.inputs, "publiclyAccessible": True}) if r.type == k.RDS_INSTANCE else r
                 for r in prod.resources]
    return Plan(prod.stack, resources, prod.outputs, prod.secret_outputs)


def test_cli_exit_code_follows_mandatory_failures(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(offline, "run_stack", lambda stack: plan_of(stack))
    assert offline.main(["--stack", "prod", "--no-checkov"]) == 0  # checkov's part: tests/tools/audit_report
    monkeypatch.setattr(offline, "run_stack", lambda stack: _bad_plan())
    assert offline.main(["--stack", "prod", "--json", "--no-checkov"]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    bad = [r for r in records if r["status"] == "FAIL" and r["enforcement"] == "mandatory"]
    assert [(r["rule"], r["anchors"]) for r in bad] == [("rds-not-public", "CKV_AWS_17")]


def test_offline_adapter_keeps_options_and_links() -> None:
    prod = plan_of("prod")
    bucket = offline.to_resource(prod.one("aws:s3/bucket:Bucket", "vault-snapshots"))
    assert bucket.protect and bucket.retain_on_delete and "vault-snapshots-bucket" in bucket.identifiers


def test_policy_pack_and_offline_audit_agree_on_the_prod_plan() -> None:
    """Feed the prod plan to the pack's policies as `pulumi_policy` objects: same failures as `make audit`."""
    prod = plan_of("prod")
    provider_reg = prod.one("pulumi:providers:aws", "aws")  # the primary region's (prod also has the DR region's)
    provider = PolicyProviderResource(provider_reg.type, engine_props(provider_reg.inputs), provider_reg.urn, "aws")
    stack_resources = {r.urn: PolicyResource(r.type, engine_props(json.loads(json.dumps(r.outputs, default=str))),
                                             r.urn, r.name, _opts(r.protect), None, None, [], {})
                       for r in prod.resources}
    for r in prod.resources:
        stack_resources[r.urn].dependencies = [stack_resources[d] for d in r.dependencies if d in stack_resources]
    resource_args = [ResourceValidationArgs(r.type, engine_props(json.loads(json.dumps(r.inputs, default=str))),
                                            r.urn, r.name, _opts(r.protect), provider) for r in prod.resources]
    pack: set[tuple[str, str]] = set()
    for p in build_policies("prod"):
        def report(message: str, urn: str | None = None, name: str = p.name) -> None:
            pack.add((name, urn or ""))

        if isinstance(p, StackValidationPolicy):
            with contextlib.suppress(_NotApplicableError):
                p.validate(StackValidationArgs(list(stack_resources.values())), report)
            continue
        assert isinstance(p, ResourceValidationPolicy)
        for args in resource_args:
            def report_at(message: str, urn: str | None = None, name: str = p.name, at: str = args.urn) -> None:
                pack.add((name, at))

            with contextlib.suppress(_NotApplicableError):
                p.validate(args, report_at)
    _, findings = offline.audit_plan(prod, TODAY)
    assert ("eks-creator-not-admin", prod.one(k.EKS_COMPONENT).urn) in pack  # not vacuous: advisory failures show
    assert pack == {(f.rule.id, f.urn) for f in findings if f.status is Status.FAIL}
