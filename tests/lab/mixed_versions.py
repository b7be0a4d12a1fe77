"""Mixed-version failover pairs in network namespaces, measured (issue 27, step 1; not a test module).

    sudo .venv/bin/python -m tests.lab.mixed_versions [isc] [kea-lb] [kea-hs]   (default: all)

Each member runs its release's own daemons: Debian 12's from this machine (ISC dhcpd 4.4.3-P1-2,
Kea 2.2.0 with its Control Agent), Debian 13's from the trixie root that
``scripts/build-debian-root.sh`` builds (dhcpd 4.4.3-P1-8, Kea 3.0.3 without an agent), each
member rendered for its own release by dhcp_failover's renderers (the site differs only in
``os``). A prober behind the relay starts a brand-new client every second the whole time, and a
poller reads both members' failover states, so each scenario prints how many clients went
unanswered, lost bindings, duplicate addresses and the time each member spent in each state.

- ``isc``: P1-2 primary + P1-8 secondary, then the reverse: time to normal, binding updates both
  ways (leases on both), kill -9 of either member, auto partner-down, recovery to normal, lease sets.
- ``kea-lb`` / ``kea-hs``: the 2.2 -> 3.0 upgrade of a pair, in load-balancing and in hot-standby
  (3.0 standby under a 2.2 primary), step by step as a rollout would do it: stop the 2.2
  secondary, a new 3.0 secondary syncs from the 2.2 primary, the mixed window (releases on each
  member, ``ha-maintenance-start`` sent to the 2.2 member, then to the 3.0 member), the 2.2 primary
  stopped while the 3.0 member serves all, a new 3.0 primary syncs from it.

Bounded (an alarm ends a scenario after ``SCENARIO_LIMIT`` s) and clean: every namespace, process
and (private) mount goes with the ``Lab`` even when a step fails.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from dhcp_failover.backends.isc.omapi import OmapiEndpoint, OmapiError, read_failover_state
from dhcp_failover.backends.kea import control
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.releases import OsRelease
from tests.lab import kea as kea_lab
from tests.lab.failover_harness import client_grants
from tests.lab.member_files import install_member as install_isc_member
from tests.lab.netlab import Daemon, FailoverTopology, Lab, LabError, build_failover_topology, require_lab
from tests.support.debian_roots import spec
from tests.support.factories import inventory_data, site_data

SCENARIO_LIMIT = 300  # seconds per scenario, then it fails and cleans up
PROBE_TIMEOUT = 6.0  # one brand-new client: load balance max seconds (3) plus retransmits
DEB12, DEB13 = OsRelease.DEBIAN_12, OsRelease.DEBIAN_13


class Timeout(Exception):
    pass


@contextmanager
def bounded(seconds: int) -> Iterator[None]:
    def expired(*_: object) -> None:
        raise Timeout(f"scenario exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# Background workers of the running scenario: stopped before its Lab is torn down, so that no
# client is started in a namespace being deleted (even when a step fails or the alarm fires).
_WORKERS: list[Prober | StatePoller] = []
_STOPPERS: list[threading.Event] = []
_THREADS: list[threading.Thread] = []


@contextmanager
def workers_stopped() -> Iterator[None]:
    try:
        yield
    finally:
        for event in _STOPPERS:
            event.set()
        for worker in _WORKERS:
            worker.stop()
        for thread in _THREADS:
            thread.join(timeout=PROBE_TIMEOUT + 20)
        _WORKERS.clear()
        _THREADS.clear()
        _STOPPERS.clear()


def trixie_root() -> Path:
    path = spec(DEB13).path
    if not (path / "usr/sbin/kea-dhcp4").exists():
        sys.exit(f"no Debian 13 root at {path}: run scripts/build-debian-root.sh")
    return path


def say(text: str) -> None:
    print(text, flush=True)


# -- clients and states, common to both servers ----------------------------------------------


@dataclass
class Probe:
    started: float
    ended: float
    mac: str
    address: str | None
    server: str | None
    phase: str
    ends: float


@dataclass
class Prober:
    """A brand-new client on the relayed subnet (host c2) every ``every`` seconds."""

    lab: Lab
    topo: FailoverTopology
    every: float = 1.0
    phase: str = "start"
    probes: list[Probe] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        _WORKERS.append(self)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=PROBE_TIMEOUT + 10)

    def _run(self) -> None:
        while not self._stop.is_set():
            mac, started, phase = self.lab.fresh_mac(), time.time(), self.phase
            client = self.lab.start_dhclient(self.topo.client_b, "eth0", mac=mac, timeout=PROBE_TIMEOUT)
            try:
                client.wait_for_lease(PROBE_TIMEOUT + 2)
            except Exception:  # noqa: BLE001, S110 - an unanswered client is a figure, not an error
                pass
            finally:
                self.lab.kill(client.daemon)
            grants = client_grants(mac, client.daemon.log_path)
            grant = grants[0] if grants else None
            self.probes.append(Probe(started, time.time(), mac, grant.address if grant else None,
                                     grant.server if grant else None, phase, grant.ends if grant else 0.0))
            self._stop.wait(self.every)

    def valid(self, at: float) -> dict[str, str]:
        """address -> MAC of every client whose lease still runs at ``at`` (a second's margin)."""
        return {p.address: p.mac for p in self.probes if p.address is not None and p.ends > at + 1}

    def bound(self) -> dict[str, str]:
        """address -> MAC of every client served (each probe is a new MAC)."""
        return {p.address: p.mac for p in self.probes if p.address is not None}

    def duplicates(self) -> int:
        served = [p.address for p in self.probes if p.address is not None]
        return len(served) - len(set(served))

    def summary(self) -> str:
        phases: dict[str, list[Probe]] = {}
        for probe in self.probes:
            phases.setdefault(probe.phase, []).append(probe)
        parts = []
        for phase, probes in phases.items():
            unanswered = [p for p in probes if p.address is None]
            parts.append(f"{phase}: {len(probes) - len(unanswered)}/{len(probes)}")
        failed = sum(p.address is None for p in self.probes)
        return f"clients served {len(self.probes) - failed}/{len(self.probes)} (failed {failed}; by phase: {', '.join(parts)})"


@dataclass
class StatePoller:
    """Both members' own failover state every ``every`` s: (time, host, state) at each change."""

    read: dict[str, Callable[[], str]]
    every: float = 0.3
    changes: list[tuple[float, str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        _WORKERS.append(self)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        last: dict[str, str] = {}
        while not self._stop.is_set():
            for host, read in self.read.items():
                try:
                    state = read()
                except Exception:  # noqa: BLE001 - a member that does not answer is down
                    state = "down"
                if last.get(host) != state:
                    self.changes.append((time.time(), host, state))
                    last[host] = state
            self._stop.wait(self.every)

    def durations(self, until: float) -> dict[str, list[tuple[str, float]]]:
        out: dict[str, list[tuple[str, float]]] = {}
        for host in self.read:
            rows = [(t, s) for t, h, s in self.changes if h == host]
            out[host] = [(s, (rows[i + 1][0] if i + 1 < len(rows) else until) - t) for i, (t, s) in enumerate(rows)]
        return out

    def report(self, t0: float, until: float) -> str:
        lines = []
        for host, rows in self.durations(until).items():
            lines.append(f"    {host}: " + " -> ".join(f"{s} {d:.1f}s" for s, d in rows))
        both_out = self.both_out_of_service(t0, until)
        lines.append(f"    both members out of service (neither in a serving state, polled every {self.every} s) once clients "
                     f"started: {both_out:.1f} s in total")
        return "\n".join(lines)

    # States in which a member answers at least its own clients (Kea's communication-recovery serves
    # its own scope while it waits for its partner; globally-disabled members are not seen here:
    # the Kea scenarios print dhcp-state where it matters).
    SERVING = frozenset({"normal", "communications-interrupted", "partner-down", "load-balancing", "hot-standby",
                         "partner-in-maintenance", "communication-recovery"})

    def both_out_of_service(self, t0: float, until: float) -> float:
        state: dict[str, str] = {}
        total, since = 0.0, None
        for t, host, s in sorted(self.changes):
            state[host] = s
            out = not any(v in self.SERVING for v in state.values())
            if out and since is None:
                since = t
            elif not out and since is not None:
                total += max(0.0, t - max(since, t0))
                since = None
        if since is not None:
            total += max(0.0, until - max(since, t0))
        return total


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.2) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except Exception:  # noqa: BLE001, S110 - retried until the deadline
            pass
        time.sleep(every)
    raise LabError(f"not {what} after {timeout} s")


# -- ISC dhcpd 4.4.3-P1-2 with 4.4.3-P1-8 ----------------------------------------------------


def isc_site(release: OsRelease) -> Site:
    # Test-sized timers; auto-partner-down so that a kill -9 ends in partner-down without an operator.
    data = site_data(ping_check=False, os=release.value,
                     failover={"mclt": 10, "max_response_delay": 5, "auto_partner_down": 5})
    return inventory_from_data(inventory_data(data)).sites[0]


def isc_pair(workdir: Path, primary_release: OsRelease, secondary_release: OsRelease) -> None:
    root13 = trixie_root()
    name = f"ISC dhcpd primary {version(primary_release, 'isc')} + secondary {version(secondary_release, 'isc')}"
    say(f"\n== {name}")
    secret = base64.b64encode(os.urandom(32)).decode()
    sites = {"d1": isc_site(primary_release), "d2": isc_site(secondary_release)}
    releases = {"d1": primary_release, "d2": secondary_release}
    site = sites["d1"]
    endpoint = OmapiEndpoint("127.0.0.1", site.omapi.port, site.omapi.key_name, site.omapi.algorithm.value, secret)
    with Lab(workdir) as lab, bounded(SCENARIO_LIMIT), workers_stopped():
        topo = build_failover_topology(lab)
        member_names = {"d1": site.primary.name, "d2": site.secondary.name}
        confs = {host: install_isc_member(sites[host], member_names[host], lab.workdir / host, secret) for host in ("d1", "d2")}
        daemons: dict[str, Daemon] = {}

        def start(host: str) -> None:
            daemons[host] = lab.start_dhcpd(host, confs[host], debian_root=root13 if releases[host] is DEB13 else None)

        def state(host: str) -> str:
            s = read_failover_state(endpoint, site.peer_name, command_prefix=lab.netns_exec(host), timeout=3)
            return s.local_state

        def both(local: str) -> bool:
            return all(state(h) == local for h in ("d1", "d2"))

        poller = StatePoller({"d1": lambda: state("d1"), "d2": lambda: state("d2")}, every=0.5)
        t0 = time.time()
        start("d1")
        start("d2")
        poller.start()
        say(f"  start -> both normal in {wait_until('both normal', lambda: both('normal'), 60):.1f} s")
        lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip], ["eth1"], ["eth0"])
        prober = Prober(lab, topo, phase="normal")
        prober.start()
        t0 = time.time()
        time.sleep(14)
        by_server = {ip: sum(p.server == ip for p in prober.probes) for ip in (topo.primary_ip, topo.secondary_ip)}
        say(f"  normal: served by primary {by_server[topo.primary_ip]}, by secondary {by_server[topo.secondary_ip]}")
        leases = {h: lab.dhcpd_files(h)[0] for h in ("d1", "d2")}
        check_isc_sets(prober, leases, "after normal")
        for victim, survivor in (("d1", "d2"), ("d2", "d1")):
            label = "primary" if victim == "d1" else "secondary"
            prober.phase = f"kill -9 {label}"
            killed = time.monotonic()
            lab.kill(daemons[victim])
            def survivor_down(host: str = survivor) -> bool:
                return state(host) == "partner-down"

            down = wait_until(f"{survivor} partner-down", survivor_down, 60, every=0.3)
            say(f"  kill -9 {label} ({version(releases[victim], 'isc')}) -> survivor partner-down in {down:.1f} s")
            time.sleep(12)  # past MCLT: the survivor also hands out the dead member's free leases
            prober.phase = f"{label} restarted"
            start(victim)
            back = wait_until("both normal", lambda: both("normal"), 90, every=0.3)
            say(f"  restart {label} -> both normal in {back:.1f} s ({time.monotonic() - killed:.1f} s after the kill)")
            time.sleep(6)
            check_isc_sets(prober, leases, f"after {label} recovered")
        prober.stop()
        poller.stop()
        say("  " + prober.summary() + f"; duplicate addresses {prober.duplicates()}")
        say("  states:\n" + poller.report(t0, time.time()))


