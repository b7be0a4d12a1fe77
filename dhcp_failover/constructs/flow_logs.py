"""VPC flow logs into a KMS-encrypted CloudWatch log group kept for a year."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf import TerraformProvider
from constructs import Construct

from .aws_modules import cloudwatch_log_group, flow_log, iam_role, iam_role_policy
from .naming import SiteNames


@dataclass(frozen=True, kw_only=True)
class FlowLogsProps:
    names: SiteNames
    """Names and tags of the site."""
    vpc_id: str
    """The VPC whose traffic is logged."""
    region: str
    partition: str
    account_id: str
    """The deploying account: the delivery role trusts the flow-logs service for it only."""
    key_arn: str
    """KMS key for the log group; its policy must admit this log group (``SiteKey``)."""
    provider: TerraformProvider
    retention_days: int = 365
    """How long records are kept (a year: enough to reconstruct who talked to a server)."""
    traffic_type: str = "ALL"
    """ALL, ACCEPT or REJECT. DHCP traffic is small, so ALL costs little."""


class FlowLogs(Construct):
    """``aws_flow_log`` for one VPC, its log group and the role the service delivers with."""

    log_group: cloudwatch_log_group.CloudwatchLogGroup
    role: iam_role.IamRole
    flow_log: flow_log.FlowLog

    def __init__(self, scope: Construct, id: str, *, props: FlowLogsProps) -> None:
        super().__init__(scope, id)
        names = props.names
        self.log_group = cloudwatch_log_group.CloudwatchLogGroup(
            self,
            "log-group",
            name=names.flow_log_group,
            retention_in_days=props.retention_days,
            kms_key_id=props.key_arn,
            tags=names.tags("flow-logs"),
            provider=props.provider,
        )
        group_arn = self.log_group.arn
        flow_logs_arn = f"arn:{props.partition}:ec2:{props.region}:{props.account_id}:vpc-flow-log/*"
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Confused-deputy guard: only flow logs of this account may use the role.
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": props.account_id},
                        "ArnLike": {"aws:SourceArn": flow_logs_arn},
                    },
                }
            ],
        }
        self.role = iam_role.IamRole(
            self,
            "role",
            name=names.iam_name("flow-logs", props.region),
            description=f"VPC flow logs of dhcp-failover site {names.site} in {props.region}",
            assume_role_policy=json.dumps(trust, sort_keys=True),
            tags=names.tags("flow-logs"),
            provider=props.provider,
        )
        deliver = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DeliverToOneLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    "Resource": [group_arn, f"{group_arn}:*"],
                }
            ],
        }
        iam_role_policy.IamRolePolicy(
            self,
            "policy",
            name="deliver-flow-logs",
            role=self.role.id,
            policy=json.dumps(deliver, sort_keys=True),
            provider=props.provider,
        )
        self.flow_log = flow_log.FlowLog(
            self,
            "flow-log",
            vpc_id=props.vpc_id,
            traffic_type=props.traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=group_arn,
            iam_role_arn=self.role.arn,
            tags=names.tags("flow-logs"),
            provider=props.provider,
        )
