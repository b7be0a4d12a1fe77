"""ISC dhcpd behind the ``Backend`` seam: files from ``backends.isc.render``, the bootstrap from
``templates/bootstrap``, the input rules from ``backends.isc.checks``."""

from __future__ import annotations

from collections.abc import Mapping

from ...model import Member, ServerKind, Site
from ...render import FileTree, render_template
from ...secret_names import control_secret
from ..base import ControlChannel, PartnerLink
from . import checks as input_rules
from .held_states import HELD_STATES
from .render import DHCPD_CONF, OMAPI_KEY_FILE, render_member, render_omapi_key


class IscBackend:
    kind = ServerKind.ISC
    checks = input_rules.CHECKS
    held_states = HELD_STATES

    def render_member(self, site: Site, member: Member, *, root: str = "") -> FileTree:
        return render_member(site, member, root=root)

    def packages(self, site: Site) -> list[str]:
        # Step 1 of the ISC guide: the same dhcpd version on both members, pinned from the site.
        return [f'[isc-dhcp-server, "{site.isc_dhcp_server_version}"]']

    def render_bootstrap(self, site: Site, member: Member, shared: Mapping[str, object]) -> str:
        return render_template(
            "bootstrap/dhcp-failover-bootstrap.sh.j2",
            **shared,
            omapi_parameter=control_secret(site).parameter_name,
            omapi_key_file=OMAPI_KEY_FILE,
            # The one key-file template (render_omapi_key), its secret left to the shell; the
            # text goes inside a double-quoted shell word, so its quotes are escaped.
            omapi_key_text=render_omapi_key(site, "$omapi_secret").replace('"', '\\"'),
            dhcpd_conf=DHCPD_CONF,
        )

    def control_channel(self, site: Site) -> ControlChannel:
        return ControlChannel(
            "omapi", site.omapi.port, "OMAPI", "omapi.admin_networks only", tuple(site.omapi.admin_networks),
            "omapi-tcp-from-admins",
        )

    def partner_link(self, site: Site, member: Member) -> PartnerLink:
        # Each side listens on its own failover port and connects to the partner's.
        return PartnerLink(
            "failover-tcp-from-partner", "failover-tcp-to-partner", member.failover_port, site.partner_of(member).failover_port
        )
