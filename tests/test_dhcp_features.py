"""The DHCP features real configs use: typed and custom options, client classes and the pools
that allow or deny them, PXE by client architecture with the iPXE guard, shared networks and
per-host options. Bad values are one error line; good ones reach a real dhclient through a real
failover pair and relay."""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.isc.omapi import OmapiEndpoint, wait_for_failover_state
from dhcp_failover.backends.isc.options import ROUTES_OPTION
from dhcp_failover.backends.isc.render import render_dhcpd_conf
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import Site
from tests.lab.member_files import install_member, relay_arguments
from tests.lab.netlab import Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.factories import REPO, inventory_data, site_data, write_inventory
from tests.support.messages import error_lines

Data = dict[str, Any]


def featured_site(**failover: Any) -> Data:
    """The lab site with every feature on the relayed subnet 10.77.2.0/24."""
    site = site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5, **failover})
    site["option_definitions"] = [{"name": "phone-tftp", "code": 150, "type": "ip-addresses"}]
    site["classes"] = [{
        "name": "phones",
        "match": {"vendor_class": "Acme Phone"},
        "options": {"custom": {"phone-tftp": ["10.77.1.70"]}},
    }]
    site["subnets"][1].update(
        options={
            "domain_search": ["lab.example.com", "example.com"],
            "classless_static_routes": [
                {"destination": "0.0.0.0/0", "router": "10.77.2.1"},
                {"destination": "10.200.0.0/16", "router": "10.77.2.254"},
            ],
            "interface_mtu": 1400,
            "time_offset": 3600,
            "log_servers": ["10.77.1.50"],
            "tftp_server_name": "tftp.lab.example.com",
        },
        pxe={"next_server": "10.77.1.69", "bios": "pxelinux.0", "uefi_x64": "ipxe.efi",
             "uefi_arm64": "ipxe-arm64.efi", "ipxe": "http://boot.lab.example.com/boot.ipxe"},
        pools=[
            {"start": "10.77.2.100", "end": "10.77.2.149", "deny": ["phones"]},
            {"start": "10.77.2.150", "end": "10.77.2.199", "allow": ["phones"]},
        ],
        hosts=[{"name": "printer", "mac": "02:77:aa:00:00:01", "address": "10.77.2.20",
                "options": {"domain_search": ["printers.lab.example.com"]}}],
    )
    return site


def edited(change: Any) -> Data:
    site = featured_site()
    change(site)
    return inventory_data(site)


