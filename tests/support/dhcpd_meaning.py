"""What a dhcpd.conf means to its clients, so that two configs can be compared by meaning rather
than by text: an original beside the config rendered from its import.

It reads the file with the importer's own reader (``config_reader``) and resolves what differs in
spelling only: options by code (the renderer names its own definitions ``df-...``), values
without list commas or case, parameters inherited from enclosing scopes (the renderer writes a
global value into every subnet), dhcpd's built-in lease times and the subnet mask and broadcast
address it derives. What it does not interpret is returned as ``other``, so a caller can check
that each such statement was listed by the importer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dhcp_failover.backends.isc.config_reader import Statement, parse, tokenize

# dhcpd's own names for the options these configs use (dhcp-options(5)).
STANDARD_CODES = {
    "subnet-mask": "1", "time-offset": "2", "routers": "3", "time-servers": "4", "domain-name-servers": "6",
    "log-servers": "7", "host-name": "12", "domain-name": "15", "root-path": "17", "interface-mtu": "26",
    "broadcast-address": "28", "ntp-servers": "42", "vendor-encapsulated-options": "43",
    "netbios-name-servers": "44", "netbios-node-type": "46", "vendor-class-identifier": "60",
    "dhcp-client-identifier": "61", "tftp-server-name": "66", "bootfile-name": "67", "user-class": "77",
    "domain-search": "119", "agent.circuit-id": "82.1", "agent.remote-id": "82.2",
}
# What dhcpd uses when a file sets no lease times (dhcpd.conf(5)).
BUILT_IN = {"default-lease-time": ("43200",), "max-lease-time": ("86400",),
            "ddns-rev-domainname": ('"in-addr.arpa"',)}
PARAMETERS = ("default-lease-time", "max-lease-time", "next-server", "filename", "ddns-domainname",
              "ddns-rev-domainname")
DOMAIN_PARAMETERS = ("ddns-domainname", "ddns-rev-domainname")
DOMAIN_CODES = {"15", "119"}

Params = dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Pool:
    start: str
    end: str
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    params: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Host:
    mac: str
    address: str
    params: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class Meaning:
    subnets: dict[str, Params] = field(default_factory=dict)
    pools: dict[str, list[Pool]] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)
    classes: dict[str, tuple[str, Params]] = field(default_factory=dict)
    shared: set[frozenset[str]] = field(default_factory=set)
    failover: dict[str, frozenset[str]] = field(default_factory=dict)
    zones: dict[str, frozenset[str]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # name -> algorithm
    other: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Scope:
    kind: str  # global, shared, subnet, group, pool, host, class
    params: Params = field(default_factory=dict)
    network: str | None = None


def meaning(text: str, *, skip_lines: Iterable[int] = ()) -> Meaning:
    """The meaning of ``text``, leaving out the statements (and whole blocks) that start on
    ``skip_lines``: what the importer listed as not mapped."""
    tree = _without(parse(tokenize(text)), set(skip_lines))
    reader = _Reader(codes=dict(STANDARD_CODES))
    reader.declare(tree)
    reader.walk(tree, [_Scope("global", dict(BUILT_IN))])
    reader.place_hosts()
    return reader.found


def handed_out(found: Meaning) -> dict[str, set[tuple[Any, ...]]]:
    """Per subnet, the addresses a client without a reservation can get, as maximal runs with
    the same allow/deny lists and parameters: how the ranges are cut into pools is spelling, and
    so is a range that covers a host's fixed address (dhcpd never hands that one out)."""
    fixed = {int(ipaddress.IPv4Address(h.address)) for h in found.hosts.values() if _is_address(h.address)}
    out: dict[str, set[tuple[Any, ...]]] = {}
    for network, pools in found.pools.items():
        by_kind: dict[tuple[Any, ...], set[int]] = {}
        for pool in pools:
            first, last = int(ipaddress.IPv4Address(pool.start)), int(ipaddress.IPv4Address(pool.end))
            by_kind.setdefault((pool.allow, pool.deny, pool.params), set()).update(range(first, last + 1))
        runs: set[tuple[Any, ...]] = set()
        for kind, addresses in by_kind.items():
            ordered = sorted(addresses - fixed)
            start = previous = None
            for address in [*ordered, None]:
                if address is not None and previous is not None and address == previous + 1:
                    previous = address
                    continue
                if start is not None and previous is not None:
                    runs.add((str(ipaddress.IPv4Address(start)), str(ipaddress.IPv4Address(previous)), *kind))
                start = previous = address
        out[network] = runs
    return out


