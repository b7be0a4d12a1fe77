"""The boot path: the bootstrap from the synthesized user-data fetches the secrets from a real
local AWS API, writes them 0600 and leaves a tree that `dhcpd -t` accepts; a missing or
malformed secret stops it loudly with nothing written and nothing started.

The failure cases run in start mode: `systemctl` there is a stand-in on PATH that only records
its calls, so a bootstrap that went too far is caught instead of starting the host's services.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from pathlib import Path

import pytest

from dhcp_failover.cloudinit import BOOTSTRAP_PATH, peer_endpoint_parameter, render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.model import Site
from dhcp_failover.render import OMAPI_KEY_FILE, render_omapi_key, wireguard_paths
from dhcp_failover.secret_names import site_secrets
from tests.lab.boot import CREDENTIALS, boot, put_secret, write_files
from tests.support.factories import inventory_data, site_data
from tests.support.tools import require

REGION = "eu-west-1"
# The member runs Debian 12's awscli (too old for AWS_ENDPOINT_URL); test with that one when it
# is installed, rather than whichever `aws` comes first on PATH.
SYSTEM_AWS = Path("/usr/bin/aws")


# The lab's member addresses (10.77.1.1 and .2) are among those AWS reserves in a subnet it
# makes, so the boot tests place members in an existing subnet: the bootstrap only reads the region.
EXISTING_SUBNET = {"subnet_id": "subnet-0123456789abcdef0", "vpc_id": "vpc-0123456789abcdef0", "ami": "ami-0123456789abcdef0"}


def placed_site(name: str) -> Site:
    data = site_data(name)
    for m in data["members"]:
        m["placement"] = {"region": REGION, **EXISTING_SUBNET}
    return inventory_from_data(inventory_data(data)).sites[0]


def omapi_parameter(site: Site) -> str:
    return site_secrets(site)[0].parameter_name


@pytest.fixture(autouse=True)
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.access(SYSTEM_AWS, os.X_OK):
        monkeypatch.setenv("PATH", f"{SYSTEM_AWS.parent}{os.pathsep}{os.environ['PATH']}")
    require("aws", "the bootstrap fetches secrets with the AWS CLI")
    require("dhcpd")


@pytest.fixture
def systemctl_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `systemctl` first on PATH that appends its arguments to the returned file and fails."""
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "systemctl.log"
    (shim / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit 1\n')
    (shim / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return log


def run_in_start_mode(site: Site, root: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    """The primary's bootstrap as cloud-init runs it (no --no-start), files under ``root``."""
    files = write_files(render_user_data(site, site.primary).cloud_config, root)
    return start_mode(files, root, endpoint)


def start_mode(files: dict[str, Path], root: Path, endpoint: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", endpoint],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **CREDENTIALS})


def test_bootstrap_fetches_secret_writes_0600_and_dhcpd_t_passes(tmp_path: Path, moto_endpoint: str) -> None:
    site = placed_site("boot-ok")
    secret = base64.b64encode(os.urandom(32)).decode()
    put_secret(moto_endpoint, REGION, omapi_parameter(site), secret)
    for member in site.members:
        root = tmp_path / member.name
        result = boot(site, member, root, moto_endpoint)
        assert result.returncode == 0, result.stderr
        key = root / OMAPI_KEY_FILE.lstrip("/")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text() == render_omapi_key(site, secret)
        assert "not starting (--no-start)" in result.stdout


GOOD = base64.b64encode(bytes(range(32))).decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "cannot read SSM parameter {name}: "),
        ("not base64 at all!", "SSM parameter {name} is not base64"),
        (GOOD[:20] + "\n" + GOOD[20:], "SSM parameter {name} is not base64"),  # base64 -d alone accepts it
        (base64.b64encode(b"short").decode(), "SSM parameter {name} decodes to 5 bytes; it must be 32"),
        (base64.b64encode(bytes(33)).decode(), "SSM parameter {name} decodes to 33 bytes; it must be 32"),
    ],
    ids=["absent", "not-base64", "line-broken", "too-short", "too-long"],
)
def test_bad_secret_fails_loudly_writes_nothing_and_starts_nothing(
    tmp_path: Path, moto_endpoint: str, systemctl_log: Path, request: pytest.FixtureRequest,
    value: str | None, message: str,
) -> None:
    site = placed_site(f"boot-{request.node.callspec.id}")
    if value is not None:
        put_secret(moto_endpoint, REGION, omapi_parameter(site), value)
    result = run_in_start_mode(site, tmp_path / "root", moto_endpoint)
    assert result.returncode == 1
    assert f"dhcp-failover-bootstrap: {message.format(name=omapi_parameter(site))}" in result.stderr
    assert {p.name for p in (tmp_path / "root/etc/dhcp").iterdir()} == {"dhcpd.conf"}  # no key, no leftovers
    assert not systemctl_log.exists()


def test_bootstrap_refuses_a_config_dhcpd_rejects(tmp_path: Path, moto_endpoint: str, systemctl_log: Path) -> None:
    site = placed_site("boot-badconf")
    put_secret(moto_endpoint, REGION, omapi_parameter(site), GOOD)
    files = write_files(render_user_data(site, site.primary).cloud_config, tmp_path / "root")
    conf = files["/etc/dhcp/dhcpd.conf"]
    conf.write_text(conf.read_text().replace("split 128;", ""))
    result = start_mode(files, tmp_path / "root", moto_endpoint)
    assert result.returncode == 1 and "dhcpd -t rejected /etc/dhcp/dhcpd.conf" in result.stderr
    assert not systemctl_log.exists()


def test_tunnel_member_gets_its_key_the_partners_public_key_and_endpoint(tmp_path: Path, moto_endpoint: str) -> None:
    data = site_data("boot-wg", wireguard={})
    regions = ("eu-west-1", "us-east-1")
    for m, region in zip(data["members"], regions, strict=False):
        m["placement"] = {"region": region, **EXISTING_SUBNET}
    site = inventory_from_data(inventory_data(data)).sites[0]
    store = KeyStore(tmp_path / "keys.json", {})
    store.ensure(site)
    for spec in site_secrets(site):
        for region in regions:  # every secret has a copy in each member's region
            put_secret(moto_endpoint, region, spec.parameter_name, store.require(spec).value)
    put_secret(moto_endpoint, "us-east-1", peer_endpoint_parameter(site, site.secondary), "203.0.113.7:51820", "String")

    result = boot(site, site.primary, tmp_path / "root", moto_endpoint)
    assert result.returncode == 0, result.stderr
    paths = wireguard_paths(site.primary, str(tmp_path / "root"))
    private = next(s for s in site_secrets(site) if s.key_store_name == "boot-wg-a/wireguard-private-key")
    peer_public = next(s for s in site_secrets(site) if s.key_store_name == "boot-wg-b/wireguard-public-key")
    assert Path(paths.private_key).read_text() == store.require(private).value + "\n"
    assert Path(paths.peer_public_key).read_text() == store.require(peer_public).value + "\n"
    assert Path(paths.peer_endpoint).read_text() == "203.0.113.7:51820\n"
    for path in (paths.private_key, paths.peer_public_key, paths.peer_endpoint):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
