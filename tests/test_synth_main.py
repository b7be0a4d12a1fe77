"""main.py as users and `cdktf synth` run it: inventory selection, one-line errors with nothing
written, byte-identical output from any checkout folder, and no key material in cdktf.out."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dhcp_failover.app import DECOMMISSION_ENV, ENDPOINT_ENV, SITES_ENV
from dhcp_failover.inventory import load_inventory
from dhcp_failover.local_keys import KeyStore, default_path
from dhcp_failover.secret_names import site_secrets
from tests.support.checkout import (
    INVENTORY_ENV,
    REPO,
    copy_checkout,
    placed_site,
    run_main,
    tree,
)
from tests.support.factories import inventory_data, site_data, write_inventory


def test_two_checkouts_synthesize_byte_identical_output(tmp_path: Path, synthesized_examples: dict[str, Path]) -> None:
    outputs = []
    for name in ("checkout-one", "elsewhere/checkout-two"):
        checkout = copy_checkout(tmp_path / name)
        result = run_main(checkout)  # no arguments: the default inventory, examples/minimal.yaml
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "synthesized 3 stack(s) into cdktf.out: hq-shared, hq-secondary, hq-primary"
        outputs.append(tree(checkout / "cdktf.out"))
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == {
        "manifest.json",
        "stacks/hq-shared/cdk.tf.json",
        "stacks/hq-secondary/cdk.tf.json",
        "stacks/hq-primary/cdk.tf.json",
    }
    assert not any(str(tmp_path).encode() in content for content in outputs[0].values())
    # The in-process synth every other test reads is the same bytes.
    assert tree(synthesized_examples["minimal"]) == outputs[0]


def test_inventory_comes_from_the_option_then_the_environment(tmp_path: Path) -> None:
    env = {INVENTORY_ENV: str(REPO / "examples" / "multi-site.yaml"), "CDKTF_OUTDIR": str(tmp_path / "env.out")}
    result = run_main(tmp_path, env=env, script=REPO / "main.py")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "env.out" / "stacks").iterdir())[:3] == [
        "berlin-primary", "berlin-secondary", "berlin-shared"
    ]
    env["CDKTF_OUTDIR"] = str(tmp_path / "option.out")
    result = run_main(tmp_path, "--inventory", str(REPO / "examples" / "two-regions.yaml"), env=env, script=REPO / "main.py")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "option.out" / "stacks").iterdir()) == [
        "transatlantic-primary", "transatlantic-secondary", "transatlantic-shared"
    ]


BAD_INPUTS = {
    "missing file": (["--inventory", "nope.yaml"], {}, "nope.yaml: no such inventory file"),
    "missing file from env": ([], {INVENTORY_ENV: "gone.yaml"}, "gone.yaml: no such inventory file"),
    "yaml syntax": (["--inventory", "broken.yaml"], {}, "YAML syntax error"),
    "semantic": (["--inventory", "semantic.yaml"], {}, "a failover pair needs exactly one primary"),
    "no placement": (["--inventory", "unplaced.yaml"], {}, "no site has a placement"),
    "aws limit": (["--inventory", "wide.yaml"], {}, "AWS accepts /16 to /28"),
    "bad endpoint": ([], {ENDPOINT_ENV: "localhost:5000"}, f"${ENDPOINT_ENV}="),
    "local API terraform would not find": ([], {ENDPOINT_ENV: "http://127.0.0.1:5000"},
                                           "export AWS_ENDPOINT_URL=http://127.0.0.1:5000"),
    "local API terraform would miss": ([], {ENDPOINT_ENV: "http://127.0.0.1:5000", "AWS_ENDPOINT_URL": "http://127.0.0.1:5001"},
                                       "$AWS_ENDPOINT_URL is 'http://127.0.0.1:5001'"),
    "unknown site to decommission": ([], {DECOMMISSION_ENV: "hq, nosuch"}, "names site 'nosuch', which the inventory"),
    "bad option": (["--inventroy", "x.yaml"], {}, "unrecognized arguments"),
    "unknown site selected": (["--sites", "hq,nosuch"], {}, "--sites names site 'nosuch', which the inventory"),
    "unknown site in env": ([], {SITES_ENV: "elsewhere"}, f"${SITES_ENV} names site 'elsewhere', which"),
    "empty sites selected": (["--sites", ""], {}, "--sites names no site; give one or more, comma-separated"),
    "sites of commas only": (["--sites", ", ,"], {}, "--sites names no site"),
    "empty sites in env": ([], {SITES_ENV: ""}, f"${SITES_ENV}='' names no site"),
    "blank sites in env": ([], {SITES_ENV: " , "}, f"${SITES_ENV}=' , ' names no site"),
    "unplaced site selected": (["--inventory", "mixed.yaml", "--sites", "lab"], {}, "site 'lab', which has no placement"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_nothing_written(tmp_path: Path, case: str) -> None:
    args, env, message = BAD_INPUTS[case]
    write_inventory(tmp_path / "broken.yaml", "sites: [\n")
    semantic = site_data()
    semantic["members"][1]["role"] = "primary"
    write_inventory(tmp_path / "semantic.yaml", inventory_data(semantic))
    write_inventory(tmp_path / "unplaced.yaml", inventory_data())
    wide = placed_site()
    wide["members"][1].update(address="10.200.3.10", network="10.200.3.0/24")
    write_inventory(tmp_path / "wide.yaml", inventory_data(wide))
    elsewhere = json.loads(json.dumps(placed_site("placed")).replace('"10.77.', '"10.78.'))
    write_inventory(tmp_path / "mixed.yaml", inventory_data(site_data(), elsewhere))
    result = run_main(tmp_path, *args, env=env, script=REPO / "main.py")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not (tmp_path / "cdktf.out").exists()


def test_selected_sites_synthesize_whole_and_alone(tmp_path: Path, synthesized_examples: dict[str, Path]) -> None:
    """--sites (and $DHCP_FAILOVER_SITES, which it overrides) leaves the other sites out, and
    each selected site's stacks are byte for byte those of a synth of every site."""
    full = tree(synthesized_examples["multi-site"])
    inventory = str(REPO / "examples" / "multi-site.yaml")
    result = run_main(tmp_path, "--inventory", inventory, "--sites", "paris, berlin", env={SITES_ENV: "london"},
                      script=REPO / "main.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("synthesized 6 stack(s)")
    selected = tree(tmp_path / "cdktf.out")
    stacks = {name for name in selected if name.startswith("stacks/")}
    assert stacks == {f"stacks/{site}-{part}/cdk.tf.json" for site in ("paris", "berlin")
                      for part in ("shared", "secondary", "primary")}
    assert all(selected[name] == full[name] for name in stacks)
    manifest = json.loads(selected["manifest.json"])
    assert sorted(manifest["stacks"]) == sorted(name.split("/")[1] for name in stacks)

    (tmp_path / "env").mkdir()
    result = run_main(tmp_path / "env", "--inventory", inventory, env={SITES_ENV: "london"}, script=REPO / "main.py")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "env" / "cdktf.out" / "stacks").iterdir()) == [
        "london-primary", "london-secondary", "london-shared"]


