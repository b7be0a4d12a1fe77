"""The typed inventory: what a DHCP failover service is, independent of any DHCP server's syntax.

ISC dhcpd is end-of-life; a Kea HA backend is meant to render from this same model later, so
nothing here knows how a config file is spelled. Field-level shape (types, ranges, names) is
checked here; rules that relate several fields live in ``checks``.
"""

from __future__ import annotations

import enum
from ipaddress import IPv4Address, IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# One pattern for every name that becomes a file name, a Terraform id, a stack name and a
# quoted dhcpd string: lower-case so that stack names are stable on case-insensitive disks.
SAFE_NAME = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
# dhcpd `key` names are bare identifiers; `.` is allowed by dhcpd but not by SSM paths.
KEY_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
# Host declarations and the peer name are quoted or bare dhcpd strings, and shown in OMAPI.
HOST_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
DOMAIN_NAME = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
# A boot file name goes inside a quoted dhcpd string: no quotes, backslashes or control chars.
BOOT_FILE = r'^[^"\\\x00-\x1f]{1,128}$'
MAC = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
HBA = r"^[0-9a-fA-F]{64}$"
# Tag keys and values as AWS accepts them.
TAG_TEXT = r"^[\w .:/=+@-]*$"

DomainName = Annotated[str, Field(max_length=253, pattern=DOMAIN_NAME)]
SafeName = Annotated[str, Field(pattern=SAFE_NAME)]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[int, Field(ge=1, le=2**31 - 1)]
Tags = dict[
    Annotated[str, Field(min_length=1, max_length=127, pattern=TAG_TEXT)],
    Annotated[str, Field(max_length=255, pattern=TAG_TEXT)],
]


class Strict(BaseModel):
    """Base for every inventory object: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Role(str, enum.Enum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class KeyAlgorithm(str, enum.Enum):
    """The HMAC algorithms ISC dhcpd knows for OMAPI keys (dhcpd.conf(5))."""

    HMAC_MD5 = "hmac-md5"
    HMAC_SHA1 = "hmac-sha1"
    HMAC_SHA224 = "hmac-sha224"
    HMAC_SHA256 = "hmac-sha256"
    HMAC_SHA384 = "hmac-sha384"
    HMAC_SHA512 = "hmac-sha512"


class Placement(Strict):
    """Where a member runs in AWS. Either an existing subnet (with its VPC) or an
    availability zone in which the site's own VPC gets a subnet for the member's network."""

    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    availability_zone: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")] | None = None
    subnet_id: Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")] | None = None
    vpc_id: Annotated[str, Field(pattern=r"^vpc-[0-9a-f]{8,17}$")] | None = None
    ami: Annotated[str, Field(pattern=r"^ami-[0-9a-f]{8,17}$")]
    instance_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")] = "t3.small"
    root_volume_gib: Annotated[int, Field(ge=8, le=1024)] = 8


class Member(Strict):
    """One of the two DHCP servers of a failover pair."""

    name: SafeName
    role: Role
    address: IPv4Address = Field(description="The server's fixed address; relays point at it.")
    network: IPv4Network = Field(description="The server's own network (CIDR).")
    port: Port | None = Field(
        default=None,
        description="Failover port this member listens on (default 519 on the primary, 520 on the secondary).",
    )
    placement: Placement | None = None

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

    peer_name: Annotated[str, Field(pattern=HOST_NAME)] | None = Field(
        default=None, description="Failover peer name (default: '<site>-failover')."
    )
    max_response_delay: Seconds = 60
    max_unacked_updates: Annotated[int, Field(ge=1, le=65535)] = 10
    mclt: Seconds = 3600
    split: Annotated[int, Field(ge=0, le=256)] | None = None
    hba: Annotated[str, Field(pattern=HBA)] | None = Field(
        default=None, description="32-byte hash bucket assignment as 64 hex digits (instead of split)."
    )
    load_balancing: bool = Field(
        default=True, description="Set false to turn load balancing off (load balance max seconds 0)."
    )
    load_balance_max_seconds: Annotated[int, Field(ge=0, le=255)] = 3
    auto_partner_down: Seconds | None = None
    max_lease_misbalance: Annotated[int, Field(ge=0, le=100)] | None = None
    max_lease_ownership: Annotated[int, Field(ge=0, le=100)] | None = None
    min_balance: Seconds | None = None
    max_balance: Seconds | None = None

    @property
    def effective_split(self) -> int | None:
        """The split to use: the given one, or 128 when neither split nor hba is given."""
        if self.hba is not None:
            return self.split
        return 128 if self.split is None else self.split


class Omapi(Strict):
    """The authenticated control channel (used by operators and the failover drill)."""

    port: Port = 7911
    key_name: Annotated[str, Field(pattern=KEY_NAME)] = "omapi_key"
    algorithm: KeyAlgorithm = KeyAlgorithm.HMAC_SHA256
    admin_networks: tuple[IPv4Network, ...] = Field(
        default=(), description="Networks allowed to reach OMAPI (none by default)."
    )


class Pool(Strict):
    start: IPv4Address
    end: IPv4Address


class HostReservation(Strict):
    name: Annotated[str, Field(pattern=HOST_NAME)]
    mac: Annotated[str, Field(pattern=MAC)]
    address: IPv4Address


def _no_duplicates(values: tuple[IPv4Address, ...]) -> tuple[IPv4Address, ...]:
    if len(set(values)) != len(values):
        raise ValueError("lists an address twice")
    return values


AddressList = Annotated[tuple[IPv4Address, ...], AfterValidator(_no_duplicates)]


class Subnet(Strict):
    """A client network the pair serves, with its options, pools and reservations."""

    network: IPv4Network
    routers: AddressList = ()
    dns_servers: AddressList = ()
    domain_name: DomainName | None = None
    ntp_servers: AddressList = ()
    default_lease_time: Seconds = 600
    max_lease_time: Seconds = 7200
    next_server: IPv4Address | None = Field(default=None, description="PXE: TFTP server.")
    filename: Annotated[str, Field(pattern=BOOT_FILE)] | None = Field(
        default=None, description="PXE: boot file name."
    )
    pools: tuple[Pool, ...] = ()
    hosts: tuple[HostReservation, ...] = ()


class RelayedSubnet(Strict):
    """One subnet a relay serves: the interface it listens on there and its address (giaddr)."""

    subnet: IPv4Network
    interface: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$")]
    giaddr: IPv4Address


class Relay(Strict):
    """A DHCP relay (router or Linux dhcrelay) that forwards to both servers."""

    name: SafeName
    source_address: IPv4Address = Field(
        description="The address relayed packets come from (what the security groups admit)."
    )
    upstream_interface: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$")] | None = Field(
        default=None, description="Interface towards the servers (Linux dhcrelay -iu)."
    )
    serves: tuple[RelayedSubnet, ...] = ()


class Clock(Strict):
    """Step 2 of the ISC guide: both members keep synchronized clocks."""

    # The Amazon Time Sync Service, reachable from every EC2 instance without internet access.
    ntp_servers: Annotated[tuple[IPv4Address | DomainName, ...], Field(min_length=1)] = (
        IPv4Address("169.254.169.123"),
    )


class TunnelEndpoints(str, enum.Enum):
    """Where each member's end of the tunnel is reached."""

    ELASTIC_IP = "elastic-ip"
    PRIVATE = "private"


