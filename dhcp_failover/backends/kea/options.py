"""How Kea 2.2 spells options, option definitions, client classes, PXE and class-restricted
pools: the model's meanings as pieces of kea-dhcp4.conf. Values are already checked (``checks``
and ``backends.kea.checks``), so this only spells them.

Where Kea 2.2 differs from dhcpd (each found with ``kea-dhcp4 -t`` 2.2.0 or a real client):
- it has no definition for option 121 (nor 249): classless routes go as raw bytes by code;
- it refuses an ``option-def`` for any code it defines itself (``KEA_STANDARD_CODES``);
- option 43 carries one space, ``vendor-encapsulated-options-space``, and is sent only where the
  empty ``vendor-encapsulated-options`` sits next to its sub-options;
- values are comma-separated lists, so a text with a comma travels as hex;
- expression literals are '...' with no escape, so a text with a quote is a hex literal;
- a pool takes one ``client-class``; load-balancing already spends it on ``HA_<member>``, so a pool
  that allows or denies classes gets one class per member that tests both (``pool_class``). The
  HA hook classifies a query in ``buffer4_receive``, before Kea evaluates the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...dhcp_options import (
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
from ...model import Member, Pool, Site

# Our option-def names carry a prefix: Kea refuses a definition named like one of its own, and
# a later Kea may add names. Clients see codes, never names.
PREFIX = "df-"
# Generated class names hold a ':', which class names in the inventory cannot: no clash.
GENERATED = "df:"
VENDOR_SPACE = "vendor-encapsulated-options-space"
VENDOR_OPTION = "vendor-encapsulated-options"
ROUTES_CODE = 121
MS_ROUTES_CODE = 249  # older Windows clients read the same bytes here
IPXE_USER_CLASS = "iPXE"

# Codes kea-dhcp4 2.2.0 defines itself in the dhcp4 space: it refuses an option-def for them
# ("unable to override definition of option N in standard option space"). Probed with
# ``kea-dhcp4 -t`` for every code 1-254 (tests/test_kea_features.py rechecks a sample).
KEA_STANDARD_CODES = frozenset(
    [*range(1, 43), *range(44, 80), 81, 82, *range(85, 95), 97, 98, 99, 100, 101, 108, 112, 113, 114,
     116, 117, 118, 119, 124, 125, 136, 137, 138, 141, 146, 159, 212, 213]
)

_TYPES: dict[OptionType, tuple[str, bool]] = {
    OptionType.IP_ADDRESS: ("ipv4-address", False),
    OptionType.IP_ADDRESSES: ("ipv4-address", True),
    OptionType.TEXT: ("string", False),
    OptionType.UINT8: ("uint8", False),
    OptionType.UINT16: ("uint16", False),
    OptionType.UINT32: ("uint32", False),
    OptionType.INT32: ("int32", False),
    OptionType.BOOLEAN: ("boolean", False),
    OptionType.DOMAIN_LIST: ("fqdn", True),
    OptionType.BYTES: ("binary", False),
}

Entry = dict[str, Any]


def option_defs(site: Site) -> list[Entry]:
    """The site's custom definitions; a vendor space's options go into option 43's space."""
    defs = []
    for definition in site.option_definitions:
        kind, array = _TYPES[definition.type]
        entry: Entry = {"name": _option_name(definition), "code": definition.code, "type": kind}
        if array:
            entry["array"] = True
        if definition.space:
            entry["space"] = VENDOR_SPACE
        defs.append(entry)
    return defs


def _option_name(definition: OptionDefinition) -> str:
    return f"{PREFIX}{definition.name}"


def option_data(options: Options, site: Site) -> list[Entry]:
    """An Options object as the option-data list of the scope it belongs to."""
    data: list[Entry] = []
    if options.domain_search:
        data.append({"name": "domain-search", "data": ", ".join(options.domain_search)})
    if options.classless_static_routes:
        raw = "".join(f"{b:02x}" for route in options.classless_static_routes for b in _route_bytes(route))
        data.append({"code": ROUTES_CODE, "csv-format": False, "data": raw})
        data.append({"code": MS_ROUTES_CODE, "csv-format": False, "data": raw})
    if options.interface_mtu is not None:
        data.append({"name": "interface-mtu", "data": str(options.interface_mtu)})
    if options.time_offset is not None:
        data.append({"name": "time-offset", "data": str(options.time_offset)})
    if options.tftp_server_name is not None:
        data.append({"name": "tftp-server-name", "data": options.tftp_server_name})
    if options.log_servers:
        data.append({"name": "log-servers", "data": _joined(options.log_servers)})
    if options.netbios_name_servers:
        data.append({"name": "netbios-name-servers", "data": _joined(options.netbios_name_servers)})
    definitions = {d.name: d for d in site.option_definitions}
    vendor = False
    for name, value in options.custom.items():
        definition = definitions[name]
        entry: Entry = {"name": _option_name(definition), **_custom_data(definition.type, value)}
        if definition.space:
            entry["space"] = VENDOR_SPACE
            vendor = True
        data.append(entry)
    if vendor:
        # Kea fills option 43 with its space's options of the same scope, and only there.
        data.append({"name": VENDOR_OPTION})
    return data


def _joined(values: tuple[object, ...]) -> str:
    return ", ".join(str(v) for v in values)


def _route_bytes(route: StaticRoute) -> list[int]:
    """RFC 3442: prefix length, the significant octets of the destination, the router."""
    significant = (route.destination.prefixlen + 7) // 8
    return [route.destination.prefixlen, *route.destination.network_address.packed[:significant], *route.router.packed]


