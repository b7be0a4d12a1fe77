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
import time
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.isc.render import OMAPI_KEY_FILE, render_omapi_key
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, peer_endpoint_parameter, render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Member, Site
from dhcp_failover.render import wireguard_paths
from dhcp_failover.secret_names import PUBLIC_KEY_PLACEHOLDER, site_secrets, wireguard_public_key_parameter
from tests.lab.boot import CREDENTIALS, boot, put_secret, ssm, write_files
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


def wg(*args: str, stdin: str | None = None) -> str:
    return subprocess.run([require("wg"), *args], input=stdin, capture_output=True, text=True, check=True).stdout.strip()


def tunnel_site(name: str, regions: tuple[str, str], server: str = "isc", **wireguard: object) -> Site:
    data = site_data(name, wireguard=wireguard)
    if server == "kea":
        data["server"] = "kea"
    for m, region in zip(data["members"], regions, strict=False):
        m["placement"] = {"region": region, **EXISTING_SUBNET}
    return inventory_from_data(inventory_data(data)).sites[0]


def as_terraform_made_them(endpoint: str, site: Site) -> None:
    """What the shared stack holds before any member boots: the OMAPI key, each member's tunnel
    endpoint, and each member's public-key parameter with Terraform's placeholder."""
    for member in site.members:
        region = region_of(member)
        put_secret(endpoint, region, omapi_parameter(site), GOOD)
        put_secret(endpoint, region, peer_endpoint_parameter(site, member), f"203.0.113.{len(member.name)}:51820", "String")
        put_secret(endpoint, region, wireguard_public_key_parameter(site, member), PUBLIC_KEY_PLACEHOLDER, "String")


def region_of(member: Member) -> str:
    assert member.placement is not None
    return member.placement.region


def published(endpoint: str, site: Site, member: Member) -> dict[str, Any]:
    """The member's public-key parameter as SSM holds it."""
    parameter: dict[str, Any] = ssm(endpoint, region_of(member)).get_parameter(
        Name=wireguard_public_key_parameter(site, member))["Parameter"]
    return parameter


@pytest.mark.parametrize("server", ["isc", "kea"])
def test_tunnel_member_makes_its_key_publishes_it_and_takes_the_partners(
    tmp_path: Path, moto_endpoint: str, server: str
) -> None:
    site = tunnel_site(f"boot-wg-{server}", ("eu-west-1", "us-east-1"), server)
    as_terraform_made_them(moto_endpoint, site)
    partner_private = wg("genkey")
    partner_public = wg("pubkey", stdin=partner_private)
    put_secret(moto_endpoint, "us-east-1", wireguard_public_key_parameter(site, site.secondary), partner_public, "String")

    root = tmp_path / "root"
    result = boot(site, site.primary, root, moto_endpoint)
    assert result.returncode == 0, result.stderr
    paths = wireguard_paths(site.primary, str(root))
    private = Path(paths.private_key).read_text()
    assert published(moto_endpoint, site, site.primary)["Value"] == wg("pubkey", stdin=private)
    assert Path(paths.peer_public_key).read_text() == partner_public + "\n"
    assert Path(paths.peer_endpoint).read_text() == f"203.0.113.{len(site.secondary.name)}:51820\n"
    for path in (paths.private_key, paths.peer_public_key, paths.peer_endpoint):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    # The private key went nowhere: not into user-data, not into any parameter of either region.
    assert private.strip() not in render_user_data(site, site.primary).cloud_config
    for region in ("eu-west-1", "us-east-1"):
        values = [p["Value"] for p in ssm(moto_endpoint, region).get_parameters_by_path(
            Path=f"/dhcp-failover/{site.name}", Recursive=True, WithDecryption=True)["Parameters"]]
        assert values and private.strip() not in values

    # A re-run of the bootstrap keeps the key and writes no new version of the parameter.
    version = published(moto_endpoint, site, site.primary)["Version"]
    again = boot(site, site.primary, root, moto_endpoint)
    assert again.returncode == 0, again.stderr
    assert Path(paths.private_key).read_text() == private
    assert published(moto_endpoint, site, site.primary)["Version"] == version


@pytest.fixture
def systemctl_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `systemctl` first on PATH that appends its arguments to the returned file and succeeds."""
    shim = tmp_path / "shim-ok"
    shim.mkdir()
    log = tmp_path / "systemctl-ok.log"
    (shim / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (shim / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return log


def test_a_partner_that_never_publishes_fails_the_bootstrap_in_time_with_one_line(
    tmp_path: Path, moto_endpoint: str, systemctl_ok: Path
) -> None:
    """The member serves before it waits: the first member of a new pair answers while its
    partner is still being created (a rollout's gate waits for exactly that), then fails loudly
    when the partner's key never comes. Its tunnel simply has no peer."""
    site = tunnel_site("boot-wg-alone", ("eu-west-1", "eu-west-1"), public_key_timeout=3)
    as_terraform_made_them(moto_endpoint, site)
    root = tmp_path / "root"
    files = write_files(render_user_data(site, site.primary).cloud_config, root)
    start = time.monotonic()
    result = start_mode(files, root, moto_endpoint)
    elapsed = time.monotonic() - start
    parameter = wireguard_public_key_parameter(site, site.secondary)
    assert result.returncode == 1
    assert result.stderr == (f"dhcp-failover-bootstrap: partner boot-wg-alone-b published no WireGuard public key in "
                             f"SSM parameter {parameter} within 3 s (it holds no public key yet)\n")
    assert elapsed < 3 + 15, elapsed  # the timeout, plus the AWS CLI calls of a loaded machine
    started = systemctl_ok.read_text().splitlines()
    assert started.index("restart wg-quick@wg-primary") < started.index("restart isc-dhcp-server")
    assert "enable --now dhcp-failover-wireguard-peer.timer" in started
    paths = wireguard_paths(site.primary, str(root))
    assert not Path(paths.peer_public_key).exists()
    # Its own key is out, so the partner, booting later, does not wait for it in turn.
    assert published(moto_endpoint, site, site.primary)["Value"] == wg("pubkey", stdin=Path(paths.private_key).read_text())
