"""Bad input: every rule stricter than dhcpd -t ends in one `error:` line per problem (one problem,
one line; several, a line each and a line that counts them), exit 2, no traceback, and nothing
written, whichever command the user ran."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.factories import REPO, inventory_data, site_data, write_inventory
from tests.support.messages import assert_in_users_words, error_lines

Site = dict[str, Any]


def mutate(change: Callable[[Site], None]) -> dict[str, Any]:
    site = site_data()
    change(site)
    return inventory_data(site)


def member(i: int, **values: Any) -> Callable[[Site], None]:
    return lambda s: s["members"][i].update(values)


def failover(**values: Any) -> Callable[[Site], None]:
    return lambda s: s.setdefault("failover", {}).update(values)


def subnet(i: int, **values: Any) -> Callable[[Site], None]:
    return lambda s: s["subnets"][i].update(values)


def relay(i: int, **values: Any) -> Callable[[Site], None]:
    return lambda s: s["relays"][i].update(values)


def served(**values: Any) -> Callable[[Site], None]:
    return lambda s: s["relays"][0]["serves"][0].update(values)


def two_sites_same_subnet() -> dict[str, Any]:
    other = site_data("other")
    for m, addr in zip(other["members"], ("10.78.1.1", "10.78.1.2"), strict=False):
        m.update(address=addr, network="10.78.1.0/24")
    other["subnets"] = [site_data()["subnets"][1]]
    other["relays"][0].update(source_address="10.78.1.254")
    return inventory_data(site_data(), other)


HBA = "f" * 32 + "0" * 32


def placed(region_a: str, region_b: str) -> Callable[[Site], None]:
    def change(s: Site) -> None:
        for m, region in zip(s["members"], (region_a, region_b), strict=False):
            m["placement"] = {"region": region, "availability_zone": f"{region}a", "ami": "ami-0123456789abcdef0"}

    return change


def both(*changes: Callable[[Site], None]) -> Callable[[Site], None]:
    def change(s: Site) -> None:
        for c in changes:
            c(s)

    return change

CASES: list[tuple[str, Any, str]] = [
    ("yaml-syntax", "sites: [\n  - name: lab\n", "YAML syntax error at line"),
    ("not-a-mapping", "- just\n- a list\n", "must be a mapping with a 'sites' list"),
    ("duplicate-key", "sites: []\nsites: []\n", "key 'sites' appears twice"),
    ("no-sites", {"version": 1, "sites": []}, "sites"),
    ("unknown-key-did-you-mean", mutate(lambda s: s.update(subnetz=s.pop("subnets"))), "did you mean 'subnets'"),
    ("unknown-failover-key", mutate(failover(mlct=600)), "unknown key 'mlct'; did you mean 'mclt'"),
    ("wrong-version", {"version": 3, "sites": [site_data()]}, "version"),
    ("two-primaries", mutate(member(1, role="primary")), "has 2 primary member(s)"),
    ("no-role", mutate(lambda s: s["members"][1].pop("role")), "missing required key 'role'"),
    ("three-members", mutate(lambda s: s["members"].append({**s["members"][1], "name": "lab-c", "address": "10.77.1.3"})), "list exactly two"),
    ("mclt-on-secondary", mutate(member(1, mclt=3600)), "mclt is a setting of the pair"),
    ("split-on-member", mutate(member(0, split=128)), "split is a setting of the pair"),
    ("split-too-big", mutate(failover(split=300)), "failover.split: 300"),
    ("hba-short", mutate(failover(hba="ff00")), "failover.hba"),
    ("split-and-hba", mutate(failover(split=128, hba=HBA)), "sets both split and hba"),
    ("lb-silently-off", mutate(failover(load_balance_max_seconds=0)), "silently turns load balancing off"),
    ("lb-off-but-seconds", mutate(failover(load_balancing=False, load_balance_max_seconds=5)), "load_balancing is false"),
    ("port-out-of-range", mutate(member(0, port=70000)), "members[0].port"),
    ("port-is-omapi", mutate(member(1, port=7911)), "collides with the OMAPI port"),
    ("bad-key-algorithm", mutate(lambda s: s.update(omapi={"algorithm": "hmac-foo"})), "omapi.algorithm"),
    ("omapi-open-to-all", mutate(lambda s: s.update(omapi={"admin_networks": ["0.0.0.0/0"]})), "opens OMAPI to everyone"),
    ("pool-outside-subnet", mutate(subnet(1, pools=[{"start": "10.77.3.1", "end": "10.77.3.9"}])), "is not inside the subnet"),
    ("pools-overlap", mutate(subnet(1, pools=[{"start": "10.77.2.10", "end": "10.77.2.50"}, {"start": "10.77.2.40", "end": "10.77.2.60"}])), "pools must be disjoint"),
    ("pool-has-network-address", mutate(subnet(1, pools=[{"start": "10.77.2.0", "end": "10.77.2.50"}])), "the network address"),
    ("pool-has-broadcast", mutate(subnet(1, pools=[{"start": "10.77.2.200", "end": "10.77.2.255"}])), "the broadcast address"),
    ("pool-has-router", mutate(subnet(0, pools=[{"start": "10.77.1.200", "end": "10.77.1.254"}])), "10.77.1.254"),
    ("pool-has-server", mutate(subnet(0, pools=[{"start": "10.77.1.1", "end": "10.77.1.50"}])), "server lab-a"),
    ("pool-has-giaddr", mutate(served(giaddr="10.77.2.150")), "relay r1's giaddr"),
    ("pool-has-relay-source", mutate(relay(0, source_address="10.77.1.150")), "relay r1's source address"),
    ("pool-reversed", mutate(subnet(1, pools=[{"start": "10.77.2.90", "end": "10.77.2.80"}])), "swap start and end"),
    ("subnets-overlap", mutate(lambda s: s["subnets"].append({"network": "10.77.2.128/25"})), "subnets must be disjoint"),
    ("subnet-host-bits", mutate(subnet(1, network="10.77.2.1/24")), "subnets[1].network"),
    ("pool-not-relayed", mutate(lambda s: s["subnets"].append({"network": "10.77.3.0/24", "pools": [{"start": "10.77.3.10", "end": "10.77.3.20"}]})), "no relay serves it"),
    ("relay-serves-nothing", mutate(relay(0, serves=[])), "serves no subnet"),
    ("giaddr-outside-subnet", mutate(served(giaddr="10.77.9.1")), "is not in 10.77.2.0/24"),
    ("relay-serves-undeclared", mutate(served(subnet="10.77.5.0/24", giaddr="10.77.5.1")), "declare it under subnets"),
    ("duplicate-relay-names", mutate(lambda s: s["relays"].append(dict(s["relays"][0]))), "relay 'r1' appears twice"),
    ("duplicate-site-names", inventory_data(site_data(), site_data()), "site 'lab' appears twice"),
    ("two-sites-same-subnet", two_sites_same_subnet(), "a subnet is served by one pair only"),
    ("unsafe-site-name", mutate(lambda s: s.update(name="Lab Site")), "lower-case letters"),
    ("unsafe-peer-name", mutate(failover(peer_name='bad"name')), "failover.peer_name"),
    ("address-not-in-network", mutate(member(1, address="10.77.9.2")), "is not in the member's network"),
    ("router-outside-subnet", mutate(subnet(1, routers=["10.77.9.1"])), "routers[0]"),
    ("lease-times-reversed", mutate(subnet(1, default_lease_time=9000, max_lease_time=600)), "exceeds max_lease_time"),
    ("bad-mac", mutate(subnet(1, hosts=[{"name": "pc", "mac": "00:11:22", "address": "10.77.2.20"}])), "hosts[0].mac"),
    ("host-in-pool", mutate(subnet(1, hosts=[{"name": "pc", "mac": "00:11:22:33:44:55", "address": "10.77.2.150"}])), "reserved for host pc"),
    ("tunnel-overlaps-subnet", mutate(lambda s: s.update(wireguard={"network": "10.77.2.4/30"})), "overlaps subnet 10.77.2.0/24"),
    ("tunnel-port-is-failover-port", mutate(lambda s: s.update(wireguard={"listen_port": 519})), "is also a failover port"),
    ("tunnel-too-big", mutate(lambda s: s.update(wireguard={"network": "10.99.0.0/29"})), "must be a /31 or a /30"),
    ("cross-region-unencrypted", mutate(placed("eu-west-1", "us-east-1")), "add a wireguard section, or a wireguard_waiver"),
    ("private-tunnel-between-site-vpcs", mutate(both(placed("eu-west-1", "us-east-1"), lambda s: s.update(wireguard={"endpoints": "private"}))), "nothing connects them; use elastic-ip"),
    ("waiver-with-tunnel", mutate(both(placed("eu-west-1", "us-east-1"), lambda s: s.update(wireguard={}, wireguard_waiver="private MPLS between regions"))), "remove the waiver"),
    ("host-name-twice-across-subnets", mutate(both(
        subnet(0, hosts=[{"name": "pc", "mac": "00:11:22:33:44:55", "address": "10.77.1.20"}]),
        subnet(1, hosts=[{"name": "pc", "mac": "00:11:22:33:44:66", "address": "10.77.2.20"}]),
    )), "host 'pc' appears twice"),
    ("unknown-os", mutate(lambda s: s.update(os="debian-14")), "os: 'debian-14' must be one of 'debian-12' or 'debian-13'"),
    ("isc-pin-not-in-os", mutate(lambda s: s.update(os="debian-13", software={"isc_dhcp_server": "4.4.3-P1-2"})),
     "software.isc_dhcp_server: '4.4.3-P1-2' is not a version debian-13 carries (4.4.3-P1-8)"),
    ("kea-pin-not-in-os", mutate(lambda s: s.update(server="kea", os="debian-13", kea={"package_version": "2.2.0-6"})),
     "kea.package_version: '2.2.0-6' is not a Kea version dhcp-failover renders for debian-13 (3.0.3-1~bpo13+1)"),
    ("kea-ping-check", mutate(lambda s: s.update(server="kea", os="debian-12", ping_check=True)),
     "ping_check: is true, but Kea 2.2 has no ping check"),
    ("placement-zone-and-subnet", mutate(member(0, placement={"region": "eu-west-1", "availability_zone": "eu-west-1a", "subnet_id": "subnet-0123456789abcdef0", "vpc_id": "vpc-0123456789abcdef0", "ami": "ami-0123456789abcdef0"})), "keep one"),
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dhcp_failover", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_inventory_is_one_error_line_per_problem_and_writes_nothing(tmp_path: Path, data: Any, expected: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", data)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("left as it was\n")

    result = run_cli("render", "--inventory", str(inventory), "--out", str(out))

    assert result.returncode == 2
    assert result.stdout == ""
    lines = error_lines(result.stderr)
    assert any(expected in line for line in lines), lines
    for line in lines:
        assert_in_users_words(line)
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "left as it was\n"


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES[:8]], ids=[c[0] for c in CASES[:8]])
def test_validate_reports_the_same_error(tmp_path: Path, data: Any, expected: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", data)
    result = run_cli("validate", "--inventory", str(inventory))
    assert result.returncode == 2
    assert any(expected in line for line in error_lines(result.stderr)), result.stderr


def test_missing_inventory_file(tmp_path: Path) -> None:
    result = run_cli("validate", "--inventory", str(tmp_path / "absent.yaml"))
    assert (result.returncode, result.stderr.strip()) == (2, f"error: {tmp_path / 'absent.yaml'}: no such inventory file")


def test_usage_error_is_one_line() -> None:
    result = run_cli("render", "--inventory")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def subnets_before_members(site: Site) -> Site:
    """The site as a user may write it, subnets first: the file's order, not the checks', is the
    order its problems are told in."""
    return {"name": site["name"], "subnets": site["subnets"], **{k: v for k, v in site.items() if k not in ("name", "subnets")}}


def run_every_command(tmp_path: Path, inventory: Path) -> list[subprocess.CompletedProcess[str]]:
    out = tmp_path / "out"
    return [
        run_cli("validate", "--inventory", str(inventory)),
        run_cli("render", "--inventory", str(inventory), "--out", str(out)),
        subprocess.run([sys.executable, str(REPO / "main.py"), "--inventory", str(inventory)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60),
    ]


def test_every_field_problem_is_told_at_once_in_file_order_with_a_count(tmp_path: Path) -> None:
    site = site_data()
    site["subnets"][1]["default_lease_time"] = 0
    site["members"][0]["address"] = "10.77.1.300"
    site["relays"][0]["upstream_interface"] = "eth0; reboot"
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(subnets_before_members(site)))

    for result in run_every_command(tmp_path, inventory):
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            f"error: {inventory}: site \"lab\": subnets[1].default_lease_time: 0 must be a number of at least 1",
            f"error: {inventory}: site \"lab\": members[0].address: '10.77.1.300' must be an IPv4 address, like 10.0.0.1",
            (f"error: {inventory}: site \"lab\": relays[0].upstream_interface: 'eth0; reboot' must be an interface name "
            "of 1-64 letters, digits and / : . _ -, like GigabitEthernet0/1 or eth1"),
            f"3 problems in {inventory} (the rules that relate several fields are checked once these are fixed)",
        ]
    assert not (tmp_path / "out").exists() and not (tmp_path / "cdktf.out").exists()


def test_every_problem_across_fields_is_told_at_once_and_fixing_those_leaves_none(tmp_path: Path) -> None:
    site = site_data()
    site["subnets"][1]["pools"] = [{"start": "10.77.2.200", "end": "10.77.2.255"}]
    site["members"][1]["address"] = "10.77.9.2"
    site["subnets"][0]["routers"] = ["10.77.9.1"]
    broken = subnets_before_members(site)
    inventory = write_inventory(tmp_path / "sites.yaml", inventory_data(broken))

    for result in run_every_command(tmp_path, inventory):
        assert result.returncode == 2, result.stderr
        lines = error_lines(result.stderr)
        assert [line.split(": ")[3] for line in lines] == [
            "subnets[0].routers[0]", "subnets[1].pools[0]", "members[1].address"], lines
        assert result.stderr.splitlines()[-1] == f"3 problems in {inventory}"

    site["subnets"][1]["pools"] = [{"start": "10.77.2.200", "end": "10.77.2.250"}]
    site["members"][1]["address"] = "10.77.1.2"
    site["subnets"][0]["routers"] = ["10.77.1.254"]
    write_inventory(inventory, inventory_data(subnets_before_members(site)))
    fixed = run_cli("validate", "--inventory", str(inventory))
    assert (fixed.returncode, fixed.stderr) == (0, ""), fixed.stderr


def test_one_wrong_role_is_one_problem_not_two(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "sites.yaml", mutate(member(1, role="primary")))
    result = run_cli("validate", "--inventory", str(inventory))
    assert result.stderr == (f'error: {inventory}: site "lab": members: has 2 primary member(s) and 0 secondary member(s); '
                             "a failover pair needs exactly one primary and one secondary\n")
