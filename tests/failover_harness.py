"""A failover pair booted as EC2 boots it, in network namespaces: each server's files come from
its synthesized cloud-config (write_files under a per-host root), its secret from the local
AWS API through the bootstrap, and then real dhcpd runs on them; a real dhcrelay forwards to
both. A ledger of every client's lease counts duplicate addresses and lost bindings."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from boot import boot, put_secret
from dhcp_failover.keystore import KeyStore
from dhcp_failover.model import Member, Site
from dhcp_failover.omapi import OmapiEndpoint
from dhcp_failover.render import DHCPD_CONF
from dhcp_failover.secrets import site_secrets
from netlab import Daemon, FailoverTopology, Lab, Lease, build_failover_topology
from test_smoke_pair import relay_arguments

REGION = "us-east-1"  # where the bootstrap looks when a member has no placement


@dataclass(frozen=True)
class Grant:
    """One lease a client got, and until when the acking server promised it."""

    mac: str
    lease: Lease
    granted: float
    ends: float


@dataclass
class Ledger:
    """Every lease any client got. Test timers are short (leases last about MCLT while a
    partner is away), and the lab's clients never renew, so an address may rightly go to a
    new client once the old grant has ended: only overlapping grants are duplicates."""

    grants: list[Grant] = field(default_factory=list)

    @property
    def leases(self) -> dict[str, Lease]:
        return {g.mac: g.lease for g in self.grants}

    def duplicates(self) -> int:
        count = 0
        for i, a in enumerate(self.grants):
            for b in self.grants[i + 1 :]:
                # b was granted after a; a duplicate if a's grant had not ended by then.
                count += a.lease.address == b.lease.address and a.mac != b.mac and b.granted < a.ends
        return count

    def lost(self, bindings: dict[str, str], now: float | None = None) -> list[str]:
        """Clients whose still-valid grant a server's database no longer binds to them."""
        now = time.time() if now is None else now
        current = {g.lease.address: g for g in self.grants if g.ends > now + 1}
        return [g.mac for g in current.values() if bindings.get(g.lease.address) != g.mac]


@dataclass
class BootedPair:
    site: Site
    lab: Lab
    topo: FailoverTopology
    store: KeyStore
    confs: dict[str, Path]
    daemons: dict[str, Daemon] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)

    def host(self, member: Member) -> str:
        return self.topo.primary if member is self.site.primary else self.topo.secondary

    def start(self, member: Member) -> None:
        self.daemons[member.name] = self.lab.start_dhcpd(self.host(member), self.confs[member.name], ifaces=["eth0"])

    def endpoint(self) -> OmapiEndpoint:
        omapi = self.site.omapi
        secret = self.store.require(site_secrets(self.site)[0]).value
        return OmapiEndpoint("127.0.0.1", omapi.port, omapi.key_name, omapi.algorithm.value, secret)

    def lease_file(self, member: Member) -> Path:
        return self.lab.dhcpd_files(self.host(member))[0]

    def new_client(self, timeout: float = 8.0) -> Lease:
        mac = self.lab.fresh_mac()
        lease = self.lab.get_lease(self.topo.client_b, "eth0", mac=mac, timeout=timeout)
        acker = self.site.primary if lease.server == self.topo.primary_ip else self.site.secondary
        ends = lease_end(self.lease_file(acker), lease.address, mac)
        self.ledger.grants.append(Grant(mac, lease, time.time(), ends))
        return lease


def boot_pair(site: Site, lab: Lab, moto_endpoint: str) -> BootedPair:
    """Boot both members from their cloud-configs and start dhcpd and the relay."""
    topo = build_failover_topology(lab)
    store = KeyStore(lab.workdir / "keys.json", {})
    store.ensure(site)
    for spec in site_secrets(site):
        put_secret(moto_endpoint, REGION, spec.parameter_name, store.require(spec).value)
    confs = {}
    for member in site.members:
        root = lab.workdir / "roots" / member.name
        result = boot(site, member, root, moto_endpoint)
        assert result.returncode == 0, result.stderr
        confs[member.name] = runnable_conf(root)
    pair = BootedPair(site, lab, topo, store, confs)
    for member in site.members:
        pair.start(member)
    servers, downstream, upstream = relay_arguments(site)
    lab.start_dhcrelay(topo.relay, servers, downstream, upstream)
    return pair


def runnable_conf(root: Path) -> Path:
    """The booted dhcpd.conf, its key include pointed into the root (what the bootstrap's own
    `dhcpd -t` check does under --root)."""
    conf = root / DHCPD_CONF.lstrip("/")
    runnable = conf.with_name("dhcpd.run.conf")
    runnable.write_text(re.sub(r'^include "/', f'include "{root}/', conf.read_text(), flags=re.M))
    return runnable


def lease_end(lease_file: Path, address: str, mac: str) -> float:
    """When the server's newest record of ``address`` for ``mac`` says the lease ends."""
    ends = 0.0
    deadline = time.monotonic() + 5  # dhcpd writes the record right after the ACK
    while not ends and time.monotonic() < deadline:
        for found, body in re.findall(r"^lease (\S+) \{(.*?)^\}", lease_file.read_text(), re.M | re.S):
            end = re.search(r"^\s+ends \d (\S+ \S+);", body, re.M)
            if found == address and f"hardware ethernet {mac};" in body and end:
                ends = calendar.timegm(time.strptime(end.group(1), "%Y/%m/%d %H:%M:%S"))
        if not ends:
            time.sleep(0.1)
    return ends


def active_bindings(lease_file: Path) -> dict[str, str]:
    """address → MAC of every lease whose last record in the file is active."""
    last: dict[str, tuple[str, str | None]] = {}
    for address, body in re.findall(r"^lease (\S+) \{(.*?)^\}", lease_file.read_text(), re.M | re.S):
        state = re.search(r"^\s+binding state (\S+);", body, re.M)
        mac = re.search(r"hardware ethernet (\S+);", body)
        last[address] = (state.group(1) if state else "", mac.group(1) if mac else None)
    return {address: mac for address, (state, mac) in last.items() if state == "active" and mac}
