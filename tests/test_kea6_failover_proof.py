"""The DHCPv6 failover proof, with real kea-dhcp6, kea-dhcp4 (and on Kea 2.2 kea-ctrl-agent), ``dhcrelay -6``,
``dhclient -6`` and ``perfdhcp -6`` in dual-stack network namespaces: both members' v6
relationships reach load-balancing; relayed clients get addresses and delegated prefixes from
both members (by server DUID); every lease is on both members; after kill -9 of one member the
survivor's v6 relationship is partner-down and it serves the dead member's clients; after a
restart both hold identical lease sets; over more than 30 clients no address or prefix is given
twice.

Run twice: on Debian 12 with this machine's Kea 2.2 (peers and operators through the Control
Agent), and on Debian 13 with Kea 3.0.3 from the root of trixie (no agent: kea-dhcp6's own HTTP
control socket on kea.control_port6; each member makes its own server DUID)."""

from __future__ import annotations

import ipaddress
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover import member_reporter
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.model import Site
from dhcp_failover.monitoring import kea_reporter_config
from dhcp_failover.relay6 import RELAY6_DEFAULTS, RELAY6_UNIT, render_relay6
from dhcp_failover.releases import OsRelease
from dhcp_failover.secret_names import control_secret
from tests.lab.kea import check_config, install_member, require_kea, start_member, stop_member, wait_for_states
from tests.lab.kea6 import (
    Kea6,
    Lease6,
    add_address6,
    api_leases6,
    check_config6,
    duid_of,
    enable_ipv6,
    parse_dhclient6_leases,
    server_duid_of,
    start_dhcp6,
    v6_of,
    wait_for_states6,
)
from tests.lab.netlab import Lab, LabError, require_lab
from tests.support.debian_roots import LAB_RELEASES, root_for
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

SERVER_NET6 = "2001:db8:77:1::/64"
CLIENT_NET6 = "2001:db8:77:2::/64"
PRIMARY6, SECONDARY6, RELAY_UP6, RELAY_DOWN6 = "2001:db8:77:1::1", "2001:db8:77:1::2", "2001:db8:77:1::fe", "2001:db8:77:2::1"
LAST_OF_PRIMARY_HALF = "2001:db8:77:2::17ff"  # of the pool ::1000-::1fff
DHCLIENTS_FIRST = 8  # real dhclient -6 clients, one address and one prefix each
PERF_CLIENTS = 30  # perfdhcp -6 clients through the same relay
DHCLIENTS_LATER = 4


def dual_stack_site_data() -> dict[str, object]:
    return site_data(
        server="kea",
        dhcpv6={
            "interface": "eth0",
            "members": [
                {"member": "lab-a", "address": PRIMARY6, "network": SERVER_NET6},
                {"member": "lab-b", "address": SECONDARY6, "network": SERVER_NET6},
            ],
            "subnets": [{
                "network": CLIENT_NET6,
                "pools": [{"start": "2001:db8:77:2::1000", "end": "2001:db8:77:2::1fff"}],
                "pd_pools": [{"prefix": "2001:db8:7700::/40", "delegated_length": 56}],
                "dns_servers": ["2001:db8:77:1::53"],
                "preferred_lifetime": 600,
                "valid_lifetime": 1200,
            }],
            "relays": [{
                "name": "r1", "source_address": RELAY_UP6, "upstream_interface": "eth0",
                "serves": [{"subnet": CLIENT_NET6, "interface": "eth1", "link_address": RELAY_DOWN6}],
            }],
        },
    )


def build_dual_stack(lab: Lab) -> None:
    """d1, d2 on sw (10.77.1.0/24, 2001:db8:77:1::/64); r1 between sw and sw2; clients on sw2."""
    lab.add_switch("sw")
    lab.add_switch("sw2")
    for host in ("d1", "d2", "r1", "c2"):
        lab.add_host(host)
        enable_ipv6(lab, host, forwarding=host == "r1")
    for host, v4, v6 in (("d1", "10.77.1.1", PRIMARY6), ("d2", "10.77.1.2", SECONDARY6), ("r1", "10.77.1.254", RELAY_UP6)):
        lab.connect(host, "sw", "eth0", f"{v4}/24")
        add_address6(lab, host, "eth0", f"{v6}/64")
    lab.connect("r1", "sw2", "eth1", "10.77.2.1/24")
    add_address6(lab, "r1", "eth1", f"{RELAY_DOWN6}/64")
    lab.connect("c2", "sw2", "eth0")
    for server in ("d1", "d2"):
        lab.run(server, ["ip", "-6", "route", "add", CLIENT_NET6, "via", RELAY_UP6])


