"""``status``/``drill --via instance-connect``: reach each member's OMAPI through the site's EC2
Instance Connect Endpoint (``operator_access: {instance_connect: true}``).

For each member: find its instance (its fixed address and the site tag, in its region), start
``aws ec2-instance-connect open-tunnel`` as a child process listening on a free loopback port,
and point OMAPI at ``127.0.0.1:PORT``. The children are always stopped, also when the command
fails or is interrupted. No cdktf here; boto3 only through ``aws.AwsApi``.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import IO

from .aws import AwsApi, member_region
from .backends.isc.omapi import OmapiError
from .backends.registry import backend_for
from .errors import UsageError
from .messages import one_line
from .model import Member, Site

# Every instance of a site with operator_access carries this tag (the constructs set it): the
# lookup below needs it, so an instance of another VPC that happens to share the address is
# never the one a tunnel goes to.
SITE_TAG = "dhcp-failover:site"
AWS_CLI = "aws"
# Asked for explicitly, so the operator policy's maxTunnelDuration condition always has a value
# to compare (the policy allows at most this; AWS's own cap is the same hour).
MAX_TUNNEL_SECONDS = 3600
START_TIMEOUT = 30.0  # seconds for open-tunnel to listen (it first asks AWS for the endpoint)
STOP_TIMEOUT = 5.0


class NotCreated(Exception):
    """Some members have no instance in AWS yet (a first deploy): nothing to tunnel to."""

    def __init__(self, members: Sequence[Member]) -> None:
        super().__init__(", ".join(m.name for m in members))
        self.members = tuple(members)


@dataclass(frozen=True)
class Tunnel:
    """One ``open-tunnel`` child: from ``127.0.0.1:local_port`` to ``remote_port`` on the instance."""

    member: Member
    instance_id: str
    region: str
    remote_port: int
    local_port: int

    def command(self, aws: str = AWS_CLI) -> list[str]:
        return [
            aws, "ec2-instance-connect", "open-tunnel",
            "--region", self.region,
            "--instance-id", self.instance_id,
            "--remote-port", str(self.remote_port),
            "--local-port", str(self.local_port),
            "--max-tunnel-duration", str(MAX_TUNNEL_SECONDS),
        ]


def plan_tunnels(api: AwsApi, site: Site, *, absent_ok: bool = False) -> list[Tunnel]:
    """A tunnel to each member's OMAPI port, primary first; ``NotCreated`` when a member has no
    instance, unless ``absent_ok`` (then only the members that have one: a rollout's gate on a
    first deploy). Local ports are picked free now; open-tunnel fails loudly if one is taken since."""
    found: list[Tunnel] = []
    absent: list[Member] = []
    for member in (site.primary, site.secondary):
        instance = api.instance_id(member, {SITE_TAG: site.name})
        if instance is None:
            absent.append(member)
        else:
            found.append(Tunnel(member, instance, member_region(member), backend_for(site).control_channel(site).port, free_local_port()))
    if absent and not absent_ok:
        raise NotCreated(absent)
    return found


def free_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def aws_cli() -> str:
    """The ``aws`` executable, or one error line that says what to install."""
    found = shutil.which(AWS_CLI)
    if found is None:
        raise UsageError("--via instance-connect runs 'aws ec2-instance-connect open-tunnel', and no 'aws' "
                         "command is on PATH; install AWS CLI v2 (docs/operator-access.md)")
    return found


@contextmanager
def open_tunnels(tunnels: Sequence[Tunnel], *, start_timeout: float = START_TIMEOUT) -> Iterator[Mapping[str, int]]:
    """Start every tunnel and wait until each listens; yield member name → local port. Every
    child is stopped on the way out, whatever happened."""
    aws = aws_cli()
    with ExitStack() as stack:
        stack.enter_context(_terminated_as_exit())
        for tunnel in tunnels:
            log = stack.enter_context(tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace"))
            child = subprocess.Popen(
                tunnel.command(aws), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with everything it starts
            )
            stack.callback(stop, child)
            _wait_listening(tunnel, child, log, start_timeout)
        yield {t.member.name: t.local_port for t in tunnels}


@contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, ``kill``) unwinds like Ctrl-C, so the tunnels are stopped:
    they run in their own session, and nothing else would ever stop them."""

    def exit_now(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; a caller's thread keeps its own
        return
    previous = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's process group, SIGKILL after ``STOP_TIMEOUT``; reaps it."""
    if child.poll() is None:
        _signal_group(child, signal.SIGTERM)
        try:
            child.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()


def _signal_group(child: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):  # it exited between poll and signal
        os.killpg(child.pid, sig)


def _wait_listening(tunnel: Tunnel, child: subprocess.Popen[bytes], log: IO[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _listening(tunnel.local_port):
        if child.poll() is not None:
            raise _start_failure(tunnel, child.returncode, _output(log))
        if time.monotonic() > deadline:
            raise OmapiError(f"member {tunnel.member.name}: the Instance Connect tunnel to {tunnel.instance_id} "
                             f"did not listen on 127.0.0.1:{tunnel.local_port} within {timeout:g} s")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    """Whether something listens on ``127.0.0.1:port``, found by trying to bind it rather than
    by connecting: a connection would make open-tunnel open a tunnel for nothing."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _output(log: IO[str]) -> list[str]:
    log.seek(0)
    return [line.strip() for line in log.read()[-4000:].splitlines() if line.strip()]


def _start_failure(tunnel: Tunnel, status: int, output: list[str]) -> Exception:
    if any("invalid choice" in line.lower() for line in output):
        # AWS CLI v1 knows ec2-instance-connect, but not its open-tunnel (a v2 addition).
        return UsageError("this 'aws' has no 'ec2-instance-connect open-tunnel' (AWS CLI v1?); --via "
                          "instance-connect needs AWS CLI v2 (docs/operator-access.md)")
    said = next((line for line in output if "error" in line.lower()), output[-1] if output else "no output")
    return OmapiError(one_line(f"member {tunnel.member.name}: the Instance Connect tunnel to {tunnel.instance_id} "
                               f"exited with status {status} before listening: {said}"))


def reroute(ports: Mapping[str, int], host: str = "127.0.0.1") -> Mapping[str, str]:
    """member name → ``HOST:PORT`` for ``operations.member_access(hosts=...)``."""
    return {member: f"{host}:{port}" for member, port in ports.items()}


def routes_for(site: Site, ports: Mapping[str, int]) -> Mapping[str, str]:
    """``reroute`` of the tunnels, and for a member with no instance (no tunnel) a loopback port
    nothing listens on: it reads as not answering at once, and EC2 then says it is not created."""
    routes = dict(reroute(ports))
    routes.update({m.name: f"127.0.0.1:{free_local_port()}" for m in site.members if m.name not in routes})
    return routes
