"""Kea HA behind the ``Backend`` seam."""

from __future__ import annotations

from collections.abc import Iterator

from ...model import Member, ServerKind, Site
from ...render import FileTree
from . import checks, render


class KeaBackend:
    kind = ServerKind.KEA

    def problems(self, site: Site) -> Iterator[tuple[str, str]]:
        return checks.kea_problems(site)

    def render_member(self, site: Site, member: Member, *, root: str = "") -> FileTree:
        return render.render_member(site, member, root=root)

    def packages(self, site: Site) -> list[str]:
        # Both members run the same Kea: HA refuses nothing across versions, but behaviour differs.
        version = site.kea.package_version
        return [f'[kea-dhcp4-server, "{version}"]', f'[kea-ctrl-agent, "{version}"]']
