"""Rules stricter than ``dhcpd -t``: everything that relates several inventory fields.

``dhcpd -t`` accepts a peer with no role, mclt on the secondary, split and hba together, load
balancing silently off and pools that contain the router; dhcpd then misbehaves at run time.
Each rule here names the site and the field and says what to do, in one line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any, TypeVar, cast

from .address_rules import unusable
from .backends.kea.settings import KeaSettings
from .backends.registry import backend_for, backend_for_kind
from .constructs.layout import aws_problems, is_placed
from .constructs.naming import merged_tags
from .derived_names import collisions
from .dhcp_options import PROTOCOL_CODES, TYPED_CODES, Options, custom_value_ok
from .dhcpv6_checks import dhcpv6_problems
from .errors import InventoryError, InventoryProblems
from .messages import excerpt
from .model import (
    MAX_TAGS,
    BackendKind,
    Inventory,
    Member,
    Pool,
    Role,
    ServerKind,
    Site,
    StateBackend,
    StateLock,
    Subnet,
    TunnelEndpoints,
)
from .monitoring import monitoring_problems

T = TypeVar("T")
G = TypeVar("G", bound=Hashable)

# Client subnets become security-group sources; none is larger than a /8.
MIN_SUBNET_PREFIX = 8


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def check_inventory(inventory: Inventory) -> list[Problem]:
    """All problems, in inventory order (the first one is what the CLI reports)."""
    return _checked(inventory)[0]


# What does not run for a site until its other problems are fixed (see check_inventory).
AWS_CHECKS_PENDING = "AWS's own limits are checked for a site once its other problems are fixed"


def _checked(inventory: Inventory) -> tuple[list[Problem], bool]:
    """All problems, and whether a site had problems that kept its AWS checks from running."""
    problems: list[Problem] = []
    problems += _site_names_unique(inventory)
    sound: list[Site] = []
    for site in inventory.sites:
        found = list(_check_site(site))
        problems += found
        if not found:
            sound.append(site)
    for check in INVENTORY_CHECKS:
        problems += check(inventory)
    for site in sound:
        # What AWS refuses is only worth saying about a site that is otherwise right.
        problems += _aws(inventory, site)
    problems += state_backend_problems(inventory)
    unchecked = [site for site in inventory.sites if site not in sound and (
        is_placed(site) or merged_tags(inventory.tags, site.tags))]
    return problems, bool(unchecked)


def validate(inventory: Inventory, lines: Mapping[tuple[Any, ...], int] | None = None) -> Inventory:
    """Return the inventory unchanged, or raise InventoryError with its one problem, or
    InventoryProblems with all of them, in the order of the file's ``lines`` (from
    ``safe_yaml.load_text_with_lines``; without them, the order the checks found them)."""
    problems, skipped_aws = _checked(inventory)
    if len(problems) == 1:
        raise InventoryError(str(problems[0]))
    if problems:
        if lines:
            order = {id(p): i for i, p in enumerate(problems)}
            problems.sort(key=lambda p: (line_of(_path_of(p.where, inventory), lines), order[id(p)]))
        raise InventoryProblems([str(p) for p in problems], pending=AWS_CHECKS_PENDING if skipped_aws else "")
    return inventory


_STEP = re.compile(r'site "(?P<site>(?:[^"\\]|\\.)*)"(?::\s*)?|\[(?P<index>\d+)\]|\.?(?P<key>[A-Za-z_][A-Za-z0-9_-]*)')


def _path_of(where: str, inventory: Inventory) -> tuple[Any, ...]:
    """A problem's place (``site "hq": subnets[0].pools[1]``) as a path into the file's data,
    as far as it reads as one."""
    path: list[Any] = []
    at = 0
    while at < len(where):
        step = _STEP.match(where, at)
        if step is None or step.end() == at:
            break
        at = step.end()
        if step["site"] is not None:
            names = [site.name for site in inventory.sites]
            if step["site"] not in names:
                break
            path = ["sites", names.index(step["site"])]
        elif step["index"] is not None:
            path.append(int(step["index"]))
        else:
            path.append(step["key"])
    return tuple(path)


def line_of(path: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int:
    """The line a path starts on, or its nearest enclosing key's; 0 for the inventory itself."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 0


def _check_site(site: Site) -> Iterator[Problem]:
    where = f'site "{site.name}"'
    for problem in itertools.chain.from_iterable(check(site) for check in SITE_CHECKS):
        yield Problem(f"{where}: {problem.where}", problem.message)


