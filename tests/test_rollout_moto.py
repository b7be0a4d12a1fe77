"""`python -m dhcp_failover rollout` against a local AWS API (scripts/moto-server) with real
terraform, and members that really run: every instance the rollout creates is booted in its
member's network namespace from its deployed user-data (member_hosts), so each gate reads real
failover states over OMAPI.

One moto server, one project folder and one inventory of two sites (hq and branch) for the whole
module; the tests run in file order and each builds on the state the last one left:
first deploy and plan review of a DNS change (the example pipelines' commands, as written),
that change rolled out while one site's plan fails, an interrupted rollout resumed, and a final
run that finds nothing to do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dhcp_failover.app import ENDPOINT_ENV, SITES_ENV
from dhcp_failover.inventory import load_inventory
from dhcp_failover.model import Site
from tests.lab.member_hosts import MemberHosts
from tests.lab.netlab import require_lab
from tests.support.checkout import INVENTORY_ENV
from tests.support.deploy import key_exports, moto_server
from tests.support.factories import REPO, inventory_data, site_data
from tests.support.pipelines import GITHUB, rollout_command
from tests.support.tfenv import require_provider_mirror, write_cli_config
from tests.support.tools import require

pytestmark = pytest.mark.netns
MOTO_AMI = "ami-1e749f67"  # an AMI moto knows
INVENTORY = "sites.yaml"
GATE_TIMEOUT = "120"
SITES = ("hq", "branch")


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
    return data


def write_sites(path: Path, dns: str) -> Path:
    path.write_text(yaml.safe_dump(inventory_data(site_yaml("hq", 77, dns), site_yaml("branch", 78, dns)),
                                   sort_keys=False))
    return path


@dataclass
class Project:
    folder: Path
    env: dict[str, str]
    hosts: MemberHosts
    sites: dict[str, Site]

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
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    require_provider_mirror()
    require("terraform")
    require_lab()
    root = tmp_path_factory.mktemp("rollout")
    folder = root / "project"
    folder.mkdir()
    inventory = write_sites(folder / INVENTORY, "10.0.0.53")
    sites = {site.name: site for site in load_inventory(inventory).sites}
    with moto_server(root / "moto.log") as endpoint, \
            MemberHosts(list(sites.values()), endpoint, root / "hosts") as hosts:
        base = {k: v for k, v in write_cli_config(root).items()
                if not k.startswith("TF_VAR_") and k not in ("CDKTF_OUTDIR", INVENTORY_ENV, SITES_ENV)}
        base.update({ENDPOINT_ENV: endpoint, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                     "PYTHONPATH": str(REPO), "TF_PLUGIN_CACHE_DIR": str(root / "plugin-cache")})
        env = {**base, **key_exports(folder, INVENTORY, base)}
        yield Project(folder, env, hosts, sites)
        assert hosts.errors == []


def test_first_rollout_deploys_each_site_in_order_and_gates_on_real_failover_states(project: Project) -> None:
    result = project.pipeline(plan_only=False)  # --parallel 4 --json
    assert result.returncode == 0, result.stderr
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


def test_plan_only_reviews_a_dns_change_as_markdown_naming_each_replacement(project: Project) -> None:
    before = project.instance_ids()
    write_sites(project.folder / INVENTORY, "10.0.0.54")
    result = project.pipeline(plan_only=True)
    assert result.returncode == 0, result.stderr
    markdown = result.stdout
    assert markdown.startswith("### dhcp-failover rollout plan: 2 site(s)")
    for site in SITES:
        # The instance and its Elastic IP association are replaced; the shared stack is untouched.
        assert f"| {site} | `{site}-secondary` | 2 | 0 | 2 |" in markdown
        assert f"| {site} | `{site}-primary` | 2 | 0 | 2 |" in markdown
        assert f"`{site}-shared`" not in markdown
        assert f"- replaces secondary {site}-b of site {site}: user_data changed" in markdown
        assert f"- replaces primary {site}-a of site {site}: user_data changed" in markdown
    assert project.instance_ids() == before  # nothing applied


def test_a_failing_plan_stops_its_site_only_while_the_other_rolls_through_its_gates(project: Project) -> None:
    before = project.instance_ids()
    # branch's secrets are missing: its first plan fails, nothing of it may be applied.
    env = {k: v for k, v in project.env.items() if not k.startswith("TF_VAR_branch_")}
    result = project.rollout("--parallel", "2", "--json", env=env)
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert not report["ok"]
    branch = site_report(report, "branch")
    assert branch["status"] == "failed" and branch["failure"].startswith("branch-shared: plan: ")
    assert "No value for required variable: The root module input variable" in branch["failure"]
    assert steps(report, "branch") == [("branch-shared", "plan", "failed")]
    assert "error: rollout failed in 1 of 2 site(s): branch: branch-shared: plan:" in result.stderr
    assert steps(report, "hq") == [
        ("hq-shared", "plan", "done"), ("hq-shared", "skip", "done"),  # a DNS change is all in user-data
        ("hq-secondary", "plan", "done"), ("hq-secondary", "apply", "done"),
        ("hq-primary", "state", "done"), ("hq-secondary", "gate", "passed"),
        ("hq-primary", "plan", "done"), ("hq-primary", "apply", "done"), ("hq-primary", "gate", "passed"),
    ]
    assert gate_details(report, "hq") == ["normal", "normal"]
    after = project.instance_ids()
    assert after["branch-a"] == before["branch-a"] and after["branch-b"] == before["branch-b"]
    assert after["hq-a"] != before["hq-a"] and after["hq-b"] != before["hq-b"]
    # The gate held: the rebuilt secondary was normal with the old primary before the primary was
    # replaced, and at no moment were both members down.
    hosts = project.hosts
    new_secondary, old_primary, new_primary = after["hq-b"], before["hq-a"], after["hq-a"]
    assert new_secondary and old_primary and new_primary
    secondary_normal, primary_down = hosts.normal_at(new_secondary), hosts.went_down("hq-a", old_primary)
    assert secondary_normal is not None and primary_down is not None and secondary_normal < primary_down
    assert hosts.normal_at(new_primary) is not None
    assert hosts.both_down("hq", since=0) == []


def test_an_interrupted_rollout_resumes_where_it_stopped(project: Project) -> None:
    before = project.instance_ids()
    process = subprocess.Popen(project.argv("--sites", "branch"), cwd=project.folder, env=project.env, text=True,
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

    result = project.rollout("--sites", "branch", "--json")
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


def test_a_finished_rollout_run_again_skips_every_stack_without_waiting(project: Project) -> None:
    before = project.instance_ids()
    result = project.rollout("--parallel", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for site in SITES:
        assert steps(report, site) == [(f"{site}-{stack}", action, "done")
                                       for stack in ("shared", "secondary", "primary") for action in ("plan", "skip")]
    assert project.instance_ids() == before
