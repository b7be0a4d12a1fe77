"""Every example and every variant renders configs that real `dhcpd -t` accepts, for both roles,
with no warning (dhcpd -t prints e.g. "load balancing will be disabled" and still exits 0)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.isc.render import OMAPI_KEY_FILE, render_dhcpd_conf, render_omapi_key
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import ServerKind
from tests.lab.member_files import dhcpd_check
from tests.support.factories import ISC_EXAMPLES, inventory_data, site_data
from tests.support.tools import require

VARIANTS: dict[str, dict[str, Any]] = {
    "guide-defaults": {},
    "hba": {"failover": {"hba": "0f" * 32}},
    "split-0": {"failover": {"split": 0}},
    "split-256": {"failover": {"split": 256}},
    "load-balancing-off": {"failover": {"load_balancing": False}},
    "all-optional-failover": {
        "failover": {
            "auto_partner_down": 300,
            "max_lease_misbalance": 15,
            "max_lease_ownership": 10,
            "min_balance": 60,
            "max_balance": 3600,
            "mclt": 10,
            "max_response_delay": 5,
            "max_unacked_updates": 100,
        }
    },
    "iana-port-on-both": {"members": [
        {"name": "lab-a", "role": "primary", "address": "10.77.1.1", "network": "10.77.1.0/24", "port": 647},
        {"name": "lab-b", "role": "secondary", "address": "10.77.1.2", "network": "10.77.1.0/24", "port": 647},
    ]},
    "no-ping-check": {"ping_check": False},
    **{f"omapi-{alg}": {"omapi": {"algorithm": alg, "key_name": "ops-key", "port": 7912}}
       for alg in ("hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512")},
    "pxe-hosts-options": {"subnets": [
        {"network": "10.77.1.0/24", "routers": ["10.77.1.254"]},
        {
            "network": "10.77.2.0/24",
            "routers": ["10.77.2.1"],
            "dns_servers": ["10.77.1.53", "10.77.1.54"],
            "domain_name": "lab.example.org",
            "ntp_servers": ["10.77.1.123"],
            "default_lease_time": 300,
            "max_lease_time": 900,
            "next_server": "10.77.1.69",
            "filename": "pxelinux.0",
            "pools": [{"start": "10.77.2.10", "end": "10.77.2.19"}, {"start": "10.77.2.30", "end": "10.77.2.39"}],
            "hosts": [{"name": "printer", "mac": "00:16:3E:00:00:01", "address": "10.77.2.5"}],
        },
    ]},
}


@pytest.mark.parametrize("overrides", VARIANTS.values(), ids=VARIANTS.keys())
def test_variant_passes_dhcpd_t_for_both_roles(tmp_path: Path, overrides: dict[str, Any]) -> None:
    site = inventory_from_data(inventory_data(site_data(**overrides))).sites[0]
    dhcpd_check(site, tmp_path)


@pytest.mark.parametrize("example", ISC_EXAMPLES, ids=[e.stem for e in ISC_EXAMPLES])
def test_example_passes_dhcpd_t_for_both_roles(tmp_path: Path, example: Path) -> None:
    for site in load_inventory(example).sites:
        if site.server is ServerKind.ISC:
            dhcpd_check(site, tmp_path / site.name)


def test_dhcpd_t_itself_misses_what_our_checks_catch(tmp_path: Path) -> None:
    """Why the model exists: dhcpd -t accepts mclt on the secondary and an unknown algorithm."""
    site = inventory_from_data(inventory_data(site_data())).sites[0]
    conf = render_dhcpd_conf(site, site.secondary, root=str(tmp_path)).replace(
        "load balance max seconds 3;", "load balance max seconds 3;\n  mclt 3600;"
    )
    (tmp_path / "bad.conf").write_text(conf)
    key = tmp_path / OMAPI_KEY_FILE.lstrip("/")
    key.parent.mkdir(parents=True)
    key.write_text(render_omapi_key(site, "c2VjcmV0").replace("hmac-sha256", "hmac-bogus"))
    result = subprocess.run([require("dhcpd"), "-4", "-t", "-cf", str(tmp_path / "bad.conf")], capture_output=True)
    assert result.returncode == 0
