"""A failover pair booted as EC2 boots it, in network namespaces.

Each server is booted by ``boot.boot``: its synthesized cloud-config's write_files applied under
a per-host root, and its bootstrap run with ``--root --no-start`` against a local AWS API holding
the site's SSM parameters, which writes the OMAPI key and checks the config with ``dhcpd -t``.
dhcpd then starts as the Debian service starts it: from the booted
``/etc/default/isc-dhcp-server``, with the booted ``/etc/dhcp`` bind-mounted in the daemon's own
mount namespace, so the config runs byte for byte as deployed. A real dhcrelay, set up from the rendered relay defaults, forwards
between the clients' network and both servers.

A ledger keeps every lease a client got (as the client's dhclient hook logged it), for the
counts the proof must print: duplicate addresses and lost bindings.
"""

from __future__ import annotations

import calendar
import itertools
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dhcp_failover.backends.isc.omapi import OmapiEndpoint, read_failover_state, wait_for_failover_state
from dhcp_failover.backends.isc.render import DHCPD_CONF, DHCPD_DEFAULTS
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.model import Member, Site
from dhcp_failover.secret_names import SecretKind, site_secrets
from tests.lab.boot import ROOT_PATH, boot, put_secret
from tests.lab.member_files import relay_arguments
from tests.lab.netlab import (
    CLIENT_HOOK_LINE,
    Client,
    Daemon,
    FailoverTopology,
    Lab,
    LabError,
    build_failover_topology,
    read_log,
    wait_for_log,
)
from tests.support.debian_roots import in_root
from tests.support.factories import REPO

REGION = "us-east-1"  # where the bootstrap looks when a member has no placement
# Where Debian's dhcpd keeps its state; the package creates the empty lease file on install.
LEASES = "var/lib/dhcp/dhcpd.leases"
PID = "run/dhcpd.pid"
CLOUD_INIT_OUTPUT = "var/log/cloud-init-output.log"
# What the isc-dhcp-server init script does with its defaults file, minus daemonizing. The bind
# mount lives in the mount namespace `ip netns exec` makes for this process alone.
CONF_DIR = str(Path(DHCPD_CONF).parent)
SERVICE = (
    f'. "$0{DHCPD_DEFAULTS}" && mount --bind "$0{CONF_DIR}" {CONF_DIR} && '
    f'exec dhcpd -4 -f -d -cf "$DHCPDv4_CONF" -lf "$0/{LEASES}" -pf "$0/{PID}" $INTERFACESv4'
)


def boot_root(site: Site, member: Member, root: Path, aws_endpoint: str, debian_root: Path | None = None) -> None:
    """A new instance of ``member`` under ``root``: its user-data's files, the empty lease file
    the package leaves, and its bootstrap run against the local AWS API."""
    (root / LEASES).parent.mkdir(parents=True, exist_ok=True)
    (root / LEASES).touch()
    (root / PID).parent.mkdir(parents=True, exist_ok=True)
    result = boot(site, member, root, aws_endpoint, debian_root)
    # Where cloud-init keeps a boot's output (the monitoring reporter ships it as the bootstrap log).
    (root / CLOUD_INIT_OUTPUT).parent.mkdir(parents=True, exist_ok=True)
    (root / CLOUD_INIT_OUTPUT).write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"bootstrap of {member.name} failed: {result.stderr.strip()}")


@dataclass(frozen=True)
class Grant:
    """One lease a client got, as the client's hook logged it: ``granted`` is when it arrived."""

    mac: str
    address: str
    server: str
    granted: float
    ends: float


def client_grants(mac: str, log: Path) -> list[Grant]:
    """Every lease a client got (renewals included), oldest first, from its hook's log lines."""
    found = ((line.time, re.match(CLIENT_HOOK_LINE, line.text)) for line in read_log(log))
    return [Grant(mac, m.group(2), m.group(4), when, when + int(m.group(3))) for when, m in found if m]


@dataclass
class Ledger:
    """Every lease any client got: one-shot clients' single leases, and every renewal of the
    clients that stay. Test timers are short (a new lease lasts about MCLT) and one-shot clients
    never renew, so an address may rightly go to another client once the earlier grant has
    ended: only overlapping grants to different clients are duplicates."""

    one_shot: list[Grant] = field(default_factory=list)
    renewing: list[RenewingClient] = field(default_factory=list)

    @property
    def grants(self) -> list[Grant]:
        return self.one_shot + [g for client in self.renewing for g in client.grants()]

    @property
    def clients(self) -> int:
        return len({g.mac for g in self.grants})

    def duplicates(self) -> list[tuple[Grant, Grant]]:
        by_address: dict[str, list[Grant]] = {}
        for grant in self.grants:
            by_address.setdefault(grant.address, []).append(grant)
        return [(a, b) for grants in by_address.values() for a, b in itertools.combinations(grants, 2)
                if a.mac != b.mac and a.granted < b.ends and b.granted < a.ends]

    def valid(self, at: float) -> dict[str, Grant]:
        """address → the grant still running at ``at`` (with a second's margin for rounding)."""
        return {g.address: g for g in sorted(self.grants, key=lambda g: g.granted) if g.ends > at + 1}

    def lost(self, bindings: dict[str, str], at: float) -> list[Grant]:
        """Still-running grants that a server's lease database does not bind to their client."""
        return [g for address, g in self.valid(at).items() if bindings.get(address) != g.mac]


