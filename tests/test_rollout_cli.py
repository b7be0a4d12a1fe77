"""The rollout command's input checks and its plan reading, without AWS (the real rollouts are in
test_rollout_moto.py): bad input is one error line, exit 2, and nothing synthesized or run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.app import ENDPOINT_ENV, SITES_ENV
from dhcp_failover.config_diff import mask_secrets, member_config_diff
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Role
from dhcp_failover.rollout import (
    CONFIG_DIFF_BUDGET,
    NotPlanned,
    RolloutInputError,
    RolloutReport,
    SiteReport,
    StackPlan,
    describe_plan,
    plan_markdown,
    stack_folders,
)
from dhcp_failover.terraform import first_error, parse_plan
from tests.support.checkout import INVENTORY_ENV, placed_site
from tests.support.factories import REPO, inventory_data, write_inventory

TERRAFORM_DIR = "/usr/local/bin"


def rollout(cwd: Path, *args: str, path: str | None = None,
            sites_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (INVENTORY_ENV, ENDPOINT_ENV, SITES_ENV, "CDKTF_OUTDIR")}
    env["PYTHONPATH"] = str(REPO)
    if sites_env is not None:
        env[SITES_ENV] = sites_env
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "dhcp_failover", "rollout", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


BAD_INPUTS = {
    "unknown site": (["--sites", "lab,nosuch"], None, "--sites names site 'nosuch', which the inventory does not have"),
    # A pipeline's empty $SITES: never "every site".
    "empty sites": (["--sites", ""], None, "--sites names no site; give one or more, comma-separated (placed sites: lab)"),
    "blank sites": (["--sites", "  "], None, "--sites names no site"),
    "sites of commas only": (["--sites", " , ,"], None, "--sites names no site"),
    "parallel 0": (["--parallel", "0"], None, "argument --parallel: 0 is not 1 or more"),
    "parallel not a number": (["--parallel", "two"], None, "argument --parallel: 'two' is not a whole number"),
    "no terraform": ([], "/usr/bin:/bin", "terraform is not on PATH"),
    "no key store for the gates": ([], None, "no key store for the gates"),
    "unknown member for the gate": (["--key-store", "keys.json", "--omapi-host", "nobody=127.0.0.1"], None,
                                    "--omapi-host/--omapi-via name 'nobody', which is no member in sites.yaml"),
    "gate timeout 0": (["--key-store", "keys.json", "--gate-timeout", "0"], None, "--gate-timeout 0: give a number"),
    "via instance-connect without the endpoint": (
        ["--key-store", "keys.json", "--via", "instance-connect"], None,
        "--via instance-connect: site 'lab' has no Instance Connect Endpoint"),
    "via instance-connect with omapi-host": (
        ["--key-store", "keys.json", "--via", "instance-connect", "--omapi-host", "lab-a=127.0.0.1"], None,
        "--via instance-connect picks each member's route itself"),
    "shard 0 of 4": (["--plan-only", "--shard", "0/4"], None,
                     "argument --shard: '0/4': K must be from 1 to N (4), e.g. 1/4"),
    "shard 5 of 4": (["--plan-only", "--shard", "5/4"], None,
                     "argument --shard: '5/4': K must be from 1 to N (4), e.g. 1/4"),
    "shard not K/N": (["--plan-only", "--shard", "half"], None, "argument --shard: 'half': give K/N"),
    "drift and changed": (["--drift", "--changed"], None, "--drift checks every stack against AWS; drop --changed"),
    "all stacks of a review": (["--plan-only", "--all-stacks"], None,
                               "--all-stacks is for an apply, which otherwise plans only changed stacks; drop it"),
    "all stacks and changed": (["--changed", "--all-stacks"], None, "drop it (or --changed)"),
    "base inventory without plan-only": (["--base-inventory", "sites.yaml", "--no-gate"], None,
                                         "--base-inventory is for the plan review: add --plan-only"),
    "base inventory with drift": (["--drift", "--base-inventory", "sites.yaml"], None,
                                  "--base-inventory is for the plan review: add --plan-only (not --drift)"),
    "base inventory missing": (["--plan-only", "--base-inventory", "base.yaml"], None,
                               "--base-inventory: base.yaml: no such inventory file"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_nothing_synthesized(tmp_path: Path, case: str) -> None:
    args, path, message = BAD_INPUTS[case]
    write_inventory(tmp_path / "sites.yaml", inventory_data(placed_site("lab")))
    if "keys.json" in args:
        assert subprocess.run([sys.executable, "-m", "dhcp_failover", "keys", "--inventory", "sites.yaml",
                               "--key-store", "keys.json"], cwd=tmp_path, capture_output=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, check=False).returncode == 0
    result = rollout(tmp_path, "--inventory", "sites.yaml", *args, path=path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "cdktf.out").exists()
    assert not list(tmp_path.glob("*.tfstate"))


@pytest.mark.parametrize("value", ["", " ", ","])
def test_a_sites_variable_that_names_no_site_is_one_error_line_not_every_site(tmp_path: Path, value: str) -> None:
    write_inventory(tmp_path / "sites.yaml", inventory_data(placed_site("lab")))
    result = rollout(tmp_path, "--inventory", "sites.yaml", "--plan-only", sites_env=value)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [(f"error: ${SITES_ENV}={value!r} names no site; give one or more, "
                                           "comma-separated (placed sites: lab), or leave it out for every placed site")]
    assert result.stdout == "" and not (tmp_path / "cdktf.out").exists()


def test_a_stack_folder_missing_from_the_synth_is_refused(tmp_path: Path) -> None:
    for stack in ("hq-shared", "hq-secondary"):
        (tmp_path / "stacks" / stack).mkdir(parents=True)
        (tmp_path / "stacks" / stack / "cdk.tf.json").write_text("{}")
    with pytest.raises(RolloutInputError, match=r"stack hq-primary is missing from the synth; synthesize site hq"):
        stack_folders(tmp_path, ["hq"])


def _change(address: str, kind: str, actions: list[str], replace: list[list[str]] | None = None) -> dict[str, object]:
    change: dict[str, object] = {"actions": actions}
    if replace is not None:
        change["replace_paths"] = replace
    return {"address": address, "type": kind, "change": change}


def test_plan_review_counts_like_terraform_and_names_each_replacement_with_its_cause() -> None:
    """``terraform show -json`` of a plan: replacements count as an add and a destroy each, and
    a member's instance replacement is told in words with the attributes forcing it."""
    (site,) = inventory_from_data(inventory_data(placed_site("hq"))).sites
    shown = {"resource_changes": [
        _change("aws_instance.server", "aws_instance", ["delete", "create"], [["user_data"], ["ami"], ["user_data"]]),
        _change("aws_eip_association.eip", "aws_eip_association", ["create", "delete"], [["instance_id"]]),
        _change("aws_ssm_parameter.p", "aws_ssm_parameter", ["update"]),
        _change("data.aws_caller_identity.me", "aws_caller_identity", ["read"]),
        _change("aws_kms_key.k", "aws_kms_key", ["no-op"]),
    ]}
    plan = parse_plan(shown)
    assert (plan.adds, plan.updates, plan.destroys) == (2, 1, 2)
    review = describe_plan(site, "hq-secondary", plan)
    assert review.replacements == ("replaces secondary hq-b of site hq: user_data changed, ami changed",)
    assert describe_plan(site, "hq-primary", plan).replacements == (
        "replaces primary hq-a of site hq: user_data changed, ami changed",)
    assert not parse_plan({"resource_changes": []}).changes


