"""The operator commands against real dhcpd: `status` (readable, --json, --wait) and `drill`, with
the exit codes pipelines rely on: 0 normal, 2 bad input, 3 not normal, 4 no OMAPI answer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.local_keys import KeyStore
from dhcp_failover.model import Member, Site
from dhcp_failover.secret_names import site_secrets
from tests.lab.boot import moto_endpoint  # noqa: F401  (session fixture)
from tests.lab.failover_harness import BootedPair, boot_pair, operator_argv, operator_files, operator_process
from tests.lab.netlab import Lab, require_lab
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

# 10 s, not the proof's 3 s: the partner then sees the drill's shutdown only when the member
# exits (communications-interrupted), and dhcpd resets the OMAPI session that asked for it.
MRD = 10


def ops_data() -> dict[str, Any]:
    return inventory_data(site_data("ops", ping_check=False, failover={"mclt": 5, "max_response_delay": MRD}))


def ops_site() -> Site:
    return inventory_from_data(ops_data()).sites[0]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[BootedPair]:  # noqa: F811
    require_lab()
    with Lab(tmp_path_factory.mktemp("ops")) as lab:
        booted = boot_pair(inventory_from_data(ops_data()).sites[0], lab, moto_endpoint)
        booted.wait_normal(timeout=30)
        yield booted


@pytest.fixture
def cli(pair: BootedPair, tmp_path: Path) -> Any:
    inventory, store = operator_files(pair, tmp_path, ops_data())

    def invoke(command: str, *args: str, store: Path = store) -> subprocess.CompletedProcess[str]:
        return run(*operator_argv(pair, command, inventory, store, *args)[3:])

    return invoke


@pytest.mark.netns
def test_status_shows_both_members_normal(cli: Any) -> None:
    result = cli("status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ops primary   ops-a                normal (partner: normal)",
        "ops secondary ops-b                normal (partner: normal)",
    ]


@pytest.mark.netns
def test_status_json_for_pipelines(cli: Any) -> None:
    result = cli("status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["site"] == "ops" and report["normal"] is True
    assert [(m["member"], m["role"], m["local_state"], m["partner_state"], m["error"]) for m in report["members"]] == [
        ("ops-a", "primary", "normal", "normal", None),
        ("ops-b", "secondary", "normal", "normal", None),
    ]


@pytest.mark.netns
def test_a_member_that_does_not_answer_exits_4(cli: Any) -> None:
    result = cli("status", "--json", "--omapi-host", "ops-b=127.0.0.1:7999")
    assert result.returncode == 4
    members = json.loads(result.stdout)["members"]
    assert members[0]["local_state"] == "normal" and members[1]["local_state"] is None
    assert result.stderr.startswith("error: ops-b: OMAPI 127.0.0.1:7999: dhcpctl_connect: no more")
    assert "nothing answered" in result.stderr


@pytest.mark.netns
def test_a_wrong_key_exits_4_and_says_so(cli: Any, pair: BootedPair, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other.json", {})
    other.ensure(pair.site)
    other.save()
    result = cli("status", store=other.path)
    assert result.returncode == 4
    secret = other.require(site_secrets(pair.site)[0]).value
    assert "wrong key secret?" in result.stderr and secret not in result.stderr


@pytest.mark.netns
def test_mid_rotation_status_uses_the_previous_omapi_key_and_the_drill_refuses(cli: Any, tmp_path: Path) -> None:
    """`keys --rotate` changes the store at once, the members only when their bootstrap runs again."""
    rotated = KeyStore.load(tmp_path / "keys.json")  # what the cli fixture's operator holds
    rotated.path = tmp_path / "rotated.json"
    rotated.ensure(ops_site(), rotate=True)
    rotated.save()
    status = cli("status", store=rotated.path)
    assert status.returncode == 0, status.stderr
    assert all(line.endswith("[answers to the OMAPI key from before the rotation]") for line in status.stdout.splitlines())
    report = json.loads(cli("status", "--json", store=rotated.path).stdout)
    assert [m["omapi_key"] for m in report["members"]] == ["previous", "previous"]
    drill = cli("drill", store=rotated.path)
    assert drill.returncode == 3
    assert drill.stderr.splitlines()[-1] == (
        "error: ops-a still holds the OMAPI key from before the rotation; run its bootstrap again first")
    # Only the one previous value: two rotations later the members' key is gone from the store.
    rotated.ensure(ops_site(), rotate=True)
    rotated.save()
    assert cli("status", store=rotated.path).returncode == 4


@pytest.mark.netns
def test_partitioned_pair_is_not_normal_and_the_drill_refuses(cli: Any, pair: BootedPair) -> None:
    lab, topo = pair.lab, pair.topo
    lab.blackhole(topo.primary, f"{topo.secondary_ip}/32")
    lab.blackhole(topo.secondary, f"{topo.primary_ip}/32")
    try:
        for member in pair.site.members:
            pair.wait_for(member, "communications-interrupted", timeout=MRD + 30)
        status = cli("status")
        assert status.returncode == 3 and status.stdout.count("communications-interrupted") == 2
        waited = cli("status", "--wait", "normal", "--timeout", "1")
        said, error = waited.stderr.splitlines()  # what the wait saw at its first poll, then why it gave up
        # A wait that gives up names the member still held, its state, how long, and the recovery.
        assert waited.returncode == 3 and re.match(
            r"error: site ops: ops-a stuck in communications-interrupted for \d s \(cannot reach its partner\); ",
            error), error
        assert error.endswith('see docs/operations.md "When a gate stops on a state"'), error
        assert said.startswith("status: site ops waiting: ops-a communications-interrupted/") and \
            ", ops-b communications-interrupted/" in said and said.endswith("; 0 s of 1 s"), said
        drill = cli("drill")
        assert drill.returncode == 3
        assert "a drill now could leave nobody serving" in drill.stderr.splitlines()[-1]
    finally:
        lab.unblackhole(topo.primary, f"{topo.secondary_ip}/32")
        lab.unblackhole(topo.secondary, f"{topo.primary_ip}/32")
    # dhcpd backs off its reconnects while the partner is silent; on a loaded CI machine (load 10)
    # the pair took more than 30 s to find each other again. Returns as soon as both are normal.
    assert cli("status", "--wait", "normal", "--timeout", "120").returncode == 0


@pytest.mark.netns
def test_drill_waits_for_the_operator_to_restart_the_member(pair: BootedPair, tmp_path: Path) -> None:
    inventory, store = operator_files(pair, tmp_path, ops_data())
    secondary = pair.site.secondary
    drill = operator_process(pair, "drill", inventory, store, "--timeout", "60")
    assert drill.stdout is not None and drill.stderr is not None
    output = []
    try:
        for line in drill.stdout:
            output.append(line)
            if "to be restarted" in line:
                # The operator's part: once the old process has gone, start the service again.
                threading.Thread(target=_restart, args=(pair, secondary)).start()
        text = "".join(output)
        assert drill.wait(timeout=30) == 0, text + drill.stderr.read()
    finally:
        drill.kill()  # no-op once it has exited; never leave it behind a failed assertion
        drill.wait()
    print(text)
    assert "ops-b shut down over OMAPI" in text and "ops-a took over: communications-interrupted" in text
    assert text.splitlines()[-1].startswith("drill passed: ops-b down and back, pair normal after ")
    pair.wait_normal(timeout=30)


def _restart(pair: BootedPair, member: Member) -> None:
    pair.daemons[member.name].wait(timeout=30)
    pair.start(member)


def test_bad_member_options_are_one_error_line_and_exit_2(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inv.yaml", ops_data())
    assert run("keys", "--inventory", str(inventory)).returncode == 0
    base = ("status", "--inventory", str(inventory), "--site", "ops")
    cases = {
        ("--omapi-host", "ops-z=127.0.0.1"): "error: site \"ops\" has no member 'ops-z'; members: ops-a, ops-b",
        ("--omapi-host", "ops-a=127.0.0.1:http"): "error: --omapi-host '127.0.0.1:http': the port must be a number",
        ("--omapi-via", "ops-a=ssh 'bastion"): "error: member ops-a: No closing quotation",
        ("--omapi-host", "ops-a=my host"): "error: member ops-a: OMAPI host must be a single token without spaces "
                                           "or quotes",
    }
    for args, message in cases.items():
        result = run(*base, *args)
        assert (result.returncode, result.stderr) == (2, message + "\n"), args
    timeout = run(*base, "--wait", "normal", "--timeout", "soon")
    assert timeout.returncode == 2 and timeout.stderr.count("\n") == 1


def test_help_documents_the_exit_codes() -> None:
    for command in ("status", "drill"):
        text = " ".join(run(command, "--help").stdout.split())
        assert "2 bad input; 3 not normal, --wait timed out, or the drill failed; 4 a member's OMAPI did not answer" \
            in text


def _without_key_store(pair: BootedPair, command: str, inventory: Path, *args: str) -> list[str]:
    """The operator's command line with no key store at all: the key comes from SSM."""
    argv = operator_argv(pair, command, inventory, Path("unused"), *args)
    at = argv.index("--key-store")
    return [*argv[3:at], "--omapi-key-from", "ssm", *argv[at + 2:]]


