"""The boot path: the bootstrap from the synthesized user-data fetches the secrets from a real
local AWS API, writes them 0600 and leaves a tree that `dhcpd -t` accepts; a missing or
malformed secret stops it loudly with nothing written and nothing started."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
from pathlib import Path

import pytest

from boot import CREDENTIALS, boot, moto_endpoint, put_secret, write_files  # noqa: F401  (a fixture)
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, peer_endpoint_parameter, render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.keystore import KeyStore
from dhcp_failover.render import OMAPI_KEY_FILE, render_omapi_key, wireguard_paths
from dhcp_failover.secrets import site_secrets
from factories import inventory_data, site_data
from tools import require

REGION = "eu-west-1"


def placed_site(name: str) -> Site:
    data = site_data(name)
    for m, zone in zip(data["members"], ("a", "b")):
        m["placement"] = {"region": REGION, "availability_zone": f"{REGION}{zone}", "ami": "ami-0123456789abcdef0"}
    return inventory_from_data(inventory_data(data)).sites[0]


def omapi_parameter(site: Site) -> str:
    return site_secrets(site)[0].parameter_name


@pytest.fixture(autouse=True)
def tools() -> None:
    require("aws", "the bootstrap fetches secrets with the AWS CLI")
    require("dhcpd")


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


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "cannot read SSM parameter"),
        ("not base64 at all!", "is not base64"),
        (base64.b64encode(b"short").decode(), "decodes to 5 bytes; it must be 32"),
    ],
    ids=["absent", "not-base64", "wrong-length"],
)
def test_bad_secret_fails_loudly_and_writes_nothing(
    tmp_path: Path, moto_endpoint: str, value: str | None, message: str
) -> None:
    site = placed_site(f"boot-bad-{len(value or '')}")
    if value is not None:
        put_secret(moto_endpoint, REGION, omapi_parameter(site), value)
    result = boot(site, site.primary, tmp_path, moto_endpoint)
    assert result.returncode != 0
    assert message in result.stderr and omapi_parameter(site) in result.stderr
    assert not (tmp_path / OMAPI_KEY_FILE.lstrip("/")).exists()
    assert "started" not in result.stdout


def test_bootstrap_refuses_a_config_dhcpd_rejects(tmp_path: Path, moto_endpoint: str) -> None:
    site = placed_site("boot-badconf")
    put_secret(moto_endpoint, REGION, omapi_parameter(site), base64.b64encode(os.urandom(32)).decode())
    files = write_files(render_user_data(site, site.primary).cloud_config, tmp_path)
    conf = files["/etc/dhcp/dhcpd.conf"]
    conf.write_text(conf.read_text().replace("split 128;", ""))
    result = subprocess.run([str(files[BOOTSTRAP_PATH]), "--root", str(tmp_path), "--endpoint", moto_endpoint,
                             "--no-start"], capture_output=True, text=True, env={**os.environ, **CREDENTIALS})
    assert result.returncode != 0 and "dhcpd -t rejected" in result.stderr


def test_tunnel_member_gets_its_key_the_partners_public_key_and_endpoint(tmp_path: Path, moto_endpoint: str) -> None:
    data = site_data("boot-wg", wireguard={})
    regions = ("eu-west-1", "us-east-1")
    for m, region in zip(data["members"], regions):
        m["placement"] = {"region": region, "availability_zone": f"{region}a", "ami": "ami-0123456789abcdef0"}
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
    private = [s for s in site_secrets(site) if s.key_store_name == "boot-wg-a/wireguard-private-key"][0]
    peer_public = [s for s in site_secrets(site) if s.key_store_name == "boot-wg-b/wireguard-public-key"][0]
    assert Path(paths.private_key).read_text() == store.require(private).value + "\n"
    assert Path(paths.peer_public_key).read_text() == store.require(peer_public).value + "\n"
    assert Path(paths.peer_endpoint).read_text() == "203.0.113.7:51820\n"
    for path in (paths.private_key, paths.peer_public_key, paths.peer_endpoint):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
