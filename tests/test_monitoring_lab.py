"""The on-member reporter against a real failover pair (netns) and moto: what it publishes is read
back through CloudWatch's own API (get_metric_data, get_log_events), never from its output.

One pair goes through: both normal with clients (pool metrics equal the lease files), the primary
killed with -9 (the survivor's state metric changes within one period), the primary restarted
(normal again), and CloudWatch unreachable (the reporter exits 1 at once, dhcpd untouched). The
clock offset comes from a real chronyd (no clock control, no network: a command socket only).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import boto3
import pytest

from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea.control import load_leases
from dhcp_failover.backends.kea.render import DHCP4_LOG as KEA_LOG
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Member, Site
from dhcp_failover.monitoring import (
    DHCPD_LOG,
    NAMESPACE,
    PERIOD,
    REPORTER_PATH,
    dimensions,
    log_group_name,
    log_stream_prefix,
    member_files,
    pool_name,
    site_pools,
)
from dhcp_failover.releases import OsRelease
from tests.lab.boot import CREDENTIALS, moto_endpoint  # noqa: F401  (session fixture)
from tests.lab.failover_harness import REGION, BootedPair, boot_pair, lease_states, operator_argv, operator_files
from tests.lab.kea import install_member, require_kea, start_member, stop_member, wait_for_states
from tests.lab.netlab import Lab, build_failover_topology, require_lab
from tests.support.debian_roots import LAB_RELEASES, in_root, root_for
from tests.support.deploy import free_port
from tests.support.factories import REPO, inventory_data, site_data

pytestmark = pytest.mark.netns
MRD = 3
# A client's first lease lasts MCLT: long enough that no lease expires while the lease files are compared.
MCLT = 600
CLIENTS = 5
FIGURES: dict[str, float] = {}


def monitored_site() -> Site:
    """The lab's pair, placed (in an existing subnet: .1/.2 are AWS-reserved in a made one) so that
    it also synthesizes; the reporter then publishes in the placement's region, as on EC2."""
    data = site_data(ping_check=False, failover={"mclt": MCLT, "max_response_delay": MRD},
                     monitoring={"alerts": {"emails": ["noc@example.com"]}})
    for m in data["members"]:
        m["placement"] = {"region": REGION, "subnet_id": "subnet-0123456789abcdef0", "vpc_id": "vpc-0123456789abcdef0",
                          "ami": "ami-0123456789abcdef0"}
    return inventory_from_data(inventory_data(data)).sites[0]