def _run_with_aws(endpoint: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DHCP_FAILOVER_AWS_ENDPOINT": endpoint, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.netns
def test_status_from_a_machine_with_only_aws_access_reads_the_omapi_key_from_ssm(
    pair: BootedPair, moto_endpoint: str, tmp_path: Path,  # noqa: F811
) -> None:
    """A third machine: the inventory, the AWS endpoint and credentials, no key store anywhere."""
    inventory = write_inventory(tmp_path / "inventory.yaml", ops_data())
    result = _run_with_aws(moto_endpoint, _without_key_store(pair, "status", inventory), tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".dhcp-failover-keys").exists()
    assert result.stdout.splitlines() == [
        "ops primary   ops-a                normal (partner: normal)",
        "ops secondary ops-b                normal (partner: normal)",
    ]
    # Without AWS credentials the same command cannot get the key, and says where it looked
    # (credentials are looked up before any request, so nothing leaves the machine).
    no_aws = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "DHCP_FAILOVER_AWS_ENDPOINT"}
    no_aws.update(AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    offline = subprocess.run([sys.executable, "-m", "dhcp_failover", *_without_key_store(pair, "status", inventory)],
                             cwd=REPO, env=no_aws, capture_output=True, text=True, timeout=120)
    assert offline.returncode == 2 and offline.stderr.count("\n") == 1, offline.stderr
    assert offline.stderr.startswith("error: site 'ops': reading the OMAPI key from SSM"), offline.stderr
    assert "Unable to locate credentials" in offline.stderr


@pytest.mark.netns
def test_wait_normal_tells_a_member_not_created_yet_from_one_not_answering_yet(
    pair: BootedPair, moto_endpoint: str, tmp_path: Path,  # noqa: F811
) -> None:
    import boto3

    inventory = write_inventory(tmp_path / "inventory.yaml", ops_data())
    silent_b = ("--omapi-host", "ops-b=127.0.0.1:7999", "--json", "--wait", "normal")
    start = time.monotonic()
    first = _run_with_aws(moto_endpoint, _without_key_store(pair, "status", inventory, *silent_b, "--timeout", "600"),
                          tmp_path)
    assert time.monotonic() - start < 30  # never the full timeout for a member that does not exist
    assert first.returncode == 5, first.stderr
    members = json.loads(first.stdout)["members"]
    assert [(m["member"], m["not_created"]) for m in members] == [("ops-a", False), ("ops-b", True)]
    assert first.stderr.startswith("error: ops-b not created yet (no instance in AWS)")
    allowed = _run_with_aws(moto_endpoint, _without_key_store(
        pair, "status", inventory, *silent_b, "--timeout", "600", "--allow-not-created"), tmp_path)
    assert allowed.returncode == 0 and "note: ops-b not created yet" in allowed.stderr

    # Once an instance holds ops-b's address, silence means "not answering yet": wait, then exit 4.
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto_endpoint, aws_access_key_id="test",
                       aws_secret_access_key="test")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    (instance,) = ec2.run_instances(ImageId="ami-1e749f67", MinCount=1, MaxCount=1, SubnetId=subnet,
                                    PrivateIpAddress=str(pair.site.secondary.address))["Instances"]
    try:
        start = time.monotonic()
        booting = _run_with_aws(moto_endpoint, _without_key_store(pair, "status", inventory, *silent_b, "--timeout", "3"),
                                tmp_path)
        assert time.monotonic() - start >= 3
        assert booting.returncode == 4, booting.stderr
        assert [m["not_created"] for m in json.loads(booting.stdout)["members"]] == [False, False]
    finally:
        ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
        ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)
