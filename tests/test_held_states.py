"""States a gate must not wait out, without AWS or a lab: a stand-in Kea Control Agent on loopback
that answers ``status-get`` with the state a test gives, per service (dhcp4, dhcp6). Kea's
``terminated`` stops a gate at once with one line naming the member, the state and the documented
recovery; a state that is normal for a while (``syncing``, ISC's ``recover-wait``) is named with
how long it held the gate when the gate gives up. The real thing, a pair forced into ``terminated``
by clock skew, is tests/test_held_states_lab.py."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover import operations
from dhcp_failover.backends.base import RECOVERY_DOC
from dhcp_failover.backends.isc.held_states import HELD_STATES as ISC_HELD
from dhcp_failover.backends.kea.held_states import HELD_STATES as KEA_HELD
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.model import Site
from dhcp_failover.rollout import Gate, SiteRollout, _Clock, _StepFailed
from dhcp_failover.terraform import Terraform
from tests.support.factories import REPO, inventory_data, site_data
from tests.support.kea_agent import kea_agent


def _rollout(site: Site, tmp_path: Path, hosts: dict[str, str], timeout: float) -> SiteRollout:
    store = KeyStore(tmp_path / "keys.json", {})
    store.ensure(site)

    @contextmanager
    def reach() -> Iterator[Sequence[operations.Access]]:
        yield operations.member_access(site, store, hosts=hosts)

    return SiteRollout(site, {}, Terraform.from_environment(), gate=Gate(reach, timeout), plan_only=False,
                       progress=lambda line: None, clock=_Clock())


def kea_site() -> Site:
    return inventory_from_data(inventory_data({**site_data("ops"), "server": "kea"})).sites[0]


def test_a_kea_member_in_terminated_stops_the_rollout_gate_at_once_with_the_documented_recovery(
    tmp_path: Path,
) -> None:
    site = kea_site()
    with kea_agent(dhcp4="load-balancing") as normal, kea_agent(dhcp4="terminated") as gave_up:
        rollout = _rollout(site, tmp_path, {"ops-a": normal, "ops-b": gave_up}, timeout=60.0)
        start = time.monotonic()
        with pytest.raises(_StepFailed) as failed:
            rollout._gate("ops-primary", partner_absent=False)
    assert time.monotonic() - start < 5.0  # never the 60-s timeout
    assert str(failed.value) == (
        "ops-primary: gate: ops-b is in terminated (Kea HA gave up: clock skew or versions); "
        f"{KEA_HELD['terminated'].recovery}; see {RECOVERY_DOC}")
    assert "restart kea-dhcp4 on the secondary and right after on the primary" in str(failed.value)


def test_terminated_in_the_dhcpv6_relationship_of_a_dual_stack_site_stops_the_gate_too(tmp_path: Path) -> None:
    # On Debian 12 (Kea 2.2) both relationships answer through the agent this stand-in plays.
    data = yaml.safe_load((REPO / "examples" / "dual-stack.yaml").read_text())
    data["sites"][0]["os"] = "debian-12"
    (site,) = inventory_from_data(data).sites
    assert site.dhcpv6 is not None
    a, b = site.primary.name, site.secondary.name
    with kea_agent(dhcp4="load-balancing", dhcp6="load-balancing") as normal, \
            kea_agent(dhcp4="load-balancing", dhcp6="terminated") as v6_gave_up:
        rollout = _rollout(site, tmp_path, {a: normal, b: v6_gave_up}, timeout=60.0)
        with pytest.raises(_StepFailed, match=re.escape(f"gate: {b} is in terminated in DHCPv6 (Kea HA gave up")):
            rollout._gate(f"{site.name}-primary", partner_absent=False)
    (step,) = rollout.report.steps
    assert (step.action, step.result) == ("gate", "failed") and step.seconds < 5.0


def test_a_kea_member_still_syncing_at_the_gate_timeout_is_named_with_its_state_and_how_long(tmp_path: Path) -> None:
    site = kea_site()
    with kea_agent(dhcp4="load-balancing") as normal, kea_agent(dhcp4="syncing") as syncing:
        rollout = _rollout(site, tmp_path, {"ops-a": normal, "ops-b": syncing}, timeout=2.0)
        with pytest.raises(_StepFailed) as failed:
            rollout._gate("ops-secondary", partner_absent=False)
    match = re.fullmatch(r"ops-secondary: gate: ops-b stuck in syncing for (\d+) s \(fetching the partner's leases\); "
                         r"(.+); see (.+)", str(failed.value))
    assert match is not None, failed.value
    assert 1 <= int(match[1]) <= 3 and match[2] == KEA_HELD["syncing"].recovery and match[3] == RECOVERY_DOC


def test_an_isc_member_in_recover_wait_is_named_with_how_long_the_gate_saw_it_there() -> None:
    site = inventory_from_data(inventory_data(site_data("ops"))).sites[0]
    held = operations.HeldWatch(site)
    rebuilt = operations.MemberStatus("ops-b", "secondary", "x", "recover-wait", "normal", server_state="recover-wait")
    partner = operations.MemberStatus("ops-a", "primary", "x", "normal", "recover-wait", server_state="normal")
    held.see([partner, rebuilt], 100.0)
    held.see([partner, rebuilt], 4000.0)
    assert held.hopeless() is None  # recover-wait ends by itself after MCLT
    assert held.stuck(4000.0) == (f"ops-b stuck in recover-wait for 3900 s ({ISC_HELD['recover-wait'].meaning}); "
                                  f"{ISC_HELD['recover-wait'].recovery}; see {RECOVERY_DOC}")
    # A state change starts the count again: the member moved on, it was not stuck in the old one.
    held.see([partner, dataclasses.replace(rebuilt, server_state="recover")], 4100.0)
    assert held.stuck(4110.0) is not None and "stuck in recover for 10 s" in (held.stuck(4110.0) or "")


@pytest.mark.parametrize(("backend", "table"), [("isc", ISC_HELD), ("kea", KEA_HELD)])
def test_every_held_state_and_its_recovery_is_in_the_operations_guide(backend: str, table: Any) -> None:
    guide = (REPO / "docs" / "operations.md").read_text()
    title = RECOVERY_DOC.split('"')[1]
    assert f"## {title}" in guide
    section = guide.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    for state, row in table.items():
        assert f"`{state}`" in section, f"{backend} {state} missing from docs/operations.md {title!r}"
        assert row.recovery in " ".join(section.split()), f"{backend} {state}: its recovery text differs in the guide"
