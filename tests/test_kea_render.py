"""Kea backend rendering: kea-dhcp4.conf from the model as JSON with the HA and lease_cmds
hooks, load-balancing (split pools) and hot-standby, fast timers, basic-auth control agent,
a Restart=on-failure drop-in; ISC-only settings are input errors; golden files for every
example site Kea can express; every config passes kea-dhcp4 -t and a 2 s start in a namespace."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea.render import CTRL_AGENT_CONF, DHCP4_CONF, DHCP4_DROP_IN, render_member
from dhcp_failover.derived_names import member_folder
from dhcp_failover.errors import InventoryError
from dhcp_failover.host_files import render_inventory
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from tests.lab.kea import KeaMember, check_config, install_member, require_kea, start_member
from tests.lab.netlab import Lab, require_lab
from tests.support.factories import EXAMPLES, REPO, inventory_data, site_data

GOLDEN = REPO / "tests" / "golden-kea"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# Example sites Kea cannot express, and the field the error names first.
INEXPRESSIBLE = {
    ("multi-site", "london"): "failover.max_balance",
    ("multi-site", "paris"): "failover.auto_partner_down",
    ("multi-site", "berlin"): "omapi",
}


def kea_site(**overrides: Any) -> Site:
    data = site_data(**overrides)
    data["server"] = "kea"
    return inventory_from_data(inventory_data(data)).sites[0]


def ha_of(config: dict[str, Any]) -> dict[str, Any]:
    hooks = config["Dhcp4"]["hooks-libraries"]
    return dict(hooks[1]["parameters"]["high-availability"][0])


def example_sites() -> list[tuple[Path, str]]:
    return [(path, site["name"]) for path in EXAMPLES for site in yaml.safe_load(path.read_text())["sites"]]


def switched_sites() -> list[tuple[Path, str]]:
    """The example sites written for ISC, to switch to Kea. Sites already on Kea
    (examples/kea.yaml) have their golden files with the other examples' in tests/golden."""
    return [(path, name) for path, name in example_sites()
            if next(s for s in yaml.safe_load(path.read_text())["sites"] if s["name"] == name).get("server") != "kea"]


def as_kea(path: Path, site_name: str) -> dict[str, Any]:
    """The example with one site switched to Kea 2.2 on Debian 12, the Kea this machine runs
    (the others stay ISC; tests/test_debian13.py checks the examples as written, on Kea 3.0)."""
    data = yaml.safe_load(path.read_text())
    for site in data["sites"]:
        if site["name"] == site_name:
            site["server"] = "kea"
            site["os"] = "debian-12"
    return dict(data)


def kea_files(data: dict[str, Any], site_name: str) -> dict[str, str]:
    inventory = inventory_from_data(data)
    site = inventory.site(site_name)
    trees = render_inventory(inventory)
    return {
        f"{member_folder(site, member)}/{file.path.lstrip('/')}": file.content
        for member in site.members
        for file in trees[member_folder(site, member)]
    }


def test_default_is_isc_and_kea_is_chosen_per_site() -> None:
    isc = inventory_from_data(inventory_data(site_data())).sites[0]
    assert isc.server.value == "isc"
    two = json.loads(json.dumps(site_data("two")).replace("10.77.", "10.78."))
    trees = render_inventory(inventory_from_data(inventory_data(site_data("one"), {**two, "server": "kea"})))
    assert any(f.path == "/etc/dhcp/dhcpd.conf" for f in trees["one/one-a"])
    assert any(f.path == DHCP4_CONF for f in trees["two/two-a"])
    assert not any(f.path == "/etc/dhcp/dhcpd.conf" for f in trees["two/two-a"])


def test_load_balancing_splits_each_pool_between_the_members_by_class() -> None:
    site = kea_site()
    config = json.loads(render_member(site, site.primary)[0].content)
    assert ha_of(config)["mode"] == "load-balancing"
    pools = config["Dhcp4"]["subnet4"][0]["pools"]
    assert [p["client-class"] for p in pools] == [f"HA_{site.primary.name}", f"HA_{site.secondary.name}"]
    first, second = (p["pool"].split(" - ") for p in pools)
    source = site.subnets[0].pools[0]
    assert first[0] == str(source.start) and second[1] == str(source.end)
    # Adjacent halves, no address lost or shared.
    assert IPv4Address(second[0]) == IPv4Address(first[1]) + 1


def test_hot_standby_has_a_standby_peer_and_whole_pools() -> None:
    site = kea_site(failover={"load_balancing": False})
    config = json.loads(render_member(site, site.primary)[0].content)
    ha = ha_of(config)
    assert ha["mode"] == "hot-standby"
    assert [p["role"] for p in ha["peers"]] == ["primary", "standby"]
    assert all("client-class" not in p for p in config["Dhcp4"]["subnet4"][0]["pools"])


def test_members_differ_only_in_this_server_name() -> None:
    site = kea_site()
    a, b = (json.loads(render_member(site, m)[0].content) for m in (site.primary, site.secondary))
    assert ha_of(a)["this-server-name"] == site.primary.name
    assert ha_of(b)["this-server-name"] == site.secondary.name
    # The rest is identical once the name is set aside.
    a["Dhcp4"]["hooks-libraries"][1]["parameters"]["high-availability"][0]["this-server-name"] = "x"
    b["Dhcp4"]["hooks-libraries"][1]["parameters"]["high-availability"][0]["this-server-name"] = "x"
    assert a == b


