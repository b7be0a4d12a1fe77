"""The dhcpv6 section: bad input is one error naming the field as the inventory spells it; every
kea-dhcp6.conf we render passes the real ``kea-dhcp6 -t`` (in a namespace whose interface has the
member's address, which -t insists on); load-balancing splits address and prefix pools per member;
the member's user-data installs, checks and starts kea-dhcp6."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from ipaddress import IPv6Network
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.backends.kea.control import KeaEndpoint
from dhcp_failover.backends.kea.render6 import DHCP6_CONF, DHCP6_LOG, SPELLINGS, dhcp6_config
from dhcp_failover.cloudinit import render_cloud_config
from dhcp_failover.constructs.rules import IPV6_HOST_PREFIX, is_ipv6, member_rules
from dhcp_failover.diagram import mermaid
from dhcp_failover.errors import InventoryError
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import Site
from dhcp_failover.monitoring import FAILOVER_NORMAL_V6, alarm_specs, kea_reporter_config
from dhcp_failover.operations import dhcp6_endpoint
from tests.lab.kea import require_kea
from tests.lab.kea6 import add_member_host6, check_config6
from tests.lab.netlab import Lab, require_lab
from tests.support.factories import EXAMPLES, REPO, inventory_data, site_data, write_inventory

EXAMPLE = REPO / "examples" / "dual-stack.yaml"
Data = dict[str, Any]


def dual_stack() -> Data:
    """The example's site: the smallest complete dual-stack inventory we keep."""
    return dict(yaml.safe_load(EXAMPLE.read_text()))


def v6_site(change: Callable[[Data], None]) -> Data:
    data = copy.deepcopy(dual_stack())
    change(data["sites"][0]["dhcpv6"])
    return data


def subnet6(**values: Any) -> Callable[[Data], None]:
    return lambda v6: v6["subnets"][0].update(values)


def pd(**values: Any) -> Callable[[Data], None]:
    return lambda v6: v6["subnets"][0]["pd_pools"][0].update(values)


def host(i: int, **values: Any) -> Callable[[Data], None]:
    return lambda v6: v6["subnets"][0]["hosts"][i].update(values)


def relay6(**values: Any) -> Callable[[Data], None]:
    return lambda v6: v6["relays"][0]["serves"][0].update(values)


def isc_with_dhcpv6() -> Data:
    data = dual_stack()
    data["sites"][0]["server"] = "isc"
    data["sites"][0]["ping_check"] = True
    return data


def kea_3_with_dhcpv6(**kea: Any) -> Data:
    data = dual_stack()
    data["sites"][0]["os"] = "debian-13"
    data["sites"][0]["kea"] = {**data["sites"][0].get("kea", {}), **kea}
    return data


def kea_2_2_with_dhcpv6(**kea: Any) -> Data:
    data = kea_3_with_dhcpv6(**kea)
    data["sites"][0]["os"] = "debian-12"
    return data


