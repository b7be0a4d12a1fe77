"""What every accepted inventory must give: a rendered tree equal to what user-data writes,
configs dhcpd (or, on a Kea site, kea-dhcp4 and kea-ctrl-agent) of the site's release accept, bootstrap scripts bash
can parse, and synth errors of one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from dhcp_failover.app import plan_synth
from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea.ddns import d2_config
from dhcp_failover.backends.kea.render import as_json, password_path
from dhcp_failover.backends.registry import backend_for
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.errors import InventoryError, SettingsError
from dhcp_failover.inventory import load_inventory
from dhcp_failover.model import ServerKind, Site
from tests.lab.kea import KeaMember, with_environment
from tests.lab.member_files import dhcpd_check
from tests.support.debian_roots import LAB_RELEASES, root_for
from tests.support.tools import require


def check_accepted(inventory_path: Path, out: Path, work: Path, user_data_dir: Path) -> None:
    inventory = load_inventory(inventory_path)
    for site in inventory.sites:
        if site.server is ServerKind.KEA:
            kea_check(site, work / site.name)
        else:
            dhcpd_check(site, work / site.name, debian_root=release_root(site))
        for member in site.members:
            try:
                user_data = render_user_data(site, member)
            except InventoryError:
                continue  # too big for EC2: main.py reports that as one error line
            config = yaml.safe_load(user_data.cloud_config)
            written = {f["path"]: f["content"] for f in config["write_files"]}
            for file in backend_for(site).render_member(site, member):
                on_disk = (out / site.name / member.name / file.path.lstrip("/")).read_bytes()
                assert written[file.path].encode() == on_disk == file.content.encode()
            bootstrap = work / f"{site.name}-{member.name}-bootstrap.sh"
            bootstrap.write_text(written[BOOTSTRAP_PATH])
            result = subprocess.run(["bash", "-n", str(bootstrap)], capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            (user_data_dir / f"{len(list(user_data_dir.iterdir()))}.yaml").write_text(user_data.cloud_config)
    try:
        plan_synth(inventory, environ={})
    except (InventoryError, SettingsError) as exc:
        assert "\n" not in str(exc)


def release_root(site: Site) -> Path | None:
    """The Debian root whose binaries check a site's files (None: this machine's own)."""
    return root_for(site.os) if site.os in LAB_RELEASES else None


def kea_check(site: Site, folder: Path, *, ddns_secret: str | None = None) -> None:
    """Both members' Kea configs pass ``kea-dhcp4 -t`` and ``kea-ctrl-agent -t`` (or, given a
    ``ddns_secret``, ``kea-dhcp-ddns -t`` too) of the site's release, with no warning (parsing
    only: no socket, lease file or hook is opened, so no namespace is needed)."""
    debian_root = release_root(site)
    for member in site.members:
        root = folder / member.name
        for file in backend_for(site).render_member(site, member, root=str(root)):
            target = root / file.path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.content)
        # What the bootstrap writes from SSM; the agent's check opens it.
        Path(password_path(str(root))).write_text("well-formed-check-password")
        for sub in ("run/kea", "var/lib/kea", "var/log/kea"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "run/kea").chmod(0o750)  # Kea 3.0 refuses a socket folder others may read
        kea = KeaMember("none", member, root, control.KeaEndpoint("", 0, ""), debian_root=debian_root)
        checks = [("kea-dhcp4", kea.dhcp4_conf)]
        if kea.agent_conf.exists():
            checks.append(("kea-ctrl-agent", kea.agent_conf))
        if site.ddns is not None and ddns_secret is not None:
            kea.d2_conf.parent.mkdir(parents=True, exist_ok=True)
            # D2's config names the member's own log folder; under a root (where Kea 3.0 accepts
            # log files only), the same folder inside it.
            d2_text = as_json(d2_config(site, {key.name: ddns_secret for key in site.ddns.keys}))
            kea.d2_conf.write_text(d2_text.replace('"/var/log/kea/', f'"{root}/var/log/kea/'))
            checks.append(("kea-dhcp-ddns", kea.d2_conf))
        for tool, conf in checks:
            command = kea.command(tool if debian_root else require(tool), "-t", str(conf))
            result = subprocess.run(with_environment(kea, command), capture_output=True, text=True, timeout=30)
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{site.name}/{member.name}: {tool} -t failed:\n{output[-1500:]}"
            warnings = [line for line in output.splitlines() if " WARN " in line]
            assert warnings == [], f"{site.name}/{member.name}: {tool} -t warned: {warnings}"


CLOUD_INIT_SCHEMA = """
import sys
from cloudinit.config.schema import get_schema, validate_cloudconfig_file
schema = get_schema()
for path in sys.argv[1:]:
    validate_cloudconfig_file(path, schema)
print(len(sys.argv) - 1, "valid")
"""
