"""ISC dhcpd's lease file: the bindings that are active now, for whatever must carry them over
(the switch to Kea, an import that checks which clients would keep their addresses).

dhcpd appends a new record for each change, so the last record of an address is its state; only
``binding state active`` with an end in the future is a binding worth keeping.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address

_LEASE = re.compile(r"^lease (\S+) \{(.*?)^\}", re.M | re.S)
_DATE = re.compile(r"^\s+(starts|ends) (?:\d (\S+ \S+)|never);", re.M)
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


class LeaseFileError(ValueError):
    """A dhcpd.leases file cannot be read; one line naming what and where."""


@dataclass(frozen=True)
class IscBinding:
    address: IPv4Address
    mac: str
    client_id: str  # colon hex, "" when the client sent none
    starts: int  # epoch seconds
    ends: int
    hostname: str


def active_bindings(text: str, now: float | None = None) -> list[IscBinding]:
    """Every address whose last record is an active lease that has not ended, by address."""
    now = time.time() if now is None else now
    last: dict[str, str] = {}
    for address, body in _LEASE.findall(text):
        last[address] = body
    bindings = []
    for address, body in last.items():
        state = re.search(r"^\s+binding state (\S+);", body, re.M)
        if not state or state.group(1) != "active":
            continue
        binding = _binding(address, body)
        if binding.ends > now:
            bindings.append(binding)
    return sorted(bindings, key=lambda b: b.address)


def _binding(address: str, body: str) -> IscBinding:
    try:
        ip = IPv4Address(address)
    except ValueError:
        raise LeaseFileError(f"lease {address[:40]!r}: not an IPv4 address") from None
    mac = re.search(r"^\s+hardware ethernet ([0-9a-fA-F:]{17});", body, re.M)
    if mac is None:
        raise LeaseFileError(f"lease {address}: active but has no 'hardware ethernet'")
    dates = {kind: _epoch(value, address) for kind, value in _DATE.findall(body)}
    if "starts" not in dates or "ends" not in dates:
        raise LeaseFileError(f"lease {address}: active but lacks 'starts' or 'ends'")
    uid = re.search(r'^\s+uid "((?:[^"\\]|\\.)*)";', body, re.M)
    hostname = re.search(r'^\s+client-hostname "([^"]*)";', body, re.M)
    return IscBinding(
        address=ip,
        mac=mac.group(1).lower(),
        client_id=_uid_hex(uid.group(1)) if uid else "",
        starts=dates["starts"],
        ends=dates["ends"],
        hostname=hostname.group(1) if hostname and _HOST_NAME.match(hostname.group(1)) else "",
    )


def _epoch(value: str, address: str) -> int:
    if not value:  # "never"
        return 2**31 - 1
    try:
        return calendar.timegm(time.strptime(value, "%Y/%m/%d %H:%M:%S"))
    except ValueError:
        raise LeaseFileError(f"lease {address}: unreadable date {value!r}") from None


def _uid_hex(quoted: str) -> str:
    """dhcpd writes a uid as a C string: printable bytes as they are, others as \\ooo."""
    out = bytearray()
    i = 0
    while i < len(quoted):
        if quoted[i] == "\\" and re.fullmatch(r"[0-7]{3}", quoted[i + 1 : i + 4]):
            out.append(int(quoted[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        elif quoted[i] == "\\" and i + 1 < len(quoted):
            out.append(ord(quoted[i + 1]))
            i += 2
        else:
            out.append(ord(quoted[i]) & 0xFF)
            i += 1
    return ":".join(f"{b:02x}" for b in out)


def merged_bindings(texts: Iterable[str], now: float | None = None) -> list[IscBinding]:
    """The active bindings of one or both members' lease files (the later end wins), by address."""
    merged: dict[IPv4Address, IscBinding] = {}
    for text in texts:
        for binding in active_bindings(text, now):
            known = merged.get(binding.address)
            if known is None or binding.ends > known.ends:
                merged[binding.address] = binding
    return [merged[a] for a in sorted(merged)]
