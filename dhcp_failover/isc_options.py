"""How ISC dhcpd spells options, client classes and PXE: the model's meanings as dhcpd.conf
statements. Values are already checked (``checks``), so this only spells them.

Options this module declares itself (architecture, classless routes, the site's custom ones)
get a ``df-`` prefix: dhcpd silently accepts a redefinition of an option it knows, and a clash
with one of its own names would change what that name means everywhere. Clients see codes,
never names, so the prefix is invisible on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Any

from .dhcp_options import (
    ARCH_UEFI_ARM64,
    ARCH_UEFI_X64,
    ClassMatch,
    ClientClass,
    OptionDefinition,
    Options,
    OptionType,
    Pxe,
    StaticRoute,
)
from .model import Site

PREFIX = "df-"
ARCH_OPTION = f"{PREFIX}client-arch"
ROUTES_OPTION = f"{PREFIX}classless-routes"
MS_ROUTES_OPTION = f"{PREFIX}ms-classless-routes"

_TYPES = {
    OptionType.IP_ADDRESS: "ip-address",
    OptionType.IP_ADDRESSES: "array of ip-address",
    OptionType.TEXT: "text",
    OptionType.UINT8: "unsigned integer 8",
    OptionType.UINT16: "unsigned integer 16",
    OptionType.UINT32: "unsigned integer 32",
    OptionType.INT32: "signed integer 32",
    OptionType.BOOLEAN: "boolean",
    OptionType.DOMAIN_LIST: "domain-list",
    OptionType.BYTES: "string",
}


def _quoted(text: str) -> str:
    return f'"{text}"'


def _option_name(definition: OptionDefinition) -> str:
    if definition.space:
        return f"{PREFIX}{definition.space}.{definition.name}"
    return f"{PREFIX}{definition.name}"


def _custom_value(definition: OptionDefinition, value: Any) -> str:
    kind = definition.type
    if kind is OptionType.TEXT:
        return _quoted(value)
    if kind is OptionType.BOOLEAN:
        return "true" if value else "false"
    if kind is OptionType.IP_ADDRESSES:
        return ", ".join(value)
    if kind is OptionType.DOMAIN_LIST:
        return ", ".join(_quoted(v) for v in value)
    return str(value)


def _route_bytes(route: StaticRoute) -> list[int]:
    """RFC 3442: prefix length, the significant octets of the destination, the router."""
    significant = (route.destination.prefixlen + 7) // 8
    return [route.destination.prefixlen, *route.destination.network_address.packed[:significant], *route.router.packed]


def uses_routes(site: Site) -> bool:
    return any(options.classless_static_routes for options in site_options(site))


def uses_arch(site: Site) -> bool:
    return any(s.pxe for s in site.subnets) or any(c.match.client_arch for c in site.classes)


def site_options(site: Site) -> Iterator[Options]:
    for subnet in site.subnets:
        yield subnet.options
        yield from (pool.options for pool in subnet.pools)
        yield from (host.options for host in subnet.hosts)
    yield from (c.options for c in site.classes)


def declarations(site: Site) -> list[str]:
    """Global statements that define the options the site uses, in a stable order."""
    lines = []
    if uses_arch(site):
        lines.append(f"option {ARCH_OPTION} code 93 = unsigned integer 16")
    if uses_routes(site):
        lines.append(f"option {ROUTES_OPTION} code 121 = array of unsigned integer 8")
        lines.append(f"option {MS_ROUTES_OPTION} code 249 = array of unsigned integer 8")
    for space in dict.fromkeys(d.space for d in site.option_definitions if d.space):
        lines.append(f"option space {PREFIX}{space}")
    for definition in site.option_definitions:
        lines.append(f"option {_option_name(definition)} code {definition.code} = {_TYPES[definition.type]}")
    return lines


def option_statements(options: Options, site: Site) -> list[str]:
    """An Options object as the statements of the scope it belongs to."""
    lines = []
    if options.domain_search:
        lines.append("option domain-search " + ", ".join(_quoted(d) for d in options.domain_search))
    if options.classless_static_routes:
        data = ", ".join(str(b) for route in options.classless_static_routes for b in _route_bytes(route))
        lines.append(f"option {ROUTES_OPTION} {data}")
        lines.append(f"option {MS_ROUTES_OPTION} {data}")
    if options.interface_mtu is not None:
        lines.append(f"option interface-mtu {options.interface_mtu}")
    if options.time_offset is not None:
        lines.append(f"option time-offset {options.time_offset}")
    if options.tftp_server_name is not None:
        lines.append(f"option tftp-server-name {_quoted(options.tftp_server_name)}")
    if options.log_servers:
        lines.append("option log-servers " + _addresses(options.log_servers))
    if options.netbios_name_servers:
        lines.append("option netbios-name-servers " + _addresses(options.netbios_name_servers))
    definitions = {d.name: d for d in site.option_definitions}
    spaces = {space for name in options.custom if (space := definitions[name].space)}
    for space in sorted(spaces):
        lines.append(f"vendor-option-space {PREFIX}{space}")
    for name, value in options.custom.items():
        definition = definitions[name]
        lines.append(f"option {_option_name(definition)} {_custom_value(definition, value)}")
    return lines


def _addresses(addresses: tuple[IPv4Address, ...]) -> str:
    return ", ".join(str(a) for a in addresses)


def _arch_test(codes: tuple[int, ...]) -> str:
    return " or ".join(f"option {ARCH_OPTION} = {code >> 8:02x}:{code & 0xFF:02x}" for code in codes)


def match_expression(match: ClassMatch) -> str:
    if match.vendor_class is not None:
        text = match.vendor_class
        return f"substring(option vendor-class-identifier, 0, {len(text)}) = {_quoted(text)}"
    if match.user_class is not None:
        return f"exists user-class and option user-class = {_quoted(match.user_class)}"
    if match.client_arch is not None:
        return _arch_test(match.client_arch)
    if match.circuit_id is not None:
        return f"option agent.circuit-id = {_quoted(match.circuit_id)}"
    assert match.remote_id is not None
    return f"option agent.remote-id = {_quoted(match.remote_id)}"


def class_view(client_class: ClientClass, site: Site) -> dict[str, Any]:
    statements = []
    if client_class.next_server is not None:
        statements.append(f"next-server {client_class.next_server}")
    if client_class.filename is not None:
        statements.append(f"filename {_quoted(client_class.filename)}")
    statements += option_statements(client_class.options, site)
    return {"name": client_class.name, "match": match_expression(client_class.match), "statements": statements}


def pxe_view(pxe: Pxe) -> dict[str, Any]:
    """The boot file by architecture; iPXE first, so a chain-loaded iPXE does not load itself."""
    branches = []
    if pxe.ipxe:
        branches.append(('exists user-class and option user-class = "iPXE"', pxe.ipxe))
    if pxe.uefi_x64:
        branches.append((_arch_test(ARCH_UEFI_X64), pxe.uefi_x64))
    if pxe.uefi_arm64:
        branches.append((_arch_test((ARCH_UEFI_ARM64,)), pxe.uefi_arm64))
    return {
        "next_server": pxe.next_server,
        "branches": [{"test": test, "filename": _quoted(name)} for test, name in branches],
        "default": _quoted(pxe.bios) if pxe.bios else None,
    }


def pool_statements(allow: tuple[str, ...], deny: tuple[str, ...]) -> list[str]:
    return [f'allow members of "{name}"' for name in allow] + [f'deny members of "{name}"' for name in deny]
