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
from ...messages import excerpt
from ...model import Failover, Site
from ...releases import KeaSeries
from ..isc.settings import Omapi, Software
from .options import KEA_STANDARD_CODES

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
        pin = site.kea_pin
        why = "Kea 2.2 has no ping check" if pin is None or pin.series is KeaSeries.KEA_2_2 else (
            "this tool does not render Kea 3.0's ping_check hook yet")
        yield "ping_check", f"is true, but {why}; set ping_check: false or remove it"
    software: Software = site.software
    if changed_fields(software, Software()):
        yield "software.isc_dhcp_server", "pins ISC dhcpd; a kea site pins kea.package_version"


def _release_packages(site: Site) -> Iterator[tuple[str, str]]:
    """kea.package_version, when set, is a Kea version the os carries and this tool renders for."""
    if site.kea_pin is not None:
        return
    carried = ", ".join(pin.version for pin in site.release.kea)
    yield "kea.package_version", (
        f"{excerpt(site.kea.package_version)} is not a Kea version dhcp-failover renders for {site.os.value} "
        f"({carried}); remove it to install that one, or change os"
    )


def _options(site: Site) -> Iterator[tuple[str, str]]:
    """No option definition for a code Kea 2.2 defines itself (it refuses a second definition), and one
    vendor space at most (Kea 2.2 sends one space in option 43)."""
    spaces: dict[str, int] = {}
    for i, definition in enumerate(site.option_definitions):
        if definition.space is None and definition.code in KEA_STANDARD_CODES:
            yield f"option_definitions[{i}].code", (
                f"{definition.code} is an option Kea 2.2 defines itself, and it refuses a second definition; "
                "use the typed field for it if there is one, or server: isc"
            )
        if definition.space is not None:
            spaces.setdefault(definition.space, i)
    if len(spaces) > 1:
        second = sorted(spaces.values())[1]
        yield f"option_definitions[{second}].space", (
            f"is a second vendor space ({', '.join(spaces)}); Kea 2.2 sends one space in option 43, "
            "so put every vendor option in one space"
        )


def _class_option_precedence(site: Site) -> Iterator[tuple[str, str]]:
    """No option set both in a class and in a subnet or pool: dhcpd lets the class's value win, Kea 2.2
    the subnet's or pool's, so clients would get different values from the two backends."""
    scoped = [(f"subnets[{i}].options", subnet.options) for i, subnet in enumerate(site.subnets)]
    scoped += [(f"subnets[{i}].pools[{j}].options", pool.options)
               for i, subnet in enumerate(site.subnets) for j, pool in enumerate(subnet.pools)]
    for k, client_class in enumerate(site.classes):
        for option in sorted(_set_options(client_class.options)):
            for where, options in scoped:
                if option in _set_options(options):
                    yield f"classes[{k}].options.{option}", (
                        f"is also set in {where}; Kea 2.2 gives a subnet's or pool's option precedence over a "
                        "class's (dhcpd the opposite), so set it in one place"
                    )
                    break


def _set_options(options: Options) -> set[str]:
    fields = {f for f in type(options).model_fields if f != "custom" and getattr(options, f) != getattr(Options(), f)}
    return fields | {f"custom.{name}" for name in options.custom}


def _timers(site: Site) -> Iterator[tuple[str, str]]:
    """kea.max_response_delay_ms above kea.heartbeat_delay_ms; the control ports not DHCP ports, and
    kea-dhcp6's (where it listens: a dual-stack site on Kea 3.0) not kea-dhcp4's."""
    kea = site.kea
    if kea.max_response_delay_ms <= kea.heartbeat_delay_ms:
        yield "kea.max_response_delay_ms", (
            f"({kea.max_response_delay_ms}) must exceed kea.heartbeat_delay_ms ({kea.heartbeat_delay_ms}), "
            "or every heartbeat gap looks like a dead partner"
        )
    if kea.control_port in (67, 68):
        yield "kea.control_port", f"{kea.control_port} is a DHCP port; use another one (8000 is usual)"
    if kea.control_port6 in (67, 68, 546, 547):
        yield "kea.control_port6", f"{kea.control_port6} is a DHCP port; use another one (8001 is usual)"
    elif _has_dhcp6_socket(site) and kea.control_port6 == kea.control_port:
        yield "kea.control_port6", (
            f"({kea.control_port6}) is kea.control_port too; on Kea 3.0 kea-dhcp4 and kea-dhcp6 each listen on "
            "their own port, so choose another one (8001 is usual)"
        )


def _has_dhcp6_socket(site: Site) -> bool:
    pin = site.kea_pin
    return site.dhcpv6 is not None and pin is not None and pin.series is not KeaSeries.KEA_2_2


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
CHECKS: tuple[Callable[[Site], Iterator[tuple[str, str]]], ...] = (
    _release_packages, _isc_only, _options, _class_option_precedence, _timers, _pools, _admin_networks
)
