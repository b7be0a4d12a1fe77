"""The failover, proven with real daemons on every commit. One pair, booted from its synthesized
cloud-configs, goes through the scenarios in order (they build on each other): start-up,
partition and healing, primary killed, partner-down over OMAPI, primary rebuilt with an empty
lease database, rolling restart through the operator command, and the operator drill. Every
client's lease is in a ledger: duplicate addresses and lost bindings must both be 0."""

from __future__ import annotations

import ipaddress
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from boot import moto_endpoint  # noqa: F401  (session fixture)
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.omapi import read_failover_state, set_partner_down, wait_for_failover_state
from factories import REPO, inventory_data, site_data, write_inventory
from failover_harness import BootedPair, active_bindings, boot_pair
from netlab import Lab, require_lab

pytestmark = pytest.mark.netns
MCLT = 8
POOL = ("10.77.2.100", "10.77.2.219")
FIGURES: dict[str, float] = {}


def proof_site() -> Site:
    data = site_data(ping_check=False, failover={"mclt": MCLT, "max_response_delay": 3})
    data["subnets"][1]["pools"] = [{"start": POOL[0], "end": POOL[1]}]
    return inventory_from_data(inventory_data(data)).sites[0]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[BootedPair]:
    require_lab()
    with Lab(tmp_path_factory.mktemp("proof")) as lab:
        yield boot_pair(proof_site(), lab, moto_endpoint)


def state(pair: BootedPair, host: str) -> str:
    return read_failover_state(pair.endpoint(), pair.site.peer_name, command_prefix=pair.lab.netns_exec(host)).local_state


def wait_normal(pair: BootedPair, timeout: float = 60) -> None:
    for host in (pair.topo.primary, pair.topo.secondary):
        wait_for_failover_state(pair.endpoint(), pair.site.peer_name, "normal", partner_state="normal",
                                command_prefix=pair.lab.netns_exec(host), timeout=timeout)


def clients(pair: BootedPair, count: int) -> list[str]:
    return [pair.new_client().server for _ in range(count)]


def test_startup_both_normal_and_both_serve(pair: BootedPair) -> None:
    start = time.monotonic()
    wait_normal(pair, timeout=30)
    FIGURES["time to normal after start (s)"] = time.monotonic() - start
    servers = clients(pair, 16)
    assert set(servers) == {pair.topo.primary_ip, pair.topo.secondary_ip}, servers


def test_partition_each_serves_its_own_pool_then_heals(pair: BootedPair) -> None:
    lab, topo = pair.lab, pair.topo
    lab.blackhole(topo.primary, f"{topo.secondary_ip}/32")
    lab.blackhole(topo.secondary, f"{topo.primary_ip}/32")
    try:
        for host in (topo.primary, topo.secondary):
            wait_for_failover_state(pair.endpoint(), pair.site.peer_name, "communications-interrupted",
                                    command_prefix=lab.netns_exec(host), timeout=20)
        clients(pair, 6)
    finally:
        lab.unblackhole(topo.primary, f"{topo.secondary_ip}/32")
        lab.unblackhole(topo.secondary, f"{topo.primary_ip}/32")
    wait_normal(pair)
    assert pair.ledger.duplicates() == 0


def test_primary_killed_secondary_keeps_serving(pair: BootedPair) -> None:
    killed = time.monotonic()
    pair.lab.kill(pair.daemons[pair.site.primary.name], signal.SIGKILL)
    first = pair.new_client()
    FIGURES["first lease after primary kill (s)"] = time.monotonic() - killed
    assert first.server == pair.topo.secondary_ip
    assert FIGURES["first lease after primary kill (s)"] <= pair.site.failover.load_balance_max_seconds + 5
    assert state(pair, pair.topo.secondary) == "communications-interrupted"
    assert set(clients(pair, 3)) == {pair.topo.secondary_ip}


def test_partner_down_over_omapi_serves_the_whole_pool_after_mclt(pair: BootedPair) -> None:
    primary_free = _primary_free_addresses(pair.lease_file(pair.site.secondary))
    assert primary_free, "the primary's half of the free pool should be visible to the secondary"
    set_partner_down(pair.endpoint(), pair.site.peer_name, command_prefix=pair.lab.netns_exec(pair.topo.secondary))
    time.sleep(MCLT + 2)
    # The secondary spends its own share first; a lease from the primary's share proves it now
    # serves the whole pool (in communications-interrupted it would refuse: "peer holds all free leases").
    for _ in range(len(primary_free)):
        if pair.new_client().address in primary_free:
            break
    else:
        pytest.fail("the secondary never handed out an address of the primary's free share")


