"""Proves tests/netlab.py and dhcp_failover.omapi against real daemons.

A hand-written primary/secondary dhcpd pair, a dhcrelay and dhclient clients run in
network namespaces; OMAPI is driven with the real omshell from inside each server's
namespace. The pair is module-scoped and used once: the tests run in file order and the
later ones kill the primary, force partner-down and shut the secondary down.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.omapi import (
    OmapiEndpoint,
    OmapiError,
    decode_int,
    read_failover_state,
    set_partner_down,
    shutdown_server,
    wait_for_failover_state,
)
from tests.lab.netlab import (
    Daemon,
    FailoverTopology,
    Lab,
    LabError,
    build_failover_topology,
    lab_fixture,  # noqa: F401  (provides the lab fixture)
    require_lab,
    wait_for_log,
)
from tests.support.tools import require

PEER = "dhcp-failover"
KEY_NAME = "omapi_key"
OMAPI_PORT = 7911
POOL_A = ("10.77.1.100", "10.77.1.200")
POOL_B = ("10.77.2.100", "10.77.2.200")

pytestmark = pytest.mark.netns


def dhcpd_conf(role: str, topo: FailoverTopology, secret: str) -> str:
    primary = role == "primary"
    me, peer = ((topo.primary_ip, topo.secondary_ip) if primary
                else (topo.secondary_ip, topo.primary_ip))
    my_port, peer_port = (519, 520) if primary else (520, 519)
    # mclt and split are primary-only; mclt 10 keeps partner-down takeover test-sized.
    balance = "  mclt 10;\n  split 128;\n" if primary else ""
    return f"""\