WHERE = 'site "campus": dhcpv6.'
# (id, inventory, the whole error line after "error: ")
CASES: list[tuple[str, Data, str]] = [
    ("isc-site", isc_with_dhcpv6(),
     ('site "campus": dhcpv6: is set on an isc site, but ISC dhcpd has no DHCPv6 failover; set server: kea '
      "(Kea HA serves DHCPv6) or remove dhcpv6")),
    ("control-port6-is-control-port", kea_3_with_dhcpv6(control_port6=8000),
     ('site "campus": kea.control_port6: (8000) is kea.control_port too; on Kea 3.0 kea-dhcp4 and kea-dhcp6 each '
      "listen on their own port, so choose another one (8001 is usual)")),
    ("control-port6-is-dhcpv6", kea_3_with_dhcpv6(control_port6=547),
     'site "campus": kea.control_port6: 547 is a DHCP port; use another one (8001 is usual)'),
    ("pool-outside-subnet", v6_site(subnet6(pools=[{"start": "2001:db8:62::1", "end": "2001:db8:62::ff"}])),
     WHERE + "subnets[0].pools[0]: 2001:db8:62::1-2001:db8:62::ff is not inside the subnet 2001:db8:61::/64"),
    ("pools-overlap", v6_site(subnet6(pools=[{"start": "2001:db8:61::100", "end": "2001:db8:61::1ff"},
                                             {"start": "2001:db8:61::180", "end": "2001:db8:61::2ff"}])),
     WHERE + "subnets[0].pools[1]: 2001:db8:61::180-2001:db8:61::2ff overlaps pools[0] "
     "(2001:db8:61::100-2001:db8:61::1ff); pools must be disjoint"),
    ("pool-reversed", v6_site(subnet6(pools=[{"start": "2001:db8:61::200", "end": "2001:db8:61::100"}])),
     WHERE + "subnets[0].pools[0]: starts at 2001:db8:61::200 after it ends at 2001:db8:61::100; swap start and end"),
    ("pool-has-link-address", v6_site(relay6(link_address="2001:db8:61::1:10")),
     WHERE + "subnets[0].pools[0]: 2001:db8:61::1:0-2001:db8:61::1:ffff contains 2001:db8:61::1:10 "
     "(relay campus-core's link_address); move the pool's bounds to exclude it"),
    ("pd-overlaps-subnet", v6_site(pd(prefix="2001:db8:61::/48", excluded_prefix=None)),
     WHERE + "subnets[0].pd_pools[0].prefix: 2001:db8:61::/48 overlaps subnets[0] (2001:db8:61::/64); a delegated "
     "prefix is routed to the requesting router, so keep prefix-delegation pools apart from address space and "
     "from each other"),
    ("pd-too-short", v6_site(pd(delegated_length=41, excluded_prefix=None)),
     WHERE + "subnets[0].pd_pools[0].delegated_length: (41) must be at least /42 for the block 2001:db8:6100::/40 "
     "in load-balancing (each member delegates from its half of the block), so that the block holds more than "
     "one delegated prefix per member"),
    ("excluded-outside-block", v6_site(pd(excluded_prefix="2001:db8:7000:ff::/64")),
     WHERE + "subnets[0].pd_pools[0].excluded_prefix: 2001:db8:7000:ff::/64 is not inside the block 2001:db8:6100::/40"),
    ("excluded-too-short", v6_site(pd(excluded_prefix="2001:db8:6100::/56")),
     WHERE + "subnets[0].pd_pools[0].excluded_prefix: 2001:db8:6100::/56 is a /56; it must be longer than "
     "delegated_length (56), being a part of each delegated prefix (RFC 6603)"),
    ("host-in-pool", v6_site(host(0, address="2001:db8:61::1:20")),
     WHERE + "subnets[0].pools[0]: 2001:db8:61::1:0-2001:db8:61::1:ffff contains 2001:db8:61::1:20 (reserved for host "
     "printer-1); move the pool's bounds to exclude it"),
    ("host-outside-subnet", v6_site(host(0, address="2001:db8:99::20")),
     WHERE + "subnets[0].hosts[0].address: 2001:db8:99::20 is not in 2001:db8:61::/64"),
    ("host-prefix-in-pd-pool", v6_site(host(1, prefix="2001:db8:6100:300::/56")),
     WHERE + "subnets[0].hosts[1].prefix: 2001:db8:6100:300::/56 lies in a pd_pool; the pool would delegate it to "
     "another router, reserve a prefix outside every pd_pool"),
    ("duid-twice", v6_site(host(1, duid="00:03:00:01:00:16:3E:61:00:20")),
     WHERE + "subnets[0].hosts[1].duid: DUID 00:03:00:01:00:16:3E:61:00:20 appears twice; reserve once per client"),
    ("host-reserves-nothing", v6_site(lambda v6: v6["subnets"][0]["hosts"][0].pop("address")),
     WHERE + "subnets[0].hosts[0]: host printer-1 reserves nothing; give it an address, a prefix or both"),
    ("lifetimes-reversed", v6_site(subnet6(preferred_lifetime=9000, valid_lifetime=600)),
     WHERE + "subnets[0].preferred_lifetime: (9000) exceeds valid_lifetime (600); an address cannot stay preferred "
     "after it is no longer valid"),
    ("refresh-too-often", v6_site(subnet6(information_refresh_time=60)),
     WHERE + "subnets[0].information_refresh_time: (60) is below 600 s, which clients raise to 600 anyway "
     "(RFC 8415); use 600 or more"),
    ("subnet-too-big", v6_site(lambda v6: v6["subnets"].append({"network": "2001::/16"})),
     WHERE + "subnets[1].network: 2001::/16 is a /16; a DHCPv6 subnet is a /32 to a /124"),
    ("subnet-link-local", v6_site(lambda v6: v6["subnets"].append({"network": "fe80::/64"})),
     WHERE + "subnets[1].network: fe80::/64 is in the link-local (fe80::/10) range; DHCPv6 clients get global or "
     "unique-local addresses"),
    ("member-missing", v6_site(lambda v6: v6["members"].pop()),
     WHERE + "members: has no IPv6 address for member 'campus-dhcp-b'; list both members with member, address, "
     "network"),
    ("member-unknown", v6_site(lambda v6: v6["members"][1].update(member="campus-dhcp-c")),
     WHERE + "members[1].member: 'campus-dhcp-c' is not one of the site's members (campus-dhcp-a, campus-dhcp-b)"),
    ("member-address-outside", v6_site(lambda v6: v6["members"][1].update(address="2001:db8:60:2::11")),
     WHERE + "members[1].address: 2001:db8:60:2::11 is not in the member's network 2001:db8:60:1::/64"),
    ("relay-unknown", v6_site(lambda v6: v6["relays"][0].update(name="edge")),
     WHERE + "relays[0].name: 'edge' is not one of the site's relays (campus-core); declare it under relays"),
    ("link-address-outside", v6_site(relay6(link_address="2001:db8:62::1")),
     WHERE + "relays[0].serves[0].link_address: 2001:db8:62::1 is not in 2001:db8:61::/64; Kea picks the subnet by "
     "the relay's link-address"),
    ("subnet-not-relayed", v6_site(lambda v6: v6["relays"][0]["serves"].clear()),
     WHERE + "relays[0].serves: relay campus-core serves no subnet; list at least one"),
]
SHAPE_CASES: list[tuple[str, Data, str]] = [
    ("bad-duid", v6_site(host(0, duid="00:03:zz")), "dhcpv6.subnets[0].hosts[0].duid"),
    ("address-as-number", v6_site(lambda v6: v6["members"][0].update(address=42)), "must be written as text"),
    ("unsafe-interface", v6_site(lambda v6: v6.update(interface="ens5; reboot")), "dhcpv6.interface"),
    ("interface-with-slash", v6_site(lambda v6: v6.update(interface="ens5/1")), "dhcpv6.interface"),
    ("unsafe-relay-interface", v6_site(relay6(interface="eth1 $(reboot)")), "dhcpv6.relays[0].serves[0].interface"),
    ("v4-address", v6_site(lambda v6: v6["members"][0].update(address="10.60.1.10")), "dhcpv6.members[0].address"),
    ("bad-vendor-hex", v6_site(subnet6(vendor={"enterprise_id": 4491, "suboptions": [{"code": 1, "hex": "0g"}]})),
     "dhcpv6.subnets[0].vendor.suboptions[0].hex"),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_dhcpv6_section_is_one_error_naming_the_field(data: Data, expected: str) -> None:
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(data)
    assert str(caught.value).split(" (and ")[0] == expected


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in SHAPE_CASES], ids=[c[0] for c in SHAPE_CASES])
def test_a_malformed_dhcpv6_value_is_refused_by_the_model(data: Data, expected: str) -> None:
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(data)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_the_cli_says_it_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", isc_with_dhcpv6())
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "render", "--inventory", str(inventory),
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: {inventory}: {CASES[0][2]}\n"
    assert not out.exists()


