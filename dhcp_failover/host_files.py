"""Every host's files, keyed by the folder ``render --out`` writes them to: each member's whole
tree (exactly what its user-data writes) and each relay's configurations."""

from __future__ import annotations

from .cloudinit import member_tree
from .derived_names import member_folder, relay_folder
from .model import Inventory
from .relay6 import render_relay6
from .render import FileTree, render_relay


def render_inventory(inventory: Inventory, *, root: str = "") -> dict[str, FileTree]:
    """``<site>/<member>`` and ``<site>/relays/<relay>`` to their files."""
    trees: dict[str, FileTree] = {}
    for site in inventory.sites:
        for member in site.members:
            trees[member_folder(site, member)] = member_tree(site, member, root=root)
        for relay in site.relays:
            trees[relay_folder(site, relay)] = render_relay(site, relay) + render_relay6(site, relay)
    return trees
