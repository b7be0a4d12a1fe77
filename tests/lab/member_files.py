"""A rendered member on disk, as the bootstrap would write it, and the checks on it: its
files under a root, its relay's command line, and ``dhcpd -t`` on both members."""

from __future__ import annotations

import base64
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

from dhcp_failover.backends.isc.render import (
    DDNS_KEYS_FILE,
    DHCPD_CONF,
    OMAPI_KEY_FILE,
    render_ddns_keys,
    render_dhcpd_conf,
    render_member,
    render_omapi_key,
)
from dhcp_failover.model import Site
from dhcp_failover.render import RELAY_DEFAULTS, render_relay
from tests.support.debian_roots import in_root
from tests.support.tools import require


def write_ddns_keys(site: Site, root: Path, secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """The TSIG key file under ``root`` as the bootstrap writes it; ``secrets`` by key name
    (default: fresh random ones). Returns the secrets used; none for a site without DDNS."""
    if site.ddns is None:
        return {}
    used = dict(secrets or {k.name: base64.b64encode(os.urandom(32)).decode() for k in site.ddns.keys})
    path = root / DDNS_KEYS_FILE.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_ddns_keys(site, used))
    path.chmod(0o600)
    return used


def install_member(site: Site, member_name: str, root: Path, secret: str,
                   ddns_secrets: Mapping[str, str] | None = None) -> Path:
    """Write a member's rendered tree under ``root`` as the bootstrap would on the server."""
    member = next(m for m in site.members if m.name == member_name)
    for file in render_member(site, member, root=str(root)):
        target = root / file.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content)
    key = root / OMAPI_KEY_FILE.lstrip("/")
    key.write_text(render_omapi_key(site, secret))
    key.chmod(0o600)
    write_ddns_keys(site, root, ddns_secrets)
    return root / DHCPD_CONF.lstrip("/")


def relay_arguments(site: Site) -> tuple[list[str], list[str], list[str]]:
    """servers, downstream and upstream interfaces, read back from the rendered defaults."""
    defaults = {f.path: f.content for f in render_relay(site, site.relays[0])}[RELAY_DEFAULTS]
    values = dict(re.findall(r'^(\w+)="(.*)"$', defaults, re.M))
    options = shlex.split(values["OPTIONS"])
    downstream = [options[i + 1] for i, opt in enumerate(options) if opt == "-id"]
    upstream = [options[i + 1] for i, opt in enumerate(options) if opt == "-iu"]
    return values["SERVERS"].split(), downstream, upstream


def dhcpd_check(site: Site, folder: Path, debian_root: Path | None = None) -> None:
    """Render both members under ``folder`` with a real key file and run dhcpd -t on each (this
    machine's dhcpd, or the one of ``debian_root``: ``folder`` must then be under /tmp)."""
    expected_warnings = [] if site.failover.load_balancing else ["load balancing will be disabled"]
    dhcpd = require("dhcpd") if debian_root is None else "/usr/sbin/dhcpd"
    key = folder / OMAPI_KEY_FILE.lstrip("/")
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(render_omapi_key(site, base64.b64encode(os.urandom(32)).decode()))
    write_ddns_keys(site, folder)
    for member in site.members:
        conf = folder / f"{member.name}.conf"
        conf.write_text(render_dhcpd_conf(site, member, root=str(folder)))
        argv = [dhcpd, "-4", "-t", "-cf", str(conf)]
        result = subprocess.run(
            argv if debian_root is None else in_root(debian_root, argv),
            capture_output=True, text=True, errors="replace", timeout=30,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{member.role.value} {member.name}: dhcpd -t failed:\n{output}"
        problems = [
            line
            for line in output.splitlines()
            if ("warn" in line.lower() or "tsec" in line) and not any(w in line for w in expected_warnings)
        ]
        assert problems == [], f"{member.name}: dhcpd -t warned: {problems}"
