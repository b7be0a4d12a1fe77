"""Hostile input: whatever the inventory holds, every command ends in exit 2 with exactly one
`error:` line that names the field, no traceback and nothing written, within seconds; or it is
accepted and what it renders is still well formed."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.factories import REPO, inventory_data, site_data, write_inventory
from tests.support.messages import assert_in_users_words, error_lines

Data = dict[str, Any]
WALL_LIMIT = 10.0


def site_with(**changes: Any) -> Data:
    return inventory_data(site_data(**changes))


def edited(change: Callable[[Data], None]) -> Data:
    site = site_data()
    change(site)
    return inventory_data(site)


def placed_site(name: str = "lab", **changes: Any) -> Data:
    """A placed site whose members AWS accepts (addresses outside the reserved five)."""
    site = site_data(name, **changes)
    site["subnets"] = [s for s in site["subnets"] if s["network"] != "10.77.1.0/24"]
    site["relays"][0]["source_address"] = "10.77.2.1"
    for member, (address, network, zone) in zip(
        site["members"], (("10.77.1.10", "10.77.1.0/24", "a"), ("10.77.3.10", "10.77.3.0/24", "b")), strict=False
    ):
        member.update(address=address, network=network)
        member["placement"] = {"region": "eu-west-1", "availability_zone": f"eu-west-1{zone}", "ami": "ami-0123456789abcdef0"}
    return site


def placed(change: Callable[[Data], None]) -> Data:
    site = placed_site()
    change(site)
    return inventory_data(site)


def distinct_site(name: str, octet: int, **extra: Any) -> Data:
    pool = {"network": f"10.{octet}.1.0/24", "pools": [{"start": f"10.{octet}.1.100", "end": f"10.{octet}.1.150"}]}
    site = site_data(name, subnets=[pool], relays=[], **extra)
    for member, host in zip(site["members"], (1, 2), strict=False):
        member.update(address=f"10.{octet}.1.{host}", network=f"10.{octet}.1.0/24")
    return site


def ddns_key_named(key: str) -> dict[str, Any]:
    zone = {"name": "coast.example.com", "servers": ["10.81.1.53"], "key": key}
    return {"domain_name": "coast.example.com", "keys": [{"name": key}], "zones": [zone]}


def pool_over_other_site() -> Data:
    subnet = {"network": "10.79.0.0/24", "routers": ["10.79.0.1"], "pools": [{"start": "10.79.0.100", "end": "10.79.0.150"}]}
    relay = {"name": "r9", "source_address": "10.79.0.1", "serves": [{"subnet": "10.79.0.0/24", "interface": "eth1", "giaddr": "10.79.0.1"}]}
    other = site_data("other", subnets=[subnet], relays=[relay])
    for member, address in zip(other["members"], ("10.77.2.150", "10.77.2.151"), strict=False):
        member.update(address=address, network="10.77.2.128/25")
    return inventory_data(site_data(), other)


def billion_laughs() -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\nsites: *a9\n"


def with_text(data: Data, old: str, new: str) -> str:
    """The YAML of ``data`` with one plain scalar written differently (as a user would type it)."""
    text = yaml.safe_dump(data, sort_keys=False)
    assert old in text
    return text.replace(old, new, 1)


FORTY_TAGS = ", ".join(f"tag{j}: value" for j in range(40))


def many_tags(count: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(count)}


# (id, inventory as data or YAML text, what the one error line must contain: the field or the cause)
CASES: list[tuple[str, Any, str]] = [
    # Holes: OMAPI reachable from the internet.
    ("omapi-two-halves-of-the-internet", site_with(omapi={"admin_networks": ["0.0.0.0/1", "128.0.0.0/1"]}), "omapi.admin_networks[0]"),
    ("omapi-slash-7", site_with(omapi={"admin_networks": ["10.0.0.0/7"]}), "larger than a /8"),
    ("omapi-public-network", site_with(omapi={"admin_networks": ["8.8.8.0/24"]}), "not a private (RFC 1918) network"),
    ("omapi-public-without-reason", site_with(omapi={"admin_networks": ["8.8.8.0/24"], "allow_public": True}), "allow_public_reason is missing"),
    ("omapi-loopback", site_with(omapi={"admin_networks": ["127.0.0.0/8"]}), "loopback"),
    ("subnet-larger-than-slash-8", edited(lambda s: s["subnets"].append({"network": "128.0.0.0/1"})), "subnets[2].network"),
    # Crashes and hangs.
    ("list-as-key", "version: 1\nsites:\n  - ? [a, b]\n    : 1\n", "a mapping key must be text"),
    ("integer-as-key", "version: 1\nsites:\n  - 1: x\n", "a mapping key must be text"),
    ("date-as-key", "version: 1\n2020-01-01: x\nsites: []\n", "unknown key '2020-01-01'"),
    ("self-referencing-alias", "version: 1\nsites: &s\n  - *s\n", "refers to a value that contains it"),
    ("self-referencing-mapping", "version: 1\nsites:\n  - &m\n    name: lab\n    loop: *m\n", "refers to a value that contains it"),
    ("alias-flood", billion_laughs(), "more than 250000 values"),
    ("deep-nesting", "version: 1\nsites: " + "[" * 20000 + "]" * 20000 + "\n", "nest"),
    ("four-megabytes-of-values", "version: 1\nsites:\n" + "".join(f"  - {{name: s{i}, tags: {{{FORTY_TAGS}}}}}\n" for i in range(7000)), "more than 250000 values"),
    ("four-megabytes-of-long-names", "version: 1\nsites:\n" + f"  - name: {'x' * 9000}\n" * 450, ": name: 'xxx"),
    ("file-over-5-mb", "version: 1\nsites: []\n#" + "x" * (5 * 1024 * 1024) + "\n", "larger than 5 MB"),
    ("not-utf8", b"version: 1\nsites: [\xff\xfe]\n", "is not UTF-8"),
    ("binary-tag", "version: 1\nsites: !!binary aGVsbG8=\n", "YAML tag"),
    ("python-tag", "version: 1\nsites: !!python/object/apply:os.system [true]\n", "YAML tag"),
    ("huge-integer", with_text(site_with(), "role: primary", "role: primary\n    port: " + "9" * 5000), "members[0].port"),
    ("megabyte-string", site_with(name="x" * 1_000_000), "...\": name: 'xxx"),
    ("huge-list", {"version": 1, "sites": [site_data(f"s{i}") for i in range(600)]}, "sites"),
    # Forged output: a second line, or one that starts with error: itself.
    ("newline-in-key", {"version": 1, "sites": [{**site_data(), "x\nerror: forged": 1}]}, "unknown key 'x\\x0aerror: forged'"),
    ("newline-in-name", site_with(name="lab\nerror: forged"), "lab\\x0aerror: forged\": name: "),
    ("control-character-raw", "version: 1\nsites:\n  - name: lab\x01\n", "line 3"),
    ("control-character-escaped", site_with(name="lab\x1b[31m"), "lab\\x1b[31m\": name: "),
    ("line-separator-in-key", {"version": 1, "sites": [{**site_data(), "a\u2028b": 1}]}, "unknown key 'a\\u2028b'"),
    # Accepted before, broken at boot or at synth.
    ("host-name-empty-label", edited(lambda s: s["subnets"][1].update(hosts=[{"name": "a..b", "mac": "00:11:22:33:44:55", "address": "10.77.2.20"}])), "hosts[0].name"),
    ("boot-file-line-separator", edited(lambda s: s["subnets"][1].update(filename="a\u2028b")), "subnets[1].filename"),
    ("boot-file-del", edited(lambda s: s["subnets"][1].update(filename="boot\x7f")), "subnets[1].filename"),
    ("boot-file-noncharacter", edited(lambda s: s["subnets"][1].update(filename="boot\ufffe")), "subnets[1].filename"),
    ("boot-file-quote", edited(lambda s: s["subnets"][1].update(filename='a";\nsubnet')), "subnets[1].filename"),
    ("waiver-newline", site_with(wireguard_waiver="because\nreasons are many"), "wireguard_waiver"),
    ("tag-line-separator", {"version": 1, "tags": {"team": "a\u2028b"}, "sites": [site_data()]}, "tags.team"),
    # Rules that were missing.
    # coast's TSIG key "omapi-key" and coast-ddns-key's OMAPI key: both TF_VAR_coast_ddns_key_omapi_key.
    ("secrets-share-a-terraform-variable", inventory_data(distinct_site("coast", 81, ddns=ddns_key_named("omapi-key")), distinct_site("coast-ddns-key", 82)), "Terraform variable"),
    ("pool-covers-other-sites-servers", pool_over_other_site(), "covers member other-a's network"),
    ("host-on-network-address", edited(lambda s: s["subnets"][1].update(hosts=[{"name": "pc", "mac": "00:11:22:33:44:55", "address": "10.77.2.0"}])), "hosts[0].address"),
    ("host-on-broadcast-address", edited(lambda s: s["subnets"][1].update(hosts=[{"name": "pc", "mac": "00:11:22:33:44:55", "address": "10.77.2.255"}])), "hosts[0].address"),
    ("host-on-router", edited(lambda s: s["subnets"][1].update(hosts=[{"name": "pc", "mac": "00:11:22:33:44:55", "address": "10.77.2.1"}])), "hosts[0].address"),
    ("giaddr-on-network-address", edited(lambda s: s["relays"][0]["serves"][0].update(giaddr="10.77.2.0")), "serves[0].giaddr"),
    ("router-on-broadcast", edited(lambda s: s["subnets"][1].update(routers=["10.77.2.255"])), "subnets[1].routers[0]"),
    ("two-relays-one-giaddr", edited(lambda s: s["relays"].append({**copy.deepcopy(s["relays"][0]), "name": "r2", "source_address": "10.77.1.253"})), "is also relay r1's giaddr"),
    ("no-pool-anywhere", edited(lambda s: s.update(subnets=[{**subnet, "pools": []} for subnet in s["subnets"]])), "no subnet has a pool"),
    ("member-named-like-a-render-folder", edited(lambda s: s["members"][1].update(name="relays")), "render folder"),
    ("yaml-1-1-boolean-as-port", with_text(site_with(), "role: primary", "role: primary\n    port: on"), "members[0].port"),
    ("boolean-as-port", edited(lambda s: s["members"][0].update(port=True)), "members[0].port"),
    ("octal-looking-port", with_text(site_with(), "role: primary", "role: primary\n    port: 0647"), "members[0].port"),
    ("sexagesimal-lease-time", with_text(site_with(), "network: 10.77.2.0/24", "network: 10.77.2.0/24\n    default_lease_time: 1:00"), "default_lease_time"),
    ("yes-as-boolean", with_text(site_with(), "name: lab\n", "name: lab\n  ping_check: yes\n"), "ping_check"),
    ("version-true", {"version": True, "sites": [site_data()]}, "version"),
    ("address-as-number", edited(lambda s: s["members"][0].update(address=167772161)), "members[0].address"),
    # What AWS would refuse at apply time, for members in site-made VPCs.
    ("aws-reserved-address", placed(lambda s: s["members"][0].update(address="10.77.1.1")), "AWS reserves"),
    ("aws-subnet-too-small", placed(lambda s: s["members"][0].update(address="10.77.1.5", network="10.77.1.0/29")), "AWS subnets are /16 to /28"),
    ("aws-member-networks-overlap", placed(lambda s: s["members"][1]["placement"].update(availability_zone="eu-west-1a") or s["members"][1].update(address="10.77.1.200", network="10.77.1.128/25")), "overlap in one VPC"),
    ("aws-reserved-tag-prefix", placed(lambda s: s.update(tags={"AWS:team": "x"})), "AWS reserves"),
    ("aws-too-many-tags", {"version": 1, "tags": many_tags(30), "sites": [placed_site(tags=many_tags(30) | {f"s{i}": "v" for i in range(20)})]}, "AWS allows 50"),
]


def write_case(path: Path, data: Any) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
        return path
    return write_inventory(path, data)


ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}


def run(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, errors="replace", timeout=60, env=ENV,
    )
    return result, time.monotonic() - started


def run_together(commands: list[list[str]], cwd: Path) -> list[tuple[subprocess.CompletedProcess[str], float]]:
    """Each command as ``run`` would, all started at once: the suite's time is mostly these
    interpreter starts, and a CI machine has a second core for them."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(lambda args: run(args, cwd), commands))


