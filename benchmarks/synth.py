"""Synth cost, in one run: the default synth, the bare toolchain floor, and a 100-site inventory.

    .venv/bin/python -m benchmarks.synth [--repeat N] [--sites N]

Each figure is the best wall time of N fresh interpreters (default 3), so the jsii kernel
start, the provider import and interpreter teardown are all counted, as a user pays them.
The floor is what no code of ours can remove: import cdktf and the provider bindings (the
same lean import main.py uses), synthesize a stack holding only an AwsProvider.
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

from benchmarks.many_sites import write as write_many_sites

REPO = Path(__file__).resolve().parent.parent

FLOOR = """
import sys
sys.path.insert(0, {repo!r})
import cdktf
from dhcp_failover.constructs.aws_modules import provider
app = cdktf.App(outdir={outdir!r})
stack = cdktf.TerraformStack(app, "floor")
cdktf.LocalBackend(stack, path="terraform.floor.tfstate")
provider.AwsProvider(stack, "aws", region="eu-west-1")
app.synth()
"""


def _env() -> dict[str, str]:
    drop = ("DHCP_FAILOVER_INVENTORY", "DHCP_FAILOVER_AWS_ENDPOINT", "CDKTF_OUTDIR")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "CHECKPOINT_DISABLE": "1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def best_wall_time(command: list[str], cwd: Path, repeat: int) -> float:
    """Best of ``repeat`` runs, in seconds; the output folder is wiped before each."""
    best = float("inf")
    for _ in range(repeat):
        shutil.rmtree(cwd / "cdktf.out", ignore_errors=True)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
        best = min(best, elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts (default 3)")
    parser.add_argument("--sites", type=int, default=100, help="sites in the large inventory (default 100)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as scratch:
        work = Path(scratch)
        inventory = write_many_sites(work / "many-sites.yaml", args.sites)
        floor = best_wall_time(
            [python, "-c", FLOOR.format(repo=str(REPO), outdir=str(work / "cdktf.out"))], work, args.repeat
        )
        default = best_wall_time([python, str(REPO / "main.py")], work, args.repeat)
        many = best_wall_time([python, str(REPO / "main.py"), "--inventory", str(inventory)], work, args.repeat)
        stacks = len(list((work / "cdktf.out" / "stacks").iterdir()))
    print(f"toolchain floor (cdktf + provider, empty stack):  {floor:6.2f} s   1.00 x floor")
    print(f"default synth (examples/minimal.yaml, 3 stacks):   {default:6.2f} s  {default / floor:5.2f} x floor")
    print(
        f"{args.sites}-site inventory ({stacks} stacks):            {many:6.2f} s  {many / floor:5.2f} x floor, "
        f"{many / default:.2f} x default"
    )
    print(f"best of {args.repeat} fresh interpreters each; {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
