"""Operator actions over OMAPI with the pair's key: read both members' failover states, wait
for `normal`, and walk the ISC guide's drill (shut a member down, see the partner take over,
bring it back, wait for `normal`). No cdktf here: these run from laptops and pipelines.

What a clean OMAPI shutdown looks like from the partner (ISC dhcpd 4.4.3, measured in the
failover proof): the member closes its OMAPI listener at once, then drains OMAPI sessions for up
to 2 x 4 s before it leaves `normal`, and sends nothing on its failover connection meanwhile.
So the partner's path depends on max-response-delay (MRD): with a short MRD it times out first
(`communications-interrupted`), reconnects, and then hears `shut-down` (`partner-down`); with
MRD 10 s or more it only sees the connection close when the member exits
(`communications-interrupted`). Both count as having taken over.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from .backends.base import RECOVERY_DOC, HeldState
from .backends.isc.omapi import FailoverState, OmapiEndpoint, OmapiError, read_failover_state, shutdown_server
from .backends.kea import control as kea_control
from .backends.kea import render as kea_render
from .backends.registry import backend_for
from .errors import InventoryError, UsageError
from .local_keys import KeyStore
from .model import Member, ServerKind, Site
from .secret_names import SecretKind, control_secret, site_secrets

TAKEOVER_STATES = ("communications-interrupted", "partner-down")
POLL_INTERVAL = 0.2  # seconds between OMAPI reads while waiting; one read takes ~20 ms
READ_TIMEOUT = 5.0  # per OMAPI read: a member that is down must not stall the others' reads
PROGRESS_INTERVAL = 30.0
"""Seconds a waiting gate may stay silent: a gate can wait an hour (MCLT in recover-wait), and a
pipeline log, or a person, must see what it waits for meanwhile. 30 s keeps that hour to about
120 lines, and far inside the idle-output limits of CI runners (often 10 minutes)."""


@dataclass(frozen=True)
class MemberAccess:
    """How to reach one member's OMAPI: address and port, optionally through a command
    prefix (an ssh wrapper, an SSM port forward script, `ip netns exec ns` in tests)."""

    member: Member
    endpoint: OmapiEndpoint
    command_prefix: tuple[str, ...] = ()
    previous_key: OmapiEndpoint | None = None
    """The same with the OMAPI secret from before the last rotation, tried when the member
    rejects the current one (its bootstrap has not run since)."""


@dataclass(frozen=True)
class KeaAccess:
    """How to reach one Kea member's Control Agent (address, port, password, command prefix).
    Its states are read with ``status-get`` and mapped to the same neutral words as ISC's."""

    member: Member
    endpoint: kea_control.KeaEndpoint
    previous_key: None = None  # Kea has one password at a time; kept for the drill's rotation check


Access = MemberAccess | KeaAccess


@dataclass(frozen=True)
class MemberStatus:
    member: str
    role: str
    omapi: str
    local_state: str | None
    partner_state: str | None
    error: str | None = None
    omapi_key: str | None = None  # "current", or "previous" while a rotation is under way
    not_created: bool = False
    """No answer, and AWS has no instance for the member: a first deploy, not a fault."""
    dual_stack: bool = False
    """A Kea site with dhcpv6: the v6 relationship has states of its own (below)."""
    v6_local_state: str | None = None
    v6_partner_state: str | None = None
    v6_error: str | None = None
    server_state: str | None = None
    """The server's own word for its state (Kea ``terminated``, which ``local_state`` calls
    ``shutdown``; for ISC the same as ``local_state``), and the same for DHCPv6."""
    v6_server_state: str | None = None

    @property
    def normal(self) -> bool:
        v4 = self.local_state == "normal" and self.partner_state == "normal"
        v6 = self.v6_local_state == "normal" and self.v6_partner_state == "normal"
        return v4 and (v6 or not self.dual_stack)

    @property
    def answers(self) -> bool:
        """The member answered with a failover state in every relationship it has (DHCPv4, and
        DHCPv6 on a dual-stack site), whatever the state."""
        v4 = self.error is None and self.local_state is not None
        return v4 and (not self.dual_stack or (self.v6_error is None and self.v6_local_state is not None))

    @property
    def summary(self) -> str:
        v4 = "no answer" if self.error else f"{self.local_state}/{self.partner_state}"
        if not self.dual_stack:
            return v4
        return f"{v4} v6 " + ("no answer" if self.v6_error else f"{self.v6_local_state}/{self.v6_partner_state}")


