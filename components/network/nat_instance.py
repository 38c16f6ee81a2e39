"""One NAT instance instead of a NAT gateway (`network.egress: natInstance`, sandbox/dev only).

A t4g.nano in the first public subnet forwards and masquerades the private subnets' traffic: source/destination
check off (it forwards packets that are not its own), a security group admitting only the private subnets, IMDSv2,
an encrypted root volume, no SSH key (SSM Session Manager through its role), the latest Amazon Linux 2023 for arm64
from AWS's public SSM parameter. The stack's NAT Elastic IP moves to it. It is a single point of egress with no
managed failover: if it stops, the nodes lose image pulls, SQS/STS/KMS and log shipping until it is back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.shared import iam_documents

INSTANCE_TYPE = "t4g.nano"  # 2 vCPU burstable, up to 5 Gbit/s: far above a sandbox's egress
# Ref: https://docs.aws.amazon.com/linux/al2023/ug/ec2.html (AWS's public AMI parameters, ami-amazon-linux-latest)
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
# Ref: https://docs.aws.amazon.com/vpc/latest/userguide/work-with-nat-instances.html (IP forwarding + MASQUERADE)
USER_DATA = """#!/bin/bash
set -euo pipefail
dnf install -y iptables-services
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf
sysctl -p /etc/sysctl.d/90-nat.conf
out=$(ip route show default | awk '{print $5; exit}')
iptables -t nat -A POSTROUTING -o "$out" -j MASQUERADE
iptables -F FORWARD
service iptables save
systemctl enable --now iptables
"""


@dataclass(frozen=True)
class NatInstanceArgs:
    cluster_name: str
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]  # a public subnet
    private_cidrs: tuple[str, ...]  # the only sources it forwards for
    allocation_id: pulumi.Input[str]  # the stack's NAT Elastic IP
    internet_gateway: pulumi.Resource  # an Elastic IP associates only once the VPC has its gateway


class NatInstance(pulumi.ComponentResource):
    """Security group, role, instance and its Elastic IP association."""

    network_interface_id: pulumi.Output[str]

    def __init__(self, name: str, args: NatInstanceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:network:NatInstance", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg", vpc_id=args.vpc_id, description=f"{args.cluster_name} NAT instance: private subnets only",
            ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": list(args.private_cidrs),
                      "description": "traffic from the private subnets to forward"}],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"],
                     "description": "forwarded traffic to the internet"}],
            tags={"Name": f"{args.cluster_name}-nat-instance"}, opts=child)
        role = aws.iam.Role(f"{name}-role", description=f"{args.cluster_name} NAT instance (SSM only)",
                            assume_role_policy=pulumi.Output.json_dumps(
                                iam_documents.service_trust("ec2.amazonaws.com")), opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name,
                                     policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
                                     opts=pulumi.ResourceOptions(parent=role))
        profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=pulumi.ResourceOptions(parent=role))
        ami = aws.ssm.get_parameter_output(name=AMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=self))
        instance = aws.ec2.Instance(
            f"{name}-instance",
            ami=ami.value, instance_type=INSTANCE_TYPE, subnet_id=args.subnet_id,
            vpc_security_group_ids=[group.id], iam_instance_profile=profile.name,
            source_dest_check=False, associate_public_ip_address=False,  # the Elastic IP is attached below
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required",
                              "http_put_response_hop_limit": 1},
            root_block_device={"volume_type": "gp3", "volume_size": 8, "encrypted": True},
            user_data=USER_DATA, user_data_replace_on_change=True, monitoring=False, ebs_optimized=True,
            tags={"Name": f"{args.cluster_name}-nat-instance"},
            # A newer AMI must not replace the running instance on every `pulumi up`: replace it deliberately.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]))
        aws.ec2.EipAssociation(f"{name}-eip", allocation_id=args.allocation_id, instance_id=instance.id,
                               opts=pulumi.ResourceOptions(parent=instance, depends_on=[args.internet_gateway]))
        self.network_interface_id = instance.primary_network_interface_id
        self.register_outputs({"network_interface_id": self.network_interface_id})
