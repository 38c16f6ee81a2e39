"""EKS rules: endpoint, secrets encryption, control-plane logs, support, nodes, access, IRSA (section "EKS").

The offline plan records pulumi-eks's remote component `eks:index:Cluster` with its own inputs; a real preview shows
a policy pack its child `aws:eks/cluster:Cluster` instead. `eks_settings` reads either shape into one view, with
the defaults each layer applies when an input is omitted (public endpoint on, private off, EXTENDED support).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from audit import kinds
from audit.model import (
    Context,
    Resource,
    Stack,
    Verdict,
    all_of,
    as_json,
    as_list,
    failed,
    not_applicable,
    number,
    passed,
    resource_rule,
    stack_rule,
    truthy,
)
from config.names import HA_ENVIRONMENTS
from config.versions import EKS_STANDARD_SUPPORT_END

CONTROL_PLANE_LOG_TYPES = frozenset({"api", "audit", "authenticator", "controllerManager", "scheduler"})
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$")
MIN_LOG_RETENTION_DAYS = 365
SERVICE_ACCOUNT_SUB = re.compile(r"^system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+$")


def is_key_arn(value: Any) -> bool:
    """A customer key's ARN (aliases and AWS-managed `alias/aws/...` keys are not)."""
    return isinstance(value, str) and bool(KMS_KEY_ARN.match(value))


@dataclass(frozen=True)
class EksSettings:
    public: bool
    private: bool
    public_cidrs: list[Any]
    key_arn: Any
    encrypts_secrets: bool
    log_types: frozenset[str]
    support_type: Any
    auth_mode: Any
    creator_admin: bool
    creator_admin_why: str
    version: Any
    name: Any


def eks_settings(r: Resource) -> EksSettings:
    if r.type == kinds.EKS_COMPONENT:
        key = r.get("encryptionConfigKeyArn")
        # pulumi-eks passes accessConfig.bootstrapClusterCreatorAdminPermissions=true whenever authenticationMode is
        # set, and EKS defaults to true without it. Ref: pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts (accessConfig)
        return EksSettings(
            public=truthy(r.get("endpointPublicAccess", default=True)),
            private=truthy(r.get("endpointPrivateAccess", default=False)),
            public_cidrs=as_list(r.get("publicAccessCidrs")), key_arn=key, encrypts_secrets=key is not None,
            log_types=frozenset(as_list(r.get("enabledClusterLogTypes"))),
            support_type=r.get("upgradePolicy", "supportType"), auth_mode=r.get("authenticationMode"),
            creator_admin=True, creator_admin_why="pulumi-eks always sets bootstrapClusterCreatorAdminPermissions",
            version=r.get("version"), name=r.get("name"),
        )
    encryption = as_list(r.get("encryptionConfig"))
    return EksSettings(
        public=truthy(r.get("vpcConfig", "endpointPublicAccess", default=True)),
        private=truthy(r.get("vpcConfig", "endpointPrivateAccess", default=False)),
        public_cidrs=as_list(r.get("vpcConfig", "publicAccessCidrs")),
        key_arn=encryption[0].get("provider", {}).get("keyArn") if encryption else None,
        encrypts_secrets=any("secrets" in as_list(e.get("resources")) for e in encryption),
        log_types=frozenset(as_list(r.get("enabledClusterLogTypes"))),
        support_type=r.get("upgradePolicy", "supportType"), auth_mode=r.get("accessConfig", "authenticationMode"),
        creator_admin=truthy(r.get("accessConfig", "bootstrapClusterCreatorAdminPermissions", default=True)),
        creator_admin_why="accessConfig.bootstrapClusterCreatorAdminPermissions is true (EKS's default)",
        version=r.get("version"), name=r.get("name"),
    )


@resource_rule("eks-private-endpoint", "The cluster API has its private endpoint on", "CKV_AWS_39, CIS 5.4.2",
               kinds.EKS_CLUSTERS, also=("EKS BPG: Security - make the cluster endpoint private",))
def eks_private_endpoint(r: Resource, ctx: Context) -> Verdict:
    return passed("private endpoint on") if eks_settings(r).private else failed("endpointPrivateAccess is off")


@resource_rule("eks-no-public-endpoint", "The cluster API has no public endpoint (allowed in sandbox/dev with CIDRs)",
               "CKV_AWS_39, CIS 5.4.2", kinds.EKS_CLUSTERS, mandatory_in=HA_ENVIRONMENTS,
               also=("AWS Security Hub EKS.1",))
def eks_no_public_endpoint(r: Resource, ctx: Context) -> Verdict:
    if not eks_settings(r).public:
        return passed("public endpoint off")
    return failed(f"public endpoint on ({ctx.environment} allows it only if it is not staging/prod)")