def check_members(site: Site, names: Sequence[str]) -> None:
    """Raise InventoryError when a name given on the command line is not a member of the site."""
    unknown = set(names) - {m.name for m in site.members}
    if unknown:
        members = ", ".join(m.name for m in site.members)
        raise InventoryError(f'site "{site.name}" has no member {sorted(unknown)[0]!r}; members: {members}')


def member_access(
    site: Site,
    store: KeyStore,
    *,
    hosts: Mapping[str, str] | None = None,
    via: Mapping[str, str] | None = None,
) -> list[Access]:
    """OMAPI access to both members, primary first. ``hosts``: member → HOST[:PORT] overrides;
    ``via``: member → command prefix (shell words)."""
    hosts, via = hosts or {}, via or {}
    check_members(site, [*hosts, *via])
    if site.server is ServerKind.KEA:
        return _kea_access(site, store, hosts, via)
    spec = next(s for s in site_secrets(site) if s.kind is SecretKind.OMAPI_KEY)
    stored = store.require(spec)
    access: list[Access] = []
    for member in (site.primary, site.secondary):
        host, port = _host_port(hosts.get(member.name), str(member.address), site.omapi.port)
        try:
            endpoint = OmapiEndpoint(host, port, site.omapi.key_name, site.omapi.algorithm.value, stored.value)
            previous = None if stored.previous is None else dataclasses.replace(endpoint, secret=stored.previous)
            prefix = tuple(shlex.split(via.get(member.name, "")))
        except ValueError as exc:
            raise InventoryError(f"member {member.name}: {exc}") from None
        access.append(MemberAccess(member, endpoint, prefix, previous))
    return access


def _kea_access(site: Site, store: KeyStore, hosts: Mapping[str, str], via: Mapping[str, str]) -> list[Access]:
    password = store.require(control_secret(site)).value
    access: list[Access] = []
    for member in (site.primary, site.secondary):
        host, port = _host_port(hosts.get(member.name), str(member.address), site.kea.control_port)
        prefix = tuple(shlex.split(via.get(member.name, "")))
        access.append(KeaAccess(member, kea_control.KeaEndpoint(host, port, password, prefix)))
    return access


def _host_port(override: str | None, host: str, port: int) -> tuple[str, int]:
    if not override:
        return host, port
    name, _, number = override.partition(":")
    if number and not number.isdigit():
        raise UsageError(f"--omapi-host {override!r}: the port must be a number")
    return name, int(number) if number else port


def read_member(site: Site, access: Access, timeout: float = READ_TIMEOUT) -> MemberStatus:
    where = f"{access.endpoint.host}:{access.endpoint.port}"
    member, role = access.member.name, access.member.role.value
    if isinstance(access, KeaAccess):
        try:
            ha = kea_control.read_ha_state(access.endpoint, timeout=timeout)
        except kea_control.KeaControlError as exc:
            return MemberStatus(member, role, where, None, None, str(exc))
        v4 = MemberStatus(member, role, where, ha.local_state, ha.partner_state, server_state=ha.local)
        return v4 if site.dhcpv6 is None else _with_v6(v4, site, access, timeout)

    def read(endpoint: OmapiEndpoint) -> FailoverState:
        return read_failover_state(endpoint, site.peer_name, command_prefix=access.command_prefix, timeout=timeout)

    key = "current"
    try:
        state = read(access.endpoint)
    except OmapiError as exc:
        if access.previous_key is None or not exc.key_rejected:
            return MemberStatus(member, role, where, None, None, str(exc))
        try:
            state, key = read(access.previous_key), "previous"
        except OmapiError:
            return MemberStatus(member, role, where, None, None, str(exc))  # the current key's failure
    return MemberStatus(member, role, where, state.local_state, state.partner_state, omapi_key=key,
                        server_state=state.local_state)


def dhcp6_endpoint(site: Site, endpoint: kea_control.KeaEndpoint) -> kea_control.KeaEndpoint:
    """Where a dual-stack member's kea-dhcp6 answers: behind the same Control Agent on Kea 2.2
    (``service`` dhcp6), on its own HTTP control socket on Kea 3.0 (``kea.control_port6``)."""
    port6 = kea_render.control_port6(site)
    if port6 is None:
        return dataclasses.replace(endpoint, service="dhcp6")
    return dataclasses.replace(endpoint, port=port6, service=None)


def _with_v6(v4: MemberStatus, site: Site, access: KeaAccess, timeout: float) -> MemberStatus:
    """The member's DHCPv6 relationship, read from kea-dhcp6 (dhcp6_endpoint)."""
    try:
        ha6 = kea_control.read_ha_state(dhcp6_endpoint(site, access.endpoint), timeout=timeout)
    except kea_control.KeaControlError as exc:
        return dataclasses.replace(v4, dual_stack=True, v6_error=str(exc))
    return dataclasses.replace(v4, dual_stack=True, v6_local_state=ha6.local_state, v6_partner_state=ha6.partner_state,
                               v6_server_state=ha6.local)