def running_leases(lease_file: Path) -> dict[str, tuple[str, float]]:
    """address -> (MAC, end) of every lease whose last record is active."""
    found: dict[str, tuple[str, str, float]] = {}
    for address, body in re.findall(r"^lease (\S+) \{(.*?)^\}", lease_file.read_text(), re.M | re.S):
        state = re.search(r"^\s+binding state (\S+);", body, re.M)
        mac = re.search(r"hardware ethernet (\S+);", body)
        ends = re.search(r"^\s+ends \d (\S+ \S+);", body, re.M)
        end = calendar.timegm(time.strptime(ends.group(1), "%Y/%m/%d %H:%M:%S")) if ends else float("inf")
        found[address] = (state.group(1) if state else "", mac.group(1) if mac else "", end)
    return {a: (m, e) for a, (st, m, e) in found.items() if st == "active"}


def isc_differences(prober: Prober, leases: dict[str, Path]) -> tuple[int, int, int, int]:
    """(missing on d1, missing on d2, differing leases, running leases): clients whose lease runs
    3 s more but a member does not bind, and leases running 3 s more on one member only."""
    now = time.time()
    expected = prober.valid(now + 2)
    sets = {h: running_leases(path) for h, path in leases.items()}
    missing = [sum(sets[h].get(a, ("", 0))[0] != m or sets[h][a][1] <= now for a, m in expected.items()) for h in ("d1", "d2")]
    differing = 0
    for one, other in (("d1", "d2"), ("d2", "d1")):
        for a, (mac, end) in sets[one].items():
            if end > now + 3 and (sets[other].get(a, ("", 0))[0] != mac or sets[other][a][1] <= now):
                differing += 1
    return missing[0], missing[1], differing, len(expected)