def _members(site: Site) -> Iterator[Problem]:
    """Exactly two members, one primary and one secondary, with distinct names and addresses; each member's
    network outside loopback, link-local, multicast and reserved ranges, and its address a host address
    inside that network."""
    if len(site.members) != 2:
        yield Problem("members", f"has {len(site.members)} members; list exactly two (one primary, one secondary)")
    roles = [m.role for m in site.members]
    counts = {role: roles.count(role) for role in Role}
    if any(count != 1 for count in counts.values()):
        # One line for both roles: one wrong role makes both counts wrong.
        wrong = " and ".join(f"{count} {role.value} member(s)" for role, count in counts.items()
                             if count != 1 or len(site.members) == 2)
        yield Problem("members", f"has {wrong}; a failover pair needs exactly one primary and one secondary")
    yield from _unique_names("members", [m.name for m in site.members], "member")
    if len(site.members) == 2 and site.members[0].address == site.members[1].address:
        yield Problem("members", f"both members use address {site.members[0].address}; give each its own")
    for i, m in enumerate(site.members):
        why = unusable(m.network)
        if why:
            yield Problem(f"members[{i}].network", f"{m.network} is {why}; a DHCP server cannot live there")
        if m.address not in m.network:
            yield Problem(f"members[{i}].address", f"{m.address} is not in the member's network {m.network}")
        elif m.network.prefixlen < 31 and m.address in (m.network.network_address, m.network.broadcast_address):
            yield Problem(f"members[{i}].address", f"{m.address} is the network or broadcast address of {m.network}")


def _server(site: Site) -> Iterator[Problem]:
    """The site's server backend's own rules (the rows "each ISC site" and "each Kea site" below); kea
    settings only on a Kea site."""
    if site.server is not ServerKind.KEA and site.kea != KeaSettings():
        yield Problem("kea", "is set but the site's server is isc; remove it or set server: kea")
    for check in backend_for(site).checks:
        for where, message in check(site):
            yield Problem(where, message)


def _subnets(site: Site) -> Iterator[Problem]:
    """At least one subnet with a pool (dhcpd refuses a failover peer no pool refers to); subnets disjoint
    within the site, and a subnet that touches a server network is that network exactly; then each subnet:
    /8 to /30, outside loopback, link-local, multicast and reserved ranges; routers inside it and never its
    network or broadcast address; default_lease_time not above max_lease_time; pools inside it, start before
    end, disjoint, and free of the network, broadcast, router, server, relay source, giaddr and reserved-host
    addresses; host reservations inside it and never on its network, broadcast, router, server or relay
    address."""
    if not any(subnet.pools for subnet in site.subnets):
        yield Problem(
            "subnets",
            "no subnet has a pool; add at least one (dhcpd refuses a failover peer that no pool refers to)",
        )
    spans = [(_span_of(s.network), i) for i, s in enumerate(site.subnets)]
    for i, j in _overlapping(spans):
        a, b = site.subnets[i].network, site.subnets[j].network
        yield Problem(f"subnets[{j}].network", f"{b} overlaps subnets[{i}] ({a}); subnets must be disjoint")
    server_nets = {m.network for m in site.members}
    for i, s in enumerate(site.subnets):
        for net in server_nets:
            if s.network != net and s.network.overlaps(net):
                yield Problem(
                    f"subnets[{i}].network",
                    f"{s.network} partly overlaps the server network {net}; use the same network or a disjoint one",
                )
        yield from (Problem(f"subnets[{i}].{p.where}", p.message) for p in _subnet(site, s))


def _subnet(site: Site, subnet: Subnet) -> Iterator[Problem]:
    net = subnet.network
    if net.prefixlen > 30:
        yield Problem("network", f"{net} is too small to serve clients; use a /30 or larger")
    if net.prefixlen < MIN_SUBNET_PREFIX:
        yield Problem("network", f"{net} is larger than a /{MIN_SUBNET_PREFIX}; list the client subnets themselves")
    if unusable(net):
        yield Problem("network", f"{net} is {unusable(net)}; DHCP clients cannot live there")
    edges = {net.network_address: "the network address", net.broadcast_address: "the broadcast address"}
    for i, router in enumerate(subnet.routers):
        if router not in net:
            yield Problem(f"routers[{i}]", f"{router} is not in {net}")
        elif router in edges:
            yield Problem(f"routers[{i}]", f"{router} is {edges[router]} of {net}; a router needs a host address")
    if subnet.default_lease_time > subnet.max_lease_time:
        yield Problem(
            "default_lease_time",
            f"({subnet.default_lease_time}) exceeds max_lease_time ({subnet.max_lease_time})",
        )
    reserved = _reserved_addresses(site, subnet)
    for i, pool in enumerate(subnet.pools):
        yield from (Problem(f"pools[{i}]", msg) for msg in _pool(pool, net, reserved))
    spans = [((int(p.start), int(p.end)), i) for i, p in enumerate(subnet.pools) if p.start <= p.end]
    for i, j in _overlapping(spans):
        a, b = subnet.pools[i], subnet.pools[j]
        yield Problem(f"pools[{j}]", f"{_span(b)} overlaps pools[{i}] ({_span(a)}); pools must be disjoint")
    taken = _reserved_addresses(site, subnet, hosts=False)
    for i, h in enumerate(subnet.hosts):
        if h.address not in subnet.network:
            yield Problem(f"hosts[{i}].address", f"{h.address} is not in {subnet.network}")
        elif h.address in taken:
            yield Problem(f"hosts[{i}].address", f"{h.address} is {taken[h.address]}; give host {h.name} an address of its own")


