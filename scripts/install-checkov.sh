#!/usr/bin/env bash
# Installs checkov into its own venv, .venv-checkov at the repo root: checkov hard-pins boto3
# and packaging, which would fight the project's Pipfile if it shared .venv.
# Idempotent and quiet (-qq: the warnings of a machine's pip config are noise here): does
# nothing when the pinned version is already there.
set -euo pipefail

CHECKOV_VERSION=3.3.30

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv-checkov"
python="${PYTHON:-python3}"

installed="$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("checkov"))' 2>/dev/null || true)"
[ "$installed" = "$CHECKOV_VERSION" ] && exit 0

# One line, so a first run's silent minute is not taken for a hang.
echo "install-checkov: installing checkov $CHECKOV_VERSION into .venv-checkov (about a minute, once)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -qq --disable-pip-version-check "checkov==$CHECKOV_VERSION"
