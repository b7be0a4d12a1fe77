"""kea-dhcp6.conf for a Kea site with a ``dhcpv6`` section, built as a Python dict and written as
JSON, like kea-dhcp4.conf (``render``).

The v6 server is a separate kea-dhcp6 process with its own HA relationship: its own hook
configuration, its own lease file and its own states, so one family can be partner-down while
the other is normal. On Kea 2.2 its peers reach each other through the same authenticated Control
Agent, which forwards each command to the server its ``service`` names (``dhcp6``); Kea 3.0 has no
agent, so kea-dhcp6 answers on an HTTP control socket of its own (``kea.control_port6``, same
password), as kea-dhcp4 does on ``kea.control_port``. The members' configs differ only in
``this-server-name``, the listening address and the server DUID.

What differs between Kea releases is looked up in ``SPELLINGS`` by the release of
``kea.package_version``, so a new release's spelling is one more entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from ...dhcpv6 import Dhcpv6, Host6, PdPool, Pool6, Subnet6
from ...model import Member, Site
from ...render import BANNER, FileTree, RenderedFile
from .render import (
    CONTROL_SOCKET6,
    HA_HOOK,
    LEASE_CMDS_HOOK,
    _http_control_socket,
    _logger,
    as_json,
    control_port6,
    ha_relationship,
    kea_pin,
)

DHCP6_CONF = "/etc/kea/kea-dhcp6.conf"
LEASE_FILE6 = "/var/lib/kea/kea-leases6.csv"
DHCP6_LOG = "/var/log/kea/kea-dhcp6.log"
DHCP6_DROP_IN = "/etc/systemd/system/kea-dhcp6-server.service.d/dhcp-failover.conf"
DHCP6_DROP_IN_TEXT = f"""# {BANNER}
# Debian's kea-dhcp6-server unit has no Restart=: bring a crashed member back by itself.
[Service]
Restart=on-failure
RestartSec=2s
"""
# The server's DUID (DUID-EN, RFC 8415 11.3) under ISC's enterprise number, as Kea makes its own
# by default, but derived from site and member: stable across reinstalls and distinct per member
# without a server-id file (two lab members on one machine would share /var/lib/kea's).
ISC_ENTERPRISE_ID = 2495
VENDOR_SPACE = "vendor-{enterprise}"


@dataclass(frozen=True)
class Spelling:
    """How one Kea release spells what changed between releases."""

    class_list: bool  # pools name their class as "client-classes": [...] (3.0) or "client-class" (2.2)
    # Whether the config sets the server's DUID (server_duid). Kea 3.0.3 warns of any server-id
    # setting (DHCPSRV_CFGMGR_CONFIGURE_SERVERID), so there each member makes its own DUID-LLT once
    # and keeps it in its data folder; a reinstalled member's clients then rebind to the new DUID.
    server_id: bool

    def pool_class(self, name: str) -> dict[str, Any]:
        return {"client-classes": [name]} if self.class_list else {"client-class": name}


SPELLINGS: dict[str, Spelling] = {
    "2.2": Spelling(class_list=False, server_id=True),
    # Kea 3.0 deprecates "client-class" in pools (its kea-dhcp6 -t warns of it).
    "3.0": Spelling(class_list=True, server_id=False),
}


def kea_release(site: Site) -> str:
    """"2.2" for the Debian version "2.2.0-6": the part of the version spellings depend on."""
    major, minor = kea_pin(site).version.split(".")[:2]
    return f"{major}.{minor}"


def spelling(site: Site) -> Spelling:
    release = kea_release(site)
    if release not in SPELLINGS:
        raise ValueError(f"no kea-dhcp6.conf spelling for Kea {release}; known: {', '.join(SPELLINGS)}")
    return SPELLINGS[release]


def render_member6(site: Site, member: Member, *, root: str = "") -> FileTree:
    """The v6 files of one member; empty when the site has no dhcpv6 section."""
    if site.dhcpv6 is None:
        return ()
    return (
        RenderedFile(DHCP6_CONF, as_json(dhcp6_config(site, member, root=root))),
        RenderedFile(DHCP6_DROP_IN, DHCP6_DROP_IN_TEXT),
    )


def server_duid(site: Site, member: Member) -> str:
    """The identifier part of the member's DUID-EN: 8 bytes of a hash of site and member."""
    return hashlib.sha256(f"dhcp-failover/{site.name}/{member.name}".encode()).hexdigest()[:16]


