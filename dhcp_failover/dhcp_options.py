"""DHCP options, client classes, PXE and shared networks: what a client is told, by meaning.

Pure and backend-neutral like the rest of the model: options are named for what they do and
carry their DHCP option code; how a server spells them (dhcpd.conf, Kea JSON) is the renderer's
business. Field-level shape is checked here; rules that relate fields live in ``checks``.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from typing import Annotated, Any

from pydantic import Field, model_validator

from .fields import (
    DOMAIN_NAME,
    QUOTABLE,
    SAFE_NAME,
    Address,
    BootFile,
    DomainName,
    Network,
    Quotable,
    Strict,
    allowing,
)

OPTION_NAME = allowing(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$", "2-32 lower-case letters, digits and '-', starting with a letter")
# The same form as the site's names (fields.SAFE_NAME): a class name becomes a file-safe word too.
CLASS_NAME = SAFE_NAME
HEX_BYTES = allowing(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){0,252}$", "1-253 hex pairs joined by ':', like 01:02:0a")
ClassName = Annotated[str, Field(pattern=CLASS_NAME)]


class StaticRoute(Strict):
    """One classless static route (RFC 3442): clients that get option 121 ignore option 3, so
    the list should hold the default route too."""

    destination: Network = Field(description="The routed network; 0.0.0.0/0 is the default route.")
    router: Address = Field(description="On the client's subnet.")


class OptionType(str, enum.Enum):
    """Value types a custom option can carry."""

    IP_ADDRESS = "ip-address"
    IP_ADDRESSES = "ip-addresses"
    TEXT = "text"
    UINT8 = "uint8"
    UINT16 = "uint16"
    UINT32 = "uint32"
    INT32 = "int32"
    BOOLEAN = "boolean"
    DOMAIN_LIST = "domain-list"
    BYTES = "bytes"


# Codes a custom definition may not take: the protocol's own (message type, lease time, server
# identifier, parameter list, client identifier, FQDN, relay agent information, ...), and every
# code a typed field below or elsewhere in the model already sends.
PROTOCOL_CODES = frozenset({0, 1, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 61, 81, 82, 255})
TYPED_CODES = {
    3: "routers", 6: "dns_servers", 15: "domain_name", 42: "ntp_servers", 66: "tftp_server_name",
    67: "filename", 119: "domain_search", 121: "classless_static_routes", 249: "classless_static_routes",
    26: "interface_mtu", 2: "time_offset", 7: "log_servers", 44: "netbios_name_servers",
    43: "vendor options (a definition's space)", 60: "classes' vendor_class", 77: "classes' user_class",
    93: "classes' client_arch and pxe",
}


class OptionDefinition(Strict):
    """An option the typed fields do not cover, by code and type. With ``space`` it is a
    sub-option of that vendor space, sent encapsulated in option 43."""

    name: Annotated[str, Field(pattern=OPTION_NAME)] = Field(description="What options.custom calls it.")
    code: Annotated[int, Field(strict=True, ge=1, le=254)] = Field(
        description="Never a protocol code or one a typed field sends (outside a vendor space)."
    )
    type: OptionType = Field(description="Values are checked against it.")
    space: Annotated[str, Field(pattern=OPTION_NAME)] | None = Field(
        default=None, description="A vendor space: the option is sent inside option 43."
    )


CustomValue = str | Annotated[int, Field(strict=True)] | bool | tuple[str, ...]


class Options(Strict):
    """Options beyond a subnet's basics, for a subnet, a pool, a class or a host."""

    domain_search: Annotated[tuple[DomainName, ...], Field(max_length=16)] = Field(
        default=(), description="Option 119."
    )
    classless_static_routes: Annotated[tuple[StaticRoute, ...], Field(max_length=32)] = Field(
        default=(),
        description="Sent as option 121 and as 249 for older Windows clients; must hold 0.0.0.0/0 when the "
        "subnet has routers (RFC 3442 clients then ignore option 3).",
    )
    interface_mtu: Annotated[int, Field(strict=True, ge=68, le=65535)] | None = Field(
        default=None, description="Option 26."
    )
    time_offset: Annotated[int, Field(strict=True, ge=-86400, le=86400)] | None = Field(
        default=None, description="Seconds east of UTC (option 2)."
    )
    tftp_server_name: Annotated[str, Field(max_length=253, pattern=DOMAIN_NAME)] | None = Field(
        default=None, description="Option 66: a host name or address."
    )
    log_servers: Annotated[tuple[Address, ...], Field(max_length=16)] = Field(default=(), description="Option 7.")
    netbios_name_servers: Annotated[tuple[Address, ...], Field(max_length=16)] = Field(
        default=(), description="Option 44."
    )
    custom: Annotated[dict[Annotated[str, Field(pattern=OPTION_NAME)], CustomValue], Field(max_length=32)] = Field(
        default_factory=dict,
        description="Values of the site's option_definitions, by name, checked against their type.",
    )

    @property
    def empty(self) -> bool:
        return self == Options()


