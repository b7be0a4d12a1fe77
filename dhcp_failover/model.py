"""The typed inventory: what a DHCP failover service is, independent of any DHCP server's syntax.

ISC dhcpd and Kea render from this same model, so nothing here knows how a config file is
spelled; each server's own settings live in its backend (``backends/<server>/settings.py``). Field-level shape (types, ranges, names) is
checked here; rules that relate several fields live in ``checks``.
"""

from __future__ import annotations

import enum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator

from .backends.isc.settings import Omapi, Software
from .backends.kea.settings import KeaSettings
from .ddns import Ddns
from .dhcp_options import ClassName, ClientClass, OptionDefinition, Options, Pxe, SharedNetwork
from .dhcpv6 import Dhcpv6
from .fields import (
    AWS_REGION,
    BOOT_FILE,
    HBA,
    HOST_NAME,
    INTERFACE_NAME,
    MAC,
    PEER_NAME,
    PRINTABLE_TEXT,
    TAG_TEXT,
    Address,
    Bool,
    DomainName,
    Network,
    Port,
    SafeName,
    Seconds,
    Strict,
    allowing,
    reject_bool,
)
from .monitoring_model import Monitoring, MonitoringOff, MonitoringSection
from .releases import DEFAULT_RELEASE_BY_INVENTORY_VERSION, RELEASES, KeaPin, OsRelease, Release

AVAILABILITY_ZONE = allowing(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$", "an AWS availability zone, like eu-west-1a")
SUBNET_ID = allowing(r"^subnet-[0-9a-f]{8,17}$", "a subnet id: subnet- and 8-17 lower-case hex digits")
VPC_ID = allowing(r"^vpc-[0-9a-f]{8,17}$", "a VPC id: vpc- and 8-17 lower-case hex digits")
AMI_ID = allowing(r"^ami-[0-9a-f]{8,17}$", "an image id: ami- and 8-17 lower-case hex digits")
INSTANCE_TYPE = allowing(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", "an EC2 instance type, like t3.small")
KEY_PAIR_NAME = allowing(r"^[A-Za-z0-9 ._:/+=,@-]+$", "an EC2 key pair name: letters, digits, spaces and . _ : / + = , @ -")
KMS_KEY_ARN = allowing(
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+$",
    "a KMS key or alias ARN, like arn:aws:kms:eu-west-1:123456789012:key/NAME",
)

# Upper bounds on every list: far above any real inventory, low enough that every check (some
# compare pairs) finishes in well under a second on the largest input the loader accepts.
MAX_SITES = 500
MAX_MEMBERS = 8  # a pair has two; a few more still get the "exactly two" message
MAX_SUBNETS = 1000
MAX_RELAYS = 200
MAX_POOLS = 100
MAX_HOSTS = 5000
MAX_ADDRESSES = 16
MAX_ADMIN_NETWORKS = 50

# AWS refuses more tags on one resource, and tag keys that start with its reserved prefix.
MAX_TAGS = 50
RESERVED_TAG_PREFIX = "aws:"


def _no_reserved_tag_keys(tags: dict[str, str]) -> dict[str, str]:
    for key in tags:
        if key.lower().startswith(RESERVED_TAG_PREFIX):
            raise ValueError(f"tag key {key[:40]!r} starts with {RESERVED_TAG_PREFIX!r}, which AWS reserves for itself")
    if len(tags) > MAX_TAGS - 1:
        raise ValueError(f"has {len(tags)} tags; AWS allows {MAX_TAGS} per resource, one of them the Name tag")
    return tags


Tags = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=127, pattern=TAG_TEXT)],
        Annotated[str, Field(max_length=255, pattern=TAG_TEXT)],
    ],
    AfterValidator(_no_reserved_tag_keys),
]