@resource_rule("eks-public-cidrs", "A public cluster endpoint admits only listed CIDRs, never 0.0.0.0/0",
               "CKV_AWS_38, CIS 5.4.1", kinds.EKS_CLUSTERS)
def eks_public_cidrs(r: Resource, ctx: Context) -> Verdict:
    s = eks_settings(r)
    if not s.public:
        return not_applicable("no public endpoint")
    if not s.public_cidrs:
        return failed("public endpoint without publicAccessCidrs (EKS then admits 0.0.0.0/0)")
    world = [c for c in s.public_cidrs if isinstance(c, str) and c.endswith("/0")]
    return failed(f"publicAccessCidrs include {', '.join(world)}") if world else passed(", ".join(map(str,
                                                                                           s.public_cidrs)))


@resource_rule("eks-secrets-encryption", "Kubernetes secrets are envelope-encrypted with a customer-managed KMS key",
               "CKV_AWS_58, CIS 5.3.1", kinds.EKS_CLUSTERS, also=("AWS Security Hub EKS.3",))
def eks_secrets_encryption(r: Resource, ctx: Context) -> Verdict:
    s = eks_settings(r)
    return all_of([(s.encrypts_secrets, "no encryption config for secrets"),
                   (s.key_arn is None or is_key_arn(s.key_arn), f"key {s.key_arn!r} is not a KMS key ARN")],
                  f"secrets encrypted with {s.key_arn}")


@resource_rule("eks-control-plane-logs", "All five control-plane log types are enabled",
               "CKV_AWS_37/338/158, CIS 2.1.x", kinds.EKS_CLUSTERS, also=("CIS 2.1.1", "AWS Security Hub EKS.8"))
def eks_control_plane_logs(r: Resource, ctx: Context) -> Verdict:
    missing = sorted(CONTROL_PLANE_LOG_TYPES - eks_settings(r).log_types)
    return failed("missing log types: " + ", ".join(missing)) if missing else passed("api, audit, authenticator, "
                                                                                     "controllerManager, scheduler")


@stack_rule("eks-log-group-managed", "The control-plane log group is created by the program (KMS, retention)",
            "CKV_AWS_37/338/158, CIS 2.1.x", kinds.EKS_CLUSTERS,
            also=("EKS user guide: control plane logging (/aws/eks/<cluster>/cluster)",))
def eks_log_group_managed(stack: Stack) -> Iterator[tuple[Resource | None, Verdict]]:
    names = {g.get("name") for g in stack.of_type(kinds.LOG_GROUP)}
    for cluster in stack.of_type(*kinds.EKS_CLUSTERS):
        name = eks_settings(cluster).name
        if not isinstance(name, str):
            yield cluster, not_applicable("cluster name is auto-generated")
            continue
        group = f"/aws/eks/{name}/cluster"
        yield cluster, (passed(group) if group in names else failed(
            f"{group} is not in the stack: EKS would create it unencrypted and never expiring"))


@resource_rule("log-group-kms", "Every CloudWatch log group is encrypted with a customer-managed KMS key",
               "CKV_AWS_37/338/158, CIS 2.1.x", {kinds.LOG_GROUP}, also=("CKV_AWS_158",))
def log_group_kms(r: Resource, ctx: Context) -> Verdict:
    key = r.get("kmsKeyId")
    return passed(f"KMS {key}") if is_key_arn(key) else failed("no customer-managed KMS key (kmsKeyId)")


@resource_rule("log-group-retention", "Every CloudWatch log group keeps logs at least 365 days (staging/prod)",
               "CKV_AWS_37/338/158, CIS 2.1.x", {kinds.LOG_GROUP}, mandatory_in=HA_ENVIRONMENTS,
               also=("CKV_AWS_338", "CKV_AWS_66", "AWS Security Hub CloudWatch.16"))
def log_group_retention(r: Resource, ctx: Context) -> Verdict:
    days = number(r.get("retentionInDays"))
    if days <= 0:
        return failed("no retention: logs never expire (CKV_AWS_66)")
    if days < MIN_LOG_RETENTION_DAYS:
        return failed(f"retention {days:.0f} d < {MIN_LOG_RETENTION_DAYS} d")
    return passed(f"retention {days:.0f} d")


@resource_rule("eks-supported-version", "The Kubernetes version is in EKS standard support today", "CKV_AWS_339",
               kinds.EKS_CLUSTERS, also=("AWS Security Hub EKS.2", "EKS user guide: Kubernetes version lifecycle"))
