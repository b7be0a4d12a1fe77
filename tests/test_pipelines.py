"""The example pipelines (examples/pipelines) pass real linters and run the same dhcp_failover
commands: the ones tests/test_rollout_moto.py runs against moto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.pipelines import (
    ACTIONLINT_CONFIG,
    GITHUB,
    GITLAB,
    dhcp_failover_commands,
    drift_command,
    keys_command,
    rollout_command,
)
from tests.support.tools import require

VENV_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = VENV_BIN / name
    return str(found) if found.exists() else require(name, "a dev package (Pipfile)")


def actionlint(workflow: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("actionlint"), "-no-color", "-config-file", str(ACTIONLINT_CONFIG), str(workflow)],
                          capture_output=True, text=True, timeout=120, check=False)


def gitlab_schema(pipeline: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(pipeline)],
                          capture_output=True, text=True, timeout=120, check=False)


def test_github_workflow_passes_actionlint(tmp_path: Path) -> None:
    result = actionlint(GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(GITHUB.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    assert "runs_on" in actionlint(broken).stdout  # the linter reads the file for real


def test_gitlab_ci_file_passes_gitlabs_schema(tmp_path: Path) -> None:
    result = gitlab_schema(GITLAB)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(GITLAB.read_text().replace("resource_group: dhcp-failover-rollout", "resource_group: [a, b]"))
    assert gitlab_schema(broken).returncode == 1


def test_both_pipelines_run_the_same_commands_and_lock_the_rollout() -> None:
    def checked(pipeline: Path) -> list[list[str]]:  # render's paths are the CI system's own
        return [c for c in dhcp_failover_commands(pipeline) if c[1] != "render"]

    assert checked(GITHUB) == checked(GITLAB)
    rollouts = ["validate", "render", "render", "rollout", "rollout", "rollout"]
    assert [c[1] for c in dhcp_failover_commands(GITHUB)] == rollouts
    assert [c[1] for c in dhcp_failover_commands(GITLAB)] == rollouts
    assert "--json" in rollout_command(GITHUB, plan_only=False)
    # Reviews and rollouts follow the change; the drift check covers the fleet, one shard a job.
    assert "--changed" in rollout_command(GITHUB, plan_only=True) and "--changed" in rollout_command(GITHUB, plan_only=False)
    assert drift_command(GITHUB)[-4:] == ["--drift", "--shard", "$SHARD", "--json"]
    github_drift = yaml.safe_load(GITHUB.read_text())["jobs"]["drift"]
    assert github_drift["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert github_drift["steps"][-2]["env"] == {"SHARD": "${{ matrix.shard }}/4"}
    gitlab_drift = yaml.safe_load(GITLAB.read_text())["drift"]
    assert gitlab_drift["parallel"] == 4 and gitlab_drift["script"][0] == 'export SHARD="$CI_NODE_INDEX/$CI_NODE_TOTAL"'
    # A runner keeps nothing between runs: secrets come from SSM (state from the inventory's S3
    # backend), never from a key store the CI system would have to hold.
    assert keys_command(GITHUB) == keys_command(GITLAB) == [
        "dhcp_failover", "keys", "--inventory", "sites.yaml", "--ssm"]
    assert rollout_command(GITHUB, plan_only=False)[-3:-1] == ["--omapi-key-from", "ssm"]
    for pipeline in (GITHUB, GITLAB):
        assert "dhcp-failover-keys" not in pipeline.read_text() and "DHCP_FAILOVER_KEYS" not in pipeline.read_text()
    github = yaml.safe_load(GITHUB.read_text())
    assert github["jobs"]["rollout"]["concurrency"] == {"group": "dhcp-failover-rollout", "cancel-in-progress": False}
    gitlab = yaml.safe_load(GITLAB.read_text())
    assert gitlab["rollout"]["resource_group"] == "dhcp-failover-rollout"
