"""`import --dhcpd6-conf` turns a dhcpd6.conf (one that the real ``dhcpd -6 -t`` accepts) into
the site's dhcpv6 section: subnet6, range6, prefix6, host with fixed-address6/fixed-prefix6,
options and lifetimes map; everything else is listed with its line; placeholders fail validate
until filled in, and the filled-in inventory renders a kea-dhcp6.conf."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.backends.kea.render6 import dhcp6_config
from dhcp_failover.errors import InventoryError
from dhcp_failover.inventory import inventory_from_data
from tests.support.factories import REPO

DHCPD6_CONF = """\
# A campus's dhcpd -6 configuration.
preferred-lifetime 3000;
default-lease-time 6000;
option dhcp6.name-servers 2001:db8:60::53, 2001:db8:60::54;
option dhcp6.domain-search "campus.example.com", "example.com";
option dhcp6.info-refresh-time 21600;
authoritative;
shared-network floor-1 {
  subnet6 2001:db8:61::/64 {
    range6 2001:db8:61::1:0 2001:db8:61::1:ffff;
    range6 2001:db8:61:0:8000::/65 temporary;
    prefix6 2001:db8:6100:: 2001:db8:61ff:ff00:: /56;
    option dhcp6.sntp-servers 2001:db8:60::123;
    option dhcp6.rapid-commit;
  }
}
subnet6 2001:db8:62::/64 {
  range6 2001:db8:62::100/120;
  default-lease-time 3600;
  preferred-lifetime 1800;
}
host printer-1 {
  host-identifier option dhcp6.client-id 00:03:00:01:00:16:3e:61:00:20;
  fixed-address6 2001:db8:61::20;
}
host floor-3-router {
  host-identifier option dhcp6.client-id 00:03:00:01:00:16:3e:61:00:30;
  fixed-prefix6 2001:db8:6300:300::/56;
}
host old-laptop {
  hardware ethernet 00:16:3e:61:00:40;
  fixed-address6 2001:db8:61::40;
}
"""
DHCPD_CONF = """\
subnet 10.61.0.0 netmask 255.255.252.0 {
  option routers 10.61.0.1;
  pool { range 10.61.1.0 10.61.3.254; }
}
"""


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    folder = tmp_path_factory.mktemp("import6")
    (folder / "dhcpd.conf").write_text(DHCPD_CONF)
    (folder / "dhcpd6.conf").write_text(DHCPD6_CONF)
    result = subprocess.run(
        [sys.executable, "-m", "dhcp_failover", "import", "--dhcpd-conf", str(folder / "dhcpd.conf"),
         "--dhcpd6-conf", str(folder / "dhcpd6.conf"), "--site", "campus", "--out", str(folder / "campus.yaml")],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((folder / "campus.yaml").read_text()), result.stdout


def test_the_sample_is_a_dhcpd6_conf_dhcpd_accepts(tmp_path: Path) -> None:
    conf = tmp_path / "dhcpd6.conf"
    conf.write_text(DHCPD6_CONF)
    result = subprocess.run(["dhcpd", "-6", "-t", "-cf", str(conf), "-lf", str(tmp_path / "leases")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr[-1500:]


def test_subnets_pools_prefixes_hosts_options_and_lifetimes_map(imported: tuple[dict[str, Any], str]) -> None:
    data, _ = imported
    v6 = data["sites"][0]["dhcpv6"]
    first, second = v6["subnets"]
    assert first == {
        "network": "2001:db8:61::/64",
        "preferred_lifetime": 3000, "valid_lifetime": 6000,
        "dns_servers": ["2001:db8:60::53", "2001:db8:60::54"],
        "domain_search": ["campus.example.com", "example.com"],
        "information_refresh_time": 21600,
        "sntp_servers": ["2001:db8:60::123"], "rapid_commit": True,
        "pools": [{"start": "2001:db8:61::1:0", "end": "2001:db8:61::1:ffff"}],
        "pd_pools": [{"prefix": "2001:db8:6100::/40", "delegated_length": 56}],
        "hosts": [
            {"name": "printer-1", "duid": "00:03:00:01:00:16:3e:61:00:20", "address": "2001:db8:61::20"},
            {"name": "floor-3-router", "duid": "00:03:00:01:00:16:3e:61:00:30", "prefix": "2001:db8:6300:300::/56"},
        ],
    }
    assert second["pools"] == [{"start": "2001:db8:62::100", "end": "2001:db8:62::1ff"}]
    assert (second["valid_lifetime"], second["preferred_lifetime"]) == (3600, 1800)


def test_what_does_not_map_is_listed_by_line(imported: tuple[dict[str, Any], str]) -> None:
    _, out = imported
    listed = [line for line in out.splitlines() if line.startswith("not mapped:") and "dhcpd6.conf" in line]
    assert any("line 7:" in line and "authoritative" in line for line in listed), out
    assert any("line 11:" in line and "temporary" in line for line in listed), out
    assert any("hardware ethernet" in line for line in listed), out
    assert any("old-laptop" in line and "reserves by DUID" in line for line in listed), out


def test_placeholders_fail_validate_until_filled_in_then_it_renders(imported: tuple[dict[str, Any], str]) -> None:
    data, out = imported
    assert "fill in: dhcpv6.members[0]" in out and "fill in: server: kea" in out
    with pytest.raises(InventoryError, match="FILL IN"):
        inventory_from_data(data)
    site = data["sites"][0]
    site["server"] = "kea"
    site.pop("ping_check", None)
    for i, member in enumerate(site["members"]):
        member.update(address=f"10.60.1.{10 + i}", network="10.60.1.0/24", port=None, placement={
            "region": "eu-west-1", "subnet_id": "subnet-0123456789abcdef0", "vpc_id": "vpc-0123456789abcdef0",
            "ami": "ami-0123456789abcdef0"})
        member.pop("port")
    site.pop("failover", None)
    site.pop("omapi", None)
    site["relays"] = [{"name": "core", "source_address": "10.60.1.1",
                       "serves": [{"subnet": "10.61.0.0/22", "interface": "eth1", "giaddr": "10.61.0.1"}]}]
    with pytest.raises(InventoryError, match=r"dhcpv6.members\[0\].address: 'FILL IN' must be an IPv6 address"):
        inventory_from_data(data)
    site["dhcpv6"]["members"] = [
        {"member": m["name"], "address": f"2001:db8:60:1::{10 + i}", "network": "2001:db8:60:1::/64"}
        for i, m in enumerate(site["members"])]
    site["dhcpv6"]["relays"] = [{"name": "core", "source_address": "2001:db8:60:1::1", "upstream_interface": "eth0",
                                 "serves": [{"subnet": s["network"], "interface": f"eth{2 + k}",
                                             "link_address": s["network"].replace("::/64", "::1")}
                                            for k, s in enumerate(site["dhcpv6"]["subnets"])]}]
    filled = inventory_from_data(data).sites[0]
    config = dhcp6_config(filled, filled.primary)["Dhcp6"]
    assert [s["subnet"] for s in config["subnet6"]] == ["2001:db8:61::/64", "2001:db8:62::/64"]
    assert [r["duid"] for r in config["subnet6"][0]["reservations"]] == [
        "00:03:00:01:00:16:3e:61:00:20", "00:03:00:01:00:16:3e:61:00:30"]