def test_hooks_peers_and_timers_are_the_safe_ones() -> None:
    site = kea_site()
    config = json.loads(render_member(site, site.primary)[0].content)
    libraries = [h["library"].rsplit("/", 1)[1] for h in config["Dhcp4"]["hooks-libraries"]]
    assert libraries == ["libdhcp_lease_cmds.so", "libdhcp_ha.so"]
    ha = ha_of(config)
    assert (ha["heartbeat-delay"], ha["max-response-delay"], ha["max-unacked-clients"]) == (1000, 3000, 0)
    assert [p["url"] for p in ha["peers"]] == [f"http://{m.address}:8000/" for m in (site.primary, site.secondary)]
    assert all(p["basic-auth-user"] and p["basic-auth-password-file"].endswith("dhcp-failover-password") for p in ha["peers"])
    assert ha["restrict-commands"] is True


def test_control_agent_requires_basic_auth_from_a_password_file() -> None:
    site = kea_site()
    files = {f.path: f.content for f in render_member(site, site.primary)}
    agent = json.loads(files[CTRL_AGENT_CONF])["Control-agent"]
    assert agent["http-host"] == str(site.primary.address)
    assert agent["authentication"]["type"] == "basic"
    assert agent["authentication"]["clients"] == [{"user": "dhcp-failover", "password-file": "dhcp-failover-password"}]


def test_dhcp4_unit_restarts_on_failure() -> None:
    site = kea_site()
    drop_in = {f.path: f.content for f in render_member(site, site.primary)}[DHCP4_DROP_IN]
    assert "[Service]\nRestart=on-failure\n" in drop_in


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"failover": {"mclt": 1800}}, "failover.mclt"),
        ({"failover": {"hba": "f" * 32 + "0" * 32}}, "failover.hba"),
        ({"failover": {"split": 64}}, "failover.split"),
        ({"ping_check": True}, "ping_check"),
        ({"omapi": {"port": 7912}}, "omapi"),
        ({"kea": {"heartbeat_delay_ms": 5000, "max_response_delay_ms": 3000}}, "kea.max_response_delay_ms"),
        ({"kea": {"admin_networks": ["8.8.8.0/24"]}}, "kea.admin_networks[0]"),
    ],
    ids=["mclt", "hba", "split", "ping_check", "omapi", "timers", "public-admins"],
)
def test_settings_kea_cannot_express_are_input_errors(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InventoryError, match=f'^site "lab": {re.escape(field)}: '):
        kea_site(**overrides)


def test_split_128_and_ping_check_false_are_accepted() -> None:
    site = kea_site(failover={"split": 128}, ping_check=False)
    assert site.failover.effective_split == 128


def test_kea_settings_on_an_isc_site_are_an_error() -> None:
    with pytest.raises(InventoryError, match=r'^site "lab": kea: is set but the site.s server is isc'):
        inventory_from_data(inventory_data(site_data(kea={"control_port": 8080})))


@pytest.mark.parametrize(("example", "site_name"), switched_sites(), ids=[f"{p.stem}-{s}" for p, s in switched_sites()])
def test_example_sites_match_kea_golden_files_or_say_why_not(example: Path, site_name: str) -> None:
    data = as_kea(example, site_name)
    expected_error = INEXPRESSIBLE.get((example.stem, site_name))
    if expected_error is not None:
        with pytest.raises(InventoryError, match=rf'^site "{site_name}": {expected_error}: '):
            inventory_from_data(data)
        return
    rendered = kea_files(data, site_name)
    golden_dir = GOLDEN / example.stem
    if UPDATE:
        for rel, content in rendered.items():
            (golden_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden_dir / rel).write_text(content)
    on_disk = {
        str(p.relative_to(golden_dir)): p.read_text()
        for p in (golden_dir / site_name).rglob("*")
        if p.is_file() and "relays" not in p.parts
    }
    assert sorted(on_disk) == sorted(rendered), "rerun with UPDATE_GOLDEN=1 and review the diff"
    for rel, content in rendered.items():
        assert on_disk[rel] == content, f"{rel} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def expressible_sites() -> list[Site]:
    """Every example site Kea can express, plus the first of them in hot-standby."""
    sites = []
    for path, name in example_sites():
        if (path.stem, name) not in INEXPRESSIBLE:
            sites.append(inventory_from_data(as_kea(path, name)).site(name))
    first = next(p for p in EXAMPLES if p.stem == "minimal")
    standby = as_kea(first, "hq")
    standby["sites"][0]["failover"] = {"load_balancing": False}
    sites.append(inventory_from_data(standby).site("hq"))
    return sites


def test_every_kea_config_passes_kea_dhcp4_t_and_a_2_second_start(tmp_path: Path) -> None:
    require_lab()
    require_kea()
    with Lab(tmp_path / "lab") as lab:
        members: list[KeaMember] = []
        for n, site in enumerate(expressible_sites()):
            switch = f"s{n}"
            lab.add_switch(switch)
            for member in site.members:
                host = f"k{len(members)}"
                lab.add_host(host)
                lab.connect(host, switch, "eth0", f"{member.address}/{member.network.prefixlen}")
                kea = install_member(lab, site, member, host)
                check_config(lab, kea)
                members.append(kea)
        for kea in members:
            start_member(lab, kea)
        started = time.monotonic()
        time.sleep(max(0.0, 2.0 - (time.monotonic() - started)))
        for kea in members:
            assert kea.dhcp4 is not None and kea.dhcp4.alive(), kea.dhcp4_conf
            assert kea.agent is not None and kea.agent.alive(), kea.agent_conf
            # The HA hook loaded with these parameters and reports a state (-t does not check them).
            state = control.read_ha_state(kea.endpoint)
            assert state.local in control.STATES, state
        # Wrong password: the agent refuses (401), so peers and operators must authenticate.
        wrong = dataclasses.replace(members[0].endpoint, password="wrong")
        with pytest.raises(control.KeaControlError, match="401"):
            control.command(wrong, "status-get")