def _reserved_addresses(site: Site, subnet: Subnet, *, hosts: bool = True) -> dict[IPv4Address, str]:
    """Addresses in the subnet that a pool must never hand out, with what they are."""
    net = subnet.network
    reserved = {net.network_address: "the network address", net.broadcast_address: "the broadcast address"}
    reserved |= {r: "a router" for r in subnet.routers}
    reserved |= {m.address: f"server {m.name}" for m in site.members}
    for relay in site.relays:
        reserved[relay.source_address] = f"relay {relay.name}'s source address"
        reserved |= {s.giaddr: f"relay {relay.name}'s giaddr" for s in relay.serves}
    if hosts:
        reserved |= {h.address: f"reserved for host {h.name}" for h in subnet.hosts}
    return {addr: what for addr, what in reserved.items() if addr in net}


def _pool(pool: Pool, net: IPv4Network, reserved: dict[IPv4Address, str]) -> Iterator[str]:
    if pool.start > pool.end:
        yield f"starts at {pool.start} after it ends at {pool.end}; swap start and end"
        return
    if pool.start not in net or pool.end not in net:
        yield f"{_span(pool)} is not inside the subnet {net}"
        return
    inside = [f"{addr} ({what})" for addr, what in sorted(reserved.items()) if pool.start <= addr <= pool.end]
    if inside:
        # One line per pool: moving its bounds is one fix, whatever it covers.
        yield f"{_span(pool)} contains {' and '.join(inside)}; move the pool's bounds to exclude {'them' if len(inside) > 1 else 'it'}"


def _hosts(site: Site) -> Iterator[Problem]:
    """Host names, MAC addresses and reserved addresses unique per site (host declarations are global in
    dhcpd)."""
    hosts = [h for subnet in site.subnets for h in subnet.hosts]
    yield from _unique_names("subnets[].hosts", [h.name for h in hosts], "host")
    yield from _unique_names("subnets[].hosts", [h.mac.lower() for h in hosts], "MAC address")
    yield from _unique_names("subnets[].hosts", [str(h.address) for h in hosts], "address")


def _relays(site: Site) -> Iterator[Problem]:
    """Relay names unique; a relay's source address outside loopback, link-local, multicast and reserved
    ranges; every relay serves at least one of the site's declared subnets, each once, with its giaddr a
    host address inside that subnet; no two relays with one giaddr; every subnet with a pool is served by a
    relay (the servers' own networks excepted)."""
    yield from _unique_names("relays", [r.name for r in site.relays], "relay")
    declared = {s.network for s in site.subnets}
    relayed: set[IPv4Network] = set()
    giaddrs: dict[IPv4Address, str] = {}
    for i, relay in enumerate(site.relays):
        if unusable(IPv4Network(relay.source_address)):
            yield Problem(
                f"relays[{i}].source_address",
                f"{relay.source_address} is {unusable(IPv4Network(relay.source_address))}; use the relay's own address",
            )
        if not relay.serves:
            yield Problem(f"relays[{i}].serves", f"relay {relay.name} serves no subnet; list at least one")
        for j, served in enumerate(relay.serves):
            here = f"relays[{i}].serves[{j}]"
            relayed.add(served.subnet)
            if served.subnet not in declared:
                yield Problem(f"{here}.subnet", f"{served.subnet} is not one of the site's subnets; declare it under subnets")
            if served.giaddr not in served.subnet:
                yield Problem(
                    f"{here}.giaddr",
                    f"{served.giaddr} is not in {served.subnet}; the giaddr is the relay's own address on that subnet",
                )
            elif served.giaddr in (served.subnet.network_address, served.subnet.broadcast_address):
                yield Problem(
                    f"{here}.giaddr",
                    f"{served.giaddr} is the network or broadcast address of {served.subnet}; use the relay's own address",
                )
            owner = giaddrs.setdefault(served.giaddr, relay.name)
            if owner != relay.name:
                yield Problem(
                    f"{here}.giaddr",
                    f"{served.giaddr} is also relay {owner}'s giaddr; each relay needs its own address on the subnet",
                )
        yield from _unique_names(f"relays[{i}].serves", [str(s.subnet) for s in relay.serves], "subnet")
    server_nets = {m.network for m in site.members}
    for i, s in enumerate(site.subnets):
        if s.pools and s.network not in relayed and s.network not in server_nets:
            yield Problem(
                f"subnets[{i}]",
                f"{s.network} has pools but no relay serves it; add it to a relay's serves list",
            )


