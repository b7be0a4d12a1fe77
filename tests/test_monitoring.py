"""A monitored site, as synthesized: alert topic (KMS-encrypted) or the inventory's, its
subscriptions, the members' log group, alarms on the reporter's metrics, EC2 status alarms with
recover, the dashboard, and a reporter role that may do exactly two things. Bad monitoring
input is one error line naming the field."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.monitoring import NAMESPACE, dashboard_body
from tests.support.checkout import placed_site
from tests.support.factories import REPO, inventory_data, site_data, write_inventory

Stacks = dict[str, dict[str, Any]]
ALERTS = {"emails": ["noc@example.com"], "https": ["https://events.example.com/dhcp"]}
TOPIC = "arn:aws:sns:eu-west-1:123456789012:oncall"


def resources(stack: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return list(stack.get("resource", {}).get(kind, {}).values())


@pytest.fixture
def monitored(synth_sites: Callable[..., Stacks]) -> Stacks:
    return synth_sites(placed_site(monitoring={"alerts": ALERTS, "pool_free_percents": {"10.77.2.100-10.77.2.200": 5}}))


def test_site_makes_an_encrypted_topic_with_the_subscriptions(monitored: Stacks) -> None:
    shared = monitored["lab-shared"]
    (topic,) = resources(shared, "aws_sns_topic")
    assert topic["name"] == "dhcp-failover-lab-alerts"
    assert topic["kms_master_key_id"].startswith("${aws_kms_key.")
    subscriptions = {(s["protocol"], s["endpoint"]) for s in resources(shared, "aws_sns_topic_subscription")}
    assert subscriptions == {("email", "noc@example.com"), ("https", "https://events.example.com/dhcp")}
    (key,) = resources(shared, "aws_kms_key")
    sids = {s["Sid"] for s in json.loads(key["policy"])["Statement"]}
    assert "CloudWatchAlarmsPublishToEncryptedTopic" in sids


def test_alarms_on_every_member_and_pool_notify_the_topic(monitored: Stacks) -> None:
    alarms = {a["alarm_name"]: a for a in resources(monitored["lab-shared"], "aws_cloudwatch_metric_alarm")}
    # Per member: not normal, dhcpd down, clock offset, and one per pool (two pools).
    assert len(alarms) == 2 * (3 + 2)
    (topic_id,) = monitored["lab-shared"]["resource"]["aws_sns_topic"]
    for alarm in alarms.values():
        assert alarm["namespace"] == NAMESPACE
        assert alarm["alarm_actions"] == alarm["ok_actions"] == [f"${{aws_sns_topic.{topic_id}.arn}}"]
    not_normal = alarms["dhcp-failover-lab-primary-not-normal"]
    # max-response-delay 60 s + margin 120 s = three 60-second periods.
    assert (not_normal["metric_name"], not_normal["evaluation_periods"], not_normal["treat_missing_data"]) == (
        "FailoverNormal", 3, "breaching")
    down = alarms["dhcp-failover-lab-secondary-dhcpd-down"]
    assert (down["metric_name"], down["dimensions"], down["treat_missing_data"]) == (
        "DhcpdRunning", {"Site": "lab", "Member": "lab-b"}, "breaching")
    pool = alarms["dhcp-failover-lab-primary-pool-10-77-2-100-10-77-2-200"]
    assert (pool["threshold"], pool["comparison_operator"]) == (5, "LessThanThreshold")
    assert pool["dimensions"] == {"Site": "lab", "Member": "lab-a", "Pool": "10.77.2.100-10.77.2.200"}
    assert alarms["dhcp-failover-lab-primary-pool-10-77-1-100-10-77-1-200"]["threshold"] == 10


def test_each_instance_recovers_on_a_failed_system_check(monitored: Stacks) -> None:
    for role in ("primary", "secondary"):
        alarms = {a["metric_name"]: a for a in resources(monitored[f"lab-{role}"], "aws_cloudwatch_metric_alarm")}
        system = alarms["StatusCheckFailed_System"]
        assert system["alarm_actions"][0] == "arn:aws:automate:eu-west-1:ec2:recover"
        (instance_id,) = monitored[f"lab-{role}"]["resource"]["aws_instance"]
        assert system["dimensions"] == {"InstanceId": f"${{aws_instance.{instance_id}.id}}"}
        # The topic lives in the shared stack: the member stack reads its ARN from there.
        assert system["alarm_actions"][1].startswith("${data.terraform_remote_state")
        assert "StatusCheckFailed_Instance" in alarms


def test_members_log_group_is_encrypted_and_kept_as_told(monitored: Stacks) -> None:
    groups = {g["name"]: g for g in resources(monitored["lab-shared"], "aws_cloudwatch_log_group")}
    members = groups["/dhcp-failover/lab/members"]
    assert members["retention_in_days"] == 90
    assert members["kms_key_id"].startswith("${aws_kms_key.")


def test_dashboard_is_the_models_definition(monitored: Stacks) -> None:
    (dashboard,) = resources(monitored["lab-shared"], "aws_cloudwatch_dashboard")
    site = inventory_from_data(inventory_data(placed_site(monitoring={"alerts": ALERTS, "pool_free_percents": {
        "10.77.2.100-10.77.2.200": 5}}))).sites[0]
    assert json.loads(dashboard["dashboard_body"]) == dashboard_body(site)
    titles = [w["properties"]["title"] for w in json.loads(dashboard["dashboard_body"])["widgets"]]
    assert titles == ["Failover state (2 = normal)", "dhcpd running", "Pool free %", "Leases acknowledged per minute",
                      "Clock offset (s)"]


def test_reporter_may_only_put_metrics_in_its_namespace_and_write_its_own_streams(monitored: Stacks) -> None:
    roles = [json.loads(p["policy"]) for p in resources(monitored["lab-shared"], "aws_iam_role_policy")
             if p["name"] == "read-own-parameters"]
    assert len(roles) == 2
    streams = set()
    for policy in roles:
        reporter = [s for s in policy["Statement"] if s["Sid"] in ("PutMetricsInOwnNamespace", "WriteOwnLogStreams")]
        put, logs = reporter
        assert put == {"Sid": "PutMetricsInOwnNamespace", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
                       "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": "DhcpFailover"}}}
        assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        streams.add(logs["Resource"].split(":log-group:")[1])
        # Nothing else beyond the secrets the role had before monitoring.
        assert {s["Sid"] for s in policy["Statement"]} == {
            "ReadOwnParameters", "DecryptOwnParameters", "PutMetricsInOwnNamespace", "WriteOwnLogStreams"}
    assert streams == {"/dhcp-failover/lab/members:log-stream:lab-a/*", "/dhcp-failover/lab/members:log-stream:lab-b/*"}


def test_an_existing_topic_is_used_as_is(synth_sites: Callable[..., Stacks]) -> None:
    stacks = synth_sites(placed_site(monitoring={"alerts": {"topic_arn": TOPIC}, "log_retention_days": 365}))
    shared = stacks["lab-shared"]
    assert resources(shared, "aws_sns_topic") == []
    assert {tuple(a["alarm_actions"]) for a in resources(shared, "aws_cloudwatch_metric_alarm")} == {(TOPIC,)}
    (key,) = resources(shared, "aws_kms_key")
    assert "CloudWatchAlarmsPublishToEncryptedTopic" not in key["policy"]
    (system,) = [a for a in resources(stacks["lab-primary"], "aws_cloudwatch_metric_alarm")
                 if a["metric_name"] == "StatusCheckFailed_System"]
    assert system["alarm_actions"] == ["arn:aws:automate:eu-west-1:ec2:recover", TOPIC]


def test_an_unmonitored_site_has_no_monitoring(synth_sites: Callable[..., Stacks]) -> None:
    stacks = synth_sites(placed_site())
    for stack in stacks.values():
        for kind in ("aws_sns_topic", "aws_cloudwatch_metric_alarm", "aws_cloudwatch_dashboard"):
            assert resources(stack, kind) == []
    policy = json.loads(resources(stacks["lab-shared"], "aws_iam_role_policy")[0]["policy"])
    assert "cloudwatch:PutMetricData" not in json.dumps(policy)


def monitoring(**values: Any) -> dict[str, Any]:
    return inventory_data(site_data(monitoring=values))


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("pool-threshold-zero", monitoring(pool_free_percent=0), "monitoring.pool_free_percent"),
    ("pool-threshold-100", monitoring(pool_free_percent=100), "monitoring.pool_free_percent"),
    ("pool-threshold-unknown-pool", monitoring(pool_free_percents={"10.0.0.1-10.0.0.9": 5}),
     "monitoring.pool_free_percents.10.0.0.1-10.0.0.9: names no pool of the site"),
    ("clock-threshold-zero", monitoring(clock_offset_seconds=0), "monitoring.clock_offset_seconds"),
    ("sns-arn-form", monitoring(alerts={"topic_arn": "arn:aws:sqs:eu-west-1:123456789012:q"}), "monitoring.alerts.topic_arn: 'arn:aws:sqs:eu-west-1:123456789012:q' is not an SNS topic ARN"),
    ("email", monitoring(alerts={"emails": ["noc.example.com"]}), "monitoring.alerts.emails[0]: 'noc.example.com' is not an email address"),
    ("https-url", monitoring(alerts={"https": ["http://events.example.com"]}), "monitoring.alerts.https[0]: 'http://events.example.com' is not an https:// URL"),
    ("retention", monitoring(log_retention_days=100), "not a retention CloudWatch Logs accepts"),
    ("topic-and-emails", monitoring(alerts={"topic_arn": TOPIC, "emails": ["noc@example.com"]}), "not both"),
    ("topic-in-another-region", inventory_data(placed_site(region="us-east-1", monitoring={"alerts": {"topic_arn": TOPIC}})),
     "CloudWatch alarms notify topics of their own region only"),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_monitoring_input_is_one_error_line(tmp_path: Path, data: dict[str, Any], expected: str) -> None:
    inventory = write_inventory(tmp_path / "inventory.yaml", data)
    result = subprocess.run([sys.executable, "-m", "dhcp_failover", "validate", "--inventory", str(inventory)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and ': site "lab": ' in lines[0], result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_docs_picture_is_the_office_examples_dashboard(synthesized_examples: dict[str, Path]) -> None:
    stack = synthesized_examples["office"] / "stacks" / "office-shared" / "cdk.tf.json"
    result = subprocess.run([sys.executable, "-m", "dhcp_failover.dashboard_picture", str(stack)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "monitoring-dashboard.svg").read_text(), (
        "regenerate docs/monitoring-dashboard.svg as docs/monitoring.md says")
    assert result.stdout.count("<rect ") == 1 + 5  # the background and five widgets
    assert "PoolFreePercent: office-dhcp-b 10.61.8.100-10.61.8.199" in result.stdout


def test_the_dashboard_picture_says_what_state_numbers_mean_and_where_each_alarm_fires(
        synthesized_examples: dict[str, Path]) -> None:
    stack = synthesized_examples["office"] / "stacks" / "office-shared" / "cdk.tf.json"
    result = subprocess.run([sys.executable, "-m", "dhcp_failover.dashboard_picture", str(stack)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "2 normal, 3 communications-interrupted, 4 partner-down" in result.stdout
    # office.yaml sets pool thresholds of its own: the picture reads them from the synthesized alarms.
    assert "pool: PoolFreePercent &lt; 15 for 1 period(s) of 60 s" in result.stdout
    assert "pool: PoolFreePercent &lt; 5 for 1 period(s) of 60 s" in result.stdout
    assert "clock-offset: ClockOffsetSeconds &gt; 1 for 2 period(s) of 60 s (set by monitoring.clock_offset_seconds)" in (
        result.stdout)
