"""The operator path (operator_access): an EC2 Instance Connect Endpoint per VPC of the members,
members that admit OMAPI and SSH from it only, the operators' least-privilege policy, and
`status`/`drill --via instance-connect` (lookup against moto, the open-tunnel child's command
line and its cleanup). The tunnel itself needs real AWS: moto has no Instance Connect service,
so a stand-in `aws` records its arguments and listens where open-tunnel would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from dhcp_failover.constructs.instance_connect import endpoint_places, operator_policy
from dhcp_failover.constructs.rules import instance_connect_rules, member_rules
from dhcp_failover.instance_connect import SITE_TAG
from dhcp_failover.inventory import inventory_from_data
from tests.lab.boot import moto_endpoint  # noqa: F401  (session fixture)
from tests.support.checkout import placed_site
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

Stacks = dict[str, dict[str, Any]]
REGION = "eu-north-1"  # no other moto test of the session uses it
ON = {"instance_connect": True}


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dhcp_failover", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def resources(stack: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return stack.get("resource", {}).get(rtype, {})


def rules_of(stack: dict[str, Any], direction: str, prefix: str) -> set[tuple[str, int, str]]:
    """(protocol, port, peer) of one group's rules; peer: a CIDR or a referenced group."""
    found = resources(stack, f"aws_vpc_security_group_{direction}_rule")
    return {
        (r["ip_protocol"], r["from_port"], r.get("cidr_ipv4") or r["referenced_security_group_id"])
        for name, r in found.items()
        if name.startswith(prefix)
    }


# --- the inventory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator_access", "placed", "field", "says"),
    [
        ({"instance_connect": "yes"}, True, "operator_access.instance_connect", "true or false"),
        ({"session_manager": True}, True, "operator_access.session_manager", ""),
        ({"ssh_key_pair": "ops"}, True, "operator_access.ssh_key_pair", "instance_connect: true"),
        ({"instance_connect": True, "ssh_key_pair": "bad\nname"}, True, "operator_access.ssh_key_pair", ""),
        (ON, False, "operator_access.instance_connect", "placement"),
    ],
)
def test_bad_operator_access_is_one_error_line_naming_the_field(
    tmp_path: Path, operator_access: dict[str, Any], placed: bool, field: str, says: str
) -> None:
    site = placed_site(operator_access=operator_access) if placed else site_data(operator_access=operator_access)
    result = run_cli("validate", "--inventory", str(write_inventory(tmp_path / "inv.yaml", inventory_data(site))))
    assert result.returncode == 2
    line = one_error_line(result)
    assert field in line and says in line, line


def test_off_by_default_nothing_changes(synth_sites: Callable[..., Stacks]) -> None:
    stacks = synth_sites(placed_site())
    shared = stacks["lab-shared"]
    assert resources(shared, "aws_ec2_instance_connect_endpoint") == {}
    assert not any(port == 22 for _, port, _ in rules_of(shared, "ingress", "sg_"))
    assert not {"operator_policy", "instance_connect_endpoints"} & set(shared["output"])
    (instance,) = resources(stacks["lab-primary"], "aws_instance").values()
    assert SITE_TAG not in instance["tags"] and "key_name" not in instance


# --- the constructs ---------------------------------------------------------------------------


