"""A Kea site's own settings: HA timers, the control channel and the package version.

Pure model (no rendering): ``model.Site.kea`` holds one. Timers are in milliseconds as Kea
spells them. The defaults are the fast timers measured in the namespace lab: Kea's own defaults
(heartbeat 10 s, max-response-delay 60 s, 10 unacked clients) took 20-30 s to reach the normal
state and, on a quiet network, never declared a dead partner down.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ...fields import PACKAGE_VERSION, Network, Port, Strict

MAX_ADMIN_NETWORKS = 50
Milliseconds = Annotated[int, Field(strict=True, ge=100, le=3_600_000)]


class KeaSettings(Strict):
    """HA timers, the control port and who may reach it, and the pinned packages."""

    heartbeat_delay_ms: Milliseconds = Field(default=1000, description="How often each member checks its partner.")
    max_response_delay_ms: Milliseconds = Field(
        default=3000,
        description="Silence after which the partner is suspected (then partner-down with max_unacked_clients 0).",
    )
    max_ack_delay_ms: Milliseconds = Field(
        default=1000, description="How long a client may wait unanswered before it counts as unacked."
    )
    max_unacked_clients: Annotated[int, Field(strict=True, ge=0, le=1000)] = Field(
        default=0,
        description="Unacked clients needed before partner-down; 0 trusts the heartbeat alone (members in one site or VPC).",
    )
    control_port: Port = Field(
        default=8000,
        description="HA peer traffic and operator commands, with basic auth: the Control Agent's port on Kea 2.2, "
        "kea-dhcp4's own HTTP control socket on Kea 3.0.",
    )
    control_port6: Port = Field(
        default=8001,
        description="On a dual-stack site with Kea 3.0: kea-dhcp6's own HTTP control socket, for the v6 HA "
        "relationship's peers and operators, with the same basic auth (on Kea 2.2 both go through the Control "
        "Agent on control_port).",
    )
    admin_networks: Annotated[tuple[Network, ...], Field(max_length=MAX_ADMIN_NETWORKS)] = Field(
        default=(), description="Private networks whose operators may reach the control port (none by default)."
    )
    package_version: Annotated[str, Field(pattern=PACKAGE_VERSION)] | None = Field(
        default=None,
        description="Debian version of the Kea packages on both members (default: the os's pin, 2.2.0-6 on "
        "debian-12, 3.0.3-1~bpo13+1 from trixie-backports on debian-13); a version the os does not carry is an error.",
    )