def test_rebuilt_primary_recovers_every_binding_before_serving(pair: BootedPair) -> None:
    primary = pair.site.primary
    pair.lease_file(primary).write_text("")  # a new instance: empty lease database
    pair.start(primary)
    wait_normal(pair, timeout=MCLT * 6)
    recovered = active_bindings(pair.lease_file(primary))
    assert pair.ledger.lost(recovered) == []
    clients(pair, 8)


def test_rolling_restart_with_the_status_command_loses_no_lease(pair: BootedPair, tmp_path: Path) -> None:
    inventory, store = _operator_files(pair, tmp_path)
    for member in (pair.site.secondary, pair.site.primary):
        pair.lab.kill(pair.daemons[member.name], signal.SIGTERM)
        pair.start(member)
        result = _cli(pair, "status", inventory, store, "--wait", "normal", "--timeout", str(MCLT * 6))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("normal (partner: normal)") == 2
    for member in pair.site.members:
        assert pair.ledger.lost(active_bindings(pair.lease_file(member))) == []
    clients(pair, 8)


def test_drill_command_shuts_a_member_down_and_sees_the_pair_recover(pair: BootedPair, tmp_path: Path) -> None:
    inventory, store = _operator_files(pair, tmp_path)
    secondary = pair.site.secondary
    leases, pid, _ = pair.lab.dhcpd_files(pair.topo.secondary)
    dhcpd = " ".join(pair.lab.netns_exec(pair.topo.secondary) + [
        "dhcpd", "-4", "-cf", str(pair.confs[secondary.name]), "-lf", str(leases), "-pf", str(pid), "eth0",
    ])
    # As an operator would: wait for the old process to be gone, then start the service again.
    old = pair.daemons[secondary.name].pid  # our child: a zombie (state Z) once it has exited
    restart = (f"while grep -qv ') Z ' /proc/{old}/stat 2>/dev/null; do sleep 0.2; done; "
               f"{dhcpd} >{tmp_path / 'restart.log'} 2>&1")
    result = _cli(pair, "drill", inventory, store, "--member", secondary.name, "--restart-command", restart,
                  "--timeout", str(MCLT * 6))
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr + _read(tmp_path / "restart.log")
    assert "took over: partner-down" in result.stdout or "took over: communications-interrupted" in result.stdout
    assert "both members normal" in result.stdout


def test_counts_over_all_scenarios(pair: BootedPair) -> None:
    bindings = active_bindings(pair.lease_file(pair.site.primary))
    figures = {
        "clients": len(pair.ledger.grants),
        "duplicate addresses": pair.ledger.duplicates(),
        "lost bindings": len(pair.ledger.lost(bindings)),
    }
    print("\nfailover proof: " + ", ".join(f"{k} {v}" for k, v in figures.items())
          + "; " + ", ".join(f"{k} {v:.2f}" for k, v in FIGURES.items()))
    assert figures["clients"] >= 50
    assert figures["duplicate addresses"] == 0 and figures["lost bindings"] == 0
    pool = ipaddress.IPv4Network("10.77.2.0/24")
    assert all(ipaddress.IPv4Address(g.lease.address) in pool for g in pair.ledger.grants)


def _primary_free_addresses(secondary_leases: Path) -> set[str]:
    """Pool addresses the secondary may not hand out on its own: neither its backup share nor
    bound. Pool balancing writes only the secondary's share into its file, so the primary's
    free addresses are those with no record there, or a record saying free."""
    states: dict[str, str] = {}
    for address, body in re.findall(r"^lease (\S+) \{(.*?)^\}", secondary_leases.read_text(), re.M | re.S):
        found = re.search(r"^\s+binding state (\S+);", body, re.M)
        states[address] = found.group(1) if found else ""
    first, last = (ipaddress.IPv4Address(a) for a in POOL)
    pool = {str(ipaddress.IPv4Address(n)) for n in range(int(first), int(last) + 1)}
    return {a for a in pool if states.get(a, "free") == "free"}


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _operator_files(pair: BootedPair, tmp_path: Path) -> tuple[Path, Path]:
    inventory = write_inventory(tmp_path / "lab.yaml", inventory_data(site_data(
        ping_check=False, failover={"mclt": MCLT, "max_response_delay": 3},
    )))
    pair.store.path = tmp_path / "keys.json"
    pair.store.save()
    return inventory, pair.store.path


def _cli(pair: BootedPair, command: str, inventory: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    access = []
    for member, host in ((pair.site.primary, pair.topo.primary), (pair.site.secondary, pair.topo.secondary)):
        access += ["--omapi-host", f"{member.name}=127.0.0.1",
                   "--omapi-via", f"{member.name}={' '.join(pair.lab.netns_exec(host))}"]
    return subprocess.run(
        [sys.executable, "-m", "dhcp_failover", command, "--inventory", str(inventory), "--site", pair.site.name,
         "--key-store", str(store), *access, *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
