"""A dual-stack Kea member's boot path: its user-data's bootstrap fetches the control password
from a local AWS API (moto), proves kea-dhcp6.conf with the real ``kea-dhcp6 -t`` and starts
kea-dhcp6-server with the other units; without the member's IPv6 address on its interface,
``kea-dhcp6 -t`` rejects the config and nothing starts.

kea-dhcp6 -t insists on seeing the interface and address the config names, so the bootstrap
runs in a network namespace of the test's own, with moto on that namespace's loopback."""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

from dhcp_failover.cloudinit import BOOTSTRAP_PATH, render_user_data
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.secret_names import control_secret
from tests.lab.boot import CREDENTIALS, write_files
from tests.lab.kea import require_kea
from tests.lab.kea6 import add_address6, enable_ipv6
from tests.lab.netlab import Lab, LabError, require_lab
from tests.support.deploy import free_port
from tests.support.factories import REPO, inventory_data
from tests.support.tools import require
from tests.test_bootstrap import EXISTING_SUBNET, REGION, SYSTEM_AWS
from tests.test_kea6_failover_proof import PRIMARY6, dual_stack_site_data

PASSWORD = base64.b64encode(bytes(range(64, 96))).decode()


def test_the_bootstrap_checks_and_starts_kea_dhcp6_only_with_its_address_in_place(tmp_path: Path) -> None:
    require_lab()
    require_kea()
    require("aws", "the bootstrap fetches secrets with the AWS CLI")
    data = dual_stack_site_data()
    for member in data["members"]:  # type: ignore[attr-defined]
        member["placement"] = {"region": REGION, **EXISTING_SUBNET}
    site = inventory_from_data(inventory_data(data)).sites[0]
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "systemctl.log"
    (shim / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexit 0\n')
    (shim / "systemctl").chmod(0o755)
    path = os.pathsep.join([str(shim), str(SYSTEM_AWS.parent), os.environ["PATH"]])
    env = ["env", f"PATH={path}", *(f"{k}={v}" for k, v in CREDENTIALS.items())]
    with Lab(tmp_path / "lab") as lab:
        lab.add_host("m")
        enable_ipv6(lab, "m")
        lab.run("m", ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"])
        lab.run("m", ["ip", "link", "set", "eth0", "up"])
        add_address6(lab, "m", "eth0", f"{PRIMARY6}/64")
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        lab.spawn("m", [sys.executable, str(REPO / "scripts" / "moto-server"), "-H", "127.0.0.1", "-p", str(port)],
                  tmp_path / "moto.log")
        deadline = time.monotonic() + 30
        while lab.run("m", ["curl", "-s", "-o", "/dev/null", endpoint], check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise LabError(f"moto did not start: {(tmp_path / 'moto.log').read_text()[-1500:]}")
            time.sleep(0.2)
        lab.run("m", [*env, "aws", "--endpoint-url", endpoint, "--region", REGION, "ssm", "put-parameter",
                      "--name", control_secret(site).parameter_name, "--value", PASSWORD, "--type", "SecureString"])

        root = tmp_path / "root"
        files = write_files(render_user_data(site, site.primary).cloud_config, root)
        result = lab.run("m", [*env, str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", endpoint],
                         check=False, timeout=120)
        assert result.returncode == 0, result.stderr
        calls = log.read_text().splitlines()
        assert "restart kea-dhcp4-server kea-ctrl-agent kea-dhcp6-server" in calls
        assert calls[-1] == "is-active --quiet kea-dhcp6-server"

        # The member's IPv6 address is gone (not assigned yet): kea-dhcp6 -t refuses, nothing starts.
        lab.run("m", ["ip", "-6", "addr", "del", f"{PRIMARY6}/64", "dev", "eth0"])
        log.unlink()
        result = lab.run("m", [*env, str(files[BOOTSTRAP_PATH]), "--root", str(root), "--endpoint", endpoint],
                         check=False, timeout=120)
        assert result.returncode == 1
        assert result.stderr.splitlines()[-1] == (
            "dhcp-failover-bootstrap: kea-dhcp6 -t rejected /etc/kea/kea-dhcp6.conf"), result.stderr[-800:]
        assert not log.exists()