class WireGuard(Strict):
    """An encrypted, authenticated tunnel for the failover dialogue, which ISC dhcpd neither
    encrypts nor authenticates. The primary takes the tunnel network's first usable address."""

    network: IPv4Network = Field(
        default=IPv4Network("10.255.255.0/31"), description="Tunnel addressing: a /31 or /30."
    )
    listen_port: Port = 51820
    mtu: Annotated[int, Field(ge=1280, le=9000)] = 1420
    persistent_keepalive: Annotated[int, Field(ge=0, le=65535)] = 25
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


class Software(Strict):
    """Package versions installed on both members (step 1 of the guide: the same dhcpd on both)."""

    isc_dhcp_server: Annotated[str, Field(pattern=r"^[0-9][A-Za-z0-9.+~:-]*$")] = "4.4.3-P1-2"


class Site(Strict):
    """One failover pair and everything it serves."""

    name: SafeName
    members: tuple[Member, ...]
    failover: Failover = Failover()
    omapi: Omapi = Omapi()
    clock: Clock = Clock()
    software: Software = Software()
    ping_check: bool = Field(
        default=True, description="Ping an address before offering it (dhcpd's ping-check)."
    )
    subnets: tuple[Subnet, ...] = ()
    relays: tuple[Relay, ...] = ()
    wireguard: WireGuard | None = Field(
        default=None, description="Run the failover dialogue through a WireGuard tunnel."
    )
    wireguard_waiver: Annotated[str, Field(min_length=10, max_length=500)] | None = Field(
        default=None,
        description="Why members in different regions may talk failover without a tunnel.",
    )
    vpc_cidr: IPv4Network | None = Field(
        default=None,
        description="CIDR of the VPC created for the site when members bring no subnet_id "
        "(default: the smallest network holding both members' networks).",
    )
    tags: Tags = {}
    state: StateBackend | None = Field(
        default=None, description="Where this site's Terraform state lives (default: the inventory's state)."
    )

    @property
    def peer_name(self) -> str:
        return self.failover.peer_name or f"{self.name}-failover"

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

    version: Literal[1] = 1
    tags: Tags = {}
    state: StateBackend = Field(
        default_factory=lambda: StateBackend(),
        description="Where Terraform state lives, for every site that does not say otherwise.",
    )
    sites: Annotated[tuple[Site, ...], Field(min_length=1)]

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
TABLE_NAME = r"^[A-Za-z0-9_.-]{3,255}$"
# An S3 key prefix: path segments of safe characters, no leading or trailing '/'.
KEY_PREFIX = r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$"


class StateBackend(Strict):
    """Where Terraform keeps the state of every stack: next to cdktf.json (``local``, the
    default), or in an S3 bucket with locking, so that pipeline runners share it."""

    backend: BackendKind = BackendKind.LOCAL
    bucket: Annotated[str, Field(max_length=255)] | None = Field(
        default=None,
        description="s3: the (existing) bucket that holds the state; S3's naming rules are checked with the "
        "other rules, so that the error says which one.",
    )
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] | None = Field(
        default=None, description="s3: the bucket's region."
    )
    key_prefix: Annotated[str, Field(max_length=512, pattern=KEY_PREFIX)] = Field(
        default="dhcp-failover", description="s3: each stack's state is <key_prefix>/<stack>.tfstate."
    )
    encrypt: bool = Field(default=True, description="s3: server-side encryption of the state object.")
    kms_key_id: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[A-Za-z0-9/_-]+$")] | None = Field(
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
