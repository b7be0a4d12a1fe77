"""The package installs with pip into a fresh venv outside the checkout: the `dhcp-failover`
console script validates and renders (templates ship inside the package), and the constructs
import. Dependencies come from the package index, as for a user."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.factories import REPO

SOURCES = ("pyproject.toml", "README.md", "dhcp_failover", "templates")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the package pip-installed from a copy of the sources; its bin folder."""
    root = tmp_path_factory.mktemp("package")
    source = root / "source"
    source.mkdir()
    for entry in SOURCES:
        if (REPO / entry).is_dir():
            shutil.copytree(REPO / entry, source / entry, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / entry, source / entry)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                             str(source)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv / "bin"


def test_the_console_script_validates_and_renders_from_any_folder(installed: Path, tmp_path: Path) -> None:
    example = tmp_path / "office.yaml"
    shutil.copy2(REPO / "examples" / "office.yaml", example)
    validate = subprocess.run([str(installed / "dhcp-failover"), "validate", "--inventory", str(example)],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert validate.returncode == 0 and validate.stdout.startswith("ok: "), validate.stderr
    render = subprocess.run([str(installed / "dhcp-failover"), "render", "--inventory", str(example), "--out", "out"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert render.returncode == 0, render.stderr
    rendered = (tmp_path / "out" / "office" / "office-dhcp-a" / "etc" / "dhcp" / "dhcpd.conf").read_text()
    golden = (REPO / "tests" / "golden" / "office" / "office" / "office-dhcp-a" / "etc" / "dhcp" / "dhcpd.conf").read_text()
    assert rendered == golden


def test_the_installed_package_is_typed_and_synthesizes_the_python_example(installed: Path, tmp_path: Path) -> None:
    probe = ("import importlib.resources, dhcp_failover;"
             "assert importlib.resources.files('dhcp_failover').joinpath('py.typed').is_file();"
             "assert 'site-packages' in dhcp_failover.__file__, dhcp_failover.__file__")
    env = {"PATH": "/usr/bin:/bin", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run([str(installed / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    app = shutil.copytree(REPO / "examples" / "python-app", tmp_path / "python-app")
    result = subprocess.run([str(installed / "python"), "main.py"], cwd=app, capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in (app / "cdktf.out" / "stacks").iterdir()) == [
        "office-primary", "office-secondary", "office-shared"]