def dhcp6_config(site: Site, member: Member, *, root: str = "") -> dict[str, Any]:
    v6 = _section(site)
    prefix = root.rstrip("/")
    port6 = control_port6(site)
    high_availability = ha_relationship(site, member, root=root, port=port6)
    words = spelling(site)
    unix_socket = {"socket-type": "unix", "socket-name": prefix + CONTROL_SOCKET6}
    if port6 is None:
        control: dict[str, Any] = {"control-socket": unix_socket}
    else:
        control = {
            "control-sockets": [unix_socket, _http_control_socket(site, member, root=root, port=port6)],
            # Single-threaded, as for kea-dhcp4 on 3.0 (render.dhcp4_config): a multi-threaded HA
            # hook would open a listener of its own that checks no password.
            "multi-threading": {"enable-multi-threading": False},
        }
        high_availability["multi-threading"] = {"enable-multi-threading": False}
    config: dict[str, Any] = {
        "comment": BANNER,
        # Relays send to the member's unicast address, and Kea opens a unicast socket only for an
        # address it is given ("*" would listen on link-local and multicast only).
        "interfaces-config": {"interfaces": [f"{v6.interface}/{v6.address_of(member.name)}"]},
        **({"server-id": {
            "type": "EN", "enterprise-id": ISC_ENTERPRISE_ID, "identifier": server_duid(site, member), "persist": False,
        }} if words.server_id else {}),
        **control,
        "lease-database": {"type": "memfile", "persist": True, "name": prefix + LEASE_FILE6, "lfc-interval": 3600},
        "hooks-libraries": [
            {"library": LEASE_CMDS_HOOK},
            {"library": HA_HOOK, "parameters": {"high-availability": [high_availability]}},
        ],
    }
    defs = _vendor_definitions(v6)
    if defs:
        config["option-def"] = defs
    config["subnet6"] = [_subnet(site, words, subnet, index + 1) for index, subnet in enumerate(v6.subnets)]
    config["loggers"] = [_logger("kea-dhcp6", prefix + DHCP6_LOG if site.monitoring is not None else None)]
    return {"Dhcp6": config}


def _section(site: Site) -> Dhcpv6:
    if site.dhcpv6 is None:
        raise ValueError(f"site {site.name} has no dhcpv6 section")
    return site.dhcpv6


def subnet6_ids(v6: Dhcpv6) -> dict[IPv6Network, int]:
    """Subnet -> Kea subnet id: inventory order from 1 on both members (HA lease updates name it)."""
    return {subnet.network: index + 1 for index, subnet in enumerate(v6.subnets)}


def _subnet(site: Site, words: Spelling, subnet: Subnet6, subnet_id: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": subnet_id,
        "subnet": str(subnet.network),
        "preferred-lifetime": subnet.preferred_lifetime,
        "valid-lifetime": subnet.valid_lifetime,
        "rapid-commit": subnet.rapid_commit,
    }
    options = _options(subnet)
    if options:
        entry["option-data"] = options
    balanced = site.failover.load_balancing
    halves = (site.primary, site.secondary) if balanced else ()
    entry["pools"] = [part for pool in subnet.pools for part in _address_pools(words, pool, halves)]
    entry["pd-pools"] = [part for pd in subnet.pd_pools for part in _pd_pools(words, pd, halves)]
    if subnet.hosts:
        entry["reservations"] = [_reservation(host) for host in subnet.hosts]
    return entry


