"""``python -m dhcp_failover``: validate and render inventories without loading cdktf.

Every failure a user can cause ends in one ``error: ...`` line on stderr and exit status 2,
with nothing written. ``status`` and ``drill`` also use 3 (not normal) and 4 (no OMAPI answer).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import yaml

from . import diagram, instance_connect, local_keys, operations, pool_status
from .advice import site_warnings
from .aws import AwsApi, SsmSecret, secret_region
from .backends.isc import config_import as isc_import
from .backends.isc import config_import6 as isc_import6
from .backends.isc import config_reader as isc_reader
from .backends.isc import leases as isc_leases
from .backends.isc.omapi import OmapiError
from .backends.kea import control as kea_control
from .backends.kea import leases as kea_leases
from .backends.kea.control import KeaControlError
from .backends.kea.render import LEASE_FILE as KEA_LEASE_FILE
from .errors import AwsError, ConfigImportError, InventoryError, InventoryProblems, UsageError, UserError
from .host_files import render_inventory
from .inventory import inventory_json_schema, load_inventory
from .messages import one_line
from .model import Inventory, Member, ServerKind, Site
from .render import write_trees
from .secret_names import VERSION_TAG, SecretSpec, control_secret

EXIT_BAD_INPUT = 2
EXIT_NOT_NORMAL = 3  # status: a member is not normal (or --wait timed out); drill: it failed
EXIT_UNREACHABLE = 4  # a member's OMAPI did not answer
EXIT_INTERNAL = 70  # a bug (sysexits' EX_SOFTWARE)
DEBUG_ENV = "DHCP_FAILOVER_DEBUG"
EXIT_NOT_CREATED = 5  # a member has no instance in AWS yet (first deploy)
EXIT_STALE_DOCS = 1  # docs --check: a generated table differs from the code (like diff)
OMAPI_EXIT_CODES = (
    "exit status: 0 both members normal (drill: the partner took over and both are normal again); "
    "2 bad input; 3 not normal, --wait timed out, or the drill failed; "
    "4 a member's OMAPI did not answer (down, unreachable, or the key is wrong); "
    "5 a member has no instance in AWS yet (status --allow-not-created leaves it out: 0 once the other member "
    "answers)"
)
KEYS_FROM = ("ssm", "key-store")
VIA_INSTANCE_CONNECT = "instance-connect"


def _error(message: str) -> None:
    """The one line of an error: whatever the message quotes, it cannot start a second line."""
    print(f"error: {one_line(message)}", file=sys.stderr)


def _report(problems: InventoryProblems) -> None:
    """Every problem of an inventory, one ``error:`` line each, then how many there are."""
    for problem in problems.shown():
        _error(problem)
    print(one_line(problems.summary()), file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _warn(inventory: Inventory) -> None:
    """After a command succeeded: what the inventory leaves undecided, one line each."""
    for line in site_warnings(inventory.sites):
        print(f"warning: {one_line(line)}", file=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    sites = ", ".join(site.name for site in inventory.sites)
    print(f"ok: {args.inventory}: {len(inventory.sites)} site(s): {sites}")
    _warn(inventory)
    return 0


def _render(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    trees = render_inventory(inventory)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    write_trees(trees, out)
    files = sum(len(tree) for tree in trees.values())
    print(f"rendered {files} file(s) for {len(trees)} host(s) into {out}")
    _warn(inventory)
    return 0


def _keys(args: argparse.Namespace) -> int:
    inventory_path = Path(args.inventory)
    inventory = load_inventory(inventory_path)
    if args.names_only:
        print(json.dumps(local_keys.describe(inventory), indent=2))
        return 0
    store = local_keys.KeyStore.load(Path(args.key_store) if args.key_store else local_keys.default_path(inventory_path))
    adopted = []
    if args.ssm:
        # SSM first: what a deploy already wrote wins over anything this runner would generate.
        api = AwsApi.from_env()
        for site in inventory.sites:
            for spec, secret in _site_secrets_in_ssm(api, site).items():
                if secret.version is None:
                    raise AwsError(f"SSM {spec.parameter_name} has no {VERSION_TAG} tag, so its version is "
                                         "unknown; deploy the shared stack once with this dhcp-failover")
                if store.adopt(spec, secret.value, secret.version, secret.previous):
                    adopted.append(spec)
    changed = [spec for site in inventory.sites for spec in store.ensure(site, rotate=args.rotate)]
    if changed or adopted:
        store.save()
    taken = f"{len(adopted)} taken from SSM, " if args.ssm else ""
    print(f"{store.path}: {taken}{len(changed)} secret(s) generated or rotated", file=sys.stderr)
    print("\n".join(local_keys.export_lines(store, inventory)))
    return 0


@contextmanager
def _reach_members(args: argparse.Namespace) -> Iterator[tuple[Site, list[operations.Access], str]]:
    """(site, OMAPI access to both members, where the key came from) for the command's duration.
    With ``--via instance-connect`` each member is reached through an open-tunnel child on a
    loopback port; the children stop when the command ends, however it ends."""
    inventory_path = Path(args.inventory)
    inventory = load_inventory(inventory_path)
    try:
        site = inventory.site(args.site)
    except KeyError:
        names = ", ".join(s.name for s in inventory.sites)
        raise UsageError(f"--site {args.site!r} is not in {inventory_path}; sites: {names}") from None
    hosts, via = _member_map(args.omapi_host, "--omapi-host"), _member_map(args.omapi_via, "--omapi-via")
    operations.check_members(site, [*hosts, *via])
    tunnelled = args.via == VIA_INSTANCE_CONNECT
    if tunnelled:
        if hosts or via:
            raise UsageError("--via instance-connect picks each member's route itself; drop --omapi-host and "
                             "--omapi-via")
        if not site.operator_access.instance_connect:
            raise UsageError(f"--via instance-connect: site {site.name!r} has no Instance Connect Endpoint; set "
                             "operator_access: {instance_connect: true} in the inventory and deploy its shared stack")
        instance_connect.aws_cli()  # no aws command: say so before asking AWS anything
    keys_from = args.omapi_key_from or "key-store"  # never AWS unless asked: the lab has no AWS
    store = _omapi_key_store(args, inventory_path, site, keys_from)
    if not tunnelled:
        yield site, operations.member_access(site, store, hosts=hosts, via=via), keys_from
        return
    # status --allow-not-created: a member with no instance must not spare its partner the read.
    absent_ok = bool(getattr(args, "allow_not_created", False))
    tunnels = instance_connect.plan_tunnels(AwsApi.from_env(), site, absent_ok=absent_ok)
    with instance_connect.open_tunnels(tunnels) as ports:
        yield site, operations.member_access(site, store, hosts=instance_connect.routes_for(site, ports)), keys_from


def _omapi_key_store(
    args: argparse.Namespace, inventory_path: Path, site: Site, keys_from: str
) -> local_keys.KeyStore:
    if keys_from == "ssm":
        return _omapi_key_from_ssm(site)
    store_path = Path(args.key_store) if args.key_store else local_keys.default_path(inventory_path)
    if not store_path.exists():
        raise UsageError(f"{store_path}: no key store; run 'python -m dhcp_failover keys', pass --key-store, "
                         "or read the key from SSM with --omapi-key-from ssm")
    return local_keys.KeyStore.load(store_path)


def _not_created(names: str, allowed: bool = False) -> int:
    """A member with no instance, without --allow-not-created (with it, the member is left out and
    its partner must answer); or, ``allowed``, no member with one."""
    if allowed:
        _error(f"{names} not created yet (no instance in AWS): --allow-not-created leaves out a member not "
               "created, and waits for its partner; deploy the secondary first, or check the AWS account and region")
        return EXIT_NOT_CREATED
    _error(f"{names} not created yet (no instance in AWS); deploy it, or pass --allow-not-created on a first deploy")
    return EXIT_NOT_CREATED


def _instance_check(keys_from: str, asked: bool) -> operations.InstanceCheck | None:
    """Tells "not created yet" from "not answering" for a member whose OMAPI is silent, by asking
    EC2. Only when the operator reaches AWS anyway (key from SSM, a local AWS API) or ``asked``
    (--allow-not-created): a laptop in the lab must not start calling AWS."""
    if keys_from != "ssm" and not asked and not AwsApi.from_env().endpoint:
        return None
    api = AwsApi.from_env()

    def exists(member: Member) -> bool | None:
        try:
            return api.instance_exists(member)
        except AwsError:
            return None  # unknown: treated as "not answering", as without the check

    return exists


def _site_secrets_in_ssm(api: AwsApi, site: Site) -> dict[SecretSpec, SsmSecret]:
    try:
        return api.site_secrets(site)
    except AwsError as exc:
        raise AwsError(f"site {site.name!r}: reading its secrets from SSM: {exc}") from None


def _omapi_key_from_ssm(site: Site) -> local_keys.KeyStore:
    """An in-memory key store holding the OMAPI key (and the one before it) as SSM has it."""
    spec = control_secret(site)  # the OMAPI key, or a Kea site's control password
    try:
        secret = AwsApi.from_env().secret(spec.parameter_name, secret_region(site, spec))
    except AwsError as exc:
        raise AwsError(f"site {site.name!r}: reading the OMAPI key from SSM: {exc}; or use the local key "
                             "store with --omapi-key-from key-store") from None
    if secret is None:
        raise AwsError(f"site {site.name!r}: SSM has no {spec.parameter_name} in "
                             f"{secret_region(site, spec)}; deploy {site.name}-shared first")
    store = local_keys.KeyStore(Path(f"ssm:{spec.parameter_name}"), {})
    store.adopt(spec, secret.value, secret.version or 1, secret.previous)
    return store


def _member_map(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        member, sep, rest = value.partition("=")
        if not sep or not member or not rest:
            raise UsageError(f"{option} takes MEMBER=VALUE, not {value!r}")
        pairs[member] = rest
    return pairs


def _pools(site: Site, keys_from: str, asked: bool) -> pool_status.SitePools | None:
    """Pool usage from CloudWatch for a monitored site, when the operator reaches AWS anyway (key
    from SSM, a local AWS API) or asked with --pools; like _instance_check, never on its own."""
    if keys_from != "ssm" and not asked and not AwsApi.from_env().endpoint:
        return None
    return pool_status.read_pools(AwsApi.from_env(), site)


def _pools_json(pools: pool_status.SitePools | None) -> dict[str, object] | None:
    if pools is None:
        return None
    return {"error": pools.error, "pools": [vars(p) for p in pools.pools]}


def _status(args: argparse.Namespace) -> int:
    if args.all:
        return _status_all(args)
    if not args.site:
        raise UsageError("status needs --site SITE, or --all for every site of the inventory")
    try:
        with _reach_members(args) as (site, access, keys_from):
            return _report_status(args, site, access, keys_from)
    except instance_connect.NotCreated as absent:
        return _not_created(str(absent))  # only without --allow-not-created: see _reach_members


def _report_status(args: argparse.Namespace, site: Site, access: list[operations.Access], keys_from: str) -> int:
    exists = _instance_check(keys_from, args.allow_not_created)
    allowed = args.allow_not_created
    held = operations.HeldWatch(site)
    if args.wait:
        def waiting(line: str) -> None:
            print(f"status: site {site.name} waiting: {line}", file=sys.stderr, flush=True)

        passed, statuses = operations.wait_until_normal(site, access, args.timeout, exists=exists,
                                                        allow_not_created=allowed, progress=waiting, held=held)
    else:
        statuses = operations.read_status(site, access, exists=exists)
        passed = operations.gate_passes(statuses, allow_not_created=allowed)
        held.see(statuses, time.monotonic())
    normal = all(s.normal for s in statuses)
    pools = _pools(site, keys_from, args.pools)
    if args.json:
        print(json.dumps({"site": site.name, "normal": normal, "members": [vars(s) for s in statuses],
                          "pools": _pools_json(pools)}, indent=2))
    else:
        for s in statuses:
            state = f"{s.local_state} (partner: {s.partner_state})" if s.error is None else f"unreachable: {s.error}"
            if s.not_created:
                state = "not created yet (no instance in AWS)"
            if s.omapi_key == "previous":
                state += " [answers to the OMAPI key from before the rotation]"
            if s.dual_stack and not s.not_created:
                state += (f"; dhcpv6 {s.v6_local_state} (partner: {s.v6_partner_state})" if s.v6_error is None
                          else f"; dhcpv6 unreachable: {s.v6_error}")
            print(f"{site.name} {s.role:<9} {s.member:<20} {state}")
        if pools is not None:
            for p in pools.pools:
                print(f"{site.name} pool      {p.summary}")
            if pools.error:
                print(f"{site.name} pools     unknown: {pools.error}")
    absent = [s for s in statuses if s.not_created]
    if passed:
        if absent:
            others = [s.member for s in statuses if not s.not_created]
            answered = f"; {', '.join(others)} answered" if others else ""
            print(f"note: {', '.join(s.member for s in absent)} not created yet (no instance in AWS){answered}",
                  file=sys.stderr)
        return 0
    hopeless = held.hopeless()
    if hopeless:  # waiting never clears it, and it says more than a silent partner would
        _error(f"site {site.name}: {hopeless}")
        return EXIT_NOT_NORMAL
    if operations.nothing_to_wait_for(statuses, allow_not_created=allowed):
        return _not_created(", ".join(s.member for s in absent), allowed)
    # Checked before "not created": an allowed absent member never excuses a partner that exists and is silent.
    unreachable = [s for s in statuses if not s.not_created and (s.error or s.v6_error)]
    for s in unreachable:
        _error(f"{s.member}: {s.error or f'dhcpv6: {s.v6_error}'}")
    if unreachable:
        return EXIT_UNREACHABLE
    if args.wait:
        stuck = held.stuck(time.monotonic())
        _error(f"site {site.name}: {stuck}" if stuck else f"site {site.name} not normal after {args.timeout:g} s")
    return EXIT_NOT_NORMAL


def _status_all(args: argparse.Namespace) -> int:
    """One table for every site: both members' states and each pool's free share."""
    inventory = load_inventory(Path(args.inventory))
    hosts, via = _member_map(args.omapi_host, "--omapi-host"), _member_map(args.omapi_via, "--omapi-via")
    rows = []
    for listed in inventory.sites:
        names = {m.name for m in listed.members}
        per_site = argparse.Namespace(**{
            **vars(args), "site": listed.name,
            "omapi_host": [f"{k}={v}" for k, v in hosts.items() if k in names],
            "omapi_via": [f"{k}={v}" for k, v in via.items() if k in names],
        })
        with _reach_members(per_site) as (site, access, keys_from):
            statuses = operations.read_status(site, access)
            rows.append((site, statuses, _pools(site, keys_from, args.pools)))
    if args.json:
        print(json.dumps({"sites": [
            {"site": site.name, "normal": all(s.normal for s in statuses), "members": [vars(s) for s in statuses],
             "pools": _pools_json(pools)} for site, statuses, pools in rows]}, indent=2))
    else:
        print(f"{'SITE':<16} {'PRIMARY':<34} {'SECONDARY':<34} POOLS (FREE)")
        for site, statuses, pools in rows:
            cells = [f"{s.member} {s.summary}" for s in statuses]
            if pools is None:
                free = "-"
            elif pools.error:
                free = f"unknown: {pools.error}"
            else:
                free = ", ".join(f"{p.pool} {'?' if p.free_percent is None else f'{p.free_percent:.0f}%'}"
                                 for p in pools.pools)
            print(f"{site.name:<16} {cells[0]:<34} {cells[1]:<34} {free}")
    statuses_all = [s for _, statuses, _ in rows for s in statuses]
    if all(s.normal for s in statuses_all):
        return 0
    return EXIT_UNREACHABLE if any(s.error for s in statuses_all) else EXIT_NOT_NORMAL


def _drill(args: argparse.Namespace) -> int:
    try:
        with _reach_members(args) as (site, access, _):
            return _run_drill(args, site, access)
    except instance_connect.NotCreated as absent:
        _error(f"{absent} not created yet (no instance in AWS); nothing to drill")
        return EXIT_NOT_CREATED


def _run_drill(args: argparse.Namespace, site: Site, access: list[operations.Access]) -> int:
    member = args.member or site.secondary.name
    restart = operations.run_restart_command(args.restart_command, args.timeout) if args.restart_command else None
    # Live progress for people; with --json it goes to stderr so stdout stays one document.
    progress = sys.stderr if args.json else sys.stdout
    if site.server is ServerKind.KEA and args.restart_command:
        raise UsageError("--restart-command: a Kea drill stops nothing (ha-maintenance-start, then cancel); "
                             "remove it")
    channel = "Kea maintenance (ha-maintenance-start to its partner)" if site.server is ServerKind.KEA else "OMAPI"
    print(f"drill: shutting {member} of site {site.name} down over {channel}", file=progress, flush=True)
    report = operations.drill(
        site, access, member, restart=restart, timeout=args.timeout,
        on_event=lambda seconds, text: print(f"+{seconds:7.2f} s  {text}", file=progress, flush=True),
    )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        print(f"drill passed: {member} down and back, pair normal after {report.timings['normal']:.2f} s")
    if not report.ok:
        _error(f"drill failed: {report.failure}")
        return EXIT_NOT_NORMAL
    return 0


def _shard(text: str) -> tuple[int, int]:
    from .rollout_command import parse_shard

    return parse_shard(text)


def _rollout(args: argparse.Namespace) -> int:
    from . import rollout_command  # loads cdktf for the synth: only this command pays for it

    return rollout_command.run(args)


def _add_member_access(parser: argparse.ArgumentParser, *, one_site: bool = True, with_json: bool = True) -> None:
    parser.add_argument("--inventory", required=True, metavar="FILE")
    if one_site:
        parser.add_argument("--site", required=True)
    parser.add_argument("--key-store", metavar="FILE", help="default: .dhcp-failover-keys/<inventory>.json beside it")
    parser.add_argument("--omapi-key-from", choices=KEYS_FROM,
                        help="where the OMAPI key comes from: key-store (the default) or ssm (the deployed "
                             "parameter, with AWS credentials; no key store needed)")
    parser.add_argument("--omapi-host", action="append", default=[], metavar="MEMBER=HOST[:PORT]",
                        help="reach a member's OMAPI here instead of its inventory address (e.g. a port forward)")
    parser.add_argument("--omapi-via", action="append", default=[], metavar="MEMBER=COMMAND",
                        help="run omshell through this command prefix for a member, e.g. 'ssh bastion' "
                             "(omshell reads the key on stdin; tests use 'ip netns exec NS')")
    parser.add_argument("--via", choices=[VIA_INSTANCE_CONNECT],
                        help="reach both members' OMAPI through the site's EC2 Instance Connect Endpoint "
                             "(operator_access.instance_connect): finds each member's instance, runs 'aws "
                             "ec2-instance-connect open-tunnel' (AWS CLI v2) to a loopback port while the "
                             "command runs; see docs/operator-access.md")
    if with_json:
        parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def _import(args: argparse.Namespace) -> int:
    sources = [Path(args.dhcpd_conf)] + ([Path(args.peer_conf)] if args.peer_conf else [])
    root = Path(args.include_root)
    trees = []
    for source in sources:
        try:
            trees.append(isc_reader.read_file(source, root))
        except ConfigImportError as exc:
            raise ConfigImportError(f"{source}: {exc}") from None
    try:
        data, unmapped, placeholders = isc_import.import_trees(
            trees[0], trees[1] if len(trees) > 1 else None, args.site, missing_include=isc_import.NOT_FOUND)
    except isc_import.PeerConfigError as exc:
        raise ConfigImportError(f"{sources[-1]}: {exc}") from None
    except ConfigImportError as exc:
        raise ConfigImportError(f"{sources[0]}: {exc}") from None
    if args.dhcpd6_conf:
        sources.append(Path(args.dhcpd6_conf))
        unmapped, placeholders = _import_dhcpd6(Path(args.dhcpd6_conf), root, data, unmapped, placeholders)
    isc_import.deploy_placeholders(data, placeholders)
    out = Path(args.out)
    header = (f"# Imported from {' and '.join(s.name for s in sources)} by dhcp-failover import.\n"
              f"# Replace every '{isc_import.PLACEHOLDER}' before validate: it names each one it rejects.\n")
    staged = out.with_name(f".{out.name}.tmp")
    staged.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    staged.replace(out)
    for line, statement, why in unmapped:
        print(one_line(f"not mapped: line {line}: {statement}: {why}"))
    for placeholder in placeholders:
        print(one_line(f"fill in: {placeholder}"))
    print(f"wrote {out}: {len(unmapped)} statement(s) not mapped, {len(placeholders)} placeholder(s) to fill in")
    if args.leases:
        _report_bindings(data, args.leases)
    return 0


def _import_dhcpd6(
    source: Path, root: Path, data: dict[str, Any], unmapped: list[tuple[int, str, str]], placeholders: list[str]
) -> tuple[list[tuple[int, str, str]], list[str]]:
    """The dhcpd6.conf as the imported site's dhcpv6 section; its unmapped lines are named by file."""
    try:
        tree = isc_reader.read_file(source, root)
    except ConfigImportError as exc:
        raise ConfigImportError(f"{source}: {exc}") from None
    site = data["sites"][0]
    section, unmapped6, placeholders6 = isc_import6.import_dhcpd6(tree, [str(m["name"]) for m in site["members"]])
    if not section["subnets"]:
        raise ConfigImportError(f"{source}: holds no subnet6; is this a dhcpd6.conf?")
    site["dhcpv6"] = section
    return unmapped + [(line, f"({source.name}) {text}", why) for line, text, why in unmapped6], placeholders + placeholders6


