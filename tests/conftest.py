"""Session fixtures for the synth tests: cdktf's import (seconds, ~1 GB) and each example's
synth are paid once per pytest process, and every test reads the same output."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.stacks import DECOMMISSION_ENV, ENDPOINT_ENV, SITES_ENV
from factories import EXAMPLES, inventory_data, site_data

# Before the first cdktf import starts the jsii kernel (node): no EOL banner, no telemetry.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

Stacks = dict[str, dict[str, Any]]


def example_stacks() -> list[tuple[str, str]]:
    """(example stem, stack name) for every stack of every example, known without cdktf."""
    from dhcp_failover.constructs.layout import is_placed
    from dhcp_failover.constructs.naming import member_stack_name, shared_stack_name
    from dhcp_failover.inventory import load_inventory
    from dhcp_failover.model import Role

    pairs = []
    for path in EXAMPLES:
        for site in load_inventory(path).sites:
            if is_placed(site):
                names = [shared_stack_name(site.name)] + [member_stack_name(site.name, r) for r in Role]
                pairs += [(path.stem, name) for name in names]
    return pairs


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "example_stack" in metafunc.fixturenames:
        pairs = example_stacks()
        metafunc.parametrize("example_stack", pairs, ids=[f"{e}/{s}" for e, s in pairs])


@pytest.fixture(scope="session")
def synthesized_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{example stem: its cdktf.out}``: every example synthesized once, as main.py does."""
    from dhcp_failover.inventory import load_inventory
    from dhcp_failover.stacks import build_app, plan_synth

    root = tmp_path_factory.mktemp("examples")
    outdirs = {}
    for path in EXAMPLES:
        outdir = root / path.stem
        # environ={}: a DHCP_FAILOVER_AWS_ENDPOINT of the caller must not leak in.
        build_app(plan_synth(load_inventory(path), environ={}), outdir=str(outdir)).synth()
        outdirs[path.stem] = outdir
    return outdirs


def placed_site(name: str = "lab", *, region: str = "eu-west-1", **overrides: Any) -> dict[str, Any]:
    """factories.site_data with both members placed in ``region`` (zones a and b, own networks)."""
    site = site_data(name)
    site["members"][0].update(address="10.77.1.10")
    site["members"][1].update(address="10.77.3.10", network="10.77.3.0/24")
    for member, zone in zip(site["members"], "ab"):
        member["placement"] = {"region": region, "availability_zone": f"{region}{zone}", "ami": "ami-0123456789abcdef0"}
    site.update(copy.deepcopy(overrides))
    return site


@pytest.fixture
def synth_sites(tmp_path: Path) -> Callable[..., Stacks]:
    """Synthesize sites (data as in YAML) as main.py does; returns ``{stack name: parsed
    cdk.tf.json}``. A full app synth: only it resolves the cross-stack references (a lone
    ``Testing.synth`` of a member stack leaves them pointing at the shared stack's resources).
    ``tags``: the inventory's tags; ``env``: the synth-time environment."""

    def synth(*sites: dict[str, Any], tags: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Stacks:
        from dhcp_failover.inventory import inventory_from_data
        from dhcp_failover.stacks import build_app, plan_synth

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


REPO = Path(__file__).resolve().parent.parent
# What `python main.py` reads: a checkout without tests, docs, venvs or node_modules.
CHECKOUT_ENTRIES = ("main.py", "cdktf.json", "package.json", "dhcp_failover", "templates", "examples")


def copy_checkout(dest: Path) -> Path:
    """A fresh copy of the app's part of the repository at ``dest`` (for synths elsewhere)."""
    import shutil

    dest.mkdir(parents=True)
    for entry in CHECKOUT_ENTRIES:
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, dest / entry, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, dest / entry)
    return dest


CDKTF = REPO / "node_modules" / ".bin" / "cdktf"  # the pinned cdktf-cli (package.json)


def cdktf_project(dest: Path) -> Path:
    """A copy of the checkout where ``npx cdktf`` runs as for a user: cdktf.json's app is the
    project's .venv, node_modules holds the pinned CLI (both linked, not copied)."""
    if not CDKTF.exists():
        message = "cdktf-cli is not installed (scripts/install-node.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    copy_checkout(dest)
    for entry in (".venv", "node_modules"):
        (dest / entry).symlink_to(REPO / entry)
    return dest


INVENTORY_ENV = "DHCP_FAILOVER_INVENTORY"  # main.py's



def run_main(
    cwd: Path, *args: str, env: dict[str, str] | None = None, script: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python main.py ARGS`` in ``cwd`` with the test's interpreter (the project venv)."""
    base = {k: v for k, v in os.environ.items() if k not in (INVENTORY_ENV, ENDPOINT_ENV, DECOMMISSION_ENV, SITES_ENV, "CDKTF_OUTDIR")}
    return subprocess.run(
        [sys.executable, str(script or cwd / "main.py"), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def tree(outdir: Path) -> dict[str, bytes]:
    """Every file under ``outdir``: relative path → bytes."""
    return {str(p.relative_to(outdir)): p.read_bytes() for p in sorted(outdir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One local AWS API (``scripts/moto-server``, on loopback) for the whole session: every
    test that deploys or boots against AWS shares it (starting one costs seconds, its first IAM
    call more). So each suite keeps to site names of its own (IAM names are global; SSM, KMS and
    EC2 names per region) and checks only what its own sites made."""
    from deploy import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint
