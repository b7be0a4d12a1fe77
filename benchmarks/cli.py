"""Benchmark: wall time of `validate` and `render` for a 100-site inventory, side by side with
the interpreter's own start-up (the floor), as ratios. The target is about a second."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import many_sites

REPO = Path(__file__).resolve().parent.parent
RUNS = 5


def wall(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inventory = many_sites.write(Path(tmp) / "sites.yaml", 100)
        floor = wall([sys.executable, "-c", "import yaml, pydantic, jinja2"])
        validate = wall([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(inventory)])
        render = wall([sys.executable, "-m", "dhcp_failover", "render", "--inventory", str(inventory),
                       "--out", str(Path(tmp) / "out")])
    print(f"interpreter + imports floor: {floor:.2f} s")
    print(f"validate, 100 sites:         {validate:.2f} s  ({validate / floor:.1f}x floor)")
    print(f"render, 100 sites:           {render:.2f} s  ({render / floor:.1f}x floor)")


if __name__ == "__main__":
    main()