def active_bindings(lease_file: Path, at: float | None = None) -> dict[str, str]:
    """address → MAC of every lease whose last record is active (and, given ``at``, runs past it)."""
    last: dict[str, tuple[str, str | None, float]] = {}
    for address, body in re.findall(r"^lease (\S+) \{(.*?)^\}", lease_file.read_text(), re.M | re.S):
        state = re.search(r"^\s+binding state (\S+);", body, re.M)
        mac = re.search(r"hardware ethernet (\S+);", body)
        ends = re.search(r"^\s+ends \d (\S+ \S+);", body, re.M)
        end = calendar.timegm(time.strptime(ends.group(1), "%Y/%m/%d %H:%M:%S")) if ends else float("inf")
        last[address] = (state.group(1) if state else "", mac.group(1) if mac else None, end)
    return {address: mac for address, (state, mac, end) in last.items()
            if state == "active" and mac and (at is None or end > at + 1)}


def lease_states(lease_file: Path) -> dict[str, str]:
    """address → binding state of its last record (free, backup, active, ...)."""
    states = {}
    for address, body in re.findall(r"^lease (\S+) \{(.*?)^\}", lease_file.read_text(), re.M | re.S):
        found = re.search(r"^\s+binding state (\S+);", body, re.M)
        states[address] = found.group(1) if found else ""
    return states


def served(log: Path, since: float, until: float = float("inf")) -> list[tuple[float, str, str]]:
    """(time, DHCPOFFER or DHCPACK, address) for each answer a dhcpd logged between two times."""
    found = ((line.time, re.match(r"(DHCPOFFER|DHCPACK) on (\S+) ", line.text)) for line in read_log(log)
             if since <= line.time < until)
    return [(when, m.group(1), m.group(2)) for when, m in found if m]


@dataclass
class BootedPair:
    """Both members booted from their user-data, dhcpd running on each, and the relay."""

    site: Site
    lab: Lab
    topo: FailoverTopology
    store: KeyStore
    aws_endpoint: str
    roots: dict[str, Path] = field(default_factory=dict)
    daemons: dict[str, Daemon] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    started: float = 0.0  # time.monotonic() when both dhcpd were serving
    debian_root: Path | None = None  # the members' release's root (None: this machine's dhcpd)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def host(self, member: Member) -> str:
        return self.topo.primary if member is self.site.primary else self.topo.secondary

    def address(self, member: Member) -> str:
        return self.topo.primary_ip if member is self.site.primary else self.topo.secondary_ip

    def boot(self, member: Member) -> Path:
        """A new instance of ``member``: a fresh root (empty lease database) from its user-data."""
        root = self.lab.workdir / "roots" / f"{member.name}.{next(self._serial)}"
        boot_root(self.site, member, root, self.aws_endpoint, self.debian_root)
        self.roots[member.name] = root
        return root

    def log(self, member: Member) -> Path:
        return self.lab.workdir / f"{self.host(member)}-dhcpd.log"

    def service_argv(self, member: Member) -> list[str]:
        """dhcpd as the member's service starts it, from the release's root when there is one."""
        service = ["sh", "-c", SERVICE, str(self.roots[member.name])]
        if self.debian_root is None:
            return service
        return in_root(self.debian_root, ["/usr/bin/env", f"PATH={ROOT_PATH}", "/bin/sh", *service[1:]])

    def start(self, member: Member) -> Daemon:
        """Start dhcpd on the member's current root as its service would, wait until it serves."""
        since = time.time()
        daemon = self.lab.spawn(self.host(member), self.service_argv(member), self.log(member))
        wait_for_log(self.log(member), r"^Server starting service\.", 10, since=since, daemon=daemon)
        self.daemons[member.name] = daemon
        return daemon

    def stop(self, member: Member, sig: int = signal.SIGTERM) -> None:
        self.lab.kill(self.daemons[member.name], sig)

    def lease_file(self, member: Member) -> Path:
        return self.roots[member.name] / LEASES

    def endpoint(self) -> OmapiEndpoint:
        """OMAPI of whichever member a command runs next to (127.0.0.1 in its namespace)."""
        omapi = self.site.omapi
        spec = next(s for s in site_secrets(self.site) if s.kind is SecretKind.OMAPI_KEY)
        return OmapiEndpoint("127.0.0.1", omapi.port, omapi.key_name, omapi.algorithm.value,
                             self.store.require(spec).value)

    def state(self, member: Member) -> tuple[str, str]:
        state = read_failover_state(self.endpoint(), self.site.peer_name,
                                    command_prefix=self.lab.netns_exec(self.host(member)))
        return state.local_state, state.partner_state

    def wait_for(self, member: Member, local: str, partner: str | None = None, timeout: float = 30) -> None:
        wait_for_failover_state(self.endpoint(), self.site.peer_name, local, partner_state=partner,
                                command_prefix=self.lab.netns_exec(self.host(member)), timeout=timeout)

    def wait_normal(self, timeout: float = 60) -> None:
        for member in self.site.members:
            self.wait_for(member, "normal", "normal", timeout)

    def new_client(self, timeout: float = 8.0) -> Grant:
        """One brand-new client behind the relay; its lease goes into the ledger."""
        mac = self.lab.fresh_mac()
        client = self.lab.start_dhclient(self.topo.client_b, "eth0", mac=mac, timeout=timeout)
        try:
            wait_for_log(client.daemon.log_path, CLIENT_HOOK_LINE, timeout + 2, daemon=client.daemon)
        finally:
            self.lab.kill(client.daemon)
        (grant,) = client_grants(mac, client.daemon.log_path)
        self.ledger.one_shot.append(grant)
        return grant

    def try_client(self, timeout: float = 3.0) -> Grant | None:
        """One brand-new client that may get no lease (None once its one attempt has run out)."""
        mac = self.lab.fresh_mac()
        client = self.lab.start_dhclient(self.topo.client_b, "eth0", mac=mac, timeout=timeout)
        try:
            wait_for_log(client.daemon.log_path, CLIENT_HOOK_LINE, timeout + 2, daemon=client.daemon)
        except LabError:
            pass  # dhclient -1 exits when its attempt runs out
        finally:
            self.lab.kill(client.daemon)
        grants = client_grants(mac, client.daemon.log_path)
        self.ledger.one_shot.extend(grants)
        return grants[0] if grants else None

    def renewing_clients(self, count: int) -> list[RenewingClient]:
        """``count`` clients that stay and renew, each in its own namespace behind the relay."""
        clients = []
        for _ in range(count):
            host = f"k{next(self._serial)}"
            self.lab.add_host(host)
            self.lab.connect(host, "sw2", "eth0")
            mac = self.lab.fresh_mac()
            clients.append(RenewingClient(mac, self.lab.start_dhclient(host, "eth0", mac=mac, once=False)))
        for client in clients:
            wait_for_log(client.client.daemon.log_path, CLIENT_HOOK_LINE, 15, daemon=client.client.daemon)
        self.ledger.renewing.extend(clients)
        return clients


