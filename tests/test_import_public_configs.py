"""`import` on dhcpd.conf files no one here wrote (tests/data/import/, each naming its source):
import, fill in what a dhcpd.conf cannot say (a small overlay beside each file), render, dhcpd -t
on both members, then compare the original with each rendered config by meaning: subnets,
pools, options and lease parameters per scope, hosts, classes, shared networks, the failover
peer and DDNS zones. Every statement the importer listed as not mapped must really be absent
from the rendered config, and every statement the comparer does not interpret must be listed
or rendered again: nothing dropped silently, nothing listed that was mapped."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.backends.isc.config_import import PLACEHOLDER, import_config
from dhcp_failover.backends.isc.render import render_dhcpd_conf
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Role, Site
from tests.lab.member_files import dhcpd_check
from tests.support.dhcpd_meaning import Meaning, form_at, handed_out, meaning, statement_forms
from tests.support.factories import REPO
from tests.support.tools import require_file

DATA = REPO / "tests" / "data" / "import"


@dataclass(frozen=True)
class Case:
    name: str
    primary: str
    peer: str | None = None
    prepare: Callable[[str], str] | None = None

    def text(self, role: Role) -> str:
        """The original each member's rendered config is compared with: its own file when the
        pair's two were imported, the one file otherwise."""
        name = self.peer if role is Role.SECONDARY and self.peer else self.primary
        text = require_file(DATA / name, f"the original of {self.name}").read_text()
        return self.prepare(text) if self.prepare else text


def switched_on(text: str) -> str:
    """Debian's example with its example declarations switched on (the lines ISC wrote as
    '#subnet', '#  range', '#}' ...), prose comments left as they are."""
    return re.sub(r"^#(?=[a-z}]|  )", "", text, flags=re.M)


CASES = [
    Case("failover-pair", "failover-pair-primary.conf", "failover-pair-secondary.conf"),
    Case("otus-pxe", "otus-pxe.conf"),
    Case("juniper-ztp", "juniper-ztp.conf"),
    Case("groups-and-hosts", "groups-and-hosts.conf"),
    Case("shared-network", "shared-network.conf"),
    Case("ddns-zones", "ddns-zones.conf"),
    Case("debian-example", "/usr/share/doc/isc-dhcp-server/examples/dhcpd.conf.example", prepare=switched_on),
]