def _report_bindings(data: dict[str, object], lease_files: list[str]) -> None:
    """Which of today's active bindings the imported pools and reservations still cover: a client
    whose address is outside both gets a new address from the new pair."""
    texts = []
    for source in lease_files:
        try:
            texts.append(Path(source).read_bytes().decode("utf-8", errors="strict"))
        except UnicodeDecodeError:
            raise UsageError(f"{source}: is not UTF-8 text; is this a dhcpd.leases file?") from None
    try:
        bindings = isc_leases.merged_bindings(texts)
    except isc_leases.LeaseFileError as exc:
        raise UsageError(f"{lease_files[0] if len(texts) == 1 else 'lease files'}: {exc}") from None
    coverage = isc_import.binding_coverage(data, [(b.address, b.mac) for b in bindings])
    for address, mac in coverage.outside:
        print(one_line(f"not kept: lease {address} ({mac}): in no imported pool or host reservation; "
                       "that client gets a new address"))
    print(f"leases: {len(bindings)} active binding(s): {coverage.in_pools} in imported pools, "
          f"{coverage.on_hosts} on host reservations, {len(coverage.outside)} outside both")


def _kea_site(inventory_path: Path, name: str) -> Site:
    inventory = load_inventory(inventory_path)
    try:
        site = inventory.site(name)
    except KeyError:
        names = ", ".join(s.name for s in inventory.sites)
        raise UsageError(f"--site {name!r} is not in {inventory_path}; sites: {names}") from None
    if site.server is not ServerKind.KEA:
        raise InventoryError(f'site "{site.name}": server is isc; set server: kea in the inventory first, so the '
                             "leases go to the subnet ids Kea will use")
    return site


