"""Real DHCP hosts in network namespaces, for tests that drive dhcpd, dhcrelay and dhclient.

A ``Lab`` owns a set of namespaces that share a unique name prefix. Switches are Linux
bridges living in their own namespace; hosts are plain namespaces joined to switches by
veth pairs. Every process started through the lab runs inside one of its namespaces, and
``cleanup()`` kills every process found in them (not only the ones it started) before
deleting the namespaces, so a failing test cannot leak daemons or links.

Using it from another test module (``tests/`` is on ``sys.path`` under pytest's default
import mode)::

    from tests.lab.netlab import Lab, lab_fixture  # noqa: F401  (provides the ``lab`` fixture)

    def test_something(lab: Lab) -> None:
        lab.add_switch("sw")
        ...

or, for every module at once, ``pytest_plugins = ("netlab",)`` in ``tests/conftest.py``.
For a module-scoped lab, call ``require_lab()`` and use ``with Lab(workdir) as lab:``.
``build_failover_topology(lab)`` wires the usual two servers, relay and two clients
(addresses in ``FailoverTopology``); ``start_dhcpd``, ``start_dhcrelay``, ``get_lease`` (one
exchange) and ``start_dhclient`` (a client that stays and renews) run the real daemons on it.

The caller must be root and have iproute2 and the ISC DHCP binaries; ``require_lab()``
skips otherwise, or fails when ``CI`` is set so that a broken runner cannot go green.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.debian_roots import in_root

REQUIRED_TOOLS = ("ip", "dhcpd", "dhcrelay", "dhclient", "omshell")
IFNAME_MAX = 15  # IFNAMSIZ - 1
_instance_counter = itertools.count()

# Debian's dhclient-script would rewrite the host's /etc/resolv.conf (ip netns exec shares
# /etc), so lab clients use this hook: it puts the bound address on the interface and the
# default route via the first router (renewals are unicast to the server, beyond the relay),
# and logs each lease (dhclient writes renewals to its lease file late, through a stdio buffer).
CLIENT_HOOK = """#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
    [ -z "$new_routers" ] || ip -4 route replace default via "${new_routers%% *}" dev "$interface"
    echo "dhclient-hook: $reason $new_ip_address $new_dhcp_lease_time $new_dhcp_server_identifier" ;;
esac
exit 0
"""
# The hook's line in a client's log: reason, address, lease time (s), server identifier.
CLIENT_HOOK_LINE = r"^dhclient-hook: (\S+) (\S+) (\d+) (\S+)$"


class LabError(RuntimeError):
    """A lab step failed; the message carries the command and its output."""


@dataclass(frozen=True)
class LogLine:
    """One line of a daemon log, with the wall-clock time at which it was written."""

    time: float
    text: str


@dataclass(frozen=True)
class Lease:
    """The outcome of one DHCP exchange: the bound address and the server that acked it."""

    address: str
    server: str


@dataclass
class Daemon:
    """A background process started inside a lab namespace."""

    host: str
    argv: tuple[str, ...]
    log_path: Path
    process: subprocess.Popen[bytes]
    _pump: threading.Thread = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit and its log to be complete; return its status."""
        status = self.process.wait(timeout=timeout)
        self._pump.join(timeout=timeout)
        return status


@dataclass(frozen=True)
class Client:
    """A dhclient started by ``Lab.start_dhclient`` and the lease file it appends to."""

    daemon: Daemon
    lease_file: Path

    def wait_for_lease(self, timeout: float) -> Lease:
        return _wait_for_lease(self.lease_file, self.daemon, timeout)


def require_lab() -> None:
    """Skip (or fail under ``CI``) unless this process can build real labs."""
    problems = [] if os.geteuid() == 0 else ["not root"]
    problems += [f"{tool} not found" for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if not problems:
        return
    reason = ("network lab unavailable: " + ", ".join(problems)
              + " (scripts/install-system.sh installs the tools)")
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _existing_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    # Lines look like "name" or "name (id: 3)".
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def _free_prefix() -> str:
    """A prefix no existing namespace uses: other sessions may run labs concurrently."""
    taken = _existing_namespaces()
    base = f"dfl{os.getpid() % 1000:03d}"
    while True:
        prefix = f"{base}{next(_instance_counter)}"
        if not any(name.startswith(prefix + "-") for name in taken):
            return prefix


def _namespace_pids(ns: str) -> list[int]:
    # Empty (and an error on stderr) if the namespace does not exist.
    probe = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(pid) for pid in probe.stdout.split()]


