"""What an ISC dhcpd site may not say: failover settings dhcpd accepts and then misbehaves
with (``dhcpd -t`` checks none of them), and who may reach OMAPI.

Each rule yields ``(field, message)``; ``checks`` prefixes the site and reports them. The docs'
table of validation rules is generated from ``CHECKS`` and each rule's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ...address_rules import admin_network_problems
from ...messages import excerpt
from ...model import Site


def failover_settings(site: Site) -> Iterator[tuple[str, str]]:
    """split and hba never both; load_balance_max_seconds 1 or more unless load_balancing is false (0 silently
    turns balancing off), and not set when it is false; max_lease_ownership below max_lease_misbalance;
    min_balance not above max_balance; no member's failover port equal to the OMAPI port."""
    f = site.failover
    if f.split is not None and f.hba is not None:
        yield "failover", "sets both split and hba; keep exactly one of them"
    if f.load_balancing and f.load_balance_max_seconds == 0:
        yield "failover.load_balance_max_seconds", (
            "is 0, which silently turns load balancing off; use 1 or more (3 is usual) or set load_balancing: false"
        )
    if not f.load_balancing and "load_balance_max_seconds" in f.model_fields_set and f.load_balance_max_seconds:
        yield "failover.load_balance_max_seconds", "is set but load_balancing is false; remove one of them"
    if f.max_lease_ownership is not None and f.max_lease_misbalance is not None and f.max_lease_ownership >= f.max_lease_misbalance:
        yield "failover.max_lease_ownership", (
            f"({f.max_lease_ownership}) must be lower than max_lease_misbalance ({f.max_lease_misbalance})"
        )
    if f.min_balance is not None and f.max_balance is not None and f.min_balance > f.max_balance:
        yield "failover.min_balance", f"({f.min_balance}) must not exceed max_balance ({f.max_balance})"
    for i, m in enumerate(site.members):
        if m.failover_port == site.omapi.port:
            yield f"members[{i}].port", f"failover port {m.failover_port} collides with the OMAPI port; use another port"


def omapi_access(site: Site) -> Iterator[tuple[str, str]]:
    """OMAPI (it can shut a member down) only from admin networks that are private (RFC 1918) and no larger
    than a /8, so 0.0.0.0/1 + 128.0.0.0/1 is refused like 0.0.0.0/0; a public admin network needs
    allow_public: true with an allow_public_reason, and a reason needs allow_public."""
    omapi = site.omapi
    yield from admin_network_problems(
        "omapi.admin_networks",
        omapi.admin_networks,
        channel="OMAPI",
        public_allowed_by="omapi.allow_public: true with an allow_public_reason",
        public_allowed=omapi.allow_public,
    )
    if omapi.allow_public and omapi.allow_public_reason is None:
        yield "omapi.allow_public", "is true but allow_public_reason is missing; say why OMAPI may be public"
    if omapi.allow_public_reason is not None and not omapi.allow_public:
        yield "omapi.allow_public_reason", "is set but allow_public is false; remove it or set allow_public: true"


def release_packages(site: Site) -> Iterator[tuple[str, str]]:
    """The os carries ISC DHCP (Debian after 13 has none: it is end-of-life since 2022), and
    software.isc_dhcp_server, when set, is the version that os carries."""
    release = site.release
    if release.isc_dhcp_server is None:
        yield "os", f"{site.os.value} has no isc-dhcp-server package (ISC DHCP is end-of-life); use server: kea or an older os"
        return
    pinned = site.software.isc_dhcp_server
    if pinned is not None and pinned != release.isc_dhcp_server:
        yield "software.isc_dhcp_server", (
            f"{excerpt(pinned)} is not a version {site.os.value} carries ({release.isc_dhcp_server}); "
            "remove it to install that one, or change os"
        )


# The ISC rules, in the order they run.
CHECKS: tuple[Callable[[Site], Iterator[tuple[str, str]]], ...] = (release_packages, failover_settings, omapi_access)
