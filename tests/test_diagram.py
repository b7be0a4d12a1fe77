"""`diagram` draws each site from the inventory: Mermaid (what the README shows), DOT, and SVG
through Debian's graphviz. The README's picture is the command's own output."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dhcp_failover.backends.registry import backend_for
from dhcp_failover.diagram import mermaid
from dhcp_failover.inventory import load_inventory
from dhcp_failover.model import ServerKind
from tests.support.factories import EXAMPLES, REPO
from tests.support.tools import require


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_site_is_drawn_with_its_relays_members_link_and_admins(tmp_path: Path, example: Path) -> None:
    require("dot")
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "diagram", "--inventory", str(example),
                             "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for site in load_inventory(example).sites:
        text = (tmp_path / f"{site.name}.mmd").read_text()
        svg = html.unescape((tmp_path / f"{site.name}.svg").read_text())
        for member in site.members:
            assert f"{member.role.value} {member.name}" in text and member.name in svg
            # A Kea member has no failover port: its peers talk on the control port of the link.
            assert (f"{member.address}:{member.failover_port}" in text) == (site.server is ServerKind.ISC and not site.wireguard)
        relay_edges = re.findall(r'^  r\d+ -->\|"DHCP udp/67"\| m_(primary|secondary)$', text, flags=re.M)
        assert len(relay_edges) == 2 * len(site.relays)  # every relay forwards to both servers
        kea = site.server is ServerKind.KEA
        link = "failover over WireGuard" if site.wireguard else ("Kea HA" if kea else "failover tcp")
        assert f'm_primary <-->|"{link}' in text
        label = backend_for(site).control_channel(site).label
        control, admins = (f"{label} tcp/", site.kea.admin_networks) if kea else ("OMAPI tcp/", site.omapi.admin_networks)
        assert text.count(f'-.->|"{control}') == 2 * len(admins)
        assert svg.lstrip().startswith("<?xml") and "</svg>" in svg


def test_the_readme_shows_the_default_examples_diagram_as_the_command_draws_it() -> None:
    readme = (REPO / "README.md").read_text()
    shown = re.search(r"```mermaid\n(.*?)```", readme, flags=re.S)
    assert shown, "the README has no mermaid block"
    site = load_inventory(REPO / "examples" / "minimal.yaml").sites[0]
    assert shown.group(1) == mermaid(site), "regenerate: python -m dhcp_failover diagram --inventory examples/minimal.yaml"
