"""What every accepted inventory must give: a rendered tree equal to what user-data writes,
configs dhcpd accepts, bootstrap scripts bash can parse, and synth errors of one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from dhcp_failover.app import plan_synth
from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.errors import InventoryError, SettingsError
from dhcp_failover.inventory import load_inventory
from dhcp_failover.render import render_member
from tests.lab.member_files import dhcpd_check


def check_accepted(inventory_path: Path, out: Path, work: Path, user_data_dir: Path) -> None:
    inventory = load_inventory(inventory_path)
    for site in inventory.sites:
        dhcpd_check(site, work / site.name)
        for member in site.members:
            try:
                user_data = render_user_data(site, member)
            except InventoryError:
                continue  # too big for EC2: main.py reports that as one error line
            config = yaml.safe_load(user_data.cloud_config)
            written = {f["path"]: f["content"] for f in config["write_files"]}
            for file in render_member(site, member):
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


CLOUD_INIT_SCHEMA = """
import sys
from cloudinit.config.schema import get_schema, validate_cloudconfig_file
schema = get_schema()
for path in sys.argv[1:]:
    validate_cloudconfig_file(path, schema)
print(len(sys.argv) - 1, "valid")
"""