def _kill_namespace(ns: str, timeout: float = 5.0) -> list[int]:
    """SIGKILL everything in ``ns`` until it is empty; return what is still there."""
    deadline = time.monotonic() + timeout
    while (pids := _namespace_pids(ns)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return pids


def _check_ifname(name: str) -> None:
    if not name or len(name) > IFNAME_MAX or "/" in name or " " in name:
        raise ValueError(f"invalid interface name {name!r} (1-{IFNAME_MAX} chars)")


def _pump_with_timestamps(source: int, log_path: Path) -> None:
    """Copy a daemon's output to its log, prefixing each line: dhcpd -d has no timestamps."""
    with os.fdopen(source, "rb") as pipe, log_path.open("ab", buffering=0) as log:
        for raw in pipe:
            log.write(b"%.6f " % time.time() + raw)


def read_log(path: Path) -> list[LogLine]:
    """Parse a log written by ``Lab.spawn``."""
    lines: list[LogLine] = []
    for raw in path.read_text(errors="replace").splitlines():
        stamp, _, text = raw.partition(" ")
        try:
            lines.append(LogLine(float(stamp), text))
        except ValueError:  # a line still being written
            continue
    return lines


def _log_tail(path: Path, count: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-count:])
    except FileNotFoundError:
        return "(no log)"


def wait_for_log(
    path: Path,
    pattern: str,
    timeout: float = 10.0,
    *,
    since: float = 0.0,
    daemon: Daemon | None = None,
) -> LogLine:
    """Wait for the first line matching ``pattern`` (a regex) stamped at or after ``since``.

    Pass the ``daemon`` writing the log to fail at once, with the log tail, if it dies.
    """
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            for line in read_log(path):
                if line.time >= since and regex.search(line.text):
                    return line
        if daemon is not None and not daemon.alive():
            raise LabError(f"{daemon.argv[0]} exited ({daemon.process.returncode}) before "
                           f"logging /{pattern}/:\n{_log_tail(path)}")
        if time.monotonic() > deadline:
            raise LabError(f"/{pattern}/ not in {path} after {timeout} s:\n{_log_tail(path)}")
        time.sleep(0.05)


def parse_client_leases(text: str) -> list[Lease]:
    """The complete ``lease { ... }`` blocks of a dhclient lease file, oldest first."""
    leases = []
    for block in re.findall(r"^lease \{\n(.*?)^\}", text, flags=re.S | re.M):
        address = re.search(r"^\s*fixed-address (\S+);", block, flags=re.M)
        server = re.search(r"^\s*option dhcp-server-identifier (\S+);", block, flags=re.M)
        if address and server:
            leases.append(Lease(address.group(1), server.group(1)))
    return leases


def _wait_for_lease(lease_file: Path, client: Daemon, timeout: float) -> Lease:
    deadline = time.monotonic() + timeout
    while True:
        leases = parse_client_leases(lease_file.read_text())
        if leases:
            return leases[-1]
        exited = not client.alive()
        if exited or time.monotonic() > deadline:
            # A last look: the lease may have landed just before dhclient exited.
            leases = parse_client_leases(lease_file.read_text())
            if leases:
                return leases[-1]
            why = "dhclient gave up" if exited else f"still none after {timeout} s"
            raise LabError(f"no lease for {client.host} ({why}):\n{_log_tail(client.log_path)}")
        time.sleep(0.02)


