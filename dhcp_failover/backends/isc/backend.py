"""ISC dhcpd behind the ``Backend`` seam. Its rendering and rules still live in ``render``,
``isc_options`` and ``checks``; this wraps them so that callers choose no server themselves."""

from __future__ import annotations

from collections.abc import Iterator

from ...model import Member, ServerKind, Site
from ...render import FileTree, render_member


class IscBackend:
    kind = ServerKind.ISC

    def problems(self, site: Site) -> Iterator[tuple[str, str]]:
        return iter(())  # the ISC rules are the general ones in ``checks``

    def render_member(self, site: Site, member: Member, *, root: str = "") -> FileTree:
        return render_member(site, member, root=root)

    def packages(self, site: Site) -> list[str]:
        # Step 1 of the ISC guide: the same dhcpd version on both members, pinned from the site.
        return [f'[isc-dhcp-server, "{site.software.isc_dhcp_server}"]']
