#!/usr/bin/env python
"""cdktf app: inventory → stacks (three per site: <site>-shared, <site>-secondary, <site>-primary).

    python main.py [--inventory FILE] [--sites a,b]    # or: npx cdktf synth

The inventory is --inventory, else $DHCP_FAILOVER_INVENTORY (``cdktf synth`` runs this file
without arguments), else examples/minimal.yaml next to this file. Bad input ends in one
``error:`` line on stderr, exit status 2, and nothing written: everything is checked before
the cdktf app exists.

--sites (else $DHCP_FAILOVER_SITES), comma-separated, synthesizes only those sites' stacks; one
that names no site (empty, or only commas and blanks) is an error, never "every site".
--cache DIR keeps each site's stacks in DIR by a digest of what makes them, and synthesizes only
the sites whose digest is not there yet (dhcp_failover/synth_cache.py); the output is the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from dhcp_failover.advice import site_warnings
from dhcp_failover.app import SITES_ENV, build_app, plan_synth, require_provider_endpoint, select_sites, site_names
from dhcp_failover.errors import InventoryProblems, SettingsError, UserError
from dhcp_failover.inventory import load_inventory
from dhcp_failover.messages import one_line

# Before cdktf starts its node kernel: no end-of-life banner, no telemetry lookup (offline).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")

HERE = Path(__file__).resolve().parent
DEFAULT_INVENTORY = HERE / "examples" / "minimal.yaml"
INVENTORY_ENV = "DHCP_FAILOVER_INVENTORY"
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 70  # a bug (sysexits' EX_SOFTWARE), as in the CLI
DEBUG_ENV = "DHCP_FAILOVER_DEBUG"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SettingsError(f"{message} (see 'python main.py --help')")


def _inventory_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from_env = os.environ.get(INVENTORY_ENV, "").strip()
    return Path(from_env) if from_env else DEFAULT_INVENTORY


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _synth(argv)
    except InventoryProblems as exc:
        for problem in exc.shown():
            print(f"error: {one_line(problem)}", file=sys.stderr)
        print(one_line(exc.summary()), file=sys.stderr)
        return EXIT_BAD_INPUT
    except UserError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        # A bug, not bad input: still one line; the traceback on request.
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"error: internal error: {one_line(f'{type(exc).__name__}: {exc}')}; please report it "
              f"(set {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _synth(argv: Sequence[str] | None) -> int:
    parser = _Parser(prog="main.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inventory",
        metavar="FILE",
        help=f"inventory YAML (default: ${INVENTORY_ENV}, else {DEFAULT_INVENTORY.relative_to(HERE)})",
    )
    parser.add_argument(
        "--sites",
        metavar="A,B",
        type=site_names,
        help=f"synthesize only these sites, comma-separated (default: ${SITES_ENV} when set, else every site); "
             "a list that names no site is an error",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="reuse the stacks of sites whose inputs are unchanged from this synth cache, and add the others "
             "(default: no cache)",
    )
    args = parser.parse_args(argv)
    inventory = load_inventory(_inventory_path(args.inventory))
    if args.cache:
        from dhcp_failover.synth_cache import synthesize

        require_provider_endpoint(os.environ, select_sites(inventory, sites=args.sites).local_api)
        result = synthesize(inventory, cache_folder=Path(args.cache), sites=args.sites)
        for warning in result.warnings:
            print(f"warning: {one_line(warning)}", file=sys.stderr)
        outdir, stacks, unplaced = str(result.outdir), result.stack_names, result.selection.unplaced
        cached = f" ({result.summary()})"
    else:
        plan = plan_synth(inventory, sites=args.sites)
        require_provider_endpoint(os.environ, plan.local_api)
        app = build_app(plan)
        app.synth()
        outdir, stacks, unplaced, cached = app.outdir, plan.stack_names, plan.unplaced, ""
    for site in unplaced:
        print(f"note: site {site} has no placement; not synthesized", file=sys.stderr)
    for line in site_warnings(select_sites(inventory, sites=args.sites).sites):
        print(f"warning: {one_line(line)}", file=sys.stderr)
    shown = ", ".join(stacks) if len(stacks) <= 9 else f"{', '.join(stacks[:3])}, ..."
    print(f"synthesized {len(stacks)} stack(s) into {outdir}: {shown}{cached}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
