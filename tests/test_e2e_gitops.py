"""GitOps end to end against a local AWS API: state in S3 with locking, and runners that agree.

One moto server (scripts/moto-server) holds the state bucket, a DynamoDB lock table and the
deploy. The inventory is two sites of examples/multi-site.yaml with `state: backend: s3`
(london locks with S3's lock file, paris overrides it with the DynamoDB table). Each runner
is a fresh copy of the checkout with an empty key store; it runs what a pipeline runs:
`keys --ssm` (exports), `python main.py`, then `terraform` per stack (driven directly).

In order: two runners apply the same stack at once and exactly one proceeds (for each lock
kind); runner A deploys each site's secondary, where the gate by hand (`status --wait normal
--allow-not-created`) must not pass a secondary that exists and does not answer beside a primary
not created yet, then each primary; runner B, fresh, takes A's secrets from SSM
and plans no change anywhere; the state objects in S3 hold no secret; a rotation by A is a
version bump that B adopts (value, version and the previous key) and again plans no change.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from dhcp_failover.app import ENDPOINT_ENV
from dhcp_failover.aws import PROVIDER_ENDPOINT_ENV, secret_region
from dhcp_failover.constructs.naming import member_stack_name, shared_stack_name
from dhcp_failover.inventory import load_inventory
from dhcp_failover.local_keys import KeyStore, default_path
from dhcp_failover.model import Role
from dhcp_failover.secret_names import SecretKind, site_secrets
from tests.support.checkout import copy_checkout
from tests.support.deploy import Stacks, run_python
from tests.support.factories import REPO
from tests.support.tfenv import require_provider_mirror, write_cli_config
from tests.support.tools import require

MOTO_AMI = "ami-1e749f67"  # in moto's bundled amis.json, in every region
BUCKET = "acme-dhcp-failover-state"
LOCK_TABLE = "dhcp-failover-locks"
STATE_REGION = "eu-west-1"
SITES = ("london", "paris")
INVENTORY = "sites.yaml"
LOCK_HELD = "Error acquiring the state lock"


def _inventory(path: Path) -> Path:
    data = yaml.safe_load((REPO / "examples" / "multi-site.yaml").read_text())
    data["sites"] = [site for site in data["sites"] if site["name"] in SITES]
    for site in data["sites"]:
        for member in site["members"]:
            member["placement"]["ami"] = MOTO_AMI
    data["state"] = {"backend": "s3", "bucket": BUCKET, "region": STATE_REGION, "key_prefix": "dhcp"}
    data["sites"][1]["state"] = {**data["state"], "lock": "dynamodb", "dynamodb_table": LOCK_TABLE}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _order(site: str) -> tuple[str, ...]:
    return (shared_stack_name(site), member_stack_name(site, Role.SECONDARY), member_stack_name(site, Role.PRIMARY))


@dataclass
class Runner:
    """A pipeline runner: a fresh checkout, an empty key store, AWS access (the endpoint)."""

    folder: Path
    base_env: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    stacks: Stacks | None = None

    @property
    def inventory(self) -> Path:
        return self.folder / INVENTORY

    def keys(self, *flags: str) -> dict[str, str]:
        """``eval "$(python -m dhcp_failover keys --inventory sites.yaml FLAGS)"``."""
        out = run_python(["-m", "dhcp_failover", "keys", "--inventory", INVENTORY, *flags], self.folder,
                         dict(self.base_env)).stdout
        exports = {}
        for line in out.splitlines():
            words = shlex.split(line)
            assert words[0] == "export" and len(words) == 2, line
            name, _, value = words[1].partition("=")
            exports[name] = value
        self.env = {**self.base_env, **exports}
        if self.stacks is not None:
            self.stacks = dataclasses.replace(self.stacks, env=self.env)
        return exports

    def synth_and_init(self) -> Stacks:
        run_python([str(self.folder / "main.py"), "--inventory", INVENTORY], self.folder, self.base_env)
        order = tuple(name for site in SITES for name in _order(site))
        self.stacks = Stacks(self.folder / "cdktf.out", order, self.env)
        self.stacks.init()
        return self.stacks

    def copy_synth(self, other: Runner) -> Stacks:
        """``other``'s synthesized and initialized stacks, copied: a pipeline that synthesizes
        once and hands cdktf.out to later jobs (the synth is byte-identical for the same inventory,
        test_synth_main shows it, so the copy saves a synth and an init per stack)."""
        assert other.stacks is not None
        shutil.copytree(other.stacks.outdir, self.folder / "cdktf.out", symlinks=True)
        self.stacks = Stacks(self.folder / "cdktf.out", other.stacks.order, self.env)
        return self.stacks

    def apply(self, stack: str, *flags: str) -> subprocess.CompletedProcess[str]:
        """``terraform apply`` of one stack, whatever its exit status (the caller judges it)."""
        assert self.stacks is not None
        return subprocess.run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color", *flags],
                              cwd=self.stacks.folder(stack), env=self.env, capture_output=True, text=True,
                              timeout=900, check=False)

    def store(self) -> KeyStore:
        return KeyStore.load(default_path(self.inventory))


@dataclass
class GitOps:
    endpoint: str
    root: Path
    base_env: dict[str, str]
    a: Runner
    b: Runner | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def client(self, service: str, region: str = STATE_REGION) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint, aws_access_key_id="test",
                            aws_secret_access_key="test")

    def runner(self, name: str) -> Runner:
        folder = copy_checkout(self.root / name)
        (folder / ".venv").symlink_to(REPO / ".venv")
        _inventory(folder / INVENTORY)
        return Runner(folder, self.base_env)

    def timed(self, name: str, fn: Any, *args: Any) -> Any:
        start = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.timings[name] = round(time.monotonic() - start, 1)


@pytest.fixture(scope="module")
def gitops(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[GitOps]:
    require_provider_mirror()
    require("terraform")
    root = tmp_path_factory.mktemp("gitops")
    endpoint = moto_endpoint  # the session's (conftest): the bucket, table and sites are this module's own
    base = {k: v for k, v in write_cli_config(root).items() if not k.startswith(("TF_VAR_", "AWS_"))}
    base.update({ENDPOINT_ENV: endpoint, PROVIDER_ENDPOINT_ENV: endpoint, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                 "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    base.pop("CDKTF_OUTDIR", None)
    world = GitOps(endpoint, root, base, a=None)  # type: ignore[arg-type]
    s3 = world.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": STATE_REGION})
    world.client("dynamodb").create_table(
        TableName=LOCK_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )
    world.a = world.runner("runner-a")
    world.a.keys("--ssm")
    world.timed("runner A synth+init", world.a.synth_and_init)
    yield world
    print(f"\ngitops e2e timings (s): {world.timings}")


def test_two_concurrent_applies_of_one_stack_exactly_one_proceeds(gitops: GitOps) -> None:
    """Runner A and a second copy of it apply each site's shared stack at the same moment:
    the lock (S3 lock file for london, DynamoDB for paris) lets one write and refuses the other
    with Terraform's own message."""
    twin = gitops.runner("runner-a-twin")
    twin.base_env = gitops.a.base_env
    twin.env = gitops.a.env  # the same exports: the same pipeline run twice
    twin.copy_synth(gitops.a)
    shared = [shared_stack_name(site) for site in SITES]
    start = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        jobs = {(who.folder.name, stack): pool.submit(who.apply, stack, "-lock-timeout=0")
                for stack in shared for who in (gitops.a, twin)}
        results = {key: job.result() for key, job in jobs.items()}
    gitops.timings["concurrent shared applies"] = round(time.monotonic() - start, 1)
    for stack in shared:
        outcomes = {who: results[who, stack] for who in ("runner-a", "runner-a-twin")}
        winners = [who for who, r in outcomes.items() if r.returncode == 0]
        assert len(winners) == 1, {who: (r.returncode, r.stderr[-1500:]) for who, r in outcomes.items()}
        (loser,) = set(outcomes) - set(winners)
        assert outcomes[loser].returncode == 1 and LOCK_HELD in outcomes[loser].stderr, outcomes[loser].stderr[-1500:]
        assert "Apply complete!" in outcomes[winners[0]].stdout
    # The lock was released: runner B's plans below read this state (and find nothing to change).


