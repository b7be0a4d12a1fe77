"""The seam between the backend-neutral model and a DHCP server: what a backend provides.

A site names its server (``server: isc`` or ``kea``); ``registry.backend_for`` gives the
backend, and everything server-specific goes through it. Shared pieces (relays, WireGuard,
chrony, file trees, the AWS constructs) stay outside.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Protocol

from ..model import Member, ServerKind, Site
from ..render import FileTree


class NeutralState(str, enum.Enum):
    """A member's HA state as operators read it, whichever server runs: ``status`` and
    ``drill`` print these words for ISC failover and Kea HA alike."""

    NORMAL = "normal"  # both serve their share (ISC normal; Kea load-balancing / hot-standby)
    PARTNER_DOWN = "partner-down"  # this member serves every client
    INTERRUPTED = "communications-interrupted"  # partner silent, not yet declared down
    RECOVER = "recover"  # catching up with the partner before it serves again
    STARTUP = "startup"  # just started, waiting for the partner
    SHUT_DOWN = "shutdown"  # stopped serving on purpose (Kea: in-maintenance)
    OTHER = "other"


@dataclass(frozen=True)
class ControlChannel:
    """Where operators (and, for Kea, the partner) reach a member's control API."""

    output_name: str  # Terraform output stem: "<name>_endpoint(s)"
    port: int
    label: str  # what the channel is called in descriptions
    admitted: str  # who the security group lets in
    admin_networks: tuple[IPv4Network, ...]  # operators reach the channel from these only
    admins_rule: str  # the row of the security-group rule table that admits them


@dataclass(frozen=True)
class PartnerLink:
    """The pair's own dialogue when no tunnel carries it: the rows of the security-group rule table
    that admit it and the TCP ports, as seen from one member."""

    from_partner_rule: str
    to_partner_rule: str
    listen_port: int  # this member listens here for its partner
    partner_port: int  # and connects to its partner here


RECOVERY_DOC = 'docs/operations.md "When a gate stops on a state"'
"""Where every held state's recovery is written out (the section's title is part of each line)."""


@dataclass(frozen=True)
class HeldState:
    """A server state a gate must not simply wait out: one row of a backend's ``held_states``.

    ``hopeless``: waiting never clears it (Kea's ``terminated``), so a gate stops at once. Otherwise
    the state is normal for a while (a rebuilt member catching up) and a gate stops on it only
    when the member is still in it at the gate's timeout."""

    meaning: str  # what the state says, in words: "Kea HA gave up: clock skew or versions"
    recovery: str  # the documented recovery, one clause, verified in the lab where it says so
    hopeless: bool = False


# One input rule of a backend: yields (field, what to do) for each problem it finds in a site.
SiteRule = Callable[[Site], Iterator[tuple[str, str]]]


class Backend(Protocol):
    """Everything that differs between DHCP servers, for one site."""

    kind: ServerKind
    checks: tuple[SiteRule, ...]
    """The server's own input rules, in the order they run; each one's docstring says what it
    enforces (docs/inventory.md's table of validation rules lists them)."""

    held_states: Mapping[str, HeldState]
    """The server's own state words (Kea ``terminated``, ISC ``recover-wait``) that need an
    operator, or that a gate reports by name when a member is still in one at its timeout."""

    def render_member(self, site: Site, member: Member, *, root: str = "") -> FileTree:
        """The member's files on disk (absolute paths); ``root`` prefixes paths inside them."""
        ...

    def packages(self, site: Site) -> list[str]:
        """The Debian packages the member installs, pinned, as cloud-init spells them."""
        ...

    def render_bootstrap(self, site: Site, member: Member, shared: Mapping[str, object]) -> str:
        """The member's boot script: fetch the secrets, check the config, start and check.
        ``shared``: the values every backend's script gets (names, region, WireGuard steps)."""
        ...

    def control_channel(self, site: Site) -> ControlChannel:
        ...

    def partner_link(self, site: Site, member: Member) -> PartnerLink:
        ...