def test_plan_review_counts_only_the_stacks_it_planned_and_names_each_one_it_could_not_with_why() -> None:
    waits = ("plans after `new-shared` is applied: it reads `new-shared`'s outputs from its state, and "
             "`new-shared` was never applied")
    new = SiteReport("new", status="planned", plans=[StackPlan("new", "new-shared", 41, 0, 0, ())],
                     not_planned=[NotPlanned("new-secondary", waits, "new-shared"),
                                  NotPlanned("new-primary", waits, "new-shared")])
    broken = SiteReport("old", status="failed", failure="old-shared: plan: terraform plan exited 1: boom",
                        not_planned=[NotPlanned("old-shared", "old-shared: plan: terraform plan exited 1: boom"),
                                     NotPlanned("old-secondary", "not planned: `old-shared` failed first"),
                                     NotPlanned("old-primary", "not planned: `old-shared` failed first")])
    report = RolloutReport(True, [new, broken], 1.0)
    markdown = plan_markdown(report)
    assert markdown.splitlines()[0] == ("### dhcp-failover rollout plan: 2 site(s), 1 of 1 stack(s) change, "
                                        "5 stack(s) not planned")
    assert "| new | `new-shared` | 41 | 0 | 0 |" in markdown
    assert f"- `new-secondary`: {waits}\n- `new-primary`: {waits}\n" in markdown
    assert ("**Could not plan:**\n\n- `old-shared`: old-shared: plan: terraform plan exited 1: boom\n"
            "- `old-secondary`: not planned: `old-shared` failed first\n"
            "- `old-primary`: not planned: `old-shared` failed first\n") in markdown
    shown = report.as_dict()
    assert (shown["stacks_planned"], shown["stacks_not_planned"]) == (1, 5)
    assert json.loads(json.dumps(shown))["sites"][0]["not_planned"][0] == {
        "stack": "new-secondary", "reason": waits, "waits_for": "new-shared"}


