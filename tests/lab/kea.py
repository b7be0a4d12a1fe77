"""Real Kea members in a ``netlab.Lab``: each member's rendered files under its own root
folder, kea-dhcp4 and kea-ctrl-agent started in the member's namespace, and its control API.

Two members share this machine, so every path inside the configs is prefixed by the member's
root (``render_member(..., root=...)``), and the pid folder is set per member (the pid file is
named after the config file: the same name in one folder stops the second member).

A member whose release is not this machine's runs its daemons from a Debian root of its release
(``debian_root``, tests/support/debian_roots.py): Kea 3.0 accepts control sockets, lease files
and log files only under its own folders, which the environment moves into the member's root."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea.ddns import D2_CONF, d2_config
from dhcp_failover.backends.kea.render import (
    CONTROL_SOCKET,
    CTRL_AGENT_CONF,
    DHCP4_CONF,
    LEASE_FILE,
    as_json,
    password_path,
    render_member,
)
from dhcp_failover.model import Member, Site
from tests.lab.netlab import Daemon, Lab, LabError
from tests.support.debian_roots import in_root

KEA_TOOLS = ("kea-dhcp4", "kea-ctrl-agent", "curl")
FAKETIME_LIBRARY = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")  # Debian's faketime package
PASSWORD = "lab-control-password-0123456789"


@dataclass
class KeaMember:
    """A running (or stopped) Kea member of the lab."""

    host: str
    member: Member
    root: Path
    endpoint: control.KeaEndpoint
    dhcp4: Daemon | None = None
    agent: Daemon | None = None
    d2: Daemon | None = None
    debian_root: Path | None = None  # None: this machine's own Kea
    clock_offset: str | None = None
    """libfaketime's offset for the member's daemons (``"+120s"``): a member whose clock is wrong."""
    booted: bool = False  # True: the files its user-data wrote, run at the paths they name

    def command(self, tool: str, *args: str) -> list[str]:
        """``tool`` (kea-dhcp4, ...) with ``args``, from the member's Debian root when it has one."""
        if self.booted:
            assert self.debian_root is not None, "a booted member runs its release's Kea"
            return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _ENTER_BOOTED,
                    str(self.debian_root), str(self.root), f"/usr/sbin/{tool}", *args]
        if self.debian_root is None:
            return [tool, *args]
        return in_root(self.debian_root, [f"/usr/sbin/{tool}", *args])

    def environment(self) -> list[str]:
        """``env`` and the variables that give the member its own pid, socket, lease and log folders."""
        if self.booted:
            return []  # the unit's environment and the member's own folders (_ENTER_BOOTED)
        run = self.root / "run/kea"
        # kea-dhcp4 runs threads (HA's client, multi-threading): the MT build of libfaketime.
        skew = [] if self.clock_offset is None else [f"LD_PRELOAD={FAKETIME_LIBRARY}",
                                                     f"FAKETIME={self.clock_offset}"]
        return ["env", f"KEA_PIDFILE_DIR={run}", "KEA_LOCKFILE_DIR=none", f"KEA_CONTROL_SOCKET_DIR={run}",
                f"KEA_DHCP_DATA_DIR={self.lease_file.parent}", f"KEA_LOG_FILE_DIR={self.root / 'var/log/kea'}",
                *skew]

    @property
    def dhcp4_conf(self) -> Path:
        return self.root / DHCP4_CONF.lstrip("/")

    @property
    def dhcp4_conf_argument(self) -> str:
        """The config as the daemon is given it: a booted member's by its deployed path."""
        return DHCP4_CONF if self.booted else str(self.dhcp4_conf)

    @property
    def agent_conf(self) -> Path:
        return self.root / CTRL_AGENT_CONF.lstrip("/")

    @property
    def d2_conf(self) -> Path:
        return self.root / D2_CONF.lstrip("/")

    @property
    def lease_file(self) -> Path:
        return self.root / LEASE_FILE.lstrip("/")


def install_member(
    lab: Lab, site: Site, member: Member, host: str, password: str = PASSWORD, tsig: Mapping[str, str] | None = None,
    debian_root: Path | None = None,
) -> KeaMember:
    """Write the member's rendered Kea files (and what the bootstrap would write: the password
    file and, with ``tsig`` (key name -> secret), D2's config) under a root folder of its own."""
    root = lab.workdir / f"{host}-root"
    for file in render_member(site, member, root=str(root)):
        target = root / file.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content)
    # Verbatim, no newline: Kea reads password files byte for byte (notes, pitfall 8).
    Path(password_path(str(root))).write_text(password)
    if tsig is not None:
        (root / D2_CONF.lstrip("/")).write_text(as_json(d2_config(site, tsig)))
    for folder in (Path(CONTROL_SOCKET).parent, Path(LEASE_FILE).parent, Path("/var/log/kea")):
        (root / folder.relative_to("/")).mkdir(parents=True, exist_ok=True)
    # Kea 3.0 refuses a control socket folder others may read (as systemd makes /run/kea).
    (root / Path(CONTROL_SOCKET).parent.relative_to("/")).chmod(0o750)
    endpoint = control.KeaEndpoint(str(member.address), site.kea.control_port, password, tuple(lab.netns_exec(host)))
    return KeaMember(host, member, root, endpoint, debian_root=debian_root)