InstanceCheck = Callable[[Member], "bool | None"]
"""Whether AWS has an instance for the member (None: could not tell)."""


def read_status(
    site: Site, access: Sequence[Access], timeout: float = READ_TIMEOUT, *, exists: InstanceCheck | None = None
) -> list[MemberStatus]:
    """Both members' states; a member that does not answer is asked after in AWS (``exists``)."""
    statuses = [read_member(site, a, timeout) for a in access]
    if exists is None:
        return statuses
    return [
        dataclasses.replace(s, not_created=True) if s.error is not None and exists(a.member) is False else s
        for s, a in zip(statuses, access, strict=True)
    ]


def gate_passes(statuses: Sequence[MemberStatus], *, allow_not_created: bool = False) -> bool:
    """What every gate waits for: each member that exists answers and is normal. With
    ``allow_not_created`` (a first deploy) a member that EC2 says has no instance is left out, and
    then its partner cannot be normal (nobody to talk to): it must answer, in every relationship it
    has, with any failover state. A member that does not answer is never left out unless EC2 proved
    it has no instance: an unreachable member that exists, or one whose lookup failed, holds the gate.
    Nor does a pair of which no member exists pass (AWS asked in the wrong account or region looks
    like that): there is always one member to wait for."""
    present = [s for s in statuses if not s.not_created]
    if len(present) == len(statuses):
        return all(s.normal for s in statuses)
    return allow_not_created and bool(present) and all(s.answers for s in present)


def nothing_to_wait_for(statuses: Sequence[MemberStatus], *, allow_not_created: bool = False) -> bool:
    """A member has no instance and waiting cannot change that: without ``allow_not_created``, or
    when no member has one."""
    absent = [s for s in statuses if s.not_created]
    return bool(absent) and (not allow_not_created or len(absent) == len(statuses))


def member_states(statuses: Sequence[MemberStatus]) -> str:
    """``hq-a no answer, hq-b normal/normal``: each member and what it said, for a waiting line."""
    return ", ".join(f"{s.member} {'not created yet' if s.not_created else s.summary}" for s in statuses)


def waiting_line(statuses: Sequence[MemberStatus], elapsed: float, limit: float) -> str:
    """One progress line of a waiting gate: every member's state, the time waited and the limit."""
    return f"{member_states(statuses)}; {elapsed:.0f} s of {limit:g} s"


@dataclass(frozen=True)
class Held:
    """A member seen in one of its backend's ``held_states`` (in DHCPv4, or DHCPv6 on a dual-stack site)."""

    member: str
    state: str
    relationship: str  # "" for DHCPv4, " in DHCPv6"
    row: HeldState


class HeldWatch:
    """What a gate's polls saw of the held states (backends' ``held_states``), and since when:
    the line that stops the gate at once (a hopeless state such as Kea's ``terminated``), or the one
    that names the member still held at the gate's timeout, its state and for how long."""

    def __init__(self, site: Site) -> None:
        self.table = backend_for(site).held_states
        self.since: dict[tuple[str, str], tuple[str, float]] = {}  # (member, relationship) -> (state, first seen)
        self.held: list[Held] = []

    def see(self, statuses: Sequence[MemberStatus], now: float) -> None:
        held = []
        for status in statuses:
            for relationship, state in (("", status.server_state), (" in DHCPv6", status.v6_server_state)):
                row = self.table.get(state or "")
                key = (status.member, relationship)
                if state is None or row is None:
                    self.since.pop(key, None)
                    continue
                if self.since.get(key, ("", 0.0))[0] != state:
                    self.since[key] = (state, now)
                held.append(Held(status.member, state, relationship, row))
        self.held = held

    def hopeless(self) -> str | None:
        """``dhcp-b is in terminated (Kea HA gave up: ...); <recovery>; see docs/operations.md "..."``."""
        found = [h for h in self.held if h.row.hopeless]
        if not found:
            return None
        first = found[0]
        members = " and ".join(dict.fromkeys(h.member for h in found if h.state == first.state))
        verb = "are" if " and " in members else "is"
        return (f"{members} {verb} in {first.state}{first.relationship} ({first.row.meaning}); "
                f"{first.row.recovery}; see {RECOVERY_DOC}")

    def stuck(self, now: float) -> str | None:
        """``dhcp-b stuck in recover-wait for 3900 s (waits out MCLT ...); <recovery>; see ...``."""
        if not self.held:
            return None
        first = self.held[0]
        seconds = now - self.since[(first.member, first.relationship)][1]
        return (f"{first.member} stuck in {first.state}{first.relationship} for {seconds:.0f} s "
                f"({first.row.meaning}); {first.row.recovery}; see {RECOVERY_DOC}")


