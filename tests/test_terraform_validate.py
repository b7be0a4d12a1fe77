"""terraform init and validate on every stack of every example, offline via the provider mirror."""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.checkout import example_stacks
from tests.support.tfenv import require_provider_mirror, terraform, validate_many, write_cli_config

# Initialized and validated on their own too (backend block included, as cdktf deploys them);
# every other stack is validated as a module of one root (tfenv.validate_many).
ALONE = "minimal"


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
    """Every stack's result: all of them in one terraform, and the default example's stacks
    also alone, side by side."""
    require_provider_mirror()
    env = write_cli_config(tmp_path_factory.mktemp("tfcli"))
    root = tmp_path_factory.mktemp("validate")
    stacks = {(example, stack): synthesized_examples[example] / "stacks" / stack for example, stack in example_stacks()}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        alone = {}
        for (example, stack), folder in stacks.items():
            if example == ALONE:
                # A copy: init writes .terraform/ and a lock file; other tests read the synth as made.
                shutil.copytree(folder, root / "alone" / stack)
                alone[example, stack] = pool.submit(_init_and_validate, root / "alone" / stack, env)
        together = validate_many(stacks, root / "together", env)
        for key, job in alone.items():
            together[key] = together[key] or job.result()
    return together


def test_init_and_validate(example_stack: tuple[str, str], validation_failures: dict[tuple[str, str], str | None]) -> None:
    failure = validation_failures[example_stack]
    assert failure is None, failure


def test_a_stack_that_terraform_refuses_is_reported_against_that_stack(
    synthesized_examples: dict[str, Path], tmp_path: Path,
) -> None:
    """The batch is a real check: a stack with an unknown argument fails, and only that stack."""
    require_provider_mirror()
    (tmp_path / "tfcli").mkdir()
    env = write_cli_config(tmp_path / "tfcli")
    stacks = synthesized_examples["minimal"] / "stacks"
    broken = tmp_path / "broken"
    shutil.copytree(stacks / "hq-primary", broken)
    stack = json.loads((broken / "cdk.tf.json").read_text())
    (instance,) = stack["resource"]["aws_instance"].values()
    instance["no_such_argument"] = True
    (broken / "cdk.tf.json").write_text(json.dumps(stack))
    results = validate_many({"broken": broken, "shared": stacks / "hq-shared"}, tmp_path / "together", env)
    assert results["shared"] is None
    assert results["broken"] is not None and "no_such_argument" in results["broken"]
