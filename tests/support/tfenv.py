"""Test helpers that drive terraform and checkov on synthesized cdktf output (not a test module).

Offline machines carry the hashicorp/aws provider in a filesystem mirror somewhere on disk; it
is found at run time, never written into the repo, and without one terraform downloads as usual.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dhcp_failover.terraform import GO_GC_PERCENT

# The provider version that cdktf-cdktf-provider-aws 20.1.0 pins exactly in required_providers:
# a mirror without it is no use.
AWS_PROVIDER_VERSION = "5.100.0"
MIRROR_ENV = "DHCP_FAILOVER_TF_MIRROR"
REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"

# Where images and people put mirrors: terraform's own implied mirror folders live below
# these too. Each root is searched two folders deep, never the whole disk.
_SEARCH_ROOTS = ("/opt", "/usr/share", "/usr/local/share", "~/.terraform.d", "~/.local/share")
_SEARCH_DEPTH = 2
_TERRAFORM_TIMEOUT_S = 600
_CHECKOV_TIMEOUT_S = 300
K = TypeVar("K")


def _terraform_platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{platform.system().lower()}_{arch}"


def _is_mirror(folder: Path) -> bool:
    aws = folder / "registry.terraform.io/hashicorp/aws"
    target = _terraform_platform()
    # Mirrors come unpacked (a folder per version and platform) or packed (a zip per both).
    return (aws / AWS_PROVIDER_VERSION / target).is_dir() or (
        aws / f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_{target}.zip"
    ).is_file()


def _mirror_below(root: Path) -> Path | None:
    for depth in range(_SEARCH_DEPTH + 1):
        pattern = "/".join(["*"] * depth + ["registry.terraform.io"])
        for registry in sorted(root.glob(pattern)):
            if _is_mirror(registry.parent):
                return registry.parent
    return None


def find_provider_mirror() -> Path | None:
    """The folder holding ``registry.terraform.io`` with hashicorp/aws for this platform, if any.

    ``$DHCP_FAILOVER_TF_MIRROR`` (a mirror or a folder above one) wins; when it is set but
    holds no mirror, that is an error rather than a silent download.
    """
    explicit = os.environ.get(MIRROR_ENV)
    if explicit:
        found = _mirror_below(Path(explicit).expanduser())
        if found is None:
            raise FileNotFoundError(
                f"${MIRROR_ENV}={explicit} holds no registry.terraform.io/hashicorp/aws/"
                f"{AWS_PROVIDER_VERSION} for {_terraform_platform()}"
            )
        return found
    for root in _SEARCH_ROOTS:
        found = _mirror_below(Path(root).expanduser())
        if found is not None:
            return found
    return None


def _cli_config_text(mirror: Path | None) -> str:
    if mirror is None:
        return "disable_checkpoint = true\n"
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        '  direct { exclude = ["registry.terraform.io/*/*"] }\n'
        "}\n"
        "disable_checkpoint = true\n"
    )


def write_cli_config(tmpdir: Path | str) -> dict[str, str]:
    """Write a terraform CLI config into ``tmpdir``; return an environment that uses it.

    The config is written even without a mirror: a preset TF_CLI_CONFIG_FILE may name a file
    that does not exist, and terraform then warns on every command.
    """
    config = Path(tmpdir) / "terraform.rc"
    config.write_text(_cli_config_text(find_provider_mirror()))
    return {
        # What rollout runs terraform with (dhcp_failover/terraform.py): ~25% less CPU per plan.
        "GOGC": GO_GC_PERCENT,
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }


def require_provider_mirror() -> Path:
    """The mirror, or skip the calling test; in CI (``$CI`` set) a missing mirror fails it."""
    mirror = find_provider_mirror()
    if mirror is not None:
        return mirror
    reason = (
        f"no terraform provider mirror with hashicorp/aws {AWS_PROVIDER_VERSION} found "
        f"(set ${MIRROR_ENV} or put one under {', '.join(_SEARCH_ROOTS)})"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def terraform(
    args: Sequence[str], cwd: Path | str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``terraform ARGS`` in ``cwd``; raise AssertionError with its output when it fails."""
    binary = shutil.which("terraform", path=env.get("PATH"))
    if binary is None:
        raise AssertionError("terraform is not on PATH")
    command = [binary, *args]
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=_TERRAFORM_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"`terraform {' '.join(args)}` in {cwd} exited {result.returncode}\n"
            f"--- stdout ---\n{_tail(result.stdout)}\n--- stderr ---\n{_tail(result.stderr)}"
        )
    return result


def strip_nulls(obj: Any) -> Any:
    """``obj`` without the dict entries whose value is None, at every depth.

    cdktf writes the unset fields of inline blocks (SG ingress rules, ...) as ``null``, and
    checkov then skips the checks that read those blocks: a false negative, not an error.
    """
    if isinstance(obj, dict):
        return {key: strip_nulls(value) for key, value in obj.items() if value is not None}
    if isinstance(obj, list):
        return [strip_nulls(item) for item in obj]
    return obj


def _failed_checks(report: Any) -> list[dict[str, Any]]:
    # One framework gives one report object; checkov gives a list when it ran several, and a
    # bare summary (no "results") when it found nothing to scan.
    reports = report if isinstance(report, list) else [report]
    return [
        check
        for one in reports
        for check in one.get("results", {}).get("failed_checks", [])
    ]


