"""What EC2 does with the members a rollout deploys to a local AWS API, minus systemd (not a
test module).

A thread watches moto: every running instance of a site's member gets booted in that member's
network namespace (one lab per site, the members at their inventory addresses) from its
*deployed* user-data: write_files under a fresh root (an empty lease database, as a new
instance has), its bootstrap against moto's SSM, then dhcpd started as its service starts it.
An instance that is terminated or replaced has its dhcpd killed first. So the rollout's gate
reads real failover states over OMAPI, through ``--omapi-via 'ip netns exec NS'``.

Each member's dhcpd going down and coming up is recorded with its time, and each boot keeps its
log: ``both_down`` and ``normal_at`` answer what a rollout must guarantee (never both members of
a site down; the partner normal again before the next member is replaced).
"""

from __future__ import annotations

import base64
import gzip
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from dhcp_failover.cloudinit import BOOTSTRAP_PATH
from dhcp_failover.constructs.layout import region_of
from dhcp_failover.model import Member, Site
from tests.lab.boot import CREDENTIALS, write_files
from tests.lab.failover_harness import LEASES, PID, SERVICE
from tests.lab.netlab import Daemon, Lab, read_log, wait_for_log

POLL = 0.3


@dataclass
class Host:
    site: Site
    member: Member
    lab: Lab
    name: str
    instance_id: str | None = None
    daemon: Daemon | None = None
    boots: int = 0
    lease_file: Path | None = None  # the running instance's lease database


@dataclass
class MemberHosts:
    sites: Sequence[Site]
    endpoint: str
    workdir: Path
    hosts: list[Host] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    booted: list[tuple[float, str, str]] = field(default_factory=list)  # (time, member, instance id)
    events: list[tuple[float, str, str, str]] = field(default_factory=list)  # (time, member, up/down, instance)
    logs: dict[str, Path] = field(default_factory=dict)  # instance id → its dhcpd log
    _labs: list[Lab] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemberHosts:
        try:
            for site in self.sites:
                lab = Lab(self.workdir / site.name)
                self._labs.append(lab)
                lab.add_switch("sw")
                for member in site.members:
                    name = member.role.value[:4]
                    lab.add_host(name)
                    lab.connect(name, "sw", "eth0", f"{member.address}/{member.network.prefixlen}")
                    self.hosts.append(Host(site, member, lab, name))
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        for lab in self._labs:
            lab.cleanup()

    def omapi_args(self) -> list[str]:
        """The rollout's member-access flags: each member's OMAPI on 127.0.0.1 in its namespace."""
        args = []
        for host in self.hosts:
            args += ["--omapi-host", f"{host.member.name}=127.0.0.1",
                     "--omapi-via", f"{host.member.name}={' '.join(host.lab.netns_exec(host.name))}"]
        return args

    def lab(self, site: str) -> Lab:
        return next(h.lab for h in self.hosts if h.site.name == site)

    def host(self, member_name: str) -> Host:
        return next(h for h in self.hosts if h.member.name == member_name)

    def went_down(self, member: str, instance: str) -> float | None:
        return next((when for when, name, what, iid in self.events
                     if name == member and what == "down" and iid == instance), None)

    def normal_at(self, instance: str) -> float | None:
        """When that instance's dhcpd first logged the pair normal."""
        return next((line.time for line in read_log(self.logs[instance])
                     if "Both servers normal" in line.text or line.text.endswith(" to normal")), None)

    def both_down(self, site: str, since: float) -> list[float]:
        """Moments after ``since`` at which no member of ``site`` had its dhcpd running."""
        names = {h.member.name for h in self.hosts if h.site.name == site}
        up: dict[str, bool] = {}
        found = []
        for when, member, what, _ in sorted(self.events):
            if member in names:
                up[member] = what == "up"
                if when >= since and len(up) == len(names) and not any(up.values()):
                    found.append(when)
        return found

    # -- the watcher --------------------------------------------------------------------

    def _ec2(self, member: Member) -> Any:
        return boto3.client("ec2", region_name=region_of(member), endpoint_url=self.endpoint,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def _running(self, host: Host) -> str | None:
        name = f"{host.site.name}-{host.member.role.value}"
        found = [i["InstanceId"] for r in self._ec2(host.member).describe_instances(Filters=[
            {"Name": "tag:Name", "Values": [name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
            for i in r["Instances"]]
        return found[0] if found else None

    def _watch(self) -> None:
        while not self._stop.is_set():
            for host in self.hosts:
                try:
                    current = self._running(host)
                    if current != host.instance_id:
                        self._replace(host, current)
                except Exception as exc:  # noqa: BLE001  (reported by the test, never swallowed)
                    self.errors.append(f"{host.member.name}: {exc!r}")
                    host.instance_id = self._running(host) if not self._stop.is_set() else None
            self._stop.wait(POLL)

    def _replace(self, host: Host, instance_id: str | None) -> None:
        if host.daemon is not None:
            host.lab.kill(host.daemon, signal.SIGKILL)  # a terminated instance just stops
            host.daemon = None
            self.events.append((time.time(), host.member.name, "down", host.instance_id or ""))
        host.instance_id, host.lease_file = instance_id, None
        if instance_id is None:
            return
        host.boots += 1
        root = self.workdir / "roots" / f"{host.member.name}.{host.boots}"
        (root / LEASES).parent.mkdir(parents=True, exist_ok=True)
        (root / LEASES).touch()
        (root / PID).parent.mkdir(parents=True, exist_ok=True)
        write_files(self._user_data(host, instance_id), root)
        result = subprocess.run([str(root / BOOTSTRAP_PATH.lstrip("/")), "--root", str(root), "--endpoint",
                                 self.endpoint, "--no-start"], capture_output=True, text=True, timeout=120,
                                env={**os.environ, **CREDENTIALS})
        if result.returncode != 0:
            raise RuntimeError(f"bootstrap of {instance_id} failed: {result.stderr.strip()}")
        log = self.workdir / f"{host.member.name}.{host.boots}-dhcpd.log"
        since = time.time()
        host.daemon = host.lab.spawn(host.name, ["sh", "-c", SERVICE, str(root)], log)
        self.logs[instance_id] = log
        host.lease_file = root / LEASES
        wait_for_log(log, r"^Server starting service\.", 15, since=since, daemon=host.daemon)
        self.booted.append((time.time(), host.member.name, instance_id))
        self.events.append((time.time(), host.member.name, "up", instance_id))

    def _user_data(self, host: Host, instance_id: str) -> str:
        attribute = self._ec2(host.member).describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        raw = base64.b64decode(attribute["UserData"]["Value"])
        return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
