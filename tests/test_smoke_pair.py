"""The rendered pair runs for real: `dhcpd -t` misses what stops dhcpd at start-up, so both
rendered members start in network namespaces, reach `normal` over OMAPI with the rendered
key, and a client behind the rendered Linux relay gets a lease."""

from __future__ import annotations

import base64
import ipaddress
import os

import pytest

from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.omapi import OmapiEndpoint, wait_for_failover_state
from tests.lab.member_files import install_member, relay_arguments
from tests.lab.netlab import Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.factories import inventory_data, site_data

pytestmark = pytest.mark.netns


def fast_lab_site() -> Site:
    """The lab topology's site with test-sized timers (the guide's mclt 3600 would be 1 h)."""
    data = site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5})
    return inventory_from_data(inventory_data(data)).sites[0]


def test_rendered_pair_reaches_normal_and_serves_through_the_rendered_relay(lab: Lab) -> None:
    site = fast_lab_site()
    topo = build_failover_topology(lab)
    secret = base64.b64encode(os.urandom(32)).decode()
    hosts = {site.primary.name: topo.primary, site.secondary.name: topo.secondary}
    for name, host in hosts.items():
        conf = install_member(site, name, lab.workdir / name, secret)
        lab.start_dhcpd(host, conf)

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
