"""User-data: a valid #cloud-config (real `cloud-init schema`) carrying exactly the rendered
tree, the same pinned dhcpd on both members, no secret, under EC2's 16 KB (gzip beyond)."""

from __future__ import annotations

import base64
import gzip
import json
import random
import subprocess
from pathlib import Path

import pytest
import yaml

from dhcp_failover.cloudinit import ALLOWED_TOP_LEVEL_KEYS, BOOTSTRAP_PATH, USER_DATA_LIMIT, render_user_data
from dhcp_failover.derived_names import member_folder
from dhcp_failover.errors import InventoryError
from dhcp_failover.host_files import render_inventory
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import Site
from dhcp_failover.monitoring import ENABLE_REPORTER
from tests.support.factories import EXAMPLES, inventory_data, site_data
from tests.support.tfenv import terraform, write_cli_config
from tests.support.tools import require


def sites() -> list[Site]:
    return [site for example in EXAMPLES for site in load_inventory(example).sites]


def assert_valid_cloud_config(cloud_config: str, path: Path) -> None:
    path.write_text(cloud_config)
    result = subprocess.run([require("cloud-init"), "schema", "--config-file", str(path)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "Valid cloud-config" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_members_user_data_passes_cloud_init_schema(tmp_path: Path, example: Path) -> None:
    for site in load_inventory(example).sites:
        for member in site.members:
            assert_valid_cloud_config(render_user_data(site, member).cloud_config, tmp_path / f"{member.name}.yaml")


def test_top_level_keys_are_only_the_known_ones() -> None:
    for site in sites():
        for member in site.members:
            assert set(yaml.safe_load(render_user_data(site, member).cloud_config)) <= ALLOWED_TOP_LEVEL_KEYS


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_render_writes_exactly_the_files_the_user_data_writes(example: Path) -> None:
    """A reviewer diffs ``render --out`` to see what changes on a member: every file the
    user-data writes (the configs, the bootstrap, a tunnel's key follower, the reporter) is
    there, with the same content and mode, and nothing else is."""
    inventory = load_inventory(example)
    trees = render_inventory(inventory)
    for site in inventory.sites:
        for member in site.members:
            config = yaml.safe_load(render_user_data(site, member).cloud_config)
            written = {f["path"]: (f["content"], f["permissions"]) for f in config["write_files"]}
            rendered = {f.path: (f.content, f"{f.mode:04o}") for f in trees[member_folder(site, member)]}
            only = (sorted(set(written) - set(rendered)), sorted(set(rendered) - set(written)))
            assert written == rendered, f"{member.name}: only in the user-data {only[0]}, only rendered {only[1]}"
            assert written[BOOTSTRAP_PATH][0].startswith("#!/bin/bash")
            assert config["runcmd"] == [[BOOTSTRAP_PATH]] + ([ENABLE_REPORTER] if site.monitoring else [])


def test_both_members_pin_the_same_dhcpd_version() -> None:
    site = inventory_from_data(inventory_data(site_data(software={"isc_dhcp_server": "4.4.3-P1-2"}))).sites[0]
    pins = [yaml.safe_load(render_user_data(site, m).cloud_config)["packages"][0] for m in site.members]
    assert pins == [["isc-dhcp-server", "4.4.3-P1-2"]] * 2


def test_tunnel_sites_install_wireguard_tools() -> None:
    site = load_inventory(next(e for e in EXAMPLES if e.stem == "two-regions")).sites[0]
    assert "wireguard-tools" in yaml.safe_load(render_user_data(site, site.primary).cloud_config)["packages"]


def big_site(hosts: int) -> Site:
    """A site with many reservations; random names and MACs so gzip cannot shrink them away."""
    rng = random.Random(hosts)
    reservations = [
        {
            "name": f"host-{rng.getrandbits(64):016x}",
            "mac": ":".join(f"{b:02x}" for b in [2, *rng.randbytes(5)]),
            "address": f"10.77.{4 + i // 250}.{1 + i % 250}",
        }
        for i in range(hosts)
    ]
    data = site_data()
    data["subnets"].append({"network": "10.77.4.0/22", "hosts": reservations})
    return inventory_from_data(inventory_data(data)).sites[0]


# examples/kea.yaml: Kea's JSON for a site with every feature Kea renders is about 8 kB a file;
# examples/dual-stack.yaml: a dual-stack Kea member carries kea-dhcp6.conf as well (~18.6 kB in all).
GZIPPED_UNMONITORED = {"branch", "campus"}


def test_examples_fit_uncompressed() -> None:
    """A monitored member also carries the reporter program (~13 kB), and a feature-rich Kea
    member two JSON configs: their user data is gzipped."""
    for site in sites():
        for member in site.members:
            user_data = render_user_data(site, member)
            if site.monitoring is not None or site.name in GZIPPED_UNMONITORED:
                assert user_data.compressed and len(user_data.terraform_args()["user_data_base64"]) <= USER_DATA_LIMIT
                continue
            assert not user_data.compressed and len(user_data.cloud_config.encode()) <= USER_DATA_LIMIT


def test_a_large_site_is_gzipped_and_still_identical(tmp_path: Path) -> None:
    site = big_site(250)
    user_data = render_user_data(site, site.primary)
    assert user_data.compressed
    raw = base64.b64decode(user_data.terraform_args()["user_data_base64"])
    assert len(raw) <= USER_DATA_LIMIT
    assert gzip.decompress(raw).decode() == user_data.cloud_config
    assert_valid_cloud_config(user_data.cloud_config, tmp_path / "big.yaml")


def test_a_site_too_large_even_compressed_is_a_clear_error() -> None:
    site = big_site(1000)
    with pytest.raises(InventoryError, match=r'site "lab": member lab-a: user-data is \d+ bytes even gzip-compressed'):
        render_user_data(site, site.primary)


def test_template_sequences_from_the_inventory_reach_the_instance_literally(tmp_path: Path) -> None:
    """Terraform evaluates `${...}` and `%{...}` in every string of cdk.tf.json, and cdktf does
    not escape plain strings: real terraform must hand back exactly the cloud-config."""
    require("terraform")
    data = site_data()
    data["subnets"][1]["filename"] = "ipxe/${arch}-%{x}-$${y}.efi"
    site = inventory_from_data(inventory_data(data)).sites[0]
    user_data = render_user_data(site, site.primary)
    assert "${arch}" in user_data.cloud_config and not user_data.compressed
    config = {"output": {"user_data": {"value": user_data.terraform_args()["user_data"]}}}
    (tmp_path / "main.tf.json").write_text(json.dumps(config))
    env = write_cli_config(tmp_path)
    terraform(["init", "-input=false"], tmp_path, env)
    terraform(["apply", "-auto-approve", "-input=false"], tmp_path, env)
    assert terraform(["output", "-raw", "user_data"], tmp_path, env).stdout == user_data.cloud_config
