"""The synth cache (dhcp_failover/synth_cache.py): a cached synth is byte for byte a cold one,
whole trees compared (every example, a generated 100-site inventory, hits and misses mixed);
a changed template or package version misses; an edited, truncated or foreign entry is
ignored with one warning line and written again; a cache that cannot be written is bypassed
with one warning line."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

import dhcp_failover
from benchmarks.many_sites import inventory as many_sites
from dhcp_failover.app import build_app, plan_synth
from dhcp_failover.inventory import inventory_from_data, load_inventory
from dhcp_failover.model import Inventory
from dhcp_failover.synth_cache import CACHE_FORMAT, ENTRY_RECORD, SynthResult, Toolchain, stable_stringify, synthesize
from tests.support.checkout import REPO, copy_checkout, run_main, tree
from tests.support.factories import EXAMPLES


def cached(inventory: Inventory, cache: Path, outdir: Path, **kwargs: object) -> SynthResult:
    # environ={}: as the cold synths of conftest's synthesized_examples (no local API of the caller).
    return synthesize(inventory, cache_folder=cache, outdir=outdir, environ={}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("example", [path.stem for path in EXAMPLES])
def test_a_cached_synth_of_every_example_is_byte_identical_to_a_cold_one(
    tmp_path: Path, synthesized_examples: dict[str, Path], example: str,
) -> None:
    inventory = load_inventory(REPO / "examples" / f"{example}.yaml")
    cold = tree(synthesized_examples[example])
    cache = tmp_path / "cache"
    first = cached(inventory, cache, tmp_path / "first")
    assert first.from_cache == () and first.warnings == ()
    assert tree(tmp_path / "first") == cold
    second = cached(inventory, cache, tmp_path / "second")
    assert second.synthesized == () and second.from_cache == first.synthesized
    assert tree(tmp_path / "second") == cold


def test_a_100_site_inventory_from_the_cache_hits_and_misses_mixed_is_byte_identical(tmp_path: Path) -> None:
    inventory = inventory_from_data(many_sites(100))
    names = [site.name for site in inventory.sites]
    build_app(plan_synth(inventory, environ={}), outdir=str(tmp_path / "cold")).synth()
    cold = tree(tmp_path / "cold")
    assert len(cold) == 1 + 3 * 100
    cache = tmp_path / "cache"
    some = tuple(names[::3])  # 34 sites cached first, scattered through the inventory
    cached(inventory, cache, tmp_path / "some", sites=some)
    mixed = cached(inventory, cache, tmp_path / "mixed")
    assert set(mixed.from_cache) == set(some) and len(mixed.synthesized) == 100 - len(some)
    assert tree(tmp_path / "mixed") == cold
    warm = cached(inventory, cache, tmp_path / "warm")
    assert warm.synthesized == () and list(warm.from_cache) == names
    assert tree(tmp_path / "warm") == cold


def test_a_changed_package_version_templates_or_bindings_miss(tmp_path: Path) -> None:
    inventory = load_inventory(REPO / "examples" / "multi-site.yaml")
    cache = tmp_path / "cache"
    current = Toolchain.current()
    cached(inventory, cache, tmp_path / "out", toolchain=current)
    assert len(cached(inventory, cache, tmp_path / "out", toolchain=current).from_cache) == 3
    changes = {
        "package version": dataclasses.replace(current, package_version="0.2.1"),
        "package sources": dataclasses.replace(current, package_sources="0" * 64),
        "templates": dataclasses.replace(current, templates="0" * 64),
        "provider bindings": dataclasses.replace(
            current, bindings={**current.bindings, "cdktf-cdktf-provider-aws": "20.1.1"}),
    }
    for what, toolchain in changes.items():
        result = cached(inventory, cache, tmp_path / "out", toolchain=toolchain)
        assert result.from_cache == (), what


def test_an_edited_template_misses_and_the_output_is_that_of_a_cold_synth_with_it(tmp_path: Path) -> None:
    """Through main.py in two checkouts sharing one cache: the second has one template changed."""
    cache = tmp_path / "cache"
    before = copy_checkout(tmp_path / "before")
    result = run_main(before, "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(1 site(s) synthesized, 0 from the synth cache)")
    again = run_main(before, "--cache", str(cache), env={"CDKTF_OUTDIR": str(tmp_path / "again")})
    assert again.stdout.strip().endswith("(0 site(s) synthesized, 1 from the synth cache)"), again.stderr
    assert tree(tmp_path / "again") == tree(before / "cdktf.out")

    after = copy_checkout(tmp_path / "after")
    template = after / "templates" / "isc" / "dhcpd.conf.j2"
    template.write_text(template.read_text() + "# one more line\n")
    result = run_main(after, "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("(1 site(s) synthesized, 0 from the synth cache)")
    cold = run_main(after, env={"CDKTF_OUTDIR": str(tmp_path / "cold-after")})
    assert cold.returncode == 0, cold.stderr
    assert tree(after / "cdktf.out") == tree(tmp_path / "cold-after") != tree(before / "cdktf.out")


def _entry(cache: Path, site: str) -> Path:
    (found,) = [record.parent for record in cache.glob(f"*/{ENTRY_RECORD}")
                if json.loads(record.read_text())["site"] == site]
    return found


def _edit_stack_file(entry: Path, other: Path) -> None:
    stack = entry / "paris-primary.tf.json"
    stack.write_text(stack.read_text().replace('"eu-west-3"', '"eu-west-1"', 1))


def _truncate_record(entry: Path, other: Path) -> None:
    (entry / ENTRY_RECORD).write_text((entry / ENTRY_RECORD).read_text()[:40])


def _put_another_sites_entry(entry: Path, other: Path) -> None:
    shutil.rmtree(entry)
    shutil.copytree(other, entry)


def _drop_stack_file(entry: Path, other: Path) -> None:
    (entry / "paris-shared.tf.json").unlink()


def _other_format(entry: Path, other: Path) -> None:
    record = json.loads((entry / ENTRY_RECORD).read_text())
    (entry / ENTRY_RECORD).write_text(json.dumps({**record, "format": CACHE_FORMAT + 1}))


CORRUPTIONS: dict[str, Callable[[Path, Path], None]] = {
    "an edited stack file": _edit_stack_file,
    "a truncated record": _truncate_record,
    "another site's entry under its key": _put_another_sites_entry,
    "a missing stack file": _drop_stack_file,
    "another format": _other_format,
}


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_an_unusable_entry_is_ignored_with_one_warning_and_written_again(
    tmp_path: Path, synthesized_examples: dict[str, Path], corruption: str,
) -> None:
    inventory = load_inventory(REPO / "examples" / "multi-site.yaml")
    cache = tmp_path / "cache"
    cached(inventory, cache, tmp_path / "first")
    CORRUPTIONS[corruption](_entry(cache, "paris"), _entry(cache, "london"))
    result = cached(inventory, cache, tmp_path / "second")
    (warning,) = result.warnings
    assert warning.startswith(f"synth cache {cache}: 1 unusable entry ignored and synthesized again (site paris: ")
    assert result.synthesized == ("paris",) and set(result.from_cache) == {"london", "berlin"}
    assert tree(tmp_path / "second") == tree(synthesized_examples["multi-site"])
    healed = cached(inventory, cache, tmp_path / "third")
    assert healed.warnings == () and len(healed.from_cache) == 3


def test_main_py_reports_an_unusable_entry_in_one_warning_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    checkout = copy_checkout(tmp_path / "checkout")
    assert run_main(checkout, "--cache", str(cache)).returncode == 0
    (stack_file,) = [path for path in cache.glob("*/hq-shared.tf.json")]
    stack_file.write_bytes(stack_file.read_bytes() + b" ")
    result = run_main(checkout, "--cache", str(cache), env={"CDKTF_OUTDIR": str(tmp_path / "second")})
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: synth cache ") and "site hq: hq-shared.tf.json does not match its checksum" in line
    assert tree(tmp_path / "second") == tree(checkout / "cdktf.out")


def test_a_cache_that_cannot_be_written_is_bypassed_with_one_warning(
    tmp_path: Path, synthesized_examples: dict[str, Path],
) -> None:
    inventory = load_inventory(REPO / "examples" / "minimal.yaml")
    (tmp_path / "a-file").write_text("not a folder")
    result = cached(inventory, tmp_path / "a-file" / "cache", tmp_path / "out")
    (warning,) = result.warnings
    assert warning == (f"synth cache {tmp_path / 'a-file' / 'cache'} is not writable (Not a directory); "
                       "synthesizing every site without it")
    assert result.from_cache == () and tree(tmp_path / "out") == tree(synthesized_examples["minimal"])


def test_bad_input_writes_no_cache_folder(tmp_path: Path) -> None:
    inventory = load_inventory(REPO / "examples" / "minimal.yaml")
    from dhcp_failover.errors import SettingsError

    with pytest.raises(SettingsError, match="--sites names site 'nosuch'"):
        cached(inventory, tmp_path / "cache", tmp_path / "out", sites=("nosuch",))
    assert list(tmp_path.iterdir()) == []


def test_the_manifest_is_spelled_as_cdktf_spells_it() -> None:
    assert stable_stringify({"b": [], "a": {"x": ["1", 2], "e": {}}}) == (
        '{\n  "a": {\n    "e": {\n    },\n    "x": [\n      "1",\n      2\n    ]\n  },\n  "b": [\n  ]\n}')


def test_the_package_version_in_every_cache_key_is_pyprojects() -> None:
    assert dhcp_failover.__version__ == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
