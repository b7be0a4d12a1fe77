"""``python -m dhcp_failover rollout``: check the input, synthesize the selected sites once, run
the rollout (dhcp_failover.rollout) and print progress, the summary, the plan review or JSON.

Input errors (exit 2) are all found before anything runs: an unknown site, --parallel 0, a
missing key store or member name for the gates, terraform not on PATH, a stack folder missing
from the synth. A failed site is exit 3.

SIGTERM or SIGINT (a pipeline cancelled, Ctrl-C) stops the rollout: each terraform it runs gets
one interrupt (terraform's own graceful stop: in-flight operations finish, state is written and
unlocked), no further step starts, and the command exits 3 once they have exited. Rerunning the
same command resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from . import shards
from .app import select_sites, site_names
from .apply_records import ApplyRecords
from .cli import EXIT_BAD_INPUT, EXIT_NOT_NORMAL
from .config_diff import member_config_diff
from .errors import InventoryError, SettingsError
from .inventory import load_inventory
from .messages import one_line
from .model import Inventory
from .rollout import (
    ConfigDiffer,
    RolloutInputError,
    RolloutReport,
    drift_markdown,
    plan_markdown,
    print_lines,
    roll_out,
    stack_folders,
    summary_table,
)
from .rollout_gates import build_gates
from .synth_cache import CACHE_FOLDER, SynthResult, default_outdir, synthesize
from .terraform import Terraform, TerraformNotFound

EXIT_ROLLOUT_FAILED = EXIT_NOT_NORMAL
EXIT_DRIFT = 4  # --drift: some stack's resources differ from its state


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` for ``--shard``: this runner is shard K of N."""
    index, sep, count = text.partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give K/N, this runner's shard K of N shards, e.g. 2/4")
    k, n = int(index), int(count)
    if n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: K must be from 1 to N ({max(n, 1)}), e.g. 1/{max(n, 1)}")
    return k, n


