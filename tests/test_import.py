"""`import` turns an existing dhcpd.conf into an inventory: round trips on configurations no
one here wrote (Debian's example dhcpd.conf from the isc-dhcp-server package, the ISC guide's
peer blocks completed into a working pair) and on everything we render; every statement is
either rendered again or listed as not mapped with its line; placeholders fail validate."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.backends.isc.config_import import PLACEHOLDER, import_config, parse, tokenize
from dhcp_failover.backends.isc.render import render_dhcpd_conf
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import ServerKind
from tests.lab.member_files import dhcpd_check
from tests.support.factories import ISC_EXAMPLES, REPO
from tests.support.tools import require_file

DEBIAN_EXAMPLE = Path("/usr/share/doc/isc-dhcp-server/examples/dhcpd.conf.example")
GUIDE = REPO.parent / "shared" / "seed" / "isc-basic-guide-to-configuring-dhcp-failover.txt"


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
    # A tunnel's peer blocks name the tunnel addresses, which a dhcpd.conf cannot tell from the
    # servers' own: those sites are not round-tripped.
    sites = [site for site in load_inventory(example).sites if site.wireguard is None and site.server is ServerKind.ISC]
    for site in sites:
        primary, secondary = (render_dhcpd_conf(site, m) for m in (site.primary, site.secondary))
        data, unmapped, _ = import_config(primary, secondary)
        assert [why for _, text, why in unmapped if not text.startswith(("include", "(peer) include"))] == []
        original = {m.role.value: {"name": m.name, "network": str(m.network)} for m in site.members}
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
    guide = require_file(GUIDE, "the ISC guide (shared/seed beside the checkout)").read_text()
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
