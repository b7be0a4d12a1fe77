"""An ISC dhcpd site's own settings: the OMAPI control channel, its key algorithm and the
pinned isc-dhcp-server package.

Pure model (no rendering), like ``backends.kea.settings``: ``model.Site`` holds them and
``model`` re-exports the names. The failover settings stay in ``model.Failover``: Kea reads its
load_balancing and split too.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field

from ...fields import KEY_NAME, PACKAGE_VERSION, PRINTABLE_TEXT, Bool, Network, Port, Strict

MAX_ADMIN_NETWORKS = 50


class KeyAlgorithm(str, enum.Enum):
    """The HMAC algorithms ISC dhcpd knows for OMAPI keys (dhcpd.conf(5))."""

    HMAC_MD5 = "hmac-md5"
    HMAC_SHA1 = "hmac-sha1"
    HMAC_SHA224 = "hmac-sha224"
    HMAC_SHA256 = "hmac-sha256"
    HMAC_SHA384 = "hmac-sha384"
    HMAC_SHA512 = "hmac-sha512"


class Omapi(Strict):
    """The authenticated control channel (used by operators and the failover drill)."""

    port: Port = Field(default=7911, description="OMAPI port of both members; never a failover port.")
    key_name: Annotated[str, Field(pattern=KEY_NAME)] = Field(
        default="omapi_key", description="The key's name in dhcpd.conf and omshell."
    )
    algorithm: KeyAlgorithm = Field(default=KeyAlgorithm.HMAC_SHA256, description="The key's HMAC algorithm.")
    admin_networks: Annotated[tuple[Network, ...], Field(max_length=MAX_ADMIN_NETWORKS)] = Field(
        default=(),
        description="Networks allowed to reach OMAPI (none by default): private (RFC 1918), /8 or smaller.",
    )
    allow_public: Bool = Field(
        default=False, description="Also admit public admin networks; needs allow_public_reason."
    )
    allow_public_reason: Annotated[str, Field(min_length=10, max_length=500, pattern=PRINTABLE_TEXT)] | None = Field(
        default=None, description="Why OMAPI, the pair's control channel, may be reached from public addresses."
    )


class Software(Strict):
    """Package versions installed on both members (step 1 of the guide: the same dhcpd on both)."""

    isc_dhcp_server: Annotated[str, Field(pattern=PACKAGE_VERSION)] | None = Field(
        default=None,
        description="The Debian package version, the same on both members (default: the os's pin, 4.4.3-P1-2 on "
        "debian-12, 4.4.3-P1-8 on debian-13); a version the os does not carry is an error.",
    )
