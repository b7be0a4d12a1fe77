"""A monitored site's CloudWatch side: the alert topic, the members' log group, the alarms on the
reporter's metrics, the dashboard, and each instance's status-check alarms (with EC2 recover).

What is alarmed and how is decided in ``..monitoring`` (pure); this module only wires resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf import TerraformProvider
from constructs import Construct

from ..model import Member, Site
from ..monitoring import NAMESPACE, PERIOD, alarm_specs, dashboard_body, log_group_name
from .aws_modules import (
    cloudwatch_dashboard,
    cloudwatch_log_group,
    cloudwatch_metric_alarm,
    sns_topic,
    sns_topic_subscription,
)
from .naming import PREFIX, SiteNames


def alarm_name(site: Site, key: str) -> str:
    return f"{PREFIX}-{site.name}-{key}"


@dataclass(frozen=True, kw_only=True)
class SiteMonitoringProps:
    site: Site
    """A validated site with a ``monitoring`` section."""
    names: SiteNames
    members: tuple[Member, ...]
    """The members in this region: their alarms live here, beside their metrics."""
    key_arn: str
    """The site's key in this region: encrypts the topic and the log group."""
    provider: TerraformProvider
    dashboard: bool = False
    """Make the site's dashboard here (the home region). Default: no."""


class SiteMonitoring(Construct):
    """Per region: ``aws_sns_topic`` (unless the inventory names one) with its subscriptions,
    ``aws_cloudwatch_log_group``, one ``aws_cloudwatch_metric_alarm`` per alarm spec of the
    members here, and in the home region ``aws_cloudwatch_dashboard``."""

    topic_arn: str
    topic: sns_topic.SnsTopic | None
    log_group: cloudwatch_log_group.CloudwatchLogGroup
    alarms: dict[str, cloudwatch_metric_alarm.CloudwatchMetricAlarm]
    dashboard: cloudwatch_dashboard.CloudwatchDashboard | None

    def __init__(self, scope: Construct, id: str, *, props: SiteMonitoringProps) -> None:
        super().__init__(scope, id)
        site, names = props.site, props.names
        monitoring = site.monitoring
        assert monitoring is not None, f"site {site.name} is not monitored"
        alerts = monitoring.alerts
        self.topic = None
        if alerts.topic_arn is not None:
            self.topic_arn = alerts.topic_arn
        else:
            self.topic = sns_topic.SnsTopic(
                self,
                "topic",
                name=f"{PREFIX}-{site.name}-alerts",
                kms_master_key_id=props.key_arn,
                tags=names.tags("alerts"),
                provider=props.provider,
            )
            self.topic_arn = self.topic.arn
            for i, (protocol, endpoint) in enumerate(
                [("email", e) for e in alerts.emails] + [("https", u) for u in alerts.https]
            ):
                sns_topic_subscription.SnsTopicSubscription(
                    self,
                    f"subscription-{i}",
                    topic_arn=self.topic_arn,
                    protocol=protocol,
                    endpoint=endpoint,
                    provider=props.provider,
                )
        self.log_group = cloudwatch_log_group.CloudwatchLogGroup(
            self,
            "log-group",
            name=log_group_name(site),
            retention_in_days=monitoring.log_retention_days,
            kms_key_id=props.key_arn,
            tags=names.tags("member-logs"),
            provider=props.provider,
        )
        here = {m.name for m in props.members}
        self.alarms = {}
        for spec in alarm_specs(site):
            if spec.member.name not in here:
                continue
            self.alarms[spec.key] = cloudwatch_metric_alarm.CloudwatchMetricAlarm(
                self,
                f"alarm-{spec.key}",
                alarm_name=alarm_name(site, spec.key),
                alarm_description=spec.description,
                namespace=NAMESPACE,
                metric_name=spec.metric,
                dimensions=spec.dimensions,
                statistic=spec.statistic,
                period=PERIOD,
                evaluation_periods=spec.evaluation_periods,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                treat_missing_data=spec.missing_data,
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
                tags=names.tags("alarm", spec.key),
                provider=props.provider,
            )
        self.dashboard = None
        if props.dashboard:
            self.dashboard = cloudwatch_dashboard.CloudwatchDashboard(
                self,
                "dashboard",
                dashboard_name=f"{PREFIX}-{site.name}",
                dashboard_body=json.dumps(dashboard_body(site), sort_keys=True),
                provider=props.provider,
            )


@dataclass(frozen=True, kw_only=True)
class InstanceAlarmsProps:
    site: Site
    member: Member
    names: SiteNames
    instance_id: str
    topic_arn: str
    region: str
    partition: str
    provider: TerraformProvider


class InstanceAlarms(Construct):
    """EC2's own status checks of one member: a failed system check recovers the instance
    (same id, address, volume and user data: dhcpd comes back with its lease file) and tells
    the topic; a failed instance check (the OS) only tells, since recover cannot fix that."""

    system: cloudwatch_metric_alarm.CloudwatchMetricAlarm
    instance: cloudwatch_metric_alarm.CloudwatchMetricAlarm

    def __init__(self, scope: Construct, id: str, *, props: InstanceAlarmsProps) -> None:
        super().__init__(scope, id)
        site, member = props.site, props.member
        recover = f"arn:{props.partition}:automate:{props.region}:ec2:recover"
        common = {
            "namespace": "AWS/EC2",
            "dimensions": {"InstanceId": props.instance_id},
            "statistic": "Maximum",
            "period": PERIOD,
            "comparison_operator": "GreaterThanThreshold",
            "threshold": 0,
            "evaluation_periods": 2,
            "ok_actions": [props.topic_arn],
            "provider": props.provider,
        }
        self.system = cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self,
            "system",
            alarm_name=alarm_name(site, f"{member.role.value}-system-check"),
            alarm_description=f"EC2 system status check of {member.name} failed: recovering the instance",
            metric_name="StatusCheckFailed_System",
            alarm_actions=[recover, props.topic_arn],
            tags=props.names.tags("alarm", member.role.value, "system-check"),
            **common,
        )
        self.instance = cloudwatch_metric_alarm.CloudwatchMetricAlarm(
            self,
            "instance",
            alarm_name=alarm_name(site, f"{member.role.value}-instance-check"),
            alarm_description=f"EC2 instance status check of {member.name} failed (its OS)",
            metric_name="StatusCheckFailed_Instance",
            alarm_actions=[props.topic_arn],
            tags=props.names.tags("alarm", member.role.value, "instance-check"),
            **common,
        )
