"""The Kea backend's files: kea-dhcp4.conf and kea-ctrl-agent.conf built as Python dicts and
written as JSON (no template: JSON has one spelling, and ``json.dumps`` escapes every value),
plus a systemd drop-in, chrony and the WireGuard tunnel shared with ISC.

The two members' configs differ only in ``this-server-name`` (and the Control Agent's
address): each is rendered from the model, never copied from its partner. The model has been
checked (``backends.kea.checks``) before anything here runs.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address
from typing import Any

from ...model import HostReservation, Member, Pool, Role, Site, Subnet
from ...releases import KeaPin, KeaSeries
from ...render import BANNER, CHRONY_CONF, FileTree, RenderedFile, render_template, render_wireguard, wireguard_paths
from . import ddns as kea_ddns
from . import options as kea_options
from .spelling import respell

DHCP4_CONF = "/etc/kea/kea-dhcp4.conf"
CTRL_AGENT_CONF = "/etc/kea/kea-ctrl-agent.conf"
# Debian's unit has no Restart=; without it a crashed member stays down until someone notices.
DHCP4_DROP_IN = "/etc/systemd/system/kea-dhcp4-server.service.d/dhcp-failover.conf"
PASSWORD_DIR = "/etc/kea"  # noqa: S105 - a folder, not a password
PASSWORD_FILE = "dhcp-failover-password"  # noqa: S105 - a file name; written at boot from SSM, never rendered
CONTROL_USER = "dhcp-failover"
CONTROL_SOCKET = "/run/kea/kea4-ctrl-socket"
CONTROL_SOCKET6 = "/run/kea/kea6-ctrl-socket"  # kea-dhcp6's, on a site with dhcpv6 (render6)
LEASE_FILE = "/var/lib/kea/kea-leases4.csv"
# Only on a monitored member (the reporter ships it); the pid file is named after the config
# file and the process (Kea's KEA_PIDFILE_DIR is /run/kea under Debian's unit).
DHCP4_LOG = "/var/log/kea/kea-dhcp4.log"
DHCP4_PID_FILE = "/run/kea/kea-dhcp4.kea-dhcp4.pid"
HOOKS_DIR = "/usr/lib/x86_64-linux-gnu/kea/hooks"
LEASE_CMDS_HOOK = f"{HOOKS_DIR}/libdhcp_lease_cmds.so"
HA_HOOK = f"{HOOKS_DIR}/libdhcp_ha.so"

DROP_IN_TEXT = f"""# {BANNER}
# Debian's kea-dhcp4-server unit has no Restart=: bring a crashed member back by itself.
[Service]
Restart=on-failure
RestartSec=2s
"""
D2_DROP_IN_TEXT = f"""# {BANNER}
# Debian's kea-dhcp-ddns-server unit has no Restart= either: a crashed D2 would stop DNS updates.
[Service]
Restart=on-failure
RestartSec=2s
"""


def kea_pin(site: Site) -> KeaPin:
    """The Kea the site's members install (``checks`` has refused a pin the release lacks)."""
    pin = site.kea_pin
    assert pin is not None, "checks refuse a Kea version the site's os does not carry"
    return pin


def uses_control_agent(site: Site) -> bool:
    """Kea 2.2 reaches kea-dhcp4 only through the Control Agent; Kea 3.0 deprecated the agent
    (gone in 3.2) and kea-dhcp4 listens for HTTP commands itself."""
    return kea_pin(site).series is KeaSeries.KEA_2_2


def render_member(site: Site, member: Member, *, root: str = "") -> FileTree:
    """The files one Kea member needs. ``root`` prefixes absolute paths *inside* files (socket,
    lease file, password folder) so tests run two members on one machine; file paths stay absolute."""
    tree: FileTree = (RenderedFile(DHCP4_CONF, as_json(dhcp4_config(site, member, root=root))),)
    if uses_control_agent(site):
        tree += (RenderedFile(CTRL_AGENT_CONF, as_json(ctrl_agent_config(site, member, root=root))),)
    tree += (
        RenderedFile(DHCP4_DROP_IN, DROP_IN_TEXT),
        RenderedFile(CHRONY_CONF, render_template("isc/chrony.conf.j2", ntp_servers=site.clock.ntp_servers)),
    )
    if site.ddns is not None:
        tree += (RenderedFile(kea_ddns.D2_DROP_IN, D2_DROP_IN_TEXT),)
    from .render6 import render_member6  # it builds on this module's HA pieces

    tree += render_member6(site, member, root=root)
    if site.wireguard:
        tree += (RenderedFile(wireguard_paths(member).config, render_wireguard(site, member, root=root)),)
    return tree