def fill_in(data: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """The overlay's members (by role), pools (by subnet) and relays over the imported site: only
    what the import left as placeholders, nothing the file itself said."""
    assert set(overlay) <= {"members", "pools", "relays"}, overlay
    site = data["sites"][0]
    for member in site["members"]:
        member.update(overlay.get("members", {}).get(member["role"], {}))
    for subnet in site["subnets"]:
        if subnet["network"] in overlay.get("pools", {}):
            assert subnet["pools"] == [{"start": PLACEHOLDER, "end": PLACEHOLDER}], "fill in placeholders only"
            subnet["pools"] = overlay["pools"][subnet["network"]]
    if "relays" in overlay:
        site["relays"] = overlay["relays"]
        if not site["relays"]:
            del site["relays"]
    return data


def imported(case: Case) -> tuple[Site, dict[Role, list[int]], set[tuple[str, str]]]:
    """The filled-in site, per member's original file the lines the importer listed, and the
    pools the overlay filled in (which the original cannot have)."""
    peer = case.text(Role.SECONDARY) if case.peer else None
    data, unmapped, placeholders = import_config(case.text(Role.PRIMARY), peer, case.name)
    assert placeholders, "a single dhcpd.conf never says where the pair runs"
    overlay = yaml.safe_load((DATA / f"{case.name}.fill.yaml").read_text())
    filled = fill_in(data, overlay)
    assert PLACEHOLDER not in yaml.safe_dump(filled), yaml.safe_dump(filled)
    site = inventory_from_data(filled).sites[0]
    added = {(p["start"], p["end"]) for pools in overlay.get("pools", {}).values() for p in pools}
    own = [line for line, text, _ in unmapped if not text.startswith("(peer)")]
    listed = {Role.PRIMARY: own, Role.SECONDARY: own}
    if case.peer:
        listed[Role.SECONDARY] = [line for line, text, _ in unmapped if text.startswith("(peer)")]
    return site, listed, added


def assert_same_meaning(original: Meaning, rendered: Meaning, member_networks: set[str]) -> None:
    extra = set(rendered.subnets) - set(original.subnets)
    assert extra <= member_networks, f"subnets the original does not declare: {extra - member_networks}"
    assert not any(rendered.pools.get(net) for net in extra)
    for network, params in original.subnets.items():
        if network in member_networks and not original.pools.get(network):
            continue  # the server's own network: the renderer declares it bare, so dhcpd listens there
        assert rendered.subnets.get(network) == params, f"subnet {network}"
        assert handed_out(rendered).get(network) == handed_out(original).get(network), f"pools of {network}"
    assert rendered.hosts == original.hosts
    assert rendered.classes == original.classes
    assert rendered.shared == original.shared
    assert rendered.zones == original.zones
    for name, statements in original.failover.items():
        assert rendered.failover.get(name) == statements, f"failover peer {name}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_public_config_imports_renders_and_keeps_its_meaning(case: Case, tmp_path: Path) -> None:
    site, listed, added = imported(case)
    dhcpd_check(site, tmp_path)
    member_networks = {str(m.network) for m in site.members}
    for member in site.members:
        original_text = case.text(member.role)
        rendered_text = render_dhcpd_conf(site, member)
        original = meaning(original_text, skip_lines=listed[member.role])
        rendered = meaning(rendered_text)
        for network, pools in rendered.pools.items():
            rendered.pools[network] = [p for p in pools if (p.start, p.end) not in added]
        assert_same_meaning(original, rendered, member_networks)
        forms = statement_forms(rendered_text)
        # Nothing dropped silently: what the comparer does not interpret is rendered again.
        unexplained = [(line, form) for line, form in original.other if form not in forms]
        assert unexplained == [], f"{member.role.value}: neither listed nor rendered: {unexplained}"
        # Nothing listed that was mapped: a listed statement is really absent.
        present = [(line, form) for line in listed[member.role] if (form := form_at(original_text, line)) in forms]
        assert present == [], f"{member.role.value}: listed as not mapped, yet rendered: {present}"


def test_the_comparer_sees_a_changed_option_a_lost_host_a_moved_range_and_a_mapped_statement() -> None:
    """The comparison can fail: one difference of each kind is caught."""
    text = (DATA / "groups-and-hosts.conf").read_text()
    base = meaning(text)
    assert meaning(text.replace("option routers 192.168.10.1;", "option routers 192.168.10.9;")).subnets != base.subnets
    lost = text.replace("host PC-11 {", "group {")
    assert set(meaning(lost).hosts) == set(base.hosts) - {"PC-11"}
    moved = text.replace("range 192.168.20.200", "range 192.168.20.201")
    assert handed_out(meaning(moved)) != handed_out(base)
    split = text.replace("range 192.168.20.200 192.168.20.250;", "range 192.168.20.200 192.168.20.219;\n"
                                                                   "range 192.168.20.220 192.168.20.250;")
    assert handed_out(meaning(split)) == handed_out(base)
    # A statement listed although it was mapped would be caught: its form is in the rendered config.
    site, _, _ = imported(next(c for c in CASES if c.name == "groups-and-hosts"))
    rendered_forms = statement_forms(render_dhcpd_conf(site, site.primary))
    line = text.splitlines().index(" option routers 192.168.10.1;") + 1
    assert form_at(text, line) in rendered_forms
    global_dns = meaning("option domain-name-servers 10.0.0.1;\nsubnet 10.0.0.0 netmask 255.255.255.0 { }\n")
    local_dns = meaning("subnet 10.0.0.0 netmask 255.255.255.0 {\n option domain-name-servers 10.0.0.1;\n}\n")
    assert global_dns.subnets == local_dns.subnets  # where a value is written is spelling, not meaning
