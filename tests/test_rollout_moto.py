"""`python -m dhcp_failover rollout` against a local AWS API (scripts/moto-server) with real
terraform, and members that really run: every instance the rollout creates is booted in its
member's network namespace from its deployed user-data (member_hosts), so each gate reads real
failover states over OMAPI.

The session's moto server, one project folder and one inventory of two sites (depot and branch) for the whole
module; the tests run in file order and each builds on the state the last one left:
the review of the sites before anything is deployed (their member stacks wait for the shared
stacks' apply), first deploy and plan review of a DNS change with each replaced member's config
diff (the example pipelines' commands, as written),
that change rolled out while one site's plan fails, an interrupted rollout resumed, a run
that finds nothing to do, a second DNS change rolled out to both sites in one pipeline run,
and `status` from a third folder with only AWS access (issue 12).
Secrets come from the pipelines' `keys --ssm`, and their rollout's gates read the OMAPI key from SSM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from dhcp_failover.app import ENDPOINT_ENV, SITES_ENV
from dhcp_failover.inventory import load_inventory
from dhcp_failover.model import Site
from tests.lab.member_hosts import MemberHosts
from tests.lab.netlab import require_lab
from tests.lab.relay_clients import RelayClients, out_of_service, state_timeline, write_timeline
from tests.support.checkout import INVENTORY_ENV
from tests.support.deploy import MOTO_CREDENTIALS, parse_exports, run_python
from tests.support.factories import REPO, inventory_data, site_data
from tests.support.pipelines import GITHUB, keys_command, rollout_command
from tests.support.tfenv import require_provider_mirror, write_cli_config
from tests.support.tools import require

pytestmark = pytest.mark.netns
MOTO_AMI = "ami-1e749f67"  # an AMI moto knows
INVENTORY = "sites.yaml"
GATE_TIMEOUT = "120"
SITES = ("depot", "branch")
RENEWING = 3  # clients per site that stay and renew through every rollout of the module
LEASE_TIME = 12  # on the relayed subnet: the staying clients renew every 6 s


def site_yaml(name: str, octet: int, dns: str) -> dict[str, Any]:
    """factories.site_data moved to 10.<octet>/16, both members in one zone (one network, as the
    namespace lab wires them), short failover timers so a rebuilt member is normal in seconds."""
    data = json.loads(json.dumps(site_data(name)).replace('"10.77.', f'"10.{octet}.'))
    # .10 and .11: AWS reserves .1 to .3 of the subnet the site's VPC gets.
    for member, host in zip(data["members"], (10, 11), strict=False):
        member["address"] = f"10.{octet}.1.{host}"
        member["placement"] = {"region": "eu-west-1", "availability_zone": "eu-west-1a", "ami": MOTO_AMI}
    data["relays"][0]["name"] = f"{name}-relay"
    data["failover"] = {"mclt": 10, "max_response_delay": 3}
    data["ping_check"] = False
    for subnet in data["subnets"]:
        subnet["dns_servers"] = [dns]
    data["subnets"][1].update(default_lease_time=LEASE_TIME, max_lease_time=LEASE_TIME)
    return data


def write_sites(path: Path, dns: str, *, depot_dns: str | None = None) -> Path:
    path.write_text(yaml.safe_dump(inventory_data(site_yaml("depot", 77, depot_dns or dns),
                                                  site_yaml("branch", 78, dns)), sort_keys=False))
    return path


def write_base(project: Project, dns: str) -> Path:
    """The base branch's inventory where the example pipelines' review reads it (``../base``, the
    worktree of the base branch beside the checkout)."""
    path = project.folder.parent / "base" / INVENTORY
    path.parent.mkdir(exist_ok=True)
    return write_sites(path, dns)


@dataclass
class Project:
    folder: Path
    env: dict[str, str]
    hosts: MemberHosts
    sites: dict[str, Site]
    clients: RelayClients
    serving_since: float = 0.0  # when the first rollout had every pair normal and clients started

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "dhcp_failover", "rollout", "--inventory", INVENTORY,
                "--gate-timeout", GATE_TIMEOUT, *self.hosts.omapi_args(), *args]

    def pipeline(self, *, plan_only: bool) -> subprocess.CompletedProcess[str]:
        """The example pipelines' rollout command as written, plus this lab's way to the members'
        OMAPI (a pipeline runner reaches them at their inventory addresses)."""
        command = rollout_command(GITHUB, plan_only=plan_only)
        return self.run([sys.executable, "-m", *command, "--gate-timeout", GATE_TIMEOUT, *self.hosts.omapi_args()])

    def rollout(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(self.argv(*args), env)

    def run(self, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(argv, cwd=self.folder, env=env or self.env, capture_output=True,
                                text=True, timeout=1200, check=False)
        print(result.stderr[-6000:])
        return result

    def instance_ids(self) -> dict[str, str | None]:
        return {host.member.name: host.instance_id for host in self.hosts.hosts}


def steps(report: dict[str, Any], site: str) -> list[tuple[str, str, str]]:
    """(stack, action, result) of a site's steps, inits left out."""
    (found,) = [s for s in report["sites"] if s["site"] == site]
    return [(step["stack"], step["action"], step["result"]) for step in found["steps"] if step["action"] != "init"]


