"""What watching a pair means, independent of cdktf: the inventory's ``monitoring`` section,
the metrics the on-member reporter publishes, the alarms on them and the dashboard.

The reporter (``member_reporter``) and the alarms (``constructs/monitoring``) both take their
namespace, metric names and dimensions from here, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .aws import member_region
from .backends.isc.render import OMAPI_KEY_FILE
from .backends.kea import ddns as kea_ddns
from .backends.kea import render as kea_render
from .backends.kea import render6 as kea_render6
from .model import Member, Pool, ServerKind, Site
from .render import FileTree, RenderedFile, render_template

NAMESPACE = "DhcpFailover"
# Reporter period: the systemd timer's interval and the alarms' period, in seconds.
PERIOD = 60

# Metric names (dimensions Site, Member; the pool metrics add Pool).
FAILOVER_NORMAL = "FailoverNormal"
FAILOVER_STATE = "FailoverState"
# A dual-stack Kea member's DHCPv6 relationship, reported beside the DHCPv4 one.
FAILOVER_NORMAL_V6 = "FailoverNormalV6"
FAILOVER_STATE_V6 = "FailoverStateV6"
DHCPD_RUNNING = "DhcpdRunning"
CLOCK_OFFSET = "ClockOffsetSeconds"
ACKS = "Acks"
POOL_FREE_PERCENT = "PoolFreePercent"
POOL_FREE = "PoolFree"
POOL_BACKUP = "PoolBackup"
POOL_ACTIVE = "PoolActive"
POOL_SIZE = "PoolSize"
POOL_METRICS = (POOL_FREE_PERCENT, POOL_FREE, POOL_BACKUP, POOL_ACTIVE, POOL_SIZE)

def pool_name(pool: Pool) -> str:
    """The Pool dimension: ``10.0.0.100-10.0.0.199``."""
    return f"{pool.start}-{pool.end}"


def site_pools(site: Site) -> list[Pool]:
    return [pool for subnet in site.subnets for pool in subnet.pools]


def monitoring_problems(site: Site) -> list[tuple[str, str]]:
    """(field, message) for what needs the whole site: per-pool thresholds name real pools."""
    if site.monitoring is None:
        return []
    names = [pool_name(p) for p in site_pools(site)]
    problems = [
        (f"monitoring.pool_free_percents.{key}",
         f"names no pool of the site; pools are named START-END: {', '.join(names) or 'none'}")
        for key in site.monitoring.pool_free_percents
        if key not in names
    ]
    topic = site.monitoring.alerts.topic_arn
    if topic is not None:
        topic_region = topic.split(":")[3]
        for m in site.members:
            if m.placement is not None and m.placement.region != topic_region:
                problems.append((
                    "monitoring.alerts.topic_arn",
                    (f"is in {topic_region} but member {m.name} runs in {m.placement.region}, and CloudWatch "
                     "alarms notify topics of their own region only; leave topic_arn out (the site then makes a "
                     "topic per region) or use a topic in the members' region"),
                ))
                break
    return problems


# --- alarms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm on a reporter metric, as plain data."""

    key: str
    """Construct id and alarm name suffix."""
    member: Member
    metric: str
    dimensions: dict[str, str]
    comparison: str
    threshold: float
    evaluation_periods: int
    missing_data: str
    description: str
    statistic: str = "Minimum"