def example_site() -> Site:
    """The example as Kea 2.2 (Debian 12) runs it, which this machine's kea-dhcp6 checks (Kea 3.0's
    kea-dhcp6 -t checks the example as written, in tests/test_debian13.py)."""
    return inventory_from_data(kea_2_2_with_dhcpv6()).sites[0]


def hot_standby_site() -> Site:
    data = kea_2_2_with_dhcpv6()
    data["sites"][0]["failover"] = {"load_balancing": False}
    return inventory_from_data(data).sites[0]


def minimal_site() -> Site:
    """DHCPv6 with addresses only, no options, no reservations: the smallest config."""
    v6 = {
        "interface": "ens5",
        "members": [{"member": "lab-a", "address": "2001:db8:77:1::1", "network": "2001:db8:77:1::/64"},
                    {"member": "lab-b", "address": "2001:db8:77:1::2", "network": "2001:db8:77:1::/64"}],
        "subnets": [{"network": "2001:db8:77:1::/64", "pools": [{"start": "2001:db8:77:1::100", "end": "2001:db8:77:1::1ff"}]}],
    }
    return inventory_from_data(inventory_data(site_data(server="kea", dhcpv6=v6))).sites[0]


def test_every_rendered_kea_dhcp6_conf_passes_kea_dhcp6_t(tmp_path: Path) -> None:
    require_lab()
    require_kea()
    sites = {"example": example_site(), "hot-standby": hot_standby_site(), "minimal": minimal_site()}
    with Lab(tmp_path / "lab") as lab:
        for name, site in sites.items():
            assert site.dhcpv6 is not None
            for member in site.members:
                host = f"{name[:6]}{member.role.value[0]}"
                add_member_host6(lab, host, site, member)
                conf = tmp_path / f"{host}.json"
                conf.write_text(json.dumps(dhcp6_config(site, member, root=str(tmp_path / host))))
                check_config6(lab, host, conf)


