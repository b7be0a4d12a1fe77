"""cdktf constructs for DHCP failover pairs; only ``main.py`` imports them (never the CLI).

The construct classes are exported lazily: ``from dhcp_failover.constructs import
DhcpFailoverPair`` loads cdktf and the provider bindings, while the pure modules
(``rules``, ``naming``, ``layout``) stay importable without them.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DhcpFailoverPair": "pair",
    "DhcpFailoverPairProps": "pair",
    "DhcpServer": "server",
    "DhcpServerProps": "server",
    "DhcpSecurityGroups": "security_groups",
    "DhcpSecurityGroupsProps": "security_groups",
    "FlowLogs": "flow_logs",
    "FlowLogsProps": "flow_logs",
    "ServerRole": "server_role",
    "ServerRoleProps": "server_role",
    "SiteKey": "key",
    "SiteKeyProps": "key",
    "SiteNetwork": "network",
    "SiteNetworkProps": "network",
    "SiteParameters": "parameters",
    "SiteParametersProps": "parameters",
    "SiteRegion": "region",
    "SiteRegionProps": "region",
    "LocalAwsApi": "layout",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605  (the lazy table above is the one list of exports)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