def eks_supported_version(r: Resource, ctx: Context) -> Verdict:
    version = eks_settings(r).version
    end = EKS_STANDARD_SUPPORT_END.get(str(version))
    if end is None:
        return failed(f"version {version!r} is not in the standard-support calendar (config/versions.py)")
    if end <= ctx.today:
        return failed(f"{version} left standard support on {end}")
    return passed(f"{version}, standard support until {end}")


@resource_rule("eks-standard-support-type", "The upgrade policy is STANDARD (extended support costs $0.60/h)",
               "CKV_AWS_339", kinds.EKS_CLUSTERS, also=("EKS pricing: extended support",))
def eks_standard_support_type(r: Resource, ctx: Context) -> Verdict:
    support = eks_settings(r).support_type
    return passed("STANDARD") if support == "STANDARD" else failed(
        f"upgradePolicy.supportType is {support!r} (EKS defaults to EXTENDED)")


@resource_rule("nodes-imdsv2", "Node launch templates require IMDSv2 with hop limit 1", "CKV_AWS_79/341, BPG",
               {kinds.LAUNCH_TEMPLATE, kinds.INSTANCE},
               also=("AWS Security Hub EC2.8", "EKS BPG: Security - restrict access to the instance profile"))
def nodes_imdsv2(r: Resource, ctx: Context) -> Verdict:
    tokens = r.get("metadataOptions", "httpTokens")
    hops = number(r.get("metadataOptions", "httpPutResponseHopLimit"), default=0)
    return all_of([(tokens == "required", f"httpTokens is {tokens!r}, not 'required'"),
                   (hops == 1, f"httpPutResponseHopLimit is {hops:g}, not 1 (pods could reach node credentials)")],
                  "IMDSv2 required, hop limit 1")


EBS_CSI = "ebs.csi.aws.com"


@resource_rule("ebs-encrypted", "Node and persistent volumes are EBS-encrypted (a customer key for data volumes)",
               "CKV_AWS_8, CKV_AWS_3", {kinds.LAUNCH_TEMPLATE, kinds.STORAGE_CLASS}, listed=False,
               also=("AWS Security Hub EC2.7", "EKS BPG: Data encryption - encrypt EBS volumes"))
def ebs_encrypted(r: Resource, ctx: Context) -> Verdict:
    if r.type == kinds.STORAGE_CLASS:
        if r.get("provisioner") != EBS_CSI:
            return not_applicable(f"provisioner {r.get('provisioner')!r}")
        key = r.get("parameters", "kmsKeyId")
        return all_of([(truthy(r.get("parameters", "encrypted", default=False)), "parameters.encrypted not true"),
                       (is_key_arn(key), "no customer key (parameters.kmsKeyId): the AWS-managed aws/ebs key")],
                      f"encrypted with {key}")
    unencrypted = [m.get("deviceName", i) for i, m in enumerate(as_list(r.get("blockDeviceMappings")))
                   if not truthy((m.get("ebs") or {}).get("encrypted", False))]
    return failed(f"unencrypted volumes {unencrypted}") if unencrypted else passed("every block device encrypted")


@resource_rule("nodes-no-ssh-no-public-ip", "Nodes get no SSH key and no public IP (access through SSM)",
               "CKV_AWS_88/100",
               {kinds.NODE_GROUP, kinds.EKS_MANAGED_NODE_GROUP, kinds.LAUNCH_TEMPLATE, kinds.INSTANCE,
                kinds.EKS_COMPONENT})
def nodes_no_ssh_no_public_ip(r: Resource, ctx: Context) -> Verdict:
    if r.type == kinds.EKS_COMPONENT:
        if truthy(r.get("skipDefaultNodeGroup", default=False)):
            return passed("no default node group")
        return all_of([(not truthy(r.get("nodeAssociatePublicIpAddress", default=True)),
                        "default node group gets public IPs")], "default node group without public IPs")
    if r.type in (kinds.NODE_GROUP, kinds.EKS_MANAGED_NODE_GROUP):
        ssh = r.get("remoteAccess", "ec2SshKey")
        return failed(f"remoteAccess with SSH key {ssh!r}") if ssh else passed("no remote access")
    public = [i for i, nic in enumerate(as_list(r.get("networkInterfaces")))
              if truthy(nic.get("associatePublicIpAddress", False))]
    return all_of([(not r.get("keyName"), f"SSH key pair {r.get('keyName')!r}"),
                   (not public, f"networkInterfaces {public} associate public IPs"),
                   (not truthy(r.get("associatePublicIpAddress", default=False)), "associates a public IP")],
                  "no SSH key, no public IP")


@resource_rule("eks-auth-mode-api", "Access entries only: authentication mode API, admins named explicitly",
               "BPG, CIS 4.1.7", kinds.EKS_CLUSTERS,
               also=("EKS BPG: Identity and access management - access entries",))
