"""Kea HA behind the ``Backend`` seam."""

from __future__ import annotations

from collections.abc import Mapping

from ...model import Member, ServerKind, Site
from ...render import FileTree, render_template
from ...secret_names import control_secret
from ..base import ControlChannel, PartnerLink
from . import checks as input_rules
from . import ddns as kea_ddns
from . import render, render6
from .held_states import HELD_STATES

# How long the bootstrap watches kea-dhcp4 after its start: a bad HA setting ends it at once.
SETTLE_SECONDS = 2
# How long the bootstrap waits for the member's fixed IPv6 address to appear on its interface.
IPV6_ADDRESS_WAIT_SECONDS = 60


class KeaBackend:
    kind = ServerKind.KEA
    checks = input_rules.CHECKS
    held_states = HELD_STATES

    def render_member(self, site: Site, member: Member, *, root: str = "") -> FileTree:
        return render.render_member(site, member, root=root)

    def packages(self, site: Site) -> list[str]:
        # Both members run the same Kea: HA refuses nothing across versions, but behaviour differs
        # (a 2.2 and a 3.0 member do not make a working pair, docs/kea.md).
        pin = render.kea_pin(site)
        names = ["kea-dhcp4-server"] + (["kea-ctrl-agent"] if render.uses_control_agent(site) else [])
        names += ["kea-dhcp-ddns-server"] if site.ddns else []
        names += ["kea-dhcp6-server"] if site.dhcpv6 else []
        return [f'[{name}, "{pin.version}"]' for name in names]

    def render_bootstrap(self, site: Site, member: Member, shared: Mapping[str, object]) -> str:
        return render_template(
            "kea/dhcp-failover-bootstrap.sh.j2",
            **shared,
            password_parameter=control_secret(site).parameter_name,
            password_file=render.password_path(),
            dhcp4_conf=render.DHCP4_CONF,
            agent_conf=render.CTRL_AGENT_CONF if render.uses_control_agent(site) else None,
            dhcp6_conf=render6.DHCP6_CONF if site.dhcpv6 else None,
            dhcp6_interface=site.dhcpv6.interface if site.dhcpv6 else None,
            dhcp6_address=site.dhcpv6.address_of(member.name) if site.dhcpv6 else None,
            dhcp6_address_wait=IPV6_ADDRESS_WAIT_SECONDS,
            settle_seconds=SETTLE_SECONDS,
            d2=self._d2_bootstrap(site, shared),
        )

    @staticmethod
    def _d2_bootstrap(site: Site, shared: Mapping[str, object]) -> dict[str, str] | None:
        """D2's config with each TSIG secret as the shell variable the bootstrap fetched it into
        (``shared["ddns"]`` names them), quoted for a double-quoted shell string."""
        ddns = shared.get("ddns")
        if site.ddns is None or not isinstance(ddns, dict):
            return None
        variables = {key.name: secret["variable"] for key, secret in zip(site.ddns.keys, ddns["secrets"], strict=True)}
        text = render.as_json(kea_ddns.d2_config(site, {name: f"${{{var}}}" for name, var in variables.items()}))
        return {"conf": kea_ddns.D2_CONF, "text": text.replace("\\", "\\\\").replace('"', '\\"')}

    def control_channel(self, site: Site) -> ControlChannel:
        label = "Kea control agent" if render.uses_control_agent(site) else "kea-dhcp4 HTTP control socket"
        return ControlChannel(
            "kea_control", site.kea.control_port, label, "the partner and kea.admin_networks only",
            tuple(site.kea.admin_networks), "kea-control-tcp-from-admins",
        )

    def partner_link(self, site: Site, member: Member) -> PartnerLink:
        # Both members listen on the same port (the Control Agent's on 2.2, kea-dhcp4's own
        # HTTP socket on 3.0); each member calls its partner's.
        port = site.kea.control_port
        return PartnerLink("kea-control-tcp-from-partner", "kea-control-tcp-to-partner", port, port)
