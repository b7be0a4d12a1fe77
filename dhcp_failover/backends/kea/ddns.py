"""Dynamic DNS on Kea: kea-dhcp4 hands each lease's name change to kea-dhcp-ddns (D2) on the
same member, and D2 signs the updates with the site's TSIG keys and sends them to the zones'
servers. The same safety as ISC's ``ddns`` under failover: the server updates, never the client
(a client's own update would race the partner's); D2's conflict resolution (DHCID records) keeps
a client from taking another's name; each renewal re-registers, so a member that took over
registers the leases it renews.

Kea 2.2's D2 reads TSIG secrets only from its config file, so that file is written by the
bootstrap at boot, with the secrets from SSM (``d2_config`` with shell variables for them), and
is never part of the rendered tree or user-data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...ddns import Ddns, DdnsZone
from ...model import Site
from ...render import BANNER

D2_CONF = "/etc/kea/kea-dhcp-ddns.conf"
D2_DROP_IN = "/etc/systemd/system/kea-dhcp-ddns-server.service.d/dhcp-failover.conf"
# On a monitored member D2 also logs to a file the reporter ships, beside kea-dhcp4's.
D2_LOG = "/var/log/kea/kea-dhcp-ddns.log"
# D2 listens for name change requests on the member's loopback only: kea-dhcp4 is its one client.
D2_ADDRESS = "127.0.0.1"
D2_PORT = 53001


def _fqdn(name: str) -> str:
    return name.rstrip(".") + "."


def dhcp4_settings(ddns: Ddns) -> dict[str, Any]:
    """The kea-dhcp4 globals that turn updates on and make them safe under failover."""
    return {
        "dhcp-ddns": {
            "enable-updates": True, "server-ip": D2_ADDRESS, "server-port": D2_PORT,
            "ncr-protocol": "UDP", "ncr-format": "JSON",
        },
        "ddns-send-updates": True,
        # The server updates, never the client: both for clients asking to update themselves
        # (FQDN S flag) and those asking for no update at all (N flag), as dhcpd's
        # ``ignore client-updates``.
        "ddns-override-client-update": True,
        "ddns-override-no-update": True,
        # A client's own name (option 12 or 81) is used; one without a name is not registered.
        "ddns-replace-client-name": "never",
        "ddns-qualifying-suffix": _fqdn(ddns.domain_name),
        # dhcpd's ``update-optimization false``: re-register on every renewal.
        "ddns-update-on-renew": True,
        # dhcpd's ``update-conflict-detection true``: DHCID records guard names.
        "ddns-use-conflict-resolution": True,
    }


def d2_config(site: Site, secrets: Mapping[str, str]) -> dict[str, Any]:
    """kea-dhcp-ddns.conf: ``secrets`` maps each TSIG key name to its base64 secret (or, for the
    bootstrap, to the shell variable that holds it)."""
    assert site.ddns is not None
    forward = [z for z in site.ddns.zones if not _fqdn(z.name).endswith(".in-addr.arpa.")]
    reverse = [z for z in site.ddns.zones if _fqdn(z.name).endswith(".in-addr.arpa.")]
    return {
        "DhcpDdns": {
            "comment": BANNER,
            "ip-address": D2_ADDRESS,
            "port": D2_PORT,
            "tsig-keys": [
                {"name": key.name, "algorithm": key.algorithm.value.upper(), "secret": secrets[key.name]}
                for key in site.ddns.keys
            ],
            "forward-ddns": {"ddns-domains": [_domain(zone) for zone in forward]},
            "reverse-ddns": {"ddns-domains": [_domain(zone) for zone in reverse]},
            "loggers": [{"name": "kea-dhcp-ddns", "output_options": _log_outputs(site), "severity": "INFO"}],
        }
    }


def _domain(zone: DdnsZone) -> dict[str, Any]:
    # D2 tries the servers in order: the zone's primary, then its secondary.
    return {
        "name": _fqdn(zone.name),
        "key-name": zone.key,
        "dns-servers": [{"ip-address": str(server), "port": 53} for server in zone.servers],
    }


def _log_outputs(site: Site) -> list[dict[str, Any]]:
    # stdout reaches the journal; Debian's unit makes /var/log/kea (LogsDirectory=kea) for _kea.
    outputs: list[dict[str, Any]] = [{"output": "stdout"}]
    if site.monitoring is not None:
        outputs.append({"output": D2_LOG, "maxsize": 10_485_760, "maxver": 4})
    return outputs
