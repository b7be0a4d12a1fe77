"""Import an existing ISC dhcpd.conf (one server, or both servers of a failover pair) into an
inventory, listing every statement it could not map with its line number: nothing is silently
dropped. What a dhcpd.conf cannot know (relay interfaces and addresses, a peer given by host
name, the servers behind a WireGuard tunnel's ends) becomes a placeholder that ``validate``
rejects, naming the field, until it is filled in; ``deploy_placeholders`` adds what a deploy
needs besides (placement, and relays for servers that leave the client LAN). ``config_walk``
reads each file's statements; this module assembles the site from them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ...constructs.layout import aws_reserved_addresses
from ...errors import ConfigImportError
from ...messages import excerpt
from ...model import Role, WireGuard
from .config_reader import Statement, parse, tokenize
from .config_walk import DHCPD_LEASE_TIMES, Importer, Scope, clean_name, ipv4

PLACEHOLDER = "FILL IN"
NOT_FOLLOWED = "included files are not read here; import --dhcpd-conf reads them"
NOT_FOUND = "the included file is not there (absolute names are read under --include-root)"


Imported = tuple[dict[str, Any], list[tuple[int, str, str]], list[str]]


class PeerConfigError(ConfigImportError):
    """The peer's file, not the server's own, is the one that is not a dhcpd.conf."""


def import_config(primary_text: str, peer_text: str | None = None, site_name: str | None = None) -> Imported:
    """(inventory as data, unmapped (line, statement, why), placeholders to fill in); includes
    are listed, not read (``import_trees`` takes trees that ``config_reader`` expanded)."""
    peer = parse(tokenize(peer_text)) if peer_text is not None else None
    return import_trees(parse(tokenize(primary_text)), peer, site_name)


def import_trees(primary: list[Statement], peer: list[Statement] | None = None, site_name: str | None = None,
                 *, missing_include: str = NOT_FOLLOWED) -> Imported:
    """``import_config`` for statements already read; ``missing_include`` says why an include
    statement still there was not read."""
    importers = []
    for error, tree in ((ConfigImportError, primary), (PeerConfigError, peer)):
        if tree is None:
            continue
        importer = Importer(missing_include=missing_include)
        importer.prescan(tree)
        importer.top(tree, Scope(subnet=dict(DHCPD_LEASE_TIMES)))
        if importer.recognised == 0:
            raise error("holds no dhcpd.conf statement the importer knows; is this a dhcpd.conf?")
        importers.append(importer)
    return _assemble(importers[0], importers[1] if len(importers) > 1 else None, site_name)


def _site_settings(main: Importer) -> dict[str, Any]:
    """OMAPI, DDNS, option definitions, classes and shared networks: the site-wide sections."""
    found: dict[str, Any] = {}
    omapi = {k: v for k, v in main.omapi.items() if not k.startswith("_")}
    algorithm = main.omapi.get("_algorithms", {}).get(omapi.get("key_name", ""))
    if algorithm:
        omapi["algorithm"] = algorithm
    if omapi:
        found["omapi"] = omapi
    ddns = main.dynamic_dns_section()
    if ddns:
        found["ddns"] = ddns
    found.update(main.site)
    if main.definitions:
        found["option_definitions"] = list(main.definitions.values())
    if main.classes:
        found["classes"] = main.classes
    shared = [s for s in main.shared if len(s["subnets"]) >= 2]
    if shared:
        found["shared_networks"] = shared
    return found


def _assemble(main: Importer, peer: Importer | None, site_name: str | None) -> Imported:
    placeholders: list[str] = []
    peer_name = main.peer.get("name")
    name = site_name or clean_name((peer_name or "imported").removesuffix("-failover"), 40)
    site: dict[str, Any] = {"name": name}
    for _, pool in main.loose_pools:
        holder = next((s for s in main.subnets if ipv4(pool.get("start", "")) and
                       ipaddress.IPv4Address(pool["start"]) in ipaddress.IPv4Network(s["network"])), None)
        if holder is not None:
            holder["pools"].append(pool)
    for line, host in main.hosts:
        holder = next((s for s in main.subnets if ipaddress.IPv4Address(host["address"]) in ipaddress.IPv4Network(s["network"])), None)
        if holder is None:
            main.unmapped.append((line, f"host {host['name']}", "its address is in no declared subnet"))
        else:
            holder.setdefault("hosts", []).append(host)
    for subnet in main.subnets:
        subnet["pools"] = _around_fixed_addresses(subnet["pools"], subnet.get("hosts", []))
    site["members"] = _members(main, peer, site, placeholders)
    server_networks = {m["network"] for m in site["members"]}
    site["subnets"] = [s for s in main.subnets if s["pools"] or s.get("hosts") or s["network"] not in server_networks]
    _pool_to_fill_in(site["subnets"], main.pools_dropped, placeholders)
    for subnet in site["subnets"]:
        if not subnet["pools"]:
            del subnet["pools"]
    primary_block = main.peer if main.peer.get("role", "primary") == "primary" or peer is None else peer.peer
    settings = dict(primary_block.get("settings", {}))
    if peer_name and peer_name != f"{site['name']}-failover":
        settings["peer_name"] = peer_name
    if settings.get("load_balance_max_seconds") == 0:
        settings["load_balancing"] = False
        del settings["load_balance_max_seconds"]
    if settings:
        site["failover"] = settings
    site.update(_site_settings(main))
    relays = []
    for i, subnet in enumerate(s for s in site["subnets"] if s.get("pools") and s["network"] not in server_networks):
        giaddr = (subnet.get("routers") or [PLACEHOLDER])[0]
        relays.append({"name": f"relay-{i + 1}", "source_address": PLACEHOLDER,
                       "serves": [{"subnet": subnet["network"], "interface": PLACEHOLDER, "giaddr": giaddr}]})
        placeholders.append(f"relays[{i}]: source_address and the interface (and the giaddr, if no router is given)")
    if relays:
        site["relays"] = relays
    unmapped = sorted(main.unmapped)
    if peer is not None:
        unmapped += [(line, f"(peer) {text}", why) for line, text, why in sorted(peer.unmapped)]
    return {"version": 1, "sites": [site]}, unmapped, placeholders


def deploy_placeholders(data: dict[str, Any], placeholders: list[str]) -> None:
    """What a deploy needs that no dhcpd.conf says, as placeholders, so that none left means synth
    works: where each member runs in AWS, and, for servers that sat on a client LAN, their own
    address in AWS and a relay for that LAN (in AWS nothing hears the LAN's broadcasts)."""
    site = data["sites"][0]
    lans = {s["network"] for s in site["subnets"] if s.get("pools")}
    networks = [m["network"] for m in site["members"]]
    for member in site["members"]:
        address, network = member["address"], member["network"]
        if network in lans:
            placeholders.append(
                f"member {member['name']}: address and network, its own in AWS (it served the client LAN "
                f"{network} from {address}; a relay forwards that LAN to it now)")
            member["address"] = member["network"] = PLACEHOLDER
        elif ipv4(address) and network != PLACEHOLDER:
            net = ipaddress.IPv4Network(network)
            if not 16 <= net.prefixlen <= 28:
                placeholders.append(f"member {member['name']}: address and network ({network} cannot be an AWS "
                                    "subnet: those are /16 to /28)")
                member["address"] = member["network"] = PLACEHOLDER
            elif ipaddress.IPv4Address(address) in aws_reserved_addresses(net):
                placeholders.append(f"member {member['name']}: address ({address} is one of the 5 addresses AWS "
                                    f"reserves in subnet {network}: the first four and the last)")
                member["address"] = PLACEHOLDER
        shared = " (both members are in one network: give them the same zone)" if (
            networks.count(network) > 1 and network not in lans) else ""
        if "dhcpv6" in site:
            # A VPC the site makes gets its IPv6 block only at apply; DHCPv6 needs existing subnets.
            member["placement"] = {"region": PLACEHOLDER, "subnet_id": PLACEHOLDER, "vpc_id": PLACEHOLDER,
                                   "ami": PLACEHOLDER}
            where = "subnet_id and vpc_id of an existing subnet whose IPv6 CIDR holds its dhcpv6 network"
        else:
            member["placement"] = {"region": PLACEHOLDER, "availability_zone": PLACEHOLDER, "ami": PLACEHOLDER}
            where = f"availability_zone{shared} (or subnet_id and vpc_id of an existing subnet)"
        placeholders.append(f"member {member['name']}: placement: region, {where} and ami, where it runs in AWS; "
                            "without a placement the site is rendered but not deployed (remove placement for that)")
    relays = site.setdefault("relays", [])
    relayed = {served["subnet"] for relay in relays for served in relay["serves"]}
    for subnet in site["subnets"]:
        if subnet["network"] in lans - relayed:
            i = len(relays)
            relays.append({"name": f"relay-{i + 1}", "source_address": PLACEHOLDER,
                           "serves": [{"subnet": subnet["network"], "interface": PLACEHOLDER,
                                       "giaddr": (subnet.get("routers") or [PLACEHOLDER])[0]}]})
            placeholders.append(f"relays[{i}]: source_address and the interface (and the giaddr, if no router is "
                                f"given) of the relay for {subnet['network']}, which the servers sat on")
    if not relays:
        del site["relays"]


def _around_fixed_addresses(pools: list[dict[str, Any]], hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pools cut around the hosts' fixed addresses: dhcpd would offer such an address to another
    client (ISC: fixed addresses should not be in a range), and the model refuses the overlap."""
    fixed = sorted(ipaddress.IPv4Address(h["address"]) for h in hosts)
    out = []
    for pool in pools:
        start, end = ipaddress.IPv4Address(pool["start"]), ipaddress.IPv4Address(pool["end"])
        for address in (a for a in fixed if start <= a <= end):
            if start < address:
                out.append({**pool, "start": str(start), "end": str(address - 1)})
            start = address + 1
        if start <= end:
            out.append({**pool, "start": str(start), "end": str(end)})
    return out


def _pool_to_fill_in(subnets: list[dict[str, Any]], dropped: list[str], placeholders: list[str]) -> None:
    """A pair needs a pool its failover peer names (dhcpd refuses the peer otherwise): when every
    pool of the file was listed (dynamic BOOTP ones, say), the subnet that had them gets one to fill in."""
    if any(s["pools"] for s in subnets) or not dropped:
        return
    index, subnet = next((i, s) for i, s in enumerate(subnets) if s["network"] == dropped[0])
    subnet["pools"] = [{"start": PLACEHOLDER, "end": PLACEHOLDER}]
    placeholders.append(f"subnets[{index}].pools[0]: start and end; no pool of the file maps, and a failover "
                        "pair needs one")


def _members(main: Importer, peer: Importer | None, site: dict[str, Any], placeholders: list[str]) -> list[dict[str, Any]]:
    role = main.peer.get("role", "primary")
    other = "secondary" if role == "primary" else "primary"
    own, partner = main.peer.get("address", PLACEHOLDER), main.peer.get("peer address", PLACEHOLDER)
    if peer is not None and peer.peer.get("address") and not ipv4(partner):
        partner = peer.peer["address"]
    known = main.subnets + (peer.subnets if peer is not None else [])
    tunnel = _tunnel({role: own, other: partner}, known)
    hint = ""
    if tunnel is not None and not main.bare_subnets:
        # No bare subnet declares the server's own network beside it: more likely two servers in a /30.
        hint = f" (or, if the peer block names the ends of a WireGuard tunnel {tunnel}: wireguard, and the server's own address)"
        tunnel = None
    if tunnel is not None:
        site["wireguard"] = {"network": str(tunnel), "endpoints": PLACEHOLDER}
        placeholders.append("wireguard.endpoints: elastic-ip or private (how each end reaches the other); "
                            "listen_port, mtu and persistent_keepalive keep their defaults unless you set them")
    bare = {role: main.bare_subnets, other: peer.bare_subnets if peer is not None else []}
    members = []
    for member_role, address, port in ((role, own, main.peer.get("port")), (other, partner, main.peer.get("peer port"))):
        entry: dict[str, Any] = {"name": f"dhcp-{member_role}", "role": member_role}
        if tunnel is not None:
            # The peer block names the tunnel's ends; the server's own address is not in the file.
            entry["address"] = PLACEHOLDER
            entry["network"] = bare[member_role][0] if len(bare[member_role]) == 1 else PLACEHOLDER
            placeholders.append(f"member dhcp-{member_role}: address" + ("" if len(bare[member_role]) == 1 else " and network")
                                + f" (the server's own; {address} in the failover peer block is its end of the "
                                f"WireGuard tunnel {tunnel})")
        elif ipv4(address):
            entry["address"] = address
            network = next((s["network"] for s in known if ipaddress.IPv4Address(address) in ipaddress.IPv4Network(s["network"])), None)
            entry["network"] = network or PLACEHOLDER
            if network is None:
                placeholders.append(f"member dhcp-{member_role}: network (the server's own CIDR){hint}")
        else:
            entry["address"] = PLACEHOLDER
            entry["network"] = PLACEHOLDER
            placeholders.append(f"member dhcp-{member_role}: address and network ({excerpt(address)} is not an IPv4 address)")
        if port is not None and port != (519 if member_role == "primary" else 520):
            entry["port"] = port
        members.append(entry)
    return sorted(members, key=lambda m: m["role"] != "primary")


def _tunnel(addresses: dict[str, str], subnets: list[dict[str, Any]]) -> ipaddress.IPv4Network | None:
    """The WireGuard network whose ends the peer block names: two addresses in no declared
    subnet that are the ends the model gives the primary and the secondary of a /31 or /30."""
    if not all(ipv4(a) for a in addresses.values()):
        return None
    ends = {role: ipaddress.IPv4Address(a) for role, a in addresses.items()}
    if any(a in ipaddress.IPv4Network(s["network"]) for a in ends.values() for s in subnets):
        return None
    for prefix in (31, 30):
        network = ipaddress.IPv4Network(f"{ends['primary']}/{prefix}", strict=False)
        tunnel = WireGuard(network=network)
        if tunnel.address(Role.PRIMARY) == ends["primary"] and tunnel.address(Role.SECONDARY) == ends["secondary"]:
            return network
    return None


@dataclass(frozen=True)
class BindingCoverage:
    in_pools: int
    on_hosts: int
    outside: list[tuple[str, str]]  # (address, MAC) of bindings neither pools nor hosts cover


def binding_coverage(data: dict[str, Any], bindings: list[tuple[ipaddress.IPv4Address, str]]) -> BindingCoverage:
    """Where each active binding lands in the imported inventory (``data`` as import_config made it)."""
    pools, hosts = [], {}
    for site in data.get("sites", []):
        for subnet in site.get("subnets", []):
            for pool in subnet.get("pools", []):
                if ipv4(pool.get("start", "")) and ipv4(pool.get("end", "")):
                    pools.append((ipaddress.IPv4Address(pool["start"]), ipaddress.IPv4Address(pool["end"])))
            for host in subnet.get("hosts", []):
                if ipv4(host.get("address", "")):
                    hosts[ipaddress.IPv4Address(host["address"])] = str(host.get("mac", "")).lower()
    in_pools = on_hosts = 0
    outside = []
    for address, mac in bindings:
        if hosts.get(address) == mac.lower():
            on_hosts += 1
        elif any(start <= address <= end for start, end in pools):
            in_pools += 1
        else:
            outside.append((str(address), mac))
    return BindingCoverage(in_pools, on_hosts, outside)
