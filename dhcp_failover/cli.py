"""``python -m dhcp_failover``: validate and render inventories without loading cdktf.

Every failure a user can cause ends in one ``error: ...`` line on stderr and exit status 2,
with nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from . import keystore
from .checks import InventoryError
from .inventory import inventory_json_schema, load_inventory
from .render import render_inventory, write_trees

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Wrong command line; shown like bad input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _validate(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    sites = ", ".join(site.name for site in inventory.sites)
    print(f"ok: {args.inventory}: {len(inventory.sites)} site(s): {sites}")
    return 0


def _render(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    trees = render_inventory(inventory)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InventoryError(f"--out {out}: exists and is not a folder")
    write_trees(trees, out)
    files = sum(len(tree) for tree in trees.values())
    print(f"rendered {files} file(s) for {len(trees)} host(s) into {out}")
    return 0


def _keys(args: argparse.Namespace) -> int:
    inventory_path = Path(args.inventory)
    inventory = load_inventory(inventory_path)
    if args.names_only:
        print(json.dumps(keystore.describe(inventory), indent=2))
        return 0
    store = keystore.KeyStore.load(Path(args.key_store) if args.key_store else keystore.default_path(inventory_path))
    changed = [spec for site in inventory.sites for spec in store.ensure(site, rotate=args.rotate)]
    if changed:
        store.save()
    print(f"{store.path}: {len(changed)} secret(s) generated or rotated", file=sys.stderr)
    print("\n".join(keystore.export_lines(store, inventory)))
    return 0


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(inventory_json_schema(), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m dhcp_failover", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = commands.add_parser("validate", help="check an inventory; exit 0 when it is valid")
    validate.add_argument("--inventory", required=True, metavar="FILE")
    validate.set_defaults(run=_validate)

    render = commands.add_parser("render", help="write every host's files as they are on disk")
    render.add_argument("--inventory", required=True, metavar="FILE")
    render.add_argument("--out", required=True, metavar="DIR", help="writes DIR/<site>/<member>/etc/...")
    render.set_defaults(run=_render)

    keys = commands.add_parser(
        "keys", help="generate missing secrets into the local key store; print TF_VAR_ export lines"
    )
    keys.add_argument("--inventory", required=True, metavar="FILE")
    keys.add_argument("--key-store", metavar="FILE", help="default: .dhcp-failover-keys/<inventory>.json beside it")
    keys.add_argument("--rotate", action="store_true", help="replace every secret and bump its version")
    keys.add_argument(
        "--names-only", action="store_true", help="print SSM parameter and TF_VAR names as JSON, no values"
    )
    keys.set_defaults(run=_keys)

    schema = commands.add_parser("schema", help="print the inventory's JSON Schema (for editors)")
    schema.set_defaults(run=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except (InventoryError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
