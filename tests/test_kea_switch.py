"""Switching a site from ISC to Kea keeps every client's address: an ISC pair (booted from its
user-data) serves 30 clients that stay and renew; the site's inventory says server: kea, the
``convert-leases`` command turns both members' dhcpd.leases into Kea's memfile, ``load-leases``
writes the same bindings into both running Kea members (hot-standby) through their control
agents (Kea 2.2) or kea-dhcp4's own HTTP socket (Kea 3.0.3, from the trixie root), and every one
of the same running clients renews (or rebinds) the address it had. The converted memfile, as a
member's lease file at its start, is read by that member's Kea as a file of its own schema."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.isc.leases import active_bindings
from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea.render import kea_pin
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.releases import OsRelease
from dhcp_failover.secret_names import control_secret
from tests.lab.failover_harness import boot_pair
from tests.lab.kea import api_leases, install_member, require_kea, start_member, stop_member, wait_for_states
from tests.lab.netlab import Lab, require_lab
from tests.support.debian_roots import LAB_RELEASES, root_for
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

CLIENTS = 30
LEASE_SECONDS = 20  # renew at 10 s, rebind at 17.5 s: every client is heard from within a lease


def switch_site(server: str, release: OsRelease = OsRelease.DEBIAN_12) -> dict[str, Any]:
    data = {**site_data("sw"), "os": release.value}
    for subnet in data["subnets"]:
        subnet.update(default_lease_time=LEASE_SECONDS, max_lease_time=LEASE_SECONDS)
    if server == "isc":
        return {**data, "ping_check": False, "failover": {"mclt": 60}}  # above the lease time: full leases
    # Hot-standby: load-balancing pools are split by client hash, and Kea moves a renewing client
    # whose ISC address lies in the other member's half to a new address (11 of 30 here did).
    return {**data, "server": "kea", "failover": {"load_balancing": False}}


def memfile_rows(path: Path) -> list[dict[str, str]]:
    """The lease rows of a Kea memfile, on the columns that make a binding."""
    with path.open() as f:
        return [{k: row[k] for k in ("address", "hwaddr", "valid_lifetime", "expire", "subnet_id", "pool_id") if k in row}
                for row in csv.DictReader(f)]


def memfile_header(path: Path) -> str:
    with path.open() as f:
        return f.readline().strip()


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("release", [OsRelease.DEBIAN_12, *LAB_RELEASES], ids=lambda r: f"to-kea-on-{r.value}")
def test_isc_site_switches_to_kea_and_every_client_keeps_its_address(
    tmp_path: Path, moto_endpoint: str, release: OsRelease
) -> None:
    """From ISC on Debian 12 (what sites run today) to Kea on ``release``: Kea 2.2 on Debian 12,
    or Kea 3.0.3 from the trixie root on Debian 13 (one change of ``server`` and ``os``)."""
    require_lab()
    require_kea()
    debian_root = root_for(release) if release in LAB_RELEASES else None
    isc_site = inventory_from_data(inventory_data(switch_site("isc"))).sites[0]
    with Lab(tmp_path / "lab") as lab:
        pair = boot_pair(isc_site, lab, moto_endpoint)
        pair.wait_normal(timeout=60)
        clients = pair.renewing_clients(CLIENTS)
        time.sleep(1.0)  # the last binding reaches the partner
        before = {c.mac: c.grants()[-1].address for c in clients}
        assert len(set(before.values())) == CLIENTS

        # The switch: stop ISC, convert both members' bindings, start Kea with them.
        for member in isc_site.members:
            pair.stop(member)
        switched_at = time.time()
        lease_files = [pair.lease_file(m) for m in isc_site.members]
        # Each member's file alone may lag its partner's last updates: the command reads both.
        in_files = {str(b.address): b.mac for f in lease_files for b in active_bindings(f.read_text())}
        assert in_files == {address: mac for mac, address in before.items()}
        kea_data = inventory_data(switch_site("kea", release))
        inventory = write_inventory(tmp_path / "kea.yaml", kea_data)
        memfile = tmp_path / "kea-leases4.csv"
        result = run("convert-leases", "--inventory", str(inventory), "--site", "sw",
                     *[arg for f in lease_files for arg in ("--isc-leases", str(f))], "--out", str(memfile))
        assert result.returncode == 0, result.stderr
        assert f"{CLIENTS} active binding(s)" in result.stdout
        kea_site = inventory_from_data(kea_data).sites[0]
        store = tmp_path / "keys.json"
        assert run("keys", "--inventory", str(inventory), "--key-store", str(store)).returncode == 0
        password = KeyStore.load(store).require(control_secret(kea_site)).value
        hosts = ((kea_site.primary, pair.topo.primary), (kea_site.secondary, pair.topo.secondary))
        # Both start empty and reach normal; then load-leases writes the bindings into each
        # running member through its control agent (HA would not pass them on).
        members = [install_member(lab, kea_site, member, host, password, debian_root=debian_root) for member, host in hosts]
        for kea in members:
            start_member(lab, kea)
        wait_for_states(members, {"normal"}, timeout=10.0)
        for kea in members:  # the daemons answering are the release's own Kea
            assert control.command(kea.endpoint, "version-get")["extended"].startswith(kea_pin(kea_site).version.split("-")[0])
        via = [f"--omapi-via={m.name}={' '.join(lab.netns_exec(host))}" for m, host in hosts]
        leases_args = [arg for f in lease_files for arg in ("--isc-leases", str(f))]
        for _ in range(2):  # a second run rewrites the same leases: the load can be repeated safely
            result = run("load-leases", "--inventory", str(inventory), "--site", "sw", "--key-store", str(store),
                         *via, *leases_args)
            assert result.returncode == 0, result.stderr
            assert result.stdout.count(f"{CLIENTS} binding(s) loaded") == 2
        expected = {a: m for m, a in before.items()}
        assert api_leases(members[0]) == api_leases(members[1]) == expected
        # Loaded as default-state (0) leases: Kea 3.0's released state (3) would not renew them.
        assert {lease["state"] for kea in members for lease in control.leases(kea.endpoint)} == {0}
        # The file convert-leases writes (for a copy before the first start) holds exactly the rows
        # Kea itself wrote for the loaded leases: same client, lifetime, end and subnet id.
        ours = memfile_rows(memfile)
        assert {row["address"] for row in ours} == set(expected)
        for kea in members:
            written = memfile_rows(kea.lease_file)
            assert [row for row in ours if row not in written] == []
        # The other way convert-leases offers: its file as a member's lease file at its first start.
        # The member's own Kea reads it as a file of its own schema (no upgrade to warn about).
        standby = members[1]
        stop_member(lab, standby, crash=False)
        for stale in standby.lease_file.parent.glob(f"{standby.lease_file.name}*"):
            stale.unlink()
        shutil.copy(memfile, standby.lease_file)
        log = lab.workdir / f"{standby.host}-kea-dhcp4.log"
        seen = len(log.read_text()) if log.exists() else 0
        start_member(lab, standby)
        wait_for_states(members, {"normal"}, timeout=10.0)
        restarted_log = log.read_text()[seen:]
        assert "DHCPSRV_MEMFILE_LEASE_FILE_LOAD" in restarted_log
        assert [line for line in restarted_log.splitlines() if " WARN " in line and "MEMFILE" in line] == []
        assert memfile_header(standby.lease_file) == memfile_header(members[0].lease_file)
        assert api_leases(standby) == expected

        # The same running clients renew or rebind, each to the address it had under ISC.
        deadline = time.time() + LEASE_SECONDS + 5
        waiting = set(before)
        while waiting and time.time() < deadline:
            for client in clients:
                if client.mac in waiting and any(g.granted > switched_at + 0.5 for g in client.grants()):
                    waiting.discard(client.mac)
            time.sleep(0.5)
        assert not waiting, f"{len(waiting)} client(s) not served by Kea within a lease time"
        after = {c.mac: [g for g in c.grants() if g.granted > switched_at][-1] for c in clients}
        moved = {mac: (before[mac], grant.address) for mac, grant in after.items() if grant.address != before[mac]}
        assert not moved, f"clients changed address on the switch: {moved}"
        assert {g.server for g in after.values()} == {pair.topo.primary_ip}  # hot-standby: the primary serves
        assert sum(c.naks() for c in clients) == 0
        print(f"kea switch: {CLIENTS} clients kept their addresses; last renewal "
              f"{max(g.granted for g in after.values()) - switched_at:.1f} s after the switch")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (("lease 10.99.0.5 {\n  starts 2 2030/01/01 00:00:00;\n  ends 2 2030/01/01 01:00:00;\n"
         "  binding state active;\n  hardware ethernet 02:00:00:00:00:01;\n}\n"),
         "lease 10.99.0.5: in none of site 'sw''s subnets; add its subnet to the inventory first"),
        (("lease 10.77.2.100 {\n  starts 2 2030/01/01 00:00:00;\n  ends 2 2030/01/01 01:00:00;\n"
         "  binding state active;\n}\n"), "lease 10.77.2.100: active but has no 'hardware ethernet'"),
    ],
    ids=["outside-subnets", "no-mac"],
)
def test_convert_leases_bad_input_is_one_error_line(tmp_path: Path, text: str, message: str) -> None:
    inventory = write_inventory(tmp_path / "kea.yaml", inventory_data(switch_site("kea")))
    leases = tmp_path / "dhcpd.leases"
    leases.write_text(text)
    out = tmp_path / "out.csv"
    result = run("convert-leases", "--inventory", str(inventory), "--site", "sw", "--isc-leases", str(leases),
                 "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {leases}: {message}"]
    assert not out.exists()
