"""A Kea site on AWS: its security groups admit the control port only from the partner and the
admin networks (no ISC failover ports, no OMAPI, no ping-check ICMP), its control password is
an SSM parameter fed from a TF_VAR like the OMAPI key, and its outputs name the control agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dhcp_failover.constructs.rules import Direction, member_rules
from dhcp_failover.diagram import mermaid
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Role
from tests.support.factories import inventory_data
from tests.test_constructs_security_groups import _rules, _summary


def kea_placed(placed: Callable[..., dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return {**placed("kea", **overrides), "server": "kea"}


def test_kea_rule_table_uses_the_control_port_between_partners_and_from_admins(placed: Callable[..., Any]) -> None:
    site = inventory_from_data(inventory_data(kea_placed(placed, kea={"admin_networks": ["10.9.0.0/24"]}))).sites[0]
    rules = {(r.kind, r.cidr, r.from_port) for r in member_rules(site, site.primary)}
    assert ("kea-control-tcp-from-partner", "10.77.3.10/32", 8000) in rules
    assert ("kea-control-tcp-to-partner", "10.77.3.10/32", 8000) in rules
    assert ("kea-control-tcp-from-admins", "10.9.0.0/24", 8000) in rules
    kinds = {kind for kind, _, _ in rules}
    assert not kinds & {"failover-tcp-from-partner", "failover-tcp-to-partner", "omapi-tcp-from-admins",
                        "icmp-echo-to-clients"}


def test_kea_site_synthesizes_with_its_rules_password_parameter_and_outputs(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    stacks = synth_sites(kea_placed(placed))
    shared = stacks["kea-shared"]
    assert _summary(_rules(shared, Direction.INGRESS, Role.PRIMARY)) == {
        ("udp", 67, 67, "10.77.1.254/32"),
        ("udp", 67, 67, "10.77.1.0/24"),
        ("udp", 67, 67, "10.77.2.0/24"),
        ("tcp", 8000, 8000, "10.77.3.10/32"),  # the partner's HA traffic, nobody else's
    }
    assert ("tcp", 8000, 8000, "10.77.3.10/32") in _summary(_rules(shared, Direction.EGRESS, Role.PRIMARY))
    parameters = [p["name"] for p in shared["resource"]["aws_ssm_parameter"].values()]
    assert "/dhcp-failover/kea/kea-control-password" in parameters
    assert not any("omapi" in name for name in parameters)
    assert "kea_kea_control_password" in shared["variable"]  # TF_VAR_<site>_kea_control_password
    assert set(shared["output"]["kea_control_endpoints"]["value"].values()) == {"10.77.1.10:8000", "10.77.3.10:8000"}
    assert "omapi_endpoints" not in shared["output"]


def test_diagram_draws_the_kea_control_channel(placed: Callable[..., Any]) -> None:
    site = inventory_from_data(inventory_data(kea_placed(placed, kea={"admin_networks": ["10.9.0.0/24"]}))).sites[0]
    text = mermaid(site)
    assert '<-->|"Kea HA (Kea control agent tcp/8000)"|' in text
    assert '-.->|"Kea control agent tcp/8000"|' in text
    assert "OMAPI" not in text and "failover tcp" not in text
