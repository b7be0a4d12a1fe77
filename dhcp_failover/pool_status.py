"""Pool usage for ``status``: the latest values the members' reporters published to CloudWatch.

OMAPI cannot list a pool's leases (it looks them up one by one), and an operator's laptop has
no lease file, so the reporter's metrics are the one place that knows every pool. Only for a
monitored site; a CloudWatch failure is shown, never fatal (status is about the pair's state).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from .aws import AwsApi, member_region
from .model import Pool, Site
from .monitoring import NAMESPACE, POOL_ACTIVE, POOL_FREE_PERCENT, dimensions, pool_name, site_pools

# How far back a value still counts as the pool's present state: a few reporter periods.
RECENT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class PoolUsage:
    pool: str
    free_percent: float | None
    active: int | None
    size: int
    seen_by: str | None
    """The member whose report is shown (the primary's when both reported)."""

    @property
    def summary(self) -> str:
        if self.free_percent is None:
            return f"{self.pool} no recent report"
        return f"{self.pool} {self.free_percent:.0f}% free ({self.active} of {self.size} active)"


@dataclass(frozen=True)
class SitePools:
    pools: tuple[PoolUsage, ...]
    error: str | None = None


def read_pools(api: AwsApi, site: Site, now: datetime.datetime | None = None) -> SitePools | None:
    """Each pool's latest usage, or None when the site is not monitored."""
    if site.monitoring is None:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    now = now or datetime.datetime.now(datetime.UTC)
    members = (site.primary, site.secondary)
    pools = site_pools(site)
    queries: list[dict[str, Any]] = []
    for i, member in enumerate(members):
        for j, pool in enumerate(pools):
            for metric in (POOL_FREE_PERCENT, POOL_ACTIVE):
                dims = [{"Name": k, "Value": v} for k, v in dimensions(site, member, pool_name(pool)).items()]
                queries.append({
                    "Id": f"m{i}_{j}_{metric.lower()}",
                    "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims},
                                   "Period": 60, "Stat": "Maximum"},
                })
    latest: dict[str, float] = {}
    try:
        by_region: dict[str, list[dict[str, Any]]] = {}
        for query in queries:
            member = members[int(query["Id"][1])]
            by_region.setdefault(member_region(member), []).append(query)
        for region, region_queries in by_region.items():
            cloudwatch = api.client("cloudwatch", region)
            for start in range(0, len(region_queries), 500):
                answer = cloudwatch.get_metric_data(
                    MetricDataQueries=region_queries[start: start + 500], StartTime=now - RECENT,
                    EndTime=now + datetime.timedelta(minutes=1), ScanBy="TimestampDescending",
                )
                for result in answer["MetricDataResults"]:
                    pairs = sorted(zip(result["Timestamps"], result["Values"], strict=True), reverse=True)
                    if pairs:
                        latest[result["Id"]] = pairs[0][1]
    except (BotoCoreError, ClientError) as exc:
        return SitePools(tuple(PoolUsage(pool_name(p), None, None, _size(p), None) for p in pools), f"CloudWatch: {exc}")
    usages = []
    for j, pool in enumerate(pools):
        shown = next((i for i in range(len(members)) if f"m{i}_{j}_{POOL_FREE_PERCENT.lower()}" in latest), None)
        if shown is None:
            usages.append(PoolUsage(pool_name(pool), None, None, _size(pool), None))
            continue
        active = latest.get(f"m{shown}_{j}_{POOL_ACTIVE.lower()}")
        usages.append(PoolUsage(pool_name(pool), latest[f"m{shown}_{j}_{POOL_FREE_PERCENT.lower()}"],
                                None if active is None else int(active), _size(pool), members[shown].name))
    return SitePools(tuple(usages))


def _size(pool: Pool) -> int:
    return int(pool.end) - int(pool.start) + 1