def _placement(site: Site) -> Iterator[Problem]:
    """Each placement is either an existing subnet (subnet_id with vpc_id) or an availability_zone in the
    member's region, never both; both members placed or neither; a vpc_cidr holds the networks of the
    members it gets."""
    for i, m in enumerate(site.members):
        p = m.placement
        if p is None:
            continue
        here = f"members[{i}].placement"
        if p.subnet_id and p.availability_zone:
            yield Problem(here, "sets both subnet_id and availability_zone; keep one (an existing subnet has its zone)")
        elif not p.subnet_id and not p.availability_zone:
            yield Problem(here, "needs subnet_id (with vpc_id) of an existing subnet, or an availability_zone")
        if bool(p.subnet_id) != bool(p.vpc_id):
            yield Problem(here, "subnet_id and vpc_id go together; give both or neither")
        if p.availability_zone and not p.availability_zone.startswith(p.region):
            yield Problem(f"{here}.availability_zone", f"{p.availability_zone} is not in region {p.region}")
    placed = [m.placement is not None for m in site.members]
    if any(placed) and not all(placed):
        yield Problem("members", "only one member has a placement; give both members one, or neither")
    if site.vpc_cidr is not None:
        for m in _members_in_created_vpc(site):
            if not m.network.subnet_of(site.vpc_cidr):
                yield Problem("vpc_cidr", f"{site.vpc_cidr} does not contain member {m.name}'s network {m.network}")


def _operator_access(site: Site) -> Iterator[Problem]:
    """operator_access.instance_connect only on a site whose members both have a placement (the endpoint
    lives in their VPC); ssh_key_pair only with instance_connect (nothing else may reach port 22)."""
    if site.operator_access.instance_connect and not all(m.placement is not None for m in site.members):
        yield Problem(
            "operator_access.instance_connect",
            "needs both members placed in AWS (an Instance Connect Endpoint lives in their VPC); "
            "give both members a placement, or set it false",
        )
    if site.operator_access.ssh_key_pair is not None and not site.operator_access.instance_connect:
        yield Problem(
            "operator_access.ssh_key_pair",
            "is only reachable through the Instance Connect Endpoint (nothing else may reach port 22); "
            "set operator_access.instance_connect: true, or remove ssh_key_pair",
        )


def _wireguard(site: Site) -> Iterator[Problem]:
    """Members in different regions need a wireguard section or a wireguard_waiver with the reason, never both;
    the tunnel network is a /31 or /30 clear of every subnet and member network; endpoints: private only
    where the members' networks are connected (existing subnets), not in two new site VPCs; the listen port
    is neither a failover port nor the OMAPI port."""
    wg = site.wireguard
    if wg is None:
        if site.cross_region and site.wireguard_waiver is None:
            regions = " and ".join(sorted({m.placement.region for m in site.members if m.placement}))
            yield Problem(
                "wireguard",
                f"members are in {regions} but the failover dialogue is unencrypted; add a wireguard "
                "section, or a wireguard_waiver with the reason",
            )
        return
    if site.wireguard_waiver is not None:
        yield Problem("wireguard_waiver", "is set although the tunnel is on; remove the waiver")
    if wg.network.prefixlen not in (30, 31):
        yield Problem("wireguard.network", f"{wg.network} must be a /31 or a /30 (two tunnel addresses)")
    taken = [(f"subnet {s.network}", s.network) for s in site.subnets]
    taken += [(f"member {m.name}'s network {m.network}", m.network) for m in site.members]
    for what, net in taken:
        if wg.network.overlaps(net):
            yield Problem("wireguard.network", f"{wg.network} overlaps {what}; pick an unused range")
    in_site_vpcs = _members_in_created_vpc(site)
    if wg.endpoints is TunnelEndpoints.PRIVATE and site.cross_region and in_site_vpcs:
        names = " and ".join(m.name for m in in_site_vpcs)
        yield Problem(
            "wireguard.endpoints",
            f"private needs networks you connected, but {names} get a new site VPC per region and nothing "
            "connects them; use elastic-ip, or place both members in existing subnets (subnet_id, vpc_id)",
        )
    ports = {m.failover_port: "a failover port" for m in site.members} | {site.omapi.port: "the OMAPI port"}
    if wg.listen_port in ports:
        yield Problem(
            "wireguard.listen_port",
            f"{wg.listen_port} is also {ports[wg.listen_port]}; use another port (51820 is usual)",
        )


