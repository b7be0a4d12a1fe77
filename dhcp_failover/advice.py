"""Warnings: inventories that are valid but leave something undecided that the user should
decide. Each is one line naming the site and what to write; the command still succeeds."""

from __future__ import annotations

from collections.abc import Iterable

from .model import Site

MONITORING_HOW = (
    "add monitoring: {alerts: {emails: [noc@example.com]}} (docs/monitoring.md), or say "
    'monitoring: {enabled: false, reason: "..."}'
)


def site_warnings(sites: Iterable[Site]) -> list[str]:
    """Lines for ``warning:``, in site order."""
    return [
        f'site "{site.name}": nothing watches this pair: when one member dies the other serves on and nobody '
        f"learns of it; {MONITORING_HOW}"
        for site in sites
        if site.placed and site.monitoring_section is None
    ]