Say = Callable[[str], None]


def wait_until_normal(
    site: Site,
    access: Sequence[Access],
    timeout: float,
    interval: float = 0.5,
    *,
    exists: InstanceCheck | None = None,
    allow_not_created: bool = False,
    progress: Say | None = None,
    progress_every: float = PROGRESS_INTERVAL,
    held: HeldWatch | None = None,
) -> tuple[bool, list[MemberStatus]]:
    """Poll both members until ``gate_passes``, or until ``timeout`` seconds; ``(passed, last
    statuses)``. A member with no instance stops the wait at once unless ``allow_not_created``
    (nothing will ever answer there), and so do two; so does a member in a hopeless state (Kea's
    ``terminated``), which ``held`` then names, as it names a member still held at the timeout.
    ``progress`` gets a ``waiting_line`` at the first poll that does not pass and then at least
    every ``progress_every`` seconds."""
    held = held or HeldWatch(site)
    start = time.monotonic()
    deadline = start + timeout
    said: float | None = None
    while True:
        polled = time.monotonic()
        statuses = read_status(site, access, exists=exists)
        if gate_passes(statuses, allow_not_created=allow_not_created):
            return True, statuses
        now = time.monotonic()
        held.see(statuses, now)
        if now >= deadline or nothing_to_wait_for(statuses, allow_not_created=allow_not_created) or held.hopeless():
            return False, statuses
        if progress is not None and (said is None or due(said, now, interval + now - polled, progress_every)):
            progress(waiting_line(statuses, now - start, timeout))
            said = now
        time.sleep(interval)


def due(said: float, now: float, next_poll_in: float, every: float) -> bool:
    """Whether a waiting line is due now: the next chance, one pause and one poll later (a poll
    that waits out silent members takes seconds), would leave more than ``every`` since the last."""
    return now + next_poll_in - said >= every


class DrillError(Exception):
    """The drill refused to start, or a step other than waiting went wrong."""


@dataclass(frozen=True)
class Transition:
    """A member's state as first seen ``seconds`` after the shutdown request."""

    seconds: float
    member: str
    state: str


@dataclass
class DrillReport:
    member: str
    partner: str
    # Seconds since the shutdown request at which each step completed: shut_down, took_over,
    # restarted (with a restart command), answers_again, normal.
    timings: dict[str, float] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    takeover_state: str | None = None
    ok: bool = False
    failure: str | None = None

    def states(self, member: str) -> list[str]:
        return [t.state for t in self.transitions if t.member == member]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


Event = Callable[[float, str], None]