@pytest.mark.parametrize("example", ["minimal", "office"])  # office: a TSIG key for DDNS too
def test_planted_key_material_never_reaches_cdktf_out(tmp_path: Path, example: str) -> None:
    """Real key material sits everywhere a secret lives on the synth machine (the key store
    made by `keys`, the TF_VAR_* it prints); no byte sequence of it may show up in any synthesized file."""
    checkout = copy_checkout(tmp_path / "checkout")
    inventory = checkout / "examples" / f"{example}.yaml"
    keys = subprocess.run([sys.executable, "-m", "dhcp_failover", "keys", "--inventory", str(inventory)],
                          cwd=checkout, capture_output=True, text=True, check=True)
    env = dict(line.removeprefix("export ").replace("'", "").split("=", 1) for line in keys.stdout.splitlines())
    store = KeyStore.load(default_path(inventory))
    secrets = [store.require(spec).value for site in load_inventory(inventory).sites for spec in site_secrets(site)]
    assert env[next(k for k in env if k.endswith("_omapi_key"))] in secrets
    result = run_main(checkout, "--inventory", str(inventory), env=env)
    assert result.returncode == 0, result.stderr
    synthesized = tree(checkout / "cdktf.out")
    for secret in secrets:
        raw = base64.b64decode(secret)
        forms = {
            "base64": secret.encode(),
            "base64url": base64.urlsafe_b64encode(raw),
            "hex": raw.hex().encode(),
            "raw": raw,
        }
        # Any 12-character window of the text: a partial or re-wrapped leak is caught too.
        windows = {secret[i : i + 12].encode() for i in range(len(secret) - 11)}
        for name, content in synthesized.items():
            for form, needle in forms.items():
                assert needle not in content, f"{form} form of a key in {name}"
            assert not [w for w in windows if w in content], f"part of a key in {name}"
