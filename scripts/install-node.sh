#!/usr/bin/env bash
# Installs the node tooling (cdktf-cli, pinned exactly in package.json) from the committed
# package-lock.json. `npm ci` wipes and refills node_modules (~420 MB, ~25 s), so it runs only
# when node_modules is missing or was installed from a different lockfile.
# package.json denies node-pty's install script on purpose: the package ships its linux-x64
# binary prebuilt, and the script would try node-gyp or a download instead.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# The stamp records which lockfile node_modules came from; it lives inside node_modules so
# that `npm ci` (which deletes the folder) cannot leave a stale one behind.
stamp=node_modules/.dhcp-failover-lock.sha256
wanted="$(sha256sum package-lock.json | cut -d' ' -f1)"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && exit 0

# One line, so a first run's silent half-minute is not taken for a hang.
echo "install-node: installing cdktf-cli and its node packages into node_modules (npm ci, once per lockfile)" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$wanted" > "$stamp"
