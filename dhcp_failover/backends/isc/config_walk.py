"""Walk one dhcpd.conf's statement tree and collect what maps into the inventory's terms:
subnets, pools, hosts, classes, option definitions, the failover peer, OMAPI and DDNS; every
statement that does not map is recorded with its line and why. ``config_import`` assembles the
site from one walk (or two, for a pair's files).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ...dhcp_options import PROTOCOL_CODES, TYPED_CODES
from .config_reader import Statement, Token

# dhcpd statements that the renderer always writes itself, so importing them loses nothing.
_ALWAYS_RENDERED = {("authoritative",), ("log-facility", "local7"), ("ddns-update-style", "none"),
                    ("deny", "dynamic", "bootp", "clients")}
# What the renderer writes with every ddns: section; implied by it, so read back as such.
_DDNS_IMPLIED = {("ddns-updates", "on"), ("ignore", "client-updates"), ("update-conflict-detection", "true"),
                 ("update-optimization", "false")}
# What dhcpd uses when a file sets no lease times (dhcpd.conf(5)): the import keeps them, since
# the model's own defaults (600 and 7200 seconds) would shorten every lease.
DHCPD_LEASE_TIMES = {"default_lease_time": 43200, "max_lease_time": 86400}
REVERSE_DEFAULT = ("in-addr.arpa", "in-addr.arpa.")
_ADDRESS_LISTS = {"routers": "routers", "domain-name-servers": "dns_servers", "ntp-servers": "ntp_servers"}
_OPTION_ADDRESS_LISTS = {"log-servers": "log_servers", "netbios-name-servers": "netbios_name_servers"}
_OPTION_INTS = {"interface-mtu": "interface_mtu", "time-offset": "time_offset"}
_TYPES = {"ip-address": "ip-address", "array of ip-address": "ip-addresses", "text": "text",
          "unsigned integer 8": "uint8", "unsigned integer 16": "uint16", "unsigned integer 32": "uint32",
          "signed integer 32": "int32", "boolean": "boolean", "domain-list": "domain-list", "string": "bytes"}


def ipv4(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _list_values(words: list[Token]) -> list[Token]:
    return [w for w in words if w.text != ","]


@dataclass
class Scope:
    """What an enclosing scope (global, shared network) gives the subnets inside it."""

    subnet: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Importer:
    """Walks one dhcpd.conf, collecting what maps into the inventory and what does not."""

    missing_include: str = ""
    unmapped: list[tuple[int, str, str]] = field(default_factory=list)
    subnets: list[dict[str, Any]] = field(default_factory=list)
    loose_pools: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    hosts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    classes: list[dict[str, Any]] = field(default_factory=list)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    shared: list[dict[str, Any]] = field(default_factory=list)
    peer: dict[str, Any] = field(default_factory=dict)
    omapi: dict[str, Any] = field(default_factory=dict)
    ddns: dict[str, Any] = field(default_factory=dict)
    site: dict[str, Any] = field(default_factory=dict)
    spaces: set[str] = field(default_factory=set)
    foreign_spaces: dict[str, str] = field(default_factory=dict)  # space -> the option code it travels in
    defined_at: dict[str, Statement] = field(default_factory=dict)
    bare_subnets: list[str] = field(default_factory=list)  # declared empty: a server's own network, typically
    pools_dropped: list[str] = field(default_factory=list)  # subnets that had a pool the model cannot take
    routes_options: set[str] = field(default_factory=lambda: {"rfc3442-classless-static-routes", "ms-classless-static-routes"})
    arch_options: set[str] = field(default_factory=lambda: {"pxe-system-type"})
    recognised: int = 0

    def skip(self, statement: Statement, why: str) -> None:
        self.unmapped.append((statement.line, statement.source(), why))

    # -- values in a scope ----------------------------------------------------------------

    def scoped(self, statement: Statement, target: dict[str, Any], options: dict[str, Any]) -> bool:
        """A statement that sets a value of a subnet-like scope; False if it is not one."""
        head = statement.head
        values = _list_values(statement.words[1:])
        if head[0] in ("default-lease-time", "max-lease-time") and len(head) == 2 and head[1].isdigit():
            target[head[0].replace("-", "_")] = int(head[1])
        elif head[0] == "next-server" and len(values) == 1 and ipv4(values[0].text):
            target["next_server"] = values[0].text
        elif head[0] == "filename" and len(values) == 1 and values[0].quoted:
            target["filename"] = values[0].text
        elif head[0] == "vendor-option-space" and len(head) == 2 and head[1] in self.spaces \
                and head[1] not in self.foreign_spaces:
            pass  # implied by the scope's options of that space
        elif head[0] == "ddns-domainname" and len(values) == 1 and values[0].quoted:
            target["_ddns_domain"] = (statement, values[0].text.rstrip("."))
        elif head[0] == "ddns-rev-domainname" and len(values) == 1 and values[0].text in REVERSE_DEFAULT:
            pass  # dhcpd's default, which the renderer leaves as it is
        elif head[0] == "option" and len(head) >= 3:
            return self.option(statement, target, options)
        else:
            return False
        return True

    def option(self, statement: Statement, target: dict[str, Any], options: dict[str, Any]) -> bool:
        values = _list_values(statement.words[2:])
        if not values:
            self.skip(statement, "an option without a name and a value")
            return True
        name = statement.words[1].text
        texts = [v.text for v in values]
        addresses = [ipv4(t) for t in texts]
        if name in _ADDRESS_LISTS or name in _OPTION_ADDRESS_LISTS:
            if not all(addresses):
                self.skip(statement, "the model takes addresses here, not host names")
                return True
            if name in _ADDRESS_LISTS:
                target[_ADDRESS_LISTS[name]] = addresses
            else:
                options[_OPTION_ADDRESS_LISTS[name]] = addresses
        elif name == "domain-name" and len(values) == 1 and values[0].quoted:
            target["domain_name"] = values[0].text
        elif name == "domain-search" and all(v.quoted for v in values):
            options["domain_search"] = [t.rstrip(".") for t in texts]
        elif name in _OPTION_INTS and len(texts) == 1 and re.fullmatch(r"-?\d+", texts[0]):
            options[_OPTION_INTS[name]] = int(texts[0])
        elif name == "tftp-server-name" and len(values) == 1 and values[0].quoted:
            options["tftp_server_name"] = values[0].text
        elif name in self.routes_options:
            routes = _routes(texts)
            if routes is None:
                self.skip(statement, "classless static routes the importer cannot decode")
            elif options.get("classless_static_routes", routes) != routes:
                self.skip(statement, "option 249 differs from option 121; the model sends one list as both")
            else:
                options["classless_static_routes"] = routes
        elif name in ("subnet-mask", "broadcast-address"):
            target.setdefault("_derived", []).append((statement, name, texts))
        elif name in self.definitions:
            kind = self.definitions[name]["type"]
            value: Any = [t for t in texts] if kind in ("ip-addresses", "domain-list") else texts[0] if texts else ""
            if kind in ("uint8", "uint16", "uint32", "int32") and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                value = int(value)
            elif kind == "boolean":
                value = value in ("true", "on")
            options.setdefault("custom", {})[self.definitions[name]["name"]] = value
        else:
            self.skip(statement, f"option {name} has no field in the model; define it under option_definitions")
        return True

    # -- declarations ---------------------------------------------------------------------

    def prescan(self, statements: list[Statement]) -> None:
        """Which option spaces travel in an option other than 43: the model sends a space's
        options inside option 43 only, so definitions in those spaces cannot map."""
        for statement in statements:
            head = statement.head
            if head[:1] == ["option"] and "code" in head and "=" in head:
                code, spelled = head[head.index("code") + 1], head[head.index("=") + 1:]
                if spelled[:1] == ["encapsulate"] and len(spelled) == 2 and code != "43":
                    self.foreign_spaces[spelled[1]] = code

    def top(self, statements: list[Statement], scope: Scope) -> None:
        for statement in statements:
            head = statement.head
            if not head:
                self.skip(statement, "a block without a header")
                continue
            self.recognised += 1
            if tuple(head) in _ALWAYS_RENDERED:
                continue
            if head[0] == "subnet" and statement.block is not None:
                self.subnet(statement, scope)
            elif head[0] == "shared-network" and statement.block is not None:
                self.shared_network(statement, scope)
            elif self.anywhere(statement, scope):
                pass
            elif head[:2] == ["failover", "peer"] and statement.block is not None:
                self.failover(statement)
            elif head[0] == "key" and statement.block is not None:
                self.key(statement)
            elif head[0] in ("ddns-update-style", "ddns-domainname", "zone") or tuple(head) in _DDNS_IMPLIED:
                self.dynamic_dns(statement)
            elif head[0] == "omapi-port" and len(head) == 2 and head[1].isdigit():
                self.omapi["port"] = int(head[1])
            elif head[0] == "omapi-key" and len(head) == 2:
                self.omapi["key_name"] = head[1]
            elif head[0] == "ping-check" and len(head) == 2 and head[1] in ("true", "false", "on", "off"):
                self.site["ping_check"] = head[1] in ("true", "on")
            elif head[0] == "option" and len(head) >= 5 and "code" in head and "=" in head:
                self.definition(statement)
            elif head[:2] == ["option", "space"] and len(head) == 3:
                self.spaces.add(head[2])
            elif head[0] == "include":
                self.recognised -= 1
                self.skip(statement, self.missing_include)
            elif statement.block is None and self.scoped(statement, scope.subnet, scope.options):
                pass
            else:
                self.recognised -= 1
                self.skip(statement, "not mapped")

    def anywhere(self, statement: Statement, scope: Scope) -> bool:
        """Hosts, groups of hosts and classes, which dhcpd takes in any scope; False for others."""
        kind = statement.head[0] if statement.block is not None and statement.head else ""
        if kind == "host":
            self.host(statement, scope)
        elif kind == "group":
            self.group(statement, scope, {})
        elif kind == "class":
            self.client_class(statement)  # dhcpd's classes are global, wherever they are declared
        else:
            return False
        return True

    def dynamic_dns(self, statement: Statement) -> None:
        head = statement.head
        if head[0] == "ddns-update-style" and len(head) == 2 and head[1] in ("standard", "interim"):
            self.ddns["_on"] = statement
        elif head[0] == "ddns-domainname" and len(head) == 2 and statement.words[1].quoted:
            self.ddns["domain_name"] = head[1].rstrip(".")
            self.ddns.setdefault("_statements", []).append(statement)
        elif head[0] == "zone" and len(head) == 2 and statement.block is not None:
            zone: dict[str, Any] = {"name": head[1].rstrip("."), "servers": []}
            for child in statement.block:
                words = child.head
                if words[:1] in (["primary"], ["secondary"]) and len(words) == 2 and ipv4(words[1]):
                    zone["servers"].append(words[1])
                elif words[:1] == ["key"] and len(words) == 2:
                    zone["key"] = words[1].strip('"')
                else:
                    self.skip(child, "not mapped in a zone (a zone names its primary, secondary and key)")
            self.ddns.setdefault("zones", []).append(zone)
            self.ddns.setdefault("_statements", []).append(statement)
        elif tuple(head) not in _DDNS_IMPLIED:
            self.recognised -= 1
            self.skip(statement, "not mapped")

    def dynamic_dns_section(self) -> dict[str, Any] | None:
        """The ddns: section, when updates are on and zones say where they go; otherwise every
        DDNS statement is listed, since the pair will not update DNS."""
        style: Statement | None = self.ddns.get("_on")
        served_without = [s for s in self.subnets if s.get("pools") and "_ddns_domain" not in s]
        in_subnets = [s.pop("_ddns_domain") for s in self.subnets if "_ddns_domain" in s]
        if style is None or not self.ddns.get("zones"):
            why = "DDNS is off" if style is None else "updates without zone declarations go where the model cannot say"
            for statement in [*([style] if style else []), *self.ddns.get("_statements", []), *(s for s, _ in in_subnets)]:
                self.skip(statement, why)
            return None
        if style.head[1] == "interim":
            self.skip(style, "rendered as 'standard' (DHCID records): clear the TXT records interim wrote, or "
                             "their names conflict")
        if "domain_name" not in self.ddns and in_subnets:
            names = {name for _, name in in_subnets}
            if len(names) == 1 and not served_without:
                self.ddns["domain_name"] = names.pop()  # every subnet agrees: the site's
            else:
                for statement, _ in in_subnets:
                    self.skip(statement, "the model has one DDNS domain for the whole site")
        algorithms = self.omapi.get("_algorithms", {})
        names_in_order = list(dict.fromkeys(z["key"] for z in self.ddns["zones"] if "key" in z))
        keys = [{"name": n, **({"algorithm": algorithms[n]} if n in algorithms else {})} for n in names_in_order]
        section = {"keys": keys, "zones": self.ddns["zones"]}
        if "domain_name" in self.ddns:
            section = {"domain_name": self.ddns["domain_name"], **section}
        return section

    def definition(self, statement: Statement) -> None:
        head = statement.head
        name, code = head[1], head[head.index("code") + 1]
        spelled = " ".join(head[head.index("=") + 1:])
        earlier = self.defined_at.pop(name, None)
        self.defined_at[name] = statement
        self.definitions.pop(name, None)
        if earlier is not None:
            self.skip(earlier, f"redefined on line {statement.line}; dhcpd uses the last definition")
        if code in ("121", "249") and spelled in ("array of unsigned integer 8", "array of integer 8"):
            self.routes_options.add(name)
            return
        if code == "93" and spelled == "unsigned integer 16":
            self.arch_options.add(name)
            return
        if spelled.startswith("encapsulate ") and spelled.split()[1] in self.spaces:
            if code != "43":
                self.skip(statement, f"space {spelled.split()[1]} travels in option {code}; the model sends a "
                                     "vendor space in option 43 only")
            return  # in option 43: what the model's spaces mean
        kind = _TYPES.get(spelled)
        space, _, short = name.rpartition(".")
        why = _definition_problem(kind, code, space, self.spaces, self.foreign_spaces)
        if why:
            self.skip(statement, why)
            return
        definition: dict[str, Any] = {"name": clean_name(short.removeprefix("df-"), 32), "code": int(code), "type": kind}
        if space:
            definition["space"] = clean_name(space.removeprefix("df-"), 32)
        self.definitions[name] = definition

    def subnet(self, statement: Statement, scope: Scope, shared: dict[str, Any] | None = None) -> None:
        head = statement.head
        try:
            network = ipaddress.IPv4Network(f"{head[1]}/{head[3]}") if len(head) == 4 and head[2] == "netmask" else None
        except ValueError:
            network = None
        if network is None:
            self.skip(statement, "a subnet header the importer cannot read")
            return
        if not statement.block:
            self.bare_subnets.append(str(network))
        subnet: dict[str, Any] = {"network": str(network), **{k: v for k, v in scope.subnet.items() if k != "_derived"}}
        options: dict[str, Any] = dict(scope.options)
        pools: list[dict[str, Any]] = []
        children = list(statement.block or [])
        pxe, chain = self.pxe_chain(children)
        if pxe is not None:
            subnet["pxe"] = pxe
        for child in children:
            child_head = child.head
            if child in chain:
                continue
            if child_head[:1] == ["pool"] and child.block is not None:
                found = self.pool(child)
                pools.extend(found)
                if not found:
                    self.pools_dropped.append(str(network))
            elif child_head[:1] == ["range"]:
                pool = self.range(child)
                if pool:
                    pools.append(pool)
            elif self.anywhere(child, scope) or tuple(child_head) in _ALWAYS_RENDERED or \
                    (child.block is None and self.scoped(child, subnet, options)):
                continue
            else:
                self.skip(child, "not mapped")
        self.derived_and_pxe(subnet, network, chain)
        if options:
            subnet["options"] = options
        subnet["pools"] = pools
        self.subnets.append(subnet)
        if shared is not None:
            shared["subnets"].append(str(network))

    def derived_and_pxe(self, subnet: dict[str, Any], network: ipaddress.IPv4Network, chain: list[Statement]) -> None:
        """What dhcpd derives from the subnet (listed when a file says otherwise), and the PXE
        chain's TFTP server (without one, the chain is listed)."""
        for derived_statement, name, texts in subnet.pop("_derived", []):
            expected = str(network.netmask if name == "subnet-mask" else network.broadcast_address)
            if texts != [expected]:
                self.skip(derived_statement, f"differs from the {name} dhcpd derives from the subnet")
        if "pxe" in subnet:
            if "next_server" not in subnet:
                del subnet["pxe"]
                for link in chain:
                    self.skip(link, "network boot by architecture needs a next-server in the subnet")
            else:
                subnet["pxe"] = {"next_server": subnet.pop("next_server"), **subnet["pxe"]}

    def pxe_chain(self, children: list[Statement]) -> tuple[dict[str, Any] | None, list[Statement]]:
        """An if/elsif/else chain that picks a boot file by architecture (and iPXE) → pxe."""
        start = next((i for i, c in enumerate(children) if c.head[:1] == ["if"] and c.block is not None), None)
        if start is None:
            return None, []
        chain = [children[start]]
        for child in children[start + 1:]:
            if child.head[:1] in (["elsif"], ["else"]) and child.block is not None:
                chain.append(child)
            else:
                break
        pxe: dict[str, Any] = {}
        kinds = {(0,): "bios", (7, 9): "uefi_x64", (7,): "uefi_x64", (9,): "uefi_x64", (11,): "uefi_arm64"}
        for link in chain:
            files = [c.words[1].text for c in link.block or [] if c.head[:1] == ["filename"] and len(c.words) == 2]
            if len(files) != 1 or len(link.block or []) != 1:
                return None, []
            condition = " ".join(f'"{t.text}"' if t.quoted else t.text for t in link.words[1:])
            if link.head == ["else"]:
                kind = "bios"
            elif re.fullmatch(r'(?:if|elsif) (?:exists user-class and )?option user-class = "iPXE"', f"{link.head[0]} {condition}"):
                kind = "ipxe"
            else:
                codes = re.findall(r"option (\S+) = ([0-9a-f]{2}):([0-9a-f]{2})", condition)
                parts = [p for p in re.split(r" or ", condition) if p]
                if not codes or len(codes) != len(parts) or any(name not in self.arch_options for name, _, _ in codes):
                    return None, []
                kind = kinds.get(tuple(int(a + b, 16) for _, a, b in codes), "")
                if not kind:
                    return None, []
            if kind in pxe:
                return None, []
            pxe[kind] = files[0]
        return pxe, chain

    def pool(self, statement: Statement) -> list[dict[str, Any]]:
        """The pool as the model's, one per range it holds (none when no range of it maps: the
        pool is listed whole, with the ranges that say why)."""
        found = [r for r in (self.range(c) for c in statement.block or [] if c.head[:1] == ["range"]) if r]
        if not found:
            self.skip(statement, "a pool without a range the model takes; nothing in it is imported")
            return []
        shared: dict[str, Any] = {}
        options: dict[str, Any] = {}
        for child in statement.block or []:
            head = child.head
            if head[:1] == ["range"] or head[:2] == ["failover", "peer"] or tuple(head) in _ALWAYS_RENDERED:
                continue
            if head[:3] in (["allow", "members", "of"], ["deny", "members", "of"]) and len(child.words) == 4:
                shared.setdefault(head[0], []).append(_class_name(child.words[3].text))
            elif head[:1] == ["option"] and child.block is None:
                self.scoped_option(child, options, "a pool")
            else:
                self.skip(child, "not mapped in a pool")
        if options:
            shared["options"] = options
        # dhcpd hands out every range of a pool alike: the model's pool has one range each.
        return [{**span, **shared} for span in found]

    def scoped_option(self, statement: Statement, options: dict[str, Any], where: str) -> None:
        """An option of a scope whose model has Options only (pool, host, group): the subnet-level
        ones (routers, DNS servers, domain name) are listed."""
        ignored: dict[str, Any] = {}
        self.option(statement, ignored, options)
        for key in ignored:
            what = "subnet mask or broadcast address" if key == "_derived" else key
            self.skip(statement, f"{where}'s {what} is not in the model (only its options are)")

    def range(self, statement: Statement, *, quiet: bool = False) -> dict[str, Any] | None:
        words = statement.head[1:]
        if words[:1] == ["dynamic-bootp"]:
            if not quiet:
                self.skip(statement, "dynamic BOOTP ranges cannot be in a failover pool")
            return None
        start, end = ([*words, words[0]])[:2] if words else (None, None)
        if start and end and ipv4(start) and ipv4(end):
            return {"start": start, "end": end}
        if not quiet:
            self.skip(statement, "a range the importer cannot read")
        return None

    def shared_network(self, statement: Statement, scope: Scope) -> None:
        name = _class_name(statement.words[1].text) if len(statement.words) > 1 else "shared"
        shared: dict[str, Any] = {"name": name, "subnets": []}
        inner = Scope(dict(scope.subnet), dict(scope.options))
        for child in statement.block or []:
            if child.head[:1] == ["subnet"] and child.block is not None:
                continue
            if child.head[:1] == ["pool"] and child.block is not None:
                self.loose_pools.extend((child.line, pool) for pool in self.pool(child))
            elif self.anywhere(child, inner) or (child.block is None and self.scoped(child, inner.subnet, inner.options)):
                continue
            else:
                self.skip(child, "not mapped in a shared network")
        for child in statement.block or []:
            if child.head[:1] == ["subnet"] and child.block is not None:
                self.subnet(child, inner, shared)
        self.shared.append(shared)

    def host(self, statement: Statement, scope: Scope, inherited: dict[str, Any] | None = None) -> None:
        """A reservation; ``inherited`` holds the options of the groups around it."""
        name = statement.words[1].text if len(statement.words) > 1 else "host"
        host: dict[str, Any] = {"name": name}
        options: dict[str, Any] = {}
        for child in statement.block or []:
            head = child.head
            if head[:2] == ["hardware", "ethernet"] and len(head) == 3:
                host["mac"] = ":".join(part.zfill(2) for part in head[2].split(":")).lower()
            elif head[:1] == ["fixed-address"] and len(head) == 2 and ipv4(head[1]):
                host["address"] = head[1]
            elif head[:1] == ["option"] and child.block is None:
                self.scoped_option(child, options, "a host")
            else:
                self.skip(child, "not mapped in a host")
        if "mac" not in host or "address" not in host:
            self.skip(statement, "a host without a MAC address and a fixed IP address is not a reservation")
            return
        options = _merged_options(inherited or {}, options)
        if options:
            host["options"] = options
        self.hosts.append((statement.line, host))

    def group(self, statement: Statement, scope: Scope, inherited: dict[str, Any]) -> None:
        """A group passes its options to the hosts in it; what else it holds is listed."""
        options = dict(inherited)
        own: dict[str, Any] = {}
        for child in statement.block or []:
            if child.head[:1] == ["option"] and child.block is None:
                self.scoped_option(child, own, "a group")
        options = _merged_options(options, own)
        for child in statement.block or []:
            head = child.head
            if head[:1] == ["option"] and child.block is None:
                continue
            if head[:1] == ["host"] and child.block is not None:
                self.host(child, scope, options)
            elif head[:1] == ["group"] and child.block is not None:
                self.group(child, scope, options)
            else:
                self.skip(child, "not mapped in a group (a group maps only hosts and their options)")

    def client_class(self, statement: Statement) -> None:
        name = _class_name(statement.words[1].text) if len(statement.words) > 1 else "class"
        entry: dict[str, Any] = {"name": name}
        options: dict[str, Any] = {}
        for child in statement.block or []:
            match = _class_match(child)
            if match is not None:
                entry["match"] = match
            elif child.block is None and self.scoped(child, entry, options):
                continue
            else:
                self.skip(child, "not mapped in a class")
        if "match" not in entry:
            self.skip(statement, "a class without a match the model knows (vendor class, user class, option 82)")
            return
        if options:
            entry["options"] = options
        entry = {k: v for k, v in entry.items() if k in ("name", "match", "options", "next_server", "filename")}
        self.classes.append(entry)

    def failover(self, statement: Statement) -> None:
        self.peer["name"] = statement.words[2].text if len(statement.words) > 2 else None
        for child in statement.block or []:
            head = child.head
            key = " ".join(head[:-1])
            value = head[-1] if head else ""
            if head in (["primary"], ["secondary"]):
                self.peer["role"] = head[0]
            elif key in ("address", "peer address"):
                self.peer[key] = value
            elif key in ("port", "peer port") and value.isdigit():
                self.peer[key] = int(value)
            elif key in ("max-response-delay", "max-unacked-updates", "mclt", "split", "load balance max seconds",
                         "auto-partner-down", "max-lease-misbalance", "max-lease-ownership", "min-balance",
                         "max-balance") and value.isdigit():
                self.peer.setdefault("settings", {})[key.replace(" ", "_").replace("-", "_")] = int(value)
            elif key == "hba":
                self.peer.setdefault("settings", {})["hba"] = value.replace(":", "")
            else:
                self.skip(child, "not mapped in the failover peer")

    def key(self, statement: Statement) -> None:
        for child in statement.block or []:
            head = child.head
            if head[:1] == ["algorithm"] and len(head) == 2:
                self.omapi.setdefault("_algorithms", {})[statement.words[1].text] = head[1].lower().rstrip(".")
            elif head[:1] == ["secret"]:
                shown = f"(in {child.origin}) secret ...;" if child.origin else "secret ...;"  # never the secret itself
                self.unmapped.append((child.line, shown, "never imported: `keys` generates the pipeline's own"))
            else:
                self.skip(child, "not mapped in a key")