def run_checkov(stack_json_path: Path | str, *, strip: bool = True) -> list[dict[str, Any]]:
    """checkov's failed checks for a synthesized ``cdk.tf.json``, scanned null-stripped.

    ``strip=False`` scans the file as cdktf wrote it; it exists to show what that misses.
    """
    if not CHECKOV.exists():
        raise AssertionError(
            f"{CHECKOV.relative_to(REPO_ROOT)} missing: run scripts/install-checkov.sh"
        )
    stack = json.loads(Path(stack_json_path).read_text())
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        scanned = Path(scratch) / "cdk.tf.json"
        scanned.write_text(json.dumps(strip_nulls(stack) if strip else stack, indent=2))
        result = subprocess.run(
            [str(CHECKOV), "-f", str(scanned), "--framework", "terraform_json",
             "--compact", "--skip-download", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=_CHECKOV_TIMEOUT_S,
            check=False,
        )
    # checkov exits 1 when a check failed; anything else means it did not scan.
    if result.returncode not in (0, 1):
        raise AssertionError(
            f"checkov exited {result.returncode}\n{_tail(result.stdout)}\n{_tail(result.stderr)}"
        )
    return _failed_checks(json.loads(result.stdout))


def validate_many(stack_dirs: Mapping[K, Path], workdir: Path, env: dict[str, str]) -> dict[K, str | None]:
    """``terraform validate`` of many synthesized stacks in one terraform process: each stack is
    a module of one root in ``workdir`` (one init, one provider start, instead of one of each per
    stack). Required variables get a placeholder (validate checks their use, not their value);
    each error goes back to the stack whose file it names. None for a valid stack, else the
    errors. A module's backend block is ignored there: ``terraform init`` of a stack on its own
    checks that part."""
    workdir.mkdir(parents=True, exist_ok=True)
    modules: dict[str, dict[str, Any]] = {}
    names: dict[str, K] = {}
    for i, (key, folder) in enumerate(stack_dirs.items()):
        name = f"stack_{i:04d}"
        shutil.copytree(folder, workdir / name, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        variables = json.loads((folder / "cdk.tf.json").read_text()).get("variable", {})
        modules[name] = {"source": f"./{name}", **{v: "placeholder" for v, spec in variables.items() if "default" not in spec}}
        names[name] = key
    (workdir / "main.tf.json").write_text(json.dumps({"module": modules}, indent=2))
    terraform(["init", "-backend=false", "-input=false", "-no-color"], workdir, env)
    result = subprocess.run(["terraform", "validate", "-json", "-no-color"], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=_TERRAFORM_TIMEOUT_S, check=False)
    report = json.loads(result.stdout)
    errors: dict[K, list[str]] = {key: [] for key in stack_dirs}
    for diagnostic in report.get("diagnostics", []):
        if diagnostic.get("severity") != "error":
            continue
        text = f"{diagnostic.get('summary')}: {diagnostic.get('detail', '')}"
        module = str(diagnostic.get("range", {}).get("filename", "")).split("/", 1)[0]
        for key in [names[module]] if module in names else list(stack_dirs):
            errors[key].append(text)
    if not report.get("valid") and not any(errors.values()):
        raise AssertionError(f"terraform validate failed without an error diagnostic\n{_tail(result.stdout)}")
    return {key: "\n".join(found) or None for key, found in errors.items()}


def run_checkov_on_many(stack_json_paths: Mapping[K, Path]) -> dict[K, list[dict[str, Any]]]:
    """``run_checkov`` for many stacks in one checkov process (one start instead of one per
    stack: ~6 s for nine stacks instead of ~58 s). Each stack is scanned null-stripped in a
    folder of its own, and each failed check is given back to the stack whose file it names."""
    if not CHECKOV.exists():
        raise AssertionError(f"{CHECKOV.relative_to(REPO_ROOT)} missing: run scripts/install-checkov.sh")
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        folders = {}
        for i, (key, path) in enumerate(stack_json_paths.items()):
            folder = Path(scratch) / f"stack-{i:04d}"
            folder.mkdir()
            (folder / "cdk.tf.json").write_text(json.dumps(strip_nulls(json.loads(Path(path).read_text())), indent=2))
            folders[f"/{folder.name}/cdk.tf.json"] = key
        result = subprocess.run(
            [str(CHECKOV), "-d", scratch, "--framework", "terraform_json", "--compact", "--skip-download", "-o", "json"],
            capture_output=True, text=True, timeout=_CHECKOV_TIMEOUT_S * 4, check=False,
        )
    if result.returncode not in (0, 1):
        raise AssertionError(f"checkov exited {result.returncode}\n{_tail(result.stdout)}\n{_tail(result.stderr)}")
    failed: dict[K, list[dict[str, Any]]] = {key: [] for key in stack_json_paths}
    for check in _failed_checks(json.loads(result.stdout)):
        failed[folders[check["file_path"]]].append(check)
    return failed


@pytest.fixture
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment for :func:`terraform` whose CLI config uses the provider mirror."""
    require_provider_mirror()
    return write_cli_config(tmp_path_factory.mktemp("tfcli"))