def _option_definitions(site: Site) -> Iterator[Problem]:
    """Option names unique; a definition outside a vendor space never takes a protocol code or one a typed
    field sends; one code, one option per space."""
    yield from _unique_names("option_definitions", [d.name for d in site.option_definitions], "option")
    codes: dict[tuple[str | None, int], str] = {}
    for i, d in enumerate(site.option_definitions):
        here = f"option_definitions[{i}].code"
        if d.space is None and d.code in PROTOCOL_CODES:
            yield Problem(here, f"{d.code} is one of the protocol's own options; servers set it themselves")
        elif d.space is None and d.code in TYPED_CODES:
            yield Problem(here, f"{d.code} is sent through {TYPED_CODES[d.code]}; use that field")
        owner = codes.setdefault((d.space, d.code), d.name)
        if owner != d.name:
            yield Problem(here, f"{d.code} is also option {owner!r}{' in space ' + d.space if d.space else ''}; one code, one option")


def _options_everywhere(site: Site) -> Iterator[Problem]:
    """Every custom option (subnet, pool, host, class) is defined under option_definitions and its value fits
    the definition's type; one scope sends one vendor space; a classless static route's router is on the
    client's subnet, and a subnet with routers gets a 0.0.0.0/0 route (RFC 3442 clients ignore option 3);
    pxe is not combined with filename/next_server."""
    for i, subnet in enumerate(site.subnets):
        here = f"subnets[{i}]"
        yield from _options(site, subnet.options, f"{here}.options", subnet)
        for j, pool in enumerate(subnet.pools):
            yield from _options(site, pool.options, f"{here}.pools[{j}].options", subnet)
        for j, host in enumerate(subnet.hosts):
            yield from _options(site, host.options, f"{here}.hosts[{j}].options", subnet)
        if subnet.pxe and (subnet.filename or subnet.next_server):
            yield Problem(f"{here}.pxe", "is set together with filename/next_server; pxe names both, keep only pxe")
    for i, client_class in enumerate(site.classes):
        yield from _options(site, client_class.options, f"classes[{i}].options", None)


def _options(site: Site, options: Options, where: str, subnet: Subnet | None) -> Iterator[Problem]:
    definitions = {d.name: d for d in site.option_definitions}
    spaces = set()
    for name, value in options.custom.items():
        definition = definitions.get(name)
        if definition is None:
            known = ", ".join(sorted(definitions)) or "none"
            yield Problem(f"{where}.custom.{name}", f"is not in option_definitions (defined: {known}); define it there")
            continue
        problem = custom_value_ok(definition.type, value)
        if problem:
            yield Problem(f"{where}.custom.{name}", f"{excerpt(value)} {problem} (option {name} is {definition.type.value})")
        if definition.space:
            spaces.add(definition.space)
    if len(spaces) > 1:
        yield Problem(f"{where}.custom", f"mixes vendor spaces {', '.join(sorted(spaces))}; one scope sends one vendor space")
    routes = options.classless_static_routes
    if routes and subnet is not None:
        for k, route in enumerate(routes):
            if route.router not in subnet.network:
                yield Problem(
                    f"{where}.classless_static_routes[{k}].router",
                    f"{route.router} is not in {subnet.network}; a route's router must be on the client's subnet",
                )
        if subnet.routers and not any(route.destination.prefixlen == 0 for route in routes):
            yield Problem(
                f"{where}.classless_static_routes",
                "has no 0.0.0.0/0 route, but clients that get option 121 ignore routers (RFC 3442); "
                f"add destination 0.0.0.0/0 via {subnet.routers[0]}",
            )


def _classes(site: Site) -> Iterator[Problem]:
    """Class names unique; pools allow and deny only declared classes, never one class both ways."""
    yield from _unique_names("classes", [c.name for c in site.classes], "class")
    declared = {c.name for c in site.classes}
    for i, subnet in enumerate(site.subnets):
        for j, pool in enumerate(subnet.pools):
            here = f"subnets[{i}].pools[{j}]"
            for key, names in (("allow", pool.allow), ("deny", pool.deny)):
                for k, name in enumerate(names):
                    if name not in declared:
                        yield Problem(f"{here}.{key}[{k}]", f"class {name!r} is not declared under classes")
            both = sorted(set(pool.allow) & set(pool.deny))
            if both:
                yield Problem(here, f"allows and denies class {both[0]!r}; keep one")


def _shared_networks(site: Site) -> Iterator[Problem]:
    """Shared network names unique; each lists the site's declared subnets, each subnet in one shared network
    only."""
    yield from _unique_names("shared_networks", [n.name for n in site.shared_networks], "shared network")
    declared = {s.network for s in site.subnets}
    owner: dict[IPv4Network, str] = {}
    for i, shared in enumerate(site.shared_networks):
        for j, net in enumerate(shared.subnets):
            here = f"shared_networks[{i}].subnets[{j}]"
            if net not in declared:
                yield Problem(here, f"{net} is not one of the site's subnets; declare it under subnets")
            first = owner.setdefault(net, shared.name)
            if first != shared.name or shared.subnets.count(net) > 1:
                yield Problem(here, f"{net} is already in shared network {first!r}; a subnet is on one segment")


