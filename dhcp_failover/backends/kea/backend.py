"""Kea HA behind the ``Backend`` seam."""

from __future__ import annotations

from collections.abc import Mapping

from ...model import Member, ServerKind, Site
from ...render import FileTree, render_template
from ...secret_names import control_secret
from ..base import ControlChannel, PartnerLink
from . import checks as input_rules
from . import render

# How long the bootstrap watches kea-dhcp4 after its start: a bad HA setting ends it at once.
SETTLE_SECONDS = 2


class KeaBackend:
    kind = ServerKind.KEA
    checks = input_rules.CHECKS

    def render_member(self, site: Site, member: Member, *, root: str = "") -> FileTree:
        return render.render_member(site, member, root=root)

    def packages(self, site: Site) -> list[str]:
        # Both members run the same Kea: HA refuses nothing across versions, but behaviour differs.
        version = site.kea.package_version
        return [f'[kea-dhcp4-server, "{version}"]', f'[kea-ctrl-agent, "{version}"]']

    def render_bootstrap(self, site: Site, member: Member, shared: Mapping[str, object]) -> str:
        return render_template(
            "kea/dhcp-failover-bootstrap.sh.j2",
            **shared,
            password_parameter=control_secret(site).parameter_name,
            password_file=render.password_path(),
            dhcp4_conf=render.DHCP4_CONF,
            agent_conf=render.CTRL_AGENT_CONF,
            settle_seconds=SETTLE_SECONDS,
        )

    def control_channel(self, site: Site) -> ControlChannel:
        return ControlChannel(
            "kea_control", site.kea.control_port, "Kea control agent", "the partner and kea.admin_networks only",
            tuple(site.kea.admin_networks), "kea-control-tcp-from-admins",
        )

    def partner_link(self, site: Site, member: Member) -> PartnerLink:
        # Both Control Agents listen on the same port; each member calls its partner's.
        port = site.kea.control_port
        return PartnerLink("kea-control-tcp-from-partner", "kea-control-tcp-to-partner", port, port)
