"""One security group per member, its rules wired one resource each from ``rules.py``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf import TerraformProvider
from constructs import Construct

from ..model import Member, Role, Site
from .aws_modules import security_group, vpc_security_group_egress_rule, vpc_security_group_ingress_rule
from .naming import SiteNames
from .rules import Direction, Rule, is_ipv6, member_rules


@dataclass(frozen=True, kw_only=True)
class DhcpSecurityGroupsProps:
    site: Site
    """The validated site."""
    names: SiteNames
    """Names and tags of the site."""
    vpc_ids: Mapping[Role, str]
    """Each member's VPC."""
    providers: Mapping[Role, TerraformProvider]
    """The provider of each member's region."""
    tunnel_endpoints: Mapping[Role, str] = field(default_factory=dict)
    """WireGuard underlay address per member (its Elastic IP); absent: its fixed private address."""
    instance_connect_groups: Mapping[Role, str] = field(default_factory=dict)
    """Per member, the security group of the Instance Connect Endpoint in its VPC, admitted to
    OMAPI and SSH (``operator_access``). Default: none, no operator way in."""


class MemberSecurityGroup(Construct):
    """``aws_security_group`` without inline rules, plus one rule resource per table entry."""

    group: security_group.SecurityGroup
    rules: tuple[Rule, ...]

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        member: Member,
        rules: tuple[Rule, ...],
        vpc_id: str,
        names: SiteNames,
        provider: TerraformProvider,
    ) -> None:
        super().__init__(scope, id)
        name = names.name(member.role.value)
        self.rules = rules
        self.group = security_group.SecurityGroup(
            self,
            "group",
            name=f"dhcp-failover-{name}",
            description=f"DHCP server {member.name} ({member.role.value}) of site {names.site}",
            vpc_id=vpc_id,
            # Rules are separate resources; inline rules would fight them on every apply.
            tags=names.tags(member.role.value),
            provider=provider,
        )
        wire_rules(self, self.group.id, rules, names=names, name_part=member.role.value, provider=provider)


def wire_rules(
    scope: Construct,
    group_id: str,
    rules: tuple[Rule, ...],
    *,
    names: SiteNames,
    name_part: str,
    provider: TerraformProvider,
) -> None:
    """One ingress or egress rule resource per table entry, with id ``rule.key`` under ``scope``."""
    for rule in rules:
        rule_class = (
            vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule
            if rule.direction is Direction.INGRESS
            else vpc_security_group_egress_rule.VpcSecurityGroupEgressRule
        )
        rule_class(
            scope,
            rule.key,
            security_group_id=group_id,
            ip_protocol=rule.protocol,
            from_port=rule.from_port,
            to_port=rule.to_port,
            cidr_ipv4=rule.cidr if not is_ipv6(rule.cidr) else None,
            cidr_ipv6=rule.cidr if is_ipv6(rule.cidr) else None,
            referenced_security_group_id=rule.peer_group,
            description=rule.description,
            tags=names.tags(name_part, rule.key),
            provider=provider,
        )


class DhcpSecurityGroups(Construct):
    """The pair's security groups: child ids are the member roles (``primary``, ``secondary``)."""

    groups: dict[Role, MemberSecurityGroup]

    def __init__(self, scope: Construct, id: str, *, props: DhcpSecurityGroupsProps) -> None:
        super().__init__(scope, id)
        site = props.site
        self.groups = {
            member.role: MemberSecurityGroup(
                self,
                member.role.value,
                member=member,
                rules=member_rules(
                    site,
                    member,
                    tunnel_endpoints=props.tunnel_endpoints,
                    instance_connect_group=props.instance_connect_groups.get(member.role),
                ),
                vpc_id=props.vpc_ids[member.role],
                names=props.names,
                provider=props.providers[member.role],
            )
            for member in (site.primary, site.secondary)
        }

    def group_id(self, role: Role) -> str:
        return str(self.groups[role].group.id)
