"""What a gate waits for and what it says while it waits, without AWS or a lab: members whose
OMAPI is a closed loopback port (nothing answers there), and for the dual-stack relationship a
stand-in Kea Control Agent on loopback that answers for kea-dhcp4 and, as the real agent does
when kea-dhcp6 is down, refuses to forward to dhcp6. The real members and AWS are in
test_operations_cli.py, test_e2e_gitops.py and test_rollout_moto.py."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from dhcp_failover import operations
from dhcp_failover.app import ENDPOINT_ENV
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.model import Site
from dhcp_failover.rollout import Gate, SiteRollout, _Clock, _StepFailed
from dhcp_failover.terraform import Terraform
from tests.support.factories import REPO, inventory_data, site_data, write_inventory
from tests.support.kea_agent import kea_agent

CLOSED = "127.0.0.1:1"  # nothing listens on port 1: a connect is refused at once
WAITING = re.compile(r"^(?P<states>.+); (?P<elapsed>\d+) s of (?P<limit>[\d.]+) s$")


def ops_site() -> Site:
    return inventory_from_data(inventory_data(site_data("ops"))).sites[0]


def keys_for(site: Site, tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys.json", {})
    store.ensure(site)
    return store


def test_status_wait_says_what_it_waits_for_from_its_first_poll_and_gives_up_unreachable(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(site_data("ops")))
    env = {k: v for k, v in os.environ.items() if k != ENDPOINT_ENV and not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dhcp_failover", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    assert cli("keys", "--inventory", "sites.yaml", "--key-store", "keys.json").returncode == 0
    result = cli("status", "--inventory", str(inventory), "--key-store", "keys.json", "--site", "ops",
                 "--omapi-host", f"ops-a={CLOSED}", "--omapi-host", f"ops-b={CLOSED}", "--wait", "normal",
                 "--timeout", "1.5")
    assert result.returncode == 4, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "status: site ops waiting: ops-a no answer, ops-b no answer; 0 s of 1.5 s", result.stderr
    assert [line.split(":")[1].strip() for line in lines if line.startswith("error:")] == ["ops-a", "ops-b"]


def test_a_waiting_status_repeats_its_line_at_least_every_progress_interval(tmp_path: Path) -> None:
    """``progress_every`` is the Python API's own knob (the CLI keeps PROGRESS_INTERVAL): with half
    a second, no stretch of a two-second wait goes without a line naming every member and the time."""
    assert operations.PROGRESS_INTERVAL <= 30
    site = ops_site()
    access = operations.member_access(site, keys_for(site, tmp_path), hosts={"ops-a": CLOSED, "ops-b": CLOSED})
    said: list[tuple[float, str]] = []
    start = time.monotonic()
    passed, statuses = operations.wait_until_normal(
        site, access, 2.0, 0.1, progress=lambda line: said.append((time.monotonic(), line)), progress_every=0.5)
    end = time.monotonic()
    assert not passed and all(s.error for s in statuses)
    times = [start, *(at for at, _ in said), end]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(said) >= 3 and max(gaps) <= 0.5 + 0.25, said  # the tolerance: one poll's jitter
    seen = [WAITING.match(line) for _, line in said]
    assert all(m is not None and m["states"] == "ops-a no answer, ops-b no answer" and m["limit"] == "2"
               for m in seen), said
    assert next(m["elapsed"] for m in seen if m is not None) == "0"


def test_a_member_not_created_admits_only_a_partner_that_answers() -> None:
    """The rule every gate follows: with --allow-not-created a member that EC2 proved absent is
    left out, and its partner must answer (any state: it has nobody to be normal with). A partner
    that does not answer, or whose DHCPv6 relationship does not, holds the gate."""
    absent = operations.MemberStatus("ops-a", "primary", CLOSED, None, None, "refused", not_created=True)
    answering = operations.MemberStatus("ops-b", "secondary", "x", "communications-interrupted", "unknown-state")
    silent = operations.MemberStatus("ops-b", "secondary", CLOSED, None, None, "refused")
    v6_silent = operations.MemberStatus("ops-b", "secondary", "x", "partner-down", None, dual_stack=True,
                                        v6_error="dhcp6 offline")
    assert operations.gate_passes([absent, answering], allow_not_created=True)
    assert not operations.gate_passes([absent, answering])
    assert not operations.gate_passes([absent, silent], allow_not_created=True)
    assert not operations.gate_passes([absent, v6_silent], allow_not_created=True)
    # Neither member in EC2 (AWS asked in the wrong account or region looks so): no gate passes on nothing.
    absent_too = operations.MemberStatus("ops-b", "secondary", CLOSED, None, None, "refused", not_created=True)
    assert not operations.gate_passes([absent, absent_too], allow_not_created=True)
    assert operations.nothing_to_wait_for([absent, absent_too], allow_not_created=True)
    assert not operations.nothing_to_wait_for([absent, silent], allow_not_created=True)


@pytest.fixture
def kea_agent_down6() -> Iterator[str]:
    """kea-dhcp4 in partner-down (its partner is not created yet), kea-dhcp6 not running."""
    with kea_agent(partner="", dhcp4="partner-down") as agent:
        yield agent


def _gate_of(site: Site, store: KeyStore, hosts: dict[str, str], timeout: float, every: float) -> Gate:
    @contextmanager
    def reach() -> Iterator[Sequence[operations.Access]]:
        yield operations.member_access(site, store, hosts=hosts)

    return Gate(reach, timeout, progress_every=every)


def test_a_first_deploys_gate_holds_a_dual_stack_secondary_whose_dhcpv6_does_not_answer(
    tmp_path: Path, kea_agent_down6: str
) -> None:
    # On Debian 12 (Kea 2.2) both relationships answer through the agent the stand-in plays.
    data = yaml.safe_load((REPO / "examples" / "dual-stack.yaml").read_text())
    data["sites"][0]["os"] = "debian-12"
    (site,) = inventory_from_data(data).sites
    assert site.dhcpv6 is not None
    hosts = {site.primary.name: CLOSED, site.secondary.name: kea_agent_down6}
    gate = _gate_of(site, keys_for(site, tmp_path), hosts, timeout=2.0, every=0.5)
    lines: list[str] = []
    rollout = SiteRollout(site, {}, Terraform.from_environment(), gate=gate, plan_only=False,
                          progress=lines.append, clock=_Clock())
    with pytest.raises(_StepFailed, match=re.escape("partner not created yet after 2 s")):
        rollout._gate(f"{site.name}-secondary", partner_absent=True)
    (step,) = rollout.report.steps
    assert (step.action, step.result) == ("gate", "failed")
    assert step.detail == f"secondary {site.secondary.name} partner-down/None v6 no answer; partner not created yet"
    # It said what it waited for at the start and then at every progress interval.
    assert "gate waiting: the secondary answers (partner not created yet), up to 2 s" in lines[0]
    repeats = [line for line in lines[1:] if "gate waiting: secondary " in line]
    assert len(repeats) >= 2, lines
    assert all(re.search(r"v6 no answer; partner not created yet; \d+ s of 2 s$", line) for line in repeats), lines


def test_a_rollout_gate_with_both_members_expected_says_each_members_state_while_it_waits(tmp_path: Path) -> None:
    site = ops_site()
    gate = _gate_of(site, keys_for(site, tmp_path), {"ops-a": CLOSED, "ops-b": CLOSED}, timeout=1.5, every=0.5)
    lines: list[str] = []
    rollout = SiteRollout(site, {}, Terraform.from_environment(), gate=gate, plan_only=False,
                          progress=lines.append, clock=_Clock())
    with pytest.raises(_StepFailed, match=re.escape("not normal yet: ops-a no answer, ops-b no answer after 1.5 s")):
        rollout._gate("ops-primary", partner_absent=False)
    repeats = [line for line in lines[1:-1] if "gate waiting: not normal yet: ops-a no answer, ops-b no answer; " in line]
    assert repeats and all(re.search(r"; \d+ s of 1.5 s$", line) for line in repeats), lines