def _custom_data(kind: OptionType, value: Any) -> Entry:
    if kind is OptionType.TEXT:
        text = str(value)
        if "," in text or text != text.strip():
            # Kea splits data on commas and trims the parts: send the bytes themselves.
            return {"csv-format": False, "data": text.encode().hex()}
        return {"data": text}
    if kind is OptionType.BOOLEAN:
        return {"data": "true" if value else "false"}
    if kind in (OptionType.IP_ADDRESSES, OptionType.DOMAIN_LIST):
        return {"data": ", ".join(value)}
    if kind is OptionType.BYTES:
        # Kea's binary type takes bare hex digits, not colon-separated pairs.
        return {"csv-format": False, "data": str(value).replace(":", "").lower()}
    return {"data": str(value)}


def literal(text: str) -> str:
    """A Kea expression string: '...' has no escape, so a text with a quote goes as hex."""
    if "'" in text:
        return "0x" + text.encode().hex()
    return f"'{text}'"


def _arch_test(codes: tuple[int, ...]) -> str:
    return " or ".join(f"option[93].hex == 0x{code:04x}" for code in codes)


def match_test(match: ClassMatch) -> str:
    if match.vendor_class is not None:
        text = match.vendor_class
        return f"substring(option[60].hex,0,{len(text.encode())}) == {literal(text)}"
    if match.user_class is not None:
        return f"option[77].hex == {literal(match.user_class)}"
    if match.client_arch is not None:
        return _arch_test(match.client_arch)
    if match.circuit_id is not None:
        return f"relay4[1].hex == {literal(match.circuit_id)}"
    assert match.remote_id is not None
    return f"relay4[2].hex == {literal(match.remote_id)}"


def client_classes(site: Site, subnet_ids: dict[int, int]) -> list[Entry]:
    """Every class the site needs, in the order Kea must see them: the inventory's classes
    (a test may name only classes defined before it), each subnet's PXE classes, then the pool
    classes that test the inventory's ones. ``subnet_ids``: subnet index -> Kea subnet id."""
    classes = [_client_class(c, site) for c in site.classes]
    for index, subnet in enumerate(site.subnets):
        if subnet.pxe is not None:
            classes += pxe_classes(subnet.pxe, subnet_ids[index])
    for index, subnet in enumerate(site.subnets):
        for number, pool in enumerate(subnet.pools, start=1):
            if pool.allow or pool.deny:
                classes += _pool_classes(site, pool, subnet_ids[index], number)
    return classes


def _client_class(client_class: ClientClass, site: Site) -> Entry:
    entry: Entry = {"name": client_class.name, "test": match_test(client_class.match)}
    if client_class.next_server is not None:
        entry["next-server"] = str(client_class.next_server)
    if client_class.filename is not None:
        entry["boot-file-name"] = client_class.filename
    data = option_data(client_class.options, site)
    if data:
        entry["option-data"] = data
    return entry


def pxe_classes(pxe: Pxe, subnet_id: int) -> list[Entry]:
    """The boot file by architecture, as classes the subnet requires (``only-if-required``: a
    class is global, but these must apply to this subnet's clients only). Kea takes the boot
    file of a client's first class that has one, so iPXE comes first: a chain-loaded iPXE gets
    its script, not itself again. BIOS (and a client that sends no architecture) gets the
    subnet's own boot-file-name (``pxe_subnet_fields``)."""
    branches: list[tuple[str, str, str]] = []
    if pxe.ipxe:
        branches.append(("ipxe", f"option[77].hex == {literal(IPXE_USER_CLASS)}", pxe.ipxe))
    if pxe.uefi_x64:
        branches.append(("uefi-x64", _arch_test(ARCH_UEFI_X64), pxe.uefi_x64))
    if pxe.uefi_arm64:
        branches.append(("uefi-arm64", _arch_test((ARCH_UEFI_ARM64,)), pxe.uefi_arm64))
    return [
        {"name": pxe_class_name(subnet_id, what), "test": test, "only-if-required": True,
         "next-server": str(pxe.next_server), "boot-file-name": boot_file}
        for what, test, boot_file in branches
    ]


def pxe_class_name(subnet_id: int, what: str) -> str:
    return f"{GENERATED}pxe-{subnet_id}-{what}"


def pxe_subnet_fields(pxe: Pxe, subnet_id: int) -> Entry:
    """What a PXE subnet itself says: the TFTP server, the BIOS default (architecture 0, or a
    client that sends none: no class matched, as dhcpd's ``else``), and the classes that may override the boot file."""
    fields: Entry = {"next-server": str(pxe.next_server)}
    if pxe.bios:
        fields["boot-file-name"] = pxe.bios
    fields["require-client-classes"] = [c["name"] for c in pxe_classes(pxe, subnet_id)]
    if not fields["require-client-classes"]:
        del fields["require-client-classes"]
    return fields


def pool_class(subnet_id: int, number: int, member: Member | None) -> str:
    """The class a pool with allow/deny lists takes: per member in load-balancing (``member``),
    one for both in hot-standby (``member`` None)."""
    suffix = f":{member.name}" if member is not None else ""
    return f"{GENERATED}pool-{subnet_id}-{number}{suffix}"


def _pool_classes(site: Site, pool: Pool, subnet_id: int, number: int) -> list[Entry]:
    condition = " and ".join(_pool_condition(pool))
    if not site.failover.load_balancing:
        return [{"name": pool_class(subnet_id, number, None), "test": condition}]
    return [
        {"name": pool_class(subnet_id, number, member),
         "test": f"member('HA_{member.name}') and {condition}"}
        for member in (site.primary, site.secondary)
    ]


def _pool_condition(pool: Pool) -> Iterator[str]:
    if pool.allow:
        allowed = " or ".join(f"member('{name}')" for name in pool.allow)
        yield f"({allowed})" if len(pool.allow) > 1 else allowed
    for name in pool.deny:
        yield f"not member('{name}')"