def eks_auth_mode_api(r: Resource, ctx: Context) -> Verdict:
    mode = eks_settings(r).auth_mode
    checks = [(mode == "API", f"authentication mode {mode!r} (aws-auth ConfigMap still honoured unless 'API')")]
    if r.type == kinds.EKS_COMPONENT:
        entries = r.get("accessEntries", default={}) or {}
        checks.append((isinstance(entries, Mapping) and bool(entries), "no access entries: nobody is named admin"))
    return all_of(checks, "authentication mode API")


@resource_rule("eks-creator-not-admin", "The identity that creates the cluster is not silently cluster-admin",
               "BPG, CIS 4.1.7", kinds.EKS_CLUSTERS, mandatory_in=(),
               also=("EKS BPG: remove the cluster creator's admin access entry",))
def eks_creator_not_admin(r: Resource, ctx: Context) -> Verdict:
    s = eks_settings(r)
    if s.creator_admin:
        return failed(f"{s.creator_admin_why}: remove the creator's access entry after the first up")
    return passed("bootstrapClusterCreatorAdminPermissions false")


def _is_vpc_cni(r: Resource) -> bool:
    return r.type == kinds.EKS_COMPONENT or r.get("addonName") == "vpc-cni"


@resource_rule("eks-network-policy-enforced", "The VPC CNI enforces Kubernetes NetworkPolicies",
               "EKS BPG: Network security - network policies", {kinds.EKS_COMPONENT, kinds.EKS_ADDON},
               selector=_is_vpc_cni, listed=False,
               also=("CIS 4.3.2 (a NetworkPolicy is only as good as its enforcement)",))
def eks_network_policy_enforced(r: Resource, ctx: Context) -> Verdict:
    if r.type == kinds.EKS_ADDON:  # pulumi-eks's vpc-cni add-on, as a real preview shows it
        config = as_json(r.get("configurationValues")) or {}
        enabled = isinstance(config, Mapping) and truthy(config.get("enableNetworkPolicy", False))
    else:
        enabled = truthy(r.get("vpcCniOptions", "enableNetworkPolicy", default=False))
    return passed("vpcCniOptions.enableNetworkPolicy") if enabled else failed(
        "VPC CNI network policy agent off: every NetworkPolicy is silently ignored")


@resource_rule("eks-deletion-protection", "The cluster has EKS deletion protection (staging/prod)", "Pulumi protect",
               kinds.EKS_CLUSTERS, mandatory_in=HA_ENVIRONMENTS, listed=False,
               also=("EKS API: deletionProtection",))
def eks_deletion_protection(r: Resource, ctx: Context) -> Verdict:
    return passed("deletionProtection on") if truthy(r.get("deletionProtection", default=False)) else failed(
        "deletionProtection off")


def _web_identity_statements(r: Resource) -> list[dict[str, Any]]:
    doc = as_json(r.get("assumeRolePolicy"))
    statements = as_list(doc.get("Statement")) if isinstance(doc, dict) else []
    return [s for s in statements if isinstance(s, dict) and "sts:AssumeRoleWithWebIdentity" in as_list(
        s.get("Action")) and "oidc-provider" in str(dig_principal(s, "Federated"))]


def dig_principal(statement: Mapping[str, Any], kind: str) -> Any:
    principal = statement.get("Principal")
    return principal.get(kind) if isinstance(principal, Mapping) else principal


@resource_rule("irsa-trust-scoped", "IRSA roles trust one service account (sub) and the STS audience (aud)",
               "BPG, CIS 5.2.1", {kinds.IAM_ROLE},
               also=("EKS BPG: IAM - scope the IRSA trust policy to the service account name",))
def irsa_trust_scoped(r: Resource, ctx: Context) -> Verdict:
    statements = _web_identity_statements(r)
    if not statements:
        return not_applicable("not an IRSA role")
    problems = []
    for i, s in enumerate(statements):
        equals = (s.get("Condition") or {}).get("StringEquals") or {}
        sub = [v for k, v in equals.items() if k.endswith(":sub")]
        aud = [v for k, v in equals.items() if k.endswith(":aud")]
        if len(sub) != 1 or not isinstance(sub[0], str) or not SERVICE_ACCOUNT_SUB.match(sub[0]):
            problems.append(f"statement {i}: sub is {sub!r}, not exactly one system:serviceaccount:<ns>:<name>")
        if aud != ["sts.amazonaws.com"]:
            problems.append(f"statement {i}: aud is {aud!r}, not sts.amazonaws.com")
    return failed("; ".join(problems)) if problems else passed(", ".join(
        str(v) for s in statements for k, v in ((s.get("Condition") or {}).get("StringEquals") or {}).items()
        if k.endswith(":sub")))
