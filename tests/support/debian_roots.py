"""A Debian root per supported release, with the packages a member pins, for the lab.

Members run the packages ``dhcp_failover.releases`` pins; this machine runs its own Debian's.
``build`` (``scripts/build-debian-root.sh``, called by ``make install-test``) debootstraps a
root of a release from this machine's Debian mirror and installs those pins in it; the lab then
runs a member's daemons inside it (``ip netns exec NS chroot ROOT ...``). A root is named after
a digest of its release, packages and pins, so a changed pin builds a new root and an unchanged
one is reused; it is built in a scratch folder and renamed when complete, never seen half-built.

``root_for`` finds the root for the tests: it skips with the command to run when the script has
not been run (a laptop), and fails in CI, where ``.ci/run`` always builds it first.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dhcp_failover.releases import RELEASES, OsRelease, Release, kea_apt_preferences

CACHE = Path(os.environ.get("DHCP_FAILOVER_ROOTS", "/var/cache/dhcp-failover/roots"))
# Bumped when the build steps change what a root holds, so that every cached root is rebuilt.
BUILD_FORMAT = 1
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
# This machine runs Debian 12 itself (scripts/install-system.sh installs its daemons), so the
# suite builds roots only of the releases it does not run.
LAB_RELEASES = (OsRelease.DEBIAN_13,)
# A policy-rc.d that refuses every service start: Debian's documented switch, so no package's
# maintainer script starts a daemon inside the root (chronyd or kea would reach the network).
POLICY_RC_D = "#!/bin/sh\nexit 101\n"
KEA_TOOLS = ("kea-dhcp4-server", "kea-dhcp6-server", "kea-ctrl-agent", "kea-admin", "kea-dhcp-ddns-server")
ISC_TOOLS = ("isc-dhcp-server", "isc-dhcp-relay", "isc-dhcp-client")
UNPINNED_TOOLS = ("iproute2", "curl", "ca-certificates")


@dataclass(frozen=True)
class RootSpec:
    release: Release
    packages: tuple[str, ...]  # apt-get install arguments, name=version where pinned
    preferences: str | None  # apt preferences that take Kea from its pin's suite

    @property
    def digest(self) -> str:
        text = json.dumps(
            {"format": BUILD_FORMAT, "release": self.release.codename, "packages": sorted(self.packages), "preferences": self.preferences},
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def path(self) -> Path:
        return CACHE / f"{self.release.name.value}-{self.digest}"

    @property
    def suites(self) -> tuple[str, ...]:
        extra = {pin.suite for pin in self.release.kea[:1] if pin.suite}
        return (self.release.codename, f"{self.release.codename}-updates", *sorted(extra))


def spec(name: OsRelease) -> RootSpec:
    """The packages of a lab root: the release's default Kea and its ISC DHCP, pinned, the tools
    the bootstrap and cloud-init use, pinned, and unpinned helpers."""
    release = RELEASES[name]
    kea = release.default_kea
    packages = [f"{package}={kea.version}" for package in KEA_TOOLS]
    if release.isc_dhcp_server is not None:
        packages += [f"{package}={release.isc_dhcp_server}" for package in ISC_TOOLS]
    packages += [f"cloud-init={release.cloud_init}", f"awscli={release.awscli}", *UNPINNED_TOOLS]
    return RootSpec(release, tuple(packages), kea_apt_preferences(kea))


def root_for(name: OsRelease) -> Path:
    """The built root of a release; skips (fails in CI) when it has not been built."""
    path = spec(name).path
    if (path / "usr/sbin/kea-dhcp4").exists():
        return path
    message = f"no {name.value} root at {path}: run scripts/build-debian-root.sh (make install-test does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def host_mirrors(sources: Path = HOST_SOURCES) -> tuple[str, str]:
    """This machine's Debian mirror and security mirror (the URIs of its deb822 sources)."""
    mirror, security = FALLBACK_MIRROR, FALLBACK_MIRROR + "-security"
    if sources.exists():
        for stanza in sources.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
            uri = fields.get("URIs", "").split()
            suites = fields.get("Suites", "")
            if not uri:
                continue
            if "-security" in suites:
                security = uri[0]
            else:
                mirror = uri[0]
    return os.environ.get("DEBIAN_MIRROR", mirror), security


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    # Two checkouts running make install-test at once build each root once.
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(*command: str) -> None:
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)


