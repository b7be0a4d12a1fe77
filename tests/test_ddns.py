"""Dynamic DNS: both members register each lease (A and PTR) with a real BIND 9, signed with
a TSIG key that travels like the OMAPI key; the survivor keeps registering after its partner
dies; the key's secret is never in user-data or cdktf.out; bad ddns sections are one line."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.backends.isc.omapi import OmapiEndpoint, wait_for_failover_state
from dhcp_failover.backends.isc.render import DDNS_KEYS_FILE, render_ddns_keys
from dhcp_failover.cloudinit import render_user_data
from dhcp_failover.constructs.rules import member_rules
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.secret_names import SecretKind, site_secrets
from tests.lab.boot import boot, put_secret
from tests.lab.member_files import install_member, relay_arguments
from tests.lab.netlab import FailoverTopology, Lab, build_failover_topology, lab_fixture  # noqa: F401  (the lab fixture)
from tests.support.factories import inventory_data, site_data, write_inventory
from tests.support.messages import error_lines
from tests.support.tools import require

ZONE, REVERSE = "lab.example.com", "2.77.10.in-addr.arpa"
DNS = FailoverTopology.relay_ip_a  # BIND runs in the relay's namespace, on the servers' segment


def ddns_site_data(**ddns: Any) -> dict[str, Any]:
    section = {
        "domain_name": ZONE,
        "keys": [{"name": "lab-ddns"}],
        "zones": [{"name": ZONE, "servers": [DNS], "key": "lab-ddns"},
                  {"name": REVERSE, "servers": [DNS], "key": "lab-ddns"}],
        **ddns,
    }
    return site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5}, ddns=section)


def ddns_site(**ddns: Any) -> Site:
    return inventory_from_data(inventory_data(ddns_site_data(**ddns))).sites[0]


BAD = [
    ("zone-with-unknown-key", {"zones": [{"name": ZONE, "servers": [DNS], "key": "nope"}]}, "ddns.zones[0].key"),
    ("zone-without-key", {"zones": [{"name": ZONE, "servers": [DNS]}]}, "ddns.zones[0].key"),
    ("zone-without-server", {"zones": [{"name": ZONE, "servers": [], "key": "lab-ddns"}]}, "ddns.zones[0].servers"),
    ("three-servers", {"zones": [{"name": ZONE, "servers": [DNS, "10.77.1.3", "10.77.1.4"], "key": "lab-ddns"}]},
     "ddns.zones[0].servers"),
    ("server-on-loopback", {"zones": [{"name": ZONE, "servers": ["127.0.0.1"], "key": "lab-ddns"}]},
     "ddns.zones[0].servers[0]"),
    ("zone-twice", {"zones": [{"name": ZONE, "servers": [DNS], "key": "lab-ddns"},
                              {"name": ZONE.upper(), "servers": [DNS], "key": "lab-ddns"}]}, "appears twice"),
    ("domain-in-no-zone", {"domain_name": "other.example.org"}, "ddns.domain_name"),
    ("unused-key", {"keys": [{"name": "lab-ddns"}, {"name": "spare"}]}, "ddns.keys[1]"),
    ("key-named-like-omapi", {"keys": [{"name": "omapi_key"}],
                              "zones": [{"name": ZONE, "servers": [DNS], "key": "omapi_key"}]}, "OMAPI key's name"),
    ("zone-name-injection", {"zones": [{"name": 'x. { } zone evil', "servers": [DNS], "key": "lab-ddns"}]},
     "ddns.zones[0].name"),
    ("weak-algorithm", {"keys": [{"name": "lab-ddns", "algorithm": "hmac-md5"}]}, "ddns.keys[0].algorithm"),
]


@pytest.mark.parametrize(("ddns", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_ddns_sections_are_one_error_line_per_problem(tmp_path: Path, ddns: dict[str, Any], expected: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", inventory_data(ddns_site_data(**ddns)))
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(inventory)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert any(expected in line for line in error_lines(result.stderr)), result.stderr


def test_dns_updates_may_leave_only_to_the_zones_servers_on_port_53() -> None:
    site = ddns_site(zones=[{"name": ZONE, "servers": [DNS, "10.77.1.53"], "key": "lab-ddns"},
                            {"name": REVERSE, "servers": [DNS], "key": "lab-ddns"}])
    rules = [r for r in member_rules(site, site.primary) if r.kind.startswith("dns-")]
    assert sorted((r.protocol, r.cidr, r.from_port, r.to_port) for r in rules) == [
        ("tcp", "10.77.1.254/32", 53, 53), ("tcp", "10.77.1.53/32", 53, 53),
        ("udp", "10.77.1.254/32", 53, 53), ("udp", "10.77.1.53/32", 53, 53)]
    assert not [r for r in member_rules(inventory_from_data(inventory_data(site_data())).sites[0],
                                        site.primary) if r.kind.startswith("dns-")]


def test_the_tsig_secret_travels_like_the_omapi_key_and_never_in_user_data() -> None:
    site = ddns_site()
    (spec,) = [s for s in site_secrets(site) if s.kind is SecretKind.DDNS_KEY]
    assert spec.parameter_name == "/dhcp-failover/lab/ddns-key/lab-ddns"
    assert spec.variable_name == "lab_ddns_key_lab_ddns" and spec.member is None
    for member in site.members:
        user_data = render_user_data(site, member).cloud_config
        assert spec.parameter_name in user_data  # the bootstrap fetches it at boot ...
        assert "secret \\\"$ddns_secret_0\\\"" in user_data  # ... and writes it from the shell


# -- the real thing: BIND 9 in the lab ------------------------------------------------------------

NAMED_CONF = """
options {{ directory "{work}"; listen-on {{ {dns}; }}; listen-on-v6 {{ none; }}; pid-file "{work}/named.pid";
  recursion no; allow-query {{ any; }}; dnssec-validation no; }};
