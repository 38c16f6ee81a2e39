"""The EKS control plane, its node pools, the IRSA plumbing and the one Kubernetes provider every later layer uses.

Access is API-mode access entries only (no aws-auth ConfigMap): an admin role with cluster-admin, and a DevOps role
mapped to the `platform-devops` Kubernetes group, which the mesh layer binds to the system namespaces. Kubernetes
secrets are envelope-encrypted with a customer key, all five control-plane log types land in a KMS-encrypted log
group created before the cluster (so EKS does not create an unencrypted one), and the VPC CNI enforces
NetworkPolicies.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.cluster.cluster_autoscaler import ClusterAutoscaler, ClusterAutoscalerArgs
from components.cluster.cluster_autoscaler_values import ClusterAutoscalerValuesArgs
from components.cluster.node_pool import NodePool, NodePoolArgs
from components.network.network import Network
from components.shared import iam_documents
from components.shared.aws_context import AwsContext
from components.shared.encryption_keys import EncryptionKeys
from config.model import AutoscalerSettings, NodePoolShape
from config.schema import key

CONTROL_PLANE_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
DEVOPS_GROUP = "platform-devops"
# Ref: https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_MANAGED_POLICIES = {
    "worker": "AmazonEKSWorkerNodePolicy",
    "cni": "AmazonEKS_CNI_Policy",
    "ecr": "AmazonEC2ContainerRegistryReadOnly",
    "ssm": "AmazonSSMManagedInstanceCore",  # Session Manager replaces SSH (CKV_AWS_100)
}


@dataclass(frozen=True)
class ClusterArgs:
    aws_context: AwsContext
    network: Network
    keys: EncryptionKeys
    cluster_name: str
    kubernetes_version: str
    kubernetes_service_cidr: str
    endpoint_public_access: bool
    public_access_cidrs: tuple[str, ...]  # only used with a public endpoint
    admin_principal_arns: tuple[str, ...]  # who may assume the admin role (empty: the account decides via IAM)
    devops_principal_arns: tuple[str, ...]
    system_pool: NodePoolShape
    spot_pool: NodePoolShape | None
    log_retention_days: int
    protect: bool
    region: str = ""  # the autoscaler's AWS region
    autoscaler: AutoscalerSettings | None = None  # None: Cluster Autoscaler is not installed
    ha: bool = False  # two autoscaler replicas (leader election) in HA environments


class Cluster(pulumi.ComponentResource):
    """EKS cluster + node pools + IRSA helpers + Kubernetes provider."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:cluster:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.aws_context
        self.aws_context = ctx
        self.cluster_name_literal = args.cluster_name
        root = [ctx.arn("iam", "root", regional=False)]
        for role, k, arns in (("admin", key("cluster.adminPrincipalArns"), args.admin_principal_arns),
                              ("devops", key("cluster.devopsPrincipalArns"), args.devops_principal_arns)):
            if not arns:  # only sandbox/dev get here: the config rules require the list in staging/prod
                pulumi.log.warn(f"{k} is not set: any principal of the account that IAM allows sts:AssumeRole may "
                                f"assume the {role} role (set the list to restrict it)")

        self.admin_role = aws.iam.Role(f"{name}-admin", description=f"{args.cluster_name} break-glass cluster admin",
                                       assume_role_policy=pulumi.Output.json_dumps(
                                           iam_documents.account_trust(list(args.admin_principal_arns) or root)),
                                       max_session_duration=3600, opts=child)
        self.devops_role = aws.iam.Role(f"{name}-devops", description=f"{args.cluster_name} platform operators",
                                        assume_role_policy=pulumi.Output.json_dumps(
                                            iam_documents.account_trust(list(args.devops_principal_arns) or root)),
                                        max_session_duration=3600, opts=child)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane",
            # EKS writes to exactly this name; creating it first is how it gets a key and a retention.
            # Ref: https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.keys.logs.arn,
            opts=child,
        )
        self.control_plane_log_group = log_group  # the audit log's group: metric filters hang off it
        keep = pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[log_group])
        self.eks = eks.Cluster(
            f"{name}-eks",
            name=args.cluster_name,
            version=args.kubernetes_version,
            # Standard support: extended support bills $0.60/h instead of $0.10/h (CKV_AWS_339).
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            vpc_id=args.network.vpc_id,
            private_subnet_ids=args.network.private_subnet_ids,
            node_associate_public_ip_address=False,
            skip_default_node_group=True,
            skip_default_security_groups=True,  # managed node groups use the EKS cluster security group
            endpoint_private_access=True,
            endpoint_public_access=args.endpoint_public_access,
            public_access_cidrs=list(args.public_access_cidrs) if args.endpoint_public_access else None,
            kubernetes_service_ip_address_range=args.kubernetes_service_cidr,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries={
                "admin": eks.AccessEntryArgs(
                    principal_arn=self.admin_role.arn,
                    access_policies={"cluster-admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=CLUSTER_ADMIN_POLICY,
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"))},
                ),
                # No EKS access policy: the mesh layer binds this group with RBAC in the system namespaces only.
                "devops": eks.AccessEntryArgs(principal_arn=self.devops_role.arn, kubernetes_groups=[DEVOPS_GROUP]),
            },
            create_oidc_provider=True,
            encryption_config_key_arn=args.keys.eks.arn,
            enabled_cluster_log_types=CONTROL_PLANE_LOG_TYPES,
            # Ref: https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html
            vpc_cni_options=eks.VpcCniOptionsArgs(enable_network_policy=True),
            deletion_protection=args.protect,
            opts=keep,
        )
        # Resolves to the name only once the control plane (and its access entries) exist.
        self.cluster_name = self.eks.oidc_provider_arn.apply(lambda _: args.cluster_name)
        self.oidc_provider_arn = self.eks.oidc_provider_arn
        self.oidc_issuer = self.eks.oidc_issuer
        self.security_group_id = self.eks.cluster_security_group_id

        self.node_role = aws.iam.Role(f"{name}-node", description=f"{args.cluster_name} managed nodes",
                                      assume_role_policy=pulumi.Output.json_dumps(
                                          iam_documents.service_trust("ec2.amazonaws.com")), opts=child)
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-node-{short}", role=self.node_role.name,
                                         policy_arn=f"arn:{ctx.partition}:iam::aws:policy/{policy}",
                                         opts=pulumi.ResourceOptions(parent=self.node_role))
            for short, policy in NODE_MANAGED_POLICIES.items()
        ]
        pools = {"system": args.system_pool, **({"spot": args.spot_pool} if args.spot_pool else {})}
        self.node_pools = [
            NodePool(f"{name}-{pool}", NodePoolArgs(
                cluster_name=self.cluster_name, cluster_name_literal=args.cluster_name,
                node_role_arn=self.node_role.arn, subnet_ids=args.network.private_subnet_ids, shape=shape,
                kubernetes_version=args.kubernetes_version, labels={"platform/pool": pool},
                node_group_depends_on=[*attachments, *args.network.private_egress], spot_taint=pool == "spot",
            ), pulumi.ResourceOptions(parent=self))
            for pool, shape in pools.items()
        ]
        self.autoscaler_role, autoscaler_policy = self._autoscaler_role(name)
        self.ebs_csi_role = self.irsa_role(f"{name}-ebs-csi", "kube-system", "ebs-csi-controller-sa")
        aws.iam.RolePolicyAttachment(f"{name}-ebs-csi", role=self.ebs_csi_role.name,
                                     policy_arn=f"arn:{ctx.partition}:iam::aws:policy/service-role/"
                                                "AmazonEBSCSIDriverPolicy",
                                     opts=pulumi.ResourceOptions(parent=self.ebs_csi_role))
        # Volumes are encrypted with the customer data key: the driver creates grants for EC2 to use it.
        # Ref: https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html (KMS key for encryption)
        aws.iam.RolePolicy(f"{name}-ebs-csi-kms", role=self.ebs_csi_role.id,
                           policy=pulumi.Output.json_dumps(iam_documents.document(
                               iam_documents.allow(["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                                              [args.keys.data.arn], sid="GrantsForAwsResources")
                               | {"Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
                               iam_documents.allow(["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*",
                                               "kms:GenerateDataKey*", "kms:DescribeKey"],
                                              [args.keys.data.arn], sid="UseDataKey"))),
                           opts=pulumi.ResourceOptions(parent=self.ebs_csi_role))
        # Vault's raft volumes (mesh layer) are EBS gp3: the CSI driver is an AWS-side prerequisite.
        self.ebs_csi_addon = aws.eks.Addon(
            f"{name}-ebs-csi", cluster_name=self.cluster_name, addon_name="aws-ebs-csi-driver",
            service_account_role_arn=self.ebs_csi_role.arn, resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[p.node_group for p in self.node_pools]))

        # What a chart's pods need before they can schedule (releases wait for ready pods).
        self.nodes_ready: list[pulumi.Resource] = [p.node_group for p in self.node_pools]
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(self.eks.kubeconfig_json)
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=self.kubeconfig, enable_server_side_apply=True,
                                     delete_unreachable=False, opts=child)
        if args.autoscaler is not None:
            settings = args.autoscaler
            # The role ARN reaches the chart only once its policy is attached (publish "ready" outputs).
            role_arn = pulumi.Output.all(self.autoscaler_role.arn, autoscaler_policy.id).apply(lambda v: str(v[0]))
            self.cluster_autoscaler: ClusterAutoscaler | None = ClusterAutoscaler(
                f"{name}-autoscaler", ClusterAutoscalerArgs(
                    values=ClusterAutoscalerValuesArgs(
                        cluster_name=args.cluster_name, region=args.region, role_arn=role_arn, ha=args.ha,
                        pool_patterns={pool: f".*{name}-{pool}-ng-.*" for pool in pools},
                        scale_down_utilization=settings.scale_down_utilization,
                        scale_down_unneeded_minutes=settings.scale_down_unneeded_minutes,
                        expander=settings.expander),
                    depends_on=self.nodes_ready),
                pulumi.ResourceOptions(parent=self, providers=[self.provider]))
        else:
            self.cluster_autoscaler = None
        self.register_outputs({
            "cluster_name": self.cluster_name,
            "oidc_provider_arn": self.oidc_provider_arn,
            "admin_role_arn": self.admin_role.arn,
            "devops_role_arn": self.devops_role.arn,
            "autoscaler_role_arn": self.autoscaler_role.arn,
        })

    def irsa_role(self, name: str, namespace: str, service_account: str,
                  parent: pulumi.Resource | None = None) -> aws.iam.Role:
        """A role only `namespace/service_account` of this cluster can assume (CIS 5.2.1: one role per workload)."""
        trust = iam_documents.irsa_trust(self.oidc_provider_arn, self.oidc_issuer, namespace, service_account)
        return aws.iam.Role(name, description=f"IRSA for {namespace}/{service_account}",
                            assume_role_policy=pulumi.Output.json_dumps(trust),
                            opts=pulumi.ResourceOptions(parent=parent or self))

    def _autoscaler_role(self, name: str) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """IRSA role for Cluster Autoscaler: it may resize only this cluster's node groups (tag condition)."""
        # Ref: https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
        role = self.irsa_role(f"{name}-autoscaler", "kube-system", "cluster-autoscaler")
        describe = ["autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup"]
        resize = iam_documents.allow(
            ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"], ["*"],
            sid="ResizeOwnGroupsOnly")
        resize["Condition"] = {"StringEquals": {
            f"aws:ResourceTag/k8s.io/cluster-autoscaler/{self.cluster_name_literal}": "owned"}}
        policy = aws.iam.RolePolicy(f"{name}-autoscaler", role=role.id,
                                    policy=pulumi.Output.json_dumps(iam_documents.document(
                                        iam_documents.allow(describe, ["*"], sid="Discover"), resize)),
                                    opts=pulumi.ResourceOptions(parent=role))
        return role, policy