@pytest.fixture(scope="module")
def chronyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real chronyd that neither steers the clock (-x) nor opens a port: its command socket only."""
    folder = tmp_path_factory.mktemp("chrony")
    folder.chmod(0o700)  # chronyd refuses a socket folder others can reach
    socket = folder / "chronyd.sock"
    (folder / "chrony.conf").write_text(f"bindcmdaddress {socket}\ncmdport 0\nport 0\npidfile {folder}/chronyd.pid\n")
    with (folder / "chronyd.log").open("w") as log:
        proc = subprocess.Popen(["chronyd", "-x", "-d", "-u", "root", "-f", str(folder / "chrony.conf")],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert proc.poll() is None and time.monotonic() < deadline, (folder / "chronyd.log").read_text()
            time.sleep(0.1)
        yield str(socket)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[BootedPair]:  # noqa: F811
    require_lab()
    with Lab(tmp_path_factory.mktemp("monitoring")) as lab:
        booted = boot_pair(monitored_site(), lab, moto_endpoint)
        for member in booted.site.members:
            # rsyslog's file on a member; here dhcpd's own log (-d) stands in for it.
            log = booted.roots[member.name] / DHCPD_LOG.lstrip("/")
            log.parent.mkdir(parents=True, exist_ok=True)
            log.symlink_to(booted.log(member))
        yield booted


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="test",
                        aws_secret_access_key="test")


def report(pair: BootedPair, member: Member, endpoint: str, chronyd: str) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """One reporter run on ``member`` as its timer runs it; (result, start, end) in epoch seconds."""
    root = pair.roots[member.name]
    time.sleep(1.1)  # one run per second at most: each run's metrics are read back by their own window
    start = time.time()
    result = subprocess.run(
        [sys.executable, str(root / REPORTER_PATH.lstrip("/")), "--root", str(root), "--endpoint", endpoint,
         "--omshell-prefix", shlex.join(pair.lab.netns_exec(pair.host(member))), "--chronyc-host", chronyd],
        capture_output=True, text=True, timeout=60, env={**os.environ, **CREDENTIALS},
    )
    return result, start, time.time()


def metric(endpoint: str, site: Site, member: Member, name: str, window: tuple[float, float],
           pool: str | None = None) -> float | None:
    """The value the reporter published in ``window``, as CloudWatch returns it."""
    dims = [{"Name": k, "Value": v} for k, v in dimensions(site, member, pool).items()]
    answer = client("cloudwatch", endpoint).get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims},
            "Period": PERIOD, "Stat": "Maximum"}}],
        StartTime=datetime.datetime.fromtimestamp(int(window[0]), datetime.UTC),
        EndTime=datetime.datetime.fromtimestamp(int(window[1]) + 1, datetime.UTC),
    )
    values = answer["MetricDataResults"][0]["Values"]
    assert len(values) <= 1, values
    return values[0] if values else None


def latest(endpoint: str, site: Site, member: Member, name: str, window: tuple[float, float], pool: str) -> float:
    dims = [{"Name": k, "Value": v} for k, v in dimensions(site, member, pool).items()]
    answer = client("cloudwatch", endpoint).get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims}, "Period": PERIOD,
            "Stat": "Maximum"}}],
        StartTime=datetime.datetime.fromtimestamp(int(window[0]), datetime.UTC),
        EndTime=datetime.datetime.fromtimestamp(int(window[1]), datetime.UTC),
    )["MetricDataResults"][0]
    value: float = max(zip(answer["Timestamps"], answer["Values"], strict=True))[1]
    return value




def pools_match_lease_file(pair: BootedPair, endpoint: str, member: Member, window: tuple[float, float]) -> None:
    """Each pool metric the run in ``window`` published equals what the member's lease file says."""
    states = lease_states(pair.lease_file(member))
    for pool in site_pools(pair.site):
        first, last = int(pool.start), int(pool.end)
        inside = [s for a, s in states.items() if first <= int(IPv4Address(a)) <= last]
        name = pool_name(pool)
        assert metric(endpoint, pair.site, member, "PoolActive", window, name) == inside.count("active")
        # dhcpd leaves never-used free leases out when it rewrites the file: no record is free.
        unrecorded = last - first + 1 - len(inside)
        assert metric(endpoint, pair.site, member, "PoolFree", window, name) == inside.count("free") + unrecorded
        assert metric(endpoint, pair.site, member, "PoolBackup", window, name) == inside.count("backup")
        assert metric(endpoint, pair.site, member, "PoolSize", window, name) == last - first + 1


def run_ok(pair: BootedPair, member: Member, endpoint: str, chronyd: str) -> tuple[float, float]:
    result, start, end = report(pair, member, endpoint, chronyd)
    assert result.returncode == 0, result.stderr
    return start, end


def synthesized_alarms(site: Site, outdir: Path) -> tuple[set[tuple[str, str, frozenset[tuple[str, str]]]], list[Any]]:
    """(namespace, metric, dimensions) of every alarm on a reporter metric in the synthesized
    stacks, and the dashboard's metric lines."""
    from dhcp_failover.app import build_app, plan_synth

    inventory = inventory_from_data(inventory_data(site.model_dump(mode="json", exclude_none=True)))
    build_app(plan_synth(inventory, environ={}), outdir=str(outdir)).synth()
    alarms, dashboard = set(), []
    for path in outdir.glob("stacks/*/cdk.tf.json"):
        found = json.loads(path.read_text()).get("resource", {})
        for alarm in found.get("aws_cloudwatch_metric_alarm", {}).values():
            if alarm["namespace"] != "AWS/EC2":
                alarms.add((alarm["namespace"], alarm["metric_name"], frozenset(alarm["dimensions"].items())))
        for board in found.get("aws_cloudwatch_dashboard", {}).values():
            dashboard += [line for w in json.loads(board["dashboard_body"])["widgets"] for line in w["properties"]["metrics"]]
    return alarms, dashboard


