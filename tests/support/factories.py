"""Small inventories for tests, built as plain data (what a user would write in YAML)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def _isc_sites(path: Path) -> list[str]:
    return [site["name"] for site in yaml.safe_load(path.read_text())["sites"] if site.get("server", "isc") == "isc"]


# Examples with at least one ISC site (examples/kea.yaml has none), for the dhcpd.conf tests.
ISC_EXAMPLES = [path for path in EXAMPLES if _isc_sites(path)]


def site_data(name: str = "lab", **overrides: Any) -> dict[str, Any]:
    """A valid one-pair site in 10.77.0.0/16 (the address range the netns lab uses)."""
    site: dict[str, Any] = {
        "name": name,
        "members": [
            {"name": f"{name}-a", "role": "primary", "address": "10.77.1.1", "network": "10.77.1.0/24"},
            {"name": f"{name}-b", "role": "secondary", "address": "10.77.1.2", "network": "10.77.1.0/24"},
        ],
        "subnets": [
            {
                "network": "10.77.1.0/24",
                "routers": ["10.77.1.254"],
                "pools": [{"start": "10.77.1.100", "end": "10.77.1.200"}],
            },
            {
                "network": "10.77.2.0/24",
                "routers": ["10.77.2.1"],
                "pools": [{"start": "10.77.2.100", "end": "10.77.2.200"}],
            },
        ],
        "relays": [
            {
                "name": "r1",
                "source_address": "10.77.1.254",
                "upstream_interface": "eth0",
                "serves": [{"subnet": "10.77.2.0/24", "interface": "eth1", "giaddr": "10.77.2.1"}],
            }
        ],
    }
    site.update(copy.deepcopy(overrides))
    return site


def inventory_data(*sites: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "sites": list(sites) or [site_data()]}


def write_inventory(path: Path, data: dict[str, Any] | str) -> Path:
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path
