"""Remote state: the inventory's `state:` section, checked up front, and every stack of every
site keeping its state where it says, with the cross-stack reads following it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.checkout import Stacks
from tests.support.factories import REPO, inventory_data, write_inventory
from tests.support.messages import error_lines

S3 = {"backend": "s3", "bucket": "acme-dhcp-state", "region": "eu-west-1"}


def with_state(state: dict[str, Any], *sites: dict[str, Any]) -> dict[str, Any]:
    data = inventory_data(*sites)
    data["state"] = state
    return data


BAD_STATES: list[tuple[str, dict[str, Any], str]] = [
    ("s3-without-bucket", {"backend": "s3", "region": "eu-west-1"}, "state: backend s3 needs a bucket"),
    ("s3-without-region", {"backend": "s3", "bucket": "acme-dhcp-state"}, "state: backend s3 needs the bucket's region"),
    ("unknown-backend", {"backend": "gcs"}, "state.backend"),
    ("unknown-lock-kind", {**S3, "lock": "consul"}, "state.lock"),
    ("bucket-upper-case", {**S3, "bucket": "Acme_State"}, "state: bucket 'Acme_State' is not a bucket name S3 accepts"),
    ("bucket-too-short", {**S3, "bucket": "ab"}, "state: bucket 'ab' is 2 characters long"),
    ("bucket-two-periods", {**S3, "bucket": "acme..state"}, "has two periods in a row"),
    ("bucket-ip-address", {**S3, "bucket": "192.168.10.1"}, "is formatted as an IP address"),
    ("bucket-reserved-prefix", {**S3, "bucket": "xn--acme-state"}, "starts with 'xn--'"),
    ("bucket-reserved-suffix", {**S3, "bucket": "acme-state-s3alias"}, "ends with '-s3alias'"),
    ("dynamodb-without-table", {**S3, "lock": "dynamodb"}, "state: lock: dynamodb needs dynamodb_table"),
    ("table-with-lockfile", {**S3, "dynamodb_table": "locks"}, "dynamodb_table is used only with lock: dynamodb"),
    ("bucket-on-local-backend", {"bucket": "acme-dhcp-state"}, "state: bucket is a setting of the s3 backend"),
    ("misspelt-key", {**S3, "buckt": "x"}, "did you mean 'bucket'"),
    ("bad-key-prefix", {**S3, "key_prefix": "/leading/slash"}, "state.key_prefix"),
]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("state", "expected"), [c[1:] for c in BAD_STATES], ids=[c[0] for c in BAD_STATES])
def test_bad_state_section_is_one_error_line_naming_the_field(tmp_path: Path, state: dict[str, Any], expected: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", with_state(state))
    result = run_cli("validate", "--inventory", str(inventory))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and expected in line, line


def test_a_bad_site_override_names_the_site(tmp_path: Path, placed: Callable[..., dict[str, Any]]) -> None:
    site = placed("lab", state={"backend": "s3", "bucket": "acme-dhcp-state", "region": "eu-west-1", "lock": "dynamodb"})
    inventory = write_inventory(tmp_path / "inventory.yaml", inventory_data(site))
    result = run_cli("validate", "--inventory", str(inventory))
    assert result.returncode == 2
    assert 'site "lab": state: lock: dynamodb needs dynamodb_table' in result.stderr


def test_main_py_refuses_a_bad_state_section_and_writes_nothing(tmp_path: Path, placed: Callable[..., dict[str, Any]]) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", with_state({"backend": "s3"}, placed()))
    result = subprocess.run([sys.executable, str(REPO / "main.py"), "--inventory", str(inventory)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert any("state: backend s3 needs a bucket" in line for line in error_lines(result.stderr)), result.stderr
    assert not (tmp_path / "cdktf.out").exists()


def _backend(stack: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((kind, config),) = stack["terraform"]["backend"].items()
    return kind, config


def _remote_reads(stack: dict[str, Any]) -> dict[str, Any]:
    return stack.get("data", {}).get("terraform_remote_state", {})


def test_default_is_local_state_next_to_cdktf_json(synth_sites: Callable[..., Stacks]) -> None:
    stacks = synth_sites()
    for name, stack in stacks.items():
        assert _backend(stack) == ("local", {"path": f"../../../terraform.{name}.tfstate"})
    for read in _remote_reads(stacks["lab-primary"]).values():
        assert read["backend"] == "local"


def test_s3_state_gives_every_stack_its_own_key_with_lockfile_and_encryption(
    placed: Callable[..., dict[str, Any]], tmp_path: Path,
) -> None:
    from dhcp_failover.app import build_app, plan_synth
    from dhcp_failover.inventory import inventory_from_data

    data = with_state({**S3, "key_prefix": "network/dhcp"}, placed("lab"), placed("branch", region="us-east-1"))
    data["sites"][1]["members"][0].update(address="10.78.1.10", network="10.78.1.0/24")
    data["sites"][1]["members"][1].update(address="10.78.3.10", network="10.78.3.0/24")
    data["sites"][1]["subnets"] = [{"network": "10.78.1.0/24", "pools": [{"start": "10.78.1.100", "end": "10.78.1.150"}]}]
    data["sites"][1]["relays"] = []
    build_app(plan_synth(inventory_from_data(data), environ={}), outdir=str(tmp_path)).synth()
    stacks = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("stacks/*/cdk.tf.json")}

    keys = {}
    for name, stack in stacks.items():
        kind, config = _backend(stack)
        assert kind == "s3"
        assert config == {"bucket": "acme-dhcp-state", "key": f"network/dhcp/{name}.tfstate", "region": "eu-west-1",
                          "encrypt": True, "use_lockfile": True}
        keys[name] = config["key"]
    assert len(set(keys.values())) == len(stacks) == 6
    # Each member stack reads its own site's shared stack from the same bucket, at its key.
    for site in ("lab", "branch"):
        for role in ("primary", "secondary"):
            reads = _remote_reads(stacks[f"{site}-{role}"])
            assert reads, f"{site}-{role} reads nothing from the shared stack"
            for read in reads.values():
                assert read["backend"] == "s3"
                assert read["config"]["bucket"] == "acme-dhcp-state"
                assert read["config"]["key"] == f"network/dhcp/{site}-shared.tfstate"


def test_dynamodb_lock_kms_key_and_a_site_override(synth_sites: Callable[..., Stacks], placed: Callable[..., dict[str, Any]]) -> None:
    kms = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    override = {**S3, "bucket": "lab-state.example", "lock": "dynamodb", "dynamodb_table": "tf-locks", "kms_key_id": kms}
    stacks = synth_sites(placed("lab", state=override))
    for name, stack in stacks.items():
        kind, config = _backend(stack)
        assert (kind, config) == ("s3", {"bucket": "lab-state.example", "key": f"dhcp-failover/{name}.tfstate",
                                         "region": "eu-west-1", "encrypt": True, "kms_key_id": kms,
                                         "dynamodb_table": "tf-locks"})
    for read in _remote_reads(stacks["lab-secondary"]).values():
        assert read["config"]["bucket"] == "lab-state.example" and read["config"]["dynamodb_table"] == "tf-locks"


def test_a_local_aws_api_reaches_the_state_bucket_too(synth_sites: Callable[..., Stacks], placed: Callable[..., dict[str, Any]]) -> None:
    url = "http://127.0.0.1:5999"
    stacks = synth_sites(placed("lab", state=S3), env={"DHCP_FAILOVER_AWS_ENDPOINT": url})
    for stack in stacks.values():
        _, config = _backend(stack)
        assert config["endpoints"] == {"s3": url, "dynamodb": url, "iam": url, "sts": url}
        assert config["use_path_style"] is True
        assert config["skip_credentials_validation"] and config["skip_requesting_account_id"]
    for read in _remote_reads(stacks["lab-primary"]).values():
        assert read["config"]["endpoints"]["s3"] == url


def test_a_cdktf_app_of_your_own_passes_any_backend(tmp_path: Path, placed: Callable[..., dict[str, Any]]) -> None:
    """The pair adds no backend of its own: a user's S3Backend does not collide with ours
    ("There is already a Construct with name 'backend'"), and the member stacks read the shared
    stack from it."""
    import json

    import cdktf

    from dhcp_failover.constructs.pair import DhcpFailoverPair, DhcpFailoverPairProps
    from dhcp_failover.inventory import inventory_from_data

    (site,) = inventory_from_data(inventory_data(placed("lab"))).sites
    app = cdktf.App(outdir=str(tmp_path))
    pair = DhcpFailoverPair(app, "lab", props=DhcpFailoverPairProps(
        site=site,
        backend=lambda stack, name: cdktf.S3Backend(stack, bucket="my-own-bucket", key=f"ops/{name}", region="us-east-2"),
    ))
    app.synth()
    assert sorted(pair.backends) == ["lab-primary", "lab-secondary", "lab-shared"]
    primary = json.loads((tmp_path / "stacks" / "lab-primary" / "cdk.tf.json").read_text())
    assert primary["terraform"]["backend"] == {"s3": {"bucket": "my-own-bucket", "key": "ops/lab-primary", "region": "us-east-2"}}
    reads = _remote_reads(primary)
    assert reads and all(r["config"]["key"] == "ops/lab-shared" for r in reads.values())


@pytest.fixture(scope="module")
def s3_examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every example synthesized with its state in S3 (lock file; paris-like sites alike)."""
    import yaml

    from dhcp_failover.app import build_app, plan_synth
    from dhcp_failover.inventory import inventory_from_data
    from tests.support.factories import EXAMPLES

    root = tmp_path_factory.mktemp("s3-examples")
    outdirs = {}
    for path in EXAMPLES:
        data = yaml.safe_load(path.read_text())
        data["state"] = {**S3, "lock": "dynamodb", "dynamodb_table": "tf-locks"} if path.stem == "multi-site" else S3
        outdir = root / path.stem
        build_app(plan_synth(inventory_from_data(data), environ={}), outdir=str(outdir)).synth()
        outdirs[path.stem] = outdir
    return outdirs