def _isc_bindings(site: Site, sources: list[str]) -> list[isc_leases.IscBinding]:
    """The active bindings of the --isc-leases files, each in one of the site's subnets."""
    texts = []
    for source in sources:
        try:
            texts.append(Path(source).read_bytes().decode("utf-8", errors="strict"))
        except UnicodeDecodeError:
            raise UsageError(f"{source}: is not UTF-8 text; is this a dhcpd.leases file?") from None
    try:
        return kea_leases.bindings_for(site, texts)
    except isc_leases.LeaseFileError as exc:
        raise UsageError(f"{sources[0] if len(texts) == 1 else 'lease files'}: {exc}") from None


def _convert_leases(args: argparse.Namespace) -> int:
    site = _kea_site(Path(args.inventory), args.site)
    bindings = _isc_bindings(site, args.isc_leases)
    csv_text, count = kea_leases.memfile_csv(site, bindings), len(bindings)
    out = Path(args.out)
    staged = out.with_name(f".{out.name}.tmp")
    staged.write_text(csv_text, encoding="utf-8")
    staged.replace(out)
    print(f"wrote {out}: {count} active binding(s) for site {site.name}; copy it to {KEA_LEASE_FILE} on both "
          "members before their first start")
    _lb_note(site)
    return 0


def _load_leases(args: argparse.Namespace) -> int:
    site = _kea_site(Path(args.inventory), args.site)
    leases = kea_leases.lease_arguments(site, _isc_bindings(site, args.isc_leases))
    with _reach_members(args) as (_, access, _keys_from):
        for member in access:
            assert isinstance(member, operations.KeaAccess)  # _kea_site: the site runs Kea
            kea_control.load_leases(member.endpoint, leases)
            print(f"{site.name} {member.member.role.value:<9} {member.member.name}: {len(leases)} binding(s) loaded")
    _lb_note(site)
    return 0


