"""The inventory's ``monitoring`` section: where alarms go, thresholds, log retention.

Field-level rules only (pure pydantic); ``monitoring`` holds what the section means.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag

from .fields import PRINTABLE_TEXT, Strict

# What CloudWatch Logs accepts as retention_in_days (PutRetentionPolicy).
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)

SNS_TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$"
# A practical address check (local@domain.tld); SNS confirms the address by mail anyway.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@{_LABEL}(\.{_LABEL})+$"
HTTPS_URL = r"^https://[A-Za-z0-9.-]+(:\d{1,5})?(/[\x21-\x7e]*)?$"


def _matching(pattern: str, what: str) -> Any:
    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"is not {what}")
        return value

    return AfterValidator(check)


TopicArn = Annotated[str, Field(max_length=400), _matching(SNS_TOPIC_ARN, "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")]
Email = Annotated[str, Field(max_length=254), _matching(EMAIL, "an email address (name@example.com)")]
HttpsUrl = Annotated[str, Field(max_length=2048), _matching(HTTPS_URL, "an https:// URL")]


def _accepted_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        accepted = ", ".join(str(d) for d in sorted(LOG_RETENTION_DAYS))
        raise ValueError(f"is not a retention CloudWatch Logs accepts; use one of {accepted}")
    return days


def _one_destination(alerts: Alerts) -> Alerts:
    if alerts.topic_arn is not None and (alerts.emails or alerts.https):
        raise ValueError("give topic_arn (an existing topic) or emails/https (a topic the site makes), not both")
    return alerts


Percent = Annotated[int, Field(strict=True, ge=1, le=99)]


class Alerts(Strict):
    """Where alarms go: an existing SNS topic, or one the site makes with these subscriptions."""

    topic_arn: TopicArn | None = Field(
        default=None, description="An existing SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME), in each member's region."
    )
    emails: Annotated[tuple[Email, ...], Field(max_length=20)] = Field(default=(), description="Email subscriptions.")
    https: Annotated[tuple[HttpsUrl, ...], Field(max_length=20)] = Field(default=(), description="HTTPS subscriptions.")


class Monitoring(Strict):
    """Metrics from each member, alarms, logs and a dashboard (off unless the site has this section)."""

    enabled: Literal[True] = Field(
        default=True, description="true (the default): watched; false, with a reason, says nothing watches the pair."
    )
    alerts: Annotated[Alerts, AfterValidator(_one_destination)] = Field(
        default=Alerts(), description="Where alarms go: topic_arn, or emails/https for a topic the site makes."
    )
    log_retention_days: Annotated[int, Field(strict=True), AfterValidator(_accepted_retention)] = Field(
        default=90, description="Days CloudWatch Logs keeps the members' logs (one of the values it accepts)."
    )
    pool_free_percent: Percent = Field(
        default=10, description="Alarm when a pool's free share (free + backup) falls under this percentage."
    )
    pool_free_percents: Annotated[dict[Annotated[str, Field(max_length=40)], Percent], Field(max_length=100)] = Field(
        default_factory=dict, description="Per pool (named START-END) thresholds instead of pool_free_percent."
    )
    clock_offset_seconds: Annotated[float, Field(strict=True, gt=0, le=60)] = Field(
        default=1.0, description="Alarm when a member's clock is off by more than this (failover needs close clocks)."
    )
    state_margin_seconds: Annotated[int, Field(strict=True, ge=0, le=3600)] = Field(
        default=120, description="A member may be out of normal for max_response_delay plus this before the alarm."
    )




class MonitoringOff(Strict):
    """A pair that nothing watches, on purpose: when one member dies the other serves on and
    nobody learns of it, so the inventory says why."""

    enabled: Literal[False] = Field(description="false: no metrics, alarms, logs or dashboard for this pair.")
    reason: Annotated[str, Field(min_length=10, max_length=500, pattern=PRINTABLE_TEXT)] = Field(
        description="Why nothing watches this pair (10-500 printable characters), for the review."
    )


def _monitoring_kind(value: Any) -> str:
    enabled = value.get("enabled", True) if isinstance(value, dict) else getattr(value, "enabled", True)
    return "off" if enabled is False else "on"


# `monitoring: {...}` turns it on; `monitoring: {enabled: false, reason: ...}` says why not. The
# discriminator picks the form by `enabled` alone, so an error is about the form the user meant.
MonitoringSection = Annotated[
    Annotated[Monitoring, Tag("on")] | Annotated[MonitoringOff, Tag("off")], Discriminator(_monitoring_kind)
]