def _apply_in_each_site(gitops: GitOps, role: Role) -> None:
    def deploy(site: str) -> tuple[str, int, str]:
        stack = member_stack_name(site, role)
        result = gitops.a.apply(stack)
        return stack, result.returncode, result.stderr[-2000:]

    start = time.monotonic()
    with ThreadPoolExecutor(len(SITES)) as pool:
        outcomes = list(pool.map(deploy, SITES))
    gitops.timings[f"{role.value} applies"] = round(time.monotonic() - start, 1)
    assert [(stack, code) for stack, code, _ in outcomes if code != 0] == [], outcomes


def _gate_by_hand(gitops: GitOps, *args: str) -> subprocess.CompletedProcess[str]:
    """`status --site london --allow-not-created` with the key from SSM and both members' OMAPI
    on a closed loopback port (moto's instances run no dhcpd)."""
    london = load_inventory(gitops.a.inventory).site("london")
    silent = [arg for m in london.members for arg in ("--omapi-host", f"{m.name}=127.0.0.1:1")]
    return subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "dhcp_failover", "status", "--inventory", INVENTORY,
         "--site", "london", "--omapi-key-from", "ssm", "--allow-not-created", *silent, *args],
        cwd=gitops.a.folder, env={**gitops.base_env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120,
    )


