#!/usr/bin/env bash
# Builds (or reuses) a Debian root per release the lab runs members of, with the packages
# dhcp_failover/releases.py pins, under /var/cache/dhcp-failover/roots/<release>-<digest>
# (tests/support/debian_roots.py). Needs root and debootstrap; about 3 minutes for trixie, then
# nothing while the pins stay the same.
#   scripts/build-debian-root.sh [debian-13 ...] [--print-path]
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
if [ "${1:-}" != "--print-path" ] && ! command -v debootstrap >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: debootstrap is not installed; run as root or install it yourself" >&2
    exit 2
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
exec .venv/bin/python -m tests.support.debian_roots "$@"