def _members_in_created_vpc(site: Site) -> list[Member]:
    return [m for m in site.members if m.placement is not None and m.placement.subnet_id is None]


def _subnets_claimed_once(inventory: Inventory) -> Iterator[Problem]:
    """Subnets disjoint across sites: a subnet is served by one pair only."""
    claimed = [
        (_span_of(subnet.network), site.name, (site.name, subnet.network))
        for site in inventory.sites
        for subnet in site.subnets
    ]
    for (site_a, a), (site_b, b) in _overlapping_across(claimed, claimed):
        yield Problem(
            f'site "{site_b}": subnets',
            f'{b} overlaps {a} of site "{site_a}"; a subnet is served by one pair only',
        )


def _ipv6_space_claimed_once(inventory: Inventory) -> Iterator[Problem]:
    """DHCPv6 subnets and prefix-delegation blocks disjoint across sites: one pair serves each."""
    claimed = [
        ((int(net.network_address), int(net.broadcast_address)), site.name, (site.name, net))
        for site in inventory.sites if site.dhcpv6 is not None
        for subnet in site.dhcpv6.subnets
        for net in (subnet.network, *(pd.prefix for pd in subnet.pd_pools))
    ]
    for (site_a, a), (site_b, b) in _overlapping_across(claimed, claimed):
        yield Problem(
            f'site "{site_b}": dhcpv6.subnets',
            f'{b} overlaps {a} of site "{site_a}"; IPv6 space is served by one pair only',
        )


def _pools_clear_of_other_sites(inventory: Inventory) -> Iterator[Problem]:
    """A pool must not hand out addresses in the network where another pair's servers live."""
    servers = [
        (_span_of(m.network), site.name, f'member {m.name}\'s network {m.network} of site "{site.name}"')
        for site in inventory.sites
        for m in site.members
    ]
    pools = [
        ((int(pool.start), int(pool.end)), site.name, (site.name, i, j, pool))
        for site in inventory.sites
        for i, subnet in enumerate(site.subnets)
        for j, pool in enumerate(subnet.pools)
        if pool.start <= pool.end
    ]
    for server, tag in _overlapping_across(servers, pools):
        # One type variable covers both sides' tags; the right side's are the pools' tuples.
        site, i, j, pool = cast(tuple[str, int, int, Pool], tag)
        yield Problem(
            f'site "{site}": subnets[{i}].pools[{j}]',
            f"{_span(pool)} covers {server}; move the pool out of other pairs' server networks",
        )


def _site_names_unique(inventory: Inventory) -> Iterator[Problem]:
    """Site names unique (they become stack names and folders)."""
    return _unique_names("sites", [s.name for s in inventory.sites], "site")


def _derived_names_unique(inventory: Inventory) -> Iterator[Problem]:
    """Every name derived from the inventory (stack names, TF_VAR_ names, SSM parameters, render folders) is
    unique across the whole inventory: site coast with member east-x and site coast-east with member x would
    share one Terraform variable."""
    for first, second in collisions(inventory):
        if first.name == second.name:
            what = f"gives the {first.kind} {first.name!r}, as {first.origin} does"
        else:
            what = f"gives the {second.kind} {second.name!r}, inside {first.name!r} of {first.origin}"
        yield Problem(second.origin, f"{what}; rename one of them")


def _aws(inventory: Inventory, site: Site) -> Iterator[Problem]:
    """What AWS would refuse at apply time, for members in a VPC the site makes: member networks /16 to /28
    and disjoint within one VPC, member addresses outside the five AWS reserves of their subnet (the first
    four and the last), the site VPC /16 to /28, and at most 50 tags per resource (the inventory's and the
    site's merged, plus Name)."""
    tags = merged_tags(inventory.tags, site.tags)
    if len(tags | {"Name": ""}) > MAX_TAGS:
        yield Problem(
            f'site "{site.name}": tags',
            f"with the inventory's tags and the Name tag gives {len(tags | {'Name': ''})} tags; AWS allows {MAX_TAGS}",
        )
    if is_placed(site):
        yield from (Problem(f'site "{site.name}": {where}', message) for where, message in aws_problems(site))


def _span_of(net: IPv4Network) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def _overlapping(items: Sequence[tuple[tuple[int, int], T]]) -> Iterator[tuple[T, T]]:
    """For each item that overlaps one starting no later, one such pair (earlier, later).
    A sweep in start order: n log n, where comparing every pair would not finish on big input."""
    reach: tuple[int, T] | None = None
    for (start, end), tag in sorted(items, key=lambda item: item[0]):
        if reach is not None and reach[0] >= start:
            yield reach[1], tag
        if reach is None or end > reach[0]:
            reach = (end, tag)