class Lab:
    """A set of namespaces, links and processes that ``cleanup()`` removes completely."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = _free_prefix()
        self._namespaces: list[str] = []
        self._switches: set[str] = set()
        self._daemons: list[Daemon] = []
        self._ports: dict[tuple[str, str], tuple[str, str]] = {}  # (host, if) -> (switch, port)
        self._mac_counter = itertools.count(1)
        self._client_counter = itertools.count(1)
        # Last resort if the interpreter exits without reaching __exit__ (e.g. KeyboardInterrupt
        # inside a fixture): namespaced dhcpd processes would otherwise outlive the test run.
        atexit.register(self.cleanup)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    # -- topology ------------------------------------------------------------------------

    def ns(self, name: str) -> str:
        """The namespace name for lab host or switch ``name``."""
        return f"{self.prefix}-{name}"

    def namespaces(self) -> list[str]:
        return list(self._namespaces)

    def add_host(self, name: str) -> str:
        """Create an empty namespace with loopback up (OMAPI and omshell use 127.0.0.1)."""
        ns = self.ns(name)
        if ns in self._namespaces:
            raise ValueError(f"{name!r} already exists in this lab")
        # Record first, so a half-created namespace is still cleaned up.
        self._namespaces.append(ns)
        self._ip("netns", "add", ns)
        self._ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def add_switch(self, name: str) -> str:
        """A learning bridge in its own namespace; no STP so ports forward at once."""
        ns = self.add_host(name)
        self._switches.add(name)
        self._ip("-n", ns, "link", "add", "br0", "type", "bridge",
                 "stp_state", "0", "forward_delay", "0")
        self._ip("-n", ns, "link", "set", "br0", "up")
        return ns

    def connect(self, host: str, switch: str, ifname: str, cidr: str | None = None) -> None:
        """Plug ``host``'s new interface ``ifname`` into ``switch``, optionally addressed.

        The switch-side port is named ``<host>-<ifname>`` (cut to 15 chars).
        """
        if switch not in self._switches:
            raise ValueError(f"{switch!r} is not a switch of this lab")
        _check_ifname(ifname)
        port = f"{host}-{ifname}"[:IFNAME_MAX]
        if any(p == (switch, port) for p in self._ports.values()):
            raise ValueError(f"switch port name {port!r} is ambiguous; use shorter names")
        self._ip("link", "add", port, "netns", self.ns(switch), "type", "veth",
                 "peer", "name", ifname, "netns", self.ns(host))
        self._ports[(host, ifname)] = (switch, port)
        self._ip("-n", self.ns(switch), "link", "set", port, "master", "br0", "up")
        if cidr is not None:
            self._ip("-n", self.ns(host), "addr", "add", cidr, "dev", ifname)
        self._ip("-n", self.ns(host), "link", "set", ifname, "up")

    def add_route(self, host: str, dest: str, via: str) -> None:
        self._ip("-n", self.ns(host), "route", "add", dest, "via", via)

    def set_forwarding(self, host: str) -> None:
        self.run(host, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])

    # -- faults ----------------------------------------------------------------------------

    def link_down(self, host: str, ifname: str) -> None:
        """Cut the cable: down the switch port, so ``host`` keeps its interface and address
        and its daemons notice only through missing traffic (as with a real partition)."""
        self._set_port(host, ifname, "down")

    def link_up(self, host: str, ifname: str) -> None:
        self._set_port(host, ifname, "up")

    def _set_port(self, host: str, ifname: str, state: str) -> None:
        try:
            switch, port = self._ports[(host, ifname)]
        except KeyError:
            raise ValueError(f"{host}:{ifname} is not plugged into a switch") from None
        self._ip("-n", self.ns(switch), "link", "set", port, state)

    def blackhole(self, host: str, dest: str) -> None:
        """Drop ``host``'s traffic to ``dest`` (e.g. the peer's /32): a one-way partition."""
        self._ip("-n", self.ns(host), "route", "add", "blackhole", dest)

    def unblackhole(self, host: str, dest: str) -> None:
        self._ip("-n", self.ns(host), "route", "del", "blackhole", dest)

    # -- processes -------------------------------------------------------------------------

    def run(
        self,
        host: str,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 30.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a short command in ``host`` and capture its output.

        Never use this for anything that daemonizes: the daemon would hold the capture pipe
        open and this call would block until ``timeout``. Use ``spawn`` instead.
        """
        cmd = self.netns_exec(host) + list(argv)
        result = subprocess.run(cmd, input=input, capture_output=True, text=True,
                                timeout=timeout,
                                stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise LabError(f"{' '.join(cmd)} exited {result.returncode}: "
                           f"{(result.stderr or result.stdout).strip()}")
        return result

    def netns_exec(self, host: str) -> list[str]:
        """The command prefix that runs a program inside ``host`` (e.g. for omshell)."""
        return ["ip", "netns", "exec", self.ns(host)]

    def spawn(self, host: str, argv: Sequence[str], log_path: Path) -> Daemon:
        """Start a foreground daemon in ``host``; stdout and stderr go, time-stamped, to
        ``log_path``. The daemon gets no descriptor of ours (stdin is /dev/null, every fd
        above 2 is closed), so it cannot keep a pytest or CI pipe open."""
        if self.ns(host) not in self._namespaces:
            raise ValueError(f"{host!r} is not a host of this lab")
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(
                self.netns_exec(host) + list(argv), stdin=subprocess.DEVNULL,
                stdout=write_end, stderr=subprocess.STDOUT, close_fds=True,
                # Own session: a terminal's Ctrl-C stops pytest, whose cleanup then ends
                # the daemons in order, instead of killing them behind the test's back.
                start_new_session=True)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        pump = threading.Thread(target=_pump_with_timestamps, args=(read_end, Path(log_path)),
                                daemon=True)
        pump.start()
        daemon = Daemon(host, tuple(argv), Path(log_path), process, pump)
        self._daemons.append(daemon)
        return daemon

    def kill(self, daemon: Daemon, sig: int = signal.SIGKILL, timeout: float = 10.0) -> None:
        """Signal ``daemon`` and wait until it has exited (and its log is complete)."""
        if daemon.alive():
            daemon.process.send_signal(sig)
        daemon.wait(timeout)

    # -- ISC DHCP daemons and clients ---------------------------------------------------

    def dhcpd_files(self, host: str) -> tuple[Path, Path, Path]:
        """``(leases, pid, log)`` of ``host``'s dhcpd, kept across restarts."""
        stem = self.workdir / f"{host}-dhcpd"
        return stem.with_suffix(".leases"), stem.with_suffix(".pid"), stem.with_suffix(".log")

    def start_dhcpd(
        self, host: str, conf_path: Path, ifaces: Sequence[str] = (), timeout: float = 10.0,
        debian_root: Path | None = None,
    ) -> Daemon:
        """Start ``dhcpd -4`` in the foreground and wait until it serves: this machine's, or
        the one of ``debian_root`` (tests/support/debian_roots.py; the files must be under /tmp).

        The lease file survives a restart of the same host, as on a real server, which is
        what failover recovery drills need.
        """
        leases, pid, log = self.dhcpd_files(host)
        leases.touch(exist_ok=True)  # dhcpd refuses to start without one
        since = time.time()
        argv = ["-4", "-f", "-d", "-cf", str(conf_path), "-lf", str(leases), "-pf", str(pid), *ifaces]
        command = ["dhcpd", *argv] if debian_root is None else in_root(debian_root, ["/usr/sbin/dhcpd", *argv])
        daemon = self.spawn(host, command, log)
        wait_for_log(log, r"^Server starting service\.", timeout, since=since, daemon=daemon)
        return daemon

    def start_dhcrelay(
        self,
        host: str,
        servers: Sequence[str],
        downstream_ifaces: Sequence[str],
        upstream_ifaces: Sequence[str],
        timeout: float = 10.0,
    ) -> Daemon:
        """Start ``dhcrelay -4`` in the foreground and wait until its sockets are open."""
        argv = ["dhcrelay", "-4", "-d"]
        argv += [arg for iface in downstream_ifaces for arg in ("-id", iface)]
        argv += [arg for iface in upstream_ifaces for arg in ("-iu", iface)]
        log = self.workdir / f"{host}-dhcrelay.log"
        since = time.time()
        daemon = self.spawn(host, [*argv, *servers], log)
        # The fallback socket is the last one dhcrelay opens before it relays.
        wait_for_log(log, r"^Sending on +Socket/fallback", timeout, since=since, daemon=daemon)
        return daemon

    def fresh_mac(self) -> str:
        """A locally administered MAC no other client of this lab has used."""
        n, pid = next(self._mac_counter), os.getpid()
        return f"02:77:{pid >> 8 & 0xff:02x}:{pid & 0xff:02x}:{n >> 8 & 0xff:02x}:{n & 0xff:02x}"

    def start_dhclient(
        self, host: str, ifname: str, *, mac: str | None = None, timeout: float = 10.0, once: bool = True,
        extra_conf: str = "",
    ) -> Client:
        """Start dhclient in the foreground as a brand-new client (fresh MAC, config and lease
        file). With ``once`` it makes one attempt (``-1``); without, it stays and renews like a
        real client. Every lease it gets is a ``CLIENT_HOOK_LINE`` in its log at once (its lease
        file has them too, but renewals only once dhclient flushes the file). ``extra_conf`` is
        added to its dhclient.conf: options to send (an architecture, a vendor class) or request."""
        stem = self.workdir / f"{host}-dhclient{next(self._client_counter)}"
        conf, leases = stem.with_suffix(".conf"), stem.with_suffix(".leases")
        # initial-interval 1 retransmits fast: a server may drop the first DISCOVER
        # ("load balance to peer") until the client's secs passes load balance max seconds.
        conf.write_text(f"timeout {max(1, int(timeout))};\nretry 1;\ninitial-interval 1;\n"
                        "request subnet-mask, routers;\n" + extra_conf)
        leases.touch()  # dhclient exits if its lease file does not exist
        self._ip("-n", self.ns(host), "link", "set", ifname, "address", mac or self.fresh_mac())
        argv = ["dhclient", "-4", *(["-1"] if once else []), "-d", "-v", "-cf", str(conf), "-lf", str(leases),
                "-pf", str(stem.with_suffix(".pid")), "-sf", str(self._client_hook()), ifname]
        return Client(self.spawn(host, argv, stem.with_suffix(".log")), leases)

    def get_lease(
        self, host: str, ifname: str, *, mac: str | None = None, timeout: float = 10.0
    ) -> Lease:
        """Run one DHCP exchange as a brand-new client (fresh MAC and lease file).

        dhclient runs with ``-1 -d``: one attempt, no fork, so it can be killed for sure
        once the lease is on disk. On success the client keeps the address on ``ifname``.
        """
        client = self.start_dhclient(host, ifname, mac=mac, timeout=timeout)
        try:
            return client.wait_for_lease(timeout + 2)
        finally:
            self.kill(client.daemon)

    def _client_hook(self) -> Path:
        hook = self.workdir / "dhclient-hook.sh"
        if not hook.exists():
            hook.write_text(CLIENT_HOOK)
            hook.chmod(0o755)
        return hook

    # -- cleanup ---------------------------------------------------------------------------

    def pids(self, host: str) -> list[int]:
        """Every process in ``host``'s namespace, whoever started it."""
        return _namespace_pids(self.ns(host))

    def cleanup(self) -> None:
        """Kill every process in every lab namespace, then delete the namespaces.

        Safe to call repeatedly and after a partial setup; raises ``LabError`` only if
        something could not be removed, after trying everything.
        """
        leftovers: list[str] = []
        for ns in self._namespaces:
            survivors = _kill_namespace(ns)
            if survivors:
                leftovers.append(f"{ns}: pids {survivors} survived SIGKILL")
        for daemon in self._daemons:
            try:
                daemon.wait(timeout=5)
            except subprocess.TimeoutExpired:
                leftovers.append(f"pid {daemon.pid} ({daemon.argv[0]}) did not exit")
        existing = _existing_namespaces()
        for ns in self._namespaces:
            if ns in existing:
                result = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
                if result.returncode != 0:
                    leftovers.append(f"{ns}: {result.stderr.strip()}")
        self._namespaces.clear()
        self._switches.clear()
        self._ports.clear()
        self._daemons.clear()
        atexit.unregister(self.cleanup)
        if leftovers:
            raise LabError("lab cleanup incomplete: " + "; ".join(leftovers))

    def _ip(self, *args: str) -> None:
        result = subprocess.run(["ip", *args], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise LabError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass(frozen=True)
class FailoverTopology:
    """Host names and addresses of the standard failover-pair lab.

    ::

        d1 (primary) 10.77.1.1 --+                      +-- c2 (client on subnet B)
        d2 (secondary) 10.77.1.2 -+- sw (10.77.1.0/24) -- r1 (relay) -- sw2 (10.77.2.0/24)
        c1 (client on subnet A) --+   10.77.1.254 eth0 / eth1 10.77.2.1
    """

    primary: str = "d1"
    secondary: str = "d2"
    relay: str = "r1"
    client_a: str = "c1"
    client_b: str = "c2"
    primary_ip: str = "10.77.1.1"
    secondary_ip: str = "10.77.1.2"
    relay_ip_a: str = "10.77.1.254"
    relay_ip_b: str = "10.77.2.1"
    subnet_a: str = "10.77.1.0/24"
    subnet_b: str = "10.77.2.0/24"


def build_failover_topology(lab: Lab) -> FailoverTopology:
    """Wire the standard topology (no daemons): servers reach subnet B via the relay."""
    topo = FailoverTopology()
    lab.add_switch("sw")
    lab.add_switch("sw2")
    for host in (topo.primary, topo.secondary, topo.relay, topo.client_a, topo.client_b):
        lab.add_host(host)
    lab.connect(topo.primary, "sw", "eth0", f"{topo.primary_ip}/24")
    lab.connect(topo.secondary, "sw", "eth0", f"{topo.secondary_ip}/24")
    lab.connect(topo.relay, "sw", "eth0", f"{topo.relay_ip_a}/24")
    lab.connect(topo.relay, "sw2", "eth1", f"{topo.relay_ip_b}/24")
    lab.connect(topo.client_a, "sw", "eth0")
    lab.connect(topo.client_b, "sw2", "eth0")
    lab.set_forwarding(topo.relay)
    # Servers answer relayed requests at the relay's giaddr on subnet B.
    for server in (topo.primary, topo.secondary):
        lab.add_route(server, topo.subnet_b, topo.relay_ip_a)
    return topo


@pytest.fixture(name="lab")
def lab_fixture(tmp_path: Path) -> Iterator[Lab]:
    """A fresh lab per test, torn down even when the test fails."""
    require_lab()
    with Lab(tmp_path / "lab") as new_lab:
        yield new_lab