def test_a_gate_with_no_member_created_does_not_pass_on_nothing(gitops: GitOps) -> None:
    result = _gate_by_hand(gitops, "--wait", "normal", "--timeout", "600")
    assert result.returncode == 5, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        "error: lon-dhcp-a, lon-dhcp-b not created yet (no instance in AWS): --allow-not-created leaves out a member")


def test_runner_a_deploys_each_sites_secondary_first(gitops: GitOps) -> None:
    _apply_in_each_site(gitops, Role.SECONDARY)  # the shared stacks are in place (previous test)


def test_a_gate_never_passes_a_secondary_that_exists_and_does_not_answer_while_the_primary_is_not_created(
    gitops: GitOps,
) -> None:
    """The gate by hand of a first deploy, `status --wait normal --allow-not-created`, right after
    the secondary's apply: EC2 proves the primary has no instance, so it is left out, but the
    secondary's instance exists and its OMAPI (a closed loopback port here) never answers: the
    gate waits out --timeout, saying what it waits for, and exits 4 (unreachable), never 0."""
    start = time.monotonic()
    result = _gate_by_hand(gitops, "--wait", "normal", "--timeout", "2")
    assert time.monotonic() - start >= 2
    assert result.returncode == 4, result.stderr
    rows = [line.split(None, 3) for line in result.stdout.splitlines()]
    states = {words[2]: words[3] for words in rows if words[1] in ("primary", "secondary")}
    assert states["lon-dhcp-a"] == "not created yet (no instance in AWS)"
    assert states["lon-dhcp-b"].startswith("unreachable: "), result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == ("status: site london waiting: lon-dhcp-a not created yet, lon-dhcp-b no answer; "
                        "0 s of 2 s"), result.stderr
    assert lines[-1].startswith("error: lon-dhcp-b: ") and "127.0.0.1:1" in lines[-1], result.stderr
    assert not any(line.startswith("note:") for line in lines), result.stderr


