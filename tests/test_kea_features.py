"""The DHCP features on Kea: the site of tests/test_dhcp_features.py (typed and custom options,
a vendor-space option, a class with its own pool, PXE by architecture with the iPXE guard, a
shared network, per-host options) rendered for a real Kea HA pair in load-balancing, both
members serving relayed real dhclients; DNS updates through kea-dhcp-ddns into a real BIND 9
(tests/test_ddns.py's), from both members and from the survivor after a kill -9. What Kea 2.2
cannot take stays one error line."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.kea.ddns import D2_DROP_IN, D2_LOG, d2_config
from dhcp_failover.backends.kea.options import KEA_STANDARD_CODES
from dhcp_failover.backends.kea.render import render_member, split_pool
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Pool, Site
from dhcp_failover.monitoring import REPORTER_CONFIG, member_files
from dhcp_failover.releases import OsRelease
from tests.lab.kea import check_config, install_member, require_kea, start_member, stop_member, wait_for_states
from tests.lab.netlab import Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.debian_roots import LAB_RELEASES, root_for
from tests.support.factories import REPO, inventory_data, write_inventory
from tests.support.tools import require
from tests.support.well_formed import kea_check
from tests.test_ddns import ddns_site_data, named_client, registered, start_bind
from tests.test_dhcp_features import ARCH, REQUEST, featured_site, in_range, lease_for

Data = dict[str, Any]
PROVISIONING_URL = "http://prov.lab.example.com/a,b"  # a comma: Kea would split it, so it goes as hex
PHONES_SUBNET = "10.77.3.0/24"
PHONES_POOL = Pool.model_validate({"start": "10.77.3.100", "end": "10.77.3.199"})


def kea_featured_site() -> Data:
    """The ISC feature site on Kea: no ISC failover settings, a vendor-space option for the
    phones, and the phones' pool in a second subnet on the same segment (a shared network), as
    the office example has its voice subnet."""
    site = featured_site()
    del site["failover"]
    site["server"] = "kea"
    site["option_definitions"].append({"name": "provisioning-url", "code": 1, "type": "text", "space": "acme-phones"})
    site["classes"][0]["options"]["custom"]["provisioning-url"] = PROVISIONING_URL
    relayed = site["subnets"][1]
    relayed["pools"] = [{"start": "10.77.2.100", "end": "10.77.2.199", "deny": ["phones"]}]
    site["subnets"].append({
        "network": PHONES_SUBNET, "routers": ["10.77.3.1"],
        "pools": [{"start": str(PHONES_POOL.start), "end": str(PHONES_POOL.end), "allow": ["phones"]}],
    })
    site["shared_networks"] = [{"name": "segment-b", "subnets": ["10.77.2.0/24", PHONES_SUBNET]}]
    site["relays"][0]["serves"].append({"subnet": PHONES_SUBNET, "interface": "eth1", "giaddr": "10.77.3.1"})
    return site


def kea_site(site: Data) -> Site:
    return inventory_from_data(inventory_data(site)).sites[0]


def dhcp4(site: Site) -> Data:
    return dict(json.loads(render_member(site, site.primary)[0].content)["Dhcp4"])


def test_options_definitions_and_vendor_space_render_as_kea_spells_them() -> None:
    config = dhcp4(kea_site(kea_featured_site()))
    assert config["option-def"] == [
        {"name": "df-phone-tftp", "code": 150, "type": "ipv4-address", "array": True},
        {"name": "df-provisioning-url", "code": 1, "type": "string", "space": "vendor-encapsulated-options-space"},
    ]
    (relayed,) = [s for n in config["shared-networks"] for s in n["subnet4"] if s["subnet"] == "10.77.2.0/24"]
    options = {o.get("name", o.get("code")): o for o in relayed["option-data"]}
    # RFC 3442 bytes: /0 via 10.77.2.1, 10.200/16 via 10.77.2.254; Kea 2.2 has no definition for 121.
    routes = "000a4d0201100ac80a4d02fe"
    assert [options[121], options[249]] == [{"code": code, "csv-format": False, "data": routes} for code in (121, 249)]
    assert options["domain-search"]["data"] == "lab.example.com, example.com"
    phones = config["client-classes"][0]
    assert phones["test"] == "substring(option[60].hex,0,10) == 'Acme Phone'"
    url = next(o for o in phones["option-data"] if o["name"] == "df-provisioning-url")
    assert url == {"name": "df-provisioning-url", "csv-format": False, "data": PROVISIONING_URL.encode().hex(),
                   "space": "vendor-encapsulated-options-space"}
    assert {"name": "vendor-encapsulated-options"} in phones["option-data"]


def test_restricted_pools_take_a_class_per_member_that_also_tests_ha_scope() -> None:
    site = kea_site(kea_featured_site())
    config = dhcp4(site)
    tests = {c["name"]: c["test"] for c in config["client-classes"]}
    (phones_subnet,) = [s for n in config["shared-networks"] for s in n["subnet4"] if s["subnet"] == PHONES_SUBNET]
    for pool, member in zip(phones_subnet["pools"], (site.primary, site.secondary), strict=True):
        assert tests[pool["client-class"]] == f"member('HA_{member.name}') and member('phones')"
    hot = kea_featured_site()
    hot["failover"] = {"load_balancing": False}
    config = dhcp4(kea_site(hot))
    tests = {c["name"]: c["test"] for c in config["client-classes"]}
    (relayed,) = [s for n in config["shared-networks"] for s in n["subnet4"] if s["subnet"] == "10.77.2.0/24"]
    assert [tests[p["client-class"]] for p in relayed["pools"]] == ["not member('phones')"]


def test_expression_literals_with_a_quote_go_as_hex() -> None:
    site = kea_featured_site()
    site["classes"][0]["match"] = {"user_class": "it's"}
    assert dhcp4(kea_site(site))["client-classes"][0]["test"] == "option[77].hex == 0x69742773"


KEA_BAD: list[tuple[str, Any, str]] = [
    ("standard-code", lambda s: s["option_definitions"].append({"name": "tz", "code": 100, "type": "text"}),
     "option_definitions[2].code: 100 is an option Kea 2.2 defines itself"),
    ("two-vendor-spaces", lambda s: s["option_definitions"].append({"name": "extra", "code": 2, "type": "uint8", "space": "other"}),
     "option_definitions[2].space: is a second vendor space"),
    ("class-and-subnet-option", lambda s: s["classes"][0]["options"].update(interface_mtu=1300),
     "classes[0].options.interface_mtu: is also set in subnets[1].options"),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in KEA_BAD], ids=[c[0] for c in KEA_BAD])
def test_what_kea_cannot_express_is_one_error_line(tmp_path: Path, change: Any, expected: str) -> None:
    site = kea_featured_site()
    change(site)
    inventory = write_inventory(tmp_path / "inventory.yaml", inventory_data(site))
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(inventory)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert expected in result.stderr, result.stderr


CUSTOM_VALUES = {
    "ip-address": "10.77.1.70", "ip-addresses": ["10.77.1.70", "10.77.1.71"], "text": "a, b 'quoted'",
    "uint8": 255, "uint16": 65535, "uint32": 4294967295, "int32": -5, "boolean": True,
    "domain-list": ["a.example.com", "b.example.com"], "bytes": "01:0a:FF",
}


def test_every_custom_option_type_and_class_match_passes_kea_dhcp4_t(tmp_path: Path) -> None:
    """Each value type as Kea spells it (a text with a comma as hex, bytes as bare hex) and each
    class match, in every scope, through the real ``kea-dhcp4 -t`` (and the agent's)."""
    require_kea()
    site = kea_featured_site()
    names = {kind: f"opt-{kind.replace('-', '')}" for kind in CUSTOM_VALUES}
    site["option_definitions"] += [{"name": names[kind], "code": 200 + i, "type": kind} for i, kind in enumerate(CUSTOM_VALUES)]
    custom = {names[kind]: value for kind, value in CUSTOM_VALUES.items()}
    site["subnets"][0]["options"] = {"custom": custom}
    site["subnets"][1]["pools"][0]["options"] = {"custom": custom}
    site["subnets"][1]["hosts"][0]["options"]["custom"] = custom
    matches = [{"user_class": "it's"}, {"client_arch": [0, 7]}, {"circuit_id": "ge-0/0/1"}, {"remote_id": "sw1"}]
    site["classes"] += [{"name": f"match-{i}", "match": match} for i, match in enumerate(matches)]
    kea_check(kea_site(site), tmp_path)


@pytest.mark.parametrize("code", [1, 43, 60, 77, 93, 100, 121, 150, 213, 224, 249])
def test_standard_codes_are_the_ones_kea_refuses_to_redefine(tmp_path: Path, code: int) -> None:
    """A sample of KEA_STANDARD_CODES against the installed kea-dhcp4 (43, 121, 150, 224 and 249
    are codes it lets a site define)."""
    require_kea()
    config = {"Dhcp4": {"interfaces-config": {"interfaces": []}, "lease-database": {"type": "memfile", "persist": False},
                        "option-def": [{"name": "df-probe", "code": code, "type": "uint8"}]}}
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(["kea-dhcp4", "-t", str(path)], capture_output=True, text=True, timeout=30)
    refused = "unable to override definition" in result.stdout + result.stderr
    assert refused == (code in KEA_STANDARD_CODES), result.stdout[-400:]


def served_by(block: str) -> str:
    match = re.search(r"option dhcp-server-identifier (\S+);", block)
    assert match, block
    return match.group(1)


RELEASES = [OsRelease.DEBIAN_12, *LAB_RELEASES]


def release_root(release: OsRelease) -> Path | None:
    """Kea 2.2 is this machine's; Kea 3.0 runs from the root of Debian 13."""
    return root_for(release) if release in LAB_RELEASES else None


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.value)
def test_real_kea_pair_serves_options_classes_boot_files_and_host_options(lab: Lab, release: OsRelease) -> None:
    require_kea()
    site = kea_site({**kea_featured_site(), "os": release.value})
    debian_root = release_root(release)
    topo = build_failover_topology(lab)
    pair = [install_member(lab, site, site.primary, topo.primary, debian_root=debian_root),
            install_member(lab, site, site.secondary, topo.secondary, debian_root=debian_root)]
    for kea in pair:
        start_member(lab, kea)
    wait_for_states(pair, {"normal"}, timeout=15.0)
    lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip], ["eth1"], ["eth0"])
    client = topo.client_b
    servers: set[str] = set()

    # Every option a client asks for; no phone, so the pool that denies phones.
    for _ in range(3):
        address, block = lease_for(lab, client, REQUEST)
        servers.add(served_by(block))
        assert in_range(address, "10.77.2.100", "10.77.2.199"), address
        assert 'option domain-search "lab.example.com.", "example.com.";' in block, block
        assert "option rfc3442-classless-static-routes 0,10,77,2,1,16,10,200,10,77,2,254;" in block, block
        assert "option interface-mtu 1400;" in block and "option time-offset 3600;" in block, block
        assert "option log-servers 10.77.1.50;" in block, block
        assert 'option tftp-server-name "tftp.lab.example.com";' in block, block
        assert 'filename "pxelinux.0";' in block, block  # no architecture sent: the BIOS default

    boot_files = {
        "bios (arch 0)": (ARCH.format(0), "pxelinux.0"),
        "uefi x64 (arch 7)": (ARCH.format(7), "ipxe.efi"),
        "uefi x86-64 (arch 9)": (ARCH.format(9), "ipxe.efi"),
        "uefi arm64 (arch 11)": (ARCH.format(11), "ipxe-arm64.efi"),
        "ipxe chain-loaded on uefi": (ARCH.format(7) + 'send user-class "iPXE";\n', "http://boot.lab.example.com/boot.ipxe"),
    }
    for what, (conf, expected) in boot_files.items():
        _, block = lease_for(lab, client, conf)
        servers.add(served_by(block))
        assert f'filename "{expected}";' in block, f"{what}: {block}"
        assert "next-server 10.77.1.69;" in block or "next-server" not in block, f"{what}: {block}"

    # Phones: only the phones' pool (the other subnet of the segment), each member from its own
    # half of it, with the class's options, one of them inside option 43.
    phone_conf = ('send vendor-class-identifier "Acme Phone";\n'
                  "option phone-tftp code 150 = array of ip-address;\n"
                  "also request phone-tftp, vendor-encapsulated-options;\n")
    halves = dict(zip((topo.primary_ip, topo.secondary_ip), split_pool(PHONES_POOL), strict=True))
    sub_option = bytes([1, len(PROVISIONING_URL)]) + PROVISIONING_URL.encode()
    phone_servers: set[str] = set()
    for _ in range(12):  # until each member has served a phone (each has 1/2 chance per phone)
        address, block = lease_for(lab, client, phone_conf)
        server = served_by(block)
        servers.add(server)
        phone_servers.add(server)
        first, last = halves[server]
        assert first <= IPv4Address(address) <= last, f"{address} from {server}: not its half of the phones' pool"
        assert "option phone-tftp 10.77.1.70;" in block, block
        vendor = re.search(r"option vendor-encapsulated-options ([0-9a-f:]+);", block)
        # dhclient prints each byte in hex without its leading zero.
        assert vendor and bytes(int(b, 16) for b in vendor.group(1).split(":")) == sub_option, block
        if len(phone_servers) == 2:
            break
    assert phone_servers == {topo.primary_ip, topo.secondary_ip}, phone_servers

    address, block = lease_for(lab, client, REQUEST, mac="02:77:aa:00:00:01")
    servers.add(served_by(block))
    assert address == "10.77.2.20"
    assert 'option domain-search "printers.lab.example.com.";' in block, block
    # Both members served (each client hashes to one): the classes work on either.
    assert servers == {topo.primary_ip, topo.secondary_ip}, servers


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r.value)
def test_real_kea_pair_registers_leases_in_dns_and_the_survivor_keeps_registering(lab: Lab, release: OsRelease) -> None:
    require_kea()
    require("kea-dhcp-ddns")
    data = ddns_site_data()
    del data["failover"]
    site = kea_site({**data, "server": "kea", "os": release.value})
    debian_root = release_root(release)
    mrd = site.kea.max_response_delay_ms / 1000
    topo = build_failover_topology(lab)
    tsig = base64.b64encode(os.urandom(32)).decode()
    start_bind(lab, topo, tsig)
    pair = [install_member(lab, site, member, host, tsig={"lab-ddns": tsig}, debian_root=debian_root)
            for member, host in ((site.primary, topo.primary), (site.secondary, topo.secondary))]
    for kea in pair:
        check_config(lab, kea)  # kea-dhcp-ddns -t too
        start_member(lab, kea)
    wait_for_states(pair, {"normal"}, timeout=15.0)
    lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip], ["eth1"], ["eth0"])

    by_server: dict[str, tuple[str, str]] = {}
    for i in range(12):  # load balancing splits clients by MAC: until each member has served one
        host = f"pc-{i}"
        address, server = named_client(lab, topo, host)
        assert registered(lab, topo, host, address), f"{host} {address} (from {server}) not in DNS"
        by_server.setdefault(server, (host, address))
        if len(by_server) == 2:
            break
    assert set(by_server) == {topo.primary_ip, topo.secondary_ip}, by_server

    stop_member(lab, pair[0])  # kill -9 of kea-dhcp4, its agent and its D2
    wait_for_states([pair[1]], {"partner-down"}, timeout=mrd + 2.0)
    for i in range(3):
        host = f"after-{i}"
        address, server = named_client(lab, topo, host)
        assert server == topo.secondary_ip
        assert registered(lab, topo, host, address), f"{host} {address} not in DNS after the primary died"


