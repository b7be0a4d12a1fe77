"""A small VPC for a site whose members bring no subnet: one subnet per member network.

Way out (packages, SSM, KMS): an internet gateway, and one Elastic IP per member, associated
by the member's stack. Chosen over a NAT gateway because a NAT gateway lives in one zone (the
pair's two members would share its failure) and bills by the hour, while each member with its
own Elastic IP fails alone, keeps a stable egress address for allow-lists, and already has the
public endpoint a cross-region WireGuard tunnel needs. Nothing is reachable from the internet:
the subnets give no public IPs on launch and the members' security groups admit no 0.0.0.0/0.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network

from cdktf import TerraformProvider
from constructs import Construct

from ..model import Member, Role
from .aws_modules import (
    default_security_group,
    eip,
    internet_gateway,
    route,
    route_table,
    route_table_association,
    subnet,
    vpc,
)
from .flow_logs import FlowLogs, FlowLogsProps
from .naming import SiteNames


@dataclass(frozen=True, kw_only=True)
class SiteNetworkProps:
    names: SiteNames
    """Names and tags of the site."""
    members: tuple[Member, ...]
    """The members placed in this VPC (same region, no subnet_id), each with an availability zone."""
    cidr: IPv4Network
    """The VPC's CIDR; holds every member's network."""
    region: str
    partition: str
    account_id: str
    key_arn: str
    """The site's KMS key in this region, for the flow-log group."""
    provider: TerraformProvider


class SiteNetwork(Construct):
    """VPC, locked default security group, flow logs, internet gateway, default route, one
    subnet per member network (a member's network is its subnet), and one EIP per member."""

    vpc: vpc.Vpc
    flow_logs: FlowLogs
    subnets: dict[Role, subnet.Subnet]
    egress_ips: dict[Role, eip.Eip]

    def __init__(self, scope: Construct, id: str, *, props: SiteNetworkProps) -> None:
        super().__init__(scope, id)
        names, provider = props.names, props.provider
        self.vpc = vpc.Vpc(
            self,
            "vpc",
            cidr_block=str(props.cidr),
            # The SSM and KMS endpoints are reached by name.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=names.tags("vpc"),
            provider=provider,
        )
        # Managing the default group with no rules empties it: nothing can use it by accident.
        default_security_group.DefaultSecurityGroup(
            self, "default-sg", vpc_id=self.vpc.id, tags=names.tags("default-deny"), provider=provider
        )
        self.flow_logs = FlowLogs(
            self,
            "flow-logs",
            props=FlowLogsProps(
                names=names,
                vpc_id=self.vpc.id,
                region=props.region,
                partition=props.partition,
                account_id=props.account_id,
                key_arn=props.key_arn,
                provider=provider,
            ),
        )
        gateway = internet_gateway.InternetGateway(
            self, "igw", vpc_id=self.vpc.id, tags=names.tags("igw"), provider=provider
        )
        routes = route_table.RouteTable(
            self, "routes", vpc_id=self.vpc.id, tags=names.tags("routes"), provider=provider
        )
        route.Route(
            self,
            "default-route",
            route_table_id=routes.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            provider=provider,
        )
        self.subnets = {}
        by_network: dict[IPv4Network, subnet.Subnet] = {}
        for member in props.members:
            if member.network in by_network:
                # Both members in one network: one subnet, so one zone (checked below).
                self.subnets[member.role] = by_network[member.network]
                continue
            assert member.placement is not None and member.placement.availability_zone is not None
            net = subnet.Subnet(
                self,
                f"subnet-{member.role.value}",
                vpc_id=self.vpc.id,
                cidr_block=str(member.network),
                availability_zone=member.placement.availability_zone,
                map_public_ip_on_launch=False,
                tags=names.tags(member.role.value),
                provider=provider,
            )
            route_table_association.RouteTableAssociation(
                self, f"routes-{member.role.value}", subnet_id=net.id, route_table_id=routes.id, provider=provider
            )
            by_network[member.network] = self.subnets[member.role] = net
        self.egress_ips = {
            member.role: eip.Eip(
                self,
                f"egress-ip-{member.role.value}",
                domain="vpc",
                tags=names.tags(member.role.value),
                # An EIP in a VPC needs the gateway attached before it can be associated.
                depends_on=[gateway],
                provider=provider,
            )
            for member in props.members
        }

