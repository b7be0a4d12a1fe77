"""SiteParameters: every secret of the table as a SecureString fed write-only from an ephemeral
variable, so synth needs no key material and state never holds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dhcp_failover.app import DECOMMISSION_ENV
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.secret_names import PUBLIC_KEY_PLACEHOLDER, site_secrets
from tests.support.factories import inventory_data


def test_one_secure_string_per_secret_with_write_only_value(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    data = placed()
    stack = synth_sites(data)["lab-shared"]
    site = inventory_from_data(inventory_data(data)).sites[0]
    specs = site_secrets(site)
    parameters = stack["resource"]["aws_ssm_parameter"]
    assert len(parameters) == len(specs)
    (key,) = stack["resource"]["aws_kms_key"]
    by_name = {p["name"]: p for p in parameters.values()}
    for spec in specs:
        parameter = by_name[spec.parameter_name]
        assert parameter["type"] == "SecureString"
        assert parameter["key_id"] == f"${{aws_kms_key.{key}.arn}}"  # the site's CMK, not aws/ssm
        assert parameter["value_wo"] == f"${{var.{spec.variable_name}}}"
        assert parameter["value_wo_version"] == f"${{var.{spec.version_variable_name}}}"
        assert "value" not in parameter and "insecure_value" not in parameter


def test_variables_are_named_by_the_table_ephemeral_and_sensitive(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    data = placed()
    stack = synth_sites(data)["lab-shared"]
    site = inventory_from_data(inventory_data(data)).sites[0]
    variables = stack["variable"]
    for spec in site_secrets(site):
        value = variables[spec.variable_name]
        assert value["ephemeral"] is True and value["sensitive"] is True
        assert value["type"] == "string" and "default" not in value
        version = variables[spec.version_variable_name]
        assert version == {**version, "type": "number", "default": 1}
        assert "sensitive" not in version


def test_outputs_name_the_parameters(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    outputs = synth_sites(placed())["lab-shared"]["output"]
    assert outputs["ssm_parameter_names"]["value"] == {"omapi-key": "/dhcp-failover/lab/omapi-key"}


def test_each_region_of_a_split_pair_stores_only_the_omapi_key_as_a_secret(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    parameters = [p for p in stack["resource"]["aws_ssm_parameter"].values() if p["type"] == "SecureString"]
    by_region: dict[str, set[str]] = {}
    for p in parameters:
        by_region.setdefault(p.get("provider", "aws"), set()).add(p["name"].removeprefix("/dhcp-failover/transatlantic/"))
    # dhcp-dub (primary) is in eu-west-1 (provider aws), dhcp-iad in us-east-1. No WireGuard key
    # is a runner secret any more: each member makes its own.
    assert by_region == {"aws": {"omapi-key"}, "aws.us_east_1": {"omapi-key"}}
    # One variable feeds both OMAPI copies: the pipeline exports one TF_VAR per secret.
    omapi = [p for p in parameters if p["name"].endswith("/omapi-key")]
    assert {p["value_wo"] for p in omapi} == {"${var.transatlantic_omapi_key}"}


def test_no_wireguard_private_key_is_anywhere_in_the_synthesized_stacks(synthesized_examples: dict[str, Any]) -> None:
    for outdir in synthesized_examples.values():
        for path in outdir.glob("stacks/*/cdk.tf.json"):
            text = path.read_text()
            assert "wireguard-private-key" not in text and "wireguard_private_key" not in text, path


def test_each_member_publishes_its_public_key_to_its_own_parameter_in_its_own_region(
    synthesized_examples: dict[str, Any],
) -> None:
    """Terraform owns the parameter (a destroy removes it) but only creates it: the member
    overwrites the placeholder at first boot, and no later plan writes it back."""
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    keys = {p["name"]: p for p in stack["resource"]["aws_ssm_parameter"].values()
            if p["name"].endswith("/published/wireguard-public-key")}
    assert {name: p.get("provider", "aws") for name, p in keys.items()} == {
        "/dhcp-failover/transatlantic/dhcp-dub/published/wireguard-public-key": "aws",
        "/dhcp-failover/transatlantic/dhcp-iad/published/wireguard-public-key": "aws.us_east_1",
    }
    for parameter in keys.values():
        assert parameter["type"] == "String" and "key_id" not in parameter
        assert parameter["value"] == PUBLIC_KEY_PLACEHOLDER
        assert parameter["lifecycle"] == {"ignore_changes": ["value"]}


SSM_WRITES = ("ssm:Put", "ssm:Delete", "ssm:Label", "ssm:AddTags", "ssm:RemoveTags")


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_a_member_may_write_its_own_public_key_parameter_and_no_other(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    resources = stack["resource"]
    ids = {p["name"].split("/")[3]: f"${{aws_ssm_parameter.{rid}.arn}}" for rid, p in resources["aws_ssm_parameter"].items()
           if p["name"].endswith("/published/wireguard-public-key")}
    writes = {}
    for role, member in (("primary", "dhcp-dub"), ("secondary", "dhcp-iad")):
        (policy,) = [json.loads(p["policy"]) for name, p in resources["aws_iam_role_policy"].items()
                     if name.startswith(f"iam_{role}_policy")]
        writes[member] = [s for s in policy["Statement"] if any(a.startswith(SSM_WRITES) for a in _actions(s))]
    assert writes == {
        member: [{"Sid": "PublishOwnWireGuardPublicKey", "Effect": "Allow", "Action": "ssm:PutParameter",
                  "Resource": ids[member]}]
        for member in ("dhcp-dub", "dhcp-iad")
    }


def test_tunnel_endpoints_are_published_for_the_partner(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    endpoints = {p["name"]: p for p in stack["resource"]["aws_ssm_parameter"].values()
                 if p["name"].endswith("/wireguard-endpoint")}
    assert sorted(endpoints) == [
        "/dhcp-failover/transatlantic/dhcp-dub/wireguard-endpoint",
        "/dhcp-failover/transatlantic/dhcp-iad/wireguard-endpoint",
    ]
    iad = endpoints["/dhcp-failover/transatlantic/dhcp-iad/wireguard-endpoint"]
    assert iad["provider"] == "aws.us_east_1" and iad["value"].endswith(".public_ip}:51820")
    # The partner points at these addresses: they must survive a careless destroy.
    assert all(e["lifecycle"] == {"prevent_destroy": True} for e in stack["resource"]["aws_eip"].values())
    policies = [json.loads(p["policy"]) for p in stack["resource"]["aws_iam_role_policy"].values()]
    readable = [set(s["Resource"]) for p in policies for s in p["Statement"] if "ssm:GetParameter" in s["Action"]]
    assert all(any("wg-endpoint" in arn for arn in arns) for arns in readable)


def test_relay_configs_are_stack_outputs(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["minimal"] / "stacks/hq-shared/cdk.tf.json").read_text())
    relay = stack["output"]["relay_configs"]["value"]["hq-core"]
    assert sorted(relay) == ["cisco_ios", "junos", "linux_isc_dhcp_relay"]
    assert "ip helper-address 10.20.1.10\n ip helper-address 10.20.2.10" in relay["cisco_ios"]


def _split_pair_in_existing_subnets(placed: Callable[..., dict[str, Any]], endpoints: str) -> dict[str, Any]:
    site = placed(wireguard={"network": "10.255.77.0/31", "endpoints": endpoints})
    for member, (region, suffix) in zip(site["members"], (("eu-west-1", "1"), ("us-east-1", "2")), strict=False):
        member["placement"] = {"region": region, "subnet_id": f"subnet-0000000{suffix}", "vpc_id": f"vpc-0000000{suffix}",
                               "ami": "ami-0123456789abcdef0"}
    return site


def test_members_in_existing_subnets_get_elastic_ips_for_the_tunnel(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    stacks = synth_sites(_split_pair_in_existing_subnets(placed, "elastic-ip"))
    shared = stacks["lab-shared"]
    ips = {name: ip for name, ip in shared["resource"]["aws_eip"].items()}
    assert sorted(ip.get("provider", "aws") for ip in ips.values()) == ["aws", "aws.us_east_1"]
    assert all(ip["lifecycle"] == {"prevent_destroy": True} for ip in ips.values())
    endpoints = {p["name"]: p["value"] for p in shared["resource"]["aws_ssm_parameter"].values()
                 if p["name"].endswith("/wireguard-endpoint")}
    (secondary_ip,) = [name for name in ips if "secondary" in name]
    assert endpoints["/dhcp-failover/lab/lab-b/wireguard-endpoint"] == f"${{aws_eip.{secondary_ip}.public_ip}}:51820"
    # Each member's stack puts its Elastic IP on its instance.
    for role in ("primary", "secondary"):
        (association,) = stacks[f"lab-{role}"]["resource"]["aws_eip_association"].values()
        assert association["allocation_id"].startswith("${data.terraform_remote_state.")


def test_private_tunnel_endpoints_are_the_fixed_addresses_and_make_no_elastic_ip(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    stacks = synth_sites(_split_pair_in_existing_subnets(placed, "private"))
    shared = stacks["lab-shared"]
    assert "aws_eip" not in shared["resource"]
    endpoints = {p["name"]: p["value"] for p in shared["resource"]["aws_ssm_parameter"].values()
                 if p["name"].endswith("/wireguard-endpoint")}
    assert endpoints == {
        "/dhcp-failover/lab/lab-a/wireguard-endpoint": "10.77.1.10:51820",
        "/dhcp-failover/lab/lab-b/wireguard-endpoint": "10.77.3.10:51820",
    }
    tunnel = [r for name, r in shared["resource"]["aws_vpc_security_group_ingress_rule"].items()
              if name.startswith("sg_primary_") and r["from_port"] == 51820]
    assert [r["cidr_ipv4"] for r in tunnel] == ["10.77.3.10/32"]
    assert all("aws_eip_association" not in stacks[f"lab-{role}"].get("resource", {}) for role in ("primary", "secondary"))


def test_a_site_being_decommissioned_lets_destroy_release_its_tunnel_ips(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    site = placed(wireguard={"network": "10.255.77.0/31"})
    guarded = synth_sites(site)["lab-shared"]["resource"]["aws_eip"]
    assert len(guarded) == 2 and all(ip["lifecycle"] == {"prevent_destroy": True} for ip in guarded.values())
    released = synth_sites(site, env={DECOMMISSION_ENV: "lab"})["lab-shared"]["resource"]["aws_eip"]
    assert len(released) == 2 and all("lifecycle" not in ip for ip in released.values())
