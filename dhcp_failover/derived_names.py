"""Every name the inventory's names turn into, in one place, so that no two of them collide.

Names are joined and transformed on their way out: site ``coast`` with member ``east-x`` and site
``coast-east`` with member ``x`` both become the Terraform variable ``coast_east_x_...``, and a
member called ``relays`` would be written where ``render`` puts the relays' folder. Two things
under one name would silently share a secret or overwrite each other's files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .constructs.naming import member_stack_name, shared_stack_name
from .model import Inventory, Member, Relay, Role, Site
from .secret_names import site_secrets

RELAYS_FOLDER = "relays"


def member_folder(site: Site, member: Member) -> str:
    """Where ``render`` writes a member's files, below its output folder."""
    return f"{site.name}/{member.name}"


def relay_folder(site: Site, relay: Relay) -> str:
    return f"{site.name}/{RELAYS_FOLDER}/{relay.name}"


@dataclass(frozen=True)
class DerivedName:
    kind: str
    """What the name is, as the user would call it: 'Terraform variable', 'SSM parameter', ..."""
    name: str
    origin: str
    """Where it comes from: 'site "hq": member hq-a'."""


def derived_names(inventory: Inventory) -> Iterator[DerivedName]:
    for site in inventory.sites:
        where = f'site "{site.name}"'
        yield DerivedName("stack", shared_stack_name(site.name), where)
        for role in Role:
            yield DerivedName("stack", member_stack_name(site.name, role), where)
        for spec in site_secrets(site):
            origin = f"{where} member {spec.member}" if spec.member else where
            yield DerivedName("Terraform variable", spec.variable_name, origin)
            yield DerivedName("Terraform variable", spec.version_variable_name, origin)
            yield DerivedName("SSM parameter", spec.parameter_name, origin)
        for member in site.members:
            yield DerivedName("render folder", member_folder(site, member), f"{where} member {member.name}")
        for relay in site.relays:
            yield DerivedName("render folder", relay_folder(site, relay), f"{where} relay {relay.name}")


def collisions(inventory: Inventory) -> Iterator[tuple[DerivedName, DerivedName]]:
    """Pairs of different origins that give the same name of one kind (or, for folders, where
    one folder would sit inside the other)."""
    seen: dict[tuple[str, str], DerivedName] = {}
    folders: list[DerivedName] = []
    for derived in derived_names(inventory):
        key = (derived.kind, derived.name)
        first = seen.get(key)
        if first is not None and first.origin != derived.origin:
            yield first, derived
        seen.setdefault(key, derived)
        if derived.kind == "render folder":
            folders.append(derived)
    names = {folder.name: folder for folder in folders}
    for inner in folders:
        parts = inner.name.split("/")
        for end in range(1, len(parts)):
            outer = names.get("/".join(parts[:end]))
            if outer is not None:
                yield outer, inner
