"""SiteParameters: every secret of the table as a SecureString fed write-only from an ephemeral
variable, so synth needs no key material and state never holds it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.secrets import site_secrets
from factories import inventory_data


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


def test_each_region_of_a_split_pair_has_its_own_copy(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    parameters = [p for p in stack["resource"]["aws_ssm_parameter"].values() if p["type"] == "SecureString"]
    omapi = [p for p in parameters if p["value_wo"] == "${var.transatlantic_omapi_key}"]
    # One variable feeds both copies: the pipeline exports one TF_VAR per secret.
    assert sorted(p.get("provider", "aws") for p in omapi) == ["aws", "aws.us_east_1"]
    assert len(parameters) == 2 * 5  # omapi key + two wireguard key pairs, in each region


def test_tunnel_endpoints_are_published_for_the_partner(synthesized_examples: dict[str, Any]) -> None:
    import json

    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    endpoints = {p["name"]: p for p in stack["resource"]["aws_ssm_parameter"].values() if p["type"] == "String"}
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