class Role(str, enum.Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class ServerKind(str, enum.Enum):
    """The DHCP server software a site's pair runs."""

    ISC = "isc"
    KEA = "kea"


class Placement(Strict):
    """Where a member runs in AWS. Either an existing subnet (with its VPC) or an
    availability zone in which the site's own VPC gets a subnet for the member's network."""

    region: Annotated[str, Field(pattern=AWS_REGION)] = Field(description="The AWS region.")
    availability_zone: Annotated[str, Field(pattern=AVAILABILITY_ZONE)] | None = Field(
        default=None, description="A zone of the region: the site's own VPC gets a subnet there (not with subnet_id)."
    )
    subnet_id: Annotated[str, Field(pattern=SUBNET_ID)] | None = Field(
        default=None, description="An existing subnet for the member, with vpc_id (not with availability_zone)."
    )
    vpc_id: Annotated[str, Field(pattern=VPC_ID)] | None = Field(
        default=None, description="The VPC of subnet_id."
    )
    ami: Annotated[str, Field(pattern=AMI_ID)] = Field(description="The image the member boots.")
    instance_type: Annotated[str, Field(pattern=INSTANCE_TYPE)] = Field(
        default="t3.small", description="The EC2 instance type."
    )
    root_volume_gib: Annotated[int, Field(strict=True, ge=8, le=1024)] = Field(
        default=8, description="Size of the encrypted root volume in GiB."
    )


class Member(Strict):
    """One of the two DHCP servers of a failover pair."""

    name: SafeName = Field(description="Lower-case letters, digits and '-'; part of derived names (TF_VAR_, SSM).")
    role: Role = Field(description="A pair has one primary and one secondary.")
    address: Address = Field(description="The server's fixed address; relays point at it.")
    network: Network = Field(description="The server's own network (CIDR).")
    port: Port | None = Field(
        default=None,
        description="Failover port this member listens on (default 519 on the primary, 520 on the secondary).",
    )
    placement: Placement | None = Field(
        default=None, description="Where the member runs in AWS; without it the site is rendered but not deployed."
    )

    @property
    def failover_port(self) -> int:
        if self.port is not None:
            return self.port
        return 519 if self.role is Role.PRIMARY else 520


class Failover(Strict):
    """The pair's failover dialogue. Defaults are the ISC guide's values.

    mclt and split/hba are the primary's settings; the secondary learns them from the primary,
    so backends render them on the primary only.
    """

    peer_name: Annotated[str, Field(pattern=PEER_NAME)] | None = Field(
        default=None, description="Failover peer name (default: '<site>-failover')."
    )
    max_response_delay: Seconds = Field(
        default=60, description="As in the ISC guide (dhcpd's silent default is 20)."
    )
    max_unacked_updates: Annotated[int, Field(strict=True, ge=1, le=65535)] = Field(
        default=10, description="As in the ISC guide (dhcpd's silent default is 100)."
    )
    mclt: Seconds = Field(default=3600, description="Maximum client lead time; rendered on the primary only.")
    split: Annotated[int, Field(strict=True, ge=0, le=256)] | None = Field(
        default=None, description="Load-balancing split (128 when neither split nor hba is set); primary only."
    )
    hba: Annotated[str, Field(pattern=HBA)] | None = Field(
        default=None,
        description="32-byte hash bucket assignment as 64 hex digits (instead of split); primary only.",
    )
    load_balancing: Bool = Field(
        default=True, description="Set false to turn load balancing off (load balance max seconds 0)."
    )
    load_balance_max_seconds: Annotated[int, Field(strict=True, ge=0, le=255)] = Field(
        default=3,
        description="1 or more while load balancing is on: dhcpd silently disables balancing at 0; we make "
        "that explicit.",
    )
    auto_partner_down: Seconds | None = Field(default=None, description="Rendered when set (dhcpd.conf(5)).")
    max_lease_misbalance: Annotated[int, Field(strict=True, ge=0, le=100)] | None = Field(
        default=None, description="Percent; rendered when set."
    )
    max_lease_ownership: Annotated[int, Field(strict=True, ge=0, le=100)] | None = Field(
        default=None, description="Percent, below max_lease_misbalance; rendered when set."
    )
    min_balance: Seconds | None = Field(default=None, description="Rendered when set.")
    max_balance: Seconds | None = Field(default=None, description="Rendered when set.")

    @property
    def effective_split(self) -> int | None:
        """The split to use: the given one, or 128 when neither split nor hba is given."""
        if self.hba is not None:
            return self.split
        return 128 if self.split is None else self.split


class Pool(Strict):
    """A range of addresses the pair hands out; every pool names the failover peer and denies dynamic
    BOOTP clients."""

    start: Address = Field(description="First address of the range.")
    end: Address = Field(description="Last address of the range.")
    allow: Annotated[tuple[ClassName, ...], Field(max_length=16)] = Field(
        default=(), description="Only members of these classes get addresses here."
    )
    deny: Annotated[tuple[ClassName, ...], Field(max_length=16)] = Field(
        default=(), description="Members of these classes get no address here."
    )
    options: Options = Field(default=Options(), description="Options for the clients of this pool.")


class HostReservation(Strict):
    """A fixed address for one client, by MAC address."""

    name: Annotated[str, Field(max_length=63, pattern=HOST_NAME)] = Field(
        description="An RFC 1123 host name, unique in the site."
    )
    mac: Annotated[str, Field(pattern=MAC)] = Field(description="The client's hardware (MAC) address.")
    address: Address = Field(description="Inside the subnet; never a router, server or relay address.")
    options: Options = Field(default=Options(), description="Options for this host only.")


def _no_duplicates(values: tuple[Address, ...]) -> tuple[Address, ...]:
    if len(set(values)) != len(values):
        raise ValueError("lists an address twice")
    return values


AddressList = Annotated[tuple[Address, ...], Field(max_length=MAX_ADDRESSES), AfterValidator(_no_duplicates)]


class Subnet(Strict):
    """A client network the pair serves, with its options, pools and reservations."""

    network: Network = Field(description="The client network, /8 to /30.")
    routers: AddressList = Field(default=(), description="Option 3.")
    dns_servers: AddressList = Field(default=(), description="Option 6.")
    domain_name: DomainName | None = Field(default=None, description="Option 15.")
    ntp_servers: AddressList = Field(default=(), description="Option 42.")
    default_lease_time: Seconds = Field(default=600, description="Seconds, for a client that asks for no lease time.")
    max_lease_time: Seconds = Field(default=7200, description="Seconds: the longest lease a client may get.")
    next_server: Address | None = Field(default=None, description="PXE: TFTP server.")
    filename: Annotated[str, Field(pattern=BOOT_FILE)] | None = Field(
        default=None, description="PXE: boot file name."
    )
    options: Options = Field(default=Options(), description="Options for every client of the subnet.")
    pxe: Pxe | None = Field(default=None, description="Network boot by client architecture (instead of filename).")
    pools: Annotated[tuple[Pool, ...], Field(max_length=MAX_POOLS)] = Field(
        default=(), description="The ranges handed out (a subnet without pools serves only reservations)."
    )
    hosts: Annotated[tuple[HostReservation, ...], Field(max_length=MAX_HOSTS)] = Field(
        default=(), description="Fixed addresses by MAC address."
    )


class RelayedSubnet(Strict):
    """One subnet a relay serves: the interface it listens on there and its address (giaddr)."""

    subnet: Network = Field(description="One of the site's subnets.")
    interface: Annotated[str, Field(pattern=INTERFACE_NAME)] = Field(
        description="The relay's interface on that subnet."
    )
    giaddr: Address = Field(description="The relay's own address on that subnet.")


class Relay(Strict):
    """A DHCP relay (router or Linux dhcrelay) that forwards to both servers."""

    name: SafeName = Field(description="Lower-case letters, digits and '-'; names its render folder.")
    source_address: Address = Field(
        description="The address relayed packets come from (what the security groups admit)."
    )
    upstream_interface: Annotated[str, Field(pattern=INTERFACE_NAME)] | None = Field(
        default=None, description="Interface towards the servers (Linux dhcrelay -iu)."
    )
    serves: Annotated[tuple[RelayedSubnet, ...], Field(max_length=MAX_SUBNETS)] = Field(
        default=(), description="The subnets it forwards for (at least one)."
    )


class Clock(Strict):
    """Step 2 of the ISC guide: both members keep synchronized clocks."""

    # The Amazon Time Sync Service, reachable from every EC2 instance without internet access.
    ntp_servers: Annotated[tuple[Address | DomainName, ...], Field(min_length=1, max_length=MAX_ADDRESSES)] = Field(
        default=(IPv4Address("169.254.169.123"),), description="chrony's servers, addresses or names."
    )


class TunnelEndpoints(str, enum.Enum):
    """Where each member's end of the tunnel is reached."""

    ELASTIC_IP = "elastic-ip"
    PRIVATE = "private"


class WireGuard(Strict):
    """An encrypted, authenticated tunnel for the failover dialogue, which ISC dhcpd neither
    encrypts nor authenticates. The primary takes the tunnel network's first usable address."""

    network: Network = Field(
        default=IPv4Network("10.255.255.0/31"), description="Tunnel addressing: a /31 or /30."
    )
    listen_port: Port = Field(default=51820, description="UDP port of both ends of the tunnel.")
    mtu: Annotated[int, Field(strict=True, ge=1280, le=9000)] = Field(
        default=1420, description="MTU of the tunnel interface."
    )
    persistent_keepalive: Annotated[int, Field(strict=True, ge=0, le=65535)] = Field(
        default=25, description="Seconds between keepalives (0: off)."
    )
    key_version: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] = Field(
        default=1,
        description=(
            "Each member makes its own private key at first boot and keeps it on its disk. Bump this "
            "to rotate both: it is part of the user-data, so both instances are replaced."
        ),
    )
    public_key_timeout: Annotated[int, Field(strict=True, ge=1, le=86400)] = Field(
        default=900,
        description=(
            "Seconds a member's bootstrap waits for the partner's published public key before it "
            "fails; covers the partner being created after it on a first deploy."
        ),
    )
    endpoints: TunnelEndpoints = Field(
        default=TunnelEndpoints.ELASTIC_IP,
        description=(
            "elastic-ip: each member gets an Elastic IP and the partner reaches it there (an existing "
            "subnet must route to an internet gateway). private: the partner reaches the member's fixed "
            "address over networks you connected (VPC peering, Transit Gateway, VPN)."
        ),
    )

    def address(self, role: Role) -> IPv4Address:
        usable = [self.network.network_address, self.network.broadcast_address]
        if self.network.prefixlen == 30:
            usable = list(self.network.hosts())
        return usable[0] if role is Role.PRIMARY else usable[1]

    @staticmethod
    def interface(role: Role) -> str:
        # Distinct per role: wireguard-go's control sockets share one folder per machine.
        return f"wg-{role.value}"


