"""Every exported construct works on its own, in a plain stack of a user's app: built from
its props alone and synthesized with ``cdktf.Testing.synth``, it makes what it promises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from ipaddress import IPv4Network
from typing import Any

import pytest

from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Role, Site
from dhcp_failover.secret_names import site_secrets
from tests.support.checkout import placed_site
from tests.support.factories import inventory_data

ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"


@pytest.fixture
def stack() -> Iterator[Any]:
    """A user's own stack with an AWS provider: what a construct gets in someone else's app."""
    import cdktf

    from dhcp_failover.constructs.providers import aws_provider

    app = cdktf.Testing.app()
    own: Any = cdktf.TerraformStack(app, "users-own-stack")
    own.provider = aws_provider(own, "aws", region="eu-west-1", default_tags={"team": "net"})
    yield own


@pytest.fixture
def site() -> Site:
    (found,) = inventory_from_data(inventory_data(placed_site())).sites
    return found


def _names(site: Site) -> Any:
    from dhcp_failover.constructs.naming import SiteNames

    return SiteNames(site.name, {})


def _resources(stack: Any) -> dict[str, dict[str, Any]]:
    import cdktf

    return json.loads(cdktf.Testing.synth(stack)).get("resource", {})


def test_site_key_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import SiteKey, SiteKeyProps

    SiteKey(stack, "key", props=SiteKeyProps(names=_names(site), region="eu-west-1", partition="aws",
                                            account_id=ACCOUNT, provider=stack.provider))
    (key,) = _resources(stack)["aws_kms_key"].values()
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == 30
    assert set(_resources(stack)) == {"aws_kms_key", "aws_kms_alias"}


def test_site_parameters_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import SiteParameters, SiteParametersProps
    from dhcp_failover.constructs.parameters import secret_variables

    inputs = secret_variables(stack, site_secrets(site))
    SiteParameters(stack, "parameters", props=SiteParametersProps(names=_names(site), inputs=inputs, key_arn=KEY_ARN,
                                                                  provider=stack.provider))
    parameters = _resources(stack)["aws_ssm_parameter"].values()
    assert {p["name"] for p in parameters} == {spec.parameter_name for spec in site_secrets(site)}
    assert all(p["type"] == "SecureString" and p["key_id"] == KEY_ARN for p in parameters)


def test_flow_logs_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import FlowLogs, FlowLogsProps

    FlowLogs(stack, "flow-logs", props=FlowLogsProps(names=_names(site), vpc_id="vpc-0123", region="eu-west-1",
                                                     partition="aws", account_id=ACCOUNT, key_arn=KEY_ARN,
                                                     provider=stack.provider))
    resources = _resources(stack)
    (log,) = resources["aws_flow_log"].values()
    assert log["vpc_id"] == "vpc-0123" and log["traffic_type"] == "ALL"
    (group,) = resources["aws_cloudwatch_log_group"].values()
    assert group["kms_key_id"] == KEY_ARN and group["retention_in_days"] == 365


def test_site_network_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import SiteNetwork, SiteNetworkProps

    network = SiteNetwork(stack, "network", props=SiteNetworkProps(
        names=_names(site), members=site.members, cidr=IPv4Network("10.77.0.0/16"), region="eu-west-1",
        partition="aws", account_id=ACCOUNT, key_arn=KEY_ARN, provider=stack.provider))
    resources = _resources(stack)
    (vpc,) = resources["aws_vpc"].values()
    assert vpc["cidr_block"] == "10.77.0.0/16"
    assert sorted(s["cidr_block"] for s in resources["aws_subnet"].values()) == ["10.77.1.0/24", "10.77.3.0/24"]
    assert set(network.subnets) == {Role.PRIMARY, Role.SECONDARY}


def test_site_region_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import SiteRegion, SiteRegionProps
    from dhcp_failover.constructs.layout import site_regions
    from dhcp_failover.constructs.parameters import secret_variables

    (layout,) = site_regions(site)
    region = SiteRegion(stack, "eu-west-1", props=SiteRegionProps(
        layout=layout, names=_names(site), inputs=secret_variables(stack, site_secrets(site)), partition="aws",
        account_id=ACCOUNT, provider=stack.provider))
    resources = _resources(stack)
    assert {"aws_kms_key", "aws_ssm_parameter", "aws_vpc", "aws_subnet", "aws_flow_log"} <= set(resources)
    assert region.network is not None


def test_server_role_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import ServerRole, ServerRoleProps

    parameter = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/dhcp-failover/lab/omapi-key"
    ServerRole(stack, "role", props=ServerRoleProps(member=site.primary, names=_names(site), parameter_arns=[parameter],
                                                    key_arn=KEY_ARN, provider=stack.provider))
    resources = _resources(stack)
    (policy,) = resources["aws_iam_role_policy"].values()
    statements = json.loads(policy["policy"])["Statement"]
    assert {tuple(s["Resource"]) if isinstance(s["Resource"], list) else (s["Resource"],) for s in statements} == {
        (parameter,), (KEY_ARN,)}
    assert set(resources) >= {"aws_iam_role", "aws_iam_instance_profile"}


def test_dhcp_security_groups_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import DhcpSecurityGroups, DhcpSecurityGroupsProps

    groups = DhcpSecurityGroups(stack, "sg", props=DhcpSecurityGroupsProps(
        site=site, names=_names(site), vpc_ids={Role.PRIMARY: "vpc-1", Role.SECONDARY: "vpc-1"},
        providers={Role.PRIMARY: stack.provider, Role.SECONDARY: stack.provider}))
    resources = _resources(stack)
    assert len(resources["aws_security_group"]) == 2
    ingress = resources["aws_vpc_security_group_ingress_rule"].values()
    assert not [r for r in ingress if r.get("cidr_ipv4") == "0.0.0.0/0"]
    assert {r["from_port"] for r in ingress} >= {67, 519, 520}
    assert set(groups.groups) == {Role.PRIMARY, Role.SECONDARY}


def test_dhcp_server_alone(stack: Any, site: Site) -> None:
    from dhcp_failover.constructs import DhcpServer, DhcpServerProps

    DhcpServer(stack, "server", props=DhcpServerProps(
        member=site.secondary, names=_names(site), subnet_id="subnet-1", security_group_id="sg-1",
        instance_profile_name="lab-b", user_data={"user_data": "#cloud-config\n"}, provider=stack.provider))
    (instance,) = _resources(stack)["aws_instance"].values()
    assert instance["private_ip"] == "10.77.3.10" and instance["subnet_id"] == "subnet-1"
    assert instance["metadata_options"]["http_tokens"] == "required"