def dimensions(site: Site, member: Member, pool: str | None = None) -> dict[str, str]:
    found = {"Site": site.name, "Member": member.name}
    if pool is not None:
        found["Pool"] = pool
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def alarm_specs(site: Site) -> list[AlarmSpec]:
    """Every reporter-metric alarm of a monitored site (the EC2 status alarms are the instance's)."""
    monitoring = site.monitoring
    assert monitoring is not None, f"site {site.name} has no monitoring"
    grace = site.failover.max_response_delay + monitoring.state_margin_seconds
    specs: list[AlarmSpec] = []
    for m in (site.primary, site.secondary):
        dims = dimensions(site, m)
        specs += [
            AlarmSpec(
                f"{m.role.value}-not-normal", m, FAILOVER_NORMAL, dims, "LessThanThreshold", 1,
                max(1, math.ceil(grace / PERIOD)), "breaching",
                f"{m.name} out of failover state normal for over {grace} s (max-response-delay + margin)",
                statistic="Maximum",
            ),
            *([AlarmSpec(
                f"{m.role.value}-v6-not-normal", m, FAILOVER_NORMAL_V6, dims, "LessThanThreshold", 1,
                max(1, math.ceil(grace / PERIOD)), "breaching",
                f"{m.name}'s DHCPv6 relationship out of its normal state for over {grace} s",
                statistic="Maximum",
            )] if site.dhcpv6 is not None else []),
            AlarmSpec(
                f"{m.role.value}-dhcpd-down", m, DHCPD_RUNNING, dims, "LessThanThreshold", 1, 1, "breaching",
                f"dhcpd not running on {m.name}, or its reporter silent (missing data breaches)",
            ),
            AlarmSpec(
                f"{m.role.value}-clock-offset", m, CLOCK_OFFSET, dims, "GreaterThanThreshold",
                monitoring.clock_offset_seconds, 2, "notBreaching",
                f"{m.name}'s clock off by over {monitoring.clock_offset_seconds} s (chrony)",
                statistic="Maximum",
            ),
        ]
        for pool in site_pools(site):
            name = pool_name(pool)
            percent = monitoring.pool_free_percents.get(name, monitoring.pool_free_percent)
            specs.append(AlarmSpec(
                f"{m.role.value}-pool-{_slug(name)}", m, POOL_FREE_PERCENT, dimensions(site, m, name),
                "LessThanThreshold", percent, 1, "notBreaching",
                f"pool {name} under {percent}% free as {m.name} sees it",
            ))
    return specs


# --- names ----------------------------------------------------------------------------------


def log_group_name(site: Site) -> str:
    return f"/dhcp-failover/{site.name}/members"


def log_stream_prefix(member: Member) -> str:
    """The reporter writes ``<member>/dhcpd``, ``<member>/bootstrap``: its role may write only these."""
    return f"{member.name}/"


# --- dashboard ------------------------------------------------------------------------------


def dashboard_body(site: Site) -> dict[str, Any]:
    """The site's CloudWatch dashboard: both members' state, pool usage, acks per minute, clock."""
    members = (site.primary, site.secondary)

    def metric(name: str, m: Member, pool: str | None = None) -> list[Any]:
        dims = dimensions(site, m, pool)
        flat: list[Any] = [NAMESPACE, name]
        for key, value in dims.items():
            flat += [key, value]
        return [*flat, {"region": member_region(m), "label": f"{m.name}" + (f" {pool}" if pool else "")}]

    def widget(title: str, metrics: list[list[Any]], x: int, y: int, w: int = 12, h: int = 6, **extra: Any) -> dict[str, Any]:
        return {
            "type": "metric", "x": x, "y": y, "width": w, "height": h,
            "properties": {"title": title, "metrics": metrics, "region": member_region(site.primary),
                           "period": PERIOD, "view": "timeSeries", **extra},
        }

    pools = [pool_name(p) for p in site_pools(site)]
    widgets = [
        widget("Failover state (2 = normal)", [metric(FAILOVER_STATE, m) for m in members], 0, 0, stat="Maximum"),
        widget("dhcpd running", [metric(DHCPD_RUNNING, m) for m in members], 12, 0, stat="Minimum"),
        widget("Pool free %", [metric(POOL_FREE_PERCENT, m, p) for m in members for p in pools], 0, 6, w=24,
               stat="Minimum"),
        widget("Leases acknowledged per minute", [metric(ACKS, m) for m in members], 0, 12, stat="Sum"),
        widget("Clock offset (s)", [metric(CLOCK_OFFSET, m) for m in members], 12, 12, stat="Maximum"),
    ]
    return {"widgets": widgets}


# --- the reporter's configuration -------------------------------------------------------------


REPORTER_PATH = "/usr/local/sbin/dhcp-failover-reporter"
REPORTER_CONFIG = "/etc/dhcp-failover/reporter.json"
DHCPD_LOG = "/var/log/dhcpd.log"
# Where Debian's isc-dhcp-server keeps its leases and pid (/var/run is /run).
LEASE_FILE = "/var/lib/dhcp/dhcpd.leases"
PID_FILE = "/run/dhcpd.pid"
BOOTSTRAP_LOG = "/var/log/cloud-init-output.log"


def reporter_config(site: Site, member: Member, *, omapi_key_file: str, lease_file: str, pid_file: str) -> dict[str, Any]:
    """What the reporter on an ISC ``member`` reads at every run (no secret: the key stays in its file)."""
    return {
        **_common_config(site, member),
        "peer_name": site.peer_name,
        "omapi": {"port": site.omapi.port, "key_file": omapi_key_file, "algorithm": site.omapi.algorithm.value},
        "lease_file": lease_file,
        "pid_file": pid_file,
        "logs": {"dhcpd": DHCPD_LOG, "bootstrap": BOOTSTRAP_LOG},
    }


