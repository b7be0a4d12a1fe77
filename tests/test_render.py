"""Rendering: the ISC guide's peer blocks per role, pools naming the peer, OMAPI with a key kept
out of the config, chrony, relays to both servers; golden files for every example."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.isc.render import render_dhcpd_conf, render_member
from dhcp_failover.host_files import render_inventory
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import Role, Site
from dhcp_failover.render import render_relay
from tests.support.factories import EXAMPLES, REPO, inventory_data, site_data

GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def lab_site(**overrides: Any) -> Site:
    return inventory_from_data(inventory_data(site_data(**overrides))).sites[0]


def peer_block(conf: str) -> str:
    match = re.search(r'failover peer "[^"]+" \{\n(.*?)\n\}', conf, re.S)
    assert match, conf
    return match.group(1)


def test_primary_peer_block_is_the_guides() -> None:
    site = lab_site()
    block = peer_block(render_dhcpd_conf(site, site.primary))
    assert [line.strip() for line in block.splitlines()] == [
        "primary;",
        "address 10.77.1.1;",
        "port 519;",
        "peer address 10.77.1.2;",
        "peer port 520;",
        "max-response-delay 60;",
        "max-unacked-updates 10;",
        "load balance max seconds 3;",
        "mclt 3600;",
        "split 128;",
    ]


def test_secondary_peer_block_has_no_mclt_or_split() -> None:
    site = lab_site()
    block = peer_block(render_dhcpd_conf(site, site.secondary))
    assert [line.strip() for line in block.splitlines()] == [
        "secondary;",
        "address 10.77.1.2;",
        "port 520;",
        "peer address 10.77.1.1;",
        "peer port 519;",
        "max-response-delay 60;",
        "max-unacked-updates 10;",
        "load balance max seconds 3;",
    ]


def test_hba_replaces_split_on_the_primary_only() -> None:
    site = lab_site(failover={"hba": "F" * 32 + "0" * 32})
    primary = peer_block(render_dhcpd_conf(site, site.primary))
    assert "hba " + ":".join(["ff"] * 16 + ["00"] * 16) + ";" in primary
    assert "split" not in primary
    assert "hba" not in render_dhcpd_conf(site, site.secondary)


def test_disabled_load_balancing_is_explicit_zero() -> None:
    site = lab_site(failover={"load_balancing": False})
    assert "load balance max seconds 0;" in render_dhcpd_conf(site, site.primary)


def test_optional_failover_settings_are_rendered_when_set() -> None:
    site = lab_site(failover={"auto_partner_down": 30, "max_lease_misbalance": 20, "max_lease_ownership": 5})
    conf = render_dhcpd_conf(site, site.secondary)
    for line in ("auto-partner-down 30;", "max-lease-misbalance 20;", "max-lease-ownership 5;"):
        assert line in conf


def test_every_pool_names_the_peer_and_denies_dynamic_bootp() -> None:
    site = lab_site(failover={"peer_name": "lab-pair"})
    conf = render_dhcpd_conf(site, site.primary)
    pools = re.findall(r"pool \{(.*?)\}", conf, re.S)
    assert len(pools) == 2
    for pool in pools:
        assert 'failover peer "lab-pair";' in pool
        assert "deny dynamic bootp clients;" in pool


def test_peer_name_defaults_to_the_site() -> None:
    site = lab_site()
    assert 'failover peer "lab-failover" {' in render_dhcpd_conf(site, site.primary)


def test_omapi_key_is_included_from_a_file_not_inlined() -> None:
    site = lab_site(omapi={"algorithm": "hmac-sha512", "key_name": "ops"})
    conf = render_dhcpd_conf(site, site.primary, root="/scratch/lab-a")
    assert 'include "/scratch/lab-a/etc/dhcp/omapi.key";' in conf
    assert "omapi-port 7911;" in conf and "omapi-key ops;" in conf
    assert "secret \"" not in conf and "algorithm" not in conf


def test_each_member_declares_its_own_network_even_without_clients_there() -> None:
    data = site_data()
    data["members"][1].update(address="10.77.4.2", network="10.77.4.0/24")
    site = inventory_from_data(inventory_data(data)).sites[0]
    assert "subnet 10.77.4.0 netmask 255.255.255.0 {\n}" in render_dhcpd_conf(site, site.secondary)
    assert "10.77.4.0" not in render_dhcpd_conf(site, site.primary)


def test_both_members_declare_every_relayed_subnet() -> None:
    site = lab_site()
    for member in site.members:
        assert "subnet 10.77.2.0 netmask 255.255.255.0 {" in render_dhcpd_conf(site, member)


def test_member_tree_has_dhcpd_defaults_and_chrony() -> None:
    site = lab_site(clock={"ntp_servers": ["10.77.1.123", "time.example.net"]})
    tree = {f.path: f for f in render_member(site, site.primary)}
    assert sorted(tree) == ["/etc/chrony/chrony.conf", "/etc/default/isc-dhcp-server", "/etc/dhcp/dhcpd.conf"]
    chrony = tree["/etc/chrony/chrony.conf"].content
    assert "server 10.77.1.123 iburst" in chrony and "server time.example.net iburst" in chrony
    defaults = tree["/etc/default/isc-dhcp-server"].content
    assert "ip -o -4 addr show to 10.77.1.1/32" in defaults  # no hard-coded interface name
    assert 'INTERFACESv6=""' in defaults


def test_default_clock_is_the_amazon_time_sync_service() -> None:
    site = lab_site()
    chrony = render_member(site, site.primary)[2].content
    assert re.findall(r"^server (\S+)", chrony, re.M) == ["169.254.169.123"]


def test_linux_relay_forwards_to_both_servers() -> None:
    site = lab_site()
    defaults = render_relay(site, site.relays[0])[0]
    assert 'SERVERS="10.77.1.1 10.77.1.2"' in defaults.content
    assert 'OPTIONS="-id eth1 -iu eth0"' in defaults.content


def test_cisco_snippet_helpers_both_servers_on_every_served_interface() -> None:
    site = lab_site()
    cisco = {f.path: f.content for f in render_relay(site, site.relays[0])}["cisco-ios.cfg"]
    assert "interface eth1\n ip helper-address 10.77.1.1\n ip helper-address 10.77.1.2\n!" in cisco


def test_junos_snippet_relays_to_a_group_of_both_servers() -> None:
    site = lab_site()
    junos = {f.path: f.content for f in render_relay(site, site.relays[0])}["junos.conf"]
    commands = [line for line in junos.splitlines() if line.startswith("set ")]
    assert commands == [
        "set forwarding-options dhcp-relay server-group lab-dhcp 10.77.1.1",
        "set forwarding-options dhcp-relay server-group lab-dhcp 10.77.1.2",
        "set forwarding-options dhcp-relay group r1 active-server-group lab-dhcp",
        "set forwarding-options dhcp-relay group r1 interface eth1",
    ]


def test_tunnel_carries_the_failover_dialogue() -> None:
    site = lab_site(wireguard={"network": "10.99.0.0/31", "listen_port": 51821, "mtu": 1400})
    primary = peer_block(render_dhcpd_conf(site, site.primary))
    assert "address 10.99.0.0;" in primary and "peer address 10.99.0.1;" in primary
    secondary = peer_block(render_dhcpd_conf(site, site.secondary))
    assert "address 10.99.0.1;" in secondary and "peer address 10.99.0.0;" in secondary


def test_wg_quick_config_per_member_holds_no_key() -> None:
    site = lab_site(wireguard={"network": "10.99.0.4/30"})
    tree = {f.path: f.content for f in render_member(site, site.secondary, root="/r")}
    conf = tree["/etc/wireguard/wg-secondary.conf"]
    assert "Address = 10.99.0.6/30" in conf and "ListenPort = 51820" in conf and "MTU = 1420" in conf
    assert "PrivateKey" not in conf and "PublicKey" not in conf
    assert "private-key /r/etc/wireguard/wg-secondary.key" in conf
    assert "allowed-ips 10.99.0.5/32 persistent-keepalive 25" in conf


def test_no_tunnel_no_wireguard_file() -> None:
    site = lab_site()
    assert not [f for f in render_member(site, site.primary) if "wireguard" in f.path]


def test_roles_come_from_the_inventory_not_the_order() -> None:
    data = site_data()
    data["members"].reverse()
    site = inventory_from_data(inventory_data(data)).sites[0]
    assert site.primary.role is Role.PRIMARY and site.primary.name == "lab-a"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_rendered_examples_match_golden_files(example: Path) -> None:
    trees = render_inventory(load_inventory(example))
    golden_dir = GOLDEN / example.stem
    # Laid out as `render --out` writes them: a relative path (a relay snippet) goes in the folder too.
    rendered = {f"{folder}/{file.path.lstrip('/')}": file.content for folder, tree in trees.items() for file in tree}
    if UPDATE:
        for rel, content in rendered.items():
            (golden_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / rel).write_text(content)
    on_disk = {str(p.relative_to(golden_dir)): p.read_text() for p in golden_dir.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(rendered), "rerun with UPDATE_GOLDEN=1 and review the diff"
    for rel, content in rendered.items():
        assert on_disk[rel] == content, f"{rel} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