def test_one_endpoint_whose_group_reaches_only_omapi_and_ssh_of_the_members(synth_sites: Callable[..., Stacks]) -> None:
    stacks = synth_sites(placed_site(operator_access={**ON, "ssh_key_pair": "dhcp-operators"}))
    shared = stacks["lab-shared"]
    (endpoint,) = resources(shared, "aws_ec2_instance_connect_endpoint").values()
    assert endpoint["preserve_client_ip"] is False  # members see the endpoint's own interface
    assert "subnet-primary" in endpoint["subnet_id"]
    (group_ref,) = endpoint["security_group_ids"]
    (group_key,) = [k for k in resources(shared, "aws_security_group") if k.startswith("instance-connect-")]
    assert group_ref == f"${{aws_security_group.{group_key}.id}}"
    prefix = "instance-connect-eu-west-1_"
    assert rules_of(shared, "ingress", prefix) == set()  # operators come in through the AWS API
    assert rules_of(shared, "egress", prefix) == {
        ("tcp", 7911, "10.77.1.10/32"), ("tcp", 22, "10.77.1.10/32"),
        ("tcp", 7911, "10.77.3.10/32"), ("tcp", 22, "10.77.3.10/32"),
    }
    for role in ("primary", "secondary"):
        ingress = rules_of(shared, "ingress", f"sg_{role}_")
        from_endpoint = {(proto, port) for proto, port, peer in ingress if peer == group_ref}
        assert from_endpoint == {("tcp", 7911), ("tcp", 22)}
        # Port 22 and OMAPI from nowhere else (the site has no omapi.admin_networks).
        assert {(p, port) for p, port, peer in ingress if port in (22, 7911) and peer != group_ref} == set()
        (instance,) = resources(stacks[f"lab-{role}"], "aws_instance").values()
        assert instance["tags"][SITE_TAG] == "lab"
        assert instance["key_name"] == "dhcp-operators"
    assert "aws_ec2_instance_connect_endpoint." in shared["output"]["operator_policy"]["value"]
    assert set(shared["output"]["instance_connect_endpoints"]["value"]) == {"lab-a", "lab-b"}


def test_a_kea_site_tunnels_to_the_kea_control_port_not_omapi() -> None:
    data = {**placed_site(operator_access=ON), "server": "kea", "kea": {"control_port": 8010}}
    site = inventory_from_data(inventory_data(data)).sites[0]
    assert {(r.kind, r.from_port) for r in instance_connect_rules(site, site.members)} == {
        ("omapi-tcp-to-member", 8010), ("ssh-tcp-22-to-member", 22),
    }
    from_endpoint = member_rules(site, site.primary, instance_connect_group="sg-endpoint")
    assert {r.from_port for r in from_endpoint if r.peer_group == "sg-endpoint"} == {8010, 22}
    policy = operator_policy(site, endpoint_arns=["arn:aws:ec2:eu-west-1:123456789012:instance-connect-endpoint/eice-1"])
    assert policy["Statement"][0]["Condition"]["NumericEquals"] == {"ec2-instance-connect:remotePort": [8010, 22]}


def test_a_pair_in_two_regions_gets_an_endpoint_in_each(synth_sites: Callable[..., Stacks]) -> None:
    data = json.loads(json.dumps(placed_site(operator_access=ON, wireguard={"network": "10.255.77.0/31"})))
    data["members"][1]["placement"].update(region="us-east-1", availability_zone="us-east-1a")
    shared = synth_sites(data)["lab-shared"]
    endpoints = resources(shared, "aws_ec2_instance_connect_endpoint")
    assert {e["provider"] for e in endpoints.values()} == {"aws", "aws.us_east_1"}
    # Each endpoint's group reaches only the member in its own VPC.
    assert {peer for _, _, peer in rules_of(shared, "egress", "instance-connect-eu-west-1_")} == {"10.77.1.10/32"}
    assert {peer for _, _, peer in rules_of(shared, "egress", "instance-connect-us-east-1_")} == {"10.77.3.10/32"}


def test_members_in_one_existing_vpc_share_one_endpoint() -> None:
    data = placed_site(operator_access=ON)
    for member, subnet in zip(data["members"], ("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"), strict=True):
        member["placement"] = {"region": "eu-west-1", "subnet_id": subnet, "vpc_id": "vpc-0bbbbbbbbbbbbbbb1",
                               "ami": "ami-0123456789abcdef0"}
    site = inventory_from_data(inventory_data(data)).sites[0]
    (place,) = endpoint_places(site)
    assert place.key == "vpc-0bbbbbbbbbbbbbbb1" and [m.name for m in place.members] == ["lab-a", "lab-b"]