class OperatorAccess(Strict):
    """How operators reach each member's OMAPI and shell without anything open to the internet.
    Off by default: a site gets no way in it did not ask for."""

    instance_connect: Bool = Field(
        default=False,
        description=(
            "An EC2 Instance Connect Endpoint in each VPC of the site's members: operators tunnel to a "
            "member's OMAPI port and SSH (22) with IAM credentials (docs/operator-access.md)."
        ),
    )
    ssh_key_pair: Annotated[str, Field(min_length=1, max_length=255, pattern=KEY_PAIR_NAME)] | None = (
        Field(
            default=None,
            description=(
                "Name of an existing EC2 key pair for the members' login user (admin), for SSH through the "
                "endpoint; needs instance_connect. Changing it replaces the instances. Default: none."
            ),
        )
    )


class Site(Strict):
    """One failover pair and everything it serves."""

    # Written out (the Python API's model_dump) under the inventory's own key names.
    model_config = ConfigDict(serialize_by_alias=True)

    name: SafeName = Field(description="Lower-case letters, digits and '-'; becomes stack names and folders.")
    server: ServerKind = Field(
        default=ServerKind.ISC, description="isc (ISC dhcpd failover, the default) or kea (Kea HA, see docs/kea.md)."
    )
    os: OsRelease = Field(
        default=OsRelease.DEBIAN_12,
        description="The members' Debian release; it decides the pinned packages and apt sources. Default: "
        "debian-12 in a version 1 inventory (and in the Python API), debian-13 in a version 2 inventory. "
        "Changing it replaces both instances.",
    )
    members: Annotated[tuple[Member, ...], Field(max_length=MAX_MEMBERS)] = Field(
        description="Exactly two: one primary, one secondary."
    )
    failover: Failover = Field(default=Failover(), description="The failover dialogue between the members.")
    kea: KeaSettings = Field(default_factory=KeaSettings, description="server: kea only: HA timers and control channel.")
    omapi: Omapi = Field(default=Omapi(), description="The control channel operators and the drill use.")
    clock: Clock = Field(default=Clock(), description="Synchronized clocks on both members.")
    software: Software = Field(default=Software(), description="Package versions on both members.")
    ping_check: Bool = Field(
        default=True, description="Ping an address before offering it (dhcpd's ping-check)."
    )
    subnets: Annotated[tuple[Subnet, ...], Field(max_length=MAX_SUBNETS)] = Field(
        default=(), description="The client networks the pair serves."
    )
    relays: Annotated[tuple[Relay, ...], Field(max_length=MAX_RELAYS)] = Field(
        default=(), description="The relays that forward the subnets' clients to both servers."
    )
    shared_networks: Annotated[tuple[SharedNetwork, ...], Field(max_length=MAX_SUBNETS)] = Field(
        default=(), description="Subnets that share one segment (one relay interface)."
    )
    classes: Annotated[tuple[ClientClass, ...], Field(max_length=64)] = Field(
        default=(), description="Client classes by what clients send; pools take allow/deny lists of them."
    )
    option_definitions: Annotated[tuple[OptionDefinition, ...], Field(max_length=64)] = Field(
        default=(), description="Options the typed fields do not cover, by code and type."
    )
    wireguard: WireGuard | None = Field(
        default=None, description="Run the failover dialogue through a WireGuard tunnel."
    )
    ddns: Ddns | None = Field(default=None, description="Register leases in DNS (A and PTR records).")
    wireguard_waiver: Annotated[str, Field(min_length=10, max_length=500, pattern=PRINTABLE_TEXT)] | None = Field(
        default=None,
        description="Why members in different regions may talk failover without a tunnel.",
    )
    vpc_cidr: Network | None = Field(
        default=None,
        description="CIDR of the VPC created for the site when members bring no subnet_id "
        "(default: the smallest network holding both members' networks).",
    )
    tags: Tags = Field(default={}, description="Tags for the site's resources, merged over the inventory's.")
    operator_access: OperatorAccess = Field(
        default=OperatorAccess(),
        description="How operators reach the members' OMAPI and SSH (off by default; docs/operator-access.md).",
    )
    state: StateBackend | None = Field(
        default=None, description="Where this site's Terraform state lives (default: the inventory's state)."
    )
    # Read as ``monitoring`` (the section when it is on) and ``monitoring_off_reason``: every
    # consumer asks "is it on?", and only the warning about unwatched pairs asks why it is off.
    monitoring_section: MonitoringSection | None = Field(
        default=None,
        alias="monitoring",
        description="Metrics, alarms, logs and a dashboard (see docs/monitoring.md); or {enabled: false, reason: ...} "
        "to say why nothing watches the pair.",
    )
    dhcpv6: Dhcpv6 | None = Field(
        default=None, description="server: kea only: DHCPv6 beside DHCPv4, in its own HA relationship (docs/dhcpv6.md)."
    )

    @model_validator(mode="before")
    @classmethod
    def _kea_never_pings(cls, data: Any) -> Any:
        # Kea 2.2 has no ping-check; an unset ping_check means "no" there (true is an input error).
        if isinstance(data, dict) and data.get("server") == ServerKind.KEA.value and "ping_check" not in data:
            return {**data, "ping_check": False}
        return data

    @property
    def placed(self) -> bool:
        """Whether the site runs in AWS (checks ensure both members have a placement, or none)."""
        return all(m.placement is not None for m in self.members)

    @property
    def monitoring(self) -> Monitoring | None:
        """The site's monitoring when it is on; None when absent or turned off."""
        section = self.monitoring_section
        return section if isinstance(section, Monitoring) else None

    @property
    def monitoring_off_reason(self) -> str | None:
        section = self.monitoring_section
        return section.reason if isinstance(section, MonitoringOff) else None

    @property
    def peer_name(self) -> str:
        return self.failover.peer_name or f"{self.name}-failover"

    @property
    def release(self) -> Release:
        return RELEASES[self.os]

    @property
    def isc_dhcp_server_version(self) -> str | None:
        """The isc-dhcp-server version both members install (None: the release has none)."""
        return self.software.isc_dhcp_server or self.release.isc_dhcp_server

    @property
    def kea_pin(self) -> KeaPin | None:
        """The Kea both members install: the pinned version, or the release's default (None: the
        release does not carry the pinned version; ``checks`` reports it)."""
        if self.kea.package_version is None:
            return self.release.default_kea
        return self.release.kea_pin(self.kea.package_version)

    def member(self, role: Role) -> Member:
        return next(m for m in self.members if m.role is role)

    @property
    def primary(self) -> Member:
        return self.member(Role.PRIMARY)

    @property
    def secondary(self) -> Member:
        return self.member(Role.SECONDARY)

    @property
    def cross_region(self) -> bool:
        regions = {m.placement.region for m in self.members if m.placement}
        return len(regions) > 1

    def failover_address(self, member: Member) -> IPv4Address:
        """Where the member's failover listener binds: the tunnel address when there is one."""
        return self.wireguard.address(member.role) if self.wireguard else member.address

    def partner_of(self, member: Member) -> Member:
        return self.secondary if member.role is Role.PRIMARY else self.primary


