"""Rollout safety: no single deploy unit may replace or stop both members of a pair, because
both lease databases would be gone at once. A change that rewrites both members' configs must
land as two deploys (secondary stack, then primary), never one."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from dhcp_failover.app import build_app, plan_synth
from dhcp_failover.inventory import inventory_from_data
from tests.support.checkout import placed_site
from tests.support.factories import inventory_data

Stacks = dict[str, dict[str, Any]]


def synth(site: dict[str, Any], outdir: Path) -> tuple[Stacks, dict[str, Any]]:
    build_app(plan_synth(inventory_from_data(inventory_data(site)), environ={}), outdir=str(outdir)).synth()
    stacks = {p.parent.name: json.loads(p.read_text()) for p in outdir.glob("stacks/*/cdk.tf.json")}
    return stacks, json.loads((outdir / "manifest.json").read_text())


def instances(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get("aws_instance", {})


def changed_instances(before: Stacks, after: Stacks) -> dict[str, list[str]]:
    """Per stack, the instances whose configuration differs (user-data change = replacement)."""
    changed = {}
    for name, stack in after.items():
        old = instances(before[name])
        diff = [rid for rid, res in instances(stack).items() if old.get(rid) != res]
        if diff:
            changed[name] = diff
    return changed


def test_a_change_to_both_members_configs_lands_in_two_separate_deploys(tmp_path: Path) -> None:
    site = placed_site("roll")
    changed_site = copy.deepcopy(site)
    changed_site["subnets"][1]["dns_servers"] = ["10.77.1.53"]  # rendered into both dhcpd.conf

    before, manifest = synth(site, tmp_path / "before")
    after, _ = synth(changed_site, tmp_path / "after")

    assert changed_instances(before, after) == {
        "roll-primary": [next(iter(instances(after["roll-primary"])))],
        "roll-secondary": [next(iter(instances(after["roll-secondary"])))],
    }
    assert [len(instances(after[name])) for name in ("roll-shared", "roll-secondary", "roll-primary")] == [0, 1, 1]
    # `cdktf deploy '*'` follows these: the primary's stack only after the secondary's.
    assert "roll-secondary" in manifest["stacks"]["roll-primary"]["dependencies"]
    assert "roll-primary" not in manifest["stacks"]["roll-secondary"]["dependencies"]


def test_a_primary_only_setting_touches_only_the_primary_stack(tmp_path: Path) -> None:
    site = placed_site("roll", failover={"mclt": 3600})
    changed_site = placed_site("roll", failover={"mclt": 1800})  # mclt is rendered on the primary only

    before, _ = synth(site, tmp_path / "before")
    after, _ = synth(changed_site, tmp_path / "after")
    assert list(changed_instances(before, after)) == ["roll-primary"]
