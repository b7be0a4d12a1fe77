"""Content-addressed synthesis: each site's three stacks, cached by a digest of everything that
determines them, so a synth of a fleet pays the jsii code only for the sites that changed.

The digest of a site covers its validated model, the inventory's tags and the site's state
settings, the synth-time settings (local AWS API, decommissioning), this package's version and
source files, the templates, and the versions of the provider bindings and the libraries that
shape the output (cdktf, constructs, the AWS provider bindings, jsii, jinja2, pydantic, PyYAML).
A hit copies the entry's stack files into ``cdktf.out``; the misses are synthesized together in
one cdktf app and stored. ``manifest.json`` is written from the entries' own manifest records in
cdktf's own spelling (json-stable-stringify with two spaces), so a cached synth is byte for byte
a cold one (``tests/test_synth_cache.py`` compares whole trees).

An entry is trusted only whole: its record names its own digest and site, and carries a SHA-256
of every file it holds. An entry that fails that (edited, truncated, copied from another key,
another format) is ignored, reported in one warning line and written again. Entries are written
into a scratch folder and renamed into place, so a reader never sees half an entry.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .app import SiteSelection, build_app, plan_synth, select_sites
from .constructs.naming import member_stack_name, shared_stack_name
from .model import Inventory, Role, Site
from .render import TEMPLATES

CACHE_FORMAT = 1
"""Bump when the entry layout or what the digest covers changes: older entries then miss."""
CACHE_FOLDER = ".synth-cache"
"""The default cache, inside the synth's output folder (``cdktf.out/.synth-cache``)."""
ENTRY_RECORD = "entry.json"
STACK_FILE = "cdk.tf.json"
MANIFEST = "manifest.json"
OUTDIR_ENV = "CDKTF_OUTDIR"
DEFAULT_OUTDIR = "cdktf.out"
BINDINGS = ("cdktf", "constructs", "cdktf-cdktf-provider-aws", "jsii", "jinja2", "pydantic", "PyYAML")
"""Distributions whose version can change a synthesized stack or a member's user data."""
PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Toolchain:
    """What every site's stacks depend on besides the site itself."""

    package_version: str
    package_sources: str
    """SHA-256 over this package's Python files: a checkout edited at the same version misses too."""
    templates: str
    """SHA-256 over every file in the templates folder."""
    bindings: Mapping[str, str]
    """Distribution name → installed version (``BINDINGS``)."""

    @classmethod
    def current(cls) -> Toolchain:
        return _current_toolchain()


@cache
def _current_toolchain() -> Toolchain:
    return Toolchain(__version__, _tree_digest(PACKAGE, "*.py"), _tree_digest(TEMPLATES, "*"),
                     {name: _installed_version(name) for name in BINDINGS})


