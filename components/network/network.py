"""The VPC every other layer lives in: three tiers of subnets over the stack's availability zones.

Public subnets hold only load balancers and NAT gateways; private subnets hold the nodes (and, through the VPC CNI,
every pod); isolated subnets hold RDS, Amazon MQ and ElastiCache and have no route out of the VPC. The default
security group is emptied so nothing can fall back on it, and every flow is logged to a KMS-encrypted log group.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.network.nat_instance import NatInstance, NatInstanceArgs
from components.shared import iam_documents


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str  # for the kubernetes.io/cluster/<name> discovery tag
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    public_subnet_cidrs: tuple[str, ...]  # one per zone, same order
    private_subnet_cidrs: tuple[str, ...]
    isolated_subnet_cidrs: tuple[str, ...]
    nat_per_az: bool  # one NAT gateway per zone (prod) or a single one
    log_retention_days: int
    logs_key_arn: pulumi.Input[str]  # CMK for the flow-log group
    nat_instance: bool = False  # network.egress natInstance: one NAT instance instead of the gateway(s)


class Network(pulumi.ComponentResource):
    """VPC, subnets, routing, NAT, flow logs and the locked default security group."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    isolated_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mtls-platform:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_tag = f"kubernetes.io/cluster/{args.cluster_name}"

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,  # EKS private endpoint and interface endpoints resolve through VPC DNS
            enable_dns_support=True,
            tags={"Name": f"{args.cluster_name}-vpc"},
            opts=child,
        )
        vpc_opts = pulumi.ResourceOptions(parent=self.vpc)
        # Taking over the default security group with no rules removes all of its ingress and egress (CIS 5.4).
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id,
                                     tags={"Name": f"{args.cluster_name}-default-unused"}, opts=vpc_opts)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=vpc_opts)

        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=self.vpc.id,
                                       routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
                                       tags={"Name": f"{args.cluster_name}-public"}, opts=vpc_opts)
        isolated_rt = aws.ec2.RouteTable(f"{name}-isolated", vpc_id=self.vpc.id,
                                         tags={"Name": f"{args.cluster_name}-isolated"}, opts=vpc_opts)

        zones = args.availability_zones
        # What nodes in the private subnets need before they boot: each zone's route to its NAT gateway (the route is
        # inline in the route table), the table's association with the subnet, and the NAT gateway itself. Without
        # them a node cannot pull images or reach the EKS endpoint, and the node group fails to join.
        # Ref: https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html (private nodes need egress)
        self.private_egress: list[pulumi.Resource] = []
        self._associations: dict[str, aws.ec2.RouteTableAssociation] = {}
        public, private, isolated, private_rts = [], [], [], []
        nat_ids: list[pulumi.Output[str]] = []
        for i, zone in enumerate(zones):
            # Ref: https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html (subnet tags)
            pub = self._subnet(name, "public", zone, args.public_subnet_cidrs[i], public_rt,
                               {"kubernetes.io/role/elb": "1", cluster_tag: "shared"})
            public.append(pub)
            if args.nat_instance and i == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={"Name": f"{args.cluster_name}-nat-{zone}"},
                                  opts=pulumi.ResourceOptions(parent=pub))
                instance = NatInstance(f"{name}-nat", NatInstanceArgs(
                    cluster_name=args.cluster_name, vpc_id=self.vpc.id, subnet_id=pub.id,
                    private_cidrs=args.private_subnet_cidrs, allocation_id=eip.id, internet_gateway=igw,
                ), pulumi.ResourceOptions(parent=pub))
                nat_ids.append(instance.network_interface_id)
                self.private_egress.append(instance)  # its instance and Elastic IP association (the SDK expands)
            elif not args.nat_instance and (args.nat_per_az or i == 0):
                eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags={"Name": f"{args.cluster_name}-nat-{zone}"},
                                  opts=pulumi.ResourceOptions(parent=pub))
                nat = aws.ec2.NatGateway(f"{name}-nat-{zone}", allocation_id=eip.id, subnet_id=pub.id,
                                         tags={"Name": f"{args.cluster_name}-nat-{zone}"},
                                         opts=pulumi.ResourceOptions(parent=pub, depends_on=[igw]))
                nat_ids.append(nat.id)
                self.private_egress.append(nat)
            rt = aws.ec2.RouteTable(f"{name}-private-{zone}", vpc_id=self.vpc.id,
                                    routes=[{"cidr_block": "0.0.0.0/0", "network_interface_id": nat_ids[-1]}
                                            if args.nat_instance else
                                            {"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_ids[-1]}],
                                    tags={"Name": f"{args.cluster_name}-private-{zone}"}, opts=vpc_opts)
            private_rts.append(rt)
            private.append(self._subnet(name, "private", zone, args.private_subnet_cidrs[i], rt,
                                        {"kubernetes.io/role/internal-elb": "1", cluster_tag: "shared"}))
            self.private_egress += [rt, self._associations[f"{name}-private-{zone}"]]
            isolated.append(self._subnet(name, "isolated", zone, args.isolated_subnet_cidrs[i], isolated_rt, {}))

        # S3 through a gateway endpoint: free, keeps image layers and backups off the NAT gateways' per-GB bill.
        aws.ec2.VpcEndpoint(f"{name}-s3", vpc_id=self.vpc.id, service_name=f"com.amazonaws.{_region(zones[0])}.s3",
                            vpc_endpoint_type="Gateway",
                            route_table_ids=[rt.id for rt in [*private_rts, isolated_rt]], opts=vpc_opts)
        self._flow_logs(name, args)

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.isolated_subnet_ids = pulumi.Output.all(*[s.id for s in isolated])
        self.nat_gateway_count = 0 if args.nat_instance else len(nat_ids)
        self.register_outputs({
            "vpc_id": self.vpc_id,
            "public_subnet_ids": self.public_subnet_ids,
            "private_subnet_ids": self.private_subnet_ids,
            "isolated_subnet_ids": self.isolated_subnet_ids,
        })

    def _subnet(self, name: str, tier: str, zone: str, cidr: str, route_table: aws.ec2.RouteTable,
                tags: dict[str, str]) -> aws.ec2.Subnet:
        subnet = aws.ec2.Subnet(
            f"{name}-{tier}-{zone}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            # Not even public subnets hand out public IPs: NAT and load balancers bring their own (CKV_AWS_130).
            map_public_ip_on_launch=False,
            tags={"Name": f"{tier}-{zone}", "tier": tier, **tags},
            opts=pulumi.ResourceOptions(parent=self.vpc),
        )
        self._associations[f"{name}-{tier}-{zone}"] = aws.ec2.RouteTableAssociation(
            f"{name}-{tier}-{zone}", subnet_id=subnet.id, route_table_id=route_table.id,
            opts=pulumi.ResourceOptions(parent=subnet))
        return subnet

    def _flow_logs(self, name: str, args: NetworkArgs) -> None:
        """All traffic, accepted and rejected, into a KMS-encrypted group (CKV2_AWS_11)."""
        opts = pulumi.ResourceOptions(parent=self.vpc)
        group = aws.cloudwatch.LogGroup(f"{name}-flow-logs", name=f"/aws/vpc/{args.cluster_name}/flow-logs",
                                        retention_in_days=args.log_retention_days, kms_key_id=args.logs_key_arn,
                                        opts=opts)
        role = aws.iam.Role(f"{name}-flow-logs",
                            assume_role_policy=pulumi.Output.json_dumps(
                                iam_documents.service_trust("vpc-flow-logs.amazonaws.com")),
                            opts=opts)
        # Ref: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html (actions; scoped to one group)
        aws.iam.RolePolicy(f"{name}-flow-logs", role=role.id, policy=pulumi.Output.json_dumps(iam_documents.document(
            iam_documents.allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                           [pulumi.Output.concat(group.arn, ":*")]))), opts=pulumi.ResourceOptions(parent=role))
        aws.ec2.FlowLog(f"{name}-flow-log", vpc_id=self.vpc.id, traffic_type="ALL", log_destination=group.arn,
                        log_destination_type="cloud-watch-logs", iam_role_arn=role.arn,
                        max_aggregation_interval=60, opts=opts)


def _region(zone: str) -> str:
    return zone[:-1]
