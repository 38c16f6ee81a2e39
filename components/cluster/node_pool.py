"""One EKS managed node group with a hardened launch template.

The launch template is where the node hardening lives: IMDSv2 only with a hop limit of 1 (pods cannot borrow the
node's IAM role; they get their own through IRSA), an encrypted gp3 root volume, no SSH key (SSM Session Manager
instead). Nodes sit in the private subnets, so no public IP exists to assign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from config.model import NodePoolShape

# Spot nodes run only what tolerates this taint: non-critical services that can lose a node on a 2-minute notice.
SPOT_TAINT = aws.eks.NodeGroupTaintArgs(key="capacity", value="spot", effect="NO_SCHEDULE")


@dataclass(frozen=True)
class NodePoolArgs:
    cluster_name: pulumi.Input[str]  # resolves once the control plane exists, so the group waits for it
    cluster_name_literal: str  # for tags, which must be known strings
    node_role_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]  # private subnets, one per zone
    shape: NodePoolShape
    kubernetes_version: str
    labels: dict[str, str]
    # The node role's policy attachments and the private subnets' egress (route to the NAT gateway, its
    # association, the gateway): a node that boots without them never becomes Ready. Only the node group waits for
    # them (the launch template need not).
    node_group_depends_on: Sequence[pulumi.Resource] = ()
    # Only the spot pool is tainted: a system pool bought as spot (sandbox/dev) must still run the platform.
    spot_taint: bool = True


class NodePool(pulumi.ComponentResource):
    """Launch template + managed node group."""

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:cluster:NodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        shape = args.shape
        spot = shape.capacity_type == "SPOT" and args.spot_taint

        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"{args.cluster_name_literal} {name} nodes",
            # Ref: https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html
            # ("Restrict access to the instance profile assigned to the worker node": IMDSv2, hop limit 1)
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[{
                "device_name": "/dev/xvda",
                "ebs": {"volume_size": shape.disk_size_gb, "volume_type": "gp3", "encrypted": "true",
                        "delete_on_termination": "true"},
            }],
            tag_specifications=[{"resource_type": "instance", "tags": {"Name": f"{args.cluster_name_literal}-{name}"}}],
            update_default_version=True,
            opts=child,
        )
        # Cluster Autoscaler reads these from the ASG to scale a tainted/labelled pool up from zero.
        # Ref: https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
        template_tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in args.labels.items()}
        if spot:
            template_tags["k8s.io/cluster-autoscaler/node-template/taint/capacity"] = "spot:NoSchedule"
        self.node_group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=args.cluster_name,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            version=args.kubernetes_version,
            capacity_type=shape.capacity_type,
            instance_types=list(shape.instance_types),
            scaling_config={"min_size": shape.min_size, "desired_size": shape.desired_size,
                            "max_size": shape.max_size},
            update_config={"max_unavailable_percentage": 33},  # one zone's worth at a time during upgrades
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            labels=args.labels,
            taints=[SPOT_TAINT] if spot else [],
            tags={**template_tags, f"k8s.io/cluster-autoscaler/{args.cluster_name_literal}": "owned",
                  "k8s.io/cluster-autoscaler/enabled": "true"},
            # The autoscaler owns the live size once running; Pulumi keeps min/max.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"],
                                        depends_on=list(args.node_group_depends_on)),
        )
        self.name = self.node_group.node_group_name
        self.register_outputs({"node_group": self.node_group.node_group_name})