@dataclass
class RenewingClient:
    mac: str
    client: Client

    def grants(self) -> list[Grant]:
        return client_grants(self.mac, self.client.daemon.log_path)

    def naks(self) -> int:
        return self.client.daemon.log_path.read_text().count("DHCPNAK")


def publish_secrets(site: Site, lab: Lab, aws_endpoint: str) -> KeyStore:
    """Generate the site's secrets as the keys command does and put them where the stacks
    would: SSM parameters, here in the local AWS API."""
    store = KeyStore(lab.workdir / "keys.json", {})
    store.ensure(site)
    for spec in site_secrets(site):
        put_secret(aws_endpoint, REGION, spec.parameter_name, store.require(spec).value)
    return store


def boot_pair(site: Site, lab: Lab, aws_endpoint: str, debian_root: Path | None = None) -> BootedPair:
    """Boot both members, start dhcpd on both, then the relay."""
    topo = build_failover_topology(lab)
    pair = BootedPair(site, lab, topo, publish_secrets(site, lab, aws_endpoint), aws_endpoint, debian_root=debian_root)
    for member in site.members:
        pair.boot(member)
    for member in site.members:
        pair.start(member)
    pair.started = time.monotonic()
    servers, downstream, upstream = relay_arguments(site)
    lab.start_dhcrelay(topo.relay, servers, downstream, upstream)
    return pair


def operator_files(pair: BootedPair, folder: Path, inventory_data: dict[str, Any]) -> tuple[Path, Path]:
    """What an operator has: the inventory, and the key store holding the pair's secrets."""
    inventory = folder / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(inventory_data, sort_keys=False))
    pair.store.path = folder / "keys.json"
    pair.store.save()
    return inventory, pair.store.path


def operator_argv(pair: BootedPair, command: str, inventory: Path, store: Path, *args: str) -> list[str]:
    """``python -m dhcp_failover COMMAND`` reaching each member's OMAPI on 127.0.0.1 inside its
    namespace, as an operator would through a port forward and an ssh prefix."""
    access = []
    for member in pair.site.members:
        access += ["--omapi-host", f"{member.name}=127.0.0.1",
                   "--omapi-via", f"{member.name}={' '.join(pair.lab.netns_exec(pair.host(member)))}"]
    return [sys.executable, "-m", "dhcp_failover", command, "--inventory", str(inventory), "--site",
            pair.site.name, "--key-store", str(store), *access, *args]


def operator_process(pair: BootedPair, command: str, inventory: Path, store: Path, *args: str) -> subprocess.Popen[str]:
    """The same command started in the background, its output piped line by line (for drills)."""
    return subprocess.Popen(operator_argv(pair, command, inventory, store, *args), cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
