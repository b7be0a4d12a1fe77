#!/usr/bin/env bash
# Installs the locked Python dependencies into .venv (pipenv, from the committed Pipfile.lock).
# Does nothing when .venv was already built from this very lock file.
set -euo pipefail

PIPENV_VERSION=2026.10.3

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

stamp=.venv/.dhcp-failover-lock.sha256
wanted="$(sha256sum Pipfile.lock | cut -d' ' -f1)"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && exit 0

# One line, so a first run's silent two minutes are not taken for a hang.
echo "install-python: installing the locked Python packages into .venv (pipenv, about two minutes, once per lockfile)" >&2
python="${PYTHON:-python3}"
if ! "$python" -m pipenv --version >/dev/null 2>&1; then
  "$python" -m pip install -qq --disable-pip-version-check "pipenv==$PIPENV_VERSION"
fi
PIPENV_VENV_IN_PROJECT=1 PIPENV_VERBOSITY=-1 "$python" -m pipenv install --dev --deploy --quiet
echo "$wanted" > "$stamp"
