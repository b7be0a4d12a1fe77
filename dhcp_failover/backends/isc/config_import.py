"""Import an existing ISC dhcpd.conf (one server, or both servers of a failover pair) into an
inventory, listing every statement it could not map with its line number: nothing is silently
dropped. What a dhcpd.conf cannot know (relay interfaces and addresses, a peer given by host
name) becomes a placeholder that ``validate`` rejects, naming the field, until it is filled in.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigImportError
from ...messages import excerpt
from .config_reader import Statement, Token, parse, tokenize

PLACEHOLDER = "FILL IN"
NOT_FOLLOWED = "included files are not read here; import --dhcpd-conf reads them"
NOT_FOUND = "the included file is not there (absolute names are read under --include-root)"

# dhcpd statements that the renderer always writes itself, so importing them loses nothing.
_ALWAYS_RENDERED = {("authoritative",), ("log-facility", "local7"), ("ddns-update-style", "none"),
                    ("deny", "dynamic", "bootp", "clients")}
# What the renderer writes with every ddns: section; implied by it, so read back as such.
_DDNS_IMPLIED = {("ddns-updates", "on"), ("ignore", "client-updates"), ("update-conflict-detection", "true"),
                 ("update-optimization", "false")}
_ADDRESS_LISTS = {"routers": "routers", "domain-name-servers": "dns_servers", "ntp-servers": "ntp_servers"}
_OPTION_ADDRESS_LISTS = {"log-servers": "log_servers", "netbios-name-servers": "netbios_name_servers"}
_OPTION_INTS = {"interface-mtu": "interface_mtu", "time-offset": "time_offset"}
_TYPES = {"ip-address": "ip-address", "array of ip-address": "ip-addresses", "text": "text",
          "unsigned integer 8": "uint8", "unsigned integer 16": "uint16", "unsigned integer 32": "uint32",
          "signed integer 32": "int32", "boolean": "boolean", "domain-list": "domain-list", "string": "bytes"}


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _list_values(words: list[Token]) -> list[Token]:
    return [w for w in words if w.text != ","]


@dataclass
class _Scope:
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
        elif head[0] == "next-server" and len(values) == 1 and _address(values[0].text):
            target["next_server"] = values[0].text
        elif head[0] == "filename" and len(values) == 1 and values[0].quoted:
            target["filename"] = values[0].text
        elif head[0] == "vendor-option-space" and len(head) == 2 and head[1] in self.spaces:
            pass  # implied by the scope's options of that space
        elif head[0] == "option" and len(head) >= 3:
            return self.option(statement, target, options)
        else:
            return False
        return True

    def option(self, statement: Statement, target: dict[str, Any], options: dict[str, Any]) -> bool:
        name = statement.words[1].text
        values = _list_values(statement.words[2:])
        texts = [v.text for v in values]
        addresses = [_address(t) for t in texts]
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

    def top(self, statements: list[Statement], scope: _Scope) -> None:
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
            elif head[0] == "host" and statement.block is not None:
                self.host(statement, scope)
            elif head[0] == "class" and statement.block is not None:
                self.client_class(statement)
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

    def dynamic_dns(self, statement: Statement) -> None:
        head = statement.head
        if head[0] == "ddns-update-style" and len(head) == 2 and head[1] in ("standard", "interim"):
            self.ddns["_on"] = True
        elif head[0] == "ddns-domainname" and len(head) == 2 and statement.words[1].quoted:
            self.ddns["domain_name"] = head[1].rstrip(".")
        elif head[0] == "zone" and len(head) == 2 and statement.block is not None:
            zone: dict[str, Any] = {"name": head[1].rstrip("."), "servers": []}
            for child in statement.block:
                words = child.head
                if words[:1] in (["primary"], ["secondary"]) and len(words) == 2 and _address(words[1]):
                    zone["servers"].append(words[1])
                elif words[:1] == ["key"] and len(words) == 2:
                    zone["key"] = words[1].strip('"')
                else:
                    self.skip(child, "not mapped in a zone (a zone names its primary, secondary and key)")
            self.ddns.setdefault("zones", []).append(zone)
        elif tuple(head) not in _DDNS_IMPLIED:
            self.recognised -= 1
            self.skip(statement, "not mapped")

    def dynamic_dns_section(self) -> dict[str, Any] | None:
        """The ddns: section, when updates are on and zones say where they go."""
        if not self.ddns.get("_on") or not self.ddns.get("zones"):
            return None
        algorithms = self.omapi.get("_algorithms", {})
        names = list(dict.fromkeys(z["key"] for z in self.ddns["zones"] if "key" in z))
        keys = [{"name": n, **({"algorithm": algorithms[n]} if n in algorithms else {})} for n in names]
        section = {"keys": keys, "zones": self.ddns["zones"]}
        if "domain_name" in self.ddns:
            section = {"domain_name": self.ddns["domain_name"], **section}
        return section

    def definition(self, statement: Statement) -> None:
        head = statement.head
        name, code = head[1], head[head.index("code") + 1]
        spelled = " ".join(head[head.index("=") + 1:])
        if code in ("121", "249") and spelled in ("array of unsigned integer 8", "array of integer 8"):
            self.routes_options.add(name)
            return
        if code == "93" and spelled == "unsigned integer 16":
            self.arch_options.add(name)
            return
        kind = _TYPES.get(spelled)
        if kind is None or not code.isdigit():
            self.skip(statement, "an option type the model does not know")
            return
        space, _, short = name.rpartition(".")
        definition: dict[str, Any] = {"name": _clean(short.removeprefix("df-"), 32), "code": int(code), "type": kind}
        if space:
            if space not in self.spaces:
                self.skip(statement, f"option space {space} is not declared")
                return
            definition["space"] = _clean(space.removeprefix("df-"), 32)
        self.definitions[name] = definition

    def subnet(self, statement: Statement, scope: _Scope, shared: dict[str, Any] | None = None) -> None:
        head = statement.head
        try:
            network = ipaddress.IPv4Network(f"{head[1]}/{head[3]}") if len(head) == 4 and head[2] == "netmask" else None
        except ValueError:
            network = None
        if network is None:
            self.skip(statement, "a subnet header the importer cannot read")
            return
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
                pools.append(self.pool(child))
            elif child_head[:1] == ["range"]:
                pool = self.range(child)
                if pool:
                    pools.append(pool)
            elif child_head[:1] == ["host"] and child.block is not None:
                self.host(child, scope)
            elif tuple(child_head) in _ALWAYS_RENDERED or (child.block is None and self.scoped(child, subnet, options)):
                continue
            else:
                self.skip(child, "not mapped")
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
        if options:
            subnet["options"] = options
        subnet["pools"] = pools
        self.subnets.append(subnet)
        if shared is not None:
            shared["subnets"].append(str(network))

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

    def pool(self, statement: Statement) -> dict[str, Any]:
        pool: dict[str, Any] = {}
        for child in statement.block or []:
            head = child.head
            if head[:1] == ["range"]:
                found = self.range(child)
                if found and "start" not in pool:
                    pool.update(found)
                elif found:
                    self.skip(child, "a second range in one pool; split it into its own pool")
            elif head[:2] == ["failover", "peer"] or tuple(head) in _ALWAYS_RENDERED:
                continue
            elif head[:3] in (["allow", "members", "of"], ["deny", "members", "of"]) and len(child.words) == 4:
                pool.setdefault(head[0], []).append(_class_name(child.words[3].text))
            else:
                self.skip(child, "not mapped in a pool")
        if "start" not in pool:
            self.skip(statement, "a pool without a range")
        return pool

    def range(self, statement: Statement) -> dict[str, Any] | None:
        words = statement.head[1:]
        if words[:1] == ["dynamic-bootp"]:
            self.skip(statement, "dynamic BOOTP ranges cannot be in a failover pool")
            return None
        start, end = ([*words, words[0]])[:2] if words else (None, None)
        if start and end and _address(start) and _address(end):
            return {"start": start, "end": end}
        self.skip(statement, "a range the importer cannot read")
        return None

    def shared_network(self, statement: Statement, scope: _Scope) -> None:
        name = _class_name(statement.words[1].text) if len(statement.words) > 1 else "shared"
        shared: dict[str, Any] = {"name": name, "subnets": []}
        inner = _Scope(dict(scope.subnet), dict(scope.options))
        for child in statement.block or []:
            if child.head[:1] == ["subnet"] and child.block is not None:
                continue
            if child.head[:1] == ["pool"] and child.block is not None:
                self.loose_pools.append((child.line, self.pool(child)))
            elif child.block is None and self.scoped(child, inner.subnet, inner.options):
                continue
            else:
                self.skip(child, "not mapped in a shared network")
        for child in statement.block or []:
            if child.head[:1] == ["subnet"] and child.block is not None:
                self.subnet(child, inner, shared)
        self.shared.append(shared)

    def host(self, statement: Statement, scope: _Scope) -> None:
        name = statement.words[1].text if len(statement.words) > 1 else "host"
        host: dict[str, Any] = {"name": name}
        options: dict[str, Any] = {}
        ignored: dict[str, Any] = {}
        for child in statement.block or []:
            head = child.head
            if head[:2] == ["hardware", "ethernet"] and len(head) == 3:
                host["mac"] = ":".join(part.zfill(2) for part in head[2].split(":")).lower()
            elif head[:1] == ["fixed-address"] and len(head) == 2 and _address(head[1]):
                host["address"] = head[1]
            elif head[:1] == ["option"] and child.block is None:
                self.option(child, ignored, options)
                for key in ignored:
                    self.skip(child, f"a host's {key} is not in the model (only its options are)")
                ignored.clear()
            else:
                self.skip(child, "not mapped in a host")
        if "mac" not in host or "address" not in host:
            self.skip(statement, "a host without a MAC address and a fixed IP address is not a reservation")
            return
        if options:
            host["options"] = options
        self.hosts.append((statement.line, host))

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
                self.unmapped.append((child.line, "secret ...;", "never imported: `keys` generates the pipeline's own"))
            else:
                self.skip(child, "not mapped in a key")


def _clean(text: str, length: int) -> str:
    """A name as the model accepts it: lower-case letters, digits and inner '-'."""
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")[:length].strip("-")
    return cleaned if len(cleaned) >= 2 and cleaned[0].isalpha() else f"x-{cleaned}".strip("-")[:length]


def _class_name(text: str) -> str:
    return _clean(text, 40)


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


def _class_match(statement: Statement) -> dict[str, Any] | None:
    text = " ".join(t.text if not t.quoted else f'"{t.text}"' for t in statement.words)
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


Imported = tuple[dict[str, Any], list[tuple[int, str, str]], list[str]]


class PeerConfigError(ConfigImportError):
    """The peer's file, not the server's own, is the one that is not a dhcpd.conf."""


def import_config(primary_text: str, peer_text: str | None = None, site_name: str | None = None) -> Imported:
    """(inventory as data, unmapped (line, statement, why), placeholders to fill in); includes
    are listed, not read (``import_trees`` takes trees that ``config_reader`` expanded)."""
    peer = parse(tokenize(peer_text)) if peer_text is not None else None
    return import_trees(parse(tokenize(primary_text)), peer, site_name)


def import_trees(primary: list[Statement], peer: list[Statement] | None = None, site_name: str | None = None,
                 *, missing_include: str = NOT_FOLLOWED) -> Imported:
    """``import_config`` for statements already read; ``missing_include`` says why an include
    statement still there was not read."""
    importers = []
    for error, tree in ((ConfigImportError, primary), (PeerConfigError, peer)):
        if tree is None:
            continue
        importer = Importer(missing_include=missing_include)
        importer.top(tree, _Scope())
        if importer.recognised == 0:
            raise error("holds no dhcpd.conf statement the importer knows; is this a dhcpd.conf?")
        importers.append(importer)
    return _assemble(importers[0], importers[1] if len(importers) > 1 else None, site_name)


def _site_settings(main: Importer) -> dict[str, Any]:
    """OMAPI, DDNS, option definitions, classes and shared networks: the site-wide sections."""
    found: dict[str, Any] = {}
    omapi = {k: v for k, v in main.omapi.items() if not k.startswith("_")}
    algorithm = main.omapi.get("_algorithms", {}).get(omapi.get("key_name", ""))
    if algorithm:
        omapi["algorithm"] = algorithm
    if omapi:
        found["omapi"] = omapi
    ddns = main.dynamic_dns_section()
    if ddns:
        found["ddns"] = ddns
    found.update(main.site)
    if main.definitions:
        found["option_definitions"] = list(main.definitions.values())
    if main.classes:
        found["classes"] = main.classes
    shared = [s for s in main.shared if len(s["subnets"]) >= 2]
    if shared:
        found["shared_networks"] = shared
    return found


def _assemble(main: Importer, peer: Importer | None, site_name: str | None) -> Imported:
    placeholders: list[str] = []
    peer_name = main.peer.get("name")
    name = site_name or _clean((peer_name or "imported").removesuffix("-failover"), 40)
    site: dict[str, Any] = {"name": name}
    for _, pool in main.loose_pools:
        holder = next((s for s in main.subnets if _address(pool.get("start", "")) and
                       ipaddress.IPv4Address(pool["start"]) in ipaddress.IPv4Network(s["network"])), None)
        if holder is not None:
            holder["pools"].append(pool)
    for line, host in main.hosts:
        holder = next((s for s in main.subnets if ipaddress.IPv4Address(host["address"]) in ipaddress.IPv4Network(s["network"])), None)
        if holder is None:
            main.unmapped.append((line, f"host {host['name']}", "its address is in no declared subnet"))
        else:
            holder.setdefault("hosts", []).append(host)
    site["members"] = _members(main, peer, placeholders)
    server_networks = {m["network"] for m in site["members"]}
    site["subnets"] = [s for s in main.subnets if s["pools"] or s.get("hosts") or s["network"] not in server_networks]
    for subnet in site["subnets"]:
        if not subnet["pools"]:
            del subnet["pools"]
    primary_block = main.peer if main.peer.get("role", "primary") == "primary" or peer is None else peer.peer
    settings = dict(primary_block.get("settings", {}))
    if peer_name and peer_name != f"{site['name']}-failover":
        settings["peer_name"] = peer_name
    if settings.get("load_balance_max_seconds") == 0:
        settings["load_balancing"] = False
        del settings["load_balance_max_seconds"]
    if settings:
        site["failover"] = settings
    site.update(_site_settings(main))
    relays = []
    for i, subnet in enumerate(s for s in site["subnets"] if s.get("pools") and s["network"] not in server_networks):
        giaddr = (subnet.get("routers") or [PLACEHOLDER])[0]
        relays.append({"name": f"relay-{i + 1}", "source_address": PLACEHOLDER,
                       "serves": [{"subnet": subnet["network"], "interface": PLACEHOLDER, "giaddr": giaddr}]})
        placeholders.append(f"relays[{i}]: source_address and the interface (and the giaddr, if no router is given)")
    if relays:
        site["relays"] = relays
    unmapped = sorted(main.unmapped)
    if peer is not None:
        unmapped += [(line, f"(peer) {text}", why) for line, text, why in sorted(peer.unmapped)]
    return {"version": 1, "sites": [site]}, unmapped, placeholders


def _members(main: Importer, peer: Importer | None, placeholders: list[str]) -> list[dict[str, Any]]:
    role = main.peer.get("role", "primary")
    other = "secondary" if role == "primary" else "primary"
    own, partner = main.peer.get("address", PLACEHOLDER), main.peer.get("peer address", PLACEHOLDER)
    if peer is not None and peer.peer.get("address") and not _address(partner):
        partner = peer.peer["address"]
    members = []
    for member_role, address, port in ((role, own, main.peer.get("port")), (other, partner, main.peer.get("peer port"))):
        entry: dict[str, Any] = {"name": f"dhcp-{member_role}", "role": member_role}
        if _address(address):
            entry["address"] = address
            known = main.subnets + (peer.subnets if peer is not None else [])
            network = next((s["network"] for s in known if ipaddress.IPv4Address(address) in ipaddress.IPv4Network(s["network"])), None)
            entry["network"] = network or PLACEHOLDER
            if network is None:
                placeholders.append(f"member dhcp-{member_role}: network (the server's own CIDR)")
        else:
            entry["address"] = PLACEHOLDER
            entry["network"] = PLACEHOLDER
            placeholders.append(f"member dhcp-{member_role}: address and network ({excerpt(address)} is not an IPv4 address)")
        if port is not None and port != (519 if member_role == "primary" else 520):
            entry["port"] = port
        members.append(entry)
    return sorted(members, key=lambda m: m["role"] != "primary")


@dataclass(frozen=True)
class BindingCoverage:
    in_pools: int
    on_hosts: int
    outside: list[tuple[str, str]]  # (address, MAC) of bindings neither pools nor hosts cover


def binding_coverage(data: dict[str, Any], bindings: list[tuple[ipaddress.IPv4Address, str]]) -> BindingCoverage:
    """Where each active binding lands in the imported inventory (``data`` as import_config made it)."""
    pools, hosts = [], {}
    for site in data.get("sites", []):
        for subnet in site.get("subnets", []):
            for pool in subnet.get("pools", []):
                if _address(pool.get("start", "")) and _address(pool.get("end", "")):
                    pools.append((ipaddress.IPv4Address(pool["start"]), ipaddress.IPv4Address(pool["end"])))
            for host in subnet.get("hosts", []):
                if _address(host.get("address", "")):
                    hosts[ipaddress.IPv4Address(host["address"])] = str(host.get("mac", "")).lower()
    in_pools = on_hosts = 0
    outside = []
    for address, mac in bindings:
        if hosts.get(address) == mac.lower():
            on_hosts += 1
        elif any(start <= address <= end for start, end in pools):
            in_pools += 1
        else:
            outside.append((str(address), mac))
    return BindingCoverage(in_pools, on_hosts, outside)
