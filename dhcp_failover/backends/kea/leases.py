"""ISC -> Kea: the active bindings of a dhcpd.leases file as Kea's memfile CSV, so that a site
switched to Kea keeps every client's address.

dhcpd appends a new record for each change, so the last record of an address is its state; only
``binding state active`` with an end in the future is a binding worth keeping. Each lease keeps
its start (Kea's cltt = expire - valid_lifetime) and end, and goes to the Kea subnet id its
address falls in (inventory order, as ``render`` numbers them on both members).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Any

from ...model import Site
from ...releases import KeaSeries
from ..isc.leases import IscBinding as Binding
from ..isc.leases import LeaseFileError, merged_bindings

# Kea's memfile lease4 header per series, as that Kea writes it: Kea 2.2's schema 2.1, and Kea
# 3.0's schema 3.0 (a pool_id column; 3.0 warns DHCPSRV_MEMFILE_NEEDS_UPGRADING on a 2.1 header).
MEMFILE_HEADER = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"
MEMFILE_HEADERS = {KeaSeries.KEA_2_2: MEMFILE_HEADER, KeaSeries.KEA_3_0: MEMFILE_HEADER + ",pool_id"}


class LeaseConversionError(LeaseFileError):
    """The lease file cannot be converted; one line naming what and where."""


def memfile_csv(site: Site, bindings: list[Binding]) -> str:
    """Kea's memfile for ``bindings``: the same file goes to both members before their start."""
    series = site.kea_pin.series if site.kea_pin is not None else KeaSeries.KEA_2_2
    lines = [MEMFILE_HEADERS[series]]
    # Pool 0: the subnet's (Kea 3.0 reads a pool id only from pools that declare one; ours do not).
    pool_id = ["0"] if series is KeaSeries.KEA_3_0 else []
    for binding in bindings:
        subnet_id = _subnet_id(site, binding.address)
        valid = max(1, binding.ends - binding.starts)
        lines.append(",".join([
            str(binding.address), binding.mac, binding.client_id, str(valid), str(binding.ends), str(subnet_id),
            "0", "0", binding.hostname, "0", "", *pool_id,
        ]))
    return "\n".join(lines) + "\n"


def _subnet_id(site: Site, address: IPv4Address) -> int:
    for index, subnet in enumerate(site.subnets, start=1):
        if address in subnet.network:
            return index
    raise LeaseConversionError(
        f"lease {address}: in none of site {site.name!r}'s subnets; add its subnet to the inventory first"
    )


def converted(site: Site, texts: Iterator[str] | list[str], now: float | None = None) -> tuple[str, int]:
    """The memfile for one or both members' lease files (the later end wins per address),
    and how many bindings it holds."""
    bindings = merged_bindings(texts, now)
    return memfile_csv(site, bindings), len(bindings)


def lease_arguments(site: Site, bindings: list[Binding]) -> list[dict[str, Any]]:
    """The bindings as ``lease4-update`` arguments for a running member: the same lease the memfile
    would hold (address, client, subnet id, lifetime, end). ``force-create`` makes the load
    idempotent: a second run rewrites each lease with the same values."""
    out = []
    for binding in bindings:
        lease: dict[str, Any] = {
            "ip-address": str(binding.address),
            "hw-address": binding.mac,
            "subnet-id": _subnet_id(site, binding.address),
            "valid-lft": max(1, binding.ends - binding.starts),
            "expire": binding.ends,
            "force-create": True,
        }
        if binding.client_id:
            lease["client-id"] = binding.client_id
        if binding.hostname:
            lease["hostname"] = binding.hostname
        out.append(lease)
    return out


def bindings_for(site: Site, texts: Iterator[str] | list[str], now: float | None = None) -> list[Binding]:
    """The active bindings of one or both members' lease files (the later end wins), each checked
    to fall in one of the site's subnets."""
    bindings = merged_bindings(texts, now)
    for binding in bindings:
        _subnet_id(site, binding.address)
    return bindings
