"""Real tools the tests drive: skip with a reason on a laptop without them, never in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def require(tool: str, why: str = "") -> str:
    """Path of ``tool``; skips the test when absent, but fails in CI where nothing may skip."""
    path = shutil.which(tool) or next(
        (f"{d}/{tool}" for d in ("/usr/sbin", "/sbin") if os.access(f"{d}/{tool}", os.X_OK)), None
    )
    if path:
        return path
    message = f"{tool} is not installed{': ' + why if why else ''} (scripts/install-system.sh installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_root(why: str) -> None:
    if os.geteuid() == 0:
        return
    if os.environ.get("CI"):
        pytest.fail(f"must run as root: {why}")
    pytest.skip(f"needs root: {why}")


def require_file(path: Path, what: str) -> Path:
    """``path``; skips the test when it is absent, but fails in CI (which lays shared/ beside the clone)."""
    if path.exists():
        return path
    message = f"{what} is not at {path}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
