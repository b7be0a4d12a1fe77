"""A checkout of the app for tests that run it as a user would: copies, cdktf projects,
``python main.py`` runs, and the example inventories' stacks and placed sites."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.app import DECOMMISSION_ENV, ENDPOINT_ENV, SITES_ENV
from tests.support.factories import EXAMPLES, site_data

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


def placed_site(name: str = "lab", *, region: str = "eu-west-1", **overrides: Any) -> dict[str, Any]:
    """factories.site_data with both members placed in ``region`` (zones a and b, own networks)."""
    site = site_data(name)
    site["members"][0].update(address="10.77.1.10")
    site["members"][1].update(address="10.77.3.10", network="10.77.3.0/24")
    for member, zone in zip(site["members"], "ab", strict=False):
        member["placement"] = {"region": region, "availability_zone": f"{region}{zone}", "ami": "ami-0123456789abcdef0"}
    site.update(copy.deepcopy(overrides))
    return site


REPO = Path(__file__).resolve().parents[2]
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
