"""Field types shared by every part of the model: names, addresses and numbers that mean
exactly what they say, and text every output format carries unchanged."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# One pattern for every name that becomes a file name, a Terraform id, a stack name and a
# quoted dhcpd string: lower-case so that stack names are stable on case-insensitive disks.
SAFE_NAME = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
# dhcpd `key` names are bare identifiers; `.` is allowed by dhcpd but not by SSM paths.
KEY_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
# RFC 1123 host names: dot-separated labels of letters, digits and inner '-'. dhcpd reads a
# host declaration's name as bare dotted words, so an empty label (a..b) breaks the config.
DOMAIN_NAME = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
HOST_NAME = DOMAIN_NAME
# The failover peer name is a quoted dhcpd string, also shown in OMAPI and logs.
PEER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
# Free text that travels into dhcpd.conf strings, cloud-init YAML, shell and Terraform: printable
# ASCII only, so every one of them carries it unchanged (no quotes or backslashes in a boot file).
BOOT_FILE = r'^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$'
# Text inside a quoted server string (a class's vendor class, a custom text option).
QUOTABLE = r'^[\x20\x21\x23-\x5b\x5d-\x7e]{1,253}$'
PRINTABLE_TEXT = r"^[\x20-\x7e]*$"
MAC = r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$"
HBA = r"^[0-9a-fA-F]{64}$"
# Tag keys and values as AWS accepts them.
TAG_TEXT = r"^[\w .:/=+@-]*$"


def require_text(value: object) -> object:
    """Addresses and networks are written as text: YAML's 167772161 is not 10.0.0.1."""
    if isinstance(value, (bool, int, float)):
        raise ValueError("must be written as text, like 10.0.0.1 or 10.0.0.0/24")
    return value


def reject_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be the number 1 or 2")
    return value


# Integers and booleans are exactly that: YAML's true is not the port 1 (strict=True).
Int = Annotated[int, Field(strict=True)]
Bool = Annotated[bool, Field(strict=True)]
Address = Annotated[IPv4Address, BeforeValidator(require_text)]
Network = Annotated[IPv4Network, BeforeValidator(require_text)]
DomainName = Annotated[str, Field(max_length=253, pattern=DOMAIN_NAME)]
SafeName = Annotated[str, Field(pattern=SAFE_NAME)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Seconds = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
BootFile = Annotated[str, Field(pattern=BOOT_FILE)]
Quotable = Annotated[str, Field(pattern=QUOTABLE)]


class Strict(BaseModel):
    """Base for every inventory object: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
