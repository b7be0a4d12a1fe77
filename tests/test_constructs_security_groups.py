"""DhcpSecurityGroups: the rule table per member, one rule resource per entry, least privilege."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dhcp_failover.constructs.rules import INSTANCE_CONNECT_RULE_KINDS, RULE_KINDS, Direction, member_rules
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Role
from tests.support.factories import inventory_data

RULE_TYPES = {
    Direction.INGRESS: "aws_vpc_security_group_ingress_rule",
    Direction.EGRESS: "aws_vpc_security_group_egress_rule",
}


def _rules(stack: dict[str, Any], direction: Direction, role: Role) -> list[dict[str, Any]]:
    """The member's synthesized rules of one direction (construct path sg/<role>/<rule key>)."""
    resources = stack["resource"].get(RULE_TYPES[direction], {})
    return [r for name, r in resources.items() if name.startswith(f"sg_{role.value}_")]


def _summary(rules: list[dict[str, Any]]) -> set[tuple[str, int, int, str]]:
    return {(r["ip_protocol"], r["from_port"], r["to_port"], r["cidr_ipv4"]) for r in rules}


def test_every_rule_kind_has_a_description_without_characters_aws_rejects() -> None:
    # EC2 accepts a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$* in rule descriptions.
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-:/()#,@[]+=&;{}!$*")
    for name, kind in {**RULE_KINDS, **INSTANCE_CONNECT_RULE_KINDS}.items():
        assert kind.description, name
        text = kind.description.format(peer="10.0.0.0/24")
        assert set(text) <= allowed, f"{name}: {set(text) - allowed}"