def _without_state_wiring(stack: dict[str, Any]) -> dict[str, Any]:
    """A stack minus where its state lives: the backend block, the cross-stack state reads and
    cdktf's metadata naming the backend."""
    stripped = json.loads(json.dumps(stack))
    metadata = stripped.get("//", {}).get("metadata", {})
    metadata.pop("backend", None)
    metadata.pop("overrides", None)
    stripped.get("terraform", {}).pop("backend", None)
    stripped.get("data", {}).pop("terraform_remote_state", None)
    if not stripped.get("data", True):
        del stripped["data"]
    return stripped


# One site per lock kind (the only state wiring that differs between examples), all three stacks.
S3_REPRESENTATIVES = (("minimal", "hq"), ("multi-site", "london"))


def test_every_example_with_s3_state_differs_only_in_state_wiring(
    s3_examples: dict[str, Path], synthesized_examples: dict[str, Path],
) -> None:
    """So the local-state checkov and validate runs (test_checkov, test_terraform_validate) cover
    every resource of the S3 twins; only the wiring needs its own run (below)."""
    from tests.support.checkout import example_stacks

    for example, stack in example_stacks():
        s3 = json.loads((s3_examples[example] / "stacks" / stack / "cdk.tf.json").read_text())
        local = json.loads((synthesized_examples[example] / "stacks" / stack / "cdk.tf.json").read_text())
        assert _backend(s3)[0] == "s3" and _backend(local)[0] == "local", (example, stack)
        assert _without_state_wiring(s3) == _without_state_wiring(local), (example, stack)
        assert sorted(_remote_reads(s3)) == sorted(_remote_reads(local)), (example, stack)


