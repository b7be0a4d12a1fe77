"""How a rollout's gates reach a site's members, from the same options ``status`` takes.

The access is built again at every poll of a gate, for two reasons a one-time setup would miss:
a rollout replaces the instances (an Instance Connect tunnel goes to one instance id), and on a
first deploy the OMAPI key reaches SSM only with the site's shared stack, after the rollout began.

- ``--omapi-key-from ssm``: the key as SSM holds it at that moment (no key store needed: a
  pipeline runner has none that survives); default: the local key store, checked before anything runs.
- ``--via instance-connect``: each member's instance is looked up and an ``open-tunnel`` child
  started for the poll, stopped after it. A member with no instance yet (the primary on a first
  deploy) gets a loopback port nothing listens on: it reads as not answering, at once.
- else ``--omapi-host`` / ``--omapi-via`` as given, or the inventory addresses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from . import instance_connect, local_keys, operations
from .aws import AwsApi
from .errors import InventoryError, UsageError
from .model import Inventory, Site
from .rollout import Gate

KEYS = Callable[[Site], local_keys.KeyStore]


def build_gates(args: argparse.Namespace, inventory_path: Path, inventory: Inventory,
                sites: Sequence[Site]) -> dict[str, Gate]:
    """Each selected site's gate. Access flags may name members of sites not selected (one set
    of flags for every run of a pipeline); a name the inventory does not have is an error."""
    from .cli import VIA_INSTANCE_CONNECT, _member_map, _omapi_key_from_ssm  # status's own, not copies

    if args.gate_timeout <= 0:
        raise InventoryError(f"--gate-timeout {args.gate_timeout:g}: give a number of seconds above 0")
    hosts, via = _member_map(args.omapi_host, "--omapi-host"), _member_map(args.omapi_via, "--omapi-via")
    members = {member.name for site in inventory.sites for member in site.members}
    unknown = sorted((set(hosts) | set(via)) - members)
    if unknown:
        raise InventoryError(f"--omapi-host/--omapi-via name {unknown[0]!r}, which is no member in {inventory_path} "
                             f"(members: {', '.join(sorted(members))})")
    tunnelled = args.via == VIA_INSTANCE_CONNECT
    if tunnelled:
        _check_tunnels(sites, hosts, via)
    keys: KEYS = _omapi_key_from_ssm if args.omapi_key_from == "ssm" else _key_store(args, inventory_path)
    gates = {}
    for site in sites:
        names = {member.name for member in site.members}
        if tunnelled:
            reach = _tunnelled(site, keys)
        else:
            reach = _direct(site, keys, {k: v for k, v in hosts.items() if k in names},
                            {k: v for k, v in via.items() if k in names})
        gates[site.name] = Gate(reach, args.gate_timeout)
    return gates


def _key_store(args: argparse.Namespace, inventory_path: Path) -> KEYS:
    store_path = Path(args.key_store) if args.key_store else local_keys.default_path(inventory_path)
    if not store_path.exists():
        raise InventoryError(f"{store_path}: no key store for the gates; run 'python -m dhcp_failover keys', "
                             "pass --key-store, read the key from SSM with --omapi-key-from ssm, or --no-gate")
    store = local_keys.KeyStore.load(store_path)
    return lambda site: store


def _check_tunnels(sites: Sequence[Site], hosts: Mapping[str, str], via: Mapping[str, str]) -> None:
    if hosts or via:
        raise UsageError("--via instance-connect picks each member's route itself; drop --omapi-host and --omapi-via")
    for site in sites:
        if not site.operator_access.instance_connect:
            raise UsageError(f"--via instance-connect: site {site.name!r} has no Instance Connect Endpoint; set "
                             "operator_access: {instance_connect: true} in the inventory and deploy its shared stack")
    instance_connect.aws_cli()  # no aws command: say so before anything runs


def _direct(site: Site, keys: KEYS, hosts: Mapping[str, str],
            via: Mapping[str, str]) -> Callable[[], AbstractContextManager[Sequence[operations.Access]]]:
    operations.check_members(site, [*hosts, *via])

    @contextmanager
    def reach() -> Iterator[Sequence[operations.Access]]:
        yield operations.member_access(site, keys(site), hosts=hosts, via=via)

    return reach


def _tunnelled(site: Site, keys: KEYS) -> Callable[[], AbstractContextManager[Sequence[operations.Access]]]:
    @contextmanager
    def reach() -> Iterator[Sequence[operations.Access]]:
        store = keys(site)
        tunnels = instance_connect.plan_tunnels(AwsApi.from_env(), site, absent_ok=True)
        with instance_connect.open_tunnels(tunnels) as ports:
            yield operations.member_access(site, store, hosts=instance_connect.routes_for(site, ports))

    return reach
