"""ISC failover states a gate reports by name when a member is still in one at the gate's timeout,
with the recovery docs/operations.md spells out (the ISC guide's reading, not lab-forced here)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..base import HeldState

HELD_STATES: Mapping[str, HeldState] = MappingProxyType({
    "recover": HeldState(
        meaning="rebuilding its leases from the partner",
        recovery="check the partner is normal or partner-down and the failover port (647) is open between them",
    ),
    "recover-wait": HeldState(
        meaning="waits out MCLT after recovering before it serves",
        recovery="wait MCLT (failover.mclt, 3600 s by default) from the start of recover-wait; "
                 "rerun with a --gate-timeout above MCLT",
    ),
    "communications-interrupted": HeldState(
        meaning="cannot reach its partner",
        recovery="start dhcpd on the partner or fix the link; if the partner is gone for good, "
                 "set this member partner-down over OMAPI",
    ),
    "potential-conflict": HeldState(
        meaning="both served without hearing each other and must reconcile",
        recovery="check the failover link; the pair reconciles by itself once both talk again",
    ),
})
"""ISC's state word -> what the gate says and the recovery; one row per state, the docs list them."""