def run(args: argparse.Namespace) -> int:
    plan_only = args.plan_only or args.drift
    try:
        if args.drift and args.changed:
            raise RolloutInputError("--drift checks every stack against AWS; drop --changed (or --drift)")
        if args.all_stacks and (args.changed or plan_only):
            raise RolloutInputError("--all-stacks is for an apply, which otherwise plans only changed stacks; "
                                    f"drop it (or {'--changed' if args.changed else '--plan-only/--drift'})")
        if args.base_inventory and (args.drift or not args.plan_only):
            raise RolloutInputError("--base-inventory is for the plan review: add --plan-only (not --drift), "
                                    "or drop it")
        terraform = Terraform.from_environment()
        inventory_path = Path(args.inventory)
        inventory = load_inventory(inventory_path)
        config_diff = _config_differ(Path(args.base_inventory)) if args.base_inventory else None
        selected = None if args.sites is None else site_names(args.sites)  # "": an error, never every site
        sites = list(select_sites(inventory, sites=selected).sites)
        if args.shard:
            k, n = args.shard
            shard_by_site = shards.split((site.name for site in sites), n)
            sites = [site for site in sites if shard_by_site[site.name] == k]
        gates = None if plan_only or args.no_gate or not sites else build_gates(args, inventory_path, inventory, sites)
        synth = _synth(args, inventory, tuple(site.name for site in sites)) if sites else None
        folders = stack_folders(synth.outdir, [site.name for site in sites]) if synth else {}
    except (SettingsError, RolloutInputError, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Progress is for people; stdout stays the one document a pipeline reads (JSON, Markdown).
    progress = sys.stderr if args.json or plan_only else sys.stdout
    if synth is None:
        print(f"note: shard {args.shard[0]}/{args.shard[1]} holds none of the selected sites; nothing to do",
              file=sys.stderr)
    else:
        for warning in synth.warnings:
            print(f"warning: {one_line(warning)}", file=sys.stderr)
        print(f"synth: {synth.summary()}", file=progress, flush=True)
    with _stopped_by_signals(terraform) as received:
        report = roll_out(sites, folders, terraform, gates=gates, parallel=_parallel(args), plan_only=plan_only,
                          progress=print_lines(progress), drift=args.drift, changed_only=_changed_only(args),
                          records=ApplyRecords(), config_diff=config_diff)
    if report.never_recorded:
        asked = "--changed: " if args.changed else ""
        print(f"warning: {asked}no stack has an apply record yet (rollout writes one with each apply); "
              "planned every stack", file=sys.stderr)
    _print_report(args, report)
    print(summary_table(report), file=progress)
    failed = [site for site in report.sites if site.status == "failed"]
    if received:
        print(f"error: rollout stopped by {received[0]}: {len(failed)} of {len(report.sites)} site(s) stopped "
              "mid-way, their terraform runs ended and the state is unlocked; run the same command again to "
              "resume", file=sys.stderr)
        return EXIT_ROLLOUT_FAILED
    if failed:
        print(f"error: rollout failed in {len(failed)} of {len(report.sites)} site(s): "
              + "; ".join(f"{site.site}: {site.failure}" for site in failed), file=sys.stderr)
        return EXIT_ROLLOUT_FAILED
    if report.drift_found:
        drifted = sum(1 for site in report.sites for plan in site.plans if plan.drift)
        print(f"error: drift found in {drifted} stack(s); see the report (a rollout of those stacks puts AWS "
              "back as the configuration says)", file=sys.stderr)
        return EXIT_DRIFT
    return 0


def _changed_only(args: argparse.Namespace) -> bool:
    """An apply skips stacks whose configuration is the one last applied (a pipeline run pays for
    what changed; the scheduled --drift check covers what changed behind terraform's back);
    a review plans every stack unless asked for --changed."""
    if args.changed:
        return True
    return not (args.plan_only or args.drift or args.all_stacks)


def _config_differ(base_path: Path) -> ConfigDiffer:
    try:
        base = load_inventory(base_path)
    except InventoryError as exc:
        raise RolloutInputError(f"--base-inventory: {exc}") from None
    return lambda site, role: member_config_diff(base, site, role, os.environ)


def _print_report(args: argparse.Namespace, report: RolloutReport) -> None:
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif args.drift:
        print(drift_markdown(report))
    elif args.plan_only:
        print(plan_markdown(report))


def _parallel(args: argparse.Namespace) -> int:
    """Sites at once: as asked, else one for an apply (a mistake reaches one site at a time) and
    one per CPU for a plan review (each plan keeps about one core busy with the AWS provider's
    schemas; more at once only queue for the CPUs: measured slower with 4 than 2 on 2 cores)."""
    if args.parallel is not None:
        return int(args.parallel)
    return (os.cpu_count() or 1) if args.plan_only or args.drift else 1


@contextmanager
def _stopped_by_signals(terraform: Terraform) -> Iterator[list[str]]:
    """While the rollout runs, SIGTERM and SIGINT interrupt its terraform runs (once) instead of
    killing this process under them; yields the names of the signals received."""
    received: list[str] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if len(received) == 1:
            terraform.interrupt()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cache_folder(args: argparse.Namespace) -> Path | None:
    """``--cache DIR``, else cdktf.out/.synth-cache (a pipeline keeps cdktf.out between runs);
    None with ``--no-cache``."""
    if args.no_cache:
        return None
    return Path(args.cache) if args.cache else default_outdir(os.environ) / CACHE_FOLDER


def _synth(args: argparse.Namespace, inventory: Inventory, selected: tuple[str, ...] | None) -> SynthResult:
    """The selected sites into cdktf.out (or $CDKTF_OUTDIR), in this process, through the synth
    cache: only sites whose inputs changed run the jsii code. A main.py subprocess would do the
    same work plus a second interpreter and a second load of the whole inventory."""
    return synthesize(inventory, cache_folder=cache_folder(args), sites=selected)