def test_operator_policy_allows_tunnels_to_omapi_and_ssh_of_the_members_only() -> None:
    site = inventory_from_data(inventory_data(placed_site(operator_access=ON, omapi={"port": 7912}))).sites[0]
    arn = "arn:aws:ec2:eu-west-1:123456789012:instance-connect-endpoint/eice-0123456789abcdef0"
    policy = operator_policy(site, endpoint_arns=[arn])
    tunnel, describe = policy["Statement"]
    assert tunnel["Action"] == "ec2-instance-connect:OpenTunnel" and tunnel["Resource"] == [arn]
    assert tunnel["Condition"] == {
        "NumericEquals": {"ec2-instance-connect:remotePort": [7912, 22]},
        "IpAddress": {"ec2-instance-connect:privateIpAddress": ["10.77.1.10/32", "10.77.3.10/32"]},
        "NumericLessThanEquals": {"ec2-instance-connect:maxTunnelDuration": 3600},
    }
    assert all(action.startswith("ec2:Describe") for action in describe["Action"])
    assert not any("*" in str(s["Action"]) for s in policy["Statement"])


# --- status / drill --via instance-connect ----------------------------------------------------

FAKE_AWS = """\
#!{python}
# Stands in for AWS CLI v2's open-tunnel, which needs real AWS: records its arguments, starts a
# grandchild (so cleanup must stop the whole process group) and listens on --local-port.
import json, os, socket, subprocess, sys
args = sys.argv[1:]
grandchild = subprocess.Popen(["sleep", "300"])
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "pids": [os.getpid(), grandchild.pid]}}) + "\\n")
listener = socket.socket()
listener.bind(("127.0.0.1", int(args[args.index("--local-port") + 1])))
listener.listen()
while True:
    connection, _ = listener.accept()
    connection.close()  # not OMAPI: the member reads as unreachable
"""


