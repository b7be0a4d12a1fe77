"""IPv6 in a ``netlab.Lab`` and the kea-dhcp6 side of a Kea member (``tests.lab.kea`` runs the
kea-dhcp4 side and the Control Agent from the same root folder). A member of a Kea 3.0 release
runs kea-dhcp6 from its Debian root, reached on kea-dhcp6's own control socket (no agent), and
makes its server DUID itself (in its data folder, read by ``server_duid_of``).

Namespaces start with IPv6 off in some containers and with duplicate address detection on,
which keeps a new address "tentative" (unusable) for about a second: ``enable_ipv6`` turns it
on and DAD off before any interface is made, so addresses work at once."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from dhcp_failover.backends.kea import control
from dhcp_failover.backends.kea.render import password_path
from dhcp_failover.backends.kea.render6 import DHCP6_CONF, LEASE_FILE6, dhcp6_config
from dhcp_failover.model import Member, Site
from dhcp_failover.operations import dhcp6_endpoint
from tests.lab.kea import KeaMember, with_environment
from tests.lab.netlab import Daemon, Lab, LabError

# Where kea-dhcp6 keeps the DUID it made (Kea 3.0 members), under its data folder.
SERVER_ID_FILE = "kea-dhcp6-serverid"


def enable_ipv6(lab: Lab, host: str, *, forwarding: bool = False) -> None:
    """IPv6 on, DAD off for every interface made afterwards (call before ``connect``)."""
    settings = ["net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
                "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
    if forwarding:
        settings.append("net.ipv6.conf.all.forwarding=1")
    lab.run(host, ["sysctl", "-q", "-w", *settings])


def add_address6(lab: Lab, host: str, ifname: str, cidr: str) -> None:
    lab.run(host, ["ip", "-6", "addr", "add", cidr, "dev", ifname, "nodad"])


def check_config6(lab: Lab, host: str, conf: Path, kea: KeaMember | None = None) -> None:
    """``kea-dhcp6 -t``, in ``host``'s namespace (it refuses an interface or address it cannot see);
    given the member ``kea``, the Kea of its release, which must not warn when it is a root's."""
    command = ["kea-dhcp6", "-t", str(conf)] if kea is None else with_environment(
        kea, kea.command("kea-dhcp6", "-t", str(conf)))
    result = lab.run(host, command, check=False)
    if result.returncode != 0:
        raise LabError(f"kea-dhcp6 -t {conf}: exit {result.returncode}: {result.stdout[-800:]}{result.stderr[-400:]}")
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if " WARN " in line]
    if kea is not None and kea.debian_root is not None and warnings:
        raise LabError(f"kea-dhcp6 -t {conf} warned: {warnings}")


def add_member_host6(lab: Lab, host: str, site: Site, member: Member) -> None:
    """A namespace whose interface is the one the member's kea-dhcp6.conf names, holding the
    member's fixed address (``kea-dhcp6 -t`` and the daemon insist on it)."""
    assert site.dhcpv6 is not None
    lab.add_host(host)
    enable_ipv6(lab, host)
    lab.run(host, ["ip", "link", "add", site.dhcpv6.interface, "type", "veth", "peer", "name", "peer0"])
    lab.run(host, ["ip", "link", "set", site.dhcpv6.interface, "up"])
    add_address6(lab, host, site.dhcpv6.interface, f"{site.dhcpv6.address_of(member.name)}/64")


def check_site6(lab: Lab, site: Site, folder: Path, debian_root: Path | None) -> None:
    """Both members' kea-dhcp6.conf pass ``kea-dhcp6 -t`` of the site's release (``debian_root``,
    or this machine's), each in a namespace whose interface has the member's fixed address (which
    -t insists on); a root's Kea gives no warning."""
    assert site.dhcpv6 is not None
    for member in site.members:
        host = f"{site.name[:6]}{member.role.value[0]}"
        add_member_host6(lab, host, site, member)
        root = folder / site.name / member.name
        for sub in ("run/kea", "var/lib/kea", "var/log/kea"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "run/kea").chmod(0o750)  # Kea 3.0 refuses a socket folder others may read
        # What the bootstrap writes from SSM; Kea 3.0's HTTP control socket opens it.
        Path(password_path(str(root))).parent.mkdir(parents=True, exist_ok=True)
        Path(password_path(str(root))).write_text("well-formed-check-password")
        conf = root / DHCP6_CONF.lstrip("/")
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(json.dumps(dhcp6_config(site, member, root=str(root))))
        kea = KeaMember(host, member, root, control.KeaEndpoint("", 0, ""), debian_root=debian_root)
        check_config6(lab, host, conf, kea)