def test_s3_state_wiring_passes_terraform_validate_and_checkov(
    s3_examples: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from dhcp_failover.constructs.naming import member_stack_name, shared_stack_name
    from dhcp_failover.model import Role
    from tests.support.checkov_waivers import WAIVERS, _kind, _resource_type
    from tests.support.tfenv import require_provider_mirror, run_checkov_on_many, validate_many, write_cli_config

    require_provider_mirror()
    env = write_cli_config(tmp_path_factory.mktemp("tfcli"))
    chosen = [(example, name) for example, site in S3_REPRESENTATIVES
              for name in (shared_stack_name(site), *(member_stack_name(site, role) for role in Role))]
    locks = {json.dumps(_backend(json.loads((s3_examples[e] / "stacks" / s / "cdk.tf.json").read_text()))[1].get(
        "use_lockfile")) for e, s in chosen}
    assert locks == {"true", "null"}  # a lock-file site and a DynamoDB site

    folders = {(example, stack): s3_examples[example] / "stacks" / stack for example, stack in chosen}
    # validate needs the providers, not the bucket: the batch inits with -backend=false.
    problems = [f"{e}/{s}: terraform validate: {failure}"
                for (e, s), failure in validate_many(folders, tmp_path_factory.mktemp("validate"), env).items() if failure]
    for (example, stack), checks in run_checkov_on_many({k: f / "cdk.tf.json" for k, f in folders.items()}).items():
        synthesized = json.loads((folders[example, stack] / "cdk.tf.json").read_text())
        problems += [f"{example}/{stack}: {c['check_id']} {c['resource']}" for c in checks
                     if (c["check_id"], _resource_type(c, synthesized), _kind(stack)) not in WAIVERS]
    assert problems == []