# A booted member's daemon runs as Debian 13's kea-dhcp4-server.service runs it: from the root
# of its release, as _kea with the unit's two capabilities and its KEA_LOCKFILE_DIR, with the
# member's own Kea folders mounted where its deployed files name them (/etc/kea, /run/kea,
# /var/lib/kea, /var/log/kea), in a private mount namespace: the files run byte for byte with
# Kea 3.0's default folders, and two members on one machine never share one.
_BOOTED_FOLDERS = ("/etc/kea", "/run/kea", "/var/lib/kea", "/var/log/kea")
_UNIT_CAPABILITIES = "+net_bind_service,+net_raw"  # AmbientCapabilities= of Debian's unit
_ENTER_BOOTED = (
    'mount --bind /tmp "$0/tmp" && mount --bind /proc "$0/proc" && '
    # The mount points Debian's units make at start (RuntimeDirectory, StateDirectory, LogsDirectory),
    # on scratch folders: the root itself is shared and stays as built.
    'for scratch in /run /var/lib /var/log; do mount -t tmpfs -o mode=755 scratch "$0$scratch" || exit 1; done && '
    'mkdir -p "$0/run/kea" "$0/var/lib/kea" "$0/var/log/kea" && '
    + " && ".join(f'mount --bind "$1{folder}" "$0{folder}"' for folder in _BOOTED_FOLDERS)
    + ' && chroot "$0" install -d -o _kea -g _kea -m 0750 /run/lock/kea'
    + ' && root="$0" && shift && exec chroot "$root" setpriv --reuid=_kea --regid=_kea --init-groups'
    + f" --inh-caps={_UNIT_CAPABILITIES} --ambient-caps={_UNIT_CAPABILITIES}"
    + ' env KEA_LOCKFILE_DIR=/run/lock/kea "$@"'
)


def kea_user_ids(debian_root: Path) -> tuple[int, int]:
    """_kea's uid and gid in the release's root (its packages made the user)."""
    for line in (debian_root / "etc/passwd").read_text().splitlines():
        name, _, uid, gid, *_ = line.split(":")
        if name == "_kea":
            return int(uid), int(gid)
    raise LabError(f"no _kea user in {debian_root}")


def boot_member(lab: Lab, site: Site, member: Member, host: str, aws_endpoint: str, debian_root: Path) -> KeaMember:
    """A new instance of ``member``: its synthesized user-data's files under a fresh root and its
    bootstrap run inside its release's root against the local AWS API (which must hold the site's
    secrets); the control password is the one the bootstrap wrote."""
    from tests.lab.boot import boot

    root = lab.workdir / f"{host}-booted"
    # What the packages (dpkg-statoverride _kea:_kea 0750 /etc/kea) and Debian's unit (its
    # Runtime, State and Logs directories: _kea's, mode 0750) make before and at the start.
    uid, gid = kea_user_ids(debian_root)
    for folder in _BOOTED_FOLDERS:
        path = root / folder.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
        path.chmod(0o750)
    result = boot(site, member, root, aws_endpoint, debian_root)
    if result.returncode != 0:
        raise LabError(f"bootstrap of {member.name} failed: {result.stdout[-800:]}{result.stderr[-800:]}")
    password = Path(password_path(str(root))).read_text()
    endpoint = control.KeaEndpoint(str(member.address), site.kea.control_port, password, tuple(lab.netns_exec(host)))
    return KeaMember(host, member, root, endpoint, debian_root=debian_root, booted=True)


def check_config(lab: Lab, kea: KeaMember) -> None:
    """``kea-dhcp4 -t``, ``kea-ctrl-agent -t`` (and ``kea-dhcp-ddns -t``) in the member's namespace."""
    checks = [("kea-dhcp4", kea.dhcp4_conf)]
    if kea.agent_conf.exists():
        checks.append(("kea-ctrl-agent", kea.agent_conf))
    if kea.d2_conf.exists():
        checks.append(("kea-dhcp-ddns", kea.d2_conf))
    for tool, conf in checks:
        result = lab.run(kea.host, with_environment(kea, kea.command(tool, "-t", str(conf))), check=False)
        if result.returncode != 0:
            raise LabError(f"{tool} -t {conf}: exit {result.returncode}: {result.stdout[-600:]}{result.stderr[-600:]}")
        warnings = [line for line in (result.stdout + result.stderr).splitlines() if " WARN " in line]
        if warnings:
            raise LabError(f"{tool} -t {conf} warned: {warnings}")


def with_environment(kea: KeaMember, command: list[str]) -> list[str]:
    # The variables must reach the daemon inside the root: env runs there, just before it.
    if kea.debian_root is None:
        return [*kea.environment(), *command]
    if kea.booted:
        split = command.index(str(kea.root)) + 1
        return [*command[:split], *kea.environment(), *command[split:]]
    split = command.index(str(kea.debian_root)) + 1
    return [*command[:split], *kea.environment(), *command[split:]]


