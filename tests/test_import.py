"""`import` turns an existing dhcpd.conf into an inventory: round trips on configurations no
one here wrote (Debian's example dhcpd.conf from the isc-dhcp-server package, the ISC guide's
peer blocks completed into a working pair) and on everything we render; every statement is
either rendered again or listed as not mapped with its line; placeholders fail validate."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.app import plan_synth
from dhcp_failover.backends.isc.config_import import PLACEHOLDER, import_config
from dhcp_failover.backends.isc.config_reader import parse, tokenize
from dhcp_failover.backends.isc.render import render_dhcpd_conf
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import ServerKind
from tests.lab.member_files import dhcpd_check
from tests.support.checkout import run_main
from tests.support.factories import ISC_EXAMPLES, REPO
from tests.support.tools import require_file

DEBIAN_EXAMPLE = Path("/usr/share/doc/isc-dhcp-server/examples/dhcpd.conf.example")
GUIDE = REPO / "tests" / "data" / "guide" / "failover-examples.txt"


def statements(text: str, *, skip_lines: set[int] = frozenset()) -> list[tuple[int, str]]:  # type: ignore[assignment]
    """Every statement and block header as (line, normalized text), leaving out the blocks
    that start on ``skip_lines`` whole."""
    found: list[tuple[int, str]] = []

    def walk(items: Any) -> None:
        for item in items:
            if item.line in skip_lines:
                continue
            found.append((item.line, " ".join(f'"{t.text}"' if t.quoted else t.text for t in item.words)))
            if item.block is not None:
                walk(item.block)

    walk(parse(tokenize(text)))
    return found


def without_names(conf: str) -> str:
    """A rendered dhcpd.conf without its comments (they name the members) or blank lines."""
    return "\n".join(line for line in conf.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def fill_in(data: dict[str, Any], relays: list[dict[str, Any]] | None = None, **members: Any) -> dict[str, Any]:
    site = data["sites"][0]
    if relays is not None:
        site["relays"] = relays
    for member in site["members"]:
        member.update(members.get(member["role"], {}))
    return data


@pytest.mark.parametrize("example", ISC_EXAMPLES, ids=[e.stem for e in ISC_EXAMPLES])
def test_every_rendered_site_imports_back_to_the_same_dhcpd_conf(example: Path) -> None:
    for site in load_inventory(example).sites:
        if site.server is not ServerKind.ISC:
            continue  # a Kea site has no dhcpd.conf to import back
        primary, secondary = (render_dhcpd_conf(site, m) for m in (site.primary, site.secondary))
        data, unmapped, placeholders = import_config(primary, secondary)
        assert [why for _, text, why in unmapped if not text.startswith(("include", "(peer) include"))] == []
        # What a dhcpd.conf cannot say: the names, and behind a tunnel the servers' own addresses
        # (the peer blocks name the tunnel's ends) and how the ends reach each other.
        original = {m.role.value: {"name": m.name, "network": str(m.network), "address": str(m.address)}
                    for m in site.members}
        if site.wireguard is not None:
            assert data["sites"][0]["wireguard"]["network"] == str(site.wireguard.network)
            assert [p.split(" (")[0] for p in placeholders if not p.startswith("relays")] == [
                "wireguard.endpoints: elastic-ip or private", "member dhcp-primary: address", "member dhcp-secondary: address"]
            data["sites"][0]["wireguard"]["endpoints"] = site.wireguard.endpoints.value
        relays = [r.model_dump(mode="json", exclude_none=True) for r in site.relays]
        imported = inventory_from_data(fill_in(data, relays, **original)).sites[0]
        for member in imported.members:
            assert without_names(render_dhcpd_conf(imported, member)) == without_names(render_dhcpd_conf(site, site.member(member.role)))


def uncommented_debian_example() -> str:
    """Debian's example with its example declarations switched on (the lines ISC wrote as '#subnet',
    '#  range', '#}' ...), prose comments left as they are."""
    text = DEBIAN_EXAMPLE.read_text()
    return re.sub(r"^#(?=[a-z}]|  )", "", text, flags=re.M)


def guide_pair() -> tuple[str, str]:
    """The guide's two peer blocks, completed as its own steps say: addresses for the host names,
    the closing braces, a subnet with a pool that names the peer, OMAPI with a key."""
    guide = GUIDE.read_text()
    primary = guide[guide.index('failover peer "failover-partner" {'):guide.index("...and secondary:")]
    rest = guide[guide.index("...and secondary:"):]
    secondary = rest[rest.index('failover peer "failover-partner" {'):rest.index("The parameter mclt")]
    common = """
