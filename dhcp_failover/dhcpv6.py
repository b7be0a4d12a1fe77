"""A site's DHCPv6 service: the typed model of the ``dhcpv6`` section (Kea sites only).

Pure model, like ``model``: nothing here knows how Kea spells a setting. Field shape is checked
here; rules that relate fields (pools inside subnets, overlaps, lifetimes) live in
``dhcpv6_checks``; ``backends/kea/render6`` writes kea-dhcp6.conf from it.

DHCPv6 differs from DHCPv4 where it shows in the inventory: clients are known by DUID, not MAC;
there is no broadcast address and no router option (routers announce themselves); a relay is
identified by its link-address on the client subnet, not a giaddr; prefixes can be delegated.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from .fields import DOMAIN_NAME, HOST_NAME, INTERFACE_NAME, Bool, SafeName, Seconds, Strict, allowing, require_text

MAX_SUBNETS6 = 1000
MAX_POOLS6 = 100
MAX_HOSTS6 = 5000
MAX_RELAYS6 = 200
MAX_ADDRESSES6 = 16
# RFC 8415 section 11.1: a DUID is at most 128 octets plus its 2-octet type; the shortest real
# one (DUID-LL of a 6-byte MAC) has 10. Written as colon-separated hex octets, as Kea prints it.
DUID = allowing(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){2,129}$", "a DUID: 3-130 hex pairs joined by ':', like 00:03:00:01:52:54:00:12:34:56")
# A member's interface as Linux allows it (IFNAMSIZ - 1 characters, no '/' or ':'), safe in JSON
# and shell, and unambiguous in Kea's "<interface>/<address>".
INTERFACE = allowing(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$", "a Linux interface name: 1-15 letters, digits and . _ -, like eth0 or ens5")
# A relay's interface, as routers name them too (GigabitEthernet0/1), like DHCPv4 relays'.
RELAY_INTERFACE = INTERFACE_NAME
# RFC 8415 section 21.23: clients refresh no more often than every 600 s.
IRT_MINIMUM = 600
HEX_DIGITS = allowing(r"^([0-9a-fA-F]{2}){1,255}$", "1-255 bytes as hex digits, two per byte, like 0a0b0c")

Address6 = Annotated[IPv6Address, BeforeValidator(require_text)]
Network6 = Annotated[IPv6Network, BeforeValidator(require_text)]
PrefixLength = Annotated[int, Field(strict=True, ge=1, le=128)]
Interface = Annotated[str, Field(pattern=INTERFACE)]
RelayInterface = Annotated[str, Field(pattern=RELAY_INTERFACE)]


def _no_duplicates(values: tuple[IPv6Address, ...]) -> tuple[IPv6Address, ...]:
    if len(set(values)) != len(values):
        raise ValueError("lists an address twice")
    return values


AddressList6 = Annotated[tuple[Address6, ...], Field(max_length=MAX_ADDRESSES6), AfterValidator(_no_duplicates)]


class MemberAddress6(Strict):
    """A member's fixed IPv6 address: relays send to it, the other member never uses it."""

    member: SafeName = Field(description="The name of one of the site's two members.")
    address: Address6 = Field(description="The member's fixed IPv6 address; relays forward to it.")
    network: Network6 = Field(description="The member's own IPv6 network (a /64 in AWS).")


class Pool6(Strict):
    """A range of addresses the pair hands out (IA_NA)."""

    start: Address6 = Field(description="First address of the range.")
    end: Address6 = Field(description="Last address of the range.")


class PdPool(Strict):
    """Prefixes the pair delegates to requesting routers (IA_PD, RFC 8415), carved from ``prefix``."""

    prefix: Network6 = Field(description="The block delegated prefixes are carved from.")
    delegated_length: PrefixLength = Field(description="Length of each delegated prefix, longer than prefix's.")
    excluded_prefix: Network6 | None = Field(
        default=None,
        description="RFC 6603: a prefix inside the block, longer than delegated_length; its bits past "
        "delegated_length name the part of every delegated prefix the router keeps for the link to the server side.",
    )


class Host6(Strict):
    """Fixed address and/or delegated prefix for one client, by DUID."""

    name: Annotated[str, Field(max_length=63, pattern=HOST_NAME)] = Field(
        description="An RFC 1123 host name, unique in the site's dhcpv6 section."
    )
    duid: Annotated[str, Field(pattern=DUID)] = Field(description="The client's DUID as hex octets (00:03:00:01:...).")
    address: Address6 | None = Field(default=None, description="Inside the subnet and outside its pools.")
    prefix: Network6 | None = Field(default=None, description="A delegated prefix outside every pool.")


