"""A Kea member's boot path: user-data that cloud-init accepts, pinned Kea packages, and a
bootstrap that fetches the control password from a real local AWS API (moto), writes it byte
for byte for Kea, proves both configs with kea-dhcp4 -t / kea-ctrl-agent -t, then starts the
services and fails loudly when kea-dhcp4 does not stay up (2.2's -t misses hook errors)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from dhcp_failover.backends.kea.ddns import D2_CONF, d2_config
from dhcp_failover.backends.kea.render import CTRL_AGENT_CONF, DHCP4_CONF, DHCP4_DROP_IN, password_path
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.secret_names import SecretKind, control_secret, site_secrets
from tests.lab.boot import boot, put_secret, write_files
from tests.support.factories import inventory_data, site_data
from tests.support.tools import require
from tests.test_bootstrap import EXISTING_SUBNET, REGION, SYSTEM_AWS, start_mode
from tests.test_cloudinit import assert_valid_cloud_config

PASSWORD = base64.b64encode(bytes(range(32, 64))).decode()


def kea_site(name: str, **overrides: object) -> Site:
    data = {**site_data(name, **overrides), "server": "kea"}
    for m in data["members"]:
        m["placement"] = {"region": REGION, **EXISTING_SUBNET}
    return inventory_from_data(inventory_data(data)).sites[0]


@pytest.fixture(autouse=True)
def tools(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.access(SYSTEM_AWS, os.X_OK):
        monkeypatch.setenv("PATH", f"{SYSTEM_AWS.parent}{os.pathsep}{os.environ['PATH']}")
    require("aws", "the bootstrap fetches secrets with the AWS CLI")
    require("kea-dhcp4")


def systemctl_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, dead_unit: str = "") -> Path:
    """`systemctl` (and `journalctl`) first on PATH: record every call; `is-active` fails for
    ``dead_unit`` as it would for a kea-dhcp4 that exited on a bad HA setting."""
    shim = tmp_path / "shim"
    shim.mkdir(parents=True)
    log = tmp_path / "systemctl.log"
    (shim / "systemctl").write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n'
        f'[ "$1" = is-active ] && [ "$3" = "{dead_unit}" ] && exit 3\nexit 0\n'
    )
    (shim / "journalctl").write_text('#!/bin/sh\necho "kea-dhcp4: HA_CONFIGURATION_FAILED (stand-in log)"\n')
    for tool in ("systemctl", "journalctl"):
        (shim / tool).chmod(0o755)
    # The settle wait is real; 2 s per start-mode run.
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return log


def test_user_data_installs_pinned_kea_and_passes_cloud_init_schema(tmp_path: Path) -> None:
    site = kea_site("kea-ud")
    for member in site.members:
        text = render_user_data(site, member).cloud_config
        assert_valid_cloud_config(text, tmp_path / f"{member.name}.yaml")
        config = yaml.safe_load(text)
        assert config["packages"][:2] == [["kea-dhcp4-server", "2.2.0-6"], ["kea-ctrl-agent", "2.2.0-6"]]
        assert not any("isc-dhcp-server" in str(p) for p in config["packages"])
        paths = {f["path"] for f in config["write_files"]}
        assert {DHCP4_CONF, CTRL_AGENT_CONF, DHCP4_DROP_IN, BOOTSTRAP_PATH} <= paths
        assert password_path() not in paths  # the password arrives at boot, from SSM


def test_kea_site_has_a_control_password_and_no_omapi_key() -> None:
    site = kea_site("kea-sec")
    kinds = [spec.kind.value for spec in site_secrets(site)]
    assert kinds == ["kea-control-password"]
    assert control_secret(site).parameter_name == "/dhcp-failover/kea-sec/kea-control-password"


def test_bootstrap_writes_the_password_verbatim_and_both_configs_pass_t(tmp_path: Path, moto_endpoint: str) -> None:
    site = kea_site("kea-boot")
    put_secret(moto_endpoint, REGION, control_secret(site).parameter_name, PASSWORD)
    for member in site.members:
        root = tmp_path / member.name
        result = boot(site, member, root, moto_endpoint)
        assert result.returncode == 0, result.stderr
        password = Path(password_path(str(root)))
        assert password.read_bytes() == PASSWORD.encode()  # no trailing newline (notes, pitfall 8)
        assert stat.S_IMODE(password.stat().st_mode) == 0o640
        assert "not starting (--no-start)" in result.stdout


def test_bootstrap_starts_kea_and_fails_when_kea_dhcp4_does_not_stay_up(
    tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = kea_site("kea-start")
    put_secret(moto_endpoint, REGION, control_secret(site).parameter_name, PASSWORD)
    good_log = systemctl_shim(tmp_path / "good", monkeypatch)
    files = write_files(render_user_data(site, site.primary).cloud_config, tmp_path / "good-root")
    result = start_mode(files, tmp_path / "good-root", moto_endpoint)
    assert result.returncode == 0, result.stderr
    calls = good_log.read_text().splitlines()
    assert calls[0] == "daemon-reload"
    assert "restart kea-dhcp4-server kea-ctrl-agent" in calls
    assert calls[-2:] == ["is-active --quiet kea-dhcp4-server", "is-active --quiet kea-ctrl-agent"]

    bad_log = systemctl_shim(tmp_path / "bad", monkeypatch, dead_unit="kea-dhcp4-server")  # first on PATH now
    files = write_files(render_user_data(site, site.primary).cloud_config, tmp_path / "bad-root")
    result = start_mode(files, tmp_path / "bad-root", moto_endpoint)
    assert result.returncode == 1
    assert "kea-dhcp4-server did not stay up 2 s after its start" in result.stderr
    assert "HA_CONFIGURATION_FAILED" in result.stderr
    assert bad_log.exists()


def test_bootstrap_refuses_a_config_kea_rejects_and_starts_nothing(
    tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = kea_site("kea-badconf")
    put_secret(moto_endpoint, REGION, control_secret(site).parameter_name, PASSWORD)
    log = systemctl_shim(tmp_path, monkeypatch)
    files = write_files(render_user_data(site, site.primary).cloud_config, tmp_path / "root")
    conf = files[DHCP4_CONF]
    conf.write_text(conf.read_text().replace('"subnet": "10.77.2.0/24"', '"subnet": "10.77.1.0/24"'))  # overlap
    result = start_mode(files, tmp_path / "root", moto_endpoint)
    assert result.returncode == 1 and f"kea-dhcp4 -t rejected {DHCP4_CONF}" in result.stderr
    assert not log.exists()


def test_bootstrap_writes_d2s_config_with_the_tsig_secret_from_ssm_and_it_passes_t(
    tmp_path: Path, moto_endpoint: str
) -> None:
    """DNS updates on Kea: the TSIG secret reaches only the member's disk, in kea-dhcp-ddns.conf
    (Kea 2.2's D2 reads secrets from its config alone), written by the bootstrap from SSM."""
    require("kea-dhcp-ddns")
    section = {"domain_name": "lab.example.com", "keys": [{"name": "lab-ddns"}],
               "zones": [{"name": "lab.example.com", "servers": ["10.77.1.53"], "key": "lab-ddns"},
                         {"name": "2.77.10.in-addr.arpa", "servers": ["10.77.1.53"], "key": "lab-ddns"}]}
    site = kea_site("kea-ddns", ddns=section)
    tsig = base64.b64encode(bytes(range(64, 96))).decode()
    for spec in site_secrets(site):
        put_secret(moto_endpoint, REGION, spec.parameter_name, tsig if spec.kind is SecretKind.DDNS_KEY else PASSWORD)
    for member in site.members:
        user_data = render_user_data(site, member).cloud_config
        assert tsig not in user_data and PASSWORD not in user_data
        assert ["kea-dhcp-ddns-server", "2.2.0-6"] in yaml.safe_load(user_data)["packages"]
        root = tmp_path / member.name
        result = boot(site, member, root, moto_endpoint)
        assert result.returncode == 0, result.stderr
        d2_conf = root / D2_CONF.lstrip("/")
        assert json.loads(d2_conf.read_text()) == d2_config(site, {"lab-ddns": tsig})
        assert stat.S_IMODE(d2_conf.stat().st_mode) == 0o640
