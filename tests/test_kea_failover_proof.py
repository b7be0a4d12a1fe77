"""The failover proof for Kea HA, with real kea-dhcp4, kea-ctrl-agent, dhcrelay and dhclient in
network namespaces (the ISC proof's topology): both members reach their normal state in under
10 s; relayed clients are served by both and every lease is in both lease files; after kill -9
of one member the survivor is partner-down within max-response-delay + 2 s and serves the dead
member's clients at the addresses they had; after a restart both are normal with identical
lease sets; ``status`` prints the neutral states and ``drill`` hands everything to one member
(ha-maintenance-start) and back; over 60 clients no address is given twice and no binding is lost.

Run on Debian 12 with this machine's Kea 2.2 (peers through the Control Agent), and on Debian 13
with Kea 3.0.3 from the root of trixie (no agent: kea-dhcp4's own HTTP socket), booted from the
synthesized user-data (each member's bootstrap run inside the root against moto, its files run at
the paths they name, with Kea's default folders)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea import render as kea_render
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.releases import OsRelease
from dhcp_failover.secret_names import control_secret, site_secrets
from tests.lab.boot import moto_endpoint, put_secret  # noqa: F401  (session fixture)
from tests.lab.failover_harness import REGION
from tests.lab.kea import (
    KeaMember,
    api_leases,
    boot_member,
    install_member,
    kea_user_ids,
    memfile_leases,
    require_kea,
    start_member,
    stop_member,
    wait_for_states,
)
from tests.lab.netlab import Lab, Lease, build_failover_topology, require_lab
from tests.support.debian_roots import LAB_RELEASES, root_for
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

FIRST_CLIENTS = 50
LATER_CLIENTS = 10


def lease_for(lab: Lab, mac: str, timeout: float = 8.0) -> Lease:
    # A member that dies mid-exchange loses that exchange (notes, pitfall 11): retry once.
    try:
        return lab.get_lease("c2", "eth0", mac=mac, timeout=timeout)
    except Exception:  # noqa: BLE001 - any failed attempt gets exactly one retry
        return lab.get_lease("c2", "eth0", mac=mac, timeout=timeout)


# Debian 12 with files from the renderer; Debian 13 booted from its user-data (the same daemons as
# a renderer's-files run of it, and the bootstrap besides).
CASES = [(OsRelease.DEBIAN_12, False), *((release, True) for release in LAB_RELEASES)]


@pytest.mark.parametrize(("release", "from_user_data"), CASES,
                         ids=lambda case: case.value if isinstance(case, OsRelease) else ("user-data" if case else "files"))
def test_kea_pair_survives_a_crash_and_a_drill_without_losing_a_binding(
    tmp_path: Path, release: OsRelease, from_user_data: bool, request: pytest.FixtureRequest
) -> None:
    require_lab()
    require_kea()
    debian_root = root_for(release) if release in LAB_RELEASES else None
    # A name of its own for the booted pair: moto's SSM is shared by the session's suites.
    data = inventory_data({**site_data("kea-ud" if from_user_data else "lab"), "server": "kea", "os": release.value})
    site = inventory_from_data(data).sites[0]
    mrd = site.kea.max_response_delay_ms / 1000
    inventory = write_inventory(tmp_path / "kea.yaml", data)
    store = tmp_path / "keys.json"
    assert run("keys", "--inventory", str(inventory), "--key-store", str(store)).returncode == 0
    keys = KeyStore.load(store)
    password = keys.require(control_secret(site)).value
    with Lab(tmp_path / "lab") as lab:
        topo = build_failover_topology(lab)
        if from_user_data:
            assert debian_root is not None
            # The secrets where the stacks put them; each member's bootstrap fetches its own.
            aws = request.getfixturevalue("moto_endpoint")
            for spec in site_secrets(site):
                put_secret(aws, REGION, spec.parameter_name, keys.require(spec).value)
            d1 = boot_member(lab, site, site.primary, topo.primary, aws, debian_root)
            d2 = boot_member(lab, site, site.secondary, topo.secondary, aws, debian_root)
            for kea in (d1, d2):
                assert kea.endpoint.password == password, "the bootstrap wrote the password from SSM"
                assert not kea.agent_conf.exists(), "a Kea 3.0 member's user-data has no Control Agent"
        else:
            d1 = install_member(lab, site, site.primary, topo.primary, password, debian_root=debian_root)
            d2 = install_member(lab, site, site.secondary, topo.secondary, password, debian_root=debian_root)

        def cli(command: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
            via = [f"--omapi-via={m.name}={' '.join(lab.netns_exec(host))}"
                   for m, host in ((site.primary, topo.primary), (site.secondary, topo.secondary))]
            return run(command, "--inventory", str(inventory), "--site", site.name, "--key-store", str(store),
                       *via, *args, timeout=timeout)
        pair = [d1, d2]
        started = time.monotonic()
        for kea in pair:
            start_member(lab, kea)
        wait_for_states(pair, {"normal"}, timeout=10.0)
        to_normal = time.monotonic() - started
        if from_user_data:  # as Debian's unit runs it: as _kea, not root
            assert debian_root is not None
            uid = kea_user_ids(debian_root)[0]
            for kea in pair:
                assert kea.dhcp4 is not None
                proc_status = Path(f"/proc/{kea.dhcp4.pid}/status").read_text()
                assert f"\nUid:\t{uid}\t{uid}\t" in proc_status, proc_status
        # The daemons answering are the release's own Kea, not this machine's.
        for kea in pair:
            assert control.command(kea.endpoint, "version-get")["extended"].startswith(kea_render.kea_pin(site).version.split("-")[0])
        assert to_normal < 10.0
        print(f"kea {release.value}: start -> both normal in {to_normal:.2f} s")
        lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip], ["eth1"], ["eth0"])

        # Relayed clients, served by both members by hash; every lease on both memfiles.
        bound: dict[str, str] = {}  # mac -> address
        served_by: dict[str, str] = {}
        for _ in range(FIRST_CLIENTS):
            mac = lab.fresh_mac()
            lease = lease_for(lab, mac)
            bound[mac], served_by[mac] = lease.address, lease.server
        assert {topo.primary_ip, topo.secondary_ip} == set(served_by.values())
        expected = {address: mac for mac, address in bound.items()}
        assert len(expected) == len(bound), "an address was given to two clients"
        for kea in pair:
            assert _wait_for_file_leases(kea, expected), f"{kea.host}'s lease file misses leases"

        # kill -9 the primary: the secondary is partner-down within mrd + 2 s.
        killed_at = time.monotonic()
        stop_member(lab, d1)
        takeover = wait_for_states([d2], {"partner-down"}, timeout=mrd + 2.0)
        print(f"kea {release.value}: kill -9 primary -> secondary partner-down in {takeover:.2f} s (mrd {mrd:.1f} s)")
        assert time.monotonic() - killed_at <= mrd + 2.0 + 0.5
        # The dead member's clients come back to the survivor and keep their addresses.
        orphans = [mac for mac, server in served_by.items() if server == topo.primary_ip][:5]
        for mac in orphans:
            lease = lease_for(lab, mac)
            assert (lease.address, lease.server) == (bound[mac], topo.secondary_ip)
        for _ in range(LATER_CLIENTS):
            mac = lab.fresh_mac()
            lease = lease_for(lab, mac)
            assert lease.server == topo.secondary_ip
            bound[mac] = lease.address

        # Restart: back to normal, and both hold the same lease set (lease4-get-all).
        restarted = time.monotonic()
        start_member(lab, d1)
        back = wait_for_states(pair, {"normal"}, timeout=15.0)
        print(f"kea {release.value}: restart -> both normal in {time.monotonic() - restarted:.2f} s ({back:.2f} s after agents answered)")
        expected = {address: mac for mac, address in bound.items()}
        assert len(expected) == len(bound) == FIRST_CLIENTS + LATER_CLIENTS, "duplicate address"
        assert api_leases(d1) == api_leases(d2) == expected

        # The operator commands, as a user runs them: status (neutral states) and the drill, which
        # hands d1's share to d2 (ha-maintenance-start), serves new clients from d2, and cancels.
        # A member learns its partner's state from the next heartbeat: wait for both views.
        status = cli("status", "--json", "--wait", "normal", "--timeout", "10")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert [(m["member"], m["local_state"], m["partner_state"]) for m in report["members"]] == [
            (site.primary.name, "normal", "normal"), (site.secondary.name, "normal", "normal")]
        drill = cli("drill", "--member", site.primary.name, "--json", timeout=60)
        assert drill.returncode == 0, drill.stderr
        steps = json.loads(drill.stdout)
        assert steps["ok"] and steps["takeover_state"] == "partner-down"
        assert "shutdown" in [t["state"].split("/")[0] for t in steps["transitions"] if t["member"] == site.primary.name]
        print(f"kea {release.value}: drill takeover in {steps['timings']['took_over']:.2f} s, normal again at {steps['timings']['normal']:.2f} s")
        for kea in pair:
            assert kea.dhcp4 is not None and kea.dhcp4.alive()
        assert api_leases(d1) == api_leases(d2) == expected
        stopped = cli("status")
        assert stopped.returncode == 0 and stopped.stdout.count("normal (partner: normal)") == 2


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def _wait_for_file_leases(kea: KeaMember, expected: dict[str, str], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if memfile_leases(kea.lease_file) == expected:
            return True
        time.sleep(0.1)
    return memfile_leases(kea.lease_file) == expected