def test_a_replaced_members_config_diff_shows_its_changed_lines_and_never_a_secret() -> None:
    secret = "c2VjcmV0LXZhbHVlLWhlcmU"  # as keys --ssm would export it (and an operator pasted it)
    base = inventory_from_data(inventory_data(placed_site("hq")))
    changed = placed_site("hq")
    changed["subnets"][0]["domain_name"] = f"{secret.lower()}.example.org"
    changed["subnets"][1]["routers"] = ["10.77.2.2"]
    (site,) = inventory_from_data(inventory_data(changed)).sites
    environ = {"TF_VAR_hq_omapi_key": secret.lower(), "TF_VAR_hq_omapi_key_version": "1"}
    diff = member_config_diff(base, site, Role.SECONDARY, environ)
    assert (diff.member, diff.folder, diff.files_changed) == ("hq-b", "hq/hq-b", ("/etc/dhcp/dhcpd.conf",))
    assert "-  option routers 10.77.2.1;\n+  option routers 10.77.2.2;" in diff.diff
    assert secret.lower() not in diff.diff and '+  option domain-name "***.example.org";' in diff.diff
    report = RolloutReport(True, [SiteReport("hq", status="planned", plans=[
        StackPlan("hq", "hq-secondary", 2, 0, 2, ("replaces secondary hq-b of site hq: user_data changed",),
                  config_diffs=(diff,))])], 1.0)
    markdown = plan_markdown(report)
    assert ("<details><summary>secondary hq-b (`hq/hq-b`): 1 file(s) changed: /etc/dhcp/dhcpd.conf</summary>\n\n"
            "```diff\n--- base/hq/hq-b/etc/dhcp/dhcpd.conf\n+++ head/hq/hq-b/etc/dhcp/dhcpd.conf\n") in markdown
    assert secret.lower() not in markdown and secret.lower() not in json.dumps(report.as_dict())
    # A pull-request comment has a size limit: past the review's budget, members are named without their diff.
    many = replace(report.sites[0].plans[0], config_diffs=(diff,) * (CONFIG_DIFF_BUDGET // len(diff.diff) + 2))
    capped = plan_markdown(RolloutReport(True, [SiteReport("hq", status="planned", plans=[many])], 1.0))
    assert capped.count("```diff\n") == CONFIG_DIFF_BUDGET // len(diff.diff)
    assert capped.count("- secondary hq-b (`hq/hq-b`): 1 file(s) changed: /etc/dhcp/dhcpd.conf (diff left out: the "
                        f"review shows {CONFIG_DIFF_BUDGET} characters of diffs; `--json` has them all)") == 2
    # A site the base does not have: every file is new. A literal key (never rendered today) is hidden.
    new = member_config_diff(None, site, Role.PRIMARY, {})
    assert "--- /dev/null\n+++ head/hq/hq-a/etc/dhcp/dhcpd.conf" in new.diff
    assert mask_secrets('+  secret "bm90IGEgcmVhbCBrZXk=";', ()) == "+(a line that holds a secret: not shown)"
    assert mask_secrets('+  secret \\"$omapi_secret\\";', ()) == '+  secret \\"$omapi_secret\\";'


def test_terraform_errors_are_shown_as_their_first_error_line() -> None:
    output = ("\n╷\n│ Error: No value for required variable\n│ \n│   on cdk.tf.json line 848:\n"
              '│  848:     "hq_omapi_key": {\n│ \n'
              "│ The root module input variable \"hq_omapi_key\" is not set, and has no\n"
              "│ default value.\n╵\n")
    assert first_error(output) == ("No value for required variable: The root module input variable "
                                   '"hq_omapi_key" is not set, and has no default value.')
    assert first_error("just this\n") == "just this"


def test_terraform_finds_the_local_api_the_providers_were_synthesized_for(tmp_path: Path) -> None:
    from dhcp_failover.terraform import Terraform

    base = {"PATH": os.environ["PATH"], "TF_PLUGIN_CACHE_DIR": str(tmp_path), "AWS_ENDPOINT_URL": "http://elsewhere:1"}
    local = Terraform.from_environment({**base, ENDPOINT_ENV: "http://127.0.0.1:5123/"})
    assert local.env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5123"
    assert Terraform.from_environment(base).env["AWS_ENDPOINT_URL"] == "http://elsewhere:1"


# A stack that needs no provider download: terraform's built-in terraform_data, whose
# provisioner keeps an apply busy for as long as the test wants.
BUSY_STACK = {"resource": {"terraform_data": {"busy": {
    "input": "v1", "provisioner": [{"local-exec": {"command": "sleep 300"}}]}}}}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_interrupted_terraform_apply_stops_its_work_writes_state_and_unlocks(tmp_path: Path) -> None:
    """What SIGTERM to `rollout` does to each terraform it runs (rollout_command): one interrupt,
    terraform's own graceful stop. The apply's busy provisioner is gone with it, the lock is
    released, and nothing starts afterwards."""
    import threading
    import time

    from dhcp_failover.terraform import Terraform, TerraformInterrupted

    (tmp_path / "main.tf.json").write_text(json.dumps(BUSY_STACK))
    tf = Terraform.from_environment({**os.environ, "TF_PLUGIN_CACHE_DIR": str(tmp_path / "cache")})
    tf.init(tmp_path)
    tf.plan(tmp_path)
    failure: list[BaseException] = []
    apply = threading.Thread(target=lambda: _record(failure, lambda: tf.apply(tmp_path)))
    apply.start()
    deadline = time.monotonic() + 60
    sleeps: list[int] = []
    while not sleeps:  # the provisioner runs: terraform holds the state lock
        assert time.monotonic() < deadline, "the apply's provisioner never started"
        terraform_pids = [pid for pid in _children(os.getpid()) if "terraform" in Path(f"/proc/{pid}/comm").read_text()]
        sleeps = [child for pid in terraform_pids for child in _children(pid)
                  if Path(f"/proc/{child}/comm").read_text().strip() in ("sh", "sleep")]
        time.sleep(0.2)
    assert (tmp_path / ".terraform.tfstate.lock.info").exists()
    start = time.monotonic()
    (interrupted,) = tf.interrupt()
    apply.join(timeout=60)
    assert not apply.is_alive() and time.monotonic() - start < 30
    (error,) = failure
    assert isinstance(error, TerraformInterrupted) and str(error).startswith("terraform apply interrupted"), error
    assert not _alive(interrupted) and not any(_alive(pid) for pid in sleeps)
    assert not (tmp_path / ".terraform.tfstate.lock.info").exists()  # unlocked by terraform itself
    with pytest.raises(TerraformInterrupted, match="terraform plan not started: the rollout is stopping"):
        tf.plan(tmp_path)
    # The state is whole, and a new run can lock it at once.
    shown = subprocess.run(["terraform", "plan", "-lock-timeout=0", "-input=false", "-no-color"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0 and "1 to add" in shown.stdout, shown.stdout + shown.stderr


def _record(failures: list[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001  (the test inspects it)
        failures.append(exc)


def test_init_runs_again_only_when_what_it_reads_changed(tmp_path: Path) -> None:
    """A rerun's synth keeps each stack's .terraform: init is skipped for the same terraform block
    and CLI settings (its plan still works), and runs for a changed block or a lost plugin cache."""
    import shutil

    from dhcp_failover.terraform import INIT_MARKER, Terraform
    from tests.support.tfenv import require_provider_mirror, write_cli_config

    require_provider_mirror()
    folder, cache = tmp_path / "stack", tmp_path / "cache"
    folder.mkdir()
    stack: dict[str, Any] = {
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "output": {"answer": {"value": "42"}},
    }
    (folder / "cdk.tf.json").write_text(json.dumps(stack))
    tf = Terraform.from_environment({**write_cli_config(tmp_path), "TF_PLUGIN_CACHE_DIR": str(cache)})
    assert tf.init(folder) is True and (folder / INIT_MARKER).is_file()
    assert tf.init(folder) is False
    assert tf.plan(folder).outputs_change  # planned on what the first init left
    stack["terraform"]["required_version"] = ">= 1.10"
    (folder / "cdk.tf.json").write_text(json.dumps(stack))
    assert tf.init(folder) is True
    assert tf.init(folder) is False
    shutil.rmtree(cache)  # the provider links in .terraform now point nowhere
    cache.mkdir()
    assert tf.init(folder) is True


def test_shards_cover_every_site_exactly_once_as_evenly_as_whole_sites_allow() -> None:
    from dhcp_failover.shards import split

    for count in (8, 10, 12, 20, 500):
        sites = [f"site-{i:03d}" for i in range(count)]
        shard_of = split(sites, 4)
        assert sorted(shard_of) == sites and set(shard_of.values()) == {1, 2, 3, 4}
        loads = Counter(shard_of.values()).values()
        assert max(loads) == -(-count // 4), (count, sorted(loads))  # a plain hash of the name fell 4/3/1/0 for 8
    assert split(reversed(sites), 4) == shard_of  # the split follows the set of names, never their order


def test_a_site_added_to_the_fleet_moves_only_a_few_others_to_another_shard() -> None:
    from dhcp_failover.shards import split

    sites = [f"site-{i:03d}" for i in range(200)]
    before = split(sites, 4)
    for new in range(20):
        sites.append(f"new-{new}")
        after = split(sites, 4)
        moved = [site for site in before if before[site] != after[site]]
        assert len(moved) <= 5, moved  # dealt out round robin in hash order, 116 of 200 moved on average
        before = after


def test_a_shard_that_holds_no_selected_site_does_nothing(tmp_path: Path) -> None:
    from dhcp_failover.shards import split

    names = ["lab", "depot", "branch"]
    data = inventory_data(*(json.loads(json.dumps(placed_site(name)).replace('"10.77.', f'"10.{80 + i}.'))
                            for i, name in enumerate(names)))
    write_inventory(tmp_path / "sites.yaml", data)
    empty = next(i for i in range(1, 9) if i not in split(names, 8).values())
    result = rollout(tmp_path, "--inventory", "sites.yaml", "--plan-only", "--shard", f"{empty}/8", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sites"] == []
    assert f"note: shard {empty}/8 holds none of the selected sites; nothing to do" in result.stderr
    assert not (tmp_path / "cdktf.out").exists()


def test_the_apply_record_digest_follows_plain_variables_and_never_a_secret(tmp_path: Path) -> None:
    from dhcp_failover.apply_records import ApplyRecords, config_digest, place_of
    from dhcp_failover.aws import AwsApi

    stack = {"terraform": {"backend": {"local": {"path": "../../../terraform.hq-shared.tfstate"}}},
             "variable": {"hq_omapi_key": {"sensitive": True, "ephemeral": True, "type": "string"},
                          "hq_omapi_key_version": {"default": 1, "type": "number"}}}
    folder = tmp_path / "cdktf.out" / "stacks" / "hq-shared"
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(stack))
    base = config_digest(folder, {"TF_VAR_hq_omapi_key": "one", "TF_VAR_hq_omapi_key_version": "1"})
    assert config_digest(folder, {"TF_VAR_hq_omapi_key": "two", "TF_VAR_hq_omapi_key_version": "1"}) == base
    assert config_digest(folder, {"TF_VAR_hq_omapi_key": "two", "TF_VAR_hq_omapi_key_version": "2"}) != base
    place = place_of(folder, AwsApi())
    assert place is not None and place.describe() == str(tmp_path / "terraform.hq-shared.tfstate.dhcp-failover.json")
    records = ApplyRecords(AwsApi())
    assert records.read(folder) is None
    from dhcp_failover.apply_records import ApplyRecord

    records.write(folder, ApplyRecord().applied(base))
    record = records.read(folder)
    assert record is not None and record.config == base and record.drift_checked_at is None
    assert "one" not in Path(place.describe()).read_text()


def test_an_apply_record_of_s3_state_lives_beside_the_state_object(tmp_path: Path, moto_endpoint: str) -> None:
    """Against the session's local AWS API: any runner with the bucket reads what another wrote."""
    import boto3

    from dhcp_failover.apply_records import ApplyRecord, ApplyRecords, RecordError
    from dhcp_failover.aws import AwsApi

    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint, aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.create_bucket(Bucket="records-state", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    folder = tmp_path / "stacks" / "hq-shared"
    folder.mkdir(parents=True)
    backend = {"s3": {"bucket": "records-state", "key": "dhcp-failover/hq-shared.tfstate", "region": "eu-west-1"}}
    (folder / "cdk.tf.json").write_text(json.dumps({"terraform": {"backend": backend}}))
    writer, reader = ApplyRecords(AwsApi(moto_endpoint)), ApplyRecords(AwsApi(moto_endpoint))
    assert reader.read(folder) is None
    writer.write(folder, ApplyRecord().applied("abc").drift_checked(True))
    record = reader.read(folder)
    assert record is not None and record.config == "abc" and record.drift_found is True
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="records-state")["Contents"]]
    assert keys == ["dhcp-failover/hq-shared.tfstate.dhcp-failover.json"]
    assert reader.where(folder) == "s3://records-state/dhcp-failover/hq-shared.tfstate.dhcp-failover.json"
    backend["s3"]["bucket"] = "no-such-bucket"
    (folder / "cdk.tf.json").write_text(json.dumps({"terraform": {"backend": backend}}))
    with pytest.raises(RecordError, match=r"^s3://no-such-bucket/dhcp-failover/hq-shared.tfstate.dhcp-failover.json: "
                                          r"NoSuchBucket"):
        reader.write(folder, ApplyRecord())

