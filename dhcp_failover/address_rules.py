"""Which IPv4 ranges may hold what. Shared by the site checks and each backend's own checks,
so OMAPI's admin networks and Kea's control-agent admin networks obey the same rules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from ipaddress import IPv4Network

# A control channel (OMAPI, Kea's control agent) can shut a member down or force partner-down:
# it is reachable from private admin networks of at most this size (a /8), never from a public
# range unless the backend allows a stated reason.
MIN_ADMIN_PREFIX = 8
PRIVATE_NETWORKS = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Ranges where no DHCP server, client subnet, relay or admin network can be.
UNUSABLE_NETWORKS = {
    IPv4Network("0.0.0.0/8"): "'this network' (0.0.0.0/8)",
    IPv4Network("127.0.0.0/8"): "loopback",
    IPv4Network("169.254.0.0/16"): "link-local",
    IPv4Network("224.0.0.0/4"): "multicast",
    IPv4Network("240.0.0.0/4"): "reserved (240.0.0.0/4)",
}


def unusable(net: IPv4Network) -> str | None:
    """Why ``net`` cannot be used, as "in the ... range", or None."""
    for block, what in UNUSABLE_NETWORKS.items():
        if net.overlaps(block):
            return f"in the {what} range"
    return None


def is_private(net: IPv4Network) -> bool:
    return any(net.subnet_of(private) for private in PRIVATE_NETWORKS)


def admin_network_problems(
    field: str,
    networks: Iterable[IPv4Network],
    *,
    channel: str,
    public_allowed_by: str | None = None,
    public_allowed: bool = False,
) -> Iterator[tuple[str, str]]:
    """(``field[i]``, message) for each admin network a control channel must not admit.

    ``channel`` names what the networks reach ("OMAPI"). A public network passes only when
    ``public_allowed``; ``public_allowed_by`` names the setting that allows it (None: the
    backend never admits a public network).
    """
    for i, net in enumerate(networks):
        here = f"{field}[{i}]"
        if net.prefixlen == 0:
            yield here, f"{net} opens {channel} to everyone; list only your admin networks"
        elif net.prefixlen < MIN_ADMIN_PREFIX:
            yield here, f"{net} is larger than a /{MIN_ADMIN_PREFIX}: {channel} controls the pair; list only your admin networks"
        elif (why := unusable(net)) is not None:
            yield here, f"{net} is {why}; list the networks your operators connect from"
        elif not is_private(net) and not public_allowed:
            hint = f", or set {public_allowed_by}" if public_allowed_by else ""
            yield here, f"{net} is not a private (RFC 1918) network; list private admin networks{hint}"