def test_minimal_example_rules_exactly(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    stacks = synth_sites(placed())
    shared = stacks["lab-shared"]
    # The primary (10.77.1.10, port 519) and secondary (10.77.3.10, port 520) of placed().
    assert _summary(_rules(shared, Direction.INGRESS, Role.PRIMARY)) == {
        ("udp", 67, 67, "10.77.1.254/32"),  # relay r1's source address
        ("udp", 67, 67, "10.77.1.0/24"),  # renewing clients, each served subnet
        ("udp", 67, 67, "10.77.2.0/24"),
        ("tcp", 519, 519, "10.77.3.10/32"),  # failover from the partner only, to my port
    }
    assert _summary(_rules(shared, Direction.EGRESS, Role.PRIMARY)) == {
        ("udp", 67, 67, "10.77.2.1/32"),  # replies to the giaddr
        ("udp", 68, 68, "10.77.1.0/24"),
        ("udp", 68, 68, "10.77.2.0/24"),
        ("icmp", 8, 0, "10.77.1.0/24"),  # ping-check: echo request
        ("icmp", 8, 0, "10.77.2.0/24"),
        ("tcp", 520, 520, "10.77.3.10/32"),  # to the partner's port
        ("tcp", 443, 443, "0.0.0.0/0"),  # SSM, KMS, packages
    }
    assert ("tcp", 520, 520, "10.77.1.10/32") in _summary(_rules(shared, Direction.INGRESS, Role.SECONDARY))


def test_no_rule_admits_anything_from_anywhere(synthesized_examples: dict[str, Any]) -> None:
    import json

    for outdir in synthesized_examples.values():
        for path in outdir.glob("stacks/*/cdk.tf.json"):
            stack = json.loads(path.read_text())
            ingress = stack.get("resource", {}).get("aws_vpc_security_group_ingress_rule", {})
            groups = stack.get("resource", {}).get("aws_security_group", {})
            endpoint_groups = {f"${{aws_security_group.{key}.id}}" for key in groups if key.startswith("instance-connect-")}
            for name, rule in ingress.items():
                # Exactly one peer: a CIDR other than the world (IPv4, or IPv6 on a dual-stack site), or an
                # Instance Connect Endpoint's group.
                peers = [key for key in ("cidr_ipv4", "cidr_ipv6", "referenced_security_group_id") if key in rule]
                assert len(peers) == 1, name
                assert rule.get("cidr_ipv4", "") != "0.0.0.0/0", f"{path.parent.name}: {name}"
                assert rule.get("cidr_ipv6", "") not in ("::/0", "::/1", "8000::/1"), f"{path.parent.name}: {name}"
                if "referenced_security_group_id" in rule:
                    assert rule["referenced_security_group_id"] in endpoint_groups, name
                assert rule["ip_protocol"] != "-1", name
            for group in stack.get("resource", {}).get("aws_security_group", {}).values():
                assert "ingress" not in group and "egress" not in group  # no inline rules


def test_each_rule_is_its_own_resource_with_description_and_name_tag(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    shared = synth_sites(placed())["lab-shared"]
    site = inventory_from_data(inventory_data(placed())).sites[0]
    for role in Role:
        table = member_rules(site, site.member(role))
        synthesized = _rules(shared, Direction.INGRESS, role) + _rules(shared, Direction.EGRESS, role)
        assert len(synthesized) == len(table)
        assert {r["tags"]["Name"] for r in synthesized} == {f"lab-{role.value}-{rule.key}" for rule in table}
        assert all(r["description"] for r in synthesized)


def test_omapi_only_from_admin_networks(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    without = synth_sites(placed())["lab-shared"]
    assert not any(r["from_port"] == 7911 for r in _rules(without, Direction.INGRESS, Role.PRIMARY))
    with_admins = synth_sites(placed(omapi={"admin_networks": ["10.250.0.0/24", "192.168.7.7/32"]}))["lab-shared"]
    omapi = [r for r in _rules(with_admins, Direction.INGRESS, Role.SECONDARY) if r["from_port"] == 7911]
    assert _summary(omapi) == {("tcp", 7911, 7911, "10.250.0.0/24"), ("tcp", 7911, 7911, "192.168.7.7/32")}
    public = {"admin_networks": ["198.51.100.7/32"], "allow_public": True, "allow_public_reason": "NOC egress, ticket 42"}
    with_public = synth_sites(placed(omapi=public))["lab-shared"]
    omapi = [r for r in _rules(with_public, Direction.INGRESS, Role.PRIMARY) if r["from_port"] == 7911]
    assert _summary(omapi) == {("tcp", 7911, 7911, "198.51.100.7/32")}


def test_failover_ports_follow_the_inventory(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    site = placed()
    for member in site["members"]:
        member["port"] = 647
    shared = synth_sites(site)["lab-shared"]
    tcp = {(r["from_port"], r["cidr_ipv4"]) for r in _rules(shared, Direction.INGRESS, Role.PRIMARY) if r["ip_protocol"] == "tcp"}
    assert tcp == {(647, "10.77.3.10/32")}


def test_ping_check_off_drops_icmp(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    shared = synth_sites(placed(ping_check=False))["lab-shared"]
    assert not any(r["ip_protocol"] == "icmp" for r in _rules(shared, Direction.EGRESS, Role.PRIMARY))


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (["169.254.169.123"], set()),  # Time Sync: link-local, not filtered by security groups
        (["192.0.2.123"], {("udp", 123, 123, "192.0.2.123/32")}),
        (["time.example.com"], {("udp", 123, 123, "0.0.0.0/0")}),  # a name: addresses unknown
    ],
)
def test_ntp_egress_only_where_security_groups_filter_it(
    synth_sites: Callable[..., Any], placed: Callable[..., Any], servers: list[str], expected: set[Any]
) -> None:
    shared = synth_sites(placed(clock={"ntp_servers": servers}))["lab-shared"]
    ntp = [r for r in _rules(shared, Direction.EGRESS, Role.PRIMARY) if r["from_port"] == 123]
    assert _summary(ntp) == expected


def test_wireguard_site_exposes_only_the_tunnel_between_elastic_ips(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    site = placed(wireguard={"network": "10.255.77.0/31"})
    shared = synth_sites(site)["lab-shared"]
    ingress = _rules(shared, Direction.INGRESS, Role.PRIMARY)
    assert not any(r["ip_protocol"] == "tcp" for r in ingress), "failover ports must stay off the underlay"
    tunnel = [r for r in ingress if r["from_port"] == 51820]
    assert len(tunnel) == 1
    # The partner's Elastic IP, from the same stack: no member stack reads the other's.
    assert tunnel[0]["cidr_ipv4"].startswith("${aws_eip.") and "egress-ip-secondary" in tunnel[0]["cidr_ipv4"]
    assert tunnel[0]["cidr_ipv4"].endswith(".public_ip}/32")


def test_groups_live_in_their_members_regions(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    groups = stack["resource"]["aws_security_group"]
    providers = {g["//"]["metadata"]["path"].split("/")[-2]: g["provider"] for g in groups.values()}
    assert providers == {"primary": "aws", "secondary": "aws.us_east_1"}


def _kea6_rows(stacks: dict[str, Any]) -> set[tuple[str, str, str, int, str]]:
    """(role, direction, Name-tag row, port, peer) of every kea6-control rule of a synth."""
    return {
        (name.split("_")[1], direction.value, "kea6-" + rule["tags"]["Name"].split("-kea6-")[1], rule["from_port"], rule["cidr_ipv4"])
        for stack in stacks.values()
        for direction, kind in RULE_TYPES.items()
        for name, rule in stack.get("resource", {}).get(kind, {}).items()
        if "kea6-control" in rule["tags"]["Name"] and rule["from_port"] == rule["to_port"]
    }


def test_a_dual_stack_kea_3_site_admits_kea_dhcp6s_control_port_from_the_partner_and_admins_only(
    synth_sites: Callable[..., Any],
) -> None:
    from tests.test_dhcpv6 import kea_2_2_with_dhcpv6, kea_3_with_dhcpv6

    stacks = synth_sites(*kea_3_with_dhcpv6(admin_networks=["10.250.0.0/24"])["sites"])
    a, b = "10.60.1.10/32", "10.60.1.11/32"
    assert _kea6_rows(stacks) == {
        ("primary", "ingress", "kea6-control-tcp-from-partner", 8001, b),
        ("primary", "egress", "kea6-control-tcp-to-partner", 8001, b),
        ("primary", "ingress", "kea6-control-tcp-from-admins-10-250-0-0-24", 8001, "10.250.0.0/24"),
        ("secondary", "ingress", "kea6-control-tcp-from-partner", 8001, a),
        ("secondary", "egress", "kea6-control-tcp-to-partner", 8001, a),
        ("secondary", "ingress", "kea6-control-tcp-from-admins-10-250-0-0-24", 8001, "10.250.0.0/24"),
    }
    # Kea 2.2: the Control Agent on kea.control_port carries both relationships, no row of its own.
    assert _kea6_rows(synth_sites(*kea_2_2_with_dhcpv6(admin_networks=["10.250.0.0/24"])["sites"])) == set()
