"""Rollout cost, in one run: site selection in synth, and plan review of unchanged sites.

    .venv/bin/python -m benchmarks.rollout [--repeat N] [--sites N] [--skip-diff] [--synth-only]

1. ``main.py --sites site-000`` on a generated 100-site inventory vs ``main.py`` on an
   inventory of that one site (best of N fresh interpreters each; goal <= 1.3x).
2. Against a local AWS API (scripts/moto-server) with real terraform: N sites (default 10)
   deployed once with ``rollout --no-gate`` (not timed), then ``rollout --plan-only`` of all N
   unchanged sites vs of one (goal <= 4x on 2 cores), and the same N sites through
   ``npx cdktf diff`` per stack, as the per-stack deploy of docs/deploying.md would (synth each time).

Needs what the tests need: a terraform provider mirror (found as tests/tfenv.py finds it),
moto from the dev packages, node_modules for cdktf-cli. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.many_sites import inventory as many_sites
from benchmarks.many_sites import write as write_many_sites
from benchmarks.rollout_plan import deployed_sites, plan_only_runs

REPO = Path(__file__).resolve().parent.parent

MOTO_AMI = "ami-1e749f67"  # an AMI moto knows in every region
USER_PROJECT_LINKS = (".venv", "node_modules")  # what `npx cdktf diff` needs in the project
DROP = ("DHCP_FAILOVER_INVENTORY", "DHCP_FAILOVER_AWS_ENDPOINT", "DHCP_FAILOVER_SITES", "CDKTF_OUTDIR")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP and not k.startswith("TF_VAR_")}
    return {**env, "CHECKPOINT_DISABLE": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "PYTHONPATH": str(REPO), **extra}


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}\n"
                 f"{result.stderr[-3000:]}")
    return elapsed


def best(command: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        shutil.rmtree(cwd / "cdktf.out", ignore_errors=True)
        times.append(timed(command, cwd, env))
    return min(times)


def synth_figures(work: Path, repeat: int) -> tuple[float, float]:
    import yaml

    many = write_many_sites(work / "many.yaml", 100)
    one = work / "one.yaml"
    one.write_text(yaml.safe_dump({"version": 1, "sites": many_sites(1)["sites"]}, sort_keys=False))
    python, main = sys.executable, str(REPO / "main.py")
    selected = best([python, main, "--inventory", str(many), "--sites", "site-000"], work, _env(), repeat)
    alone = best([python, main, "--inventory", str(one)], work, _env(), repeat)
    return selected, alone


def plan_figures(work: Path, sites: int, skip_diff: bool) -> dict[str, float]:
    figures = {}
    start = time.perf_counter()
    with deployed_sites(work, sites) as (project, env):
        figures["deploy (not a goal)"] = time.perf_counter() - start
        ((one,), (many,)) = plan_only_runs(project, env, 1, None)
        figures["plan-only, 1 site"] = one.wall
        figures[f"plan-only, {sites} sites"] = many.wall
        if not skip_diff:
            # As a user's project: cdktf.json's app is .venv's python, npx finds the pinned CLI.
            for entry in USER_PROJECT_LINKS:
                (project / entry).symlink_to(REPO / entry)
            diff_env = {**env, "DHCP_FAILOVER_INVENTORY": "sites.yaml"}
            start = time.perf_counter()
            for index in range(sites):
                for part in ("shared", "secondary", "primary"):
                    timed(["npx", "cdktf", "diff", f"site-{index:03d}-{part}", "--skip-provider-lock"], project,
                          diff_env)
            figures[f"npx cdktf diff per stack, {sites} sites"] = time.perf_counter() - start
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per synth figure; the best counts (default 3)")
    parser.add_argument("--sites", type=int, default=10, help="sites in the plan-review figures (default 10)")
    parser.add_argument("--skip-diff", action="store_true", help="leave out the npx cdktf diff comparison")
    parser.add_argument("--synth-only", action="store_true", help="only the synth figures (no AWS API, minutes less)")
    args = parser.parse_args()
    missing = [entry for entry in USER_PROJECT_LINKS if not (REPO / entry).is_dir()]
    if missing and not (args.skip_diff or args.synth_only):
        parser.exit(2, f"error: {', '.join(missing)} missing: run `make install-test` first (or pass --skip-diff)\n")
    with tempfile.TemporaryDirectory(prefix="rollout-bench-") as scratch:
        work = Path(scratch)
        selected, alone = synth_figures(work, args.repeat)
        print(f"synth, 1 site selected of 100 (--sites):  {selected:7.2f} s  {selected / alone:5.2f} x  (goal <= 1.3)")
        print(f"synth, 1-site inventory:                  {alone:7.2f} s   1.00 x", flush=True)
        if args.synth_only:
            return 0
        figures = plan_figures(work, args.sites, args.skip_diff)
    one = figures["plan-only, 1 site"]
    for name, seconds in figures.items():
        ratio = "" if name.startswith("deploy") else f"  {seconds / one:5.2f} x 1 site"
        print(f"{name + ':':<42}{seconds:7.2f} s{ratio}")
    print("goal: plan-only of the sites <= 4 x 1 site")
    return 0


if __name__ == "__main__":
    sys.exit(main())
