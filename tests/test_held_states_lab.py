"""Kea's ``terminated`` for real: a Kea 2.2 pair in network namespaces, one member's kea-dhcp4
under libfaketime two minutes ahead (Kea compares its clock with the date in its partner's
heartbeat answer and gives up past 60 s). ``status --wait normal`` through the CLI, as a
pipeline's gate runs it, stops within seconds with the documented line instead of waiting out its
timeout; restarting only the member whose clock was wrong leaves its partner terminated (the
line then names that partner); the documented recovery, the clock fixed and kea-dhcp4 restarted
on the secondary and right after on the primary, brings the pair back to normal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from dhcp_failover.backends.base import RECOVERY_DOC
from dhcp_failover.backends.kea.held_states import HELD_STATES
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.secret_names import control_secret
from tests.lab.kea import install_member, require_kea, restart_dhcp4, start_member
from tests.lab.netlab import Lab, build_failover_topology, require_lab
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

NOT_NORMAL = 3
SKEW = "+120s"  # beyond Kea's 60-s limit, far from its 30-s warning


def test_a_kea_pair_terminated_by_clock_skew_stops_the_gate_at_once_and_the_documented_recovery_heals_it(
    tmp_path: Path,
) -> None:
    require_lab()
    require_kea(faketime=True)
    data = inventory_data({**site_data(), "server": "kea", "os": "debian-12"})
    site = inventory_from_data(data).sites[0]
    inventory = write_inventory(tmp_path / "kea.yaml", data)
    store = tmp_path / "keys.json"
    assert run("keys", "--inventory", str(inventory), "--key-store", str(store)).returncode == 0
    password = KeyStore.load(store).require(control_secret(site)).value
    terminated = f"(Kea HA gave up: clock skew or versions); {HELD_STATES['terminated'].recovery}; see {RECOVERY_DOC}"
    with Lab(tmp_path / "lab") as lab:
        topo = build_failover_topology(lab)
        primary = install_member(lab, site, site.primary, topo.primary, password)
        secondary = install_member(lab, site, site.secondary, topo.secondary, password)
        secondary.clock_offset = SKEW

        via = [f"--omapi-via={m.name}={' '.join(lab.netns_exec(host))}"
               for m, host in ((site.primary, topo.primary), (site.secondary, topo.secondary))]
        status = ("status", "--inventory", str(inventory), "--site", site.name, "--key-store", str(store), *via)

        def wait_normal(timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
            start = time.monotonic()
            result = run(*status, "--wait", "normal", "--timeout", f"{timeout:g}", timeout=timeout + 30)
            return result, time.monotonic() - start

        for kea in (primary, secondary):
            start_member(lab, kea)
        gate, seconds = wait_normal(60)
        assert gate.returncode == NOT_NORMAL, gate.stderr
        errors = [line for line in gate.stderr.splitlines() if line.startswith("error:")]
        # Which member gives up first varies (each judges the other's heartbeat); the gate stops at the first.
        assert len(errors) == 1 and re.fullmatch(
            rf"error: site lab: (lab-a|lab-b|lab-a and lab-b) (is|are) in terminated {re.escape(terminated)}",
            errors[0]), gate.stderr
        assert seconds < 15, f"the gate took {seconds:.1f} s: it waited instead of stopping"
        print(f"gate stopped {seconds:.1f} s after both members started (timeout 60 s)")
        # Pipelines see Kea's own word, where the neutral state says shutdown.
        members = json.loads(run(*status, "--json").stdout)["members"]
        assert "terminated" in {m["server_state"] for m in members}, members
        assert {m["local_state"] for m in members} <= {"shutdown", "startup"}, members

        # The clock fixed and only the member that had it wrong restarted: its partner stays terminated.
        secondary.clock_offset = None
        restart_dhcp4(lab, secondary)
        half, _ = wait_normal(5)
        assert f"error: site lab: lab-a is in terminated {terminated}" in half.stderr.splitlines(), half.stderr

        # The documented recovery: kea-dhcp4 restarted on both (the secondary once more, then the primary).
        restart_dhcp4(lab, secondary)
        restart_dhcp4(lab, primary)
        healed, seconds = wait_normal(30)
        assert healed.returncode == 0, healed.stderr + healed.stdout
        assert healed.stdout.count("normal (partner: normal)") == 2, healed.stdout
        print(f"normal {seconds:.1f} s after the second restart")


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
