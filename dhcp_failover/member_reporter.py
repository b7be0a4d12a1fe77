#!/usr/bin/python3
"""dhcp-failover-reporter: what one DHCP server publishes to CloudWatch every minute.

Shipped verbatim in each member's user data and run by a systemd timer, so it uses only the
standard library and botocore (Debian 12's python3-botocore, or the copy inside Debian 13's
awscli 2); it imports nothing from this package.
It reads, on the member itself:

- whether dhcpd (or kea-dhcp4) runs (its pid file, and /proc);
- the local failover state over OMAPI on 127.0.0.1, through ``omshell`` with the key file the
  bootstrap wrote (no new secret: the key never leaves that file); on a Kea member the HA state
  from ``status-get`` to its own Control Agent, with the password file the bootstrap wrote;
- each pool's free / backup / active addresses from dhcpd's lease file. dhcpd-pools (packaged by
  Debian) would do this too, but it parses dhcpd.conf and its includes again to find the ranges,
  which the inventory already gives us, and its output format changes between versions; the
  lease file's last record per address is all we need, and the proof compares it with what the
  lease files show; on a Kea member, the memfile's last row per address;
- the clock offset from ``chronyc -c tracking``;
- new lines of dhcpd's log (local7, written by rsyslog) and of the boot log, for CloudWatch Logs.

Then it publishes metrics in one namespace with dimensions Site, Member (and Pool) and writes
the log lines to its own streams. When CloudWatch fails it says so on stderr and exits 1; it
never touches dhcpd (its unit neither requires nor stops the service).

Usage: dhcp-failover-reporter [--config F] [--root DIR] [--endpoint URL]
                              [--omshell-prefix WORDS] [--chronyc-host H] [--dry-run]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ipaddress
import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG = "/etc/dhcp-failover/reporter.json"
# ISC DHCP 4.x failover state numbers (dhcpd(8), includes/failover.h); 2 is normal.
NORMAL = 2
MAX_LOG_BATCH = 5000  # lines per PutLogEvents call (CloudWatch allows 10,000 events / 1 MB)
MAX_LINE = 8000  # characters kept of one log line
METRICS_PER_CALL = 20


class ReporterError(Exception):
    """A failure to say in one line."""


@dataclass
class Report:
    """What one run found: metric name → (extra dimensions, value), and log lines per stream."""

    metrics: list[tuple[str, dict[str, str], float, str]] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str = "None", **dims: str) -> None:
        self.metrics.append((name, dims, value, unit))


def under(root: str, path: str) -> Path:
    return Path(root + path) if root else Path(path)


def dhcpd_running(pid_file: Path, process: str = "dhcpd") -> bool:
    """Whether the DHCP server (``process``: dhcpd or kea-dhcp4) of the pid file runs."""
    try:
        pid = int(pid_file.read_text().split()[0])
        return Path(f"/proc/{pid}/comm").read_text().strip() == process
    except (OSError, ValueError, IndexError):
        return False


def omapi_secret(key_file: Path) -> tuple[str, str]:
    """(key name, secret) from the key file the bootstrap wrote."""
    text = key_file.read_text()
    found = re.search(r'key\s+(\S+)\s*\{.*?secret\s+"([^"]+)"', text, re.S)
    if not found:
        raise ReporterError(f"{key_file}: no key with a secret")
    return found.group(1), found.group(2)


def decode_int(value: str) -> int:
    """omshell prints 4-byte integers as hex (00:00:00:02), or quoted when every byte is printable."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return int.from_bytes(value[1:-1].encode("latin-1"), "big")
    if re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+", value):
        return int.from_bytes(bytes.fromhex(value.replace(":", "")), "big")
    return int(value)


