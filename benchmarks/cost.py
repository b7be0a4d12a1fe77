"""Cost that follows the change (issue 28), in one run: the synth cache, the plan review of
what changed, and the drift check spread over shards.

    .venv/bin/python -m benchmarks.cost [--repeat N] [--fleet 500] [--deployed 10] [--drift-sites 20]
                                        [--synth-only | --review-only | --drift-only]

1. Synth, fresh interpreters (best of N): ``main.py --cache`` on a ``--fleet``-site inventory
   whose cache is warm except for one site that changed, vs ``main.py`` on a 1-site inventory
   (goal <= 1.3x); and a cold vs a warm 100-site synth.
2. Against a local AWS API (scripts/moto-server) with real terraform, ``--deployed`` sites
   deployed once with ``rollout --no-gate`` (not timed): one site's DNS changed, then
   ``rollout --plan-only --changed`` of every site vs ``rollout --plan-only --sites`` of that
   one site (goal <= 1.5x).
3. The same API, ``--drift-sites`` sites deployed: ``rollout --drift`` of all of them in one
   run vs ``--shard K/4`` for K = 1..4 one after another (goal: each shard within 1.3x of a
   quarter of the single run).

Each figure is printed as soon as it is measured, with the machine's load average (a shared
machine inflates every figure). Needs what the tests need (a provider mirror, moto).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.many_sites import inventory as many_sites
from benchmarks.rollout_plan import Run, base_env, deployed_sites, rollout_argv, timed

REPO = Path(__file__).resolve().parent.parent
MAIN = str(REPO / "main.py")
CHANGED_DNS = "10.250.0.53"


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def write(path: Path, data: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def change_one_site(data: dict[str, object], index: int = 0) -> dict[str, object]:
    """The inventory with site ``index``'s first subnet given another DNS server."""
    changed: dict[str, Any] = yaml.safe_load(yaml.safe_dump(data))
    changed["sites"][index]["subnets"][0]["dns_servers"] = [CHANGED_DNS]
    return changed


def best(runs: list[Run]) -> float:
    return min(run.wall for run in runs)


def synth_figures(work: Path, fleet: int, repeat: int) -> None:
    python, env = sys.executable, base_env()
    data = many_sites(fleet)
    one = write(work / "one.yaml", {"version": 1, "sites": data["sites"][:1]})
    # Warm the cache with the whole fleet (not timed) and change one site; then, in turn so both
    # see the same load, a 1-site synth and the fleet's synth from that warm cache (the changed
    # site's new entry removed again before each run).
    fleet_yaml = write(work / "fleet.yaml", data)
    cache = work / "cache"
    timed([python, MAIN, "--inventory", str(fleet_yaml), "--cache", str(cache)], work, env)
    warm_entries = set(cache.iterdir())
    changed = write(work / "fleet-changed.yaml", change_one_site(data))
    alone, one_changed = [], []
    for _ in range(repeat):
        shutil.rmtree(work / "cdktf.out", ignore_errors=True)
        alone.append(timed([python, MAIN, "--inventory", str(one)], work, env))
        for entry in set(cache.iterdir()) - warm_entries:
            shutil.rmtree(entry)
        one_changed.append(timed([python, MAIN, "--inventory", str(changed), "--cache", str(cache)], work, env))
    ratio = best(one_changed) / best(alone)
    print(f"synth, 1 changed site of {fleet}, warm cache: {best(one_changed):7.2f} s  {ratio:5.2f} x  (goal <= 1.3)")
    print(f"synth, 1-site inventory, no cache:        {best(alone):7.2f} s   1.00 x  ({load()})", flush=True)

    hundred = write(work / "hundred.yaml", many_sites(100))
    cold, warm = [], []
    for _ in range(repeat):
        shutil.rmtree(work / "cache-100", ignore_errors=True)
        cold.append(timed([python, MAIN, "--inventory", str(hundred), "--cache", str(work / "cache-100")], work, env))
        warm.append(timed([python, MAIN, "--inventory", str(hundred), "--cache", str(work / "cache-100")], work, env))
    print(f"synth, 100 sites, cold cache:             {best(cold):7.2f} s")
    print(f"synth, 100 sites, warm cache:             {best(warm):7.2f} s  {best(cold) / best(warm):5.2f} x faster "
          f"({load()})", flush=True)


def plan_review_figures(work: Path, sites: int, repeat: int) -> None:
    (work / "review").mkdir()
    with deployed_sites(work / "review", sites) as (project, env):
        inventory = project / "sites.yaml"
        write(inventory, change_one_site(yaml.safe_load(inventory.read_text())))
        changed_review, one_review = [], []
        for _ in range(repeat):  # in turn, so both see the same load
            changed_review.append(timed([*rollout_argv(), "--plan-only", "--changed"], project, env))
            one_review.append(timed([*rollout_argv(), "--plan-only", "--sites", "site-000"], project, env))
    ratio = best(changed_review) / best(one_review)
    print(f"plan review, 1 changed of {sites} deployed (--changed): {best(changed_review):7.2f} s  {ratio:5.2f} x  "
          "(goal <= 1.5)")
    print(f"plan review of that one site (--sites):       {best(one_review):7.2f} s   1.00 x  ({load()})", flush=True)


def drift_figures(work: Path, sites: int) -> None:
    (work / "drift").mkdir()
    with deployed_sites(work / "drift", sites) as (project, env):
        whole = timed([*rollout_argv(), "--drift"], project, env)
        shards = [timed([*rollout_argv(), "--drift", "--shard", f"{k}/4"], project, env) for k in range(1, 5)]
    quarter = whole.wall / 4
    print(f"drift, {sites} sites in 1 run:  {whole.wall:7.2f} s wall, {whole.cpu:7.2f} s CPU")
    for k, run in enumerate(shards, start=1):
        print(f"drift, shard {k}/4:           {run.wall:7.2f} s wall, {run.cpu:7.2f} s CPU  "
              f"{run.wall / quarter:5.2f} x a quarter (goal <= 1.3)")
    print(f"({load()})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per synth and review figure; the best counts")
    parser.add_argument("--fleet", type=int, default=500, help="sites in the warm-cache synth figure (default 500)")
    parser.add_argument("--deployed", type=int, default=10, help="sites deployed for the plan review (default 10)")
    parser.add_argument("--drift-sites", type=int, default=20, help="sites deployed for the drift figure (default 20)")
    parser.add_argument("--synth-only", action="store_true", help="only the synth figures (no AWS API)")
    parser.add_argument("--review-only", action="store_true", help="only the plan review figure (section 2)")
    parser.add_argument("--drift-only", action="store_true", help="only the drift figure (section 3)")
    parser.add_argument("--skip-drift", action="store_true", help="leave out the drift figure (its deploy is long)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cost-bench-") as scratch:
        work = Path(scratch)
        if args.drift_only:
            drift_figures(work, args.drift_sites)
            return 0
        if args.review_only:
            plan_review_figures(work, args.deployed, args.repeat)
            return 0
        synth_figures(work, args.fleet, args.repeat)
        if args.synth_only:
            return 0
        plan_review_figures(work, args.deployed, args.repeat)
        if not args.skip_drift:
            drift_figures(work, args.drift_sites)
    return 0


if __name__ == "__main__":
    sys.exit(main())
