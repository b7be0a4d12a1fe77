"""The Python API: a cdktf app builds a pair from Python objects, under any scope, and a bad
site fails on construction with the very line `validate` prints for it as YAML."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover import cli
from dhcp_failover.errors import InventoryError, InventoryProblems
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from tests.support.checkout import REPO, placed_site
from tests.support.factories import inventory_data
from tests.support.messages import error_lines

PYTHON_APP = REPO / "examples" / "python-app"


def _site(data: dict[str, Any]) -> Site:
    (site,) = inventory_from_data(inventory_data(data)).sites
    return site


def _validate_lines(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(inventory_data(data)))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["validate", "--inventory", str(inventory)]) == 2
    # The CLI names the file first; what follows is the problem itself.
    return [line.removeprefix(f"error: {inventory}: ") for line in error_lines(err.getvalue())]


def test_the_python_example_app_synthesizes_a_pair(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run([sys.executable, str(PYTHON_APP / "main.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    stacks = tmp_path / "cdktf.out" / "stacks"
    assert sorted(p.name for p in stacks.iterdir()) == ["office-primary", "office-secondary", "office-shared"]
    secondary = json.loads((stacks / "office-secondary" / "cdk.tf.json").read_text())
    (instance,) = secondary["resource"]["aws_instance"].values()
    assert instance["private_ip"] == "10.20.2.10"


def test_a_pair_under_any_scope_synthesizes_as_under_the_app(tmp_path: Path) -> None:
    import cdktf
    from constructs import Construct

    from dhcp_failover.constructs import DhcpFailoverPair, DhcpFailoverPairProps

    site = _site(placed_site())
    top = cdktf.Testing.app(outdir=str(tmp_path / "top"))
    at_top = DhcpFailoverPair(top, "lab", props=DhcpFailoverPairProps(site=site))
    nested_app = cdktf.Testing.app(outdir=str(tmp_path / "nested"))
    nested = DhcpFailoverPair(Construct(Construct(nested_app, "org"), "network"), "lab",
                              props=DhcpFailoverPairProps(site=site))
    assert nested.node.path == "org/network/lab"
    assert nested.shared_stack.node.path == "lab-shared"
    assert {s.node.path for s in nested.member_stacks.values()} == {"lab-primary", "lab-secondary"}
    assert cdktf.Testing.synth(nested.shared_stack) == cdktf.Testing.synth(at_top.shared_stack)
    for role, stack in nested.member_stacks.items():
        assert cdktf.Testing.synth(stack) == cdktf.Testing.synth(at_top.member_stacks[role])


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda s: s["subnets"][1]["pools"].append({"start": "10.99.0.10", "end": "10.99.0.20"}),
                     id="pool-outside-its-subnet"),
        pytest.param(lambda s: s["members"][1].update(address=s["members"][0]["address"]), id="members-share-an-address"),
        pytest.param(lambda s: s["members"][1]["placement"].update(availability_zone="us-east-1b"),
                     id="zone-outside-the-region"),
    ],
)
def test_a_bad_site_fails_on_construction_with_validates_line(tmp_path: Path, edit: Any) -> None:
    import cdktf

    from dhcp_failover.constructs import DhcpFailoverPair, DhcpFailoverPairProps

    data = placed_site()
    edit(data)
    expected = _validate_lines(tmp_path, data)
    # Built from Python objects: field types are checked, the cross-field rules are not yet.
    site = Site.model_validate(data)
    with pytest.raises(InventoryError) as raised:
        DhcpFailoverPair(cdktf.Testing.app(outdir=str(tmp_path)), "lab", props=DhcpFailoverPairProps(site=site))
    problems = raised.value.problems if isinstance(raised.value, InventoryProblems) else (str(raised.value),)
    assert list(problems) == expected
    assert "\n" not in str(raised.value)


def test_a_site_without_placement_is_refused_on_construction(tmp_path: Path) -> None:
    import cdktf

    from dhcp_failover.constructs import DhcpFailoverPair, DhcpFailoverPairProps
    from tests.support.factories import site_data

    with pytest.raises(InventoryError, match="no placement"):
        DhcpFailoverPair(cdktf.Testing.app(outdir=str(tmp_path)), "lab",
                         props=DhcpFailoverPairProps(site=_site(site_data())))


@pytest.mark.parametrize("server", ["isc", "kea"])
def test_a_site_dumped_and_read_back_is_still_valid(server: str) -> None:
    """A site built in Python and written out (model_dump sets every field, defaults included)
    reads back valid and equal: no check may mistake a dumped default for a user's setting."""
    data = placed_site()
    data["server"] = server
    if server == "kea":
        data["ping_check"] = False
    site = _site(data)
    dumped = site.model_dump(mode="json", exclude_none=True)
    assert _site(dumped).model_dump(mode="json", exclude_none=True) == dumped