class _Watch:
    """Reads both members' states over and over, keeping each change with its time."""

    def __init__(self, site: Site, access: Sequence[Access], report: DrillReport, on_event: Event) -> None:
        self.site, self.access, self.report, self.on_event = site, access, report, on_event
        self.start = time.monotonic()
        self.now: dict[str, MemberStatus] = {}

    def elapsed(self) -> float:
        return round(time.monotonic() - self.start, 2)

    def poll(self) -> dict[str, MemberStatus]:
        for status in read_status(self.site, self.access):
            previous = self.now.get(status.member)
            self.now[status.member] = status
            if previous is None or previous.summary != status.summary:
                seconds = self.elapsed()
                self.report.transitions.append(Transition(seconds, status.member, status.summary))
                self.on_event(seconds, f"{status.member}: {status.summary}")
        return self.now

    def until(self, condition: Callable[[dict[str, MemberStatus]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition(self.poll()):
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_INTERVAL)
        return True

    def step(self, key: str, text: str) -> None:
        seconds = self.elapsed()
        self.report.timings[key] = seconds
        self.on_event(seconds, text)


def drill(
    site: Site,
    access: Sequence[Access],
    member_name: str,
    *,
    restart: Callable[[], None] | None,
    timeout: float,
    on_event: Event = lambda seconds, text: None,
) -> DrillReport:
    """The guide's test: shut ``member_name`` down over OMAPI, see the partner take over, bring
    the member back (``restart``, else the operator does), and wait until both are normal.
    Each wait may take ``timeout`` seconds. Refuses to start unless both members are normal:
    shutting one down would otherwise leave nobody serving."""
    target = next((a for a in access if a.member.name == member_name), None)
    if target is None:
        names = ", ".join(a.member.name for a in access)
        raise InventoryError(f'site "{site.name}" has no member {member_name!r}; members: {names}')
    partner = next(a for a in access if a is not target)
    before = read_status(site, access)
    for status in before:
        if status.error:
            raise OmapiError(f"{status.member}: {status.error}")
    if not all(s.normal for s in before):
        states = ", ".join(f"{s.member} {s.summary}" for s in before)
        raise DrillError(f"the pair is not normal ({states}); a drill now could leave nobody serving")
    behind = [s.member for s in before if s.omapi_key == "previous"]
    if behind:
        raise DrillError(f"{behind[0]} still holds the OMAPI key from before the rotation; run its "
                         "bootstrap again first")

    report = DrillReport(target.member.name, partner.member.name)
    watch = _Watch(site, access, report, on_event)
    watch.poll()
    _shut_down(site, target, partner, watch, timeout)
    channel = "Kea maintenance" if isinstance(target, KeaAccess) else "OMAPI"
    watch.step("shut_down", f"{target.member.name} shut down over {channel}")
    if not watch.until(lambda s: _took_over(s[partner.member.name]), timeout):
        report.failure = (f"{partner.member.name} did not take over within {timeout:.0f} s "
                          f"(last seen: {watch.now[partner.member.name].summary})")
        return report
    report.takeover_state = watch.now[partner.member.name].local_state
    watch.step("took_over", f"{partner.member.name} took over: {report.takeover_state}")
    if isinstance(partner, KeaAccess):
        # In maintenance the member runs on: cancelling is its restart.
        for endpoint in _relationships(site, partner):
            kea_control.maintenance_cancel(endpoint, timeout=timeout)
        watch.step("restarted", f"maintenance of {target.member.name} cancelled")
    elif restart is None:
        on_event(watch.elapsed(), f"waiting up to {timeout:.0f} s for {target.member.name} to be restarted")
    else:
        restart()
        watch.step("restarted", f"restart command for {target.member.name} done")
    if not watch.until(lambda s: s[target.member.name].error is None, timeout):
        report.failure = f"{target.member.name} did not answer again within {timeout:.0f} s (was it restarted?)"
        return report
    watch.step("answers_again", f"{target.member.name} answers again")
    if not watch.until(lambda s: all(v.normal for v in s.values()), timeout):
        states = ", ".join(f"{name} {status.summary}" for name, status in watch.now.items())
        report.failure = f"the pair was not normal again within {timeout:.0f} s (last seen: {states})"
        return report
    watch.step("normal", "both members normal")
    report.ok = True
    return report


def _took_over(status: MemberStatus) -> bool:
    """The partner serves everyone: in each HA relationship it has (DHCPv4, and DHCPv6 on a dual-stack site)."""
    v6 = not status.dual_stack or status.v6_local_state in TAKEOVER_STATES
    return status.local_state in TAKEOVER_STATES and v6


def _relationships(site: Site, access: KeaAccess) -> list[kea_control.KeaEndpoint]:
    """The member's HA relationships: kea-dhcp4's, and kea-dhcp6's on a dual-stack site."""
    v6 = [dhcp6_endpoint(site, access.endpoint)] if site.dhcpv6 is not None else []
    return [access.endpoint, *v6]


def _shut_down(site: Site, target: Access, partner: Access, watch: _Watch, timeout: float) -> None:
    """Send the shutdown and keep watching both members while dhcpd takes its time over it.
    Kea: ``ha-maintenance-start`` to the partner, which puts ``target`` in-maintenance (it stops
    serving) and takes over at once; a bare stop would look like a crash to the partner. A
    dual-stack member hands over both relationships."""
    if isinstance(partner, KeaAccess):
        for endpoint in _relationships(site, partner):
            kea_control.maintenance_start(endpoint, timeout=timeout)
        return
    assert isinstance(target, MemberAccess)
    with ThreadPoolExecutor(max_workers=1) as pool:
        request = pool.submit(shutdown_server, target.endpoint, command_prefix=target.command_prefix,
                              timeout=timeout)
        while not request.done():
            watch.poll()
            time.sleep(POLL_INTERVAL)
    request.result()


def run_restart_command(command: str, timeout: float) -> Callable[[], None]:
    """A restart step that runs ``command`` in a shell (e.g. ssh, or aws ssm send-command)."""

    def restart() -> None:
        try:
            result = subprocess.run(command, shell=True, capture_output=True, text=True,  # noqa: S602
                                    timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise DrillError(f"--restart-command still running after {timeout:.0f} s") from None
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            raise DrillError(f"--restart-command exited {result.returncode}" + (f": {output[-1]}" if output else ""))

    return restart