def _installed_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _tree_digest(root: Path, pattern: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def site_stacks(site: str) -> tuple[str, str, str]:
    return shared_stack_name(site), member_stack_name(site, Role.SECONDARY), member_stack_name(site, Role.PRIMARY)


def site_digest(toolchain: Toolchain, inventory: Inventory, site: Site, selection: SiteSelection) -> str:
    """The key of a site's entry: a SHA-256 of everything its three stacks are made from."""
    inputs = {
        "format": CACHE_FORMAT,
        "toolchain": asdict(toolchain),
        # pydantic's own serializer: half the cost of model_dump + json.dumps, which a 500-site
        # inventory pays on every synth (a reordered mapping only misses, never wrongly hits).
        "site": site.model_dump_json(),
        "inventory_tags": dict(inventory.tags),
        "state": inventory.state_of(site).model_dump_json(),
        "local_api": selection.local_api.url if selection.local_api else None,
        "decommission": site.name in selection.decommissioned,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A checked cache entry: each stack's file and its record in manifest.json."""

    folder: Path
    manifest_version: str
    stacks: Mapping[str, Mapping[str, Any]]
    """Stack name → its manifest record."""


class _Unusable(Exception):
    """An entry that must not be used; ``str()`` says why, for the warning line."""


def _read_entry(folder: Path, digest: str, site: str) -> Entry:
    try:
        record = json.loads((folder / ENTRY_RECORD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _Unusable(f"unreadable {ENTRY_RECORD} ({type(exc).__name__})") from None
    if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
        raise _Unusable("written in another format")
    if record.get("digest") != digest or record.get("site") != site:
        raise _Unusable("a foreign entry (its record names another digest or site)")
    stacks = record.get("stacks")
    if not isinstance(stacks, dict) or sorted(stacks) != sorted(site_stacks(site)):
        raise _Unusable("its stacks are not the site's three")
    for stack, entry in stacks.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("manifest"), dict):
            raise _Unusable(f"no manifest record for {stack}")
        try:
            content = (folder / f"{stack}.tf.json").read_bytes()
        except OSError:
            raise _Unusable(f"{stack}.tf.json is missing") from None
        if hashlib.sha256(content).hexdigest() != entry.get("sha256"):
            raise _Unusable(f"{stack}.tf.json does not match its checksum (edited or truncated)")
    version = record.get("manifest_version")
    if not isinstance(version, str):
        raise _Unusable("no manifest version")
    return Entry(folder, version, {stack: entry["manifest"] for stack, entry in stacks.items()})


@dataclass
class SynthCache:
    """A cache folder that could be written (``open_cache``)."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    """Entries found unusable in this run, each ``site: why``."""

    def lookup(self, site: str, digest: str) -> Entry | None:
        folder = self.folder / digest
        if not folder.exists():
            return None
        try:
            return _read_entry(folder, digest, site)
        except _Unusable as exc:
            self.problems.append(f"site {site}: {exc}")
            return None

    def store(self, site: str, digest: str, outdir: Path, manifest: Mapping[str, Any]) -> None:
        """The site's stacks as ``outdir`` holds them right after a synth, renamed into place whole."""
        scratch = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.folder))
        try:
            stacks = {}
            for stack in site_stacks(site):
                content = (outdir / "stacks" / stack / STACK_FILE).read_bytes()
                (scratch / f"{stack}.tf.json").write_bytes(content)
                stacks[stack] = {"manifest": manifest["stacks"][stack], "sha256": hashlib.sha256(content).hexdigest()}
            record = {"format": CACHE_FORMAT, "digest": digest, "site": site,
                      "manifest_version": manifest["version"], "stacks": stacks}
            (scratch / ENTRY_RECORD).write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
            target = self.folder / digest
            if target.exists():  # an unusable entry found by lookup: replaced, never merged
                shutil.rmtree(target)
            os.rename(scratch, target)
        except OSError:
            # Another runner renamed the same entry into place first, or the disk filled: the
            # synth is done either way, and a missing entry only costs the next run a synth.
            shutil.rmtree(scratch, ignore_errors=True)


def open_cache(folder: Path) -> tuple[SynthCache | None, str | None]:
    """The cache at ``folder`` (created if missing), or None and the warning why it cannot be used."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe, name = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(probe)
        os.unlink(name)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return None, f"synth cache {folder} is not writable ({reason}); synthesizing every site without it"
    return SynthCache(folder), None


@dataclass(frozen=True)
class SynthResult:
    outdir: Path
    selection: SiteSelection
    stack_names: list[str]
    """Every stack, in construct order (per site: shared, secondary, primary)."""
    from_cache: tuple[str, ...]
    synthesized: tuple[str, ...]
    warnings: tuple[str, ...]
    """One line each, without the ``warning:`` prefix."""

    def summary(self) -> str:
        return (f"{len(self.synthesized)} site(s) synthesized, {len(self.from_cache)} from the synth cache"
                if self.from_cache or self.synthesized else "nothing synthesized")


def default_outdir(environ: Mapping[str, str]) -> Path:
    """Where ``cdktf.App()`` writes: ``$CDKTF_OUTDIR`` (set by the cdktf CLI), else cdktf.out."""
    return Path(environ.get(OUTDIR_ENV) or DEFAULT_OUTDIR)


def synthesize(inventory: Inventory, *, cache_folder: Path | None, outdir: Path | None = None,
               sites: tuple[str, ...] | None = None, environ: Mapping[str, str] | None = None,
               toolchain: Toolchain | None = None) -> SynthResult:
    """The selected sites' stacks into ``outdir``, byte-identical to ``build_app(plan_synth(...))``.
    ``cache_folder`` None: no cache (every site synthesized). Raises what ``plan_synth`` raises,
    before anything is written."""
    environ = os.environ if environ is None else environ
    selection = select_sites(inventory, environ, sites=sites)
    outdir = default_outdir(environ) if outdir is None else outdir
    toolchain = toolchain or Toolchain.current()
    digests = {site.name: site_digest(toolchain, inventory, site, selection) for site in selection.sites}
    # Look up first and create nothing yet: bad input found while rendering the misses must
    # leave no trace on disk, not even an empty cache folder.
    reader = SynthCache(cache_folder) if cache_folder is not None and cache_folder.is_dir() else None
    hits = {name: entry for name, entry in ((name, reader.lookup(name, digest)) for name, digest in digests.items())
            if entry is not None} if reader else {}
    missing = tuple(site.name for site in selection.sites if site.name not in hits)
    plan = plan_synth(inventory, environ, sites=missing) if missing else None
    warnings: list[str] = []
    store: SynthCache | None = None
    if cache_folder is not None:
        store, problem = open_cache(cache_folder)
        if problem:
            warnings.append(problem)
            if hits:  # a cache that cannot be written is not used at all, so the warning says all
                hits, missing = {}, tuple(site.name for site in selection.sites)
                plan = plan_synth(inventory, environ, sites=missing)
    if reader and reader.problems:
        shown = "; ".join(reader.problems[:3]) + ("; ..." if len(reader.problems) > 3 else "")
        warnings.append(f"synth cache {reader.folder}: {len(reader.problems)} unusable entr"
                        f"{'y' if len(reader.problems) == 1 else 'ies'} ignored and synthesized again ({shown})")
    records: dict[str, Mapping[str, Any]] = {}
    version = None
    if plan is not None:
        # Only the misses were rendered, and only they run through jsii.
        build_app(plan, outdir=str(outdir)).synth()
        manifest = json.loads((outdir / MANIFEST).read_text(encoding="utf-8"))
        version = manifest["version"]
        records.update(manifest["stacks"])
        if store:
            for name in missing:
                store.store(name, digests[name], outdir, manifest)
    for entry in hits.values():
        if version is not None and entry.manifest_version != version:  # cannot happen: cdktf is in the digest
            raise RuntimeError(f"synth cache entry {entry.folder} was made by cdktf {entry.manifest_version}")
        version = entry.manifest_version
        for stack, record in entry.stacks.items():
            folder = outdir / "stacks" / stack
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry.folder / f"{stack}.tf.json", folder / STACK_FILE)
            records[stack] = record
    assert version is not None  # select_sites refuses an empty selection
    (outdir / MANIFEST).write_text(stable_stringify({"stacks": records, "version": version}), encoding="utf-8")
    names = [stack for site in selection.sites for stack in site_stacks(site.name)]
    return SynthResult(outdir, selection, names, tuple(hits), missing, tuple(warnings))


def stable_stringify(value: Any, level: int = 0) -> str:
    """JSON as cdktf writes manifest.json (npm json-stable-stringify, ``space: 2``): keys sorted,
    two-space indent, and empty arrays and objects still broken over two lines."""
    indent = "\n" + "  " * level
    if isinstance(value, Mapping):
        items: Sequence[str] = [f"{indent}  {json.dumps(key, ensure_ascii=False)}: {stable_stringify(item, level + 1)}"
                                for key, item in sorted(value.items())]
        return "{" + ",".join(items) + indent + "}"
    if isinstance(value, list | tuple):
        items = [f"{indent}  {stable_stringify(item, level + 1)}" for item in value]
        return "[" + ",".join(items) + indent + "]"
    return json.dumps(value, ensure_ascii=False)
