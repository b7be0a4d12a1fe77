"""The toolchain around cdktf works here: terraform validates a synth offline, checkov reads one.

One tiny stack serves both: an SG open to the world on port 22 is valid Terraform, so
``terraform validate`` must pass it and checkov must flag it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cdktf
import pytest

from tests.support import tfenv
from tests.support.tfenv import terraform, terraform_env  # noqa: F401  (terraform_env is a fixture)

SSH_OPEN_TO_WORLD = "CKV_AWS_24"


@pytest.fixture(scope="module")
def open_ssh_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cdk.tf.json`` of a provider and an inline-rule SG allowing 0.0.0.0/0 on port 22."""
    from dhcp_failover.constructs.aws_modules import provider, security_group

    folder = tmp_path_factory.mktemp("open-ssh")
    # An explicit outdir: Testing.app() without one leaves cdktf.outdir.* folders in /tmp.
    stack = cdktf.TerraformStack(cdktf.Testing.app(outdir=str(folder / "cdktf.out")), "toolchain")
    provider.AwsProvider(stack, "aws", region="eu-central-1")
    security_group.SecurityGroup(
        stack,
        "open_ssh",
        name="open-ssh",
        description="deliberately open to the world",
        ingress=[
            security_group.SecurityGroupIngress(
                protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"]
            )
        ],
    )
    stack_json = folder / "cdk.tf.json"
    stack_json.write_text(cdktf.Testing.synth(stack))
    return stack_json


def _check_ids(failed: list[dict[str, Any]]) -> set[str]:
    return {check["check_id"] for check in failed}


def test_terraform_init_and_validate_offline(
    open_ssh_stack: Path, terraform_env: dict[str, str]  # noqa: F811
) -> None:
    folder = open_ssh_stack.parent
    terraform(["init", "-input=false", "-no-color"], cwd=folder, env=terraform_env)
    result = terraform(["validate", "-json", "-no-color"], cwd=folder, env=terraform_env)
    assert json.loads(result.stdout)["valid"] is True


def test_checkov_flags_ssh_open_to_the_world(open_ssh_stack: Path) -> None:
    assert SSH_OPEN_TO_WORLD in _check_ids(tfenv.run_checkov(open_ssh_stack))


def test_checkov_misses_it_without_stripping_nulls(open_ssh_stack: Path) -> None:
    # Why run_checkov strips: cdktf's `"self": null` & co. make checkov skip the rule silently.
    assert '"self": null' in open_ssh_stack.read_text()
    assert SSH_OPEN_TO_WORLD not in _check_ids(tfenv.run_checkov(open_ssh_stack, strip=False))


def test_strip_nulls_drops_none_entries_at_every_depth() -> None:
    cdktf_like = {"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "self": None}], "tags": None}
    assert tfenv.strip_nulls(cdktf_like) == {"ingress": [{"cidr_blocks": ["0.0.0.0/0"]}]}


def _fake_mirror(root: Path) -> Path:
    mirror = root / "tools" / "tf-plugins"
    (mirror / "registry.terraform.io/hashicorp/aws" / tfenv.AWS_PROVIDER_VERSION
     / tfenv._terraform_platform()).mkdir(parents=True)
    return mirror


def test_mirror_is_found_below_the_folder_named_in_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _fake_mirror(tmp_path)
    monkeypatch.setenv(tfenv.MIRROR_ENV, str(tmp_path))
    assert tfenv.find_provider_mirror() == mirror


def test_env_naming_a_folder_without_mirror_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tfenv.MIRROR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=tfenv.MIRROR_ENV):
        tfenv.find_provider_mirror()


def test_cli_config_points_terraform_at_the_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = _fake_mirror(tmp_path)
    monkeypatch.setenv(tfenv.MIRROR_ENV, str(mirror))
    env = tfenv.write_cli_config(tmp_path)
    config = Path(env["TF_CLI_CONFIG_FILE"]).read_text()
    assert f'path    = "{mirror}"' in config
    assert env["TF_IN_AUTOMATION"] and env["CHECKPOINT_DISABLE"] == "1"
