"""The examples run Debian 13: every member's files pass the checks of trixie's own binaries,
from the root scripts/build-debian-root.sh builds (``kea-dhcp4 -t`` and ``kea-dhcp-ddns -t`` of
Kea 3.0.3, ``dhcpd -t`` of isc-dhcp-server 4.4.3-P1-8, each with no warning), and every
member's cloud-config passes trixie's ``cloud-init schema`` (cloud-init 25.1). The root itself
holds exactly the pinned versions and refuses to start services. (The Kea 3.0.3 pair is proven
in tests/test_kea_failover_proof.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dhcp_failover.cloudinit import render_user_data
from dhcp_failover.inventory import load_inventory
from dhcp_failover.model import ServerKind, Site
from dhcp_failover.releases import OsRelease
from tests.lab.member_files import dhcpd_check
from tests.support.debian_roots import in_root, root_for, spec
from tests.support.factories import EXAMPLES
from tests.support.tools import require_root
from tests.support.well_formed import CLOUD_INIT_SCHEMA, kea_check

TRIXIE = OsRelease.DEBIAN_13


@pytest.fixture(scope="module")
def trixie() -> Path:
    require_root("chroot into the Debian 13 root")
    return root_for(TRIXIE)


def example_sites() -> list[Site]:
    return [site for path in EXAMPLES for site in load_inventory(path).sites]


def test_the_examples_run_debian_13() -> None:
    assert {site.os for site in example_sites()} == {TRIXIE}


def test_the_root_holds_the_pinned_versions_and_starts_no_service(trixie: Path) -> None:
    installed = subprocess.run(
        in_root(trixie, ["/usr/bin/dpkg-query", "-W", "-f", "${Package}=${Version}\n"]),
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    pinned = [package for package in spec(TRIXIE).packages if "=" in package]
    assert pinned and set(pinned) <= set(installed)
    assert "kea-dhcp4-server=3.0.3-1~bpo13+1" in pinned
    assert subprocess.run([str(trixie / "usr/sbin/policy-rc.d")]).returncode == 101


def test_every_members_files_pass_trixies_own_checks_without_a_warning(trixie: Path, tmp_path: Path) -> None:
    kinds = set()
    for site in example_sites():
        kinds.add(site.server)
        if site.server is ServerKind.KEA:
            kea_check(site, tmp_path / site.name, ddns_secret="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM=")
        else:
            dhcpd_check(site, tmp_path / site.name, debian_root=trixie)
    assert kinds == {ServerKind.ISC, ServerKind.KEA}


def test_every_members_cloud_config_passes_trixies_cloud_init_schema(trixie: Path, tmp_path: Path) -> None:
    paths = []
    for site in example_sites():
        for member in site.members:
            user_data = render_user_data(site, member).cloud_config
            config = yaml.safe_load(user_data)
            # The release's pins, and Kea from backports on Kea sites.
            if site.server is ServerKind.KEA:
                assert ["kea-dhcp4-server", "3.0.3-1~bpo13+1"] in config["packages"]
                assert "trixie-backports" in str(config["apt"]["sources"])
            else:
                assert ["isc-dhcp-server", "4.4.3-P1-8"] in config["packages"]
                assert "sources" not in config["apt"]
            path = tmp_path / f"{site.name}-{member.name}.yaml"
            path.write_text(user_data)
            paths.append(str(path))
    result = subprocess.run(in_root(trixie, ["/usr/bin/python3", "-c", CLOUD_INIT_SCHEMA, *paths]),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    assert result.stdout.strip() == f"{len(paths)} valid"