def test_load_balancing_splits_address_and_prefix_pools_per_member() -> None:
    site = example_site()
    config = dhcp6_config(site, site.primary)["Dhcp6"]
    subnet = config["subnet6"][0]
    assert [(p["pool"], p["client-class"]) for p in subnet["pools"]] == [
        ("2001:db8:61::1:0 - 2001:db8:61::1:7fff", "HA_campus-dhcp-a"),
        ("2001:db8:61::1:8000 - 2001:db8:61::1:ffff", "HA_campus-dhcp-b"),
    ]
    # Each half of the /40 delegates /56s, and excludes the /64 at the same place in every /56.
    assert [(p["prefix"], p["prefix-len"], p["delegated-len"], p["excluded-prefix"], p["excluded-prefix-len"],
             p["client-class"]) for p in subnet["pd-pools"]] == [
        ("2001:db8:6100::", 41, 56, "2001:db8:6100:ff::", 64, "HA_campus-dhcp-a"),
        ("2001:db8:6180::", 41, 56, "2001:db8:6180:ff::", 64, "HA_campus-dhcp-b"),
    ]
    hs = dhcp6_config(hot_standby_site(), site.primary)["Dhcp6"]["subnet6"][0]
    assert [p["pool"] for p in hs["pools"]] == ["2001:db8:61::1:0 - 2001:db8:61::1:ffff"]
    assert "client-class" not in hs["pd-pools"][0] and hs["pd-pools"][0]["prefix-len"] == 40


def test_members_differ_in_name_address_and_duid_only() -> None:
    site = example_site()
    a, b = (dhcp6_config(site, m)["Dhcp6"] for m in site.members)
    assert a["interfaces-config"]["interfaces"] == ["ens5/2001:db8:60:1::10"]
    assert b["interfaces-config"]["interfaces"] == ["ens5/2001:db8:60:1::11"]
    assert a["server-id"]["identifier"] != b["server-id"]["identifier"]
    ha_a = a["hooks-libraries"][1]["parameters"]["high-availability"][0]
    ha_b = b["hooks-libraries"][1]["parameters"]["high-availability"][0]
    assert (ha_a["this-server-name"], ha_b["this-server-name"]) == ("campus-dhcp-a", "campus-dhcp-b")
    for key in ("interfaces-config", "server-id", "hooks-libraries"):
        a.pop(key), b.pop(key)
    assert a == b


def test_kea_dhcp6_answers_on_its_own_authenticated_socket_on_kea_3_and_behind_the_agent_on_2_2() -> None:
    site = inventory_from_data(kea_3_with_dhcpv6(admin_networks=["10.250.0.0/24"])).sites[0]
    config = dhcp6_config(site, site.primary)["Dhcp6"]
    unix, http = config["control-sockets"]
    assert unix == {"socket-type": "unix", "socket-name": "/run/kea/kea6-ctrl-socket"}
    assert (http["socket-type"], http["socket-address"], http["socket-port"]) == ("http", "10.60.1.10", 8001)
    assert http["authentication"]["clients"] == [{"user": "dhcp-failover", "password-file": "dhcp-failover-password"}]
    # Single-threaded, so the HA hook opens no listener of its own that checks no password.
    assert config["multi-threading"] == {"enable-multi-threading": False}
    ha = config["hooks-libraries"][1]["parameters"]["high-availability"][0]
    assert ha["multi-threading"] == {"enable-multi-threading": False}
    assert [peer["url"] for peer in ha["peers"]] == ["http://10.60.1.10:8001/", "http://10.60.1.11:8001/"]
    # Kea 3.0.3 warns of any configured server-id: each member makes its own DUID.
    assert "server-id" not in config and "control-socket" not in config
    assert all("client-classes" in pool for pool in config["subnet6"][0]["pools"])
    # Kea 2.2: kea-dhcp6 stays behind the Control Agent on kea.control_port.
    site = inventory_from_data(kea_2_2_with_dhcpv6()).sites[0]
    config = dhcp6_config(site, site.primary)["Dhcp6"]
    assert config["control-socket"] == {"socket-type": "unix", "socket-name": "/run/kea/kea6-ctrl-socket"}
    assert "control-sockets" not in config and "multi-threading" not in config and "server-id" in config
    ha = config["hooks-libraries"][1]["parameters"]["high-availability"][0]
    assert [peer["url"] for peer in ha["peers"]] == ["http://10.60.1.10:8000/", "http://10.60.1.11:8000/"]


