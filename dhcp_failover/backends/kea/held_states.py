"""Kea HA states a gate must not simply wait out, with the recovery docs/operations.md spells out.

``terminated`` was forced in the lab with kea-dhcp4 2.2.0 under libfaketime (+120 s on one
member; Kea compares its clock with the partner's heartbeat answer and gives up past 60 s): both
members read ``terminated`` about 1.4 s after starting. Restarting only the skewed member leaves
its partner in ``terminated`` and itself ``waiting``; ``ha-reset`` is accepted by both and
changes nothing. Restarting kea-dhcp4 on both (clock fixed first) gives ``load-balancing`` on
both 3.9-5.0 s after the second restart (tests/test_held_states_lab.py). The secondary goes
first: restarted, it waits for its terminated partner and serves nobody, while the terminated
primary still answers its own clients (Kea's docs: a terminated server keeps serving per its HA
mode), so the gap between the two restarts is the only one in which the secondary's share is
unanswered."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..base import HeldState

RESTART_BOTH = ("fix the clock (chronyc tracking on both members), then restart kea-dhcp4 on the secondary and "
                "right after on the primary (restarting one alone leaves its partner terminated)")

HELD_STATES: Mapping[str, HeldState] = MappingProxyType({
    "terminated": HeldState(
        meaning="Kea HA gave up: clock skew or versions",
        recovery=RESTART_BOTH,
        hopeless=True,
    ),
    "waiting": HeldState(
        meaning="waits for its partner to answer, or for a terminated partner to be restarted",
        recovery="check that kea-dhcp4 runs on the partner and that the members reach each other's control port; "
                 "if the partner is terminated, restart kea-dhcp4 on the partner",
    ),
    "syncing": HeldState(
        meaning="fetching the partner's leases",
        recovery="check the partner's control agent answers lease4-get-page and the sync-timeout; "
                 "restart kea-dhcp4 on this member to sync again",
    ),
    "communication-recovery": HeldState(
        meaning="lost touch with its partner and queues lease updates",
        recovery="check the link between the members (security group, WireGuard tunnel) and that the partner runs",
    ),
})
"""Kea's state word -> what the gate says and the recovery; one row per state, the docs list them."""