class Inventory(Strict):
    """The whole service: one or more sites, each a failover pair."""

    version: Annotated[Literal[1, 2], BeforeValidator(reject_bool)] = Field(
        default=1,
        description="The inventory format: 1 (sites without os run debian-12) or 2 (sites without os run debian-13).",
    )
    tags: Tags = Field(default={}, description="Tags for every resource (no key starting with aws:).")
    state: StateBackend = Field(
        default_factory=lambda: StateBackend(),  # noqa: PLW0108  (defined below this class)
        description="Where Terraform state lives, for every site that does not say otherwise.",
    )
    sites: Annotated[tuple[Site, ...], Field(min_length=1, max_length=MAX_SITES)] = Field(
        description="Each site is one failover pair."
    )

    @model_validator(mode="before")
    @classmethod
    def _release_by_version(cls, data: Any) -> Any:
        # A site that names no release keeps the one its inventory format was written for, so
        # that a newer dhcp-failover never replaces a deployed pair by itself.
        if not isinstance(data, dict) or not isinstance(data.get("sites"), list | tuple):
            return data
        version = data.get("version", 1)
        default = DEFAULT_RELEASE_BY_INVENTORY_VERSION.get(version) if type(version) is int else None
        if default is None:
            return data  # the version's own error says what to do
        sites = [
            {**site, "os": default.value} if isinstance(site, dict) and "os" not in site else site for site in data["sites"]
        ]
        return {**data, "sites": sites}

    def state_of(self, site: Site) -> StateBackend:
        return site.state if site.state is not None else self.state

    def site(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)