def as_json(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2) + "\n"


def password_path(root: str = "") -> str:
    return f"{root.rstrip('/')}{PASSWORD_DIR}/{PASSWORD_FILE}"


def control_url(site: Site, member: Member, port: int | None = None) -> str:
    """Where the member's control channel answers (the Control Agent on 2.2, kea-dhcp4's own
    HTTP socket on 3.0, or ``port``: kea-dhcp6's), for its partner (the tunnel address when there
    is one) and so for the HA peer list."""
    return f"http://{site.failover_address(member)}:{site.kea.control_port if port is None else port}/"


def control_port6(site: Site) -> int | None:
    """kea-dhcp6's own HTTP control port on a dual-stack Kea 3.0 site; None where it has none (no
    dhcpv6, or Kea 2.2, whose Control Agent forwards v6 commands to kea-dhcp6's unix socket)."""
    if site.dhcpv6 is None or uses_control_agent(site):
        return None
    return site.kea.control_port6


def ha_mode(site: Site) -> str:
    return "load-balancing" if site.failover.load_balancing else "hot-standby"


def _peer_role(site: Site, member: Member) -> str:
    if member.role is Role.PRIMARY:
        return "primary"
    return "secondary" if site.failover.load_balancing else "standby"


def ha_relationship(site: Site, member: Member, *, root: str = "", port: int | None = None) -> dict[str, Any]:
    """The member's side of one HA relationship (DHCPv4's, or DHCPv6's in render6): both peers
    reached through the control channel (or the control socket on ``port``) with the pair's
    password, the site's timers."""
    kea = site.kea
    peers = [
        {
            "name": m.name,
            "url": control_url(site, m, port),
            "role": _peer_role(site, m),
            "auto-failover": True,
            "basic-auth-user": CONTROL_USER,
            "basic-auth-password-file": password_path(root),
        }
        for m in (site.primary, site.secondary)
    ]
    return {
        "this-server-name": member.name,
        "mode": ha_mode(site),
        "heartbeat-delay": kea.heartbeat_delay_ms,
        "max-response-delay": kea.max_response_delay_ms,
        "max-ack-delay": kea.max_ack_delay_ms,
        "max-unacked-clients": kea.max_unacked_clients,
        # Only matters for a dedicated HA listener; kept on so that enabling one never exposes
        # config-get or lease4-get-all to whoever reaches its port (notes, pitfall 7).
        "restrict-commands": True,
        "peers": peers,
    }


def dhcp4_config(site: Site, member: Member, *, root: str = "") -> dict[str, Any]:
    prefix = root.rstrip("/")
    high_availability = ha_relationship(site, member, root=root)
    unix_socket = {"socket-type": "unix", "socket-name": prefix + CONTROL_SOCKET}
    if uses_control_agent(site):
        control: dict[str, Any] = {"control-socket": unix_socket}
    else:
        control = {
            "control-sockets": [unix_socket, _http_control_socket(site, member, root=root)],
            # Single-threaded, as Kea 2.2 ran: 3.0.3 warns on every multi-threaded config (queue
            # control, reservations lookup), and its HA hook would then open a listener of its own
            # that checks no password (it authenticates peers by mutual TLS only, docs/kea.md).
            "multi-threading": {"enable-multi-threading": False},
        }
        # Peer commands come to the HTTP socket above, which checks the password.
        high_availability["multi-threading"] = {"enable-multi-threading": False}
    ddns = kea_ddns.dhcp4_settings(site.ddns) if site.ddns is not None else {}
    config = {
        "Dhcp4": {
            "comment": BANNER,
            # Every client reaches the pair through a relay: unicast UDP sockets on all interfaces.
            "interfaces-config": {"interfaces": ["*"], "dhcp-socket-type": "udp"},
            **control,
            "lease-database": {"type": "memfile", "persist": True, "name": prefix + LEASE_FILE, "lfc-interval": 3600},
            **ddns,
            # lease_cmds first: the HA hook sends and applies lease updates through it.
            "hooks-libraries": [
                {"library": LEASE_CMDS_HOOK},
                {"library": HA_HOOK, "parameters": {"high-availability": [high_availability]}},
            ],
            **_served(site),
            "loggers": [_logger("kea-dhcp4", prefix + DHCP4_LOG if site.monitoring is not None else None)],
        }
    }
    return dict(respell(config, kea_pin(site).series))


