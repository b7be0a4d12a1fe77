"""DHCP clients behind each site's relay while a rollout replaces its members (not a test module).

For every site of a ``MemberHosts`` lab: the site's relay (a real dhcrelay from the rendered relay
defaults, on a router namespace between the members' switch and a client switch), clients that
stay and renew their leases the whole time, and a prober that starts a brand-new client every few
seconds. Every lease lands in the site's ledger (failover_harness.Ledger), every new client's
wait is timed, and each member's failover state is read back from its dhcpd's own log lines over
time (``state_timeline``), so a test can assert what a rollout must keep: no client went
unanswered, no duplicate address, no lost binding, and never both members of a site out of
service.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dhcp_failover.model import Site
from tests.lab.failover_harness import Grant, Ledger, RenewingClient, active_bindings, client_grants
from tests.lab.member_files import relay_arguments
from tests.lab.member_hosts import MemberHosts
from tests.lab.netlab import CLIENT_HOOK_LINE, Lab, LabError, read_log, wait_for_log

# The failover states in which a dhcpd answers clients (startup, recover*, and a dead dhcpd don't).
SERVING = frozenset({"normal", "communications-interrupted", "partner-down"})
PROBE_EVERY = 3.0  # seconds between brand-new clients, per site
# After load balance max seconds the partner answers a client the other member ignores; dhclient
# retransmits at 1, 2 and then 4 s (initial-interval 1), and the exchange takes two round trips.
RETRANSMIT_SLACK = 6.0
_MOVE = re.compile(r"failover peer \S+: I move from (\S+) to (\S+)")


@dataclass(frozen=True)
class Probe:
    """One brand-new client: when it started, and its lease (None: none within its timeout)."""

    started: float
    grant: Grant | None

    @property
    def waited(self) -> float | None:
        return None if self.grant is None else self.grant.granted - self.started


@dataclass
class SiteClients:
    site: Site
    lab: Lab
    ledger: Ledger = field(default_factory=Ledger)
    probes: list[Probe] = field(default_factory=list)
    hosts: int = 0

    def new_host(self) -> str:
        self.hosts += 1
        host = f"k{self.hosts}"
        self.lab.add_host(host)
        self.lab.connect(host, "sw2", "eth0")
        return host

    def start_renewing(self, count: int) -> list[RenewingClient]:
        clients = []
        for _ in range(count):
            host, mac = self.new_host(), self.lab.fresh_mac()
            clients.append(RenewingClient(mac, self.lab.start_dhclient(host, "eth0", mac=mac, once=False)))
        for client in clients:
            wait_for_log(client.client.daemon.log_path, CLIENT_HOOK_LINE, 30, daemon=client.client.daemon)
        self.ledger.renewing.extend(clients)
        return clients

    def probe(self, host: str) -> Probe:
        """One brand-new client (fresh MAC) with one attempt of load balance max seconds plus slack."""
        timeout = self.site.failover.load_balance_max_seconds + RETRANSMIT_SLACK
        mac, started = self.lab.fresh_mac(), time.time()
        client = self.lab.start_dhclient(host, "eth0", mac=mac, timeout=timeout)
        try:
            wait_for_log(client.daemon.log_path, CLIENT_HOOK_LINE, timeout + 2, daemon=client.daemon)
        except LabError:
            pass  # dhclient -1 exits when its attempt runs out: counted as unanswered
        finally:
            self.lab.kill(client.daemon)
        grants = client_grants(mac, client.daemon.log_path)
        self.ledger.one_shot.extend(grants)
        found = Probe(started, grants[0] if grants else None)
        self.probes.append(found)
        return found

    def lapses(self) -> list[tuple[str, Grant, Grant]]:
        """Renewals that came after the lease they renew had ended: the client was without one."""
        return [(client.mac, before, after) for client in self.ledger.renewing
                for before, after in itertools.pairwise(client.grants()) if after.granted > before.ends]


@dataclass
class RelayClients:
    """Relays, renewing clients and probers for every site of ``hosts`` (start after the
    first deploy: a client needs a server to get its first lease)."""

    hosts: MemberHosts
    sites: dict[str, SiteClients] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> RelayClients:
        for site in self.hosts.sites:
            lab = self.hosts.lab(site.name)
            wire_relay(site, lab)
            self.sites[site.name] = SiteClients(site, lab)
        return self

    def start(self, renewing: int) -> None:
        for clients in self.sites.values():
            clients.start_renewing(renewing)
            thread = threading.Thread(target=self._probe_forever, args=(clients,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop_probing(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def __exit__(self, *exc_info: object) -> None:
        self.stop_probing()

    def _probe_forever(self, clients: SiteClients) -> None:
        host = clients.new_host()
        while not self._stop.is_set():
            try:
                clients.probe(host)
            except Exception as exc:  # noqa: BLE001  (reported by the test, never swallowed)
                self.errors.append(f"{clients.site.name}: {exc!r}")
            self._stop.wait(PROBE_EVERY)

    def lost_bindings(self, site: str, settle: float = 5.0) -> dict[str, list[Grant]]:
        """Per member now running: still-running grants its lease database does not bind. A
        binding update to the partner follows each lease at once; give it ``settle`` seconds."""
        deadline = time.monotonic() + settle
        while True:
            now = time.time()
            lost = {host.member.name: self.sites[site].ledger.lost(active_bindings(host.lease_file), now)
                    for host in self.hosts.hosts if host.site.name == site and host.lease_file is not None}
            if not any(lost.values()) or time.monotonic() > deadline:
                return lost
            time.sleep(0.5)


def wire_relay(site: Site, lab: Lab) -> None:
    """The site's first relay as a router namespace: upstream on the members' switch at its
    source address, each relayed subnet on switch ``sw2`` at its giaddr; the members route the
    relayed subnets back through it. dhcrelay runs with the rendered relay defaults."""
    relay = site.relays[0]
    member_network = site.members[0].network
    lab.add_switch("sw2")
    lab.add_host("rly")
    lab.connect("rly", "sw", relay.upstream_interface or "eth0", f"{relay.source_address}/{member_network.prefixlen}")
    for served in relay.serves:
        lab.connect("rly", "sw2", served.interface, f"{served.giaddr}/{served.subnet.prefixlen}")
        for member in site.members:
            lab.add_route(member.role.value[:4], str(served.subnet), str(relay.source_address))
    lab.set_forwarding("rly")
    servers, downstream, upstream = relay_arguments(site)
    lab.start_dhcrelay("rly", servers, downstream, upstream)


def state_timeline(hosts: MemberHosts, site: str) -> list[tuple[float, str, str]]:
    """(time, member, state) for every change of a member of ``site``: ``down`` when its instance
    was terminated (its dhcpd killed), ``startup`` when a new instance's dhcpd started, and each
    failover state it logged moving to ("I move from X to Y")."""
    member_of = {instance: member for _, member, instance in hosts.booted}
    names = {h.member.name for h in hosts.hosts if h.site.name == site}
    rows = [(when, member, "down") for when, member, what, _ in hosts.events if member in names and what == "down"]
    for instance, log in hosts.logs.items():
        member = member_of.get(instance)
        if member not in names:
            continue
        lines = read_log(log)
        if lines:
            rows.append((lines[0].time, member, "startup"))
        rows += [(line.time, member, m.group(2)) for line in lines if (m := _MOVE.search(line.text))]
    last: dict[str, str] = {}
    changes = []
    for when, member, what in sorted(rows):  # dhcpd's first line is often its move to startup
        if last.get(member) != what:
            changes.append((when, member, what))
        last[member] = what
    return changes


def out_of_service(timeline: list[tuple[float, str, str]], members: set[str], since: float) -> list[tuple[float, dict[str, str]]]:
    """Moments after ``since`` at which no member of the site was in a serving state."""
    state: dict[str, str] = {}
    found = []
    for when, member, what in timeline:
        state[member] = what
        if when >= since and not any(state.get(m) in SERVING for m in members):
            found.append((when, dict(state)))
    return found


def write_timeline(path: Path, timelines: dict[str, list[tuple[float, str, str]]]) -> None:
    start = min((rows[0][0] for rows in timelines.values() if rows), default=0.0)
    path.write_text("".join(f"{when - start:8.2f} s  {site:<8} {member:<12} {what}\n"
                            for site, rows in timelines.items() for when, member, what in rows))
