"""From a validated inventory to the cdktf app, in two steps.

``plan_synth`` is pure: it picks the sites that run in AWS, checks what AWS itself would
refuse, reads the synth-time settings from the environment and renders every member's user
data. Any failure there is one line for the user, raised before anything exists on disk.
``build_app`` then wires one ``DhcpFailoverPair`` per site; only it loads cdktf (a second or
two), so bad input fails fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .aws import ENDPOINT_ENV as ENDPOINT_ENV  # the switch; tests and commands import it from here
from .aws import PROVIDER_ENDPOINT_ENV
from .cloudinit import instance_user_data
from .constructs.layout import LocalAwsApi, is_placed
from .constructs.naming import member_stack_name, shared_stack_name
from .errors import InventoryError, SettingsError
from .model import Inventory, Member, Role, Site

if TYPE_CHECKING:
    import cdktf

DECOMMISSION_ENV = "DHCP_FAILOVER_DECOMMISSION"
SITES_ENV = "DHCP_FAILOVER_SITES"

UserDataArgs = Mapping[str, str]
UserDataRenderer = Callable[[Site, Member], UserDataArgs]


@dataclass(frozen=True)
class SitePlan:
    site: Site
    user_data: Mapping[Role, UserDataArgs]
    decommission: bool = False
    """Named in ``$DHCP_FAILOVER_DECOMMISSION``: synthesized so that destroy can remove it all."""


@dataclass(frozen=True)
class SynthPlan:
    """Everything ``build_app`` needs, already checked."""

    inventory: Inventory
    sites: tuple[SitePlan, ...]
    local_api: LocalAwsApi | None
    unplaced: tuple[str, ...]
    """Sites without placement: rendered by ``python -m dhcp_failover render``, not deployed."""

    @property
    def stack_names(self) -> list[str]:
        """Every stack ``build_app`` makes, in construct order (secondary before primary)."""
        return [
            name
            for plan in self.sites
            for name in (
                shared_stack_name(plan.site.name),
                member_stack_name(plan.site.name, Role.SECONDARY),
                member_stack_name(plan.site.name, Role.PRIMARY),
            )
        ]


def local_api_from_env(environ: Mapping[str, str]) -> LocalAwsApi | None:
    """``$DHCP_FAILOVER_AWS_ENDPOINT``, e.g. ``http://127.0.0.1:5000``: every AWS endpoint of
    every stack goes there, with test credentials. Unset or empty: real AWS."""
    url = environ.get(ENDPOINT_ENV, "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise SettingsError(f"${ENDPOINT_ENV}={url!r}: the port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise SettingsError(
            f"${ENDPOINT_ENV}={url!r} is not a base URL; use the form http://127.0.0.1:5000"
        )
    return LocalAwsApi(url=url.rstrip("/"))


def require_provider_endpoint(environ: Mapping[str, str], local_api: LocalAwsApi | None) -> None:
    """With a local API, the terraform that runs the synthesized stacks (``cdktf deploy`` runs it
    in this environment) must find the API in ``$AWS_ENDPOINT_URL``: the providers carry only its
    test credentials, so without it terraform would call real AWS with them."""
    if local_api is None:
        return
    given = environ.get(PROVIDER_ENDPOINT_ENV, "").strip().rstrip("/")
    if given != local_api.url:
        found = f"is {given!r}" if given else "is not set"
        raise SettingsError(
            f"${ENDPOINT_ENV} is set but ${PROVIDER_ENDPOINT_ENV} {found}; terraform's AWS provider reads the "
            f"local API from it: export {PROVIDER_ENDPOINT_ENV}={local_api.url}"
        )


def decommissioned_from_env(environ: Mapping[str, str], inventory: Inventory) -> frozenset[str]:
    """``$DHCP_FAILOVER_DECOMMISSION``: comma-separated sites being torn down. Their tunnel
    Elastic IPs lose ``prevent_destroy`` (kept otherwise: the partner's tunnel points there)."""
    names = frozenset(name.strip() for name in environ.get(DECOMMISSION_ENV, "").split(",") if name.strip())
    known = [site.name for site in inventory.sites]
    unknown = sorted(names - set(known))
    if unknown:
        raise SettingsError(f"${DECOMMISSION_ENV} names site {unknown[0]!r}, which the inventory does not have "
                            f"(sites: {', '.join(known)})")
    return names


def site_names(text: str) -> tuple[str, ...]:
    """``a, b,a`` → ``("a", "b")``: a comma-separated site list, blanks and repeats dropped."""
    return tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def selected_sites(inventory: Inventory, wanted: tuple[str, ...] | None, source: str) -> frozenset[str] | None:
    """The site names to synthesize (None: all, when no list was given). ``source`` names where the
    list came from, for the one-line error about a site the inventory does not have or cannot
    deploy. A list that was given but names no site (``--sites ''``, a pipeline's empty ``$SITES``)
    is an error, never "every site": that would apply the whole fleet."""
    if wanted is None:
        return None
    known = {site.name: site for site in inventory.sites}
    if not wanted:
        placed = ", ".join(name for name, site in known.items() if is_placed(site))
        raise SettingsError(f"{source} names no site; give one or more, comma-separated (placed sites: {placed}), "
                            "or leave it out for every placed site")
    for name in wanted:
        if name not in known:
            raise SettingsError(f"{source} names site {name!r}, which the inventory does not have "
                                f"(sites: {', '.join(known)})")
        if not is_placed(known[name]):
            raise SettingsError(f"{source} names site {name!r}, which has no placement and so no stacks; "
                                "give both its members a placement or leave it out")
    return frozenset(wanted)


@dataclass(frozen=True)
class SiteSelection:
    """Which sites a synth makes, and the synth-time settings, before any rendering."""

    sites: tuple[Site, ...]
    """Placed and selected, in inventory order."""
    local_api: LocalAwsApi | None
    decommissioned: frozenset[str]
    unplaced: tuple[str, ...]


def select_sites(
    inventory: Inventory, environ: Mapping[str, str] | None = None, *, sites: tuple[str, ...] | None = None
) -> SiteSelection:
    """The sites ``plan_synth`` would render, and the settings it reads from the environment;
    cheap (nothing rendered), so a synth cache can decide what it must synthesize. Raises the
    same one-line errors as ``plan_synth``."""
    environ = os.environ if environ is None else environ
    local_api = local_api_from_env(environ)
    decommissioned = decommissioned_from_env(environ, inventory)
    if sites is not None:
        selected = selected_sites(inventory, sites, "--sites")
    elif SITES_ENV in environ:  # set, even to "" (a pipeline's empty variable): a selection was meant
        names = site_names(environ[SITES_ENV])
        selected = selected_sites(inventory, names, f"${SITES_ENV}" if names else f"${SITES_ENV}={environ[SITES_ENV]!r}")
    else:
        selected = None
    placed = tuple(site for site in inventory.sites if is_placed(site) and (selected is None or site.name in selected))
    if not placed:
        raise InventoryError(
            "no site has a placement, so there is nothing to deploy; give both members of a site "
            "a placement (region, availability_zone or subnet_id, ami)"
        )
    unplaced = tuple(site.name for site in inventory.sites
                     if not is_placed(site) and (selected is None or site.name in selected))
    return SiteSelection(placed, local_api, decommissioned, unplaced)


def plan_synth(
    inventory: Inventory,
    environ: Mapping[str, str] | None = None,
    *,
    user_data: UserDataRenderer = instance_user_data,
    sites: tuple[str, ...] | None = None,
) -> SynthPlan:
    """Check and prepare the synth of a validated inventory; raise InventoryError or
    SettingsError with one line when it cannot be deployed as is.

    ``sites``: synthesize only these (``main.py --sites``); else ``$DHCP_FAILOVER_SITES`` when it
    is set; else all. A selection that names no site is an error. A selected site is synthesized
    whole (its member stacks read its shared stack's state); the others are not rendered at all,
    which is what keeps a one-site synth of a large inventory near the cost of a one-site
    inventory."""
    selection = select_sites(inventory, environ, sites=sites)
    site_plans = tuple(
        SitePlan(site, {m.role: user_data(site, m) for m in (site.primary, site.secondary)},
                 site.name in selection.decommissioned)
        for site in selection.sites
    )
    return SynthPlan(inventory, site_plans, selection.local_api, selection.unplaced)


def build_app(plan: SynthPlan, *, outdir: str | None = None) -> cdktf.App:
    """The cdktf app: one ``DhcpFailoverPair`` (three stacks) per placed site.

    ``outdir`` None: cdktf's choice (``$CDKTF_OUTDIR``, set by the cdktf CLI, else cdktf.out).
    """
    import cdktf

    from .constructs.pair import DhcpFailoverPair, DhcpFailoverPairProps
    from .constructs.state import inventory_backend

    app = cdktf.App(outdir=outdir) if outdir is not None else cdktf.App()
    for site_plan in plan.sites:
        DhcpFailoverPair(
            app,
            site_plan.site.name,
            props=DhcpFailoverPairProps(
                site=site_plan.site,
                inventory_tags=plan.inventory.tags,
                user_data=site_plan.user_data,
                local_api=plan.local_api,
                decommission=site_plan.decommission,
                backend=inventory_backend(plan.inventory.state_of(site_plan.site), plan.local_api),
            ),
        )
    return app
