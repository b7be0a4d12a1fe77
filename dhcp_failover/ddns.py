"""Dynamic DNS: the zones a pair updates when it hands out a lease, their DNS servers and the
TSIG keys that sign the updates. Pure model; the keys' secrets travel like the OMAPI key
(SSM SecureString, written by the bootstrap at boot), never through this model."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from .fields import KEY_NAME, Address, DomainName, Strict

MAX_ZONES = 64
MAX_KEYS = 8


class TsigAlgorithm(str, enum.Enum):
    """TSIG algorithms both dhcpd and BIND sign with (RFC 8945; dhcpd.conf(5) key statement)."""

    HMAC_SHA256 = "hmac-sha256"
    HMAC_SHA384 = "hmac-sha384"
    HMAC_SHA512 = "hmac-sha512"


class TsigKey(Strict):
    """A TSIG key the DNS servers accept updates with. Its secret is a site secret (``keys``)."""

    name: Annotated[str, Field(pattern=KEY_NAME)] = Field(description="The key's name, as the DNS servers know it.")
    algorithm: TsigAlgorithm = Field(default=TsigAlgorithm.HMAC_SHA256, description="The key's HMAC algorithm.")


class DdnsZone(Strict):
    """A forward or reverse (in-addr.arpa) zone and where its updates go."""

    name: DomainName = Field(description="The zone, e.g. example.com or 10.in-addr.arpa.")
    servers: Annotated[tuple[Address, ...], Field(min_length=1, max_length=2)] = Field(
        description="The zone's primary server, then optionally a secondary to try next."
    )
    key: Annotated[str, Field(pattern=KEY_NAME)] = Field(description="Name of the TSIG key in ddns.keys.")


class Ddns(Strict):
    """Register each lease's name (A) and address (PTR) in DNS, from both members."""

    domain_name: DomainName = Field(description="The forward domain clients' names go in (ddns-domainname).")
    keys: Annotated[tuple[TsigKey, ...], Field(min_length=1, max_length=MAX_KEYS)] = Field(
        description="The TSIG keys that sign the updates."
    )
    zones: Annotated[tuple[DdnsZone, ...], Field(min_length=1, max_length=MAX_ZONES)] = Field(
        description="The forward and reverse zones the members update."
    )

    def zone_servers(self) -> tuple[Address, ...]:
        """Every DNS server the members send updates to, once each, in inventory order."""
        return tuple(dict.fromkeys(server for zone in self.zones for server in zone.servers))