def kea_reporter_config(site: Site, member: Member) -> dict[str, Any]:
    """What the reporter on a Kea ``member`` reads: the HA state from its own Control Agent
    (the password stays in the file the bootstrap wrote), pools from the memfile, Kea's log."""
    return {
        **_common_config(site, member),
        "server": "kea",
        "process": "kea-dhcp4",
        "kea": {
            "url": f"http://{member.address}:{site.kea.control_port}/",
            "user": kea_render.CONTROL_USER,
            "password_file": kea_render.password_path(),
            # Kea 3.0: kea-dhcp6's own control socket (on 2.2 the agent at "url" forwards to it).
            **({"dhcp6_url": f"http://{member.address}:{port6}/"}
               if (port6 := kea_render.control_port6(site)) is not None else {}),
        },
        "lease_file": kea_render.LEASE_FILE,
        "pid_file": kea_render.DHCP4_PID_FILE,
        "logs": {"kea-dhcp4": kea_render.DHCP4_LOG, "bootstrap": BOOTSTRAP_LOG,
                 **({"kea-dhcp-ddns": kea_ddns.D2_LOG} if site.ddns is not None else {}),
                 **({"kea-dhcp6": kea_render6.DHCP6_LOG} if site.dhcpv6 is not None else {})},
        # A dual-stack member: also the DHCPv6 relationship's state, from kea-dhcp6.
        **({"dhcp6": True} if site.dhcpv6 is not None else {}),
        # Kea logs every lease it hands out or renews with this message id.
        "ack_marker": "DHCP4_LEASE_ALLOC",
    }


def _common_config(site: Site, member: Member) -> dict[str, Any]:
    return {
        "namespace": NAMESPACE,
        "region": member_region(member),
        # A list: CloudWatch matches dimensions as a set, but moto (the tests' API) in order.
        "dimensions": [{"Name": k, "Value": v} for k, v in dimensions(site, member).items()],
        "pools": [{"name": pool_name(p), "start": str(p.start), "end": str(p.end)} for p in site_pools(site)],
        "log_group": log_group_name(site),
        "log_stream_prefix": log_stream_prefix(member),
        "state_file": "/var/lib/dhcp-failover/reporter-state.json",
    }


REPORTER_SERVICE = "/etc/systemd/system/dhcp-failover-reporter.service"
REPORTER_TIMER = "/etc/systemd/system/dhcp-failover-reporter.timer"
RSYSLOG_DHCPD = "/etc/rsyslog.d/30-dhcpd.conf"
# Debian's packages: rsyslog writes dhcpd's local7 to a file; python3-botocore is the reporter's
# only dependency outside the standard library.
MEMBER_PACKAGES = ("rsyslog", "python3-botocore")
ENABLE_REPORTER = "systemctl enable --now dhcp-failover-reporter.timer"


def reporter_source() -> str:
    """The reporter program, shipped as it is in this package."""
    return (Path(__file__).parent / "member_reporter.py").read_text()


def member_files(site: Site, member: Member) -> FileTree:
    """The files a monitored member needs besides its DHCP configs."""
    if site.server is ServerKind.KEA:
        config = kea_reporter_config(site, member)
    else:
        config = reporter_config(site, member, omapi_key_file=OMAPI_KEY_FILE, lease_file=LEASE_FILE, pid_file=PID_FILE)
    files = [
        RenderedFile(REPORTER_PATH, reporter_source(), 0o755),
        RenderedFile(REPORTER_CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n"),
        RenderedFile(REPORTER_SERVICE, render_template(
            "monitoring/dhcp-failover-reporter.service.j2", member_name=member.name, reporter_path=REPORTER_PATH,
            timeout=PERIOD - 10,
        )),
        RenderedFile(REPORTER_TIMER, render_template("monitoring/dhcp-failover-reporter.timer.j2", period=PERIOD)),
    ]
    if site.server is ServerKind.ISC:
        # Kea writes its own log file (backends.kea.render); dhcpd logs only to syslog's local7.
        files.append(RenderedFile(RSYSLOG_DHCPD, render_template("monitoring/rsyslog-dhcpd.conf.j2", dhcpd_log=DHCPD_LOG)))
    return tuple(files)
