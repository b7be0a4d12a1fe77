"""Member-made WireGuard keys, end to end: both members boot from their user-data against the
local AWS API (moto), each makes its own key, publishes the public half and waits for the
partner's; the rendered wg-quick configs then bring a real tunnel up (userspace wireguard-go:
this kernel has no WireGuard module), the real dhcpd pair reaches `normal` through it, and a
capture on the underlay sees only WireGuard's UDP: no TCP to the failover ports. A replaced
secondary (new key) is followed by the primary's peer-refresh, with no restart of its tunnel."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path

import pytest

from dhcp_failover.backends.isc.omapi import OmapiEndpoint, wait_for_failover_state
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Member, Site
from dhcp_failover.render import render_wireguard, wireguard_paths
from dhcp_failover.secret_names import PUBLIC_KEY_PLACEHOLDER, site_secrets, wireguard_public_key_parameter
from dhcp_failover.tunnel_keys import peer_endpoint_parameter
from tests.lab.boot import CREDENTIALS, put_secret, ssm, write_files
from tests.lab.member_files import install_member
from tests.lab.netlab import Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.factories import inventory_data, site_data
from tests.support.tools import require

pytestmark = pytest.mark.netns
TUNNEL = "10.99.0.0/31"
REGION = "us-east-1"  # an unplaced member's region, as the bootstrap reads it
# The member runs Debian 12's awscli; test with that one when it is installed.
SYSTEM_AWS = Path("/usr/bin/aws")


@pytest.fixture(autouse=True)
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.access(SYSTEM_AWS, os.X_OK):
        monkeypatch.setenv("PATH", f"{SYSTEM_AWS.parent}{os.pathsep}{os.environ['PATH']}")
    require("aws", "the bootstrap talks to SSM with the AWS CLI")
    require("wireguard-go")


def tunnel_site() -> Site:
    data = site_data("wg-lab", ping_check=False, failover={"mclt": 10, "max_response_delay": 5},
                     wireguard={"network": TUNNEL, "public_key_timeout": 60})
    return inventory_from_data(inventory_data(data)).sites[0]


def as_terraform_made_them(endpoint: str, site: Site, omapi_secret: str) -> None:
    """The shared stack's parameters before any member boots; the endpoints are the lab's addresses."""
    assert site.wireguard is not None
    put_secret(endpoint, REGION, site_secrets(site)[0].parameter_name, omapi_secret)
    for member in site.members:
        put_secret(endpoint, REGION, peer_endpoint_parameter(site, member),
                   f"{member.address}:{site.wireguard.listen_port}", "String")
        put_secret(endpoint, REGION, wireguard_public_key_parameter(site, member), PUBLIC_KEY_PLACEHOLDER, "String")


def start_boot(site: Site, member: Member, root: Path, endpoint: str) -> subprocess.Popen[str]:
    """The member's bootstrap from its user-data, files under ``root``, started and not waited for."""
    files = write_files(render_user_data(site, member).cloud_config, root)
    return subprocess.Popen([str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", endpoint, "--no-start"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **CREDENTIALS})


def finish(boot: subprocess.Popen[str]) -> str:
    stdout, stderr = boot.communicate(timeout=120)
    assert boot.returncode == 0, stderr
    return stdout


def published(endpoint: str, site: Site, member: Member) -> str:
    value: str = ssm(endpoint, REGION).get_parameter(Name=wireguard_public_key_parameter(site, member))["Parameter"]["Value"]
    return value


def wg(*args: str, stdin: str | None = None) -> str:
    return subprocess.run([require("wg"), *args], input=stdin, capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()


def wg_quick(lab: Lab, host: str, action: str, config: str) -> None:
    # wireguard-go daemonizes: its output goes to a file so no pipe of ours stays open.
    log = lab.workdir / f"{host}-wg-quick-{action}.log"
    with log.open("w") as out:
        result = subprocess.run(
            [*lab.netns_exec(host), require("wg-quick"), action, config],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, close_fds=True,
            env={**os.environ, "WG_QUICK_USERSPACE_IMPLEMENTATION": require("wireguard-go")}, timeout=30,
        )
    assert result.returncode == 0, log.read_text()


def pings(lab: Lab, host: str, address: str, tries: int = 1) -> bool:
    """One echo answered within 2 s, in up to ``tries`` attempts (the first may wait for a handshake)."""
    return any(lab.run(host, ["ping", "-c", "1", "-W", "2", address], check=False).returncode == 0 for _ in range(tries))


def capture_count(capture: Path, expression: str) -> int:
    result = subprocess.run(
        [require("tcpdump"), "-nn", "-r", str(capture), expression], capture_output=True, text=True, check=True
    )
    return len(result.stdout.splitlines())


def test_members_make_and_exchange_their_keys_and_the_pair_reaches_normal_over_the_tunnel(
    lab: Lab, moto_endpoint: str
) -> None:
    site = tunnel_site()
    assert site.wireguard is not None
    primary, secondary = site.primary, site.secondary
    topo = build_failover_topology(lab)
    hosts = {primary.name: topo.primary, secondary.name: topo.secondary}
    roots = {m.name: lab.workdir / m.name for m in site.members}
    secret = base64.b64encode(os.urandom(32)).decode()
    as_terraform_made_them(moto_endpoint, site, secret)

    # The secondary first, as a first deploy creates it: its tunnel comes up without a peer
    # while its bootstrap waits for the primary's key, then the bootstrap adds the peer live.
    waiting = start_boot(site, secondary, roots[secondary.name], moto_endpoint)
    deadline = time.monotonic() + 60
    while published(moto_endpoint, site, secondary) == PUBLIC_KEY_PLACEHOLDER and time.monotonic() < deadline:
        assert waiting.poll() is None, waiting.communicate()
        time.sleep(0.2)
    assert waiting.poll() is None, waiting.communicate()  # it cannot finish before the primary publishes
    secondary_paths = wireguard_paths(secondary, str(roots[secondary.name]))
    # The tunnel config with its paths under the scratch root (the user-data names /etc/...).
    Path(secondary_paths.config).write_text(render_wireguard(site, secondary, root=str(roots[secondary.name])))
    wg_quick(lab, topo.secondary, "up", secondary_paths.config)
    secondary_interface = site.wireguard.interface(secondary.role)
    assert wg("show", secondary_interface, "peers") == ""
    finish(start_boot(site, primary, roots[primary.name], moto_endpoint))
    finish(waiting)
    assert wg("show", secondary_interface, "peers") == published(moto_endpoint, site, primary)

    private = {m.name: Path(wireguard_paths(m, str(roots[m.name])).private_key).read_text() for m in site.members}
    for member in site.members:
        partner = site.partner_of(member)
        assert published(moto_endpoint, site, member) == wg("pubkey", stdin=private[member.name])
        peer_file = Path(wireguard_paths(member, str(roots[member.name])).peer_public_key)
        assert peer_file.read_text() == published(moto_endpoint, site, partner) + "\n"
    # Neither private key is in SSM or in the user-data.
    values = [p["Value"] for p in ssm(moto_endpoint, REGION).get_parameters_by_path(
        Path=f"/dhcp-failover/{site.name}", Recursive=True, WithDecryption=True)["Parameters"]]
    for member in site.members:
        assert private[member.name].strip() not in values
        assert private[member.name].strip() not in render_user_data(site, member).cloud_config

    capture = lab.workdir / "underlay.pcap"
    lab.spawn(topo.primary, [require("tcpdump"), "-i", "eth0", "-U", "-n", "-w", str(capture)],
              lab.workdir / "tcpdump.log")
    time.sleep(0.5)  # tcpdump needs a moment before it captures

    # The trees again with their paths under the scratch roots; the key files stay as the
    # bootstraps made them.
    confs = {m.name: install_member(site, m.name, roots[m.name], secret) for m in site.members}
    wg_quick(lab, topo.primary, "up", wireguard_paths(primary, str(roots[primary.name])).config)
    assert pings(lab, topo.secondary, str(site.wireguard.address(primary.role)), tries=3)
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
    wireguard_udp = capture_count(capture, f"udp port {site.wireguard.listen_port}")
    print(f"underlay capture: {wireguard_udp} WireGuard UDP packets, {failover_tcp} failover TCP packets")
    assert failover_tcp == 0
    assert wireguard_udp > 0

    # A replaced secondary: a fresh disk, so a new key, published at its first boot.
    old_public = published(moto_endpoint, site, secondary)
    wg_quick(lab, topo.secondary, "down", wireguard_paths(secondary, str(roots[secondary.name])).config)
    replaced = lab.workdir / "secondary-replaced"
    finish(start_boot(site, secondary, replaced, moto_endpoint))
    new_public = published(moto_endpoint, site, secondary)
    assert new_public != old_public
    install_member(site, secondary.name, replaced, secret)
    wg_quick(lab, topo.secondary, "up", wireguard_paths(secondary, str(replaced)).config)
    primary_address = str(site.wireguard.address(primary.role))
    assert not pings(lab, topo.secondary, primary_address)  # the primary still trusts the old key

    # The primary's timer job follows the new key: no restart of its tunnel or of dhcpd.
    interface = site.wireguard.interface(primary.role)
    refresh = subprocess.run(
        [str(roots[primary.name] / BOOTSTRAP_PATH.lstrip("/")), "--follow-partner-key", "--root",
         str(roots[primary.name]), "--endpoint", moto_endpoint], capture_output=True, text=True, timeout=60, env={**os.environ, **CREDENTIALS})
    assert refresh.returncode == 0, refresh.stderr
    assert f"{interface} now follows partner {secondary.name}'s key {new_public}" in refresh.stdout
    assert wg("show", interface, "peers") == new_public
    assert pings(lab, topo.secondary, primary_address, tries=3)
