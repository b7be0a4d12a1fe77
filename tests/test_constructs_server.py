"""DhcpServer: the member's instance at its fixed address, hardened, booted by its user data."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable
from typing import Any

from dhcp_failover.cloudinit import render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Role
from tests.support.factories import inventory_data


def _instance(stack: dict[str, Any]) -> dict[str, Any]:
    (instance,) = stack["resource"]["aws_instance"].values()
    return instance


def _user_data_text(instance: dict[str, Any]) -> str:
    if "user_data" in instance:
        return instance["user_data"]
    raw = base64.b64decode(instance["user_data_base64"])
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


def test_instance_is_hardened_and_keeps_its_address(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    site = placed()
    site["members"][0]["placement"].update(instance_type="t3.micro", root_volume_gib=12)
    stacks = synth_sites(site)
    primary = _instance(stacks["lab-primary"])
    assert primary["ami"] == "ami-0123456789abcdef0"  # from the inventory: no most_recent lookup
    assert primary["instance_type"] == "t3.micro"
    assert primary["private_ip"] == "10.77.1.10"  # the instance's own address, no separate ENI
    assert "network_interface" not in primary
    # Unset, not false: with an Elastic IP it reads back true and would force a replacement.
    assert "associate_public_ip_address" not in primary
    assert primary["metadata_options"]["http_tokens"] == "required"
    assert primary["metadata_options"]["http_endpoint"] == "enabled"
    root = primary["root_block_device"]
    assert root == {"delete_on_termination": True, "encrypted": True, "volume_size": 12, "volume_type": "gp3"}
    assert primary["monitoring"] is False and primary["ebs_optimized"] is True
    assert primary["user_data_replace_on_change"] is True
    secondary = _instance(stacks["lab-secondary"])
    assert secondary["private_ip"] == "10.77.3.10" and secondary["root_block_device"]["volume_size"] == 8
    assert "data" not in stacks["lab-primary"] or "aws_ami" not in stacks["lab-primary"]["data"]


def test_instance_wires_to_the_shared_stack(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    stacks = synth_sites(placed())
    instance = _instance(stacks["lab-primary"])
    remote = "${data.terraform_remote_state.cross-stack-reference-input-lab-shared"
    for key in ("subnet_id", "iam_instance_profile"):
        assert instance[key].startswith(remote), key
    assert instance["vpc_security_group_ids"][0].startswith(remote)
    # Construct-made VPC: the member's Elastic IP (allocated in the shared stack) is its way out.
    (association,) = stacks["lab-primary"]["resource"]["aws_eip_association"].values()
    assert association["allocation_id"].startswith(remote)
    assert association["instance_id"].startswith("${aws_instance.")


def test_existing_subnet_is_used_as_is(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    site = placed()
    for i, member in enumerate(site["members"]):
        placement = member["placement"]
        del placement["availability_zone"]
        placement.update(subnet_id=f"subnet-0a1b2c3d4e5f6070{i}", vpc_id="vpc-0a1b2c3d4e5f60708")
    stacks = synth_sites(site)
    instance = _instance(stacks["lab-secondary"])
    assert instance["subnet_id"] == "subnet-0a1b2c3d4e5f60701"
    assert "aws_eip_association" not in stacks["lab-secondary"]["resource"]
    shared = stacks["lab-shared"]["resource"]
    assert "aws_vpc" not in shared and "aws_eip" not in shared and "aws_flow_log" not in shared
    assert {g["vpc_id"] for g in shared["aws_security_group"].values()} == {"vpc-0a1b2c3d4e5f60708"}


def test_user_data_is_the_rendered_cloud_config_of_each_member(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    data = placed()
    stacks = synth_sites(data)
    site = inventory_from_data(inventory_data(data)).sites[0]
    for role in Role:
        member = site.member(role)
        instance = _instance(stacks[f"lab-{role.value}"])
        expected = render_user_data(site, member)
        assert {k: instance[k] for k in ("user_data", "user_data_base64") if k in instance} == expected.terraform_args()
        text = _user_data_text(instance)
        assert text == expected.cloud_config
        assert text.startswith("#cloud-config")
        # The member fetches its secrets by name at boot; the value is never in user data.
        assert "/dhcp-failover/lab/omapi-key" in text


def test_member_stack_with_cdktf_testing_matchers(testing_pair: Callable[..., Any], placed: Callable[..., Any]) -> None:
    import cdktf

    from dhcp_failover.constructs.aws_modules import instance as aws_instance

    pair = testing_pair(placed())
    synthesized = cdktf.Testing.synth(pair.member_stacks[Role.SECONDARY])
    assert cdktf.Testing.to_have_resource_with_properties(
        synthesized,
        aws_instance.Instance.TF_RESOURCE_TYPE,
        {
            "ami": "ami-0123456789abcdef0",
            "private_ip": "10.77.3.10",
            "metadata_options": {"http_tokens": "required"},
            "root_block_device": {"encrypted": True, "volume_size": 8},
            "user_data_replace_on_change": True,
        },
    )
    assert not cdktf.Testing.to_have_resource_with_properties(
        synthesized, aws_instance.Instance.TF_RESOURCE_TYPE, {"metadata_options": {"http_tokens": "optional"}}
    )
    # Typed children: the construct tree is API too.
    assert pair.servers[Role.SECONDARY].node.path == "lab-secondary/server"
    assert pair.security_groups.node.path == "lab-shared/sg"
    assert pair.shared_stack.node.id == "lab-shared"