def assert_error_lines(result: subprocess.CompletedProcess[str], seconds: float, expected: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout == ""
    lines = error_lines(result.stderr)
    for line in lines:
        assert line.isprintable(), line[:300]
        assert len(line) < 600, line[:600]
        assert_in_users_words(line)
    assert any(expected in line for line in lines), lines
    assert seconds < WALL_LIMIT, f"took {seconds:.1f} s"


def test_there_is_a_case_for_every_class() -> None:
    assert len(CASES) >= 45


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_inventory_is_one_error_line_per_problem_in_every_command(tmp_path: Path, data: Any, expected: str) -> None:
    inventory = write_case(tmp_path / "inventory.yaml", data)
    out = tmp_path / "out"
    (out / "lab" / "lab-a").mkdir(parents=True)
    (out / "lab" / "lab-a" / "keep.txt").write_text("left as it was\n")

    for result, seconds in run_together([
        ["-m", "dhcp_failover", "validate", "--inventory", str(inventory)],
        ["-m", "dhcp_failover", "render", "--inventory", str(inventory), "--out", str(out)],
        [str(REPO / "main.py"), "--inventory", str(inventory)],
    ], tmp_path):
        assert_error_lines(result, seconds, expected)

    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["lab", "lab/lab-a", "lab/lab-a/keep.txt"]
    assert (out / "lab" / "lab-a" / "keep.txt").read_text() == "left as it was\n"
    assert not (tmp_path / "cdktf.out").exists()


PRINTABLE_BOOT_FILE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in '"\\')
LONG_LABEL = "h" + "1" * 61 + "h"