def check_isc_sets(prober: Prober, leases: dict[str, Path], when: str) -> None:
    start = time.monotonic()
    while True:
        d1, d2, differing, running = isc_differences(prober, leases)
        if d1 == d2 == differing == 0 or time.monotonic() - start > 10:
            break
        time.sleep(0.5)
    say(f"  {when}: {len(prober.bound())} clients served so far, {running} leases still running; missing on d1 {d1}, "
        f"on d2 {d2}; leases on one member only {differing} (checked {time.monotonic() - start:.1f} s after)")


# -- Kea 2.2 with 3.0.3 ----------------------------------------------------------------------


def kea_site(release: OsRelease, load_balancing: bool) -> Site:
    data = site_data(server="kea", os=release.value, ping_check=False, failover={"load_balancing": load_balancing})
    return inventory_from_data(inventory_data(data)).sites[0]


def version(release: OsRelease, server: str) -> str:
    if server == "isc":
        return "4.4.3-P1-2" if release is DEB12 else "4.4.3-P1-8"
    return "2.2.0" if release is DEB12 else "3.0.3"


def kea_install(lab: Lab, site: Site, host: str, release: OsRelease, root13: Path,
                no_affinity: bool = False) -> kea_lab.KeaMember:
    """A new instance of the member on ``host``: a fresh root (empty lease file), as a new EC2 instance."""
    old = lab.workdir / f"{host}-root"
    if old.exists():
        old.rename(lab.workdir / f"{host}-root-{time.monotonic_ns()}")
    for log in lab.workdir.glob(f"{host}-kea-*.log"):
        log.rename(log.with_suffix(f".{time.monotonic_ns()}.old"))
    member = site.primary if host == "d1" else site.secondary
    kea = kea_lab.install_member(lab, site, member, host, debian_root=root13 if release is DEB13 else None)
    if no_affinity and release is DEB13:
        # Experiment: no lease affinity on 3.0 (hold-reclaimed-time 0), so that a release deletes
        # the lease as 2.2 does instead of keeping it in 3.0's new "released" state.
        config = json.loads(kea.dhcp4_conf.read_text())
        config["Dhcp4"]["expired-leases-processing"] = {"hold-reclaimed-time": 0}
        kea.dhcp4_conf.write_text(json.dumps(config, indent=2))
    return kea