def _address_pools(words: Spelling, pool: Pool6, members: tuple[Member, ...]) -> list[dict[str, Any]]:
    """Hot-standby: the pool as it is. Load-balancing: two halves, the lower one the primary's
    (HA_<name> classes, as for DHCPv4)."""
    if not members:
        return [{"pool": f"{pool.start} - {pool.end}"}]
    size = int(pool.end) - int(pool.start) + 1
    last_lower = pool.start + (size // 2 - 1)
    spans = ((pool.start, last_lower), (last_lower + 1, pool.end))
    return [
        {"pool": f"{first} - {last}", **words.pool_class(f"HA_{member.name}")}
        for (first, last), member in zip(spans, members, strict=True)
    ]


def _pd_pools(words: Spelling, pd: PdPool, members: tuple[Member, ...]) -> list[dict[str, Any]]:
    """Hot-standby: the block as it is. Load-balancing: its two halves (one bit longer), the lower one
    the primary's. Kea wants the excluded prefix inside each pool's block; only its bits past
    delegated_length reach clients (RFC 6603), so each half gets those bits on its own first prefix."""
    blocks = list(pd.prefix.subnets(prefixlen_diff=1)) if members else [pd.prefix]
    entries = []
    for number, block in enumerate(blocks):
        entry: dict[str, Any] = {
            "prefix": str(block.network_address), "prefix-len": block.prefixlen, "delegated-len": pd.delegated_length,
        }
        if pd.excluded_prefix is not None:
            inner = int(pd.excluded_prefix.network_address) & ((1 << (128 - pd.delegated_length)) - 1)
            entry["excluded-prefix"] = str(IPv6Address(int(block.network_address) | inner))
            entry["excluded-prefix-len"] = pd.excluded_prefix.prefixlen
        if members:
            entry.update(words.pool_class(f"HA_{members[number].name}"))
        entries.append(entry)
    return entries


def _reservation(host: Host6) -> dict[str, Any]:
    entry: dict[str, Any] = {"duid": host.duid.lower(), "hostname": host.name}
    if host.address is not None:
        entry["ip-addresses"] = [str(host.address)]
    if host.prefix is not None:
        entry["prefixes"] = [str(host.prefix)]
    return entry


def _options(subnet: Subnet6) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = []
    if subnet.dns_servers:
        options.append({"name": "dns-servers", "data": _join(subnet.dns_servers)})
    if subnet.domain_search:
        options.append({"name": "domain-search", "data": ", ".join(subnet.domain_search)})
    if subnet.sntp_servers:
        options.append({"name": "sntp-servers", "data": _join(subnet.sntp_servers)})
    if subnet.information_refresh_time is not None:
        options.append({"name": "information-refresh-time", "data": str(subnet.information_refresh_time)})
    if subnet.vendor is not None:
        space = VENDOR_SPACE.format(enterprise=subnet.vendor.enterprise_id)
        options.append({"name": "vendor-opts", "data": str(subnet.vendor.enterprise_id)})
        options += [
            {"name": _vendor_name(s.code), "space": space, "data": s.hex.lower()} for s in subnet.vendor.suboptions
        ]
    return options


def _vendor_definitions(v6: Dhcpv6) -> list[dict[str, Any]]:
    """One binary definition per vendor sub-option code used (Kea needs a definition to send one)."""
    used = sorted({(s.vendor.enterprise_id, o.code) for s in v6.subnets if s.vendor for o in s.vendor.suboptions})
    return [
        {"name": _vendor_name(code), "code": code, "space": VENDOR_SPACE.format(enterprise=enterprise), "type": "binary"}
        for enterprise, code in used
    ]


def _vendor_name(code: int) -> str:
    return f"vendor-suboption-{code}"


def _join(addresses: tuple[IPv6Address, ...]) -> str:
    return ", ".join(str(a) for a in addresses)