def site_report(report: dict[str, Any], site: str) -> dict[str, Any]:
    (found,) = [s for s in report["sites"] if s["site"] == site]
    return found


def gate_details(report: dict[str, Any], site: str) -> list[str]:
    return [step["detail"] for step in site_report(report, site)["steps"] if step["action"] == "gate"]


def full_rollout(site: str) -> list[tuple[str, str, str]]:
    return [(f"{site}-shared", "plan", "done"), (f"{site}-shared", "apply", "done"),
            (f"{site}-secondary", "plan", "done"), (f"{site}-secondary", "apply", "done"),
            (f"{site}-primary", "state", "done"), (f"{site}-secondary", "gate", "passed"),
            (f"{site}-primary", "plan", "done"),
            (f"{site}-primary", "apply", "done"), (f"{site}-primary", "gate", "passed")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[Project]:
    require_provider_mirror()
    require("terraform")
    require_lab()
    root = tmp_path_factory.mktemp("rollout")
    folder = root / "project"
    folder.mkdir()
    inventory = write_sites(folder / INVENTORY, "10.0.0.53")
    sites = {site.name: site for site in load_inventory(inventory).sites}
    endpoint = moto_endpoint  # the session's (conftest): these sites' names are this module's own
    with MemberHosts(list(sites.values()), endpoint, root / "hosts") as hosts, RelayClients(hosts) as clients:
        base = {k: v for k, v in write_cli_config(root).items()
                if not k.startswith("TF_VAR_") and k not in ("CDKTF_OUTDIR", INVENTORY_ENV, SITES_ENV)}
        base.update({ENDPOINT_ENV: endpoint, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                     "PYTHONPATH": str(REPO), "TF_PLUGIN_CACHE_DIR": str(root / "plugin-cache")})
        env = {**base, **pipeline_key_exports(folder, base)}
        yield Project(folder, env, hosts, sites, clients)
        assert hosts.errors == [] and clients.errors == []


def pipeline_key_exports(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """The ``TF_VAR_`` variables the example pipelines' ``eval "$(... keys --ssm)"`` sets: secrets
    already in SSM are taken, missing ones generated (here, before a first deploy: all)."""
    return parse_exports(run_python(["-m", *keys_command(GITHUB)], folder, env).stdout)


def test_a_new_sites_pull_request_review_plans_its_shared_stacks_and_names_the_members_waiting_for_them(
    project: Project,
) -> None:
    """Before the first deploy: the pipelines' review command on sites never deployed. A member
    stack reads its shared stack's outputs from that stack's state, which does not exist yet."""
    write_base(project, "10.0.0.53")
    result = project.pipeline(plan_only=True)
    assert result.returncode == 0, result.stderr
    markdown = result.stdout
    # Counts cover exactly the stacks planned; the four not planned are named, with why.
    assert markdown.startswith(
        "### dhcp-failover rollout plan: 2 site(s), 2 of 2 stack(s) change, 4 stack(s) not planned\n"), markdown
    for site in SITES:
        assert re.search(rf"^\| {site} \| `{site}-shared` \| \d+ \| 0 \| 0 \|$", markdown, re.M), markdown
        for member in ("secondary", "primary"):
            assert (f"- `{site}-{member}`: plans after `{site}-shared` is applied: it reads `{site}-shared`'s "
                    f"outputs from its state, and `{site}-shared` was never applied") in markdown
    assert "Could not plan" not in markdown and "Unable to find remote state" not in result.stderr
    assert project.instance_ids() == {name: None for name in project.instance_ids()}  # nothing applied


def test_first_rollout_deploys_each_site_in_order_and_gates_on_real_failover_states(project: Project) -> None:
    result = project.pipeline(plan_only=False)  # --changed --parallel 4 --omapi-key-from ssm --json
    assert result.returncode == 0, result.stderr
    # --changed before any apply record exists: every stack is planned, and the command says why.
    assert ("warning: --changed: no stack has an apply record yet (rollout writes one with each apply); "
            "planned every stack") in result.stderr.splitlines()
    report = json.loads(result.stdout)
    assert report["ok"] and [s["site"] for s in report["sites"]] == list(SITES)
    for site in SITES:
        assert steps(report, site) == full_rollout(site)
        # First deploy: the secondary's gate does not wait for a primary that does not exist yet.
        after_secondary, after_primary = gate_details(report, site)
        assert after_secondary.startswith("secondary ") and after_secondary.endswith("partner not created yet")
        assert after_primary == "normal"
    assert all(project.instance_ids().values()) and project.hosts.errors == []
    # The summary table goes to stderr with --json; stdout is the one JSON document.
    assert "site    result" in result.stderr
    # From here on, clients behind each site's relay renew and arrive through every later rollout.
    project.serving_since = time.time()
    project.clients.start(RENEWING)


def test_plan_only_reviews_a_dns_change_as_markdown_naming_each_replacement(project: Project) -> None:
    before = project.instance_ids()
    write_base(project, "10.0.0.53")  # what was deployed
    write_sites(project.folder / INVENTORY, "10.0.0.54")
    result = project.pipeline(plan_only=True)
    assert result.returncode == 0, result.stderr
    markdown = result.stdout
    assert markdown.startswith("### dhcp-failover rollout plan: 2 site(s), 4 of 4 stack(s) change\n")
    # --changed: the shared stacks' configuration is the one last applied, so they are not planned.
    assert "**2 stack(s) skipped as unchanged** since their last apply" in markdown
    for site in SITES:
        # The instance and its Elastic IP association are replaced; the shared stack is untouched.
        assert f"| {site} | `{site}-secondary` | 2 | 0 | 2 |" in markdown
        assert f"| {site} | `{site}-primary` | 2 | 0 | 2 |" in markdown
        assert re.search(rf"^\| {site} \| `{site}-shared` \| \d{{4}}-\d\d-\d\dT[\d:]+Z \| never \|$", markdown, re.M)
        assert f"- replaces secondary {site}-b of site {site}: user_data changed" in markdown
        assert f"- replaces primary {site}-a of site {site}: user_data changed" in markdown
        # What changes on each replaced member, as render writes its files (base → head).
        for member, role in ((f"{site}-b", "secondary"), (f"{site}-a", "primary")):
            assert (f"<details><summary>{role} {member} (`{site}/{member}`): 1 file(s) changed: "
                    "/etc/dhcp/dhcpd.conf</summary>") in markdown
            assert f"--- base/{site}/{member}/etc/dhcp/dhcpd.conf\n+++ head/{site}/{member}/etc/dhcp/dhcpd.conf" in markdown
    assert markdown.count("\n-  option domain-name-servers 10.0.0.53;\n+  option domain-name-servers 10.0.0.54;\n") == 8
    # No secret the pipeline's keys --ssm exported appears anywhere in the review.
    secrets = [value for name, value in project.env.items()
               if name.startswith("TF_VAR_") and not name.endswith("_version")]
    assert secrets and not [value for value in secrets if value in markdown or value in result.stderr]
    assert project.instance_ids() == before  # nothing applied


def test_a_failing_plan_stops_its_site_only_while_the_other_rolls_through_its_gates(project: Project) -> None:
    before = project.instance_ids()
    # branch's secrets are missing: its first plan fails, nothing of it may be applied.
    env = {k: v for k, v in project.env.items() if not k.startswith("TF_VAR_branch_")}
    result = project.rollout("--parallel", "2", "--all-stacks", "--json", env=env)
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert not report["ok"]
    branch = site_report(report, "branch")
    assert branch["status"] == "failed" and branch["failure"].startswith("branch-shared: plan: ")
    assert "No value for required variable: The root module input variable" in branch["failure"]
    assert steps(report, "branch") == [("branch-shared", "plan", "failed")]
    assert "error: rollout failed in 1 of 2 site(s): branch: branch-shared: plan:" in result.stderr
    assert steps(report, "depot") == [
        ("depot-shared", "plan", "done"), ("depot-shared", "skip", "done"),  # a DNS change is all in user-data
        ("depot-secondary", "plan", "done"), ("depot-secondary", "apply", "done"),
        ("depot-primary", "state", "done"), ("depot-secondary", "gate", "passed"),
        ("depot-primary", "plan", "done"), ("depot-primary", "apply", "done"), ("depot-primary", "gate", "passed"),
    ]
    assert gate_details(report, "depot") == ["normal", "normal"]
    after = project.instance_ids()
    assert after["branch-a"] == before["branch-a"] and after["branch-b"] == before["branch-b"]
    assert after["depot-a"] != before["depot-a"] and after["depot-b"] != before["depot-b"]
    # The gate held: the rebuilt secondary was normal with the old primary before the primary was
    # replaced, and at no moment were both members down.
    hosts = project.hosts
    new_secondary, old_primary, new_primary = after["depot-b"], before["depot-a"], after["depot-a"]
    assert new_secondary and old_primary and new_primary
    secondary_normal, primary_down = hosts.normal_at(new_secondary), hosts.went_down("depot-a", old_primary)
    assert secondary_normal is not None and primary_down is not None and secondary_normal < primary_down
    assert hosts.normal_at(new_primary) is not None
    assert hosts.both_down("depot", since=0) == []


def test_an_interrupted_rollout_resumes_where_it_stopped(project: Project) -> None:
    before = project.instance_ids()
    process = subprocess.Popen(project.argv("--sites", "branch", "--all-stacks"), cwd=project.folder, env=project.env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    seen = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if "branch-secondary" in line and "apply done" in line:
                os.killpg(process.pid, signal.SIGKILL)  # the pipeline's runner died right there
                break
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert any("branch-secondary" in line and "apply done" in line for line in seen), "".join(seen)
    time.sleep(2)  # let the watcher boot the new secondary
    middle = project.instance_ids()
    assert middle["branch-b"] != before["branch-b"] and middle["branch-a"] == before["branch-a"]

    result = project.rollout("--sites", "branch", "--all-stacks", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["site"] for s in report["sites"]] == ["branch"]
    assert steps(report, "branch") == [
        ("branch-shared", "plan", "done"), ("branch-shared", "skip", "done"),
        ("branch-secondary", "plan", "done"), ("branch-secondary", "skip", "done"),
        ("branch-primary", "plan", "done"), ("branch-primary", "state", "done"),
        # The secondary is finished, but the primary is not replaced before the pair is normal.
        ("branch-secondary", "gate", "passed"),
        ("branch-primary", "apply", "done"), ("branch-primary", "gate", "passed"),
    ]
    after = project.instance_ids()
    assert after["branch-b"] == middle["branch-b"] and after["branch-a"] != before["branch-a"]
    hosts = project.hosts
    kept_secondary, old_primary = after["branch-b"], before["branch-a"]
    assert kept_secondary and old_primary
    secondary_normal, primary_down = hosts.normal_at(kept_secondary), hosts.went_down("branch-a", old_primary)
    assert secondary_normal is not None and primary_down is not None and secondary_normal < primary_down
    assert hosts.both_down("branch", since=0) == []


def _terraform_children(pid: int) -> list[int]:
    """The terraform processes ``pid`` started (each runs in its own process group)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split(" (", 1)[1].rsplit(") ", 1)
        except (OSError, IndexError, ValueError):
            continue
        if name == "terraform" and int(fields.split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_the_terraform_runs_it_started_and_leaves_no_state_locked(project: Project) -> None:
    """A pipeline cancelled mid-rollout: SIGTERM to the command alone (not its process group)."""
    before = project.instance_ids()
    process = subprocess.Popen(project.argv("--parallel", "2", "--all-stacks"), cwd=project.folder, env=project.env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        locks_held: list[Path] = []
        while not locks_held:  # a plan holds its stack's state lock (a local lock leaves an info file)
            assert process.poll() is None and time.monotonic() < deadline, "no plan took a state lock"
            locks_held = sorted(project.folder.glob(".*.lock.info"))
            time.sleep(0.05)
        seen = _terraform_children(process.pid)
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
        stopped_after = time.monotonic() - start
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(stdout[-3000:], stderr[-3000:], f"stopped {stopped_after:.1f} s after SIGTERM", sep="\n")
    assert process.returncode == 3, stderr
    (line,) = stderr.splitlines()
    assert line.startswith("error: rollout stopped by SIGTERM: ") and line.endswith("run the same command again to resume")
    assert "interrupted" in stdout or "not started: the rollout is stopping" in stdout
    assert not any(_running(pid) for pid in seen)  # no terraform left behind
    assert seen and sorted(project.folder.glob(".*.lock.info")) == []  # each released its lock itself
    assert stopped_after < 60
    assert project.instance_ids() == before


def test_a_finished_rollout_run_again_skips_every_stack_without_waiting(project: Project) -> None:
    before = project.instance_ids()
    # An apply plans only what changed since its apply record: nothing here, so not even a plan.
    result = project.rollout("--parallel", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for site in SITES:
        assert steps(report, site) == [(f"{site}-{stack}", "skip", "done") for stack in ("shared", "secondary", "primary")]
        assert [step["detail"].split(";")[0] for step in site_report(report, site)["steps"]] == [
            f"unchanged since {record}" for record in _applied_at(report, site)]
    # Asked for every stack, each is planned and finds nothing to do.
    result = project.rollout("--parallel", "2", "--all-stacks", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for site in SITES:
        assert steps(report, site) == [(f"{site}-{stack}", action, "done")
                                       for stack in ("shared", "secondary", "primary") for action in ("plan", "skip")]
    assert project.instance_ids() == before


def _applied_at(report: dict[str, Any], site: str) -> list[str]:
    return [stack["applied_at"] for stack in site_report(report, site)["unchanged"]]


def test_one_pipeline_run_replaces_every_member_of_both_sites_one_member_at_a_time(project: Project) -> None:
    """The main-branch job as written (--parallel 4, gates reading the OMAPI key from SSM): a
    DNS change rewrites all four members' configs and one run rolls both sites at once."""
    before = project.instance_ids()
    started = time.time()
    write_sites(project.folder / INVENTORY, "10.0.0.55")
    result = project.pipeline(plan_only=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"]
    after = project.instance_ids()
    hosts = project.hosts
    for site in SITES:
        assert steps(report, site) == [
            (f"{site}-shared", "skip", "done"),  # --changed: unchanged since its last apply, not even planned
            (f"{site}-secondary", "plan", "done"), (f"{site}-secondary", "apply", "done"),
            (f"{site}-primary", "state", "done"), (f"{site}-secondary", "gate", "passed"),
            (f"{site}-primary", "plan", "done"), (f"{site}-primary", "apply", "done"),
            (f"{site}-primary", "gate", "passed"),
        ]
        assert gate_details(report, site) == ["normal", "normal"]
        primary, secondary = f"{site}-a", f"{site}-b"
        new_secondary, old_primary, new_primary = after[secondary], before[primary], after[primary]
        assert new_secondary and old_primary and new_primary
        assert new_secondary != before[secondary] and new_primary != old_primary
        secondary_normal, primary_down = hosts.normal_at(new_secondary), hosts.went_down(primary, old_primary)
        assert secondary_normal is not None and primary_down is not None and secondary_normal < primary_down
        assert hosts.both_down(site, since=started) == []


def test_status_from_a_third_machine_with_only_aws_access_reads_both_members_normal(
    project: Project, tmp_path: Path,
) -> None:
    """Issue 12: a third folder holding only the inventory, with only the AWS endpoint and
    credentials (no key store, no state, no synth): `status --omapi-key-from ssm` reads the OMAPI
    key from SSM and both members, booted from their deployed user-data, answer normal."""
    third = tmp_path / "third"
    third.mkdir()
    (third / INVENTORY).write_bytes((project.folder / INVENTORY).read_bytes())
    env = {"PATH": os.environ["PATH"], "HOME": str(third), "PYTHONPATH": str(REPO),
           ENDPOINT_ENV: project.env[ENDPOINT_ENV], **MOTO_CREDENTIALS}
    for site in SITES:
        route = [arg for host in project.hosts.hosts if host.site.name == site
                 for arg in ("--omapi-host", f"{host.member.name}=127.0.0.1",
                             "--omapi-via", f"{host.member.name}={' '.join(host.lab.netns_exec(host.name))}")]
        status = [sys.executable, "-m", "dhcp_failover", "status", "--inventory", INVENTORY, "--site", site, *route]
        # Without SSM this machine has no key at all: the control that the folder holds none.
        no_store = subprocess.run(status, cwd=third, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert no_store.returncode == 2 and "no key store" in no_store.stderr, no_store.stderr
        result = subprocess.run([*status, "--omapi-key-from", "ssm", "--json"], cwd=third, env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["normal"] is True
        assert [(m["role"], m["local_state"], m["partner_state"], m["omapi_key"]) for m in report["members"]] == [
            ("primary", "normal", "normal", "current"), ("secondary", "normal", "normal", "current")]
    assert sorted(path.name for path in third.iterdir()) == [INVENTORY]  # nothing written: no key store


def test_clients_behind_the_relays_were_answered_through_every_rollout_and_a_pair_always_served(
    project: Project,
) -> None:
    """The zero-downtime proof. Since the first deploy, a first DNS change was rolled out (depot
    while branch failed, then branch interrupted and resumed) and a second one to both sites in
    one run, while staying clients renewed and new ones arrived every few seconds behind each relay. Every member's failover state over
    that time is in rollout-states.txt (from each dhcpd's own log)."""
    clients, hosts = project.clients, project.hosts
    time.sleep(LEASE_TIME)  # every staying client renews once more after the last change
    clients.stop_probing()
    timelines = {site: state_timeline(hosts, site) for site in SITES}
    write_timeline(project.folder / "rollout-states.txt", timelines)
    print((project.folder / "rollout-states.txt").read_text())
    for site in SITES:
        ledger, probes = clients.sites[site].ledger, clients.sites[site].probes
        members = {m.name for m in project.sites[site].members}
        lbms = project.sites[site].failover.load_balance_max_seconds
        waits = [probe.waited for probe in probes]
        rebuilt = [host.boots for host in hosts.hosts if host.site.name == site]
        print(f"{site}: {len(probes)} new clients (longest wait {max(w or 0 for w in waits):.1f} s, "
              f"load balance max seconds {lbms}), {len(ledger.renewing)} staying clients with "
              f"{sum(len(c.grants()) for c in ledger.renewing)} leases, members booted {rebuilt} times")
        assert rebuilt == [3, 3]  # both members replaced twice under the clients' feet
        # Every new client got a lease within load balance max seconds and dhclient's retransmissions.
        assert probes and [p for p in probes if p.grant is None] == []
        assert len(probes) >= 20
        # Every staying client renewed before its lease ran out, kept its address, got no NAK.
        assert clients.sites[site].lapses() == []
        assert all(len({g.address for g in c.grants()}) == 1 and c.naks() == 0 for c in ledger.renewing)
        assert all(c.grants()[-1].granted > project.serving_since + 60 for c in ledger.renewing)
        assert ledger.duplicates() == []
        assert clients.lost_bindings(site) == {name: [] for name in members}
        # At no moment was neither member in a serving state (down, starting, recovering).
        assert out_of_service(timelines[site], members, since=project.serving_since) == []
        assert {what for _, _, what in timelines[site]} >= {"down", "startup", "normal"}


def planned_stacks(report: dict[str, Any]) -> list[str]:
    return [plan["stack"] for site in report["sites"] for plan in site["plans"]]


def test_changed_plans_exactly_the_stacks_of_the_one_site_whose_dns_changed(project: Project) -> None:
    """After the zero-downtime proof (it counts the boots): plan-only runs replace nothing."""
    write_sites(project.folder / INVENTORY, "10.0.0.55", depot_dns="10.0.0.56")
    try:
        start = time.monotonic()
        result = project.rollout("--plan-only", "--changed", "--json")
        print(f"--plan-only --changed of one changed site: {time.monotonic() - start:.1f} s")
    finally:
        write_sites(project.folder / INVENTORY, "10.0.0.55")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert planned_stacks(report) == ["depot-secondary", "depot-primary"]
    assert [[plan["adds"], plan["destroys"]] for plan in site_report(report, "depot")["plans"]] == [[2, 2], [2, 2]]
    assert [u["stack"] for u in site_report(report, "depot")["unchanged"]] == ["depot-shared"]
    assert [u["stack"] for u in site_report(report, "branch")["unchanged"]] == [
        "branch-shared", "branch-secondary", "branch-primary"]
    assert all(site["unrecorded"] == [] for site in report["sites"])


def test_drift_reports_a_rule_deleted_behind_terraforms_back_and_changed_does_not(project: Project) -> None:
    endpoint = project.env[ENDPOINT_ENV]
    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test")
    start = time.monotonic()
    clean = project.rollout("--drift", "--json")
    print(f"--drift of 2 sites: {time.monotonic() - start:.1f} s")
    assert clean.returncode == 0, clean.stderr
    assert not json.loads(clean.stdout)["drift_found"]
    # The relay's DHCP rule on depot's primary (the inventory's relay address, /32), revoked as an
    # operator would by hand: by what it allows, in its group.
    (group,) = ec2.describe_security_groups(Filters=[{"Name": "tag:Name", "Values": ["depot-primary"]}])["SecurityGroups"]
    relay = next(p for p in group["IpPermissions"] if p.get("FromPort") == 67 and p["IpProtocol"] == "udp")
    print("revoking", group["GroupId"], relay)
    ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 67, "ToPort": 67, "IpRanges": [{"CidrIp": relay["IpRanges"][0]["CidrIp"]}]}])

    drifted = project.rollout("--drift", "--json")
    assert drifted.returncode == 4, drifted.stderr
    assert drifted.stderr.splitlines()[-1].startswith("error: drift found in 1 stack(s)")
    report = json.loads(drifted.stdout)
    assert report["drift_found"] and report["drift"]
    found = {plan["stack"]: plan["drift"] for site in report["sites"] for plan in site["plans"] if plan["drift"]}
    assert list(found) == ["depot-shared"]
    (words,) = found["depot-shared"]
    assert words.startswith("`aws_vpc_security_group_ingress_rule.") and words.endswith("` was deleted outside terraform")
    markdown = project.rollout("--drift", "--sites", "depot")
    assert markdown.returncode == 4
    assert "### dhcp-failover drift check: 1 site(s), 1 of 3 stack(s) drifted" in markdown.stdout
    assert "| depot | `depot-shared` | 1 |" in markdown.stdout

    # --changed compares configurations, not AWS: nothing is planned, and each stack's last drift check is shown.
    changed = project.rollout("--plan-only", "--changed")
    assert changed.returncode == 0, changed.stderr
    assert "0 of 0 stack(s) change" in changed.stdout and "**6 stack(s) skipped as unchanged**" in changed.stdout
    assert re.search(r"^\| depot \| `depot-shared` \| [\dT:Z-]+ \| [\dT:Z-]+ \(drift found\) \|$", changed.stdout, re.M)
    assert re.search(r"^\| branch \| `branch-primary` \| [\dT:Z-]+ \| [\dT:Z-]+ \|$", changed.stdout, re.M)


def test_an_apply_leaves_drift_to_all_stacks_and_two_shards_at_once_take_one_site_each(project: Project) -> None:
    """After the drift test: depot-shared lacks the rule deleted behind terraform's back."""
    endpoint = project.env[ENDPOINT_ENV]
    ec2 = boto3.client("ec2", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="test",
                       aws_secret_access_key="test")

    def relay_rules() -> int:
        (group,) = ec2.describe_security_groups(
            Filters=[{"Name": "tag:Name", "Values": ["depot-primary"]}])["SecurityGroups"]
        # One permission per protocol and port, each source a range of it.
        return sum(len(p["IpRanges"]) for p in group["IpPermissions"] if p.get("FromPort") == 67
                   and p["IpProtocol"] == "udp")

    missing = relay_rules()
    # An apply plans only what changed since its apply record: the drifted stack's configuration did not.
    kept = project.rollout("--json")
    assert kept.returncode == 0, kept.stderr
    assert {step["action"] for site in json.loads(kept.stdout)["sites"] for step in site["steps"]} == {"skip"}
    assert relay_rules() == missing

    # Two jobs of one --shard K/2 matrix at once, each asked for every stack of its share.
    jobs = [subprocess.Popen(project.argv("--all-stacks", "--shard", f"{k}/2", "--json"), cwd=project.folder,
                             env=project.env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for k in (1, 2)]
    outputs = [job.communicate(timeout=1200) for job in jobs]
    for job, (_, stderr) in zip(jobs, outputs, strict=True):
        print(stderr[-3000:])
        assert job.returncode == 0, stderr
    reports = [json.loads(stdout) for stdout, _ in outputs]
    taken = [[site["site"] for site in report["sites"]] for report in reports]
    assert sorted(site for sites in taken for site in sites) == sorted(SITES), taken
    assert all(len(sites) == 1 for sites in taken), taken  # 2 sites, 2 shards: one each
    depot = next(report for report in reports if report["sites"][0]["site"] == "depot")
    assert ("depot-shared", "apply", "done") in steps(depot, "depot")
    assert relay_rules() == missing + 1  # the plan of every stack put the rule back


def test_a_site_moved_to_debian_13_is_reviewed_as_both_members_replaced_and_nothing_else(project: Project) -> None:
    inventory = project.folder / INVENTORY
    data = yaml.safe_load(inventory.read_text())
    (depot,) = [site for site in data["sites"] if site["name"] == "depot"]
    depot["os"] = "debian-13"
    inventory.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        result = project.rollout("--plan-only", "--changed", "--json")
    finally:
        write_sites(inventory, "10.0.0.55")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert planned_stacks(report) == ["depot-secondary", "depot-primary"]  # the shared stack: no package in it
    replacements = [line for plan in site_report(report, "depot")["plans"] for line in plan["replacements"]]
    assert replacements == ["replaces secondary depot-b of site depot: user_data changed",
                            "replaces primary depot-a of site depot: user_data changed"]
    assert [u["stack"] for u in site_report(report, "branch")["unchanged"]] == [
        "branch-shared", "branch-secondary", "branch-primary"]