def _definition_problem(kind: str | None, code: str, space: str, spaces: set[str], foreign: dict[str, str]) -> str:
    """Why an option definition cannot become one of the model's, or ""."""
    if kind is None or not code.isdigit():
        return "an option type the model does not know"
    if not 1 <= int(code) <= 254:
        return f"code {code} is not an option code a definition can take (1-254)"
    if space and space not in spaces:
        return f"option space {space} is not declared"
    if space in foreign:
        return f"space {space} travels in option {foreign[space]}; the model sends a vendor space in option 43 only"
    if not space and (int(code) in PROTOCOL_CODES or int(code) in TYPED_CODES):
        return f"code {code} is the protocol's own or a typed field's; the model does not redefine it"
    return ""


def _merged_options(outer: dict[str, Any], inner: dict[str, Any]) -> dict[str, Any]:
    """Options of an enclosing scope under a scope's own; custom values merged by name."""
    merged = {**outer, **inner}
    if "custom" in outer and "custom" in inner:
        merged["custom"] = {**outer["custom"], **inner["custom"]}
    return merged


def clean_name(text: str, length: int) -> str:
    """A name as the model accepts it: lower-case letters, digits and inner '-'."""
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")[:length].strip("-")
    return cleaned if len(cleaned) >= 2 and cleaned[0].isalpha() else f"x-{cleaned}".strip("-")[:length]


