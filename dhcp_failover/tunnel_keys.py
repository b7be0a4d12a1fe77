"""Member-made WireGuard keys: what the bootstrap needs to make the member's key, publish its
public half and wait for the partner's, and the timer that follows a partner's new key.

No WireGuard key passes through the runner, Terraform or user-data: each member runs
``wg genkey`` at first boot (the key stays on its disk) and writes only its public key to its
own SSM parameter (``secret_names.wireguard_public_key_parameter``), which the partner reads.
"""

from __future__ import annotations

from .aws import member_region
from .model import Member, Site
from .render import FileTree, RenderedFile, render_template, wireguard_paths
from .secret_names import wireguard_public_key_parameter

# The bootstrap itself in its --follow-partner-key mode (one script, not a copy of its functions:
# user-data is capped at 16 kB).
REFRESH_COMMAND = "/usr/local/sbin/dhcp-failover-bootstrap --follow-partner-key"
REFRESH_SERVICE = "/etc/systemd/system/dhcp-failover-wireguard-peer.service"
REFRESH_TIMER = "/etc/systemd/system/dhcp-failover-wireguard-peer.timer"
ENABLE_REFRESH = "systemctl enable --now dhcp-failover-wireguard-peer.timer"
# How soon a member follows its partner's new key: the tunnel is down at most this long after a
# replaced partner publishes (both sides then say communications-interrupted and serve their share).
REFRESH_PERIOD = 30


def peer_endpoint_parameter(site: Site, member: Member) -> str:
    """Where the member's tunnel endpoint (public ADDRESS:PORT) is published for its partner."""
    return f"/dhcp-failover/{site.name}/{member.name}/wireguard-endpoint"


def tunnel_values(site: Site, member: Member) -> dict[str, object] | None:
    """The values the bootstrap (and so its --follow-partner-key mode) renders with; None without a tunnel."""
    wg = site.wireguard
    if wg is None:
        return None
    partner = site.partner_of(member)
    paths = wireguard_paths(member)
    return {
        "region": member_region(member),
        "own_public_parameter": wireguard_public_key_parameter(site, member),
        "peer_public_parameter": wireguard_public_key_parameter(site, partner),
        "peer_endpoint_parameter": peer_endpoint_parameter(site, partner),
        "peer_region": member_region(partner),
        "partner_name": partner.name,
        "peer_address": wg.address(partner.role),
        "persistent_keepalive": wg.persistent_keepalive,
        "public_key_timeout": wg.public_key_timeout,
        "key_version": wg.key_version,
        "private_key_file": paths.private_key,
        "peer_public_key_file": paths.peer_public_key,
        "peer_endpoint_file": paths.peer_endpoint,
        "interface": wg.interface(member.role),
        "enable_refresh": ENABLE_REFRESH,
        "refresh_period": REFRESH_PERIOD,
    }


def refresh_files(site: Site, member: Member) -> FileTree:
    """The timer that runs the bootstrap's partner-key follower; nothing without a tunnel."""
    values = tunnel_values(site, member)
    if values is None:
        return ()
    common = {"period": REFRESH_PERIOD, "partner_name": values["partner_name"], "interface": values["interface"]}
    return (
        RenderedFile(REFRESH_SERVICE, render_template(
            "wireguard/peer-refresh.service.j2", command=REFRESH_COMMAND, timeout=REFRESH_PERIOD - 5, **common,
        )),
        RenderedFile(REFRESH_TIMER, render_template("wireguard/peer-refresh.timer.j2", **common)),
    )
