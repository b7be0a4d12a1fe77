"""A picture of each site: client subnets behind their relays, the two members with their
regions and zones, the failover link (or its WireGuard tunnel), and who may reach OMAPI; a
dual-stack site shows both address families.

Written as Mermaid (GitHub and most Markdown viewers draw it) and as Graphviz DOT, which
``dot`` (Debian's graphviz) renders to SVG where it is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .backends.kea import render as kea_render
from .backends.registry import backend_for
from .model import Member, ServerKind, Site


@dataclass(frozen=True)
class Node:
    id: str
    label: list[str]
    group: str | None = None  # "region/zone", or "clients"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    dashed: bool = False
    both_ways: bool = False


def _member_id(member: Member) -> str:
    return f"m_{member.role.value}"


def _place(member: Member) -> str | None:
    p = member.placement
    if p is None:
        return None
    return f"{p.region} / {p.availability_zone or p.subnet_id}"


def graph(site: Site) -> tuple[list[Node], list[Edge]]:
    nodes: list[Node] = []
    edges: list[Edge] = []
    subnet_ids = {s.network: f"s{i}" for i, s in enumerate(site.subnets)}
    for subnet in site.subnets:
        label = [str(subnet.network)]
        if subnet.pools:
            label.append(f"{len(subnet.pools)} pool(s)")
        nodes.append(Node(subnet_ids[subnet.network], label, "clients"))
    v6 = site.dhcpv6
    # A dual-stack site: its IPv6 subnets, each member's and relay's IPv6 address, the v6 hops.
    subnet6_ids = {s.network: f"s6_{i}" for i, s in enumerate(v6.subnets)} if v6 else {}
    for subnet6 in v6.subnets if v6 else ():
        label = [str(subnet6.network)] + [f"{n} {what}" for n, what in (
            (len(subnet6.pools), "pool(s)"), (len(subnet6.pd_pools), "prefix pool(s)")) if n]
        nodes.append(Node(subnet6_ids[subnet6.network], label, "clients"))
    for member in (site.primary, site.secondary):
        # ISC's failover port; a Kea pair talks on its control port, named on the link.
        port = f":{member.failover_port}" if site.wireguard is None and site.server is ServerKind.ISC else ""
        label = [f"{member.role.value} {member.name}", f"{member.address}{port}"]
        if v6 is not None:
            label.append(str(v6.address_of(member.name)))
        nodes.append(Node(_member_id(member), label, _place(member)))
    relays6 = {r.name: r for r in v6.relays} if v6 else {}
    for i, relay in enumerate(site.relays):
        relay_id = f"r{i}"
        relay6 = relays6.get(relay.name)
        nodes.append(Node(relay_id, [f"relay {relay.name}", str(relay.source_address)]
                          + ([str(relay6.source_address)] if relay6 else [])))
        for served in relay.serves:
            edges.append(Edge(subnet_ids[served.subnet], relay_id, f"{served.interface} / giaddr {served.giaddr}"))
        for member in (site.primary, site.secondary):
            edges.append(Edge(relay_id, _member_id(member), "DHCP udp/67"))
        for served6 in relay6.serves if relay6 else ():
            edges.append(Edge(subnet6_ids[served6.subnet], relay_id, f"{served6.interface} / link {served6.link_address}"))
        for member in (site.primary, site.secondary) if relay6 else ():
            edges.append(Edge(relay_id, _member_id(member), "DHCPv6 udp/547"))
    primary, secondary = _member_id(site.primary), _member_id(site.secondary)
    channel = backend_for(site).control_channel(site)
    families = " (v4 and v6)" if v6 is not None else ""
    # Kea 3.0 dual-stack: kea-dhcp6 answers on a port of its own (no Control Agent forwards to it).
    port6 = kea_render.control_port6(site) if site.server is ServerKind.KEA else None
    ports = f"tcp/{channel.port}" + (f", kea-dhcp6 tcp/{port6}" if port6 is not None else "")
    link = "failover" if site.server is ServerKind.ISC else f"Kea HA{families} ({channel.label} {ports})"
    if site.wireguard is None:
        edges.append(Edge(primary, secondary, "failover tcp" if site.server is ServerKind.ISC else link, both_ways=True))
    else:
        wg = site.wireguard
        edges.append(Edge(primary, secondary, f"{link} over WireGuard {wg.network} (udp/{wg.listen_port})", both_ways=True))
    admins = site.omapi.admin_networks if site.server is ServerKind.ISC else site.kea.admin_networks
    admin_label = "OMAPI" if site.server is ServerKind.ISC else channel.label
    for i, net in enumerate(admins):
        nodes.append(Node(f"a{i}", [f"admins {net}"]))
        for member in (site.primary, site.secondary):
            edges.append(Edge(f"a{i}", _member_id(member), f"{admin_label} {ports}", dashed=True))
    return nodes, edges


def _groups(nodes: list[Node]) -> dict[str | None, list[Node]]:
    grouped: dict[str | None, list[Node]] = {}
    for node in nodes:
        grouped.setdefault(node.group, []).append(node)
    return grouped


def mermaid(site: Site) -> str:
    nodes, edges = graph(site)
    lines = ["flowchart LR", f"  %% site {site.name}"]
    for index, (group, members) in enumerate(_groups(nodes).items()):
        indent = "  "
        if group is not None:
            lines.append(f'  subgraph g{index}["{group}"]')
            indent = "    "
        lines += [f'{indent}{n.id}["{"<br>".join(n.label)}"]' for n in members]
        if group is not None:
            lines.append("  end")
    for e in edges:
        arrow = "<-.->" if e.dashed and e.both_ways else "-.->" if e.dashed else "<-->" if e.both_ways else "-->"
        lines.append(f'  {e.source} {arrow}|"{e.label}"| {e.target}')
    return "\n".join(lines) + "\n"


def dot(site: Site) -> str:
    nodes, edges = graph(site)
    lines = [f'digraph "{site.name}" {{', "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for index, (group, members) in enumerate(_groups(nodes).items()):
        indent = "  "
        if group is not None:
            lines += [f"  subgraph cluster_{index} {{", f'    label="{group}";']
            indent = "    "
        lines += [f'{indent}{n.id} [label="{_dot_label(n.label)}"];' for n in members]
        if group is not None:
            lines.append("  }")
    for e in edges:
        style = [f'label="{e.label}"'] + (["style=dashed"] if e.dashed else []) + (["dir=both"] if e.both_ways else [])
        lines.append(f"  {e.source} -> {e.target} [{', '.join(style)}];")
    return "\n".join(lines) + "\n}\n"


def _dot_label(parts: list[str]) -> str:
    return "\\n".join(parts)


def site_diagrams(sites: tuple[Site, ...]) -> Iterator[tuple[str, str, str]]:
    """(file stem, Mermaid, DOT) per site."""
    for site in sites:
        yield site.name, mermaid(site), dot(site)
