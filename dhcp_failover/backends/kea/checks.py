"""What a Kea site may not say: ISC-only settings Kea cannot express, and Kea's own rules.

Kea 2.2's ``kea-dhcp4 -t`` does not check hook parameters (a wrong server name, a standby in
load-balancing, an unknown key all pass), so everything the HA hook needs is checked here.
Each rule yields ``(field, message)``; ``checks`` prefixes the site and reports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic import BaseModel

from ...address_rules import admin_network_problems
from ...dhcp_options import Options
from ...model import Failover, Site
from ..isc.settings import Omapi, Software

# ISC failover settings with no Kea equivalent, and what to do instead.
_ISC_ONLY_FAILOVER = {
    "peer_name": "Kea names HA peers after the members; remove it",
    "max_response_delay": "use kea.max_response_delay_ms",
    "max_unacked_updates": "Kea acknowledges every lease update synchronously; remove it",
    "mclt": "Kea HA has no MCLT (lease updates are synchronous); remove it",
    "hba": "Kea load-balancing always splits 50/50 by client hash; remove it",
    "load_balance_max_seconds": "Kea has no load balance max seconds; remove it",
    "auto_partner_down": "Kea goes partner-down after kea.max_response_delay_ms; remove it",
    "max_lease_misbalance": "Kea has no pool rebalancing; remove it",
    "max_lease_ownership": "Kea has no pool rebalancing; remove it",
    "min_balance": "Kea has no pool rebalancing; remove it",
    "max_balance": "Kea has no pool rebalancing; remove it",
}
_UNSUPPORTED = "is not supported by the kea backend yet; remove it or use server: isc"


def changed_fields(model: BaseModel, default: BaseModel) -> list[str]:
    """The fields whose value is not the default. Not ``model_fields_set``: a site that went
    through ``model_dump`` and back (the Python API, a generated inventory) sets every field."""
    return sorted(f for f in type(model).model_fields if getattr(model, f) != getattr(default, f))


def _isc_only(site: Site) -> Iterator[tuple[str, str]]:
    """No ISC-only setting: failover fields Kea has no equivalent for (mclt, hba, rebalancing, ...), a split
    other than 128, omapi, members' failover ports, ping_check, software.isc_dhcp_server."""
    failover: Failover = site.failover
    for field in changed_fields(failover, Failover()):
        if field == "split":
            if failover.split != 128:
                yield "failover.split", (
                    f"is {failover.split}; Kea load-balancing always splits 50/50 (128), remove it"
                )
        elif field in _ISC_ONLY_FAILOVER:
            yield f"failover.{field}", f"has no Kea equivalent: {_ISC_ONLY_FAILOVER[field]}"
    omapi: Omapi = site.omapi
    if changed_fields(omapi, Omapi()):
        yield "omapi", "is ISC dhcpd's control channel; a kea site uses kea.control_port and kea.admin_networks"
    for i, member in enumerate(site.members):
        if member.port is not None:
            yield f"members[{i}].port", "is ISC's failover port; Kea peers talk on kea.control_port, remove it"
    if site.ping_check:
        yield "ping_check", "is true, but Kea 2.2 has no ping check; set ping_check: false or remove it"
    software: Software = site.software
    if changed_fields(software, Software()):
        yield "software.isc_dhcp_server", "pins ISC dhcpd; a kea site pins kea.package_version"


def _unsupported(site: Site) -> Iterator[tuple[str, str]]:
    """No feature the kea backend does not render yet; each one is refused by name."""
    if site.ddns is not None:
        yield "ddns", (
            "Kea 2.2 updates DNS only through kea-dhcp-ddns, which the kea backend does not set up yet; "
            "remove it or use server: isc"
        )
    if site.classes:
        yield "classes", _UNSUPPORTED
    if site.option_definitions:
        yield "option_definitions", _UNSUPPORTED
    if site.shared_networks:
        yield "shared_networks", _UNSUPPORTED
    for i, subnet in enumerate(site.subnets):
        if subnet.options != Options():
            yield f"subnets[{i}].options", _UNSUPPORTED
        if subnet.pxe is not None:
            yield f"subnets[{i}].pxe", _UNSUPPORTED
        for j, pool in enumerate(subnet.pools):
            for field in ("allow", "deny"):
                if getattr(pool, field):
                    yield f"subnets[{i}].pools[{j}].{field}", _UNSUPPORTED
            if pool.options != Options():
                yield f"subnets[{i}].pools[{j}].options", _UNSUPPORTED
        for j, host in enumerate(subnet.hosts):
            if host.options != Options():
                yield f"subnets[{i}].hosts[{j}].options", _UNSUPPORTED


def _timers(site: Site) -> Iterator[tuple[str, str]]:
    """kea.max_response_delay_ms above kea.heartbeat_delay_ms; the control port not a DHCP port."""
    kea = site.kea
    if kea.max_response_delay_ms <= kea.heartbeat_delay_ms:
        yield "kea.max_response_delay_ms", (
            f"({kea.max_response_delay_ms}) must exceed kea.heartbeat_delay_ms ({kea.heartbeat_delay_ms}), "
            "or every heartbeat gap looks like a dead partner"
        )
    if kea.control_port in (67, 68):
        yield "kea.control_port", f"{kea.control_port} is a DHCP port; use another one (8000 is usual)"


def _pools(site: Site) -> Iterator[tuple[str, str]]:
    """In load-balancing, every pool holds at least two addresses (each member gets half)."""
    if not site.failover.load_balancing:
        return
    for i, subnet in enumerate(site.subnets):
        for j, pool in enumerate(subnet.pools):
            if int(pool.end) - int(pool.start) < 1:
                yield f"subnets[{i}].pools[{j}]", (
                    "holds one address; load-balancing gives each member half of every pool, so make it "
                    "at least two addresses or set failover.load_balancing: false"
                )


def _admin_networks(site: Site) -> Iterator[tuple[str, str]]:
    """kea.admin_networks private (RFC 1918) and no larger than a /8: the control agent controls the pair,
    and unlike OMAPI it has no public override."""
    yield from admin_network_problems("kea.admin_networks", site.kea.admin_networks, channel="the Kea control agent")


# The Kea rules, in the order they run.
CHECKS: tuple[Callable[[Site], Iterator[tuple[str, str]]], ...] = (_isc_only, _unsupported, _timers, _pools, _admin_networks)