def failover_state(config: dict[str, Any], root: str, prefix: list[str]) -> int:
    """The local failover state number, read over OMAPI on 127.0.0.1."""
    omapi = config["omapi"]
    name, secret = omapi_secret(under(root, omapi["key_file"]))
    script = "\n".join([
        f"key-algorithm {omapi['algorithm']}", "server 127.0.0.1", f"port {omapi['port']}",
        f"key {name} {secret}", "connect", "new failover-state",
        f'set name = "{config["peer_name"]}"', "open", "",
    ])
    try:
        result = subprocess.run([*prefix, "omshell"], input=script, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReporterError(f"omshell: {exc}") from None
    found = re.search(r"local-state = (\S+)", result.stdout)
    if not found:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        detail = next((line for line in lines if "can't" in line or "not" in line), "no local-state in reply")
        raise ReporterError(f"OMAPI: {detail.replace(secret, '<secret>')}")
    return decode_int(found.group(1))


# Kea HA state -> the ISC failover state number with the same meaning (dhcpd's numbers are the
# metric's scale, so one alarm and one dashboard serve both servers).
KEA_STATES = {
    "load-balancing": NORMAL, "hot-standby": NORMAL, "communication-recovery": 3, "partner-down": 4,
    "partner-in-maintenance": 4, "waiting": 1, "syncing": 6, "ready": 6, "in-maintenance": 8, "terminated": 8,
}


def kea_state(config: dict[str, Any], root: str, prefix: list[str], service: str = "dhcp4") -> int:
    """The local HA state (``status-get`` to the member's own control channel), as an ISC number;
    ``service`` dhcp6: the DHCPv6 relationship of a dual-stack member, from kea-dhcp6's own socket
    where the config names one (``dhcp6_url``, Kea 3.0), else through the Control Agent."""
    kea = config["kea"]
    password = under(root, kea["password_file"]).read_text()
    url = kea["url"]
    request: dict[str, Any] = {"command": "status-get", "service": [service]}
    if service == "dhcp6" and "dhcp6_url" in kea:
        url = kea["dhcp6_url"]
        del request["service"]
    body = json.dumps(request)
    # The password goes to curl on stdin, never on a command line.
    curl_config = (f'user = "{kea["user"]}:{password}"\nheader = "Content-Type: application/json"\n'
                   f"data = {json.dumps(body)}\nurl = \"{url}\"\n")
    try:
        result = subprocess.run([*prefix, "curl", "--silent", "--show-error", "--fail", "--max-time", "5",
                                 "--config", "-"], input=curl_config, capture_output=True, text=True, timeout=10,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReporterError(f"Kea control agent: {exc}") from None
    try:
        answer = json.loads(result.stdout)
        reply = answer[0] if isinstance(answer, list) else answer
        state = reply["arguments"]["high-availability"][0]["ha-servers"]["local"]["state"]
    except (ValueError, KeyError, IndexError, TypeError):
        detail = (result.stderr.strip().splitlines() or [result.stdout.strip()[:200] or "no answer"])[-1]
        raise ReporterError(f"Kea control agent: {detail.replace(password, '<secret>')}") from None
    return KEA_STATES.get(state, 0)


def kea_lease_states(lease_file: Path, now: float) -> dict[str, str]:
    """address -> "active" or "free" from Kea's memfile: its last row per address counts, and
    a lease is active while it has a lifetime, has not expired and is in the default state 0."""
    states: dict[str, str] = {}
    with lease_file.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                active = int(row["valid_lifetime"]) > 0 and int(row["expire"]) > now and row["state"] == "0"
            except (KeyError, ValueError, TypeError):
                continue
            states[row["address"]] = "active" if active else "free"
    return states


def lease_states(lease_file: Path) -> dict[str, str]:
    """address → binding state of its last record in the lease file."""
    states: dict[str, str] = {}
    for address, body in re.findall(r"^lease (\S+) \{(.*?)^\}", lease_file.read_text(), re.M | re.S):
        found = re.search(r"^\s+binding state (\S+);", body, re.M)
        states[address] = found.group(1) if found else ""
    return states


def pool_usage(pools: list[dict[str, str]], states: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per pool: size, free (the primary's to give), backup (the secondary's), active, free %.

    An address with no record is free: when dhcpd rewrites its lease file (at every start) it
    leaves out free leases that no client ever had (db.c, write_leases)."""
    by_address = {int(ipaddress.IPv4Address(a)): s for a, s in states.items()}
    usage = {}
    for pool in pools:
        first, last = int(ipaddress.IPv4Address(pool["start"])), int(ipaddress.IPv4Address(pool["end"]))
        found = [by_address.get(a, "free") for a in range(first, last + 1)]
        size = last - first + 1
        free, backup = found.count("free"), found.count("backup")
        usage[pool["name"]] = {
            "PoolSize": size, "PoolFree": free, "PoolBackup": backup, "PoolActive": found.count("active"),
            "PoolFreePercent": round(100.0 * (free + backup) / size, 2),
        }
    return usage


def clock_offset(command: list[str]) -> float:
    """|system time - NTP time| in seconds: field 5 of ``chronyc -c tracking``."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReporterError(f"chronyc: {exc}") from None
    fields = result.stdout.strip().split(",")
    if result.returncode != 0 or len(fields) < 5:
        raise ReporterError(f"chronyc: {(result.stderr or result.stdout).strip() or 'no answer'}")
    return abs(float(fields[4]))


def new_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """Lines added since ``offset`` (from the start when the file was rotated or replaced)."""
    try:
        size = path.stat().st_size
    except OSError:
        return [], 0
    if size < offset:
        offset = 0
    with path.open("rb") as f:
        f.seek(offset)
        data = f.read()
    complete = data[: data.rfind(b"\n") + 1]
    lines = [line.decode("utf-8", "replace")[:MAX_LINE] for line in complete.splitlines() if line.strip()]
    return lines, offset + len(complete)


def collect(config: dict[str, Any], root: str, omshell_prefix: list[str], chronyc: list[str],
            offsets: dict[str, int]) -> Report:
    report = Report()
    kea = config.get("server") == "kea"
    running = dhcpd_running(under(root, config["pid_file"]), config.get("process", "dhcpd"))
    report.add("DhcpdRunning", 1 if running else 0)
    state = None
    if running:
        try:
            state = kea_state(config, root, omshell_prefix) if kea else failover_state(config, root, omshell_prefix)
        except (ReporterError, OSError) as exc:
            report.problems.append(str(exc))
    if state is not None:
        report.add("FailoverState", state)
    report.add("FailoverNormal", 1 if state == NORMAL else 0)
    if kea and config.get("dhcp6"):
        state6 = None
        try:
            state6 = kea_state(config, root, omshell_prefix, service="dhcp6")
        except (ReporterError, OSError) as exc:
            report.problems.append(f"dhcpv6: {exc}")
        if state6 is not None:
            report.add("FailoverStateV6", state6)
        report.add("FailoverNormalV6", 1 if state6 == NORMAL else 0)
    try:
        lease_file = under(root, config["lease_file"])
        states = kea_lease_states(lease_file, time.time()) if kea else lease_states(lease_file)
        usage = pool_usage(config["pools"], states)
    except OSError as exc:
        report.problems.append(f"lease file: {exc}")
        usage = {}
    for pool, values in usage.items():
        for name, value in values.items():
            report.add(name, value, "Percent" if name == "PoolFreePercent" else "Count", Pool=pool)
    try:
        report.add("ClockOffsetSeconds", clock_offset(chronyc), "Seconds")
    except (ReporterError, ValueError) as exc:
        report.problems.append(str(exc))
    for stream, path in config["logs"].items():
        lines, report.offsets[stream] = new_lines(under(root, path), offsets.get(stream, 0))
        report.logs[stream] = lines
    marker = config.get("ack_marker", "DHCPACK")
    server_log = "kea-dhcp4" if kea else "dhcpd"
    report.add("Acks", sum(marker in line for line in report.logs.get(server_log, [])), "Count")
    return report


def botocore_modules() -> tuple[Any, Any, Any]:
    """botocore's ``config``, ``exceptions`` and ``session``: Debian 12's python3-botocore (which
    awscli 1 depends on), else the copy inside awscli 2 (Debian 13's awscli installs no
    python3-botocore, and a member installs awscli only)."""
    import importlib

    for package in ("botocore", "awscli.botocore"):
        try:
            config, exceptions, session = (importlib.import_module(f"{package}.{name}")
                                           for name in ("config", "exceptions", "session"))
        except ImportError:
            continue
        return config, exceptions, session
    raise ReporterError("no botocore to publish with: install awscli (or python3-botocore)")


def publish(config: dict[str, Any], report: Report, endpoint: str | None) -> None:
    botocore_config, botocore_exceptions, botocore_session = botocore_modules()

    # Short timeouts and few retries: a run must end well within its minute.
    settings = botocore_config.Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})
    session = botocore_session.get_session()

    def client(service: str) -> Any:
        return session.create_client(service, region_name=config["region"], endpoint_url=endpoint, config=settings)

    now = time.time()
    base = list(config["dimensions"])
    data = [
        {"MetricName": name, "Dimensions": base + [{"Name": k, "Value": v} for k, v in dims.items()],
         "Value": value, "Unit": unit, "Timestamp": now}
        for name, dims, value, unit in report.metrics
    ]
    try:
        cloudwatch = client("cloudwatch")
        for i in range(0, len(data), METRICS_PER_CALL):
            cloudwatch.put_metric_data(Namespace=config["namespace"], MetricData=data[i: i + METRICS_PER_CALL])
        logs = client("logs")
        for stream, lines in report.logs.items():
            if not lines:
                continue
            name = config["log_stream_prefix"] + stream
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=config["log_group"], logStreamName=name)
            stamp = int(now * 1000)
            for i in range(0, len(lines), MAX_LOG_BATCH):
                events = [{"timestamp": stamp, "message": line} for line in lines[i: i + MAX_LOG_BATCH]]
                logs.put_log_events(logGroupName=config["log_group"], logStreamName=name, logEvents=events)
    except (botocore_exceptions.BotoCoreError, botocore_exceptions.ClientError) as exc:
        raise ReporterError(f"CloudWatch: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dhcp-failover-reporter")
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--root", default="", help="prefix of every path read or written (tests)")
    parser.add_argument("--endpoint", default=None, help="AWS API endpoint (a local one in tests)")
    parser.add_argument("--omshell-prefix", default="", help="command words before omshell (tests: ip netns exec NS)")
    parser.add_argument("--chronyc-host", default=None, help="chronyd's command socket or host (chronyc -h)")
    parser.add_argument("--dry-run", action="store_true", help="print the metrics as JSON, publish nothing")
    args = parser.parse_args(argv)
    root = args.root.rstrip("/")
    try:
        config = json.loads(under(root, args.config).read_text())
        state_file = under(root, config["state_file"])
        try:
            offsets = json.loads(state_file.read_text())
        except (OSError, ValueError):
            offsets = {}
        chronyc = ["chronyc", *(["-h", args.chronyc_host] if args.chronyc_host else []), "-c", "tracking"]
        report = collect(config, root, shlex.split(args.omshell_prefix), chronyc, offsets)
        for problem in report.problems:
            print(f"dhcp-failover-reporter: {problem}", file=sys.stderr)
        if args.dry_run:
            print(json.dumps([{"metric": n, "dimensions": d, "value": v} for n, d, v, _ in report.metrics]))
            return 0
        publish(config, report, args.endpoint)
        # Only once CloudWatch has the lines: a failed run sends them again next time.
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(report.offsets))
    except (ReporterError, OSError, ValueError, KeyError) as exc:
        print(f"dhcp-failover-reporter: {exc}", file=sys.stderr)
        return 1
    print(f"dhcp-failover-reporter: published {len(report.metrics)} metrics, "
          f"{sum(len(v) for v in report.logs.values())} log lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
