"""The ISC backend's files: dhcpd.conf, its key files and the service defaults.

All ISC DHCP syntax knowledge lives here, in ``options`` and in ``templates/isc``; templates stay
free of logic and receive plain values prepared below.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ...model import HostReservation, Member, Role, Site, Subnet
from ...render import CHRONY_CONF, FileTree, RenderedFile, render_template, render_wireguard, wireguard_paths
from . import options as isc_options

DHCPD_CONF = "/etc/dhcp/dhcpd.conf"
OMAPI_KEY_FILE = "/etc/dhcp/omapi.key"
DDNS_KEYS_FILE = "/etc/dhcp/ddns-keys.conf"
DHCPD_DEFAULTS = "/etc/default/isc-dhcp-server"


def render_member(site: Site, member: Member, *, root: str = "") -> FileTree:
    """The files one member needs. ``root`` prefixes absolute paths *inside* files (the key
    include), so tests can run the configs from a scratch folder; file paths stay absolute."""
    tree: tuple[RenderedFile, ...] = (
        RenderedFile(DHCPD_CONF, render_dhcpd_conf(site, member, root=root)),
        RenderedFile(DHCPD_DEFAULTS, render_template("isc/isc-dhcp-server.default.j2", address=member.address)),
        RenderedFile(CHRONY_CONF, render_template("isc/chrony.conf.j2", ntp_servers=site.clock.ntp_servers)),
    )
    if site.wireguard:
        tree += (RenderedFile(wireguard_paths(member).config, render_wireguard(site, member, root=root)),)
    return tree


def render_dhcpd_conf(site: Site, member: Member, *, root: str = "") -> str:
    return render_template(
        "isc/dhcpd.conf.j2",
        site_name=site.name,
        member={"name": member.name, "role": member.role.value},
        ping_check="true" if site.ping_check else "false",
        key_file=root.rstrip("/") + OMAPI_KEY_FILE,
        omapi=site.omapi,
        peer_name=site.peer_name,
        failover=_failover_view(site, member),
        declarations=isc_options.declarations(site),
        classes=[isc_options.class_view(c, site) for c in site.classes],
        networks=_network_views(site, member),
        hosts=[_host_view(host, site) for subnet in site.subnets for host in subnet.hosts],
        ddns=_ddns_view(site, root),
    )


def _ddns_view(site: Site, root: str) -> dict[str, Any] | None:
    if site.ddns is None:
        return None
    return {
        "domain_name": site.ddns.domain_name,
        "key_file": root.rstrip("/") + DDNS_KEYS_FILE,
        "zones": site.ddns.zones,
    }


def render_ddns_keys(site: Site, secrets: Mapping[str, str]) -> str:
    """The TSIG key file dhcpd.conf includes (``secrets``: key name -> base64 secret). Like the
    OMAPI key, only the bootstrap on the server (and tests) produce it."""
    assert site.ddns is not None
    keys = [{"name": k.name, "algorithm": k.algorithm.value, "secret": secrets[k.name]} for k in site.ddns.keys]
    return render_template("isc/ddns-keys.conf.j2", keys=keys)


def render_omapi_key(site: Site, secret: str) -> str:
    """The OMAPI key file dhcpd.conf includes. Only the bootstrap on the server (and tests)
    produce it, with the secret from the secret store."""
    return render_template(
        "isc/omapi.key.j2",
        key_name=site.omapi.key_name,
        algorithm=site.omapi.algorithm.value,
        secret=secret,
    )


def _failover_view(site: Site, member: Member) -> dict[str, Any]:
    f = site.failover
    partner = site.partner_of(member)
    extra: list[str] = []
    if member.role is Role.PRIMARY:
        # The guide: mclt and split/hba on the primary only; the secondary learns them.
        extra.append(f"mclt {f.mclt}")
        if f.hba is not None:
            extra.append("hba " + ":".join(f.hba[i : i + 2] for i in range(0, 64, 2)).lower())
        else:
            extra.append(f"split {f.effective_split}")
    optional = {
        "auto-partner-down": f.auto_partner_down,
        "max-lease-misbalance": f.max_lease_misbalance,
        "max-lease-ownership": f.max_lease_ownership,
        "min-balance": f.min_balance,
        "max-balance": f.max_balance,
    }
    extra += [f"{name} {value}" for name, value in optional.items() if value is not None]
    return {
        "address": site.failover_address(member),
        "port": member.failover_port,
        "peer_address": site.failover_address(partner),
        "peer_port": partner.failover_port,
        "max_response_delay": f.max_response_delay,
        "max_unacked_updates": f.max_unacked_updates,
        "load_balance_max_seconds": f.load_balance_max_seconds if f.load_balancing else 0,
        "extra": extra,
    }


def _network_views(site: Site, member: Member) -> list[dict[str, Any]]:
    """Subnets in order, each alone or inside the shared network of its first subnet."""
    views = list(_subnet_views(site, member))
    shared_of = {net: shared.name for shared in site.shared_networks for net in shared.subnets}
    groups: list[dict[str, Any]] = []
    placed: dict[str, dict[str, Any]] = {}
    for view in views:
        name = shared_of.get(view["network"])
        if name is None:
            groups.append({"shared": None, "subnets": [view]})
        elif name in placed:
            placed[name]["subnets"].append(view)
        else:
            placed[name] = {"shared": name, "subnets": [view]}
            groups.append(placed[name])
    return groups


def _host_view(host: HostReservation, site: Site) -> dict[str, Any]:
    return {"name": host.name, "mac": host.mac, "address": host.address,
            "statements": isc_options.option_statements(host.options, site)}


def _subnet_views(site: Site, member: Member) -> Iterator[dict[str, Any]]:
    declared = {s.network for s in site.subnets}
    if member.network not in declared:
        # Without a declaration for its own network dhcpd -t passes but dhcpd will not start.
        yield {
            "comment": "This server's own network: declared so dhcpd listens here; nothing is served.",
            "network": member.network,
            "address": member.network.network_address,
            "netmask": member.network.netmask,
            "statements": [],
            "pxe": None,
            "pools": [],
        }
    for subnet in site.subnets:
        yield {
            "comment": None,
            "network": subnet.network,
            "address": subnet.network.network_address,
            "netmask": subnet.network.netmask,
            "statements": [*_subnet_statements(subnet), *isc_options.option_statements(subnet.options, site)],
            "pxe": isc_options.pxe_view(subnet.pxe) if subnet.pxe else None,
            "pools": [
                {"start": pool.start, "end": pool.end,
                 "statements": [*isc_options.pool_statements(pool.allow, pool.deny),
                                *isc_options.option_statements(pool.options, site)]}
                for pool in subnet.pools
            ],
        }


def _subnet_statements(subnet: Subnet) -> Iterator[str]:
    if subnet.routers:
        yield "option routers " + _addresses(subnet.routers)
    if subnet.dns_servers:
        yield "option domain-name-servers " + _addresses(subnet.dns_servers)
    if subnet.domain_name:
        yield f'option domain-name "{subnet.domain_name}"'
    if subnet.ntp_servers:
        yield "option ntp-servers " + _addresses(subnet.ntp_servers)
    yield f"default-lease-time {subnet.default_lease_time}"
    yield f"max-lease-time {subnet.max_lease_time}"
    if subnet.next_server:
        yield f"next-server {subnet.next_server}"
    if subnet.filename:
        yield f'filename "{subnet.filename}"'


def _addresses(addresses: Iterable[object]) -> str:
    return ", ".join(str(a) for a in addresses)
