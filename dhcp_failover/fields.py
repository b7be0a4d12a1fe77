"""Field types shared by every part of the model: names, addresses and numbers that mean
exactly what they say, and text every output format carries unchanged."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# What each pattern allows, in the words an error message uses ("must be <this>"): every
# pattern of the model is written through ``allowing`` so that no message ever shows a regex.
ALLOWED_BY_PATTERN: dict[str, str] = {}


def allowing(pattern: str, allowed: str) -> str:
    """``pattern``, recorded with what it allows, for the inventory's error messages."""
    ALLOWED_BY_PATTERN[pattern] = allowed
    return pattern


# One pattern for every name that becomes a file name, a Terraform id, a stack name and a
# quoted dhcpd string: lower-case so that stack names are stable on case-insensitive disks.
SAFE_NAME = allowing(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$",
                     "2-40 characters of lower-case letters, digits and '-', starting with a letter and not ending with '-'")
# dhcpd `key` names are bare identifiers; `.` is allowed by dhcpd but not by SSM paths.
KEY_NAME = allowing(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$", "1-63 letters, digits, '_' and '-', starting with a letter")
# RFC 1123 host names: dot-separated labels of letters, digits and inner '-'. dhcpd reads a
# host declaration's name as bare dotted words, so an empty label (a..b) breaks the config.
DOMAIN_NAME = allowing(
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    "a host name: dot-separated labels of letters, digits and inner '-', like dhcp-a.example.com",
)
HOST_NAME = DOMAIN_NAME
# The failover peer name is a quoted dhcpd string, also shown in OMAPI and logs.
PEER_NAME = allowing(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
                     "1-63 letters, digits, '_', '.' and '-', starting with a letter or digit")
# Free text that travels into dhcpd.conf strings, cloud-init YAML, shell and Terraform: printable
# ASCII only, so every one of them carries it unchanged (no quotes or backslashes in a boot file).
BOOT_FILE = allowing(r'^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$',
                     "1-128 printable ASCII characters without '\"' or '\\'")
# Text inside a quoted server string (a class's vendor class, a custom text option).
QUOTABLE = allowing(r'^[\x20\x21\x23-\x5b\x5d-\x7e]{1,253}$',
                    "1-253 printable ASCII characters without '\"' or '\\'")
PRINTABLE_TEXT = allowing(r"^[\x20-\x7e]*$", "printable ASCII text on one line")
MAC = allowing(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$", "a MAC address: six hex pairs joined by ':', like 52:54:00:12:34:56")
HBA = allowing(r"^[0-9a-fA-F]{64}$", "64 hex digits (dhcpd's 32-byte hba bitmap)")
# Tag keys and values as AWS accepts them.
TAG_TEXT = allowing(r"^[\w .:/=+@-]*$", "letters, digits, spaces and _ . : / = + @ -")
# Debian package versions as apt pins them (upstream version, revision, epoch).
PACKAGE_VERSION = allowing(r"^[0-9][A-Za-z0-9.+~:-]*$", "a Debian package version, like 4.4.3-P1-2")
# A network interface's name on a router or a Linux relay (GigabitEthernet0/1, ge-0/0/1.0, eth1).
INTERFACE_NAME = allowing(r"^[A-Za-z0-9][A-Za-z0-9/:._-]{0,63}$",
                          "an interface name of 1-64 letters, digits and / : . _ -, like GigabitEthernet0/1 or eth1")
AWS_REGION = allowing(r"^[a-z]{2}(-[a-z]+)+-\d$", "an AWS region, like eu-west-1")


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
