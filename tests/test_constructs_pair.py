"""DhcpFailoverPair: the stack layout (API for Terraform state), providers, tags, outputs and
the switch to a local AWS API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.app import ENDPOINT_ENV, local_api_from_env
from dhcp_failover.errors import SettingsError


def test_three_stacks_per_site_primary_after_secondary(synthesized_examples: dict[str, Path]) -> None:
    manifest = json.loads((synthesized_examples["multi-site"] / "manifest.json").read_text())
    stacks = manifest["stacks"]
    assert sorted(stacks) == sorted(
        f"{site}-{part}" for site in ("london", "paris", "berlin") for part in ("shared", "primary", "secondary")
    )
    for site in ("london", "paris", "berlin"):
        assert stacks[f"{site}-shared"]["dependencies"] == []
        assert stacks[f"{site}-secondary"]["dependencies"] == [f"{site}-shared"]
        # deploy '*' never touches both members at once: shared, then secondary, then primary.
        assert sorted(stacks[f"{site}-primary"]["dependencies"]) == [f"{site}-secondary", f"{site}-shared"]
        # cdktf deploy matches dependencies against stack names: stacks sit directly on the App.
        assert all(stack["constructPath"] == name for name, stack in stacks.items())


def test_backends_are_relative_so_synth_does_not_depend_on_the_checkout(synthesized_examples: dict[str, Path]) -> None:
    for path in synthesized_examples["minimal"].glob("stacks/*/cdk.tf.json"):
        stack = json.loads(path.read_text())
        name = path.parent.name
        assert stack["terraform"]["backend"] == {"local": {"path": f"../../../terraform.{name}.tfstate"}}
        for remote in stack.get("data", {}).get("terraform_remote_state", {}).values():
            assert not remote["config"]["path"].startswith("/")


def test_member_stacks_never_read_each_other(synthesized_examples: dict[str, Path]) -> None:
    for outdir in synthesized_examples.values():
        for path in outdir.glob("stacks/*/cdk.tf.json"):
            if path.parent.name.endswith("-shared"):
                continue
            remote = json.loads(path.read_text()).get("data", {}).get("terraform_remote_state", {})
            assert all(name.endswith("-shared") for name in remote), (path.parent.name, list(remote))


def test_one_provider_per_region_in_each_stack(synthesized_examples: dict[str, Path]) -> None:
    stacks = synthesized_examples["two-regions"] / "stacks"
    shared = json.loads((stacks / "transatlantic-shared/cdk.tf.json").read_text())["provider"]["aws"]
    assert [(p["region"], p.get("alias")) for p in shared] == [("eu-west-1", None), ("us-east-1", "us_east_1")]
    for name, region in (("transatlantic-primary", "eu-west-1"), ("transatlantic-secondary", "us-east-1")):
        (provider,) = json.loads((stacks / name / "cdk.tf.json").read_text())["provider"]["aws"]
        assert provider["region"] == region


def test_tags_merge_inventory_then_site_and_name_per_resource(
    synth_sites: Callable[..., Any], placed: Callable[..., Any]
) -> None:
    stacks = synth_sites(placed(tags={"owner": "site-team", "site": "lab"}), tags={"owner": "net", "cost": "dhcp"})
    for stack in stacks.values():
        for provider in stack["provider"]["aws"]:
            assert provider["default_tags"] == [{"tags": {"owner": "site-team", "cost": "dhcp", "site": "lab"}}]
    (instance,) = stacks["lab-primary"]["resource"]["aws_instance"].values()
    assert instance["tags"] == {"Name": "lab-primary"}


def test_a_name_tag_from_the_inventory_wins(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    stacks = synth_sites(placed(tags={"Name": "dhcp"}))
    (instance,) = stacks["lab-primary"]["resource"]["aws_instance"].values()
    assert "tags" not in instance or "Name" not in instance["tags"]
    assert stacks["lab-primary"]["provider"]["aws"][0]["default_tags"] == [{"tags": {"Name": "dhcp"}}]


def test_outputs_for_relays_operators_and_the_pipeline(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    stacks = synth_sites(placed())
    shared = stacks["lab-shared"]["output"]
    assert shared["server_addresses"]["value"] == {"lab-a": "10.77.1.10", "lab-b": "10.77.3.10"}
    assert shared["omapi_endpoints"]["value"] == {"lab-a": "10.77.1.10:7911", "lab-b": "10.77.3.10:7911"}
    assert shared["ssm_parameter_names"]["value"] == {"omapi-key": "/dhcp-failover/lab/omapi-key"}
    assert set(shared["egress_ips"]["value"]) == {"lab-a", "lab-b"}
    primary = stacks["lab-primary"]["output"]
    assert primary["address"]["value"].startswith("${aws_instance.") and primary["address"]["value"].endswith(".private_ip}")
    assert primary["omapi_endpoint"]["value"] == "10.77.1.10:7911"
    assert "instance_id" in primary
    assert all(o.get("description") for s in stacks.values() for n, o in s["output"].items() if not n.startswith("cross-stack"))


def test_local_api_switches_every_provider(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> None:
    url = "http://127.0.0.1:5123"
    stacks = synth_sites(placed(), env={ENDPOINT_ENV: url})
    for stack in stacks.values():
        (provider,) = stack["provider"]["aws"]
        assert provider["access_key"] == "test" and provider["secret_key"] == "test"
        assert provider["skip_credentials_validation"] is True and provider["skip_requesting_account_id"] is True
        # The address reaches terraform as $AWS_ENDPOINT_URL: an endpoints block slows every plan.
        assert "endpoints" not in provider and url not in json.dumps(provider)


def test_real_aws_by_default(synthesized_examples: dict[str, Path]) -> None:
    for path in synthesized_examples["minimal"].glob("stacks/*/cdk.tf.json"):
        for provider in json.loads(path.read_text())["provider"]["aws"]:
            assert "endpoints" not in provider and "access_key" not in provider


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://localhost:4566/", "http://localhost:4566"),
    ],
)
def test_endpoint_setting(value: str, expected: str | None) -> None:
    api = local_api_from_env({ENDPOINT_ENV: value})
    assert (api.url if api else None) == expected


@pytest.mark.parametrize("value", ["127.0.0.1:5000", "ftp://127.0.0.1", "http://127.0.0.1:99999", "http://h:1/x"])
def test_bad_endpoint_is_one_line(value: str) -> None:
    with pytest.raises(SettingsError, match=ENDPOINT_ENV):
        local_api_from_env({ENDPOINT_ENV: value})