def test_operators_and_the_reporter_reach_kea_dhcp6_where_its_release_answers() -> None:
    endpoint = KeaEndpoint("10.60.1.10", 8000, "secret")
    kea_3 = inventory_from_data(kea_3_with_dhcpv6()).sites[0]
    kea_2_2 = inventory_from_data(kea_2_2_with_dhcpv6()).sites[0]
    assert dhcp6_endpoint(kea_3, endpoint) == KeaEndpoint("10.60.1.10", 8001, "secret", service=None)
    assert dhcp6_endpoint(kea_2_2, endpoint) == KeaEndpoint("10.60.1.10", 8000, "secret", service="dhcp6")
    assert kea_reporter_config(kea_3, kea_3.primary)["kea"]["dhcp6_url"] == "http://10.60.1.10:8001/"
    assert "dhcp6_url" not in kea_reporter_config(kea_2_2, kea_2_2.primary)["kea"]


def test_kea_3_spells_pool_classes_as_a_list() -> None:
    assert SPELLINGS["2.2"].pool_class("HA_x") == {"client-class": "HA_x"}
    assert SPELLINGS["3.0"].pool_class("HA_x") == {"client-classes": ["HA_x"]}


def test_user_data_installs_checks_and_starts_kea_dhcp6() -> None:
    site = example_site()
    cloud = yaml.safe_load(render_cloud_config(site, site.primary))
    assert any("kea-dhcp6-server" in str(package) for package in cloud["packages"])
    paths = [f["path"] for f in cloud["write_files"]]
    assert DHCP6_CONF in paths
    bootstrap = next(f["content"] for f in cloud["write_files"] if f["path"].endswith("dhcp-failover-bootstrap"))
    assert 'kea-dhcp6 -t "$dhcp6_conf"' in bootstrap
    assert "kea-dhcp4-server kea-ctrl-agent kea-dhcp6-server" in bootstrap
    assert 'grep -q "inet6 2001:db8:60:1::10/"' in bootstrap
    agent = json.loads(next(f["content"] for f in cloud["write_files"] if f["path"] == "/etc/kea/kea-ctrl-agent.conf"))
    assert sorted(agent["Control-agent"]["control-sockets"]) == ["dhcp4", "dhcp6"]


def test_a_site_without_dhcpv6_renders_no_v6_file() -> None:
    site = inventory_from_data(inventory_data(site_data(server="kea"))).sites[0]
    cloud = render_cloud_config(site, site.primary)
    assert "kea-dhcp6" not in cloud and "dhcp6" not in cloud


HALVES_OF_EVERYTHING = {IPv6Network("::/0"), IPv6Network("::/1"), IPv6Network("8000::/1")}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_no_ipv6_rule_admits_more_than_one_host(example: Path) -> None:
    """Nothing open to the internet over IPv6 either: no ::/0, none of its halves, no network at all."""
    for site in load_inventory(example).sites:
        for member in site.members:
            for rule in member_rules(site, member):
                if is_ipv6(rule.cidr):
                    assert rule.cidr is not None
                    network = IPv6Network(rule.cidr)
                    assert network not in HALVES_OF_EVERYTHING and network.prefixlen == IPV6_HOST_PREFIX, rule