def _overlapping_across(
    left: Sequence[tuple[tuple[int, int], G, T]], right: Sequence[tuple[tuple[int, int], G, T]]
) -> Iterator[tuple[T, T]]:
    """Pairs (a from left, b from right) that overlap and belong to different groups (sites):
    for each item, one such pair if any exists. The sweep keeps, per side, the two furthest
    reaches of distinct groups: if any item of another group still reaches, one of those does."""
    events = [(span, 0, group, tag) for span, group, tag in left] + [(span, 1, group, tag) for span, group, tag in right]
    events.sort(key=lambda e: (e[0][0], e[1]))
    best: list[list[tuple[int, G, T]]] = [[], []]
    seen: set[frozenset[int]] = set()
    for (start, end), side, group, tag in events:
        for reach, other_group, other_tag in best[1 - side]:
            if other_group != group and reach >= start:
                pair = (other_tag, tag) if side == 1 else (tag, other_tag)
                key = frozenset((id(pair[0]), id(pair[1])))
                if key not in seen:
                    seen.add(key)
                    yield pair
                break
        kept = [entry for entry in best[side] if entry[1] != group]
        own = [entry for entry in best[side] if entry[1] == group] + [(end, group, tag)]
        kept.append(max(own, key=lambda entry: entry[0]))
        best[side] = sorted(kept, key=lambda entry: entry[0], reverse=True)[:2]


def _ddns(site: Site) -> Iterator[Problem]:
    """TSIG key and zone names unique; every zone is signed with a declared key and every key signs a zone;
    zone servers outside loopback, link-local, multicast and reserved ranges; no TSIG key named like the
    OMAPI key (dhcpd knows one key per name); the forward domain lies in one of the zones."""
    ddns = site.ddns
    if ddns is None:
        return
    yield from _unique_names("ddns.keys", [k.name for k in ddns.keys], "key")
    yield from _unique_names("ddns.zones", [_fqdn(z.name) for z in ddns.zones], "zone")
    keys = [k.name for k in ddns.keys]
    for i, zone in enumerate(ddns.zones):
        if zone.key not in keys:
            yield Problem(f"ddns.zones[{i}].key", f"{zone.key!r} is not one of ddns.keys ({', '.join(keys)}); "
                          "every zone is updated with a declared TSIG key")
        for j, server in enumerate(zone.servers):
            why = unusable(IPv4Network(server))
            if why:
                yield Problem(f"ddns.zones[{i}].servers[{j}]", f"{server} is {why}; name the zone's DNS server")
    used = {z.key for z in ddns.zones}
    for i, key in enumerate(ddns.keys):
        if key.name not in used:
            yield Problem(f"ddns.keys[{i}]", f"key {key.name!r} signs no zone; remove it or name it in a zone")
    if key_clash := {k.name for k in ddns.keys} & {site.omapi.key_name}:
        yield Problem("ddns.keys", f"key {sorted(key_clash)[0]!r} is also the OMAPI key's name; dhcpd knows one key "
                      "per name, so give the TSIG key its own")
    forward = _fqdn(ddns.domain_name)
    if not any(forward == _fqdn(z.name) or forward.endswith("." + _fqdn(z.name)) for z in ddns.zones):
        yield Problem("ddns.domain_name", f"{ddns.domain_name} is in none of ddns.zones; add its zone, or updates "
                      "for clients' names would go nowhere")


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".")


