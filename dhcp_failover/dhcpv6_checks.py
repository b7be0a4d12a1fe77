"""The rules of a site's ``dhcpv6`` section: everything that relates several of its fields.

``kea-dhcp6 -t`` accepts pools outside their subnet's prefix only partly, overlapping
prefix-delegation pools and reservations inside pools; the pair then hands one address or
prefix to two clients. Each rule yields ``(field, message)`` with the field as the inventory
spells it under ``dhcpv6``; ``checks`` prefixes the site and reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network

from .dhcpv6 import IRT_MINIMUM, Dhcpv6, PdPool, Pool6, Subnet6
from .model import ServerKind, Site

# Client subnets become security-group sources and Kea subnets: no larger than a /32, and
# large enough for a pool of two addresses per member.
MIN_SUBNET6_PREFIX = 32
MAX_SUBNET6_PREFIX = 124

# Ranges where no DHCPv6 server, client, relay or delegated prefix can be.
UNUSABLE6 = {
    IPv6Network("::/128"): "the unspecified address (::/128)",
    IPv6Network("::1/128"): "loopback (::1/128)",
    IPv6Network("::ffff:0:0/96"): "IPv4-mapped (::ffff:0:0/96)",
    IPv6Network("fe80::/10"): "link-local (fe80::/10)",
    IPv6Network("ff00::/8"): "multicast (ff00::/8)",
}


def unusable6(net: IPv6Network) -> str | None:
    """Why ``net`` cannot be used, as "in the ... range", or None."""
    for block, what in UNUSABLE6.items():
        if net.overlaps(block):
            return f"in the {what} range"
    return None


def dhcpv6_problems(site: Site) -> Iterator[tuple[str, str]]:
    """A dhcpv6 section only on a Kea site (ISC dhcpd has no DHCPv6 failover); then its members, subnets,
    pools, prefix-delegation pools, reservations and relays (the rules below)."""
    v6 = site.dhcpv6
    if v6 is None:
        return
    if site.server is not ServerKind.KEA:
        yield "dhcpv6", (
            "is set on an isc site, but ISC dhcpd has no DHCPv6 failover; set server: kea (Kea HA serves DHCPv6) "
            "or remove dhcpv6"
        )
        return
    for rule in RULES:
        for where, message in rule(site, v6):
            yield f"dhcpv6.{where}", message


def _members(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """Both site members listed once each with an address inside their IPv6 network, outside
    loopback, link-local, multicast and mapped ranges, never the network's subnet-router anycast
    address; the two addresses distinct."""
    names = [m.name for m in site.members]
    listed = [m.member for m in v6.members]
    for i, entry in enumerate(v6.members):
        if entry.member not in names:
            yield f"members[{i}].member", f"{entry.member!r} is not one of the site's members ({', '.join(names)})"
        elif listed.count(entry.member) > 1 and listed.index(entry.member) != i:
            yield f"members[{i}].member", f"member {entry.member!r} appears twice; list each member once"
        why = unusable6(entry.network)
        if why:
            yield f"members[{i}].network", f"{entry.network} is {why}; a DHCP server cannot live there"
        elif entry.address not in entry.network:
            yield f"members[{i}].address", f"{entry.address} is not in the member's network {entry.network}"
        elif entry.address == entry.network.network_address and entry.network.prefixlen < 127:
            yield f"members[{i}].address", (
                f"{entry.address} is the subnet-router anycast address of {entry.network}; use a host address"
            )
    for name in names:
        if name not in listed:
            yield "members", f"has no IPv6 address for member {name!r}; list both members with member, address, network"
    addresses = [m.address for m in v6.members]
    if len(set(addresses)) != len(addresses):
        yield "members", f"both members use address {addresses[0]}; give each its own"


def _subnets(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """At least one subnet with an address or prefix-delegation pool; subnets /32 to /124, outside unusable
    ranges, disjoint, and a subnet that touches a member's IPv6 network is that network exactly;
    preferred_lifetime not above valid_lifetime; information_refresh_time at least 600 s (RFC 8415);
    vendor sub-option codes unique."""
    if not any(s.pools or s.pd_pools for s in v6.subnets):
        yield "subnets", "no subnet has a pool or pd_pool; add at least one, or remove dhcpv6"
    member_nets = {m.network for m in v6.members}
    for i, subnet in enumerate(v6.subnets):
        net = subnet.network
        here = f"subnets[{i}]"
        if not MIN_SUBNET6_PREFIX <= net.prefixlen <= MAX_SUBNET6_PREFIX:
            yield f"{here}.network", (
                f"{net} is a /{net.prefixlen}; a DHCPv6 subnet is a /{MIN_SUBNET6_PREFIX} to a /{MAX_SUBNET6_PREFIX}"
            )
        if why := unusable6(net):
            yield f"{here}.network", f"{net} is {why}; DHCPv6 clients get global or unique-local addresses"
        for j in range(i):
            if v6.subnets[j].network.overlaps(net):
                yield f"{here}.network", (
                    f"{net} overlaps subnets[{j}] ({v6.subnets[j].network}); subnets must be disjoint"
                )
                break
        for member_net in member_nets:
            if net != member_net and net.overlaps(member_net):
                yield f"{here}.network", (
                    f"{net} partly overlaps the member network {member_net}; use the same network or a disjoint one"
                )
        if subnet.preferred_lifetime > subnet.valid_lifetime:
            yield f"{here}.preferred_lifetime", (
                f"({subnet.preferred_lifetime}) exceeds valid_lifetime ({subnet.valid_lifetime}); "
                "an address cannot stay preferred after it is no longer valid"
            )
        irt = subnet.information_refresh_time
        if irt is not None and irt < IRT_MINIMUM:
            yield f"{here}.information_refresh_time", (
                f"({irt}) is below {IRT_MINIMUM} s, which clients raise to {IRT_MINIMUM} anyway (RFC 8415); "
                f"use {IRT_MINIMUM} or more"
            )
        if subnet.vendor is not None:
            codes = [s.code for s in subnet.vendor.suboptions]
            for k, code in enumerate(codes):
                if codes.index(code) != k:
                    yield f"{here}.vendor.suboptions[{k}].code", f"{code} appears twice; send each sub-option once"


def _pools(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """Address pools inside their subnet, start before end, disjoint, and free of the subnet-router anycast,
    member, relay and reserved-host addresses; in load-balancing at least two addresses (each member gets
    half)."""
    balanced = site.failover.load_balancing
    for i, subnet in enumerate(v6.subnets):
        reserved = _reserved(v6, subnet)
        for j, pool in enumerate(subnet.pools):
            here = f"subnets[{i}].pools[{j}]"
            if pool.start > pool.end:
                yield here, f"starts at {pool.start} after it ends at {pool.end}; swap start and end"
                continue
            if pool.start not in subnet.network or pool.end not in subnet.network:
                yield here, f"{_span(pool)} is not inside the subnet {subnet.network}"
                continue
            for addr, what in sorted(reserved.items()):
                if pool.start <= addr <= pool.end:
                    yield here, f"{_span(pool)} contains {addr} ({what}); move the pool's bounds to exclude it"
            if balanced and pool.start == pool.end:
                yield here, (
                    "holds one address; load-balancing gives each member half of every pool, so make it "
                    "at least two addresses or set failover.load_balancing: false"
                )
            for k in range(j):
                other = subnet.pools[k]
                if other.start <= other.end and pool.start <= other.end and other.start <= pool.end:
                    yield here, f"{_span(pool)} overlaps pools[{k}] ({_span(other)}); pools must be disjoint"
                    break


def _pd_pools(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """Prefix-delegation pools: delegated_length longer than the prefix (in load-balancing at least one bit
    more than half the block) and at most 128; outside unusable ranges; disjoint from each other, from every
    dhcpv6 subnet (so from every address pool) and from the members' networks; an excluded_prefix inside the
    block and longer than delegated_length."""
    balanced = site.failover.load_balancing
    blocks: list[tuple[str, IPv6Network]] = [(f"subnets[{i}] ({s.network})", s.network) for i, s in enumerate(v6.subnets)]
    blocks += [(f"member {m.member}'s network {m.network}", m.network) for m in v6.members]
    seen: list[tuple[str, IPv6Network]] = []
    for i, subnet in enumerate(v6.subnets):
        for j, pd in enumerate(subnet.pd_pools):
            here = f"subnets[{i}].pd_pools[{j}]"
            yield from _pd_pool(here, pd, balanced)
            if why := unusable6(pd.prefix):
                yield f"{here}.prefix", f"{pd.prefix} is {why}; delegate global or unique-local prefixes"
            for what, block in blocks + seen:
                if block.overlaps(pd.prefix):
                    yield f"{here}.prefix", (
                        f"{pd.prefix} overlaps {what}; a delegated prefix is routed to the requesting router, "
                        "so keep prefix-delegation pools apart from address space and from each other"
                    )
                    break
            seen.append((f"{here} ({pd.prefix})", pd.prefix))


def _pd_pool(here: str, pd: PdPool, balanced: bool) -> Iterator[tuple[str, str]]:
    shortest = pd.prefix.prefixlen + (2 if balanced else 1)
    if pd.delegated_length < shortest:
        why = " in load-balancing (each member delegates from its half of the block)" if balanced else ""
        yield f"{here}.delegated_length", (
            f"({pd.delegated_length}) must be at least /{shortest} for the block {pd.prefix}{why}, "
            "so that the block holds more than one delegated prefix per member"
        )
    excluded = pd.excluded_prefix
    if excluded is None:
        return
    if not excluded.subnet_of(pd.prefix):
        yield f"{here}.excluded_prefix", f"{excluded} is not inside the block {pd.prefix}"
    if excluded.prefixlen <= pd.delegated_length:
        yield f"{here}.excluded_prefix", (
            f"{excluded} is a /{excluded.prefixlen}; it must be longer than delegated_length ({pd.delegated_length}), "
            "being a part of each delegated prefix (RFC 6603)"
        )


def _hosts(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """Reservations name an address, a prefix or both; host names and DUIDs unique in the section; an address
    inside its subnet and outside its pools and the member and relay addresses (both members hand out from
    their own halves, so an address in a pool could also be leased to another client); a prefix outside every
    pool and every subnet; no address or prefix reserved twice."""
    names: set[str] = set()
    duids: set[str] = set()
    taken: set[IPv6Address | IPv6Network] = set()
    pd_blocks = [pd.prefix for s in v6.subnets for pd in s.pd_pools]
    for i, subnet in enumerate(v6.subnets):
        fixed = _reserved(v6, subnet, hosts=False)
        for j, host in enumerate(subnet.hosts):
            here = f"subnets[{i}].hosts[{j}]"
            if host.name in names:
                yield f"{here}.name", f"host {host.name!r} appears twice; names must be unique"
            if host.duid.lower() in duids:
                yield f"{here}.duid", f"DUID {host.duid} appears twice; reserve once per client"
            names.add(host.name)
            duids.add(host.duid.lower())
            if host.address is None and host.prefix is None:
                yield here, f"host {host.name} reserves nothing; give it an address, a prefix or both"
            if host.address is not None:
                yield from _host_address(f"{here}.address", host.address, subnet, fixed)
                if host.address in taken:
                    yield f"{here}.address", f"{host.address} is reserved twice; give host {host.name} its own"
                taken.add(host.address)
            if host.prefix is not None:
                if any(block.overlaps(host.prefix) for block in pd_blocks):
                    yield f"{here}.prefix", (
                        f"{host.prefix} lies in a pd_pool; the pool would delegate it to another router, reserve a "
                        "prefix outside every pd_pool"
                    )
                elif any(s.network.overlaps(host.prefix) for s in v6.subnets):
                    yield f"{here}.prefix", f"{host.prefix} overlaps a dhcpv6 subnet; a delegated prefix is routed elsewhere"
                if host.prefix in taken:
                    yield f"{here}.prefix", f"{host.prefix} is reserved twice; give host {host.name} its own"
                taken.add(host.prefix)


def _host_address(
    where: str, address: IPv6Address, subnet: Subnet6, fixed: dict[IPv6Address, str]
) -> Iterator[tuple[str, str]]:
    if address not in subnet.network:
        yield where, f"{address} is not in {subnet.network}"
    elif address in fixed:
        yield where, f"{address} is {fixed[address]}; give the host an address of its own"
    else:
        for k, pool in enumerate(subnet.pools):
            if pool.start <= address <= pool.end:
                yield where, f"{address} is inside pools[{k}] ({_span(pool)}); reserve an address outside the pools"


def _relays(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """Each entry names one of the site's relays, once; its source address usable; it serves at least one of
    the dhcpv6 subnets, each once, with its link_address a host address inside that subnet; every dhcpv6
    subnet with a pool is served by a relay (a member's own network excepted)."""
    relay_names = [r.name for r in site.relays]
    served: set[IPv6Network] = set()
    declared = {s.network for s in v6.subnets}
    seen: set[str] = set()
    for i, relay in enumerate(v6.relays):
        here = f"relays[{i}]"
        if relay.name not in relay_names:
            yield f"{here}.name", (
                f"{relay.name!r} is not one of the site's relays ({', '.join(relay_names) or 'none'}); "
                "declare it under relays"
            )
        if relay.name in seen:
            yield f"{here}.name", f"relay {relay.name!r} appears twice; names must be unique"
        seen.add(relay.name)
        if why := unusable6(IPv6Network(relay.source_address)):
            yield f"{here}.source_address", f"{relay.source_address} is {why}; use the relay's own global address"
        if not relay.serves:
            yield f"{here}.serves", f"relay {relay.name} serves no subnet; list at least one"
        nets = [s.subnet for s in relay.serves]
        for j, entry in enumerate(relay.serves):
            where = f"{here}.serves[{j}]"
            served.add(entry.subnet)
            if entry.subnet not in declared:
                yield f"{where}.subnet", f"{entry.subnet} is not one of the dhcpv6 subnets; declare it under dhcpv6.subnets"
            if nets.index(entry.subnet) != j:
                yield f"{where}.subnet", f"subnet {entry.subnet} appears twice; list each once"
            if entry.link_address not in entry.subnet:
                yield f"{where}.link_address", (
                    f"{entry.link_address} is not in {entry.subnet}; Kea picks the subnet by the relay's link-address"
                )
            elif entry.link_address == entry.subnet.network_address:
                yield f"{where}.link_address", (
                    f"{entry.link_address} is the subnet-router anycast address of {entry.subnet}; use the relay's own"
                )
    member_nets = {m.network for m in v6.members}
    for i, subnet in enumerate(v6.subnets):
        if (subnet.pools or subnet.pd_pools) and subnet.network not in served and subnet.network not in member_nets:
            yield f"subnets[{i}]", f"{subnet.network} has pools but no relay serves it; add it to a dhcpv6 relay's serves"


def _placement(site: Site, v6: Dhcpv6) -> Iterator[tuple[str, str]]:
    """Placed members of a dual-stack site sit in existing subnets (subnet_id): a VPC the site makes gets an
    Amazon-provided IPv6 block only at apply time, so no fixed IPv6 address could be written in advance."""
    for member in site.members:
        if member.placement is not None and member.placement.subnet_id is None:
            yield "members", (
                f"member {member.name} is placed in a VPC the site makes, whose Amazon-provided IPv6 block is known only "
                "after apply; place both members in existing subnets (subnet_id, vpc_id) whose IPv6 CIDR holds their "
                "dhcpv6 network"
            )
            return


def _reserved(v6: Dhcpv6, subnet: Subnet6, *, hosts: bool = True) -> dict[IPv6Address, str]:
    """Addresses in the subnet that a pool must never hand out, with what they are."""
    net = subnet.network
    reserved = {net.network_address: "the subnet-router anycast address"}
    reserved |= {m.address: f"server {m.member}" for m in v6.members}
    for relay in v6.relays:
        reserved[relay.source_address] = f"relay {relay.name}'s source address"
        reserved |= {s.link_address: f"relay {relay.name}'s link_address" for s in relay.serves}
    if hosts:
        reserved |= {h.address: f"reserved for host {h.name}" for h in subnet.hosts if h.address is not None}
    return {addr: what for addr, what in reserved.items() if addr in net}


def _span(pool: Pool6) -> str:
    return f"{pool.start}-{pool.end}"


RULES = (_members, _subnets, _pools, _pd_pools, _hosts, _relays, _placement)
