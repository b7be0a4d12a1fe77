"""The DHCPv6 side of a relay: what an engineer deploys or pastes so that a router forwards its
clients' DHCPv6 to both Kea members, beside the DHCPv4 files of ``render.render_relay``.

Each flavour lists both members: in load-balancing each member answers only its half of the
clients, so a relay that forwards to one member leaves the other half unserved.
"""

from __future__ import annotations

from .dhcpv6 import Relay6, RelayedSubnet6
from .model import Relay, Site
from .render import FileTree, RenderedFile, render_template

RELAY6_DEFAULTS = "/etc/default/isc-dhcp-relay6"
RELAY6_UNIT = "/etc/systemd/system/isc-dhcp-relay6.service"
CISCO_IOS_SNIPPET6 = "cisco-ios-dhcpv6.cfg"
JUNOS_SNIPPET6 = "junos-dhcpv6.conf"


def relay6_of(site: Site, relay: Relay) -> Relay6 | None:
    if site.dhcpv6 is None:
        return None
    return next((r for r in site.dhcpv6.relays if r.name == relay.name), None)


def dhcrelay6_options(site: Site, relay6: Relay6) -> list[str]:
    """dhcrelay -6 arguments: -l per client interface (once, for subnets sharing one), -u per member."""
    assert site.dhcpv6 is not None  # callers pass a relay of the section
    downstream = list(dict.fromkeys(s.interface for s in relay6.serves))
    servers = [site.dhcpv6.address_of(m.name) for m in (site.primary, site.secondary)]
    return [f"-l {i}" for i in downstream] + [f"-u {server}%{relay6.upstream_interface}" for server in servers]


def render_relay6(site: Site, relay: Relay) -> FileTree:
    relay6 = relay6_of(site, relay)
    if relay6 is None or site.dhcpv6 is None:
        return ()
    servers = [str(site.dhcpv6.address_of(m.name)) for m in (site.primary, site.secondary)]
    common = {"relay_name": relay.name, "site_name": site.name, "servers": servers,
              "source_address": relay6.source_address}
    # Subnets sharing one client interface are configured there once.
    by_interface: dict[str, RelayedSubnet6] = {}
    for served in relay6.serves:
        by_interface.setdefault(served.interface, served)
    return (
        RenderedFile(RELAY6_DEFAULTS, render_template(
            "isc/isc-dhcp-relay6.default.j2", options=dhcrelay6_options(site, relay6), **common)),
        RenderedFile(RELAY6_UNIT, render_template("isc/isc-dhcp-relay6.service.j2", defaults=RELAY6_DEFAULTS, **common)),
        RenderedFile(CISCO_IOS_SNIPPET6, render_template(
            "relay/cisco-ios-dhcpv6.cfg.j2", serves=list(by_interface.values()), **common)),
        RenderedFile(JUNOS_SNIPPET6, render_template(
            "relay/junos-dhcpv6.conf.j2", serves=relay6.serves, server_group=f"{site.name}-dhcpv6", **common)),
    )
