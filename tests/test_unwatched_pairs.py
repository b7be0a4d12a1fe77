"""A pair nothing watches is a decision the user makes, not a default they never saw: a placed
site without `monitoring:` gets one `warning:` line from validate, render and synth (exit 0),
which names the site and both ways out; `monitoring: {enabled: false, reason: ...}` says why."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.errors import InventoryError
from dhcp_failover.inventory import inventory_from_data, load_inventory
from tests.support.checkout import REPO, placed_site, run_main
from tests.support.factories import EXAMPLES, inventory_data, site_data, write_inventory
from tests.support.messages import assert_in_users_words


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


TURNED_OFF = {"enabled": False, "reason": "lab pair; the lab's own checks watch it"}


def run_commands(tmp_path: Path, data: dict[str, Any]) -> list[tuple[int, str]]:
    """validate, render and synth of one inventory, side by side: (exit code, stderr) each."""
    inventory = write_inventory(tmp_path / "inventory.yaml", data)
    commands = [
        lambda: run_cli("validate", "--inventory", str(inventory)),
        lambda: run_cli("render", "--inventory", str(inventory), "--out", str(tmp_path / "out")),
        lambda: run_main(tmp_path, "--inventory", str(inventory), script=REPO / "main.py",
                         env={"CDKTF_OUTDIR": str(tmp_path / "cdktf.out")}),
    ]
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return [(r.returncode, r.stderr) for r in pool.map(lambda command: command(), commands)]


def test_a_placed_site_without_monitoring_warns_once_in_every_command(tmp_path: Path) -> None:
    for code, stderr in run_commands(tmp_path, inventory_data(placed_site("lab"))):
        assert code == 0, stderr
        (line,) = stderr.splitlines()
        assert line.startswith('warning: site "lab": nothing watches this pair'), line
        assert "monitoring: {alerts:" in line and 'monitoring: {enabled: false, reason: "..."}' in line
        assert_in_users_words(line)


def test_monitoring_turned_off_with_a_reason_or_on_warns_nowhere(tmp_path: Path) -> None:
    data = inventory_data(placed_site("off", monitoring=TURNED_OFF),
                          placed_site("on", monitoring={"alerts": {"emails": ["noc@example.com"]}}))
    data["sites"][1] = {**data["sites"][1], **_other_addresses(data["sites"][1])}
    for code, stderr in run_commands(tmp_path, data):
        assert code == 0, stderr
        assert "warning:" not in stderr, stderr
    # Turned off is off: nothing of the monitoring reaches the members or AWS.
    stacks = (tmp_path / "cdktf.out" / "stacks")
    assert "aws_cloudwatch_metric_alarm" not in (stacks / "off-primary" / "cdk.tf.json").read_text()
    assert "aws_cloudwatch_metric_alarm" in (stacks / "on-primary" / "cdk.tf.json").read_text()
    assert not (tmp_path / "out" / "off" / "off-a" / "usr" / "local" / "sbin" / "dhcp-failover-reporter").exists()


def _other_addresses(site: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(site).replace("10.77.", "10.78."))


def test_a_site_that_is_not_placed_deploys_nothing_and_is_not_warned_about(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", inventory_data(site_data()))
    result = run_cli("validate", "--inventory", str(inventory))
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_example_that_deploys_is_watched(example: Path) -> None:
    for site in load_inventory(example).sites:
        assert not site.placed or site.monitoring is not None, f"{example.name}: site {site.name} is not watched"


@pytest.mark.parametrize(("monitoring", "expected"), [
    ({"enabled": False}, "monitoring.reason: missing required key 'reason'"),
    ({"enabled": False, "reason": "short"}, "monitoring.reason: 'short' must be text of at least 10 character(s)"),
    ({**TURNED_OFF, "log_retention_days": 7},
     "monitoring.log_retention_days: unknown key 'log_retention_days': with enabled: false, monitoring takes only a reason"),
    ({"enabled": "no"}, "monitoring.enabled: 'no' must be one of true"),
])
def test_turning_monitoring_off_takes_exactly_a_reason(monitoring: dict[str, Any], expected: str) -> None:
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(inventory_data(site_data(monitoring=monitoring)))
    assert str(caught.value) == f'site "lab": {expected}'
