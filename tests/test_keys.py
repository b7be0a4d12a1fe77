"""`keys`: secrets generated from the OS random source into a 0600 key store, never overwritten unless
rotated (a version bump), printed as the exact TF_VAR_ lines a deploy needs."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dhcp_failover.local_keys import STORE_FOLDER, default_path
from tests.support.factories import REPO, inventory_data, site_data, write_inventory


def keys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", "keys", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def exports(stdout: str) -> dict[str, str]:
    pairs = [line.removeprefix("export ").split("=", 1) for line in stdout.splitlines()]
    return {name: value.strip("'") for name, value in pairs}


def test_keys_creates_a_private_store_and_prints_export_lines(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(site_data()))
    result = keys("--inventory", str(inventory))
    assert result.returncode == 0, result.stderr
    store = tmp_path / ".dhcp-failover-keys" / "sites.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    values = exports(result.stdout)
    assert sorted(values) == ["TF_VAR_lab_omapi_key", "TF_VAR_lab_omapi_key_version"]
    assert len(base64.b64decode(values["TF_VAR_lab_omapi_key"], validate=True)) == 32
    assert values["TF_VAR_lab_omapi_key_version"] == "1"


def test_keys_never_overwrites_and_rotation_bumps_the_version(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(site_data()))
    first = exports(keys("--inventory", str(inventory)).stdout)
    again = exports(keys("--inventory", str(inventory)).stdout)
    assert again == first
    rotated = exports(keys("--inventory", str(inventory), "--rotate").stdout)
    assert rotated["TF_VAR_lab_omapi_key"] != first["TF_VAR_lab_omapi_key"]
    assert rotated["TF_VAR_lab_omapi_key_version"] == "2"
    # The members hold the old value until their bootstrap runs again: the store keeps it.
    stored = json.loads((inventory.parent / ".dhcp-failover-keys" / "sites.json").read_text())
    assert stored["sites"]["lab"]["omapi-key"]["previous"] == first["TF_VAR_lab_omapi_key"]


def test_tunnel_sites_get_no_wireguard_keys_and_old_ones_in_the_store_are_ignored(tmp_path: Path) -> None:
    """Each member makes its own WireGuard key at first boot: the runner makes none. A key store
    from before (with the runner-made key pairs) still loads, and its WireGuard entries are
    neither exported nor an error."""
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(site_data(wireguard={})))
    store = tmp_path / "k.json"
    old = {"value": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "version": 3}
    store.write_text(json.dumps({"format": 1, "sites": {"lab": {
        "lab-a/wireguard-private-key": old, "lab-a/wireguard-public-key": old,
    }}}))
    result = keys("--inventory", str(inventory), "--key-store", str(store))
    assert result.returncode == 0, result.stderr
    assert sorted(exports(result.stdout)) == ["TF_VAR_lab_omapi_key", "TF_VAR_lab_omapi_key_version"]
    names = json.loads(keys("--inventory", str(inventory), "--names-only").stdout)
    assert [n["secret"] for n in names] == ["omapi-key"]


def test_names_only_lists_parameters_and_variables_without_values(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(site_data()))
    result = keys("--inventory", str(inventory), "--names-only")
    assert json.loads(result.stdout) == [{
        "site": "lab", "secret": "omapi-key", "ssm_parameter": "/dhcp-failover/lab/omapi-key",
        "tf_var": "TF_VAR_lab_omapi_key", "tf_var_version": "TF_VAR_lab_omapi_key_version",
    }]
    assert not (tmp_path / ".dhcp-failover-keys").exists()


def test_a_corrupt_store_is_one_error_line(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(site_data()))
    (tmp_path / "k.json").write_text("{not json")
    result = keys("--inventory", str(inventory), "--key-store", str(tmp_path / "k.json"))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert (tmp_path / "k.json").read_text() == "{not json"


def test_a_bad_inventory_is_one_error_line_and_writes_no_store(tmp_path: Path) -> None:
    data = inventory_data(site_data())
    data["sites"][0]["members"][1]["role"] = "primary"
    inventory = write_inventory(tmp_path / "sites.yaml", data)
    result = keys("--inventory", str(inventory))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert not (tmp_path / ".dhcp-failover-keys").exists()


def test_git_ignores_every_key_store_and_tracks_none() -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    store = default_path(REPO / "examples" / "minimal.yaml").relative_to(REPO)
    ignored = subprocess.run(["git", "check-ignore", "--quiet", str(store)], cwd=REPO, timeout=30, check=False)
    assert ignored.returncode == 0, f"{store} is not git-ignored"
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, timeout=30,
                             check=True).stdout.splitlines()
    assert [path for path in tracked if STORE_FOLDER in Path(path).parts or path.endswith(".keystore.json")] == []
