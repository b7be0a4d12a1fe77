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
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from . import local_keys, operations
from .app import SynthPlan, build_app, plan_synth, site_names
from .cli import EXIT_BAD_INPUT, EXIT_NOT_NORMAL, _member_map
from .errors import InventoryError, SettingsError
from .inventory import load_inventory
from .model import Inventory, Site
from .rollout import Gate, RolloutInputError, plan_markdown, print_lines, roll_out, stack_folders, summary_table
from .terraform import Terraform, TerraformNotFound

EXIT_ROLLOUT_FAILED = EXIT_NOT_NORMAL


def run(args: argparse.Namespace) -> int:
    try:
        terraform = Terraform.from_environment()
        inventory_path = Path(args.inventory)
        inventory = load_inventory(inventory_path)
        plan = plan_synth(inventory, sites=site_names(args.sites or "") or None)
        sites = [site_plan.site for site_plan in plan.sites]
        gates = None if args.plan_only or args.no_gate else _gates(args, inventory_path, inventory, sites)
        outdir = _synth(plan)
        folders = stack_folders(outdir, [site.name for site in sites])
    except (SettingsError, RolloutInputError, TerraformNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Progress is for people; stdout stays the one document a pipeline reads (JSON, Markdown).
    progress = sys.stderr if args.json or args.plan_only else sys.stdout
    with _stopped_by_signals(terraform) as received:
        report = roll_out(sites, folders, terraform, gates=gates, parallel=args.parallel, plan_only=args.plan_only,
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


def _synth(plan: SynthPlan) -> Path:
    """The selected sites into cdktf.out (or $CDKTF_OUTDIR), in this process. A main.py
    subprocess would do the same work plus a second interpreter and a second load of the whole
    inventory (YAML parsing dominates that for large inventories)."""
    app = build_app(plan)
    app.synth()
    return Path(app.outdir)


def _gates(args: argparse.Namespace, inventory_path: Path, inventory: Inventory, sites: list[Site]) -> dict[str, Gate]:
    """Each selected site's gate. Access flags may name members of sites not selected (one set
    of flags for every run of a pipeline); a name the inventory does not have is an error."""
    store_path = Path(args.key_store) if args.key_store else local_keys.default_path(inventory_path)
    if not store_path.exists():
        raise InventoryError(f"{store_path}: no key store for the gates; run 'python -m dhcp_failover keys', "
                             "pass --key-store, or --no-gate")
    store = local_keys.KeyStore.load(store_path)
    hosts, via = _member_map(args.omapi_host, "--omapi-host"), _member_map(args.omapi_via, "--omapi-via")
    members = {member.name for site in inventory.sites for member in site.members}
    unknown = sorted((set(hosts) | set(via)) - members)
    if unknown:
        raise InventoryError(f"--omapi-host/--omapi-via name {unknown[0]!r}, which is no member in {inventory_path} "
                             f"(members: {', '.join(sorted(members))})")
    if args.gate_timeout <= 0:
        raise InventoryError(f"--gate-timeout {args.gate_timeout:g}: give a number of seconds above 0")
    gates = {}
    for site in sites:
        names = {member.name for member in site.members}
        access = operations.member_access(site, store, hosts={k: v for k, v in hosts.items() if k in names},
                                          via={k: v for k, v in via.items() if k in names})
        gates[site.name] = Gate(access, args.gate_timeout)
    return gates