def _class_name(text: str) -> str:
    return clean_name(text, 40)


def _routes(texts: list[str]) -> list[dict[str, str]] | None:
    """RFC 3442 bytes back to routes: prefix length, significant octets, router."""
    try:
        data = [int(t) for t in texts]
    except ValueError:
        return None
    routes, i = [], 0
    while i < len(data):
        prefix = data[i]
        significant = (prefix + 7) // 8
        if prefix > 32 or i + 1 + significant + 4 > len(data):
            return None
        octets = data[i + 1 : i + 1 + significant] + [0] * (4 - significant)
        router = data[i + 1 + significant : i + 5 + significant]
        if any(not 0 <= b <= 255 for b in octets + router):
            return None
        routes.append({"destination": f"{'.'.join(map(str, octets))}/{prefix}", "router": ".".join(map(str, router))})
        i += 5 + significant
    return routes


def _unwrapped(words: list[str]) -> list[str]:
    """An expression without the parentheses around all of it, however many pairs."""
    while len(words) >= 2 and words[0] == "(" and words[-1] == ")":
        depth = 0
        for i, word in enumerate(words):
            depth += (word == "(") - (word == ")")
            if depth == 0 and i < len(words) - 1:
                return words  # the first '(' closes before the end: not one pair around all
        words = words[1:-1]
    return words


def _class_match(statement: Statement) -> dict[str, Any] | None:
    words = [t.text if not t.quoted else f'"{t.text}"' for t in statement.words]
    text = " ".join(words[:2] + _unwrapped(words[2:]))
    patterns = {
        "vendor_class": r'^match if substring \( option vendor-class-identifier , 0 , (\d+) \) = "(.*)"$',
        "user_class": r'^match if (?:exists user-class and )?option user-class = "(.*)"$',
        "circuit_id": r'^match if option agent\.circuit-id = "(.*)"$',
        "remote_id": r'^match if option agent\.remote-id = "(.*)"$',
    }
    for key, pattern in patterns.items():
        found = re.fullmatch(pattern, text)
        if found and key == "vendor_class":
            length, value = int(found.group(1)), found.group(2)
            return {key: value} if length == len(value) else None
        if found:
            return {key: found.group(1)}
    return None
