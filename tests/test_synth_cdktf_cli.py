"""`npx cdktf synth` (cdktf-cli pinned in package.json) produces exactly what `python main.py` does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.checkout import CDKTF, INVENTORY_ENV, cdktf_project, run_main, tree


def test_cdktf_cli_synth_equals_python_main(tmp_path: Path) -> None:
    checkout = cdktf_project(tmp_path / "checkout")
    cdktf_json = (checkout / "cdktf.json").read_bytes()
    # The CLI runs main.py without arguments: the inventory comes from the environment.
    env = {
        **os.environ,
        INVENTORY_ENV: "examples/multi-site.yaml",
        "CHECKPOINT_DISABLE": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CI": "1",  # no spinner, no prompts
    }
    result = subprocess.run(
        [str(CDKTF), "synth"], cwd=checkout, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    python = run_main(
        checkout, env={INVENTORY_ENV: "examples/multi-site.yaml", "CDKTF_OUTDIR": str(tmp_path / "python.out")}
    )
    assert python.returncode == 0, python.stderr
    from_cli, from_python = tree(checkout / "cdktf.out"), tree(tmp_path / "python.out")
    assert from_cli == from_python
    assert len(json.loads(from_cli["manifest.json"])["stacks"]) == 9
    assert (checkout / "cdktf.json").read_bytes() == cdktf_json  # the CLI added no projectId