def active_leases(kea: kea_lab.KeaMember) -> dict[str, str]:
    found = control.command(kea.endpoint, "lease4-get-all", timeout=10).get("leases", [])
    return {x["ip-address"]: x["hw-address"] for x in found if x.get("state", 0) == 0}


def lease_state(kea: kea_lab.KeaMember, address: str) -> str:
    try:
        lease = control.command(kea.endpoint, "lease4-get", {"ip-address": address}, timeout=5)
    except control.KeaControlError as exc:
        return f"error ({exc})"
    return "none" if not lease else {0: "active", 1: "declined", 2: "expired-reclaimed", 3: "released"}.get(
        int(lease.get("state", -1)), str(lease.get("state")))


def release_one(lab: Lab, host: str) -> tuple[str, str, str] | None:
    """A brand-new client gets a lease and releases it (dhclient -r): (address, server, MAC)."""
    mac = lab.fresh_mac()
    client = lab.start_dhclient(host, "eth0", mac=mac, timeout=PROBE_TIMEOUT)
    try:
        lease = client.wait_for_lease(PROBE_TIMEOUT + 2)
    except Exception:  # noqa: BLE001
        return None
    finally:
        lab.kill(client.daemon)
    stem = client.lease_file.with_suffix("")
    lab.run(host, ["dhclient", "-4", "-r", "-cf", f"{stem}.conf", "-lf", str(client.lease_file), "-pf", f"{stem}.pid",
                   "-sf", str(lab.workdir / "dhclient-hook.sh"), "eth0"], check=False, timeout=15)
    return lease.address, lease.server, mac


