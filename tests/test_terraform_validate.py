"""terraform init and validate on every stack of every example, offline via the provider mirror."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.checkout import example_stacks
from tests.support.tfenv import require_provider_mirror, terraform, write_cli_config


def _init_and_validate(workdir: Path, env: dict[str, str]) -> str | None:
    """None when both succeed, else terraform's complaint."""
    try:
        terraform(["init", "-input=false", "-no-color"], workdir, env)
        result = terraform(["validate", "-no-color"], workdir, env)
    except AssertionError as exc:
        return str(exc)
    return None if "The configuration is valid" in result.stdout else result.stdout


@pytest.fixture(scope="session")
def validation_failures(
    synthesized_examples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], str | None]:
    """Every stack's result, run a few at a time (each terraform is ~3 s, mostly one core)."""
    require_provider_mirror()
    env = write_cli_config(tmp_path_factory.mktemp("tfcli"))
    root = tmp_path_factory.mktemp("validate")
    jobs = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for example, stack in example_stacks():
            # A copy: init writes .terraform/ and a lock file; other tests read the synth as made.
            workdir = root / example / "stacks" / stack
            shutil.copytree(synthesized_examples[example] / "stacks" / stack, workdir)
            jobs[example, stack] = pool.submit(_init_and_validate, workdir, env)
    return {key: job.result() for key, job in jobs.items()}


def test_init_and_validate(example_stack: tuple[str, str], validation_failures: dict[tuple[str, str], str | None]) -> None:
    failure = validation_failures[example_stack]
    assert failure is None, failure