def start_member(lab: Lab, kea: KeaMember, timeout: float = 10.0) -> None:
    """Start kea-dhcp4 and its Control Agent (and D2 when installed); return once the agent
    relays a command."""
    def spawn(tool: str, conf: Path | str) -> Daemon:
        return lab.spawn(kea.host, with_environment(kea, kea.command(tool, "-c", str(conf))),
                         lab.workdir / f"{kea.host}-{tool}.log")

    if kea.d2_conf.exists():
        kea.d2 = spawn("kea-dhcp-ddns", kea.d2_conf)
    kea.dhcp4 = spawn("kea-dhcp4", kea.dhcp4_conf_argument)
    # Kea 3.0 members have no agent: kea-dhcp4 answers commands itself.
    kea.agent = spawn("kea-ctrl-agent", kea.agent_conf) if kea.agent_conf.exists() else None
    deadline = time.monotonic() + timeout
    while True:
        for daemon in (kea.dhcp4, kea.agent, kea.d2):
            if daemon is not None and not daemon.alive():
                raise LabError(f"{daemon.log_path.stem} exited: {daemon.log_path.read_text()[-1500:]}")
        try:
            control.command(kea.endpoint, "version-get", timeout=1.0)
            return
        except control.KeaControlError as exc:
            if time.monotonic() > deadline:
                raise LabError(f"{kea.host}: control agent not answering after {timeout} s: {exc}") from None
        time.sleep(0.1)


def restart_dhcp4(lab: Lab, kea: KeaMember, timeout: float = 10.0) -> None:
    """What ``systemctl restart kea-dhcp4-server`` does: stop kea-dhcp4 (SIGTERM) and start it again,
    with the member's environment as it is now; the agent runs on. Returns once it answers."""
    if kea.dhcp4 is not None:
        lab.kill(kea.dhcp4, signal.SIGTERM)
    kea.dhcp4 = lab.spawn(kea.host, with_environment(kea, kea.command("kea-dhcp4", "-c", str(kea.dhcp4_conf))),
                          lab.workdir / f"{kea.host}-kea-dhcp4.log")
    deadline = time.monotonic() + timeout
    while True:
        try:
            control.read_ha_state(kea.endpoint, timeout=1.0)
            return
        except control.KeaControlError as exc:
            if not kea.dhcp4.alive():
                raise LabError(f"kea-dhcp4 of {kea.host} exited: {kea.dhcp4.log_path.read_text()[-1500:]}") from None
            if time.monotonic() > deadline:
                raise LabError(f"{kea.host}: kea-dhcp4 not answering after {timeout} s: {exc}") from None
        time.sleep(0.1)


def stop_member(lab: Lab, kea: KeaMember, *, crash: bool = True) -> None:
    """kill -9 (a crash) both daemons of the member; the lease file stays, as on a real disk."""
    sig = signal.SIGKILL if crash else signal.SIGTERM
    for daemon in (kea.dhcp4, kea.agent, kea.d2):
        if daemon is not None:
            lab.kill(daemon, sig)


def memfile_leases(path: Path) -> dict[str, str]:
    """Address -> MAC of the current leases in a Kea memfile (the last row per address wins;
    a row with an expired or zero lifetime is a released lease)."""
    current: dict[str, str] = {}
    if not path.exists():
        return current
    with path.open() as f:
        for row in csv.DictReader(f):
            if int(row["valid_lifetime"]) > 0 and int(row["expire"]) > time.time():
                current[row["address"]] = row["hwaddr"]
            else:
                current.pop(row["address"], None)
    return current


def api_leases(kea: KeaMember) -> dict[str, str]:
    return {lease["ip-address"]: lease["hw-address"] for lease in control.leases(kea.endpoint)}


def wait_for_states(members: list[KeaMember], wanted: set[str], timeout: float) -> float:
    """Seconds until every member's local neutral state is in ``wanted``."""
    start = time.monotonic()
    last: list[str] = []
    while time.monotonic() - start < timeout:
        last = []
        for kea in members:
            try:
                last.append(control.read_ha_state(kea.endpoint, timeout=1.0).local)
            except control.KeaControlError as exc:
                last.append(f"error: {exc}")
        if all(control.neutral(state).value in wanted for state in last):
            return time.monotonic() - start
        time.sleep(0.1)
    raise LabError(f"states {last} not all in {sorted(wanted)} after {timeout} s")


def require_kea(*, faketime: bool = False) -> None:
    """Skip (fail on CI) without Kea's tools, and with ``faketime`` without libfaketime."""
    missing = [tool for tool in KEA_TOOLS if subprocess.run(["which", tool], capture_output=True).returncode != 0]
    if faketime and not FAKETIME_LIBRARY.exists():
        missing.append(str(FAKETIME_LIBRARY))
    if missing:
        import os

        import pytest

        message = f"Kea lab tools missing: {missing} (scripts/install-system.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
