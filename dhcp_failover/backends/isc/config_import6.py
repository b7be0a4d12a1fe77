"""Import an ISC ``dhcpd.conf`` for ``dhcpd -6`` (dhcpd6.conf) into a site's ``dhcpv6`` section,
listing every statement it could not map with its line number, as the DHCPv4 importer does.

Mapped: ``subnet6`` (also inside a ``shared-network``) with ``range6`` (two addresses or a
prefix), ``prefix6`` (a block of delegated prefixes that is one CIDR), ``preferred-lifetime``,
``default-lease-time`` (the valid lifetime), the options the model has (name servers, domain
search, SNTP servers, information refresh time, rapid commit), global values inherited by every
subnet, and ``host`` blocks with ``host-identifier option dhcp6.client-id`` plus
``fixed-address6`` and/or ``fixed-prefix6``, each in the subnet holding its address. dhcpd6.conf
knows nothing of the members' IPv6 addresses or the relays: those become placeholders.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .config_reader import Statement

PLACEHOLDER = "FILL IN"
# dhcpd -6's own lifetimes when the file sets none (dhcpd.conf(5)): valid 43200 s, preferred 5/8 of it.
DHCPD6_VALID = 43200

_ADDRESS_OPTIONS = {"dhcp6.name-servers": "dns_servers", "dhcp6.sntp-servers": "sntp_servers"}
_SCOPE_VALUES = ("preferred-lifetime", "default-lease-time")


def _ipv6(text: str) -> str | None:
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError:
        return None


def _net6(text: str) -> ipaddress.IPv6Network | None:
    try:
        return ipaddress.IPv6Network(text)
    except ValueError:
        return None


@dataclass
class Importer6:
    unmapped: list[tuple[int, str, str]] = field(default_factory=list)
    subnets: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[tuple[Statement, dict[str, Any]]] = field(default_factory=list)
    recognised: int = 0

    def skip(self, statement: Statement, why: str) -> None:
        self.unmapped.append((statement.line, statement.source(), why))

    def walk(self, statements: list[Statement], inherited: dict[str, Any]) -> None:
        scope = dict(inherited)
        for statement in statements:  # values first: dhcpd applies a scope's values to all its subnets
            if statement.block is None and self.value(statement, scope):
                self.recognised += 1
        for statement in statements:
            head = statement.head
            if statement.block is None:
                if not self.is_value(statement):
                    self.skip(statement, "not a DHCPv6 setting the inventory has")
                continue
            if head[0] == "subnet6" and len(head) == 2:
                self.recognised += 1
                self.subnet(statement, scope)
            elif head[0] == "shared-network":
                self.recognised += 1
                self.walk(statement.block, scope)
            elif head[0] == "host" and len(head) == 2:
                self.recognised += 1
                self.host(statement)
            else:
                self.skip(statement, "a block the inventory has no place for")

    def is_value(self, statement: Statement) -> bool:
        return self.value(statement, {})

    def value(self, statement: Statement, target: dict[str, Any]) -> bool:
        """A statement that sets a value of a subnet-like scope; False if it is not one."""
        head = statement.head
        values = [w for w in statement.words[1:] if w.text != ","]
        if head[0] in _SCOPE_VALUES and len(head) == 2 and head[1].isdigit():
            target["preferred_lifetime" if head[0] == "preferred-lifetime" else "valid_lifetime"] = int(head[1])
        elif head[0] == "option" and len(head) >= 2 and head[1] == "dhcp6.rapid-commit":
            target["rapid_commit"] = True
        elif head[0] == "option" and len(head) >= 3 and head[1] in _ADDRESS_OPTIONS:
            addresses = [_ipv6(v.text) for v in values[1:]]
            if not all(addresses):
                return False
            target[_ADDRESS_OPTIONS[head[1]]] = addresses
        elif head[0] == "option" and len(head) >= 3 and head[1] == "dhcp6.domain-search" \
                and all(v.quoted for v in values[1:]):
            target["domain_search"] = [v.text.rstrip(".") for v in values[1:]]
        elif head[0] == "option" and len(head) == 3 and head[1] == "dhcp6.info-refresh-time" and head[2].isdigit():
            target["information_refresh_time"] = int(head[2])
        else:
            return False
        return True

    def subnet(self, statement: Statement, scope: dict[str, Any]) -> None:
        network = _net6(statement.head[1])
        if network is None:
            self.skip(statement, "not an IPv6 network")
            return
        entry: dict[str, Any] = {"network": str(network), **scope}
        pools: list[dict[str, str]] = []
        pd_pools: list[dict[str, Any]] = []
        assert statement.block is not None
        for inner in statement.block:
            head = inner.head
            if inner.block is not None:
                if head[0] == "host" and len(head) == 2:
                    self.host(inner)
                else:
                    self.skip(inner, "a block the inventory has no place for inside subnet6")
            elif self.value(inner, entry):
                pass
            elif head[0] == "range6":
                pool = _range6(head[1:])
                if pool is None:
                    self.skip(inner, "the model takes range6 START END or range6 PREFIX/LENGTH (no temporary addresses)")
                else:
                    pools.append(pool)
            elif head[0] == "prefix6":
                pd = _prefix6(head[1:])
                if pd is None:
                    self.skip(inner, "the model takes a prefix6 block that is one CIDR (START END /LENGTH)")
                else:
                    pd_pools.append(pd)
            else:
                self.skip(inner, "not a DHCPv6 setting the inventory has")
        if "valid_lifetime" not in entry:
            entry["valid_lifetime"] = DHCPD6_VALID
        if "preferred_lifetime" not in entry:
            entry["preferred_lifetime"] = entry["valid_lifetime"] * 5 // 8
        entry["pools"], entry["pd_pools"] = pools, pd_pools
        self.subnets.append(entry)

    def host(self, statement: Statement) -> None:
        host: dict[str, Any] = {"name": statement.head[1].rstrip(";").lower()}
        assert statement.block is not None
        for inner in statement.block:
            head = inner.head
            if head[:3] == ["host-identifier", "option", "dhcp6.client-id"] and len(head) == 4:
                host["duid"] = head[3].lower()
            elif head[0] == "fixed-address6" and len(head) == 2 and _ipv6(head[1]):
                host["address"] = _ipv6(head[1])
            elif head[0] == "fixed-prefix6" and len(head) == 2 and _net6(head[1]):
                host["prefix"] = str(_net6(head[1]))
            else:
                self.skip(inner, "a host is reserved by DUID (host-identifier option dhcp6.client-id) with "
                                 "fixed-address6 and fixed-prefix6 only")
        if "duid" not in host:
            self.skip(statement, "a host without host-identifier option dhcp6.client-id: DHCPv6 reserves by DUID")
            return
        self.hosts.append((statement, host))

    def place_hosts(self) -> None:
        """Each host goes to the subnet holding its address (a prefix-only host to the first subnet)."""
        for statement, host in self.hosts:
            address = host.get("address")
            home = next((s for s in self.subnets if address and ipaddress.IPv6Address(address) in
                         ipaddress.IPv6Network(s["network"])), None)
            if home is None and address is None and self.subnets:
                home = self.subnets[0]
            if home is None:
                self.skip(statement, "its fixed-address6 is in no subnet6 of the file")
                continue
            home.setdefault("hosts", []).append(host)


def _range6(words: list[str]) -> dict[str, str] | None:
    if len(words) == 2 and _ipv6(words[0]) and _ipv6(words[1]):
        return {"start": str(_ipv6(words[0])), "end": str(_ipv6(words[1]))}
    if len(words) == 1 and (net := _net6(words[0])) is not None:
        return {"start": str(net.network_address), "end": str(net.broadcast_address)}
    return None


def _prefix6(words: list[str]) -> dict[str, Any] | None:
    if len(words) != 3 or not words[2].startswith("/") or not words[2][1:].isdigit():
        return None
    start, end, length = _ipv6(words[0]), _ipv6(words[1]), int(words[2][1:])
    if start is None or end is None or not 1 <= length <= 128:
        return None
    # END is the first address of the last delegated prefix.
    last = ipaddress.IPv6Address(end) + (2 ** (128 - length) - 1)
    if last < ipaddress.IPv6Address(start):
        return None
    blocks = list(ipaddress.summarize_address_range(ipaddress.IPv6Address(start), last))
    if len(blocks) != 1:
        return None
    return {"prefix": str(blocks[0]), "delegated_length": length}


def import_dhcpd6(statements: list[Statement], member_names: list[str]) -> tuple[dict[str, Any], list[tuple[int, str, str]], list[str]]:
    """(the dhcpv6 section as data, unmapped (line, statement, why), placeholders to fill in)."""
    walker = Importer6()
    walker.walk(statements, {})
    walker.place_hosts()
    section: dict[str, Any] = {
        "members": [{"member": name, "address": PLACEHOLDER, "network": PLACEHOLDER} for name in member_names],
        "subnets": walker.subnets,
        "relays": [],
    }
    placeholders = [f"dhcpv6.members[{i}]: {name}'s fixed IPv6 address and its IPv6 network"
                    for i, name in enumerate(member_names)]
    placeholders.append("dhcpv6.relays: each relay's IPv6 source address and the subnets it serves (link_address)")
    placeholders.append("server: kea (ISC dhcpd has no DHCPv6 failover; Kea HA serves both families)")
    return section, sorted(walker.unmapped), placeholders