BAD: list[tuple[str, Data, str]] = [
    ("mtu-as-text", edited(lambda s: s["subnets"][1]["options"].update(interface_mtu="1400")), "options.interface_mtu"),
    ("mtu-too-small", edited(lambda s: s["subnets"][1]["options"].update(interface_mtu=40)), "options.interface_mtu"),
    ("unknown-option-close", edited(lambda s: s["subnets"][1]["options"].update(domain_serch=["a.example"])), "did you mean 'domain_search'"),
    ("unknown-option-far", edited(lambda s: s["subnets"][1]["options"].update(zzz=1)), "allowed keys"),
    ("custom-not-defined", edited(lambda s: s["subnets"][1]["options"].update(custom={"nope": 1})), "custom.nope: is not in option_definitions"),
    ("custom-wrong-type", edited(lambda s: s["classes"][0]["options"].update(custom={"phone-tftp": ["not-an-address"]})), "must be a list of 1-16 IPv4 addresses"),
    ("custom-protocol-code", edited(lambda s: s["option_definitions"].append({"name": "evil", "code": 53, "type": "uint8"})), "protocol's own options"),
    ("custom-typed-code", edited(lambda s: s["option_definitions"].append({"name": "dns", "code": 6, "type": "ip-addresses"})), "use that field"),
    ("custom-code-twice", edited(lambda s: s["option_definitions"].append({"name": "other", "code": 150, "type": "text"})), "one code, one option"),
    ("class-match-empty", edited(lambda s: s["classes"][0].update(match={})), "give exactly one of"),
    ("class-match-two", edited(lambda s: s["classes"][0].update(match={"vendor_class": "a", "user_class": "b"})), "got vendor_class, user_class"),
    ("class-arch-not-a-number", edited(lambda s: s["classes"][0].update(match={"client_arch": ["x86"]})), "classes[0].match.client_arch"),
    ("class-vendor-quote", edited(lambda s: s["classes"][0].update(match={"vendor_class": 'a" or 1 = 1; "'})), "classes[0].match.vendor_class"),
    ("pool-allows-unknown-class", edited(lambda s: s["subnets"][1]["pools"][0].update(allow=["printers"])), "class 'printers' is not declared"),
    ("pool-allows-and-denies", edited(lambda s: s["subnets"][1]["pools"][1].update(deny=["phones"])), "allows and denies class 'phones'"),
    ("pxe-file-quote", edited(lambda s: s["subnets"][1]["pxe"].update(bios='a";\nfilename "b')), "subnets[1].pxe.bios"),
    ("pxe-without-files", edited(lambda s: s["subnets"][1].update(pxe={"next_server": "10.77.1.69"})), "give at least one boot file"),
    ("pxe-and-filename", edited(lambda s: s["subnets"][1].update(filename="x.0")), "keep only pxe"),
    ("routes-without-default", edited(lambda s: s["subnets"][1]["options"].update(classless_static_routes=[{"destination": "10.200.0.0/16", "router": "10.77.2.254"}])), "has no 0.0.0.0/0 route"),
    ("route-router-off-subnet", edited(lambda s: s["subnets"][1]["options"]["classless_static_routes"].append({"destination": "10.9.0.0/16", "router": "10.9.9.9"})), "must be on the client's subnet"),
    ("shared-network-undeclared", edited(lambda s: s.update(shared_networks=[{"name": "seg", "subnets": ["10.77.2.0/24", "10.77.9.0/24"]}])), "not one of the site's subnets"),
    ("shared-network-twice", edited(lambda s: s.update(shared_networks=[{"name": "seg-a", "subnets": ["10.77.1.0/24", "10.77.2.0/24"]}, {"name": "seg-b", "subnets": ["10.77.2.0/24", "10.77.1.0/24"]}])), "already in shared network 'seg-a'"),
    ("domain-search-bad", edited(lambda s: s["subnets"][1]["options"].update(domain_search=["a..b"])), "options.domain_search[0]"),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_feature_values_are_one_error_line_per_problem(tmp_path: Path, data: Data, expected: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", data)
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(inventory)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert any(expected in line for line in error_lines(result.stderr)), result.stderr


def test_the_office_example_renders_every_feature_for_both_roles() -> None:
    site = load_inventory(REPO / "examples" / "office.yaml").sites[0]
    for member in site.members:
        conf = render_dhcpd_conf(site, member)
        assert 'shared-network "vlan10" {' in conf
        assert 'class "ip-phones" {' in conf and 'allow members of "ip-phones";' in conf
        assert "option df-client-arch code 93 = unsigned integer 16;" in conf
        assert f"option {ROUTES_OPTION} 0, 10, 61, 0, 1, 16, 10, 200, 10, 61, 0, 254;" in conf
        assert 'option domain-search "printers.office.example.com";' in conf
    # The relay listens once on the interface both subnets of the shared network arrive on.


def in_range(address: str, start: str, end: str) -> bool:
    return ipaddress.IPv4Address(start) <= ipaddress.IPv4Address(address) <= ipaddress.IPv4Address(end)


def lease_blocks(lease_file: Path) -> list[str]:
    return re.findall(r"^lease \{\n(.*?)^\}", lease_file.read_text(), flags=re.S | re.M)


REQUEST = (
    "option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;\n"
    "also request domain-search, rfc3442-classless-static-routes, interface-mtu, time-offset, "
    "log-servers, tftp-server-name;\n"
)
ARCH = "option client-arch code 93 = unsigned integer 16;\nsend client-arch {};\n"


def start_pair(lab: Lab, site: Site) -> Any:
    topo = build_failover_topology(lab)
    secret = base64.b64encode(os.urandom(32)).decode()
    hosts = {site.primary.name: topo.primary, site.secondary.name: topo.secondary}
    for name, host in hosts.items():
        lab.start_dhcpd(host, install_member(site, name, lab.workdir / name, secret))
    endpoint = OmapiEndpoint("127.0.0.1", site.omapi.port, site.omapi.key_name, site.omapi.algorithm.value, secret)
    for host in hosts.values():
        wait_for_failover_state(endpoint, site.peer_name, "normal", partner_state="normal",
                                command_prefix=lab.netns_exec(host), timeout=30)
    servers, downstream, upstream = relay_arguments(site)
    lab.start_dhcrelay(topo.relay, servers, downstream, upstream)
    return topo


def lease_for(lab: Lab, host: str, extra_conf: str, mac: str | None = None) -> tuple[str, str]:
    """One DHCP exchange with this dhclient.conf text added; the bound address and the lease."""
    client = lab.start_dhclient(host, "eth0", mac=mac, timeout=15, extra_conf=extra_conf)
    try:
        lease = client.wait_for_lease(17)
    finally:
        lab.kill(client.daemon)
    block = next(b for b in reversed(lease_blocks(client.lease_file)) if f"fixed-address {lease.address};" in b)
    return lease.address, block


@pytest.mark.netns
def test_real_clients_get_options_classes_boot_files_and_host_options(lab: Lab) -> None:
    site = inventory_from_data(inventory_data(featured_site())).sites[0]
    topo = start_pair(lab, site)
    client = topo.client_b

    address, block = lease_for(lab, client, REQUEST)
    assert in_range(address, "10.77.2.100", "10.77.2.149")  # the pool that denies phones
    assert 'option domain-search "lab.example.com.", "example.com.";' in block
    assert re.search(r"option rfc3442-classless-static-routes 0,10,77,2,1,16,10,200,10,77,2,254;", block), block
    assert "option interface-mtu 1400;" in block and "option time-offset 3600;" in block
    assert "option log-servers 10.77.1.50;" in block
    assert 'option tftp-server-name "tftp.lab.example.com";' in block
    assert 'filename "pxelinux.0";' in block  # no architecture sent: the BIOS default

    boot_files = {
        "bios (arch 0)": (ARCH.format(0), "pxelinux.0"),
        "uefi x64 (arch 7)": (ARCH.format(7), "ipxe.efi"),
        "uefi x86-64 (arch 9)": (ARCH.format(9), "ipxe.efi"),
        "uefi arm64 (arch 11)": (ARCH.format(11), "ipxe-arm64.efi"),
        "ipxe chain-loaded on uefi": (ARCH.format(7) + 'send user-class "iPXE";\n', "http://boot.lab.example.com/boot.ipxe"),
    }
    for what, (conf, expected) in boot_files.items():
        _, block = lease_for(lab, client, conf)
        assert f'filename "{expected}";' in block, f"{what}: {block}"
        assert "next-server" not in block or "10.77.1.69" in block

    phone_conf = ('send vendor-class-identifier "Acme Phone";\n'
                  "option phone-tftp code 150 = array of ip-address;\nalso request phone-tftp;\n")
    address, block = lease_for(lab, client, phone_conf)
    assert in_range(address, "10.77.2.150", "10.77.2.199")  # the pool that allows only phones
    assert "option phone-tftp 10.77.1.70;" in block, block

    address, block = lease_for(lab, client, REQUEST, mac="02:77:aa:00:00:01")
    assert address == "10.77.2.20"
    assert 'option domain-search "printers.lab.example.com.";' in block, block