def start_relay6(lab: Lab, site: Site) -> None:
    """dhcrelay -6 as the rendered relay files run it: the unit's command with the defaults' OPTIONS."""
    files = {f.path: f.content for f in render_relay6(site, site.relays[0])}
    unit = files[RELAY6_UNIT]
    command = next(line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStart="))
    assignment = next(line for line in files[RELAY6_DEFAULTS].splitlines() if line.startswith("OPTIONS="))
    # systemd splits an unbraced $OPTIONS at whitespace.
    (value,) = shlex.split(assignment.removeprefix("OPTIONS="))
    options = value.split()
    argv = [word for part in shlex.split(command)[1:] for word in (options if part == "$OPTIONS" else [part])]
    assert argv[:2] == ["-6", "-d"] and f"{PRIMARY6}%eth0" in " ".join(argv) and f"{SECONDARY6}%eth0" in " ".join(argv)
    log = lab.workdir / "r1-dhcrelay6.log"
    daemon = lab.spawn("r1", ["dhcrelay", *argv], log)
    deadline = time.monotonic() + 10
    while "Sending on" not in log.read_text() if log.exists() else True:
        if not daemon.alive() or time.monotonic() > deadline:
            raise LabError(f"dhcrelay -6 did not start: {log.read_text() if log.exists() else ''}")
        time.sleep(0.05)


def dhclient6(lab: Lab, mac: str, timeout: float = 10.0) -> Lease6:
    """One dhclient -6 exchange asking for an address and a prefix (-N -P) as a new client: its
    own DUID (a DUID-LL of ``mac``), given in a fresh lease file. The interface keeps its MAC, as
    the relay's neighbour cache would otherwise send replies to the previous one."""
    stem = lab.workdir / f"c2-dhclient6-{mac.replace(':', '')}"
    conf, leases = stem.with_suffix(".conf"), stem.with_suffix(".leases")
    conf.write_text(f"timeout {int(timeout)};\nretry 1;\n")
    duid = bytes([0, 3, 0, 1, *(int(octet, 16) for octet in mac.split(":"))])
    leases.write_text('default-duid "' + "".join(f"\\{byte:03o}" for byte in duid) + '";\n')
    hook = stem.with_suffix(".sh")
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    argv = ["dhclient", "-6", "-N", "-P", "-1", "-d", "-v", "-cf", str(conf), "-lf", str(leases),
            "-pf", str(stem.with_suffix(".pid")), "-sf", str(hook), "eth0"]
    client = lab.spawn("c2", argv, stem.with_suffix(".log"))
    try:
        deadline = time.monotonic() + timeout + 2
        while time.monotonic() < deadline:
            found = [lease for lease in parse_dhclient6_leases(leases.read_text()) if lease.address and lease.prefix]
            if found:
                return found[-1]
            if not client.alive():
                break
            time.sleep(0.05)
        raise LabError(f"no v6 lease for {mac}: {client.log_path.read_text()[-1500:]}")
    finally:
        lab.kill(client)


def lease_for(lab: Lab, mac: str) -> Lease6:
    # A member that dies mid-exchange loses that exchange (kea-lab notes, pitfall 11): retry once.
    try:
        return dhclient6(lab, mac)
    except LabError:
        return dhclient6(lab, mac)


@pytest.mark.parametrize("release", [OsRelease.DEBIAN_12, *LAB_RELEASES], ids=lambda r: r.value)
def test_kea_dhcp6_pair_serves_addresses_and_prefixes_through_a_crash(tmp_path: Path, release: OsRelease) -> None:
    require_lab()
    require_kea()
    debian_root = root_for(release) if release in LAB_RELEASES else None
    data = inventory_data({**dual_stack_site_data(), "os": release.value})
    site = inventory_from_data(data).sites[0]
    mrd = site.kea.max_response_delay_ms / 1000
    inventory = write_inventory(tmp_path / "dual-stack.yaml", data)
    store = tmp_path / "keys.json"
    assert cli("keys", "--inventory", str(inventory), "--key-store", str(store)).returncode == 0
    password = KeyStore.load(store).require(control_secret(site)).value
    with Lab(tmp_path / "lab") as lab:
        build_dual_stack(lab)

        def operator(command: str, *args: str) -> Any:
            """``status`` or ``drill`` with --json, as an operator runs it."""
            via = [f"--omapi-via={m.name}={' '.join(lab.netns_exec(host))}"
                   for m, host in ((site.primary, "d1"), (site.secondary, "d2"))]
            result = cli(command, "--inventory", str(inventory), "--site", site.name, "--key-store", str(store),
                         *via, *args, "--json")
            assert result.stdout, f"{command} printed nothing (exit {result.returncode}): {result.stderr[-2000:]}"
            return json.loads(result.stdout)

        def status() -> dict[str, dict[str, object]]:
            return {m["member"]: m for m in operator("status")["members"]}

        members = [install_member(lab, site, site.primary, "d1", password, debian_root=debian_root),
                   install_member(lab, site, site.secondary, "d2", password, debian_root=debian_root)]
        pair: list[Kea6] = [v6_of(site, kea) for kea in members]
        for kea, kea6 in zip(members, pair, strict=True):
            check_config(lab, kea)
            check_config6(lab, kea.host, kea6.conf, kea)
        started = time.monotonic()
        for kea, kea6 in zip(members, pair, strict=True):
            start_member(lab, kea)
            start_dhcp6(lab, kea6)
        if debian_root is None:
            duids = {duid_of(site, "lab-a"): "lab-a", duid_of(site, "lab-b"): "lab-b"}
        else:
            duids = {server_duid_of(pair[0]): "lab-a", server_duid_of(pair[1]): "lab-b"}
        wait_for_states6(pair, {"normal"}, timeout=15.0)
        print(f"kea6: start -> both v6 relationships normal in {time.monotonic() - started:.2f} s")
        wait_for_states([m for m in members], {"normal"}, timeout=10.0)
        time.sleep(site.kea.heartbeat_delay_ms / 1000 + 0.5)  # each member learns its partner's state by heartbeat
        for name, seen in status().items():
            assert (seen["local_state"], seen["partner_state"], seen["v6_local_state"], seen["v6_partner_state"]) == (
                "normal", "normal", "normal", "normal"), (name, seen)
        # The monitoring reporter's own reading of the v6 relationship, with the member's reporter config.
        reporter_config = kea_reporter_config(site, site.primary)
        assert reporter_config["dhcp6"] is True
        assert ("dhcp6_url" in reporter_config["kea"]) is (debian_root is not None)
        assert member_reporter.kea_state(reporter_config, str(members[0].root), lab.netns_exec("d1"),
                                         service="dhcp6") == member_reporter.NORMAL
        start_relay6(lab, site)

        # Real dhclient -6 clients through the relay: an address and a /56 each, from both members.
        bound: dict[str, Lease6] = {}
        for n in range(DHCLIENTS_FIRST):
            mac = f"02:66:00:00:01:{n:02x}"
            bound[mac] = lease_for(lab, mac)
        servers = {duids.get(lease.server_duid, lease.server_duid) for lease in bound.values()}
        assert servers == {"lab-a", "lab-b"}, f"v6 clients served by {servers}, not by both members"
        print(f"kea6: {DHCLIENTS_FIRST} dhclient -6 clients split "
              f"{sum(duids.get(b.server_duid) == 'lab-a' for b in bound.values())}/"
              f"{sum(duids.get(b.server_duid) == 'lab-b' for b in bound.values())}")
        for lease in bound.values():
            assert lease.prefix is not None and lease.prefix.endswith("/56")

        # perfdhcp -6 clients through the same relay (address and prefix each).
        perf = lab.run("c2", ["perfdhcp", "-6", "-l", "eth0", "-e", "address-and-prefix", "-R", str(PERF_CLIENTS),
                              "-n", str(PERF_CLIENTS), "-r", "10", "-W", "2000000", "-b", "duid=0003000102666600"],
                       check=False, timeout=60)
        print("kea6: perfdhcp:", " ".join(line.strip() for line in perf.stdout.splitlines() if "received" in line))

        time.sleep(0.5)
        leases_d1, leases_d2 = api_leases6(pair[0]), api_leases6(pair[1])
        assert leases_d1 == leases_d2, "the members' v6 lease sets differ"
        addresses = [where for kind, where in leases_d1 if kind == "IA_NA"]
        prefixes = [where for kind, where in leases_d1 if kind == "IA_PD"]
        assert len(addresses) == len(prefixes) == DHCLIENTS_FIRST + PERF_CLIENTS, perf.stdout
        # Load-balancing: each member leases from its own half of every pool (render6), so the
        # halves show that both members served perfdhcp's clients too.
        lower = [a for a in addresses if ipaddress.IPv6Address(a) <= ipaddress.IPv6Address(LAST_OF_PRIMARY_HALF)]
        assert 0 < len(lower) < len(addresses), f"one member served every client: {sorted(addresses)}"
        print(f"kea6: {len(addresses)} clients before the crash, {len(lower)} from the primary's half")
        for lease in bound.values():
            assert ("IA_NA", lease.address) in leases_d1 and ("IA_PD", lease.prefix) in leases_d1

        # kill -9 the primary: the secondary's v6 relationship goes partner-down and serves everyone.
        killed = time.monotonic()
        stop_member(lab, members[0])
        assert pair[0].daemon is not None
        lab.kill(pair[0].daemon)
        takeover = wait_for_states6([pair[1]], {"partner-down"}, timeout=mrd + 3.0)
        print(f"kea6: kill -9 primary -> secondary v6 partner-down in {takeover:.2f} s (mrd {mrd:.1f} s)")
        survivor = status()["lab-b"]
        assert survivor["v6_local_state"] == "partner-down" and survivor["error"] is None
        assert member_reporter.kea_state(kea_reporter_config(site, site.secondary), str(members[1].root),
                                         lab.netns_exec("d2"), service="dhcp6") == member_reporter.KEA_STATES["partner-down"]
        assert time.monotonic() - killed <= mrd + 3.5
        orphans = [mac for mac, lease in bound.items() if duids.get(lease.server_duid) == "lab-a"][:3]
        for mac in orphans:
            lease = lease_for(lab, mac)
            assert duids.get(lease.server_duid) == "lab-b"
            assert (lease.address, lease.prefix) == (bound[mac].address, bound[mac].prefix)
        for n in range(DHCLIENTS_LATER):
            mac = f"02:66:00:00:02:{n:02x}"
            lease = lease_for(lab, mac)
            assert duids.get(lease.server_duid) == "lab-b"
            bound[mac] = lease

        # Restart the primary: both normal again with identical lease sets.
        start_member(lab, members[0])
        start_dhcp6(lab, pair[0])
        back = wait_for_states6(pair, {"normal"}, timeout=20.0)
        print(f"kea6: restart -> both v6 relationships normal in {back:.2f} s")
        leases_d1, leases_d2 = api_leases6(pair[0]), api_leases6(pair[1])
        assert leases_d1 == leases_d2
        addresses = [where for kind, where in leases_d1 if kind == "IA_NA"]
        prefixes = [where for kind, where in leases_d1 if kind == "IA_PD"]
        assert len(set(addresses)) == len(addresses) and len(set(prefixes)) == len(prefixes)
        clients = {duid for duid in leases_d1.values()}
        assert len(clients) >= 30, f"only {len(clients)} clients"
        for lease in bound.values():
            assert ("IA_NA", lease.address) in leases_d1 and ("IA_PD", lease.prefix) in leases_d1
        print(f"kea6: {len(clients)} clients, {len(addresses)} addresses, {len(prefixes)} prefixes, 0 duplicates")

        # The drill hands both relationships of lab-a to lab-b (ha-maintenance-start) and back. It
        # starts only from a pair normal in both families as status sees it: the restarted
        # member's DHCPv4 relationship may still be syncing when its v6 one is normal.
        deadline = time.monotonic() + 30.0
        while True:
            time.sleep(site.kea.heartbeat_delay_ms / 1000 + 0.5)
            states = status()
            if all((m["local_state"], m["partner_state"], m["v6_local_state"], m["v6_partner_state"]) ==
                   ("normal", "normal", "normal", "normal") for m in states.values()):
                break
            assert time.monotonic() < deadline, f"not normal in both families 30 s after the restart: {states}"
        drill = operator("drill", "--member", "lab-a")
        assert drill["ok"] and drill["takeover_state"] == "partner-down", drill
        handed_over = [t["state"] for t in drill["transitions"] if t["member"] == "lab-a"]
        assert any(state.startswith("shutdown/") and " v6 shutdown/" in state for state in handed_over), handed_over
        print(f"kea6: drill hands both families over in {drill['timings']['took_over']:.2f} s, "
              f"normal again at {drill['timings']['normal']:.2f} s")
        assert api_leases6(pair[0]) == api_leases6(pair[1]) == leases_d1


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