# What open-tunnel does when IAM says no: an error, and an exit before it ever listens.
REFUSED_AWS = """\
#!/bin/sh
echo "An error occurred (AccessDeniedException) when calling the OpenTunnel operation: not authorized" >&2
exit 254
"""


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str) -> Iterator[dict[str, str]]:  # noqa: F811
    """Both members' instances in moto at their fixed addresses with the site tag, plus a third
    instance at the primary's address in another VPC without it (the lookup must skip it)."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="test",
                       aws_secret_access_key="test")
    ids: dict[str, str] = {}
    for label, cidr in (("site", "10.77.0.0/16"), ("other", "10.77.0.0/16")):
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        for member, net, address in (("lab-a", "10.77.1.0/24", "10.77.1.10"), ("lab-b", "10.77.3.0/24", "10.77.3.10")):
            if label == "other" and member == "lab-b":
                continue
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=net)["Subnet"]["SubnetId"]
            tags = [{"Key": SITE_TAG, "Value": "lab"}] if label == "site" else [{"Key": "Name", "Value": "stranger"}]
            (instance,) = ec2.run_instances(
                ImageId="ami-1e749f67", MinCount=1, MaxCount=1, InstanceType="t3.small", SubnetId=subnet,
                PrivateIpAddress=address, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            )["Instances"]
            ids[f"{label}:{member}"] = instance["InstanceId"]
    yield ids
    ec2.terminate_instances(InstanceIds=list(ids.values()))


@pytest.fixture
def operator(tmp_path: Path, moto_endpoint: str) -> Iterator[Callable[..., Any]]:  # noqa: F811
    """Runs the CLI as an operator would: an inventory with the site in REGION, its key store,
    AWS at moto, and PATH holding only the stand-in `aws` (or none)."""
    site = placed_site(region=REGION, operator_access=ON)
    inventory = write_inventory(tmp_path / "inv.yaml", inventory_data(site))
    assert run_cli("keys", "--inventory", str(inventory)).returncode == 0
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "aws-calls.jsonl"

    def invoke(command: str, *args: str, aws: str | None = "fake", background: bool = False) -> Any:
        if aws in ("fake", "refused"):
            (bin_dir / "aws").write_text(FAKE_AWS.format(python=sys.executable) if aws == "fake" else REFUSED_AWS)
            (bin_dir / "aws").chmod(0o755)
        elif aws is not None:
            (bin_dir / "aws").symlink_to(aws)
        # Without an aws of ours, PATH is only our empty folder: the machine's own aws must not count.
        path = str(bin_dir) if aws is None else f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"
        env = {**os.environ, "PATH": path, "FAKE_AWS_LOG": str(log),
               "DHCP_FAILOVER_AWS_ENDPOINT": moto_endpoint}
        env.pop("AWS_PROFILE", None)
        argv = [command, "--inventory", str(inventory), "--site", "lab", "--via", "instance-connect", *args]
        if background:
            return subprocess.Popen([sys.executable, "-m", "dhcp_failover", *argv], cwd=REPO, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return run_cli(*argv, env=env)

    invoke.calls = lambda: [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []  # type: ignore[attr-defined]
    yield invoke
    # Should the command under test have left a stand-in running, it must not outlive the test.
    for call in invoke.calls():  # type: ignore[attr-defined]
        for pid in call["pids"]:
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers signal 0 until its parent reaps it (the sleep's parent is the
    # stand-in, which is gone too: then init reaps it).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_via_instance_connect_tunnels_to_each_members_instance_and_stops_the_tunnels(
    operator: Any, deployed: dict[str, str]
) -> None:
    started = time.monotonic()
    result = operator("status", "--json")
    elapsed = time.monotonic() - started
    # The stand-in is no OMAPI server: both members read as unreachable, through the tunnels.
    assert result.returncode == 4, result.stderr
    omapi = [m["omapi"] for m in json.loads(result.stdout)["members"]]
    calls = operator.calls()
    assert [c["argv"][:8] for c in calls] == [
        ["ec2-instance-connect", "open-tunnel", "--region", REGION, "--instance-id", deployed[f"site:{m}"],
         "--remote-port", "7911"]
        for m in ("lab-a", "lab-b")
    ]
    assert [c["argv"][8] for c in calls] == ["--local-port"] * 2
    assert [c["argv"][10:] for c in calls] == [["--max-tunnel-duration", "3600"]] * 2  # the policy's cap
    ports = [int(c["argv"][9]) for c in calls]
    assert len(set(ports)) == 2
    assert omapi == [f"127.0.0.1:{port}" for port in ports]
    # Every tunnel child and what it started are stopped when the command ends.
    deadline = time.monotonic() + 5
    pids = [pid for c in calls for pid in c["pids"]]
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids), pids
    assert elapsed < 60


def test_sigterm_to_the_command_still_stops_the_tunnels(operator: Any, deployed: dict[str, str]) -> None:
    waiting = operator("status", "--wait", "normal", "--timeout", "120", background=True)
    try:
        deadline = time.monotonic() + 60
        while len(operator.calls()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(operator.calls()) == 2, "the tunnels never started"
        waiting.send_signal(signal.SIGTERM)
        assert waiting.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    pids = [pid for c in operator.calls() for pid in c["pids"]]
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids), pids


def test_a_member_without_instance_exits_5_and_opens_no_tunnel_and_never_excuses_its_partner(
    operator: Any, deployed: dict[str, str], moto_endpoint: str  # noqa: F811
) -> None:
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=moto_endpoint, aws_access_key_id="test",
                       aws_secret_access_key="test")
    ec2.stop_instances(InstanceIds=[deployed["site:lab-b"]])
    try:
        result = operator("status")
        assert result.returncode == 5
        assert "lab-b not created yet" in one_error_line(result)
        drill = operator("drill")
        assert drill.returncode == 5 and "lab-b" in one_error_line(drill)
        assert operator.calls() == []
        # --allow-not-created leaves lab-b out, but lab-a exists: it is read through its tunnel, and
        # the stand-in's tunnel does not speak OMAPI, so lab-a does not answer: exit 4, never 0.
        allowed = operator("status", "--allow-not-created")
        assert allowed.returncode == 4, allowed.stderr
        assert one_error_line(allowed).startswith("error: lab-a: ")
        (tunnel,) = operator.calls()
        assert tunnel["argv"][tunnel["argv"].index("--instance-id") + 1] == deployed["site:lab-a"]
    finally:
        ec2.start_instances(InstanceIds=[deployed["site:lab-b"]])


def test_a_tunnel_that_exits_before_listening_is_unreachable_with_its_error(
    operator: Any, deployed: dict[str, str]
) -> None:
    result = operator("status", aws="refused")
    assert result.returncode == 4
    line = one_error_line(result)
    assert "lab-a" in line and "exited with status 254" in line and "AccessDeniedException" in line


def test_without_the_aws_command_one_error_line_and_no_aws_call(operator: Any) -> None:
    result = operator("status", aws=None)
    assert result.returncode == 2
    assert "no 'aws' command is on PATH; install AWS CLI v2" in one_error_line(result)


def test_aws_cli_v1_has_no_open_tunnel_and_says_so(operator: Any, deployed: dict[str, str]) -> None:
    import shutil

    real = shutil.which("aws")
    version = subprocess.run([real, "--version"], capture_output=True, text=True, timeout=60) if real else None
    if version is None or not (version.stdout + version.stderr).startswith("aws-cli/1."):
        pytest.skip("needs the AWS CLI v1 (which lacks open-tunnel) on PATH")
    result = operator("status", aws=real)
    assert result.returncode == 2
    assert "needs AWS CLI v2" in one_error_line(result)


def test_via_instance_connect_needs_the_endpoint_in_the_inventory(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inv.yaml", inventory_data(placed_site()))
    result = run_cli("status", "--inventory", str(inventory), "--site", "lab", "--via", "instance-connect")
    assert result.returncode == 2
    assert "operator_access: {instance_connect: true}" in one_error_line(result)


def test_via_and_omapi_host_do_not_mix(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inv.yaml", inventory_data(placed_site(operator_access=ON)))
    result = run_cli("status", "--inventory", str(inventory), "--site", "lab", "--via", "instance-connect",
                     "--omapi-host", "lab-a=127.0.0.1:7911")
    assert result.returncode == 2 and "drop --omapi-host" in one_error_line(result)


def test_stop_ends_a_child_that_ignores_sigterm() -> None:
    from dhcp_failover import instance_connect

    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print('ready', flush=True)
            time.sleep(300)
        """)],
        stdout=subprocess.PIPE, start_new_session=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
    started = time.monotonic()
    instance_connect.stop(child)
    assert child.returncode == -signal.SIGKILL
    assert time.monotonic() - started < instance_connect.STOP_TIMEOUT + 3