key "lab-ddns" {{ algorithm hmac-sha256; secret "{secret}"; }};
zone "{zone}" {{ type primary; file "{work}/forward.db"; allow-update {{ key "lab-ddns"; }}; }};
zone "{reverse}" {{ type primary; file "{work}/reverse.db"; allow-update {{ key "lab-ddns"; }}; }};
"""
ZONE_FILE = "$TTL 60\n@ IN SOA ns.{zone}. admin.{zone}. 1 60 60 600 60\n@ IN NS ns.{zone}.\n"


def start_bind(lab: Lab, topo: FailoverTopology, secret: str) -> None:
    work = lab.workdir / "named"
    work.mkdir()
    (work / "forward.db").write_text(ZONE_FILE.format(zone=ZONE) + f"ns IN A {DNS}\n")
    (work / "reverse.db").write_text(ZONE_FILE.format(zone=ZONE))
    conf = work / "named.conf"
    conf.write_text(NAMED_CONF.format(work=work, dns=DNS, secret=secret, zone=ZONE, reverse=REVERSE))
    checked = subprocess.run([require("named-checkconf"), str(conf)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lab.spawn(topo.relay, [require("named"), "-g", "-4", "-c", str(conf)], work / "named.log")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if dig(lab, topo, "SOA", ZONE):
            return
        time.sleep(0.2)
    raise AssertionError(f"named did not answer:\n{(work / 'named.log').read_text()[-2000:]}")


def dig(lab: Lab, topo: FailoverTopology, rtype: str, name: str) -> list[str]:
    result = subprocess.run([*lab.netns_exec(topo.relay), require("dig"), f"@{DNS}", "+short", "+time=1",
                             "+tries=1", rtype, name], capture_output=True, text=True, timeout=10)
    return result.stdout.split() if result.returncode == 0 else []


def registered(lab: Lab, topo: FailoverTopology, host: str, address: str, timeout: float = 10) -> bool:
    """The A and PTR records of ``host`` point at each other (updates arrive after the ack)."""
    reverse = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dig(lab, topo, "A", f"{host}.{ZONE}") == [address] and dig(lab, topo, "PTR", reverse) == [f"{host}.{ZONE}."]:
            return True
        time.sleep(0.3)
    return False


def named_client(lab: Lab, topo: FailoverTopology, host: str) -> tuple[str, str]:
    """One relayed client that sends its host name; (address, server that acked)."""
    client = lab.start_dhclient(topo.client_b, "eth0", timeout=15, extra_conf=f'send host-name "{host}";\n')
    try:
        lease = client.wait_for_lease(17)
    finally:
        lab.kill(client.daemon)
    return lease.address, lease.server


@pytest.mark.netns
def test_both_members_register_leases_and_the_survivor_keeps_registering(lab: Lab) -> None:
    site = ddns_site()
    topo = build_failover_topology(lab)
    omapi_secret, tsig = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    start_bind(lab, topo, tsig)
    daemons = {}
    for member, host in ((site.primary, topo.primary), (site.secondary, topo.secondary)):
        conf = install_member(site, member.name, lab.workdir / member.name, omapi_secret, {"lab-ddns": tsig})
        daemons[member.name] = lab.start_dhcpd(host, conf)
    endpoint = OmapiEndpoint("127.0.0.1", site.omapi.port, site.omapi.key_name, site.omapi.algorithm.value,
                             omapi_secret)
    for host in (topo.primary, topo.secondary):
        wait_for_failover_state(endpoint, site.peer_name, "normal", partner_state="normal",
                                command_prefix=lab.netns_exec(host), timeout=30)
    servers, downstream, upstream = relay_arguments(site)
    lab.start_dhcrelay(topo.relay, servers, downstream, upstream)

    by_server: dict[str, tuple[str, str]] = {}
    for i in range(12):  # load balancing splits clients by MAC: until each member has served one
        host = f"pc-{i}"
        address, server = named_client(lab, topo, host)
        assert registered(lab, topo, host, address), f"{host} {address} (from {server}) not in DNS"
        by_server.setdefault(server, (host, address))
        if len(by_server) == 2:
            break
    assert set(by_server) == {topo.primary_ip, topo.secondary_ip}, by_server

    lab.kill(daemons[site.primary.name])
    wait_for_failover_state(endpoint, site.peer_name, "communications-interrupted",
                            command_prefix=lab.netns_exec(topo.secondary), timeout=30)
    for i in range(3):
        host = f"after-{i}"
        address, server = named_client(lab, topo, host)
        assert server == topo.secondary_ip
        assert registered(lab, topo, host, address), f"{host} {address} not in DNS after the primary died"


def test_the_bootstrap_writes_the_tsig_key_from_ssm_and_dhcpd_accepts_the_config(
    tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployed path: the member's bootstrap reads both secrets from SSM (moto), writes the
    key files 0600 and runs dhcpd -t on the config that includes them."""
    if os.access("/usr/bin/aws", os.X_OK):  # the member's Debian awscli, as in test_bootstrap
        monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}{os.environ['PATH']}")
    data = ddns_site_data()
    for m in data["members"]:
        m["placement"] = {"region": "eu-west-1", "subnet_id": "subnet-0123456789abcdef0",
                          "vpc_id": "vpc-0123456789abcdef0", "ami": "ami-0123456789abcdef0"}
    site = inventory_from_data(inventory_data(data)).sites[0]
    omapi_secret, tsig = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    for spec in site_secrets(site):
        put_secret(moto_endpoint, "eu-west-1", spec.parameter_name,
                   tsig if spec.kind is SecretKind.DDNS_KEY else omapi_secret)
    for member in site.members:
        root = tmp_path / member.name
        result = boot(site, member, root, moto_endpoint)
        assert result.returncode == 0, result.stderr
        key_file = root / DDNS_KEYS_FILE.lstrip("/")
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text() == render_ddns_keys(site, {"lab-ddns": tsig})