authoritative;
ddns-update-style none;
default-lease-time 600;
max-lease-time 7200;
ping-check false;
key {KEY_NAME} {{ algorithm hmac-sha256; secret "{secret}"; }}
omapi-port {OMAPI_PORT};
omapi-key {KEY_NAME};
failover peer "{PEER}" {{
  {role};
  address {me};
  port {my_port};
  peer address {peer};
  peer port {peer_port};
  max-response-delay 5;
  max-unacked-updates 10;
  load balance max seconds 3;
{balance}}}
subnet 10.77.1.0 netmask 255.255.255.0 {{
  option routers {topo.relay_ip_a};
  pool {{ failover peer "{PEER}"; range {POOL_A[0]} {POOL_A[1]}; }}
}}
subnet 10.77.2.0 netmask 255.255.255.0 {{
  option routers {topo.relay_ip_b};
  pool {{ failover peer "{PEER}"; range {POOL_B[0]} {POOL_B[1]}; }}
}}
"""


@dataclass
class Pair:
    lab: Lab
    topo: FailoverTopology
    endpoint: OmapiEndpoint
    primary: Daemon
    secondary: Daemon

    def via(self, host: str) -> list[str]:
        """The omshell command prefix for ``host``: OMAPI listens on its 127.0.0.1."""
        return self.lab.netns_exec(host)


def _backup_leases(lease_file: Path) -> int:
    return len(re.findall(r"binding state backup;", lease_file.read_text()))


def _wait_for_pool_balance(lab: Lab, topo: FailoverTopology, timeout: float = 10.0) -> None:
    """Wait until the secondary holds the backup leases the primary assigned it.

    Until then the secondary answers nobody ("peer holds all free leases"), and a client
    in its hash bucket waits for load balance max seconds before the primary steps in.
    """
    _, _, primary_log = lab.dhcpd_files(topo.primary)
    secondary_leases, _, _ = lab.dhcpd_files(topo.secondary)
    # The primary logs one "balanced pool <id> <subnet> ... backup N" per pool and round;
    # the latest round per subnet is what the secondary must hold.
    latest = dict(re.findall(r"balanced pool \S+ (\S+) .* backup (\d+) ", primary_log.read_text()))
    assigned = sum(int(n) for n in latest.values())
    deadline = time.monotonic() + timeout
    while _backup_leases(secondary_leases) < assigned:
        if time.monotonic() > deadline:
            raise LabError(f"secondary holds {_backup_leases(secondary_leases)} of "
                           f"{assigned} backup leases after {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    require_lab()
    workdir = tmp_path_factory.mktemp("pair")
    secret = base64.b64encode(os.urandom(32)).decode()
    with Lab(workdir) as lab:
        topo = build_failover_topology(lab)
        daemons = {}
        for host, role in ((topo.primary, "primary"), (topo.secondary, "secondary")):
            conf = workdir / f"{host}.conf"
            conf.write_text(dhcpd_conf(role, topo, secret))
            lab.run(host, ["dhcpd", "-4", "-t", "-cf", str(conf)])
            daemons[host] = lab.start_dhcpd(host, conf, ["eth0"])
        lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip],
                           downstream_ifaces=["eth1"], upstream_ifaces=["eth0"])
        for host, daemon in daemons.items():
            wait_for_log(lab.dhcpd_files(host)[2], r"Both servers normal", 20, daemon=daemon)
        _wait_for_pool_balance(lab, topo)
        endpoint = OmapiEndpoint("127.0.0.1", OMAPI_PORT, KEY_NAME, "hmac-sha256", secret)
        yield Pair(lab, topo, endpoint, daemons[topo.primary], daemons[topo.secondary])


def _in_range(address: str, pool: tuple[str, str]) -> bool:
    low, high = (ipaddress.IPv4Address(a) for a in pool)
    return low <= ipaddress.IPv4Address(address) <= high


def test_decode_int_reads_every_omshell_integer_form() -> None:
    assert decode_int("00:00:00:04") == 4
    assert decode_int("6b:0a:78:be") == 0x6B0A78BE
    assert decode_int('"kJxB"') == 0x6B4A7842  # all bytes printable: omshell quotes them
    assert decode_int("2") == 2
    with pytest.raises(OmapiError):
        decode_int("<null>")


def test_pair_reaches_normal(pair: Pair) -> None:
    for host in (pair.topo.primary, pair.topo.secondary):
        state = wait_for_failover_state(pair.endpoint, PEER, "normal", partner_state="normal",
                                        timeout=20, command_prefix=pair.via(host))
        assert state.mclt == 10  # the secondary learns it from the primary
        assert state.local_stos is not None and abs(state.local_stos - time.time()) < 120


def test_client_on_server_subnet_gets_lease(pair: Pair) -> None:
    lease = pair.lab.get_lease(pair.topo.client_a, "eth0")
    assert _in_range(lease.address, POOL_A)
    assert lease.server in (pair.topo.primary_ip, pair.topo.secondary_ip)


def test_client_behind_relay_gets_lease(pair: Pair) -> None:
    lease = pair.lab.get_lease(pair.topo.client_b, "eth0")
    assert _in_range(lease.address, POOL_B)
    assert lease.server in (pair.topo.primary_ip, pair.topo.secondary_ip)


@pytest.mark.parametrize(("change", "message"), [
    ({"secret": base64.b64encode(b"x" * 32).decode()}, r"connection reset by peer.*secret"),
    ({"algorithm": "hmac-sha512"}, r"dhcpctl_connect: not found"),
    ({"key_name": "other_key"}, r"dhcpctl_connect: not found"),
    ({"port": 7912}, r"dhcpctl_connect: no more"),
], ids=["wrong-secret", "wrong-algorithm", "wrong-key-name", "wrong-port"])
def test_omapi_errors_are_raised(pair: Pair, change: dict[str, Any], message: str) -> None:
    endpoint = dataclasses.replace(pair.endpoint, **change)
    with pytest.raises(OmapiError, match=message) as caught:
        read_failover_state(endpoint, PEER, command_prefix=pair.via(pair.topo.secondary))
    assert "\n" not in str(caught.value)
    assert pair.endpoint.secret not in str(caught.value)


def test_unknown_peer_name_raises(pair: Pair) -> None:
    with pytest.raises(OmapiError, match=r"can't open object: not found"):
        read_failover_state(pair.endpoint, "no-such-peer", command_prefix=pair.via(pair.topo.primary))


def test_secondary_serves_after_primary_is_killed(pair: Pair) -> None:
    pair.lab.kill(pair.primary, signal.SIGKILL)
    state = wait_for_failover_state(pair.endpoint, PEER, "communications-interrupted",
                                    timeout=10, command_prefix=pair.via(pair.topo.secondary))
    assert state.partner_state == "normal"  # last state the primary reported
    lease = pair.lab.get_lease(pair.topo.client_b, "eth0")
    assert lease.server == pair.topo.secondary_ip
    assert _in_range(lease.address, POOL_B)


def test_set_partner_down_reads_back(pair: Pair) -> None:
    if pair.primary.alive():  # run alone (-k): the partner must really be down
        pair.lab.kill(pair.primary, signal.SIGKILL)
    state = set_partner_down(pair.endpoint, PEER, command_prefix=pair.via(pair.topo.secondary))
    assert state.local_state == "partner-down"
    again = read_failover_state(pair.endpoint, PEER, command_prefix=pair.via(pair.topo.secondary))
    assert again.local_state == "partner-down"


def test_shutdown_server_stops_dhcpd(pair: Pair) -> None:
    shutdown_server(pair.endpoint, command_prefix=pair.via(pair.topo.secondary))
    pair.secondary.wait(timeout=10)
    with pytest.raises(OmapiError, match=r"no more"):
        read_failover_state(pair.endpoint, PEER, command_prefix=pair.via(pair.topo.secondary))


def _lab_namespaces_alive(names: list[str]) -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()} & set(names)


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie is dead, just not reaped


def test_cleanup_removes_namespaces_and_processes(pair: Pair) -> None:
    lab = pair.lab
    namespaces = lab.namespaces()
    # A process the lab did not start itself, like a dhclient that forked away.
    lab.run(pair.topo.client_a, ["sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 &"])
    pids = [pid for host in (pair.topo.client_a, pair.topo.relay) for pid in lab.pids(host)]
    assert pids and _lab_namespaces_alive(namespaces) == set(namespaces)
    lab.cleanup()
    lab.cleanup()  # idempotent: the fixture's own teardown calls it once more
    assert _lab_namespaces_alive(namespaces) == set()
    assert [pid for pid in pids if _pid_alive(pid)] == []


def test_cleanup_after_partial_setup(tmp_path: Path) -> None:
    require_lab()
    partial = Lab(tmp_path)
    partial.add_switch("sw")
    partial.add_host("h1")
    with pytest.raises(ValueError):
        partial.connect("h1", "not-a-switch", "eth0", "10.77.9.1/24")
    with pytest.raises(LabError):
        partial.connect("h1", "sw", "eth0", "10.77.9.999/24")  # fails after the veth exists
    namespaces = partial.namespaces()
    partial.cleanup()
    assert _lab_namespaces_alive(namespaces) == set()


def _pings(lab: Lab, host: str, address: str) -> bool:
    return lab.run(host, ["ping", "-c1", "-W0.3", address], check=False).returncode == 0


def test_link_down_and_blackhole_cut_traffic(lab: Lab) -> None:
    require("ping", "to probe lab links")
    lab.add_switch("sw")
    for host, cidr in (("a", "10.77.9.1/24"), ("b", "10.77.9.2/24")):
        lab.add_host(host)
        lab.connect(host, "sw", "eth0", cidr)
    assert _pings(lab, "a", "10.77.9.2")
    lab.link_down("b", "eth0")
    assert not _pings(lab, "a", "10.77.9.2")
    lab.link_up("b", "eth0")
    assert _pings(lab, "a", "10.77.9.2")
    lab.blackhole("a", "10.77.9.2/32")
    assert not _pings(lab, "a", "10.77.9.2")
    lab.unblackhole("a", "10.77.9.2/32")
    assert _pings(lab, "a", "10.77.9.2")