def test_rollout_gates_open_fresh_tunnels_at_every_poll_and_skip_a_member_not_created(
    tmp_path: Path, deployed: dict[str, str], moto_endpoint: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """`rollout --via instance-connect`: each poll of a gate looks the instances up again (a
    rollout replaces them) and tunnels to each; a member with no instance (the secondary here,
    at an address no instance holds) gets a loopback port nothing listens on. Every tunnel
    stops when the poll ends."""
    import argparse

    from dhcp_failover.inventory import load_inventory
    from dhcp_failover.rollout_gates import build_gates

    data = inventory_data(placed_site(region=REGION, operator_access=ON))
    (site_yaml,) = data["sites"]
    secondary = next(m for m in site_yaml["members"] if m["role"] == "secondary")
    secondary["address"] = "10.77.3.11"  # no instance there: not created yet
    inventory = write_inventory(tmp_path / "inv.yaml", data)
    assert run_cli("keys", "--inventory", str(inventory)).returncode == 0
    bin_dir, log = tmp_path / "bin", tmp_path / "aws-calls.jsonl"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(FAKE_AWS.format(python=sys.executable))
    (bin_dir / "aws").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin")
    monkeypatch.setenv("FAKE_AWS_LOG", str(log))
    monkeypatch.setenv("DHCP_FAILOVER_AWS_ENDPOINT", moto_endpoint)
    args = argparse.Namespace(via="instance-connect", omapi_key_from=None, key_store=None, omapi_host=[],
                              omapi_via=[], gate_timeout=30.0)
    model = load_inventory(inventory)
    gate = build_gates(args, inventory, model, model.sites)["lab"]

    def calls() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    routes = []
    for poll in (1, 2):
        with gate.reach() as access:
            routes.append([(a.member.name, a.endpoint.host, a.endpoint.port) for a in access])
        assert len(calls()) == poll  # one tunnel per poll: only the primary has an instance
    for poll, call in enumerate(calls()):
        argv = call["argv"]
        assert argv[argv.index("--instance-id") + 1] == deployed["site:lab-a"]
        (primary, absent) = routes[poll]
        assert primary == ("lab-a", "127.0.0.1", int(argv[argv.index("--local-port") + 1]))
        assert absent[:2] == ("lab-b", "127.0.0.1") and absent[2] != primary[2]
    deadline = time.monotonic() + 5
    pids = [pid for call in calls() for pid in call["pids"]]
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in pids), pids
