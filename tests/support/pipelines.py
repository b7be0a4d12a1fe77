"""The dhcp_failover commands of the example pipelines (examples/pipelines), as the shell would
split them: the end-to-end rollout test runs exactly these (not a test module)."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.support.factories import REPO

PIPELINES = REPO / "examples" / "pipelines"
GITHUB = PIPELINES / "github-actions.yml"
GITLAB = PIPELINES / "gitlab-ci.yml"
ACTIONLINT_CONFIG = PIPELINES / "actionlint.yaml"
MARKER = "-m dhcp_failover "


def dhcp_failover_commands(pipeline: Path) -> list[list[str]]:
    """Each ``python -m dhcp_failover ...`` line: the words after ``-m``, up to a redirection."""
    commands = []
    for line in pipeline.read_text().splitlines():
        if MARKER not in line or line.lstrip().startswith("#") or "$(" in line:
            continue
        words = shlex.split(line.split(MARKER, 1)[1])
        commands.append(["dhcp_failover", *(words[:words.index(">")] if ">" in words else words)])
    return commands


def keys_command(pipeline: Path) -> list[str]:
    """The words of the keys command in the pipeline's ``eval "$(python -m dhcp_failover keys ...)"``
    lines, which must all be the same."""
    found = {line.split(MARKER, 1)[1].split(")", 1)[0] for line in pipeline.read_text().splitlines()
             if "eval " in line and f"{MARKER}keys " in line and not line.lstrip().startswith("#")}
    (inner,) = found
    return ["dhcp_failover", *shlex.split(inner)]


def rollout_command(pipeline: Path, *, plan_only: bool) -> list[str]:
    """The pipeline's one rollout command that plans only (or the one that applies)."""
    (found,) = [c for c in dhcp_failover_commands(pipeline)
                if c[1] == "rollout" and "--drift" not in c and ("--plan-only" in c) == plan_only]
    return found


def drift_command(pipeline: Path) -> list[str]:
    """The pipeline's scheduled drift check (one shard: ``$SHARD`` is K/N of the job matrix)."""
    (found,) = [c for c in dhcp_failover_commands(pipeline) if c[1] == "rollout" and "--drift" in c]
    return found
