"""The rendered pair runs for real: `dhcpd -t` misses what stops dhcpd at start-up, so both
rendered members start in network namespaces, reach `normal` over OMAPI with the rendered
key, and a client behind the rendered Linux relay gets a lease. Run on Debian 12 (this machine's
dhcpd) and on Debian 13 (trixie's dhcpd 4.4.3-P1-8, from the root of its release)."""

from __future__ import annotations

import base64
import ipaddress
import os
from pathlib import Path

import pytest

from dhcp_failover.backends.isc.omapi import OmapiEndpoint, wait_for_failover_state
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.releases import OsRelease
from tests.lab.member_files import install_member, relay_arguments
from tests.lab.netlab import Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.debian_roots import LAB_RELEASES, root_for
from tests.support.factories import inventory_data, site_data

pytestmark = pytest.mark.netns


def fast_lab_site(release: OsRelease = OsRelease.DEBIAN_12) -> Site:
    """The lab topology's site with test-sized timers (the guide's mclt 3600 would be 1 h)."""
    data = site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5}, os=release.value)
    return inventory_from_data(inventory_data(data)).sites[0]


@pytest.mark.parametrize("release", [OsRelease.DEBIAN_12, *LAB_RELEASES], ids=lambda r: r.value)
def test_rendered_pair_reaches_normal_and_serves_through_the_rendered_relay(lab: Lab, release: OsRelease) -> None:
    site = fast_lab_site(release)
    debian_root = root_for(release) if release in LAB_RELEASES else None
    topo = build_failover_topology(lab)
    secret = base64.b64encode(os.urandom(32)).decode()
    hosts = {site.primary.name: topo.primary, site.secondary.name: topo.secondary}
    for name, host in hosts.items():
        conf = install_member(site, name, lab.workdir / name, secret)
        dhcpd = lab.start_dhcpd(host, conf, debian_root=debian_root)
        # The daemon serving is the release's own: its root is the release's root.
        assert Path(os.readlink(f"/proc/{dhcpd.pid}/root")) == (debian_root or Path("/"))

    omapi = site.omapi
    endpoint = OmapiEndpoint("127.0.0.1", omapi.port, omapi.key_name, omapi.algorithm.value, secret)
    for host in hosts.values():
        state = wait_for_failover_state(
            endpoint, site.peer_name, "normal", partner_state="normal",
            command_prefix=lab.netns_exec(host), timeout=30,
        )
        assert (state.local_state, state.partner_state) == ("normal", "normal")

    servers, downstream, upstream = relay_arguments(site)
    assert servers == [topo.primary_ip, topo.secondary_ip]
    lab.start_dhcrelay(topo.relay, servers, downstream, upstream)
    lease = lab.get_lease(topo.client_b, "eth0", timeout=15)
    assert ipaddress.IPv4Address(lease.address) in site.subnets[1].network
    assert lease.server in (topo.primary_ip, topo.secondary_ip)