# Values at the edge of what is accepted, each reaching a rendered file.
ACCEPTED: dict[str, Data] = {
    "boot-file-every-printable-character": edited(lambda s: s["subnets"][1].update(next_server="10.77.1.69", filename=PRINTABLE_BOOT_FILE[:128])),
    "boot-file-shell-and-template-syntax": edited(lambda s: s["subnets"][1].update(filename="$(reboot)`id`{{x}}%{y};'#")),
    "host-names-at-the-rfc-1123-edges": edited(lambda s: s["subnets"][1].update(hosts=[
        {"name": "1a.b-c", "mac": "00:11:22:33:44:55", "address": "10.77.2.20"},
        {"name": LONG_LABEL, "mac": "00:11:22:33:44:56", "address": "10.77.2.21"},
        {"name": "subnet", "mac": "00:11:22:33:44:57", "address": "10.77.2.22"},
    ])),
    "peer-name-with-dots-and-underscores": site_with(failover={"peer_name": "pair_1.lab-x"}),
    "domain-name-many-labels": edited(lambda s: s["subnets"][1].update(domain_name=".".join([LONG_LABEL] * 3) + ".example")),
    "unicode-letters-in-tags": {"version": 1, "tags": {"équipe": "réseau ünd Ωmega"}, "sites": [site_data()]},
    "public-admin-network-with-a-reason": site_with(omapi={"admin_networks": ["198.51.100.0/24"], "allow_public": True, "allow_public_reason": "NOC egress; ticket #42 'approved'"}),
}


@pytest.mark.parametrize("data", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_edge_values_render_well_formed_everywhere(tmp_path: Path, data: Data) -> None:
    from tests.support.well_formed import CLOUD_INIT_SCHEMA, check_accepted

    inventory = write_inventory(tmp_path / "inventory.yaml", data)
    out = tmp_path / "out"
    result, _ = run(["-m", "dhcp_failover", "render", "--inventory", str(inventory), "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    user_data = tmp_path / "user-data"
    user_data.mkdir()
    check_accepted(inventory, out, tmp_path / "work", user_data)
    files = sorted(str(p) for p in user_data.iterdir())
    assert len(files) == 2
    schema = subprocess.run(["/usr/bin/python3", "-c", CLOUD_INIT_SCHEMA, *files], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stderr[-3000:]