ArchCode = Annotated[int, Field(strict=True, ge=0, le=65535)]


class ClassMatch(Strict):
    """What puts a client in a class: exactly one of these."""

    vendor_class: Quotable | None = Field(default=None, description="Option 60 starts with this text.")
    user_class: Quotable | None = Field(default=None, description="Option 77 is exactly this text.")
    client_arch: Annotated[tuple[ArchCode, ...], Field(min_length=1, max_length=16)] | None = Field(
        default=None, description="Option 93 (client system architecture) is one of these."
    )
    circuit_id: Quotable | None = Field(default=None, description="Option 82 sub-option 1 is exactly this text.")
    remote_id: Quotable | None = Field(default=None, description="Option 82 sub-option 2 is exactly this text.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ClassMatch:
        given = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of vendor_class, user_class, client_arch, circuit_id, remote_id"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class ClientClass(Strict):
    """A class of clients, by what they send; pools may allow or deny it."""

    name: ClassName = Field(description="What pools' allow and deny lists name.")
    match: ClassMatch = Field(description="Exactly one criterion.")
    options: Options = Field(default=Options(), description="Options for the members of the class.")
    next_server: Address | None = Field(default=None, description="PXE: TFTP server for the class.")
    filename: BootFile | None = Field(default=None, description="PXE: boot file for the class.")


class Pxe(Strict):
    """Network boot by client architecture: BIOS, UEFI x64 and arm64 machines each get their own
    boot file, and iPXE (which a first boot file may chain-load) gets ``ipxe``, so it does not
    loop loading itself."""

    next_server: Address = Field(description="The TFTP server.")
    bios: BootFile | None = Field(default=None, description="Boot file for BIOS clients (architecture 0).")
    uefi_x64: BootFile | None = Field(default=None, description="Boot file for UEFI x64 (architectures 7 and 9).")
    uefi_arm64: BootFile | None = Field(default=None, description="Boot file for UEFI arm64 (architecture 11).")
    ipxe: BootFile | None = Field(default=None, description="What iPXE clients get: a script URL or file.")

    @model_validator(mode="after")
    def _some_boot_file(self) -> Pxe:
        if not any((self.bios, self.uefi_x64, self.uefi_arm64, self.ipxe)):
            raise ValueError("give at least one boot file: bios, uefi_x64, uefi_arm64 or ipxe")
        return self


# Client system architecture types (RFC 4578, IANA "Processor Architecture Types").
ARCH_BIOS = 0
ARCH_UEFI_X64 = (7, 9)  # EFI BC and EFI x86-64: both mean a 64-bit x86 UEFI
ARCH_UEFI_ARM64 = 11


class SharedNetwork(Strict):
    """Several of the site's subnets on one segment (one broadcast domain, one relay interface)."""

    name: Annotated[str, Field(pattern=CLASS_NAME)] = Field(description="The shared-network name in dhcpd.conf.")
    subnets: Annotated[tuple[Network, ...], Field(min_length=2, max_length=64)] = Field(
        description="Two or more of the site's subnets."
    )


def custom_value_ok(kind: OptionType, value: Any) -> str | None:
    """Why ``value`` is not a ``kind``, or None when it is."""

    def address(text: Any) -> bool:
        if not isinstance(text, str):
            return False
        try:
            ipaddress.IPv4Address(text)
        except ValueError:
            return False
        return True

    ranges = {OptionType.UINT8: (0, 255), OptionType.UINT16: (0, 65535), OptionType.UINT32: (0, 2**32 - 1),
              OptionType.INT32: (-(2**31), 2**31 - 1)}
    if kind is OptionType.IP_ADDRESS:
        return None if address(value) else "must be one IPv4 address"
    if kind is OptionType.IP_ADDRESSES:
        ok = isinstance(value, tuple) and 0 < len(value) <= 16 and all(address(v) for v in value)
        return None if ok else "must be a list of 1-16 IPv4 addresses"
    if kind is OptionType.TEXT:
        ok = isinstance(value, str) and re.fullmatch(QUOTABLE, value) is not None
        return None if ok else "must be 1-253 printable ASCII characters without quotes or backslashes"
    if kind in ranges:
        low, high = ranges[kind]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"must be a whole number from {low} to {high}"
    if kind is OptionType.BOOLEAN:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is OptionType.DOMAIN_LIST:
        ok = isinstance(value, tuple) and 0 < len(value) <= 16 and all(
            isinstance(v, str) and len(v) <= 253 and re.fullmatch(DOMAIN_NAME, v) for v in value
        )
        return None if ok else "must be a list of 1-16 domain names"
    ok = isinstance(value, str) and re.fullmatch(HEX_BYTES, value) is not None
    return None if ok else "must be bytes as colon-separated hex pairs, like 01:0a:ff"