def test_reporter_publishes_state_pools_clock_and_logs_through_a_failover(
    pair: BootedPair, moto_endpoint: str, chronyd: str, tmp_path: Path  # noqa: F811
) -> None:
    site, endpoint = pair.site, moto_endpoint
    primary, secondary = site.primary, site.secondary
    client("logs", endpoint).create_log_group(logGroupName=log_group_name(site))  # the shared stack's
    pair.wait_normal(timeout=30)
    grants = [pair.new_client() for _ in range(CLIENTS)]
    # Each member learns the other's leases by binding updates: let both lease files settle.
    settled = time.monotonic() + 10
    while any(list(lease_states(pair.lease_file(m)).values()).count("active") < CLIENTS for m in site.members):
        assert time.monotonic() < settled, "binding updates did not reach both lease files"
        time.sleep(0.2)

    # Both normal; every pool metric equals what that member's lease file says.
    windows = {m.name: run_ok(pair, m, endpoint, chronyd) for m in site.members}
    for m in site.members:
        w = windows[m.name]
        assert metric(endpoint, site, m, "FailoverNormal", w) == 1
        assert metric(endpoint, site, m, "FailoverState", w) == 2
        assert metric(endpoint, site, m, "DhcpdRunning", w) == 1
        assert metric(endpoint, site, m, "ClockOffsetSeconds", w) is not None
        pools_match_lease_file(pair, endpoint, m, w)
        client_pool = pool_name(site.subnets[1].pools[0])
        assert metric(endpoint, site, m, "PoolActive", w, client_pool) == CLIENTS
    acks = sum(metric(endpoint, site, m, "Acks", windows[m.name]) or 0 for m in site.members)
    assert acks >= CLIENTS, "every client's DHCPACK is counted by the member that sent it"
    # dhcpd's log lines reached each member's own stream: every client's DHCPACK is there.
    shipped = ""
    for m in site.members:
        stream = log_stream_prefix(m) + "dhcpd"
        events = client("logs", endpoint).get_log_events(logGroupName=log_group_name(site), logStreamName=stream)
        shipped += "\n".join(e["message"] for e in events["events"])
    assert shipped.count("Server starting service.") == 2
    assert all(f"DHCPACK on {g.address}" in shipped for g in grants)
    # And the bootstrap's output (cloud-init's log of the boot) reached each member's bootstrap stream.
    for m in site.members:
        events = client("logs", endpoint).get_log_events(logGroupName=log_group_name(site),
                                                         logStreamName=log_stream_prefix(m) + "bootstrap")["events"]
        assert any("secrets written and config checked" in e["message"] for e in events), events

    # kill -9 of the primary: the survivor's state metric changes within one period.
    killed = time.time()
    pair.stop(primary, signal.SIGKILL)
    pair.wait_for(secondary, "communications-interrupted", timeout=MRD + 10)
    w_secondary = run_ok(pair, secondary, endpoint, chronyd)
    w_primary = run_ok(pair, primary, endpoint, chronyd)
    assert metric(endpoint, site, secondary, "FailoverState", w_secondary) == 3  # communications-interrupted
    assert metric(endpoint, site, secondary, "FailoverNormal", w_secondary) == 0
    seen = time.time() - killed
    FIGURES["kill -9 → survivor's state metric readable (s)"] = seen
    assert seen < PERIOD
    assert metric(endpoint, site, primary, "DhcpdRunning", w_primary) == 0
    assert metric(endpoint, site, primary, "FailoverNormal", w_primary) == 0

    # Restarted: both back to normal, and the metrics say so.
    pair.start(primary)
    pair.wait_normal(timeout=60)
    for m in site.members:
        w = run_ok(pair, m, endpoint, chronyd)
        assert metric(endpoint, site, m, "FailoverNormal", w) == 1
        assert metric(endpoint, site, m, "FailoverState", w) == 2
    # The restarted primary rewrote its lease file at start: still the same counts.
    pools_match_lease_file(pair, endpoint, primary, run_ok(pair, primary, endpoint, chronyd))

    # status shows the pools as the reporters last published them; --all puts every site in one table.
    inventory, store = operator_files(pair, tmp_path, {"version": 1, "sites": [site.model_dump(mode="json", exclude_none=True)]})
    env = {**os.environ, "DHCP_FAILOVER_AWS_ENDPOINT": endpoint}
    shown = subprocess.run(operator_argv(pair, "status", inventory, store, "--json"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    pools = {p["pool"]: p for p in json.loads(shown.stdout)["pools"]["pools"]}
    client_pool = pool_name(site.subnets[1].pools[0])
    assert pools[client_pool]["seen_by"] == primary.name
    # CloudWatch's latest one-minute value (the tests report more often than once a minute).
    recent = (time.time() - 600, time.time() + 60)
    assert pools[client_pool]["free_percent"] == latest(endpoint, site, primary, "PoolFreePercent", recent, client_pool)
    assert pools[client_pool]["active"] == latest(endpoint, site, primary, "PoolActive", recent, client_pool)
    table = subprocess.run(operator_argv(pair, "status", inventory, store, "--all"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()
    assert header.split()[:3] == ["SITE", "PRIMARY", "SECONDARY"]
    assert row.split()[:5] == ["lab", primary.name, "normal/normal", secondary.name, "normal/normal"]
    assert f"{client_pool} {pools[client_pool]['free_percent']:.0f}%" in row
    every = subprocess.run(operator_argv(pair, "status", inventory, store, "--all", "--json"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert [s["site"] for s in json.loads(every.stdout)["sites"]] == ["lab"]

    # CloudWatch unreachable: exit 1 with one line, quickly; dhcpd keeps running, still normal.
    dhcpd = pair.daemons[primary.name]
    down = f"http://127.0.0.1:{free_port()}"
    result, start, end = report(pair, primary, down, chronyd)
    FIGURES["reporter run with CloudWatch down (s)"] = end - start
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "CloudWatch" in line]
    assert len(errors) == 1 and errors[0].startswith("dhcp-failover-reporter: CloudWatch:"), result.stderr
    assert end - start < PERIOD / 2
    assert dhcpd.alive()
    assert pair.state(primary) == ("normal", "normal")

    # Every alarm and dashboard line of the synthesized stacks watches a metric the runs above published.
    listed = client("cloudwatch", endpoint).get_paginator("list_metrics").paginate(Namespace=NAMESPACE)
    published = {(NAMESPACE, m["MetricName"], frozenset((d["Name"], d["Value"]) for d in m["Dimensions"]))
                 for page in listed for m in page["Metrics"]}
    alarms, dashboard = synthesized_alarms(site, tmp_path / "cdktf.out")
    assert len(alarms) == 2 * (3 + len(site_pools(site)))
    assert alarms <= published, alarms - published
    for line in dashboard:
        namespace, name, *flat, _options = line
        assert (namespace, name, frozenset(zip(flat[::2], flat[1::2], strict=True))) in published, line
    print(FIGURES)


@pytest.mark.parametrize("release", [OsRelease.DEBIAN_12, *LAB_RELEASES], ids=lambda r: r.value)
def test_reporter_on_a_kea_pair_publishes_ha_state_pools_and_kea_log(
    moto_endpoint: str, chronyd: str, tmp_path: Path, release: OsRelease  # noqa: F811
) -> None:
    """The same reporter on a Kea member: the HA state from its Control Agent (Kea 2.2) or from
    kea-dhcp4's own HTTP socket (Kea 3.0.3, no agent), as dhcpd's state numbers; pools from Kea's
    memfile, Kea's log file to the member's stream; a crash shows. On Debian 13 the daemons, the
    reporter's python3, its botocore and curl all come from the trixie root, as on the member."""
    require_lab()
    require_kea()
    debian_root = root_for(release) if release in LAB_RELEASES else None
    data = monitored_site().model_dump(mode="json", exclude_none=True)
    data.update(server="kea", failover={"load_balancing": False}, ping_check=False, os=release.value)
    site = inventory_from_data(inventory_data(data)).sites[0]
    primary, secondary = site.primary, site.secondary
    endpoint = moto_endpoint
    logs = client("logs", endpoint)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):  # the ISC test's, same site name
        logs.create_log_group(logGroupName=log_group_name(site))
    with Lab(tmp_path / "lab") as lab:
        topo = build_failover_topology(lab)
        members = {m.name: install_member(lab, site, m, host, debian_root=debian_root)
                   for m, host in ((primary, topo.primary), (secondary, topo.secondary))}
        for kea in members.values():
            for file in member_files(site, kea.member):
                target = kea.root / file.path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(file.content)
            (kea.root / KEA_LOG.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)  # systemd's LogsDirectory
            start_member(lab, kea)
        wait_for_states(list(members.values()), {"normal"}, timeout=10.0)
        if debian_root is not None:
            assert all(kea.agent is None for kea in members.values()), "Kea 3.0 members run no Control Agent"
        pool = site_pools(site)[0]
        loaded = [{"ip-address": str(IPv4Address(int(pool.start) + i)), "hw-address": f"02:00:00:00:01:{i:02x}",
                   "subnet-id": 1 + next(i for i, s in enumerate(site.subnets) if pool in s.pools),
                   "valid-lft": 3600, "force-create": True} for i in range(CLIENTS)]
        for kea in members.values():
            load_leases(kea.endpoint, loaded)

        def run(member: Member) -> tuple[float, float]:
            kea = members[member.name]
            time.sleep(1.1)  # one run per second at most: each run is read back by its own window
            start = time.time()
            reporter = [str(kea.root / REPORTER_PATH.lstrip("/")), "--root", str(kea.root), "--endpoint", endpoint,
                        "--chronyc-host", chronyd]
            if debian_root is None:
                argv = [sys.executable, *reporter, "--omshell-prefix", shlex.join(lab.netns_exec(kea.host))]
                env = {**os.environ, **CREDENTIALS}
            else:
                # The reporter stays in this namespace (moto listens on its loopback) and sends its
                # curl into the member's through kea-dhcp4's own network namespace.
                assert kea.dhcp4 is not None
                into_member = f"nsenter --net=/proc/{kea.dhcp4.pid}/ns/net"
                argv = in_root(debian_root, ["/usr/bin/python3", *reporter, "--omshell-prefix", into_member])
                env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **CREDENTIALS}
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
            assert result.returncode == 0, result.stderr
            assert "Kea control agent" not in result.stderr, result.stderr
            return start, time.time()

        for member in (primary, secondary):
            window = run(member)
            assert metric(endpoint, site, member, "DhcpdRunning", window) == 1
            assert metric(endpoint, site, member, "FailoverNormal", window) == 1
            assert metric(endpoint, site, member, "FailoverState", window) == 2  # dhcpd's "normal"
            assert metric(endpoint, site, member, "PoolActive", window, pool_name(pool)) == CLIENTS
            size = int(pool.end) - int(pool.start) + 1
            assert metric(endpoint, site, member, "PoolFree", window, pool_name(pool)) == size - CLIENTS
        stream = f"{log_stream_prefix(primary)}kea-dhcp4"
        events = client("logs", endpoint).get_log_events(logGroupName=log_group_name(site), logStreamName=stream)
        assert any("HA_" in e["message"] or "DHCP4_" in e["message"] for e in events["events"]), events["events"][:3]

        stop_member(lab, members[primary.name])
        deadline = time.monotonic() + site.kea.max_response_delay_ms / 1000 + 5
        while control.read_ha_state(members[secondary.name].endpoint).local != "partner-down":
            assert time.monotonic() < deadline, "the secondary never went partner-down"
            time.sleep(0.2)
        window = run(secondary)
        assert metric(endpoint, site, secondary, "FailoverState", window) == 4  # dhcpd's "partner-down"
        assert metric(endpoint, site, secondary, "FailoverNormal", window) == 0
        window = run(primary)
        assert metric(endpoint, site, primary, "DhcpdRunning", window) == 0
