"""Operator actions over OMAPI with the pair's key: read both members' failover states, wait
for `normal`, and walk the ISC guide's drill (shut a member down, see the partner take over,
bring it back, wait for `normal`). No cdktf here: these run from laptops and pipelines."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .checks import InventoryError
from .keystore import KeyStore
from .model import Member, Site
from .omapi import FailoverState, OmapiEndpoint, OmapiError, read_failover_state, shutdown_server
from .secrets import SecretKind, site_secrets

# A partner that lost its peer takes over in one of these (which one depends on whether the
# shutdown message reached it: a clean OMAPI shutdown gives partner-down).
TAKEOVER_STATES = ("communications-interrupted", "partner-down")


@dataclass(frozen=True)
class MemberAccess:
    """How to reach one member's OMAPI: address and port, optionally through a command
    prefix (an ssh wrapper, an SSM port forward script, `ip netns exec ns` in tests)."""

    member: Member
    endpoint: OmapiEndpoint
    command_prefix: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberStatus:
    member: str
    role: str
    local_state: str | None
    partner_state: str | None
    error: str | None = None

    @property
    def normal(self) -> bool:
        return self.local_state == "normal" and self.partner_state == "normal"


def member_access(
    site: Site,
    store: KeyStore,
    *,
    hosts: Mapping[str, str] | None = None,
    via: Mapping[str, str] | None = None,
) -> list[MemberAccess]:
    """OMAPI access to both members, primary first. ``hosts``: member → HOST[:PORT] overrides;
    ``via``: member → command prefix."""
    unknown = (set(hosts) | set(via)) - {m.name for m in site.members}
    if unknown:
        names = ", ".join(m.name for m in site.members)
        raise InventoryError(f'site "{site.name}" has no member {sorted(unknown)[0]!r}; members: {names}')
    omapi_spec = next(s for s in site_secrets(site) if s.kind is SecretKind.OMAPI_KEY)
    secret = store.require(omapi_spec).value
    access = []
    for member in (site.primary, site.secondary):
        host, port = _host_port(hosts.get(member.name), str(member.address), site.omapi.port)
        endpoint = OmapiEndpoint(host, port, site.omapi.key_name, site.omapi.algorithm.value, secret)
        access.append(MemberAccess(member, endpoint, tuple(shlex.split(via.get(member.name, "")))))
    return access


def _host_port(override: str | None, host: str, port: int) -> tuple[str, int]:
    if not override:
        return host, port
    name, _, number = override.partition(":")
    if number and not number.isdigit():
        raise InventoryError(f"--omapi-host {override!r}: the port must be a number")
    return name, int(number) if number else port


def read_status(site: Site, access: Sequence[MemberAccess], timeout: float = 10.0) -> list[MemberStatus]:
    statuses = []
    for a in access:
        try:
            state = read_failover_state(a.endpoint, site.peer_name, command_prefix=a.command_prefix, timeout=timeout)
            statuses.append(MemberStatus(a.member.name, a.member.role.value, state.local_state, state.partner_state))
        except OmapiError as exc:
            statuses.append(MemberStatus(a.member.name, a.member.role.value, None, None, str(exc)))
    return statuses


def wait_until_normal(
    site: Site, access: Sequence[MemberAccess], timeout: float, interval: float = 0.5
) -> tuple[bool, list[MemberStatus]]:
    """Poll both members until both say normal/normal, or until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = read_status(site, access, timeout=min(10.0, max(1.0, timeout)))
        if all(s.normal for s in statuses) or time.monotonic() >= deadline:
            return all(s.normal for s in statuses), statuses
        time.sleep(interval)


@dataclass
class DrillReport:
    """What the drill saw, step by step, with seconds since its start."""

    member: str
    partner: str
    steps: list[tuple[float, str]] = field(default_factory=list)
    partner_state: FailoverState | None = None
    ok: bool = False

    def note(self, start: float, text: str) -> None:
        self.steps.append((round(time.monotonic() - start, 2), text))


def drill(
    site: Site,
    access: Sequence[MemberAccess],
    member_name: str,
    *,
    restart: Callable[[], None] | None,
    timeout: float,
) -> DrillReport:
    """The guide's test: shut ``member_name`` down over OMAPI, check the partner took over,
    wait until the member is back (``restart`` brings it back, else the operator does), then
    wait for normal on both."""
    target = next((a for a in access if a.member.name == member_name), None)
    if target is None:
        raise InventoryError(f'site "{site.name}" has no member {member_name!r}')
    partner = next(a for a in access if a is not target)
    report = DrillReport(target.member.name, partner.member.name)
    start = time.monotonic()
    shutdown_server(target.endpoint, command_prefix=target.command_prefix, timeout=timeout)
    report.note(start, f"{target.member.name} shut down over OMAPI")
    report.partner_state = _wait_for_takeover(site, partner, timeout)
    if report.partner_state is None:
        report.note(start, f"{partner.member.name} did not take over within {timeout:.0f} s")
        return report
    report.note(start, f"{partner.member.name} took over: {report.partner_state.local_state}")
    if restart is not None:
        restart()
        report.note(start, f"restart command ran for {target.member.name}")
    report.ok, _ = wait_until_normal(site, access, timeout)
    report.note(start, "both members normal" if report.ok else f"not normal within {timeout:.0f} s")
    return report


def _wait_for_takeover(site: Site, partner: MemberAccess, timeout: float) -> FailoverState | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_failover_state(partner.endpoint, site.peer_name, command_prefix=partner.command_prefix)
        if state.local_state in TAKEOVER_STATES:
            return state
        time.sleep(0.2)
    return None


def run_restart_command(command: str, timeout: float) -> Callable[[], None]:
    def restart() -> None:
        try:
            result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout)  # noqa: S602
        except subprocess.TimeoutExpired:
            raise OmapiError(f"restart command still running after {timeout:.0f} s") from None
        if result.returncode != 0:
            raise OmapiError(f"restart command exited {result.returncode}: {(result.stderr or result.stdout).strip()}")

    return restart