def _chroot(root: Path, *command: str) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    subprocess.run(["chroot", str(root), *command], check=True, stdin=subprocess.DEVNULL, env=env)


def _unmount_below(root: Path) -> None:
    # debootstrap mounts /proc and /sys inside the target; an interrupted run may leave them.
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)


def _sources(root_spec: RootSpec, mirror: str, security: str) -> str:
    codename = root_spec.release.codename
    return (
        f"Types: deb\nURIs: {mirror}\nSuites: {' '.join(root_spec.suites)}\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {security}\nSuites: {codename}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def build(name: OsRelease) -> Path:
    """The root of ``name``, built unless a root with the same pins exists."""
    root_spec = spec(name)
    with _locked():
        if root_spec.path.exists():
            return root_spec.path
        mirror, security = host_mirrors()
        scratch = CACHE / f".{root_spec.path.name}.building"
        _unmount_below(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            _run("debootstrap", "--variant=minbase", "--include=ca-certificates", root_spec.release.codename, str(scratch), mirror)
            policy = scratch / "usr/sbin/policy-rc.d"
            policy.write_text(POLICY_RC_D)
            policy.chmod(0o755)
            (scratch / "etc/apt/sources.list").unlink(missing_ok=True)
            (scratch / "etc/apt/sources.list.d/debian.sources").write_text(_sources(root_spec, mirror, security))
            if root_spec.preferences is not None:
                (scratch / "etc/apt/preferences.d/dhcp-failover-kea").write_text(root_spec.preferences)
            _chroot(scratch, "apt-get", "update", "-qq")
            _chroot(scratch, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *root_spec.packages)
            _chroot(scratch, "apt-get", "clean")
            (scratch / "etc/dhcp-failover-root.json").write_text(
                json.dumps({"release": name.value, "packages": list(root_spec.packages)}, indent=2) + "\n"
            )
        except BaseException:
            _unmount_below(scratch)
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        _unmount_below(scratch)
        scratch.rename(root_spec.path)
        # A stable name for readers who do not compute the digest (it follows the newest build).
        link = CACHE / name.value
        link.unlink(missing_ok=True)
        link.symlink_to(root_spec.path.name)
        return root_spec.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build (or reuse) a Debian root per release for the lab.")
    parser.add_argument("releases", nargs="*", help=f"any of {', '.join(r.value for r in OsRelease)} (default: the lab's)")
    parser.add_argument("--print-path", action="store_true", help="print each root's path without building")
    args = parser.parse_args(argv)
    known = {r.value: r for r in OsRelease}
    unknown = [r for r in args.releases if r not in known]
    if unknown:
        print(f"error: unknown release {unknown[0]!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    names = [known[r] for r in args.releases] or list(LAB_RELEASES)
    for name in names:
        if args.print_path:
            print(spec(name).path)
            continue
        if os.geteuid() != 0:
            print("error: building a Debian root needs root (debootstrap, chroot)", file=sys.stderr)
            return 2
        print(build(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())


# Inside a private mount namespace (gone with the process: nothing to unmount, and no other
# user of the root sees it), this machine's /tmp and /proc appear in the root under the same
# paths, so a daemon reads and writes the lab's files by the paths the configs name.
_ENTER_ROOT = 'mount --bind /tmp "$0/tmp" && mount --bind /proc "$0/proc" && exec chroot "$0" "$@"'


def in_root(root: Path, argv: list[str]) -> list[str]:
    """``argv`` run from ``root`` (call binaries by their full path: a wrapper of the same name
    first on PATH would be found again inside). Prefix it with ``ip netns exec NS`` to run it in
    a namespace; signals reach the daemon itself (every step execs)."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _ENTER_ROOT, str(root), *argv]