def test_real_hot_standby_pair_serves_a_restricted_pool_whole_and_only_to_its_class(lab: Lab) -> None:
    """Hot-standby: no HA_ classes, the primary serves; the phones' pool keeps one class."""
    require_kea()
    data = kea_featured_site()
    data["failover"] = {"load_balancing": False}
    site = kea_site(data)
    topo = build_failover_topology(lab)
    pair = [install_member(lab, site, site.primary, topo.primary),
            install_member(lab, site, site.secondary, topo.secondary)]
    for kea in pair:
        start_member(lab, kea)
    wait_for_states(pair, {"normal"}, timeout=15.0)
    lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip], ["eth1"], ["eth0"])
    phone_conf = 'send vendor-class-identifier "Acme Phone";\n'
    for conf, (first, last) in ((phone_conf, ("10.77.3.100", "10.77.3.199")), ("", ("10.77.2.100", "10.77.2.199"))):
        for _ in range(2):
            address, block = lease_for(lab, topo.client_b, conf)
            assert served_by(block) == topo.primary_ip
            assert in_range(address, first, last), f"{address} not in {first}-{last}"


def test_d2_restarts_on_failure_and_a_monitored_member_ships_its_log() -> None:
    data = ddns_site_data()
    del data["failover"]
    site = kea_site({**data, "server": "kea", "monitoring": {}})
    files = {f.path: f.content for f in render_member(site, site.primary)}
    assert "[Service]\nRestart=on-failure\n" in files[D2_DROP_IN]
    outputs = d2_config(site, {"lab-ddns": "x"})["DhcpDdns"]["loggers"][0]["output_options"]
    assert [o["output"] for o in outputs] == ["stdout", D2_LOG]
    assert json.loads(next(f.content for f in member_files(site, site.primary) if f.path == REPORTER_CONFIG))[
        "logs"]["kea-dhcp-ddns"] == D2_LOG