def test_the_dual_stack_synth_gives_each_member_its_ipv6_address_and_the_relay_rows(
    synth_sites: Callable[..., dict[str, Any]],
) -> None:
    stacks = synth_sites(*dual_stack()["sites"])
    for role, address in (("primary", "2001:db8:60:1::10"), ("secondary", "2001:db8:60:1::11")):
        (server,) = stacks[f"campus-{role}"]["resource"]["aws_instance"].values()
        assert server["ipv6_addresses"] == [address]
    v6_rules = sorted(
        (name.split("_")[1], kind.split("_")[-2], rule["ip_protocol"], rule["from_port"], rule["cidr_ipv6"])
        for stack in stacks.values()
        for kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
        for name, rule in stack.get("resource", {}).get(kind, {}).items() if "cidr_ipv6" in rule
    )
    assert v6_rules == [(role, direction, "udp", 547, "2001:db8:60:1::1/128")
                        for role in ("primary", "secondary") for direction in ("egress", "ingress")]


def test_a_dual_stack_site_in_a_vpc_it_makes_is_refused() -> None:
    data = dual_stack()
    for member in data["sites"][0]["members"]:
        member["placement"] = {"region": "eu-central-1", "availability_zone": "eu-central-1a", "ami": "ami-0a1b2c3d4e5f60718"}
    with pytest.raises(InventoryError, match=r'site "campus": dhcpv6.members: member campus-dhcp-a is placed in a VPC '
                                             r"the site makes, whose Amazon-provided IPv6 block is known only after apply"):
        inventory_from_data(data)


def test_the_picture_shows_both_address_families() -> None:
    picture = mermaid(example_site())
    for text in ("10.61.0.0/22", "2001:db8:61::/64", "2001:db8:60:1::10", "2001:db8:60:1::11", "2001:db8:60:1::1",
                 "DHCP udp/67", "DHCPv6 udp/547", "Kea HA (v4 and v6)"):
        assert text in picture


def test_the_kea_3_picture_shows_kea_dhcp6s_own_control_port() -> None:
    picture = mermaid(inventory_from_data(kea_3_with_dhcpv6(admin_networks=["10.250.0.0/24"])).sites[0])
    assert "Kea HA (v4 and v6) (kea-dhcp4 HTTP control socket tcp/8000, kea-dhcp6 tcp/8001)" in picture
    assert "kea-dhcp4 HTTP control socket tcp/8000, kea-dhcp6 tcp/8001" in picture.split("admins 10.250.0.0/24")[1]
    assert "tcp/8001" not in mermaid(example_site())


def test_a_monitored_dual_stack_member_reports_and_alarms_on_its_v6_relationship() -> None:
    data = dual_stack()
    data["sites"][0]["monitoring"] = {"alerts": {"emails": ["noc@example.com"]}}
    site = inventory_from_data(data).sites[0]
    names = {spec.key: spec for spec in alarm_specs(site)}
    for role in ("primary", "secondary"):
        assert names[f"{role}-v6-not-normal"].metric == FAILOVER_NORMAL_V6
    config = kea_reporter_config(site, site.primary)
    assert config["dhcp6"] is True and config["logs"]["kea-dhcp6"] == DHCP6_LOG
    plain = inventory_from_data(inventory_data(site_data(server="kea", monitoring={"alerts": {"emails": ["n@example.com"]}})))
    assert not any("v6" in spec.key for spec in alarm_specs(plain.sites[0]))


def test_two_sites_cannot_serve_the_same_ipv6_space() -> None:
    data = dual_stack()
    other = copy.deepcopy(data["sites"][0])
    other["name"] = "annex"
    for i, member in enumerate(other["members"]):
        member.update(name=f"annex-dhcp-{'ab'[i]}", address=f"10.62.1.{10 + i}", network="10.62.1.0/24")
    for i, member in enumerate(other["dhcpv6"]["members"]):
        member.update(member=f"annex-dhcp-{'ab'[i]}", address=f"2001:db8:62:1::{10 + i}", network="2001:db8:62:1::/64")
    other["subnets"] = [{"network": "10.63.0.0/24", "pools": [{"start": "10.63.0.10", "end": "10.63.0.20"}]}]
    other["relays"] = [{"name": "annex-core", "source_address": "10.62.1.1",
                        "serves": [{"subnet": "10.63.0.0/24", "interface": "eth1", "giaddr": "10.63.0.1"}]}]
    other["dhcpv6"]["relays"][0].update(name="annex-core", source_address="2001:db8:62:1::1")
    other["dhcpv6"]["subnets"][0]["hosts"] = []
    data["sites"].append(other)
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(data)
    assert str(caught.value).split(" (and ")[0] == (
        'site "campus": dhcpv6.subnets: 2001:db8:61::/64 overlaps 2001:db8:61::/64 of site "annex"; IPv6 space is '
        "served by one pair only")