def _listen_host(site: Site, member: Member) -> str:
    # With a tunnel the partner comes in on the tunnel address and operators on the fixed
    # one, so the control channel listens on both; the security group admits only those peers.
    return "0.0.0.0" if site.wireguard else str(member.address)  # noqa: S104


def _authentication(site: Site, *, root: str) -> dict[str, Any]:
    return {
        "type": "basic",
        "realm": f"dhcp-failover {site.name}",
        "directory": root.rstrip("/") + PASSWORD_DIR,
        "clients": [{"user": CONTROL_USER, "password-file": PASSWORD_FILE}],
    }


def _http_control_socket(site: Site, member: Member, *, root: str, port: int | None = None) -> dict[str, Any]:
    """Kea 3.0: kea-dhcp4's own HTTP command socket (or, on ``port``, kea-dhcp6's), for the
    partner and for operators."""
    return {
        "socket-type": "http",
        "socket-address": _listen_host(site, member),
        "socket-port": site.kea.control_port if port is None else port,
        "authentication": _authentication(site, root=root),
    }


def ctrl_agent_config(site: Site, member: Member, *, root: str = "") -> dict[str, Any]:
    sockets = {"dhcp4": {"socket-type": "unix", "socket-name": root.rstrip("/") + CONTROL_SOCKET}}
    if site.dhcpv6 is not None:
        # The v6 HA relationship and operators reach kea-dhcp6 through the same agent ("service": ["dhcp6"]).
        sockets["dhcp6"] = {"socket-type": "unix", "socket-name": root.rstrip("/") + CONTROL_SOCKET6}
    return {
        "Control-agent": {
            "comment": BANNER,
            "http-host": _listen_host(site, member),
            "http-port": site.kea.control_port,
            "authentication": _authentication(site, root=root),
            "control-sockets": sockets,
            "loggers": [_logger("kea-ctrl-agent")],
        }
    }


def _logger(name: str, log_file: str | None = None) -> dict[str, Any]:
    # stdout reaches the journal under systemd; Kea's own time stamps carry milliseconds. A
    # monitored member also writes a file the reporter ships to CloudWatch Logs (systemd's
    # LogsDirectory=kea makes /var/log/kea for _kea); Kea rotates it itself.
    outputs: list[dict[str, Any]] = [{"output": "stdout"}]
    if log_file is not None:
        outputs.append({"output": log_file, "maxsize": 10_485_760, "maxver": 4})
    return {"name": name, "output_options": outputs, "severity": "INFO"}


def subnet_ids(site: Site) -> dict[int, int]:
    """Subnet index -> Kea subnet id. Both members number subnets the same way (inventory
    order, from 1): HA lease updates name the id, and ``convert-leases`` uses it too."""
    return {index: index + 1 for index in range(len(site.subnets))}


def _served(site: Site) -> dict[str, Any]:
    """Option definitions, classes and subnets; subnets of a shared network go inside it (at
    the place of its first subnet), the others stay in ``subnet4``."""
    ids = subnet_ids(site)
    served: dict[str, Any] = {}
    defs = kea_options.option_defs(site)
    if defs:
        served["option-def"] = defs
    classes = kea_options.client_classes(site, ids)
    if classes:
        served["client-classes"] = classes
    shared_of = {net: shared.name for shared in site.shared_networks for net in shared.subnets}
    alone: list[dict[str, Any]] = []
    networks: dict[str, dict[str, Any]] = {}
    for index, subnet in enumerate(site.subnets):
        entry = _subnet(site, subnet, ids[index])
        name = shared_of.get(subnet.network)
        if name is None:
            alone.append(entry)
        else:
            networks.setdefault(name, {"name": name, "subnet4": []})["subnet4"].append(entry)
    if networks:
        served["shared-networks"] = list(networks.values())
    served["subnet4"] = alone
    return served