def _unique_names(where: str, names: Iterable[str], what: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            yield Problem(where, f"{what} {name!r} appears twice; names must be unique")
        seen.add(name)


def _span(pool: Pool) -> str:
    return f"{pool.start}-{pool.end}"


# S3 reserves these for its own bucket kinds (access point aliases, directory buckets, ...).
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_BUCKET_CHARACTERS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_S3_ONLY_SETTINGS = ("bucket", "region", "kms_key_id", "dynamodb_table")


def state_backend_problems(inventory: Inventory) -> list[Problem]:
    """The ``state:`` sections: what S3 and Terraform's s3 backend would refuse, said up front: backend s3
    needs a bucket name S3 accepts and its region, lock: dynamodb needs dynamodb_table (and only it takes
    one), and the s3 settings are refused with backend: local."""
    problems = [Problem("state", message) for message in _state_backend(inventory.state)]
    for site in inventory.sites:
        if site.state is not None:
            problems += [Problem(f'site "{site.name}": state', message) for message in _state_backend(site.state)]
    return problems


def _state_backend(state: StateBackend) -> Iterator[str]:
    if state.backend is BackendKind.LOCAL:
        for name in _S3_ONLY_SETTINGS:
            if getattr(state, name) is not None:
                yield f"{name} is a setting of the s3 backend; set backend: s3 or remove {name}"
        return
    if state.bucket is None:
        yield "backend s3 needs a bucket: set bucket to the name of the S3 bucket that holds the state"
    else:
        yield from (f"bucket {state.bucket!r} {why}" for why in _bucket_name_problems(state.bucket))
    if state.region is None:
        yield "backend s3 needs the bucket's region: set region (for example eu-west-1)"
    if state.lock is StateLock.DYNAMODB and state.dynamodb_table is None:
        yield "lock: dynamodb needs dynamodb_table: name the lock table (partition key LockID), or use lock: lockfile"
    if state.lock is StateLock.LOCKFILE and state.dynamodb_table is not None:
        yield "dynamodb_table is used only with lock: dynamodb; set lock: dynamodb or remove dynamodb_table"


def _bucket_name_problems(bucket: str) -> Iterator[str]:
    """S3's rules for general purpose bucket names."""
    if not 3 <= len(bucket) <= 63:
        yield f"is {len(bucket)} characters long; S3 bucket names have 3 to 63"
    if not _BUCKET_CHARACTERS.match(bucket):
        yield "is not a bucket name S3 accepts: use lower-case letters, digits, '.' and '-', starting and ending with a letter or digit"
    if ".." in bucket:
        yield "has two periods in a row, which S3 rejects; remove one"
    try:
        IPv4Address(bucket)
        yield "is formatted as an IP address, which S3 rejects; choose a name"
    except ValueError:
        pass
    for prefix in _RESERVED_BUCKET_PREFIXES:
        if bucket.startswith(prefix):
            yield f"starts with {prefix!r}, which S3 reserves; choose another name"
    for suffix in _RESERVED_BUCKET_SUFFIXES:
        if bucket.endswith(suffix):
            yield f"ends with {suffix!r}, which S3 reserves; choose another name"


def _monitoring(site: Site) -> Iterator[Problem]:
    """Every per-pool alarm threshold names a pool of the site (START-END); an existing alert topic is in
    the members' region, since CloudWatch alarms notify topics of their own region only."""
    for where, message in monitoring_problems(site):
        yield Problem(where, message)


def _dhcpv6(site: Site) -> Iterator[Problem]:
    """The dhcpv6 section: only on a Kea site (ISC dhcpd has no DHCPv6 failover); both members with a fixed
    IPv6 address in their IPv6 network; subnets /32 to /124 and disjoint; address pools inside their subnet,
    disjoint and free of member, relay and reserved addresses; prefix-delegation pools disjoint from each other,
    from the subnets and the members' networks, with delegated_length longer than the block (by two bits in
    load-balancing) and an excluded_prefix inside the block and longer than delegated_length; reservations by
    unique DUID, an address inside the subnet and outside its pools, a prefix outside every pool and subnet;
    preferred_lifetime not above valid_lifetime, information_refresh_time at least 600 s; relays named after
    the site's relays, each link_address inside its subnet, every subnet with a pool relayed; placed members in
    existing subnets (a VPC the site makes learns its Amazon-provided IPv6 block only at apply)."""
    for where, message in dhcpv6_problems(site):
        yield Problem(where, message)


# The registry of checks, in the order they run. docs/inventory.md's table of validation rules is
# generated from it and from each check's docstring (python -m dhcp_failover docs), so a new
# check goes here, with a docstring that says what it enforces.
SITE_CHECKS: tuple[Callable[[Site], Iterator[Problem]], ...] = (
    _members,
    _server,
    _subnets,
    _hosts,
    _relays,
    _placement,
    _operator_access,
    _wireguard,
    _option_definitions,
    _options_everywhere,
    _classes,
    _shared_networks,
    _ddns,
    _monitoring,
    _dhcpv6,
)
# Across sites, after every site's own checks.
INVENTORY_CHECKS: tuple[Callable[[Inventory], Iterator[Problem]], ...] = (
    _subnets_claimed_once,
    _ipv6_space_claimed_once,
    _pools_clear_of_other_sites,
    _derived_names_unique,
)
# What the docs list, by scope: the registries above plus the checks check_inventory runs around them.
DOCUMENTED_CHECKS: tuple[tuple[str, tuple[Callable[..., Iterable[object]], ...]], ...] = (
    ("each site", SITE_CHECKS),
    ("each ISC site", backend_for_kind(ServerKind.ISC).checks),
    ("each Kea site", backend_for_kind(ServerKind.KEA).checks),
    ("whole inventory", (_site_names_unique, *INVENTORY_CHECKS)),
    ("each site without other problems", (_aws,)),
    ("state sections", (state_backend_problems,)),
)
