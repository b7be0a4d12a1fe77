"""The Debian releases a member can run, and what each one carries: pure data, no rendering.

A site's ``os`` picks one. Each release names its apt suites and, per DHCP server, the package
versions this tool pins (read from Debian's repositories, Dec 2026). A pin is an exact Debian
version: a release that does not carry it cannot install it, so an unknown pin is an input error
rather than a boot failure. ``tests/support/debian_roots.py`` builds a root of each release with
these same pins, so the lab runs what a member installs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OsRelease(str, enum.Enum):
    """The member's operating system release."""

    DEBIAN_12 = "debian-12"
    DEBIAN_13 = "debian-13"


class KeaSeries(str, enum.Enum):
    """Kea lines whose configs differ in spelling or in how peers talk (docs/kea.md)."""

    KEA_2_2 = "2.2"  # HA peers through the Control Agent; client-class, only-if-required
    KEA_3_0 = "3.0"  # no Control Agent: the HA hook's own listener, kea-dhcp4's HTTP socket


@dataclass(frozen=True)
class KeaPin:
    """One Kea version a release carries: its Debian version, the suite it comes from (None: the
    release itself) and the series that decides how configs are spelled."""

    version: str
    series: KeaSeries
    suite: str | None = None


@dataclass(frozen=True)
class Release:
    name: OsRelease
    codename: str
    # Debian's ISC DHCP packages (None: the release has none, as forky will not).
    isc_dhcp_server: str | None
    # The Kea versions it carries, the default first.
    kea: tuple[KeaPin, ...]
    # Versions of the tools the bootstrap and cloud-init themselves rely on.
    cloud_init: str
    awscli: str

    @property
    def default_kea(self) -> KeaPin:
        return self.kea[0]

    def kea_pin(self, version: str) -> KeaPin | None:
        return next((pin for pin in self.kea if pin.version == version), None)

    @property
    def backports(self) -> str:
        return f"{self.codename}-backports"


RELEASES: dict[OsRelease, Release] = {
    OsRelease.DEBIAN_12: Release(
        OsRelease.DEBIAN_12,
        "bookworm",
        isc_dhcp_server="4.4.3-P1-2",
        kea=(KeaPin("2.2.0-6", KeaSeries.KEA_2_2),),
        cloud_init="22.4.2-1+deb12u3",
        awscli="2.9.19-1",
    ),
    OsRelease.DEBIAN_13: Release(
        OsRelease.DEBIAN_13,
        "trixie",
        isc_dhcp_server="4.4.3-P1-8",
        # Kea 3.0 is ISC's long-term-support line (trixie-backports); trixie's own 2.6 is out of
        # ISC's support, and 2.2-style configs cannot run on it (see docs/kea.md).
        kea=(KeaPin("3.0.3-1~bpo13+1", KeaSeries.KEA_3_0, suite="trixie-backports"),),
        cloud_init="25.1.4-1+deb13u1",
        awscli="2.23.6-1",
    ),
}

# An inventory's format version decides the release of a site that does not name one, so that
# upgrading this tool never changes what a deployed pair runs: version 1 inventories were
# written when every member ran Debian 12.
DEFAULT_RELEASE_BY_INVENTORY_VERSION: dict[int, OsRelease] = {1: OsRelease.DEBIAN_12, 2: OsRelease.DEBIAN_13}

# Kea's packages, whatever the version: apt must take all of them from one suite, or a backported
# kea-dhcp4-server would depend on a kea-common apt cannot pick.
KEA_PACKAGE_GLOB = "kea-* libkea-*"


def release(name: OsRelease) -> Release:
    return RELEASES[name]


def kea_apt_preferences(pin: KeaPin) -> str | None:
    """An apt preferences file that takes every Kea package from the pin's suite (None when
    the pin comes from the release itself)."""
    if pin.suite is None:
        return None
    return f"Package: {KEA_PACKAGE_GLOB}\nPin: release n={pin.suite}\nPin-Priority: 990\n"
