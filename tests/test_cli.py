"""The commands as a user runs them: validate, render (the on-disk layout), schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.factories import REPO, inventory_data, site_data, write_inventory


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dhcp_failover", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_validate_accepts_every_example() -> None:
    for example in sorted((REPO / "examples").glob("*.yaml")):
        result = run("validate", "--inventory", str(example))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ok: ")


def test_render_writes_each_host_as_on_disk(tmp_path: Path) -> None:
    result = run("render", "--inventory", str(REPO / "examples/minimal.yaml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    files = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    member_files = [
        "etc/chrony/chrony.conf",
        "etc/default/isc-dhcp-server",
        "etc/dhcp-failover/reporter.json",
        "etc/dhcp/dhcpd.conf",
        "etc/rsyslog.d/30-dhcpd.conf",
        "etc/systemd/system/dhcp-failover-reporter.service",
        "etc/systemd/system/dhcp-failover-reporter.timer",
        "usr/local/sbin/dhcp-failover-bootstrap",
        "usr/local/sbin/dhcp-failover-reporter",
    ]
    assert files == [
        *(f"hq/dhcp-a/{f}" for f in member_files),
        *(f"hq/dhcp-b/{f}" for f in member_files),
        "hq/relays/hq-core/cisco-ios.cfg",
        "hq/relays/hq-core/etc/default/isc-dhcp-relay",
        "hq/relays/hq-core/junos.conf",
    ]


def test_render_again_replaces_a_sites_files_and_keeps_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inventory = write_inventory(tmp_path / "inv.yaml", inventory_data(site_data()))
    assert run("render", "--inventory", str(inventory), "--out", str(out)).returncode == 0
    (out / "lab" / "stale.txt").write_text("from an older render")
    (out / "notes.txt").write_text("the user's own file")
    assert run("render", "--inventory", str(inventory), "--out", str(out)).returncode == 0
    assert not (out / "lab" / "stale.txt").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_render_refuses_a_file_as_output(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    result = run("render", "--inventory", str(REPO / "examples/minimal.yaml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "not a folder" in result.stderr


def test_commands_never_load_cdktf() -> None:
    code = (
        "import sys; from dhcp_failover import cli; cli.main(['validate', '--inventory', 'examples/multi-site.yaml']);"
        "print(sorted(m for m in sys.modules if m.startswith(('cdktf', 'jsii', 'constructs'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"


def test_published_schema_is_generated_from_the_model() -> None:
    result = run("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((REPO / "schema/inventory.schema.json").read_text()), (
        "regenerate: python -m dhcp_failover schema > schema/inventory.schema.json"
    )
    assert json.loads(result.stdout)["additionalProperties"] is False


def test_status_names_the_sites_when_the_site_is_unknown() -> None:
    result = run("status", "--inventory", str(REPO / "examples/minimal.yaml"), "--site", "nope")
    assert (result.returncode, result.stderr.strip()) == (
        2, "error: --site 'nope' is not in " + str(REPO / "examples/minimal.yaml") + "; sites: hq"
    )


def test_status_without_a_key_store_says_how_to_make_one(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inv.yaml", inventory_data(site_data()))
    result = run("status", "--inventory", str(inventory), "--site", "lab")
    assert result.returncode == 2 and "run 'python -m dhcp_failover keys'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_drill_rejects_a_malformed_member_option(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inv.yaml", inventory_data(site_data()))
    assert run("keys", "--inventory", str(inventory)).returncode == 0
    result = run("drill", "--inventory", str(inventory), "--site", "lab", "--omapi-via", "lab-a")
    assert result.returncode == 2 and "takes MEMBER=VALUE" in result.stderr
