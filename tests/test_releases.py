"""A site's os: which release a site without one runs (by inventory format), what each release
pins in user-data (packages, apt sources), what a Kea 3.0 member gets instead of a Control
Agent, and the release rules (a release without the backend's packages, a pin it lacks)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pytest
import yaml

from dhcp_failover import releases
from dhcp_failover.backends.kea.render import CTRL_AGENT_CONF, DHCP4_CONF, render_member
from dhcp_failover.cloudinit import render_cloud_config
from dhcp_failover.errors import InventoryError
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.monitoring import REPORTER_PATH
from dhcp_failover.releases import OsRelease
from tests.support.factories import EXAMPLES, REPO, site_data


def site_of(version: int | None, **overrides: Any) -> Site:
    data: dict[str, Any] = {"sites": [site_data(**overrides)]}
    if version is not None:
        data["version"] = version
    return inventory_from_data(data).sites[0]


@pytest.mark.parametrize(("version", "expected"), [(None, "debian-12"), (1, "debian-12"), (2, "debian-13")])
def test_a_site_without_os_runs_the_release_of_its_inventory_format(version: int | None, expected: str) -> None:
    assert site_of(version).os.value == expected


def test_a_sites_own_os_wins_over_the_format() -> None:
    assert site_of(1, os="debian-13").os is OsRelease.DEBIAN_13
    assert site_of(2, os="debian-12").os is OsRelease.DEBIAN_12


def cloud_config(site: Site) -> dict[str, Any]:
    return dict(yaml.safe_load(render_cloud_config(site, site.primary)))


def test_each_release_pins_its_own_packages_and_sources() -> None:
    assert cloud_config(site_of(1))["packages"][0] == ["isc-dhcp-server", "4.4.3-P1-2"]
    assert cloud_config(site_of(2))["packages"][0] == ["isc-dhcp-server", "4.4.3-P1-8"]
    # Kea 2.2 on Debian 12: the agent too, from the release itself.
    old = cloud_config(site_of(1, server="kea"))
    assert old["packages"][:2] == [["kea-dhcp4-server", "2.2.0-6"], ["kea-ctrl-agent", "2.2.0-6"]]
    assert "sources" not in old["apt"]
    # Kea 3.0 on Debian 13: no agent; backports, and every kea package taken from there.
    new = cloud_config(site_of(2, server="kea"))
    assert new["packages"][0] == ["kea-dhcp4-server", "3.0.3-1~bpo13+1"]
    assert not any(p[0] == "kea-ctrl-agent" for p in new["packages"] if isinstance(p, list))
    (source,) = new["apt"]["sources"].values()
    assert source["source"].endswith(" https://cdn-aws.deb.debian.org/debian trixie-backports main")
    (preferences,) = [f for f in new["write_files"] if f["path"].startswith("/etc/apt/preferences.d/")]
    assert "defer" not in preferences  # written before the packages are installed
    assert preferences["content"] == "Package: kea-* libkea-*\nPin: release n=trixie-backports\nPin-Priority: 990\n"


def test_a_kea_3_0_member_serves_commands_itself_with_basic_auth() -> None:
    site = site_of(2, server="kea")
    files = {f.path: f.content for f in render_member(site, site.primary)}
    assert CTRL_AGENT_CONF not in files
    dhcp4 = json.loads(files[DHCP4_CONF])["Dhcp4"]
    unix, http = dhcp4["control-sockets"]
    assert unix["socket-name"].startswith("/run/kea/")
    assert (http["socket-type"], http["socket-address"], http["socket-port"]) == ("http", str(site.primary.address), 8000)
    assert http["authentication"]["clients"] == [{"user": "dhcp-failover", "password-file": "dhcp-failover-password"}]
    assert dhcp4["multi-threading"] == {"enable-multi-threading": False}
    (ha,) = dhcp4["hooks-libraries"][1]["parameters"]["high-availability"]
    assert ha["multi-threading"] == {"enable-multi-threading": False}  # its own listener would take no password
    assert [peer["url"] for peer in ha["peers"]] == [f"http://{m.address}:8000/" for m in (site.primary, site.secondary)]
    pools = dhcp4["subnet4"][0]["pools"]
    assert [pool["client-classes"] for pool in pools] == [[f"HA_{site.primary.name}"], [f"HA_{site.secondary.name}"]]


def test_isc_on_a_release_without_isc_dhcp_is_one_error_naming_os(monkeypatch: pytest.MonkeyPatch) -> None:
    # Debian after 13 (forky) has no isc-dhcp packages at all: a release like that refuses ISC.
    without_isc = releases.Release(OsRelease.DEBIAN_13, "forky", isc_dhcp_server=None,
                                   kea=releases.RELEASES[OsRelease.DEBIAN_13].kea, cloud_init="25.3-1", awscli="2.27-1")
    monkeypatch.setitem(releases.RELEASES, OsRelease.DEBIAN_13, without_isc)
    with pytest.raises(InventoryError, match=r'^site "lab": os: debian-13 has no isc-dhcp-server package'):
        site_of(2)
    assert site_of(2, server="kea").os is OsRelease.DEBIAN_13  # Kea is still fine there


DEBIAN_12_USER_DATA = REPO / "tests" / "data" / "debian12-user-data.sha256"


def debian_12_user_data_digests() -> str:
    """sha256 of every example member's user-data as a version 1 inventory (Debian 12), each site
    as written and switched to Kea: what pairs deployed before Debian 13 existed run."""
    lines = []
    for path in EXAMPLES:
        # A DHCPv6 site is new in this release: no pair was deployed with one before.
        for site_name in [s["name"] for s in yaml.safe_load(path.read_text())["sites"] if "dhcpv6" not in s]:
            for kea in (False, True):
                data = yaml.safe_load(path.read_text())
                data["version"] = 1
                if kea:
                    next(s for s in data["sites"] if s["name"] == site_name)["server"] = "kea"
                try:
                    site = inventory_from_data(data).site(site_name)
                except InventoryError:
                    continue  # a setting Kea cannot express
                lines += [f"{path.stem}/{site_name}/{kea}/{m.name} {_digest_beside_the_reporter(render_cloud_config(site, m))}"
                          for m in site.members]
    return "\n".join(sorted(lines)) + "\n"


def _digest_beside_the_reporter(cloud_config: str) -> str:
    """sha256 of a member's user-data with the monitoring reporter's program left out: the
    reporter improves with the tool (this release added DHCPv6 metrics), and a new reporter
    reaches monitored members the way every user-data change does, through a rollout that
    replaces one member at a time. Everything else must stay byte for byte."""
    text = cloud_config
    start = text.find(f"- path: {REPORTER_PATH}\n")
    if start >= 0:
        end = text.find("\n  - path: ", start + 1)
        text = text[:start] + "- path: REPORTER" + (text[end:] if end >= 0 else "")
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_version_1_inventory_renders_byte_for_byte_what_it_deployed() -> None:
    """Upgrading dhcp-failover must not replace a running pair: a Debian 12 member's user-data
    (a change replaces the instance) is what the release before Debian 13 support rendered."""
    if os.environ.get("UPDATE_GOLDEN"):
        DEBIAN_12_USER_DATA.write_text(debian_12_user_data_digests())
    assert debian_12_user_data_digests() == DEBIAN_12_USER_DATA.read_text()


def test_changing_os_changes_both_members_user_data_so_both_are_replaced() -> None:
    """user_data_replace_on_change is on: a new os is a new instance for each member, which
    rollout replaces one member at a time and --plan-only names (docs/rollouts.md)."""
    for server in ("isc", "kea"):
        old, new = site_of(1, server=server), site_of(1, server=server, os="debian-13")
        for a, b in zip(old.members, new.members, strict=True):
            assert render_cloud_config(old, a) != render_cloud_config(new, b)
