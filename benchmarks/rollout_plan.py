"""Plan review of unchanged sites: ``rollout --plan-only`` of N sites vs 1 site, side by side.

    .venv/bin/python -m benchmarks.rollout_plan [--sites N] [--repeat R] [--parallel P]

Against a local AWS API (scripts/moto-server, on 127.0.0.1) with real terraform: N generated
sites (default 10) deployed once with ``rollout --no-gate`` (not timed), then, R times in turn,
``rollout --plan-only --sites site-000`` and ``rollout --plan-only`` of all N sites (the
parallelism is the command's default unless ``--parallel``). Prints each run's wall time and
the CPU the command and everything it ran used (nearly all of it terraform and the AWS
provider, three provider starts per plan), the best of each side and their ratio (goal <= 4x
on 2 cores), and the load average, since a shared machine inflates both.

Needs what the tests need: a terraform provider mirror (found as tests/support/tfenv.py finds
it) and moto from the dev packages.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.many_sites import inventory as many_sites

REPO = Path(__file__).resolve().parent.parent
MOTO_AMI = "ami-1e749f67"  # an AMI moto knows in every region
DROP = ("DHCP_FAILOVER_INVENTORY", "DHCP_FAILOVER_AWS_ENDPOINT", "DHCP_FAILOVER_SITES", "CDKTF_OUTDIR")


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + system seconds of the command and every process it ran


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP and not k.startswith("TF_VAR_")}
    return {**env, "CHECKPOINT_DISABLE": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "PYTHONPATH": str(REPO), **extra}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}\n"
                 f"{result.stderr[-3000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(wall, cpu)


@contextmanager
def deployed_sites(work: Path, sites: int) -> Iterator[tuple[Path, dict[str, str]]]:
    """N sites deployed to a fresh moto server; yields the project folder and its environment."""
    from tests.support.deploy import moto_server
    from tests.support.tfenv import require_provider_mirror, write_cli_config

    require_provider_mirror()
    project = work / "project"
    project.mkdir()
    data = many_sites(sites)
    for site in data["sites"]:
        for member in site["members"]:
            member["placement"]["ami"] = MOTO_AMI
    (project / "sites.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for entry in ("main.py", "cdktf.json", "package.json"):
        shutil.copy2(REPO / entry, project / entry)
    with moto_server(work / "moto.log") as endpoint:
        env = base_env(**{k: v for k, v in write_cli_config(work).items() if k.startswith("TF_")},
                       DHCP_FAILOVER_AWS_ENDPOINT=endpoint, AWS_ENDPOINT_URL=endpoint,
                       TF_PLUGIN_CACHE_DIR=str(work / "plugin-cache"))
        keys = subprocess.run([sys.executable, "-m", "dhcp_failover", "keys", "--inventory", "sites.yaml"],
                              cwd=project, env=env, capture_output=True, text=True, check=True).stdout
        for line in keys.splitlines():
            name, _, value = shlex.split(line)[1].partition("=")
            env[name] = value
        timed([*rollout_argv(), "--no-gate", "--parallel", "4"], project, env)
        yield project, env


def rollout_argv() -> list[str]:
    return [sys.executable, "-m", "dhcp_failover", "rollout", "--inventory", "sites.yaml"]


def plan_only_runs(project: Path, env: dict[str, str], repeat: int,
                   parallel: int | None) -> tuple[list[Run], list[Run]]:
    """(1-site runs, all-site runs), taken in turn so both see the same load."""
    flags = ["--plan-only", *(["--parallel", str(parallel)] if parallel else [])]
    one, many = [], []
    for _ in range(repeat):
        one.append(timed([*rollout_argv(), *flags, "--sites", "site-000"], project, env))
        many.append(timed([*rollout_argv(), *flags], project, env))
    return one, many


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10, help="sites in the big review (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts (default 2)")
    parser.add_argument("--parallel", type=int, help="rollout --parallel (default: the command's own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rollout-plan-bench-") as scratch:
        start = time.perf_counter()
        with deployed_sites(Path(scratch), args.sites) as (project, env):
            print(f"deployed {args.sites} sites in {time.perf_counter() - start:.1f} s (not a figure); "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            one, many = plan_only_runs(project, env, args.repeat, args.parallel)
    stacks = 3 * args.sites
    for label, runs, count in (("1 site", one, 3), (f"{args.sites} sites", many, stacks)):
        for run in runs:
            print(f"plan-only, {label:<9} {run.wall:7.2f} s wall, {run.cpu:7.2f} s CPU ({run.cpu / count:.2f} s "
                  "per stack)")
    best_one, best_many = min(r.wall for r in one), min(r.wall for r in many)
    print(f"best: 1 site {best_one:.2f} s, {args.sites} sites {best_many:.2f} s: {best_many / best_one:.2f} x "
          f"(goal <= 4 x); {os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