class BackendKind(str, enum.Enum):
    LOCAL = "local"
    S3 = "s3"


class StateLock(str, enum.Enum):
    """How Terraform keeps two writers of one state apart."""

    LOCKFILE = "lockfile"  # S3's own conditional writes (a .tflock object); Terraform >= 1.10
    DYNAMODB = "dynamodb"  # the older lock table


# DynamoDB table names.
TABLE_NAME = allowing(r"^[A-Za-z0-9_.-]{3,255}$", "a DynamoDB table name: 3-255 letters, digits, '_', '.' and '-'")
# An S3 key prefix: path segments of safe characters, no leading or trailing '/'.
KEY_PREFIX = allowing(
    r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$",
    "an S3 key prefix: '/'-separated segments of letters, digits and ! _ . * ' ( ) -, with no '/' at either end",
)


class StateBackend(Strict):
    """Where Terraform keeps the state of every stack: next to cdktf.json (``local``, the
    default), or in an S3 bucket with locking, so that pipeline runners share it."""

    backend: BackendKind = Field(
        default=BackendKind.LOCAL, description="local: terraform.<stack>.tfstate next to cdktf.json; s3: a bucket."
    )
    bucket: Annotated[str, Field(max_length=255)] | None = Field(
        default=None,
        description="s3: the (existing) bucket that holds the state; S3's naming rules are checked with the "
        "other rules, so that the error says which one.",
    )
    region: Annotated[str, Field(pattern=AWS_REGION)] | None = Field(
        default=None, description="s3: the bucket's region."
    )
    key_prefix: Annotated[str, Field(max_length=512, pattern=KEY_PREFIX)] = Field(
        default="dhcp-failover", description="s3: each stack's state is <key_prefix>/<stack>.tfstate."
    )
    encrypt: bool = Field(default=True, description="s3: server-side encryption of the state object.")
    kms_key_id: Annotated[str, Field(pattern=KMS_KEY_ARN)] | None = Field(
        default=None, description="s3: ARN of a KMS key for the state object (default: S3-managed keys)."
    )
    lock: StateLock = Field(
        default=StateLock.LOCKFILE,
        description="s3: lockfile (S3 conditional writes, Terraform >= 1.10) or dynamodb (needs dynamodb_table).",
    )
    dynamodb_table: Annotated[str, Field(pattern=TABLE_NAME)] | None = Field(
        default=None, description="s3 with lock: dynamodb: the lock table (partition key LockID, a string)."
    )

    def state_key(self, stack: str) -> str:
        return f"{self.key_prefix}/{stack}.tfstate"