omapi-port 7911;
omapi-key omapi_key;
key omapi_key {
     algorithm hmac-sha256;
     secret Ofakekeyfakekeyfakekey==;
}
subnet 10.77.1.0 netmask 255.255.255.0 {
}
subnet 10.77.2.0 netmask 255.255.255.0 {
    option domain-name-servers 10.77.1.53;
    option routers 10.77.2.1;
    pool {
        failover peer "failover-partner";
        range 10.77.2.100 10.77.2.199;
    }
}
"""
    hosts = {"dhcp-primary.example.com": "10.77.1.1", "dhcp-secondary.example.com": "10.77.1.2"}
    confs = []
    for template in (primary, secondary):
        block = template
        for name, address in hosts.items():
            block = block.replace(name, address)
        confs.append(block.rstrip() + "\n}\n" + common)
    return confs[0], confs[1]


def test_the_guides_peer_blocks_import_as_a_pair_and_render_a_working_config(tmp_path: Path) -> None:
    primary, secondary = guide_pair()
    data, unmapped, placeholders = import_config(primary, secondary, "guide")
    assert [text for _, text, _ in unmapped if "secret" not in text] == []
    site = data["sites"][0]
    assert site["failover"] == {"max_response_delay": 60, "max_unacked_updates": 10, "mclt": 3600, "split": 128,
                                "load_balance_max_seconds": 3, "peer_name": "failover-partner"}
    assert [(m["role"], m["address"], m["network"]) for m in site["members"]] == [
        ("primary", "10.77.1.1", "10.77.1.0/24"), ("secondary", "10.77.1.2", "10.77.1.0/24")]
    assert site["omapi"] == {"port": 7911, "key_name": "omapi_key", "algorithm": "hmac-sha256"}
    assert placeholders == ["relays[0]: source_address and the interface (and the giaddr, if no router is given)"]
    site["relays"][0].update(source_address="10.77.1.254", serves=[{"subnet": "10.77.2.0/24", "interface": "eth1", "giaddr": "10.77.2.1"}])
    imported = inventory_from_data(data).sites[0]
    dhcpd_check(imported, tmp_path)
    rendered = {text for _, text in statements(render_dhcpd_conf(imported, imported.primary))}
    for _, text in statements(primary):
        assert text in rendered or text.startswith(("secret", "key omapi_key", "algorithm")), text


def test_debians_example_imports_with_every_statement_rendered_or_listed(tmp_path: Path) -> None:
    require_file(DEBIAN_EXAMPLE, "Debian's example dhcpd.conf (package isc-dhcp-server)")
    text = uncommented_debian_example()
    data, unmapped, placeholders = import_config(text, None, "debian")
    listed = {line for line, _, _ in unmapped}
    assert any("dynamic BOOTP" in why for _, _, why in unmapped)
    assert any("host names" in why for _, _, why in unmapped)
    assert placeholders and any("member dhcp-primary" in p for p in placeholders)

    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(_write(tmp_path, data))],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "members[0].address" in result.stderr, result.stderr  # placeholders refused

    members = {"primary": {"address": "10.152.187.10", "network": "10.152.187.0/24"},
               "secondary": {"address": "10.152.187.11", "network": "10.152.187.0/24"}}
    relays = [{"name": f"relay-{i}", "source_address": "10.152.187.1",
               "serves": [{"subnet": s["network"], "interface": f"eth{i}", "giaddr": str(_first_host(s["network"]))}]}
              for i, s in enumerate(data["sites"][0]["subnets"]) if s.get("pools")]
    imported = inventory_from_data(fill_in(data, relays, **members)).sites[0]
    assert {str(s.network) for s in imported.subnets} >= {"10.5.5.0/27", "10.17.224.0/24", "10.0.29.0/24"}
    assert [c.name for c in imported.classes] == ["foo"] and imported.classes[0].match.vendor_class == "SUNW"
    assert [(n.name, [str(s) for s in n.subnets]) for n in imported.shared_networks] == [("x-224-29", ["10.17.224.0/24", "10.0.29.0/24"])]  # names start with a letter
    dhcpd_check(imported, tmp_path)
    rendered = {text for _, text in statements(render_dhcpd_conf(imported, imported.primary))}
    for line, statement in statements(text, skip_lines=listed):
        if statement.startswith(("subnet", "shared-network", "host", "class", "pool")):
            continue
        assert statement in rendered or _implied(statement), f"line {line}: {statement!r} neither rendered nor listed"


def _implied(text: str) -> bool:
    """Statements the importer maps into the model by meaning rather than by text."""
    return text.startswith(("range ", "option broadcast-address", "allow members of", "deny members of",
                            "match if", "default-lease-time", "max-lease-time", "option domain-name "))


def _first_host(network: str) -> Any:
    import ipaddress

    return next(ipaddress.IPv4Network(network).hosts())


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "imported.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("sites:\n  - name: lab\n", "is this a dhcpd.conf?"),
        ("hello world;\n", "holds no dhcpd.conf statement"),
        ("subnet 10.0.0.0 netmask 255.255.255.0 {\n", "ends inside a block"),
        ("}\n", "without a matching"),
        (b"\x00\xff\xfe binary", "is not UTF-8"),
    ],
)
def test_a_file_that_is_not_a_dhcpd_conf_is_one_error_line(tmp_path: Path, content: Any, expected: str) -> None:
    source = tmp_path / "input.conf"
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "inventory.yaml"
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "import", "--dhcpd-conf", str(source), "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == "" and not out.exists()
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and expected in result.stderr, result.stderr


def test_the_command_writes_the_inventory_and_lists_what_it_did_not_map(tmp_path: Path) -> None:
    primary, secondary = guide_pair()
    (tmp_path / "primary.conf").write_text(primary + "\nserver-name \"x\";\n")
    (tmp_path / "secondary.conf").write_text(secondary)
    out = tmp_path / "inventory.yaml"
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "import", "--dhcpd-conf", str(tmp_path / "primary.conf"),
                             "--peer-conf", str(tmp_path / "secondary.conf"), "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = primary.count("\n") + 2
    assert f'not mapped: line {line}: server-name "x";: not mapped' in result.stdout
    assert "fill in: relays[0]" in result.stdout
    assert PLACEHOLDER in out.read_text()
    assert yaml.safe_load(out.read_text())["sites"][0]["name"] == "failover-partner"


LEASES = """# dhcpd.leases as dhcpd writes it: a record per change, the last one counts
lease 10.61.0.120 {{
  starts 3 2026/11/25 08:00:00;
  ends 3 {future};
  binding state active;
  hardware ethernet 00:16:3e:00:00:01;
}}
lease {printer_address} {{
  starts 3 2026/11/25 08:00:00;
  ends 3 {future};
  binding state active;
  hardware ethernet {printer};
}}
lease 10.61.0.30 {{
  starts 3 2026/11/25 08:00:00;
  ends 3 {future};
  binding state active;
  hardware ethernet 00:16:3e:00:00:03;
}}
lease 10.61.0.121 {{
  starts 3 2026/11/25 08:00:00;
  ends 3 2026/11/25 09:00:00;
  binding state active;
  hardware ethernet 00:16:3e:00:00:04;
}}
lease 10.61.0.122 {{
  starts 3 2026/11/25 08:00:00;
  ends 3 {future};
  binding state active;
  hardware ethernet 00:16:3e:00:00:05;
}}
lease 10.61.0.122 {{
  starts 3 2026/11/25 08:00:00;
  ends 3 2026/11/25 09:30:00;
  binding state free;
  hardware ethernet 00:16:3e:00:00:05;
}}
"""


def import_with_leases(conf: Path, leases: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", "import", "--dhcpd-conf", str(conf),
                           "--leases", str(leases), "--out", str(out)], capture_output=True, text=True, timeout=60)


def test_import_reports_which_active_bindings_the_imported_pools_and_hosts_keep(tmp_path: Path) -> None:
    site = load_inventory(REPO / "examples" / "office.yaml").sites[0]
    printer = next(h for s in site.subnets for h in s.hosts if h.name == "printer-1")
    conf = tmp_path / "dhcpd.conf"
    conf.write_text(render_dhcpd_conf(site, site.primary))
    leases = tmp_path / "dhcpd.leases"
    leases.write_text(LEASES.format(future="2099/01/01 00:00:00", printer=printer.mac, printer_address=printer.address))
    result = import_with_leases(conf, leases, tmp_path / "inventory.yaml")
    assert result.returncode == 0, result.stderr
    # In a pool, on its own reservation, outside both; the ended and the freed ones are not bindings.
    assert "leases: 3 active binding(s): 1 in imported pools, 1 on host reservations, 1 outside both" in result.stdout
    assert "not kept: lease 10.61.0.30 (00:16:3e:00:00:03)" in result.stdout


def test_import_refuses_a_lease_file_it_cannot_read_in_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "dhcpd.conf"
    site = load_inventory(REPO / "examples" / "minimal.yaml").sites[0]
    conf.write_text(render_dhcpd_conf(site, site.primary))
    leases = tmp_path / "dhcpd.leases"
    leases.write_text("lease 10.30.1.150 {\n  starts 3 2026/11/25 08:00:00;\n  ends 3 2099/01/01 00:00:00;\n"
                      "  binding state active;\n}\n")
    result = import_with_leases(conf, leases, tmp_path / "inventory.yaml")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "has no 'hardware ethernet'" in result.stderr


# -- what real configurations showed (tests/data/import/): each case failed before its fix ------

def _site_of(text: str) -> tuple[dict[str, Any], list[tuple[int, str, str]]]:
    data, unmapped, _ = import_config(text, None, "real")
    return data["sites"][0], unmapped


def test_lease_times_a_file_leaves_unset_are_dhcpds_own_not_the_models() -> None:
    site, _ = _site_of("subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.10 10.1.0.20;\n}\n"
                       "subnet 10.2.0.0 netmask 255.255.255.0 {\n range 10.2.0.10 10.2.0.20;\n default-lease-time 60;\n}\n")
    assert [(s["default_lease_time"], s["max_lease_time"]) for s in site["subnets"]] == [(43200, 86400), (60, 86400)]


def test_a_pool_whose_only_range_is_dynamic_bootp_is_listed_whole_not_half_imported() -> None:
    site, unmapped = _site_of('subnet 10.1.0.0 netmask 255.255.255.0 {\n pool {\n  allow members of "x";\n'
                              '  range dynamic-bootp 10.1.0.2 10.1.0.24;\n }\n range 10.1.0.30 10.1.0.40;\n}\n')
    assert site["subnets"][0]["pools"] == [{"start": "10.1.0.30", "end": "10.1.0.40"}]
    assert [line for line, _, _ in unmapped] == [2, 4]  # the pool, and why: its range


def test_a_range_around_a_hosts_fixed_address_is_split_so_dhcpd_never_offers_that_address() -> None:
    site, unmapped = _site_of("subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.254;\n"
                              " host a { hardware ethernet 00:1c:c0:99:0a:04; fixed-address 10.1.0.51; }\n}\n")
    assert unmapped == []
    assert site["subnets"][0]["pools"] == [{"start": "10.1.0.2", "end": "10.1.0.50"},
                                           {"start": "10.1.0.52", "end": "10.1.0.254"}]


def test_a_subnets_ddns_domainname_is_the_sites_when_every_subnet_agrees() -> None:
    site, unmapped = _site_of('ddns-update-style standard;\nzone lan. { primary 10.1.0.254; key k; }\n'
                              'subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n'
                              ' ddns-domainname "lan.";\n ddns-rev-domainname "in-addr.arpa";\n}\n')
    assert unmapped == []
    assert site["ddns"]["domain_name"] == "lan"


def test_interim_ddns_is_listed_because_the_pair_registers_the_standard_way() -> None:
    _, unmapped = _site_of('ddns-update-style interim;\nzone lan. { primary 10.1.0.254; key k; }\nddns-domainname "lan";\n'
                           'subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n}\n')
    assert [(line, text) for line, text, _ in unmapped] == [(1, "ddns-update-style interim;")]
    _, unmapped = _site_of("ddns-update-style interim;\nsubnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n}\n")
    assert [line for line, _, _ in unmapped] == [1]  # no zones: updates go nowhere the model can say


def test_hosts_in_a_group_are_imported_and_the_groups_own_options_listed() -> None:
    site, unmapped = _site_of("subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.200 10.1.0.250;\n"
                              " option routers 10.1.0.1;\n group {\n  option routers 10.1.0.2;\n  option interface-mtu 1400;\n"
                              "  host pc-13 { hardware ethernet 00:1A:A0:E5:F5:D2; fixed-address 10.1.0.101; }\n }\n}\n")
    hosts = site["subnets"][0]["hosts"]
    assert [(h["name"], h["mac"], h.get("options")) for h in hosts] == [("pc-13", "00:1a:a0:e5:f5:d2", {"interface_mtu": 1400})]
    assert [line for line, _, _ in unmapped] == [5]  # a host's router is not in the model


def test_a_class_declared_in_a_subnet_is_a_class_as_dhcpd_treats_it() -> None:
    site, unmapped = _site_of('subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n class "pxeclients" {\n'
                              '  match if substring (option vendor-class-identifier, 0, 9) =\n"PXEClient";\n'
                              '  next-server 10.1.0.20;\n  filename "pxelinux.0";\n }\n}\n')
    assert unmapped == []
    assert site["classes"] == [{"name": "pxeclients", "match": {"vendor_class": "PXEClient"},
                                "next_server": "10.1.0.20", "filename": "pxelinux.0"}]


def test_a_match_in_parentheses_is_the_same_match() -> None:
    site, unmapped = _site_of('class "qfx" {\n match if (\n  (substring (option vendor-class-identifier,0,7) = "Juniper")\n );\n}\n'
                              "subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n}\n")
    assert unmapped == [] and site["classes"][0]["match"] == {"vendor_class": "Juniper"}


def test_a_space_encapsulated_in_option_43_is_the_models_vendor_space_and_another_code_is_listed() -> None:
    site, unmapped = _site_of("option space ZTP;\noption ZTP.transfer-mode code 3 = text;\n"
                              "option ZTP-encapsulation code 43 = encapsulate ZTP;\n"
                              "subnet 10.1.0.0 netmask 255.255.255.0 {\n pool {\n  range 10.1.0.2 10.1.0.9;\n"
                              '  option ZTP.transfer-mode "ftp";\n }\n}\n')
    assert unmapped == []
    assert site["option_definitions"] == [{"name": "transfer-mode", "code": 3, "type": "text", "space": "ztp"}]
    assert site["subnets"][0]["pools"][0]["options"] == {"custom": {"transfer-mode": "ftp"}}
    site, unmapped = _site_of("option space ipxe;\noption ipxe.no-pxedhcp code 176 = unsigned integer 8;\n"
                              "option ipxe-encap-opts code 175 = encapsulate ipxe;\n"
                              "subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n option ipxe.no-pxedhcp 1;\n}\n")
    assert "option_definitions" not in site and [line for line, _, _ in unmapped] == [2, 3, 6]


def test_a_redefined_option_is_its_last_definition_and_code_0_is_listed() -> None:
    site, unmapped = _site_of("option space ZTP;\noption ZTP.server-image code 4 = text;\noption ZTP.server-image code 0 = text;\n"
                              "option ZTP-encapsulation code 43 = encapsulate ZTP;\n"
                              'subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n option ZTP.server-image "a";\n}\n')
    assert "option_definitions" not in site
    assert [line for line, _, _ in unmapped] == [2, 3, 7]


# -- bad input through the command: one error line, exit 2, nothing written, fast ------------------

def _run_import(conf: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "import", "--dhcpd-conf", str(conf), "--out", str(out),
                             *extra], cwd=REPO, capture_output=True, text=True, timeout=60)
    return result, time.monotonic() - started


def _binary(folder: Path) -> Path:
    path = folder / "dhcpd"
    path.write_bytes(Path(sys.executable).resolve().read_bytes()[:65536])
    return path


def _nul_bytes(folder: Path) -> Path:  # valid UTF-8, still not text
    path = folder / "zeros.conf"
    path.write_bytes(b"\x00" * 4096)
    return path


def _ten_megabytes(folder: Path) -> Path:
    path = folder / "big.conf"
    with path.open("w") as out:
        for i in range(10 * 1024 * 1024 // 64):
            out.write(f"host h{i:08d} {{ hardware ethernet 00:16:3e:00:00:01; }}      \n"[:64])
    return path


def _include_loop(folder: Path) -> Path:
    (folder / "a.conf").write_text('ddns-update-style none;\ninclude "b.conf";\n')
    (folder / "b.conf").write_text('include "a.conf";\n')
    return folder / "a.conf"


def _binary_include(folder: Path) -> Path:
    _binary(folder)
    (folder / "main.conf").write_text('subnet 10.1.0.0 netmask 255.255.255.0 { }\ninclude "dhcpd";\n')
    return folder / "main.conf"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_binary, "is not UTF-8 text"),
        (_nul_bytes, "holds NUL bytes"),
        (_ten_megabytes, "is larger than 2 MB"),
        (_include_loop, "makes a loop (a.conf -> b.conf -> a.conf)"),
        (_binary_include, "is not UTF-8 text"),
    ],
    ids=["binary", "nul-bytes", "10MB", "include-loop", "binary-include"],
)
def test_input_that_is_no_dhcpd_conf_is_one_error_line_and_exit_2_fast(tmp_path: Path, make: Any, expected: str) -> None:
    conf = make(tmp_path)
    out = tmp_path / "inventory.yaml"
    result, seconds = _run_import(conf, out)
    assert result.returncode == 2 and result.stdout == "" and not out.exists(), result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {conf}: "), result.stderr
    assert expected in result.stderr, result.stderr
    assert seconds < 10, f"{seconds:.1f} s"  # the interpreter's start is most of it


def test_includes_are_read_relative_beside_the_file_and_absolute_under_the_root(tmp_path: Path) -> None:
    etc = tmp_path / "copy" / "etc" / "dhcp"
    etc.mkdir(parents=True)
    (etc / "dhcpd.conf").write_text('include "/etc/dhcp/ddns.key";\ninclude "hosts.conf";\ninclude "/etc/dhcp/absent.conf";\n'
                                    "subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.10 10.1.0.20;\n}\n")
    (etc / "ddns.key").write_text("key DDNS_UPDATE {\n algorithm hmac-sha256;\n secret c2VjcmV0;\n}\n")
    (etc / "hosts.conf").write_text("host pc { hardware ethernet 00:16:3e:00:00:09; fixed-address 10.1.0.50; server-name x; }\n")
    out = tmp_path / "inventory.yaml"
    result, _ = _run_import(etc / "dhcpd.conf", out, "--include-root", str(tmp_path / "copy"))
    assert result.returncode == 0, result.stderr
    hosts = yaml.safe_load(out.read_text())["sites"][0]["subnets"][0]["hosts"]
    assert [h["name"] for h in hosts] == ["pc"]
    assert "not mapped: line 1: (in hosts.conf) server-name x;: not mapped in a host" in result.stdout
    assert 'not mapped: line 3: include "/etc/dhcp/absent.conf";: the included file is not there' in result.stdout
    assert "line 3: (in /etc/dhcp/ddns.key) secret ...;: never imported" in result.stdout and "c2VjcmV0" not in result.stdout + out.read_text()


@pytest.mark.parametrize(
    "text",
    ["subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n { option routers 10.1.0.1; }\n}\n",
     "subnet 10.1.0.0 netmask 255.255.255.0 {\n pool {\n  range 10.1.0.2 10.1.0.9;\n  option;\n }\n}\n",
     ("host a { hardware ethernet 00:16:3e:00:00:09; fixed-address 10.1.0.50; option domain-search; }\n"
      "subnet 10.1.0.0 netmask 255.255.255.0 { range 10.1.0.2 10.1.0.9; }\n")],
    ids=["block-without-header", "option-without-name", "option-without-value"],
)
def test_a_malformed_statement_found_by_fuzzing_is_listed_not_a_traceback(text: str) -> None:
    _, unmapped = _site_of(text)
    assert [line for line, _, _ in unmapped] == [3 if "{ option" in text else 4 if "option;" in text else 1]


def test_a_subnets_ddns_domainname_stays_listed_when_a_served_subnet_has_none() -> None:
    _, unmapped = _site_of('ddns-update-style standard;\nzone lan. { primary 10.1.0.254; key k; }\n'
                              'subnet 10.1.0.0 netmask 255.255.255.0 {\n range 10.1.0.2 10.1.0.9;\n}\n'
                              'subnet 10.2.0.0 netmask 255.255.255.0 {\n ddns-domainname "lan";\n}\n'
                              'subnet 10.3.0.0 netmask 255.255.255.0 {\n range 10.3.0.2 10.3.0.9;\n ddns-domainname "lan";\n}\n')
    assert [line for line, _, _ in unmapped] == [7, 11]


# -- what a deploy still needs: "0 placeholder(s) to fill in" means synth works ---------------------

SERVERS_ON_THE_CLIENT_LAN = """\
failover peer "lan" {
  primary; address 10.77.1.10; port 519; peer address 10.77.1.11; peer port 520;
  max-response-delay 60; max-unacked-updates 10; mclt 3600; split 128; load balance max seconds 3;
}
subnet 10.77.1.0 netmask 255.255.255.0 {
  option routers 10.77.1.1;
  pool { failover peer "lan"; range 10.77.1.100 10.77.1.199; }
}
"""

# What a user types for each kind of placeholder the import lists, by the key it sits under.
FILLED_BY_KEY = {"region": "eu-west-1", "availability_zone": "eu-west-1a", "ami": "ami-0123456789abcdef0",
                 "source_address": "10.77.0.254", "interface": "eth1", "network": "10.20.1.0/24"}


def filled_in(node: Any, key: str = "") -> Any:
    """Every placeholder replaced by what FILLED_BY_KEY gives its key; a member's address is the
    10th (primary) or 11th host of its network."""
    if isinstance(node, list):
        return [filled_in(item, key) for item in node]
    if not isinstance(node, dict):
        return FILLED_BY_KEY[key] if node == PLACEHOLDER else node
    filled = {k: filled_in(v, k) for k, v in node.items() if k != "address"}
    if "address" in node:
        host = 10 if node.get("role") == "primary" else 11
        filled["address"] = (str(ipaddress.IPv4Network(filled["network"])[host]) if node["address"] == PLACEHOLDER
                             else node["address"])
    return {k: filled[k] for k in node}


@pytest.mark.parametrize("files", ["guide-pair", "servers-on-the-client-lan"])
def test_filling_in_every_listed_placeholder_of_an_import_is_all_a_synth_needs(tmp_path: Path, files: str) -> None:
    confs = guide_pair() if files == "guide-pair" else (SERVERS_ON_THE_CLIENT_LAN,)
    args = []
    for name, text in zip(("--dhcpd-conf", "--peer-conf"), confs, strict=False):
        (tmp_path / f"{name[2:]}.conf").write_text(text)
        args += [name, str(tmp_path / f"{name[2:]}.conf")]
    out = tmp_path / "imported.yaml"
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "import", *args, "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = [line.removeprefix("fill in: ") for line in result.stdout.splitlines() if line.startswith("fill in: ")]
    assert f"{len(listed)} placeholder(s) to fill in" in result.stdout
    for member in ("dhcp-primary", "dhcp-secondary"):
        assert any(line.startswith(f"member {member}: placement: region, availability_zone") for line in listed), listed
    if files == "servers-on-the-client-lan":
        # In AWS nothing hears the LAN's broadcasts: the servers get addresses of their own, the LAN a relay.
        assert any(line.startswith("member dhcp-primary: address and network, its own in AWS") for line in listed)
        assert any(line.startswith("relays[0]: ") and "10.77.1.0/24" in line for line in listed), listed

    data = yaml.safe_load(out.read_text())
    filled = tmp_path / "filled.yaml"
    filled.write_text(yaml.safe_dump(filled_in(data), sort_keys=False))
    assert PLACEHOLDER not in filled.read_text()
    validated = subprocess.run([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(filled)],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
    assert validated.returncode == 0, validated.stderr
    site = data["sites"][0]["name"]
    assert plan_synth(load_inventory(filled), {}).stack_names == [f"{site}-shared", f"{site}-secondary", f"{site}-primary"]
    if files == "guide-pair":  # one real synth is proof enough; each costs tens of seconds
        synth = run_main(tmp_path, "--inventory", str(filled), script=REPO / "main.py")
        assert synth.returncode == 0, synth.stderr
        assert "synthesized 3 stack(s)" in synth.stdout, synth.stdout
