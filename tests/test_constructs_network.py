"""SiteNetwork and the layout rules: the construct-made VPC, its way out, and what AWS refuses."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

import pytest

from dhcp_failover.app import plan_synth
from dhcp_failover.constructs.layout import site_regions
from dhcp_failover.errors import InventoryError
from dhcp_failover.inventory import inventory_from_data
from tests.support.factories import inventory_data


def test_vpc_subnets_and_the_way_out(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    resources = synth_sites(placed())["lab-shared"]["resource"]
    (vpc,) = resources["aws_vpc"].values()
    assert vpc["cidr_block"] == "10.77.0.0/22"  # smallest network holding both members' networks
    assert vpc["enable_dns_support"] is True and vpc["enable_dns_hostnames"] is True
    subnets = {s["cidr_block"]: s for s in resources["aws_subnet"].values()}
    assert {n: s["availability_zone"] for n, s in subnets.items()} == {
        "10.77.1.0/24": "eu-west-1a",
        "10.77.3.0/24": "eu-west-1b",
    }
    assert all(s["map_public_ip_on_launch"] is False for s in subnets.values())
    (route,) = resources["aws_route"].values()
    assert route["destination_cidr_block"] == "0.0.0.0/0" and route["gateway_id"].startswith("${aws_internet_gateway.")
    assert len(resources["aws_route_table_association"]) == 2
    eips = resources["aws_eip"].values()
    assert len(eips) == 2 and all(e["domain"] == "vpc" for e in eips)
    assert all(any(d.startswith("aws_internet_gateway.") for d in e["depends_on"]) for e in eips)
    (default_sg,) = resources["aws_default_security_group"].values()
    assert "ingress" not in default_sg and "egress" not in default_sg  # managed empty: no rules


def test_flow_logs_go_to_an_encrypted_log_group_kept_a_year(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    resources = synth_sites(placed())["lab-shared"]["resource"]
    (group,) = resources["aws_cloudwatch_log_group"].values()
    assert group["name"] == "/dhcp-failover/lab/vpc-flow-logs"
    assert group["retention_in_days"] == 365 and group["kms_key_id"].startswith("${aws_kms_key.")
    (flow_log,) = resources["aws_flow_log"].values()
    assert flow_log["traffic_type"] == "ALL" and flow_log["vpc_id"].startswith("${aws_vpc.")


def test_members_sharing_a_network_share_one_subnet(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    site = placed()
    site["members"][1].update(address="10.77.1.11", network="10.77.1.0/24")
    site["members"][1]["placement"]["availability_zone"] = "eu-west-1a"
    resources = synth_sites(site)["lab-shared"]["resource"]
    assert [s["cidr_block"] for s in resources["aws_subnet"].values()] == ["10.77.1.0/24"]
    assert len(resources["aws_eip"]) == 2


def test_explicit_vpc_cidr_wins(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    resources = synth_sites(placed(vpc_cidr="10.77.0.0/16"))["lab-shared"]["resource"]
    assert [v["cidr_block"] for v in resources["aws_vpc"].values()] == ["10.77.0.0/16"]


def test_regions_come_primary_first(placed: Callable[..., Any]) -> None:
    data = placed(wireguard={"network": "10.255.77.0/31"})
    data["members"][0]["placement"].update(region="us-east-1", availability_zone="us-east-1a")
    site = inventory_from_data(inventory_data(data)).sites[0]
    layouts = site_regions(site)
    assert [(layout.region, layout.vpc_cidr) for layout in layouts] == [
        ("us-east-1", IPv4Network("10.77.1.0/24")),
        ("eu-west-1", IPv4Network("10.77.3.0/24")),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: s["members"][1].update(address="10.200.3.2", network="10.200.3.0/24"),
            "would be 10.0.0.0/8, but AWS accepts /16 to /28",
        ),
        (
            lambda s: s["members"][1].update(address="10.77.1.11", network="10.77.1.0/24"),
            "both members are in network 10.77.1.0/24 but in zones eu-west-1a, eu-west-1b",
        ),
    ],
)
def test_what_aws_refuses_is_one_line_when_the_inventory_is_validated(
    placed: Callable[..., Any], change: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = placed()
    change(data)
    with pytest.raises(InventoryError, match=message) as raised:
        inventory_from_data(inventory_data(data))
    assert str(raised.value).startswith('site "lab": ')


def test_unplaced_sites_are_left_out_and_an_inventory_without_any_is_refused(placed: Callable[..., Any]) -> None:
    from tests.support.factories import site_data

    pool = {"network": "10.78.1.0/24", "pools": [{"start": "10.78.1.100", "end": "10.78.1.150"}]}
    unplaced = site_data("lab2", subnets=[pool], relays=[])
    for member, address in zip(unplaced["members"], ("10.78.1.1", "10.78.1.2"), strict=False):
        member.update(address=address, network="10.78.1.0/24")
    mixed = inventory_from_data(inventory_data(placed("aws"), unplaced))
    plan = plan_synth(mixed, environ={}, user_data=lambda site, member: {"user_data": "#cloud-config\n"})
    assert [p.site.name for p in plan.sites] == ["aws"] and plan.unplaced == ("lab2",)
    with pytest.raises(InventoryError, match="no site has a placement"):
        plan_synth(inventory_from_data(inventory_data()), environ={})
