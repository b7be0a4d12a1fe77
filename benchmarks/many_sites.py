"""Generates an N-site inventory (one pair per site, two relayed subnets each) for benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REGIONS = ("eu-west-1", "eu-west-2", "eu-central-1", "us-east-1")


def site(i: int) -> dict[str, Any]:
    region = REGIONS[i % len(REGIONS)]
    a, b = divmod(i, 200)
    servers = f"10.{100 + a}.{b}"  # /24 for the servers: 10.100.0.0 - 10.109.x
    clients = f"10.{200 + a}.{b}"  # /24 for clients
    placement = {"region": region, "ami": "ami-0123456789abcdef0"}
    return {
        "name": f"site-{i:03d}",
        "members": [
            {"name": f"s{i:03d}-a", "role": "primary", "address": f"{servers}.10", "network": f"{servers}.0/25",
             "placement": {**placement, "availability_zone": f"{region}a"}},
            {"name": f"s{i:03d}-b", "role": "secondary", "address": f"{servers}.140", "network": f"{servers}.128/25",
             "placement": {**placement, "availability_zone": f"{region}b"}},
        ],
        "subnets": [
            {"network": f"{clients}.0/25", "routers": [f"{clients}.1"], "dns_servers": [f"{servers}.2"],
             "pools": [{"start": f"{clients}.20", "end": f"{clients}.120"}]},
            {"network": f"{clients}.128/25", "routers": [f"{clients}.129"],
             "pools": [{"start": f"{clients}.140", "end": f"{clients}.250"}]},
        ],
        "relays": [
            {"name": f"r{i:03d}", "source_address": f"{clients}.1",
             "serves": [{"subnet": f"{clients}.0/25", "interface": "Vlan10", "giaddr": f"{clients}.1"},
                        {"subnet": f"{clients}.128/25", "interface": "Vlan20", "giaddr": f"{clients}.129"}]},
        ],
    }


def inventory(count: int) -> dict[str, Any]:
    return {"version": 1, "sites": [site(i) for i in range(count)]}


def write(path: Path, count: int) -> Path:
    path.write_text(yaml.safe_dump(inventory(count), sort_keys=False))
    return path


if __name__ == "__main__":
    write(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 100)