def _subnet(site: Site, subnet: Subnet, subnet_id: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": subnet_id,
        "subnet": str(subnet.network),
        "valid-lifetime": subnet.default_lease_time,
        "min-valid-lifetime": min(subnet.default_lease_time, subnet.max_lease_time),
        "max-valid-lifetime": subnet.max_lease_time,
    }
    options = [*_basic_options(subnet), *kea_options.option_data(subnet.options, site)]
    if options:
        entry["option-data"] = options
    if subnet.next_server:
        entry["next-server"] = str(subnet.next_server)
    if subnet.filename:
        entry["boot-file-name"] = subnet.filename
    if subnet.pxe is not None:
        entry.update(kea_options.pxe_subnet_fields(subnet.pxe, subnet_id))
    entry["pools"] = [
        part for number, pool in enumerate(subnet.pools, start=1) for part in _pools(site, pool, subnet_id, number)
    ]
    if subnet.hosts:
        entry["reservations"] = [_reservation(site, host) for host in subnet.hosts]
    return entry


def _reservation(site: Site, host: HostReservation) -> dict[str, Any]:
    entry: dict[str, Any] = {"hw-address": host.mac.lower(), "ip-address": str(host.address), "hostname": host.name}
    options = kea_options.option_data(host.options, site)
    if options:
        entry["option-data"] = options
    return entry


def _basic_options(subnet: Subnet) -> list[dict[str, str]]:
    options: list[dict[str, str]] = []
    if subnet.routers:
        options.append({"name": "routers", "data": _addresses(subnet.routers)})
    if subnet.dns_servers:
        options.append({"name": "domain-name-servers", "data": _addresses(subnet.dns_servers)})
    if subnet.domain_name:
        options.append({"name": "domain-name", "data": subnet.domain_name})
    if subnet.ntp_servers:
        options.append({"name": "ntp-servers", "data": _addresses(subnet.ntp_servers)})
    return options


def _addresses(addresses: tuple[IPv4Address, ...]) -> str:
    return ", ".join(str(a) for a in addresses)


def _pools(site: Site, pool: Pool, subnet_id: int, number: int) -> list[dict[str, Any]]:
    """Hot-standby: the pool as it is. Load-balancing: Kea hashes each client to one member
    and serves it only from pools of that member's class HA_<name>, so every pool is split in
    two halves, the lower one the primary's. A pool that allows or denies classes takes a class
    that tests those lists too (and, in load-balancing, the member's HA_ class)."""
    restricted = bool(pool.allow or pool.deny)
    options = kea_options.option_data(pool.options, site)
    extra: dict[str, Any] = {"option-data": options} if options else {}
    if not site.failover.load_balancing:
        whole: dict[str, Any] = {"pool": f"{pool.start} - {pool.end}"}
        if restricted:
            whole["client-class"] = kea_options.pool_class(subnet_id, number, None)
        return [{**whole, **extra}]
    lower, upper = split_pool(pool)
    halves = []
    for (first, last), member in ((lower, site.primary), (upper, site.secondary)):
        name = kea_options.pool_class(subnet_id, number, member) if restricted else f"HA_{member.name}"
        halves.append({"pool": f"{first} - {last}", "client-class": name, **extra})
    return halves


def split_pool(pool: Pool) -> tuple[tuple[IPv4Address, IPv4Address], tuple[IPv4Address, IPv4Address]]:
    """The pool's two halves (the lower one one address smaller when the size is odd)."""
    size = int(pool.end) - int(pool.start) + 1
    last_lower = pool.start + (size // 2 - 1)
    return (pool.start, last_lower), (last_lower + 1, pool.end)
