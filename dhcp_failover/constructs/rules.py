"""The security-group rule table of a DHCP server: what may reach it and what it may reach.

Pure Python (no cdktf): ``DhcpSecurityGroups`` turns each rule into one
``aws_vpc_security_group_ingress_rule`` / ``egress_rule``, and tests and docs read the table
directly. Rules name their peer as a CIDR: peers are fixed addresses from the inventory,
references drift under moto (a perpetual in-place diff), and a cross-region partner has no
group to reference. The one exception is the EC2 Instance Connect Endpoint (opt-in,
``operator_access``): its address is picked by AWS, so members admit it by its security group.

Not in the table because security groups do not filter it: the Amazon DNS resolver, the
instance metadata service and the Amazon Time Sync Service (169.254.169.123).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address

from ..backends.kea import render as kea_render
from ..backends.registry import backend_for
from ..model import Member, Role, Site
from .naming import cidr_slug

ANYWHERE = "0.0.0.0/0"
# IPv6 rules admit single hosts only: never ::/0, nor its halves ::/1 and 8000::/1.
IPV6_HOST_PREFIX = 128
# Security groups never see link-local traffic (metadata, Time Sync), so no rule for it.
_LINK_LOCAL = IPv4Network("169.254.0.0/16")


class Direction(str, enum.Enum):
    INGRESS = "ingress"
    EGRESS = "egress"


@dataclass(frozen=True)
class RuleKind:
    """One row of the named table. ``port`` None: the port comes from the site (failover,
    OMAPI, WireGuard). For ICMP, ``port`` is the ICMP type and ``icmp_code`` its code."""

    direction: Direction
    protocol: str
    port: int | None
    description: str  # why the rule exists; "{peer}" is replaced by who is on the other side
    icmp_code: int | None = None


IN, OUT = Direction.INGRESS, Direction.EGRESS

# The table. Keys are API: with the peer's label appended they become construct ids (and so
# Terraform addresses) and the rules' Name tags.
RULE_KINDS: Mapping[str, RuleKind] = {
    "dhcp-udp-67-from-relay": RuleKind(IN, "udp", 67, "DHCP requests forwarded by relay {peer}"),
    "dhcp-udp-67-from-clients": RuleKind(IN, "udp", 67, "DHCP renewals unicast by clients in {peer}"),
    "dhcp-udp-67-to-giaddr": RuleKind(OUT, "udp", 67, "DHCP replies to the relay agent at giaddr {peer}"),
    "dhcp-udp-68-to-clients": RuleKind(OUT, "udp", 68, "DHCP replies unicast to renewing clients in {peer}"),
    "icmp-echo-to-clients": RuleKind(OUT, "icmp", 8, "ping-check of an address before offering it in {peer}", 0),
    "failover-tcp-from-partner": RuleKind(IN, "tcp", None, "failover dialogue from the partner at {peer}"),
    "failover-tcp-to-partner": RuleKind(OUT, "tcp", None, "failover dialogue to the partner at {peer}"),
    "wireguard-udp-from-partner": RuleKind(IN, "udp", None, "WireGuard tunnel from {peer}"),
    "wireguard-udp-to-partner": RuleKind(OUT, "udp", None, "WireGuard tunnel to {peer}"),
    "omapi-tcp-from-admins": RuleKind(IN, "tcp", None, "OMAPI from admin network {peer}"),
    "kea-control-tcp-from-partner": RuleKind(IN, "tcp", None, "Kea HA heartbeats and lease updates from the partner at {peer}"),
    "kea-control-tcp-to-partner": RuleKind(OUT, "tcp", None, "Kea HA heartbeats and lease updates to the partner at {peer}"),
    "kea-control-tcp-from-admins": RuleKind(IN, "tcp", None, "Kea control agent from admin network {peer}"),
    "kea6-control-tcp-from-partner": RuleKind(
        IN, "tcp", None, "Kea DHCPv6 HA heartbeats and lease updates from the partner at {peer}"
    ),
    "kea6-control-tcp-to-partner": RuleKind(
        OUT, "tcp", None, "Kea DHCPv6 HA heartbeats and lease updates to the partner at {peer}"
    ),
    "kea6-control-tcp-from-admins": RuleKind(IN, "tcp", None, "kea-dhcp6 HTTP control socket from admin network {peer}"),
    "dhcpv6-udp-547-from-relay": RuleKind(IN, "udp", 547, "DHCPv6 requests forwarded by relay {peer}"),
    "dhcpv6-udp-547-to-relay": RuleKind(OUT, "udp", 547, "DHCPv6 replies to relay {peer}"),
    "ntp-udp-123-to-server": RuleKind(OUT, "udp", 123, "clock synchronization with {peer}"),
    "dns-udp-53-to-ddns-server": RuleKind(OUT, "udp", 53, "dynamic DNS updates (TSIG-signed) to {peer}"),
    "dns-tcp-53-to-ddns-server": RuleKind(OUT, "tcp", 53, "dynamic DNS updates too large for UDP to {peer}"),
    "https-tcp-443-to-any": RuleKind(OUT, "tcp", 443, "SSM Parameter Store, KMS and package mirrors over HTTPS"),
    "omapi-tcp-from-instance-connect": RuleKind(IN, "tcp", None, "OMAPI tunnelled by operators through {peer}"),
    "ssh-tcp-22-from-instance-connect": RuleKind(IN, "tcp", 22, "SSH tunnelled by operators through {peer}"),
}

# The Instance Connect Endpoint's own group: egress only, to the members' OMAPI and SSH.
INSTANCE_CONNECT_RULE_KINDS: Mapping[str, RuleKind] = {
    "omapi-tcp-to-member": RuleKind(OUT, "tcp", None, "operator tunnel to the OMAPI of {peer}"),
    "ssh-tcp-22-to-member": RuleKind(OUT, "tcp", 22, "operator tunnel to SSH on {peer}"),
}
SSH_PORT = 22


@dataclass(frozen=True)
class Rule:
    """One security-group rule of one member, ready to wire."""

    key: str  # construct id and Name-tag suffix: "<kind>" or "<kind>-<peer label>"
    kind: str
    cidr: str | None  # may hold an unresolved token (a partner's Elastic IP) followed by "/32"
    from_port: int
    to_port: int
    description: str
    peer_group: str | None = None
    """The peer as a security-group id (a token) instead of ``cidr``."""

    @property
    def direction(self) -> Direction:
        return _kind_of(self.kind).direction

    @property
    def protocol(self) -> str:
        return _kind_of(self.kind).protocol


def _kind_of(kind: str) -> RuleKind:
    return RULE_KINDS[kind] if kind in RULE_KINDS else INSTANCE_CONNECT_RULE_KINDS[kind]


def _rule(
    kind: str, cidr: str | None, *, label: str | None, peer: str, port: int | None = None, peer_group: str | None = None
) -> Rule:
    spec = _kind_of(kind)
    if spec.protocol == "icmp":
        from_port, to_port = spec.port, spec.icmp_code
    else:
        from_port = to_port = spec.port if spec.port is not None else port
    assert from_port is not None and to_port is not None, f"{kind} needs a port"
    return Rule(
        key=kind if label is None else f"{kind}-{label}",
        kind=kind,
        cidr=cidr,
        from_port=from_port,
        to_port=to_port,
        description=spec.description.format(peer=peer),
        peer_group=peer_group,
    )


def _host(address: IPv4Address) -> str:
    return f"{address}/32"


def is_ipv6(cidr: str | None) -> bool:
    """Whether a rule's peer is an IPv6 network (a token, such as a partner's Elastic IP, is IPv4)."""
    return cidr is not None and ":" in cidr


def _host6(address: IPv6Address) -> str:
    return f"{address}/{IPV6_HOST_PREFIX}"


def member_rules(
    site: Site,
    member: Member,
    *,
    tunnel_endpoints: Mapping[Role, str] | None = None,
    instance_connect_group: str | None = None,
) -> tuple[Rule, ...]:
    """Every rule of ``member``'s security group, in a stable order, without duplicates.

    ``tunnel_endpoints``: each member's underlay address for WireGuard (an Elastic IP, maybe a
    token); a member missing from it is reached at its fixed private address.
    ``instance_connect_group``: the security group of the Instance Connect Endpoint in the
    member's VPC (operator_access); the member admits OMAPI and SSH from it and nothing else.
    """
    rules: dict[str, Rule] = {}
    for rule in _member_rules(site, member, tunnel_endpoints or {}):
        rules.setdefault(rule.key, rule)
    if instance_connect_group is not None:
        peer = "the EC2 Instance Connect Endpoint"
        control_port = backend_for(site).control_channel(site).port
        for kind, port in (("omapi-tcp-from-instance-connect", control_port), ("ssh-tcp-22-from-instance-connect", None)):
            rules[kind] = _rule(kind, None, label=None, peer=peer, port=port, peer_group=instance_connect_group)
    return tuple(rules.values())


def instance_connect_rules(site: Site, members: tuple[Member, ...]) -> tuple[Rule, ...]:
    """The Instance Connect Endpoint's group: egress to each member's OMAPI port and SSH, to
    its fixed address only. No ingress: operators come in through the AWS API, not the VPC."""
    control_port = backend_for(site).control_channel(site).port
    return tuple(
        _rule(kind, _host(m.address), label=m.role.value, peer=f"{m.name} {m.address}", port=port)
        for m in members
        for kind, port in (("omapi-tcp-to-member", control_port), ("ssh-tcp-22-to-member", None))
    )


def _member_rules(site: Site, member: Member, endpoints: Mapping[Role, str]) -> Iterator[Rule]:
    for relay in site.relays:
        yield _rule("dhcp-udp-67-from-relay", _host(relay.source_address), label=relay.name, peer=relay.name)
    for subnet in site.subnets:
        net = str(subnet.network)
        yield _rule("dhcp-udp-67-from-clients", net, label=cidr_slug(net), peer=net)
    for giaddr in sorted({served.giaddr for relay in site.relays for served in relay.serves}):
        yield _rule("dhcp-udp-67-to-giaddr", _host(giaddr), label=cidr_slug(giaddr), peer=str(giaddr))
    for subnet in site.subnets:
        net = str(subnet.network)
        yield _rule("dhcp-udp-68-to-clients", net, label=cidr_slug(net), peer=net)
        if site.ping_check:
            yield _rule("icmp-echo-to-clients", net, label=cidr_slug(net), peer=net)
    yield from _dhcpv6_rules(site)
    yield from _kea6_control_rules(site, member)
    yield from _partner_rules(site, member, endpoints)
    channel = backend_for(site).control_channel(site)
    for admins in channel.admin_networks:
        yield _rule(channel.admins_rule, str(admins), label=cidr_slug(admins), peer=str(admins), port=channel.port)
    yield from _ntp_rules(site)
    yield from _ddns_rules(site)
    yield _rule("https-tcp-443-to-any", ANYWHERE, label=None, peer="anywhere")


def _dhcpv6_rules(site: Site) -> Iterator[Rule]:
    """A dual-stack site: DHCPv6 from and back to each relay's IPv6 source address. On Kea 2.2 the
    v6 HA relationship needs no row of its own: it goes through the Control Agent, like DHCPv4's
    (on Kea 3.0: _kea6_control_rules)."""
    if site.dhcpv6 is None:
        return
    for relay in site.dhcpv6.relays:
        cidr = _host6(relay.source_address)
        yield _rule("dhcpv6-udp-547-from-relay", cidr, label=relay.name, peer=f"{relay.name} {relay.source_address}")
        yield _rule("dhcpv6-udp-547-to-relay", cidr, label=relay.name, peer=f"{relay.name} {relay.source_address}")


def _kea6_control_rules(site: Site, member: Member) -> Iterator[Rule]:
    """A dual-stack site on Kea 3.0 (no Control Agent): kea-dhcp6's own control port, exactly from
    and to the partner (unless the tunnel carries it, as kea-dhcp4's) and from the admin networks."""
    port = kea_render.control_port6(site)
    if port is None:
        return
    if site.wireguard is None:
        cidr = _host(site.partner_of(member).address)
        yield _rule("kea6-control-tcp-from-partner", cidr, label=None, peer=cidr, port=port)
        yield _rule("kea6-control-tcp-to-partner", cidr, label=None, peer=cidr, port=port)
    for admins in site.kea.admin_networks:
        yield _rule("kea6-control-tcp-from-admins", str(admins), label=cidr_slug(admins), peer=str(admins), port=port)


def _partner_rules(site: Site, member: Member, endpoints: Mapping[Role, str]) -> Iterator[Rule]:
    partner = site.partner_of(member)
    if site.wireguard is None:
        link = backend_for(site).partner_link(site, member)
        cidr = _host(partner.address)
        yield _rule(link.from_partner_rule, cidr, label=None, peer=cidr, port=link.listen_port)
        yield _rule(link.to_partner_rule, cidr, label=None, peer=cidr, port=link.partner_port)
        return
    # With a tunnel the failover (or Kea control) ports are never reachable on the underlay:
    # only WireGuard is.
    endpoint = endpoints.get(partner.role)
    cidr = f"{endpoint}/32" if endpoint is not None else _host(partner.address)
    peer = f"the tunnel endpoint of {partner.name}"
    port = site.wireguard.listen_port
    yield _rule("wireguard-udp-from-partner", cidr, label=None, peer=peer, port=port)
    yield _rule("wireguard-udp-to-partner", cidr, label=None, peer=peer, port=port)


def _ntp_rules(site: Site) -> Iterator[Rule]:
    for server in site.clock.ntp_servers:
        address = _as_address(server)
        if address is None:
            # A name resolves to addresses we cannot know at synth time (pool.ntp.org rotates).
            name = str(server)
            yield _rule("ntp-udp-123-to-server", ANYWHERE, label=name.replace(".", "-"), peer=name)
        elif address not in _LINK_LOCAL:
            yield _rule("ntp-udp-123-to-server", _host(address), label=cidr_slug(address), peer=str(address))


def _ddns_rules(site: Site) -> Iterator[Rule]:
    if site.ddns is None:
        return
    for server in site.ddns.zone_servers():
        yield _rule("dns-udp-53-to-ddns-server", _host(server), label=cidr_slug(server), peer=str(server))
        yield _rule("dns-tcp-53-to-ddns-server", _host(server), label=cidr_slug(server), peer=str(server))


def _as_address(server: IPv4Address | str) -> IPv4Address | None:
    # The model keeps an address given in YAML as text (it also fits the domain-name type).
    if isinstance(server, IPv4Address):
        return server
    try:
        return IPv4Address(server)
    except ValueError:
        return None