def _is_address(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def statement_forms(text: str) -> set[str]:
    """Every statement of ``text`` at any depth in the spelling ``form`` gives it: what a listed
    statement must not be among in the rendered config."""
    tree = parse(tokenize(text))
    reader = _Reader(codes=dict(STANDARD_CODES))
    reader.declare(tree)
    return {reader.form(s) for s in _every(tree)}


def form_at(text: str, line: int) -> str:
    """The spelling ``statement_forms`` gives to the statement that starts on ``line``."""
    tree = parse(tokenize(text))
    reader = _Reader(codes=dict(STANDARD_CODES))
    reader.declare(tree)
    return next(reader.form(s) for s in _every(tree) if s.line == line)


def _every(statements: list[Statement]) -> Iterator[Statement]:
    for statement in statements:
        yield statement
        yield from _every(statement.block or [])


def _without(statements: list[Statement], lines: set[int]) -> list[Statement]:
    kept = []
    for statement in statements:
        if statement.line in lines:
            continue
        block = None if statement.block is None else _without(statement.block, lines)
        kept.append(Statement(statement.line, statement.words, block))
    return kept


@dataclass
class _Reader:
    codes: dict[str, str]
    found: Meaning = field(default_factory=Meaning)
    vendor_spaces: set[str] = field(default_factory=set)
    loose_hosts: list[tuple[str, str, str, list[_Scope]]] = field(default_factory=list)

    # -- spelling ---------------------------------------------------------------------------

    def declare(self, tree: list[Statement]) -> None:
        """Option definitions and which spaces reach clients inside option 43."""
        for statement in _every(tree):
            head = statement.head
            if head[:1] == ["option"] and "code" in head and "=" in head:
                name, code = head[1], head[head.index("code") + 1]
                kind = head[head.index("=") + 1:]
                space, _, _ = name.rpartition(".")
                if kind[:1] == ["encapsulate"] and code == "43":
                    self.vendor_spaces.add(kind[1])
                self.codes[name] = f"{space}.{code}" if space else code
            elif head[:1] == ["vendor-option-space"] and len(head) == 2:
                self.vendor_spaces.add(head[1])

    def code(self, name: str) -> str:
        found = self.codes.get(name, f"name:{name}")
        space, _, code = found.rpartition(".")
        # A space sent in option 43 is the vendor space, whatever a file calls it.
        return f"43.{code}" if space in self.vendor_spaces else found

    def words(self, statement: Statement, start: int) -> tuple[str, ...]:
        code = ""
        values: list[str] = []
        tokens = statement.words[start:]
        for i, token in enumerate(tokens):
            if token.quoted:
                text = token.text.rstrip(".") if code in DOMAIN_CODES else token.text
                values.append(f'"{text}"')
            elif token.text == ",":
                continue
            elif i > 0 and tokens[i - 1].text == "option" and not tokens[i - 1].quoted:
                values.append(self.code(token.text))
            else:
                values.append(_plain(token.text))
        return tuple(values)

    def form(self, statement: Statement) -> str:
        """A statement as words with options by code; a block with its children's forms."""
        head = statement.head
        if head[:1] == ["option"] and len(head) >= 2 and "code" not in head:
            code = self.code(head[1])
            text = " ".join(("option", code, *self.option_value(statement, code)))
        else:
            text = " ".join(self.words(statement, 0))
        if statement.block is not None:
            text += " { " + " ".join(sorted(self.form(child) for child in statement.block)) + " }"
        return text

    def option_value(self, statement: Statement, code: str) -> tuple[str, ...]:
        values = []
        for token in statement.words[2:]:
            if token.text == "," and not token.quoted:
                continue
            text = token.text.rstrip(".") if token.quoted and code in DOMAIN_CODES else token.text
            values.append(f'"{text}"' if token.quoted else _plain(text))
        return tuple(values)

    # -- scopes -----------------------------------------------------------------------------

    def parameter(self, statement: Statement, params: Params) -> bool:
        head = statement.head
        if statement.block is not None or not head:
            return False
        if head[0] == "option" and len(head) >= 3 and "code" not in head and head[1] != "space":
            code = self.code(head[1])
            params[f"option {code}"] = self.option_value(statement, code)
            return True
        if head[0] in PARAMETERS and len(head) >= 2:
            strip = head[0] in DOMAIN_PARAMETERS
            params[head[0]] = tuple(f'"{t.text.rstrip(".") if strip else t.text}"' if t.quoted else _plain(t.text)
                                    for t in statement.words[1:])
            return True
        return False

    def walk(self, statements: list[Statement], chain: list[_Scope]) -> None:
        scope = chain[-1]
        later: list[Statement] = []
        for statement in statements:
            head = statement.head
            if self.parameter(statement, scope.params) or self.declaration(statement):
                continue
            if statement.block is not None and head[:1] in (["subnet"], ["shared-network"], ["pool"],
                                                            ["group"], ["host"], ["class"]):
                later.append(statement)  # after this scope's own parameters, wherever they stand
            elif head[:2] == ["failover", "peer"] and statement.block is not None:
                self.found.failover[statement.words[2].text] = frozenset(self.form(c) for c in statement.block)
            elif head[:1] == ["zone"] and statement.block is not None and len(head) == 2:
                self.found.zones[head[1].strip('"').rstrip(".")] = frozenset(self.form(c) for c in statement.block)
            elif head[:1] == ["key"] and statement.block is not None and len(head) == 2:
                algorithms = [c.head[1].lower().rstrip(".") for c in statement.block if c.head[:1] == ["algorithm"]]
                self.found.keys[head[1].strip('"')] = algorithms[0] if algorithms else ""
            elif head[:1] in (["if"], ["elsif"], ["else"]) and statement.block is not None:
                key = "if-chain"
                scope.params[key] = (*scope.params.get(key, ()), self.form(statement))
            elif head[:1] == ["range"] and scope.kind == "subnet":
                later.append(statement)  # a range gets the subnet's parameters, even those after it
            else:
                self.found.other.append((statement.line, self.form(statement)))
        later.sort(key=lambda s: s.head[0] != "subnet")  # pools in a shared network need its subnets
        for statement in later:
            if statement.head[:1] == ["range"]:
                self.add_pool(scope.network or "", statement.head[1:], (), (), self.effective(chain))
            else:
                self.block(statement, chain)

    def declaration(self, statement: Statement) -> bool:
        head = statement.head
        return (head[:1] == ["option"] and ("code" in head or head[1:2] == ["space"])) or \
            head[:1] == ["vendor-option-space"]

    def effective(self, chain: list[_Scope]) -> Params:
        merged: Params = {}
        for scope in chain:
            merged.update(scope.params)
        return merged

    def block(self, statement: Statement, chain: list[_Scope]) -> None:
        head = statement.head
        kind = head[0]
        if kind == "subnet":
            network = str(ipaddress.IPv4Network(f"{head[1]}/{head[3]}"))
            net = ipaddress.IPv4Network(network)
            # dhcpd derives these two from the subnet unless a scope sets them.
            derived = {"option 1": (str(net.netmask),), "option 28": (str(net.broadcast_address),)}
            inherited = self.effective(chain)
            scope = _Scope("subnet", {k: v for k, v in derived.items() if k not in inherited}, network)
            self.walk(statement.block or [], [*chain, scope])
            self.found.subnets[network] = self.effective([*chain, scope])
            self.found.pools.setdefault(network, [])
            if chain[-1].kind == "shared":
                chain[-1].network = ",".join(filter(None, [chain[-1].network, network]))
        elif kind == "shared-network":
            scope = _Scope("shared")
            self.walk(statement.block or [], [*chain, scope])
            members = frozenset((scope.network or "").split(",")) - {""}
            if len(members) >= 2:
                self.found.shared.add(members)
        elif kind == "pool":
            self.pool(statement, chain)
        elif kind == "group":
            self.walk(statement.block or [], [*chain, _Scope("group")])
        elif kind == "host":
            self.host(statement, chain)
        else:
            self.client_class(statement)

    def pool(self, statement: Statement, chain: list[_Scope]) -> None:
        scope = _Scope("pool")
        allow: list[str] = []
        deny: list[str] = []
        ranges: list[list[str]] = []
        for child in statement.block or []:
            head = child.head
            if self.parameter(child, scope.params):
                continue
            if head[:3] in (["allow", "members", "of"], ["deny", "members", "of"]) and len(child.words) == 4:
                (allow if head[0] == "allow" else deny).append(child.words[3].text)
            elif head[:1] == ["range"]:
                ranges.append(head[1:])
            elif head[:2] == ["failover", "peer"]:
                continue  # the pair's split of the pool, not what a client is told
            else:
                self.found.other.append((child.line, self.form(child)))
        for words in ranges:
            holder = self.holder(words[0] if words else "") or chain[-1].network or ""
            base = self.found.subnets.get(holder) if chain[-1].kind == "shared" else None
            params = {**(base or self.effective(chain)), **scope.params}
            self.add_pool(holder, words, tuple(sorted(allow)), tuple(sorted(deny)), params)

    def add_pool(self, network: str, words: list[str], allow: tuple[str, ...], deny: tuple[str, ...],
                 params: Params) -> None:
        start, end = ([*words, *words[-1:]])[:2] if words else ("", "")
        pool = Pool(start, end, allow, deny, tuple(sorted(params.items())))
        self.found.pools.setdefault(network, []).append(pool)
        self.found.pools[network].sort(key=lambda p: (p.start, p.end))

    def holder(self, address: str) -> str | None:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return None
        return next((n for n in self.found.subnets if ip in ipaddress.IPv4Network(n)), None)

    def host(self, statement: Statement, chain: list[_Scope]) -> None:
        scope = _Scope("host")
        mac = address = ""
        for child in statement.block or []:
            head = child.head
            if self.parameter(child, scope.params):
                continue
            if head[:2] == ["hardware", "ethernet"] and len(head) == 3:
                mac = ":".join(part.zfill(2) for part in head[2].split(":")).lower()
            elif head[:1] == ["fixed-address"] and len(head) == 2:
                address = head[1]
            else:
                self.found.other.append((child.line, self.form(child)))
        name = statement.words[1].text if len(statement.words) > 1 else ""
        self.loose_hosts.append((name, mac, address, [*chain, scope]))

    def place_hosts(self) -> None:
        """A host gets its address's subnet, then its own enclosing groups, then itself."""
        for name, mac, address, chain in self.loose_hosts:
            subnet = self.holder(address)
            below = [s for s in chain if s.kind in ("group", "host")]
            base = self.found.subnets.get(subnet, {}) if subnet else self.effective(chain[:1])
            params = {**base, **self.effective(below)}
            self.found.hosts[name] = Host(mac, address, tuple(sorted(params.items())))

    def client_class(self, statement: Statement) -> None:
        scope = _Scope("class")
        match = ""
        for child in statement.block or []:
            if child.head[:2] == ["match", "if"]:
                match = _unwrap(" ".join(self.words(child, 2)))
            elif not self.parameter(child, scope.params):
                self.found.other.append((child.line, self.form(child)))
        name = statement.words[1].text if len(statement.words) > 1 else ""
        self.found.classes[name] = (match, scope.params)


def _plain(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return text.lower() if re.fullmatch(r"[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})+", text) else text


def _unwrap(expression: str) -> str:
    """An expression without the parentheses around all of it, however many pairs."""
    while expression.startswith("( ") and expression.endswith(" )") and _balanced(expression[2:-2]):
        expression = expression[2:-2]
    return expression


def _balanced(text: str) -> bool:
    depth = 0
    for token in text.split(" "):
        depth += (token == "(") - (token == ")")
        if depth < 0:
            return False
    return depth == 0
