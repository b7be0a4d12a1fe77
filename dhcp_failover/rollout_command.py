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

from .app import select_sites, site_names
from .cli import EXIT_BAD_INPUT, EXIT_NOT_NORMAL
from .errors import SettingsError
from .inventory import load_inventory
from .messages import one_line
from .model import Inventory
from .rollout import RolloutInputError, plan_markdown, print_lines, roll_out, stack_folders, summary_table
from .rollout_gates import build_gates
from .synth_cache import CACHE_FOLDER, SynthResult, default_outdir, synthesize
from .terraform import Terraform, TerraformNotFound

EXIT_ROLLOUT_FAILED = EXIT_NOT_NORMAL


def run(args: argparse.Namespace) -> int:
    try:
        terraform = Terraform.from_environment()
        inventory_path = Path(args.inventory)
        inventory = load_inventory(inventory_path)
        selected = site_names(args.sites or "") or None
        sites = list(select_sites(inventory, sites=selected).sites)
        gates = None if args.plan_only or args.no_gate else build_gates(args, inventory_path, inventory, sites)
        synth = _synth(args, inventory, selected)
        folders = stack_folders(synth.outdir, [site.name for site in sites])
    except (SettingsError, RolloutInputError, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Progress is for people; stdout stays the one document a pipeline reads (JSON, Markdown).
    progress = sys.stderr if args.json or args.plan_only else sys.stdout
    for warning in synth.warnings:
        print(f"warning: {one_line(warning)}", file=sys.stderr)
    print(f"synth: {synth.summary()}", file=progress, flush=True)
    with _stopped_by_signals(terraform) as received:
        report = roll_out(sites, folders, terraform, gates=gates, parallel=_parallel(args), plan_only=args.plan_only,
                          progress=print_lines(progress))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif args.plan_only:
        print(plan_markdown(report))
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
    return 0


def _parallel(args: argparse.Namespace) -> int:
    """Sites at once: as asked, else one for an apply (a mistake reaches one site at a time) and
    one per CPU for a plan review (each plan keeps about one core busy with the AWS provider's
    schemas; more at once only queue for the CPUs: measured slower with 4 than 2 on 2 cores)."""
    if args.parallel is not None:
        return int(args.parallel)
    return (os.cpu_count() or 1) if args.plan_only else 1


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