def _lb_note(site: Site) -> None:
    if site.failover.load_balancing:
        print("note: load-balancing splits each pool by client hash, and Kea gives a renewing client whose address "
              "is in its partner's half a new one (about half of them); switch with failover.load_balancing: false "
              "to keep every address")


def _diagram(args: argparse.Namespace) -> int:
    inventory = load_inventory(args.inventory)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    renderer = shutil.which("dot")
    for stem, mermaid_text, dot_text in diagram.site_diagrams(inventory.sites):
        (out / f"{stem}.mmd").write_text(mermaid_text, encoding="utf-8")
        (out / f"{stem}.dot").write_text(dot_text, encoding="utf-8")
        if renderer:
            subprocess.run([renderer, "-Tsvg", "-o", str(out / f"{stem}.svg"), str(out / f"{stem}.dot")],
                           check=True, capture_output=True, timeout=60)
    drawn = "Mermaid, DOT and SVG" if renderer else "Mermaid and DOT (install graphviz for SVG)"
    print(f"wrote {drawn} for {len(inventory.sites)} site(s) into {out}")
    return 0

def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def _schema(args: argparse.Namespace) -> int:
    print(json.dumps(inventory_json_schema(), indent=2, sort_keys=True))
    return 0


def _docs(args: argparse.Namespace) -> int:
    from . import reference_docs  # reads the CLI's own parser: imported late, not at start-up

    stale = reference_docs.refresh(Path(args.out), write=not args.check)
    if args.check:
        for region in stale:
            _error(str(region))
        return EXIT_STALE_DOCS if stale else 0
    print(f"{args.out}: {len(stale)} generated table(s) rewritten")
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
    keys.add_argument("--ssm", action="store_true",
                      help="first take every secret SSM already holds (value and version), so that every runner "
                           "exports what the first deploy wrote; generate only what SSM lacks")
    keys.add_argument(
        "--names-only", action="store_true", help="print SSM parameter and TF_VAR names as JSON, no values"
    )
    keys.set_defaults(run=_keys)

    status = commands.add_parser(
        "status",
        help="both members' failover states over OMAPI (Kea sites: the control agent)",
        description="Read both members' failover states over OMAPI with the pair's key.",
        epilog=OMAPI_EXIT_CODES,
    )
    _add_member_access(status, one_site=False)
    status.add_argument("--site", help="the site to show (or --all)")
    status.add_argument("--all", action="store_true", help="one table for every site of the inventory")
    status.add_argument("--pools", action="store_true",
                        help="show pool usage from CloudWatch (monitored sites; the default when the key comes "
                             "from SSM or a local AWS API is set)")
    status.add_argument("--wait", choices=["normal"],
                        help="poll until both members are normal (up to --timeout), with a line on stderr at first "
                             f"and at least every {operations.PROGRESS_INTERVAL:g} s: each member's state, the time "
                             "waited and the limit")
    status.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS", help="for --wait (default 120)")
    status.add_argument("--allow-not-created", action="store_true",
                        help="a member that EC2 says has no instance yet (a first deploy) is left out; its partner "
                             "must still answer, in any state (with --wait: until --timeout, else exit 4)")
    status.set_defaults(run=_status)

    drill = commands.add_parser(
        "drill",
        help="the ISC guide's failover test: shut a member down over OMAPI (Kea: HA maintenance), check the takeover, wait for normal",
        description="Shut MEMBER down over OMAPI (both members must be normal first), wait until its partner "
        "has taken over (communications-interrupted or partner-down), bring MEMBER back with --restart-command "
        "or wait for you to restart it, then wait until both are normal. Prints each state change and timing.",
        epilog=OMAPI_EXIT_CODES,
    )
    _add_member_access(drill)
    drill.add_argument("--member", help="member to shut down (default: the secondary)")
    drill.add_argument("--restart-command", metavar="CMD",
                       help="shell command run once the partner took over; it must start MEMBER's dhcpd again")
    drill.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                       help="for each wait (default 120; a restarted member may wait MCLT in recover-wait)")
    drill.set_defaults(run=_drill)

    convert = commands.add_parser(
        "convert-leases",
        help="switching a site from ISC to Kea: its active ISC bindings as Kea's memfile lease file",
        description="Read dhcpd.leases (one member's, or both: the later end wins per address) and write the "
        "active bindings, with their start and end, as Kea's memfile CSV for a site whose inventory says "
        "server: kea. Copy the file to both Kea members before their first start: every client renews "
        "the address it had.",
    )
    convert.add_argument("--inventory", required=True, metavar="FILE")
    convert.add_argument("--site", required=True)
    convert.add_argument("--isc-leases", required=True, action="append", metavar="FILE",
                         help="a dhcpd.leases file (repeat for the partner's)")
    convert.add_argument("--out", required=True, metavar="FILE", help="the Kea lease file to write")
    convert.set_defaults(run=_convert_leases)

    load = commands.add_parser(
        "load-leases",
        help="switching a site from ISC to Kea: load its active ISC bindings into the running Kea members",
        description="Read dhcpd.leases (one member's, or both: the later end wins per address) and write each active "
        "binding into both running Kea members through their control agents (lease4-update with force-create, so a "
        "second run changes nothing). The way to seed members deployed on AWS: reach them from an admin network or "
        "with --via instance-connect, like status.",
    )
    _add_member_access(load, with_json=False)
    load.add_argument("--isc-leases", required=True, action="append", metavar="FILE",
                      help="a dhcpd.leases file (repeat for the partner's)")
    load.set_defaults(run=_load_leases)

    imported = commands.add_parser(
        "import",
        help="turn an existing dhcpd.conf (or a failover pair's two) into an inventory",
        description="Read an ISC dhcpd.conf and write an inventory. Every statement that has no place in the "
        "inventory is printed with its line number; what a dhcpd.conf cannot know (relay interfaces and "
        f"addresses) is left as '{isc_import.PLACEHOLDER}', which validate rejects until you fill it in.",
    )
    imported.add_argument("--dhcpd-conf", required=True, metavar="FILE", help="one server's dhcpd.conf")
    imported.add_argument("--peer-conf", metavar="FILE", help="the failover partner's dhcpd.conf")
    imported.add_argument("--dhcpd6-conf", metavar="FILE",
                          help="the servers' dhcpd.conf for dhcpd -6 (dhcpd6.conf): becomes the site's dhcpv6 section")
    imported.add_argument("--site", help="the site's name (default: from the failover peer name)")
    imported.add_argument("--include-root", default="/", metavar="DIR",
                          help="where absolute include paths are read (default /, as dhcpd does; give the "
                               "folder of a copied /etc when importing elsewhere); relative ones are read "
                               "beside the file that includes them")
    imported.add_argument("--out", required=True, metavar="FILE", help="the inventory to write")
    imported.add_argument("--leases", action="append", default=[], metavar="FILE",
                          help="the servers' dhcpd.leases (once per file): report which active bindings the "
                               "imported pools and host reservations keep")
    imported.set_defaults(run=_import)

    drawing = commands.add_parser(
        "diagram", help="draw each site: relays and subnets, both members, the failover link, OMAPI admins"
    )
    drawing.add_argument("--inventory", required=True, metavar="FILE")
    drawing.add_argument("--out", required=True, metavar="DIR", help="writes DIR/<site>.mmd, .dot and .svg")
    drawing.set_defaults(run=_diagram)

    rollout = commands.add_parser(
        "rollout",
        help="synthesize, then plan and apply every site's stacks in the safe order, gated on normal",
        description="Synthesize the selected sites once, then per site: plan and apply <site>-shared, "
        "<site>-secondary, wait until both members are normal, <site>-primary, wait again. A stack whose plan "
        "is empty is skipped. Sites run in parallel (--parallel); a failure stops only its site. "
        "The TF_VAR_ secrets come from the environment (eval \"$(python -m dhcp_failover keys ...)\").",
        epilog="exit status: 0 every site done (or planned, or no drift); 2 bad input, nothing run; "
        "3 a site failed (plan, apply, or its gate): see the summary; 4 --drift found drift",
    )
    _add_member_access(rollout, one_site=False)
    rollout.add_argument("--sites", metavar="A,B",
                         help="only these sites, comma-separated (default: $DHCP_FAILOVER_SITES when set, else every "
                              "placed site); a list that names no site is an error, never every site")
    rollout.add_argument("--parallel", type=_positive_int, metavar="N",
                         help="sites at once (default 1; with --plan-only, one per CPU: plans are CPU-bound and "
                              "apply nothing); the members of a site never run at once")
    rollout.add_argument("--plan-only", action="store_true",
                         help="plan every stack, print the review as Markdown (adds, changes, destroys, "
                              "instance replacements), apply nothing")
    rollout.add_argument("--base-inventory", metavar="PATH",
                         help="with --plan-only: the inventory the change starts from (the base branch's); the "
                              "review shows each replaced member's rendered files (what render writes) from it to "
                              "--inventory, secrets never shown")
    rollout.add_argument("--gate-timeout", type=float, default=3900.0, metavar="SECONDS",
                         help="how long each gate waits for normal (default 3900: a rebuilt member waits "
                              "MCLT, 3600 s by default, in recover-wait)")
    rollout.add_argument("--no-gate", action="store_true",
                         help="do not wait for normal between members (members you cannot reach over OMAPI; "
                              "the order still holds, the waiting is then yours)")
    rollout.add_argument("--cache", metavar="DIR",
                         help="synth cache: each site's stacks kept by a digest of what makes them, so only "
                              "changed sites are synthesized (default: cdktf.out/.synth-cache; keep it between "
                              "pipeline runs)")
    rollout.add_argument("--no-cache", action="store_true", help="synthesize every selected site, use no cache")
    rollout.add_argument("--changed", action="store_true",
                         help="only stacks whose configuration differs from the one they were last applied from "
                              "(the apply record rollout keeps beside each stack's state); the others are skipped "
                              "without a plan. No record yet: every stack is planned, with a warning. An apply "
                              "does this by default; with --plan-only it reviews only what changed")
    rollout.add_argument("--all-stacks", action="store_true",
                         help="an apply plans every stack, also those whose configuration is the one last applied "
                              "(their plan finds what changed behind terraform's back, as --drift shows)")
    rollout.add_argument("--drift", action="store_true",
                         help="apply nothing: a refresh-only plan of every stack, reported as drift (what AWS "
                              "holds that the state does not say) in the plan review's shapes; exit 4 on drift")
    rollout.add_argument("--shard", metavar="K/N", type=_shard,
                         help="only shard K of the selected sites split N ways (as even as whole sites allow, by "
                              "a hash of each name: every job of a CI matrix computes the same split, and adding "
                              "a site moves few others)")
    rollout.set_defaults(run=_rollout)

    schema = commands.add_parser("schema", help="print the inventory's JSON Schema (for editors)")
    schema.set_defaults(run=_schema)

    docs = commands.add_parser(
        "docs",
        help="regenerate the tables in docs/ that mirror the code (fields, security-group rules, checks, CLI help)",
        epilog="exit status: 0 done (--check: up to date); 1 --check found a table that differs; 2 bad input",
    )
    docs.add_argument("--out", required=True, metavar="DIR", help="the docs/ folder; every *.md in it is read")
    docs.add_argument("--check", action="store_true", help="write nothing; list every table that differs")
    docs.set_defaults(run=_docs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except InventoryProblems as exc:
        _report(exc)
        return EXIT_BAD_INPUT
    except UserError as exc:
        _error(f"{exc}")
        return EXIT_BAD_INPUT
    except operations.DrillError as exc:
        _error(f"{exc}")
        return EXIT_NOT_NORMAL
    except (OmapiError, KeaControlError) as exc:
        _error(f"{exc}")
        return EXIT_UNREACHABLE
    except OSError as exc:
        _error(f"{exc.filename or ''}: {exc.strerror or exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A bug, not bad input: still one line (and a distinct status); the traceback on request.
        if os.environ.get(DEBUG_ENV):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc}; please report it (set {DEBUG_ENV}=1 for the traceback)")
        return EXIT_INTERNAL


def run() -> None:
    """The ``dhcp-failover`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