def test_runner_a_deploys_each_sites_primary_after_its_secondary(gitops: GitOps) -> None:
    _apply_in_each_site(gitops, Role.PRIMARY)
    ec2 = {site: gitops.client("ec2", region) for site, region in (("london", "eu-west-2"), ("paris", "eu-west-3"))}
    for site, client in ec2.items():
        running = [i for r in client.describe_instances(Filters=[
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"]]
        assert len(running) == 2, site


def _ssm_values(gitops: GitOps, runner: Runner) -> dict[str, tuple[str, str]]:
    """{parameter: (value in SSM, value in the runner's key store)} for every secret."""
    store = runner.store()
    values = {}
    for site in load_inventory(runner.inventory).sites:
        for spec in site_secrets(site):
            ssm = gitops.client("ssm", secret_region(site, spec))
            value = ssm.get_parameter(Name=spec.parameter_name, WithDecryption=True)["Parameter"]["Value"]
            values[spec.parameter_name] = (value, store.require(spec).value)
    return values


def test_a_second_fresh_runner_adopts_the_secrets_in_ssm_and_plans_no_change(gitops: GitOps) -> None:
    b = gitops.runner("runner-b")
    assert not default_path(b.inventory).exists()
    b.keys("--ssm")
    # SSM holds runner A's secrets, and runner B now exports exactly those.
    in_ssm = _ssm_values(gitops, b)
    assert in_ssm == _ssm_values(gitops, gitops.a)
    assert all(ssm == stored for ssm, stored in in_ssm.values())
    stacks = gitops.timed("runner B synth+init", b.synth_and_init)
    gitops.b = b
    start = time.monotonic()
    outcomes = stacks.each(stacks.plan_exit_code)
    gitops.timings["runner B plans"] = round(time.monotonic() - start, 1)
    changed = {stack: out[-2500:] for stack, (code, out) in outcomes.items() if code != 0}
    assert not changed, changed


def test_state_in_s3_one_object_per_stack_and_no_secret_value(gitops: GitOps) -> None:
    s3 = gitops.client("s3")
    objects = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert objects == {f"dhcp/{stack}.tfstate" for site in SITES for stack in _order(site)}  # no lock left behind
    secrets = [value for value, _ in _ssm_values(gitops, gitops.a).values()]
    for key in sorted(objects):
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        assert json.loads(body)["resources"], key
        assert not any(secret in body for secret in secrets), key
    # The DynamoDB table keeps only the state's checksum entries; no lock is held.
    items = gitops.client("dynamodb").scan(TableName=LOCK_TABLE)["Items"]
    assert all("Digest" in item for item in items), items


def test_rotation_is_a_version_bump_every_runner_adopts(gitops: GitOps) -> None:
    london = load_inventory(gitops.a.inventory).site("london")
    omapi = next(spec for spec in site_secrets(london) if spec.kind is SecretKind.OMAPI_KEY)
    before = gitops.a.store().require(omapi)
    exports = gitops.a.keys("--ssm", "--rotate")
    assert exports[f"TF_VAR_{omapi.version_variable_name}"] == str(before.version + 1)
    applied = gitops.a.apply(shared_stack_name("london"))
    assert applied.returncode == 0, applied.stderr[-2000:]
    rotated = gitops.a.store().require(omapi)
    ssm = gitops.client("ssm", secret_region(london, omapi))
    assert ssm.get_parameter(Name=omapi.parameter_name, WithDecryption=True)["Parameter"]["Value"] \
        == rotated.value != before.value

    b = gitops.runner("runner-b-after-rotation")
    b.keys("--ssm")
    adopted = b.store().require(omapi)
    assert (adopted.value, adopted.version, adopted.previous) == (rotated.value, before.version + 1, before.value)
    assert gitops.b is not None
    b_stacks = b.copy_synth(gitops.b)
    code, out = b_stacks.plan_exit_code(shared_stack_name("london"))
    assert code == 0, out[-2500:]


def test_a_third_machine_with_only_aws_access_reads_the_key_from_ssm_and_sees_both_members_created(
    gitops: GitOps,
) -> None:
    """The operator's folder holds the inventory and nothing else. The members' OMAPI is pointed
    at a closed loopback port (moto's instances run no dhcpd, and traffic stays on loopback):
    status gets the key from SSM, finds both instances in EC2, and so reports "not answering"
    (exit 4) after waiting, never "not created"."""
    folder = gitops.root / "operator"
    folder.mkdir()
    inventory = _inventory(folder / INVENTORY)
    london = load_inventory(inventory).site("london")
    silent = [arg for m in london.members for arg in ("--omapi-host", f"{m.name}=127.0.0.1:1")]
    start = time.monotonic()
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "dhcp_failover", "status", "--inventory", INVENTORY,
         "--site", "london", "--omapi-key-from", "ssm", "--json", "--wait", "normal", "--timeout", "2", *silent],
        cwd=folder, env={**gitops.base_env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )
    assert time.monotonic() - start >= 2
    assert result.returncode == 4, result.stderr
    assert [(m["member"], m["not_created"]) for m in json.loads(result.stdout)["members"]] == [
        ("lon-dhcp-a", False), ("lon-dhcp-b", False)]
    assert sorted(p.name for p in folder.iterdir()) == [INVENTORY]  # no key store was needed or made