def kea_upgrade(  # noqa: C901 - one scripted scenario, step by step
    workdir: Path, load_balancing: bool, window: bool, no_affinity: bool = False,
    hold_maintenance: float = 0.0,
) -> None:
    """``window``: hold the mixed pair for a while (releases, ha-maintenance-start each way); without
    it, the procedure: hand over to the 3.0 member the moment it is synced, releases running throughout."""
    root13 = trixie_root()
    mode = "load-balancing" if load_balancing else "hot-standby"
    how = "held mixed for releases and maintenance tests" if window else "handed over to 3.0 as soon as it synced"
    how += ", 3.0 with hold-reclaimed-time 0" if no_affinity else ""
    how += f", {hold_maintenance:g} s in maintenance before the 2.2 member goes" if hold_maintenance else ""
    say(f"\n== Kea 2.2.0 -> 3.0.3 upgrade of a {mode} pair, secondary first, {how}")
    sites = {r: kea_site(r, load_balancing) for r in (DEB12, DEB13)}
    with Lab(workdir) as lab, bounded(SCENARIO_LIMIT), workers_stopped():
        topo = build_failover_topology(lab)
        members = {"d1": kea_install(lab, sites[DEB12], "d1", DEB12, root13),
                   "d2": kea_install(lab, sites[DEB12], "d2", DEB12, root13)}

        def state(host: str) -> str:
            return control.read_ha_state(members[host].endpoint, timeout=1.5).local

        def states() -> tuple[str, str]:
            return state("d1"), state("d2")

        def both_normal() -> bool:
            return all(control.neutral(s).value == "normal" for s in states())

        def disabled(host: str) -> str:
            status = control.command(members[host].endpoint, "status-get", timeout=2)
            dhcp_state = status.get("dhcp-state")
            if dhcp_state is None:
                return "dhcp-state not reported"
            return "globally-disabled" if dhcp_state.get("globally-disabled") else "enabled"

        poller = StatePoller({"d1": lambda: state("d1"), "d2": lambda: state("d2")})
        t0 = time.time()
        for host in ("d1", "d2"):
            kea_lab.start_member(lab, members[host])
        poller.start()
        say(f"  2.2 + 2.2: both normal in {wait_until('both normal', both_normal, 30):.1f} s")
        lab.start_dhcrelay(topo.relay, [topo.primary_ip, topo.secondary_ip], ["eth1"], ["eth0"])
        prober = Prober(lab, topo, phase="2.2+2.2")
        prober.start()
        t0 = time.time()
        time.sleep(8)

        # Step 1: the 2.2 secondary goes (its instance is terminated); the 2.2 primary serves alone.
        prober.phase = "2.2 alone"
        stopped = time.monotonic()
        kea_lab.stop_member(lab, members["d2"], crash=False)
        took = wait_until("d1 partner-down", lambda: state("d1") == "partner-down", 30)
        say(f"  step 1, secondary stopped -> 2.2 primary partner-down in {took:.1f} s")
        time.sleep(4)

        lab.add_host("c3")
        lab.connect("c3", "sw2", "eth0")
        released: list[tuple[str, str, str]] = []
        release_log: dict[str, tuple[float, str, tuple[str, str]]] = {}

        def states_safe() -> tuple[str, str]:
            try:
                return states()
            except control.KeaControlError:
                return ("?", "?")
        attempts: list[object] = []
        stop_releases = threading.Event()
        _STOPPERS.append(stop_releases)

        def release_forever() -> None:
            while not stop_releases.is_set():
                started, phase = time.time(), prober.phase
                result = release_one(lab, "c3")
                attempts.append(result)
                if result is not None:
                    released.append(result)
                    release_log[result[0]] = (started - t0, phase, states_safe())
                stop_releases.wait(0.5)

        releaser = threading.Thread(target=release_forever, daemon=True)
        _THREADS.append(releaser)
        if not window:
            releaser.start()

        ip_host = {topo.primary_ip: "d1", topo.secondary_ip: "d2"}

        # Step 2: a new 3.0 secondary, empty, syncs from the 2.2 primary.
        prober.phase = "3.0 joins"
        members["d2"] = kea_install(lab, sites[DEB13], "d2", DEB13, root13, no_affinity)
        booted = time.monotonic()
        kea_lab.start_member(lab, members["d2"])
        joined = wait_until("both normal", both_normal, 120)
        say(f"  step 2, 3.0 secondary started -> both normal in {joined:.1f} s ({time.monotonic() - stopped:.1f} s "
            f"after step 1); states {states()}, d1 {disabled('d1')}, d2 {disabled('d2')}")
        if not window:
            # The rollout's step: the 3.0 member takes everything over at once.
            control.maintenance_start(members["d2"].endpoint)
            time.sleep(0.5)
            say(f"  ha-maintenance-start to the 3.0 member {time.monotonic() - booted:.1f} s after it started: states "
                f"{states()}, d2 {disabled('d2')}")
            if hold_maintenance:
                # What a rollout's terraform plan and apply of the primary stack take, in maintenance.
                prober.phase = "3.0 serves, 2.2 in maintenance"
                time.sleep(hold_maintenance)
                say(f"  after {hold_maintenance:g} s: states {states()}, d2 {disabled('d2')}")
        else:
            expected = prober.bound()
            time.sleep(2)
            on_new = active_leases(members["d2"])
            say(f"  the 3.0 member's leases after its sync: {sum(on_new.get(a) == m for a, m in expected.items())}"
                f"/{len(expected)} of the clients bound so far")

            # The mixed window: who serves, what releases do, what ha-maintenance-start does each way.
            prober.phase = "mixed window"
            time.sleep(6)
            # Kea listens on UDP sockets (relayed traffic only): the releasing client sits behind the relay too.
            batch = [release_one(lab, "c3") for _ in range(6)]
            attempts += batch
            released += [r for r in batch if r is not None]
            say(f"  releases: {len(released)}/{len(attempts)} clients got a lease and released it")
            time.sleep(2)
            for address, server, _ in released:
                say(f"  release of {address} on {ip_host.get(server, server)} ({'2.2' if server == topo.primary_ip else '3.0'}):"
                    f" d1 {lease_state(members['d1'], address)}, d2 {lease_state(members['d2'], address)}")
            say(f"  after the releases: states {states()}")
            for target, other in (("d1", "d2"), ("d2", "d1")):
                label = "2.2" if target == "d1" else "3.0"
                try:
                    control.maintenance_start(members[target].endpoint)
                    time.sleep(2)
                    say(f"  ha-maintenance-start to the {label} member: ok; states d1/d2 {states()}, "
                        f"{other} {disabled(other)}, {target} {disabled(target)}")
                except control.KeaControlError as exc:
                    say(f"  ha-maintenance-start to the {label} member: refused: {exc}")
                if target == "d2":
                    break  # keep it: the rollout's handover
                try:
                    control.maintenance_cancel(members[target].endpoint)
                    back = wait_until("both normal", both_normal, 30)
                    say(f"  ha-maintenance-cancel: both normal again in {back:.1f} s")
                except (control.KeaControlError, LabError) as exc:
                    say(f"  ha-maintenance-cancel to the {label} member: {exc}; states {states()}")
                    for host in ("d1", "d2"):
                        with suppress(control.KeaControlError):
                            control.maintenance_cancel(members[host].endpoint)
                    wait_until("both normal", both_normal, 60)

        # Step 3: the 3.0 member serves all (partner-in-maintenance), the 2.2 primary goes.
        prober.phase = "3.0 alone"
        handover = time.monotonic()
        kea_lab.stop_member(lab, members["d1"], crash=False)
        took = wait_until("d2 partner-down", lambda: state("d2") == "partner-down", 30)
        say(f"  step 3, 2.2 primary stopped -> 3.0 secondary partner-down in {took:.1f} s; d2 {disabled('d2')}")
        if disabled("d2") == "globally-disabled":
            detail = control.command(members["d2"].endpoint, "status-get", timeout=2).get("dhcp-state")
            say(f"  d2 dhcp-state: {detail}")
            try:
                control.command(members["d2"].endpoint, "dhcp-enable", {"origin-id": 2000}, timeout=3)
                say(f"  dhcp-enable origin-id 2000 to d2: ok, d2 {disabled('d2')}")
            except control.KeaControlError as exc:
                say(f"  dhcp-enable origin-id 2000 to d2: {exc}")
        time.sleep(4)

        # Step 4: a new 3.0 primary syncs from the 3.0 secondary.
        prober.phase = "3.0+3.0"
        members["d1"] = kea_install(lab, sites[DEB13], "d1", DEB13, root13, no_affinity)
        kea_lab.start_member(lab, members["d1"])
        joined = wait_until("both normal", both_normal, 120)
        say(f"  step 4, 3.0 primary started -> both normal in {joined:.1f} s ({time.monotonic() - handover:.1f} s after step 3);"
            f" states {states()}")
        time.sleep(8)
        stop_releases.set()
        if releaser.is_alive():
            releaser.join(timeout=PROBE_TIMEOUT + 20)
        prober.stop()
        poller.stop()
        end = time.time()
        say(f"  releases: {len(released)}/{len(attempts)} clients got a lease and released it "
            f"({sum(srv == topo.secondary_ip for _, srv, _ in released)} on the secondary)")
        expected = prober.bound()
        released_addresses = {a for a, _, _ in released}
        sets = {h: active_leases(m) for h, m in members.items()}
        lost = {h: [a for a, m in expected.items() if sets[h].get(a) != m and a not in released_addresses] for h in sets}
        say(f"  final: lease sets identical {sets['d1'] == sets['d2']} ({len(sets['d1'])} / {len(sets['d2'])} active); "
            f"bindings lost on d1 {len(lost['d1'])}, on d2 {len(lost['d2'])}; released still active "
            f"(bound to the client that released it) {sum(sets['d2'].get(a) == m for a, _, m in released)}/{len(released)}")
        for address, server, mac in released:
            if sets["d2"].get(address) == mac:
                when, phase, seen = release_log.get(address, (0.0, "?", ("?", "?")))
                say(f"  release not applied: {address} released to {ip_host.get(server, server)} at {when:.1f} s ({phase}), "
                    f"states before it d1/d2 {seen}")
        say("  " + prober.summary() + f"; duplicate addresses {prober.duplicates()}")
        failed = [f"{p.started - t0:.1f}s ({p.phase})" for p in prober.probes if p.address is None]
        if failed:
            say(f"  unanswered clients at: {', '.join(failed)}")
        say("  states:\n" + poller.report(t0, end))


