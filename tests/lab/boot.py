"""Booting a member as EC2 would, minus systemd: apply its synthesized cloud-config's
write_files under a scratch root and run its bootstrap against a local AWS API (moto)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.model import Member, Site
from tests.support.debian_roots import in_root
from tests.support.deploy import moto_server

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on loopback for the whole session (it keeps state per account/region):
    every test that deploys or boots against AWS shares it, since starting one costs seconds
    and its first IAM call more. So each suite keeps to site names of its own (IAM names are
    global; SSM, KMS and EC2 names per region) and checks only what its own sites made."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


def ssm(endpoint: str, region: str) -> Any:
    return boto3.client("ssm", region_name=region, endpoint_url=endpoint, aws_access_key_id="test",
                        aws_secret_access_key="test")


def put_secret(endpoint: str, region: str, name: str, value: str, kind: str = "SecureString") -> None:
    ssm(endpoint, region).put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)


def write_files(cloud_config: str, root: Path) -> dict[str, Path]:
    """Apply write_files under ``root``; returns path on the host → file under root."""
    written = {}
    for entry in yaml.safe_load(cloud_config)["write_files"]:
        target = root / entry["path"].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(entry["content"])
        target.chmod(int(entry["permissions"], 8))
        written[entry["path"]] = target
    return written


# PATH inside a Debian root: its own tools only (a test's wrapper on this machine's PATH, under
# /tmp, would be visible in the root too).
ROOT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def boot(site: Site, member: Member, root: Path, endpoint: str, debian_root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Lay down the member's files and run its bootstrap in no-start mode: with this machine's
    tools, or inside ``debian_root`` with its release's (awscli, dhcpd, kea-dhcp4)."""
    files = write_files(render_user_data(site, member).cloud_config, root)
    argv = [str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", endpoint, "--no-start"]
    if debian_root is not None:
        argv = in_root(debian_root, ["/usr/bin/env", f"PATH={ROOT_PATH}", "/bin/bash", *argv])
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env={**os.environ, **CREDENTIALS})