@dataclass
class Kea6:
    """The v6 server of a lab member installed by ``tests.lab.kea.install_member``."""

    member: KeaMember
    endpoint: control.KeaEndpoint
    daemon: Daemon | None = field(default=None)

    @property
    def conf(self) -> Path:
        return self.member.root / DHCP6_CONF.lstrip("/")

    @property
    def lease_file(self) -> Path:
        return self.member.root / LEASE_FILE6.lstrip("/")


def v6_of(site: Site, kea: KeaMember) -> Kea6:
    """The member's kea-dhcp6, reached where operators reach it (``operations.dhcp6_endpoint``)."""
    return Kea6(kea, dhcp6_endpoint(site, kea.endpoint))


def start_dhcp6(lab: Lab, kea6: Kea6, timeout: float = 10.0) -> None:
    """Start kea-dhcp6 (on Kea 2.2 the member's agent must be running); return once it answers."""
    kea = kea6.member
    kea6.daemon = lab.spawn(kea.host, with_environment(kea, kea.command("kea-dhcp6", "-c", str(kea6.conf))),
                            lab.workdir / f"{kea.host}-kea-dhcp6.log")
    deadline = time.monotonic() + timeout
    while True:
        if not kea6.daemon.alive():
            raise LabError(f"kea-dhcp6 on {kea6.member.host} exited: {kea6.daemon.log_path.read_text()[-1500:]}")
        try:
            control.command(kea6.endpoint, "version-get", timeout=1.0)
            return
        except control.KeaControlError as exc:
            if time.monotonic() > deadline:
                raise LabError(f"{kea6.member.host}: kea-dhcp6 not answering after {timeout} s: {exc}") from None
        time.sleep(0.1)


def wait_for_states6(members: list[Kea6], wanted: set[str], timeout: float) -> float:
    """Seconds until every member's v6 relationship is in a neutral state of ``wanted``."""
    start = time.monotonic()
    last: list[str] = []
    while time.monotonic() - start < timeout:
        last = []
        for kea6 in members:
            try:
                last.append(control.read_ha_state(kea6.endpoint, timeout=1.0).local)
            except control.KeaControlError as exc:
                last.append(f"error: {exc}")
        if all(control.neutral(state).value in wanted for state in last):
            return time.monotonic() - start
        time.sleep(0.1)
    raise LabError(f"v6 states {last} not all in {sorted(wanted)} after {timeout} s")


def api_leases6(kea6: Kea6) -> dict[tuple[str, str], str]:
    """(type, address/prefix) -> client DUID, for every lease the member holds."""
    out = {}
    for lease in control.leases6(kea6.endpoint):
        kind = lease.get("type", "IA_NA")
        where = lease["ip-address"] + (f"/{lease['prefix-len']}" if kind == "IA_PD" else "")
        out[(kind, where)] = lease["duid"]
    return out


@dataclass(frozen=True)
class Lease6:
    """What one dhclient -6 exchange got: an address, a delegated prefix, and the server's DUID."""

    address: str | None
    prefix: str | None
    server_duid: str


def parse_dhclient6_leases(text: str) -> list[Lease6]:
    """The ``lease6 { ... }`` blocks of a dhclient -6 lease file."""
    leases = []
    for block in re.findall(r"^lease6 \{\n(.*?)^\}", text, flags=re.S | re.M):
        address = re.search(r"^\s*iaaddr (\S+) \{", block, flags=re.M)
        prefix = re.search(r"^\s*iaprefix (\S+) \{", block, flags=re.M)
        server = re.search(r"^\s*option dhcp6\.server-id (\S+);", block, flags=re.M)
        if server:
            # dhclient prints octets without leading zeros (0:2:0:0:9:bf:...): normalize to Kea's spelling.
            duid = ":".join(f"{int(octet, 16):02x}" for octet in server.group(1).split(":"))
            leases.append(Lease6(address.group(1) if address else None, prefix.group(1) if prefix else None, duid))
    return leases


def server_duid_of(kea6: Kea6) -> str:
    """The DUID a Kea 3.0 member made for itself (colon hex, as dhclient writes it), once started."""
    text = (kea6.member.lease_file.parent / SERVER_ID_FILE).read_text().strip().lower()
    return ":".join(f"{int(octet, 16):02x}" for octet in text.split(":"))


def duid_of(site: Site, member_name: str) -> str:
    """The DUID a member answers with (render6.server_duid), as dhclient writes it (colon hex)."""
    from dhcp_failover.backends.kea.render6 import ISC_ENTERPRISE_ID, server_duid

    member = next(m for m in site.members if m.name == member_name)
    raw = f"0002{ISC_ENTERPRISE_ID:08x}{server_duid(site, member)}"
    return ":".join(raw[i:i + 2] for i in range(0, len(raw), 2))