class VendorSuboption(Strict):
    """One sub-option of the vendor-specific information option (17), as raw bytes."""

    code: Annotated[int, Field(strict=True, ge=1, le=65535)] = Field(description="The sub-option's code.")
    hex: Annotated[str, Field(pattern=HEX_DIGITS)] = Field(
        description="Its value as hex digits, two per byte."
    )


class VendorOption(Strict):
    """Option 17 (vendor-specific information) for one vendor."""

    enterprise_id: Annotated[int, Field(strict=True, ge=1, le=2**32 - 1)] = Field(
        description="The vendor's IANA enterprise number."
    )
    suboptions: Annotated[tuple[VendorSuboption, ...], Field(min_length=1, max_length=32)] = Field(
        description="The sub-options sent, each once."
    )


class Subnet6(Strict):
    """A client network the pair serves over DHCPv6, with its options, pools, prefix pools and reservations."""

    network: Network6 = Field(description="The client network, /32 to /124 (a /64 where clients also use SLAAC).")
    pools: Annotated[tuple[Pool6, ...], Field(max_length=MAX_POOLS6)] = Field(
        default=(), description="Address ranges handed out."
    )
    pd_pools: Annotated[tuple[PdPool, ...], Field(max_length=MAX_POOLS6)] = Field(
        default=(), description="Prefix-delegation pools for the subnet's requesting routers."
    )
    hosts: Annotated[tuple[Host6, ...], Field(max_length=MAX_HOSTS6)] = Field(
        default=(), description="Reservations by DUID."
    )
    dns_servers: AddressList6 = Field(default=(), description="Option 23.")
    domain_search: Annotated[
        tuple[Annotated[str, Field(max_length=253, pattern=DOMAIN_NAME)], ...], Field(max_length=MAX_ADDRESSES6)
    ] = Field(default=(), description="Option 24.")
    # Option 56 (NTP server, RFC 5908) has no definition in Kea 2.2 and one address per sub-option: not offered.
    sntp_servers: AddressList6 = Field(default=(), description="Option 31 (SNTP servers; NTP clients use them too).")
    information_refresh_time: Seconds | None = Field(
        default=None, description="Option 32, seconds: how often stateless clients ask again (at least 600)."
    )
    vendor: VendorOption | None = Field(default=None, description="Option 17 for one vendor.")
    preferred_lifetime: Seconds = Field(default=3600, description="Seconds an address or prefix is preferred.")
    valid_lifetime: Seconds = Field(default=7200, description="Seconds it stays valid; not below preferred_lifetime.")
    rapid_commit: Bool = Field(default=False, description="Answer a Solicit with rapid commit by a Reply (2 messages).")


class RelayedSubnet6(Strict):
    """One IPv6 subnet a relay serves: the interface it listens on there and its address (link-address)."""

    subnet: Network6 = Field(description="One of the dhcpv6 subnets.")
    interface: RelayInterface = Field(description="The relay's interface on that subnet.")
    link_address: Address6 = Field(description="The relay's own global address on that subnet.")


class Relay6(Strict):
    """The DHCPv6 side of one of the site's relays: forwards to both members' IPv6 addresses."""

    name: SafeName = Field(description="The name of one of the site's relays (its files go to that relay's folder).")
    source_address: Address6 = Field(description="The IPv6 address relayed packets come from.")
    upstream_interface: RelayInterface = Field(
        description="Interface towards the servers: dhcrelay -6 sends on it (-u ADDRESS%INTERFACE)."
    )
    serves: Annotated[tuple[RelayedSubnet6, ...], Field(max_length=MAX_SUBNETS6)] = Field(
        default=(), description="The subnets it forwards for (at least one)."
    )


class Dhcpv6(Strict):
    """DHCPv6 on a Kea site: the same pair serves it in its own HA relationship (see docs/dhcpv6.md)."""

    interface: Interface = Field(
        default="ens5",
        description="The members' interface that holds their IPv6 address (ens5 on Nitro instances): Kea receives "
        "relayed (unicast) DHCPv6 only on addresses it is told.",
    )
    members: Annotated[tuple[MemberAddress6, ...], Field(max_length=8)] = Field(
        description="Both members, each with its fixed IPv6 address."
    )
    subnets: Annotated[tuple[Subnet6, ...], Field(max_length=MAX_SUBNETS6)] = Field(
        default=(), description="The client networks served over DHCPv6."
    )
    relays: Annotated[tuple[Relay6, ...], Field(max_length=MAX_RELAYS6)] = Field(
        default=(), description="The relays' DHCPv6 side; each forwards to both members."
    )

    def address_of(self, member_name: str) -> IPv6Address:
        return next(m.address for m in self.members if m.member == member_name)
