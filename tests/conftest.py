"""Session fixtures for the synth tests: cdktf's import (seconds, ~1 GB) and each example's
synth are paid once per pytest process, and every test reads the same output."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.lab.boot import moto_endpoint  # noqa: F401  (a fixture for every test module)
from tests.support.checkout import Stacks, example_stacks, placed_site
from tests.support.factories import EXAMPLES, inventory_data

# Before the first cdktf import starts the jsii kernel (node): no EOL banner, no telemetry.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "example_stack" in metafunc.fixturenames:
        pairs = example_stacks()
        metafunc.parametrize("example_stack", pairs, ids=[f"{e}/{s}" for e, s in pairs])


@pytest.fixture(scope="session")
def synthesized_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{example stem: its cdktf.out}``: every example synthesized once, as main.py does."""
    from dhcp_failover.app import build_app, plan_synth
    from dhcp_failover.inventory import load_inventory

    root = tmp_path_factory.mktemp("examples")
    outdirs = {}
    for path in EXAMPLES:
        outdir = root / path.stem
        # environ={}: a DHCP_FAILOVER_AWS_ENDPOINT of the caller must not leak in.
        build_app(plan_synth(load_inventory(path), environ={}), outdir=str(outdir)).synth()
        outdirs[path.stem] = outdir
    return outdirs


@pytest.fixture
def synth_sites(tmp_path: Path) -> Callable[..., Stacks]:
    """Synthesize sites (data as in YAML) as main.py does; returns ``{stack name: parsed
    cdk.tf.json}``. A full app synth: only it resolves the cross-stack references (a lone
    ``Testing.synth`` of a member stack leaves them pointing at the shared stack's resources).
    ``tags``: the inventory's tags; ``env``: the synth-time environment."""

    def synth(*sites: dict[str, Any], tags: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Stacks:
        from dhcp_failover.app import build_app, plan_synth
        from dhcp_failover.inventory import inventory_from_data

        data = inventory_data(*(sites or (placed_site(),)))
        if tags:
            data["tags"] = tags
        build_app(plan_synth(inventory_from_data(data), environ=env or {}), outdir=str(tmp_path)).synth()
        return {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("stacks/*/cdk.tf.json")}

    return synth


@pytest.fixture
def testing_pair(tmp_path: Path) -> Callable[..., Any]:
    """``testing_pair(site data)``: a DhcpFailoverPair in a ``cdktf.Testing.app``, for
    ``cdktf.Testing.synth`` and its matchers on one stack."""

    def build(site: dict[str, Any]) -> Any:
        import cdktf

        from dhcp_failover.constructs.pair import DhcpFailoverPair, DhcpFailoverPairProps
        from dhcp_failover.inventory import inventory_from_data

        (model,) = inventory_from_data(inventory_data(site)).sites
        app = cdktf.Testing.app(outdir=str(tmp_path))
        return DhcpFailoverPair(app, model.name, props=DhcpFailoverPairProps(site=model))

    return build


@pytest.fixture
def placed() -> Callable[..., dict[str, Any]]:
    """``placed(name, region=..., **overrides)``: a valid placed site as YAML-shaped data."""
    return placed_site


