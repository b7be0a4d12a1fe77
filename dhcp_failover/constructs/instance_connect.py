"""The operators' way in (opt-in, ``operator_access: {instance_connect: true}``): an EC2
Instance Connect Endpoint in each VPC that holds members, its security group, and the
least-privilege IAM policy an operator needs to use it.

An Instance Connect Endpoint needs nothing on the member (no agent, no key pair, no public
address): the operator's ``aws ec2-instance-connect open-tunnel`` reaches the endpoint through
the AWS API with IAM credentials, and the endpoint opens TCP to the member from its own network
interface. Why this and not Session Manager: docs/operator-access.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import TerraformProvider
from constructs import Construct

from ..backends.registry import backend_for
from ..instance_connect import MAX_TUNNEL_SECONDS
from ..model import Member, Site
from .aws_modules import ec2_instance_connect_endpoint, security_group
from .naming import SiteNames
from .rules import SSH_PORT, instance_connect_rules
from .security_groups import wire_rules


@dataclass(frozen=True)
class EndpointPlace:
    """One endpoint: the members it reaches (one VPC), and the construct id suffix that names it
    (the region for the construct-made VPC, the VPC id for an existing one)."""

    key: str
    members: tuple[Member, ...]


def endpoint_places(site: Site) -> tuple[EndpointPlace, ...]:
    """One place per VPC holding members, primary's first. AWS allows one endpoint per VPC, and
    one reaches every instance of its VPC, so two members in one VPC share it."""
    places: dict[str, list[Member]] = {}
    for member in (site.primary, site.secondary):
        placement = member.placement
        assert placement is not None, f"member {member.name} has no placement"
        key = placement.vpc_id or placement.region  # construct-made VPCs: one per region
        places.setdefault(key, []).append(member)
    return tuple(EndpointPlace(key, tuple(members)) for key, members in places.items())


@dataclass(frozen=True, kw_only=True)
class InstanceConnectProps:
    site: Site
    """The validated site."""
    names: SiteNames
    place: EndpointPlace
    """Which members this endpoint reaches."""
    vpc_id: str
    subnet_id: str
    """Where the endpoint's interface goes: a subnet of the first member in ``place``."""
    provider: TerraformProvider


class InstanceConnectEndpoint(Construct):
    """``aws_ec2_instance_connect_endpoint`` with its own security group: egress only to the
    members' OMAPI port and SSH, no ingress. ``preserve_client_ip`` is off, so a tunnel reaches
    the member from the endpoint's interface, which the member admits by this group's id."""

    members: tuple[Member, ...]
    group: security_group.SecurityGroup
    endpoint: ec2_instance_connect_endpoint.Ec2InstanceConnectEndpoint

    def __init__(self, scope: Construct, id: str, *, props: InstanceConnectProps) -> None:
        super().__init__(scope, id)
        self.members = props.place.members
        names, provider, site = props.names, props.provider, props.site
        name_part = f"instance-connect-{props.place.key}"
        self.group = security_group.SecurityGroup(
            self,
            "group",
            name=f"dhcp-failover-{names.name(name_part)}",
            description=f"EC2 Instance Connect Endpoint of site {names.site}: OMAPI and SSH to its members only",
            vpc_id=props.vpc_id,
            tags=names.tags(name_part),
            provider=provider,
        )
        wire_rules(
            self,
            self.group.id,
            instance_connect_rules(site, props.place.members),
            names=names,
            name_part=name_part,
            provider=provider,
        )
        self.endpoint = ec2_instance_connect_endpoint.Ec2InstanceConnectEndpoint(
            self,
            "endpoint",
            subnet_id=props.subnet_id,
            security_group_ids=[self.group.id],
            preserve_client_ip=False,
            tags=names.tags(name_part),
            provider=provider,
        )

    @property
    def group_id(self) -> str:
        return str(self.group.id)


def operator_policy(site: Site, *, endpoint_arns: Sequence[str]) -> dict[str, Any]:
    """The IAM policy an operator needs for ``status``/``drill --via instance-connect`` and for
    ``aws ec2-instance-connect ssh`` to a member: tunnels through this site's endpoints to the
    members' addresses on the OMAPI port and SSH only, and the lookups the commands make."""
    members = (site.primary, site.secondary)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TunnelToMembersOmapiAndSsh",
                "Effect": "Allow",
                "Action": "ec2-instance-connect:OpenTunnel",
                "Resource": list(endpoint_arns),
                "Condition": {
                    "NumericEquals": {"ec2-instance-connect:remotePort": [backend_for(site).control_channel(site).port, SSH_PORT]},
                    "IpAddress": {"ec2-instance-connect:privateIpAddress": [f"{m.address}/32" for m in members]},
                    "NumericLessThanEquals": {"ec2-instance-connect:maxTunnelDuration": MAX_TUNNEL_SECONDS},
                },
            },
            {
                # Describe calls take no resource-level permissions.
                "Sid": "FindMembersAndEndpoints",
                "Effect": "Allow",
                "Action": ["ec2:DescribeInstances", "ec2:DescribeInstanceConnectEndpoints"],
                "Resource": "*",
            },
        ],
    }
