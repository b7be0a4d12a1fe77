"""The examples run Debian 13: every member's files pass the checks of trixie's own binaries,
from the root scripts/build-debian-root.sh builds (``kea-dhcp4 -t`` and ``kea-dhcp-ddns -t`` of
Kea 3.0.3, ``kea-dhcp6 -t`` of a dual-stack site's members, ``dhcpd -t`` of isc-dhcp-server 4.4.3-P1-8, each with no warning), and every
member's cloud-config passes trixie's ``cloud-init schema`` (cloud-init 25.1). The root itself
holds exactly the pinned versions and refuses to start services, and a changed pin names a new
root. (The Kea 3.0.3 pair is proven in tests/test_kea_failover_proof.py, an ISC pair on trixie's
dhcpd in tests/test_smoke_pair.py.)"""

from __future__ import annotations

import base64
import dataclasses
import subprocess
from pathlib import Path

import pytest
import yaml

from dhcp_failover import releases
from dhcp_failover.backends.kea.render import CTRL_AGENT_CONF, password_path
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import ServerKind, Site
from dhcp_failover.releases import OsRelease
from dhcp_failover.secret_names import control_secret
from tests.lab.boot import CREDENTIALS, put_secret, write_files
from tests.lab.kea6 import check_site6
from tests.lab.member_files import dhcpd_check
from tests.lab.netlab import Lab, require_lab
from tests.support.debian_roots import host_mirrors, in_root, root_for, spec
from tests.support.factories import EXAMPLES, site_data
from tests.support.tools import require_root
from tests.support.well_formed import CLOUD_INIT_SCHEMA, kea_check
from tests.test_bootstrap import EXISTING_SUBNET, REGION

TRIXIE = OsRelease.DEBIAN_13
PASSWORD = base64.b64encode(bytes(range(32, 64))).decode()  # what `keys` makes: 32 random bytes


@pytest.fixture(scope="module")
def trixie() -> Path:
    require_root("chroot into the Debian 13 root")
    return root_for(TRIXIE)


def example_sites() -> list[Site]:
    """Every example site, the dual-stack one included."""
    return [site for path in EXAMPLES for site in load_inventory(path).sites]


def test_the_examples_run_debian_13() -> None:
    sites = example_sites()
    assert {site.os for site in sites} == {TRIXIE} and any(site.dhcpv6 is not None for site in sites)


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


def test_every_dual_stack_members_kea_dhcp6_conf_passes_trixies_kea_dhcp6_t_without_a_warning(
    trixie: Path, tmp_path: Path
) -> None:
    require_lab()
    dual_stack = [site for site in example_sites() if site.dhcpv6 is not None]
    assert dual_stack
    with Lab(tmp_path / "lab") as lab:
        for site in dual_stack:
            check_site6(lab, site, tmp_path / "v6", trixie)


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


def test_a_changed_pin_names_a_new_root_and_the_mirror_is_this_machines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = spec(TRIXIE).path
    trixie_release = releases.RELEASES[TRIXIE]
    monkeypatch.setitem(releases.RELEASES, TRIXIE, dataclasses.replace(trixie_release, isc_dhcp_server="4.4.3-P1-9"))
    after = spec(TRIXIE).path
    assert after != before and after.parent == before.parent and after.name.startswith("debian-13-")
    sources = tmp_path / "debian.sources"
    sources.write_text(
        "Types: deb\n# a comment: with a colon\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    monkeypatch.delenv("DEBIAN_MIRROR", raising=False)
    assert host_mirrors(sources) == ("http://mirror.example/debian", "http://mirror.example/debian-security")


def test_a_kea_member_boots_from_its_user_data_with_trixies_own_awscli_and_kea(
    trixie: Path, tmp_path: Path, moto_endpoint: str
) -> None:
    """The bootstrap of a Debian 13 Kea member, run inside the trixie root (its awscli 2.23 and
    Kea 3.0.3) against a local AWS API: the password from SSM written byte for byte, the config
    checked by kea-dhcp4 -t 3.0.3, and no Control Agent anywhere."""
    site = inventory_from_data({"version": 2, "sites": [{
        **site_data("trixie-boot", server="kea"),
        "members": [{**m, "placement": {"region": REGION, **EXISTING_SUBNET}} for m in site_data()["members"]],
    }]}).sites[0]
    put_secret(moto_endpoint, REGION, control_secret(site).parameter_name, PASSWORD)
    for member in site.members:
        root = tmp_path / member.name
        files = write_files(render_user_data(site, member).cloud_config, root)
        assert CTRL_AGENT_CONF not in files
        for sub in ("run/kea", "var/lib/kea", "var/log/kea"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "run/kea").chmod(0o750)
        result = subprocess.run(
            in_root(trixie, ["/bin/bash", str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", moto_endpoint,
                             "--no-start"]),
            capture_output=True, text=True, timeout=120, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **CREDENTIALS},
        )
        assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
        assert "not starting (--no-start)" in result.stdout
        assert Path(password_path(str(root))).read_bytes() == PASSWORD.encode()
        assert "kea-ctrl-agent" not in files[BOOTSTRAP_PATH].read_text()
