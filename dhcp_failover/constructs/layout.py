"""Where a site's pieces go in AWS: regions, construct-made VPCs, and the AWS-only limits.

Pure Python (no cdktf): the app checks these limits before it creates anything, so a site AWS
would refuse fails with one line and nothing written. Everything inventory-level is already
checked by ``checks``; only what AWS itself imposes is here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from ..model import Member, Site

# AWS accepts VPC CIDRs from /16 to /28.
_VPC_PREFIXES = range(16, 29)


@dataclass(frozen=True)
class RegionLayout:
    """The part of a site in one region."""

    region: str
    members: tuple[Member, ...]
    created: tuple[Member, ...]
    """Members in the VPC the construct makes (no subnet_id); empty: no VPC in this region."""
    vpc_cidr: IPv4Network | None
    """CIDR of that VPC, when there is one."""


@dataclass(frozen=True, kw_only=True)
class LocalAwsApi:
    """A local AWS API (moto, LocalStack) that replaces every AWS endpoint.

    The providers then use moto's test credentials and skip what needs real AWS (credential
    validation, account-id lookup, the EC2 metadata API, region validation); terraform finds the
    API itself through $AWS_ENDPOINT_URL. An S3 state backend is pointed at it in its config.
    """

    url: str
    """Base URL of the API, e.g. ``http://127.0.0.1:5000``."""


def partition_of(region: str) -> str:
    """The ARN partition of a region, known at synth time (no ``data aws_partition`` call)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def is_placed(site: Site) -> bool:
    """Whether the site runs in AWS (checks ensures both members have a placement, or none)."""
    return site.placed


def region_of(member: Member) -> str:
    assert member.placement is not None, f"member {member.name} has no placement"
    return member.placement.region


def default_vpc_cidr(members: Sequence[Member]) -> IPv4Network:
    """The smallest network holding every member's network (the model's documented default)."""
    cidr = members[0].network
    while not all(m.network.subnet_of(cidr) for m in members):
        cidr = cidr.supernet()
    return cidr


def site_regions(site: Site) -> tuple[RegionLayout, ...]:
    """One layout per region, the primary's first (its provider is the stack's default)."""
    regions = list(dict.fromkeys(region_of(m) for m in (site.primary, site.secondary)))
    layouts = []
    for region in regions:
        members = tuple(m for m in (site.primary, site.secondary) if region_of(m) == region)
        created = tuple(m for m in members if m.placement is not None and m.placement.subnet_id is None)
        cidr = (site.vpc_cidr or default_vpc_cidr(created)) if created else None
        layouts.append(RegionLayout(region, members, created, cidr))
    return tuple(layouts)


def aws_problems(site: Site) -> Iterator[tuple[str, str]]:
    """What AWS would refuse about a placed site, as (field, message): checked with the
    inventory, because ``terraform apply`` would find it only half-way through a deploy.
    Members in existing subnets are the user's AWS network; only their own fields are known."""
    index = {m.name: i for i, m in enumerate(site.members)}
    for layout in site_regions(site):
        if layout.vpc_cidr is not None and layout.vpc_cidr.prefixlen not in _VPC_PREFIXES:
            yield (
                "vpc_cidr",
                (f"the VPC for its members in {layout.region} would be {layout.vpc_cidr}, but AWS "
                "accepts /16 to /28; set vpc_cidr, or give the members networks closer together"),
            )
        zones: dict[IPv4Network, set[str]] = {}
        for m in layout.created:
            here = f"members[{index[m.name]}]"
            if m.network.prefixlen not in _VPC_PREFIXES:
                yield (
                    f"{here}.network",
                    f"{m.network} would be an AWS subnet, and AWS subnets are /16 to /28; resize the member's network",
                )
            elif m.address in aws_reserved_addresses(m.network):
                yield (
                    f"{here}.address",
                    (f"{m.address} is one of the 5 addresses AWS reserves in subnet {m.network} (the first four and "
                    "the last); pick another"),
                )
            assert m.placement is not None and m.placement.availability_zone is not None
            zones.setdefault(m.network, set()).add(m.placement.availability_zone)
        for net, found in zones.items():
            if len(found) > 1:
                yield (
                    "members",
                    (f"both members are in network {net} but in zones {', '.join(sorted(found))}; "
                    "an AWS subnet lives in one zone: give them separate networks or the same zone"),
                )
        nets = sorted(zones, key=lambda n: (n.network_address, n.prefixlen))
        for a, b in itertools.pairwise(nets):
            if a.overlaps(b):
                yield (
                    "members",
                    (f"member networks {a} and {b} overlap in one VPC ({layout.region}); AWS subnets of a VPC "
                    "must be disjoint: give both members the same network, or disjoint ones"),
                )


def aws_reserved_addresses(subnet: IPv4Network) -> frozenset[IPv4Address]:
    """AWS keeps the first four addresses of every subnet and its last one."""
    first = subnet.network_address
    return frozenset({first, first + 1, first + 2, first + 3, subnet.broadcast_address})
