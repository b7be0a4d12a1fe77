"""The rendered wg-quick configs bring a real tunnel up (userspace wireguard-go: this kernel has
no WireGuard module), the real dhcpd pair reaches `normal` through it, and a capture on the
underlay sees only WireGuard's UDP: no TCP to the failover ports."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path

import pytest

from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Member, Site
from dhcp_failover.omapi import OmapiEndpoint, wait_for_failover_state
from dhcp_failover.render import wireguard_paths
from dhcp_failover.wgkeys import generate_private_key, public_key
from tests.lab.member_files import install_member
from tests.lab.netlab import Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.factories import inventory_data, site_data
from tests.support.tools import require

pytestmark = pytest.mark.netns
TUNNEL = "10.99.0.0/31"


def tunnel_site() -> Site:
    data = site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5}, wireguard={"network": TUNNEL})
    return inventory_from_data(inventory_data(data)).sites[0]


def install_tunnel_secrets(site: Site, member: Member, root: Path, private_keys: dict[str, str]) -> None:
    """What the bootstrap writes at boot: own private key, partner's public key and endpoint."""
    partner = site.partner_of(member)
    paths = wireguard_paths(member, str(root))
    Path(paths.private_key).write_text(private_keys[member.name] + "\n")
    Path(paths.private_key).chmod(0o600)
    Path(paths.peer_public_key).write_text(public_key(private_keys[partner.name]) + "\n")
    assert site.wireguard is not None
    Path(paths.peer_endpoint).write_text(f"{partner.address}:{site.wireguard.listen_port}\n")


def wg_quick_up(lab: Lab, host: str, config: str) -> None:
    # wireguard-go daemonizes: its output goes to a file so no pipe of ours stays open.
    log = lab.workdir / f"{host}-wg-quick.log"
    with log.open("w") as out:
        result = subprocess.run(
            [*lab.netns_exec(host), require("wg-quick"), "up", config],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, close_fds=True,
            env={**os.environ, "WG_QUICK_USERSPACE_IMPLEMENTATION": require("wireguard-go")}, timeout=30,
        )
    assert result.returncode == 0, log.read_text()


def capture_count(capture: Path, expression: str) -> int:
    result = subprocess.run(
        [require("tcpdump"), "-nn", "-r", str(capture), expression], capture_output=True, text=True, check=True
    )
    return len(result.stdout.splitlines())


def test_pair_reaches_normal_over_the_tunnel_and_the_underlay_sees_only_wireguard(lab: Lab) -> None:
    require("wireguard-go")
    site = tunnel_site()
    topo = build_failover_topology(lab)
    hosts = {site.primary.name: topo.primary, site.secondary.name: topo.secondary}
    private_keys = {m.name: generate_private_key() for m in site.members}
    secret = base64.b64encode(os.urandom(32)).decode()

    capture = lab.workdir / "underlay.pcap"
    lab.spawn(topo.primary, [require("tcpdump"), "-i", "eth0", "-U", "-n", "-w", str(capture)],
              lab.workdir / "tcpdump.log")
    time.sleep(0.5)  # tcpdump needs a moment before it captures

    confs = {}
    for member in site.members:
        root = lab.workdir / member.name
        confs[member.name] = install_member(site, member.name, root, secret)
        install_tunnel_secrets(site, member, root, private_keys)
        wg_quick_up(lab, hosts[member.name], wireguard_paths(member, str(root)).config)
    for member in site.members:
        lab.start_dhcpd(hosts[member.name], confs[member.name], ifaces=["eth0"])

    endpoint = OmapiEndpoint("127.0.0.1", site.omapi.port, site.omapi.key_name, site.omapi.algorithm.value, secret)
    for host in hosts.values():
        state = wait_for_failover_state(endpoint, site.peer_name, "normal", partner_state="normal",
                                        command_prefix=lab.netns_exec(host), timeout=30)
        assert state.local_state == "normal"

    sockets = lab.run(topo.primary, ["ss", "-Htn"]).stdout
    assert "10.99.0.0:519" in sockets or "10.99.0.1:520" in sockets, sockets
    listeners = lab.run(topo.primary, ["ss", "-Hltn", "sport = :519"]).stdout
    assert listeners.split()[3] == "10.99.0.0:519", listeners

    time.sleep(1)  # let tcpdump flush the last packets
    failover_tcp = capture_count(capture, "tcp port 519 or tcp port 520")
    assert site.wireguard is not None
    wireguard_udp = capture_count(capture, f"udp port {site.wireguard.listen_port}")
    print(f"underlay capture: {wireguard_udp} WireGuard UDP packets, {failover_tcp} failover TCP packets")
    assert failover_tcp == 0
    assert wireguard_udp > 0