def isc_both(workdir: Path) -> None:
    isc_pair(workdir / "isc-a", DEB12, DEB13)
    isc_pair(workdir / "isc-b", DEB13, DEB12)


SCENARIOS: dict[str, Callable[[Path], None]] = {
    "isc": isc_both,
    "kea-lb-window": lambda w: kea_upgrade(w / "kea-lb-window", load_balancing=True, window=True),
    "kea-lb": lambda w: kea_upgrade(w / "kea-lb", load_balancing=True, window=False),
    "kea-lb-window-noaffinity": lambda w: kea_upgrade(w / "kea-lb-window-na", load_balancing=True, window=True,
                                                      no_affinity=True),
    "kea-lb-hold": lambda w: kea_upgrade(w / "kea-lb-hold", load_balancing=True, window=False, hold_maintenance=20),
    # The recommended procedure: both the renderer change and the handover at once.
    "kea-lb-noaffinity": lambda w: kea_upgrade(w / "kea-lb-na", load_balancing=True, window=False, no_affinity=True,
                                               hold_maintenance=20),
    "kea-hs-window": lambda w: kea_upgrade(w / "kea-hs-window", load_balancing=False, window=True),
    "kea-hs": lambda w: kea_upgrade(w / "kea-hs", load_balancing=False, window=False),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the logs folder")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}")
    require_lab()
    kea_lab.require_kea()
    workdir = Path(tempfile.mkdtemp(prefix="mixed-versions-", dir="/tmp"))  # under /tmp: seen inside the root
    say(f"logs in {workdir}")
    failures = 0
    try:
        for name in args.scenarios or list(SCENARIOS):
            try:
                SCENARIOS[name](workdir)
            except (LabError, Timeout, OmapiError, control.KeaControlError) as exc:
                failures += 1
                say(f"  {name} FAILED: {exc}")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
